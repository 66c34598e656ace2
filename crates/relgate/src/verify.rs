//! `cargo xtask gate verify`: everything a third party holding only the out directory (and,
//! for a signed run, the signer's public key) can check.
//!
//! In order: the DSSE envelope against the trusted keys (its payload must be exactly the
//! attestation in the out directory); the ledger's hash chain and every log and stored report it
//! names (paths confined to the out directory, [`crate::output::containment`]); the statement's ledger
//! head and record count; its predicate, recomputed from the ledger by the function that wrote
//! it ([`attestation::predicate`]); its subjects (every report, the ledger, the gate copy and
//! every evidence file the ledger names, each with the right digest; none missing); the verdict,
//! packets and checklist recomputed from the records by [`verdict::decide`] with the stored gate
//! file and `today` = the verdict's `as_of`; every report re-rendered from the gate and the
//! ledger; and, with `--expect-commit`, the run's commit.
//!
//! Without a trusted key all of this is consistency only: whoever can write the out directory
//! can rewrite the records and recompute everything. [`Verified::signature`] says which case
//! holds, and the CLI prints it plainly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::evidence::signing::dsse::{self, ENVELOPE_FILE};
use crate::evidence::signing::TrustedKey;
use crate::evidence::{self, CaseKind, CheckRecord, Ledger, Record};
use crate::model::digest::{sha256_file, sha256_hex};
use crate::report::attestation::{
    self, Seal, ATTESTATION_FILE, GATE_COPY, PREDICATE_TYPE, STATEMENT_TYPE,
};
use crate::spec::Gate;
use crate::verdict::{self, Stage, Verdict};

/// What to verify.
#[derive(Debug, Default)]
pub struct Options {
    /// The out directory.
    pub out_dir: PathBuf,
    /// Public keys one of which must have signed the envelope; empty: signature not checked.
    pub trusted: Vec<TrustedKey>,
    /// The full commit id the run must have been made on.
    pub expect_commit: Option<String>,
    /// The gate file to recompute the verdict with, instead of the out directory's copy.
    pub gate: Option<PathBuf>,
}

/// How far the signature goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// Signed by this trusted key.
    Trusted(String),
    /// An envelope is there, claiming these key ids, but no trusted key was given.
    Unchecked(Vec<String>),
    /// No envelope.
    Unsigned,
}

/// A run that verified.
#[derive(Debug)]
pub struct Verified {
    /// The ledger.
    pub ledger: Ledger,
    /// Subjects whose digest matched.
    pub subjects: usize,
    /// Reports re-rendered and found identical.
    pub reports: usize,
    /// The signature's standing.
    pub signature: Signature,
    /// The relgate version that made the run, when it is not this one: the verdict and the
    /// reports were then not recomputed.
    pub other_version: Option<String>,
}

/// Why verification failed: the file at fault and what differs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct Failure {
    /// The file at fault (in the out directory, or the trusted-key file).
    pub file: String,
    /// What differs.
    pub message: String,
}

struct Checker<'a> {
    out_dir: &'a Path,
}

impl Checker<'_> {
    fn fail(&self, name: &str, message: impl Into<String>) -> Failure {
        Failure {
            file: self.out_dir.join(name).display().to_string(),
            message: message.into(),
        }
    }

    /// A file the evidence names, confined to the out directory, as bytes.
    fn read(&self, name: &str) -> Result<Vec<u8>, Failure> {
        let path = crate::output::containment::resolve(self.out_dir, name)
            .map_err(|err| self.fail(name, err.to_string()))?;
        crate::output::containment::read_regular(&path)
            .map_err(|err| self.fail(name, format!("cannot read: {err}")))
    }
}

