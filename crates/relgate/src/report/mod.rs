//! Finishing a run: evidence records → verdict → ledger and reports, and the terminal summary.
//!
//! [`finish`] is used both at the end of an in-process run and by `cargo xtask gate report`,
//! which rebuilds everything from the fragments of the last run (after `cargo nextest run`).

pub mod ci;
pub mod html;
pub mod junit;
pub mod sarif;
pub mod tracker;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::evidence::{
    CaseKind, CheckRecord, Decision, Ledger, Outcome, PacketStatus, Record, RunHeader,
    ServiceRecord,
};
use crate::redaction::redacted;
use crate::spec::{Gate, Severity};
use crate::verdict::{self, Stage, Verdict};
use crate::{clock, exit_codes, fragment};

/// What a finished run produced.
#[derive(Debug)]
pub struct Finished {
    /// The ledger as written.
    pub ledger: Ledger,
    /// The verdict.
    pub verdict: Verdict,
    /// report.sarif as written (CI annotations are made from its results).
    pub sarif: serde_json::Value,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Orders records as the gate file does, adds checklist records, decides, and writes the
/// ledger and JUnit atomically.
pub fn finish(
    gate: &Gate,
    header: RunHeader,
    services: Vec<ServiceRecord>,
    records: Vec<CheckRecord>,
    out_dir: &Path,
    today: NaiveDate,
) -> std::io::Result<Finished> {
    // Reports show the gate's own text redacted (ids are never changed by redaction).
    let gate = &crate::redaction::redacted_gate(gate);
    let mut by_name: BTreeMap<String, CheckRecord> = records
        .into_iter()
        .filter(|record| record.case_kind != CaseKind::Checklist)
        .map(|record| (record.name.clone(), record))
        .collect();
    let mut checks: Vec<CheckRecord> = Vec::new();
    for check in gate.checks() {
        if let Some(record) = by_name.remove(&check.name()) {
            checks.push(record);
        }
    }
    let verdict = verdict::decide(gate, &checks, today, Stage::Final);
    let now = clock::format_timestamp(clock::now());
    let mut all_records = checks.clone();
    all_records.extend(checklist_records(gate, &verdict, &now));

    // Every record redacted before it is chained or rendered: messages and notes may quote
    // output and the gate file's own text.
    let header = redacted(&header);
    let services: Vec<ServiceRecord> = services.iter().map(redacted).collect();
    let all_records: Vec<CheckRecord> = all_records.iter().map(redacted).collect();
    let verdict = redacted_verdict(verdict);

    let mut ledger = Ledger::default();
    ledger.records.push(Record::Header(header.clone()));
    ledger
        .records
        .extend(services.into_iter().map(Record::Service));
    ledger
        .records
        .extend(all_records.iter().cloned().map(Record::Check));
    ledger
        .records
        .extend(verdict.packets.iter().cloned().map(Record::Packet));
    ledger.records.push(Record::Verdict(verdict.record.clone()));

    std::fs::create_dir_all(out_dir)?;
    // Every report is a pure function of the gate and the ledger (plus, for the HTML page, the
    // redacted logs already in the out directory), written atomically.
    let mut files = vec![junit::write(
        gate,
        &header,
        &all_records,
        &verdict,
        out_dir,
    )?];
    files.push(crate::tracker::write(gate, &ledger, out_dir)?);
    let (sarif_path, sarif) = crate::sarif_report::write(gate, &ledger, out_dir)?;
    files.push(sarif_path);
    files.push(crate::html::write(gate, &ledger, out_dir)?);
    // The ledger goes after the reports: its presence means the run completed and every report
    // is there. The attestation then digests all of them, the ledger and every log.
    let (ledger_path, head) = ledger.write_with_head(out_dir)?;
    files.push(ledger_path);
    // …and, with a signing key, its DSSE envelope.
    let attestation = crate::attestation::write_with_head(gate, &ledger, &head, &files, out_dir)?;
    files.extend(attestation);
    Ok(Finished {
        ledger,
        verdict,
        sarif,
        files,
    })
}

/// One record per checklist item, as the verdict judged it (`now` is their timestamp): pure, so
/// that `verify` recomputes them.
pub fn checklist_records(gate: &Gate, verdict: &Verdict, now: &str) -> Vec<CheckRecord> {
    let mut records = Vec::new();
    for packet in &gate.packets {
        let blocked = verdict
            .packet(&packet.id)
            .is_some_and(|record| record.status == PacketStatus::Blocked);
        for item in &packet.checklist {
            let name = packet.checklist_name(item);
            let (holds, why) = verdict.checklist.get(&name).cloned().unwrap_or_default();
            let (outcome, message) = if blocked {
                let deps = verdict
                    .packet(&packet.id)
                    .map(|record| record.blocked_by.join(", "))
                    .unwrap_or_default();
                (Outcome::Skipped, format!("blocked by {deps}"))
            } else if holds {
                (Outcome::Pass, why)
            } else {
                (Outcome::Fail, why)
            };
            records.push(CheckRecord {
                packet: packet.id.clone(),
                check: format!("checklist::{}", item.slug),
                name,
                case_kind: CaseKind::Checklist,
                argv: Vec::new(),
                cwd: String::new(),
                started: now.to_string(),
                ended: now.to_string(),
                duration_ms: 0,
                exit_code: None,
                signal: None,
                timed_out: false,
                log: None,
                bytes: 0,
                sha256: None,
                outcome,
                severity: Severity::P0,
                message,
                notes: vec![item.text.clone()],
                cases: Vec::new(),
                findings: Vec::new(),
                report: None,
                report_sha256: None,
                leaked: Vec::new(),
            });
        }
    }
    records
}

/// The verdict as the ledger records it: its record and packet records redacted (reasons may
/// quote a check's message). `verify` recomputes through this too.
pub fn redacted_verdict(mut verdict: Verdict) -> Verdict {
    verdict.record = redacted(&verdict.record);
    verdict.packets = verdict.packets.iter().map(redacted).collect();
    verdict
}

/// Why `gate report` rebuilt nothing.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// No fragments, unreadable ones, or fragments of another gate file (exit 2).
    #[error("{0}")]
    Unusable(String),
    /// A record of the evidence journal, its links or a log it names was altered (exit 1: no verdict).
    #[error(transparent)]
    Tampered(fragment::FragmentError),
}

