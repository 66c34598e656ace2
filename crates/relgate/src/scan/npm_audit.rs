//! `npm audit --json`.
//!
//! npm 7–11 (`auditReportVersion: 2`): `vulnerabilities` maps each vulnerable package to its
//! `via` list. A `via` object is an advisory against that package and becomes one finding; a
//! `via` string names another vulnerable package through which this one is affected, and gives
//! no finding of its own: the package that causes it carries the advisory, so counting it again
//! for every dependent would multiply one advisory into many.
//!
//! id is the GHSA id at the end of the advisory's `url` (`https://github.com/advisories/GHSA-…`),
//! else `npm-<source>`; rule is the package name; location is `name@range` with the advisory's
//! range (the package's own `range` when the advisory has none); scanner severity is the
//! advisory's `severity`.
//!
//! npm 6 (`auditReportVersion: 1`, or no version with an `advisories` object): one finding per
//! advisory, id = `github_advisory_id`, else the GHSA in `url`, else `npm-<id>`, location
//! `module_name@vulnerable_versions`.
//!
//! Error objects are [`ScanError::Unavailable`]: `{"message":"405 Method Not Allowed …",
//! "statusCode":405,…}` when the audit endpoint refuses, `{"error":{"code":"ENOLOCK",…}}`
//! without a lockfile.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{check_top_level, fallback_fingerprint, malformed, Finding, Format, ScanError};
use crate::model::Severity;

const EXPECTED: &str = "an npm audit report: an object with `auditReportVersion` and \
                        `vulnerabilities` (npm 7+) or `advisories` (npm 6)";

pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<Finding>, ScanError> {
    check_top_level(Format::NpmAudit, bytes, true, EXPECTED)?;
    let report: Report = serde_json::from_slice(bytes)
        .map_err(|error| malformed(Format::NpmAudit, &error, EXPECTED))?;
    if let Some(vulnerabilities) = report.vulnerabilities {
        return Ok(from_v2(&vulnerabilities));
    }
    if let Some(advisories) = report.advisories {
        return Ok(from_v1(&advisories));
    }
    if let Some(message) = error_message(&report) {
        return Err(ScanError::Unavailable(format!("npm audit: {message}")));
    }
    Err(ScanError::Malformed(format!(
        "npm-audit report has neither `vulnerabilities` nor `advisories` (expected {EXPECTED})"
    )))
}

fn error_message(report: &Report) -> Option<String> {
    let status = report.status_code.as_ref().map(|status| match status {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    });
    let message = report.message.as_deref().filter(|text| !text.is_empty());
    let error = report.error.as_ref().and_then(|error| {
        let parts: Vec<&str> = [
            error.code.as_deref(),
            error.summary.as_deref(),
            error.detail.as_deref(),
        ]
        .into_iter()
        .flatten()
        .filter(|text| !text.is_empty())
        .collect();
        (!parts.is_empty()).then(|| parts.join(": "))
    });
    match (message, status, error) {
        (Some(message), Some(status), _) if !message.contains(&status) => {
            Some(format!("{message} (status {status})"))
        }
        (Some(message), _, _) => Some(message.to_owned()),
        (None, Some(status), error) => Some(match error {
            Some(error) => format!("status {status}: {error}"),
            None => format!("status {status}"),
        }),
        (None, None, error) => error,
    }
}

fn from_v2(vulnerabilities: &BTreeMap<String, Vulnerability>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (key, package) in vulnerabilities {
        let name = package.name.as_deref().unwrap_or(key);
        for via in &package.via {
            let serde_json::Value::Object(advisory) = via else {
                // A package name: vulnerable only through that package, which carries the finding.
                continue;
            };
            let text = |field: &str| advisory.get(field).and_then(serde_json::Value::as_str);
            let source = advisory.get("source").map(|source| match source {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            });
            let id = text("url")
                .and_then(ghsa_in_url)
                .or_else(|| source.map(|source| format!("npm-{source}")))
                .unwrap_or_else(|| format!("npm-{name}"));
            let severity_word = text("severity")
                .or(package.severity.as_deref())
                .unwrap_or("unknown");
            let range = text("range").or(package.range.as_deref()).unwrap_or("*");
            let location = format!("{name}@{range}");
            let title = text("title").unwrap_or(&id).to_owned();
            findings.push(Finding {
                fingerprint: fallback_fingerprint(Format::NpmAudit, &id, Some(&location)),
                severity: severity_of_word(severity_word),
                scanner_severity: severity_word.to_owned(),
                rule: name.to_owned(),
                id,
                title,
                location: Some(location),
            });
        }
    }
    findings
}

