//! The probes' integration tests: one test binary; each file below is a module, so a suite is a
//! filter: `cargo test -p relgate-probes --test it secrets::`.

mod support;

mod secrets;
mod webhook_schemes;
mod webhook_target;
