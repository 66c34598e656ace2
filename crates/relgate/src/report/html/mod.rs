//! The HTML page `report.html`: the run for people, one self-contained file.
//!
//! Like [`crate::tracker`], titles, checklist texts, dependencies, people and commands as
//! written come from the gate and every fact comes from the ledger; in addition the page shows
//! the tail of each log, read from the out directory (already redacted by the runner, and
//! passed through [`crate::redaction::redact`] once more). The page loads nothing: styles are
//! inline, the packet graph is an inline SVG drawn here, expandable parts are `<details>`, there
//! is no script, and a Content-Security-Policy forbids every fetch. Every string is escaped
//! with [`escape`].

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::evidence::{
    AcceptanceNote, CaseKind, CaseOutcome, CheckRecord, FindingNote, GateResult, Ledger, Outcome,
    PacketStatus, ServiceRecord, LEDGER_FILE,
};
use crate::spec::{Check, CheckKind, Gate, GrepExpect, Satisfaction, Severity};
use crate::tracker::{claim_all, command_line, duration, PacketView};

/// File name inside the out directory.
pub const HTML_FILE: &str = "report.html";

/// At most this many lines of a log are shown.
const TAIL_LINES: usize = 40;
/// At most this many bytes of a log are read.
const TAIL_BYTES: u64 = 8 * 1024;

/// Renders report.html from the gate, the run's ledger and the logs under `out_dir` (only the
/// last [`TAIL_BYTES`] of each are read; a missing or unreadable log is shown as such). No
/// clock: the same inputs give the same page.
pub fn render(gate: &Gate, ledger: &Ledger, out_dir: &Path) -> String {
    let (sections, unclaimed) = claim_all(gate, ledger);
    let page = Page {
        ledger,
        out_dir,
        findings: ledger
            .verdict()
            .map_or(&[], |verdict| verdict.findings.as_slice()),
    };

    let mut out = String::new();
    head(&mut out, gate, ledger);
    out.push_str("<body>\n");
    header(&mut out, gate, ledger);
    contents(&mut out, &sections, !unclaimed.is_empty());
    out.push_str("<main>\n");
    graph(&mut out, gate, &sections);
    packet_table(&mut out, &sections);
    for section in &sections {
        packet_section(&mut out, &page, section);
    }
    unlisted(&mut out, &page, &unclaimed);
    conditions(&mut out, ledger);
    services(&mut out, &page);
    evidence(&mut out, gate, ledger);
    out.push_str("</main>\n");
    out.push_str(&format!(
        "<footer>Written by relgate {} from <code>{}</code> and the logs beside it; every fact \
         on this page is in the ledger (<code>cargo xtask gate verify</code> re-hashes it).\
         </footer>\n",
        escape(env!("CARGO_PKG_VERSION")),
        escape(LEDGER_FILE)
    ));
    out.push_str("</body>\n</html>\n");
    out
}

/// Renders and writes `out_dir/report.html` redacted and atomically ([`crate::redaction::write_report`]); returns its
/// path.
pub fn write(gate: &Gate, ledger: &Ledger, out_dir: &Path) -> std::io::Result<PathBuf> {
    let path = out_dir.join(HTML_FILE);
    crate::redaction::write_report(&path, render(gate, ledger, out_dir).as_bytes())?;
    Ok(path)
}

/// Text for HTML: safe in element content and in quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// What every part of the page reads besides the gate.
struct Page<'a> {
    ledger: &'a Ledger,
    out_dir: &'a Path,
    /// The verdict's triaged scanner findings.
    findings: &'a [FindingNote],
}