/// Verifies the out directory; the first problem found is the error.
pub fn verify(options: &Options) -> Result<Verified, Failure> {
    let check = Checker {
        out_dir: &options.out_dir,
    };
    let statement_bytes = check.read(ATTESTATION_FILE)?;
    let signature = signature(&check, &statement_bytes, &options.trusted)?;
    crate::output::containment::resolve(check.out_dir, evidence::LEDGER_FILE)
        .map_err(|err| check.fail(evidence::LEDGER_FILE, err.to_string()))?;
    let (ledger, head) = evidence::verify_chain(&options.out_dir).map_err(|err| Failure {
        file: match err.line {
            Some(line) => format!("{}:{line}", err.path),
            None => err.path.clone(),
        },
        message: err.message.clone(),
    })?;
    let (statement, seal) = statement(&check, &statement_bytes, &ledger, head)?;
    let subjects = subjects(&check, &statement, &ledger, &seal)?;
    let header = ledger
        .header()
        .ok_or_else(|| check.fail(evidence::LEDGER_FILE, "no run header record"))?;
    if let Some(commit) = &options.expect_commit {
        let recorded = header.git_head.as_deref().unwrap_or("none");
        if !recorded.eq_ignore_ascii_case(commit) {
            return Err(check.fail(
                evidence::LEDGER_FILE,
                format!("the run was made on commit {recorded}, not the expected {commit}"),
            ));
        }
    }
    // The verdict and the reports are what this version's pure functions make of the records;
    // another version may decide or render differently, so only the same version recomputes.
    // (Changing the header's version means re-chaining the ledger: only a signature stops that.)
    let other_version = (header.relgate_version != env!("CARGO_PKG_VERSION"))
        .then(|| header.relgate_version.clone());
    let reports = match other_version {
        Some(_) => 0,
        None => {
            let gate = load_gate(&check, options.gate.as_deref(), &seal, header)?;
            let (verdict, records) = recompute(&check, &gate, &ledger)?;
            reports(&check, &gate, &ledger, &verdict, &records)?
        }
    };
    Ok(Verified {
        ledger,
        subjects,
        reports,
        signature,
        other_version,
    })
}

/// Parses the statement and checks its predicate against the one recomputed from the ledger
/// (which includes the ledger's head and record count); returns it with its seal.
fn statement(
    check: &Checker,
    statement_bytes: &[u8],
    ledger: &Ledger,
    head: String,
) -> Result<(Value, Seal), Failure> {
    let statement: Value = serde_json::from_slice(statement_bytes)
        .map_err(|err| check.fail(ATTESTATION_FILE, format!("not JSON: {err}")))?;
    for (key, expected) in [("_type", STATEMENT_TYPE), ("predicateType", PREDICATE_TYPE)] {
        if statement[key] != expected {
            return Err(check.fail(
                ATTESTATION_FILE,
                format!("{key} is {}, expected {expected}", statement[key]),
            ));
        }
    }
    let seal = Seal {
        head,
        records: ledger.records.len(),
        gate_copy: statement["predicate"]["gate"]["stored"]
            .as_str()
            .map(String::from),
    };
    if seal
        .gate_copy
        .as_deref()
        .is_some_and(|name| name != GATE_COPY)
    {
        return Err(check.fail(
            ATTESTATION_FILE,
            format!("predicate.gate.stored must be {GATE_COPY} or null"),
        ));
    }
    let expected = attestation::predicate(ledger, &seal);
    if let Some(difference) = first_difference(&statement["predicate"], &expected, "predicate") {
        return Err(check.fail(
            ATTESTATION_FILE,
            format!(
                "the statement does not match the ledger {}: {difference}",
                evidence::LEDGER_FILE
            ),
        ));
    }
    Ok((statement, seal))
}

