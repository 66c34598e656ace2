//! `cargo xtask`: this repository's automation. `cargo xtask gate …` is relgate's command line,
//! the same library call a user's xtask makes (`relgate::cli`); `cargo xtask bench` is this
//! repository's own benchmark (`bench/`); `tidy` is a test module of the code's structure.

mod bench;
#[cfg(test)]
mod packaging;
#[cfg(test)]
mod tidy;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use relgate::model::exit_codes;

/// `cargo xtask bench`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask bench",
    bin_name = "cargo xtask bench",
    about = "Measure this build against shell baselines in the same run (per-check overhead, output capture, verify, scheduling, loader, importer, the merge of a sharded gate) and print the ratios with their targets; exits non-zero only when something could not run (see docs/PERFORMANCE.md)."
)]
struct BenchArgs {
    /// Smaller sizes, one repetition (a minute or two instead of the full sizes).
    #[arg(long, conflicts_with = "smoke")]
    quick: bool,
    /// Tiny sizes (seconds): checks that the benchmark runs, as CI does.
    #[arg(long)]
    smoke: bool,
    /// Also time a cold `cargo build -p xtask` into an empty target directory (minutes).
    #[arg(long)]
    cold_build: bool,
    /// Drive this xtask binary instead of this one (e.g. an older build, for a before/after
    /// comparison); the loader and importer are always timed in this process.
    #[arg(long, value_name = "BINARY")]
    xtask: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|word| word == "bench") {
        return bench(args.into_iter().skip(1));
    }
    // Everything else, the supervisor re-exec first, is relgate's command line.
    relgate::cli::run(args)
}

/// `cargo xtask bench [--quick|--smoke] [--cold-build] [--xtask BINARY]`.
fn bench(args: impl Iterator<Item = OsString>) -> ExitCode {
    let args = match BenchArgs::try_parse_from(args) {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            let code = if err.use_stderr() {
                exit_codes::INVALID
            } else {
                exit_codes::OK
            };
            return ExitCode::from(code as u8);
        }
    };
    let mode = if args.smoke {
        bench::Mode::Smoke
    } else if args.quick {
        bench::Mode::Quick
    } else {
        bench::Mode::Full
    };
    ExitCode::from(bench::main(mode, args.cold_build, args.xtask) as u8)
}
