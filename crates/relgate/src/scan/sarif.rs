//! SARIF 2.1.0: every result of every run becomes a finding, except
//!
//! - results whose `kind` is `pass`, `notApplicable` or `informational`: they state that nothing
//!   is wrong. `review` and `open` results ("a human must look", "the tool could not decide") are
//!   kept, rated by their level only (SARIF's default level for them is `none`, so P2 unless the
//!   tool says otherwise): a gate must not drop an undecided result, and `security-severity`
//!   rates a rule's failures, which these are not;
//! - results with a suppression whose `status` is `accepted` or absent (SARIF: absent means
//!   accepted), e.g. gosec's `#nosec` or a CodeQL alert dismissed on the server. A result whose
//!   suppressions are all `underReview` or `rejected` is kept.
//!
//! id and rule are the result's `ruleId`, else `rule.id`, else the id of the rule that
//! `ruleIndex`/`rule.index` points at. The title is `message.text`, else the rule's
//! `messageStrings[message.id]`, else the rule's `shortDescription` (placeholders `{0}` are
//! filled from `message.arguments`). The location is `locations[0]`'s `artifactLocation.uri`
//! (verbatim; `uriBaseId` is ignored) and `:startLine` when there is a region.
//!
//! Fingerprint: a value of the result's `fingerprints` (complete fingerprints, e.g. semgrep's
//! `matchBasedId/v1`) is used verbatim, the first by key. Partial fingerprints are by
//! definition only part of one (CodeQL's `primaryLocationLineHash`, gitleaks' `commitSha`), so
//! they are hashed with the rule and the file (and the line, unless one of them is a line hash,
//! whose point is to survive lines moving); when there are none, or all are empty strings (gitleaks
//! `dir` mode), the fallback `sha256(format|id|location)` is used.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{
    check_top_level, fallback_fingerprint, malformed, severity_of_score, Finding, Format, ScanError,
};
use crate::model::Severity;

const EXPECTED: &str = "a SARIF 2.1.0 log: an object with `version` and `runs`";

pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<Finding>, ScanError> {
    check_top_level(Format::Sarif, bytes, true, EXPECTED)?;
    let log: Log = serde_json::from_slice(bytes)
        .map_err(|error| malformed(Format::Sarif, &error, EXPECTED))?;
    if log.version != "2.1.0" {
        return Err(ScanError::Malformed(format!(
            "sarif report has version `{}` (expected {EXPECTED})",
            log.version
        )));
    }
    let mut findings = Vec::new();
    for (run_index, run) in log.runs.iter().enumerate() {
        let rules = RuleIndex::new(&run.tool);
        for (result_index, result) in run.results.iter().flatten().enumerate() {
            if let Some(finding) = finding(result, &rules).map_err(|what| {
                ScanError::Malformed(format!(
                    "sarif report: runs[{run_index}].results[{result_index}] {what} (expected \
                     `ruleId`, `rule.id` or a `ruleIndex` into the tool's rules)"
                ))
            })? {
                findings.push(finding);
            }
        }
    }
    Ok(findings)
}

