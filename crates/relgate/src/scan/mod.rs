//! Scanner reports → [`Finding`]s with a release severity. Pure: bytes in, findings out, no I/O.
//!
//! [`parse`] reads one report in one [`Format`], maps every finding to a default
//! [`Severity`](crate::model::Severity) by the table below, then applies the user's
//! [`Overrides`]. [`redact_report`] prepares a report for storage without the raw secrets some
//! scanners put in it.
//!
//! # Default severity mapping
//!
//! | format | scanner says | default |
//! |---|---|---|
//! | `sarif` | `properties.security-severity` ≥ 7.0 (high, critical) | P0 |
//! | `sarif` | `properties.security-severity` 4.0–6.9 (medium) | P1 |
//! | `sarif` | `properties.security-severity` < 4.0 (low) | P2 |
//! | `sarif` | no security-severity: level `error` | P0 |
//! | `sarif` | no security-severity: level `warning` (also the default when no level is given) | P1 |
//! | `sarif` | no security-severity: level `note` or `none` | P2 |
//! | `npm-audit` | `critical`, `high` | P0 |
//! | `npm-audit` | `moderate` | P1 |
//! | `npm-audit` | `low`, `info` (and any unknown word) | P2 |
//! | `cargo-audit` | vulnerability, CVSS v3 base score ≥ 7.0 | P0 |
//! | `cargo-audit` | vulnerability, CVSS v3 base score 4.0–6.9 | P1 |
//! | `cargo-audit` | vulnerability, CVSS v3 base score < 4.0 | P2 |
//! | `cargo-audit` | vulnerability without `cvss` (unknown severity must be triaged) | P1 |
//! | `cargo-audit` | vulnerability with a CVSS 4.0 vector (not scored, see below) | P1, or P0 when its v3 approximation is ≥ 7.0 |
//! | `cargo-audit` | warning `unsound` | P1 |
//! | `cargo-audit` | warning `unmaintained`, `yanked`, `notice` and any other kind | P2 |
//! | `gitleaks` | every leak | P0 |
//!
//! SARIF details: `security-severity` is read from the result's `properties`, else from its
//! rule's (the rule is found in `tool.driver.rules` or, when the result's `rule.toolComponent`
//! points there, in `tool.extensions[].rules`, by `ruleIndex`/`rule.index` or by id). The level is
//! the result's `level`, else the rule's `defaultConfiguration.level`, else `warning` as the SARIF
//! spec says.
//!
//! CVSS: cargo-audit prints the advisory's vector, never a score, so the v3.0/v3.1 base score is
//! computed here (the `cvss` module). RustSec also publishes CVSS 4.0 vectors, whose score needs
//! the FIRST lookup tables; they are approximated by reading the same metrics as a v3.1 vector
//! (`AT`/`UI:A|P` → `UI:R`, subsequent-system impact → `S:C`), and the result is only allowed to
//! raise the default above P1, never to lower it.
//!
//! # Overrides
//!
//! [`Overrides`] keys are compared case-insensitively with the finding's `id`, then its `rule`,
//! then its `scanner_severity`; the first of the three that has a key decides.
//!
//! # Errors
//!
//! A report that is not JSON, or not the shape of its format, is [`ScanError::Malformed`] with the
//! line and column serde_json reports. A scanner that wrote an error object instead of a report
//! (npm's `{"message":"405 …","statusCode":…}` or `{"error":{"code":"ENOLOCK",…}}`) is
//! [`ScanError::Unavailable`]. Parsing never panics.

mod cargo_audit;
mod cvss;
mod gitleaks;
pub mod lockfile;
mod npm_audit;
mod sarif;

use sha2::{Digest, Sha256};

use crate::model::Severity;

