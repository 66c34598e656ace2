//! `cargo xtask gate`: the relgate command line. The CLI plus glue; the engine is `relgate`.

mod bench;
#[cfg(test)]
mod tidy;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use relgate::model::{clock, exit_codes};
use relgate::review::record::ReviewDecision;
use relgate::{evidence::signing, report, run::harness, run::outdir, spec};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Project automation for relgate")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the release security gate (see `cargo xtask gate --help`).
    Gate(Box<GateCommand>),
    /// Measure this build against shell baselines in the same run (per-check overhead, output
    /// capture, verify, scheduling, loader, importer) and print the ratios with their targets;
    /// exits non-zero only when something could not run (see docs/PERFORMANCE.md).
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
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

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Exit codes: 0 = GO or GO_WITH_CONDITIONS, 1 = NO_GO (or GO_WITH_CONDITIONS with --deny-conditions), 2 = invalid gate file or arguments, or the out directory is in use by another run.\nlibtest arguments go after `--`: a name filter, --exact, --list, --skip NAME, --test-threads N."
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
    /// Print plain start/end lines instead of the live status line (the default off a terminal).
    #[arg(long)]
    no_progress: bool,
    /// Do not install missing tools: only probe them (a check needing a missing tool is an
    /// ERROR naming it and its install command).
    #[arg(long)]
    no_setup: bool,
    /// Sign the attestation with this ed25519 private key (OpenSSH or PKCS#8 PEM, unencrypted)
    /// into attestation.intoto.dsse.json [default: $RELGATE_SIGNING_KEY].
    #[arg(long, value_name = "FILE")]
    sign_key: Option<PathBuf>,
    /// Standard libtest arguments, after `--`.
    #[arg(last = true, value_name = "LIBTEST ARGS")]
    libtest: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum GateAction {
    /// Check the evidence: the signature (with --trusted-key), the ledger chain and every log,
    /// the attestation against the ledger, the verdict recomputed from the records, every report
    /// re-rendered; exit 1 on any mismatch, 2 on bad arguments.
    Verify {
        /// The out directory holding evidence.jsonl.
        #[arg(long, default_value = "target/gate")]
        out: PathBuf,
        /// Require a DSSE signature by this ed25519 public key (an `ssh-ed25519 AAAA…` line or a
        /// PEM public key file); repeatable: any one of them.
        #[arg(long = "trusted-key", value_name = "PUB")]
        trusted_keys: Vec<PathBuf>,
        /// Fail unless the run was made on this commit (a full SHA, or a revision `git rev-parse`
        /// resolves in the current directory).
        #[arg(long, value_name = "REV")]
        expect_commit: Option<String>,
        /// Recompute the verdict with this gate file instead of the out directory's copy (needed
        /// when the run could not store one).
        #[arg(long, value_name = "FILE")]
        gate: Option<PathBuf>,
    },
    /// Rebuild the verdict and reports from the last run's evidence fragments (after nextest);
    /// exit 1, without a verdict, when the evidence journal or a log was altered.
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
        /// Sign the attestation with this ed25519 private key [default: $RELGATE_SIGNING_KEY].
        #[arg(long, value_name = "FILE")]
        sign_key: Option<PathBuf>,
    },
    /// Sign a finished run's attestation in a step of its own, so that no check ever runs in a
    /// process that holds the key: the out directory is verified first (exit 1 if it does not
    /// verify), then its statement is signed as a DSSE envelope.
    Sign {
        /// The out directory of the run.
        #[arg(long, default_value = "target/gate")]
        out: PathBuf,
        /// The ed25519 private key [default: $RELGATE_SIGNING_KEY].
        #[arg(long, value_name = "FILE")]
        sign_key: Option<PathBuf>,
        /// The gate file, when the run could not store its copy (see `verify --gate`).
        #[arg(long, value_name = "FILE")]
        gate: Option<PathBuf>,
    },
    /// Approve packets of a finished run: a review record bound to the code, the packets'
    /// definitions and their outcomes, signed with your SSH key into the reviews directory
    /// (commit it). The run must verify and be of the code checked out now; exit 1 otherwise,
    /// 2 on bad arguments, gate file, key or allowed signers file
    Approve {
        /// The packets approved.
        #[arg(required = true, value_name = "PACKET")]
        packets: Vec<String>,
        #[command(flatten)]
        review: ReviewArgs,
        /// A note for the review record.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Request changes to a packet of a finished run: a signed review record with your
    /// findings (exit codes as `approve`)
    RequestChanges {
        /// The packet.
        #[arg(value_name = "PACKET")]
        packet: String,
        #[command(flatten)]
        review: ReviewArgs,
        /// What must change (repeatable: one finding each).
        #[arg(long, required = true)]
        reason: Vec<String>,
    },
    /// Turn a hand-kept Markdown tracker into a packets.toml, printed on stdout (notes on
    /// stderr); what it cannot map is kept as comments.
    Import {
        /// The Markdown tracker.
        tracker: PathBuf,
        /// Write the gate file here instead of printing it.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite the --output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// The setup step alone: probe every `[[tool]]` of the gate file, install what is missing,
    /// probe again; exit 0 when all are there, 1 when one is still missing (named, with the
    /// command that installs it), 2 on a bad gate file.
    Setup {
        /// The gate file.
        #[arg(long, default_value = "packets.toml")]
        gate: PathBuf,
        /// Where the probe and install logs go (not an out directory: the setup step of a
        /// machine is no run's evidence; a run logs its own setup into its out directory).
        #[arg(long, default_value = "target/gate-setup")]
        logs: PathBuf,
        /// Only this tool (repeatable).
        #[arg(long = "tool", value_name = "NAME")]
        tools: Vec<String>,
        /// Only probe: install nothing.
        #[arg(long)]
        check: bool,
    },
    /// Write a commented starter gate file that runs green anywhere.
    Init {
        /// The gate file to write.
        #[arg(long, default_value = "packets.toml")]
        gate: PathBuf,
        /// Overwrite the gate file if it exists.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    // The gate re-executes this binary as the supervisor of each command; nothing else first.
    relgate::run::supervisor::maybe_run();
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
    let gate = match cli.command {
        Command::Gate(gate) => gate,
        Command::Bench(args) => {
            let mode = if args.smoke {
                bench::Mode::Smoke
            } else if args.quick {
                bench::Mode::Quick
            } else {
                bench::Mode::Full
            };
            return ExitCode::from(bench::main(mode, args.cold_build, args.xtask) as u8);
        }
    };
    let code = match gate.action {
        None => with_signing_key(gate.run.sign_key.clone(), &gate.run.out.clone(), || {
            run(gate.run)
        }),
        Some(GateAction::Verify {
            out,
            trusted_keys,
            expect_commit,
            gate,
        }) => verify(out, &trusted_keys, expect_commit.as_deref(), gate),
        Some(GateAction::Report {
            gate,
            out,
            deny_conditions,
            sign_key,
        }) => with_signing_key(sign_key, &out.clone(), || {
            rebuild(gate, out, deny_conditions)
        }),
        Some(GateAction::Sign {
            out,
            sign_key,
            gate,
        }) => sign(out, sign_key, gate),
        Some(GateAction::Approve {
            packets,
            review,
            note,
        }) => review_packets(review, packets, ReviewDecision::Approved, note, Vec::new()),
        Some(GateAction::RequestChanges {
            packet,
            review,
            reason,
        }) => review_packets(
            review,
            vec![packet],
            ReviewDecision::ChangesRequested,
            String::new(),
            reason,
        ),
        Some(GateAction::Import {
            tracker,
            output,
            force,
        }) => import_tracker(&tracker, output.as_deref(), force),
        Some(GateAction::Init { gate, force }) => init_gate(&gate, force),
        Some(GateAction::Setup {
            gate,
            logs,
            tools,
            check,
        }) => setup(&gate, &logs, tools, check),
    };
    ExitCode::from(code as u8)
}

/// `gate import`: the tracker's gate file on stdout or into `output`, notes on stderr.
fn import_tracker(tracker: &std::path::Path, output: Option<&std::path::Path>, force: bool) -> i32 {
    if let Some(code) = output.and_then(|output| refuse_overwrite(output, force)) {
        return code;
    }
    let name = tracker.display().to_string();
    let bytes = match std::fs::read(tracker) {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("error: cannot read tracker {name}: {err}");
            return exit_codes::INVALID;
        }
    };
    let imported = match relgate::import::import(&name, &bytes) {
        Ok(imported) => imported,
        Err(err) => {
            eprintln!("error: cannot import {name}: {err}");
            return exit_codes::INVALID;
        }
    };
    for note in &imported.notes {
        match note.line {
            Some(line) => eprintln!("{name}:{line}: {note}"),
            None => eprintln!("{name}: {note}"),
        }
    }
    let written = match output {
        Some(path) => relgate::output::atomic::write(path, imported.toml.as_bytes())
            .map(|()| format!(" into {}", path.display()))
            .map_err(|err| format!("cannot write {}: {err}", path.display())),
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(imported.toml.as_bytes())
                .and_then(|()| stdout.flush())
            {
                // Like ripgrep: a closed pipe (`| head`) is not an error.
                Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(format!("cannot write to stdout: {err}"))
                }
                _ => Ok(String::new()),
            }
        }
    };
    let written = match written {
        Ok(written) => written,
        Err(message) => {
            eprintln!("error: {message}");
            return exit_codes::INVALID;
        }
    };
    let sum = |count: fn(&relgate::import::PacketSummary) -> usize| -> usize {
        imported.packets.iter().map(count).sum()
    };
    eprintln!(
        "imported {} packets, {} checklist items and {} checks ({} commented out) from {name}{written}; {} lines kept as comments",
        imported.packets.len(),
        sum(|packet| packet.checklist),
        sum(|packet| packet.checks),
        sum(|packet| packet.commented_checks),
        imported.commented_lines,
    );
    exit_codes::OK
}

