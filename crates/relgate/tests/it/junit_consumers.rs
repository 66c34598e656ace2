//! `junit.xml` as its consumers read it: the strict Ant schema (xmllint), an independent JUnit
//! parser (Python's junitparser, as CI dashboards use) and quick-junit's own deserializer.
//!
//! The external tools are installed by `.ci/run`; where one is missing a test prints
//! `skipped: <why>` and returns, so a skip is always visible in the output; with
//! `RELGATE_REQUIRE_TOOLS` set (as `.ci/run` does) a missing tool fails the test instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::NaiveDate;
use relgate::evidence::{CaseKind, CheckRecord, Outcome, RunHeader};
use relgate::report::junit;
use relgate::spec::{
    AcceptTarget, Acceptance, Check, CheckKind, ChecklistItem, CommandSpec, Gate, GrepExpect,
    GrepSpec, Packet, Satisfaction, Severity,
};
use relgate::verdict::{decide, Stage};
use sha2::{Digest, Sha256};

/// Output that breaks naive XML writers: a CDATA terminator, markup, a NUL, invalid UTF-8.
const NASTY: &[u8] = b"compiling\nok \xff\xfe ]]> <tag> & \0 done\n";

/// A fixture case: name, kind, outcome, message and, if it has a log, the log's contents.
type Case = (
    &'static str,
    CaseKind,
    Outcome,
    &'static str,
    Option<&'static [u8]>,
);

/// Three packets: SEC-00 passes but one check was filtered out, so SEC-01 is blocked behind it;
/// `SEC.02` (a dotted id) holds every other outcome.
fn gate() -> Gate {
    let command = |packet: &str, id: &str, severity: Severity| Check {
        packet: packet.to_string(),
        id: id.to_string(),
        severity,
        timeout: Duration::from_secs(2),
        leak_timeout: Duration::from_millis(500),
        kind: CheckKind::Command(CommandSpec {
            argv: vec!["sh".to_string(), "-c".to_string(), "true".to_string()],
            display: "true".to_string(),
            cwd: PathBuf::from("/"),
            env: BTreeMap::new(),
            expect_exit: vec![0],
        }),
        services: Vec::new(),
        tools: Vec::new(),
        line: 1,
        retries: 0,
    };
    let grep = Check {
        kind: CheckKind::Grep(GrepSpec {
            pattern: regex::Regex::new("AKIA[0-9A-Z]{16}").unwrap(),
            files: vec!["**/*.rs".to_string()],
            expect: GrepExpect::NoMatch,
            root: PathBuf::from("/"),
        }),
        ..command("SEC.02", "secrets", Severity::P0)
    };
    let packet = |id: &str, title: &str, depends_on: &[&str], checks, checklist| Packet {
        id: id.to_string(),
        title: title.to_string(),
        depends_on: depends_on.iter().map(|dep| dep.to_string()).collect(),
        implementer: Some("erin".to_string()),
        reviewer: None,
        checks,
        checklist,
        definition: None,
    };
    let item = |slug: &str, ids: &[&str]| ChecklistItem {
        text: format!("{slug}."),
        slug: slug.to_string(),
        satisfied_by: Satisfaction::Checks(ids.iter().map(|id| id.to_string()).collect()),
    };
    Gate {
        source: PathBuf::from("packets.toml"),
        root: PathBuf::from("/"),
        sha256: "ab".repeat(32),
        name: "Consumers gate".to_string(),
        plan_link: None,
        services: Vec::new(),
        tools: Vec::new(),
        review: None,
        packets: vec![
            packet(
                "SEC-00",
                "Build",
                &[],
                vec![
                    command("SEC-00", "build", Severity::P0),
                    command("SEC-00", "filtered", Severity::P0),
                ],
                vec![],
            ),
            packet(
                "SEC-01",
                "Tenancy",
                &["SEC-00"],
                vec![command("SEC-01", "suites", Severity::P0)],
                vec![item("suites-rerun", &["suites"])],
            ),
            packet(
                "SEC.02",
                "Supply chain",
                &[],
                vec![
                    command("SEC.02", "audit", Severity::P1),
                    command("SEC.02", "lint", Severity::P2),
                    command("SEC.02", "hangs", Severity::P0),
                    command("SEC.02", "missing-program", Severity::P0),
                    grep,
                ],
                vec![item("audit-reviewed", &["audit"])],
            ),
        ],
        accepts: vec![Acceptance {
            target: AcceptTarget::Check("SEC.02::audit".to_string()),
            owner: "dana".to_string(),
            until: NaiveDate::from_ymd_opt(2099, 12, 31).unwrap(),
            reason: "no fixed release upstream".to_string(),
            line: 40,
        }],
    }
}

