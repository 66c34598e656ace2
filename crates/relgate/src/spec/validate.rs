//! Parse, then validate into a [`Gate`]: the only way to obtain one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use toml::Spanned;

use super::destructive::destructive_git_command;
use super::error::{nearest, shorten, Locator, SpecError, SpecErrorKind};
use super::model::*;
use super::raw::*;
use super::secret_names::{kind_cases, packet_checklist_name};
use crate::clock::parse_date;
use relgate_probes::duration::parse_duration;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// How long processes may outlive a check's command unless `leak_timeout` says otherwise.
const DEFAULT_LEAK_TIMEOUT: Duration = Duration::from_millis(500);

/// Reads and validates a gate file.
pub fn load(path: &Path) -> Result<Gate, SpecError> {
    let bytes = std::fs::read(path).map_err(|err| SpecError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        key: None,
        kind: SpecErrorKind::Io,
        message: format!("cannot read gate file: {err}"),
        hint: (err.kind() == std::io::ErrorKind::NotFound).then(|| {
            "pass --gate FILE, or run `cargo xtask gate` at the workspace root".to_string()
        }),
    })?;
    let source = String::from_utf8(bytes).map_err(|err| SpecError::not_utf8(path, &err))?;
    let gate = parse(path, &source)?;
    // From here on the values of secret-looking `env` entries are masked everywhere; parse
    // again so that an id equal to one of them is refused too.
    if crate::redaction::register_gate_secrets(&gate) {
        parse(path, &source)
    } else {
        Ok(gate)
    }
}

/// Validates gate-file text; `path` names the file in errors and anchors relative paths.
pub fn parse(path: &Path, source: &str) -> Result<Gate, SpecError> {
    let context = Context {
        file: path.to_path_buf(),
        locator: Locator::new(source),
    };
    let raw: RawGate = toml::from_str(source).map_err(|err| context.toml_error(&err))?;
    let root = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let root = std::path::absolute(&root).unwrap_or(root);
    context.validate(raw, root, crate::evidence::sha256_hex(source.as_bytes()))
}

pub(super) struct Context<'a> {
    pub(super) file: PathBuf,
    pub(super) locator: Locator<'a>,
}

