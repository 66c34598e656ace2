//! relgate: a release security gate as ordinary Cargo tests.
//!
//! Data flows one way: `packets.toml` → [`spec`] (parse + validate) → [`plan`] (DAG order) →
//! [`exec`] / [`grep`] (one check → one evidence record) → [`evidence`] ledger → [`verdict`]
//! (pure) → report writers ([`report::junit`], [`report::tracker`], [`report::html`]). [`harness`] turns a validated
//! gate into libtest-mimic trials and drives a run; [`report`] rebuilds the verdict and reports
//! from evidence.
#![deny(missing_docs)]

pub mod evidence;
pub mod import;
pub mod init;
pub mod model;
pub mod output;
pub mod plan;
pub mod report;
pub mod run;
pub mod scan;
pub mod spec;
pub mod synthetic;
pub mod verdict;
pub mod verify;
