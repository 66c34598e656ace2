//! `attestation.intoto.json`: an in-toto Statement v1 over the run's evidence, so that a third
//! party can check the evidence without trusting the tracker.
//!
//! Subjects are the files of the out directory that carry evidence — every log and stored
//! scanner report the ledger names, every report and the ledger itself — each with the sha256
//! of its bytes as written. The predicate (type [`PREDICATE_TYPE`]) records the gate file and
//! its digest, the git commit, every check's command, exit code, outcome and output digest, and
//! the verdict, with the test-result fields (`result`, `passedTests`, `warnedTests`,
//! `failedTests`) of the in-toto test-result predicate. It holds digests, never output.
//!
//! The statement is unsigned: sign it with the tool of your supply chain (e.g.
//! `cosign attest-blob --predicate …` or an in-toto signer). [`verify`] recomputes every subject
//! digest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::evidence::{sha256_file, CheckRecord, Decision, Ledger, Outcome};

/// File name inside the out directory.
pub const ATTESTATION_FILE: &str = "attestation.intoto.json";

/// The in-toto Statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// relgate's predicate type.
pub const PREDICATE_TYPE: &str = "https://relgate.dev/attestation/gate-run/v1";

/// The in-toto test-result `result` of a decision: GO → PASSED, GO_WITH_CONDITIONS → WARNED,
/// NO_GO → FAILED.
pub fn result_of(decision: Decision) -> &'static str {
    match decision {
        Decision::Go => "PASSED",
        Decision::GoWithConditions => "WARNED",
        Decision::NoGo => "FAILED",
    }
}

/// Every evidence file the ledger names (logs and stored reports) with the sha256 the ledger
/// recorded for it, in ledger order, without duplicates.
pub fn evidence_files(ledger: &Ledger) -> Vec<(String, Option<String>)> {
    let mut files: Vec<(String, Option<String>)> = Vec::new();
    let mut push = |path: &Option<String>, sha256: &Option<String>| {
        if let Some(path) = path {
            if !files.iter().any(|(known, _)| known == path) {
                files.push((path.clone(), sha256.clone()));
            }
        }
    };
    for service in ledger.services() {
        push(&service.log, &service.sha256);
    }
    for check in ledger.checks() {
        push(&check.log, &check.sha256);
        push(&check.report, &check.report_sha256);
    }
    files
}

/// Builds the statement. `subjects` maps a path relative to the out directory to its sha256.
/// Pure: the caller hashes the files.
pub fn statement(ledger: &Ledger, subjects: &BTreeMap<String, String>) -> Value {
    let subject: Vec<Value> = subjects
        .iter()
        .map(|(name, sha256)| json!({ "name": name, "digest": { "sha256": sha256 } }))
        .collect();
    let header = ledger.header();
    let verdict = ledger.verdict();
    let checks: Vec<&CheckRecord> = ledger.checks().collect();
    let names_with = |wanted: &dyn Fn(&CheckRecord) -> bool| -> Vec<String> {
        checks
            .iter()
            .filter(|record| wanted(record))
            .map(|record| record.name.clone())
            .collect()
    };
    let condition = |record: &CheckRecord| verdict.and_then(|verdict| verdict.condition(record));
    let passed = names_with(&|record| record.outcome == Outcome::Pass);
    let warned = names_with(&|record| condition(record).is_some());
    let failed = names_with(&|record| record.outcome.is_failure() && condition(record).is_none());
    let predicate = json!({
        "result": verdict.map_or("FAILED", |verdict| result_of(verdict.decision)),
        "passedTests": passed,
        "warnedTests": warned,
        "failedTests": failed,
        "gate": header.map(|header| json!({
            "name": header.gate,
            "uri": header.gate_file,
            "digest": { "sha256": header.gate_sha256 },
        })),
        "git": header.map(|header| json!({
            "commit": header.git_head,
            "dirty": header.git_dirty,
        })),
        "run": header.map(|header| json!({
            "id": header.run_id,
            "mode": header.mode,
            "started": header.started,
            "host": header.host,
            "relgateVersion": header.relgate_version,
        })),
        "verdict": verdict.map(|verdict| json!({
            "decision": verdict.decision.label(),
            "asOf": verdict.as_of,
            "reasons": verdict.reasons,
            "residualRisks": verdict.residual_risks.iter().map(|risk| json!({
                "check": risk.check,
                "severity": risk.severity.as_str(),
                "state": risk.state,
                "owner": risk.owner,
                "until": risk.until,
            })).collect::<Vec<_>>(),
            "findings": verdict.findings.iter().map(|finding| json!({
                "check": finding.check,
                "id": finding.id,
                "severity": finding.severity.as_str(),
                "state": finding.state,
                "fingerprint": finding.fingerprint,
            })).collect::<Vec<_>>(),
        })),
        "services": ledger.services().map(|service| json!({
            "name": service.name,
            "kind": service.service_kind,
            "command": service.command,
            "outcome": service.outcome,
            "output": output(&service.log, service.sha256.as_deref(), Some(service.bytes)),
        })).collect::<Vec<_>>(),
        "checks": checks.iter().map(|record| check(record)).collect::<Vec<_>>(),
    });
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    })
}

