//! The gate as libtest-mimic trials: one per check (`PACKET::check`) and one per checklist item
//! (`PACKET::checklist::<slug>`), driven by `cargo xtask gate`, `cargo test -p gate-tests` and
//! `cargo nextest run -p gate-tests` alike.
//!
//! Trials are handed to libtest-mimic in dependency order. Its workers take trials first come,
//! first served, so a trial that waits for the trials of the packets it depends on only ever
//! waits for trials that have already started: no deadlock at any `--test-threads`. Under
//! nextest, where each trial is a process started in any order, [`nextest`] claims keep the
//! same order across processes.
//! libtest-mimic's `Conclusion` holds counts only, so every trial publishes its own evidence
//! record into the shared [`RunState`] (and a fragment file) before it returns.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;
use libtest_mimic::{Arguments, Completion, Failed};

use crate::evidence::{CaseOutcome, CheckRecord, Outcome, RunHeader};
use crate::run::progress::{self, Progress};
use crate::run::service::Services;
use crate::run::setup::{self, Setup};
use crate::spec::{Check, Gate, Satisfaction};
use crate::verdict::{self, Stage, Triage};
mod board;
mod scheduler;
mod trials;

use super::check::scan::finding_line;
use super::check::{self, skeleton};
use crate::model::{clock, exit_codes};
use crate::output::tail;
use crate::{evidence::fragment, plan, report, run::nextest, run::outdir, spec};
use board::Board;
use scheduler::Scheduler;

/// Environment variable listing the gate files being run by ancestors of this process, one
/// per line. A gate that finds its own file there refuses to run: a check ran the gate again.
pub const ENV_ACTIVE_GATES: &str = "RELGATE_ACTIVE_GATES";
/// Environment variable naming the file a refused nested gate writes, so the check that
/// started it fails with a clear message.
pub const ENV_RECURSION_MARKER: &str = "RELGATE_RECURSION_MARKER";

/// How the gate is being driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `cargo xtask gate`: one process runs every trial and writes the reports.
    Xtask,
    /// `cargo test -p gate-tests`: the same, under the standard test CLI.
    CargoTest,
    /// `cargo nextest run -p gate-tests`: one process per trial; fragments only.
    Nextest,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Xtask => "xtask",
            Mode::CargoTest => "cargo-test",
            Mode::Nextest => "nextest",
        }
    }
}

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct Options {
    /// The gate file.
    pub gate: PathBuf,
    /// The out directory.
    pub out_dir: PathBuf,
    /// Only these packets (all when empty).
    pub packets: Vec<String>,
    /// Parallel trials (`-j N`); libtest's `--test-threads` wins when both are given.
    pub jobs: Option<usize>,
    /// Exit 1 on GO_WITH_CONDITIONS.
    pub deny_conditions: bool,
    /// Standard libtest arguments: filter, `--exact`, `--list`, `--skip`, `--test-threads`…
    pub libtest_args: Vec<String>,
    /// Who drives the run.
    pub mode: Mode,
    /// How progress is shown while checks run (stderr).
    pub progress: crate::run::progress::Style,
    /// Whether the setup step may install missing tools (`--no-setup`: only probe).
    pub setup: setup::Policy,
}

/// Entry point of the `gate-tests` harness: reads `RELGATE_GATE` / `RELGATE_OUT` (defaults:
/// `packets.toml` and `target/gate` under `workspace_root`) and the libtest arguments.
pub fn test_main(workspace_root: &Path) -> ! {
    let nextest = std::env::var("NEXTEST_EXECUTION_MODE")
        .is_ok_and(|mode| mode == "process-per-test")
        || (std::env::var_os("NEXTEST").is_some() && std::env::var_os("NEXTEST_RUN_ID").is_some());
    let options = Options {
        gate: std::env::var_os("RELGATE_GATE")
            .map_or_else(|| workspace_root.join("packets.toml"), PathBuf::from),
        out_dir: std::env::var_os("RELGATE_OUT")
            .map_or_else(|| workspace_root.join("target/gate"), PathBuf::from),
        packets: Vec::new(),
        jobs: None,
        deny_conditions: false,
        libtest_args: std::env::args().skip(1).collect(),
        mode: if nextest {
            Mode::Nextest
        } else {
            Mode::CargoTest
        },
        // The test runner shows its own progress.
        progress: crate::run::progress::Style::Off,
        setup: if std::env::var_os("RELGATE_NO_SETUP").is_some_and(|value| !value.is_empty()) {
            setup::Policy::ProbeOnly
        } else {
            setup::Policy::Install
        },
    };
    std::process::exit(run(&options))
}

