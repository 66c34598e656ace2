//! Tests of the HTML page.

use std::collections::BTreeMap;

use super::*;
use crate::evidence::{
    CaseKind, CaseOutcome, CheckRecord, Decision, PacketStatus, Record, RunHeader,
};
use crate::spec::Severity;
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
        argv: vec!["sh".into(), "-c".into(), "echo".into()],
        cwd: "/repo".into(),
        started: "2026-02-09T10:00:01.000Z".into(),
        ended: "2026-02-09T10:00:02.000Z".into(),
        duration_ms: 1000,
        exit_code: Some(if outcome == Outcome::Pass { 0 } else { 3 }),
        log: Some(format!("logs/{packet}/{check}.log")),
        bytes: 5,
        sha256: Some("ab".repeat(32)),
        ..CheckRecord::new(
            packet,
            check,
            CaseKind::Command,
            Severity::P0,
            outcome,
            message.into(),
        )
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
        gate_path: None,
        gate_sha256: gate.sha256.clone(),
        git_head: Some("6ba41c7".into()),
        git_dirty: Some(true),
        code: None,
        relgate_version: "0.1.0".into(),
        started: "2026-02-09T10:00:00.000Z".into(),
        host: "ci".into(),
        run_id: "run-0001".into(),
        mode: "xtask".into(),
        shard: None,
        merged: Vec::new(),
        journal_head: None,
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

/// The fixture with SEC-00's build flaky (exit 1, then exit 0) and SEC-01's boom failing on
/// both attempts in shard `slice:2/3`; every log written into `out_dir`.
fn retried_page(out_dir: &Path) -> String {
    let (gate, ledger) = fixture();
    let write = |log: &str, text: &str| {
        let path = out_dir.join(log);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let mut checks: Vec<CheckRecord> = ledger.checks().cloned().collect();
    for record in &mut checks {
        let mut first = CheckRecord {
            exit_code: Some(1),
            outcome: Outcome::Fail,
            message: "exit 1 <first>".into(),
            duration_ms: 250,
            ..record.clone()
        };
        match record.name.as_str() {
            "SEC-00::build" => {
                write("logs/SEC-00/build.log", "connection reset <b>\n");
                first.bytes = 21;
                record.log = Some("logs/SEC-00/build.attempts/2.log".into());
                write("logs/SEC-00/build.attempts/2.log", "built\n");
            }
            "SEC-01::boom" => {
                write("logs/SEC-01/boom.log", "boom once\n");
                first.bytes = 10;
                first.shard = Some("slice:2/3".into());
                record.shard = Some("slice:2/3".into());
                record.log = Some("logs/SEC-01/boom.attempts/2.log".into());
                write("logs/SEC-01/boom.attempts/2.log", "boom\n");
            }
            _ => continue,
        }
        *record = record.clone().after_attempts(vec![first]);
    }
    let today = chrono::NaiveDate::from_ymd_opt(2026, 2, 9).unwrap();
    let verdict = verdict::decide(&gate, &checks, today, Stage::Final);
    let packet = &gate.packets[0];
    let item = packet.checklist_name(&packet.checklist[0]);
    let (holds, why) = verdict.checklist[&item].clone();
    assert!(holds, "a flaky check satisfies its checklist item");
    let mut item_record = record("SEC-00", "checklist::x", Outcome::Pass, &why);
    (item_record.name, item_record.case_kind) = (item, CaseKind::Checklist);
    item_record.log = None;
    checks.push(item_record);
    let mut records = vec![Record::Header(ledger.header().unwrap().clone())];
    records.extend(checks.into_iter().map(Record::Check));
    records.extend(verdict.packets.iter().cloned().map(Record::Packet));
    records.push(Record::Verdict(verdict.record.clone()));
    render(&gate, &Ledger { records }, out_dir)
}

/// The `<article>` of check `name`.
fn article<'a>(html: &'a str, name: &str) -> &'a str {
    let start = html
        .find(&format!("data-check=\"{name}\">"))
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let start = html[..start].rfind("<article").unwrap();
    let end = start + html[start..].find("</article>").unwrap();
    &html[start..end]
}