impl RebuildError {
    /// The exit code of `gate report` for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            RebuildError::Unusable(_) => exit_codes::INVALID,
            RebuildError::Tampered(_) => exit_codes::NO_GO,
        }
    }
}

/// Rebuilds the verdict and reports from the last run's fragments (`gate report`), after
/// checking the journal's links and digests and re-hashing every log they name. The caller
/// holds the out directory ([`crate::outdir::acquire`]), which removed the previous verdict.
pub fn rebuild(gate: &Gate, out_dir: &Path, today: NaiveDate) -> Result<Finished, RebuildError> {
    let fragments_dir = out_dir.join(fragment::FRAGMENTS_DIR);
    let run_id = fragment::latest_run(out_dir)
        .map_err(|err| RebuildError::Unusable(format!("cannot read {}: {err}", fragments_dir.display())))?
        .ok_or_else(|| {
            RebuildError::Unusable(format!(
                "no evidence fragments in {}: run `cargo nextest run -p gate-tests` or `cargo xtask gate` first",
                fragments_dir.display()
            ))
        })?;
    let fragments = fragment::read_run(out_dir, &run_id).map_err(|err| match err {
        fragment::FragmentError::Io(message) => RebuildError::Unusable(message),
        tampered => RebuildError::Tampered(tampered),
    })?;
    let header = fragments.header;
    if header.gate_sha256 != gate.sha256 {
        return Err(RebuildError::Unusable(format!(
            "the fragments of run {run_id} were made from a different gate file (sha256 {}), not {} (sha256 {}): rerun the checks",
            header.gate_sha256,
            gate.source.display(),
            gate.sha256
        )));
    }
    finish(
        gate,
        header,
        fragments.services,
        fragments.records,
        out_dir,
        today,
    )
    .map_err(|err| RebuildError::Unusable(err.to_string()))
}

