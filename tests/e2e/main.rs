//! The command line end to end: one test binary for every suite that runs the real xtask as a
//! child process (one link of the world instead of one per file). Each file below is a module,
//! so a suite is a filter: `cargo test -p xtask --test e2e leaks::`.
//!
//! The suites share the helpers in `support/` and the fixtures in `tests/fixtures/`; tests run
//! in parallel threads of this one process, so none may change process-wide state (environment
//! variables, the current directory, signal dispositions): each sets what its child needs on the
//! child's `Command`.

mod support;

/// The SARIF consumer checks of the engine's tests (schema and code-scanning rules), run here
/// on a real run's report.
#[path = "../../crates/relgate/tests/it/support/sarif_consumer.rs"]
mod sarif_consumer;

mod access_target;
mod adopt;
mod bench_smoke;
mod book;
mod ci_recipes;
mod consumers;
mod database_target;
mod gate;
mod import;
mod install;
mod jwt_target;
mod leaks;
mod merge;
mod outdir;
mod redaction;
mod reports;
mod retries;
mod review;
mod scans;
mod services;
mod setup;
mod sharding;
mod signing;
mod webhook_target;
