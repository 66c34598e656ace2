//! Tests of the JUnit report: failure types, triage shown as passes, log tails and their
//! confinement, what the Ant schema requires.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::*;
use crate::spec::{AcceptTarget, Acceptance, Check, CheckKind, CommandSpec, Packet, Severity};
use crate::verdict::{decide, Stage};

const PACKET: &str = "SEC.01";

fn gate(checks: &[(&str, Severity)], accepts: Vec<Acceptance>) -> Gate {
    let checks = checks
        .iter()
        .map(|&(id, severity)| Check {
            packet: PACKET.to_string(),
            id: id.to_string(),
            severity,
            timeout: Duration::from_secs(2),
            leak_timeout: Duration::from_millis(500),
            kind: CheckKind::Command(CommandSpec {
                argv: vec!["true".to_string()],
                display: "true".to_string(),
                cwd: PathBuf::from("/"),
                env: BTreeMap::new(),
                expect_exit: vec![0],
            }),
            services: Vec::new(),
            tools: Vec::new(),
            line: 1,
            retries: 0,
        })
        .collect();
    Gate {
        source: PathBuf::from("packets.toml"),
        root: PathBuf::from("/"),
        sha256: "ab".repeat(32),
        name: "unit".to_string(),
        plan_link: None,
        services: Vec::new(),
        tools: Vec::new(),
        review: None,
        packets: vec![Packet {
            id: PACKET.to_string(),
            title: "Tenancy".to_string(),
            depends_on: Vec::new(),
            implementer: None,
            reviewer: None,
            checks,
            checklist: Vec::new(),
            definition: None,
        }],
        accepts,
    }
}

fn record(check: &str, outcome: Outcome, message: &str) -> CheckRecord {
    CheckRecord {
        cwd: "/".to_string(),
        started: "2026-01-01T10:00:00.250Z".to_string(),
        ended: "2026-01-01T10:00:01.500Z".to_string(),
        duration_ms: 1250,
        ..CheckRecord::new(
            PACKET,
            check,
            CaseKind::Command,
            Severity::P0,
            outcome,
            message.to_string(),
        )
    }
}

fn header() -> RunHeader {
    RunHeader {
        gate: "unit".to_string(),
        gate_file: "packets.toml".to_string(),
        gate_path: None,
        gate_sha256: "ab".repeat(32),
        git_head: Some("c0ffee".to_string()),
        git_dirty: Some(false),
        code: None,
        relgate_version: "0.1.0".to_string(),
        started: "2026-01-01T09:59:59.999Z".to_string(),
        host: "builder".to_string(),
        run_id: "run-1".to_string(),
        mode: "xtask".to_string(),
        shard: None,
        merged: Vec::new(),
        journal_head: None,
    }
}

fn xml(gate: &Gate, records: &[CheckRecord]) -> String {
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let verdict = decide(gate, records, today, Stage::Final);
    render(
        gate,
        &header(),
        records,
        &verdict,
        Path::new("/nonexistent-out"),
    )
}

/// Renders one check of the given severity with one record.
fn one(severity: Severity, mut record: CheckRecord) -> String {
    record.severity = severity;
    xml(
        &gate(&[(&record.check.clone(), severity)], Vec::new()),
        &[record],
    )
}