/// Exit 2 for a file that exists, unless `--force` says to overwrite it.
fn refuse_overwrite(path: &std::path::Path, force: bool) -> Option<i32> {
    (path.exists() && !force).then(|| {
        eprintln!(
            "error: {} already exists\n  (hint: pass --force to overwrite it)",
            path.display()
        );
        exit_codes::INVALID
    })
}

/// `gate init`: the starter gate file, never over an existing file without `--force`.
fn init_gate(gate: &std::path::Path, force: bool) -> i32 {
    if let Some(code) = refuse_overwrite(gate, force) {
        return code;
    }
    let Some(file_name) = gate.file_name() else {
        eprintln!("error: --gate {} does not name a file", gate.display());
        return exit_codes::INVALID;
    };
    let text = relgate::init::starter(&file_name.to_string_lossy(), clock::today());
    if let Err(err) = relgate::output::atomic::write(gate, text.as_bytes()) {
        eprintln!("error: cannot write {}: {err}", gate.display());
        return exit_codes::INVALID;
    }
    eprintln!(
        "wrote {0}: run it with `cargo xtask gate --gate {0}`, then replace its placeholder checks",
        gate.display()
    );
    exit_codes::OK
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
        progress: relgate::run::progress::Style::detect(args.no_progress),
        setup: setup_policy(args.no_setup),
    })
}

