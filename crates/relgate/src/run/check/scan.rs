//! Running a `scan = {…}` check: what the gate makes of the report a scanner wrote. The
//! parsers are in [`crate::scan`]; this module stores the report (raw secrets removed), hashes
//! it and turns it into the check's outcome.

use std::path::{Path, PathBuf};

use super::{skeleton, Ctx};
use crate::evidence::{CaseKind, CheckRecord, Outcome};
use crate::run::exec;
use crate::scan::{self, Finding, ScanError};
use crate::spec::{self, Check, ScanSpec, Severity};

/// Environment variable naming a local copy of the RustSec advisory database.
pub const ENV_ADVISORY_DB: &str = "RELGATE_ADVISORY_DB";

/// Why `{advisory_db}` has no database to point at.
#[derive(Debug, thiserror::Error)]
pub enum AdvisoryDbError {
    /// The variable is not set.
    #[error(
        "`{{advisory_db}}` needs {ENV_ADVISORY_DB}: the path of a local copy of the RustSec \
         advisory database (a directory holding crates/<name>/RUSTSEC-*.md, such as a clone \
         of https://github.com/rustsec/advisory-db); it is not downloaded by the gate"
    )]
    Unset,
    /// It names a directory without `crates/`.
    #[error("{ENV_ADVISORY_DB}={} is not an advisory database: it has no crates/ directory", .0.display())]
    NotADatabase(PathBuf),
}

/// The advisory database directory for `{advisory_db}`, or why there is none.
pub fn advisory_db() -> Result<PathBuf, AdvisoryDbError> {
    let Some(path) = std::env::var_os(ENV_ADVISORY_DB).filter(|path| !path.is_empty()) else {
        return Err(AdvisoryDbError::Unset);
    };
    let path = PathBuf::from(path);
    if !path.join("crates").is_dir() {
        return Err(AdvisoryDbError::NotADatabase(path));
    }
    Ok(std::path::absolute(&path).unwrap_or(path))
}

/// Copies the advisory database `from` into `to` (replacing it): cargo-audit takes a lock
/// file inside its database directory, so each scan gets a private copy and the user's copy is
/// never written to.
pub fn private_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let target = to.join(entry.file_name());
            if kind.is_dir() {
                copy(&entry.path(), &target)?;
            } else if kind.is_file() {
                std::fs::copy(entry.path(), &target)?;
                // Copies of read-only files stay writable for the scanner and for clean-up.
                let mut permissions = std::fs::metadata(&target)?.permissions();
                #[allow(clippy::permissions_set_readonly_false)]
                permissions.set_readonly(false);
                std::fs::set_permissions(&target, permissions)?;
            }
        }
        Ok(())
    }
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    copy(from, to)
}

/// `text` quoted for `sh -c`.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// What the report says about the check.
#[derive(Debug)]
pub struct Judged {
    /// Pass when the report has no findings; Fail otherwise or without a usable report.
    pub outcome: Outcome,
    /// One line.
    pub message: String,
    /// Its findings.
    pub findings: Vec<Finding>,
    /// The stored report, relative to the out directory.
    pub report: Option<String>,
    /// Its sha256.
    pub report_sha256: Option<String>,
}

/// Judges a scan from its command's record and the report at `raw_path`. `None` when the
/// command's own failure stands (it could not start, timed out or was killed).
pub fn judge(
    scan: &ScanSpec,
    command: &CheckRecord,
    raw_path: &Path,
    report_path: &Path,
    relative: &str,
) -> Option<Judged> {
    if command.outcome == Outcome::Error || command.timed_out || command.signal.is_some() {
        return None;
    }
    let exit = match command.exit_code {
        Some(code) => format!("exit {code}"),
        None => "no exit code".to_string(),
    };
    let format = scan.format.name();
    let fail = |message: String| Judged {
        outcome: Outcome::Fail,
        message,
        findings: Vec::new(),
        report: None,
        report_sha256: None,
    };
    let bytes = match std::fs::read(raw_path) {
        Ok(bytes) => bytes,
        Err(_) => {
            return Some(fail(format!(
                "no report: the scanner wrote nothing to {relative} ({exit}); an exit code alone is not evidence"
            )))
        }
    };
    // Raw secrets out (gitleaks' Secret/Match, SARIF snippets), then the built-in rules over
    // every line, which also covers a report that is not JSON.
    let mut stored = Vec::with_capacity(bytes.len());
    let mut lines = crate::output::redaction::LineRedactor::new();
    let mut sink = |chunk: &[u8]| {
        stored.extend_from_slice(chunk);
        Ok(())
    };
    let _ = lines.push(&scan::redact_report(scan.format, &bytes), &mut sink);
    let _ = lines.finish(&mut sink);
    let (report, report_sha256) = match crate::output::redaction::write_report(report_path, &stored)
    {
        Ok(()) => (
            Some(relative.to_string()),
            Some(crate::model::digest::sha256_hex(&stored)),
        ),
        Err(err) => return Some(fail(format!("cannot store the report {relative}: {err}"))),
    };
    let mut judged = match scan::parse(scan.format, &bytes, &scan.overrides) {
        Err(ScanError::Unavailable(why)) => fail(format!(
            "scanner unavailable: {} ({exit}); no findings can be claimed without a report",
            crate::output::redaction::redact(&why)
        )),
        Err(ScanError::Malformed(why)) => fail(format!(
            "unparseable {format} report {relative}: {} ({exit})",
            crate::output::redaction::redact(&why)
        )),
        Ok(mut findings) => {
            for finding in &mut findings {
                finding.title = crate::output::redaction::redact(&finding.title).into_owned();
                if let Some(location) = &mut finding.location {
                    *location = crate::output::redaction::redact(location).into_owned();
                }
            }
            Judged {
                outcome: if findings.is_empty() {
                    Outcome::Pass
                } else {
                    Outcome::Fail
                },
                message: summary(&findings, format, &exit),
                findings,
                report: None,
                report_sha256: None,
            }
        }
    };
    judged.report = report;
    judged.report_sha256 = report_sha256;
    Some(judged)
}

