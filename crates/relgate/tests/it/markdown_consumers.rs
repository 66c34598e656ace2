//! tracker.md and the CI step summary as GitHub's renderer reads them: cmark-gfm (the pinned
//! PyPI package `cmarkgfm`, through `tests/consumers/markdown_text.py`, which renders with
//! GitHub's extensions and reads the HTML with Python's html.parser), for both report fixtures
//! (`support/fixture.rs`, and `support/nasty.rs` whose every text holds Markdown's and HTML's
//! special characters and line breaks).
//!
//! Asserted on the rendered HTML: every text the report takes from the gate or the ledger shows
//! as exactly that text (line breaks as spaces, white space as a reader sees it), no text
//! became markup (no element but those the reports write, no HTML comment), every table row
//! has its table's columns in the HTML and in its source line, and every link to an anchor of
//! the document names the anchor GitHub gives one of its headings.
//!
//! Where python3 or cmarkgfm at the pinned version is missing the tests print `skipped: <why>`;
//! with `RELGATE_REQUIRE_TOOLS` set (as `.ci/run` does) that is a failure instead.

use std::io::Write;
use std::process::{Command, Stdio};

use relgate::evidence::{CaseKind, CaseOutcome, Ledger, Outcome};
use relgate::report::tracker;
use relgate::report::view::command_line;
use relgate::spec::{CheckKind, Gate, Satisfaction};
use serde::Deserialize;

use crate::support::sarif_consumer::{skip, workspace};
use crate::support::{fixture, nasty};

/// The script, relative to the workspace root.
const SCRIPT: &str = "tests/consumers/markdown_text.py";

/// The elements tracker.md and the summary are made of; any other element is text that became
/// markup.
const ELEMENTS: &[&str] = &[
    "a", "code", "h1", "h2", "h3", "hr", "input", "li", "ol", "p", "pre", "strong", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
];

/// What `markdown_text.py` reports (see the script).
#[derive(Debug, Deserialize)]
struct Rendered {
    blocks: Vec<(String, String)>,
    tags: Vec<String>,
    comments: usize,
    rows: Vec<(usize, usize, usize)>,
    headings: Vec<(u8, String, String)>,
    links: Vec<String>,
}

/// The pinned cmarkgfm version, from `tests/consumers/requirements.txt`.
fn pinned_version() -> String {
    let path = workspace().join("tests/consumers/requirements.txt");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    text.lines()
        .find_map(|line| line.trim().strip_prefix("cmarkgfm=="))
        .unwrap_or_else(|| panic!("{} pins no cmarkgfm", path.display()))
        .trim()
        .to_string()
}

/// `markdown` rendered by cmark-gfm and read back; `None` (after `skip`) when python3 or the
/// pinned cmarkgfm is missing.
fn render(markdown: &str) -> Option<Rendered> {
    let pin = pinned_version();
    let probe = Command::new("python3")
        .args([
            "-c",
            "import importlib.metadata, sys, cmarkgfm; print(importlib.metadata.version('cmarkgfm'))",
        ])
        .output();
    let found = match probe {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        }
        _ => {
            skip(&format!("Markdown consumers: python3 with cmarkgfm=={pin} is not available (`cargo xtask gate setup --tool python-consumers`)"));
            return None;
        }
    };
    if found != pin {
        skip(&format!(
            "Markdown consumers: cmarkgfm is {found}, the tests pin {pin} (`cargo xtask gate setup --tool python-consumers`)"
        ));
        return None;
    }
    let mut child = Command::new("python3")
        .arg(workspace().join(SCRIPT))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(markdown.as_bytes())
        .expect("the document is written to the script");
    let output = child.wait_with_output().expect("the script finishes");
    assert!(
        output.status.success(),
        "{SCRIPT} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).expect("the script prints its JSON"))
}