fn setup_policy(probe_only: bool) -> relgate::run::setup::Policy {
    if probe_only {
        relgate::run::setup::Policy::ProbeOnly
    } else {
        relgate::run::setup::Policy::Install
    }
}

/// `gate setup`: the setup step of a run for every tool (or the `--tool`s), one line per tool,
/// logging into `logs`.
fn setup(
    gate_path: &std::path::Path,
    logs: &std::path::Path,
    only: Vec<String>,
    check: bool,
) -> i32 {
    let gate = match spec::load(gate_path) {
        Ok(gate) => gate,
        Err(err) => {
            eprintln!("error: {err}");
            return exit_codes::INVALID;
        }
    };
    let names: Vec<String> = if only.is_empty() {
        gate.tools.iter().map(|tool| tool.name.clone()).collect()
    } else {
        only
    };
    for name in &names {
        if !gate.tools.iter().any(|tool| &tool.name == name) {
            eprintln!(
                "error: --tool {name}: no [[tool]] of that name in {}",
                gate_path.display()
            );
            return exit_codes::INVALID;
        }
    }
    let step = relgate::run::setup::Setup::new(&gate, logs, setup_policy(check));
    let statuses = step.ensure(&names, &relgate::run::setup::announce);
    for status in &statuses {
        println!("{}", relgate::output::redaction::redact(&status.describe()));
    }
    if statuses.iter().all(relgate::run::setup::ToolStatus::usable) {
        exit_codes::OK
    } else {
        exit_codes::NO_GO
    }
}

