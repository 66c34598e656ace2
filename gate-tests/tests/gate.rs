//! The repository's gate as a test binary: `cargo test -p gate-tests` runs every check of
//! `packets.toml` as a test case (and `cargo nextest run -p gate-tests` runs each in its own
//! process). `RELGATE_GATE` and `RELGATE_OUT` point it at another gate file or out directory;
//! `RELGATE_SIGNING_KEY` signs the run.

fn main() {
    // The gate re-executes this binary as the supervisor of each command; nothing else first.
    relgate::run::supervisor::maybe_run();
    let workspace_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("gate-tests lives in the workspace root");
    // RELGATE_SIGNING_KEY signs the run's attestation (a bad key: exit 2 before anything runs).
    if let Err(err) = relgate::evidence::signing::install_from(None) {
        eprintln!("error: {err}");
        std::process::exit(relgate::model::exit_codes::INVALID);
    }
    relgate::run::harness::test_main(workspace_root)
}
