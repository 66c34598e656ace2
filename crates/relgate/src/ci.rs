//! CI integration: GitHub Actions workflow commands and the job summary.
//!
//! When `GITHUB_ACTIONS=true`, a finished run prints one `::error` per blocking failure or
//! finding, one `::warning` per accepted condition, expired or unused acceptance, and the verdict
//! as an `::error`, `::warning` or `::notice`, each pointing at the gate file line of the check
//! (or the finding's own `path:line`). When `GITHUB_STEP_SUMMARY` names a file, the tracker's
//! summary (board and verdict) is appended to it. Messages come from the ledger, which holds
//! redacted text only.

use std::io::Write;
use std::path::Path;

use crate::evidence::{CaseKind, Decision, Ledger};
use crate::spec::Gate;

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

/// The annotations of a finished run. `gate_file` is the gate file's path as the repository
/// knows it (e.g. `packets.toml`). Pure.
pub fn annotations(gate: &Gate, ledger: &Ledger, gate_file: &str) -> Vec<Annotation> {
    let mut found = Vec::new();
    let Some(verdict) = ledger.verdict() else {
        return found;
    };
    let at_check = |name: &str| {
        let line = gate
            .checks()
            .find(|check| check.name() == name)
            .map(|check| check.line);
        Some((gate_file.to_string(), line))
    };
    let risk_of = |name: &str| {
        verdict
            .residual_risks
            .iter()
            .find(|risk| risk.check == name)
    };
    for record in ledger.checks() {
        if record.case_kind == CaseKind::Checklist || !record.outcome.is_failure() {
            continue;
        }
        // A scan's findings are annotated one by one below.
        if record.case_kind == CaseKind::Scan && !record.findings.is_empty() {
            continue;
        }
        let (level, state) = match risk_of(&record.name) {
            Some(risk) => (Level::Warning, format!(" ({})", risk.state)),
            None => (Level::Error, String::new()),
        };
        let log = record
            .log
            .as_deref()
            .map(|log| format!(" — log {log}"))
            .unwrap_or_default();
        let failing_cases: Vec<&str> = record
            .cases
            .iter()
            .filter(|case| case.outcome != crate::evidence::CaseOutcome::Pass)
            .map(|case| case.name.as_str())
            .collect();
        let cases = if failing_cases.is_empty() {
            String::new()
        } else {
            format!(" — failing cases: {}", failing_cases.join(", "))
        };
        found.push(Annotation {
            level,
            file: at_check(&record.name),
            title: format!(
                "{} {} {}{state}",
                record.name,
                record.severity.as_str(),
                record.outcome.label()
            ),
            message: format!("{}{cases}{log}", record.message),
        });
    }
    for finding in &verdict.findings {
        let level = match finding.state.as_str() {
            "blocking" => Level::Error,
            "accepted" => Level::Warning,
            _ => Level::Notice,
        };
        let file = finding
            .location
            .as_deref()
            .and_then(path_and_line)
            .or_else(|| at_check(&finding.check));
        let acceptance = finding
            .acceptance
            .as_deref()
            .map(|acceptance| format!(" — {acceptance}"))
            .unwrap_or_default();
        found.push(Annotation {
            level,
            file,
            title: format!(
                "{} {} {} ({})",
                finding.check,
                finding.id,
                finding.severity.as_str(),
                finding.state
            ),
            message: format!("{}{acceptance}", finding.title),
        });
    }
    let acceptance_notes = verdict
        .expired_acceptances
        .iter()
        .map(|note| (note, format!("expired on {} and was ignored", note.until)))
        .chain(verdict.unused_acceptances.iter().map(|note| {
            (
                note,
                "matched no failure: remove it or fix its target".to_string(),
            )
        }));
    for (note, what) in acceptance_notes {
        found.push(Annotation {
            level: Level::Warning,
            file: Some((gate_file.to_string(), Some(note.line))),
            title: format!("acceptance of {}", note.target),
            message: format!(
                "the acceptance of {} (owner {}) {what}",
                note.target, note.owner
            ),
        });
    }
    let level = match verdict.decision {
        Decision::Go => Level::Notice,
        Decision::GoWithConditions => Level::Warning,
        Decision::NoGo => Level::Error,
    };
    let mut message = format!("{}: {}", gate.name, verdict.decision.label());
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

/// `path:line` → (path, line) when it looks like a file location, not `package@version`.
fn path_and_line(location: &str) -> Option<(String, Option<usize>)> {
    let (path, line) = match location.rsplit_once(':') {
        Some((path, line)) if line.parse::<usize>().is_ok() => (path, line.parse().ok()),
        _ => (location, None),
    };
    (!path.is_empty() && !path.contains('@') && !path.contains(' '))
        .then(|| (path.to_string(), line.filter(|line| *line > 0)))
}

/// Under GitHub Actions (`GITHUB_ACTIONS=true`): prints the annotations to `out` and appends the
/// tracker's summary to `$GITHUB_STEP_SUMMARY` when set. Does nothing elsewhere. `env` reads an
/// environment variable (tests pass their own).
pub fn announce(
    gate: &Gate,
    ledger: &Ledger,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if env("GITHUB_ACTIONS").as_deref() != Some("true") {
        return Ok(());
    }
    let gate_file = repository_path(&gate.source, env("GITHUB_WORKSPACE").as_deref());
    for annotation in annotations(gate, ledger, &gate_file) {
        writeln!(out, "{}", annotation.to_workflow_command())?;
    }
    if let Some(summary) = env("GITHUB_STEP_SUMMARY").filter(|path| !path.is_empty()) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)?;
        let mut text = crate::tracker::summary(gate, ledger);
        text.push('\n');
        file.write_all(text.as_bytes())?;
    }
    Ok(())
}

/// The gate file's path relative to the workspace (`GITHUB_WORKSPACE`, else the current
/// directory), as annotations want it; the path as given when it lies elsewhere.
fn repository_path(source: &Path, workspace: Option<&str>) -> String {
    let base = workspace
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_dir().ok());
    let absolute = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    base.and_then(|base| {
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        absolute
            .strip_prefix(&base)
            .ok()
            .map(|relative| relative.display().to_string())
    })
    .unwrap_or_else(|| source.display().to_string())
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

    #[test]
    fn finding_locations_that_are_files() {
        assert_eq!(
            path_and_line("src/main.rs:7"),
            Some(("src/main.rs".into(), Some(7)))
        );
        assert_eq!(
            path_and_line("Cargo.lock"),
            Some(("Cargo.lock".into(), None))
        );
        assert_eq!(path_and_line("rsa@0.9.8"), None);
        assert_eq!(path_and_line(""), None);
    }
}
