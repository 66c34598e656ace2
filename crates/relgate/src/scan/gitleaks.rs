//! gitleaks v8 JSON report (`--report-format json`): an array of leaks, each one finding at P0.
//!
//! id and rule = `RuleID`, title = `Description`, location `File:StartLine`, fingerprint = the
//! leak's `Fingerprint` (`file:rule-id:line`, or `commit:file:rule-id:line` in git mode), else the
//! fallback. `Secret` and `Match` hold the raw secret: they are not even deserialized here, so
//! nothing of them can reach a finding.

use serde::Deserialize;

use super::{check_top_level, fallback_fingerprint, malformed, Finding, Format, ScanError};
use crate::model::Severity;

const EXPECTED: &str =
    "a gitleaks v8 JSON report: an array of leaks with `RuleID`, `File`, `StartLine`";

pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<Finding>, ScanError> {
    check_top_level(Format::Gitleaks, bytes, false, EXPECTED)?;
    let leaks: Vec<Leak> = serde_json::from_slice(bytes)
        .map_err(|error| malformed(Format::Gitleaks, &error, EXPECTED))?;
    Ok(leaks.into_iter().map(finding).collect())
}

fn finding(leak: Leak) -> Finding {
    let location = match leak.start_line {
        Some(line) => format!("{}:{line}", leak.file),
        None => leak.file.clone(),
    };
    let fingerprint = match leak.fingerprint {
        Some(fingerprint) if !fingerprint.is_empty() => fingerprint,
        _ => fallback_fingerprint(Format::Gitleaks, &leak.rule_id, Some(&location)),
    };
    let title = match leak.description {
        Some(description) if !description.is_empty() => description,
        _ => leak.rule_id.clone(),
    };
    Finding {
        id: leak.rule_id.clone(),
        rule: leak.rule_id,
        severity: Severity::P0,
        scanner_severity: "leak".to_owned(),
        title,
        location: Some(location),
        fingerprint,
    }
}

/// The fields of a leak that may leave this module; `Secret` and `Match` are deliberately absent.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Leak {
    #[serde(rename = "RuleID")]
    rule_id: String,
    description: Option<String>,
    file: String,
    start_line: Option<u64>,
    fingerprint: Option<String>,
}
