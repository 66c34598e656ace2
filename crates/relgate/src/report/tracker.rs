//! The tracker `tracker.md`: the seeds' hand-kept progress tracker, rebuilt from evidence.
//!
//! The shape is the seed's (packet board, one checklist section per packet with its required
//! commands, review gates and review record, then the final verdict), plus a mermaid graph of
//! the packets. Titles, checklist texts, dependencies, people and commands as written come from
//! the gate; every fact (outcomes, exit codes, durations, digests, statuses, gates, verdict,
//! risks, findings, acceptances, the git commit) comes from the ledger. Nothing is ticked that
//! the ledger does not show as passed, and a record the gate does not list is still shown.

use std::path::{Path, PathBuf};

use super::markdown::{cell, code, fence_for, inline};
use super::view::{
    command_line, commit_with, duration, residual_risk_line, PacketView, ReportView, RiskWording,
};
use crate::evidence::{
    AcceptanceNote, CaseOutcome, CheckRecord, FindingNote, GateResult, Ledger, Outcome,
    PacketStatus, ResidualRisk, RunHeader, LEDGER_FILE,
};
use crate::spec::{Check, CheckKind, Gate, GrepExpect, Satisfaction, Severity};

/// File name inside the out directory.
pub const TRACKER_FILE: &str = "tracker.md";

/// Renders tracker.md from the gate and the ledger alone ([`render_view`] of their view).
pub fn render(gate: &Gate, ledger: &Ledger) -> String {
    render_view(&ReportView::new(gate, ledger, Path::new("")))
}

/// Renders tracker.md from the view: the gate's titles, checklist texts, dependencies,
/// implementer/reviewer and commands as written, and the ledger's facts (outcomes, exit codes,
/// durations, digests, packet status, review gates, verdict, residual risks, findings,
/// acceptances, git commit). Pure: no clock, no files.
pub fn render_view(view: &ReportView<'_>) -> String {
    let (gate, ledger, sections) = (view.gate, view.ledger, &view.packets);
    let mut out = String::new();
    title(&mut out, gate, ledger);
    rules(&mut out);
    board(&mut out, sections, true);
    graph(&mut out, sections);
    out.push_str("---\n");
    for section in sections {
        packet_section(&mut out, section, ledger);
    }
    unlisted(&mut out, &view.unclaimed);
    final_verdict(&mut out, ledger);
    out
}

/// [`summary_view`] of the gate and the ledger alone.
pub fn summary(gate: &Gate, ledger: &Ledger) -> String {
    summary_view(&ReportView::new(gate, ledger, Path::new("")))
}

/// The tracker's summary: title and status, the packet board and the final verdict (for a CI
/// job summary such as `$GITHUB_STEP_SUMMARY`). Pure, like [`render_view`].
pub fn summary_view(view: &ReportView<'_>) -> String {
    let mut out = String::new();
    title(&mut out, view.gate, view.ledger);
    // The summary has no packet sections: its board names them in tracker.md instead of
    // linking to anchors it does not contain.
    board(&mut out, &view.packets, false);
    final_verdict(&mut out, view.ledger);
    out
}

/// Renders and writes `out_dir/tracker.md` redacted and atomically
/// ([`crate::output::redaction::write_report`]); returns its path.
pub fn write_view(view: &ReportView<'_>) -> std::io::Result<PathBuf> {
    let path = view.out_dir.join(TRACKER_FILE);
    crate::output::redaction::write_report(&path, render_view(view).as_bytes())?;
    Ok(path)
}

impl PacketView<'_> {
    /// The packet's review state: what signed reviews say (with `[review]`), `—` when nobody
    /// reviewed it (the seeds' notation; relgate never types an approval for a passing packet).
    fn review_state(&self) -> &str {
        self.record
            .and_then(|record| record.review.as_ref())
            .map_or("—", |review| review.state.as_str())
    }

    /// The packet's verdict from its evidence: its status.
    fn verdict(&self) -> &'static str {
        self.status().map_or("PENDING", PacketStatus::label)
    }

    fn heading(&self) -> String {
        format!("{} Checklist: {}", self.packet.id, self.packet.title)
    }
}

