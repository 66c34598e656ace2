//! The packet table and one section per packet: its checks with their commands as written,
//! outcomes, probe cases and findings, and its checklist.

use super::logs::{file_link, log_ref, tail};
use super::{
    check_anchor, class_name, code, escape, meta, outcome_badge, outcome_class, packet_anchor,
    record_badge, record_class, Page,
};
use crate::evidence::{
    CaseKind, CaseOutcome, CheckRecord, FindingNote, GateResult, Outcome, PacketStatus,
};
use crate::report::view::{command_line, duration, flaky_checks_of, PacketView};
use crate::spec::{Check, CheckKind, GrepExpect, Satisfaction, Severity};

pub(super) fn packet_table(out: &mut String, sections: &[PacketView<'_>]) {
    out.push_str("<section id=\"packets\">\n<h2>Packets</h2>\n<table>\n");
    out.push_str(
        "<thead><tr><th>Packet</th><th>Title</th><th>Status</th><th>Implementer</th>\
         <th>Reviewer</th><th>P0</th><th>P1</th><th>P2</th><th>Checks passed</th></tr>\
         </thead>\n<tbody>\n",
    );
    for section in sections {
        let packet = section.packet;
        let status = section.status().map_or("PENDING", PacketStatus::label);
        let passed = section
            .checks
            .iter()
            .filter(|(_, record)| record.is_some_and(|record| record.outcome == Outcome::Pass))
            .count();
        // A flaky check passed, but only after failing: the count says how many did.
        let flaky = section
            .checks
            .iter()
            .filter(|(_, record)| record.is_some_and(CheckRecord::is_flaky))
            .count();
        let flaky = match flaky {
            0 => String::new(),
            n => format!(" ({n} FLAKY)"),
        };
        out.push_str(&format!(
            "<tr class=\"packet-row status-{}\" data-packet=\"{}\"><td><a href=\"#{}\">{}</a>\
             </td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            class_name(status),
            escape(&packet.id),
            packet_anchor(&packet.id),
            escape(&packet.id),
            escape(&packet.title),
            status_badge(section.status()),
            person(&packet.implementer),
            person(&packet.reviewer),
        ));
        for severity in [Severity::P0, Severity::P1, Severity::P2] {
            let result = section
                .record
                .and_then(|record| record.gates.get(&severity).copied());
            out.push_str(&format!("<td>{}</td>", gate_badge(result)));
        }
        out.push_str(&format!(
            "<td>{passed} of {}{flaky}</td></tr>\n",
            section.checks.len()
        ));
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

pub(super) fn person(who: &Option<String>) -> String {
    who.as_deref().map_or("—".to_string(), escape)
}

pub(super) fn status_badge(status: Option<PacketStatus>) -> String {
    let label = status.map_or("PENDING", PacketStatus::label);
    format!(
        "<span class=\"badge status-{}\">{}</span>",
        class_name(label),
        escape(label)
    )
}

pub(super) fn gate_badge(result: Option<GateResult>) -> String {
    match result {
        Some(result) => format!(
            "<span class=\"badge gate-{}\">{}</span>",
            class_name(result.label()),
            escape(result.label())
        ),
        None => "—".to_string(),
    }
}

pub(super) fn packet_section(out: &mut String, page: &Page<'_>, section: &PacketView<'_>) {
    let packet = section.packet;
    let status = section.status().map_or("PENDING", PacketStatus::label);
    out.push_str(&format!(
        "<section class=\"packet status-{}\" id=\"{}\">\n<h2>{} — {} {}</h2>\n",
        class_name(status),
        packet_anchor(&packet.id),
        escape(&packet.id),
        escape(&packet.title),
        status_badge(section.status()),
    ));
    out.push_str("<dl class=\"facts\">\n");
    meta(out, "Implementer", &person(&packet.implementer));
    meta(out, "Reviewer", &person(&packet.reviewer));
    if !packet.depends_on.is_empty() {
        meta(out, "Depends on", &packet_links(&packet.depends_on));
    }
    match section.record {
        Some(record) => {
            if !record.blocked_by.is_empty() {
                meta(out, "Blocked by", &packet_links(&record.blocked_by));
            }
            let gates: Vec<String> = record
                .gates
                .iter()
                .map(|(severity, result)| {
                    format!(
                        "{} {}",
                        escape(severity.as_str()),
                        gate_badge(Some(*result))
                    )
                })
                .collect();
            meta(out, "Review gates", &gates.join(" "));
            if let Some(review) = &record.review {
                let mut text = escape(&review.state);
                if review.required {
                    text.push_str(" (required for GO)");
                }
                if let Some(signed) = &review.review {
                    text.push_str(&format!(
                        " — {} by {} at {}, commit <code>{}</code>, SSH signature verified \
                         (key <code>{}</code>); rollback: <code>git revert {}</code>",
                        escape(signed.decision.label()),
                        escape(&signed.reviewer),
                        escape(&signed.time),
                        escape(&signed.commit),
                        escape(&signed.key),
                        escape(&signed.commit)
                    ));
                    if !signed.note.is_empty() {
                        text.push_str(&format!("; note: {}", escape(&signed.note)));
                    }
                    for finding in &signed.findings {
                        text.push_str(&format!("; finding: {}", escape(finding)));
                    }
                }
                for note in &review.notes {
                    text.push_str(&format!("<br>{}", escape(note)));
                }
                meta(out, "Review", &text);
            }
        }
        None => meta(out, "Review gates", "no packet record in this run"),
    }
    out.push_str("</dl>\n");
    if let Some(record) = section.record.filter(|record| !record.reasons.is_empty()) {
        out.push_str(&format!(
            "<p>{} is {}:</p>\n<ul class=\"reasons\">\n",
            escape(&packet.id),
            escape(record.status.label())
        ));
        for reason in &record.reasons {
            out.push_str(&format!("<li>{}</li>\n", escape(reason)));
        }
        out.push_str("</ul>\n");
    }

    out.push_str("<h3>Checklist</h3>\n");
    if packet.checklist.is_empty() {
        out.push_str("<p>No checklist items.</p>\n");
    } else {
        out.push_str("<ul class=\"checklist\">\n");
        for (item, record) in packet.checklist.iter().zip(&section.items) {
            let name = packet.checklist_name(item);
            let flaky = flaky_checks_of(section, &item.satisfied_by);
            let outcome = match outcome_class(record.map(|record| record.outcome)) {
                "pass" if !flaky.is_empty() => "flaky",
                outcome => outcome,
            };
            let passed = record.is_some_and(|record| record.outcome == Outcome::Pass);
            let by = match &item.satisfied_by {
                Satisfaction::Checks(ids) => format!(
                    "by {}",
                    ids.iter().map(|id| code(id)).collect::<Vec<_>>().join(", ")
                ),
                Satisfaction::Attested { by, on } => {
                    format!("attested by {} on {}", escape(by), escape(&on.to_string()))
                }
            };
            let state = match record {
                Some(record) if passed && !flaky.is_empty() => format!(
                    "{} {} — on FLAKY {}",
                    outcome_badge(Some(record.outcome)),
                    escape(&record.message),
                    flaky
                        .iter()
                        .map(|id| code(id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some(record) => format!(
                    "{} {}",
                    outcome_badge(Some(record.outcome)),
                    escape(&record.message)
                ),
                None => format!("{} no record in this run", outcome_badge(None)),
            };
            out.push_str(&format!(
                "<li class=\"item outcome-{outcome}\" data-check=\"{}\"><span class=\"tick\">{}\
                 </span>{} <span class=\"sev\">({by})</span> — {state}</li>\n",
                escape(&name),
                if passed { "&#x2611;" } else { "&#x2610;" },
                escape(&item.text),
            ));
        }
        out.push_str("</ul>\n");
    }

    out.push_str("<h3>Checks</h3>\n");
    if section.checks.is_empty() {
        out.push_str("<p>No checks.</p>\n");
    }
    for (check, record) in &section.checks {
        check_block(out, page, &check.name(), Some(check), *record, 4);
    }
    out.push_str("</section>\n");
}

pub(super) fn packet_links(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("<a href=\"#{}\">{}</a>", packet_anchor(id), escape(id)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One check (or a record the gate does not list): what it is, how it came out, its log and
/// the log's tail. Failures are marked on the block itself, so nothing needs expanding to
/// see them; their tails start open. Its heading is an `h{level}`: one below the heading of
/// the part of the page it is in.
pub(super) fn check_block(
    out: &mut String,
    page: &Page<'_>,
    name: &str,
    check: Option<&Check>,
    record: Option<&CheckRecord>,
    level: u8,
) {
    let outcome = record_class(record);
    let severity = record
        .map(|record| record.severity)
        .or(check.map(|check| check.severity));
    let kind = match (record, check) {
        (Some(record), _) => case_kind(record.case_kind),
        (None, Some(check)) => spec_kind(check),
        (None, None) => "check",
    };
    out.push_str(&format!(
        "<article class=\"check outcome-{outcome}\" id=\"{}\" data-check=\"{}\">\n\
         <h{level} class=\"check-title\">{} <code>{}</code> <span class=\"sev\">{}</span> \
         <span class=\"kind\">{}</span></h{level}>\n",
        check_anchor(name),
        escape(name),
        record_badge(record),
        escape(name),
        escape(severity.map_or("", Severity::as_str)),
        escape(kind),
    ));
    let Some(record) = record else {
        out.push_str("<p class=\"message\">No record in this run.</p>\n");
        if let Some(check) = check {
            out.push_str("<dl class=\"facts\">\n");
            meta(out, "Runs", &code(&as_written(check)));
            out.push_str("</dl>\n");
        }
        out.push_str("</article>\n");
        return;
    };
    out.push_str(&format!(
        "<p class=\"message\">{}</p>\n",
        escape(&record.message)
    ));
    if !record.cases.is_empty() {
        let held = record
            .cases
            .iter()
            .filter(|case| case.outcome == CaseOutcome::Pass)
            .count();
        out.push_str(&format!(
            "<p>{held} of {} cases refused or held.</p>\n",
            record.cases.len()
        ));
    }

    out.push_str("<dl class=\"facts\">\n");
    if !record.argv.is_empty() {
        meta(out, "Command", &code(&command_line(&record.argv)));
    } else if let Some(check) = check.filter(|check| !matches!(check.kind, CheckKind::Command(_))) {
        meta(out, "Rule", &code(&as_written(check)));
    }
    if !record.cwd.is_empty() {
        meta(out, "Directory", &code(&record.cwd));
    }
    let ran_process = record.outcome != Outcome::Skipped
        && (!record.argv.is_empty()
            || record.exit_code.is_some()
            || record.signal.is_some()
            || record.timed_out);
    if ran_process {
        meta(out, "Exit", &escape(&process_end(record)));
    }
    if record.outcome != Outcome::Skipped && record.case_kind != CaseKind::Checklist {
        meta(out, "Duration", &escape(&duration(record.duration_ms)));
        meta(
            out,
            "Ran",
            &format!("{} to {}", escape(&record.started), escape(&record.ended)),
        );
    }
    if let Some(log) = &record.log {
        meta(
            out,
            "Log",
            &log_ref(log, record.bytes, record.sha256.as_deref()),
        );
    } else if record.no_output() {
        meta(out, "Log", "no output");
    }
    if let Some(report) = &record.report {
        meta(
            out,
            "Report",
            &format!(
                "{} (sha256 {})",
                file_link(report),
                code(record.report_sha256.as_deref().unwrap_or("unknown"))
            ),
        );
    }
    if !record.notes.is_empty() {
        let notes: Vec<String> = record
            .notes
            .iter()
            .map(|note| format!("<li>{}</li>", escape(note)))
            .collect();
        meta(out, "Notes", &format!("<ul>{}</ul>", notes.concat()));
    }
    out.push_str("</dl>\n");

    cases(out, record);
    findings(out, page, record);
    super::attempts::attempts(out, page, record);
    if let Some(log) = &record.log {
        tail(
            out,
            page.out_dir,
            log,
            record.bytes,
            record.outcome.is_failure(),
        );
    }
    out.push_str("</article>\n");
}

/// How the process ended: `exit 3`, `signal 9, timed out`, `—` when no process ran.
pub(super) fn process_end(record: &CheckRecord) -> String {
    let mut parts = Vec::new();
    if let Some(code) = record.exit_code {
        parts.push(format!("exit {code}"));
    }
    if let Some(signal) = record.signal {
        parts.push(format!("signal {signal}"));
    }
    if record.timed_out {
        parts.push("timed out".to_string());
    }
    if parts.is_empty() {
        "no exit code and no signal recorded".to_string()
    } else {
        parts.join(", ")
    }
}

/// What a check runs, as the gate file says it.
pub(super) fn as_written(check: &Check) -> String {
    match &check.kind {
        CheckKind::Command(command) => command.display.clone(),
        CheckKind::Scan(scan) => format!("{} ({})", scan.command.display, scan.format.name()),
        CheckKind::Grep(grep) => {
            let expect = match grep.expect {
                GrepExpect::Match => "",
                GrepExpect::NoMatch => " (expect no match)",
            };
            format!(
                "grep /{}/ {}{expect}",
                grep.pattern.as_str(),
                grep.files.join(" ")
            )
        }
        CheckKind::Probe(probe) => format!("probe {}", probe.kind),
    }
}

pub(super) fn spec_kind(check: &Check) -> &'static str {
    match check.kind {
        CheckKind::Command(_) => "command",
        CheckKind::Grep(_) => "grep",
        CheckKind::Probe(_) => "probe",
        CheckKind::Scan(_) => "scan",
    }
}

pub(super) fn case_kind(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::Command => "command",
        CaseKind::Grep => "grep",
        CaseKind::Checklist => "checklist",
        CaseKind::Probe => "probe",
        CaseKind::Scan => "scan",
    }
}

/// A probe's cases: what was sent and what came back, failures first in colour.
pub(super) fn cases(out: &mut String, record: &CheckRecord) {
    if record.cases.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"cases\">\n<thead><tr><th>Case</th><th>Outcome</th><th>Message</th>\
         <th>Sent</th><th>Got</th></tr></thead>\n<tbody>\n",
    );
    for case in &record.cases {
        let label = match case.outcome {
            CaseOutcome::Pass => "PASS",
            CaseOutcome::Fail => "FAIL",
            CaseOutcome::Inconclusive => "INCONCLUSIVE",
        };
        out.push_str(&format!(
            "<tr class=\"case case-{}\" data-case=\"{}\"><td>{}</td><td><span class=\"badge \
             case-{}\">{label}</span></td><td>{}</td><td><pre>{}</pre></td><td><pre>{}</pre>\
             </td></tr>\n",
            class_name(label),
            escape(&case.name),
            code(&case.name),
            class_name(label),
            escape(&case.message),
            escape(&case.sent),
            escape(&case.got),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}

/// A scan's findings with their triage from the verdict; findings the verdict does not hold
/// (a ledger without a verdict) are shown untriaged.
pub(super) fn findings(out: &mut String, page: &Page<'_>, record: &CheckRecord) {
    let notes: Vec<&FindingNote> = page
        .findings
        .iter()
        .filter(|note| note.check == record.name)
        .collect();
    if notes.is_empty() && record.findings.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"findings\">\n<thead><tr><th>Severity</th><th>Id</th><th>Rule</th>\
         <th>Title</th><th>Location</th><th>State</th><th>Acceptance</th></tr></thead>\n\
         <tbody>\n",
    );
    // Each row: severity, id, rule, title, location, state, acceptance.
    let mut rows: Vec<[String; 7]> = Vec::new();
    if notes.is_empty() {
        for finding in &record.findings {
            rows.push([
                finding.severity.as_str().to_string(),
                finding.id.clone(),
                finding.rule.clone(),
                finding.title.clone(),
                finding.location.clone().unwrap_or_default(),
                "untriaged (no verdict record)".to_string(),
                String::new(),
            ]);
        }
    }
    for note in notes {
        rows.push([
            note.severity.as_str().to_string(),
            note.id.clone(),
            note.rule.clone(),
            note.title.clone(),
            note.location.clone().unwrap_or_default(),
            note.state.clone(),
            note.acceptance.clone().unwrap_or_default(),
        ]);
    }
    let or_dash = |text: &str, html: String| {
        if text.is_empty() {
            "—".to_string()
        } else {
            html
        }
    };
    for [severity, id, rule, title, location, state, acceptance] in &rows {
        out.push_str(&format!(
            "<tr class=\"finding state-{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>\n",
            class_name(state),
            escape(severity),
            code(id),
            escape(rule),
            escape(title),
            or_dash(location, code(location)),
            escape(state),
            or_dash(acceptance, escape(acceptance)),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}
