//! End to end: `scan = {…}` checks running real scanners through the gate — secretlint (SARIF)
//! over planted secrets, `cargo audit --json` against the offline RustSec database, a live
//! `npm audit --json` — and what the gate makes of a report versus an exit code.
//!
//! The scanners are installed by `cargo xtask gate setup` (`.ci/run` runs it: cargo-audit,
//! `npm ci --prefix tests/scanners`); where one is missing a test prints `skipped: <why>` to
//! stderr and returns, and with `RELGATE_REQUIRE_TOOLS` set (as `.ci/run` does) a missing
//! scanner fails the test instead.
//!
//! This repository scans itself for secrets, so the planted secrets are assembled at run time
//! and no literal secret appears in this file.

use crate::sarif_consumer;
use std::path::{Path, PathBuf};

use crate::support::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const ADVISORY_DB: &str = "RELGATE_ADVISORY_DB";

/// The pinned secretlint of `tests/scanners`, if installed.
fn secretlint() -> Option<PathBuf> {
    let bin = workspace().join("tests/scanners/node_modules/.bin/secretlint");
    if bin.is_file() && runs(&bin, &["--version"]) {
        Some(bin)
    } else {
        skip("secretlint is not installed (`cargo xtask gate setup --tool secretlint`)");
        None
    }
}

/// Whether `cargo audit` runs.
pub(crate) fn cargo_audit() -> bool {
    if runs("cargo", &["audit", "--version"]) {
        true
    } else {
        skip("cargo-audit is not installed (`cargo xtask gate setup --tool cargo-audit`)");
        false
    }
}

/// The offline advisory database: `RELGATE_ADVISORY_DB`, else `../shared/advisory-db` beside
/// the workspace.
pub(crate) fn advisory_db() -> Option<PathBuf> {
    let db = std::env::var_os(ADVISORY_DB)
        .filter(|path| !path.is_empty())
        .map_or_else(|| workspace().join("../shared/advisory-db"), PathBuf::from);
    if db.join("crates").is_dir() {
        Some(db)
    } else {
        skip(&format!(
            "no RustSec advisory database at {} (set {ADVISORY_DB})",
            db.display()
        ));
        None
    }
}

fn npm() -> bool {
    if runs("npm", &["--version"]) {
        true
    } else {
        skip("npm is not installed (`cargo xtask gate setup --tool npm`)");
        false
    }
}

/// `packets.toml` in `dir`: a `[gate]` header, then `body`.
fn write_gate(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("packets.toml");
    std::fs::write(&path, format!("[gate]\nname = \"e2e scans\"\n\n{body}")).unwrap();
    path
}

use crate::support::run_gate;

fn verdict_of(run: &Run) -> Value {
    let verdict = run.ledger().pop().expect("ledger not empty");
    assert_eq!(verdict["kind"], "verdict", "{verdict}");
    verdict
}

/// Asserts the run's exit code and the gate's decision.
#[track_caller]
fn assert_decision(run: &Run, code: i32, decision: &str) {
    assert_eq!(run.code(), code, "{}", run.context());
    assert_eq!(run.decision(), decision);
}

/// Asserts the verdict's `list` (`unused_acceptances`, `expired_acceptances`) is empty.
#[track_caller]
fn assert_none_listed(verdict: &Value, list: &str) {
    assert!(array(&verdict[list]).is_empty(), "{verdict}");
}

fn array(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

/// The check's stored report: under `reports/<packet>/<check>.<ext>`, hashed in its record.
fn stored_report(run: &Run, record: &Value, expected: &str) -> String {
    assert_eq!(record["report"], expected, "{record}");
    let bytes = std::fs::read(run.out.path().join(expected)).expect("report stored");
    assert_eq!(
        record["report_sha256"].as_str(),
        Some(hex::encode(Sha256::digest(&bytes)).as_str()),
        "{record}"
    );
    String::from_utf8(bytes).unwrap()
}

fn everything_written(run: &Run) -> String {
    let mut text = run.stdout() + &run.stderr();
    let mut stack = vec![run.out.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
            }
        }
    }
    text
}

// ---------------------------------------------------------------------------------------------
// secretlint → SARIF

const GITHUB_RULE: &str =
    "@secretlint/secretlint-rule-preset-recommend > @secretlint/secretlint-rule-github";
const BASICAUTH_RULE: &str =
    "@secretlint/secretlint-rule-preset-recommend > @secretlint/secretlint-rule-basicauth";

