//! `attestation.intoto.json`: an in-toto Statement v1 over the run's evidence, so that a third
//! party can check the evidence without trusting the tracker.
//!
//! Subjects are the files of the out directory that carry evidence — every log and stored
//! scanner report the ledger names, every report, the ledger itself and the copy of the gate
//! file ([`GATE_COPY`]) — each with the sha256 of its bytes as written. The predicate (type
//! [`PREDICATE_TYPE`]) records the gate file and its digest, the git commit, the ledger's head
//! hash and record count, every check's command, exit code, outcome and output digest, and the
//! verdict, with the fields of the in-toto test-result predicate v0.1 (`result`,
//! `configuration`, `passedTests`, `warnedTests`, `failedTests`) and `skippedTests`. It holds
//! digests, never output.
//!
//! The predicate is a pure function of the ledger ([`predicate`]), so `verify` recomputes it
//! and compares. When a signing key is installed ([`crate::evidence::signing::install`]) the statement is
//! also written as a DSSE envelope ([`crate::evidence::signing::dsse::ENVELOPE_FILE`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::evidence::signing::dsse;
use crate::evidence::{CheckRecord, Decision, Ledger, Outcome};
use crate::model::digest::{sha256_file, sha256_hex};
use crate::spec::Gate;

/// File name inside the out directory.
pub const ATTESTATION_FILE: &str = "attestation.intoto.json";

/// The in-toto Statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// relgate's predicate type.
pub const PREDICATE_TYPE: &str = "https://relgate.dev/attestation/gate-run/v1";

/// The copy of the gate file inside the out directory, so that `verify` can recompute the
/// verdict from the out directory alone.
pub const GATE_COPY: &str = "gate.toml";

/// The reports every complete run writes (and the ledger): each must be a subject.
pub const REPORTS: [&str; 5] = [
    crate::report::junit::JUNIT_FILE,
    crate::report::tracker::TRACKER_FILE,
    crate::report::sarif::SARIF_FILE,
    crate::report::html::HTML_FILE,
    crate::evidence::LEDGER_FILE,
];

/// What the statement commits to besides the records: the ledger's head and length, and
/// whether the gate file was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// sha256 of the ledger's last line (without its newline); [`crate::evidence::GENESIS`]
    /// for an empty ledger.
    pub head: String,
    /// Number of ledger lines.
    pub records: usize,
    /// [`GATE_COPY`] when the gate file was stored in the out directory.
    pub gate_copy: Option<String>,
}

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
        for (_, attempt) in check.numbered_attempts() {
            push(&attempt.log, &attempt.sha256);
            push(&attempt.report, &attempt.report_sha256);
        }
    }
    files
}

/// Builds the statement. `subjects` maps a path relative to the out directory to its sha256.
/// Pure: the caller hashes the files.
pub fn statement(ledger: &Ledger, seal: &Seal, subjects: &BTreeMap<String, String>) -> Value {
    let subject: Vec<Value> = subjects
        .iter()
        .map(|(name, sha256)| json!({ "name": name, "digest": { "sha256": sha256 } }))
        .collect();
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate(ledger, seal),
    })
}