/// Installs the signing key (`--sign-key`, else `RELGATE_SIGNING_KEY`) and runs `then`; a key
/// that cannot be used is exit 2 before any check runs — and, like any refused run, it first
/// removes the previous verdict of `out`, so that a job whose key went missing cannot leave an
/// earlier run's reports looking current.
fn with_signing_key(
    flag: Option<PathBuf>,
    out: &std::path::Path,
    then: impl FnOnce() -> i32,
) -> i32 {
    match signing::install_from(flag) {
        Ok(_) => then(),
        Err(err) => {
            let run_id = format!("refused-{}", outdir::new_run_id());
            // Purpose::Report: only the verdict goes; a directory in use is left alone.
            let _ = outdir::acquire(
                out,
                &run_id,
                outdir::Sharing::Exclusive,
                outdir::Purpose::Report,
            );
            eprintln!("error: {err}");
            exit_codes::INVALID
        }
    }
}

/// Who reviews, and what: the options `approve` and `request-changes` share.
#[derive(Args, Debug)]
struct ReviewArgs {
    /// The gate file.
    #[arg(long, default_value = "packets.toml")]
    gate: PathBuf,
    /// The out directory of the run reviewed.
    #[arg(long, default_value = "target/gate")]
    out: PathBuf,
    /// Your private SSH key (ed25519, unencrypted), the one you sign commits with.
    #[arg(long, value_name = "FILE", default_value = "~/.ssh/id_ed25519")]
    key: String,
    /// The identity to sign as [default: the one the allowed signers file lists for the key].
    #[arg(long = "as", value_name = "IDENTITY")]
    identity: Option<String>,
}

/// `gate approve` / `gate request-changes`.
fn review_packets(
    args: ReviewArgs,
    packets: Vec<String>,
    decision: ReviewDecision,
    note: String,
    findings: Vec<String>,
) -> i32 {
    let key = match args.key.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(rest))
            .unwrap_or_else(|| PathBuf::from(&args.key)),
        None => PathBuf::from(&args.key),
    };
    let options = relgate::approve::Options {
        gate: args.gate,
        out_dir: args.out,
        key,
        identity: args.identity,
        packets,
        decision,
        note,
        findings,
    };
    match relgate::approve::approve(&options) {
        Ok(written) => {
            for path in written {
                println!("{} {}", decision.label(), path.display());
            }
            println!("commit the review files: they are the packets' review record");
            exit_codes::OK
        }
        Err(err) => {
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}

/// `gate sign`: verify the out directory as it is, sign its statement, verify the signature.
fn sign(out: PathBuf, sign_key: Option<PathBuf>, gate: Option<PathBuf>) -> i32 {
    let signer = match signing::install_from(sign_key) {
        Ok(Some(_)) => signing::installed().expect("just installed"),
        Ok(None) => {
            eprintln!(
                "error: no signing key: pass --sign-key FILE or set {}",
                signing::ENV_SIGNING_KEY
            );
            return exit_codes::INVALID;
        }
        Err(err) => {
            eprintln!("error: {err}");
            return exit_codes::INVALID;
        }
    };
    if let Some(code) = missing_gate(gate.as_deref()) {
        return code;
    }
    let _lock = match take_out_dir(&out, "sign", outdir::Purpose::Sign) {
        Ok(lock) => lock,
        Err(code) => return code,
    };
    let options = |trusted: Vec<signing::TrustedKey>| relgate::verify::Options {
        out_dir: out.clone(),
        trusted,
        expect_commit: None,
        gate: gate.clone(),
    };
    if let Err(err) = relgate::verify::verify(&options(Vec::new())) {
        eprintln!("error: refusing to sign: the out directory does not verify: {err}");
        return exit_codes::NO_GO;
    }
    let path = out.join(relgate::report::attestation::ATTESTATION_FILE);
    let statement = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("error: cannot read {}: {err}", path.display());
            return exit_codes::NO_GO;
        }
    };
    if let Err(err) = relgate::evidence::signing::dsse::write(&statement, signer, &out) {
        eprintln!("error: cannot write the envelope: {err}");
        return exit_codes::NO_GO;
    }
    // What was signed is what verifies: nothing changed between the check and the signature.
    match relgate::verify::verify(&options(vec![signer.public()])) {
        Ok(_) => {
            println!("signed {} with key {}", path.display(), signer.keyid());
            exit_codes::OK
        }
        Err(err) => {
            let _ = std::fs::remove_file(out.join(relgate::evidence::signing::dsse::ENVELOPE_FILE));
            eprintln!(
                "error: the signed out directory does not verify (changed while signing?): {err}"
            );
            exit_codes::NO_GO
        }
    }
}