/// A temp dir with `tree/` to scan and the secretlint config beside it (the recommended
/// preset; basic-auth URLs reported as `warning`, so SARIF level warning → P1, while a GitHub
/// token stays `error` → P0).
struct Tree {
    dir: tempfile::TempDir,
    secrets: Vec<String>,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tree")).unwrap();
        std::fs::write(
            dir.path().join("secretlintrc.json"),
            format!(
                r#"{{"rules": [{{"id": "@secretlint/secretlint-rule-preset-recommend",
                    "rules": [{{"id": "{}", "severity": "warning"}}]}}]}}"#,
                BASICAUTH_RULE.rsplit(" > ").next().unwrap()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("tree/README.md"),
            "# service\n\nNothing secret here.\n",
        )
        .unwrap();
        Tree {
            dir,
            secrets: Vec::new(),
        }
    }

    /// Plants a GitHub token at `ci/deploy.yml` line 3 and a URL with a password at
    /// `config/db.env` line 2.
    fn with_secrets(mut self) -> Tree {
        let token = ["gh", "p_", &"abcdefghijkl".repeat(3)].concat();
        let password = ["hunter", "2-", "correct-horse"].concat();
        let url = [
            "https",
            "://",
            "relgate",
            ":",
            &password,
            "@",
            "db.internal.test/app",
        ]
        .concat();
        let tree = self.dir.path().join("tree");
        std::fs::create_dir(tree.join("ci")).unwrap();
        std::fs::create_dir(tree.join("config")).unwrap();
        std::fs::write(
            tree.join("ci/deploy.yml"),
            format!("deploy:\n  env:\n    GITHUB_TOKEN: {token}\n"),
        )
        .unwrap();
        std::fs::write(
            tree.join("config/db.env"),
            format!("APP_NAME=tenant-api\nDATABASE_URL={url}\n"),
        )
        .unwrap();
        self.secrets = vec![token, password];
        self
    }

    /// The gate: one scan check `SCAN-01::secretlint` over `tree/`, then `extra` (overrides go
    /// in `overrides`, a TOML inline-table body).
    fn gate(&self, secretlint: &Path, overrides: &str, extra: &str) -> PathBuf {
        let run = format!(
            "{} --secretlintrc ../secretlintrc.json --format @secretlint/secretlint-formatter-sarif --output {{report}} '**/*'",
            secretlint.display()
        );
        write_gate(
            self.dir.path(),
            &format!(
                r#"[[packet]]
id = "SCAN-01"
implementer = "erin"

[[packet.check]]
id = "secretlint"
cwd = "tree"
scan = {{ run = {run:?}, format = "sarif", overrides = {{ {overrides} }} }}
{extra}"#
            ),
        )
    }

    /// Runs [`Tree::gate`].
    fn run(&self, secretlint: &Path, overrides: &str, extra: &str) -> Run {
        run_gate(&self.gate(secretlint, overrides, extra), &[])
    }

    fn assert_no_secret_in(&self, run: &Run) {
        let written = everything_written(run);
        for secret in &self.secrets {
            assert!(
                !written.contains(secret.as_str()),
                "a planted secret leaked"
            );
        }
    }
}

fn finding<'a>(findings: &'a [Value], rule: &str) -> &'a Value {
    findings
        .iter()
        .find(|finding| finding["rule"] == rule)
        .unwrap_or_else(|| panic!("no finding of {rule} in {findings:?}"))
}