fn check(record: &CheckRecord) -> Value {
    let kind = serde_json::to_value(record.case_kind).unwrap_or(Value::Null);
    json!({
        "name": record.name,
        "packet": record.packet,
        "kind": kind,
        "command": record.argv,
        "cwd": record.cwd,
        "exitCode": record.exit_code,
        "signal": record.signal,
        "timedOut": record.timed_out,
        "outcome": record.outcome.label(),
        "severity": record.severity.as_str(),
        "started": record.started,
        "ended": record.ended,
        "durationMs": record.duration_ms,
        "output": output(&record.log, record.sha256.as_deref(), Some(record.bytes)),
        "report": output(&record.report, record.report_sha256.as_deref(), None),
        "cases": record.cases.iter().map(|case| json!({
            "name": case.name,
            "outcome": serde_json::to_value(case.outcome).unwrap_or(Value::Null),
        })).collect::<Vec<_>>(),
    })
}

fn output(path: &Option<String>, sha256: Option<&str>, bytes: Option<u64>) -> Value {
    match (path, sha256) {
        (Some(path), Some(sha256)) => {
            let mut value = json!({ "uri": path, "digest": { "sha256": sha256 } });
            if let Some(bytes) = bytes {
                value["bytes"] = json!(bytes);
            }
            value
        }
        _ => Value::Null,
    }
}

/// Hashes `reports` (paths inside `out_dir`, e.g. the ledger and the reports just written),
/// takes the digest of every evidence file the ledger names from the ledger (which hashed each
/// log as it was written; `verify` re-hashes them), and writes `out_dir/attestation.intoto.json`
/// atomically. A file that is missing is left out of the subjects (the ledger still records its
/// digest, and `verify` reports it).
pub fn write(ledger: &Ledger, reports: &[PathBuf], out_dir: &Path) -> std::io::Result<PathBuf> {
    let mut subjects = BTreeMap::new();
    let reports = reports.iter().map(|path| {
        let name = path.strip_prefix(out_dir).unwrap_or(path);
        (name.to_string_lossy().into_owned(), None)
    });
    for (name, recorded) in reports.chain(evidence_files(ledger)) {
        let file = out_dir.join(&name);
        let sha256 = match recorded {
            Some(sha256) if file.is_file() => sha256,
            Some(_) => continue,
            None => match sha256_file(&file) {
                Ok((sha256, _)) => sha256,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(err),
            },
        };
        subjects.insert(name, sha256);
    }
    let path = out_dir.join(ATTESTATION_FILE);
    let mut text = serde_json::to_string_pretty(&statement(ledger, &subjects))
        .expect("a JSON value serializes");
    text.push('\n');
    crate::redaction::write_report(&path, text.as_bytes())?;
    Ok(path)
}