/// `3 findings in the cargo-audit report (1 P0, 2 P1; exit 1)` or `no findings …`.
pub fn summary(findings: &[Finding], format: &str, exit: &str) -> String {
    if findings.is_empty() {
        return format!("no findings in the {format} report ({exit})");
    }
    let count = |severity: Severity| findings.iter().filter(|f| f.severity == severity).count();
    let parts: Vec<String> = [Severity::P0, Severity::P1, Severity::P2]
        .into_iter()
        .filter(|severity| count(*severity) > 0)
        .map(|severity| format!("{} {}", count(severity), severity.as_str()))
        .collect();
    format!(
        "{} finding{} in the {format} report ({}; {exit})",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// One line per finding: `P1 RUSTSEC-2023-0071 rsa@0.9.8: Marvin Attack…`.
pub fn finding_line(finding: &Finding) -> String {
    let mut line = format!("{} {}", finding.severity.as_str(), finding.id);
    if let Some(location) = &finding.location {
        line.push_str(&format!(" {location}"));
    }
    if !finding.title.is_empty() {
        line.push_str(&format!(": {}", finding.title));
    }
    line
}

/// Runs the scanner with `{report}` pointing into the out directory (attempt `attempt`'s own
/// path, see [`CheckRecord::attempt_path`]), then judges the
/// report it wrote: no report, or one that does not parse, is a failure whatever the exit
/// code; a parsed report passes when it has no findings.
pub(crate) fn run_check(
    check: &Check,
    scan: &ScanSpec,
    log_path: &Path,
    attempt: usize,
    ctx: &Ctx<'_>,
) -> CheckRecord {
    let extension = scan.format.extension();
    // Each attempt stores its own report: a retry never overwrites an earlier attempt's.
    let relative = CheckRecord::attempt_path(
        &format!("reports/{}/{}.{extension}", check.packet, check.id),
        attempt,
    );
    // The scanner runs in the check's directory: give it absolute paths.
    let out_dir = std::path::absolute(ctx.out_dir).unwrap_or_else(|_| ctx.out_dir.to_path_buf());
    let report_path = out_dir.join(&relative);
    let raw_path = exec::unique_sibling(&report_path, &format!("raw.{extension}"));
    let mut command = scan.command.clone();
    let failed = |message: String| {
        let mut record = skeleton(check, &message, Outcome::Error);
        record.argv = Vec::new();
        record
    };
    if let Some(parent) = report_path.parent() {
        if let Err(err) = std::fs::create_dir_all(parent) {
            return failed(format!("cannot create {}: {err}", parent.display()));
        }
    }
    let _ = std::fs::remove_file(&raw_path);
    let _ = std::fs::remove_file(&report_path);
    let advisory_db = if command
        .argv
        .iter()
        .any(|arg| arg.contains(spec::ADVISORY_DB_PLACEHOLDER))
    {
        let copy = out_dir
            .join("advisory-db")
            .join(format!("{}-{}", check.packet, check.id));
        match advisory_db() {
            Ok(path) => match private_copy(&path, &copy) {
                Ok(()) => Some(copy),
                Err(err) => {
                    return failed(format!(
                        "cannot copy the advisory database {} to {}: {err}",
                        path.display(),
                        copy.display()
                    ))
                }
            },
            Err(why) => return failed(why.to_string()),
        }
    } else {
        None
    };
    let shell = command.argv.len() == 3 && command.argv[0] == "sh" && command.argv[1] == "-c";
    let place = |path: &Path| {
        let text = path.display().to_string();
        if shell {
            shell_quote(&text)
        } else {
            text
        }
    };
    for arg in &mut command.argv {
        *arg = arg.replace(spec::REPORT_PLACEHOLDER, &place(&raw_path));
        if let Some(db) = &advisory_db {
            *arg = arg.replace(spec::ADVISORY_DB_PLACEHOLDER, &place(db));
        }
    }
    let (mut record, containment) = super::command::run_command(check, &command, log_path, ctx);
    record.case_kind = CaseKind::Scan;
    let judged = judge(scan, &record, &raw_path, &report_path, &relative);
    let _ = std::fs::remove_file(&raw_path);
    if let Some(copy) = &advisory_db {
        let _ = std::fs::remove_dir_all(copy);
        // The parent goes too once the last scan using it is done.
        if let Some(parent) = copy.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
    if let Some(judged) = judged {
        record.outcome = judged.outcome;
        record.message = judged.message;
        record.findings = judged.findings;
        record.report = judged.report;
        record.report_sha256 = judged.report_sha256;
    }
    record.fail_containment(containment);
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_keeps_plain_paths_and_quotes_the_rest() {
        assert_eq!(
            shell_quote("/tmp/out/reports/a.json"),
            "/tmp/out/reports/a.json"
        );
        assert_eq!(shell_quote("/tmp/my dir/a.json"), "'/tmp/my dir/a.json'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