/// Text as a reader sees it: line breaks and runs of white space as one space, none at the ends.
fn seen(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A text a report shows: what it is, the text, and whether it is shown only inside a review
/// record (a code block).
struct Field {
    what: String,
    text: String,
    record_only: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Report {
    Tracker,
    Summary,
}

/// Every text `report` takes from the gate and the ledger.
fn fields(gate: &Gate, ledger: &Ledger, report: Report) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut add = |what: &str, text: &str| {
        fields.push(Field {
            what: what.to_string(),
            text: text.to_string(),
            record_only: false,
        })
    };
    add("gate name", &gate.name);
    if let Some(plan) = &gate.plan_link {
        add("plan", plan);
    }
    for packet in &gate.packets {
        add("packet id", &packet.id);
        add("packet title", &packet.title);
        for person in [&packet.implementer, &packet.reviewer]
            .into_iter()
            .flatten()
        {
            add("implementer or reviewer", person);
        }
    }
    let verdict = ledger.verdict().expect("a verdict record");
    for reason in &verdict.reasons {
        add("verdict reason", reason);
    }
    for risk in &verdict.residual_risks {
        add("residual risk check", &risk.check);
        add("residual risk state", &risk.state);
        add("residual risk reason", &risk.reason);
        for text in [&risk.owner, &risk.until].into_iter().flatten() {
            add("residual risk owner or date", text);
        }
    }
    for note in verdict
        .expired_acceptances
        .iter()
        .chain(&verdict.unused_acceptances)
    {
        add("acceptance target", &note.target);
        add("acceptance owner", &note.owner);
    }
    let header = ledger.header().expect("a header record");
    for text in [
        &header.gate_file,
        &header.gate_sha256,
        &header.run_id,
        &header.mode,
        &header.started,
        &header.host,
        &header.relgate_version,
    ] {
        add("run header", text);
    }
    for service in ledger.services() {
        add("service name", &service.name);
        add("service kind", &service.service_kind);
        add("service outcome", &service.outcome);
        add("service message", &service.message);
        if let Some(log) = &service.log {
            add("service log", log);
        }
    }
    if report == Report::Summary {
        return fields;
    }

    for packet in &gate.packets {
        for item in &packet.checklist {
            add("checklist item", &item.text);
            match &item.satisfied_by {
                Satisfaction::Checks(ids) => ids.iter().for_each(|id| add("check id", id)),
                Satisfaction::Attested { by, .. } => add("attested by", by),
            }
        }
        for check in &packet.checks {
            let record = ledger
                .checks()
                .find(|record| record.name == check.name() && !record.argv.is_empty());
            let shown =
                |display: &str| record.map_or(display.to_string(), |r| command_line(&r.argv));
            match &check.kind {
                CheckKind::Command(command) => add("command", &shown(&command.display)),
                CheckKind::Scan(scan) => add("scan command", &shown(&scan.command.display)),
                CheckKind::Grep(grep) => {
                    add("grep pattern", grep.pattern.as_str());
                    grep.files.iter().for_each(|files| add("grep files", files));
                }
                CheckKind::Probe(probe) => {
                    add("probe", &probe.kind);
                    add("probe check id", &check.id);
                }
            }
        }
    }
    for record in ledger.checks() {
        let claimed = gate.packet(&record.packet).is_some();
        if !claimed {
            add("unclaimed record", &record.name);
        }
        if record.outcome != Outcome::Pass && record.case_kind != CaseKind::Grep {
            add("record message", &record.message);
        }
        if claimed && record.case_kind != CaseKind::Checklist {
            record
                .notes
                .iter()
                .for_each(|note| add("record note", note));
        }
        for path in [&record.log, &record.report].into_iter().flatten() {
            add("log or report", path);
        }
        for case in &record.cases {
            if case.outcome != CaseOutcome::Pass {
                add("case name", &case.name);
                add("case message", &case.message);
            }
        }
    }
    for note in &verdict.findings {
        add("finding id", &note.id);
        add("finding title", &note.title);
        add("finding state", &note.state);
        for text in [&note.location, &note.acceptance].into_iter().flatten() {
            add("finding location or acceptance", text);
        }
    }
    let mut record_only = Vec::new();
    for packet in ledger.packets() {
        packet
            .reasons
            .iter()
            .for_each(|reason| add("packet reason", reason));
        let Some(review) = &packet.review else {
            continue;
        };
        add("review state", &review.state);
        if let Some(signed) = &review.review {
            record_only.push(("signed reviewer", signed.reviewer.clone()));
            record_only.push(("review note", signed.note.clone()));
            record_only.push(("review key", signed.key.clone()));
            for finding in &signed.findings {
                record_only.push(("review finding", finding.clone()));
            }
        }
        for note in &review.notes {
            record_only.push(("review state note", note.clone()));
        }
    }
    fields.extend(record_only.into_iter().map(|(what, text)| Field {
        what: what.to_string(),
        text,
        record_only: true,
    }));
    fields
}

/// Renders `markdown` and asserts what the module says; `what` names it in failures.
fn assert_renders(what: &str, markdown: &str, fields: &[Field]) {
    let Some(rendered) = render(markdown) else {
        return;
    };
    let problems = problems(&rendered, fields);
    assert!(
        problems.is_empty(),
        "{what} as GitHub renders it:\n  {}\n{markdown}",
        problems.join("\n  ")
    );
}

/// What is wrong with `rendered`, one line per problem.
fn problems(rendered: &Rendered, fields: &[Field]) -> Vec<String> {
    let mut problems = Vec::new();
    let foreign: Vec<&String> = rendered
        .tags
        .iter()
        .filter(|tag| !ELEMENTS.contains(&tag.as_str()))
        .collect();
    if !foreign.is_empty() || rendered.comments > 0 {
        problems.push(format!(
            "text became markup: elements {foreign:?}, {} HTML comments",
            rendered.comments
        ));
    }

    let blocks: Vec<(bool, String)> = rendered
        .blocks
        .iter()
        .map(|(tag, text)| (tag == "pre", seen(text)))
        .collect();
    for field in fields {
        let text = seen(&field.text);
        let shown = blocks
            .iter()
            .any(|(pre, block)| *pre == field.record_only && block.contains(&text));
        if !shown {
            problems.push(format!("{} does not show as itself: {text:?}", field.what));
        }
    }

    if rendered.rows.is_empty() {
        problems.push("no table rows".to_string());
    }
    for (columns, cells, source) in &rendered.rows {
        if cells != columns || source != columns {
            problems.push(format!(
                "a table row of {columns} columns has {cells} cells in the HTML and {source} in its source line"
            ));
        }
    }

    let anchors: Vec<String> = rendered
        .headings
        .iter()
        .map(|(_, _, anchor)| format!("#{anchor}"))
        .collect();
    for link in &rendered.links {
        if !anchors.contains(link) {
            problems.push(format!("{link} is the anchor of no heading ({anchors:?})"));
        }
    }
    problems
}

#[test]
fn the_tracker_renders_every_text_as_itself() {
    let gate = fixture::gate();
    let ledger = fixture::ledger(&gate);
    let markdown = tracker::render(&gate, &ledger);
    assert_renders(
        "tracker.md",
        &markdown,
        &fields(&gate, &ledger, Report::Tracker),
    );
}

#[test]
fn the_nasty_tracker_renders_every_text_as_itself() {
    let gate = nasty::gate();
    let ledger = nasty::ledger(&gate);
    let markdown = tracker::render(&gate, &ledger);
    let fields = fields(&gate, &ledger, Report::Tracker);
    assert_renders("tracker.md (nasty)", &markdown, &fields);
    // The fixture is what it says: its texts hold what would be markup.
    for needle in ["<T>", "&amp;", "a|b", "``2``", "\r\n"] {
        assert!(
            fields
                .iter()
                .filter(|field| field.text.contains(needle))
                .count()
                >= 20,
            "{needle:?}"
        );
    }
}

#[test]
fn the_step_summary_renders_every_text_as_itself() {
    let fixture_gate = fixture::gate();
    let nasty_gate = nasty::gate();
    for (what, gate, ledger) in [
        ("", &fixture_gate, fixture::ledger(&fixture_gate)),
        (" (nasty)", &nasty_gate, nasty::ledger(&nasty_gate)),
    ] {
        let markdown = tracker::summary(gate, &ledger);
        assert_renders(
            &format!("step summary{what}"),
            &markdown,
            &fields(gate, &ledger, Report::Summary),
        );
    }
}

#[test]
fn the_board_links_resolve_and_the_summary_has_none() {
    let gate = nasty::gate();
    let ledger = nasty::ledger(&gate);
    let Some(tracker) = render(&tracker::render(&gate, &ledger)) else {
        return;
    };
    assert_eq!(
        tracker.links.len(),
        gate.packets.len(),
        "{:?}",
        tracker.links
    );
    let Some(summary) = render(&tracker::summary(&gate, &ledger)) else {
        return;
    };
    assert!(summary.links.is_empty(), "{:?}", summary.links);
}

#[test]
fn the_consumer_sees_unescaped_text_lost() {
    // The check can fail: text written without escaping loses `<T>` to HTML and `*e*` to
    // emphasis, and a `|` in a cell adds a cell that cmark-gfm drops.
    let raw = format!(
        "# A\n\n| x | y |\n|---|---|\n| {} | b |\n",
        nasty::nasty("raw").replace(['\r', '\n'], " ")
    );
    let Some(rendered) = render(&raw) else {
        return;
    };
    assert!(
        rendered.tags.iter().any(|tag| tag == "t"),
        "{:?}",
        rendered.tags
    );
    assert!(
        rendered.tags.iter().any(|tag| tag == "em"),
        "{:?}",
        rendered.tags
    );
    assert!(
        rendered
            .rows
            .iter()
            .any(|(columns, _, source)| source > columns),
        "{:?}",
        rendered.rows
    );
}