fn finding(result: &SarifResult, rules: &RuleIndex<'_>) -> Result<Option<Finding>, &'static str> {
    let kind = result.kind.as_deref().unwrap_or("fail");
    let is_failure = match kind {
        "fail" => true,
        "review" | "open" => false,
        // pass, notApplicable, informational: nothing is wrong.
        _ => return Ok(None),
    };
    if result
        .suppressions
        .iter()
        .flatten()
        .any(|suppression| matches!(suppression.status.as_deref(), None | Some("accepted")))
    {
        return Ok(None);
    }

    let rule = rules.find(result);
    let rule_id = result
        .rule_id
        .as_deref()
        .or_else(|| result.rule.as_ref().and_then(|rule| rule.id.as_deref()))
        .or(rule.map(|rule| rule.id.as_str()))
        .ok_or("has no rule id")?
        .to_owned();

    let security_severity = result
        .properties
        .as_ref()
        .and_then(Properties::security_severity)
        .or_else(|| rule.and_then(|rule| rule.properties.as_ref()?.security_severity()));
    let level = result
        .level
        .as_deref()
        .or_else(|| rule.and_then(|rule| rule.default_configuration.as_ref()?.level.as_deref()));
    let (severity, scanner_severity) = match (security_severity, is_failure) {
        (Some((score, text)), true) => (
            severity_of_score(score),
            format!("security-severity {text}"),
        ),
        _ => {
            let level = level.unwrap_or(if is_failure { "warning" } else { "none" });
            let severity = match level {
                "error" => Severity::P0,
                "note" | "none" => Severity::P2,
                // "warning" and anything a tool invents.
                _ => Severity::P1,
            };
            (severity, level.to_owned())
        }
    };

    let title = title(result, rule).unwrap_or_else(|| rule_id.clone());
    let physical = result
        .locations
        .first()
        .and_then(|location| location.physical_location.as_ref());
    let uri = physical
        .and_then(|physical| physical.artifact_location.as_ref())
        .and_then(|artifact| artifact.uri.as_deref());
    let line = physical
        .and_then(|physical| physical.region.as_ref())
        .and_then(|region| region.start_line);
    let location = uri.map(|uri| match line {
        Some(line) => format!("{uri}:{line}"),
        None => uri.to_owned(),
    });

    let fingerprint = fingerprint(result, &rule_id, uri, line, location.as_deref());
    Ok(Some(Finding {
        id: rule_id.clone(),
        rule: rule_id,
        severity,
        scanner_severity,
        title,
        location,
        fingerprint,
    }))
}

fn title(result: &SarifResult, rule: Option<&Rule>) -> Option<String> {
    let arguments = result.message.arguments.as_deref().unwrap_or(&[]);
    if let Some(text) = non_empty(result.message.text.as_deref()) {
        return Some(fill(text, arguments));
    }
    let rule = rule?;
    let from_strings = result.message.id.as_deref().and_then(|id| {
        rule.message_strings
            .as_ref()?
            .get(id)
            .and_then(|message| non_empty(message.text.as_deref()))
    });
    from_strings
        .or_else(|| non_empty(rule.short_description.as_ref()?.text.as_deref()))
        .map(|text| fill(text, arguments))
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|text| !text.trim().is_empty())
}