#[test]
fn a_timeout_is_a_failure_of_type_timeout() {
    let mut timed_out = record("hangs", Outcome::Fail, "timed out after 2s");
    timed_out.timed_out = true;
    let xml = one(Severity::P0, timed_out);
    assert!(
        xml.contains(r#"<failure message="timed out after 2s" type="timeout">"#),
        "{xml}"
    );
}

#[test]
fn a_failure_is_typed_by_its_kind() {
    for (kind, expected) in [
        (CaseKind::Command, "exit-code"),
        (CaseKind::Grep, "grep"),
        (CaseKind::Checklist, "checklist"),
    ] {
        let mut failed = record("c", Outcome::Fail, "exit 3 (expected 0)");
        failed.case_kind = kind;
        let xml = one(Severity::P0, failed);
        let tag = format!(r#"<failure message="exit 3 (expected 0)" type="{expected}">"#);
        assert!(xml.contains(&tag), "{xml}");
    }
}

#[test]
fn a_failure_without_message_still_has_one() {
    let xml = one(Severity::P0, record("c", Outcome::Fail, " "));
    assert!(
        xml.contains(r#"message="FAIL (no message recorded)""#),
        "{xml}"
    );
}

#[test]
fn a_spawn_failure_is_an_error() {
    let xml = one(
        Severity::P0,
        record("c", Outcome::Error, "cannot run `nope`: No such file"),
    );
    assert!(
        xml.contains(r#"<error message="cannot run `nope`: No such file" type="spawn">"#),
        "{xml}"
    );
    assert!(xml.contains(r#"errors="1""#), "{xml}");
}

#[test]
fn a_skipped_check_keeps_its_message_and_has_no_type() {
    let xml = one(
        Severity::P0,
        record("c", Outcome::Skipped, "blocked by SEC-00"),
    );
    assert!(
        xml.contains(r#"<skipped message="blocked by SEC-00"/>"#),
        "{xml}"
    );
}

#[test]
fn a_check_without_record_is_skipped_as_not_run() {
    let xml = xml(&gate(&[("c", Severity::P0)], Vec::new()), &[]);
    assert!(
        xml.contains(r#"<skipped message="not run in this run"/>"#),
        "{xml}"
    );
    assert!(xml.contains(r#"tests="1" skipped="1""#), "{xml}");
}

#[test]
fn an_accepted_failure_is_skipped_with_its_triage() {
    let acceptance = Acceptance {
        target: AcceptTarget::Check(format!("{PACKET}::audit")),
        owner: "dana".to_string(),
        until: NaiveDate::from_ymd_opt(2099, 12, 31).unwrap(),
        reason: "no fix upstream".to_string(),
        line: 9,
    };
    let gate = gate(&[("audit", Severity::P1)], vec![acceptance]);
    let xml = xml(
        &gate,
        &[record("audit", Outcome::Fail, "exit 1 (expected 0)")],
    );
    let why = "FAIL accepted by dana until 2099-12-31: no fix upstream";
    assert!(
        xml.contains(&format!(
            "<testcase name=\"SEC.01::audit\" classname=\"relgate.SEC_01\" time=\"1.250\">\n            \
             <skipped message=\"{why}: exit 1 (expected 0)\">{why}: exit 1 (expected 0)"
        )),
        "{xml}"
    );
    assert!(!xml.contains("triage."), "{xml}");
    assert!(
        xml.contains(r#"skipped="1" errors="0" failures="0""#),
        "{xml}"
    );
}

#[test]
fn a_tracked_p2_failure_is_skipped_with_its_triage() {
    let xml = one(
        Severity::P2,
        record("lint", Outcome::Fail, "exit 1 (expected 0)"),
    );
    assert!(
        xml.contains(
            r#"<skipped message="FAIL tracked (P2), does not block the release: exit 1 (expected 0)">"#
        ),
        "{xml}"
    );
}

#[test]
fn property_names_are_unique_in_the_file() {
    let gate = gate(&[("a", Severity::P0)], Vec::new());
    let mut second = gate.packets[0].clone();
    second.id = "SEC-02".to_string();
    let mut gate = gate;
    gate.packets.push(second);
    let xml = xml(&gate, &[record("a", Outcome::Pass, "exit 0")]);
    let names: Vec<&str> = xml
        .split("<property name=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    assert!(names.contains(&"SEC.01.status") && names.contains(&"SEC-02.status"));
    assert_eq!(
        names.iter().filter(|name| **name == "gate.verdict").count(),
        1
    );
}

#[test]
fn control_bytes_and_replacement_characters_are_ascii_escapes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(
        dir.path().join("logs/c.log"),
        b"\x1b[31merror\x1b[0m \x01 \xff \xef\xbf\xbd\n",
    )
    .unwrap();
    let mut failed = record("c", Outcome::Fail, "exit 1: \u{FFFD}");
    failed.log = Some("logs/c.log".to_string());
    let gate = gate(&[("c", Severity::P0)], Vec::new());
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let verdict = decide(&gate, std::slice::from_ref(&failed), today, Stage::Final);
    let xml = render(&gate, &header(), &[failed], &verdict, dir.path());
    assert!(
        xml.contains("\nerror \\x01 \\xFF \\xEF\\xBF\\xBD<"),
        "{xml}"
    );
    assert!(xml.contains("exit 1: \\xEF\\xBF\\xBD"), "{xml}");
    assert!(!xml.contains('\u{FFFD}'), "{xml}");
}

#[test]
fn a_missing_log_is_reported_not_fatal() {
    let mut failed = record("c", Outcome::Fail, "exit 1 (expected 0)");
    failed.log = Some("logs/SEC.01/c.log".to_string());
    let xml = one(Severity::P0, failed);
    assert!(
        xml.contains("log: logs/SEC.01/c.log (0 bytes, sha256 unknown)\nlog unavailable: "),
        "{xml}"
    );
}

#[test]
fn a_log_path_outside_the_out_directory_is_not_read() {
    let mut failed = record("c", Outcome::Fail, "exit 1 (expected 0)");
    failed.log = Some("../../etc/passwd".to_string());
    let xml = one(Severity::P0, failed);
    assert!(
        xml.contains("log unavailable: the path leaves the out directory"),
        "{xml}"
    );
    assert!(!xml.contains("root:"), "{xml}");
}

#[test]
fn a_log_symlink_out_of_the_out_directory_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("logs")).unwrap();
    std::fs::write(dir.path().join("secret"), "root:x:0:0\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret"), out.join("logs/c.log")).unwrap();
    let mut failed = record("c", Outcome::Fail, "exit 1 (expected 0)");
    failed.log = Some("logs/c.log".to_string());
    let gate = gate(&[("c", Severity::P0)], Vec::new());
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let verdict = decide(&gate, std::slice::from_ref(&failed), today, Stage::Final);
    let xml = render(&gate, &header(), &[failed], &verdict, &out);
    assert!(
        xml.contains("log unavailable: the path leaves the out directory"),
        "{xml}"
    );
    assert!(!xml.contains("root:"), "{xml}");
}

#[test]
fn the_suite_carries_what_the_ant_schema_requires() {
    let xml = one(Severity::P0, record("c", Outcome::Pass, "exit 0"));
    assert!(xml.contains("<testsuites>\n"), "{xml}");
    assert!(
        xml.contains(
            r#"package="relgate" id="0" hostname="builder" timestamp="2026-01-01T10:00:00">"#
        ),
        "{xml}"
    );
    assert!(xml.contains("<system-err></system-err>"), "{xml}");
    assert!(
        xml.contains(r#"<property name="gate.verdict" value="GO"/>"#),
        "{xml}"
    );
    assert!(xml.contains("---- SEC.01::c ----\nPASS: exit 0"), "{xml}");
}

/// A record of an earlier attempt, with a real log under `out`.
fn attempt(
    out: &Path,
    check: &str,
    k: usize,
    outcome: Outcome,
    exit: i32,
    log: &str,
) -> CheckRecord {
    let path = if k == 1 {
        format!("logs/{PACKET}/{check}.log")
    } else {
        format!("logs/{PACKET}/{check}.attempts/{k}.log")
    };
    std::fs::create_dir_all(out.join(&path).parent().unwrap()).unwrap();
    std::fs::write(out.join(&path), log).unwrap();
    CheckRecord {
        exit_code: Some(exit),
        log: Some(path),
        bytes: log.len() as u64,
        sha256: Some(crate::model::digest::sha256_hex(log.as_bytes())),
        ..record(check, outcome, &format!("exit {exit} (expected 0)"))
    }
}

/// A flaky check (FAIL, then PASS) and one that failed on both attempts, rendered with their
/// logs in a real out directory.
fn retried() -> (tempfile::TempDir, String) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path();
    let flaky = CheckRecord {
        message: "exit 0".to_string(),
        ..attempt(dir, "flaky", 2, Outcome::Pass, 0, "ok now\n")
    }
    .after_attempts(vec![attempt(
        dir,
        "flaky",
        1,
        Outcome::Fail,
        1,
        "connection reset <&>\n",
    )]);
    let mut spawn = attempt(dir, "broken", 1, Outcome::Error, 127, "");
    spawn.message = "cannot run `nope`".to_string();
    spawn.exit_code = None;
    let broken =
        attempt(dir, "broken", 3, Outcome::Fail, 2, "still broken\n").after_attempts(vec![
            spawn,
            attempt(dir, "broken", 2, Outcome::Fail, 1, "broken once more\n"),
        ]);
    let gate = gate(
        &[("flaky", Severity::P1), ("broken", Severity::P0)],
        Vec::new(),
    );
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let records = [flaky, broken];
    let verdict = decide(&gate, &records, today, Stage::Final);
    let xml = render(&gate, &header(), &records, &verdict, dir);
    (out, xml)
}

#[test]
fn a_flaky_pass_is_a_success_with_a_flaky_failure_per_failed_attempt() {
    let (_out, xml) = retried();
    let report = parsed(&xml);
    let cases = &report.test_suites[0].test_cases;
    let flaky = cases
        .iter()
        .find(|case| case.name.as_str() == "SEC.01::flaky")
        .unwrap();
    let TestCaseStatus::Success { flaky_runs } = &flaky.status else {
        panic!("a flaky pass is a success: {xml}");
    };
    assert_eq!(flaky_runs.len(), 1, "{xml}");
    let run = &flaky_runs[0];
    assert_eq!(run.kind, NonSuccessKind::Failure);
    assert_eq!(run.message.as_deref(), Some("exit 1 (expected 0)"));
    assert_eq!(run.ty.as_deref(), Some("exit-code"));
    assert_eq!(run.time, Some(Duration::from_millis(1250)));
    let trace = run.stack_trace.as_deref().unwrap();
    assert!(
        trace.contains("log: logs/SEC.01/flaky.log (21 bytes, sha256 "),
        "{trace}"
    );
    assert!(trace.ends_with("connection reset <&>"), "{trace}");
    let out = flaky.system_out.as_deref().unwrap();
    assert!(
        out.starts_with("FLAKY: passed on attempt 2 of 2 only after failing\n"),
        "{out}"
    );
    assert!(out.contains("attempt 2 of 2: PASS exit 0"), "{out}");
    // The suite's block says FLAKY, never PASS.
    assert!(
        xml.contains("---- SEC.01::flaky ----\nFLAKY: exit 0"),
        "{xml}"
    );
    assert!(xml.contains("<flakyFailure "), "{xml}");
}

#[test]
fn a_failure_after_failed_attempts_carries_a_rerun_element_per_attempt() {
    let (_out, xml) = retried();
    let report = parsed(&xml);
    let cases = &report.test_suites[0].test_cases;
    let broken = cases
        .iter()
        .find(|case| case.name.as_str() == "SEC.01::broken")
        .unwrap();
    let TestCaseStatus::NonSuccess {
        kind,
        message,
        reruns,
        ..
    } = &broken.status
    else {
        panic!("a failure on every attempt fails: {xml}");
    };
    assert_eq!(*kind, NonSuccessKind::Failure);
    assert_eq!(message.as_deref(), Some("exit 2 (expected 0)"));
    let kinds: Vec<_> = reruns
        .runs
        .iter()
        .map(|run| (run.kind, run.ty.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            (NonSuccessKind::Error, Some("spawn")),
            (NonSuccessKind::Failure, Some("exit-code"))
        ]
    );
    assert!(
        xml.contains("<rerunError ") && xml.contains("<rerunFailure "),
        "{xml}"
    );
    let second = reruns.runs[1].stack_trace.as_deref().unwrap();
    assert!(
        second.contains("logs/SEC.01/broken.attempts/2.log"),
        "{second}"
    );
    assert!(second.ends_with("broken once more"), "{second}");
    assert!(reruns.runs[0]
        .description
        .as_deref()
        .unwrap()
        .starts_with("attempt 1 of 3: ERROR cannot run `nope`"));
    let out = broken.system_out.as_deref().unwrap();
    assert!(
        out.starts_with("ran 3 times: attempt 3 of 3 is the result\n"),
        "{out}"
    );
}

#[test]
fn a_check_that_ran_once_has_no_rerun_elements_nor_system_out() {
    let xml = one(Severity::P0, record("once", Outcome::Fail, "exit 1"));
    for element in ["flakyFailure", "rerunFailure", "rerunError", "flakyError"] {
        assert!(!xml.contains(element), "{xml}");
    }
    let report = parsed(&xml);
    assert!(report.test_suites[0].test_cases[0].system_out.is_none());
}

/// The report as quick-junit reads it back: its deserializer insists on an RFC 3339 zone,
/// which the Ant schema forbids on suites; the timestamps are UTC, so adding the `Z` is exact.
fn parsed(xml: &str) -> quick_junit::Report {
    let zoned = regex::Regex::new(r#"timestamp="([0-9T:-]{19})""#)
        .unwrap()
        .replace_all(xml, r#"timestamp="${1}Z""#);
    quick_junit::Report::deserialize_from_str(&zoned).unwrap()
}

#[test]
fn a_checklist_item_resting_on_a_flaky_check_says_so() {
    let gate = crate::spec::parse(
        Path::new("packets.toml"),
        "[gate]\nname = \"g\"\n[[packet]]\nid = \"SEC.01\"\ntitle = \"t\"\n\
         checklist = [ { item = \"Fetch works.\", by = [\"fetch\"] } ]\n\
         [[packet.check]]\nid = \"fetch\"\nrun = \"true\"\nseverity = \"P1\"\n",
    )
    .unwrap();
    let flaky = record("fetch", Outcome::Pass, "exit 0").after_attempts(vec![record(
        "fetch",
        Outcome::Fail,
        "exit 1",
    )]);
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let verdict = decide(&gate, std::slice::from_ref(&flaky), today, Stage::Final);
    let mut item = record(
        "checklist::fetch-works",
        Outcome::Pass,
        "satisfied by fetch",
    );
    item.case_kind = CaseKind::Checklist;
    let xml = render(
        &gate,
        &header(),
        &[flaky, item],
        &verdict,
        Path::new("/nonexistent"),
    );
    assert!(
        xml.contains("---- SEC.01::checklist::fetch-works ----\nPASS: satisfied by fetch\nnote: satisfied by FLAKY check fetch"),
        "{xml}"
    );
}
