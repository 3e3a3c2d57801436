#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gwsim_fuzz_targets::load_admit(data));
