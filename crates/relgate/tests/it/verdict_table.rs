//! The verdict rules of PRODUCT.md as a table: one line per rule.

use std::path::Path;

use chrono::NaiveDate;
use relgate::evidence::{CaseKind, CheckRecord, Decision, GateResult, Outcome, PacketStatus};
use relgate::spec::{self, Gate, Severity};
use relgate::verdict::{decide, Stage, Triage};

const GATE: &str = r#"
[[packet]]
id = "SEC-00"
checklist = [{ item = "Build passes.", by = ["build"] }]
[[packet.check]]
id = "build"
run = "true"

[[packet]]
id = "SEC-01"
depends_on = ["SEC-00"]
checklist = [
  { item = "Suites rerun.", by = ["suites"] },
  { item = "Threat model reviewed.", attested = { by = "carol", on = "2026-01-01" } },
]
[[packet.check]]
id = "suites"
run = "true"
[[packet.check]]
id = "p1-check"
run = "true"
severity = "P1"
[[packet.check]]
id = "p2-check"
run = "true"
severity = "P2"

[[packet]]
id = "SEC-04"
depends_on = ["SEC-01"]
[[packet.check]]
id = "final"
run = "true"
"#;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
}

fn gate(extra: &str) -> Gate {
    spec::parse(Path::new("gate.toml"), &format!("{GATE}{extra}")).unwrap()
}

