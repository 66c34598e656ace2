//! `cargo audit --json`.
//!
//! `vulnerabilities.list[]` gives one finding each: id = the advisory id (`RUSTSEC-…`), rule =
//! `vulnerability`, title = the advisory title, location `name@version`, severity from the CVSS
//! vector (module docs of `scan`), scanner severity `cvss 9.8`, `cvss4 ~9.3` (approximated) or
//! `no cvss`.
//!
//! `warnings.<kind>[]` (unmaintained, unsound, yanked, notice, …) gives one finding each: rule and
//! scanner severity = the warning's `kind`; id = the advisory id, or `<kind>:<name>@<version>`
//! when there is no advisory (yanked crates); title = the advisory title, or `<name> <version>
//! is <kind>`.
//!
//! cargo-audit reports its own failures (no lockfile, advisory database unreadable) as text on
//! stderr, not as JSON: a report that starts with `error` is [`ScanError::Unavailable`] with its
//! first line; anything else that is not JSON is [`ScanError::Malformed`].

use std::collections::BTreeMap;

use serde::Deserialize;

use super::cvss::{self, Score};
use super::{
    check_top_level, fallback_fingerprint, malformed, severity_of_score, Finding, Format, ScanError,
};
use crate::model::Severity;

const EXPECTED: &str = "a cargo-audit report: an object with `vulnerabilities.list` and `warnings`";

pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<Finding>, ScanError> {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim_start();
    if trimmed
        .get(..5)
        .is_some_and(|start| start.eq_ignore_ascii_case("error"))
    {
        let first_line = trimmed.lines().next().unwrap_or(trimmed);
        return Err(ScanError::Unavailable(format!("cargo audit: {first_line}")));
    }
    check_top_level(Format::CargoAudit, bytes, true, EXPECTED)?;
    let report: Report = serde_json::from_slice(bytes)
        .map_err(|error| malformed(Format::CargoAudit, &error, EXPECTED))?;

    let mut findings = Vec::new();
    for (index, vulnerability) in report.vulnerabilities.list.iter().enumerate() {
        let advisory = &vulnerability.advisory;
        let (severity, scanner_severity) = match advisory.cvss.as_deref() {
            None | Some("") => (Severity::P1, "no cvss".to_owned()),
            Some(vector) => match cvss::score(vector) {
                Ok(Score::V3(score)) => (severity_of_score(score), format!("cvss {score:.1}")),
                Ok(Score::V4Approx(score)) => (
                    severity_of_score(score).min(Severity::P1),
                    format!("cvss4 ~{score:.1}"),
                ),
                Err(why) => {
                    return Err(ScanError::Malformed(format!(
                        "cargo-audit report: vulnerabilities.list[{index}] ({}): {why}",
                        advisory.id
                    )))
                }
            },
        };
        let location = vulnerability.package.location();
        findings.push(Finding {
            fingerprint: fallback_fingerprint(Format::CargoAudit, &advisory.id, Some(&location)),
            id: advisory.id.clone(),
            rule: "vulnerability".to_owned(),
            severity,
            scanner_severity,
            title: advisory.title.clone(),
            location: Some(location),
        });
    }

    for (kind, warnings) in &report.warnings {
        for warning in warnings {
            let kind = warning.kind.as_deref().unwrap_or(kind);
            let location = warning.package.location();
            let (id, title) = match &warning.advisory {
                Some(advisory) => (advisory.id.clone(), advisory.title.clone()),
                None => (
                    format!("{kind}:{location}"),
                    format!(
                        "{} {} is {kind}",
                        warning.package.name, warning.package.version
                    ),
                ),
            };
            let severity = match kind {
                "unsound" => Severity::P1,
                // unmaintained, yanked, notice and kinds added later are informational.
                _ => Severity::P2,
            };
            findings.push(Finding {
                fingerprint: fallback_fingerprint(Format::CargoAudit, &id, Some(&location)),
                id,
                rule: kind.to_owned(),
                severity,
                scanner_severity: kind.to_owned(),
                title,
                location: Some(location),
            });
        }
    }
    Ok(findings)
}

#[derive(Deserialize)]
struct Report {
    vulnerabilities: Vulnerabilities,
    #[serde(default)]
    warnings: BTreeMap<String, Vec<Warning>>,
}

#[derive(Deserialize)]
struct Vulnerabilities {
    list: Vec<Vulnerability>,
}

#[derive(Deserialize)]
struct Vulnerability {
    advisory: Advisory,
    package: Package,
}

#[derive(Deserialize)]
struct Advisory {
    id: String,
    title: String,
    /// The vector string (`CVSS:3.1/AV:N/…`); null when the advisory has none.
    cvss: Option<String>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
}

impl Package {
    fn location(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

#[derive(Deserialize)]
struct Warning {
    kind: Option<String>,
    package: Package,
    advisory: Option<Advisory>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vulnerability(cvss: &str) -> Finding {
        let report = format!(
            r#"{{"vulnerabilities":{{"found":true,"count":1,"list":[{{"advisory":{{"id":"RUSTSEC-0000-0001","title":"t","cvss":{cvss}}},"package":{{"name":"p","version":"1.0.0"}}}}]}},"warnings":{{}}}}"#
        );
        parse(report.as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn cvss_bands() {
        let critical = vulnerability(r#""CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H""#);
        assert_eq!(
            (critical.severity, critical.scanner_severity.as_str()),
            (Severity::P0, "cvss 9.8")
        );
        let medium = vulnerability(r#""CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N""#);
        assert_eq!(
            (medium.severity, medium.scanner_severity.as_str()),
            (Severity::P1, "cvss 5.9")
        );
        let low = vulnerability(r#""CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N""#);
        assert_eq!(low.severity, Severity::P2);
        let unknown = vulnerability("null");
        assert_eq!(
            (unknown.severity, unknown.scanner_severity.as_str()),
            (Severity::P1, "no cvss")
        );
    }

    #[test]
    fn cvss4_never_below_p1() {
        let critical =
            vulnerability(r#""CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N""#);
        assert_eq!(critical.severity, Severity::P0);
        assert_eq!(critical.scanner_severity, "cvss4 ~9.8");
        let low =
            vulnerability(r#""CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N""#);
        assert_eq!(low.severity, Severity::P1);
    }

    #[test]
    fn text_errors_are_unavailable() {
        let error =
            parse(b"error: couldn't open Cargo.lock: No such file or directory\n").unwrap_err();
        assert_eq!(
            error,
            ScanError::Unavailable(
                "cargo audit: error: couldn't open Cargo.lock: No such file or directory".into()
            )
        );
    }
}
