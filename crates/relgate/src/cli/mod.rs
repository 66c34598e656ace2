//! The relgate command line as a library call: `cargo xtask gate …` (a workspace's xtask whose
//! `main` is [`main`]) and `cargo gate …` (the `cargo-gate` binary, whose `main` is the same
//! call). Parsing and dispatch live here; each group of commands is a module: [`args`] (the clap
//! types), `running` (a run, `report`, `setup`), `evidence` (`verify`, `sign`), `review`
//! (`approve`, `request-changes`), `files` (`import`, `init`).
//!
//! A workspace adopts relgate with the xtask pattern in three lines:
//!
//! ```no_run
//! // xtask/src/main.rs; `.cargo/config.toml` has `[alias] xtask = "run -p xtask --"`.
//! fn main() -> std::process::ExitCode {
//!     relgate::cli::main()
//! }
//! ```

mod args;
mod evidence;
mod files;
mod review;
mod running;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::{FromArgMatches, Parser};

use crate::model::exit_codes;
use crate::model::invocation::{self, Invocation};
use args::{GateAction, GateCommand, XtaskCli, XtaskCommand};

/// The command line of this process: [`run`] with [`std::env::args_os`].
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     relgate::cli::main()
/// }
/// ```
pub fn main() -> ExitCode {
    run(std::env::args_os())
}

/// Runs the command line `args` (`argv[0]` included) and returns its exit code: 0 for GO or
/// GO_WITH_CONDITIONS (and a clean `verify`, `--help`), 1 for NO_GO, 2 for invalid arguments or
/// gate file (see [`crate::model::exit_codes`]).
///
/// How `args` read depends on `argv[0]`: a program named `cargo-gate` is the installed command,
/// run as `cargo gate …` (cargo passes `cargo-gate gate …`) or directly as `cargo-gate …`;
/// anything else is a workspace's xtask, run as `cargo xtask gate …`. Help and the messages
/// that say what to run next name the command that way.
///
/// First of all, a process that the gate started as the supervisor of a check becomes that
/// supervisor here (`crate::run::supervisor::maybe_run`), so a `main` needs nothing else.
///
/// ```
/// use std::process::ExitCode;
///
/// // `cargo xtask gate verify` with a flag it does not know: exit code 2.
/// let code = relgate::cli::run(["xtask", "gate", "verify", "--no-such-flag"]);
/// assert_eq!(code, ExitCode::from(2));
/// // The same through the installed binary, with or without the `gate` cargo adds.
/// assert_eq!(relgate::cli::run(["cargo-gate", "verify", "--no-such-flag"]), ExitCode::from(2));
/// ```
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    // The gate re-executes this binary as the supervisor of each command; nothing else first.
    crate::run::supervisor::maybe_run();
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let invoked = invocation_of(&args);
    invocation::set(invoked);
    match parse(invoked, args) {
        Ok(command) => ExitCode::from(execute(command, invoked) as u8),
        Err(err) => {
            let _ = err.print();
            ExitCode::from(if err.use_stderr() {
                exit_codes::INVALID as u8
            } else {
                exit_codes::OK as u8
            })
        }
    }
}

/// `cargo-gate` (the installed binary) or anything else (a workspace's xtask), by `argv[0]`.
fn invocation_of(args: &[OsString]) -> Invocation {
    let program = args.first().map(Path::new).and_then(Path::file_stem);
    if program.is_some_and(|name| name == "cargo-gate") {
        Invocation::CargoGate
    } else {
        Invocation::Xtask
    }
}

/// The gate command `args` ask for, or clap's error (or help) to print.
fn parse(invoked: Invocation, mut args: Vec<OsString>) -> Result<GateCommand, clap::Error> {
    match invoked {
        Invocation::Xtask => XtaskCli::try_parse_from(args).map(|cli| match cli.command {
            XtaskCommand::Gate(gate) => *gate,
        }),
        Invocation::CargoGate => {
            // `cargo gate …` runs `cargo-gate gate …`; `cargo-gate …` has no such word.
            if args.get(1).is_some_and(|word| word == "gate") {
                args.remove(1);
            }
            let matches = args::cargo_gate_command().try_get_matches_from(args)?;
            GateCommand::from_arg_matches(&matches)
        }
    }
}

/// Runs one parsed command: its exit code.
fn execute(gate: GateCommand, invoked: Invocation) -> i32 {
    match gate.action {
        None => running::with_signing_key(gate.run.sign_key.clone(), &gate.run.out.clone(), || {
            running::run(gate.run)
        }),
        Some(GateAction::Verify {
            out,
            trusted_keys,
            expect_commit,
            gate,
        }) => evidence::verify(out, &trusted_keys, expect_commit.as_deref(), gate),
        Some(GateAction::Report {
            gate,
            out,
            deny_conditions,
            sign_key,
        }) => running::with_signing_key(sign_key, &out.clone(), || {
            running::rebuild(gate, out, deny_conditions)
        }),
        Some(GateAction::Merge {
            shards,
            gate,
            out,
            deny_conditions,
            sign_key,
            trusted_keys,
        }) => running::with_signing_key(sign_key, &out.clone(), || {
            running::merge(&gate, &shards, &out, deny_conditions, &trusted_keys)
        }),
        Some(GateAction::Sign {
            out,
            sign_key,
            gate,
        }) => evidence::sign(out, sign_key, gate),
        Some(GateAction::Approve {
            packets,
            review,
            note,
        }) => review::approve(review, packets, note),
        Some(GateAction::RequestChanges {
            packet,
            review,
            reason,
        }) => review::request_changes(review, packet, reason),
        Some(GateAction::Import {
            tracker,
            output,
            force,
        }) => files::import_tracker(&tracker, output.as_deref(), force),
        Some(GateAction::Init {
            gate,
            force,
            xtask,
            relgate_path,
        }) => files::init_gate(&gate, force, xtask.then_some(relgate_path), invoked),
        Some(GateAction::Setup {
            gate,
            logs,
            tools,
            check,
        }) => running::setup(&gate, &logs, tools, check),
    }
}

#[cfg(test)]
mod tests;
