//! The page skeleton: `<head>` with the inline style sheet and the CSP, the header with the
//! verdict and run facts, the table of contents.

use std::collections::BTreeMap;

use super::{class_name, code, escape, meta, packet_anchor};
use crate::evidence::{Ledger, Outcome};
use crate::report::view::PacketView;
use crate::spec::Gate;

pub(super) const STYLE: &str = "
:root { --pass: #1a7f37; --fail: #cf222e; --error: #bc4c00; --skipped: #59636e;
  --pending: #9a6700; --amber: #d4a72c; --ink: #1f2328; --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif;
  color: var(--ink); background: #f6f8fa; }
header, main, nav, footer { max-width: 1200px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 16px; }
h1 { margin: 8px 0; font-size: 26px; }
h2 { margin: 28px 0 10px; font-size: 21px; border-bottom: 1px solid var(--line); }
h3 { margin: 18px 0 8px; font-size: 17px; }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { overflow-wrap: anywhere; }
.verdict { display: inline-block; margin: 8px 0; padding: 10px 22px; border-radius: 8px;
  color: #fff; font-size: 28px; font-weight: 700; letter-spacing: 0.04em; }
.verdict .label { font-size: 14px; font-weight: 400; margin-right: 12px; }
.decision-go { background: var(--pass); }
.decision-go_with_conditions { background: var(--amber); color: var(--ink); }
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
.badge.outcome-flaky { background: var(--amber); color: var(--ink); }
section.packet { margin-top: 28px; }
.check { background: #fff; border: 1px solid var(--line); border-left: 6px solid var(--pass);
  border-radius: 6px; margin: 10px 0; padding: 8px 12px; }
.check.outcome-fail { border-left-color: var(--fail); background: #fff5f5; }
.check.outcome-error { border-left-color: var(--error); background: #fff8f0; }
.check.outcome-skipped { border-left-color: var(--skipped); }
.check.outcome-missing { border-left-color: var(--pending); }
.check.outcome-flaky { border-left-color: var(--amber); background: #fff8e1; }
table.attempts caption { text-align: left; color: var(--muted); }
.check-title { margin: 0 0 4px; font-size: 15px; display: flex; flex-wrap: wrap; gap: 8px;
  align-items: center; }
.check .message { margin: 4px 0; font-weight: 600; }
.check.outcome-fail .message, .check.outcome-error .message { color: #82071e; }
.sev, .kind { color: var(--muted); font-weight: 400; font-size: 13px; }
details { margin: 6px 0; }
summary { cursor: pointer; color: #0969da; }
pre.tail { margin: 6px 0; padding: 8px; max-height: 32em; overflow: auto; background: var(--ink);
  color: #e6edf3; border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
.unreadable { color: var(--error); font-style: italic; }
ul.checklist { list-style: none; padding-left: 0; }
ul.checklist li { margin: 3px 0; }
.tick { display: inline-block; width: 1.4em; font-weight: 700; }
.item.outcome-pass .tick { color: var(--pass); }
.item.outcome-fail .tick, .item.outcome-error .tick { color: var(--fail); }
.item.outcome-skipped .tick, .item.outcome-missing .tick { color: var(--skipped); }
.item.outcome-flaky .tick { color: var(--pending); }
svg.dag { display: block; max-width: 100%; height: auto; background: #fff;
  border: 1px solid var(--line); border-radius: 6px; }
footer { margin: 36px auto 24px; color: var(--muted); font-size: 13px; }
";

pub(super) fn head(out: &mut String, gate: &Gate, ledger: &Ledger) {
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
        "<title>{}</title>\n",
        escape(&page_title(decision, &gate.name))
    ));
    out.push_str(&format!("<style>{STYLE}</style>\n</head>\n"));
}

/// A title is at most this many UTF-16 code units long (what a browser tab or a history entry
/// shows, and html-validate's `long-title` limit); the heading holds the whole name.
pub(super) const TITLE_MAX: usize = 70;

/// `NO_GO — Release gate — relgate report`; for a long gate name the suffix goes, then the name
/// is cut with `…` (between words where it has spaces), so the verdict always shows and the
/// title stays within [`TITLE_MAX`].
pub(super) fn page_title(decision: &str, name: &str) -> String {
    let full = format!("{decision} — {name} — relgate report");
    if utf16_len(&full) <= TITLE_MAX {
        return full;
    }
    let lead = format!("{decision} — ");
    let room = TITLE_MAX.saturating_sub(utf16_len(&lead));
    if utf16_len(name) <= room {
        return format!("{lead}{name}");
    }
    let mut kept = String::new();
    let mut used = 0;
    for c in name.chars() {
        // One unit is kept for the `…`.
        if used + c.len_utf16() + 1 > room {
            // Cut between words when the name has a space to cut at.
            if !c.is_whitespace() {
                if let Some(space) = kept.rfind(char::is_whitespace) {
                    kept.truncate(space);
                }
            }
            break;
        }
        used += c.len_utf16();
        kept.push(c);
    }
    format!("{lead}{}…", kept.trim_end())
}

/// Length as JavaScript counts it.
fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

pub(super) fn header(out: &mut String, gate: &Gate, ledger: &Ledger) {
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
                &crate::report::view::commit_with(header, code),
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

/// `7 cases: 4 PASS, 2 FAIL, 1 SKIPPED`.
pub(super) fn case_counts(ledger: &Ledger) -> String {
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

pub(super) fn contents(out: &mut String, sections: &[PacketView<'_>], unlisted: bool) {
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