/// A record of `PACKET::check`; with `output`, a real log is written under `out`.
fn record(
    out: &Path,
    name: &str,
    kind: CaseKind,
    outcome: Outcome,
    message: &str,
    output: Option<&[u8]>,
) -> CheckRecord {
    let (packet, check) = name.split_once("::").unwrap();
    let (log, bytes, sha256) = match output {
        Some(output) => {
            let log = format!("logs/{packet}/{check}.log");
            std::fs::create_dir_all(out.join(&log).parent().unwrap()).unwrap();
            std::fs::write(out.join(&log), output).unwrap();
            (
                Some(log),
                output.len() as u64,
                Some(hex::encode(Sha256::digest(output))),
            )
        }
        None => (None, 0, None),
    };
    CheckRecord {
        packet: packet.to_string(),
        check: check.to_string(),
        name: name.to_string(),
        case_kind: kind,
        argv: Vec::new(),
        cwd: "/".to_string(),
        started: "2026-03-01T12:00:00.500Z".to_string(),
        ended: "2026-03-01T12:00:02.750Z".to_string(),
        duration_ms: 2250,
        exit_code: None,
        signal: None,
        timed_out: false,
        log,
        bytes,
        sha256,
        outcome,
        severity: Severity::P0,
        message: message.to_string(),
        notes: Vec::new(),
        cases: Vec::new(),
        findings: Vec::new(),
        report: None,
        report_sha256: None,
        leaked: Vec::new(),
        attempts: Vec::new(),
        shard: None,
    }
}

/// Writes `junit.xml` for the fixture gate into a fresh out directory.
fn rendered() -> (tempfile::TempDir, PathBuf) {
    rendered_with(|_, _| {})
}

/// [`rendered`] with the records changed by `edit` (given the out directory) first.
fn rendered_with(edit: impl FnOnce(&Path, &mut Vec<CheckRecord>)) -> (tempfile::TempDir, PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path();
    use CaseKind::{Checklist, Command as Cmd, Grep};
    use Outcome::{Error, Fail, Pass, Skipped};
    let blocked = "blocked by SEC-00";
    #[rustfmt::skip]
    let cases: [Case; 9] = [
        ("SEC-00::build", Cmd, Pass, "exit 0", Some(NASTY)),
        ("SEC-01::suites", Cmd, Skipped, blocked, None),
        ("SEC.02::audit", Cmd, Fail, "exit 1 (expected 0)", Some(b"1 vulnerability\n")),
        ("SEC.02::lint", Cmd, Fail, "exit 2 (expected 0)", Some(b"style\n")),
        ("SEC.02::hangs", Cmd, Fail, "timed out after 2s", Some(b"started\n")),
        ("SEC.02::missing-program", Cmd, Error, "cannot run `nope`: not found", None),
        ("SEC.02::secrets", Grep, Fail, "1 matching line", Some(b"src/key.rs:3:AKIA<&>\n")),
        ("SEC-01::checklist::suites-rerun", Checklist, Skipped, blocked, None),
        ("SEC.02::checklist::audit-reviewed", Checklist, Pass, "satisfied by audit", None),
    ];
    let mut records: Vec<CheckRecord> = cases
        .into_iter()
        .map(|(name, kind, outcome, message, output)| {
            record(dir, name, kind, outcome, message, output)
        })
        .collect();
    let hangs = records
        .iter_mut()
        .find(|record| record.name == "SEC.02::hangs");
    hangs.unwrap().timed_out = true;
    edit(dir, &mut records);
    let gate = gate();
    let verdict = decide(
        &gate,
        &records,
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        Stage::Final,
    );
    let header = RunHeader {
        gate: gate.name.clone(),
        gate_file: "packets.toml".to_string(),
        gate_path: None,
        gate_sha256: gate.sha256.clone(),
        git_head: Some("0123456789abcdef".to_string()),
        git_dirty: Some(false),
        code: None,
        relgate_version: "0.1.0".to_string(),
        started: "2026-03-01T11:59:59.000Z".to_string(),
        host: "ci-runner".to_string(),
        run_id: "run-42".to_string(),
        mode: "xtask".to_string(),
        shard: None,
        merged: Vec::new(),
        journal_head: None,
    };
    let path = junit::write(&gate, &header, &records, &verdict, dir).unwrap();
    assert_eq!(path, dir.join(junit::JUNIT_FILE));
    (out, path)
}

/// Where the shared schemas are: `$RELGATE_SCHEMAS`, relative paths from the workspace root.
fn schemas_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var_os("RELGATE_SCHEMAS")
        .map_or_else(|| PathBuf::from("../shared/schemas"), PathBuf::from);
    workspace.join(dir)
}

