//! One check into its record: the setup step's tools, then one module per kind of check —
//! [`command`], [`grep`], [`probe`], [`scan`] — each a function of the check, its spec and the
//! run's [`Ctx`] that returns a [`CheckRecord`] ([`skeleton`] for one that did not run).

use std::path::Path;

use crate::evidence::{CaseKind, CheckRecord, Outcome};
use crate::run::service::Services;
use crate::run::setup::{self, Setup};
use crate::spec::{Check, CheckKind};

pub mod command;
pub mod grep;
pub mod probe;
pub mod scan;

/// What a check needs from the run it is part of.
pub(crate) struct Ctx<'a> {
    /// The services checks ask for, started on first use.
    pub(crate) services: &'a Services,
    /// The setup step: the tools checks declare.
    pub(crate) setup: &'a Setup,
    /// The out directory: logs and scanner reports go there.
    pub(crate) out_dir: &'a Path,
    /// The gates running around this one (a check that runs one of them again is refused).
    pub(crate) active_gates: &'a str,
}

/// Runs `check` into its record, again after a failed (FAIL or ERROR) attempt up to
/// `check.retries` more times, each attempt under the check's timeout. `earlier` are attempts
/// that already happened before this call (nextest's retries; empty in-process): numbering
/// continues after them. The record returned is the last attempt, with every earlier one in
/// [`CheckRecord::attempts`] and a note saying how many ran; each attempt keeps its own log
/// ([`CheckRecord::attempt_log_path`]) and stored report.
pub(crate) fn execute(
    check: &Check,
    notes: Vec<String>,
    mut earlier: Vec<CheckRecord>,
    ctx: &Ctx<'_>,
) -> CheckRecord {
    let mut attempt: usize = earlier
        .iter()
        .map(CheckRecord::attempt_count)
        .sum::<usize>()
        + 1;
    let mut record = attempt_once(check, notes.clone(), attempt, ctx);
    let mut retried = 0;
    while record.outcome.is_failure() && retried < check.retries {
        earlier.push(record);
        attempt += 1;
        retried += 1;
        record = attempt_once(check, notes.clone(), attempt, ctx);
    }
    let mut record = record.after_attempts(earlier);
    if record.attempt_count() > 1 {
        let outcomes: Vec<&str> = record
            .numbered_attempts()
            .map(|(_, attempt)| attempt.outcome.label())
            .collect();
        let note = format!(
            "{} attempts ran (retries = {}): {}",
            record.attempt_count(),
            check.retries,
            outcomes.join(", ")
        );
        record.notes.push(note);
    }
    record
}

/// One attempt (numbered from 1): its tools first (a missing one is an ERROR naming it), then
/// the check itself by its kind, its log at the attempt's own path.
fn attempt_once(
    check: &Check,
    mut notes: Vec<String>,
    attempt: usize,
    ctx: &Ctx<'_>,
) -> CheckRecord {
    let tools = ctx.setup.ensure(&check.tools, &setup::announce);
    if let Some(why) = setup::missing(&tools) {
        let mut record = skeleton(check, &why, Outcome::Error);
        record.notes = notes;
        return record;
    }
    notes.extend(setup::notes(&tools));
    let log_relative = CheckRecord::attempt_log_path(&check.packet, &check.id, attempt);
    let log_path = ctx.out_dir.join(&log_relative);
    let mut record = match &check.kind {
        CheckKind::Command(command) => {
            let (mut record, containment) = command::run_command(check, command, &log_path, ctx);
            record.fail_containment(containment);
            record
        }
        CheckKind::Grep(spec) => grep::run_check(check, spec, &log_path),
        CheckKind::Probe(probe) => probe::run_check(check, probe, &log_path, ctx),
        CheckKind::Scan(scan) => scan::run_check(check, scan, &log_path, attempt, ctx),
    };
    // A check that printed nothing has no log file: the record says so (`no_output`).
    if record.sha256.is_some() && record.bytes > 0 {
        record.log = Some(log_relative);
    }
    record.notes.splice(0..0, notes);
    record
}

/// A record for a check that did not run (or whose runner failed before it could say more).
pub(crate) fn skeleton(check: &Check, message: &str, outcome: Outcome) -> CheckRecord {
    let (case_kind, argv, cwd) = match &check.kind {
        CheckKind::Command(command) => (
            CaseKind::Command,
            command.argv.clone(),
            command.cwd.display().to_string(),
        ),
        CheckKind::Grep(spec) => (CaseKind::Grep, Vec::new(), spec.root.display().to_string()),
        CheckKind::Probe(probe) => (
            CaseKind::Probe,
            Vec::new(),
            probe.root.display().to_string(),
        ),
        CheckKind::Scan(scan) => (
            CaseKind::Scan,
            scan.command.argv.clone(),
            scan.command.cwd.display().to_string(),
        ),
    };
    CheckRecord {
        name: check.name(),
        argv,
        cwd,
        ..CheckRecord::new(
            &check.packet,
            &check.id,
            case_kind,
            check.severity,
            outcome,
            message.to_string(),
        )
    }
}