fn title(out: &mut String, gate: &Gate, ledger: &Ledger) {
    out.push_str(&format!("# {}\n\n", heading_text(&gate.name)));
    if let Some(plan) = &gate.plan_link {
        out.push_str(&format!("Linked plan:\n- {}\n\n", code(plan)));
    }
    let status = match ledger.verdict() {
        Some(verdict) => verdict.decision.label().to_string(),
        None => "INCOMPLETE (the ledger has no verdict record)".to_string(),
    };
    let date = match ledger.header() {
        Some(header) => date_of(&header.started).to_string(),
        None => "unknown (the ledger has no header record)".to_string(),
    };
    out.push_str(&format!("Status: {status}\nDate: {date}\n\n"));
}

/// `Acme API — Release Security Gate Progress Tracker`, without repeating the words a gate
/// named `Release Security Gate` already has.
fn heading_text(name: &str) -> String {
    if name.to_lowercase().contains("release security gate") {
        format!("{} — Progress Tracker", inline(name))
    } else {
        format!("{} — Release Security Gate Progress Tracker", inline(name))
    }
}

fn rules(out: &mut String) {
    out.push_str(
        "## Rules

1. A packet is `DONE` only when every check passed (or its failure is accepted or tracked) and every checklist item holds; the boxes below are ticked by relgate from the evidence ledger, never by hand.
2. Exit codes below are recorded by relgate's runner, never typed.
3. A timed-out, killed or unstartable command is a failure in the evidence; every log is kept whole and named with its sha256 (`cargo xtask gate verify` re-hashes them).
4. A blocking failure sets the packet to `CHANGES_REQUESTED`; its findings are listed and its boxes stay open.
5. Every run records the git commit it ran on (in each review record below) in a hash-chained ledger.
6. Destructive git commands are refused when the gate file is loaded, unless a check says why (`allow_destructive`).

",
    );
}

/// The packet board; `linked`: the evidence column links to the packet's section below (the
/// tracker), or names it in tracker.md (the step summary, which has no sections).
fn board(out: &mut String, sections: &[PacketView<'_>], linked: bool) {
    out.push_str("## Packet Board\n\n");
    out.push_str(
        "| Packet | Title | Status | Implementer | Reviewer | Review State | Evidence Link |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|\n");
    for section in sections {
        let packet = section.packet;
        let status = match section.status() {
            Some(status) => status.label(),
            None => "PENDING (no packet record)",
        };
        let person = |who: &Option<String>| who.as_deref().map_or("—".to_string(), cell);
        let evidence = if linked {
            format!(
                "[{} section](#{})",
                cell(&packet.id),
                anchor(&section.heading())
            )
        } else {
            format!("{TRACKER_FILE}, {}", cell(&section.heading()))
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {evidence} |\n",
            cell(&packet.id),
            cell(&packet.title),
            status,
            person(&packet.implementer),
            person(&packet.reviewer),
            section.review_state(),
        ));
    }
    out.push('\n');
}

