//! The vocabulary every stage shares and that depends on nothing else in the crate: severities,
//! digests, timestamps and dates, exit codes, the command the user invoked. The lowest layer: it
//! imports no other module of relgate.

pub mod clock;
pub mod digest;
pub mod exit_codes;
pub mod invocation;
pub mod partition;
mod severity;

pub use severity::Severity;