/// Runs the gate and returns the process exit code. Errors are printed to stderr.
pub fn run(options: &Options) -> i32 {
    // A program that forgot the hook in `main` must not run the gate again as a supervisor.
    crate::run::supervisor::maybe_run();
    let gate_path = std::fs::canonicalize(&options.gate)
        .or_else(|_| std::path::absolute(&options.gate))
        .unwrap_or_else(|_| options.gate.clone());
    if let Some(code) = refuse_recursion(&gate_path) {
        return code;
    }
    crate::run::interrupt::install();
    let Prepared {
        gate,
        mut args,
        run_id,
        list_only,
        out_lock: _out_lock,
    } = match prepare(options) {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };

    let mut header = super::header::run_header(&gate, &run_id, options.mode.label());
    let shard = match super::shard::detect(options.mode == Mode::Nextest) {
        Ok(partition) => partition.map(|partition| super::shard::Shard::new(&gate, partition)),
        Err(err) => {
            crate::output::redaction::print_error(&err);
            return exit_codes::INVALID;
        }
    };
    header.shard = shard.as_ref().map(super::shard::Shard::info);
    let active_gates = match std::env::var(ENV_ACTIVE_GATES) {
        Ok(existing) if !existing.is_empty() => format!("{existing}\n{}", gate_path.display()),
        _ => gate_path.display().to_string(),
    };
    let selected: Vec<&crate::spec::Packet> = plan::topological(&gate)
        .into_iter()
        .filter(|packet| options.packets.is_empty() || options.packets.contains(&packet.id))
        .collect();
    let selected_ids: Vec<String> = selected.iter().map(|packet| packet.id.clone()).collect();
    // Under nextest every case is a process with its own services: keep their logs apart.
    let service_tag = match options.mode {
        Mode::Nextest => std::process::id().to_string(),
        _ => String::new(),
    };
    let shared = Arc::new(RunState {
        services: Services::new(&gate, &options.out_dir, &service_tag),
        setup: Setup::new(&gate, &setup::log_dir(&options.out_dir), options.setup),
        out_dir: options.out_dir.clone(),
        run_id: run_id.clone(),
        mode: options.mode,
        today: clock::today(),
        active_gates,
        board: Board::new(&gate),
        progress: std::sync::OnceLock::new(),
        shard,
        attempt: super::shard::nextest_attempt(),
        gate,
    });

    let trials = trials::build(&shared, &selected_ids);
    let total = trials.len();
    let in_run: HashSet<String> = trials
        .iter()
        .filter(|trial| !args.is_filtered_out(trial) && !args.is_ignored(trial))
        .map(|trial| trial.name().to_string())
        .collect();
    let selection = Selection {
        total,
        selected: in_run.len(),
    };
    let partial = selection.is_partial();
    let checks_in_run = shared
        .gate
        .checks()
        .filter(|check| in_run.contains(&check.name()))
        .count();
    let run_tools = if list_only {
        Vec::new()
    } else {
        setup::tools_of_trials(&shared.gate, &in_run)
    };
    shared.board.select(in_run, partial);
    if !list_only {
        if let Err(err) = fragment::write_header(&options.out_dir, &header) {
            eprintln!(
                "error: cannot write evidence to {}: {err}",
                options.out_dir.display()
            );
            return exit_codes::INVALID;
        }
    }

    // The setup step, first: the tools the checks of this run need. Under nextest, where each
    // process runs one trial, a check sets up its own tools when it runs (`execute`).
    if !list_only && options.mode != Mode::Nextest {
        shared.setup.ensure(&run_tools, &setup::announce);
    }

    let style = if list_only {
        progress::Style::Off
    } else {
        options.progress
    };
    // The live display swaps stdout for a pipe, which libtest would take for "no colours".
    if style == progress::Style::Live && args.color.is_none() {
        args.color = Some(libtest_mimic::ColorSetting::Always);
    }
    let _ = shared.progress.set(Progress::new(style, checks_in_run));
    // One process runs every check: flush to disk once, before the ledger, not per check.
    let deferred =
        (options.mode != Mode::Nextest).then(|| crate::output::atomic::defer(&options.out_dir));
    let scheduler = (options.mode != Mode::Nextest && !list_only).then(|| {
        let jobs = args
            .test_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        Scheduler::start(&shared, jobs)
    });
    let conclusion = libtest_mimic::run(&args, trials);
    if let Some(scheduler) = scheduler {
        scheduler.join();
    }
    if let Some(progress) = shared.progress.get() {
        progress.finish();
    }
    if list_only {
        return exit_codes::OK;
    }
    finish_run(
        options,
        &shared,
        header,
        &service_tag,
        conclusion.has_failed(),
        deferred,
        selection,
    )
}

