//! The repository's gate as a test binary: `cargo test -p gate-tests` runs every check of
//! `packets.toml` as a test case (and `cargo nextest run -p gate-tests` runs each in its own
//! process). `RELGATE_GATE` and `RELGATE_OUT` point it at another gate file or out directory;
//! `RELGATE_SIGNING_KEY` signs the run.

fn main() {
    relgate::harness::test_main(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap(),
    )
}
