//! The tracker `tracker.md`: the seeds' hand-kept progress tracker, rebuilt from evidence.
//!
//! The shape is the seed's (packet board, one checklist section per packet with its required
//! commands, review gates and review record, then the final verdict), plus a mermaid graph of
//! the packets. Titles, checklist texts, dependencies, people and commands as written come from
//! the gate; every fact (outcomes, exit codes, durations, digests, statuses, gates, verdict,
//! risks, findings, acceptances, the git commit) comes from the ledger. Nothing is ticked that
//! the ledger does not show as passed, and a record the gate does not list is still shown.
//!
//! Text from the gate, the ledger or a command renders as exactly that text on GitHub: plain
//! text and table cells are escaped, commands and names are code spans, line breaks inside a
//! field are spaces ([`super::markdown`]); the board links to each packet's section by the
//! anchor GitHub gives its heading. `graph.rs` is the mermaid graph, `record.rs` the review
//! record of each packet.

mod graph;
mod record;

use std::path::{Path, PathBuf};

use super::markdown::{cell, code, text, Anchors};
use super::view::{
    attempt_result, attempts_line, command_line, commit_with, duration, flaky_checks_of,
    PacketView, ReportView,
};
use crate::evidence::{
    AcceptanceNote, CaseOutcome, CheckRecord, FindingNote, GateResult, Ledger, Outcome,
    PacketStatus, RunHeader, LEDGER_FILE,
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
    // Headings take their anchors in document order; the board, written before the sections,
    // links to the anchors their headings took.
    let mut anchors = Anchors::default();
    let mut out = String::new();
    title(&mut out, gate, ledger, &mut anchors);
    rules(&mut out, &mut anchors);
    anchors.next(BOARD);
    let mut body = String::new();
    let links: Vec<String> = sections
        .iter()
        .map(|section| packet_section(&mut body, section, ledger, &mut anchors))
        .collect();
    board(&mut out, sections, Some(&links));
    graph::graph(&mut out, sections);
    out.push_str("---\n");
    out.push_str(&body);
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
    title(&mut out, view.gate, view.ledger, &mut Anchors::default());
    // The summary has no packet sections: its board names them in tracker.md instead of
    // linking to anchors it does not contain.
    board(&mut out, &view.packets, None);
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

fn title(out: &mut String, gate: &Gate, ledger: &Ledger, anchors: &mut Anchors) {
    let heading = heading_text(&gate.name);
    anchors.next(&heading);
    out.push_str(&format!("# {}\n\n", text(&heading)));
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
    out.push_str(&format!("Status: {status}\nDate: {}\n\n", text(&date)));
}

/// `Acme API — Release Security Gate Progress Tracker`, without repeating the words a gate
/// named `Release Security Gate` already has.
fn heading_text(name: &str) -> String {
    if name.to_lowercase().contains("release security gate") {
        format!("{name} — Progress Tracker")
    } else {
        format!("{name} — Release Security Gate Progress Tracker")
    }
}

/// The board's heading.
const BOARD: &str = "Packet Board";

fn rules(out: &mut String, anchors: &mut Anchors) {
    anchors.next("Rules");
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

/// The packet board; with `links` (the anchors of the sections' headings) the evidence column
/// links to each packet's section below (the tracker), without it names the section in
/// tracker.md (the step summary, which has no sections).
fn board(out: &mut String, sections: &[PacketView<'_>], links: Option<&[String]>) {
    out.push_str(&format!("## {BOARD}\n\n"));
    out.push_str(
        "| Packet | Title | Status | Implementer | Reviewer | Review State | Evidence Link |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|\n");
    for (index, section) in sections.iter().enumerate() {
        let packet = section.packet;
        let status = match section.status() {
            Some(status) => status.label(),
            None => "PENDING (no packet record)",
        };
        let person = |who: &Option<String>| who.as_deref().map_or("—".to_string(), cell);
        let evidence = match links.and_then(|links| links.get(index)) {
            Some(anchor) => format!("[{} section](#{anchor})", cell(&packet.id)),
            None => format!("{TRACKER_FILE}, {}", cell(&section.heading())),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {evidence} |\n",
            cell(&packet.id),
            cell(&packet.title),
            status,
            person(&packet.implementer),
            person(&packet.reviewer),
            cell(section.review_state()),
        ));
    }
    out.push('\n');
}

/// `` `logs/x.log` (12 bytes, sha256 `ab…`) ``: a log and its digest as the ledger records them.
fn log_ref(log: &str, bytes: u64, sha256: Option<&str>) -> String {
    format!(
        "{} ({bytes} bytes, sha256 {})",
        code(log),
        code(sha256.unwrap_or("unknown"))
    )
}

/// A record's log as [`log_ref`] shows it, `no output` for a check that printed nothing, `None`
/// when the record names no log for another reason (skipped, checklist).
fn record_log(record: &CheckRecord) -> Option<String> {
    match &record.log {
        Some(log) => Some(log_ref(log, record.bytes, record.sha256.as_deref())),
        None => record.no_output().then(|| "no output".to_string()),
    }
}

/// Packet ids as inline code, comma-separated.
fn codes(ids: &[String]) -> String {
    ids.iter().map(|id| code(id)).collect::<Vec<_>>().join(", ")
}

/// Appends the packet's section; returns the anchor of its heading (from `anchors`, which every
/// heading of the section takes its anchor from).
fn packet_section(
    out: &mut String,
    section: &PacketView<'_>,
    ledger: &Ledger,
    anchors: &mut Anchors,
) -> String {
    let packet = section.packet;
    let anchor = anchors.next(&section.heading());
    out.push_str(&format!("\n## {}\n\n", text(&section.heading())));
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
            Satisfaction::Attested { by, on } => format!("attested by {} on {on}", text(by)),
        };
        let flaky = flaky_checks_of(section, &item.satisfied_by);
        let state = match record {
            Some(_) if passed && !flaky.is_empty() => {
                format!("({by}) — on FLAKY {}", codes(&flaky))
            }
            Some(record) if passed => format!("({by})"),
            Some(record) => format!(
                "({by}) — {}: {}",
                record.outcome.label(),
                text(&record.message)
            ),
            None => format!("({by}) — no record in this run"),
        };
        out.push_str(&format!(
            "- [{}] {} {state}\n",
            tick(passed),
            text(&item.text)
        ));
    }

    anchors.next("Required Commands");
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
            anchors.next("Findings");
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

    anchors.next("Review Gates");
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
                    text(&review.state),
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
                    text(&packet.id),
                    record.status.label()
                ));
                for reason in &record.reasons {
                    out.push_str(&format!("- {}\n", text(reason)));
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

    record::review_record(out, section, ledger, anchors);
    anchor
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
        text(&result_text(check, record))
    );
    if record.outcome != Outcome::Skipped {
        line.push_str(&format!(" ({})", duration(record.duration_ms)));
    }
    if record.is_flaky() {
        // Never a clean pass: it passed only after failing, a condition of the release.
        line.push_str(&format!(" — FLAKY ({})", record.severity.as_str()));
    } else if !passed {
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
            text(&case.message)
        ));
    }
    for note in &record.notes {
        out.push_str(&format!("  - note: {}\n", text(note)));
    }
    for (index, attempt) in record.attempts.iter().enumerate() {
        let mut line = format!(
            "  - attempt {}{}: {} {} ({})",
            index + 1,
            attempt
                .shard
                .as_deref()
                .map_or_else(String::new, |shard| format!(" (shard {})", code(shard))),
            attempt.outcome.label(),
            text(&attempt_result(attempt)),
            duration(attempt.duration_ms)
        );
        if let Some(log) = record_log(attempt) {
            line.push_str(&format!(", log: {log}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    if let Some(log) = record_log(record) {
        out.push_str(&format!("  - log: {log}\n"));
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
/// in 1 of 2 files`, `5 of 7 cases refused or held`, the scan's summary; with its earlier
/// attempts when it ran more than once (`exit 0 (attempt 2 of 2; attempt 1: exit 1)`).
fn result_text(check: &Check, record: &CheckRecord) -> String {
    let last = last_result_text(check, record);
    match attempts_line(record) {
        Some(attempts) => format!("{last} ({attempts})"),
        None => last,
    }
}

fn last_result_text(check: &Check, record: &CheckRecord) -> String {
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
            text(&record.message)
        ));
        if let Some(log) = record_log(record) {
            out.push_str(&format!("  - log: {log}\n"));
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
                text(&verdict.as_of)
            ));
            if !verdict.reasons.is_empty() {
                out.push_str("\nReasons:\n");
                for reason in &verdict.reasons {
                    out.push_str(&format!("- {}\n", text(reason)));
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
                code(header.gate_shown()),
                code(&header.gate_sha256)
            ));
            out.push_str(&format!("- Git commit: {}\n", commit(Some(header))));
            out.push_str(&format!("- Run id: {}\n", code(&header.run_id)));
            out.push_str(&format!("- Mode: {}\n", code(&header.mode)));
            out.push_str(&format!("- Started: {}\n", text(&header.started)));
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
            text(&service.service_kind),
            text(&service.outcome),
            text(&service.message)
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
            text(&note.target),
            text(&note.owner),
            text(&note.until),
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
    fn the_board_links_to_the_anchor_github_numbers_for_a_repeated_heading() {
        // The packet's heading has the title heading's slug: GitHub gives it `-1`.
        let text = "[gate]\nname = \"SEC-01 Checklist: Audit\"\n[[packet]]\nid = \"SEC-01\"\ntitle = \"Audit — Release Security Gate Progress Tracker\"\n[[packet.check]]\nid = \"a\"\nrun = \"true\"\n";
        let gate = crate::spec::parse(Path::new("packets.toml"), text).unwrap();
        let tracker = render(&gate, &Ledger::default());
        let slug = "sec-01-checklist-audit--release-security-gate-progress-tracker";
        assert!(
            tracker.contains(&format!("[SEC-01 section](#{slug}-1)")),
            "{tracker}"
        );
    }

    #[test]
    fn gate_text_is_escaped_outside_code_and_literal_inside() {
        let text = "[gate]\nname = \"<Gate> & co\"\n[[packet]]\nid = \"SEC-01\"\ntitle = \"<Test> &amp; a|b\"\nchecklist = [{ item = \"*not* <b>bold</b>\\nsecond line\", by = [\"a\"] }]\n[[packet.check]]\nid = \"a\"\nrun = \"echo '<x>' | tr x y\"\n";
        let gate = crate::spec::parse(Path::new("packets.toml"), text).unwrap();
        let tracker = render(&gate, &Ledger::default());
        for expected in [
            "# \\<Gate> & co — Release Security Gate Progress Tracker\n",
            "| SEC-01 | \\<Test> \\&amp; a\\|b |",
            "[SEC-01 section](#sec-01-checklist-test-amp-ab)",
            "## SEC-01 Checklist: \\<Test> \\&amp; a|b\n",
            "- [ ] \\*not\\* \\<b>bold\\</b> second line (by `a`)",
            "- [ ] `echo '<x>' | tr x y` -> no record in this run",
        ] {
            assert!(tracker.contains(expected), "{expected}\n{tracker}");
        }
    }
}
