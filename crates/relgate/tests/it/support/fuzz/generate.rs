//! Structured inputs: gate files, Markdown trackers and scanner reports put together from parts
//! that are valid, nearly valid or hostile, so that cases reach past the first syntax error.

use std::fmt::Write as _;

use super::mutate::Language;
use super::Gen;

/// Words of gate files.
pub const TOML: Language = Language {
    words: &[
        "[gate]",
        "[defaults]",
        "[[packet]]",
        "[[packet.check]]",
        "[[service]]",
        "[[accept]]",
        "[t]",
        "[gate.t]",
        "id = \"SEC-01\"",
        "id = \"x\"",
        "run = \"true\"",
        "run = []",
        "run = [\"sh\", \"-c\", \"exit 1\"]",
        "timeout = \"1h1h\"",
        "timeout = \"0s\"",
        "timeout = \"99999999999999h\"",
        "timeout = 5",
        "depends_on = [\"SEC-00\"]",
        "depends_on = [\"SEC-01\"]",
        "checklist = [{ item = \"x\" }]",
        "by = [\"build\"]",
        "probe = \"secrets\"",
        "scan = { run = \"x > {report}\", format = \"sarif\" }",
        "grep = { pattern = \"(\", files = \"**\" }",
        "severity = \"P9\"",
        "expect = 300",
        "env = { API_TOKEN = \"ghp_FAKE0123456789abcdefghijklmnopqrstuv\" }",
        "\"${db.url}\"",
        "\"${port}\"",
        "\"$${x}\"",
        "until = \"2026-13-40\"",
        "= ",
        "\"\"\"",
        "'''",
        "\\u0000",
        "\\uD800",
        "1e999",
        "-0",
        "nan",
        "inf",
        "0x",
        "2026-02-30T25:61:61Z",
        "git push --force",
        "git reset --hard",
        "a.b.c.d.e = 1",
        "\"\\",
        "#",
        "\r\n",
    ],
    nest: &[
        ("[", "]"),
        ("a = {", "}"),
        ("[[x", "]]"),
        ("x = [", "]"),
        ("[a", ".a]"),
    ],
};

/// Words of Markdown trackers.
pub const MARKDOWN: Language = Language {
    words: &[
        "# ",
        "## ",
        "### SEC-01 ",
        "#### ",
        "====",
        "----",
        "| Packet | Title | Status |",
        "|---|---|---|",
        "| SEC-01 | t | done |",
        "| | | |",
        "|",
        "- [ ] ",
        "- [x] ",
        "* [X] ",
        "1. [ ] ",
        "```",
        "```bash",
        "~~~",
        "    ",
        "> ",
        "SEC-00 ──blocks──► SEC-01",
        "depends on SEC-02",
        "blocked by SEC-01",
        "after SEC-03",
        "Reviewer: bob",
        "Implementer: alice",
        "exit 0",
        "expected exit code: 1",
        "timeout: 5m",
        "timeout 1h1h",
        "`cargo test -p relgate`",
        "git push --force origin main",
        "Commands",
        "Checklist",
        "Review gate",
        "Packet 2",
        "P1:",
        "IAM-03",
        "ghp_FAKE0123456789abcdefghijklmnopqrstuv",
        "<!-- -->",
        "\u{feff}",
        "â€”",
        "\r",
        "\t",
    ],
    nest: &[("> ", ""), ("- ", ""), ("#", "")],
};

/// Words of JSON reports.
pub const JSON: Language = Language {
    words: &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"\"",
        "null",
        "true",
        "0",
        "-1",
        "1e999",
        "1.5",
        "18446744073709551616",
        "\"\\ud800\"",
        "\"\\u0000\"",
        "\"results\":[]",
        "\"runs\":[",
        "\"vulnerabilities\":{",
        "\"advisories\":{",
        "\"severity\":\"critical\"",
        "\"cvss\":\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"",
        "\"cvss\":\"CVSS:3.1/\"",
        "\"level\":\"error\"",
        "\"ruleIndex\":99999",
        "\"ruleId\":null",
        "\"startLine\":-5",
        "\"Secret\":\"x\"",
        "\"Match\":[1]",
        "\"snippet\":{\"text\":\"s\"}",
        "\"error\":{}",
        "\"arguments\":[\"{1}{1}{1}{1}\",\"{0}{0}{0}{0}\"]",
        "\"text\":\"{0}{0}{0}{0}{1}\"",
        "\"via\":[\"x\"]",
        "\"via\":[{}]",
        "\"lockfile\":null",
    ],
    nest: &[("[", "]"), ("{\"a\":", "}"), ("{\"runs\":[", "]}")],
};

