//! relgate: a release security gate as ordinary Cargo tests.
//!
//! Data flows one way: `packets.toml` → [`spec`] (parse + validate) → [`plan`] (DAG order) →
//! [`exec`] / [`grep`] (one check → one evidence record) → [`evidence`] ledger → [`verdict`]
//! (pure) → report writers ([`junit`], [`tracker`], [`html`]). [`harness`] turns a validated
//! gate into libtest-mimic trials and drives a run; [`report`] rebuilds the verdict and reports
//! from evidence.
#![deny(missing_docs)]

pub mod atomic;
pub mod attestation;
pub mod cargo_lock;
pub mod containment;
pub mod evidence;
pub mod exec;
pub mod flock;
pub mod fragment;
pub mod grep;
pub mod harness;
pub mod import;
pub mod init;
pub mod interrupt;
pub mod model;
// Moved into `model`; kept at their old paths while the report writers move (issue 14).
pub use model::{clock, exit_codes};
pub mod nextest;
pub mod outdir;
pub mod plan;
pub mod probes;
pub mod progress;
pub mod redaction;
pub mod report;
pub mod scan;
pub mod scanning;
pub mod service;
pub mod setup;
pub mod signing;
pub mod spec;
pub mod supervisor;
pub mod synthetic;
pub mod verdict;
pub mod verify;

// The report writers live in `report/`; their old paths stay for callers in other modules,
// xtask and tests.
/// Moved to [`report::ci`].
pub use report::ci;
/// Moved to [`report::html`].
pub use report::html;
/// Moved to [`report::junit`].
pub use report::junit;
/// Moved to [`report::sarif`].
pub use report::sarif as sarif_report;
/// Moved to [`report::tracker`].
pub use report::tracker;
