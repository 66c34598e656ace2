//! The commands that run checks or rebuild a verdict: a run (`cargo xtask gate`), `report`
//! (the verdict and reports from the evidence fragments, after nextest), `merge` (one run from
//! the shards of a gate split across machines) and `setup` (install the gate's tools), with
//! the signing key each run may install first.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::args::RunArgs;
use super::evidence::{take_out_dir, trusted};
use crate::model::{clock, exit_codes};
use crate::run::{harness, outdir, setup as tools};
use crate::{evidence::signing, report, spec};

/// A run of the gate: its exit code.
pub(super) fn run(args: RunArgs) -> i32 {
    harness::run(&harness::Options {
        gate: args.gate,
        out_dir: args.out,
        packets: args.packets,
        jobs: args.jobs,
        deny_conditions: args.deny_conditions,
        libtest_args: args.libtest,
        mode: harness::Mode::Xtask,
        progress: crate::run::progress::Style::detect(args.no_progress),
        setup: setup_policy(args.no_setup),
    })
}

fn setup_policy(probe_only: bool) -> tools::Policy {
    if probe_only {
        tools::Policy::ProbeOnly
    } else {
        tools::Policy::Install
    }
}

/// `gate setup`: the setup step of a run for every tool (or the `--tool`s), one line per tool,
/// logging into `logs`.
pub(super) fn setup(gate_path: &Path, logs: &Path, only: Vec<String>, check: bool) -> i32 {
    let gate = match spec::load(gate_path) {
        Ok(gate) => gate,
        Err(err) => {
            crate::output::redaction::print_error(&err);
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
    let step = tools::Setup::new(&gate, logs, setup_policy(check));
    let statuses = step.ensure(&names, &tools::announce);
    for status in &statuses {
        println!("{}", crate::output::redaction::redact(&status.describe()));
    }
    if statuses.iter().all(tools::ToolStatus::usable) {
        exit_codes::OK
    } else {
        exit_codes::NO_GO
    }
}

/// Installs the signing key (`--sign-key`, else `RELGATE_SIGNING_KEY`) and runs `then`; a key
/// that cannot be used is exit 2 before any check runs — and, like any refused run, it first
/// removes the previous verdict of `out`, so that a job whose key went missing cannot leave an
/// earlier run's reports looking current.
pub(super) fn with_signing_key(
    flag: Option<PathBuf>,
    out: &Path,
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
            crate::output::redaction::print_error(&err);
            exit_codes::INVALID
        }
    }
}

/// `gate report`: the verdict and reports rebuilt from the last run's evidence fragments.
pub(super) fn rebuild(gate_path: PathBuf, out: PathBuf, deny_conditions: bool) -> i32 {
    // First the out directory: its previous verdict goes even if the gate file is invalid.
    let _lock = match take_out_dir(&out, "report", outdir::Purpose::Report) {
        Ok(lock) => lock,
        Err(code) => return code,
    };
    let gate = match spec::load(&gate_path) {
        Ok(gate) => gate,
        Err(err) => {
            crate::output::redaction::print_error(&err);
            return exit_codes::INVALID;
        }
    };
    match report::rebuild(&gate, &out, clock::today()) {
        Ok(finished) => {
            let _ = report::print_summary(&mut std::io::stdout(), &gate, &finished, &out);
            // A shard's own report seals (and, with a key, signs) its evidence for the merge;
            // its verdict covers one partition and decides nothing. A partition `M/1` holds
            // every trial: its verdict is the release's, with its exit code.
            let partial = |partition: &str| {
                partition
                    .parse::<crate::model::partition::Partition>()
                    .map_or(true, |partition| partition.total > 1)
            };
            if let Some(shard) = finished
                .ledger
                .header()
                .and_then(|header| header.shard.as_ref())
                .filter(|shard| partial(&shard.partition))
            {
                println!(
                    "shard {}: this verdict covers {} trials of one partition, not the release: `{} merge` the shards",
                    shard.partition,
                    shard.trials.len(),
                    crate::model::invocation::gate_command()
                );
                return exit_codes::OK;
            }
            report::exit_code(finished.verdict.record.decision, deny_conditions)
        }
        Err(err) => {
            crate::output::redaction::print_error(&err);
            err.exit_code()
        }
    }
}

/// `gate merge`: one run from the out directories of a gate's shards.
pub(super) fn merge(
    gate_path: &Path,
    dirs: &[PathBuf],
    out: &Path,
    deny_conditions: bool,
    trusted_keys: &[PathBuf],
) -> i32 {
    use crate::merge;
    let trusted = match trusted(trusted_keys) {
        Ok(trusted) => trusted,
        Err(code) => return code,
    };
    // Before the out directory is taken (which empties it): it must hold no shard.
    if let Err(err) = merge::check_dirs(dirs, out) {
        crate::output::redaction::print_error(&err);
        return err.exit_code();
    }
    let run_id = format!("merge-{}", outdir::new_run_id());
    let _lock = match merge::take_out_dir(out, &run_id) {
        Ok(lock) => lock,
        Err(err) => {
            crate::output::redaction::print_error(&err);
            return err.exit_code();
        }
    };
    let gate = match spec::load(gate_path) {
        Ok(gate) => gate,
        Err(err) => {
            crate::output::redaction::print_error(&err);
            return exit_codes::INVALID;
        }
    };
    let read = |dir: &PathBuf| {
        let shard = merge::read_shard(dir)?;
        merge::check_signature(&shard, gate_path, &trusted)?;
        Ok::<_, merge::MergeError>(shard)
    };
    let shards = match dirs.iter().map(read).collect() {
        Ok(shards) => shards,
        Err(err) => {
            crate::output::redaction::print_error(&err);
            return err.exit_code();
        }
    };
    match merge::merge(&gate, shards, out, &run_id, clock::today()) {
        Ok(merged) => {
            let mut stdout = crate::output::redaction::Writer::new(std::io::stdout());
            for shard in &merged.shards {
                let _ = writeln!(
                    stdout,
                    "shard {}: {} of {} trials finished (run {}, {})",
                    shard.partition,
                    shard.ran,
                    shard.trials,
                    // A shard's artifact says these: one line each, whatever they hold.
                    shard.run_id.escape_debug(),
                    shard.host.escape_debug()
                );
            }
            for gap in &merged.gaps {
                let _ = writeln!(stdout, "gap: {gap}");
            }
            drop(stdout);
            let _ = report::print_summary(&mut std::io::stdout(), &gate, &merged.finished, out);
            report::exit_code(merged.finished.verdict.record.decision, deny_conditions)
        }
        Err(err) => {
            crate::output::redaction::print_error(&err);
            err.exit_code()
        }
    }
}
