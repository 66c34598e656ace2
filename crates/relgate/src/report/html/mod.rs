//! The HTML page `report.html`: the run for people, one self-contained file.
//!
//! Like [`super::tracker`], titles, checklist texts, dependencies, people and commands as
//! written come from the gate and every fact comes from the ledger; in addition the page shows
//! the tail of each log, read from the out directory (already redacted by the runner, and
//! passed through [`crate::output::redaction::redact`] once more). The page loads nothing: styles are
//! inline, the packet graph is an inline SVG drawn here, expandable parts are `<details>`, there
//! is no script, and a Content-Security-Policy forbids every fetch. Every string is escaped
//! with [`escape`].

mod attempts;
mod graph;
mod logs;
mod packets;
mod page;
mod run;

use std::path::{Path, PathBuf};

use graph::graph;
use packets::{packet_section, packet_table};
use page::{contents, head, header};
use run::{conditions, evidence, services, unlisted};

use crate::evidence::{CheckRecord, FindingNote, Ledger, Outcome, LEDGER_FILE};
use crate::report::view::ReportView;
use crate::spec::Gate;

/// File name inside the out directory.
pub const HTML_FILE: &str = "report.html";

/// Renders report.html from the gate, the run's ledger and the logs under `out_dir` (only the
/// last 8 KiB of each are read; a missing or unreadable log is shown as such). No
/// clock: the same inputs give the same page.
pub fn render(gate: &Gate, ledger: &Ledger, out_dir: &Path) -> String {
    render_view(&ReportView::new(gate, ledger, out_dir))
}

/// Renders report.html from the view: the gate, the run's ledger and the logs under its out
/// directory. No clock: the same inputs give the same page.
pub fn render_view(view: &ReportView<'_>) -> String {
    let (gate, ledger, out_dir) = (view.gate, view.ledger, view.out_dir);
    let (sections, unclaimed) = (&view.packets, &view.unclaimed);
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
    contents(&mut out, sections, !unclaimed.is_empty());
    out.push_str("<main>\n");
    graph(&mut out, gate, sections);
    packet_table(&mut out, sections);
    for section in sections {
        packet_section(&mut out, &page, section);
    }
    unlisted(&mut out, &page, unclaimed);
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

/// Renders ([`render_view`]) and writes `out_dir/report.html` redacted and atomically ([`crate::output::redaction::write_report`]); returns its
/// path.
pub fn write_view(view: &ReportView<'_>) -> std::io::Result<PathBuf> {
    let path = view.out_dir.join(HTML_FILE);
    crate::output::redaction::write_report(&path, render_view(view).as_bytes())?;
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
    pub(super) ledger: &'a Ledger,
    pub(super) out_dir: &'a Path,
    /// The verdict's triaged scanner findings.
    pub(super) findings: &'a [FindingNote],
}

pub(super) fn meta(out: &mut String, name: &str, value_html: &str) {
    out.push_str(&format!("<dt>{}</dt><dd>{value_html}</dd>\n", escape(name)));
}

/// Inline code.
pub(super) fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}

/// `PASS`, `FAIL`… as a badge; `NO RECORD` without a record.
pub(super) fn outcome_badge(outcome: Option<Outcome>) -> String {
    format!(
        "<span class=\"badge outcome-{}\">{}</span>",
        outcome_class(outcome),
        outcome.map_or("NO RECORD", Outcome::label)
    )
}

/// The badge of a check's record: its outcome, or FLAKY for a pass after failed attempts (a
/// condition of the release, never shown as a clean pass).
pub(super) fn record_badge(record: Option<&CheckRecord>) -> String {
    match record {
        Some(record) if record.is_flaky() => {
            "<span class=\"badge outcome-flaky\">FLAKY</span>".to_string()
        }
        _ => outcome_badge(record.map(|record| record.outcome)),
    }
}

/// [`outcome_class`] of a check's record, `flaky` for a pass after failed attempts.
pub(super) fn record_class(record: Option<&CheckRecord>) -> &'static str {
    match record {
        Some(record) if record.is_flaky() => "flaky",
        _ => outcome_class(record.map(|record| record.outcome)),
    }
}

/// `pass`, `fail`, `error`, `skipped`, or `missing` without a record.
pub(super) fn outcome_class(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Pass) => "pass",
        Some(Outcome::Fail) => "fail",
        Some(Outcome::Error) => "error",
        Some(Outcome::Skipped) => "skipped",
        None => "missing",
    }
}

/// A label as a class name: `NO_GO` → `no_go`, anything outside `[a-z0-9_-]` as `-`.
pub(super) fn class_name(label: &str) -> String {
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

/// The element id of a packet's section: `packet-SEC-00`.
pub(super) fn packet_anchor(id: &str) -> String {
    element_id("packet-", id)
}

/// The element id of a check's article: `check-SEC-00__build` for `SEC-00::build`.
pub(super) fn check_anchor(name: &str) -> String {
    element_id("check-", name)
}

/// `prefix` (which starts with a letter) and `name` as an element id that a CSS selector and
/// html-validate's `valid-id` take as it is: ASCII letters, digits and `-` kept, `::` as `__`,
/// every other byte as `_` and two upper-case hex digits (`.` → `_2E`, `_` → `_5F`). Injective,
/// so two names never share an id.
pub(super) fn element_id(prefix: &str, name: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + name.len());
    id.push_str(prefix);
    let bytes = name.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if bytes[index..].starts_with(b"::") {
            id.push_str("__");
            index += 2;
            continue;
        }
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            id.push(char::from(byte));
        } else {
            id.push_str(&format!("_{byte:02X}"));
        }
        index += 1;
    }
    id
}

#[cfg(test)]
mod tests;
