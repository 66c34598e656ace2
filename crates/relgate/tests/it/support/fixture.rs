//! The shared fixture of the report golden tests: a gate covering every check kind,
//! dependencies, a blocked packet, scan findings that are accepted and tracked, expired and
//! unused acceptances, and a fixed ledger of a run of it (timestamps, digests and the verdict
//! date are fixed, so that every report rendered from it is byte-for-byte stable).

use std::path::Path;

use relgate::evidence::{
    CaseKind, CaseOutcome, CheckRecord, Ledger, Outcome, ProbeCase, Record, RunHeader,
};
use relgate::scan::Finding;
use relgate::spec::{Gate, Severity};
use relgate::verdict::{self, Stage};

pub const GATE: &str = r#"
[gate]
name = "Acme API"
plan = "docs/release-security-gate-plan.md"

[[packet]]
id = "SEC-00"
title = "Scope Freeze + Threat Replay Contract"
implementer = "alice"
reviewer = "bob"
checklist = [
  { item = "Scope boundaries and in-scope systems declared.", attested = { by = "carol", on = "2026-02-01" } },
  { item = "Workspace builds.", by = ["build"] },
]

[[packet.check]]
id = "build"
run = "cargo build --workspace && echo built"

[[packet]]
id = "SEC-01"
title = "AuthZ + Tenant Isolation Replay"
depends_on = ["SEC-00"]
implementer = "alice"
reviewer = "bob"
checklist = [
  { item = "API suites rerun.", by = ["api-suites"] },
  { item = "Runbook covers rollback and kill-switch.", by = ["runbook-sections"] },
  { item = "No credential committed.", by = ["no-committed-secrets"] },
]

[[packet.check]]
id = "api-suites"
run = ["cargo", "test", "-p", "tenant-api"]

[[packet.check]]
id = "runbook-sections"
grep = { pattern = "rollback|kill-switch", files = "docs/*runbook*.md" }

[[packet.check]]
id = "no-committed-secrets"
probe = "secrets"
severity = "P2"

[[packet]]
id = "SEC-02"
title = "Secret Exposure + Dependency Risk Audit"
depends_on = ["SEC-00"]
implementer = "dana"
reviewer = "bob"
checklist = [
  { item = "Dependency scan executed and triaged.", by = ["cargo-audit"] },
  { item = "Packages come from the pinned registry mirror.", by = ["registry-mirror"] },
]

[[packet.check]]
id = "cargo-audit"
scan = { run = "cargo audit --no-fetch --json > {report}", format = "cargo-audit" }
severity = "P1"

[[packet.check]]
id = "npm-audit"
run = "npm audit --omit=dev"
timeout = "2s"
severity = "P2"

[[packet.check]]
id = "registry-mirror"
run = "scripts/check-registry-mirror.sh"
severity = "P1"

[[packet]]
id = "SEC-03"
title = "Final Security Verdict"
depends_on = ["SEC-01", "SEC-02"]
implementer = "alice"
reviewer = "carol"
checklist = [
  { item = "Milestone command set rerun with explicit exit codes.", by = ["release-build"] },
]

[[packet.check]]
id = "release-build"
run = "cargo build --release"

[[accept]]
finding = "RUSTSEC-2023-0071"
owner = "erin"
until = "2026-12-31"
reason = "rsa only signs test tokens | no decryption oracle is exposed"

[[accept]]
check = "SEC-01::api-suites"
owner = "dana"
until = "2026-01-31"
reason = "flaky upstream fixture, fix tracked in #123"

[[accept]]
check = "SEC-00::build"
owner = "frank"
until = "2026-12-31"
reason = "kept for the next toolchain bump"
"#;

pub fn gate() -> Gate {
    relgate::spec::parse(Path::new("packets.toml"), GATE).expect("the gate parses")
}

pub fn header() -> RunHeader {
    RunHeader {
        gate: "Acme API".into(),
        gate_file: "packets.toml".into(),
        gate_path: None,
        gate_sha256: "9f2c".repeat(16),
        git_head: Some("6ba41c7a0d5e8f1b2c3d4e5f60718293a4b5c6d7".into()),
        git_dirty: Some(true),
        code: None,
        relgate_version: "0.1.0".into(),
        started: "2026-02-09T10:00:00.000Z".into(),
        host: "ci-runner-7".into(),
        run_id: "run-0001".into(),
        mode: "xtask".into(),
        shard: None,
        merged: Vec::new(),
        journal_head: None,
    }
}