fn verify(
    out: PathBuf,
    trusted_keys: &[PathBuf],
    expect_commit: Option<&str>,
    gate: Option<PathBuf>,
) -> i32 {
    let mut trusted = Vec::new();
    for path in trusted_keys {
        match signing::TrustedKey::load(path) {
            Ok(keys) => trusted.extend(keys),
            Err(err) => {
                eprintln!("error: --trusted-key: {err}");
                return exit_codes::INVALID;
            }
        }
    }
    let expect_commit = match expect_commit.map(resolve_commit).transpose() {
        Ok(commit) => commit,
        Err(message) => {
            eprintln!("error: --expect-commit: {message}");
            return exit_codes::INVALID;
        }
    };
    if let Some(code) = missing_gate(gate.as_deref()) {
        return code;
    }
    let options = relgate::verify::Options {
        out_dir: out,
        trusted,
        expect_commit,
        gate,
    };
    match relgate::verify::verify(&options) {
        Ok(verified) => {
            let ledger = &verified.ledger;
            let decision = ledger
                .verdict()
                .map_or("none", |verdict| verdict.decision.label());
            let recomputed = match &verified.other_version {
                None => format!(
                    "the verdict recomputes, {} reports re-render",
                    verified.reports
                ),
                Some(_) => "verdict and reports not recomputed".to_string(),
            };
            println!(
                "ok: {} records, {} check records, every log digest matches, {} attestation subjects match, the statement matches the ledger, {recomputed}; verdict {decision}",
                ledger.records.len(),
                ledger.checks().count(),
                verified.subjects,
            );
            if let Some(version) = &verified.other_version {
                println!(
                    "warning: the run was made by relgate {version}, this is {}: use that version to recompute the verdict and re-render the reports",
                    env!("CARGO_PKG_VERSION")
                );
            }
            match verified.signature {
                relgate::verify::Signature::Trusted(keyid) => {
                    println!("signed by trusted key {keyid}");
                }
                relgate::verify::Signature::Unchecked(keyids) => println!(
                    "warning: the run is signed (key {}) but no --trusted-key was given, so the signature was not checked: this proves nothing against someone who can write the out directory",
                    keyids.join(", ")
                ),
                relgate::verify::Signature::Unsigned => println!(
                    "warning: the run is unsigned: the evidence is consistent, which proves nothing against someone who can write the out directory (sign with --sign-key or RELGATE_SIGNING_KEY, verify with --trusted-key)"
                ),
            }
            exit_codes::OK
        }
        Err(err) => {
            eprintln!("verify failed: {err}");
            exit_codes::NO_GO
        }
    }
}

/// A full commit id as given, or `git rev-parse --verify REV^{commit}` in the current directory.
fn resolve_commit(rev: &str) -> Result<String, String> {
    if rev.len() == 40 && rev.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Ok(rev.to_ascii_lowercase());
    }
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
        .arg(format!("{rev}^{{commit}}"))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|err| format!("cannot run git to resolve {rev}: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "git rev-parse cannot resolve {rev:?} to a commit here"
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn rebuild(gate_path: PathBuf, out: PathBuf, deny_conditions: bool) -> i32 {
    // First the out directory: its previous verdict goes even if the gate file is invalid.
    let _lock = match take_out_dir(&out, "report", outdir::Purpose::Report) {
        Ok(lock) => lock,
        Err(code) => return code,
    };
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
        Err(err) => {
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}

/// Takes `out` for this invocation alone (see `outdir::acquire`); an out directory in use or
/// not relgate's is exit 2, said on stderr.
fn take_out_dir(
    out: &std::path::Path,
    label: &str,
    purpose: outdir::Purpose,
) -> Result<outdir::OutDirLock, i32> {
    let run_id = format!("{label}-{}", outdir::new_run_id());
    outdir::acquire(out, &run_id, outdir::Sharing::Exclusive, purpose).map_err(|err| {
        eprintln!("error: {err}");
        exit_codes::INVALID
    })
}

/// Exit 2 for a `--gate FILE` that does not exist.
fn missing_gate(gate: Option<&std::path::Path>) -> Option<i32> {
    let gate = gate.filter(|gate| !gate.is_file())?;
    eprintln!("error: --gate {}: no such file", gate.display());
    Some(exit_codes::INVALID)
}
