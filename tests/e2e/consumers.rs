//! The consumer matrix: one real run with every kind of outcome, its reports fed to the tools
//! teams feed them to, each pinned in `tests/consumers` and installed by `cargo xtask gate
//! setup`. A consumer must read the file, and must show every case as what the ledger says it
//! is: a pass as passed, a blocking failure as a failure or an error, and a failure that does
//! not block (accepted, tracked) or a check that never ran as skipped, with a message saying so.
//!
//! - JUnit: junitparser, xunitparser, junit2html (PyPI); xunit-viewer, junit2json and
//!   junit-report-merger (npm), through `tests/consumers/junit_{python.py,node.mjs}`.
//! - SARIF: `@microsoft/sarif-multitool validate` against the schema and its SARIF and GitHub
//!   rule sets; sarif-tools' records (`tests/consumers/sarif_tools.py`).
//! - in-toto: the in-toto-attestation protobuf Statement and the test-result v0.1 predicate
//!   (`tests/consumers/intoto.py`); the user guide (docs/book/src/reports/attestation.md)
//!   documents every field of the predicate.
//!
//! report.html is checked with html-validate and axe-core in `reports.rs`, tracker.md with
//! cmark-gfm in the engine's `markdown_consumers` tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{fixtures, node_consumer, python_consumers, run_gate, Run};

/// The gate: SEC-00 holds a pass, a failing command whose output is not text (terminal
/// colours, control bytes, invalid UTF-8, a replacement character), a program that cannot
/// start, a timeout, a failing grep, a probe with a failing case, a scan with findings, an
/// accepted P1 failure, a tracked P2 failure, a flaky check (fails on its first run only,
/// `retries = 1`), a check failing on both of its attempts and checklist items; SEC-01
/// depends on it and is blocked. Text fields hold markup.
const GATE: &str = r#"
[gate]
name = "Consumers: <every> outcome & kind"

[[packet]]
id = "SEC-00"
title = "Every <outcome> & kind"
implementer = "alice"
checklist = [
  { item = "Builds <cleanly> & fast.", by = ["build"] },
  { item = "Threat model reviewed.", attested = { by = "carol", on = "2026-01-01" } },
  { item = "Colours are fixed.", by = ["colours"] },
]
[[packet.check]]
id = "build"
run = "printf 'compiling <crate> & ]]> done\\n'"
[[packet.check]]
id = "colours"
run = "printf '\\033[31merror\\033[0m: the quick brown fox \\001\\377 \\357\\277\\275 jumps over the lazy dog\\n'; exit 3"
[[packet.check]]
id = "missing-program"
run = ["/nonexistent/relgate-no-such-program", "--version"]
[[packet.check]]
id = "hangs"
run = "echo started; sleep 30"
timeout = "1s"
[[packet.check]]
id = "no-todo"
grep = { pattern = "TODO", files = "src/*.rs", expect = "no-match" }
severity = "P1"
[[packet.check]]
id = "secrets"
probe = "secrets"
paths = ["src"]
[[packet.check]]
id = "semgrep"
scan = { run = "cp semgrep.sarif {report}", format = "sarif" }
[[packet.check]]
id = "audit"
run = "echo '1 moderate vulnerability'; exit 1"
severity = "P1"
[[packet.check]]
id = "lint"
run = "echo 'warning: unused <T>'; exit 1"
severity = "P2"
[[packet.check]]
id = "flaky"
run = "test -e .flaky-ran || { touch .flaky-ran; echo 'first <try> & fail'; exit 1; }; echo second"
retries = 1
severity = "P1"
[[packet.check]]
id = "always-fails"
run = "echo 'still <broken>'; exit 4"
retries = 1

[[packet]]
id = "SEC-01"
title = "Blocked behind SEC-00"
depends_on = ["SEC-00"]
checklist = [{ item = "Release build rerun.", by = ["release-build"] }]
[[packet.check]]
id = "release-build"
run = "true"

[[accept]]
check = "SEC-00::audit"
owner = "dana"
until = "2099-12-31"
reason = "dev-only dependency, no exploit path"
"#;

