//! relgate: a release security gate as ordinary Cargo tests.
//!
//! Data flows one way, and the modules are its stages: `packets.toml` → [`spec`] (parse +
//! validate) → [`plan`] (DAG order) → [`run`] (libtest-mimic trials; each check into one
//! record, commands under a supervisor) → [`evidence`] (records, journal, ledger, signatures) →
//! [`verdict`] (pure) → [`report`] (JUnit, tracker, SARIF, HTML, attestation). [`verify`]
//! recomputes a run from its ledger; [`import`] turns a Markdown tracker into a gate file.
//! [`cli`] is the command line (`cargo xtask gate`, `cargo gate`) as one library call.
//! `docs/ARCHITECTURE.md` is the map.
#![deny(missing_docs)]

pub mod approve;
pub mod cargo_project;
pub mod cli;
pub mod evidence;
pub mod harness;
pub mod import;
pub mod init;
pub mod merge;
pub mod model;
pub mod output;
pub mod plan;
pub mod report;
pub mod review;
pub mod run;
pub mod scan;
pub mod spec;
pub mod synthetic;
pub mod verdict;
pub mod verify;
