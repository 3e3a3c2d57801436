//! gwsim terminal UI