/// The one run every test here reads.
fn run() -> &'static (tempfile::TempDir, Run) {
    static RUN: OnceLock<(tempfile::TempDir, Run)> = OnceLock::new();
    RUN.get_or_init(|| {
        // The gate sits in `sub/` of a git repository: the attestation names it by its path in
        // the repository, not by this machine's absolute path.
        let tree = tempfile::tempdir().unwrap();
        let git = Command::new("git")
            .args(["init", "-q"])
            .current_dir(tree.path())
            .status()
            .unwrap();
        assert!(git.success());
        let root = &tree.path().join("sub");
        std::fs::create_dir_all(root.join("src")).unwrap();
        // Assembled here so that this repository's own secret scan finds no literal key.
        let key = format!("{}{}", "AKIA", "Q7X2M4N8P1R5T3V9");
        std::fs::write(
            root.join("src/settings.env"),
            format!("region = eu-west-1\naws_access_key_id = {key}\n"),
        )
        .unwrap();
        std::fs::write(root.join("src/lib.rs"), "// TODO: <remove> & clean up\n").unwrap();
        std::fs::copy(
            fixtures().join("scans/sarif/semgrep.sarif"),
            root.join("semgrep.sarif"),
        )
        .unwrap();
        let gate = root.join("packets.toml");
        std::fs::write(&gate, GATE).unwrap();
        let run = run_gate(&gate, &[]);
        assert_eq!(run.code(), 1, "{}", run.context());
        (tree, run)
    })
}

fn out() -> &'static Path {
    run().1.out.path()
}

/// What each test case must show as, from the ledger: `passed`, `failure`, `error` or
/// `skipped`, by test-case name.
fn expected() -> BTreeMap<String, &'static str> {
    let ledger = run().1.ledger();
    let verdict = ledger
        .iter()
        .find(|record| record["kind"] == "verdict")
        .expect("a verdict record");
    // Failures the verdict does not count against the release: accepted or tracked checks,
    // and scans whose every finding is accepted or tracked.
    let risks: Vec<&str> = verdict["residual_risks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|risk| risk["check"].as_str().unwrap())
        .collect();
    let findings = verdict["findings"].as_array().unwrap();
    let conditions = |name: &str| {
        let mine: Vec<&Value> = findings.iter().filter(|f| f["check"] == name).collect();
        risks.contains(&name)
            || (!mine.is_empty() && mine.iter().all(|finding| finding["state"] != "blocking"))
    };
    let mut expected = BTreeMap::new();
    for record in ledger.iter().filter(|record| record["kind"] == "check") {
        let name = record["name"].as_str().unwrap();
        let status = |outcome: &str| match outcome {
            "pass" => "passed",
            _ if conditions(name) => "skipped",
            "fail" | "inconclusive" => "failure",
            "error" => "error",
            _ => "skipped",
        };
        expected.insert(
            name.to_string(),
            status(record["outcome"].as_str().unwrap()),
        );
        for case in record["cases"].as_array().into_iter().flatten() {
            expected.insert(
                format!("{name}::{}", case["name"].as_str().unwrap()),
                status(case["outcome"].as_str().unwrap()),
            );
        }
    }
    expected
}

/// The checks the ledger holds as flaky: passed on their last attempt after a failed one.
fn flaky() -> Vec<String> {
    run()
        .1
        .ledger()
        .iter()
        .filter(|record| record["kind"] == "check" && record["outcome"] == "pass")
        .filter(|record| {
            record["attempts"]
                .as_array()
                .is_some_and(|attempts| attempts.iter().any(|a| a["outcome"] != "pass"))
        })
        .map(|record| record["name"].as_str().unwrap().to_string())
        .collect()
}