/// A mermaid flowchart of the packet DAG, one class per status; GitHub renders it.
fn graph(out: &mut String, sections: &[PacketView<'_>]) {
    out.push_str("```mermaid\nflowchart TD\n");
    // Node ids are positional so that any packet id is a valid mermaid id.
    let node = |id: &str| {
        sections
            .iter()
            .position(|section| section.packet.id == id)
            .map(|index| format!("p{index}"))
    };
    for (index, section) in sections.iter().enumerate() {
        let label = format!(
            "{}: {}<br/>{}",
            section.packet.id,
            section.packet.title,
            section.status().map_or("PENDING", PacketStatus::label)
        );
        out.push_str(&format!("    p{index}[\"{}\"]\n", mermaid_text(&label)));
    }
    for (index, section) in sections.iter().enumerate() {
        for dependency in &section.packet.depends_on {
            if let Some(from) = node(dependency) {
                out.push_str(&format!("    {from} --> p{index}\n"));
            }
        }
    }
    out.push_str("    classDef done fill:#2da44e,stroke:#1a7f37,color:#ffffff\n");
    out.push_str("    classDef changes_requested fill:#cf222e,stroke:#a40e26,color:#ffffff\n");
    out.push_str("    classDef blocked fill:#8c959f,stroke:#57606a,color:#ffffff\n");
    out.push_str("    classDef pending fill:#d4a72c,stroke:#9a6700,color:#000000\n");
    for (index, section) in sections.iter().enumerate() {
        let class = match section.status() {
            Some(PacketStatus::Done) => "done",
            Some(PacketStatus::ChangesRequested) => "changes_requested",
            Some(PacketStatus::Blocked) => "blocked",
            Some(PacketStatus::Pending) | None => "pending",
        };
        out.push_str(&format!("    class p{index} {class}\n"));
    }
    out.push_str("```\n\n");
}

/// `` `logs/x.log` (12 bytes, sha256 `ab…`) ``: a log and its digest as the ledger records them.
fn log_ref(log: &str, bytes: u64, sha256: Option<&str>) -> String {
    format!(
        "{} ({bytes} bytes, sha256 {})",
        code(log),
        code(sha256.unwrap_or("unknown"))
    )
}

/// Packet ids as inline code, comma-separated.
fn codes(ids: &[String]) -> String {
    ids.iter().map(|id| code(id)).collect::<Vec<_>>().join(", ")
}

fn packet_section(out: &mut String, section: &PacketView<'_>, ledger: &Ledger) {
    let packet = section.packet;
    out.push_str(&format!("\n## {}\n\n", inline(&section.heading())));
    if !packet.depends_on.is_empty() {
        out.push_str(&format!("Depends on: {}", codes(&packet.depends_on)));
        if let Some(record) = section
            .record
            .filter(|record| !record.blocked_by.is_empty())
        {
            out.push_str(&format!(" — blocked by {}", codes(&record.blocked_by)));
        }
        out.push_str("\n\n");
    }
    if packet.checklist.is_empty() {
        out.push_str("No checklist items.\n");
    }
    // A reviewer who requested changes keeps the packet's boxes open (the seeds' rule), whatever
    // the checks say; the items' own state stays beside them.
    let changes_requested = section.review_state() == "CHANGES_REQUESTED";
    if changes_requested && !packet.checklist.is_empty() {
        out.push_str(
            "The reviewer requested changes: the boxes stay open until a new review.

",
        );
    }
    for (item, record) in packet.checklist.iter().zip(&section.items) {
        let passed =
            !changes_requested && record.is_some_and(|record| record.outcome == Outcome::Pass);
        let by = match &item.satisfied_by {
            Satisfaction::Checks(ids) => format!(
                "by {}",
                ids.iter().map(|id| code(id)).collect::<Vec<_>>().join(", ")
            ),
            Satisfaction::Attested { by, on } => format!("attested by {} on {on}", inline(by)),
        };
        let state = match record {
            Some(record) if passed => format!("({by})"),
            Some(record) => format!(
                "({by}) — {}: {}",
                record.outcome.label(),
                inline(&record.message)
            ),
            None => format!("({by}) — no record in this run"),
        };
        out.push_str(&format!(
            "- [{}] {} {state}\n",
            tick(passed),
            inline(&item.text)
        ));
    }

    out.push_str("\n### Required Commands\n\n");
    if section.checks.is_empty() {
        out.push_str("No checks.\n");
    }
    for (check, record) in &section.checks {
        check_lines(out, check, *record);
    }

    let notes: &[FindingNote] = ledger
        .verdict()
        .map_or(&[], |verdict| verdict.findings.as_slice());
    let mut heading = false;
    for (check, _) in &section.checks {
        let name = check.name();
        let findings: Vec<&FindingNote> = notes.iter().filter(|note| note.check == name).collect();
        if findings.is_empty() {
            continue;
        }
        if !heading {
            out.push_str("\n### Findings\n");
            heading = true;
        }
        out.push_str(&format!("\n{}:\n\n", code(&name)));
        out.push_str("| Severity | Id | Location | Title | State | Acceptance |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for note in findings {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                note.severity.as_str(),
                cell(&note.id),
                note.location.as_deref().map_or("—".to_string(), cell),
                cell(&note.title),
                cell(&note.state),
                note.acceptance.as_deref().map_or("—".to_string(), cell),
            ));
        }
    }

    out.push_str("\n### Review Gates\n\n");
    match section.record {
        Some(record) => {
            for (severity, result) in &record.gates {
                let held = matches!(result, GateResult::Pass | GateResult::Conditional);
                out.push_str(&format!(
                    "- [{}] {} {}\n",
                    tick(held),
                    severity.as_str(),
                    result.label()
                ));
            }
            out.push_str(&format!("- [x] Verdict recorded: {}\n", section.verdict()));
            if let Some(review) = &record.review {
                let approved = review.state == "APPROVED";
                out.push_str(&format!(
                    "- [{}] Review: {}{}\n",
                    tick(approved),
                    review.state,
                    if review.required {
                        " (required for GO)"
                    } else {
                        ""
                    }
                ));
            }
            if !record.reasons.is_empty() {
                out.push_str(&format!(
                    "\n{} is {}:\n",
                    inline(&packet.id),
                    record.status.label()
                ));
                for reason in &record.reasons {
                    out.push_str(&format!("- {}\n", inline(reason)));
                }
            }
        }
        None => {
            for severity in [Severity::P0, Severity::P1, Severity::P2] {
                out.push_str(&format!("- [ ] {} (no packet record)\n", severity.as_str()));
            }
            out.push_str("- [ ] Verdict recorded\n");
        }
    }

    review_record(out, section, ledger);
}

