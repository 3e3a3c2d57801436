//! gwsim conformance harness
