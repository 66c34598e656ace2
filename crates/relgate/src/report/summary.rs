//! The terminal summary of a finished run: the per-packet table, reasons, residual risks and
//! acceptance warnings, the verdict, then the CI annotations ([`super::ci::announce`]).

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use super::view::{residual_risk_line, ReportView, RiskWording};
use super::Finished;
use crate::evidence::{CheckRecord, Outcome};
use crate::output::one_line;
use crate::spec::{Gate, Severity};

/// Prints the per-packet summary table and the verdict (then the CI annotations), redacted.
pub fn print_summary(
    out: &mut dyn Write,
    gate: &Gate,
    finished: &Finished,
    out_dir: &Path,
) -> std::io::Result<()> {
    let mut out = crate::output::redaction::Writer::new(out);
    let gate = &crate::spec::redacted_gate(gate);
    let view =
        ReportView::new(gate, &finished.ledger, out_dir).with_triage(&finished.verdict.triage);
    write_summary(&mut out, &view, &finished.sarif)?;
    out.finish()
}

fn write_summary(out: &mut dyn Write, view: &ReportView<'_>, sarif: &Value) -> std::io::Result<()> {
    let gate = view.gate;
    let records: Vec<&CheckRecord> = view.ledger.checks().collect();
    writeln!(out)?;
    writeln!(out, "{}", gate.name)?;
    let mut rows: Vec<[String; 10]> = vec![[
        "packet", "status", "pass", "flaky", "fail", "skip", "todo", "P0", "P1", "P2",
    ]
    .map(String::from)];
    for packet in &gate.packets {
        let Some(record) = view.packet_record(&packet.id) else {
            continue;
        };
        let mine = || records.iter().filter(|r| r.packet == packet.id);
        let count = |outcome: Outcome| mine().filter(|r| r.outcome == outcome).count();
        // A flaky check passed only after failing: counted apart, never as a clean pass.
        let flaky = mine().filter(|r| r.is_flaky()).count();
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
            (count(Outcome::Pass) - flaky).to_string(),
            flaky.to_string(),
            (count(Outcome::Fail) + count(Outcome::Error)).to_string(),
            count(Outcome::Skipped).to_string(),
            todo.to_string(),
            gate_label(Severity::P0),
            gate_label(Severity::P1),
            gate_label(Severity::P2),
        ]);
    }
    let mut widths = [0usize; 10];
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
                2..=6 => line.push_str(&format!("{cell:>width$}  ")),
                _ => line.push_str(&format!("{cell:<width$}  ")),
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(out)?;
    let Some(record) = view.verdict() else {
        writeln!(out, "verdict: none (the ledger has no verdict record)")?;
        return writeln!(out, "evidence: {}", view.out_dir.display());
    };
    // Reasons quote records' messages, which a shard (or a probe's target) may have written:
    // one line each, so none can pose as a line of its own (a CI workflow command).
    for reason in &record.reasons {
        writeln!(out, "  - {}", one_line(reason))?;
    }
    for risk in &record.residual_risks {
        let line = residual_risk_line(risk, RiskWording::Summary);
        writeln!(out, "  {}", one_line(&line))?;
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
    writeln!(out, "evidence: {}", view.out_dir.display())?;
    super::ci::announce(view, sarif, &|key| std::env::var(key).ok(), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_messages_stay_on_one_line() {
        let forged = "exit 1\n::error title=x::forged\r\u{1b}[2Kclear";
        let line = one_line(forged);
        assert!(!line.contains(['\n', '\r', '\u{1b}']), "{line}");
        assert!(line.starts_with("exit 1\\n::error"), "{line}");
        assert_eq!(one_line("plain ünïcode"), "plain ünïcode");
    }
    use crate::evidence::{CaseKind, RunHeader};
    use crate::verdict::{decide, Stage};

    const GATE: &str = r#"
[gate]
name = "summary"
[[packet]]
id = "SEC-00"
title = "Checks"
[[packet.check]]
id = "steady"
run = "true"
[[packet.check]]
id = "flaky"
run = "true"
severity = "P1"
"#;

    fn header() -> RunHeader {
        RunHeader {
            gate: "summary".into(),
            gate_file: "packets.toml".into(),
            gate_path: None,
            gate_sha256: "ab".repeat(32),
            git_head: None,
            git_dirty: None,
            code: None,
            relgate_version: "0.1.0".into(),
            started: "2026-01-01T10:00:00.000Z".into(),
            host: "ci".into(),
            run_id: "run-1".into(),
            mode: "xtask".into(),
            shard: None,
            merged: Vec::new(),
            journal_head: None,
        }
    }

    #[test]
    fn flaky_checks_are_counted_apart_from_clean_passes() {
        let gate = crate::spec::parse(Path::new("packets.toml"), GATE).unwrap();
        let record = |check: &str, outcome: Outcome, message: &str| {
            let severity = if check == "flaky" {
                Severity::P1
            } else {
                Severity::P0
            };
            CheckRecord::new(
                "SEC-00",
                check,
                CaseKind::Command,
                severity,
                outcome,
                message.into(),
            )
        };
        let checks = vec![
            record("steady", Outcome::Pass, "exit 0"),
            record("flaky", Outcome::Pass, "exit 0").after_attempts(vec![record(
                "flaky",
                Outcome::Fail,
                "exit 1",
            )]),
        ];
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let verdict = decide(&gate, &checks, today, Stage::Final);
        let ledger = super::super::run_ledger(header(), Vec::new(), Vec::new(), checks, &verdict);
        let view = ReportView::new(&gate, &ledger, Path::new("/out"));
        let mut out = Vec::new();
        write_summary(&mut out, &view, &serde_json::json!({})).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|line| line.split_whitespace().collect())
            .collect();
        let header = lines.iter().position(|row| row.first() == Some(&"packet"));
        let header = &lines[header.expect(&text)];
        assert_eq!(
            header[..5],
            ["packet", "status", "pass", "flaky", "fail"],
            "{text}"
        );
        let row = lines.iter().find(|row| row.first() == Some(&"SEC-00"));
        assert_eq!(row.expect(&text)[2..5], ["1", "1", "0"], "{text}");
        assert!(
            text.contains("residual risk: SEC-00::flaky (P1, flaky)"),
            "{text}"
        );
        assert!(text.contains("verdict: GO_WITH_CONDITIONS"), "{text}");
    }
}