/// A record of a check that ran; fields a test wants different are set afterwards.
pub fn record(
    packet: &str,
    check: &str,
    kind: CaseKind,
    outcome: Outcome,
    message: &str,
) -> CheckRecord {
    CheckRecord {
        packet: packet.into(),
        check: check.into(),
        name: format!("{packet}::{check}"),
        case_kind: kind,
        argv: Vec::new(),
        cwd: "/repo".into(),
        started: "2026-02-09T10:00:01.000Z".into(),
        ended: "2026-02-09T10:00:13.345Z".into(),
        duration_ms: 12_345,
        exit_code: None,
        signal: None,
        timed_out: false,
        log: Some(format!("logs/{packet}/{check}.log")),
        bytes: 2048,
        sha256: Some(format!("{:064x}", check.len())),
        outcome,
        severity: Severity::P0,
        message: message.into(),
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

pub fn command(
    packet: &str,
    check: &str,
    argv: &[&str],
    exit: Option<i32>,
    outcome: Outcome,
    message: &str,
) -> CheckRecord {
    CheckRecord {
        argv: argv.iter().map(|word| word.to_string()).collect(),
        exit_code: exit,
        ..record(packet, check, CaseKind::Command, outcome, message)
    }
}

pub fn case(name: &str, outcome: CaseOutcome, message: &str) -> ProbeCase {
    ProbeCase {
        name: name.into(),
        outcome,
        message: message.into(),
        sent: String::new(),
        got: String::new(),
    }
}

pub fn finding(id: &str, rule: &str, severity: Severity, title: &str, location: &str) -> Finding {
    Finding {
        id: id.into(),
        rule: rule.into(),
        severity,
        scanner_severity: rule.into(),
        title: title.into(),
        location: Some(location.into()),
        fingerprint: format!("fp-{id}"),
    }
}

/// An earlier attempt of a command (`after_attempts` puts it before the record), its log at
/// the attempt's own path.
pub fn earlier_attempt(record: &CheckRecord, k: usize, exit: i32, message: &str) -> CheckRecord {
    let log = match k {
        1 => format!("logs/{}/{}.log", record.packet, record.check),
        _ => format!("logs/{}/{}.attempts/{k}.log", record.packet, record.check),
    };
    CheckRecord {
        exit_code: Some(exit),
        outcome: Outcome::Fail,
        message: message.into(),
        started: "2026-02-09T10:00:00.500Z".into(),
        ended: "2026-02-09T10:00:01.000Z".into(),
        duration_ms: 500,
        log: Some(log),
        bytes: 512,
        sha256: Some(format!("{:064x}", 4096 + k)),
        attempts: Vec::new(),
        ..record.clone()
    }
}

/// The check records of a run: SEC-00 passes, SEC-01 fails on exit 101 on both of its
/// attempts (in shard `slice:1/2` of a merged run), SEC-02 passes with conditions (one of them
/// the flaky `registry-mirror`: exit 1, then exit 0), SEC-03 is blocked.
pub fn check_records() -> Vec<CheckRecord> {
    let mut suites = command(
        "SEC-01",
        "api-suites",
        &["cargo", "test", "-p", "tenant-api"],
        Some(101),
        Outcome::Fail,
        "exit 101",
    );
    suites.shard = Some("slice:1/2".into());
    suites.log = Some("logs/SEC-01/api-suites.attempts/2.log".into());
    let suites = suites
        .clone()
        .after_attempts(vec![earlier_attempt(&suites, 1, 101, "exit 101")]);
    let mut mirror = command(
        "SEC-02",
        "registry-mirror",
        &["sh", "-c", "scripts/check-registry-mirror.sh"],
        Some(0),
        Outcome::Pass,
        "exit 0",
    );
    mirror.severity = Severity::P1;
    mirror.log = Some("logs/SEC-02/registry-mirror.attempts/2.log".into());
    let mirror =
        mirror
            .clone()
            .after_attempts(vec![earlier_attempt(&mirror, 1, 1, "exit 1 (expected 0)")]);
    let mut secrets = record(
        "SEC-01",
        "no-committed-secrets",
        CaseKind::Probe,
        Outcome::Fail,
        "1 of 3 cases failed: no-secrets",
    );
    secrets.severity = Severity::P2;
    secrets.cases = vec![
        case(
            "controls",
            CaseOutcome::Pass,
            "every canary found and masked",
        ),
        case(
            "no-secrets",
            CaseOutcome::Fail,
            "1 finding: config/dev.env:3 generic-secret 5e1a",
        ),
        case(
            "allowlist-current",
            CaseOutcome::Inconclusive,
            "inconclusive: no allowlist configured",
        ),
    ];
    let mut audit = command(
        "SEC-02",
        "cargo-audit",
        &[
            "sh",
            "-c",
            "cargo audit --no-fetch --json > 'reports/SEC-02/cargo-audit.json'",
        ],
        Some(1),
        Outcome::Fail,
        "2 findings in the cargo-audit report (1 P1, 1 P2; exit 1)",
    );
    audit.case_kind = CaseKind::Scan;
    audit.severity = Severity::P1;
    audit.findings = vec![
        finding(
            "RUSTSEC-2023-0071",
            "vulnerability",
            Severity::P1,
            "Marvin Attack: potential key recovery through timing sidechannels",
            "rsa@0.9.8",
        ),
        finding(
            "RUSTSEC-2024-0436",
            "unmaintained",
            Severity::P2,
            "paste - no longer maintained",
            "paste@1.0.15",
        ),
    ];
    audit.report = Some("reports/SEC-02/cargo-audit.json".into());
    audit.report_sha256 = Some("ab".repeat(32));
    let mut npm = command(
        "SEC-02",
        "npm-audit",
        &["sh", "-c", "npm audit --omit=dev"],
        None,
        Outcome::Fail,
        "timed out after 2s",
    );
    npm.timed_out = true;
    npm.signal = Some(9);
    npm.severity = Severity::P2;
    npm.duration_ms = 2_004;
    let mut blocked = command(
        "SEC-03",
        "release-build",
        &[],
        None,
        Outcome::Skipped,
        "blocked by SEC-01",
    );
    blocked.log = None;
    blocked.sha256 = None;
    blocked.bytes = 0;
    blocked.duration_ms = 0;
    vec![
        command(
            "SEC-00",
            "build",
            &["sh", "-c", "cargo build --workspace && echo built"],
            Some(0),
            Outcome::Pass,
            "exit 0",
        ),
        suites,
        record(
            "SEC-01",
            "runbook-sections",
            CaseKind::Grep,
            Outcome::Pass,
            "3 matching lines for /rollback|kill-switch/ in 1 of 2 files",
        ),
        secrets,
        audit,
        npm,
        mirror,
        blocked,
    ]
}

/// The ledger as `report` would build it from [`check_records`].
pub fn ledger(gate: &Gate) -> Ledger {
    ledger_with(gate, check_records())
}

/// The ledger as `report` would build it from `checks`: the verdict and the checklist records
/// come from `verdict::decide` as of a fixed date.
pub fn ledger_with(gate: &Gate, checks: Vec<CheckRecord>) -> Ledger {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 2, 9).unwrap();
    let verdict = verdict::decide(gate, &checks, today, Stage::Final);
    let mut records = vec![Record::Header(header())];
    records.extend(checks.into_iter().map(Record::Check));
    for packet in &gate.packets {
        let packet_record = verdict.packet(&packet.id).unwrap();
        for item in &packet.checklist {
            let name = packet.checklist_name(item);
            let (holds, why) = verdict.checklist[&name].clone();
            let (outcome, message) = if !packet_record.blocked_by.is_empty() {
                (
                    Outcome::Skipped,
                    format!("blocked by {}", packet_record.blocked_by.join(", ")),
                )
            } else if holds {
                (Outcome::Pass, why)
            } else {
                (Outcome::Fail, why)
            };
            let mut item_record = record(
                &packet.id,
                &format!("checklist::{}", item.slug),
                CaseKind::Checklist,
                outcome,
                &message,
            );
            item_record.log = None;
            item_record.sha256 = None;
            item_record.duration_ms = 0;
            item_record.notes = vec![item.text.clone()];
            records.push(Record::Check(item_record));
        }
    }
    records.extend(verdict.packets.iter().cloned().map(Record::Packet));
    records.push(Record::Verdict(verdict.record.clone()));
    Ledger { records }
}
