//! Parse, then validate into a [`Gate`]: the only way to obtain one.

use crate::model::Severity;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::{nearest, shorten, Locator, SpecError, SpecErrorKind};
use super::model::*;
use super::raw::*;
use super::secret_names::packet_checklist_name;
use crate::model::clock::parse_date;
use relgate_probes::duration::parse_duration;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// How long processes may outlive a check's command unless `leak_timeout` says otherwise.
const DEFAULT_LEAK_TIMEOUT: Duration = Duration::from_millis(500);

/// The most characters a packet, check, service or tool id may have: ids name test cases, log
/// files and lock files, and a file name holds at most 255 bytes (a lock file's name writes an
/// id's `_` as `%5F`, three bytes a character).
pub const MAX_ID_CHARS: usize = 64;

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
            format!(
                "pass --gate FILE, or run `{}` at the workspace root",
                crate::model::invocation::gate_command()
            )
        }),
    })?;
    let source = String::from_utf8(bytes).map_err(|err| SpecError::not_utf8(path, &err))?;
    let gate = parse(path, &source)?;
    // From here on the values of secret-looking `env` entries are masked everywhere; parse
    // again so that an id equal to one of them is refused too.
    if crate::spec::register_gate_secrets(&gate) {
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
        source,
    };
    let raw: RawGate = toml::from_str(source).map_err(|err| context.toml_error(&err))?;
    let root = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let root = std::path::absolute(&root).unwrap_or(root);
    context.validate(
        raw,
        root,
        crate::model::digest::sha256_hex(source.as_bytes()),
    )
}

pub(super) struct Context<'a> {
    pub(super) file: PathBuf,
    pub(super) locator: Locator<'a>,
    /// The gate file's text.
    pub(super) source: &'a str,
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
            retries: None,
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
        let default_retries = match &defaults.retries {
            Some(retries) => self.retries(retries, "defaults.retries")?,
            None => 0,
        };
        let tools = self.tools(&raw.tools)?;
        let mut services = self.services(&raw.services, &root)?;

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
                (
                    default_timeout,
                    default_leak_timeout,
                    default_severity,
                    default_retries,
                ),
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

        self.tool_needs(
            (&raw.services, &raw.packets),
            &tools,
            &mut services,
            &mut packets,
        )?;

        let by_id: HashMap<&str, &Packet> = packets
            .iter()
            .map(|packet| (packet.id.as_str(), packet))
            .collect();
        let mut accepts = Vec::new();
        for raw_accept in &raw.accepts {
            accepts.push(self.acceptance(raw_accept, &packets, &by_id)?);
        }
        let review = self.review(raw.review.as_ref(), &root, &packet_spans)?;
        if review.is_some() {
            super::definition::fill(self.source, &mut packets);
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
            tools,
            review,
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
        self.refuse_long_id(id, key, "ids")?;
        self.refuse_secret_name(id.span(), key, id.get_ref())?;
        Ok(id.get_ref().clone())
    }

    /// Refuses an id (of a packet, check, service or tool: `what`) longer than [`MAX_ID_CHARS`].
    pub(super) fn refuse_long_id(
        &self,
        id: &Spanned<String>,
        key: &str,
        what: &str,
    ) -> Result<(), SpecError> {
        let chars = id.get_ref().chars().count();
        if chars <= MAX_ID_CHARS {
            return Ok(());
        }
        let mut error = self.error(
            id.span(),
            key,
            SpecErrorKind::InvalidId,
            format!("`{}` is {chars} characters long", shorten(id.get_ref())),
        );
        error.hint = Some(format!(
            "{what} are at most {MAX_ID_CHARS} characters: they name test cases, log files and lock files"
        ));
        Err(error)
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
        defaults: (Duration, Duration, Severity, u32),
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
            definition: None,
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