#[test]
fn secretlint_findings_fail_the_scan_at_their_file_and_line() {
    let Some(secretlint) = secretlint() else {
        return;
    };
    let tree = Tree::new().with_secrets();
    let run = tree.run(&secretlint, "", "");
    assert_decision(&run, 1, "NO_GO");

    let record = run.check("SCAN-01::secretlint");
    assert_eq!(record["case_kind"], "scan", "{record}");
    assert_eq!(record["outcome"], "fail", "{record}");
    let message = record["message"].as_str().unwrap();
    assert!(
        message.starts_with("2 findings in the sarif report"),
        "{message}"
    );
    assert!(message.contains("1 P0, 1 P1"), "{message}");
    let findings = array(&record["findings"]);
    assert_eq!(findings.len(), 2, "{findings:?}");
    let github = finding(&findings, GITHUB_RULE);
    assert_eq!(github["severity"], "P0", "{github}");
    assert_eq!(github["scanner_severity"], "error", "{github}");
    assert_eq!(github["location"], "ci/deploy.yml:3", "{github}");
    assert_eq!(github["id"], GITHUB_RULE, "{github}");
    let basic = finding(&findings, BASICAUTH_RULE);
    assert_eq!(basic["severity"], "P1", "{basic}");
    assert_eq!(basic["scanner_severity"], "warning", "{basic}");
    assert_eq!(basic["location"], "config/db.env:2", "{basic}");
    for finding in &findings {
        assert_eq!(
            finding["fingerprint"].as_str().map(str::len),
            Some(64),
            "{finding}"
        );
        assert!(finding["title"].as_str().is_some_and(|t| !t.is_empty()));
    }

    let report = stored_report(&run, &record, "reports/SCAN-01/secretlint.sarif");
    let sarif: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["name"], "secretlint");
    tree.assert_no_secret_in(&run);

    let verdict = verdict_of(&run);
    let notes = array(&verdict["findings"]);
    assert_eq!(notes.len(), 2, "{verdict}");
    for note in &notes {
        assert_eq!(note["check"], "SCAN-01::secretlint", "{note}");
        assert_eq!(note["state"], "blocking", "{note}");
        assert!(note["acceptance"].is_null(), "{note}");
    }

    let junit = run.junit();
    assert!(junit.contains(r#"name="SCAN-01::secretlint""#), "{junit}");
    assert!(
        junit.contains(&format!(
            "P0 {} ci/deploy.yml:3",
            GITHUB_RULE.replace('>', "&gt;")
        )),
        "{junit}"
    );
    assert!(junit.contains("[blocking]"), "{junit}");
    assert!(run.verify().status.success(), "{:?}", run.verify());
}

#[test]
fn secretlint_accepted_p1_and_downgraded_p0_are_go_with_conditions() {
    let Some(secretlint) = secretlint() else {
        return;
    };
    let tree = Tree::new().with_secrets();
    // The P1 finding's fingerprint, as a first run reports it.
    let first = tree.run(&secretlint, "", "");
    let findings = array(&first.check("SCAN-01::secretlint")["findings"]);
    let fingerprint = finding(&findings, BASICAUTH_RULE)["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();

    // The P0 is downgraded in the scan's overrides, with the reason beside it.
    let overrides = format!("{GITHUB_RULE:?} = \"P2\"");
    let extra = format!(
        r#"# P2: the GitHub token in ci/deploy.yml is a revoked fixture token (reason for the override).

[[accept]]
finding = "{fingerprint}"
owner = "dana"
until = "2099-12-31"
reason = "staging database URL, password rotated weekly"
"#
    );
    let run = tree.run(&secretlint, &overrides, &extra);
    assert_decision(&run, 0, "GO_WITH_CONDITIONS");

    let record = run.check("SCAN-01::secretlint");
    let findings = array(&record["findings"]);
    assert_eq!(finding(&findings, GITHUB_RULE)["severity"], "P2");
    assert_eq!(finding(&findings, BASICAUTH_RULE)["severity"], "P1");

    let verdict = verdict_of(&run);
    let notes = array(&verdict["findings"]);
    let basic = finding(&notes, BASICAUTH_RULE);
    assert_eq!(basic["state"], "accepted", "{basic}");
    assert_eq!(basic["fingerprint"], fingerprint.as_str(), "{basic}");
    let acceptance = basic["acceptance"].as_str().unwrap_or_default();
    assert!(
        acceptance.contains("dana") && acceptance.contains("2099-12-31"),
        "{basic}"
    );
    let github = finding(&notes, GITHUB_RULE);
    assert_eq!(github["state"], "tracked", "{github}");
    assert_eq!(github["severity"], "P2", "{github}");
    let risks = array(&verdict["residual_risks"]);
    assert!(
        risks
            .iter()
            .any(|risk| risk["owner"] == "dana" && risk["until"] == "2099-12-31"),
        "{verdict}"
    );
    assert_none_listed(&verdict, "unused_acceptances");
    let junit = run.junit();
    assert!(
        junit.contains("[accepted: dana until 2099-12-31"),
        "{junit}"
    );
    assert!(junit.contains("[tracked]"), "{junit}");
    tree.assert_no_secret_in(&run);

    // The same by rule id.
    let by_rule = extra.replace(&fingerprint, BASICAUTH_RULE);
    let run = tree.run(&secretlint, &overrides, &by_rule);
    assert_decision(&run, 0, "GO_WITH_CONDITIONS");

    // Without the override the GitHub token is P0: accepted with owner, date and reason it is a
    // condition like any other (the P1 left unaccepted still blocks) ...
    let p0 = extra.replace(&fingerprint, GITHUB_RULE);
    let run = tree.run(&secretlint, "", &p0);
    assert_decision(&run, 1, "NO_GO");
    let verdict = verdict_of(&run);
    let notes = array(&verdict["findings"]);
    assert_eq!(finding(&notes, GITHUB_RULE)["state"], "accepted");
    assert_eq!(finding(&notes, BASICAUTH_RULE)["state"], "blocking");
    // ... and with both accepted the run is GO_WITH_CONDITIONS, never GO, the P0 listed first.
    let both = format!(
        "{extra}{}",
        p0.split("[[accept]]")
            .nth(1)
            .map(|rest| format!("[[accept]]{rest}"))
            .unwrap()
    );
    let run = tree.run(&secretlint, "", &both);
    assert_decision(&run, 0, "GO_WITH_CONDITIONS");
    let risks = array(&verdict_of(&run)["residual_risks"]);
    assert_eq!(risks[0]["severity"], "P0", "{risks:?}");
    assert_eq!(risks[0]["state"], "accepted", "{risks:?}");
}

#[test]
fn secretlint_on_a_clean_tree_is_go() {
    let Some(secretlint) = secretlint() else {
        return;
    };
    let tree = Tree::new();
    let run = tree.run(&secretlint, "", "");
    assert_decision(&run, 0, "GO");
    let record = run.check("SCAN-01::secretlint");
    assert_eq!(record["outcome"], "pass", "{record}");
    assert_eq!(record["case_kind"], "scan", "{record}");
    assert!(array(&record["findings"]).is_empty(), "{record}");
    assert!(
        record["message"]
            .as_str()
            .unwrap()
            .starts_with("no findings in the sarif report"),
        "{record}"
    );
    stored_report(&run, &record, "reports/SCAN-01/secretlint.sarif");
    assert!(array(&verdict_of(&run)["findings"]).is_empty());
}

// ---------------------------------------------------------------------------------------------
// cargo audit → cargo-audit JSON

const TIME_ADVISORY: &str = "RUSTSEC-2020-0071";
const SMALLVEC_ADVISORY: &str = "RUSTSEC-2021-0003";

/// The other findings of the fixture lockfile out of the way, with the reasons beside them, so
/// that time 0.1.43's RUSTSEC-2020-0071 (CVSS 3.1 6.2 → P1) alone decides.
const ONLY_TIME_BLOCKS: &str = r#""RUSTSEC-2021-0003" = "P2", "unsound" = "P2""#;

/// A gate auditing tests/fixtures/scans/cargo-audit/vulnerable/Cargo.lock (smallvec 1.6.0,
/// time 0.1.43, atty 0.2.14, ansi_term 0.12.1, …), with `overrides`, then `accepts`.
fn audit_gate(dir: &Path, overrides: &str, accepts: &str) -> PathBuf {
    let lock = workspace().join("tests/fixtures/scans/cargo-audit/vulnerable/Cargo.lock");
    let run = format!(
        "cargo audit --no-fetch --db {{advisory_db}} --json --file {} > {{report}}",
        lock.display()
    );
    write_gate(
        dir,
        &format!(
            r#"[[packet]]
id = "SCAN-02"

[[packet.check]]
id = "cargo-audit"
# RUSTSEC-2021-0003: SmallVec::insert_many is not called (reason for the override);
# unsound: atty's unaligned read needs a custom allocator we do not use.
scan = {{ run = {run:?}, format = "cargo-audit", overrides = {{ {overrides} }} }}
{accepts}"#
        ),
    )
}

fn accept(finding: &str, until: &str) -> String {
    format!(
        r#"
[[accept]]
finding = "{finding}"
owner = "dana"
until = "{until}"
reason = "time::at is never called with a local offset here"
"#
    )
}

/// The advisory DB when `cargo audit` can run, else `None` (skipped).
fn audit_ready() -> Option<PathBuf> {
    if !cargo_audit() {
        return None;
    }
    advisory_db()
}

/// Runs [`audit_gate`] with `overrides` and `accepts` against the advisory DB; `None` (skipped)
/// where `cargo audit` or the DB is missing.
fn audit_run(overrides: &str, accepts: &str) -> Option<Run> {
    let db = audit_ready()?;
    let dir = tempfile::tempdir().unwrap();
    let gate = audit_gate(dir.path(), overrides, accepts);
    Some(run_gate(&gate, &[(ADVISORY_DB, Some(&db))]))
}

fn finding_with_id(findings: &[Value], id: &str) -> Value {
    findings
        .iter()
        .find(|finding| finding["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no finding {id} in {findings:?}"))
}

fn finding_note(verdict: &Value, id: &str) -> Value {
    finding_with_id(&array(&verdict["findings"]), id)
}

#[test]
fn cargo_audit_findings_carry_the_advisory_and_the_crate() {
    let Some(run) = audit_run("", "") else {
        return;
    };
    assert_decision(&run, 1, "NO_GO");
    let record = run.check("SCAN-02::cargo-audit");
    assert_eq!(record["case_kind"], "scan", "{record}");
    assert_eq!(record["outcome"], "fail", "{record}");
    let findings = array(&record["findings"]);
    let time = finding_with_id(&findings, TIME_ADVISORY);
    assert_eq!(time["location"], "time@0.1.43", "{time}");
    assert_eq!(time["rule"], "vulnerability", "{time}");
    assert_eq!(time["severity"], "P1", "{time}");
    assert_eq!(time["scanner_severity"], "cvss 6.2", "{time}");
    let smallvec = finding_with_id(&findings, SMALLVEC_ADVISORY);
    assert_eq!(smallvec["location"], "smallvec@1.6.0", "{smallvec}");
    assert_eq!(smallvec["severity"], "P0", "{smallvec}");
    let unsound = finding_with_id(&findings, "RUSTSEC-2021-0145");
    assert_eq!(
        (unsound["rule"].as_str(), unsound["severity"].as_str()),
        (Some("unsound"), Some("P1")),
        "{unsound}"
    );
    let unmaintained = finding_with_id(&findings, "RUSTSEC-2021-0139");
    assert_eq!(
        (
            unmaintained["rule"].as_str(),
            unmaintained["severity"].as_str()
        ),
        (Some("unmaintained"), Some("P2")),
        "{unmaintained}"
    );

    let report = stored_report(&run, &record, "reports/SCAN-02/cargo-audit.json");
    let report: Value = serde_json::from_str(&report).unwrap();
    assert!(
        report["vulnerabilities"]["count"].as_u64() >= Some(2),
        "{report}"
    );
    let verdict = verdict_of(&run);
    assert_eq!(
        finding_note(&verdict, SMALLVEC_ADVISORY)["state"],
        "blocking"
    );
    assert_eq!(finding_note(&verdict, TIME_ADVISORY)["state"], "blocking");
    assert_eq!(
        finding_note(&verdict, "RUSTSEC-2021-0139")["state"],
        "tracked"
    );
    let junit = run.junit();
    assert!(
        junit.contains(&format!(
            "P1 {TIME_ADVISORY} time@0.1.43: Potential segfault in the time crate [blocking]"
        )),
        "{junit}"
    );
    assert!(run.verify().status.success(), "{:?}", run.verify());
}

#[test]
fn cargo_audit_unaccepted_p1_is_no_go() {
    let Some(run) = audit_run(ONLY_TIME_BLOCKS, "") else {
        return;
    };
    assert_decision(&run, 1, "NO_GO");
    let verdict = verdict_of(&run);
    let blocking: Vec<Value> = array(&verdict["findings"])
        .into_iter()
        .filter(|note| note["state"] == "blocking")
        .collect();
    assert_eq!(blocking.len(), 1, "{verdict}");
    assert_eq!(blocking[0]["id"], TIME_ADVISORY, "{verdict}");
    assert_eq!(blocking[0]["severity"], "P1", "{verdict}");
    let smallvec = finding_note(&verdict, SMALLVEC_ADVISORY);
    assert_eq!(
        (smallvec["severity"].as_str(), smallvec["state"].as_str()),
        (Some("P2"), Some("tracked")),
        "{smallvec}"
    );
}

#[test]
fn cargo_audit_accepted_p1_is_go_with_conditions() {
    let Some(run) = audit_run(ONLY_TIME_BLOCKS, &accept(TIME_ADVISORY, "2099-12-31")) else {
        return;
    };
    assert_decision(&run, 0, "GO_WITH_CONDITIONS");
    let verdict = verdict_of(&run);
    let note = finding_note(&verdict, TIME_ADVISORY);
    assert_eq!(note["state"], "accepted", "{note}");
    assert_eq!(note["check"], "SCAN-02::cargo-audit", "{note}");
    assert_eq!(note["location"], "time@0.1.43", "{note}");
    let acceptance = note["acceptance"].as_str().unwrap_or_default();
    assert!(acceptance.starts_with("dana until 2099-12-31"), "{note}");
    assert!(acceptance.contains("time::at is never called"), "{note}");
    assert!(
        array(&verdict["residual_risks"])
            .iter()
            .any(|risk| risk["owner"] == "dana"
                && risk["check"]
                    .as_str()
                    .is_some_and(|check| check.contains(TIME_ADVISORY))),
        "{verdict}"
    );
    assert_none_listed(&verdict, "unused_acceptances");
    assert_none_listed(&verdict, "expired_acceptances");
    assert!(
        run.stdout().contains("GO_WITH_CONDITIONS"),
        "{}",
        run.context()
    );
}

#[test]
fn cargo_audit_expired_acceptance_is_ignored_and_listed() {
    let Some(run) = audit_run(ONLY_TIME_BLOCKS, &accept(TIME_ADVISORY, "2020-01-01")) else {
        return;
    };
    assert_decision(&run, 1, "NO_GO");
    let verdict = verdict_of(&run);
    assert_eq!(finding_note(&verdict, TIME_ADVISORY)["state"], "blocking");
    let expired = array(&verdict["expired_acceptances"]);
    assert_eq!(expired.len(), 1, "{verdict}");
    assert_eq!(expired[0]["target"], format!("finding {TIME_ADVISORY}"));
    assert_eq!(expired[0]["until"], "2020-01-01");
    assert_none_listed(&verdict, "unused_acceptances");
}

#[test]
fn cargo_audit_unused_acceptance_is_listed() {
    let accepts = accept(TIME_ADVISORY, "2099-12-31") + &accept("RUSTSEC-2099-0001", "2099-12-31");
    let Some(run) = audit_run(ONLY_TIME_BLOCKS, &accepts) else {
        return;
    };
    assert_decision(&run, 0, "GO_WITH_CONDITIONS");
    let verdict = verdict_of(&run);
    let unused = array(&verdict["unused_acceptances"]);
    assert_eq!(unused.len(), 1, "{verdict}");
    assert_eq!(unused[0]["target"], "finding RUSTSEC-2099-0001");
    assert_eq!(unused[0]["owner"], "dana");
}

#[test]
fn cargo_audit_without_the_advisory_db_is_an_error_naming_the_variable() {
    // The engine refuses before running anything: no scanner is needed.
    let dir = tempfile::tempdir().unwrap();
    let gate = audit_gate(dir.path(), "", "");
    let run = run_gate(&gate, &[(ADVISORY_DB, None)]);
    assert_decision(&run, 1, "NO_GO");
    let record = run.check("SCAN-02::cargo-audit");
    assert_eq!(record["outcome"], "error", "{record}");
    assert!(
        record["message"]
            .as_str()
            .unwrap()
            .contains("RELGATE_ADVISORY_DB"),
        "{record}"
    );

    // A directory that is not an advisory database.
    let not_a_db = tempfile::tempdir().unwrap();
    let run = run_gate(&gate, &[(ADVISORY_DB, Some(not_a_db.path()))]);
    assert_eq!(run.code(), 1, "{}", run.context());
    let record = run.check("SCAN-02::cargo-audit");
    assert_eq!(record["outcome"], "error", "{record}");
    let message = record["message"].as_str().unwrap();
    assert!(
        message.contains("RELGATE_ADVISORY_DB") && message.contains("not an advisory database"),
        "{record}"
    );
}

// ---------------------------------------------------------------------------------------------
// npm audit → npm-audit JSON (live: here the registry's audit endpoint answers 405)

fn npm_project(lockfile: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = workspace().join("tests/fixtures/scans/npm-project");
    std::fs::create_dir(dir.path().join("project")).unwrap();
    let mut files = vec!["package.json"];
    if lockfile {
        files.push("package-lock.json");
    }
    for file in files {
        std::fs::copy(fixture.join(file), dir.path().join("project").join(file)).unwrap();
    }
    write_gate(
        dir.path(),
        r#"[[packet]]
id = "SCAN-03"

[[packet.check]]
id = "npm-audit"
cwd = "project"
scan = { run = "npm audit --json > {report}", format = "npm-audit" }
"#,
    );
    dir
}

#[test]
fn npm_audit_with_an_unavailable_endpoint_fails_never_passes() {
    if !npm() {
        return;
    }
    let dir = npm_project(true);
    let run = run_gate(&dir.path().join("packets.toml"), &[]);
    assert_decision(&run, 1, "NO_GO");
    let record = run.check("SCAN-03::npm-audit");
    assert_eq!(record["case_kind"], "scan", "{record}");
    assert_eq!(record["outcome"], "fail", "{record}");
    let message = record["message"].as_str().unwrap();
    assert!(message.starts_with("scanner unavailable"), "{record}");
    assert!(message.contains("405"), "{record}");
    assert!(array(&record["findings"]).is_empty(), "{record}");
    // The error object is kept as evidence.
    stored_report(&run, &record, "reports/SCAN-03/npm-audit.json");
}

#[test]
fn npm_audit_without_a_lockfile_fails() {
    if !npm() {
        return;
    }
    let dir = npm_project(false);
    let run = run_gate(&dir.path().join("packets.toml"), &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    let record = run.check("SCAN-03::npm-audit");
    assert_eq!(record["outcome"], "fail", "{record}");
    let message = record["message"].as_str().unwrap();
    assert!(message.starts_with("scanner unavailable"), "{record}");
    assert!(message.contains("ENOLOCK"), "{record}");
}

// ---------------------------------------------------------------------------------------------
// The report decides, not the exit code.

const EMPTY_SARIF: &str =
    r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"fake-scanner"}},"results":[]}]}"#;
