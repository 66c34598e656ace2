//! `report.sarif` as its consumers read it: the OASIS SARIF 2.1.0 schema (Python's `jsonschema`,
//! run as a child process) and what GitHub code scanning demands beyond the schema.
//!
//! Shared by `crates/relgate/tests/it/sarif_golden.rs` and `tests/e2e/scans.rs` (through
//! `#[path]`). The schema comes from `$RELGATE_SCHEMAS` (default `../shared/schemas` beside the
//! workspace); where it or `jsonschema` is missing the schema check prints `skipped: <why>`, and
//! with `RELGATE_REQUIRE_TOOLS` set (as `.ci/run` does) that is a failure instead.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The schema's file name inside the schema directory.
pub const SCHEMA_FILE: &str = "sarif-schema-2.1.0.json";

/// Validates `document` with `jsonschema.Draft7Validator` and prints each error with its path.
const VALIDATE: &str = r#"
import json, sys
from jsonschema import Draft7Validator, FormatChecker
with open(sys.argv[1], encoding="utf-8") as handle:
    schema = json.load(handle)
document = json.load(sys.stdin)
validator = Draft7Validator(schema, format_checker=FormatChecker())
errors = sorted(validator.iter_errors(document), key=lambda error: [str(part) for part in error.absolute_path])
for error in errors[:50]:
    path = "/".join(str(part) for part in error.absolute_path) or "(root)"
    print(f"{path}: {error.message}")
sys.exit(1 if errors else 0)
"#;

/// The workspace root: the outermost ancestor of this crate with a `[workspace]` Cargo.toml.
pub fn workspace() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .filter(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|text| text.lines().any(|line| line.trim() == "[workspace]"))
        })
        .last()
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

/// Where the shared schemas are: `$RELGATE_SCHEMAS`, relative paths from the workspace root.
pub fn schemas_dir() -> PathBuf {
    let dir = std::env::var_os("RELGATE_SCHEMAS")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from("../shared/schemas"), PathBuf::from);
    workspace().join(dir)
}

/// Says why a consumer check cannot run. Under `RELGATE_REQUIRE_TOOLS=1` (set by `.ci/run`)
/// that is a failure, so CI cannot go green by skipping.
pub fn skip(why: &str) {
    relgate_pg::testing::skip(why);
}

/// Asserts what GitHub code scanning needs (always) and validity against the SARIF 2.1.0 schema
/// (unless the schema or `jsonschema` is missing and tools are not required).
#[track_caller]
pub fn assert_valid(what: &str, document: &Value) {
    let problems = code_scanning_problems(document);
    assert!(
        problems.is_empty(),
        "{what} is not what code scanning accepts:\n  {}\n{}",
        problems.join("\n  "),
        serde_json::to_string_pretty(document).unwrap()
    );
    if let Some(errors) = schema_errors(document) {
        assert!(
            errors.is_empty(),
            "{what} does not validate against {}:\n{errors}\n{}",
            schemas_dir().join(SCHEMA_FILE).display(),
            serde_json::to_string_pretty(document).unwrap()
        );
    }
}

/// The schema validator's errors (empty when valid); `None` when validation was skipped.
pub fn schema_errors(document: &Value) -> Option<String> {
    let schema = schemas_dir().join(SCHEMA_FILE);
    if !schema.is_file() {
        skip(&format!(
            "SARIF schema validation: no schema at {} (set RELGATE_SCHEMAS)",
            schema.display()
        ));
        return None;
    }
    let available = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        skip("SARIF schema validation: python3 with jsonschema is not available (`cargo xtask gate setup --tool python-consumers`)");
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", VALIDATE])
        .arg(&schema)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(document.to_string().as_bytes())
        .expect("the document is written to the validator");
    let output = child.wait_with_output().expect("the validator finishes");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    match output.status.code() {
        Some(0) => Some(String::new()),
        Some(1) if !stdout.is_empty() => Some(stdout),
        _ => panic!(
            "the schema validator failed: {}\n{stdout}{stderr}",
            output.status
        ),
    }
}

