//! A check of a packet: `run`, `grep`, `scan` or `probe`, with its timeouts, services and
//! the names it gives test cases (none of which may look like a secret).

use crate::model::Severity;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use toml::Spanned;

use super::destructive::destructive_git_command;
use super::error::{SpecError, SpecErrorKind};
use super::model::*;
use super::raw::*;
use super::secret_names::kind_cases;
use super::validate::Context;

/// The most `retries` a check may have: a check that needs more is broken, not flaky.
pub const MAX_RETRIES: u32 = 10;

impl Context<'_> {
    pub(super) fn check(
        &self,
        raw_check: &Spanned<RawCheck>,
        packet: &str,
        id: String,
        root: &Path,
        (default_timeout, default_leak_timeout, default_severity, default_retries): (
            Duration,
            Duration,
            Severity,
            u32,
        ),
        services: &[Service],
    ) -> Result<Check, SpecError> {
        let raw = raw_check.get_ref();
        let timeout = match &raw.timeout {
            Some(timeout) => self.timeout(timeout, "packet.check.timeout")?,
            None => default_timeout,
        };
        let leak_timeout = match &raw.leak_timeout {
            Some(timeout) => self.timeout(timeout, "packet.check.leak_timeout")?,
            None => default_leak_timeout,
        };
        let retries = match &raw.retries {
            Some(retries) => self.retries(retries, "packet.check.retries")?,
            None => default_retries,
        };
        let cwd = match &raw.cwd {
            Some(cwd) => root.join(cwd),
            None => root.to_path_buf(),
        };
        let kind = if let Some(probe) = &raw.probe {
            CheckKind::Probe(self.probe(raw, probe, &format!("{packet}::{id}"), &cwd)?)
        } else {
            self.refuse_probe_keys(raw)?;
            self.run_or_grep(raw, packet, &id, cwd)?
        };
        let needs = self.check_services(raw, &kind, &format!("{packet}::{id}"), services)?;
        for name in std::iter::once(format!("{packet}::{id}")).chain(
            kind_cases(&kind)
                .iter()
                .map(|case| format!("{packet}::{id}::{case}")),
        ) {
            self.refuse_secret_name(raw.id.span(), "packet.check.id", &name)?;
        }
        let (line, _) = self.locator.line_column(raw_check.span().start);
        Ok(Check {
            packet: packet.to_string(),
            id,
            severity: raw.severity.unwrap_or(default_severity),
            timeout,
            leak_timeout,
            kind,
            services: needs,
            tools: Vec::new(),
            line,
            retries,
        })
    }

    /// `retries = N`: a whole number from 0 to [`MAX_RETRIES`].
    pub(super) fn retries(
        &self,
        value: &Spanned<toml::Value>,
        key: &str,
    ) -> Result<u32, SpecError> {
        match value.get_ref() {
            toml::Value::Integer(n) if (0..=i64::from(MAX_RETRIES)).contains(n) => Ok(*n as u32),
            other => {
                let shown = match other {
                    toml::Value::String(text) => format!("\"{}\"", super::error::shorten(text)),
                    toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                        other.to_string()
                    }
                    _ => other.type_str().to_string(),
                };
                let mut error = self.error(
                    value.span(),
                    key,
                    SpecErrorKind::InvalidValue,
                    format!("retries must be a whole number from 0 to {MAX_RETRIES}, not {shown}"),
                );
                error.hint = Some(
                    "a retried check that passes is flaky (a condition of the release), never a clean pass; fix a check that needs more"
                        .to_string(),
                );
                Err(error)
            }
        }
    }

    pub(super) fn run_or_grep(
        &self,
        raw: &RawCheck,
        packet: &str,
        id: &str,
        cwd: PathBuf,
    ) -> Result<CheckKind, SpecError> {
        if let Some(scan) = &raw.scan {
            for (key, span) in [
                ("run", raw.run.as_ref().map(|run| run.span())),
                ("grep", raw.grep.as_ref().map(|grep| grep.span())),
            ] {
                if let Some(span) = span {
                    return Err(self.error(
                        span,
                        &format!("packet.check.{key}"),
                        SpecErrorKind::InvalidValue,
                        format!("check {packet}::{id} has both `scan` and `{key}`; give each its own check"),
                    ));
                }
            }
            return Ok(CheckKind::Scan(self.scan(raw, scan, cwd)?));
        }
        Ok(match (&raw.run, &raw.grep) {
            (Some(run), None) => CheckKind::Command(self.command(raw, run, cwd)?),
            (None, Some(grep)) => {
                if let Some(expect) = &raw.expect {
                    return Err(self.error(
                        expect.exit.span(),
                        "packet.check.expect",
                        SpecErrorKind::InvalidValue,
                        "`expect.exit` applies to `run` checks; a grep check says `grep.expect`",
                    ));
                }
                CheckKind::Grep(self.grep(grep, cwd)?)
            }
            (Some(run), Some(_)) => {
                return Err(self.error(
                    run.span(),
                    "packet.check.run",
                    SpecErrorKind::InvalidValue,
                    format!(
                        "check {packet}::{id} has both `run` and `grep`; give each its own check"
                    ),
                ))
            }
            (None, None) => {
                let mut error = self.error(
                    raw.id.span(),
                    "packet.check",
                    SpecErrorKind::MissingKey,
                    format!("check {packet}::{id} says nothing to do"),
                );
                error.hint = Some(
                    r#"add `run = "…"`, `grep = { pattern = "…", files = "…" }` or `probe = "…"`"#
                        .to_string(),
                );
                return Err(error);
            }
        })
    }

    pub(super) fn command(
        &self,
        raw: &RawCheck,
        run: &Spanned<RawCommand>,
        cwd: PathBuf,
    ) -> Result<CommandSpec, SpecError> {
        let (argv, display) =
            self.command_line(run, raw.allow_destructive.as_ref(), "packet.check.run")?;
        let expect_exit = match &raw.expect {
            Some(expect) => {
                let codes = &expect.exit.get_ref().0;
                if codes.is_empty() || codes.iter().any(|code| !(0..=255).contains(code)) {
                    return Err(self.error(
                        expect.exit.span(),
                        "packet.check.expect.exit",
                        SpecErrorKind::InvalidValue,
                        "expected exit codes must be a non-empty list of numbers from 0 to 255",
                    ));
                }
                codes.iter().map(|code| *code as i32).collect()
            }
            None => vec![0],
        };
        Ok(CommandSpec {
            argv,
            display,
            cwd,
            env: raw.env_strings(),
            expect_exit,
        })
    }

    /// argv and display text of a `run` value; refuses empty and destructive commands.
    pub(super) fn command_line(
        &self,
        run: &Spanned<RawCommand>,
        allow_destructive: Option<&Spanned<String>>,
        key: &str,
    ) -> Result<(Vec<String>, String), SpecError> {
        let (argv, display) = match run.get_ref() {
            RawCommand::Shell(line) => (
                vec!["sh".to_string(), "-c".to_string(), line.clone()],
                line.clone(),
            ),
            RawCommand::Argv(argv) => (argv.clone(), argv.join(" ")),
        };
        let empty = match run.get_ref() {
            RawCommand::Shell(line) => line.trim().is_empty(),
            RawCommand::Argv(argv) => argv.first().is_none_or(|program| program.trim().is_empty()),
        };
        if empty {
            return Err(self.error(
                run.span(),
                key,
                SpecErrorKind::EmptyCommand,
                "empty command",
            ));
        }
        if let Some(name) = destructive_git_command(&display) {
            let reason = allow_destructive
                .map(|reason| reason.get_ref().trim())
                .unwrap_or_default();
            if reason.is_empty() {
                let mut error = self.error(
                    run.span(),
                    key,
                    SpecErrorKind::DestructiveCommand,
                    format!("command runs the destructive git command `{name}`: `{display}`"),
                );
                error.hint = Some(
                    r#"destructive git commands are refused on shared worktrees; if this check really needs it, add allow_destructive = "<reason>""#
                        .to_string(),
                );
                return Err(error);
            }
        }
        Ok((argv, display))
    }

    pub(super) fn grep(
        &self,
        grep: &Spanned<RawGrep>,
        root: PathBuf,
    ) -> Result<GrepSpec, SpecError> {
        let raw = grep.get_ref();
        let pattern = Regex::new(raw.pattern.get_ref()).map_err(|err| {
            self.error(
                raw.pattern.span(),
                "packet.check.grep.pattern",
                SpecErrorKind::InvalidValue,
                format!("invalid regular expression: {err}"),
            )
        })?;
        let files = raw.files.get_ref().0.clone();
        if files.is_empty() || files.iter().any(|glob| glob.trim().is_empty()) {
            return Err(self.error(
                raw.files.span(),
                "packet.check.grep.files",
                SpecErrorKind::InvalidValue,
                "grep needs at least one non-empty file glob",
            ));
        }
        for glob in &files {
            globset::Glob::new(glob).map_err(|err| {
                self.error(
                    raw.files.span(),
                    "packet.check.grep.files",
                    SpecErrorKind::InvalidValue,
                    format!("invalid glob `{glob}`: {err}"),
                )
            })?;
        }
        let expect = match raw
            .expect
            .as_ref()
            .map(|expect| (expect, expect.get_ref().as_str()))
        {
            None | Some((_, "match")) => GrepExpect::Match,
            Some((_, "no-match")) => GrepExpect::NoMatch,
            Some((expect, other)) => {
                let mut error = self.error(
                    expect.span(),
                    "packet.check.grep.expect",
                    SpecErrorKind::InvalidValue,
                    format!("unknown grep expectation `{other}`"),
                );
                error.hint = Some(r#"use "match" or "no-match""#.to_string());
                return Err(error);
            }
        };
        Ok(GrepSpec {
            pattern,
            files,
            expect,
            root,
        })
    }
}