fn from_v1(advisories: &BTreeMap<String, AdvisoryV1>) -> Vec<Finding> {
    advisories
        .iter()
        .map(|(key, advisory)| {
            let id = advisory
                .github_advisory_id
                .clone()
                .or_else(|| advisory.url.as_deref().and_then(ghsa_in_url))
                .unwrap_or_else(|| match &advisory.id {
                    Some(id) => format!("npm-{id}"),
                    None => format!("npm-{key}"),
                });
            let name = advisory.module_name.as_deref().unwrap_or("unknown");
            let range = advisory.vulnerable_versions.as_deref().unwrap_or("*");
            let location = format!("{name}@{range}");
            let severity_word = advisory.severity.as_deref().unwrap_or("unknown");
            Finding {
                fingerprint: fallback_fingerprint(Format::NpmAudit, &id, Some(&location)),
                severity: severity_of_word(severity_word),
                scanner_severity: severity_word.to_owned(),
                rule: name.to_owned(),
                title: advisory.title.clone().unwrap_or_else(|| id.clone()),
                id,
                location: Some(location),
            }
        })
        .collect()
}

/// `GHSA-xxxx-xxxx-xxxx` when `url` is a GitHub advisory URL.
fn ghsa_in_url(url: &str) -> Option<String> {
    let last = url.trim_end_matches('/').rsplit('/').next()?;
    last.starts_with("GHSA-").then(|| last.to_owned())
}

fn severity_of_word(word: &str) -> Severity {
    match word.to_ascii_lowercase().as_str() {
        "critical" | "high" => Severity::P0,
        "moderate" => Severity::P1,
        // low, info, and words npm does not use.
        _ => Severity::P2,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    vulnerabilities: Option<BTreeMap<String, Vulnerability>>,
    advisories: Option<BTreeMap<String, AdvisoryV1>>,
    message: Option<String>,
    status_code: Option<serde_json::Value>,
    error: Option<ErrorObject>,
}

#[derive(Deserialize)]
struct ErrorObject {
    code: Option<String>,
    summary: Option<String>,
    detail: Option<String>,
}

#[derive(Deserialize)]
struct Vulnerability {
    name: Option<String>,
    severity: Option<String>,
    range: Option<String>,
    /// Advisory objects and names of packages (strings): two shapes in one array.
    #[serde(default)]
    via: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct AdvisoryV1 {
    id: Option<serde_json::Value>,
    title: Option<String>,
    module_name: Option<String>,
    severity: Option<String>,
    url: Option<String>,
    vulnerable_versions: Option<String>,
    github_advisory_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghsa_from_url() {
        assert_eq!(
            ghsa_in_url("https://github.com/advisories/GHSA-xvch-5gv4-984h").as_deref(),
            Some("GHSA-xvch-5gv4-984h")
        );
        assert_eq!(ghsa_in_url("https://npmjs.com/advisories/1179"), None);
    }

    #[test]
    fn severity_words() {
        for (word, severity) in [
            ("critical", Severity::P0),
            ("high", Severity::P0),
            ("moderate", Severity::P1),
            ("low", Severity::P2),
            ("info", Severity::P2),
        ] {
            assert_eq!(severity_of_word(word), severity, "{word}");
        }
    }

    #[test]
    fn error_with_code_only() {
        let error =
            parse(br#"{"error":{"code":"ENOAUDIT","summary":"","detail":""}}"#).unwrap_err();
        assert_eq!(error, ScanError::Unavailable("npm audit: ENOAUDIT".into()));
    }
}