/// The process exit code for a decision.
pub fn exit_code(decision: Decision, deny_conditions: bool) -> i32 {
    match decision {
        Decision::Go => exit_codes::OK,
        Decision::GoWithConditions if deny_conditions => exit_codes::NO_GO,
        Decision::GoWithConditions => exit_codes::OK,
        Decision::NoGo => exit_codes::NO_GO,
    }
}

/// Prints the per-packet summary table and the verdict (then the CI annotations), redacted.
pub fn print_summary(
    out: &mut dyn Write,
    gate: &Gate,
    finished: &Finished,
    out_dir: &Path,
) -> std::io::Result<()> {
    let mut out = crate::redaction::Writer::new(out);
    let gate = &crate::redaction::redacted_gate(gate);
    write_summary(&mut out, gate, finished, out_dir)?;
    out.finish()
}

fn write_summary(
    out: &mut dyn Write,
    gate: &Gate,
    finished: &Finished,
    out_dir: &Path,
) -> std::io::Result<()> {
    let verdict = &finished.verdict;
    let records: Vec<&CheckRecord> = finished.ledger.checks().collect();
    writeln!(out)?;
    writeln!(out, "{}", gate.name)?;
    let mut rows: Vec<[String; 9]> = vec![[
        "packet", "status", "pass", "fail", "skip", "todo", "P0", "P1", "P2",
    ]
    .map(String::from)];
    for packet in &gate.packets {
        let Some(record) = verdict.packet(&packet.id) else {
            continue;
        };
        let mine = || records.iter().filter(|r| r.packet == packet.id);
        let count = |outcome: Outcome| mine().filter(|r| r.outcome == outcome).count();
        let expected = packet.checks.len() + packet.checklist.len();
        let todo = expected.saturating_sub(mine().count());
        let gate_label = |severity: Severity| {
            record
                .gates
                .get(&severity)
                .map_or("-", |result| result.label())
                .to_string()
        };
        rows.push([
            packet.id.clone(),
            record.status.label().to_string(),
            count(Outcome::Pass).to_string(),
            (count(Outcome::Fail) + count(Outcome::Error)).to_string(),
            count(Outcome::Skipped).to_string(),
            todo.to_string(),
            gate_label(Severity::P0),
            gate_label(Severity::P1),
            gate_label(Severity::P2),
        ]);
    }
    let mut widths = [0usize; 9];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    for row in &rows {
        let mut line = String::new();
        for (column, (cell, width)) in row.iter().zip(widths).enumerate() {
            match column {
                // Counts are right-aligned; everything else left-aligned.
                2..=5 => line.push_str(&format!("{cell:>width$}  ")),
                _ => line.push_str(&format!("{cell:<width$}  ")),
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    let record = &verdict.record;
    writeln!(out)?;
    for reason in &record.reasons {
        writeln!(out, "  - {reason}")?;
    }
    for risk in &record.residual_risks {
        writeln!(
            out,
            "  residual risk: {} ({}, {}) owner {} until {}: {}",
            risk.check,
            risk.severity.as_str(),
            risk.state,
            risk.owner.as_deref().unwrap_or("unassigned"),
            risk.until.as_deref().unwrap_or("-"),
            risk.reason
        )?;
    }
    for note in &record.expired_acceptances {
        writeln!(
            out,
            "  warning: acceptance of {} (line {}) expired on {} and was ignored",
            note.target, note.line, note.until
        )?;
    }
    for note in &record.unused_acceptances {
        writeln!(
            out,
            "  warning: acceptance of {} (line {}) matched no failure: remove it or fix its target",
            note.target, note.line
        )?;
    }
    writeln!(out)?;
    writeln!(out, "verdict: {}", record.decision.label())?;
    writeln!(out, "evidence: {}", out_dir.display())?;
    crate::ci::announce(
        gate,
        &finished.ledger,
        &finished.sarif,
        &|key| std::env::var(key).ok(),
        out,
    )
}