/// Checks the envelope: with trusted keys it must be signed by one; its payload must be the
/// exact bytes of the attestation.
fn signature(
    check: &Checker,
    statement: &[u8],
    trusted: &[TrustedKey],
) -> Result<Signature, Failure> {
    let present = std::fs::symlink_metadata(check.out_dir.join(ENVELOPE_FILE)).is_ok();
    if !present {
        return if trusted.is_empty() {
            Ok(Signature::Unsigned)
        } else {
            Err(check.fail(
                ENVELOPE_FILE,
                "missing: the run is unsigned, so it cannot be signed by a trusted key",
            ))
        };
    }
    let path = crate::output::containment::resolve(check.out_dir, ENVELOPE_FILE)
        .map_err(|err| check.fail(ENVELOPE_FILE, err.to_string()))?;
    let envelope = dsse::read(&path).map_err(|err| Failure {
        file: path.display().to_string(),
        message: err.to_string(),
    })?;
    let (payload, standing) = if trusted.is_empty() {
        let payload = envelope
            .payload_bytes()
            .map_err(|err| check.fail(ENVELOPE_FILE, err.to_string()))?;
        let keyids = envelope.keyids().into_iter().map(String::from).collect();
        (payload, Signature::Unchecked(keyids))
    } else {
        let (payload, keyid) = envelope
            .verify(trusted)
            .map_err(|err| check.fail(ENVELOPE_FILE, err.to_string()))?;
        (payload, Signature::Trusted(keyid))
    };
    if payload != statement {
        return Err(check.fail(
            ATTESTATION_FILE,
            format!(
                "differs from the statement signed in {ENVELOPE_FILE} (sha256 {} signed, {} found)",
                sha256_hex(&payload),
                sha256_hex(statement)
            ),
        ));
    }
    Ok(standing)
}

/// Every subject's digest is its file's; every report, the ledger, the gate copy and every
/// evidence file the ledger names is a subject, with the digest the ledger recorded.
fn subjects(
    check: &Checker,
    statement: &Value,
    ledger: &Ledger,
    seal: &Seal,
) -> Result<usize, Failure> {
    let list = statement["subject"]
        .as_array()
        .filter(|list| !list.is_empty());
    let list =
        list.ok_or_else(|| check.fail(ATTESTATION_FILE, "the subject list is missing or empty"))?;
    let mut digests: BTreeMap<&str, &str> = BTreeMap::new();
    for subject in list {
        let (Some(name), Some(recorded)) = (
            subject["name"].as_str(),
            subject["digest"]["sha256"].as_str(),
        ) else {
            return Err(check.fail(
                ATTESTATION_FILE,
                format!("a subject lacks a name or a sha256 digest: {subject}"),
            ));
        };
        let path = crate::output::containment::resolve(check.out_dir, name)
            .map_err(|err| check.fail(ATTESTATION_FILE, format!("subject {err}")))?;
        let (actual, _) = sha256_file(&path)
            .map_err(|err| check.fail(name, format!("subject of {ATTESTATION_FILE}: {err}")))?;
        if actual != recorded {
            return Err(check.fail(
                name,
                format!(
                    "subject {name} changed: {ATTESTATION_FILE} records sha256 {recorded}, the file has {actual}"
                ),
            ));
        }
        if digests.insert(name, recorded).is_some() {
            return Err(check.fail(ATTESTATION_FILE, format!("subject {name} is listed twice")));
        }
    }
    let required = attestation::REPORTS
        .iter()
        .map(|name| (name.to_string(), None))
        .chain(seal.gate_copy.iter().map(|name| (name.clone(), None)))
        .chain(attestation::evidence_files(ledger));
    for (name, recorded) in required {
        match (digests.get(name.as_str()), recorded) {
            (None, _) => {
                return Err(check.fail(
                    ATTESTATION_FILE,
                    format!("{name} is not a subject: every report, the ledger and every log it names must be"),
                ))
            }
            (Some(subject), Some(recorded)) if *subject != recorded => {
                return Err(check.fail(
                    ATTESTATION_FILE,
                    format!("subject {name} has sha256 {subject}, the ledger records {recorded}"),
                ))
            }
            _ => {}
        }
    }
    Ok(digests.len())
}