const STYLE: &str = "
:root { --pass: #1a7f37; --fail: #cf222e; --error: #bc4c00; --skipped: #6e7781;
  --pending: #9a6700; --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif;
  color: #1f2328; background: #f6f8fa; }
header, main, nav, footer { max-width: 1200px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 16px; }
h1 { margin: 8px 0; font-size: 26px; }
h2 { margin: 28px 0 10px; font-size: 21px; border-bottom: 1px solid var(--line); }
h3 { margin: 18px 0 8px; font-size: 17px; }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { overflow-wrap: anywhere; }
.verdict { display: inline-block; margin: 8px 0; padding: 10px 22px; border-radius: 8px;
  color: #fff; font-size: 28px; font-weight: 700; letter-spacing: 0.04em; }
.verdict .label { font-size: 14px; font-weight: 400; margin-right: 12px; opacity: 0.9; }
.decision-go { background: var(--pass); }
.decision-go_with_conditions { background: #bf8700; }
.decision-no_go { background: var(--fail); }
.decision-none { background: var(--skipped); }
.reasons li { color: #82071e; }
dl.meta, dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px;
  margin: 8px 0; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; }
nav ul { display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 0; list-style: none; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: 6px 0; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eaeef2; }
td pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.badge { display: inline-block; min-width: 4.5em; padding: 1px 8px; border-radius: 10px;
  color: #fff; font-size: 12px; font-weight: 700; text-align: center; }
.outcome-pass > .badge, .badge.outcome-pass, .badge.gate-pass, .badge.status-done,
  .badge.case-pass { background: var(--pass); }
.badge.outcome-fail, .badge.gate-fail, .badge.status-changes_requested, .badge.case-fail
  { background: var(--fail); }
.badge.outcome-error { background: var(--error); }
.badge.outcome-skipped, .badge.gate-not_run, .badge.status-blocked { background: var(--skipped); }
.badge.outcome-missing, .badge.status-pending, .badge.gate-conditional,
  .badge.case-inconclusive { background: var(--pending); }
section.packet { margin-top: 28px; }
.check { background: #fff; border: 1px solid var(--line); border-left: 6px solid var(--pass);
  border-radius: 6px; margin: 10px 0; padding: 8px 12px; }
.check.outcome-fail { border-left-color: var(--fail); background: #fff5f5; }
.check.outcome-error { border-left-color: var(--error); background: #fff8f0; }
.check.outcome-skipped { border-left-color: var(--skipped); }
.check.outcome-missing { border-left-color: var(--pending); }
.check h4 { margin: 0 0 4px; font-size: 15px; display: flex; flex-wrap: wrap; gap: 8px;
  align-items: center; }
.check .message { margin: 4px 0; font-weight: 600; }
.check.outcome-fail .message, .check.outcome-error .message { color: #82071e; }
.sev, .kind { color: var(--muted); font-weight: 400; font-size: 13px; }
details { margin: 6px 0; }
summary { cursor: pointer; color: #0969da; }
pre.tail { margin: 6px 0; padding: 8px; max-height: 32em; overflow: auto; background: #1f2328;
  color: #e6edf3; border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
.unreadable { color: var(--error); font-style: italic; }
ul.checklist { list-style: none; padding-left: 0; }
ul.checklist li { margin: 3px 0; }
.tick { display: inline-block; width: 1.4em; font-weight: 700; }
.item.outcome-pass .tick { color: var(--pass); }
.item.outcome-fail .tick, .item.outcome-error .tick { color: var(--fail); }
.item.outcome-skipped .tick, .item.outcome-missing .tick { color: var(--skipped); }
svg.dag { display: block; max-width: 100%; height: auto; background: #fff;
  border: 1px solid var(--line); border-radius: 6px; }
footer { margin: 36px auto 24px; color: var(--muted); font-size: 13px; }
";

fn head(out: &mut String, gate: &Gate, ledger: &Ledger) {
    let decision = ledger
        .verdict()
        .map_or("INCOMPLETE", |verdict| verdict.decision.label());
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // The page is self-contained; the policy makes sure that stays true in the browser.
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n",
    );
    out.push_str(&format!(
        "<meta name=\"generator\" content=\"relgate {}\">\n",
        escape(env!("CARGO_PKG_VERSION"))
    ));
    out.push_str(&format!(
        "<title>{} — {} — relgate report</title>\n",
        escape(decision),
        escape(&gate.name)
    ));
    out.push_str(&format!("<style>{STYLE}</style>\n</head>\n"));
}

fn header(out: &mut String, gate: &Gate, ledger: &Ledger) {
    out.push_str("<header>\n");
    out.push_str(&format!("<h1>{}</h1>\n", escape(&gate.name)));
    match ledger.verdict() {
        Some(verdict) => {
            out.push_str(&format!(
                "<p id=\"verdict\" class=\"verdict decision-{}\"><span class=\"label\">Verdict\
                 </span>{}</p>\n",
                class_name(verdict.decision.label()),
                escape(verdict.decision.label())
            ));
            if !verdict.reasons.is_empty() {
                out.push_str("<ul class=\"reasons\">\n");
                for reason in &verdict.reasons {
                    out.push_str(&format!("<li>{}</li>\n", escape(reason)));
                }
                out.push_str("</ul>\n");
            }
        }
        None => out.push_str(
            "<p id=\"verdict\" class=\"verdict decision-none\"><span class=\"label\">Verdict\
             </span>INCOMPLETE</p>\n<p>The ledger has no verdict record: the run did not \
             complete, so there is no verdict.</p>\n",
        ),
    }

    out.push_str("<dl class=\"meta\">\n");
    if let Some(verdict) = ledger.verdict() {
        meta(out, "As of", &escape(&verdict.as_of));
    }
    match ledger.header() {
        Some(header) => {
            meta(
                out,
                "Git commit",
                &crate::tracker::commit_with(header, code),
            );
            meta(out, "Run id", &code(&header.run_id));
            meta(out, "Started", &escape(&header.started));
            meta(out, "relgate version", &code(&header.relgate_version));
        }
        None => meta(
            out,
            "Run",
            "unknown: the ledger has no header record (commit, run id and version unknown)",
        ),
    }
    if let Some(plan) = &gate.plan_link {
        meta(out, "Plan", &code(plan));
    }
    meta(out, "Cases", &escape(&case_counts(ledger)));
    out.push_str("</dl>\n</header>\n");
}

fn meta(out: &mut String, name: &str, value_html: &str) {
    out.push_str(&format!("<dt>{}</dt><dd>{value_html}</dd>\n", escape(name)));
}

/// `7 cases: 4 PASS, 2 FAIL, 1 SKIPPED`.
fn case_counts(ledger: &Ledger) -> String {
    let mut counts: BTreeMap<u8, (&str, usize)> = BTreeMap::new();
    let mut total = 0;
    for record in ledger.checks() {
        let rank = match record.outcome {
            Outcome::Pass => 0,
            Outcome::Fail => 1,
            Outcome::Error => 2,
            Outcome::Skipped => 3,
        };
        counts.entry(rank).or_insert((record.outcome.label(), 0)).1 += 1;
        total += 1;
    }
    let parts: Vec<String> = counts
        .values()
        .map(|(label, count)| format!("{count} {label}"))
        .collect();
    if parts.is_empty() {
        "no check records".to_string()
    } else {
        format!("{total} (checks and checklist items): {}", parts.join(", "))
    }
}

fn contents(out: &mut String, sections: &[PacketView<'_>], unlisted: bool) {
    out.push_str("<nav><ul>\n<li><a href=\"#graph\">Packet graph</a></li>\n");
    out.push_str("<li><a href=\"#packets\">Packets</a></li>\n");
    for section in sections {
        out.push_str(&format!(
            "<li><a href=\"#{}\">{}</a></li>\n",
            packet_anchor(&section.packet.id),
            escape(&section.packet.id)
        ));
    }
    if unlisted {
        out.push_str("<li><a href=\"#unlisted\">Records not in the gate</a></li>\n");
    }
    out.push_str("<li><a href=\"#conditions\">Risks and acceptances</a></li>\n");
    out.push_str("<li><a href=\"#services\">Services</a></li>\n");
    out.push_str("<li><a href=\"#evidence\">Evidence</a></li>\n</ul></nav>\n");
}

/// Box and spacing of the packet graph, in SVG units.
const NODE_WIDTH: usize = 190;
const NODE_HEIGHT: usize = 58;
const GAP_X: usize = 34;
const GAP_Y: usize = 52;
const MARGIN: usize = 16;

/// The packet DAG as an inline SVG: one row per dependency depth (packets without
/// dependencies on top), packets in topological order within a row, arrows from each
/// dependency to its dependents, boxes coloured by status.
fn graph(out: &mut String, gate: &Gate, sections: &[PacketView<'_>]) {
    out.push_str("<section id=\"graph\">\n<h2>Packet graph</h2>\n");
    let order = crate::plan::topological(gate);
    if order.is_empty() {
        out.push_str("<p>No packets.</p>\n</section>\n");
        return;
    }
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rows: Vec<Vec<&str>> = Vec::new();
    for packet in &order {
        let level = packet
            .depends_on
            .iter()
            .filter_map(|dependency| depth.get(dependency.as_str()))
            .map(|level| level + 1)
            .max()
            .unwrap_or(0);
        depth.insert(&packet.id, level);
        if rows.len() <= level {
            rows.resize(level + 1, Vec::new());
        }
        rows[level].push(&packet.id);
    }
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1);
    let row_width = |count: usize| count * NODE_WIDTH + count.saturating_sub(1) * GAP_X;
    let width = 2 * MARGIN + row_width(widest);
    let height = 2 * MARGIN + rows.len() * NODE_HEIGHT + (rows.len() - 1) * GAP_Y;
    let mut position: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (level, row) in rows.iter().enumerate() {
        let left = MARGIN + (row_width(widest) - row_width(row.len())) / 2;
        for (index, id) in row.iter().enumerate() {
            position.insert(
                id,
                (
                    left + index * (NODE_WIDTH + GAP_X),
                    MARGIN + level * (NODE_HEIGHT + GAP_Y),
                ),
            );
        }
    }

    out.push_str(&format!(
        "<svg class=\"dag\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-labelledby=\"dag-title\">\n<title id=\"dag-title\">Packets and their \
         dependencies; arrows point from a dependency to the packets that wait for it</title>\n"
    ));
    out.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" \
         fill=\"#57606a\"/></marker></defs>\n",
    );
    for packet in &order {
        let Some(&(to_x, to_y)) = position.get(packet.id.as_str()) else {
            continue;
        };
        for dependency in &packet.depends_on {
            let Some(&(from_x, from_y)) = position.get(dependency.as_str()) else {
                continue;
            };
            let (x1, y1) = (from_x + NODE_WIDTH / 2, from_y + NODE_HEIGHT);
            let (x2, y2) = (to_x + NODE_WIDTH / 2, to_y);
            let bend = (y2 - y1) / 2;
            out.push_str(&format!(
                "<path class=\"edge\" data-from=\"{}\" data-to=\"{}\" d=\"M{x1},{y1} \
                 C{x1},{} {x2},{} {x2},{y2}\" fill=\"none\" stroke=\"#57606a\" \
                 stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>\n",
                escape(dependency),
                escape(&packet.id),
                y1 + bend,
                y2 - bend
            ));
        }
    }
    for packet in &order {
        let Some(&(x, y)) = position.get(packet.id.as_str()) else {
            continue;
        };
        let status = sections
            .iter()
            .find(|section| section.packet.id == packet.id)
            .and_then(PacketView::status);
        let label = status.map_or("PENDING", PacketStatus::label);
        let (fill, stroke, ink) = match status {
            Some(PacketStatus::Done) => ("#2da44e", "#1a7f37", "#ffffff"),
            Some(PacketStatus::ChangesRequested) => ("#cf222e", "#a40e26", "#ffffff"),
            Some(PacketStatus::Blocked) => ("#8c959f", "#57606a", "#ffffff"),
            Some(PacketStatus::Pending) | None => ("#d4a72c", "#9a6700", "#1f2328"),
        };
        let center = x + NODE_WIDTH / 2;
        out.push_str(&format!(
            "<a href=\"#{anchor}\"><g class=\"node status-{class}\" data-packet=\"{id}\">\
             <title>{id}: {title} — {label}</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{NODE_WIDTH}\" height=\"{NODE_HEIGHT}\" rx=\"7\" \
             fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"2\"/>\
             <text x=\"{center}\" y=\"{}\" text-anchor=\"middle\" fill=\"{ink}\" \
             font-family=\"system-ui, sans-serif\" font-size=\"14\" font-weight=\"700\">{id}</text>\
             <text x=\"{center}\" y=\"{}\" text-anchor=\"middle\" fill=\"{ink}\" \
             font-family=\"system-ui, sans-serif\" font-size=\"11\">{short}</text>\
             <text x=\"{center}\" y=\"{}\" text-anchor=\"middle\" fill=\"{ink}\" \
             font-family=\"system-ui, sans-serif\" font-size=\"11\" font-weight=\"700\">{label}\
             </text></g></a>\n",
            y + 18,
            y + 34,
            y + 50,
            anchor = packet_anchor(&packet.id),
            class = class_name(label),
            id = escape(&packet.id),
            title = escape(&packet.title),
            short = escape(&shorten(&packet.title, 28)),
            label = escape(label),
        ));
    }
    out.push_str("</svg>\n</section>\n");
}

/// `text` cut to `max` characters, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

fn packet_table(out: &mut String, sections: &[PacketView<'_>]) {
    out.push_str("<section id=\"packets\">\n<h2>Packets</h2>\n<table>\n");
    out.push_str(
        "<tr><th>Packet</th><th>Title</th><th>Status</th><th>Implementer</th>\
         <th>Reviewer</th><th>P0</th><th>P1</th><th>P2</th><th>Checks passed</th></tr>\n",
    );
    for section in sections {
        let packet = section.packet;
        let status = section.status().map_or("PENDING", PacketStatus::label);
        let passed = section
            .checks
            .iter()
            .filter(|(_, record)| record.is_some_and(|record| record.outcome == Outcome::Pass))
            .count();
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
            "<td>{passed} of {}</td></tr>\n",
            section.checks.len()
        ));
    }
    out.push_str("</table>\n</section>\n");
}

fn person(who: &Option<String>) -> String {
    who.as_deref().map_or("—".to_string(), escape)
}

fn status_badge(status: Option<PacketStatus>) -> String {
    let label = status.map_or("PENDING", PacketStatus::label);
    format!(
        "<span class=\"badge status-{}\">{}</span>",
        class_name(label),
        escape(label)
    )
}

fn gate_badge(result: Option<GateResult>) -> String {
    match result {
        Some(result) => format!(
            "<span class=\"badge gate-{}\">{}</span>",
            class_name(result.label()),
            escape(result.label())
        ),
        None => "—".to_string(),
    }
}

fn packet_section(out: &mut String, page: &Page<'_>, section: &PacketView<'_>) {
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
            let outcome = outcome_class(record.map(|record| record.outcome));
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
        check_block(out, page, &check.name(), Some(check), *record);
    }
    out.push_str("</section>\n");
}

fn packet_links(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("<a href=\"#{}\">{}</a>", packet_anchor(id), escape(id)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One check (or a record the gate does not list): what it is, how it came out, its log and
/// the log's tail. Failures are marked on the block itself, so nothing needs expanding to
/// see them; their tails start open.
fn check_block(
    out: &mut String,
    page: &Page<'_>,
    name: &str,
    check: Option<&Check>,
    record: Option<&CheckRecord>,
) {
    let outcome = outcome_class(record.map(|record| record.outcome));
    let severity = record
        .map(|record| record.severity)
        .or(check.map(|check| check.severity));
    let kind = match (record, check) {
        (Some(record), _) => case_kind(record.case_kind),
        (None, Some(check)) => spec_kind(check),
        (None, None) => "check",
    };
    out.push_str(&format!(
        "<article class=\"check outcome-{outcome}\" id=\"check-{}\" data-check=\"{}\">\n\
         <h4>{} <code>{}</code> <span class=\"sev\">{}</span> <span class=\"kind\">{}</span>\
         </h4>\n",
        escape(name),
        escape(name),
        outcome_badge(record.map(|record| record.outcome)),
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
fn process_end(record: &CheckRecord) -> String {
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
fn as_written(check: &Check) -> String {
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

fn spec_kind(check: &Check) -> &'static str {
    match check.kind {
        CheckKind::Command(_) => "command",
        CheckKind::Grep(_) => "grep",
        CheckKind::Probe(_) => "probe",
        CheckKind::Scan(_) => "scan",
    }
}

fn case_kind(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::Command => "command",
        CaseKind::Grep => "grep",
        CaseKind::Checklist => "checklist",
        CaseKind::Probe => "probe",
        CaseKind::Scan => "scan",
    }
}

/// A probe's cases: what was sent and what came back, failures first in colour.
fn cases(out: &mut String, record: &CheckRecord) {
    if record.cases.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"cases\">\n<tr><th>Case</th><th>Outcome</th><th>Message</th>\
         <th>Sent</th><th>Got</th></tr>\n",
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
    out.push_str("</table>\n");
}

/// A scan's findings with their triage from the verdict; findings the verdict does not hold
/// (a ledger without a verdict) are shown untriaged.
fn findings(out: &mut String, page: &Page<'_>, record: &CheckRecord) {
    let notes: Vec<&FindingNote> = page
        .findings
        .iter()
        .filter(|note| note.check == record.name)
        .collect();
    if notes.is_empty() && record.findings.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"findings\">\n<tr><th>Severity</th><th>Id</th><th>Rule</th>\
         <th>Title</th><th>Location</th><th>State</th><th>Acceptance</th></tr>\n",
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
    out.push_str("</table>\n");
}

/// The last lines of a log in a `<details>`, open for failures; a log that cannot be read is
/// said to be unreadable, in the open.
fn tail(out: &mut String, out_dir: &Path, log: &str, recorded_bytes: u64, open: bool) {
    match read_tail(out_dir, log) {
        Err(why) => out.push_str(&format!(
            "<p class=\"unreadable\">Output tail unavailable: {}</p>\n",
            escape(&why)
        )),
        Ok(tail) => {
            let shown = if tail.cut {
                format!(
                    "last {} lines of {} bytes",
                    tail.text.lines().count(),
                    tail.size
                )
            } else if tail.size == 0 {
                "empty".to_string()
            } else {
                format!("all {} bytes", tail.size)
            };
            if tail.size != recorded_bytes {
                out.push_str(&format!(
                    "<p class=\"unreadable\">The log is {} bytes now; the ledger recorded {} \
                     bytes: it changed after the run (<code>cargo xtask gate verify</code> \
                     names the difference).</p>\n",
                    tail.size, recorded_bytes
                ));
            }
            out.push_str(&format!(
                "<details class=\"output\"{}><summary>Output ({shown})</summary>\
                 <pre class=\"tail\">{}</pre></details>\n",
                if open { " open" } else { "" },
                escape(&tail.text)
            ));
        }
    }
}

/// The end of a log, redacted.
struct Tail {
    text: String,
    /// Whether lines before the shown ones were left out.
    cut: bool,
    /// Size of the whole log.
    size: u64,
}

/// The last [`TAIL_LINES`] lines of the log (at most [`TAIL_BYTES`] bytes, a partial first
/// line dropped), or why they cannot be shown.
fn read_tail(out_dir: &Path, log: &str) -> Result<Tail, String> {
    // The one confinement `verify` uses too: plain relative components, no symlink out.
    let path = crate::containment::resolve(out_dir, log)?;
    let unreadable = |err: std::io::Error| format!("cannot read {log}: {err}");
    let size = std::fs::metadata(&path).map_err(unreadable)?.len();
    let start = size.saturating_sub(TAIL_BYTES);
    let bytes = crate::exec::read_tail(&path, TAIL_BYTES as usize).map_err(unreadable)?;
    let mut kept: &[u8] = &bytes;
    if start > 0 {
        if let Some(newline) = kept.iter().position(|byte| *byte == b'\n') {
            kept = &kept[newline + 1..];
        }
    }
    let text = printable(&String::from_utf8_lossy(kept));
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let skipped = lines.len().saturating_sub(TAIL_LINES);
    let text = lines[skipped..].concat();
    Ok(Tail {
        text: crate::redaction::redact(&text).into_owned(),
        cut: start > 0 || skipped > 0,
        size,
    })
}

/// Terminal output made readable as text: colour sequences dropped, carriage returns as line
/// ends, other control characters as `�`.
fn printable(text: &str) -> String {
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                // A CSI sequence ends with a byte in @..~.
                for next in chars.by_ref() {
                    if ('@'..='~').contains(&next) {
                        break;
                    }
                }
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => clean.push('\n'),
            '\n' | '\t' => clean.push(c),
            c if c.is_control() => clean.push('\u{fffd}'),
            c => clean.push(c),
        }
    }
    clean
}

/// `logs/x.log` (linked) `12 bytes, sha256 ab…`.
fn log_ref(log: &str, bytes: u64, sha256: Option<&str>) -> String {
    format!(
        "{} ({bytes} bytes, sha256 {})",
        file_link(log),
        code(sha256.unwrap_or("unknown"))
    )
}

/// A link to a file of the out directory, relative to the page (which lives there too).
fn file_link(path: &str) -> String {
    let relative = Path::new(path);
    let inside = !path.is_empty()
        && relative
            .components()
            .all(|component| matches!(component, Component::Normal(_)));
    if !inside {
        return code(path);
    }
    // `./` keeps a first segment with a colon from reading as a URL scheme.
    format!(
        "<a href=\"./{}\">{}</a>",
        escape(&crate::sarif_report::uri_path(path)),
        code(path)
    )
}

fn unlisted(out: &mut String, page: &Page<'_>, unclaimed: &[&CheckRecord]) {
    if unclaimed.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"unlisted\">\n<h2>Records not in the gate</h2>\n<p>The ledger holds \
         these records, which no check or checklist item of the gate names.</p>\n",
    );
    for record in unclaimed {
        check_block(out, page, &record.name, None, Some(record));
    }
    out.push_str("</section>\n");
}

/// Residual risks and acceptances that did not apply.
fn conditions(out: &mut String, ledger: &Ledger) {
    out.push_str("<section id=\"conditions\">\n<h2>Risks and acceptances</h2>\n");
    let Some(verdict) = ledger.verdict() else {
        out.push_str("<p>No verdict record: residual risks and acceptances are unknown.</p>\n");
        out.push_str("</section>\n");
        return;
    };
    out.push_str("<h3>Residual risks</h3>\n");
    if verdict.residual_risks.is_empty() {
        out.push_str("<p>None.</p>\n");
    } else {
        out.push_str(
            "<table class=\"risks\">\n<tr><th>Check</th><th>Severity</th><th>State</th>\
             <th>Owner</th><th>Until</th><th>Reason</th></tr>\n",
        );
        for risk in &verdict.residual_risks {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                code(&risk.check),
                escape(risk.severity.as_str()),
                escape(&risk.state),
                person(&risk.owner),
                risk.until.as_deref().map_or("—".to_string(), escape),
                escape(&risk.reason),
            ));
        }
        out.push_str("</table>\n");
    }
    acceptances(
        out,
        "Expired acceptances (ignored)",
        "expired",
        &verdict.expired_acceptances,
    );
    acceptances(
        out,
        "Unused acceptances (matched no failure)",
        "unused",
        &verdict.unused_acceptances,
    );
    out.push_str("</section>\n");
}

fn acceptances(out: &mut String, heading: &str, class: &str, notes: &[AcceptanceNote]) {
    out.push_str(&format!("<h3>{}</h3>\n", escape(heading)));
    if notes.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    out.push_str(&format!(
        "<table class=\"acceptances {class}\">\n<tr><th>Accepts</th><th>Owner</th>\
         <th>Until</th><th>Gate file line</th></tr>\n"
    ));
    for note in notes {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&note.target),
            escape(&note.owner),
            escape(&note.until),
            note.line
        ));
    }
    out.push_str("</table>\n");
}

fn services(out: &mut String, page: &Page<'_>) {
    out.push_str("<section id=\"services\">\n<h2>Services</h2>\n");
    let records: Vec<&ServiceRecord> = page.ledger.services().collect();
    if records.is_empty() {
        out.push_str("<p>No services were started.</p>\n</section>\n");
        return;
    }
    for service in records {
        let outcome = if service.outcome == "ready" {
            "pass"
        } else {
            "fail"
        };
        out.push_str(&format!(
            "<article class=\"check service outcome-{outcome}\" data-service=\"{}\">\n<h4>\
             <span class=\"badge outcome-{outcome}\">{}</span> <code>{}</code> \
             <span class=\"kind\">{}</span></h4>\n<p class=\"message\">{}</p>\n\
             <dl class=\"facts\">\n",
            escape(&service.name),
            escape(&service.outcome),
            escape(&service.name),
            escape(&service.service_kind),
            escape(&service.message),
        ));
        meta(out, "Command", &code(&service.command));
        meta(
            out,
            "Address",
            &if service.url.is_empty() {
                "— (never started)".to_string()
            } else {
                code(&service.url)
            },
        );
        meta(
            out,
            "Ran",
            &format!(
                "{} to {}; ready after {}",
                escape(&service.started),
                escape(&service.stopped),
                escape(&duration(service.ready_ms))
            ),
        );
        if let Some(log) = &service.log {
            meta(
                out,
                "Log",
                &log_ref(log, service.bytes, service.sha256.as_deref()),
            );
        }
        out.push_str("</dl>\n");
        if let Some(log) = &service.log {
            tail(out, page.out_dir, log, service.bytes, outcome == "fail");
        }
        out.push_str("</article>\n");
    }
    out.push_str("</section>\n");
}

fn evidence(out: &mut String, gate: &Gate, ledger: &Ledger) {
    out.push_str("<section id=\"evidence\">\n<h2>Evidence</h2>\n<dl class=\"facts\">\n");
    meta(out, "Ledger", &file_link(LEDGER_FILE));
    match ledger.header() {
        Some(header) => {
            meta(
                out,
                "Gate file",
                &format!(
                    "{} (sha256 {})",
                    code(&header.gate_file),
                    code(&header.gate_sha256)
                ),
            );
            if header.gate_sha256 != gate.sha256 {
                meta(
                    out,
                    "Warning",
                    &format!(
                        "the gate file read for this page has sha256 {}: titles and commands \
                         as written may differ from the run's",
                        code(&gate.sha256)
                    ),
                );
            }
            meta(
                out,
                "Git commit",
                &crate::tracker::commit_with(header, code),
            );
            meta(out, "Run id", &code(&header.run_id));
            meta(out, "Mode", &code(&header.mode));
            meta(out, "Started", &escape(&header.started));
            meta(out, "Host", &code(&header.host));
            meta(out, "relgate version", &code(&header.relgate_version));
        }
        None => meta(
            out,
            "Header",
            "none: gate file, commit and run id are unknown",
        ),
    }
    out.push_str("</dl>\n</section>\n");
}

/// Inline code.
fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}

/// `PASS`, `FAIL`… as a badge; `NO RECORD` without a record.
fn outcome_badge(outcome: Option<Outcome>) -> String {
    format!(
        "<span class=\"badge outcome-{}\">{}</span>",
        outcome_class(outcome),
        outcome.map_or("NO RECORD", Outcome::label)
    )
}

/// `pass`, `fail`, `error`, `skipped`, or `missing` without a record.
fn outcome_class(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Pass) => "pass",
        Some(Outcome::Fail) => "fail",
        Some(Outcome::Error) => "error",
        Some(Outcome::Skipped) => "skipped",
        None => "missing",
    }
}