const EMPTY_NPM_AUDIT: &str = r#"{"auditReportVersion":2,"vulnerabilities":{},"metadata":{"vulnerabilities":{"info":0,"low":0,"moderate":0,"high":0,"critical":0,"total":0}}}"#;

fn exit_code_gate(dir: &Path, format: &str, run: &str) -> PathBuf {
    write_gate(
        dir,
        &format!(
            r#"[[packet]]
id = "SCAN-04"

[[packet.check]]
id = "scanner"
scan = {{ run = {run:?}, format = "{format}" }}
"#
        ),
    )
}

#[test]
fn exit_zero_without_a_report_fails() {
    let dir = tempfile::tempdir().unwrap();
    let gate = exit_code_gate(dir.path(), "sarif", "echo 'all clear, report at {report}'");
    let run = run_gate(&gate, &[]);
    assert_decision(&run, 1, "NO_GO");
    let record = run.check("SCAN-04::scanner");
    assert_eq!(record["exit_code"], 0, "{record}");
    assert_eq!(record["outcome"], "fail", "{record}");
    assert!(
        record["message"].as_str().unwrap().starts_with("no report"),
        "{record}"
    );
    assert!(record["report"].is_null(), "{record}");
}

#[test]
fn exit_one_with_an_empty_report_passes() {
    for (format, report) in [("sarif", EMPTY_SARIF), ("npm-audit", EMPTY_NPM_AUDIT)] {
        let dir = tempfile::tempdir().unwrap();
        let gate = exit_code_gate(
            dir.path(),
            format,
            &format!("printf '%s' '{report}' > {{report}}; exit 1"),
        );
        let run = run_gate(&gate, &[]);
        assert_eq!(run.code(), 0, "{format}: {}", run.context());
        assert_eq!(run.decision(), "GO", "{format}");
        let record = run.check("SCAN-04::scanner");
        assert_eq!(record["exit_code"], 1, "{record}");
        assert_eq!(record["outcome"], "pass", "{record}");
        assert!(array(&record["findings"]).is_empty(), "{record}");
        let extension = if format == "sarif" { "sarif" } else { "json" };
        stored_report(
            &run,
            &record,
            &format!("reports/SCAN-04/scanner.{extension}"),
        );
    }
}