/// Checklist items alike in their first 60 slug characters, ids that are near each other or
/// odd, timeouts valid and not.
const ITEM_STARTS: &[&str] = &[
    "Confirm that every tenant-scoped endpoint rejects a token minted for another tenant",
    "Confirm that every tenant-scoped endpoint rejects a token minted for another tenant!",
    "Runbook covers rollback and kill-switch.",
    "Scope boundaries and in-scope systems declared.",
    "  ",
    "!!!",
    "Ünïcödé ✓ item — with dashes",
    "ghp_FAKE0123456789abcdefghijklmnopqrstuv rotated",
    "${db.url} reachable",
    "x",
];
const IDS: &[&str] = &[
    "SEC-00",
    "SEC-01",
    "SEC-02",
    "SEC-1",
    "sec-01",
    "IAM-03",
    "P1",
    "a",
    "A_b.c",
    "has space",
    "ünï",
    "SEC-01::x",
    "",
    "x/y",
    "..",
];
const TIMEOUTS: &[&str] = &[
    "30s",
    "1h",
    "1h1h",
    "1h30m",
    "90",
    "0s",
    "1ms",
    "2d",
    "1h 30m",
    "-5s",
    "1.5h",
    "",
    "s",
    "18446744073709551616s",
];
const COMMANDS: &[&str] = &[
    "true",
    "cargo test --workspace",
    "echo ${db.url}",
    "echo $${HOME}",
    "git push --force",
    "git push --force https://ghp_FAKE0123456789abcdefghijklmnopqrstuv@github.com/o/r",
    "sh -c 'exit 3'",
    "",
    "printf '%s' \"\\\"\"",
];

/// A gate file from parts: packets with checks of each kind, dependencies (cycles possible),
/// checklists, acceptances and services, each part valid or nearly.
pub fn gate(gen: &mut Gen) -> String {
    let mut text = String::new();
    if gen.chance(7, 8) {
        text.push_str("[gate]\nname = \"fuzz\"\n");
    }
    if gen.chance(1, 2) {
        let _ = writeln!(text, "[defaults]\ntimeout = {:?}", gen.pick(TIMEOUTS));
    }
    if gen.chance(1, 6) {
        let _ = writeln!(
            text,
            "[[service]]\nname = {:?}\nkind = {:?}",
            gen.pick(&["db", "api", "db"]),
            gen.pick(&["postgres", "process", "x"])
        );
    }
    for _ in 0..gen.between(0, 5) {
        let _ = writeln!(text, "\n[[packet]]\nid = {:?}", gen.pick(IDS));
        if gen.chance(3, 4) {
            let _ = writeln!(text, "title = {:?}", gen.pick(ITEM_STARTS));
        }
        if gen.chance(1, 2) {
            let deps: Vec<&str> = (0..gen.between(0, 3)).map(|_| *gen.pick(IDS)).collect();
            let _ = writeln!(text, "depends_on = {deps:?}");
        }
        if gen.chance(1, 2) {
            text.push_str("checklist = [\n");
            for _ in 0..gen.between(0, 4) {
                let item = gen.pick(ITEM_STARTS);
                match gen.below(3) {
                    0 => {
                        let by = gen.pick(&["build", "tests", "nope"]);
                        let _ = writeln!(text, "  {{ item = {item:?}, by = [{by:?}] }},");
                    }
                    1 => {
                        let on = gen.pick(&["2026-02-09", "2026-02-30", "x"]);
                        let _ = writeln!(
                            text,
                            "  {{ item = {item:?}, attested = {{ by = \"bob\", on = {on:?} }} }},"
                        );
                    }
                    _ => {
                        let _ = writeln!(text, "  {{ item = {item:?} }},");
                    }
                }
            }
            text.push_str("]\n");
        }
        for _ in 0..gen.between(0, 3) {
            check(gen, &mut text);
        }
    }
    if gen.chance(1, 4) {
        let _ = writeln!(
            text,
            "\n[[accept]]\n{} = {:?}\nowner = \"erin\"\nuntil = {:?}\nreason = \"r\"",
            gen.pick(&["finding", "check", "rule"]),
            gen.pick(&["RUSTSEC-2023-0071", "SEC-01::build", ""]),
            gen.pick(&["2026-12-31", "2020-01-01", "tomorrow"]),
        );
    }
    text
}