/// Runs a consumer script and parses the JSON it prints.
fn consumer(program: &str, args: &[&Path]) -> Value {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("{program} {args:?}: {err}"));
    assert!(
        output.status.success(),
        "{program} {args:?}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "{program} printed no JSON ({err}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn script(name: &str) -> PathBuf {
    fixtures().join("../consumers").join(name)
}

/// Asserts that `cases` (a consumer's `[{suite, name, status, message}]`) show every case as
/// [`expected`], and that a skip says why. junit2html knows no errors: it shows them as
/// failures (`errors_as_failures`).
#[track_caller]
fn assert_shows_outcomes(consumer: &str, cases: &Value) {
    assert_shows(consumer, cases, false, "passed");
}

/// As [`assert_shows_outcomes`], a flaky pass (a success holding `<flakyFailure>`) shown as
/// `flaky_as`: xunit-viewer gives a case the status of its first child element it does not
/// rank (`flakyFailure`), neither passed nor failed; every other consumer shows it as passed.
#[track_caller]
fn assert_shows(consumer: &str, cases: &Value, errors_as_failures: bool, flaky_as: &str) {
    let Some(cases) = cases.as_array() else {
        panic!("{consumer} could not read junit.xml: {cases}");
    };
    let shown: BTreeMap<String, &str> = cases
        .iter()
        .map(|case| {
            (
                case["name"].as_str().unwrap().to_string(),
                case["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(shown.len(), cases.len(), "{consumer}: repeated case names");
    let expected = expected();
    let expected: BTreeMap<String, &str> = expected
        .iter()
        .map(|(name, status)| match *status {
            "error" if errors_as_failures => (name.clone(), "failure"),
            "passed" if flaky().contains(name) => (name.clone(), flaky_as),
            status => (name.clone(), status),
        })
        .collect();
    assert_eq!(shown, expected, "{consumer} shows other outcomes");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let message = case["message"].as_str().unwrap_or_default();
        match name {
            "SEC-00::audit" => assert!(
                message.starts_with("FAIL accepted by dana until 2099-12-31"),
                "{consumer}: {case}"
            ),
            "SEC-00::lint" => assert!(
                message.starts_with("FAIL tracked (P2)"),
                "{consumer}: {case}"
            ),
            _ if case["status"] == "skipped" => {
                assert!(
                    !message.is_empty(),
                    "{consumer}: a skip without why: {case}"
                )
            }
            _ => {}
        }
    }
}

#[test]
fn the_fixture_holds_every_kind_of_outcome() {
    let expected = expected();
    let count = |status: &str| expected.values().filter(|shown| **shown == status).count();
    assert!(count("passed") >= 4, "{expected:?}");
    assert!(count("failure") >= 4, "{expected:?}");
    assert_eq!(count("error"), 1, "{expected:?}");
    // audit (accepted), lint (tracked), and SEC-01's blocked check and checklist item.
    assert!(count("skipped") >= 4, "{expected:?}");
    assert_eq!(expected["SEC-00::audit"], "skipped");
    assert_eq!(expected["SEC-00::lint"], "skipped");
    assert_eq!(expected["SEC-00::secrets::no-secrets"], "failure");
    // A flaky check is a pass that a consumer shows as passed (with its flaky runs), a check
    // failing on every attempt a failure.
    assert_eq!(expected["SEC-00::flaky"], "passed");
    assert_eq!(expected["SEC-00::always-fails"], "failure");
    assert_eq!(flaky(), ["SEC-00::flaky"]);
}

/// The retried checks' attempts as the ledger holds them, and as junit.xml writes them:
/// Surefire's `flakyFailure` on the flaky pass, `rerunFailure` on the final failure, each
/// with its attempt's message and its log's tail.
#[test]
fn retried_checks_keep_their_attempts_in_junit() {
    let ledger = run().1.ledger();
    let record = |name: &str| {
        ledger
            .iter()
            .find(|record| record["kind"] == "check" && record["name"] == name)
            .unwrap_or_else(|| panic!("no record of {name}"))
            .clone()
    };
    let flaky = record("SEC-00::flaky");
    assert_eq!(flaky["outcome"], "pass", "{flaky}");
    assert_eq!(flaky["attempts"][0]["outcome"], "fail", "{flaky}");
    let always = record("SEC-00::always-fails");
    assert_eq!(
        always["attempts"].as_array().map(Vec::len),
        Some(1),
        "{always}"
    );

    let junit = std::fs::read_to_string(out().join("junit.xml")).unwrap();
    let case = |name: &str| {
        let start = junit
            .find(&format!("<testcase name=\"{name}\""))
            .unwrap_or_else(|| panic!("no {name} in {junit}"));
        let end = start + junit[start..].find("</testcase>").unwrap();
        junit[start..end].to_string()
    };
    let flaky = case("SEC-00::flaky");
    assert_eq!(flaky.matches("<flakyFailure ").count(), 1, "{flaky}");
    assert!(!flaky.contains("<failure"), "{flaky}");
    assert!(
        flaky.contains(r#"message="exit 1 (expected 0)" type="exit-code""#),
        "{flaky}"
    );
    assert!(flaky.contains("first &lt;try&gt; &amp; fail"), "{flaky}");
    assert!(
        flaky.contains("FLAKY: passed on attempt 2 of 2 only after failing"),
        "{flaky}"
    );
    let always = case("SEC-00::always-fails");
    assert_eq!(always.matches("<failure ").count(), 1, "{always}");
    assert_eq!(always.matches("<rerunFailure ").count(), 1, "{always}");
    assert!(always.contains("still &lt;broken&gt;"), "{always}");
}

#[test]
fn python_junit_consumers_show_every_outcome() {
    if !python_consumers() {
        return;
    }
    let html = out().join("junit2html.html");
    let read = consumer(
        "python3",
        &[&script("junit_python.py"), &out().join("junit.xml"), &html],
    );
    assert_shows_outcomes("junitparser", &read["junitparser"]);
    assert_shows("junit2html", &read["junit2html"], true, "passed");
    let xunitparser = &read["xunitparser"];
    assert_shows_outcomes("xunitparser", &xunitparser["cases"]);
    // xunitparser keeps one property table for the whole file: every name is there once.
    assert_eq!(
        xunitparser["properties"]["gate.verdict"], "NO_GO",
        "{xunitparser}"
    );
    assert_eq!(xunitparser["properties"]["SEC-01.status"], "BLOCKED");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("outcome-skipped"), "{}", html.display());
}

#[test]
fn npm_junit_consumers_show_every_outcome() {
    if node_consumer("xunit-viewer").is_none() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let read = consumer(
        "node",
        &[
            &script("junit_node.mjs"),
            &out().join("junit.xml"),
            scratch.path(),
        ],
    );
    assert_shows("xunit-viewer", &read["xunit-viewer"], false, "flakyFailure");
    for name in ["junit2json", "junit-report-merger"] {
        assert_shows_outcomes(name, &read[name]);
    }
}

#[test]
fn xunit_viewer_writes_its_page() {
    let Some(viewer) = node_consumer("xunit-viewer") else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let page = scratch.path().join("viewer.html");
    let output = Command::new(viewer)
        .arg("-r")
        .arg(out().join("junit.xml"))
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    assert!(!printed.contains("Failed to parse"), "{printed}");
    assert!(page.is_file(), "{printed}");
}

#[test]
fn junit_is_ascii_where_the_output_was_not_text() {
    let junit = std::fs::read_to_string(out().join("junit.xml")).unwrap();
    assert!(!junit.contains('\u{FFFD}'), "a replacement character");
    assert!(
        junit.contains("error: the quick brown fox \\x01\\xFF \\xEF\\xBF\\xBD jumps"),
        "{junit}"
    );
    // Probe cases hold no time of their own: the probe's case has it, once.
    let cases: Vec<&str> = junit
        .lines()
        .filter(|line| line.contains("<testcase name=\"SEC-00::secrets::"))
        .collect();
    assert!(cases.len() >= 3, "{junit}");
    for case in cases {
        assert!(case.contains(r#"time="0.000""#), "{case}");
    }
}

#[test]
fn sarif_multitool_finds_no_error_or_warning() {
    if node_consumer("sarif-multitool").is_none() {
        return;
    }
    // The npm wrapper hands its arguments to a shell unquoted (`Sarif;Gh` would be two
    // commands): run the platform binary it wraps.
    let multitool = script("node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool");
    let scratch = tempfile::tempdir().unwrap();
    let log = scratch.path().join("validation.sarif");
    let schema = crate::sarif_consumer::schemas_dir().join("sarif-schema-2.1.0.json");
    let output = Command::new(multitool)
        .args([
            "validate",
            "--rule-kind",
            "Sarif;Gh",
            "--level",
            "Error;Warning;Note",
        ])
        .arg("--json-schema")
        .arg(&schema)
        .arg("--output")
        .arg(&log)
        .arg(out().join("report.sarif"))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    let validation: Value = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
    let results = validation["runs"][0]["results"].as_array().unwrap();
    let problems: Vec<String> = results
        .iter()
        .filter(|result| result["level"] != "note")
        .map(|result| {
            format!(
                "{} {}: {}",
                result["level"], result["ruleId"], result["message"]
            )
        })
        .collect();
    assert!(problems.is_empty(), "{}\n{printed}", problems.join("\n"));
    let notes: Vec<&str> = results
        .iter()
        .filter_map(|result| result["ruleId"].as_str())
        .collect();
    eprintln!("sarif-multitool notes (advice, not defects): {notes:?}");
}

#[test]
fn sarif_tools_describes_each_result_by_its_message() {
    if !python_consumers() {
        return;
    }
    let read = consumer(
        "python3",
        &[&script("sarif_tools.py"), &out().join("report.sarif")],
    );
    let records = read["records"]
        .as_array()
        .unwrap_or_else(|| panic!("{read}"));
    let sarif: Value =
        serde_json::from_slice(&std::fs::read(out().join("report.sarif")).unwrap()).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(records.len(), results.len(), "{read}");
    for (record, result) in records.iter().zip(results) {
        assert_eq!(record["Code"], result["ruleId"], "{record}");
        assert_eq!(
            record["Description"], result["message"]["text"],
            "sarif-tools shows another description"
        );
    }
    let levels = |level: &str| results.iter().filter(|r| r["level"] == level).count();
    for level in ["error", "warning", "note"] {
        assert_eq!(read["counts"][level], levels(level), "{read}");
    }
}

#[test]
fn the_attestation_is_a_valid_statement_with_a_test_result_predicate() {
    if !python_consumers() {
        return;
    }
    let path = out().join("attestation.intoto.json");
    let read = consumer("python3", &[&script("intoto.py"), &path]);
    assert_eq!(read["ok"], true, "{}", read["error"].as_str().unwrap_or(""));
    assert_eq!(read["result"], "FAILED");

    let statement: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let predicate = &statement["predicate"];
    let skipped: Vec<&str> = predicate["skippedTests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert!(skipped.contains(&"SEC-01::release-build"), "{skipped:?}");
    let uri = predicate["gate"]["uri"].as_str().unwrap();
    assert_eq!(uri, "sub/packets.toml");
    assert_eq!(predicate["configuration"][0]["name"], uri);
    assert_eq!(
        predicate["configuration"][0]["digest"]["sha256"],
        predicate["gate"]["digest"]["sha256"]
    );
}

/// Every field of relgate's predicate is documented in the user guide's attestation page, by its
/// name in backticks.
#[test]
fn every_predicate_field_is_documented() {
    let statement: Value =
        serde_json::from_slice(&std::fs::read(out().join("attestation.intoto.json")).unwrap())
            .unwrap();
    let page =
        std::fs::read_to_string(fixtures().join("../../docs/book/src/reports/attestation.md"))
            .expect("the user guide's attestation page");
    assert!(
        page.starts_with("# attestation.intoto.json\n"),
        "docs/book/src/reports/attestation.md is the attestation page"
    );
    let section = page.as_str();
    let mut missing = Vec::new();
    let fields = |object: &Value, prefix: &str, missing: &mut Vec<String>| {
        for key in object.as_object().into_iter().flatten().map(|(key, _)| key) {
            if !section.contains(&format!("`{key}`")) {
                missing.push(format!("{prefix}{key}"));
            }
        }
    };
    let predicate = &statement["predicate"];
    fields(predicate, "", &mut missing);
    for (key, value) in predicate.as_object().unwrap() {
        let inner = match value {
            Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        if inner.is_object() {
            fields(&inner, &format!("{key}."), &mut missing);
        }
    }
    assert!(
        missing.is_empty(),
        "predicate fields docs/book/src/reports/attestation.md does not name: {missing:?}"
    );
}