/// What code scanning demands beyond the schema, one line per problem: `$schema` and version,
/// rules with an id, a name, the four texts, a level and (for security rules) a numeric
/// security-severity; results naming a known rule, with a message, a relative artifact URI, a
/// start line ≥ 1 and a partial fingerprint; no empty string anywhere.
pub fn code_scanning_problems(document: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    empty_strings(document, "", &mut problems);
    if document["$schema"].as_str().is_none() {
        problems.push("no $schema".to_string());
    }
    if document["version"] != "2.1.0" {
        problems.push(format!("version is {}", document["version"]));
    }
    let Some(runs) = document["runs"].as_array().filter(|runs| !runs.is_empty()) else {
        problems.push("no runs".to_string());
        return problems;
    };
    for (run_index, run) in runs.iter().enumerate() {
        let at = format!("runs[{run_index}]");
        if run["tool"]["driver"]["name"].as_str().is_none() {
            problems.push(format!("{at}: no tool.driver.name"));
        }
        let rules = run["tool"]["driver"]["rules"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut ids: Vec<&str> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let at = format!("{at}.tool.driver.rules[{index}]");
            let id = rule["id"].as_str().unwrap_or_default();
            if id.is_empty() {
                problems.push(format!("{at}: no id"));
            }
            if ids.contains(&id) {
                problems.push(format!("{at}: duplicate id {id}"));
            }
            ids.push(id);
            for pointer in [
                "/name",
                "/shortDescription/text",
                "/fullDescription/text",
                "/help/text",
            ] {
                if rule
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    problems.push(format!("{at} ({id}): no {pointer}"));
                }
            }
            let level = rule.pointer("/defaultConfiguration/level");
            if !matches!(
                level.and_then(Value::as_str),
                Some("error" | "warning" | "note")
            ) {
                problems.push(format!(
                    "{at} ({id}): defaultConfiguration.level is {level:?}"
                ));
            }
            let tags = rule.pointer("/properties/tags").and_then(Value::as_array);
            if tags.is_none_or(|tags| tags.is_empty()) {
                problems.push(format!("{at} ({id}): no properties.tags"));
            }
            let security = tags.is_some_and(|tags| tags.iter().any(|tag| tag == "security"));
            let score = rule
                .pointer("/properties/security-severity")
                .and_then(Value::as_str)
                .and_then(|score| score.parse::<f64>().ok());
            if security && !score.is_some_and(|score| (0.0..=10.0).contains(&score)) {
                problems.push(format!(
                    "{at} ({id}): a security rule without a numeric security-severity"
                ));
            }
        }
        let results = run["results"].as_array().cloned().unwrap_or_default();
        for (index, result) in results.iter().enumerate() {
            let at = format!("{at}.results[{index}]");
            let rule_id = result["ruleId"].as_str().unwrap_or_default();
            match result["ruleIndex"].as_u64() {
                Some(rule_index) if ids.get(rule_index as usize) == Some(&rule_id) => {}
                _ => problems.push(format!(
                    "{at}: ruleId {rule_id} / ruleIndex {} name no rule",
                    result["ruleIndex"]
                )),
            }
            if result
                .pointer("/message/text")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                problems.push(format!("{at} ({rule_id}): no message.text"));
            }
            let physical = result.pointer("/locations/0/physicalLocation");
            let uri = physical
                .and_then(|physical| physical.pointer("/artifactLocation/uri"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if uri.is_empty() || uri.starts_with('/') || uri.contains("://") {
                problems.push(format!(
                    "{at} ({rule_id}): artifactLocation.uri {uri:?} is not a relative path"
                ));
            }
            let line = physical
                .and_then(|physical| physical.pointer("/region/startLine"))
                .and_then(Value::as_u64);
            if line.is_none_or(|line| line < 1) {
                problems.push(format!("{at} ({rule_id}): region.startLine is {line:?}"));
            }
            if result["partialFingerprints"]
                .as_object()
                .is_none_or(|fingerprints| fingerprints.is_empty())
            {
                problems.push(format!("{at} ({rule_id}): no partialFingerprints"));
            }
        }
    }
    problems
}

fn empty_strings(value: &Value, path: &str, problems: &mut Vec<String>) {
    match value {
        Value::String(text) if text.trim().is_empty() => problems.push(format!(
            "{}: empty string",
            if path.is_empty() { "(root)" } else { path }
        )),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                empty_strings(item, &format!("{path}[{index}]"), problems);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key.is_empty() {
                    problems.push(format!("{path}: empty key"));
                }
                empty_strings(item, &format!("{path}/{key}"), problems);
            }
        }
        _ => {}
    }
}