/// A label as a class name: `NO_GO` → `no_go`, anything outside `[a-z0-9_-]` as `-`.
fn class_name(label: &str) -> String {
    label
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The element id of a packet's section.
fn packet_anchor(id: &str) -> String {
    format!("packet-{}", escape(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Decision, Record, RunHeader};
    use crate::verdict::{self, Stage};

    const GATE: &str = r#"
[gate]
name = "Fixture <gate>"

[[packet]]
id = "SEC-00"
title = "Build"
checklist = [ { item = "Builds & <links>.", by = ["build"] } ]
[[packet.check]]
id = "build"
run = "echo built"

[[packet]]
id = "SEC-01"
title = "Tenant isolation"
depends_on = ["SEC-00"]
implementer = "alice"
[[packet.check]]
id = "boom"
run = "echo boom; exit 3"

[[packet]]
id = "SEC-02"
title = "Final"
depends_on = ["SEC-01"]
[[packet.check]]
id = "final"
run = "true"
"#;

    fn record(packet: &str, check: &str, outcome: Outcome, message: &str) -> CheckRecord {
        CheckRecord {
            packet: packet.into(),
            check: check.into(),
            name: format!("{packet}::{check}"),
            case_kind: CaseKind::Command,
            argv: vec!["sh".into(), "-c".into(), "echo".into()],
            cwd: "/repo".into(),
            started: "2026-02-09T10:00:01.000Z".into(),
            ended: "2026-02-09T10:00:02.000Z".into(),
            duration_ms: 1000,
            exit_code: Some(if outcome == Outcome::Pass { 0 } else { 3 }),
            signal: None,
            timed_out: false,
            log: Some(format!("logs/{packet}/{check}.log")),
            bytes: 5,
            sha256: Some("ab".repeat(32)),
            outcome,
            severity: Severity::P0,
            message: message.into(),
            notes: Vec::new(),
            cases: Vec::new(),
            findings: Vec::new(),
            report: None,
            report_sha256: None,
            leaked: Vec::new(),
        }
    }

    fn fixture() -> (Gate, Ledger) {
        let gate = crate::spec::parse(Path::new("packets.toml"), GATE).expect("gate parses");
        let mut skipped = record("SEC-02", "final", Outcome::Skipped, "blocked by SEC-01");
        skipped.log = None;
        let checks = vec![
            record("SEC-00", "build", Outcome::Pass, "exit 0"),
            record(
                "SEC-01",
                "boom",
                Outcome::Fail,
                "exit 3 <script>alert(1)</script>",
            ),
            skipped,
        ];
        let today = chrono::NaiveDate::from_ymd_opt(2026, 2, 9).unwrap();
        let verdict = verdict::decide(&gate, &checks, today, Stage::Final);
        let mut records = vec![Record::Header(RunHeader {
            gate: gate.name.clone(),
            gate_file: "packets.toml".into(),
            gate_sha256: gate.sha256.clone(),
            git_head: Some("6ba41c7".into()),
            git_dirty: Some(true),
            relgate_version: "0.1.0".into(),
            started: "2026-02-09T10:00:00.000Z".into(),
            host: "ci".into(),
            run_id: "run-0001".into(),
            mode: "xtask".into(),
        })];
        records.extend(checks.into_iter().map(Record::Check));
        records.extend(verdict.packets.iter().cloned().map(Record::Packet));
        records.push(Record::Verdict(verdict.record.clone()));
        (gate, Ledger { records })
    }

    fn page(out_dir: &Path) -> String {
        let (gate, ledger) = fixture();
        render(&gate, &ledger, out_dir)
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn user_text_is_escaped() {
        let html = page(Path::new("/nonexistent"));
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("exit 3 &lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("<h1>Fixture &lt;gate&gt;</h1>"), "{html}");
        assert!(html.contains("Builds &amp; &lt;links&gt;."), "{html}");
    }

    #[test]
    fn the_verdict_is_shown_with_its_colour_class() {
        let html = page(Path::new("/nonexistent"));
        assert!(
            html.contains(
                "<p id=\"verdict\" class=\"verdict decision-no_go\"><span class=\"label\">\
                 Verdict</span>NO_GO</p>"
            ),
            "{html}"
        );
        assert_eq!(
            class_name(Decision::GoWithConditions.label()),
            "go_with_conditions"
        );
        assert!(html.contains("6ba41c7</code> (dirty tree)"), "{html}");
        assert!(html.contains("run-0001"), "{html}");
    }

    #[test]
    fn a_failing_check_carries_the_fail_class_and_its_tail_is_open() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs/SEC-01")).unwrap();
        std::fs::write(dir.path().join("logs/SEC-01/boom.log"), "boom\n").unwrap();
        let html = page(dir.path());
        assert!(
            html.contains(
                "<article class=\"check outcome-fail\" id=\"check-SEC-01::boom\" \
                 data-check=\"SEC-01::boom\">"
            ),
            "{html}"
        );
        assert!(
            html.contains("<details class=\"output\" open><summary>Output (all 5 bytes)"),
            "{html}"
        );
        assert!(html.contains("<pre class=\"tail\">boom\n</pre>"), "{html}");
        assert!(html.contains("data-check=\"SEC-00::build\""), "{html}");
        assert!(
            html.contains("<article class=\"check outcome-skipped\""),
            "{html}"
        );
    }

    #[test]
    fn a_missing_log_is_said_to_be_missing() {
        let html = page(Path::new("/nonexistent"));
        assert!(
            html.contains("Output tail unavailable: cannot read logs/SEC-01/boom.log"),
            "{html}"
        );
    }

    #[test]
    fn the_tail_keeps_the_last_lines_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = String::new();
        for line in 0..100 {
            log.push_str(&format!("line {line}\n"));
        }
        log.push_str("\u{1b}[31mred\u{1b}[0m AKIAIOSFODNN7EXAMPLE\n");
        std::fs::write(dir.path().join("x.log"), &log).unwrap();
        let tail = read_tail(dir.path(), "x.log").unwrap();
        assert!(tail.cut);
        assert_eq!(tail.text.lines().count(), TAIL_LINES);
        assert!(tail.text.starts_with("line 61\n"), "{}", tail.text);
        assert!(tail.text.contains("red "), "{}", tail.text);
        assert!(!tail.text.contains('\u{1b}'), "{}", tail.text);
        assert!(!tail.text.contains("AKIAIOSFODNN7EXAMPLE"), "{}", tail.text);
        assert!(read_tail(dir.path(), "../x.log").is_err());
        assert!(read_tail(dir.path(), "/etc/passwd").is_err());
    }

    #[test]
    fn the_page_is_self_contained() {
        let html = page(Path::new("/nonexistent"));
        for needle in ["src=", "http://", "https://", "@import", "url(http"] {
            assert!(!html.contains(needle), "{needle} in {html}");
        }
        assert!(html.contains("Content-Security-Policy"));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn the_graph_has_a_box_per_packet_and_an_arrow_per_dependency() {
        let html = page(Path::new("/nonexistent"));
        assert_eq!(html.matches("<g class=\"node ").count(), 3, "{html}");
        assert_eq!(html.matches("<path class=\"edge\"").count(), 2, "{html}");
        assert!(html.contains("data-from=\"SEC-00\" data-to=\"SEC-01\""));
        assert!(html.contains("<g class=\"node status-changes_requested\" data-packet=\"SEC-01\""));
        assert!(html.contains("<g class=\"node status-blocked\" data-packet=\"SEC-02\""));
    }

    const RICH_GATE: &str = r#"
[gate]
name = "Rich"

[[packet]]
id = "SEC-01"
title = "Secrets and dependencies"
[[packet.check]]
id = "no-committed-secrets"
probe = "secrets"
severity = "P2"
[[packet.check]]
id = "cargo-audit"
scan = { run = "cargo audit --json > {report}", format = "cargo-audit" }
severity = "P1"

[[accept]]
finding = "RUSTSEC-2023-0071"
owner = "erin"
until = "2099-12-31"
reason = "test keys only"

[[accept]]
check = "SEC-01::no-committed-secrets"
owner = "dana"
until = "2020-01-31"
reason = "expired long ago"
"#;

    /// A probe with cases, a scan with an accepted and a tracked finding, a service, an
    /// expired acceptance and a record the gate does not list.
    fn rich_page(out_dir: &Path) -> String {
        let gate = crate::spec::parse(Path::new("packets.toml"), RICH_GATE).expect("gate parses");
        let mut probe = record(
            "SEC-01",
            "no-committed-secrets",
            Outcome::Fail,
            "1 of 2 cases failed: no-secrets",
        );
        probe.case_kind = CaseKind::Probe;
        probe.argv = Vec::new();
        probe.exit_code = None;
        probe.severity = Severity::P2;
        probe.cases = vec![
            crate::evidence::ProbeCase {
                name: "controls".into(),
                outcome: CaseOutcome::Pass,
                message: "every canary found".into(),
                sent: "scan of 3 files".into(),
                got: "3 of 3 canaries".into(),
            },
            crate::evidence::ProbeCase {
                name: "no-secrets".into(),
                outcome: CaseOutcome::Fail,
                message: "config/dev.env:3 <generic-secret>".into(),
                sent: "scan of the tree".into(),
                got: "1 finding".into(),
            },
        ];
        let mut audit = record(
            "SEC-01",
            "cargo-audit",
            Outcome::Fail,
            "2 findings in the cargo-audit report",
        );
        audit.case_kind = CaseKind::Scan;
        audit.severity = Severity::P1;
        audit.exit_code = Some(1);
        audit.report = Some("reports/SEC-01/cargo-audit.json".into());
        audit.report_sha256 = Some("cd".repeat(32));
        let finding = |id: &str, severity: Severity| crate::scan::Finding {
            id: id.into(),
            rule: "vulnerability".into(),
            severity,
            scanner_severity: "high".into(),
            title: format!("{id} title"),
            location: Some("rsa@0.9.8".into()),
            fingerprint: format!("fp-{id}"),
        };
        audit.findings = vec![
            finding("RUSTSEC-2023-0071", Severity::P1),
            finding("RUSTSEC-2024-0436", Severity::P2),
        ];
        let stray = record("SEC-09", "stray", Outcome::Error, "spawn failed");
        let checks = vec![probe, audit, stray];
        let today = chrono::NaiveDate::from_ymd_opt(2026, 2, 9).unwrap();
        let verdict = verdict::decide(&gate, &checks, today, Stage::Final);
        let mut records = vec![Record::Service(crate::evidence::ServiceRecord {
            name: "db".into(),
            service_kind: "postgres-ephemeral".into(),
            command: "initdb && postgres".into(),
            url: "postgres://postgres@127.0.0.1:5999/relgate".into(),
            started: "2026-02-09T10:00:00.000Z".into(),
            ready_ms: 1500,
            stopped: "2026-02-09T10:01:00.000Z".into(),
            outcome: "ready".into(),
            message: "stopped".into(),
            log: Some("logs/services/db.log".into()),
            bytes: 10,
            sha256: Some("ef".repeat(32)),
        })];
        records.extend(checks.into_iter().map(Record::Check));
        records.extend(verdict.packets.iter().cloned().map(Record::Packet));
        records.push(Record::Verdict(verdict.record.clone()));
        render(&gate, &Ledger { records }, out_dir)
    }

    #[test]
    fn cases_findings_risks_acceptances_and_services_are_shown() {
        let html = rich_page(Path::new("/nonexistent"));
        assert!(html.contains("decision-go_with_conditions"), "{html}");
        assert!(
            html.contains("<tr class=\"case case-fail\" data-case=\"no-secrets\">"),
            "{html}"
        );
        assert!(
            html.contains("config/dev.env:3 &lt;generic-secret&gt;"),
            "{html}"
        );
        assert!(html.contains("1 of 2 cases refused or held."), "{html}");
        assert!(
            html.contains("<tr class=\"finding state-accepted\">"),
            "{html}"
        );
        assert!(
            html.contains("<tr class=\"finding state-tracked\">"),
            "{html}"
        );
        assert!(html.contains("<td>erin</td><td>2099-12-31</td>"), "{html}");
        assert!(html.contains(
            "<td>check SEC-01::no-committed-secrets</td><td>dana</td><td>2020-01-31</td>"
        ));
        assert!(html.contains("data-service=\"db\""), "{html}");
        assert!(html.contains("<section id=\"unlisted\">"), "{html}");
        assert!(
            html.contains("<article class=\"check outcome-error\" id=\"check-SEC-09::stray\""),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"./reports/SEC-01/cargo-audit.json\">"),
            "{html}"
        );
    }

    #[test]
    fn rendering_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs/SEC-00")).unwrap();
        std::fs::write(dir.path().join("logs/SEC-00/build.log"), "built\n").unwrap();
        assert_eq!(page(dir.path()), page(dir.path()));
    }
}
