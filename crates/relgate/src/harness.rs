//! The `gate-tests` harness as one call: the `main` of a workspace's `gate-tests/tests/gate.rs`
//! (a test target with `harness = false`) is
//!
//! ```no_run
//! relgate::harness::test_main(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
//! ```
//!
//! so that `cargo test -p gate-tests` runs every check of the gate as a test case, and
//! `cargo nextest run -p gate-tests` each in its own process.

use std::path::Path;

use crate::model::exit_codes;

/// Runs the gate of `workspace_root` under the test runner and exits with its code.
/// `RELGATE_GATE` and `RELGATE_OUT` point it at another gate file or out directory
/// (defaults: `packets.toml` and `target/gate` under `workspace_root`); `RELGATE_SIGNING_KEY`
/// signs the run (a bad key: exit 2 before anything runs). First of all, a process the gate
/// started as the supervisor of a check becomes that supervisor here.
pub fn test_main(workspace_root: &Path) -> ! {
    crate::run::supervisor::maybe_run();
    if let Err(err) = crate::evidence::signing::install_from(None) {
        // As for a refused `cargo xtask gate`: the previous verdict goes, so a job whose key
        // went missing cannot leave an earlier run's reports looking current.
        let out_dir = std::env::var_os("RELGATE_OUT").map_or_else(
            || workspace_root.join("target/gate"),
            std::path::PathBuf::from,
        );
        let run_id = format!("refused-{}", crate::run::outdir::new_run_id());
        let _ = crate::run::outdir::acquire(
            &out_dir,
            &run_id,
            crate::run::outdir::Sharing::Exclusive,
            crate::run::outdir::Purpose::Report,
        );
        crate::output::redaction::print_error(&err);
        std::process::exit(exit_codes::INVALID);
    }
    crate::run::harness::test_main(workspace_root)
}
