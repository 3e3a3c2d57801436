//! gwsim simulator