/// One finding of a scanner, with its release severity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// Advisory id (`RUSTSEC-…`, `GHSA-…`, the scanner's primary id), SARIF `ruleId`, gitleaks
    /// `RuleID`.
    pub id: String,
    /// The rule or advisory kind: SARIF `ruleId`, npm package name, cargo-audit
    /// `vulnerability`/`unmaintained`/`unsound`/`yanked`/…, gitleaks `RuleID`.
    pub rule: String,
    /// P0/P1/P2 after the defaults (module docs) and the [`Overrides`].
    pub severity: Severity,
    /// What the scanner said: `error`, `high`, `cvss 7.5`, `unmaintained`…
    pub scanner_severity: String,
    /// One line for humans.
    pub title: String,
    /// `path:line` (SARIF, gitleaks) or `package@version` (audits).
    pub location: Option<String>,
    /// The scanner's own stable fingerprint when it has one, else the sha256 hex of
    /// `format|id|location`.
    pub fingerprint: String,
}

// The gate file's scanner settings; spec owns them, judging here reads them.
pub use crate::spec::{Format, Overrides};

impl Overrides {
    /// The override for `finding`: by id, else by rule, else by scanner severity.
    pub fn lookup(&self, finding: &Finding) -> Option<Severity> {
        [&finding.id, &finding.rule, &finding.scanner_severity]
            .into_iter()
            .find_map(|candidate| self.get(candidate))
    }
}

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The scanner wrote an error object instead of a report.
    #[error("scanner wrote an error instead of a report: {0}")]
    Unavailable(String),
    /// Not JSON, or not the shape of the format; says where and what was expected.
    #[error("malformed report: {0}")]
    Malformed(String),
}

/// The findings of one report, severities mapped by the defaults then `overrides`.
pub fn parse(
    format: Format,
    bytes: &[u8],
    overrides: &Overrides,
) -> Result<Vec<Finding>, ScanError> {
    let mut findings = match format {
        Format::Sarif => sarif::parse(bytes)?,
        Format::NpmAudit => npm_audit::parse(bytes)?,
        Format::CargoAudit => cargo_audit::parse(bytes)?,
        Format::Gitleaks => gitleaks::parse(bytes)?,
    };
    if !overrides.0.is_empty() {
        for finding in &mut findings {
            if let Some(severity) = overrides.lookup(finding) {
                finding.severity = severity;
            }
        }
    }
    Ok(findings)
}

/// Replacement text for removed secrets.
pub const REDACTED: &str = "[REDACTED]";

/// `bytes` ready for storage: the values of keys named `Secret` or `Match` (any case; gitleaks)
/// and every string inside a `snippet` (SARIF `region.snippet` / `contextRegion.snippet`, where
/// secret scanners put the raw secret) become `"[REDACTED]"`, re-serialized as pretty JSON. The
/// same walk runs for every format. A report that does not parse as JSON is returned unchanged:
/// callers must not store such a report without their own redaction.
pub fn redact_report(format: Format, bytes: &[u8]) -> Vec<u8> {
    // Every format gets the same walk; the parameter keeps format-specific rules possible.
    let _ = format;
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return bytes.to_vec();
    };
    redact_value(&mut value);
    match serde_json::to_vec_pretty(&value) {
        Ok(mut out) => {
            out.push(b'\n');
            out
        }
        Err(_) => bytes.to_vec(),
    }
}

fn redact_value(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key.eq_ignore_ascii_case("secret") || key.eq_ignore_ascii_case("match") {
                    if child.is_string() {
                        *child = serde_json::Value::String(REDACTED.to_owned());
                    } else {
                        redact_strings(child);
                    }
                } else if key == "snippet" {
                    redact_strings(child);
                } else {
                    redact_value(child);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_value),
        _ => {}
    }
}

/// Every string leaf of `value` becomes [`REDACTED`].
fn redact_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => *text = REDACTED.to_owned(),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_strings),
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_strings),
        _ => {}
    }
}

/// The severity band of a 0–10 score (CVSS, SARIF security-severity): ≥ 7.0 → P0, ≥ 4.0 → P1,
/// else P2.
pub(crate) fn severity_of_score(score: f64) -> Severity {
    if score >= 7.0 {
        Severity::P0
    } else if score >= 4.0 {
        Severity::P1
    } else {
        Severity::P2
    }
}

/// The fallback fingerprint: sha256 hex of `format|id|location`.
pub(crate) fn fallback_fingerprint(format: Format, id: &str, location: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format.name().as_bytes());
    hasher.update(b"|");
    hasher.update(id.as_bytes());
    hasher.update(b"|");
    hasher.update(location.unwrap_or("").as_bytes());
    hex::encode(hasher.finalize())
}

