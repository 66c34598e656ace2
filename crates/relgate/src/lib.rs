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
pub mod ci;
pub mod containment;
pub mod evidence;
pub mod exec;
pub mod flock;
pub mod fragment;
pub mod grep;
pub mod harness;
pub mod html;
pub mod import;
pub mod init;
pub mod interrupt;
pub mod model;
// Moved into `model`; kept at their old paths while the report writers move (issue 14).
pub use model::{clock, exit_codes};
pub mod junit;
pub mod nextest;
pub mod outdir;
pub mod plan;
pub mod probes;
pub mod progress;
pub mod redaction;
pub mod report;
pub mod sarif_report;
pub mod scan;
pub mod scanning;
pub mod service;
pub mod setup;
pub mod signing;
pub mod spec;
pub mod supervisor;
pub mod synthetic;
pub mod tracker;
pub mod verdict;
pub mod verify;