fn record(name: &str, outcome: Outcome) -> CheckRecord {
    let (packet, check) = name.split_once("::").unwrap();
    CheckRecord {
        packet: packet.to_string(),
        check: check.to_string(),
        name: name.to_string(),
        case_kind: CaseKind::Command,
        argv: vec!["true".to_string()],
        cwd: ".".to_string(),
        started: "2026-06-01T00:00:00.000Z".to_string(),
        ended: "2026-06-01T00:00:01.000Z".to_string(),
        duration_ms: 1000,
        exit_code: Some(i32::from(outcome != Outcome::Pass)),
        signal: None,
        timed_out: false,
        log: None,
        bytes: 0,
        sha256: None,
        outcome,
        severity: Severity::P0,
        message: String::new(),
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

const ALL: &[&str] = &[
    "SEC-00::build",
    "SEC-01::suites",
    "SEC-01::p1-check",
    "SEC-01::p2-check",
    "SEC-04::final",
];

/// All checks pass except the ones given.
fn run_with(overrides: &[(&str, Outcome)]) -> Vec<CheckRecord> {
    ALL.iter()
        .map(|name| {
            let outcome = overrides
                .iter()
                .find(|(n, _)| n == name)
                .map_or(Outcome::Pass, |(_, outcome)| *outcome);
            record(name, outcome)
        })
        .collect()
}

fn check(
    extra: &str,
    overrides: &[(&str, Outcome)],
    decision: Decision,
    statuses: [PacketStatus; 3],
) {
    let verdict = decide(&gate(extra), &run_with(overrides), today(), Stage::Final);
    let got: Vec<PacketStatus> = verdict.packets.iter().map(|p| p.status).collect();
    assert_eq!(got, statuses, "{:#?}", verdict.record);
    assert_eq!(verdict.record.decision, decision, "{:#?}", verdict.record);
}

use PacketStatus::{Blocked, ChangesRequested, Done, Pending};

const ACCEPT_P1: &str = "\n[[accept]]\ncheck = \"SEC-01::p1-check\"\nowner = \"dana\"\nuntil = \"2026-12-31\"\nreason = \"no exploit path\"\n";
const EXPIRED_P1: &str = "\n[[accept]]\ncheck = \"SEC-01::p1-check\"\nowner = \"dana\"\nuntil = \"2026-05-31\"\nreason = \"no exploit path\"\n";
const ACCEPT_P0: &str = "\n[[accept]]\ncheck = \"SEC-01::suites\"\nowner = \"erin\"\nuntil = \"2026-06-01\"\nreason = \"flaky upstream, fixed next sprint\"\n";

#[test]
fn all_pass_is_go() {
    check("", &[], Decision::Go, [Done, Done, Done]);
}

#[test]
fn a_p0_failure_is_no_go_and_blocks_dependents() {
    check(
        "",
        &[("SEC-01::suites", Outcome::Fail)],
        Decision::NoGo,
        [Done, ChangesRequested, Blocked],
    );
}

#[test]
fn a_failure_of_the_first_packet_blocks_everything_after_it() {
    check(
        "",
        &[("SEC-00::build", Outcome::Fail)],
        Decision::NoGo,
        [ChangesRequested, Blocked, Blocked],
    );
}

#[test]
fn an_error_counts_as_a_failure() {
    check(
        "",
        &[("SEC-04::final", Outcome::Error)],
        Decision::NoGo,
        [Done, Done, ChangesRequested],
    );
}

#[test]
fn an_unaccepted_p1_failure_is_no_go() {
    check(
        "",
        &[("SEC-01::p1-check", Outcome::Fail)],
        Decision::NoGo,
        [Done, ChangesRequested, Blocked],
    );
}

#[test]
fn an_accepted_p1_failure_is_a_condition() {
    check(
        ACCEPT_P1,
        &[("SEC-01::p1-check", Outcome::Fail)],
        Decision::GoWithConditions,
        [Done, Done, Done],
    );
}

#[test]
fn an_accepted_p0_failure_is_a_condition_until_the_last_day() {
    check(
        ACCEPT_P0,
        &[("SEC-01::suites", Outcome::Fail)],
        Decision::GoWithConditions,
        [Done, Done, Done],
    );
}

#[test]
fn an_expired_acceptance_is_ignored_and_reported() {
    let verdict = decide(
        &gate(EXPIRED_P1),
        &run_with(&[("SEC-01::p1-check", Outcome::Fail)]),
        today(),
        Stage::Final,
    );
    assert_eq!(verdict.record.decision, Decision::NoGo);
    assert_eq!(verdict.record.expired_acceptances.len(), 1);
    assert_eq!(
        verdict.record.expired_acceptances[0].target,
        "check SEC-01::p1-check"
    );
    assert!(
        verdict
            .record
            .reasons
            .iter()
            .any(|r| r.contains("expired on 2026-05-31")),
        "{:?}",
        verdict.record.reasons
    );
}

#[test]
fn a_p2_failure_is_tracked_not_blocking() {
    let verdict = decide(
        &gate(""),
        &run_with(&[("SEC-01::p2-check", Outcome::Fail)]),
        today(),
        Stage::Final,
    );
    assert_eq!(verdict.record.decision, Decision::GoWithConditions);
    assert_eq!(verdict.triage["SEC-01::p2-check"], Triage::Tracked);
    let risk = &verdict.record.residual_risks[0];
    assert_eq!(
        (risk.check.as_str(), risk.state.as_str()),
        ("SEC-01::p2-check", "tracked")
    );
    assert_eq!(
        verdict.packet("SEC-01").unwrap().gates[&Severity::P2],
        GateResult::Conditional
    );
}

#[test]
fn residual_risks_carry_owner_and_follow_up_date() {
    let verdict = decide(
        &gate(ACCEPT_P1),
        &run_with(&[("SEC-01::p1-check", Outcome::Fail)]),
        today(),
        Stage::Final,
    );
    let risk = &verdict.record.residual_risks[0];
    assert_eq!(risk.owner.as_deref(), Some("dana"));
    assert_eq!(risk.until.as_deref(), Some("2026-12-31"));
    assert_eq!(risk.reason, "no exploit path");
    let gates = &verdict.packet("SEC-01").unwrap().gates;
    assert_eq!(
        (gates[&Severity::P0], gates[&Severity::P1]),
        (GateResult::Pass, GateResult::Conditional)
    );
}

#[test]
fn an_unused_acceptance_is_reported() {
    let verdict = decide(&gate(ACCEPT_P1), &run_with(&[]), today(), Stage::Final);
    assert_eq!(verdict.record.decision, Decision::Go);
    assert_eq!(verdict.record.unused_acceptances.len(), 1);
}

#[test]
fn a_missing_record_leaves_the_packet_pending() {
    let mut records = run_with(&[]);
    records.retain(|r| r.name != "SEC-01::p2-check");
    let verdict = decide(&gate(""), &records, today(), Stage::Final);
    let statuses: Vec<_> = verdict.packets.iter().map(|p| p.status).collect();
    assert_eq!(statuses, [Done, Pending, Blocked]);
    assert_eq!(verdict.record.decision, Decision::NoGo);
}

#[test]
fn skipped_checks_are_not_evidence() {
    check(
        "",
        &[("SEC-04::final", Outcome::Skipped)],
        Decision::NoGo,
        [Done, Done, Pending],
    );
}

#[test]
fn a_checklist_item_fails_with_its_check_and_holds_when_accepted() {
    let verdict = decide(
        &gate(""),
        &run_with(&[("SEC-01::suites", Outcome::Fail)]),
        today(),
        Stage::Final,
    );
    let (holds, why) = &verdict.checklist["SEC-01::checklist::suites-rerun"];
    assert!(!holds);
    assert_eq!(why, "not satisfied: SEC-01::suites failed");
    let verdict = decide(
        &gate(ACCEPT_P0),
        &run_with(&[("SEC-01::suites", Outcome::Fail)]),
        today(),
        Stage::Final,
    );
    assert!(verdict.checklist["SEC-01::checklist::suites-rerun"].0);
}

#[test]
fn an_attestation_dated_in_the_future_does_not_hold() {
    let early = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
    let verdict = decide(&gate(""), &run_with(&[]), early, Stage::Final);
    let (holds, why) = &verdict.checklist["SEC-01::checklist::threat-model-reviewed"];
    assert!(!holds);
    assert_eq!(
        why,
        "attestation by carol is dated 2026-01-01, after today (2025-12-31)"
    );
    assert_eq!(verdict.packet("SEC-01").unwrap().status, ChangesRequested);
}

#[test]
fn while_running_a_packet_outside_the_run_does_not_block() {
    let records = vec![record("SEC-01::suites", Outcome::Pass)];
    let running = decide(&gate(""), &records, today(), Stage::Running);
    assert!(running.packet("SEC-01").unwrap().blocked_by.is_empty());
    let final_verdict = decide(&gate(""), &records, today(), Stage::Final);
    assert_eq!(
        final_verdict.packet("SEC-01").unwrap().blocked_by,
        ["SEC-00"]
    );
    assert_eq!(final_verdict.record.decision, Decision::NoGo);
}

// ---- scanner findings: P0 blocks, P1 needs an acceptance, P2 is tracked ----

const SCAN_GATE: &str = r#"
[[packet]]
id = "SEC-02"
implementer = "erin"
[[packet.check]]
id = "audit"
scan = { run = "cargo audit --json > {report}", format = "cargo-audit" }
"#;

fn finding(id: &str, severity: Severity) -> relgate::scan::Finding {
    relgate::scan::Finding {
        id: id.to_string(),
        rule: "vulnerability".to_string(),
        severity,
        scanner_severity: "cvss 5.9".to_string(),
        title: format!("advisory {id}"),
        location: Some("rsa@0.9.8".to_string()),
        fingerprint: format!("fp-{id}"),
    }
}

fn scan_verdict(findings: Vec<relgate::scan::Finding>, accepts: &str) -> relgate::verdict::Verdict {
    let gate = spec::parse(Path::new("gate.toml"), &format!("{SCAN_GATE}{accepts}")).unwrap();
    let mut record = record(
        "SEC-02::audit",
        if findings.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
    );
    record.case_kind = CaseKind::Scan;
    record.findings = findings;
    decide(&gate, &[record], today(), Stage::Final)
}

fn accept(target: &str, until: &str) -> String {
    format!("\n[[accept]]\n{target}\nowner = \"dana\"\nuntil = \"{until}\"\nreason = \"no exploit path here\"\n")
}

fn states(verdict: &relgate::verdict::Verdict) -> Vec<(String, String)> {
    verdict
        .record
        .findings
        .iter()
        .map(|note| (note.id.clone(), note.state.clone()))
        .collect()
}

/// Findings, acceptances, decision, (finding id, state) per finding.
type Row = (
    Vec<relgate::scan::Finding>,
    String,
    Decision,
    Vec<(&'static str, &'static str)>,
);

#[test]
fn findings_triage_table() {
    use Decision::{Go, GoWithConditions, NoGo};
    let valid = "2026-12-31";
    let expired = "2026-05-31";
    // (findings, acceptances, decision, states)
    let table: Vec<Row> = vec![
        (vec![], String::new(), Go, vec![]),
        (
            vec![finding("A", Severity::P1)],
            String::new(),
            NoGo,
            vec![("A", "blocking")],
        ),
        (
            vec![finding("A", Severity::P1)],
            accept("finding = \"A\"", valid),
            GoWithConditions,
            vec![("A", "accepted")],
        ),
        // By rule and by fingerprint too.
        (
            vec![finding("A", Severity::P1)],
            accept("finding = \"vulnerability\"", valid),
            GoWithConditions,
            vec![("A", "accepted")],
        ),
        (
            vec![finding("A", Severity::P1)],
            accept("finding = \"fp-A\"", valid),
            GoWithConditions,
            vec![("A", "accepted")],
        ),
        (
            vec![finding("A", Severity::P1)],
            accept("finding = \"A\"", expired),
            NoGo,
            vec![("A", "blocking")],
        ),
        (
            vec![finding("B", Severity::P2)],
            String::new(),
            GoWithConditions,
            vec![("B", "tracked")],
        ),
        // A P0 finding blocks unless an acceptance names it; accepted, it is a condition.
        (
            vec![finding("C", Severity::P0)],
            String::new(),
            NoGo,
            vec![("C", "blocking")],
        ),
        (
            vec![finding("C", Severity::P0)],
            accept("finding = \"C\"", valid),
            GoWithConditions,
            vec![("C", "accepted")],
        ),
        (
            vec![finding("C", Severity::P0)],
            accept("finding = \"C\"", expired),
            NoGo,
            vec![("C", "blocking")],
        ),
        (
            vec![finding("A", Severity::P1), finding("B", Severity::P2)],
            accept("finding = \"A\"", valid),
            GoWithConditions,
            vec![("A", "accepted"), ("B", "tracked")],
        ),
        // Accepting the whole check covers its findings, P0 included.
        (
            vec![finding("C", Severity::P0)],
            accept("check = \"SEC-02::audit\"", valid),
            GoWithConditions,
            vec![("C", "accepted")],
        ),
    ];
    for (findings, accepts, decision, expected) in table {
        let verdict = scan_verdict(findings, &accepts);
        assert_eq!(
            verdict.record.decision, decision,
            "{accepts}\n{:#?}",
            verdict.record
        );
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(id, state)| (id.to_string(), state.to_string()))
            .collect();
        assert_eq!(states(&verdict), expected, "{accepts}");
    }
}

#[test]
fn finding_acceptances_are_reported_when_expired_unused_or_refused() {
    let verdict = scan_verdict(
        vec![finding("A", Severity::P1), finding("C", Severity::P0)],
        &format!(
            "{}{}{}",
            accept("finding = \"A\"", "2026-05-31"),
            accept("finding = \"RUSTSEC-0000-0000\"", "2026-12-31"),
            accept("finding = \"C\"", "2026-12-31"),
        ),
    );
    let record = &verdict.record;
    // A is blocking (its acceptance expired); C is accepted.
    assert_eq!(record.decision, Decision::NoGo);
    assert_eq!(record.expired_acceptances.len(), 1);
    assert_eq!(record.expired_acceptances[0].target, "finding A");
    assert_eq!(record.unused_acceptances.len(), 1);
    assert_eq!(
        record.unused_acceptances[0].target,
        "finding RUSTSEC-0000-0000"
    );
}

#[test]
fn an_accepted_p0_finding_is_never_go_and_leads_the_residual_risks() {
    let verdict = scan_verdict(
        vec![
            finding("A", Severity::P2),
            finding("B", Severity::P1),
            finding("C", Severity::P0),
        ],
        &format!(
            "{}{}",
            accept("finding = \"B\"", "2026-12-31"),
            accept("finding = \"C\"", "2026-12-31"),
        ),
    );
    let record = &verdict.record;
    assert_eq!(record.decision, Decision::GoWithConditions);
    let order: Vec<(Severity, &str)> = record
        .residual_risks
        .iter()
        .map(|risk| (risk.severity, risk.state.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            (Severity::P0, "accepted"),
            (Severity::P1, "accepted"),
            (Severity::P2, "tracked")
        ]
    );
    assert!(
        record.residual_risks[0].check.ends_with(" C"),
        "{:#?}",
        record.residual_risks
    );
    assert!(record.residual_risks[0].owner.is_some() && record.residual_risks[0].until.is_some());
}

#[test]
fn accepted_and_tracked_findings_are_residual_risks_with_owner_and_date() {
    let verdict = scan_verdict(
        vec![finding("A", Severity::P1), finding("B", Severity::P2)],
        &accept("finding = \"A\"", "2026-12-31"),
    );
    let risks: Vec<(String, String, Option<String>, Option<String>)> = verdict
        .record
        .residual_risks
        .iter()
        .map(|risk| {
            (
                risk.check.clone(),
                risk.state.clone(),
                risk.owner.clone(),
                risk.until.clone(),
            )
        })
        .collect();
    assert_eq!(
        risks,
        [
            (
                "SEC-02::audit A".to_string(),
                "accepted".to_string(),
                Some("dana".to_string()),
                Some("2026-12-31".to_string())
            ),
            (
                "SEC-02::audit B".to_string(),
                "tracked".to_string(),
                Some("erin".to_string()),
                None
            ),
        ]
    );
    // The conditions sit at the findings' severities, not at the scan check's P0.
    let gates = &verdict.packets[0].gates;
    assert_eq!(gates[&Severity::P0], GateResult::Pass);
    assert_eq!(gates[&Severity::P1], GateResult::Conditional);
    assert_eq!(gates[&Severity::P2], GateResult::Conditional);
    let accepted = &verdict.record.findings[0];
    assert_eq!(
        accepted.acceptance.as_deref(),
        Some("dana until 2026-12-31 (line 9): no exploit path here")
    );
}

#[test]
fn a_scans_review_gates_sit_at_its_findings_severities() {
    let gates = |verdict: &relgate::verdict::Verdict| {
        let record = verdict.packet("SEC-02").unwrap();
        [Severity::P0, Severity::P1, Severity::P2].map(|severity| record.gates[&severity])
    };
    // The scan check is P0 by default; its blocking finding is P1, its tracked one P2.
    let verdict = scan_verdict(
        vec![finding("A", Severity::P1), finding("B", Severity::P2)],
        "",
    );
    assert_eq!(verdict.record.decision, Decision::NoGo);
    assert_eq!(
        gates(&verdict),
        [GateResult::Pass, GateResult::Fail, GateResult::Conditional]
    );
    let packet = verdict.packet("SEC-02").unwrap();
    assert_eq!(packet.status, PacketStatus::ChangesRequested);
    assert_eq!(
        packet.reasons,
        ["SEC-02::audit failed: 1 blocking finding (P1)"]
    );
    // Accepting the whole check makes even a P0 finding a condition.
    let verdict = scan_verdict(
        vec![finding("C", Severity::P0)],
        &accept("check = \"SEC-02::audit\"", "2026-12-31"),
    );
    assert_eq!(
        gates(&verdict),
        [GateResult::Conditional, GateResult::Pass, GateResult::Pass]
    );
    assert_eq!(verdict.packet("SEC-02").unwrap().status, PacketStatus::Done);
}

/// A pass after a failed attempt (`retries`) is FLAKY at every severity: a condition of the
/// release at the check's severity, listing every attempt, never a clean GO; the packet stays
/// DONE and its checklist holds.
#[test]
fn a_flaky_pass_is_a_condition_at_the_checks_severity() {
    for (name, severity, earlier) in [
        ("SEC-00::build", Severity::P0, Outcome::Fail),
        ("SEC-01::p1-check", Severity::P1, Outcome::Error),
        ("SEC-01::p2-check", Severity::P2, Outcome::Fail),
    ] {
        let mut records = run_with(&[]);
        let flaky = records.iter_mut().find(|r| r.name == name).unwrap();
        let mut first = record(name, earlier);
        first.message = "exit 1".to_string();
        flaky.message = "exit 0".to_string();
        *flaky = flaky.clone().after_attempts(vec![first]);
        assert!(flaky.is_flaky());
        let verdict = decide(&gate(""), &records, today(), Stage::Final);
        let statuses: Vec<PacketStatus> = verdict.packets.iter().map(|p| p.status).collect();
        assert_eq!(
            statuses,
            [Done, Done, Done],
            "{name}: {:#?}",
            verdict.record
        );
        assert_eq!(
            verdict.record.decision,
            Decision::GoWithConditions,
            "{name}"
        );
        assert_eq!(verdict.record.residual_risks.len(), 1, "{name}");
        let risk = &verdict.record.residual_risks[0];
        assert_eq!(
            (risk.check.as_str(), risk.severity, risk.state.as_str()),
            (name, severity, "flaky")
        );
        assert_eq!(
            risk.reason,
            format!(
                "flaky: passed only after failing (attempt 1 {}: exit 1; attempt 2 PASS: exit 0)",
                earlier.label()
            )
        );
    }
    // Failing every time stays a failure: NO_GO at P0.
    let mut records = run_with(&[("SEC-00::build", Outcome::Fail)]);
    records[0] = records[0]
        .clone()
        .after_attempts(vec![record("SEC-00::build", Outcome::Fail)]);
    assert!(!records[0].is_flaky());
    let verdict = decide(&gate(""), &records, today(), Stage::Final);
    assert_eq!(verdict.record.decision, Decision::NoGo);
    assert!(verdict.record.residual_risks.is_empty());
}
