//! relgate: a release security gate as ordinary Cargo tests.
//!
//! Data flows one way: `packets.toml` → [`spec`] (parse + validate) → [`plan`] (DAG order) →
//! [`exec`] / [`grep`] (one check → one evidence record) → [`evidence`] ledger → [`verdict`]
//! (pure) → report writers ([`report::junit`], [`report::tracker`], [`report::html`]). [`harness`] turns a validated
//! gate into libtest-mimic trials and drives a run; [`report`] rebuilds the verdict and reports
//! from evidence.
#![deny(missing_docs)]

pub mod cargo_lock;
pub mod evidence;
pub mod exec;
pub mod grep;
pub mod harness;
pub mod import;
pub mod init;
pub mod interrupt;
pub mod model;
pub mod nextest;
pub mod outdir;
pub mod output;
pub mod plan;
pub mod probes;
pub mod progress;
pub mod report;
pub mod scan;
pub mod scanning;
pub mod service;
pub mod setup;
pub mod spec;
pub mod supervisor;
pub mod synthetic;
pub mod verdict;
pub mod verify;