/// The gate the run was made from: `--gate FILE` or the out directory's copy, either with the
/// sha256 the run header records.
fn load_gate(
    check: &Checker,
    flag: Option<&Path>,
    seal: &Seal,
    header: &evidence::RunHeader,
) -> Result<Gate, Failure> {
    let with_header_digest = |file: String, bytes: Vec<u8>| {
        let sha256 = sha256_hex(&bytes);
        if sha256 == header.gate_sha256 {
            return Ok((file, bytes));
        }
        Err(Failure {
            file,
            message: format!(
                "sha256 {sha256}, but the run header records gate sha256 {}",
                header.gate_sha256
            ),
        })
    };
    // A stored copy must be the gate file of the run, whether or not --gate is given.
    let copy = match &seal.gate_copy {
        Some(copy) => Some(with_header_digest(
            check.out_dir.join(copy).display().to_string(),
            check.read(copy)?,
        )?),
        None => None,
    };
    let (file, bytes) = match (flag, copy) {
        (Some(path), _) => {
            let bytes = std::fs::read(path).map_err(|err| Failure {
                file: path.display().to_string(),
                message: format!("cannot read the gate file: {err}"),
            })?;
            with_header_digest(path.display().to_string(), bytes)?
        }
        (None, Some(copy)) => copy,
        (None, None) => {
            return Err(check.fail(
                ATTESTATION_FILE,
                format!(
                    "the run did not store its gate file (it holds text the redactor masks, or changed during the run): pass --gate {} to recompute the verdict",
                    header.gate_file
                ),
            ))
        }
    };
    let text = String::from_utf8(bytes).map_err(|_| Failure {
        file: file.clone(),
        message: "not UTF-8".into(),
    })?;
    // Parsed under its original name, so that reports name it as the run did.
    let gate = crate::spec::parse(Path::new(&header.gate_file), &text).map_err(|err| Failure {
        file,
        message: format!("the gate file does not load: {err}"),
    })?;
    // As the run did: its secret `env` values are known secrets, and reports render its text
    // redacted.
    crate::spec::register_gate_secrets(&gate);
    Ok(crate::spec::redacted_gate(&gate))
}

/// Recomputes the verdict, packets and checklist records from the check records with the
/// function the run used, and compares them with the ledger's. Returns the verdict and the
/// records as `finish` passed them to the reports.
fn recompute(
    check: &Checker,
    gate: &Gate,
    ledger: &Ledger,
) -> Result<(Verdict, Vec<CheckRecord>), Failure> {
    let fail = |message: String| check.fail(evidence::LEDGER_FILE, message);
    let recorded = ledger
        .verdict()
        .ok_or_else(|| fail("no verdict record".into()))?;
    let today = crate::model::clock::parse_date(&recorded.as_of).ok_or_else(|| {
        fail(format!(
            "the verdict's as_of {:?} is not a date",
            recorded.as_of
        ))
    })?;
    let checks: Vec<CheckRecord> = ledger
        .checks()
        .filter(|record| record.case_kind != CaseKind::Checklist)
        .cloned()
        .collect();
    let known: Vec<String> = gate.checks().map(|check| check.name()).collect();
    let mut seen = std::collections::BTreeSet::new();
    for record in &checks {
        if !known.contains(&record.name) || !seen.insert(record.name.as_str()) {
            return Err(fail(format!(
                "record {} is not a check of the gate file, or appears twice",
                record.name
            )));
        }
    }
    let mut decided = verdict::decide(gate, &checks, today, Stage::Final);
    // The reviews the run read, as the ledger keeps them, against the run's code.
    let reviews: Vec<crate::evidence::ReviewEntry> = ledger.reviews().cloned().collect();
    let code = ledger.header().and_then(|header| header.code.clone());
    verdict::review::apply(
        &mut decided,
        gate,
        (&reviews, code.as_deref()),
        &checks,
        today,
    );
    let verdict = crate::report::redacted_verdict(decided);
    let compare = |what: &str, ours: Value, theirs: Value| -> Result<(), Failure> {
        match first_difference(&theirs, &ours, what) {
            Some(difference) => Err(fail(format!(
                "the recorded {what} is not the one recomputed from the records and the gate file by verdict::decide: {difference}"
            ))),
            None => Ok(()),
        }
    };
    compare("verdict", to_value(&verdict.record), to_value(recorded))?;
    let packets: Vec<_> = ledger.packets().collect();
    compare("packets", to_value(&verdict.packets), to_value(&packets))?;
    let listed: Vec<&CheckRecord> = ledger
        .checks()
        .filter(|record| record.case_kind == CaseKind::Checklist)
        .collect();
    let now = listed.first().map_or("", |record| record.started.as_str());
    let checklist: Vec<CheckRecord> = crate::report::checklist_records(gate, &verdict, now)
        .iter()
        .map(crate::output::redaction::redacted)
        .collect();
    compare("checklist", to_value(&checklist), to_value(&listed))?;
    // The ledger's order is the gate's: checks first, then the checklist.
    let records: Vec<CheckRecord> = ledger.checks().cloned().collect();
    let expected_order: Vec<&str> = checks
        .iter()
        .chain(&checklist)
        .map(|record| record.name.as_str())
        .collect();
    let order: Vec<&str> = records.iter().map(|record| record.name.as_str()).collect();
    if order != expected_order {
        return Err(fail(
            "check records are not in the gate file's order".into(),
        ));
    }
    if !matches!(ledger.records.first(), Some(Record::Header(_))) {
        return Err(fail("the first record is not the run header".into()));
    }
    Ok((verdict, records))
}