#[test]
fn exit_zero_with_an_unparseable_report_fails() {
    let dir = tempfile::tempdir().unwrap();
    let gate = exit_code_gate(dir.path(), "sarif", "echo 'scan complete' > {report}");
    let run = run_gate(&gate, &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    let record = run.check("SCAN-04::scanner");
    assert_eq!(record["exit_code"], 0, "{record}");
    assert_eq!(record["outcome"], "fail", "{record}");
    assert!(
        record["message"]
            .as_str()
            .unwrap()
            .starts_with("unparseable sarif report"),
        "{record}"
    );
}

#[test]
fn the_report_path_holds_from_the_checks_cwd_with_a_relative_out_dir() {
    // `--out` relative to where the gate is run (as the default `target/gate` is), the check
    // running in the gate file's directory and in a `cwd` below it.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("gate/sub")).unwrap();
    let run = format!("printf '%s' '{EMPTY_SARIF}' > {{report}}");
    write_gate(
        &root.path().join("gate"),
        &format!(
            r#"[[packet]]
id = "SCAN-05"

[[packet.check]]
id = "here"
scan = {{ run = {run:?}, format = "sarif" }}

[[packet.check]]
id = "below"
cwd = "sub"
scan = {{ run = {run:?}, format = "sarif" }}
"#
        ),
    );
    let output = xtask()
        .args(["gate", "--gate", "gate/packets.toml", "--out", "out"])
        .current_dir(root.path())
        .output()
        .unwrap();
    let ledger = std::fs::read_to_string(root.path().join("out/evidence.jsonl")).unwrap();
    for check in ["SCAN-05::here", "SCAN-05::below"] {
        let record: Value = ledger
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .find(|line| line["kind"] == "check" && line["name"] == check)
            .unwrap();
        assert_eq!(record["outcome"], "pass", "{record}");
        assert!(root.path().join("out/reports/SCAN-05").is_dir(), "{record}");
    }
    assert!(output.status.success(), "{output:?}");
}

// ---------------------------------------------------------------------------------------------
// report.sarif of a real run

/// A run with audit findings (one accepted), SARIF findings below a `cwd` and a failing command,
/// from the recorded scanner reports of `tests/fixtures/scans/`: `report.sarif` must validate
/// against the SARIF schema and point each result at its lockfile entry, file or gate-file line.
#[test]
fn report_sarif_of_a_run_is_valid_and_points_at_lockfile_files_and_gate_lines() {
    let fixtures = workspace().join("tests/fixtures/scans");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures.join("cargo-audit/vulnerable/Cargo.lock"),
        dir.path().join("Cargo.lock"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("svc")).unwrap();
    let copy = |report: &str| format!("cp '{}' {{report}}", fixtures.join(report).display());
    let gate = write_gate(
        dir.path(),
        &format!(
            r#"[[packet]]
id = "SARIF-01"
implementer = "erin"

[[packet.check]]
id = "cargo-audit"
scan = {{ run = {audit:?}, format = "cargo-audit" }}

[[packet.check]]
id = "semgrep"
cwd = "svc"
scan = {{ run = {semgrep:?}, format = "sarif" }}

[[packet.check]]
id = "unit-tests"
run = "echo 'test result: FAILED'; exit 3"

[[accept]]
finding = "{TIME_ADVISORY}"
owner = "dana"
until = "2099-12-31"
reason = "time::at is never called with a local offset here"
"#,
            audit = format!("{}; exit 1", copy("cargo-audit/vulns.json")),
            semgrep = copy("sarif/semgrep.sarif"),
        ),
    );
    let run = run_gate(&gate, &[]);
    assert_decision(&run, 1, "NO_GO");
    let text = std::fs::read_to_string(run.out.path().join("report.sarif"))
        .unwrap_or_else(|err| panic!("report.sarif: {err}\n{}", run.context()));
    let sarif: Value = serde_json::from_str(&text).unwrap();
    sarif_consumer::assert_valid("report.sarif of a real run", &sarif);

    let results = array(&sarif["runs"][0]["results"]);
    let result = |rule_id: &str| {
        results
            .iter()
            .find(|result| result["ruleId"] == rule_id)
            .cloned()
            .unwrap_or_else(|| panic!("no result of {rule_id} in {text}"))
    };
    let place = |result: &Value| {
        let physical = &result["locations"][0]["physicalLocation"];
        (
            physical["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .to_string(),
            physical["region"]["startLine"].as_u64().unwrap(),
        )
    };
    let lock = std::fs::read_to_string(dir.path().join("Cargo.lock")).unwrap();
    let line_in = |text: &str, wanted: &str| {
        text.lines()
            .position(|line| line == wanted)
            .map(|index| index as u64 + 1)
            .unwrap_or_else(|| panic!("no line {wanted:?}"))
    };

    let smallvec = result(SMALLVEC_ADVISORY);
    assert_eq!(
        place(&smallvec),
        (
            "Cargo.lock".to_string(),
            line_in(&lock, "name = \"smallvec\"")
        )
    );
    assert_eq!(smallvec["level"], "error", "{smallvec}");
    assert!(smallvec.get("suppressions").is_none(), "{smallvec}");
    let time = result(TIME_ADVISORY);
    assert_eq!(time["suppressions"][0]["status"], "accepted", "{time}");
    assert_eq!(
        place(&result(
            "python.lang.security.audit.formatted-sql-query.formatted-sql-query"
        )),
        ("svc/app/db.py".to_string(), 14)
    );
    let unit = result("SARIF-01::unit-tests");
    let gate_text = std::fs::read_to_string(&gate).unwrap();
    assert_eq!(
        place(&unit),
        (
            "packets.toml".to_string(),
            line_in(&gate_text, "id = \"unit-tests\"") - 1
        )
    );
    let message = unit["message"]["text"].as_str().unwrap();
    assert!(message.contains("exit code 3"), "{message}");
    assert!(
        message.contains("logs/SARIF-01/unit-tests.log"),
        "{message}"
    );
    assert!(run.verify().status.success(), "{:?}", run.verify());

    // Under GitHub Actions the same places carry the annotations: a finding of a scan run in
    // `svc/` at `svc/app/db.py`, audit findings at their Cargo.lock entries.
    let github = run_gate(&gate, &[("GITHUB_ACTIONS", Some(Path::new("true")))]);
    let stdout = github.stdout();
    let annotation = |prefix: &str| {
        assert!(
            stdout.lines().any(|line| line.starts_with(prefix)),
            "no annotation starting {prefix:?} in\n{stdout}"
        )
    };
    let smallvec_line = line_in(&lock, "name = \"smallvec\"");
    annotation(&format!(
        "::error file=Cargo.lock,line={smallvec_line},title={SMALLVEC_ADVISORY} "
    ));
    annotation(&format!(
        "::warning file=Cargo.lock,line={}",
        place(&time).1
    ));
    annotation("::error file=svc/app/db.py,line=14,title=python.lang.security.audit");
    annotation(&format!(
        "::error file=packets.toml,line={},title=SARIF-01%3A%3Aunit-tests P0 (blocking)::",
        place(&unit).1
    ));
    annotation("::error title=relgate verdict NO_GO::");
}