fn check(gen: &mut Gen, text: &mut String) {
    let id = gen.pick(&["build", "tests", "build", "x", "needs-evidence", "a b"]);
    let _ = writeln!(text, "[[packet.check]]\nid = {id:?}");
    match gen.below(5) {
        0 => {
            let _ = writeln!(text, "run = {:?}", gen.pick(COMMANDS));
        }
        1 => {
            let _ = writeln!(text, "run = [{:?}, \"--flag\"]", gen.pick(COMMANDS));
        }
        2 => {
            let pattern = gen.pick(&["rollback", "(", "a{99999}", ""]);
            let files = gen.pick(&["docs/*.md", "**", "[", "/etc/passwd"]);
            let _ = writeln!(
                text,
                "grep = {{ pattern = {pattern:?}, files = {files:?} }}"
            );
        }
        3 => {
            let probe = gen.pick(&["secrets", "jwt", "nope", "rls"]);
            let _ = writeln!(text, "probe = {probe:?}");
        }
        _ => {
            let run = gen.pick(&[
                "scanner > {report}",
                "scanner",
                "x > {report} {advisory_db}",
            ]);
            let format = gen.pick(&["sarif", "npm-audit", "cargo-audit", "gitleaks", "x"]);
            let _ = writeln!(text, "scan = {{ run = {run:?}, format = {format:?} }}");
        }
    }
    if gen.chance(1, 3) {
        let _ = writeln!(text, "timeout = {:?}", gen.pick(TIMEOUTS));
    }
    if gen.chance(1, 4) {
        let _ = writeln!(text, "severity = {:?}", gen.pick(&["P0", "P1", "P2", "P3"]));
    }
    if gen.chance(1, 6) {
        let _ = writeln!(text, "services = [{:?}]", gen.pick(&["db", "api"]));
    }
}