/// Says why a consumer test cannot run. Under `RELGATE_REQUIRE_TOOLS=1` (set by `.ci/run`)
/// that is a failure, so CI cannot go green by skipping.
fn skip(why: &str) {
    relgate_pg::testing::skip(why);
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The Ant schema, if it and xmllint are at hand; else `None` after [`skip`] says why.
fn ant_schema() -> Option<PathBuf> {
    let xsd = schemas_dir().join("junit-ant.xsd");
    if !xsd.is_file() {
        skip(&format!(
            "no JUnit schema at {} (set RELGATE_SCHEMAS)",
            xsd.display()
        ));
        return None;
    }
    if !runs("xmllint", &["--version"]) {
        skip("xmllint is not installed (`cargo xtask gate setup --tool xmllint`)");
        return None;
    }
    Some(xsd)
}

#[test]
fn the_report_validates_against_the_ant_schema() {
    let Some(xsd) = ant_schema() else {
        return;
    };
    let xmllint = |path: &Path| xmllint(&xsd, path);
    let (out, path) = rendered();
    let xml = std::fs::read_to_string(&path).unwrap();
    let (valid, errors) = xmllint(&path);
    assert!(valid, "{errors}\n{xml}");

    // The schema is strict enough to matter: the totals quick-junit puts on <testsuites> fail it.
    let with_totals = out.path().join("with-totals.xml");
    std::fs::write(
        &with_totals,
        xml.replacen("<testsuites>", r#"<testsuites tests="10">"#, 1),
    )
    .unwrap();
    let (valid, errors) = xmllint(&with_totals);
    assert!(!valid && errors.contains("tests"), "{errors}");
}

/// The fixture with retried checks: SEC-00's build passed on its second attempt after a
/// failure (flaky), SEC.02's hangs timed out after an attempt that could not start.
fn rendered_with_attempts() -> (tempfile::TempDir, PathBuf) {
    rendered_with(|dir, records| {
        for record in records.iter_mut() {
            let (outcome, message, log) = match record.name.as_str() {
                "SEC-00::build" => (
                    Outcome::Fail,
                    "exit 1 (expected 0)",
                    Some(&b"reset <&>\n"[..]),
                ),
                "SEC.02::hangs" => (Outcome::Error, "cannot run `sh`: not found", None),
                _ => continue,
            };
            let first = self::record(dir, &record.name, record.case_kind, outcome, message, log);
            let last = std::mem::replace(record, first.clone());
            let mut last = last;
            if let Some(log) = &last.log {
                // The last attempt's log lives at its own path; attempt 1 has the usual one.
                let moved = log.replace(".log", ".attempts/2.log");
                std::fs::create_dir_all(dir.join(&moved).parent().unwrap()).unwrap();
                std::fs::write(dir.join(&moved), b"second\n").unwrap();
                (last.log, last.bytes) = (Some(moved), 7);
                last.sha256 = Some(hex::encode(Sha256::digest(b"second\n")));
            }
            *record = last.after_attempts(vec![first]);
        }
    })
}

/// The Ant schema with Maven Surefire's elements for reruns added to `<testcase>`, as
/// Surefire's own schema (surefire-test-report-3.0.xsd) has them: after the result, any
/// number of `flakyFailure`, `flakyError`, `rerunFailure` and `rerunError` (a message, a
/// required type, text, then `stackTrace`, `system-out`, `system-err`; quick-junit and
/// nextest also write `time` and `timestamp` on them), then the case's own `system-out` and
/// `system-err`. The strict Ant schema has none of them.
fn ant_with_surefire(ant: &str) -> String {
    let start = ant.find("<xs:element name=\"testcase\"").unwrap();
    let open = start + ant[start..].find("<xs:choice minOccurs=\"0\">").unwrap();
    let close = open + ant[open..].find("</xs:choice>").unwrap() + "</xs:choice>".len();
    let rerun = |name: &str| {
        format!(
            "<xs:element name=\"{name}\" minOccurs=\"0\" maxOccurs=\"unbounded\"><xs:complexType mixed=\"true\"><xs:sequence>\
             <xs:element name=\"stackTrace\" type=\"xs:string\" minOccurs=\"0\"/>\
             <xs:element name=\"system-out\" type=\"xs:string\" minOccurs=\"0\"/>\
             <xs:element name=\"system-err\" type=\"xs:string\" minOccurs=\"0\"/></xs:sequence>\
             <xs:attribute name=\"message\" type=\"xs:string\"/>\
             <xs:attribute name=\"type\" type=\"xs:string\" use=\"required\"/>\
             <xs:attribute name=\"time\" type=\"xs:decimal\"/>\
             <xs:attribute name=\"timestamp\" type=\"xs:dateTime\"/></xs:complexType></xs:element>"
        )
    };
    let reruns: String = ["flakyFailure", "flakyError", "rerunFailure", "rerunError"]
        .map(rerun)
        .concat();
    format!(
        "{}<xs:sequence>{}{reruns}<xs:element name=\"system-out\" type=\"pre-string\" minOccurs=\"0\"/>\
         <xs:element name=\"system-err\" type=\"pre-string\" minOccurs=\"0\"/></xs:sequence>{}",
        &ant[..open],
        &ant[open..close],
        &ant[close..]
    )
}

/// Validates `path` against `xsd` with xmllint: whether it is valid, and what xmllint said.
fn xmllint(xsd: &Path, path: &Path) -> (bool, String) {
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd)
        .arg(path)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn retried_checks_validate_against_the_ant_schema_with_surefires_rerun_elements() {
    let Some(xsd) = ant_schema() else {
        return;
    };
    let (out, path) = rendered_with_attempts();
    let xml = std::fs::read_to_string(&path).unwrap();
    assert!(xml.contains("<flakyFailure "), "{xml}");
    assert!(xml.contains("<rerunError "), "{xml}");
    // The strict Ant schema knows no reruns: it refuses them, and only them.
    let (valid, errors) = xmllint(&xsd, &path);
    assert!(!valid, "{xml}");
    assert!(errors.contains("Element 'flakyFailure'"), "{errors}");
    for line in errors
        .lines()
        .filter(|line| line.contains("Schemas validity error"))
    {
        assert!(
            ["flakyFailure", "rerunError", "system-out"]
                .iter()
                .any(|element| line.contains(&format!("Element '{element}'"))),
            "{line}"
        );
    }
    // With Surefire's elements, which Jenkins, GitLab and the parsers read, it is valid.
    let extended = out.path().join("junit-ant-surefire.xsd");
    let ant = std::fs::read_to_string(&xsd).unwrap();
    std::fs::write(&extended, ant_with_surefire(&ant)).unwrap();
    let (valid, errors) = xmllint(&extended, &path);
    assert!(valid, "{errors}\n{xml}");
    // The extension is no looser for files without reruns: the usual report still validates
    // and the totals on <testsuites> still fail it.
    let (_plain_out, plain) = rendered();
    assert!(xmllint(&extended, &plain).0);
    let with_totals = out.path().join("with-totals.xml");
    std::fs::write(
        &with_totals,
        xml.replacen("<testsuites>", r#"<testsuites tests="10">"#, 1),
    )
    .unwrap();
    assert!(!xmllint(&extended, &with_totals).0);
}

/// Prints what junitparser sees, as JSON, so that the assertions stay in Rust.
const JUNITPARSER: &str = r#"
import json, sys
from junitparser import JUnitXml, SystemOut
suites = []
for suite in JUnitXml.fromfile(sys.argv[1]):
    cases = [{"name": case.name, "classname": case.classname, "time": case.time,
              "results": [{"kind": type(result).__name__.lower(), "message": result.message,
                           "type": result.type, "text": result.text} for result in case.result]}
             for case in suite]
    properties = {prop.name: prop.value for prop in suite.properties()}
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures,
                   "errors": suite.errors, "skipped": suite.skipped, "properties": properties,
                   "system_out": suite.child(SystemOut).text, "cases": cases})
print(json.dumps(suites))
"#;

#[test]
fn junitparser_reads_suites_cases_and_results() {
    if !runs("python3", &["-c", "import junitparser"]) {
        skip("python3 with junitparser is not available (`cargo xtask gate setup --tool python-consumers`)");
        return;
    }
    let (_out, path) = rendered();
    let output = Command::new("python3")
        .args(["-c", JUNITPARSER])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let suites: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let suites = suites.as_array().unwrap();

    let names: Vec<&str> = suites
        .iter()
        .map(|suite| suite["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["SEC-00", "SEC-01", "SEC.02"]);
    let counts: Vec<[u64; 4]> = suites
        .iter()
        .map(|suite| {
            ["tests", "failures", "errors", "skipped"].map(|key| suite[key].as_u64().unwrap())
        })
        .collect();
    assert_eq!(counts, [[2, 0, 0, 1], [2, 0, 0, 2], [6, 2, 1, 2]]);
    // The counts junitparser reads from the attributes match the results it finds in the cases.
    let results = |kind: &str| {
        suites
            .iter()
            .flat_map(|suite| suite["cases"].as_array().unwrap())
            .filter(|case| {
                case["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|result| result["kind"] == kind)
            })
            .count()
    };
    assert_eq!(
        (results("failure"), results("error"), results("skipped")),
        (2, 1, 5)
    );

    let supply = &suites[2];
    let case = |name: &str| {
        supply["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|case| case["name"] == name)
            .unwrap()
            .clone()
    };
    let hangs = case("SEC.02::hangs");
    assert_eq!(hangs["classname"], "relgate.SEC_02");
    assert_eq!(hangs["time"], 2.25);
    assert_eq!(hangs["results"][0]["message"], "timed out after 2s");
    assert_eq!(hangs["results"][0]["type"], "timeout");
    let text = hangs["results"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("log: logs/SEC.02/hangs.log (8 bytes, sha256 "),
        "{text}"
    );
    assert!(text.ends_with("\nstarted"), "{text}");
    assert_eq!(case("SEC.02::secrets")["results"][0]["type"], "grep");
    assert!(case("SEC.02::secrets")["results"][0]["text"]
        .as_str()
        .unwrap()
        .contains("AKIA<&>"));
    assert_eq!(
        case("SEC.02::missing-program")["results"][0]["type"],
        "spawn"
    );
    // Accepted and tracked failures are skips that say so, not passes and not failures.
    let audit = &case("SEC.02::audit")["results"][0];
    assert_eq!(audit["kind"], "skipped");
    assert!(
        audit["message"]
            .as_str()
            .unwrap()
            .starts_with("FAIL accepted by dana until 2099-12-31: no fixed release upstream: "),
        "{audit}"
    );
    let lint = &case("SEC.02::lint")["results"][0];
    assert_eq!(lint["kind"], "skipped");
    assert!(
        lint["message"]
            .as_str()
            .unwrap()
            .starts_with("FAIL tracked (P2), does not block the release: "),
        "{lint}"
    );

    // The run's properties are on the first suite only; a packet's carry its id.
    assert_eq!(suites[0]["properties"]["gate.verdict"], "NO_GO");
    assert!(supply["properties"].get("gate.verdict").is_none());
    let properties = &supply["properties"];
    assert_eq!(properties["SEC.02.status"], "CHANGES_REQUESTED");
    assert_eq!(properties["SEC.02.gate.P1"], "CONDITIONAL");
    assert_eq!(suites[1]["properties"]["SEC-01.blocked_by"], "SEC-00");

    let build_out = suites[0]["system_out"].as_str().unwrap();
    assert!(build_out.contains("]]> <tag> & "), "{build_out}");
    assert!(build_out.contains(" done"), "{build_out}");
    assert!(!build_out.contains('\0'), "{build_out}");
    let skipped = &suites[0]["cases"][1]["results"][0];
    assert_eq!(
        (&skipped["kind"], &skipped["message"]),
        (&"skipped".into(), &"not run in this run".into())
    );
}

#[test]
fn quick_junit_reads_it_back() {
    let (_out, path) = rendered();
    let xml = std::fs::read_to_string(&path).unwrap();
    // quick-junit's deserializer insists on an RFC 3339 zone, which the Ant schema forbids; the
    // timestamps are UTC, so adding the `Z` is exact.
    let zoned = regex::Regex::new(r#"timestamp="([0-9T:-]{19})""#)
        .unwrap()
        .replace_all(&xml, r#"timestamp="${1}Z""#);
    let report = quick_junit::Report::deserialize_from_str(&zoned).unwrap();
    let counts: Vec<[usize; 4]> = report
        .test_suites
        .iter()
        .map(|suite| [suite.tests, suite.failures, suite.errors, suite.skipped])
        .collect();
    assert_eq!(counts, [[2, 0, 0, 1], [2, 0, 0, 2], [6, 2, 1, 2]]);
    let recounted: usize = report
        .test_suites
        .iter()
        .map(|suite| suite.test_cases.len())
        .sum();
    assert_eq!(recounted, 10);
    let build_out = report.test_suites[0].system_out.as_ref().unwrap().as_str();
    let digest = hex::encode(Sha256::digest(NASTY));
    let log_line = format!(
        "log: logs/SEC-00/build.log ({} bytes, sha256 {digest})",
        NASTY.len()
    );
    assert!(
        build_out.contains(&format!(
            "---- SEC-00::build ----\nPASS: exit 0\n{log_line}"
        )),
        "{build_out}"
    );
    assert!(build_out.contains("]]> <tag> & "), "{build_out}");
    assert_eq!(
        report.test_suites[2].extra.get("id").map(|id| id.as_str()),
        Some("2")
    );
}