/// What a run starts from once its arguments, out directory and gate file are accepted.
struct Prepared {
    gate: Gate,
    args: Arguments,
    run_id: String,
    list_only: bool,
    /// Held for the whole run (`None` when only listing).
    out_lock: Option<outdir::OutDirLock>,
}

/// Parses the libtest arguments, takes the out directory (removing the previous verdict, so a
/// refused or killed run never leaves an earlier run's reports looking current), loads the
/// gate and checks `--packet` and `-j`. `Err` is the exit code, after the error was printed.
fn prepare(options: &Options) -> Result<Prepared, i32> {
    let parsed = Arguments::try_parse_from(
        std::iter::once("gate".to_string()).chain(options.libtest_args.iter().cloned()),
    );
    let list_only = parsed.as_ref().is_ok_and(|args| args.list);
    let run_id = match (options.mode, std::env::var("NEXTEST_RUN_ID")) {
        (Mode::Nextest, Ok(id)) if !id.is_empty() => id,
        (Mode::Nextest, _) if !list_only => {
            eprintln!("error: NEXTEST_RUN_ID is not set: the processes of this nextest run cannot be told from another run's (use cargo-nextest 0.9.50 or later)");
            return Err(exit_codes::INVALID);
        }
        _ => outdir::new_run_id(),
    };
    // Before anything can fail: take the out directory and remove the previous verdict, so a
    // refused or killed run never leaves an earlier run's reports looking current.
    let out_lock = if list_only {
        None
    } else {
        let sharing = match options.mode {
            Mode::Nextest => outdir::Sharing::PerRun,
            _ => outdir::Sharing::Exclusive,
        };
        match outdir::acquire(&options.out_dir, &run_id, sharing, outdir::Purpose::Run) {
            Ok(lock) => Some(lock),
            Err(err) => {
                crate::output::redaction::print_error(&err);
                return Err(exit_codes::INVALID);
            }
        }
    };
    let gate = match spec::load(&options.gate) {
        Ok(gate) => gate,
        Err(err) => {
            crate::output::redaction::print_error(&err);
            return Err(exit_codes::INVALID);
        }
    };
    for packet in &options.packets {
        if gate.packet(packet).is_none() {
            let known: Vec<&str> = gate.packets.iter().map(|p| p.id.as_str()).collect();
            eprintln!(
                "error: --packet {packet}: no such packet in {} (packets: {})",
                options.gate.display(),
                known.join(", ")
            );
            return Err(exit_codes::INVALID);
        }
    }
    let mut args = match parsed {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return Err(exit_codes::INVALID);
        }
    };
    if args.test_threads.is_none() {
        args.test_threads = options.jobs;
    }
    if args.test_threads == Some(0) {
        eprintln!("error: -j / --test-threads must be at least 1 (0 would run no trial, ever)");
        return Err(exit_codes::INVALID);
    }

    Ok(Prepared {
        gate,
        args,
        run_id,
        list_only,
        out_lock,
    })
}