/// The predicate: a pure function of the ledger and the seal, recomputed by `verify`.
pub fn predicate(ledger: &Ledger, seal: &Seal) -> Value {
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
    // Disjoint: a flaky pass is a condition (warned), not a clean pass.
    let passed =
        names_with(&|record| record.outcome == Outcome::Pass && condition(record).is_none());
    let warned = names_with(&|record| condition(record).is_some());
    let failed = names_with(&|record| record.outcome.is_failure() && condition(record).is_none());
    let skipped = names_with(&|record| record.outcome == Outcome::Skipped);
    // test-result's `configuration`: what the tests ran under, the gate file by its digest.
    let configuration: Vec<Value> = header
        .map(|header| {
            json!({
                "name": gate_uri(header),
                "digest": { "sha256": header.gate_sha256 },
                "mediaType": "application/toml",
            })
        })
        .into_iter()
        .collect();
    let mut predicate = json!({
        "result": verdict.map_or("FAILED", |verdict| result_of(verdict.decision)),
        "configuration": configuration,
        "passedTests": passed,
        "warnedTests": warned,
        "failedTests": failed,
        "skippedTests": skipped,
        "gate": header.map(|header| json!({
            "name": header.gate,
            "uri": gate_uri(header),
            "digest": { "sha256": header.gate_sha256 },
            "stored": seal.gate_copy,
        })),
        "ledger": {
            "uri": crate::evidence::LEDGER_FILE,
            "head": seal.head,
            "records": seal.records,
        },
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
    // With [review]: each packet's review state and the signed review it rests on.
    let reviews: Vec<Value> = ledger
        .packets()
        .filter_map(|packet| {
            let review = packet.review.as_ref()?;
            let signed = review.review.as_ref();
            Some(json!({
                "packet": packet.packet,
                "state": review.state,
                "required": review.required,
                "reviewer": signed.map(|signed| &signed.reviewer),
                "time": signed.map(|signed| &signed.time),
                "commit": signed.map(|signed| &signed.commit),
                "key": signed.map(|signed| &signed.key),
            }))
        })
        .collect();
    if !reviews.is_empty() {
        predicate["reviews"] = Value::Array(reviews);
    }
    predicate
}

/// The gate file as a reference another machine can resolve: its path relative to the root of
/// its repository when the run knew it, else its file name — never a local absolute path.
fn gate_uri(header: &crate::evidence::RunHeader) -> String {
    if let Some(path) = &header.gate_path {
        return path.clone();
    }
    Path::new(&header.gate_file).file_name().map_or_else(
        || header.gate_file.clone(),
        |name| name.to_string_lossy().into_owned(),
    )
}

fn check(record: &CheckRecord) -> Value {
    let kind = serde_json::to_value(record.case_kind).unwrap_or(Value::Null);
    let mut value = json!({
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
    });
    // A retried check: every earlier attempt's outcome, exit and evidence digests, so the
    // statement covers them (absent for a check that ran once).
    if !record.attempts.is_empty() {
        value["attempts"] = record
            .attempts
            .iter()
            .map(|attempt| {
                json!({
                    "exitCode": attempt.exit_code,
                    "signal": attempt.signal,
                    "timedOut": attempt.timed_out,
                    "outcome": attempt.outcome.label(),
                    "started": attempt.started,
                    "ended": attempt.ended,
                    "shard": attempt.shard,
                    "output": output(&attempt.log, attempt.sha256.as_deref(), Some(attempt.bytes)),
                    "report": output(&attempt.report, attempt.report_sha256.as_deref(), None),
                })
            })
            .collect();
    }
    value
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
        // Ran and printed nothing: the digest of no bytes, and no file to point at.
        (None, Some(sha256)) => json!({ "digest": { "sha256": sha256 }, "bytes": bytes }),
        _ => Value::Null,
    }
}

/// Stores the gate file as [`GATE_COPY`], hashes `reports` (paths inside `out_dir`: the
/// ledger and the reports just written) and the copy, takes the digest of every evidence file
/// the ledger names from the ledger (which hashed each log as it was written; `verify`
/// re-hashes them), and writes `out_dir/attestation.intoto.json` atomically — and, when a
/// signing key is installed, its DSSE envelope. Returns the files written. A file that is
/// missing is left out of the subjects (the ledger still records its digest, and `verify`
/// reports it).
pub fn write(
    gate: &Gate,
    ledger: &Ledger,
    reports: &[PathBuf],
    out_dir: &Path,
) -> std::io::Result<Vec<PathBuf>> {
    write_with_head(gate, ledger, &ledger.head(), reports, out_dir)
}

/// [`write`] given the ledger's head (`Ledger::write_with_head` returns it).
pub fn write_with_head(
    gate: &Gate,
    ledger: &Ledger,
    head: &str,
    reports: &[PathBuf],
    out_dir: &Path,
) -> std::io::Result<Vec<PathBuf>> {
    let gate_copy = store_gate(gate, out_dir)?;
    let mut subjects = BTreeMap::new();
    let reports = reports
        .iter()
        .map(|path| path.strip_prefix(out_dir).unwrap_or(path))
        .map(|name| (name.to_string_lossy().into_owned(), None))
        .chain(gate_copy.iter().map(|name| (name.clone(), None)));
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
    let seal = Seal {
        head: head.to_string(),
        records: ledger.records.len(),
        gate_copy,
    };
    let path = out_dir.join(ATTESTATION_FILE);
    let mut text = serde_json::to_string_pretty(&statement(ledger, &seal, &subjects))
        .expect("a JSON value serializes");
    text.push('\n');
    // The bytes written are the bytes signed.
    let text = crate::output::redaction::write_report_returning(&path, text.as_bytes())?;
    let mut written = vec![path];
    let envelope = out_dir.join(dsse::ENVELOPE_FILE);
    match crate::evidence::signing::installed() {
        Some(signer) => written.push(dsse::write(&text, signer, out_dir)?),
        // An envelope of an earlier run must not sit beside this run's statement.
        None => remove_if_present(&envelope)?,
    }
    Ok(written)
}

/// Copies the gate file into the out directory when it is still the file the run loaded and
/// the redactor leaves it unchanged (a gate file holding a secret is not copied: `verify` then
/// needs `--gate FILE`). Returns the copy's name.
fn store_gate(gate: &Gate, out_dir: &Path) -> std::io::Result<Option<String>> {
    let copy = out_dir.join(GATE_COPY);
    let text = std::fs::read(&gate.source)
        .ok()
        .filter(|bytes| sha256_hex(bytes) == gate.sha256)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|text| crate::output::redaction::redact(text) == text.as_str())
        // TOML escapes (`\u0067hp_…`) hide a secret from the raw text: the parsed gate must be
        // unchanged by the redactor too.
        .filter(|text| {
            crate::spec::parse(&gate.source, text).is_ok_and(|parsed| {
                format!("{parsed:?}") == format!("{:?}", crate::spec::redacted_gate(&parsed))
            })
        });
    match text {
        Some(text) => {
            crate::output::redaction::write_report(&copy, text.as_bytes())?;
            Ok(Some(GATE_COPY.to_string()))
        }
        None => {
            remove_if_present(&copy)?;
            Ok(None)
        }
    }
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal() -> Seal {
        Seal {
            head: crate::evidence::GENESIS.to_string(),
            records: 0,
            gate_copy: None,
        }
    }

    #[test]
    fn decisions_map_to_test_results() {
        assert_eq!(result_of(Decision::Go), "PASSED");
        assert_eq!(result_of(Decision::GoWithConditions), "WARNED");
        assert_eq!(result_of(Decision::NoGo), "FAILED");
    }

    #[test]
    fn an_empty_ledger_still_makes_a_statement() {
        let statement = statement(&Ledger::default(), &seal(), &BTreeMap::new());
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
        let statement = statement(&scan_ledger("accepted"), &seal(), &BTreeMap::new());
        assert_eq!(statement["predicate"]["result"], "WARNED");
        assert_eq!(
            statement["predicate"]["warnedTests"],
            json!(["SEC-02::audit"])
        );
        assert_eq!(statement["predicate"]["failedTests"], json!([]));
        let statement = super::statement(&scan_ledger("blocking"), &seal(), &BTreeMap::new());
        assert_eq!(statement["predicate"]["result"], "FAILED");
        assert_eq!(
            statement["predicate"]["failedTests"],
            json!(["SEC-02::audit"])
        );
        assert_eq!(statement["predicate"]["warnedTests"], json!([]));
    }
}