/// The seed's fenced review record: commands and exit codes, gates, verdict, commit, risks.
fn review_record(out: &mut String, section: &PacketView<'_>, ledger: &Ledger) {
    let mut lines = vec!["Commands run + exit codes:".to_string()];
    if section.checks.is_empty() {
        lines.push("- None".to_string());
    }
    for (index, (check, record)) in section.checks.iter().enumerate() {
        lines.push(format!(
            "{}. {} -> {}",
            index + 1,
            check_title(check, *record),
            match record {
                Some(record) => result_text(check, record),
                None => "no record in this run".to_string(),
            }
        ));
    }
    lines.push(String::new());
    lines.push("Gate checklist:".to_string());
    match section.record {
        Some(record) => lines.extend(
            record
                .gates
                .iter()
                .map(|(severity, result)| format!("- {}: {}", severity.as_str(), result.label())),
        ),
        None => lines.push("- no packet record in this run".to_string()),
    }
    lines.push(String::new());
    lines.push(format!("Verdict: {}", section.verdict()));
    if let Some(review) = section.record.and_then(|record| record.review.as_ref()) {
        lines.push(String::new());
        lines.push(format!("Review State: {}", review.state));
        if let Some(signed) = &review.review {
            lines.push(format!(
                "- {} by {} at {} (SSH signature verified, key {})",
                signed.decision.label(),
                signed.reviewer,
                signed.time,
                signed.key
            ));
            lines.push(format!("- Checkpoint: {}", signed.commit));
            if !signed.note.is_empty() {
                lines.push(format!("- Note: {}", signed.note));
            }
            for finding in &signed.findings {
                lines.push(format!("- Finding: {finding}"));
            }
            lines.push(format!("- Rollback: revert {}", signed.commit));
        }
        lines.extend(review.notes.iter().map(|note| format!("- {note}")));
    }
    lines.push(String::new());
    lines.push("Commit:".to_string());
    lines.push(format!("- {}", commit(ledger.header())));
    lines.push(String::new());
    lines.push("Residual risk:".to_string());
    let prefix = format!("{}::", section.packet.id);
    let risks: Vec<&ResidualRisk> = ledger
        .verdict()
        .map(|verdict| {
            verdict
                .residual_risks
                .iter()
                .filter(|risk| risk.check.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    if risks.is_empty() {
        lines.push("- None".to_string());
    }
    for risk in risks {
        lines.push(format!(
            "- {}",
            residual_risk_line(risk, RiskWording::ReviewRecord)
        ));
    }
    let body = lines.join("\n");
    let fence = fence_for(&body);
    out.push_str(&format!(
        "\n### {} Review Record\n\n{fence}\n{body}\n{fence}\n",
        inline(&section.packet.id)
    ));
}

/// One `### Required Commands` line, with its nested details.
fn check_lines(out: &mut String, check: &Check, record: Option<&CheckRecord>) {
    let Some(record) = record else {
        out.push_str(&format!(
            "- [ ] {} -> no record in this run\n",
            check_title(check, None)
        ));
        return;
    };
    let passed = record.outcome == Outcome::Pass;
    let mut line = format!(
        "- [{}] {} -> {}",
        tick(passed),
        check_title(check, Some(record)),
        inline(&result_text(check, record))
    );
    if record.outcome != Outcome::Skipped {
        line.push_str(&format!(" ({})", duration(record.duration_ms)));
    }
    if !passed {
        line.push_str(&format!(
            " — {} ({})",
            record.outcome.label(),
            record.severity.as_str()
        ));
    }
    out.push_str(&line);
    out.push('\n');
    for case in record
        .cases
        .iter()
        .filter(|case| case.outcome != CaseOutcome::Pass)
    {
        let label = match case.outcome {
            CaseOutcome::Fail => "FAIL",
            _ => "INCONCLUSIVE",
        };
        out.push_str(&format!(
            "  - {label} {}: {}\n",
            code(&case.name),
            inline(&case.message)
        ));
    }
    for note in &record.notes {
        out.push_str(&format!("  - note: {}\n", inline(note)));
    }
    if let Some(log) = &record.log {
        out.push_str(&format!(
            "  - log: {}\n",
            log_ref(log, record.bytes, record.sha256.as_deref())
        ));
    } else if record.no_output() {
        out.push_str("  - log: no output\n");
    }
    if let Some(report) = &record.report {
        out.push_str(&format!(
            "  - report: {} (sha256 {})\n",
            code(report),
            code(record.report_sha256.as_deref().unwrap_or("unknown"))
        ));
    }
}

/// What the check is, as the seed writes it: the command, the grep rule or the probe.
fn check_title(check: &Check, record: Option<&CheckRecord>) -> String {
    let ran = record.filter(|record| !record.argv.is_empty());
    match &check.kind {
        CheckKind::Command(command) => {
            code(&ran.map_or_else(|| command.display.clone(), |r| command_line(&r.argv)))
        }
        CheckKind::Scan(scan) => format!(
            "scan {} {}",
            code(scan.format.name()),
            code(&ran.map_or_else(|| scan.command.display.clone(), |r| command_line(&r.argv)))
        ),
        CheckKind::Grep(grep) => {
            let expect = match grep.expect {
                GrepExpect::Match => "",
                GrepExpect::NoMatch => " (expect no match)",
            };
            format!(
                "{}{expect}",
                code(&format!(
                    "grep /{}/ {}",
                    grep.pattern.as_str(),
                    grep.files.join(" ")
                ))
            )
        }
        CheckKind::Probe(probe) => format!("probe {} {}", code(&probe.kind), code(&check.id)),
    }
}

/// How the check came out, from its record: `exit 0`, `timed out after 2s`, `3 matching lines
/// in 1 of 2 files`, `5 of 7 cases refused or held`, the scan's summary.
fn result_text(check: &Check, record: &CheckRecord) -> String {
    if record.outcome == Outcome::Skipped {
        return format!("skipped: {}", record.message);
    }
    match &check.kind {
        CheckKind::Command(_) => match (record.exit_code, record.timed_out) {
            (Some(code), false) if record.message == format!("exit {code}") => {
                format!("exit {code}")
            }
            (Some(code), false) => format!("exit {code}: {}", record.message),
            _ => record.message.clone(),
        },
        CheckKind::Grep(grep) => {
            record
                .message
                .replacen(&format!(" for /{}/", grep.pattern.as_str()), "", 1)
        }
        CheckKind::Probe(_) if !record.cases.is_empty() => {
            let held = record
                .cases
                .iter()
                .filter(|case| case.outcome == CaseOutcome::Pass)
                .count();
            let mut text = format!("{held} of {} cases refused or held", record.cases.len());
            if record.outcome != Outcome::Pass {
                text.push_str(&format!(": {}", record.message));
            }
            text
        }
        CheckKind::Probe(_) | CheckKind::Scan(_) => record.message.clone(),
    }
}

fn unlisted(out: &mut String, unclaimed: &[&CheckRecord]) {
    if unclaimed.is_empty() {
        return;
    }
    out.push_str("\n## Records Not in the Gate\n\n");
    out.push_str(
        "The ledger holds these records, which no check or checklist item of the gate names:\n\n",
    );
    for record in unclaimed {
        out.push_str(&format!(
            "- {} -> {}: {}\n",
            code(&record.name),
            record.outcome.label(),
            inline(&record.message)
        ));
        if let Some(log) = &record.log {
            out.push_str(&format!(
                "  - log: {}\n",
                log_ref(log, record.bytes, record.sha256.as_deref())
            ));
        } else if record.no_output() {
            out.push_str("  - log: no output\n");
        }
    }
}

fn final_verdict(out: &mut String, ledger: &Ledger) {
    out.push_str("\n## Final Verdict\n\n");
    match ledger.verdict() {
        None => {
            out.push_str("No verdict record: the ledger is incomplete, so there is no verdict.\n")
        }
        Some(verdict) => {
            out.push_str(&format!(
                "Decision: **{}**\nAs of: {}\n",
                verdict.decision.label(),
                verdict.as_of
            ));
            if !verdict.reasons.is_empty() {
                out.push_str("\nReasons:\n");
                for reason in &verdict.reasons {
                    out.push_str(&format!("- {}\n", inline(reason)));
                }
            }
            out.push_str("\n### Residual Risks\n\n");
            if verdict.residual_risks.is_empty() {
                out.push_str("None.\n");
            } else {
                out.push_str("| Check | Severity | State | Owner | Until | Reason |\n");
                out.push_str("|---|---|---|---|---|---|\n");
                for risk in &verdict.residual_risks {
                    out.push_str(&format!(
                        "| {} | {} | {} | {} | {} | {} |\n",
                        cell(&risk.check),
                        risk.severity.as_str(),
                        cell(&risk.state),
                        risk.owner.as_deref().map_or("—".to_string(), cell),
                        risk.until.as_deref().map_or("—".to_string(), cell),
                        cell(&risk.reason),
                    ));
                }
            }
            acceptances(
                out,
                "Expired Acceptances (ignored)",
                &verdict.expired_acceptances,
            );
            acceptances(
                out,
                "Unused Acceptances (matched no failure)",
                &verdict.unused_acceptances,
            );
        }
    }

    out.push_str("\n### Evidence\n\n");
    out.push_str(&format!("- Ledger: {}\n", code(LEDGER_FILE)));
    match ledger.header() {
        Some(header) => {
            out.push_str(&format!(
                "- Gate file: {} (sha256 {})\n",
                code(&header.gate_file),
                code(&header.gate_sha256)
            ));
            out.push_str(&format!("- Git commit: {}\n", commit(Some(header))));
            out.push_str(&format!("- Run id: {}\n", code(&header.run_id)));
            out.push_str(&format!("- Mode: {}\n", code(&header.mode)));
            out.push_str(&format!("- Started: {}\n", inline(&header.started)));
            out.push_str(&format!("- Host: {}\n", code(&header.host)));
            out.push_str(&format!(
                "- relgate version: {}\n",
                code(&header.relgate_version)
            ));
        }
        None => out.push_str("- No header record: gate file, commit and run id are unknown.\n"),
    }
    for service in ledger.services() {
        out.push_str(&format!(
            "- Service {} ({}): {}, {}",
            code(&service.name),
            inline(&service.service_kind),
            inline(&service.outcome),
            inline(&service.message)
        ));
        if let Some(log) = &service.log {
            out.push_str(&format!(
                "; log {}",
                log_ref(log, service.bytes, service.sha256.as_deref())
            ));
        }
        out.push('\n');
    }
}

fn acceptances(out: &mut String, heading: &str, notes: &[AcceptanceNote]) {
    out.push_str(&format!("\n### {heading}\n\n"));
    if notes.is_empty() {
        out.push_str("None.\n");
    }
    for note in notes {
        out.push_str(&format!(
            "- {} — owner {}, until {} (gate file line {})\n",
            inline(&note.target),
            inline(&note.owner),
            note.until,
            note.line
        ));
    }
}

/// The git commit of the run: `` `abc…` `` and `(dirty tree)` when there were changes.
fn commit(header: Option<&RunHeader>) -> String {
    match header {
        Some(header) => commit_with(header, code),
        None => "unknown (no header record)".to_string(),
    }
}

/// The date part of an RFC 3339 timestamp.
fn date_of(timestamp: &str) -> &str {
    timestamp.get(..10).unwrap_or(timestamp)
}

fn tick(checked: bool) -> char {
    if checked {
        'x'
    } else {
        ' '
    }
}

/// Text inside a quoted mermaid label: quotes and angle brackets as entity codes.
fn mermaid_text(text: &str) -> String {
    let text = inline(text);
    let (label, status) = text.split_once("<br/>").unwrap_or((&text, ""));
    let escape = |part: &str| {
        part.replace('#', "#35;")
            .replace('"', "#quot;")
            .replace('<', "#lt;")
            .replace('>', "#gt;")
    };
    if status.is_empty() {
        escape(label)
    } else {
        format!("{}<br/>{}", escape(label), escape(status))
    }
}

/// GitHub's heading anchor: lower case, punctuation other than `-` and `_` dropped, spaces as
/// `-`.
fn anchor(heading: &str) -> String {
    inline(heading)
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_does_not_repeat_the_gates_name() {
        assert_eq!(
            heading_text("Acme API"),
            "Acme API — Release Security Gate Progress Tracker"
        );
        assert_eq!(
            heading_text("Release Security Gate"),
            "Release Security Gate — Progress Tracker"
        );
    }

    #[test]
    fn the_step_summary_names_sections_it_does_not_hold() {
        let text = "[[packet]]\nid = \"SEC-01\"\ntitle = \"AuthZ\"\n[[packet.check]]\nid = \"a\"\nrun = \"true\"\n";
        let gate = crate::spec::parse(Path::new("packets.toml"), text).unwrap();
        let ledger = Ledger::default();
        let summary = summary(&gate, &ledger);
        assert!(!summary.contains("](#"), "{summary}");
        assert!(
            summary.contains("tracker.md, SEC-01 Checklist: AuthZ"),
            "{summary}"
        );
        let tracker = render(&gate, &ledger);
        assert!(
            tracker.contains("[SEC-01 section](#sec-01-checklist-authz)"),
            "{tracker}"
        );
    }

    #[test]
    fn anchors_follow_github() {
        assert_eq!(
            anchor("SEC-01 Checklist: AuthZ + Tenant Isolation Replay"),
            "sec-01-checklist-authz--tenant-isolation-replay"
        );
    }
}