/// How many trials the run had, and how many were selected (a partial run is no release
/// verdict).
struct Selection {
    total: usize,
    selected: usize,
}

impl Selection {
    fn is_partial(&self) -> bool {
        self.selected < self.total
    }
}

/// After the trials: stops the services, writes their records, and — in one process — makes
/// the evidence durable, writes the ledger and every report, prints the summary and returns
/// the exit code (under nextest, `gate report` does that later).
fn finish_run(
    options: &Options,
    shared: &RunState,
    header: RunHeader,
    service_tag: &str,
    trials_failed: bool,
    deferred: Option<crate::output::atomic::Deferred>,
    selection: Selection,
) -> i32 {
    let run_id = &shared.run_id;
    let service_records = shared.services.stop_all();
    // Every check ran: the supervisors kept for the next one can go.
    crate::run::supervisor::retire_idle();
    for record in &service_records {
        if let Err(err) = fragment::write_service(&options.out_dir, run_id, service_tag, record) {
            eprintln!(
                "warning: cannot write evidence fragment for service {}: {err}",
                record.name
            );
        }
    }
    if options.mode == Mode::Nextest {
        return if trials_failed {
            exit_codes::TEST_FAILED
        } else {
            exit_codes::OK
        };
    }

    if let Some(Err(err)) = deferred.map(crate::output::atomic::Deferred::sync) {
        eprintln!(
            "error: cannot make the evidence in {} durable: {err}",
            options.out_dir.display()
        );
        return exit_codes::NO_GO;
    }
    let records: Vec<CheckRecord> = shared.board.all();
    let finished = match report::finish(
        &shared.gate,
        header,
        service_records,
        records,
        &options.out_dir,
        shared.today,
    ) {
        Ok(finished) => finished,
        Err(err) => {
            eprintln!(
                "error: cannot write reports to {}: {err}",
                options.out_dir.display()
            );
            return exit_codes::NO_GO;
        }
    };
    let mut stdout = std::io::stdout();
    if let Err(err) = report::print_summary(&mut stdout, &shared.gate, &finished, &options.out_dir)
    {
        eprintln!("warning: cannot print the summary: {err}");
    }
    if selection.is_partial() {
        println!(
            "partial run: {} of {} cases selected; the verdict covers a partial run and is not a release verdict",
            selection.selected, selection.total
        );
        return if trials_failed {
            exit_codes::NO_GO
        } else {
            exit_codes::OK
        };
    }
    report::exit_code(finished.verdict.record.decision, options.deny_conditions)
}

/// Shared state of one run: the validated gate and every record published so far.
pub struct RunState {
    gate: Gate,
    services: Services,
    setup: Setup,
    out_dir: PathBuf,
    run_id: String,
    mode: Mode,
    today: chrono::NaiveDate,
    active_gates: String,
    board: Board,
    /// The progress display, set when the trials start.
    progress: std::sync::OnceLock<Progress>,
    /// When this run is one partition of a gate split across machines.
    shard: Option<super::shard::Shard>,
    /// nextest's attempt of this process (1 outside nextest).
    attempt: u32,
}

