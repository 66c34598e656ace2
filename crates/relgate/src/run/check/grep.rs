//! grep checks: a regular expression over a glob set of files. The matching lines are the
//! evidence and go to the check's log as `path:line:text`.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSetBuilder};

use crate::spec::{GrepExpect, GrepSpec};

use super::skeleton;
use crate::evidence::{CaseKind, CheckRecord, Outcome};
use crate::model::clock;
use crate::spec::Check;
use std::time::Instant;

/// The result of a grep check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrepResult {
    /// Whether the expectation held.
    pub passed: bool,
    /// Files the globs selected.
    pub files: usize,
    /// Matching lines.
    pub matches: usize,
    /// One line for reports: `3 matching lines in 2 of 4 files`.
    pub message: String,
}

/// Runs a grep check, writing the matching lines to `log_path` (atomically; no lines, no file).
pub fn run(spec: &GrepSpec, log_path: &Path) -> std::io::Result<GrepResult> {
    let files = select_files(&spec.root, &spec.files)?;
    let part = crate::run::exec::part_path(log_path);
    let mut log = BufWriter::new(crate::run::exec::create_in_dir(&part)?);
    let mut matches = 0usize;
    let mut files_with_matches = 0usize;
    for file in &files {
        // A control character in a name is escaped: a newline would forge a line of the log.
        let relative = crate::output::one_line(
            &file
                .strip_prefix(&spec.root)
                .unwrap_or(file)
                .to_string_lossy(),
        );
        let reader = match std::fs::File::open(file) {
            Ok(handle) => std::io::BufReader::new(handle),
            Err(err) => {
                let line = format!("{relative}: cannot read: {err}");
                writeln!(log, "{}", crate::output::redaction::redact(&line))?;
                continue;
            }
        };
        let mut found_here = false;
        for (index, line) in reader.split(b'\n').enumerate() {
            let line = line?;
            let text = String::from_utf8_lossy(&line);
            if spec.pattern.is_match(&text) {
                matches += 1;
                found_here = true;
                // The file's name is text of the tree too: it goes through the redactor.
                let line = format!("{relative}:{}:{}", index + 1, text.trim_end_matches('\r'));
                writeln!(log, "{}", crate::output::redaction::redact(&line))?;
            }
        }
        files_with_matches += usize::from(found_here);
    }
    let globs = spec.files.join(", ");
    if files.is_empty() {
        writeln!(log, "no file matches {globs}")?;
    }
    log.flush()?;
    if log.get_ref().metadata()?.len() == 0 {
        drop(log);
        std::fs::remove_file(&part)?;
    } else {
        crate::output::atomic::sync_file(log.get_ref())?;
        drop(log);
        std::fs::rename(&part, log_path)?;
    }

    let pattern = spec.pattern.as_str();
    let (passed, message) = if files.is_empty() {
        (false, format!("no file matches {globs}"))
    } else {
        let found = format!(
            "{matches} matching line{} for /{pattern}/ in {files_with_matches} of {} file{}",
            if matches == 1 { "" } else { "s" },
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        );
        match spec.expect {
            GrepExpect::Match => (matches > 0, found),
            GrepExpect::NoMatch => (matches == 0, found),
        }
    };
    Ok(GrepResult {
        passed,
        files: files.len(),
        matches,
        message,
    })
}