/// Re-renders every report from the gate and the ledger and compares it with the file.
/// report.sarif is compared without its locations, which depend on the source tree beside the
/// gate file (lockfiles, the repository root) that the out directory does not hold.
fn reports(
    check: &Checker,
    gate: &Gate,
    ledger: &Ledger,
    verdict: &Verdict,
    records: &[CheckRecord],
) -> Result<usize, Failure> {
    let header = ledger.header().expect("checked before");
    let out_dir = check.out_dir;
    let texts = [
        (
            crate::report::junit::JUNIT_FILE,
            crate::report::junit::render(gate, header, records, verdict, out_dir),
        ),
        (
            crate::report::tracker::TRACKER_FILE,
            crate::report::tracker::render(gate, ledger),
        ),
        (
            crate::report::html::HTML_FILE,
            crate::report::html::render(gate, ledger, out_dir),
        ),
    ];
    for (name, expected) in &texts {
        let actual = check.read(name)?;
        // Compared as written: `write_report` redacts every report once more on its way out.
        let expected = crate::output::redaction::redact(expected);
        if actual != expected.as_bytes() {
            let actual = String::from_utf8_lossy(&actual);
            let line = actual
                .lines()
                .zip(expected.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()))
                + 1;
            return Err(check.fail(
                name,
                format!("differs from the report rendered from the ledger and the gate file, first at line {line}"),
            ));
        }
    }
    let name = crate::report::sarif::SARIF_FILE;
    let actual: Value = serde_json::from_slice(&check.read(name)?)
        .map_err(|err| check.fail(name, format!("not JSON: {err}")))?;
    // As `sarif::write` writes it: strings redacted, then the text once more.
    let mut expected = crate::report::sarif::render(gate, ledger);
    crate::output::redaction::redact_json(&mut expected);
    let text = serde_json::to_string_pretty(&expected).expect("a JSON value serializes");
    let expected: Value = serde_json::from_str(&crate::output::redaction::redact(&text))
        .map_err(|err| check.fail(name, format!("the re-rendered report is not JSON: {err}")))?;
    if let Some(difference) = first_difference(
        &without_locations(actual),
        &without_locations(expected),
        "sarif",
    ) {
        return Err(check.fail(
            name,
            format!(
                "differs from the report rendered from the ledger and the gate file: {difference}"
            ),
        ));
    }
    Ok(texts.len() + 1)
}

/// A SARIF document without what depends on the source tree: locations, URI bases and
/// fingerprints (which hash a location).
fn without_locations(value: Value) -> Value {
    const TREE_KEYS: [&str; 5] = [
        "locations",
        "relatedLocations",
        "originalUriBaseIds",
        "partialFingerprints",
        "artifacts",
    ];
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(key, _)| !TREE_KEYS.contains(&key.as_str()))
                .map(|(key, value)| (key, without_locations(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_locations).collect()),
        other => other,
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("records serialize")
}

