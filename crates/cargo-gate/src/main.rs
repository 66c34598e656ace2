//! `cargo gate …` (cargo runs `cargo-gate gate …`) and `cargo-gate …`: relgate's command line,
//! the same library call as a workspace's `cargo xtask gate` (`relgate::cli`).

fn main() -> std::process::ExitCode {
    relgate::cli::main()
}
