//! `cargo xtask gate`: the relgate command line. The CLI plus glue; the engine is `relgate`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use relgate::{clock, evidence, exit_codes, harness, report, spec};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Project automation for relgate")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the release security gate (see `cargo xtask gate --help`).
    Gate(GateCommand),
}

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Exit codes: 0 = GO or GO_WITH_CONDITIONS, 1 = NO_GO (or GO_WITH_CONDITIONS with --deny-conditions), 2 = invalid gate file or arguments.\nlibtest arguments go after `--`: a name filter, --exact, --list, --skip NAME, --test-threads N."
)]
struct GateCommand {
    #[command(subcommand)]
    action: Option<GateAction>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The gate file.
    #[arg(long, default_value = "packets.toml")]
    gate: PathBuf,
    /// Where evidence and reports go.
    #[arg(long, default_value = "target/gate")]
    out: PathBuf,
    /// Run only this packet (repeatable); the verdict of a partial run is not a release verdict.
    #[arg(long = "packet", value_name = "ID")]
    packets: Vec<String>,
    /// How many checks run at once (default: number of cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    jobs: Option<usize>,
    /// Exit 1 on GO_WITH_CONDITIONS.
    #[arg(long)]
    deny_conditions: bool,
    /// Standard libtest arguments, after `--`.
    #[arg(last = true, value_name = "LIBTEST ARGS")]
    libtest: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum GateAction {
    /// Re-hash the ledger chain and every log it names; exit 1 on any mismatch.
    Verify {
        /// The out directory holding evidence.jsonl.
        #[arg(long, default_value = "target/gate")]
        out: PathBuf,
    },
    /// Rebuild the verdict and reports from the last run's evidence fragments (after nextest).
    Report {
        /// The gate file.
        #[arg(long, default_value = "packets.toml")]
        gate: PathBuf,
        /// The out directory.
        #[arg(long, default_value = "target/gate")]
        out: PathBuf,
        /// Exit 1 on GO_WITH_CONDITIONS.
        #[arg(long)]
        deny_conditions: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                exit_codes::INVALID as u8
            } else {
                0
            });
        }
    };
    let Command::Gate(gate) = cli.command;
    let code = match gate.action {
        None => run(gate.run),
        Some(GateAction::Verify { out }) => verify(out),
        Some(GateAction::Report {
            gate,
            out,
            deny_conditions,
        }) => rebuild(gate, out, deny_conditions),
    };
    ExitCode::from(code as u8)
}

fn run(args: RunArgs) -> i32 {
    harness::run(&harness::Options {
        gate: args.gate,
        out_dir: args.out,
        packets: args.packets,
        jobs: args.jobs,
        deny_conditions: args.deny_conditions,
        libtest_args: args.libtest,
        mode: harness::Mode::Xtask,
    })
}

fn verify(out: PathBuf) -> i32 {
    match evidence::verify(&out) {
        Ok(ledger) => {
            let checks = ledger.checks().count();
            let decision = ledger
                .verdict()
                .map_or("none", |verdict| verdict.decision.label());
            println!(
                "ok: {} records, {checks} check records, every log digest matches; verdict {decision}",
                ledger.records.len()
            );
            exit_codes::OK
        }
        Err(err) => {
            eprintln!("verify failed: {err}");
            exit_codes::NO_GO
        }
    }
}

fn rebuild(gate_path: PathBuf, out: PathBuf, deny_conditions: bool) -> i32 {
    let gate = match spec::load(&gate_path) {
        Ok(gate) => gate,
        Err(err) => {
            eprintln!("error: {err}");
            return exit_codes::INVALID;
        }
    };
    match report::rebuild(&gate, &out, clock::today()) {
        Ok(finished) => {
            let _ = report::print_summary(&mut std::io::stdout(), &gate, &finished, &out);
            report::exit_code(finished.verdict.record.decision, deny_conditions)
        }
        Err(message) => {
            eprintln!("error: {message}");
            exit_codes::INVALID
        }
    }
}
