//! CI integration: GitHub Actions workflow commands and the job summary.
//!
//! When `GITHUB_ACTIONS=true`, a finished run prints one workflow command per result of its
//! SARIF document — `::error` for a blocking failure or finding, `::warning` for an accepted one,
//! a flaky check and an expired acceptance, `::notice` for a tracked one and an unused acceptance — at the
//! same repository-relative file and line as report.sarif (the check's `[[packet.check]]` line,
//! a finding's `path:line`, a lockfile entry), and the verdict as an `::error`, `::warning` or
//! `::notice`. When `GITHUB_STEP_SUMMARY` names a file, the tracker's summary (board and
//! verdict) is appended to it. Messages come from the ledger, which holds redacted text only.

use std::io::Write;

use serde_json::Value;

use super::view::ReportView;
use crate::evidence::Decision;

/// The level of a workflow command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `::error`
    Error,
    /// `::warning`
    Warning,
    /// `::notice`
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// One annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Its level.
    pub level: Level,
    /// File (relative to the repository root) and 1-based line, when known.
    pub file: Option<(String, Option<usize>)>,
    /// Short title.
    pub title: String,
    /// The message.
    pub message: String,
}

impl Annotation {
    /// The workflow command line, escaped as GitHub requires (`%`, CR and LF in the message;
    /// also `:` and `,` in properties).
    pub fn to_workflow_command(&self) -> String {
        let mut properties = Vec::new();
        if let Some((file, line)) = &self.file {
            properties.push(format!("file={}", escape_property(file)));
            if let Some(line) = line {
                properties.push(format!("line={line}"));
            }
        }
        properties.push(format!("title={}", escape_property(&self.title)));
        format!(
            "::{} {}::{}",
            self.level.command(),
            properties.join(","),
            escape_data(&self.message)
        )
    }
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The annotations of a finished run (the view of its ledger), one per result of its SARIF document (`sarif`, as
/// [`super::sarif`] renders it, whose locations are already relative to the repository
/// root), plus the verdict. A blocking result is an `::error`, an accepted one a `::warning`, a
/// tracked one a `::notice`, a flaky one a `::warning`; acceptance notes keep their SARIF level. Pure.
pub fn annotations(view: &ReportView<'_>, sarif: &Value) -> Vec<Annotation> {
    let mut found = Vec::new();
    let Some(verdict) = view.verdict() else {
        return found;
    };
    let results = sarif["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for result in &results {
        let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
        let properties = &result["properties"];
        let state = properties["state"].as_str();
        let level = match (state, result["level"].as_str()) {
            (Some("blocking"), _) => Level::Error,
            // A flaky check is a condition of the release, as an accepted failure is.
            (Some("accepted" | "flaky"), _) => Level::Warning,
            (Some(_), _) | (None, Some("note")) => Level::Notice,
            (None, Some("error")) => Level::Error,
            (None, _) => Level::Warning,
        };
        let physical = &result["locations"][0]["physicalLocation"];
        let file = physical["artifactLocation"]["uri"].as_str().map(|uri| {
            (
                uri.to_string(),
                physical["region"]["startLine"]
                    .as_u64()
                    .map(|line| line as usize),
            )
        });
        let title = match (properties["severity"].as_str(), state) {
            (Some(severity), Some(state)) => {
                format!("{} {severity} ({state})", text(&result["ruleId"]))
            }
            _ => text(&result["ruleId"]),
        };
        found.push(Annotation {
            level,
            file,
            title,
            message: text(&result["message"]["text"]),
        });
    }
    let level = match verdict.decision {
        Decision::Go => Level::Notice,
        Decision::GoWithConditions => Level::Warning,
        Decision::NoGo => Level::Error,
    };
    let mut message = format!("{}: {}", view.gate.name, verdict.decision.label());
    for reason in &verdict.reasons {
        message.push_str(&format!("\n- {reason}"));
    }
    found.push(Annotation {
        level,
        file: None,
        title: format!("relgate verdict {}", verdict.decision.label()),
        message,
    });
    found
}

/// Under GitHub Actions (`GITHUB_ACTIONS=true`): prints the annotations of `sarif` (the run's
/// report.sarif document) to `out` and appends the tracker's summary to `$GITHUB_STEP_SUMMARY`
/// when set. Does nothing elsewhere. `env` reads an environment variable (tests pass their own).
pub fn announce(
    view: &ReportView<'_>,
    sarif: &Value,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if env("GITHUB_ACTIONS").as_deref() != Some("true") {
        return Ok(());
    }
    for mut annotation in annotations(view, sarif) {
        // Redacted before encoding: `%0A` would hide a line structure (a key block) from the
        // redactor of the terminal.
        annotation.title = crate::output::redaction::redact(&annotation.title).into_owned();
        annotation.message = crate::output::redaction::redact(&annotation.message).into_owned();
        writeln!(out, "{}", annotation.to_workflow_command())?;
    }
    if let Some(summary) = env("GITHUB_STEP_SUMMARY").filter(|path| !path.is_empty()) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)?;
        let mut text =
            crate::output::redaction::redact(&super::tracker::summary_view(view)).into_owned();
        text.push('\n');
        file.write_all(text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_are_escaped() {
        let annotation = Annotation {
            level: Level::Error,
            file: Some(("gates/packets.toml".into(), Some(12))),
            title: "SEC-01::a,b: FAIL".into(),
            message: "50% done\r\nsecond line".into(),
        };
        assert_eq!(
            annotation.to_workflow_command(),
            "::error file=gates/packets.toml,line=12,title=SEC-01%3A%3Aa%2Cb%3A FAIL::50%25 done%0D%0Asecond line"
        );
    }
}