/// A Markdown tracker from parts: a packet board, packet sections with checklists, commands,
/// dependency statements and people, in the shapes the seeds use and in broken ones.
pub fn tracker(gen: &mut Gen) -> String {
    let mut text = String::from("# Release Security Gate Progress\n\n");
    let packets: Vec<String> = (0..gen.between(0, 5))
        .map(|index| match gen.below(4) {
            0 => (*gen.pick(IDS)).to_string(),
            _ => format!("SEC-{index:02}"),
        })
        .collect();
    if gen.chance(3, 4) {
        text.push_str("| Packet | Title | Status | Depends on | Implementer | Reviewer |\n");
        let divider = *gen.pick(&["|---|---|---|---|---|---|\n", "|-|\n", ""]);
        text.push_str(divider);
        for packet in &packets {
            let _ = writeln!(
                text,
                "| {packet} | {} | {} | {} | alice | {} |",
                gen.pick(ITEM_STARTS),
                gen.pick(&["todo", "done", "✅", ""]),
                gen.pick(IDS),
                gen.pick(&["bob", "", "@carol"]),
            );
        }
        text.push('\n');
    }
    for packet in &packets {
        let _ = writeln!(
            text,
            "{} {packet} {} {}\n",
            gen.pick(&["##", "###", "#"]),
            gen.pick(&["—", "-", ":", ""]),
            gen.pick(ITEM_STARTS)
        );
        if gen.chance(1, 2) {
            let _ = writeln!(
                text,
                "{} {}\n",
                gen.pick(&["Depends on", "Blocked by", "After", "Blocks"]),
                gen.pick(IDS)
            );
        }
        if gen.chance(1, 2) {
            text.push_str("### Checklist\n\n");
            for _ in 0..gen.between(0, 6) {
                let item = gen.pick(ITEM_STARTS);
                let suffix = if gen.chance(1, 3) {
                    " and more words"
                } else {
                    ""
                };
                let _ = writeln!(
                    text,
                    "{} {item}{suffix}",
                    gen.pick(&["- [ ]", "- [x]", "*"])
                );
            }
            text.push('\n');
        }
        if gen.chance(1, 2) {
            text.push_str("### Required commands\n\n```bash\n");
            for _ in 0..gen.between(0, 3) {
                let _ = writeln!(text, "{}", gen.pick(COMMANDS));
            }
            let fence = *gen.pick(&["```\n", ""]);
            text.push_str(fence);
            let _ = writeln!(
                text,
                "\nExpected exit code: {}; timeout {}\n",
                gen.pick(&["0", "1", "-1", "x"]),
                gen.pick(TIMEOUTS)
            );
        }
        if gen.chance(1, 3) {
            let _ = writeln!(text, "Reviewer: {}\n", gen.pick(&["bob", "", "alice, bob"]));
        }
    }
    text
}

/// A JSON value of random shape, `depth` levels at most.
pub fn json(gen: &mut Gen, depth: usize) -> serde_json::Value {
    use serde_json::Value;
    match gen.below(if depth == 0 { 4 } else { 6 }) {
        0 => Value::Null,
        1 => Value::Bool(gen.chance(1, 2)),
        2 => serde_json::json!(*gen.pick(&[0.0, -1.0, 7.5, 1e300, 9.9, 10.0])),
        3 => Value::String(
            (*gen.pick(&["", "x", "critical", "CVSS:3.1/AV:N", "ü", "{0}{1}{0}"])).into(),
        ),
        4 => Value::Array((0..gen.below(4)).map(|_| json(gen, depth - 1)).collect()),
        _ => Value::Object(
            (0..gen.below(4))
                .map(|_| {
                    let key = *gen.pick(&[
                        "id",
                        "ruleId",
                        "level",
                        "severity",
                        "cvss",
                        "via",
                        "results",
                        "runs",
                        "advisory",
                        "package",
                        "Secret",
                        "RuleID",
                        "locations",
                        "x",
                    ]);
                    (key.to_string(), json(gen, depth - 1))
                })
                .collect(),
        ),
    }
}

/// A copy of `value` with one leaf or member changed: replaced by random JSON, removed, or a
/// string edited. Returns false when there was nothing to change.
pub fn change_json(gen: &mut Gen, value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    let children = match value {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => 0,
    };
    if children == 0 || gen.chance(1, 5) {
        let replacement = match value {
            Value::String(text) => {
                let mut text = text.clone();
                match gen.below(3) {
                    0 => text.push('x'),
                    1 => {
                        text.pop();
                    }
                    _ => text = text.to_uppercase(),
                }
                Value::String(text)
            }
            Value::Number(number) => serde_json::json!(number.as_f64().unwrap_or(0.0) + 1.0),
            Value::Bool(flag) => Value::Bool(!*flag),
            _ => json(gen, 2),
        };
        let changed = replacement != *value;
        *value = replacement;
        return changed;
    }
    let index = gen.below(children);
    match value {
        Value::Array(items) => {
            if gen.chance(1, 4) {
                items.remove(index);
                true
            } else {
                change_json(gen, &mut items[index])
            }
        }
        Value::Object(map) => {
            let key = map.keys().nth(index).cloned().unwrap_or_default();
            if gen.chance(1, 4) {
                map.remove(&key);
                true
            } else {
                change_json(gen, map.get_mut(&key).expect("the key is there"))
            }
        }
        _ => false,
    }
}