/// The first place where `found` differs from `expected`, as `path: found X, expected Y`.
pub fn first_difference(found: &Value, expected: &Value, path: &str) -> Option<String> {
    let short = |value: &Value| {
        let text = value.to_string();
        if text.chars().count() > 120 {
            format!("{}…", text.chars().take(120).collect::<String>())
        } else {
            text
        }
    };
    match (found, expected) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys()) {
                let (x, y) = (
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                );
                if a.contains_key(key) != b.contains_key(key) {
                    return Some(format!(
                        "{path}.{key}: found {}, expected {}",
                        short(x),
                        short(y)
                    ));
                }
                if let Some(difference) = first_difference(x, y, &format!("{path}.{key}")) {
                    return Some(difference);
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(index, (x, y))| first_difference(x, y, &format!("{path}[{index}]"))),
        _ if found == expected => None,
        _ => Some(format!(
            "{path}: found {}, expected {}",
            short(found),
            short(expected)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_name_their_path() {
        let found = json!({ "result": "PASSED", "checks": [{ "outcome": "PASS" }] });
        let expected = json!({ "result": "PASSED", "checks": [{ "outcome": "FAIL" }] });
        assert_eq!(
            first_difference(&found, &expected, "predicate").unwrap(),
            "predicate.checks[0].outcome: found \"PASS\", expected \"FAIL\""
        );
        assert_eq!(first_difference(&found, &found, "p"), None);
        assert!(first_difference(&json!({ "a": 1 }), &json!({}), "p")
            .unwrap()
            .starts_with("p.a: found 1"));
    }

    /// A check that printed nothing has no log; its record must say so consistently, and no
    /// log may sit where it would be.
    #[test]
    fn a_record_without_a_log_must_mean_no_output_on_disk_too() {
        let dir = tempfile::tempdir().unwrap();
        let record = |changes: Value| -> CheckRecord {
            let mut value = json!({
                "packet": "P0", "check": "c0", "name": "P0::c0", "case_kind": "command",
                "argv": ["true"], "cwd": "/tmp", "started": "2026-12-04T17:41:17.706Z",
                "ended": "2026-12-04T17:41:17.717Z", "duration_ms": 10, "exit_code": 0,
                "signal": null, "timed_out": false, "log": null, "bytes": 0,
                "sha256": evidence::EMPTY_SHA256, "outcome": "pass", "severity": "P0",
                "message": "exit 0", "notes": [],
            });
            for (key, changed) in changes.as_object().unwrap() {
                value[key] = changed.clone();
            }
            serde_json::from_value(value).unwrap()
        };
        let quiet = record(json!({}));
        assert!(quiet.no_output());
        assert_eq!(evidence::verify_no_log(dir.path(), &quiet), Ok(()));
        // Did not run: no digest, no log.
        assert_eq!(
            evidence::verify_no_log(dir.path(), &record(json!({ "sha256": null }))),
            Ok(())
        );
        let claims_bytes = record(json!({ "bytes": 12 }));
        assert!(evidence::verify_no_log(dir.path(), &claims_bytes)
            .unwrap_err()
            .to_string()
            .contains("12 bytes of output but no log"));
        let claims_output = record(json!({ "sha256": "ab".repeat(32) }));
        assert!(evidence::verify_no_log(dir.path(), &claims_output)
            .unwrap_err()
            .to_string()
            .contains("but no log"));
        std::fs::create_dir_all(dir.path().join("logs/P0")).unwrap();
        std::fs::write(dir.path().join("logs/P0/c0.log"), "FAIL\n").unwrap();
        assert!(evidence::verify_no_log(dir.path(), &quiet)
            .unwrap_err()
            .to_string()
            .contains("logs/P0/c0.log exists"));
    }

    #[test]
    fn sarif_comparison_ignores_only_the_source_tree() {
        let a = json!({ "runs": [{ "results": [{ "level": "error", "locations": [1] }] }] });
        let b = json!({ "runs": [{ "results": [{ "level": "error", "locations": [2] }] }] });
        assert_eq!(without_locations(a.clone()), without_locations(b));
        let c = json!({ "runs": [{ "results": [{ "level": "note", "locations": [1] }] }] });
        assert_ne!(without_locations(a), without_locations(c));
    }
}