#[test]
fn a_flaky_check_is_its_own_state_with_every_attempt_and_its_tail() {
    let out = tempfile::tempdir().unwrap();
    let html = retried_page(out.path());
    let build = article(&html, "SEC-00::build");
    assert!(
        build.starts_with("<article class=\"check outcome-flaky\""),
        "{build}"
    );
    assert!(
        build.contains("<span class=\"badge outcome-flaky\">FLAKY</span>"),
        "{build}"
    );
    assert!(
        !build.contains("badge outcome-pass\">PASS</span> <code>"),
        "{build}"
    );
    assert!(
        build.contains("<caption>Ran 2 times; the last attempt is the result: it passed only after failing (FLAKY)</caption>"),
        "{build}"
    );
    assert!(
        build.contains(
            "<tr class=\"attempt\" data-attempt=\"1\"><td>1 of 2</td><td><span class=\"badge outcome-fail\">FAIL</span></td><td>exit 1</td><td>250ms</td><td>—</td><td><a href=\"./logs/SEC-00/build.log\">"
        ),
        "{build}"
    );
    assert!(
        build.contains("data-attempt=\"2\"><td>2 of 2</td>"),
        "{build}"
    );
    // The failed attempt's tail is open and escaped, like a failure's.
    assert!(
        build.contains("<details class=\"output\" open><summary>Output of attempt 1 of 2 (all 21 bytes)</summary><pre class=\"tail\">connection reset &lt;b&gt;\n</pre>"),
        "{build}"
    );
    assert!(
        build.contains("<summary>Output (all 6 bytes)</summary>"),
        "{build}"
    );
    // The checklist item resting on it says so, and is not shown as a clean pass.
    assert!(
        html.contains("<li class=\"item outcome-flaky\" data-check=\"SEC-00::checklist::"),
        "{html}"
    );
    assert!(
        html.contains("— on FLAKY <code>build</code></li>"),
        "{html}"
    );
    // The packet table counts it apart.
    assert!(html.contains("<td>1 of 1 (1 FLAKY)</td></tr>"), "{html}");
    // The condition is listed with its attempts.
    assert!(
        html.contains("flaky: passed only after failing (attempt 1 FAIL: exit 1 &lt;first&gt;; attempt 2 PASS: exit 0)"),
        "{html}"
    );
}