/// `{0}`, `{1}` … replaced by the arguments (SARIF §3.11.5) in one pass over the text (an
/// argument's own `{1}` stays as it is: repeated replacing let a 1 KB report grow to gigabytes);
/// anything else is left as it is. The title is the first line, at most [`TITLE_CHARS`].
fn fill(text: &str, arguments: &[String]) -> String {
    let mut out = String::new();
    let mut rest = text.lines().next().unwrap_or("");
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let argument = after.find('}').and_then(|close| {
            let digits = &after[..close];
            let canonical = !digits.is_empty()
                && digits.bytes().all(|byte| byte.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'));
            let index: usize = digits.parse().ok().filter(|_| canonical)?;
            Some((arguments.get(index)?, close))
        });
        match argument {
            Some((argument, close)) => {
                out.push_str(argument);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
        if out.len() > TITLE_CHARS * 4 {
            break;
        }
    }
    out.push_str(rest);
    // An argument may hold a line break: the title is still one line.
    let title = out.lines().next().unwrap_or("").trim();
    match title.char_indices().nth(TITLE_CHARS) {
        Some((cut, _)) => format!("{}…", &title[..cut]),
        None => title.to_owned(),
    }
}

/// The longest title a finding keeps.
const TITLE_CHARS: usize = 1_000;

fn fingerprint(
    result: &SarifResult,
    rule_id: &str,
    uri: Option<&str>,
    line: Option<u64>,
    location: Option<&str>,
) -> String {
    if let Some(value) = result
        .fingerprints
        .iter()
        .flatten()
        .map(|(_, value)| value)
        .find(|value| !value.is_empty())
    {
        return value.clone();
    }
    let partial: Vec<(&String, &String)> = result
        .partial_fingerprints
        .iter()
        .flatten()
        .filter(|(_, value)| !value.is_empty())
        .collect();
    if partial.is_empty() {
        return fallback_fingerprint(Format::Sarif, rule_id, location);
    }
    let has_line_hash = partial.iter().any(|(key, _)| key.contains("LineHash"));
    let mut hasher = Sha256::new();
    hasher.update(b"sarif|");
    hasher.update(rule_id.as_bytes());
    hasher.update(b"|");
    hasher.update(uri.unwrap_or("").as_bytes());
    if !has_line_hash {
        hasher.update(format!(":{}", line.unwrap_or(0)).as_bytes());
    }
    for (key, value) in partial {
        hasher.update(b"|");
        hasher.update(key.as_bytes());
        hasher.update(b"=");
        hasher.update(value.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The rules of one run, by component (driver = `None`, extension = `Some(index)`).
struct RuleIndex<'a> {
    tool: &'a Tool,
    by_id: HashMap<&'a str, &'a Rule>,
}

impl<'a> RuleIndex<'a> {
    fn new(tool: &'a Tool) -> RuleIndex<'a> {
        let mut by_id = HashMap::new();
        // Extensions first so that the driver's rule wins on a clash.
        for component in tool.extensions.iter().chain(std::iter::once(&tool.driver)) {
            for rule in &component.rules {
                by_id.insert(rule.id.as_str(), rule);
            }
        }
        RuleIndex { tool, by_id }
    }

    /// The rule of `result`: by index in the component `rule.toolComponent` names (the driver
    /// when it names none), else by id anywhere in the run.
    fn find(&self, result: &SarifResult) -> Option<&'a Rule> {
        let reference = result.rule.as_ref();
        let component = match reference.and_then(|rule| rule.tool_component.as_ref()) {
            Some(component) => self.component(component),
            None => Some(&self.tool.driver),
        };
        let index = result
            .rule_index
            .or_else(|| reference.and_then(|rule| rule.index));
        let by_index = component
            .zip(index)
            .and_then(|(component, index)| component.rules.get(usize::try_from(index).ok()?));
        let id = result
            .rule_id
            .as_deref()
            .or_else(|| reference.and_then(|rule| rule.id.as_deref()));
        match (by_index, id) {
            // A ruleId wins over an index that disagrees with it.
            (Some(rule), Some(id)) if rule.id != id => self.by_id.get(id).copied(),
            (Some(rule), _) => Some(rule),
            (None, Some(id)) => self.by_id.get(id).copied(),
            (None, None) => None,
        }
    }

    fn component(&self, reference: &ComponentReference) -> Option<&'a Component> {
        if let Some(index) = reference.index {
            return self.tool.extensions.get(usize::try_from(index).ok()?);
        }
        let name = reference.name.as_deref()?;
        if self.tool.driver.name == name {
            return Some(&self.tool.driver);
        }
        self.tool
            .extensions
            .iter()
            .find(|extension| extension.name == name)
    }
}

#[derive(Deserialize)]
struct Log {
    version: String,
    runs: Vec<Run>,
}

#[derive(Deserialize)]
struct Run {
    tool: Tool,
    /// Absent or null when the tool did not run its rules (SARIF §3.14.23).
    #[serde(default)]
    results: Option<Vec<SarifResult>>,
}

#[derive(Deserialize)]
struct Tool {
    driver: Component,
    #[serde(default)]
    extensions: Vec<Component>,
}

#[derive(Deserialize)]
struct Component {
    name: String,
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    short_description: Option<Text>,
    message_strings: Option<BTreeMap<String, Text>>,
    default_configuration: Option<Configuration>,
    properties: Option<Properties>,
}

#[derive(Deserialize)]
struct Text {
    text: Option<String>,
}

#[derive(Deserialize)]
struct Configuration {
    level: Option<String>,
}

#[derive(Deserialize)]
struct Properties {
    /// GitHub code scanning's score: a string such as `"8.8"` (some tools write a number).
    #[serde(rename = "security-severity")]
    security_severity: Option<serde_json::Value>,
}

impl Properties {
    /// The score and its text as the tool wrote it; a value that is no number is ignored.
    fn security_severity(&self) -> Option<(f64, String)> {
        match self.security_severity.as_ref()? {
            serde_json::Value::String(text) => {
                let score = text.trim().parse::<f64>().ok().filter(|s| s.is_finite())?;
                Some((score, text.trim().to_owned()))
            }
            serde_json::Value::Number(number) => Some((number.as_f64()?, number.to_string())),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: Option<String>,
    rule_index: Option<i64>,
    rule: Option<RuleReference>,
    kind: Option<String>,
    level: Option<String>,
    message: Message,
    #[serde(default)]
    locations: Vec<Location>,
    suppressions: Option<Vec<Suppression>>,
    fingerprints: Option<BTreeMap<String, String>>,
    partial_fingerprints: Option<BTreeMap<String, String>>,
    properties: Option<Properties>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleReference {
    id: Option<String>,
    index: Option<i64>,
    tool_component: Option<ComponentReference>,
}

#[derive(Deserialize)]
struct ComponentReference {
    name: Option<String>,
    index: Option<i64>,
}

#[derive(Deserialize)]
struct Message {
    text: Option<String>,
    id: Option<String>,
    arguments: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: Option<PhysicalLocation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: Option<ArtifactLocation>,
    region: Option<Region>,
}

#[derive(Deserialize)]
struct ArtifactLocation {
    uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: Option<u64>,
}

#[derive(Deserialize)]
struct Suppression {
    status: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(result: &str, rules: &str) -> Result<Vec<Finding>, ScanError> {
        let log = format!(
            r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"t","rules":[{rules}]}}}},"results":[{result}]}}]}}"#
        );
        parse(log.as_bytes())
    }

    #[test]
    fn level_defaults_to_warning() {
        let findings = one(r#"{"ruleId":"r","message":{"text":"m"}}"#, "").unwrap();
        assert_eq!(findings[0].severity, Severity::P1);
        assert_eq!(findings[0].scanner_severity, "warning");
    }

    #[test]
    fn rule_default_level_then_result_level() {
        let rules = r#"{"id":"r","defaultConfiguration":{"level":"error"}}"#;
        let findings = one(r#"{"ruleIndex":0,"message":{"text":"m"}}"#, rules).unwrap();
        assert_eq!(
            (findings[0].severity, findings[0].id.as_str()),
            (Severity::P0, "r")
        );
        let findings = one(
            r#"{"ruleId":"r","level":"note","message":{"text":"m"}}"#,
            rules,
        )
        .unwrap();
        assert_eq!(findings[0].severity, Severity::P2);
    }

    #[test]
    fn security_severity_wins_over_level() {
        let rules = r#"{"id":"r","properties":{"security-severity":"5.0"}}"#;
        let findings = one(
            r#"{"ruleId":"r","level":"error","message":{"text":"m"}}"#,
            rules,
        )
        .unwrap();
        assert_eq!(findings[0].severity, Severity::P1);
        assert_eq!(findings[0].scanner_severity, "security-severity 5.0");
        let result =
            r#"{"ruleId":"r","properties":{"security-severity":9.1},"message":{"text":"m"}}"#;
        assert_eq!(one(result, rules).unwrap()[0].severity, Severity::P0);
    }

    #[test]
    fn non_failures_and_suppressions() {
        for kind in ["pass", "notApplicable", "informational"] {
            let result = format!(r#"{{"ruleId":"r","kind":"{kind}","message":{{"text":"m"}}}}"#);
            assert!(one(&result, "").unwrap().is_empty(), "{kind}");
        }
        let rules = r#"{"id":"r","properties":{"security-severity":"9.8"}}"#;
        let review = r#"{"ruleId":"r","kind":"review","message":{"text":"m"}}"#;
        assert_eq!(one(review, rules).unwrap()[0].severity, Severity::P2);
        let accepted =
            r#"{"ruleId":"r","message":{"text":"m"},"suppressions":[{"kind":"inSource"}]}"#;
        assert!(one(accepted, "").unwrap().is_empty());
        let rejected = r#"{"ruleId":"r","message":{"text":"m"},"suppressions":[{"kind":"external","status":"rejected"}]}"#;
        assert_eq!(one(rejected, "").unwrap().len(), 1);
    }

    #[test]
    fn title_from_message_strings_with_arguments() {
        let rules = r#"{"id":"r","messageStrings":{"default":{"text":"bad {0} in {1}"}},"shortDescription":{"text":"short"}}"#;
        let result = r#"{"ruleId":"r","message":{"id":"default","arguments":["x","y"]}}"#;
        assert_eq!(one(result, rules).unwrap()[0].title, "bad x in y");
        let result = r#"{"ruleId":"r","message":{"id":"missing"}}"#;
        assert_eq!(one(result, rules).unwrap()[0].title, "short");
    }

    #[test]
    fn arguments_are_filled_once_and_titles_bounded() {
        let arguments = ["{1}".repeat(3), "y".into(), "a\nb".into()];
        assert_eq!(fill("{0}-{1}", &arguments), "{1}{1}{1}-y");
        assert_eq!(fill("{2} {01} {+1} {9} {x", &arguments), "a");
        assert_eq!(
            fill("{1} {01} {+1} {9} {x", &arguments),
            "y {01} {+1} {9} {x"
        );
        let long = fill(&"{0}".repeat(10_000), &["x".repeat(10_000)]);
        assert_eq!(long.chars().count(), TITLE_CHARS + 1);
    }

    #[test]
    fn result_without_rule_id_is_malformed() {
        let error = one(r#"{"message":{"text":"m"}}"#, "").unwrap_err();
        assert!(error.to_string().contains("runs[0].results[0]"), "{error}");
    }
}