/// Reads `out_dir/attestation.intoto.json` and recomputes the digest of every subject.
/// Returns the number of subjects checked, or the first problem.
pub fn verify(out_dir: &Path) -> Result<usize, String> {
    let path = out_dir.join(ATTESTATION_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let statement: Value = serde_json::from_str(&text)
        .map_err(|err| format!("{}: not JSON: {err}", path.display()))?;
    if statement["_type"] != STATEMENT_TYPE {
        return Err(format!(
            "{}: _type is {}, expected {STATEMENT_TYPE}",
            path.display(),
            statement["_type"]
        ));
    }
    let subjects = statement["subject"]
        .as_array()
        .ok_or_else(|| format!("{}: no subject list", path.display()))?;
    for subject in subjects {
        let (Some(name), Some(recorded)) = (
            subject["name"].as_str(),
            subject["digest"]["sha256"].as_str(),
        ) else {
            return Err(format!(
                "{}: a subject lacks a name or a sha256 digest: {subject}",
                path.display()
            ));
        };
        let relative = Path::new(name);
        if relative.is_absolute()
            || relative
                .components()
                .any(|part| matches!(part, std::path::Component::ParentDir))
        {
            return Err(format!(
                "{}: subject {name} points outside the out directory",
                path.display()
            ));
        }
        let (actual, _) = sha256_file(&out_dir.join(relative))
            .map_err(|err| format!("subject {name} of {}: {err}", path.display()))?;
        if actual != recorded {
            return Err(format!(
                "subject {name} changed: the attestation records sha256 {recorded}, found {actual}"
            ));
        }
    }
    Ok(subjects.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_map_to_test_results() {
        assert_eq!(result_of(Decision::Go), "PASSED");
        assert_eq!(result_of(Decision::GoWithConditions), "WARNED");
        assert_eq!(result_of(Decision::NoGo), "FAILED");
    }

    #[test]
    fn an_empty_ledger_still_makes_a_statement() {
        let statement = statement(&Ledger::default(), &BTreeMap::new());
        assert_eq!(statement["_type"], STATEMENT_TYPE);
        assert_eq!(statement["predicateType"], PREDICATE_TYPE);
        assert_eq!(statement["predicate"]["result"], "FAILED");
        assert_eq!(statement["subject"], json!([]));
    }

    /// A failed scan record with one finding, and a verdict that judged it `state`.
    fn scan_ledger(state: &str) -> Ledger {
        let check: CheckRecord = serde_json::from_value(json!({
            "packet": "SEC-02", "check": "audit", "name": "SEC-02::audit", "case_kind": "scan",
            "argv": ["sh", "-c", "cargo audit --json > r.json"], "cwd": ".",
            "started": "2026-01-01T00:00:00Z", "ended": "2026-01-01T00:00:01Z",
            "duration_ms": 1000, "exit_code": 1, "signal": null, "timed_out": false,
            "log": "logs/SEC-02/audit.log", "bytes": 10, "sha256": "ab",
            "outcome": "fail", "severity": "P1", "message": "1 finding",
            "findings": [{
                "id": "RUSTSEC-2023-0071", "rule": "vulnerability", "severity": "P1",
                "scanner_severity": "cvss 5.9", "title": "Marvin", "location": "rsa@0.9.8",
                "fingerprint": "fp",
            }],
        }))
        .unwrap();
        let verdict: crate::evidence::VerdictRecord = serde_json::from_value(json!({
            "decision": if state == "blocking" { "NO_GO" } else { "GO_WITH_CONDITIONS" },
            "as_of": "2026-01-01", "residual_risks": [
                { "check": "SEC-02::audit RUSTSEC-2023-0071", "severity": "P1", "state": state,
                  "owner": "dana", "until": "2026-12-31", "reason": "no exploit path" },
            ],
            "expired_acceptances": [], "unused_acceptances": [], "reasons": [],
            "findings": [{
                "check": "SEC-02::audit", "id": "RUSTSEC-2023-0071", "rule": "vulnerability",
                "severity": "P1", "title": "Marvin", "location": "rsa@0.9.8",
                "fingerprint": "fp", "state": state, "acceptance": null,
            }],
        }))
        .unwrap();
        Ledger {
            records: vec![
                crate::evidence::Record::Check(check),
                crate::evidence::Record::Verdict(verdict),
            ],
        }
    }

    #[test]
    fn a_scan_whose_findings_are_all_accepted_is_warned_not_failed() {
        let statement = statement(&scan_ledger("accepted"), &BTreeMap::new());
        assert_eq!(statement["predicate"]["result"], "WARNED");
        assert_eq!(
            statement["predicate"]["warnedTests"],
            json!(["SEC-02::audit"])
        );
        assert_eq!(statement["predicate"]["failedTests"], json!([]));
        let statement = super::statement(&scan_ledger("blocking"), &BTreeMap::new());
        assert_eq!(statement["predicate"]["result"], "FAILED");
        assert_eq!(
            statement["predicate"]["failedTests"],
            json!(["SEC-02::audit"])
        );
        assert_eq!(statement["predicate"]["warnedTests"], json!([]));
    }

    #[test]
    fn verify_refuses_subjects_outside_the_out_directory() {
        let dir = tempfile::tempdir().unwrap();
        let statement = json!({
            "_type": STATEMENT_TYPE,
            "subject": [{ "name": "../etc/passwd", "digest": { "sha256": "00" } }],
        });
        std::fs::write(dir.path().join(ATTESTATION_FILE), statement.to_string()).unwrap();
        let err = verify(dir.path()).unwrap_err();
        assert!(err.contains("outside the out directory"), "{err}");
    }
}