impl RunState {
    /// What a check needs from this run.
    fn check_ctx(&self) -> check::Ctx<'_> {
        check::Ctx {
            services: &self.services,
            setup: &self.setup,
            out_dir: &self.out_dir,
            active_gates: &self.active_gates,
        }
    }

    fn check_trial(&self, packet_id: &str, check_id: &str) -> Result<Completion, Failed> {
        let packet = self.packet(packet_id);
        let check = packet.check(check_id).expect("trial check exists");
        let record = if self.mode == Mode::Nextest {
            self.own_record(check)?
        } else {
            // The scheduler runs it; the trial reports its record.
            let mut records = self.board.wait_for(&[check.name()]);
            records.pop().expect("a trial of this run has a record")
        };
        if record.outcome == Outcome::Skipped {
            return Ok(Completion::ignored_with(record.message));
        }
        let triage = verdict::triage_check(check, Some(&record), &self.gate.accepts, self.today);
        match triage {
            Triage::Blocking => Err(Failed::from(failure_text(&self.out_dir, &record))),
            _ => Ok(Completion::Completed),
        }
    }

    /// Runs `check` once its dependencies are settled (in-process runs; see [`scheduler`]) and
    /// publishes its record.
    /// Runs `check` in this process and returns its record, not yet published.
    fn run_in_process(&self, check: &Check) -> CheckRecord {
        let (blocked_by, not_in_run) = self.wait_for_dependencies(&check.packet);
        let notes = not_in_run
            .iter()
            .map(|dep| format!("dependency {dep} is not part of this run"))
            .collect();
        self.run_unless_blocked(check, &blocked_by, notes, Vec::new())
    }

    /// Runs `check`, or records it as skipped when `blocked_by` names a dependency that is
    /// not DONE (its command never starts). Always returns a record, even when the runner
    /// panics, or trials waiting on this one would wait forever.
    fn run_unless_blocked(
        &self,
        check: &Check,
        blocked_by: &[String],
        notes: Vec<String>,
        earlier: Vec<CheckRecord>,
    ) -> CheckRecord {
        if !blocked_by.is_empty() {
            let message = format!("blocked by {}", blocked_by.join(", "));
            let mut record = skeleton(check, &message, Outcome::Skipped);
            record.notes = notes;
            return record.after_attempts(earlier);
        }
        self.progress(|progress| progress.started(&check.name()));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check::execute(check, notes.clone(), earlier.clone(), &self.check_ctx())
        }));
        outcome.unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            skeleton(
                check,
                &format!("internal error in relgate: {why}"),
                Outcome::Error,
            )
            .after_attempts(earlier)
        })
    }

    /// Under nextest: the check's record in this run, run here under its claim when no other
    /// process has run it (dependencies first), see [`nextest`].
    fn nextest_record(&self, check: &Check) -> Result<CheckRecord, Failed> {
        self.claims()
            .record(check, &|check, dependencies, earlier| {
                self.run_claimed(check, dependencies, earlier)
            })
            .map_err(|err| Failed::from(self.coordination_error(err)))
    }

    /// Under nextest: the record of the check this trial reports. On a nextest retry
    /// (`NEXTEST_ATTEMPT` > 1) of a check this run owns, the check runs again unless another
    /// trial's retry already did: every attempt is kept.
    fn own_record(&self, check: &Check) -> Result<CheckRecord, Failed> {
        let owned = self
            .shard
            .as_ref()
            .is_none_or(|shard| shard.owns_check(&check.name()));
        if self.attempt <= 1 || !owned {
            return self.nextest_record(check);
        }
        self.claims()
            .rerun(check, self.attempt, &|check, dependencies, earlier| {
                self.run_claimed(check, dependencies, earlier)
            })
            .map_err(|err| Failed::from(self.coordination_error(err)))
    }

    /// Under nextest: the records of every check the packet depends on.
    fn nextest_dependencies(&self, packet_id: &str) -> Result<Vec<CheckRecord>, Failed> {
        self.claims()
            .dependency_records(packet_id, &|check, dependencies, earlier| {
                self.run_claimed(check, dependencies, earlier)
            })
            .map_err(|err| Failed::from(self.coordination_error(err)))
    }

    fn run_claimed(
        &self,
        check: &Check,
        dependencies: &[CheckRecord],
        earlier: Vec<CheckRecord>,
    ) -> CheckRecord {
        let blocked_by = self.blocked_by(&check.packet, dependencies);
        let mut record = self.run_unless_blocked(check, &blocked_by, Vec::new(), earlier);
        if let Some(shard) = &self.shard {
            record.shard = Some(shard.partition.to_string());
            if !shard.owns_check(&check.name()) {
                record.notes.push(format!(
                    "dependency run: this shard ({}) needed its outcome; another shard owns the check",
                    shard.partition
                ));
            }
        }
        record
    }

    fn claims(&self) -> nextest::Claims<'_> {
        nextest::Claims {
            gate: &self.gate,
            out_dir: &self.out_dir,
            run_id: &self.run_id,
            max_attempt: super::shard::nextest_total_attempts(),
        }
    }

    fn coordination_error(&self, err: std::io::Error) -> String {
        format!(
            "cannot share evidence with the other processes of nextest run {} in {}: {err}",
            self.run_id,
            fragment::run_dir(&self.out_dir, &self.run_id).display()
        )
    }

    /// The dependencies of `packet_id` that block it, given the records so far.
    fn blocked_by(&self, packet_id: &str, records: &[CheckRecord]) -> Vec<String> {
        verdict::decide(&self.gate, records, self.today, Stage::Running)
            .packet(packet_id)
            .map(|record| record.blocked_by.clone())
            .unwrap_or_default()
    }

    /// One case of a probe: judged from the probe check's record, which holds every case.
    fn case_trial(
        &self,
        packet_id: &str,
        check_id: &str,
        case: &str,
    ) -> Result<Completion, Failed> {
        let packet = self.packet(packet_id);
        let check = packet.check(check_id).expect("trial check exists");
        let parent = check.name();
        let record = if self.mode == Mode::Nextest {
            Some(self.own_record(check)?)
        } else {
            if !self.board.in_run(&parent) {
                return Err(Failed::from(format!(
                    "the probe {parent} is not part of this run: select it too (filter `{parent}`)"
                )));
            }
            self.board
                .wait_for(std::slice::from_ref(&parent))
                .into_iter()
                .find(|record| record.name == parent)
        };
        let Some(record) = record else {
            return Err(Failed::from(format!("no evidence of {parent}")));
        };
        if record.outcome == Outcome::Skipped {
            return Ok(Completion::ignored_with(record.message));
        }
        let triage = verdict::triage_check(check, Some(&record), &self.gate.accepts, self.today);
        let failure = match record.cases.iter().find(|c| c.name == case) {
            Some(found) if found.outcome == CaseOutcome::Pass => return Ok(Completion::Completed),
            Some(found) => {
                let mut text = found.message.clone();
                if !found.sent.is_empty() {
                    text.push_str(&format!("\nsent:\n{}", indent(&found.sent)));
                }
                if !found.got.is_empty() {
                    text.push_str(&format!("\ngot:\n{}", indent(&found.got)));
                }
                text
            }
            None => format!("the probe did not run: {}", record.message),
        };
        match triage {
            Triage::Blocking => Err(Failed::from(failure)),
            _ => Ok(Completion::Completed),
        }
    }

    fn checklist_trial(&self, packet_id: &str, slug: &str) -> Result<Completion, Failed> {
        let packet = self.packet(packet_id);
        let item = packet
            .checklist
            .iter()
            .find(|item| item.slug == slug)
            .expect("trial item exists");
        // An item of a BLOCKED packet is skipped like its checks, attested or not.
        let blocked_by = if self.mode == Mode::Nextest {
            let dependencies = self.nextest_dependencies(packet_id)?;
            self.blocked_by(packet_id, &dependencies)
        } else {
            self.wait_for_dependencies(packet_id).0
        };
        if !blocked_by.is_empty() {
            return Ok(Completion::ignored_with(format!(
                "blocked by {}",
                blocked_by.join(", ")
            )));
        }
        let records = match (&item.satisfied_by, self.mode) {
            (Satisfaction::Checks(ids), Mode::Nextest) => ids
                .iter()
                .filter_map(|id| packet.check(id))
                .map(|check| self.nextest_record(check))
                .collect::<Result<Vec<_>, Failed>>()?,
            (Satisfaction::Checks(ids), _) => {
                let names: Vec<String> =
                    ids.iter().map(|id| format!("{packet_id}::{id}")).collect();
                self.board.wait_for(&names)
            }
            (Satisfaction::Attested { .. }, _) => Vec::new(),
        };
        let triage: BTreeMap<String, Triage> = packet
            .checks
            .iter()
            .map(|check| {
                let name = check.name();
                let record = records.iter().find(|record| record.name == name);
                let state = verdict::triage_check(check, record, &self.gate.accepts, self.today);
                (name, state)
            })
            .collect();
        match verdict::checklist_holds(packet, item, &triage, self.today) {
            (true, _) => Ok(Completion::Completed),
            (false, why) => Err(Failed::from(format!(
                "checklist item not satisfied: {}\n  {why}",
                item.text
            ))),
        }
    }

    fn packet(&self, id: &str) -> &crate::spec::Packet {
        self.board
            .packet(&self.gate, id)
            .expect("trial packet exists")
    }

    /// Waits until every trial of every ancestor packet that is part of this run has published,
    /// then returns the dependencies that block this packet and the ancestors not in the run.
    fn wait_for_dependencies(&self, packet_id: &str) -> (Vec<String>, Vec<String>) {
        let resolution = self.board.dependencies(&self.gate, packet_id, self.today);
        (resolution.blocked_by.clone(), resolution.not_in_run.clone())
    }

    fn progress(&self, show: impl FnOnce(&Progress)) {
        if let Some(progress) = self.progress.get() {
            show(progress);
        }
    }

    fn publish(&self, record: CheckRecord) {
        self.progress(|progress| progress.finished(&record.name, record.outcome, &record.message));
        if let Err(err) = fragment::write_record(&self.out_dir, &self.run_id, &record) {
            eprintln!(
                "warning: cannot write evidence fragment for {}: {err}",
                record.name
            );
        }
        self.board.publish(record);
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The failure text libtest prints: the reason, then the output tail and where the log is.
fn failure_text(out_dir: &Path, record: &CheckRecord) -> String {
    let mut text = record.message.clone();
    for note in &record.notes {
        text.push_str(&format!("\nnote: {note}"));
    }
    for finding in &record.findings {
        text.push_str(&format!("\n{}", finding_line(finding)));
    }
    if let Some(report) = &record.report {
        text.push_str(&format!("\nreport: {}", out_dir.join(report).display()));
    }
    if let (Some(log), Some(sha256)) = (&record.log, &record.sha256) {
        // The one tail reader the reports use: only inside the out directory.
        let tail = report::text::read_log_tail(out_dir, log, tail::TAIL_BYTES)
            .map(|tail| tail::tail_text(&tail.bytes, 20))
            .unwrap_or_else(|err| format!("(log unavailable: {err})"));
        text.push_str(&format!(
            "\n--- last lines of {} ({} bytes, sha256 {sha256}) ---\n{}",
            out_dir.join(log).display(),
            record.bytes,
            tail.trim_end()
        ));
    } else if record.no_output() {
        text.push_str("\n--- no output ---");
    }
    text
}

/// Refuses to run a gate that an ancestor process is already running. Returns the exit code
/// when refusing.
fn refuse_recursion(gate_path: &Path) -> Option<i32> {
    let active = std::env::var(ENV_ACTIVE_GATES).ok()?;
    let me = gate_path.display().to_string();
    if !active.lines().any(|line| line == me) {
        return None;
    }
    let message = format!(
        "refusing to run the gate {me} from inside one of its own checks (it is already running; {ENV_ACTIVE_GATES} lists it): exclude gate-tests from the command (`cargo test --workspace --exclude gate-tests`) or run another gate file"
    );
    crate::output::redaction::print_error(&message);
    if let Ok(marker) = std::env::var(ENV_RECURSION_MARKER) {
        let _ = crate::output::atomic::write(Path::new(&marker), message.as_bytes());
    }
    Some(exit_codes::INVALID)
}