impl Context<'_> {
    pub(super) fn error(
        &self,
        span: Range<usize>,
        key: &str,
        kind: SpecErrorKind,
        message: impl Into<String>,
    ) -> SpecError {
        let (line, column) = self.locator.line_column(span.start);
        SpecError {
            file: self.file.clone(),
            line,
            column,
            key: Some(key.to_string()),
            kind,
            message: message.into(),
            hint: None,
        }
    }

    fn toml_error(&self, err: &toml::de::Error) -> SpecError {
        let message = err.message().trim().to_string();
        let span = err.span().unwrap_or(0..0);
        let (line, column) = if err.span().is_some() {
            self.locator.line_column(span.start)
        } else {
            // The parser's recursion limit comes without a place: the most deeply nested line.
            self.locator.deepest_line()
        };
        let line_text = self.locator.line_text(span.start);
        // Plain string search, not a regex: the key may be megabytes long.
        if let Some((full_key, expected)) = quoted_after(&message, "unknown field `") {
            let key = shorten(full_key);
            let candidates: Vec<String> = expected
                .strip_prefix(", expected ")
                .map(|list| {
                    let list = list.strip_prefix("one of ").unwrap_or(list);
                    list.split('\n')
                        .next()
                        .unwrap_or_default()
                        .split('`')
                        .skip(1)
                        .step_by(2)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let candidate_refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
            let hint = nearest(&key, &candidate_refs)
                .or_else(|| nearest(&key, KNOWN_KEYS).filter(|_| candidates.is_empty()))
                .map(|meant| format!("did you mean `{meant}`?"))
                .or_else(|| {
                    (!candidates.is_empty())
                        .then(|| format!("valid keys here: {}", candidates.join(", ")))
                });
            // The full dotted path: the table, the inline table's key (`grep = { patern… }`),
            // the key itself.
            let mut path: Vec<&str> = Vec::new();
            // An unknown table (`[t]` after `[gate]`) is named by its own header, not nested
            // in the table before it.
            let header = line_text
                .trim()
                .strip_prefix('[')
                .map(|name| name.trim_matches(|c| c == '[' || c == ']').trim())
                .filter(|name| name.split('.').next_back().map(str::trim) == Some(key.as_str()));
            if let Some(header) = header {
                path.push(header);
            } else {
                if let Some(table) = self.locator.table_at(span.start) {
                    path.push(table);
                }
                let line_key = line_text.split_once('=').map(|(left, _)| left.trim());
                if let Some(line_key) =
                    line_key.filter(|left| *left != full_key && !left.is_empty())
                {
                    path.push(line_key);
                }
                path.push(&key);
            }
            return SpecError {
                file: self.file.clone(),
                line,
                column,
                key: Some(path.join(".")),
                kind: SpecErrorKind::UnknownKey,
                message: format!("unknown key `{key}`"),
                hint,
            };
        }
        if let Some((missing, _)) = quoted_after(&message, "missing field `") {
            return SpecError {
                file: self.file.clone(),
                line,
                column,
                key: Some(missing.to_string()),
                kind: SpecErrorKind::MissingKey,
                message: format!("missing required key `{missing}`"),
                hint: None,
            };
        }
        // Type errors point at the value; the key is what stands before `=` on that line.
        let key = line_text
            .split_once('=')
            .map(|(key, _)| key.trim().trim_start_matches('{').trim().to_string())
            .filter(|key| !key.is_empty() && !key.starts_with('['));
        SpecError {
            file: self.file.clone(),
            line,
            column,
            key,
            kind: SpecErrorKind::Syntax,
            message,
            hint: None,
        }
    }

    fn validate(&self, raw: RawGate, root: PathBuf, sha256: String) -> Result<Gate, SpecError> {
        let info = raw.gate.unwrap_or(RawGateInfo {
            name: None,
            plan: None,
        });
        let defaults = raw.defaults.unwrap_or(RawDefaults {
            timeout: None,
            leak_timeout: None,
            severity: None,
        });
        let default_timeout = match &defaults.timeout {
            Some(timeout) => self.timeout(timeout, "defaults.timeout")?,
            None => DEFAULT_TIMEOUT,
        };
        let default_leak_timeout = match &defaults.leak_timeout {
            Some(timeout) => self.timeout(timeout, "defaults.leak_timeout")?,
            None => DEFAULT_LEAK_TIMEOUT,
        };
        let default_severity = defaults.severity.unwrap_or(Severity::P0);
        let services = self.services(&raw.services, &root)?;

        let mut packets = Vec::new();
        let mut packet_spans: BTreeMap<String, Range<usize>> = BTreeMap::new();
        for raw_packet in &raw.packets {
            let packet = raw_packet.get_ref();
            let id = self.id(&packet.id, "packet.id")?;
            if packet_spans.contains_key(&id) {
                return Err(self.duplicate(&packet.id, "packet.id", "packet", &packet_spans[&id]));
            }
            packet_spans.insert(id.clone(), packet.id.span());
            packets.push(self.packet(
                packet,
                id,
                &root,
                (default_timeout, default_leak_timeout, default_severity),
                &services,
            )?);
        }
        for (raw_packet, packet) in raw.packets.iter().zip(&packets) {
            for dep in &raw_packet.get_ref().depends_on {
                if !packet_spans.contains_key(dep.get_ref()) {
                    let known: Vec<&str> = packet_spans.keys().map(String::as_str).collect();
                    let mut error = self.error(
                        dep.span(),
                        "packet.depends_on",
                        SpecErrorKind::UnknownDependency,
                        format!(
                            "packet {} depends on unknown packet `{}`",
                            packet.id,
                            shorten(dep.get_ref())
                        ),
                    );
                    error.hint =
                        nearest(dep.get_ref(), &known).map(|id| format!("did you mean `{id}`?"));
                    return Err(error);
                }
            }
        }
        let nodes: Vec<(&str, &[String])> = packets
            .iter()
            .map(|packet| (packet.id.as_str(), packet.depends_on.as_slice()))
            .collect();
        if let Some(cycle) = find_cycle(&nodes) {
            let first = &cycle[0];
            let raw_packet = raw
                .packets
                .iter()
                .find(|packet| packet.get_ref().id.get_ref() == first)
                .expect("cycle members are packets");
            return Err(self.error(
                raw_packet.get_ref().id.span(),
                "packet.depends_on",
                SpecErrorKind::Cycle,
                format!("dependency cycle: {}", cycle.join(" -> ")),
            ));
        }

        let by_id: HashMap<&str, &Packet> = packets
            .iter()
            .map(|packet| (packet.id.as_str(), packet))
            .collect();
        let mut accepts = Vec::new();
        for raw_accept in &raw.accepts {
            accepts.push(self.acceptance(raw_accept, &packets, &by_id)?);
        }
        Ok(Gate {
            source: self.file.clone(),
            root,
            sha256,
            name: info
                .name
                .unwrap_or_else(|| "Release Security Gate".to_string()),
            plan_link: info.plan,
            packets,
            accepts,
            services,
        })
    }

    fn id(&self, id: &Spanned<String>, key: &str) -> Result<String, SpecError> {
        if !is_valid_id(id.get_ref()) {
            let mut error = self.error(
                id.span(),
                key,
                SpecErrorKind::InvalidId,
                format!("invalid id `{}`", shorten(id.get_ref())),
            );
            error.hint = Some(
                "ids are letters, digits, `.`, `_` and `-`; they name test cases and log files"
                    .to_string(),
            );
            return Err(error);
        }
        self.refuse_secret_name(id.span(), key, id.get_ref())?;
        Ok(id.get_ref().clone())
    }

    fn duplicate(
        &self,
        id: &Spanned<String>,
        key: &str,
        what: &str,
        first: &Range<usize>,
    ) -> SpecError {
        let (line, _) = self.locator.line_column(first.start);
        self.error(
            id.span(),
            key,
            SpecErrorKind::DuplicateId,
            format!(
                "duplicate {what} id `{}` (first defined on line {line})",
                shorten(id.get_ref())
            ),
        )
    }

    pub(super) fn timeout(
        &self,
        timeout: &Spanned<String>,
        key: &str,
    ) -> Result<Duration, SpecError> {
        parse_duration(timeout.get_ref()).map_err(|why| {
            let mut error = self.error(
                timeout.span(),
                key,
                SpecErrorKind::InvalidTimeout,
                format!("invalid timeout `{}`: {why}", timeout.get_ref()),
            );
            error.hint = Some(r#"write a duration such as "90s", "10m" or "1h30m""#.to_string());
            error
        })
    }

    fn packet(
        &self,
        raw: &RawPacket,
        id: String,
        root: &Path,
        defaults: (Duration, Duration, Severity),
        services: &[Service],
    ) -> Result<Packet, SpecError> {
        let mut checks = Vec::new();
        let mut check_spans: BTreeMap<String, Range<usize>> = BTreeMap::new();
        for raw_check in &raw.checks {
            let check = raw_check.get_ref();
            let check_id = self.id(&check.id, "packet.check.id")?;
            if check_spans.contains_key(&check_id) {
                return Err(self.duplicate(
                    &check.id,
                    "packet.check.id",
                    "check",
                    &check_spans[&check_id],
                ));
            }
            check_spans.insert(check_id.clone(), check.id.span());
            checks.push(self.check(raw_check, &id, check_id, root, defaults, services)?);
        }
        let check_ids: HashSet<&str> = checks.iter().map(|check| check.id.as_str()).collect();
        let mut checklist: Vec<ChecklistItem> = Vec::new();
        // Texts and slugs taken so far: a set each, not a scan of the items per item.
        let mut texts: HashSet<String> = HashSet::new();
        let mut slugs: HashSet<String> = HashSet::new();
        for raw_item in &raw.checklist {
            let mut item = self.checklist_item(raw_item, &id, &checks, &check_ids)?;
            if !texts.insert(item.text.clone()) {
                return Err(self.error(
                    raw_item.get_ref().item.span(),
                    "packet.checklist.item",
                    SpecErrorKind::DuplicateId,
                    format!(
                        "two checklist items of {id} have the same name `{}`",
                        item.slug
                    ),
                ));
            }
            // Different texts whose slugs agree (the slug keeps 60 characters): the later one
            // gets `-2`, `-3`…, so every item has a test name of its own.
            let base = item.slug.clone();
            let mut n = 2;
            while slugs.contains(&item.slug) {
                item.slug = format!("{base}-{n}");
                n += 1;
            }
            slugs.insert(item.slug.clone());
            // The item's text is the source of its test name: neither may hold a secret.
            for name in [item.text.clone(), packet_checklist_name(&id, &item.slug)] {
                self.refuse_secret_name(
                    raw_item.get_ref().item.span(),
                    "packet.checklist.item",
                    &name,
                )?;
            }
            checklist.push(item);
        }
        Ok(Packet {
            title: raw.title.clone().unwrap_or_else(|| id.clone()),
            depends_on: raw
                .depends_on
                .iter()
                .map(|dep| dep.get_ref().clone())
                .collect(),
            implementer: raw.implementer.clone(),
            reviewer: raw.reviewer.clone(),
            id,
            checks,
            checklist,
        })
    }

    fn check(
        &self,
        raw_check: &Spanned<RawCheck>,
        packet: &str,
        id: String,
        root: &Path,
        (default_timeout, default_leak_timeout, default_severity): (Duration, Duration, Severity),
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
            line,
        })
    }

    fn run_or_grep(
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

    fn grep(&self, grep: &Spanned<RawGrep>, root: PathBuf) -> Result<GrepSpec, SpecError> {
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

    fn checklist_item(
        &self,
        raw_item: &Spanned<RawChecklistItem>,
        packet: &str,
        checks: &[Check],
        check_ids: &HashSet<&str>,
    ) -> Result<ChecklistItem, SpecError> {
        let raw = raw_item.get_ref();
        let text = raw.item.get_ref().trim().to_string();
        let slug = slugify(&text);
        if slug.is_empty() {
            return Err(self.error(
                raw.item.span(),
                "packet.checklist.item",
                SpecErrorKind::InvalidValue,
                "checklist item has no text",
            ));
        }
        let satisfied_by = match (&raw.by, &raw.attested) {
            (Some(by), None) => {
                if by.is_empty() {
                    return Err(self.error(
                        raw.item.span(),
                        "packet.checklist.by",
                        SpecErrorKind::InvalidValue,
                        "`by` must name at least one check",
                    ));
                }
                for check_id in by {
                    if !check_ids.contains(check_id.get_ref().as_str()) {
                        let known: Vec<&str> =
                            checks.iter().map(|check| check.id.as_str()).collect();
                        let mut error = self.error(
                            check_id.span(),
                            "packet.checklist.by",
                            SpecErrorKind::UnknownCheck,
                            format!(
                                "checklist item of {packet} names unknown check `{}`",
                                shorten(check_id.get_ref())
                            ),
                        );
                        error.hint = nearest(check_id.get_ref(), &known)
                            .map(|id| format!("did you mean `{id}`?"))
                            .or_else(|| Some(format!("checks of {packet}: {}", known.join(", "))));
                        return Err(error);
                    }
                }
                Satisfaction::Checks(by.iter().map(|id| id.get_ref().clone()).collect())
            }
            (None, Some(attested)) => {
                let on = parse_date(&attested.on.get_ref().0).ok_or_else(|| {
                    self.error(
                        attested.on.span(),
                        "packet.checklist.attested.on",
                        SpecErrorKind::InvalidValue,
                        format!(
                            "invalid date `{}` (use YYYY-MM-DD)",
                            attested.on.get_ref().0
                        ),
                    )
                })?;
                if attested.by.get_ref().trim().is_empty() {
                    return Err(self.error(
                        attested.by.span(),
                        "packet.checklist.attested.by",
                        SpecErrorKind::MissingKey,
                        "an attestation must say who attests",
                    ));
                }
                Satisfaction::Attested {
                    by: attested.by.get_ref().trim().to_string(),
                    on,
                }
            }
            _ => {
                let mut error = self.error(
                    raw.item.span(),
                    "packet.checklist",
                    SpecErrorKind::InvalidValue,
                    format!("checklist item `{text}` needs exactly one of `by` or `attested`"),
                );
                error.hint = Some(
                    r#"by = ["check-id"] (checks that prove it) or attested = { by = "name", on = "YYYY-MM-DD" }"#
                        .to_string(),
                );
                return Err(error);
            }
        };
        Ok(ChecklistItem {
            text,
            slug,
            satisfied_by,
        })
    }

    fn acceptance(
        &self,
        raw_accept: &Spanned<RawAccept>,
        packets: &[Packet],
        by_id: &HashMap<&str, &Packet>,
    ) -> Result<Acceptance, SpecError> {
        let raw = raw_accept.get_ref();
        let span = raw_accept.span();
        let (line, _) = self.locator.line_column(span.start);
        let target = match (&raw.check, &raw.finding) {
            (Some(check), None) => {
                let name = check.get_ref().trim();
                let exists = name.split_once("::").is_some_and(|(packet, id)| {
                    by_id
                        .get(packet)
                        .is_some_and(|candidate| candidate.check(id).is_some())
                });
                if !exists {
                    let names: Vec<String> = packets
                        .iter()
                        .flat_map(|packet| packet.checks.iter().map(Check::name))
                        .collect();
                    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                    let mut error = self.error(
                        check.span(),
                        "accept.check",
                        SpecErrorKind::InvalidAcceptance,
                        format!(
                            "acceptance names unknown check `{}` (write PACKET::check)",
                            shorten(name)
                        ),
                    );
                    error.hint = nearest(name, &refs).map(|meant| format!("did you mean `{meant}`?"));
                    return Err(error);
                }
                AcceptTarget::Check(name.to_string())
            }
            (None, Some(finding)) if !finding.get_ref().trim().is_empty() => {
                AcceptTarget::Finding(finding.get_ref().trim().to_string())
            }
            _ => {
                return Err(self.error(
                    span,
                    "accept",
                    SpecErrorKind::InvalidAcceptance,
                    "an acceptance needs exactly one of `check = \"PACKET::check\"` or `finding = \"…\"`",
                ))
            }
        };
        let required = |value: &Option<Spanned<String>>, key: &str| -> Result<String, SpecError> {
            match value {
                Some(value) if !value.get_ref().trim().is_empty() => {
                    Ok(value.get_ref().trim().to_string())
                }
                Some(value) => Err(self.error(
                    value.span(),
                    &format!("accept.{key}"),
                    SpecErrorKind::InvalidAcceptance,
                    format!("acceptance of {} has an empty `{key}`", target.describe()),
                )),
                None => {
                    let mut error = self.error(
                        span.clone(),
                        &format!("accept.{key}"),
                        SpecErrorKind::InvalidAcceptance,
                        format!("acceptance of {} has no `{key}`", target.describe()),
                    );
                    error.hint =
                        Some("a risk acceptance needs owner, until and reason".to_string());
                    Err(error)
                }
            }
        };
        let owner = required(&raw.owner, "owner")?;
        let reason = required(&raw.reason, "reason")?;
        let until = match &raw.until {
            Some(until) => parse_date(&until.get_ref().0).ok_or_else(|| {
                self.error(
                    until.span(),
                    "accept.until",
                    SpecErrorKind::InvalidAcceptance,
                    format!("invalid date `{}` (use YYYY-MM-DD)", until.get_ref().0),
                )
            })?,
            None => {
                let mut error = self.error(
                    span.clone(),
                    "accept.until",
                    SpecErrorKind::InvalidAcceptance,
                    format!("acceptance of {} has no `until`", target.describe()),
                );
                error.hint = Some("a risk acceptance needs owner, until and reason".to_string());
                return Err(error);
            }
        };
        Ok(Acceptance {
            target,
            owner,
            until,
            reason,
            line,
        })
    }
}

/// `[A-Za-z0-9][A-Za-z0-9._-]*`, tested without compiling a regex for every id.
fn is_valid_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// In a parser message, the name quoted after `lead` (up to the next backtick) and the text
/// after its closing backtick: `unknown field `x`, expected …` → (`x`, `, expected …`).
fn quoted_after<'m>(message: &'m str, lead: &str) -> Option<(&'m str, &'m str)> {
    let start = message.find(lead)? + lead.len();
    let rest = &message[start..];
    let end = rest.find('`')?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// The slug of a checklist item's text, as in its test name `PACKET::checklist::<slug>`:
/// `API security/scope/tenant suites rerun.` → `api-security-scope-tenant-suites-rerun`.
pub fn slugify(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug.truncate(60);
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

/// A dependency cycle as `[A, B, A]`, if any, among nodes given as (id, dependencies).
///
/// Depth-first in file order, with an explicit stack (a chain of 20,000 packets is no deep
/// recursion) and ids looked up in a map: O(nodes + dependencies).
pub(super) fn find_cycle(nodes: &[(&str, &[String])]) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unvisited,
        OnStack,
        Done,
    }
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(nodes.len());
    for (at, (id, _)) in nodes.iter().enumerate() {
        index.entry(id).or_insert(at);
    }
    let mut marks = vec![Mark::Unvisited; nodes.len()];
    // (node, how many of its dependencies are explored).
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..nodes.len() {
        if marks[root] != Mark::Unvisited {
            continue;
        }
        marks[root] = Mark::OnStack;
        stack.push((root, 0));
        while let Some((node, explored)) = stack.last_mut() {
            let node = *node;
            let Some(dep) = nodes[node].1.get(*explored) else {
                marks[node] = Mark::Done;
                stack.pop();
                continue;
            };
            *explored += 1;
            let Some(&next) = index.get(dep.as_str()) else {
                continue;
            };
            match marks[next] {
                Mark::OnStack => {
                    let start = stack
                        .iter()
                        .position(|(at, _)| *at == next)
                        .expect("on stack");
                    let mut cycle: Vec<String> = stack[start..]
                        .iter()
                        .map(|(at, _)| nodes[*at].0.to_string())
                        .collect();
                    cycle.push(nodes[next].0.to_string());
                    return Some(cycle);
                }
                Mark::Unvisited => {
                    marks[next] = Mark::OnStack;
                    stack.push((next, 0));
                }
                Mark::Done => {}
            }
        }
    }
    None
}