/// A serde_json error as a [`ScanError::Malformed`] that names the format, the position and
/// what the format expects.
pub(crate) fn malformed(format: Format, error: &serde_json::Error, expected: &str) -> ScanError {
    let what = match error.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Data => "not the expected shape",
    };
    ScanError::Malformed(format!(
        "{} report is {what}: {error} (expected {expected})",
        format.name()
    ))
}

/// [`ScanError::Malformed`] when the report's top level is a JSON array where the format wants
/// an object or the reverse. serde would otherwise read an array as a struct's fields by position
/// and report a confusing type error deep inside.
pub(crate) fn check_top_level(
    format: Format,
    bytes: &[u8],
    wants_object: bool,
    expected: &str,
) -> Result<(), ScanError> {
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    let found = match (first, wants_object) {
        (Some(b'['), true) => "an array",
        (Some(b'{'), false) => "an object",
        _ => return Ok(()),
    };
    Err(ScanError::Malformed(format!(
        "{} report is not the expected shape: its top level is {found} (expected {expected})",
        format.name()
    )))
}

/// Whether an acceptance names this finding (by id, rule or fingerprint).
pub fn names_finding(acceptance: &crate::spec::Acceptance, finding: &Finding) -> bool {
    match &acceptance.target {
        crate::spec::AcceptTarget::Finding(key) => {
            key.eq_ignore_ascii_case(&finding.id)
                || key.eq_ignore_ascii_case(&finding.rule)
                || *key == finding.fingerprint
        }
        crate::spec::AcceptTarget::Check(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn format_names_round_trip() {
        for format in Format::ALL {
            assert_eq!(Format::from_name(format.name()), Some(format));
        }
        assert_eq!(Format::from_name("SARIF"), None);
        assert_eq!(Format::Sarif.extension(), "sarif");
        assert_eq!(Format::Gitleaks.extension(), "json");
    }

    #[test]
    fn score_bands() {
        assert_eq!(severity_of_score(10.0), Severity::P0);
        assert_eq!(severity_of_score(7.0), Severity::P0);
        assert_eq!(severity_of_score(6.9), Severity::P1);
        assert_eq!(severity_of_score(4.0), Severity::P1);
        assert_eq!(severity_of_score(3.9), Severity::P2);
        assert_eq!(severity_of_score(0.0), Severity::P2);
    }

    #[test]
    fn overrides_prefer_id_then_rule_then_scanner_severity() {
        let finding = Finding {
            id: "RUSTSEC-2021-0003".into(),
            rule: "vulnerability".into(),
            severity: Severity::P0,
            scanner_severity: "cvss 9.8".into(),
            title: String::new(),
            location: None,
            fingerprint: String::new(),
        };
        let overrides = Overrides(BTreeMap::from([
            ("CVSS 9.8".to_owned(), Severity::P1),
            ("Vulnerability".to_owned(), Severity::P2),
        ]));
        assert_eq!(overrides.lookup(&finding), Some(Severity::P2));
        let overrides = Overrides(BTreeMap::from([
            ("rustsec-2021-0003".to_owned(), Severity::P1),
            ("vulnerability".to_owned(), Severity::P2),
        ]));
        assert_eq!(overrides.lookup(&finding), Some(Severity::P1));
        assert_eq!(Overrides::none().lookup(&finding), None);
    }

    #[test]
    fn redact_replaces_secret_match_and_snippets() {
        let report = br#"[{"RuleID":"r","Secret":"s3cr3t-value","Match":"key = s3cr3t-value","nested":{"snippet":{"text":"s3cr3t-value","rendered":{"text":"s3cr3t-value"}}}}]"#;
        let out = redact_report(Format::Gitleaks, report);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("s3cr3t"), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value[0]["RuleID"], "r");
        assert_eq!(value[0]["Secret"], REDACTED);
        assert_eq!(value[0]["nested"]["snippet"]["rendered"]["text"], REDACTED);
        assert_eq!(redact_report(Format::Sarif, b"not json"), b"not json");
    }
}