#[test]
fn a_failure_after_failed_attempts_lists_them_with_their_shard() {
    let out = tempfile::tempdir().unwrap();
    let html = retried_page(out.path());
    let boom = article(&html, "SEC-01::boom");
    assert!(
        boom.starts_with("<article class=\"check outcome-fail\""),
        "{boom}"
    );
    assert!(
        boom.contains("<caption>Ran 2 times; the last attempt is the result</caption>"),
        "{boom}"
    );
    assert!(
        boom.contains("<td>exit 1</td><td>250ms</td><td>slice:2/3</td>"),
        "{boom}"
    );
    assert!(
        boom.contains("Output of attempt 1 of 2 (all 10 bytes)"),
        "{boom}"
    );
    // A check that ran once has no attempts table.
    assert!(
        !article(&html, "SEC-02::final").contains("attempts"),
        "{html}"
    );
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
            "<article class=\"check outcome-fail\" id=\"check-SEC-01__boom\" \
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
    assert!(html
        .contains("<td>check SEC-01::no-committed-secrets</td><td>dana</td><td>2020-01-31</td>"));
    assert!(html.contains("data-service=\"db\""), "{html}");
    assert!(html.contains("<section id=\"unlisted\">"), "{html}");
    assert!(
        html.contains("<article class=\"check outcome-error\" id=\"check-SEC-09__stray\""),
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

#[test]
fn element_ids_are_plain_and_distinct() {
    assert_eq!(check_anchor("SEC-00::build"), "check-SEC-00__build");
    assert_eq!(packet_anchor("SEC-00"), "packet-SEC-00");
    assert_eq!(packet_anchor("v1.2_x"), "packet-v1_2E2_5Fx");
    assert_eq!(check_anchor("a:b"), "check-a_3Ab");
    assert_eq!(check_anchor("é"), "check-_C3_A9");
    let names = [
        "a::b", "a__b", "a_5F_5Fb", "a:b", "a_3Ab", "a::::b", "a:::b", "a.b", "a_2Eb", "é",
    ];
    let ids: std::collections::BTreeSet<String> =
        names.iter().map(|name| check_anchor(name)).collect();
    assert_eq!(ids.len(), names.len(), "{ids:?}");
    for id in &ids {
        // html-validate's `valid-id`: a letter first, then letters, digits, `_` and `-`.
        assert!(id.starts_with(|c: char| c.is_ascii_alphabetic()), "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{id}"
        );
    }
    // The page's ids are these: every id is plain.
    let html = rich_page(Path::new("/nonexistent"));
    for piece in html.split(" id=\"").skip(1) {
        let id = &piece[..piece.find('"').unwrap()];
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "id {id:?} in {html}"
        );
    }
}

/// The levels of the page's headings, in order.
fn heading_levels(html: &str) -> Vec<u8> {
    html.match_indices("<h")
        .filter_map(|(at, _)| {
            let level = *html.as_bytes().get(at + 2)?;
            let after = *html.as_bytes().get(at + 3)?;
            ((b'1'..=b'6').contains(&level) && (after == b'>' || after == b' '))
                .then_some(level - b'0')
        })
        .collect()
}

#[test]
fn headings_never_skip_a_level() {
    let dir = tempfile::tempdir().unwrap();
    for html in [page(dir.path()), rich_page(dir.path())] {
        let levels = heading_levels(&html);
        assert_eq!(levels.first(), Some(&1), "{levels:?}");
        assert_eq!(levels.iter().filter(|level| **level == 1).count(), 1);
        for pair in levels.windows(2) {
            assert!(
                pair[1] <= pair[0] + 1,
                "h{} after h{}: {html}",
                pair[1],
                pair[0]
            );
        }
    }
    // Checks are one level below the part of the page they are in.
    let html = rich_page(dir.path());
    assert!(html.contains("<h3 class=\"check-title\"><span class=\"badge outcome-pass\">ready"));
    assert!(html.contains("<h4 class=\"check-title\"><span class=\"badge outcome-fail\">FAIL"));
    assert!(html.contains("<h3 class=\"check-title\"><span class=\"badge outcome-error\">ERROR"));
    assert_eq!(
        heading_levels("<h1>a</h1><h2 id=\"x\">b</h2><h4>c</h4><hr>"),
        [1, 2, 4]
    );
}

#[test]
fn every_table_row_is_in_a_head_or_a_body() {
    let html = rich_page(Path::new("/nonexistent"));
    let tables = html.matches("<table").count();
    assert!(tables >= 4, "{html}");
    assert_eq!(html.matches("<thead>").count(), tables, "{html}");
    assert_eq!(html.matches("<tbody>").count(), tables, "{html}");
    for table in html.split("<table").skip(1) {
        let table = &table[..table.find("</table>").unwrap()];
        let rows = table.matches("<tr").count();
        let head = &table[table.find("<thead>").unwrap()..table.find("</thead>").unwrap()];
        let body = &table[table.find("<tbody>").unwrap()..table.find("</tbody>").unwrap()];
        assert_eq!(
            head.matches("<tr").count() + body.matches("<tr").count(),
            rows
        );
    }
}

#[test]
fn the_title_keeps_the_verdict_and_stays_short() {
    assert_eq!(
        page::page_title("NO_GO", "Release gate"),
        "NO_GO — Release gate — relgate report"
    );
    // Too long with the suffix: the suffix goes.
    let name = "Fixture: report page with conditions and more";
    assert_eq!(
        page::page_title("GO_WITH_CONDITIONS", name),
        format!("GO_WITH_CONDITIONS — {name}")
    );
    // Too long without it: the name is cut, at a character, never inside one.
    let long = "Ω".repeat(40) + &"𝔊".repeat(40);
    let title = page::page_title("GO_WITH_CONDITIONS", &long);
    assert!(title.starts_with("GO_WITH_CONDITIONS — ΩΩ"), "{title}");
    assert!(title.ends_with('…'), "{title}");
    assert!(title.encode_utf16().count() <= page::TITLE_MAX, "{title}");
    assert!(
        title.encode_utf16().count() >= page::TITLE_MAX - 1,
        "{title}"
    );
    let title = page::page_title("NO_GO", &"word ".repeat(30));
    assert!(title.ends_with(" word…"), "{title}");
    assert_eq!(title.matches("word").count(), 12, "{title}");
}

/// WCAG 2 contrast ratio of two `#rrggbb` / `#rgb` colours.
fn contrast(one: &str, two: &str) -> f64 {
    fn luminance(colour: &str) -> f64 {
        let hex = colour.trim_start_matches('#');
        let hex: String = if hex.len() == 3 {
            hex.chars().flat_map(|c| [c, c]).collect()
        } else {
            hex.to_string()
        };
        assert_eq!(hex.len(), 6, "not a colour: {colour}");
        let channel = |at: usize| {
            let value = f64::from(u8::from_str_radix(&hex[at..at + 2], 16).unwrap()) / 255.0;
            if value <= 0.04045 {
                value / 12.92
            } else {
                ((value + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
    }
    let (a, b) = (luminance(one), luminance(two));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

/// The style sheet's rules as (selector, declarations), `var(--x)` resolved from `:root`.
fn style_rules() -> Vec<(String, BTreeMap<String, String>)> {
    let mut rules = Vec::new();
    for rule in page::STYLE.split('}') {
        let Some((selector, body)) = rule.split_once('{') else {
            continue;
        };
        let declarations: BTreeMap<String, String> = body
            .split(';')
            .filter_map(|declaration| declaration.split_once(':'))
            .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
            .collect();
        rules.push((
            selector.split_whitespace().collect::<Vec<_>>().join(" "),
            declarations,
        ));
    }
    let root: BTreeMap<String, String> = rules
        .iter()
        .find(|(selector, _)| selector == ":root")
        .map(|(_, declarations)| declarations.clone())
        .expect(":root");
    for (_, declarations) in &mut rules {
        for value in declarations.values_mut() {
            if let Some(name) = value.strip_prefix("var(").and_then(|v| v.strip_suffix(')')) {
                *value = root[name].clone();
            }
        }
    }
    rules
}

#[test]
fn every_banner_badge_and_graph_colour_pair_meets_wcag_aa() {
    let rules = style_rules();
    let colour_of = |selector: &str| -> String {
        rules
            .iter()
            .find(|(s, _)| s == selector)
            .and_then(|(_, d)| d.get("color").cloned())
            .unwrap_or_else(|| panic!("no colour for {selector}"))
    };
    // The verdict's label is 14 px and a badge 12 px: normal text, 4.5:1.
    let (verdict_ink, badge_ink) = (colour_of(".verdict"), colour_of(".badge"));
    let mut checked = Vec::new();
    for (selector, declarations) in &rules {
        let Some(background) = declarations.get("background") else {
            continue;
        };
        let ink = if selector.contains(".decision-") {
            declarations.get("color").unwrap_or(&verdict_ink)
        } else if selector.contains(".badge") {
            declarations.get("color").unwrap_or(&badge_ink)
        } else {
            continue;
        };
        assert!(
            !declarations.contains_key("opacity"),
            "{selector} fades its text"
        );
        let ratio = contrast(ink, background);
        assert!(
            ratio >= 4.5,
            "{selector}: {ink} on {background} is {ratio:.2}:1"
        );
        checked.push(selector.clone());
    }
    assert!(checked.len() >= 9, "{checked:?}");
    // Nothing fades the verdict's label below its banner's contrast.
    let label = &rules
        .iter()
        .find(|(s, _)| s == ".verdict .label")
        .expect(".verdict .label")
        .1;
    assert!(!label.contains_key("opacity") && !label.contains_key("color"));
    // Text colours on the page's backgrounds (the page, a card, a failed or errored card).
    for (selector, declarations) in &rules {
        let Some(ink) = declarations.get("color") else {
            continue;
        };
        if declarations.contains_key("background")
            || [".verdict", ".badge"].contains(&selector.as_str())
        {
            continue;
        }
        for paper in ["#f6f8fa", "#fff", "#fff5f5", "#fff8f0", "#fff8e1"] {
            let ratio = contrast(ink, paper);
            assert!(ratio >= 4.5, "{selector}: {ink} on {paper} is {ratio:.2}:1");
        }
    }
    for status in [
        Some(PacketStatus::Done),
        Some(PacketStatus::ChangesRequested),
        Some(PacketStatus::Blocked),
        Some(PacketStatus::Pending),
        None,
    ] {
        let colours = graph::node_colours(status);
        let ratio = contrast(colours.ink, colours.fill);
        assert!(ratio >= 4.5, "{status:?}: {colours:?} is {ratio:.2}:1");
    }
    // The check itself: the amber banner's former white label at 90 % opacity was 2.84:1.
    assert!((contrast("#f9f3e6", "#bf8700") - 2.84).abs() < 0.01);
}

#[test]
fn the_graph_is_a_named_group_of_named_links() {
    let html = page(Path::new("/nonexistent"));
    assert!(!html.contains("role=\"img\""), "{html}");
    assert!(
        html.contains("role=\"group\" aria-labelledby=\"dag-title\">\n<title id=\"dag-title\">"),
        "{html}"
    );
    // Each link's name starts with what its box shows, in order, then what it cannot show.
    assert!(
        html.contains(
            "<a href=\"#packet-SEC-01\" aria-label=\"SEC-01 Tenant isolation \
             CHANGES_REQUESTED; depends on SEC-00\"><title>SEC-01 Tenant isolation \
             CHANGES_REQUESTED; depends on SEC-00</title>"
        ),
        "{html}"
    );
    assert!(html.contains(">SEC-01</text>\n<text "), "{html}");
    assert!(html.contains(">Tenant isolation</text>\n<text "), "{html}");
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
    assert_eq!(svg.matches("<a href=\"#packet-").count(), 3, "{svg}");
    assert_eq!(svg.matches(" aria-label=\"").count(), 3, "{svg}");
}