/// Files under `root` matching any of `globs`, sorted. Walks only from each glob's literal
/// prefix directory, so `docs/*.md` never walks `target/`; `.git` is never entered.
pub fn select_files(root: &Path, globs: &[String]) -> std::io::Result<Vec<PathBuf>> {
    let mut builder = GlobSetBuilder::new();
    let mut starts: Vec<PathBuf> = Vec::new();
    for glob in globs {
        builder.add(Glob::new(glob).map_err(|err| std::io::Error::other(err.to_string()))?);
        let literal: PathBuf = Path::new(glob)
            .components()
            .take_while(|component| {
                let text = component.as_os_str().to_string_lossy();
                !text.contains(['*', '?', '[', '{'])
            })
            .collect();
        starts.push(root.join(literal));
    }
    let set = builder
        .build()
        .map_err(|err| std::io::Error::other(err.to_string()))?;
    let mut found = Vec::new();
    let mut pending = starts;
    while let Some(path) = pending.pop() {
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if metadata.is_file() {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            if set.is_match(relative) {
                found.push(path);
            }
            continue;
        }
        if path.file_name().is_some_and(|name| name == ".git") {
            continue;
        }
        for entry in std::fs::read_dir(&path)? {
            pending.push(entry?.path());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// Runs a grep check into its record.
pub(crate) fn run_check(check: &Check, spec: &GrepSpec, log_path: &Path) -> CheckRecord {
    let started = clock::now();
    let clock_start = Instant::now();
    let mut record = skeleton(check, "", Outcome::Error);
    record.case_kind = CaseKind::Grep;
    record.cwd = spec.root.display().to_string();
    let result = run(spec, log_path);
    record.started = clock::format_timestamp(started);
    record.ended = clock::format_timestamp(clock::now());
    record.duration_ms = clock_start.elapsed().as_millis() as u64;
    match result {
        Ok(result) => {
            record.outcome = if result.passed {
                Outcome::Pass
            } else {
                Outcome::Fail
            };
            record.message = result.message;
            match crate::model::digest::sha256_file(log_path) {
                Ok((sha256, bytes)) => {
                    record.sha256 = Some(sha256);
                    record.bytes = bytes;
                }
                // No matching line and nothing else to say: no log file.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    record.sha256 = Some(crate::model::digest::EMPTY_SHA256.to_string());
                }
                Err(_) => {}
            }
        }
        Err(err) => record.message = format!("grep could not run: {err}"),
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn spec(root: &Path, pattern: &str, files: &[&str], expect: GrepExpect) -> GrepSpec {
        GrepSpec {
            pattern: Regex::new(pattern).unwrap(),
            files: files.iter().map(|glob| glob.to_string()).collect(),
            expect,
            root: root.to_path_buf(),
        }
    }

    #[test]
    fn matching_lines_are_the_evidence() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("docs")).unwrap();
        std::fs::write(
            dir.path().join("docs/ops-runbook.md"),
            "# Runbook\nrollback: revert\nnothing\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("docs/other.md"), "rollback elsewhere\n").unwrap();
        let log = dir.path().join("out/x.log");
        let result = run(
            &spec(
                dir.path(),
                "rollback|kill-switch",
                &["docs/*runbook*.md"],
                GrepExpect::Match,
            ),
            &log,
        )
        .unwrap();
        assert!(result.passed, "{result:?}");
        assert_eq!((result.files, result.matches), (1, 1));
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "docs/ops-runbook.md:2:rollback: revert\n"
        );
    }

    #[test]
    fn no_match_expectation_fails_on_a_match() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.rs"), "let key = \"AKIA0000\";\n").unwrap();
        let log = dir.path().join("x.log");
        let result = run(
            &spec(dir.path(), "AKIA[0-9]+", &["**/*.rs"], GrepExpect::NoMatch),
            &log,
        )
        .unwrap();
        assert!(!result.passed);
        assert!(
            result.message.starts_with("1 matching line"),
            "{}",
            result.message
        );
    }

    #[test]
    fn an_empty_file_set_is_a_failure_not_a_vacuous_pass() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        for expect in [GrepExpect::Match, GrepExpect::NoMatch] {
            let result = run(&spec(dir.path(), "x", &["docs/*.md"], expect), &log).unwrap();
            assert!(!result.passed);
            assert_eq!(result.message, "no file matches docs/*.md");
        }
    }

    #[test]
    fn binary_content_is_searched_lossily() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("blob.bin"), b"\xff\xfe secret=1 \x00\n").unwrap();
        let log = dir.path().join("x.log");
        let result = run(
            &spec(dir.path(), "secret=", &["*.bin"], GrepExpect::Match),
            &log,
        )
        .unwrap();
        assert!(result.passed);
    }
}
