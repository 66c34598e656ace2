//! `report.sarif`: the run's failures and findings as SARIF 2.1.0, for GitHub code scanning
//! (`github/codeql-action/upload-sarif`) and any other SARIF viewer.
//!
//! Not to be confused with `scan/sarif.rs`, which *reads* SARIF written by scanners.
//!
//! # What becomes a result
//!
//! - every failed check (outcome FAIL or ERROR) — except a scan that failed because of its
//!   findings, whose findings are the results instead, and except checklist items, which fail
//!   only because a check failed (a result already) or an attestation is missing (a process
//!   fact: `tracker.md` and `junit.xml` show it);
//! - a probe's failing and inconclusive cases, one result each (a probe that could not run, or
//!   failed without a failing case, is one result for the check);
//! - every scanner finding, with its triage (blocking, accepted, tracked);
//! - every expired and every unused `[[accept]]` entry of the verdict, at its gate-file line.
//!
//! # Rule ids
//!
//! A check's rule id is its test-case name, the name `--exact`, JUnit, the tracker and
//! `[[accept]] check = …` use: `SEC-01::api-suites`; a probe case's is the case's test-case name
//! `SEC-01::jwt-forgery::alg-none`. A scanner finding's rule id is the finding's own id
//! (`RUSTSEC-2023-0071`, `GHSA-…`, a SARIF `ruleId`, a gitleaks `RuleID`), the key
//! `[[accept]] finding = …` takes. The two acceptance notes are `relgate/acceptance-expired` and
//! `relgate/acceptance-unused`. Rule ids are as stable as the gate file's ids.
//!
//! # Levels
//!
//! P0 → `error`, P1 → `warning`, P2 → `note`, and `properties.security-severity` 9.5 / 7.5 / 4.0
//! (critical / high / medium for GitHub). The acceptance notes are `warning` (expired) and `note`
//! (unused) and carry no security-severity: they are about the gate file, not the product.
//!
//! # Suppressions
//!
//! An accepted failure or finding keeps its result, with
//! `suppressions: [{kind: "external", status: "accepted", justification: "accepted by OWNER until
//! DATE (packets.toml line N): REASON"}]`. A tracked P2 has no suppression (its level is `note`).
//!
//! # Locations
//!
//! Every result has one physical location with a URI relative to the repository root
//! (`uriBaseId` `%SRCROOT%`; the gate file's directory when it is in no git repository) and a
//! `startLine`: a failed check points at its `[[packet.check]]` table in the gate file; a finding
//! at its `path:line` (resolved against the scan's `cwd`); an audit finding (`package@version`)
//! at the package in the `Cargo.lock` / `package-lock.json` of the scan's `cwd` or of the gate
//! root, else at the scan's `[[packet.check]]` table, with the package as a logical location.
//!
//! [`render`] and [`render_with`] are pure: the lockfiles and the repository root are read by
//! [`SourceTree::read`] in [`write`]. Every text comes from the gate file and the ledger, whose
//! messages are redacted; no log content is included.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::evidence::{
    sha256_hex, AcceptanceNote, CaseKind, CaseOutcome, CheckRecord, FindingNote, Ledger, Outcome,
    ProbeCase, RunHeader, VerdictRecord,
};
use crate::scan::{Finding, Format};
use crate::spec::{AcceptTarget, Check, CheckKind, Gate, GrepExpect, Severity};

/// File name inside the out directory.
pub const SARIF_FILE: &str = "report.sarif";

/// The `$schema` of the report.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The key of relgate's fingerprint in each result's `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "relgate/v1";

/// Rule id of an `[[accept]]` entry that expired and was ignored.
pub const RULE_ACCEPTANCE_EXPIRED: &str = "relgate/acceptance-expired";

/// Rule id of an `[[accept]]` entry that matched no failure.
pub const RULE_ACCEPTANCE_UNUSED: &str = "relgate/acceptance-unused";

/// The `uriBaseId` of every artifact location: the repository root.
pub const SRCROOT: &str = "%SRCROOT%";

/// What the report may know of the files beside the gate, read by [`SourceTree::read`] so that
/// [`render_with`] stays pure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTree {
    /// The gate root relative to its repository root, `/`-separated and ending in `/` (`ops/`);
    /// empty when the gate file is at the root of its repository or in none. Every URI starts
    /// with it.
    pub prefix: String,
    /// Lockfiles (`Cargo.lock`, `package-lock.json`) by path relative to the gate root.
    pub lockfiles: BTreeMap<String, String>,
}

impl SourceTree {
    /// Finds the repository root above the gate root (a `.git` directory or file) and reads the
    /// lockfiles audit findings may point into: for each `cargo-audit` or `npm-audit` scan, its
    /// lockfile in the scan's `cwd` and in the gate root. Unreadable files are left out.
    pub fn read(gate: &Gate) -> SourceTree {
        let prefix = gate
            .root
            .ancestors()
            .find(|dir| dir.join(".git").exists())
            .and_then(|repository| gate.root.strip_prefix(repository).ok())
            .map(|relative| {
                relative
                    .components()
                    .map(|part| format!("{}/", part.as_os_str().to_string_lossy()))
                    .collect()
            })
            .unwrap_or_default();
        let mut lockfiles = BTreeMap::new();
        for check in gate.checks() {
            for path in lockfile_candidates(gate, check) {
                if lockfiles.contains_key(&path) {
                    continue;
                }
                let file = gate.root.join(&path);
                // A lockfile is text of a few MiB at most; anything bigger is not one.
                let small = std::fs::metadata(&file).is_ok_and(|meta| meta.len() <= 64 << 20);
                if let Some(text) = small.then(|| std::fs::read_to_string(&file).ok()).flatten() {
                    lockfiles.insert(path, text);
                }
            }
        }
        SourceTree { prefix, lockfiles }
    }
}

/// Renders report.sarif from the gate and the ledger alone: audit findings point at their scan
/// check's line in the gate file. Pure: no clock, no files.
pub fn render(gate: &Gate, ledger: &Ledger) -> Value {
    render_with(gate, ledger, &SourceTree::default())
}

/// Renders report.sarif from the gate, the ledger and what [`SourceTree::read`] found beside the
/// gate. Pure: no clock, no files.
pub fn render_with(gate: &Gate, ledger: &Ledger, tree: &SourceTree) -> Value {
    let mut builder = Builder {
        gate,
        tree,
        verdict: ledger.verdict(),
        rules: Vec::new(),
        results: Vec::new(),
        notifications: Vec::new(),
    };
    for record in ledger.checks() {
        builder.record(record);
    }
    if let Some(verdict) = builder.verdict {
        builder.acceptance_notes(verdict);
    }
    builder.finish(ledger)
}

/// Renders (with [`SourceTree::read`]), redacts and writes `out_dir/report.sarif` atomically
/// ([`crate::redaction::write_report`]); returns its path and the redacted document.
pub fn write(gate: &Gate, ledger: &Ledger, out_dir: &Path) -> std::io::Result<(PathBuf, Value)> {
    let path = out_dir.join(SARIF_FILE);
    let mut document = render_with(gate, ledger, &SourceTree::read(gate));
    // Every string redacted (the gate's own commands and titles included), so the document
    // returned for the CI annotations is the one on disk.
    crate::redaction::redact_json(&mut document);
    let mut text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
    text.push('\n');
    crate::redaction::write_report(&path, text.as_bytes())?;
    Ok((path, document))
}

/// The SARIF level of a severity: P0 `error`, P1 `warning`, P2 `note`.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::P0 => "error",
        Severity::P1 => "warning",
        Severity::P2 => "note",
    }
}

/// GitHub's `security-severity` of a severity: P0 `9.5` (critical), P1 `7.5` (high), P2 `4.0`
/// (medium).
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::P0 => "9.5",
        Severity::P1 => "7.5",
        Severity::P2 => "4.0",
    }
}

/// The 1-based line of `package` in a lockfile's text: the `name = "…"` line of its
/// `[[package]]` entry in a `Cargo.lock` (of that `version` when one is given, else the first),
/// or the `"node_modules/…"` key of its entry in a `package-lock.json` (top level first; npm's
/// version is a range, so `version` is not compared there).
pub fn lockfile_line(
    file_name: &str,
    contents: &str,
    package: &str,
    version: Option<&str>,
) -> Option<usize> {
    if file_name.ends_with("package-lock.json") {
        npm_lock_line(contents, package)
    } else {
        cargo_lock_line(contents, package, version)
    }
}

fn cargo_lock_line(contents: &str, package: &str, version: Option<&str>) -> Option<usize> {
    let value = |line: &str, key: &str| {
        let rest = line
            .trim()
            .strip_prefix(key)?
            .trim_start()
            .strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').to_string())
    };
    let mut first = None;
    let mut entry: Option<usize> = None;
    for (index, line) in contents.lines().enumerate() {
        if line.trim() == "[[package]]" {
            entry = None;
        } else if let Some(name) = value(line, "name") {
            entry = (name == package).then_some(index + 1);
            if entry.is_some() && version.is_none() {
                return entry;
            }
            first = first.or(entry);
        } else if let (Some(line_of_name), Some(found)) = (entry, value(line, "version")) {
            if Some(found.as_str()) == version {
                return Some(line_of_name);
            }
        }
    }
    first
}

fn npm_lock_line(contents: &str, package: &str) -> Option<usize> {
    let top = format!("\"node_modules/{package}\"");
    let nested = format!("/node_modules/{package}\"");
    // lockfileVersion 1 nests packages as `"name": {` under `dependencies`.
    let v1 = format!("\"{package}\": {{");
    let find = |wanted: &dyn Fn(&str) -> bool| {
        contents
            .lines()
            .position(|line| wanted(line.trim()))
            .map(|index| index + 1)
    };
    find(&|line| line.starts_with(&top))
        .or_else(|| find(&|line| line.starts_with('"') && line.contains(&nested)))
        .or_else(|| find(&|line| line.starts_with(&v1)))
}

/// The lockfiles an audit scan's findings may be in, relative to the gate root: the scan's
/// `cwd` first, then the gate root.
fn lockfile_candidates(gate: &Gate, check: &Check) -> Vec<String> {
    let CheckKind::Scan(scan) = &check.kind else {
        return Vec::new();
    };
    let name = match scan.format {
        Format::CargoAudit => "Cargo.lock",
        Format::NpmAudit => "package-lock.json",
        Format::Sarif | Format::Gitleaks => return Vec::new(),
    };
    let mut candidates = Vec::new();
    if let Some(cwd) = relative_dir(gate, &scan.command.cwd) {
        candidates.push(format!("{cwd}{name}"));
    }
    if !candidates.iter().any(|candidate| candidate == name) {
        candidates.push(name.to_string());
    }
    candidates
}

/// A directory below the gate root as a `/`-terminated relative path (`""` for the root).
fn relative_dir(gate: &Gate, dir: &Path) -> Option<String> {
    let relative = dir.strip_prefix(&gate.root).ok()?;
    let text = relative.to_string_lossy().replace('\\', "/");
    let normal = normalize(&text)?;
    Some(if normal.is_empty() {
        normal
    } else {
        format!("{normal}/")
    })
}

/// A relative `/`-path without `.`, `..` and empty segments; `None` when it leaves its base.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// A path as a URI reference: bytes outside the unreserved set and the sub-delimiters are
/// percent-encoded (`:` too, so that a first segment never reads as a scheme).
pub(crate) fn uri_path(path: &str) -> String {
    let mut out = String::new();
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&byte);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `%XX` escapes decoded (invalid ones kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = (bytes[index] == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where a result points.
struct Place {
    /// Path relative to the repository root (not yet URI-encoded).
    path: String,
    line: usize,
    /// A package, as `(name, name@version)`.
    package: Option<(String, String)>,
}

/// Acceptance notes of one kind, their rule, and what the message says happened to them.
type AcceptanceKind<'a> = (&'a [AcceptanceNote], Rule, fn(&AcceptanceNote) -> String);

/// A rule as it is being collected: results may raise its severity.
#[derive(Clone)]
struct Rule {
    id: String,
    name: String,
    short: String,
    full: String,
    help: String,
    markdown: String,
    help_uri: Option<String>,
    /// `None` for the acceptance notes, which have a fixed level and no security-severity.
    severity: Option<Severity>,
    level: &'static str,
    tags: Vec<String>,
}

/// A result's triage, from the verdict.
enum State {
    Blocking,
    Accepted(String),
    Tracked,
    /// The ledger has no verdict record.
    Untriaged,
}

impl State {
    fn label(&self) -> &'static str {
        match self {
            State::Blocking => "blocking",
            State::Accepted(_) => "accepted",
            State::Tracked => "tracked",
            State::Untriaged => "not triaged: the ledger has no verdict",
        }
    }
}

struct Builder<'a> {
    gate: &'a Gate,
    tree: &'a SourceTree,
    verdict: Option<&'a VerdictRecord>,
    rules: Vec<Rule>,
    results: Vec<Value>,
    notifications: Vec<Value>,
}

impl<'a> Builder<'a> {
    /// The gate file's name relative to the gate root.
    fn gate_file(&self) -> String {
        self.gate.source.file_name().map_or_else(
            || "packets.toml".to_string(),
            |name| name.to_string_lossy().into_owned(),
        )
    }

    fn gate_place(&self, line: usize) -> Place {
        Place {
            path: format!("{}{}", self.tree.prefix, self.gate_file()),
            line: line.max(1),
            package: None,
        }
    }

    fn check(&self, record: &CheckRecord) -> Option<&'a Check> {
        self.gate
            .packet(&record.packet)
            .and_then(|packet| packet.check(&record.check))
    }

    fn record(&mut self, record: &CheckRecord) {
        if record.case_kind == CaseKind::Checklist {
            return;
        }
        let check = self.check(record);
        // Every finding is a result, whatever became of its scan.
        if !record.findings.is_empty() {
            for finding in &record.findings {
                self.finding(record, check, finding);
            }
        }
        if !record.outcome.is_failure() {
            return;
        }
        if record.outcome == Outcome::Error {
            let text = format!(
                "{} could not run: {}",
                record.name,
                nonempty(&record.message, "no message")
            );
            self.notifications
                .push(json!({ "level": "error", "message": { "text": text } }));
        }
        if !record.findings.is_empty() {
            return;
        }
        let failing: Vec<&ProbeCase> = record
            .cases
            .iter()
            .filter(|case| case.outcome != CaseOutcome::Pass)
            .collect();
        if record.outcome == Outcome::Fail && !failing.is_empty() {
            for case in failing {
                self.probe_case(record, check, case);
            }
            return;
        }
        self.failed_check(record, check);
    }

    /// The triage of a failed check (all its results share it).
    fn check_state(&self, record: &CheckRecord) -> State {
        let Some(verdict) = self.verdict else {
            return State::Untriaged;
        };
        let Some(risk) = verdict
            .residual_risks
            .iter()
            .find(|risk| risk.check == record.name)
        else {
            return State::Blocking;
        };
        if risk.state != "accepted" {
            return State::Tracked;
        }
        let owner = risk.owner.as_deref().unwrap_or("an unnamed owner");
        let until = risk.until.as_deref().unwrap_or("no date");
        let line = self
            .gate
            .accepts
            .iter()
            .find(|acceptance| {
                acceptance.target == AcceptTarget::Check(record.name.clone())
                    && acceptance.owner == owner
                    && acceptance.until.to_string() == until
            })
            .map(|acceptance| format!(" ({} line {})", self.gate_file(), acceptance.line))
            .unwrap_or_default();
        State::Accepted(format!(
            "accepted by {owner} until {until}{line}: {}",
            nonempty(&risk.reason, "no reason given")
        ))
    }

    /// Sentences about acceptances of `targets` that expired and were ignored.
    fn expired(&self, targets: &[String]) -> Vec<String> {
        let Some(verdict) = self.verdict else {
            return Vec::new();
        };
        verdict
            .expired_acceptances
            .iter()
            .filter(|note| {
                targets
                    .iter()
                    .any(|target| target.eq_ignore_ascii_case(&note.target))
            })
            .map(|note| {
                format!(
                    "The acceptance at {} line {} (owner {}) expired on {} and was ignored",
                    self.gate_file(),
                    note.line,
                    note.owner,
                    note.until
                )
            })
            .collect()
    }

    fn failed_check(&mut self, record: &CheckRecord, check: Option<&Check>) {
        let state = self.check_state(record);
        let severity = record.severity;
        let mut sentences = vec![format!(
            "{} {} ({}, {}): {}",
            record.name,
            record.outcome.label(),
            severity.as_str(),
            state.label(),
            nonempty(&record.message, "no message")
        )];
        sentences.extend(self.run_facts(record, check));
        sentences.extend(self.expired(&[format!("check {}", record.name)]));
        let rule = self.check_rule(record, check, severity);
        let place = self.gate_place(check.map_or(1, |check| check.line));
        let fingerprint = sha256_hex(record.name.as_bytes());
        self.push(rule, severity, sentences, place, fingerprint, state, record);
    }

    fn probe_case(&mut self, record: &CheckRecord, check: Option<&Check>, case: &ProbeCase) {
        let state = self.check_state(record);
        let severity = record.severity;
        let case_name = format!("{}::{}", record.name, case.name);
        let label = match case.outcome {
            CaseOutcome::Fail => "FAIL",
            _ => "INCONCLUSIVE",
        };
        let mut sentences = vec![
            format!(
                "{case_name} {label} ({}, {}): {}",
                severity.as_str(),
                state.label(),
                nonempty(&case.message, "no message")
            ),
            format!(
                "Probe check {} {}: {}",
                record.name,
                record.outcome.label(),
                nonempty(&record.message, "no message")
            ),
        ];
        sentences.extend(self.run_facts(record, check));
        sentences.extend(self.expired(&[format!("check {}", record.name)]));
        let rule = self.case_rule(record, check, &case.name, severity);
        let place = self.gate_place(check.map_or(1, |check| check.line));
        let fingerprint = sha256_hex(case_name.as_bytes());
        self.push(rule, severity, sentences, place, fingerprint, state, record);
    }

    fn finding(&mut self, record: &CheckRecord, check: Option<&Check>, finding: &Finding) {
        let note: Option<&FindingNote> = self.verdict.and_then(|verdict| {
            verdict.findings.iter().find(|note| {
                note.check == record.name
                    && note.id == finding.id
                    && note.fingerprint == finding.fingerprint
            })
        });
        let state = match note {
            None if self.verdict.is_none() => State::Untriaged,
            None => State::Blocking,
            Some(note) => match (note.state.as_str(), &note.acceptance) {
                ("accepted", Some(acceptance)) => {
                    // The note says `owner until DATE (line N): reason`; name the file too.
                    let acceptance =
                        acceptance.replacen(" (line ", &format!(" ({} line ", self.gate_file()), 1);
                    State::Accepted(format!("accepted by {acceptance}"))
                }
                ("accepted", None) => State::Accepted("accepted".to_string()),
                ("tracked", _) => State::Tracked,
                _ => State::Blocking,
            },
        };
        let severity = finding.severity;
        let format = match check.map(|check| &check.kind) {
            Some(CheckKind::Scan(scan)) => Some(scan.format),
            _ => None,
        };
        let scanner = format.map_or("scanner", Format::name);
        let location = finding.location.as_deref().filter(|text| !text.is_empty());
        let mut sentences = vec![format!(
            "{} {}{}: {} ({}, scanner severity {}; {})",
            severity.as_str(),
            finding.id,
            location.map(|at| format!(" in {at}")).unwrap_or_default(),
            nonempty(&finding.title, &finding.id).trim_end_matches('.'),
            nonempty(&finding.rule, "finding"),
            nonempty(&finding.scanner_severity, "none"),
            state.label()
        )];
        let mut reported = format!("Reported by the {scanner} scan {}", record.name);
        if let Some(code) = record.exit_code {
            reported.push_str(&format!(" (exit code {code})"));
        }
        sentences.push(reported);
        if let Some(report) = &record.report {
            sentences.push(format!(
                "Report {report} (sha256 {})",
                record.report_sha256.as_deref().unwrap_or("unknown")
            ));
        }
        sentences.extend(self.log_sentence(record));
        let targets: Vec<String> = [&finding.id, &finding.rule, &finding.fingerprint]
            .into_iter()
            .map(|key| format!("finding {key}"))
            .chain([format!("check {}", record.name)])
            .collect();
        sentences.extend(self.expired(&targets));
        let place = self.finding_place(check, format, location);
        let rule = self.finding_rule(record, finding, scanner, severity);
        self.push(
            rule,
            severity,
            sentences,
            place,
            finding.fingerprint.clone(),
            state,
            record,
        );
    }

    /// A finding's place: its file and line, or its package in a lockfile, or its scan check.
    fn finding_place(
        &self,
        check: Option<&Check>,
        format: Option<Format>,
        location: Option<&str>,
    ) -> Place {
        let fallback = self.gate_place(check.map_or(1, |check| check.line));
        let (Some(check), Some(location)) = (check, location) else {
            return fallback;
        };
        match format {
            Some(Format::CargoAudit | Format::NpmAudit) => {
                let (name, version) = match location.rsplit_once('@') {
                    Some((name, version)) if !name.is_empty() => (name, Some(version)),
                    _ => (location, None),
                };
                let exact = if format == Some(Format::CargoAudit) {
                    version
                } else {
                    None
                };
                let package = Some((name.to_string(), location.to_string()));
                for path in lockfile_candidates(self.gate, check) {
                    let line = self
                        .tree
                        .lockfiles
                        .get(&path)
                        .and_then(|contents| lockfile_line(&path, contents, name, exact));
                    if let Some(line) = line {
                        return Place {
                            path: format!("{}{path}", self.tree.prefix),
                            line,
                            package,
                        };
                    }
                }
                Place {
                    package,
                    ..fallback
                }
            }
            Some(Format::Sarif | Format::Gitleaks) => {
                let (path, line) = match location.rsplit_once(':') {
                    Some((path, line))
                        if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        (path, line.parse::<usize>().unwrap_or(1))
                    }
                    _ => (location, 1),
                };
                match self.repository_path(check, path) {
                    Some(path) => Place {
                        path,
                        line: line.max(1),
                        package: None,
                    },
                    None => fallback,
                }
            }
            None => fallback,
        }
    }

    /// A scanner's path (relative to the scan's `cwd`, absolute, or a `file:` URI) relative to
    /// the repository root; `None` when it is outside the gate root.
    fn repository_path(&self, check: &Check, path: &str) -> Option<String> {
        let CheckKind::Scan(scan) = &check.kind else {
            return None;
        };
        let path = match path.strip_prefix("file://") {
            Some(rest) => percent_decode(rest.trim_start_matches("localhost")),
            None => path.to_string(),
        };
        let relative = if path.starts_with('/') {
            let inside = Path::new(&path).strip_prefix(&self.gate.root).ok()?;
            normalize(&inside.to_string_lossy())?
        } else {
            let cwd = relative_dir(self.gate, &scan.command.cwd)?;
            normalize(&format!("{cwd}{path}"))?
        };
        (!relative.is_empty()).then(|| format!("{}{relative}", self.tree.prefix))
    }

    /// What ran and where its evidence is: the command or rule, exit code or timeout, the log.
    fn run_facts(&self, record: &CheckRecord, check: Option<&Check>) -> Vec<String> {
        let mut sentences = Vec::new();
        let what = match check.map(|check| &check.kind) {
            Some(CheckKind::Command(command)) => {
                Some(format!("Command {}", code(&command.display)))
            }
            Some(CheckKind::Scan(scan)) => Some(format!(
                "{} scan {}",
                scan.format.name(),
                code(&scan.command.display)
            )),
            Some(CheckKind::Grep(grep)) => Some(format!(
                "Grep /{}/ in {}",
                grep.pattern.as_str(),
                grep.files.join(" ")
            )),
            Some(CheckKind::Probe(probe)) => Some(format!("Probe {}", code(&probe.kind))),
            None if !record.argv.is_empty() => {
                Some(format!("Command {}", code(&record.argv.join(" "))))
            }
            None => None,
        };
        let process = matches!(record.case_kind, CaseKind::Command | CaseKind::Scan);
        let exit = match (record.exit_code, record.timed_out, record.signal) {
            (_, true, signal) => Some(format!(
                "killed after its timeout{}{}",
                check
                    .map(|check| format!(" of {}", crate::spec::format_duration(check.timeout)))
                    .unwrap_or_default(),
                signal
                    .map(|signal| format!(" (signal {signal})"))
                    .unwrap_or_default()
            )),
            (Some(code), false, _) => Some(format!("exit code {code}")),
            (None, false, Some(signal)) => Some(format!("killed by signal {signal}")),
            (None, false, None) if process => Some("no exit code".to_string()),
            (None, false, None) => None,
        };
        match (what, exit) {
            (Some(what), Some(exit)) => sentences.push(format!("{what}: {exit}")),
            (Some(what), None) => sentences.push(what),
            (None, Some(exit)) => sentences.push(format!("It ended with {exit}")),
            (None, None) => {}
        }
        sentences.extend(self.log_sentence(record));
        sentences.extend(
            record
                .notes
                .iter()
                .filter(|note| !note.trim().is_empty())
                .map(|note| format!("Note: {note}")),
        );
        sentences
    }

    fn log_sentence(&self, record: &CheckRecord) -> Option<String> {
        let Some(log) = &record.log else {
            return record.no_output().then(|| "No output".to_string());
        };
        Some(format!(
            "Log {log} ({} bytes, sha256 {})",
            record.bytes,
            record.sha256.as_deref().unwrap_or("unknown")
        ))
    }

    fn acceptance_notes(&mut self, verdict: &VerdictRecord) {
        let file = self.gate_file();
        let expired = Rule {
            id: RULE_ACCEPTANCE_EXPIRED.to_string(),
            name: "AcceptanceExpired".to_string(),
            short: "An [[accept]] entry has expired and is ignored".to_string(),
            full: "A risk acceptance is valid up to and including its `until` date; after it the failure or finding it covered counts again (and blocks the release unless it is P2).".to_string(),
            help: "Renew the acceptance with a new `until` date and a current reason if the risk is still owned, or remove the entry once the cause is fixed.".to_string(),
            markdown: "Renew the acceptance with a new `until` date and a current `reason` if the risk is still owned, or remove the `[[accept]]` entry once the cause is fixed.".to_string(),
            help_uri: None,
            severity: None,
            level: "warning",
            tags: tags(&["relgate", "acceptance", "maintainability"]),
        };
        let unused = Rule {
            id: RULE_ACCEPTANCE_UNUSED.to_string(),
            name: "AcceptanceUnused".to_string(),
            short: "An [[accept]] entry matched no failure".to_string(),
            full: "A risk acceptance that covers nothing in this run: the check passed, the finding is gone, or the target is misspelled.".to_string(),
            help: "Remove the acceptance if its risk is gone, or fix its target (check = PACKET::check, finding = an id, rule or fingerprint).".to_string(),
            markdown: "Remove the `[[accept]]` entry if its risk is gone, or fix its target (`check = \"PACKET::check\"`, `finding = \"<id, rule or fingerprint>\"`).".to_string(),
            help_uri: None,
            severity: None,
            level: "note",
            tags: tags(&["relgate", "acceptance", "maintainability"]),
        };
        let kinds: [AcceptanceKind<'_>; 2] = [
            (&verdict.expired_acceptances, expired, |note| {
                format!("expired on {} and was ignored", note.until)
            }),
            (&verdict.unused_acceptances, unused, |note| {
                format!("until {} matched no failure", note.until)
            }),
        ];
        for (notes, rule, what) in kinds {
            for note in notes {
                let text = format!(
                    "The acceptance of {} owned by {} {} ({file} line {})",
                    note.target,
                    note.owner,
                    what(note),
                    note.line
                );
                let fingerprint = sha256_hex(
                    format!("{}|{}|{}|{}", rule.id, note.target, note.owner, note.until).as_bytes(),
                );
                self.push_note(rule.clone(), text, note.line, fingerprint);
            }
        }
    }

    fn push_note(&mut self, rule: Rule, text: String, line: usize, fingerprint: String) {
        let level = rule.level;
        let id = rule.id.clone();
        let index = self.rule_index(rule);
        let place = self.gate_place(line);
        self.results.push(json!({
            "ruleId": id,
            "ruleIndex": index,
            "level": level,
            "message": { "text": format!("{text}.") },
            "locations": [location(&place)],
            "partialFingerprints": { FINGERPRINT_KEY: fingerprint },
        }));
    }

    #[expect(clippy::too_many_arguments, reason = "one call per kind of result")]
    fn push(
        &mut self,
        rule: Rule,
        severity: Severity,
        sentences: Vec<String>,
        place: Place,
        fingerprint: String,
        state: State,
        record: &CheckRecord,
    ) {
        let id = rule.id.clone();
        let index = self.rule_index(rule);
        let mut result = json!({
            "ruleId": id,
            "ruleIndex": index,
            "level": level(severity),
            "message": { "text": paragraph(&sentences) },
            "locations": [location(&place)],
            "partialFingerprints": { FINGERPRINT_KEY: nonempty(&fingerprint, &sha256_hex(id.as_bytes())) },
            "properties": {
                "severity": severity.as_str(),
                "state": state.label(),
                "check": record.name,
                "outcome": record.outcome.label(),
            },
        });
        if let State::Accepted(justification) = &state {
            result["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": justification,
            }]);
        }
        self.results.push(result);
    }

    /// The index of `rule` in `tool.driver.rules`, adding it on first use; a later result may
    /// raise the rule's severity (scanner ids shared by findings of different severities).
    fn rule_index(&mut self, rule: Rule) -> usize {
        if let Some(index) = self.rules.iter().position(|known| known.id == rule.id) {
            let known = &mut self.rules[index];
            if let (Some(old), Some(new)) = (known.severity, rule.severity) {
                if new < old {
                    known.severity = Some(new);
                    known.level = level(new);
                }
            }
            return index;
        }
        self.rules.push(rule);
        self.rules.len() - 1
    }

    fn check_rule(&self, record: &CheckRecord, check: Option<&Check>, severity: Severity) -> Rule {
        let name = &record.name;
        let Some(check) = check else {
            return Rule {
                id: name.clone(),
                name: name.clone(),
                short: format!("{name} (a record of a check the gate file does not list)"),
                full: format!(
                    "The ledger holds a failed record of {name}, which the gate file does not list: the gate file changed after the run, or the record is from another gate."
                ),
                help: "Rerun the gate with the current gate file.".to_string(),
                markdown: "Rerun the gate with the current gate file (`cargo xtask gate`).".to_string(),
                help_uri: None,
                severity: Some(severity),
                level: level(severity),
                tags: tags(&["security", "relgate", severity.as_str()]),
            };
        };
        let (short, what, kind_tag) = match &check.kind {
            CheckKind::Command(command) => {
                let codes = exit_codes(&command.expect_exit);
                (
                    format!("{name}: {} exits {codes}", code(&command.display)),
                    format!("runs {} and expects exit code {codes}", code(&command.display)),
                    "command",
                )
            }
            CheckKind::Grep(grep) => {
                let files = grep.files.join(" ");
                let pattern = grep.pattern.as_str();
                match grep.expect {
                    GrepExpect::Match => (
                        format!("{name}: /{pattern}/ matches in {files}"),
                        format!("searches {files} for /{pattern}/ and expects at least one matching line"),
                        "grep",
                    ),
                    GrepExpect::NoMatch => (
                        format!("{name}: no line of {files} matches /{pattern}/"),
                        format!("searches {files} for /{pattern}/ and expects no matching line"),
                        "grep",
                    ),
                }
            }
            CheckKind::Probe(probe) => (
                format!("{name}: the {} probe finds no weakness", probe.kind),
                format!(
                    "runs the built-in {} probe against the running system ({} cases: {})",
                    code(&probe.kind),
                    probe.cases.len(),
                    if probe.cases.is_empty() { "none".to_string() } else { probe.cases.join(", ") }
                ),
                "probe",
            ),
            CheckKind::Scan(scan) => (
                format!(
                    "{name}: the {} scan writes a report relgate can read",
                    scan.format.name()
                ),
                format!(
                    "runs the scanner {} and triages each finding of its {} report; no report, an unreadable one or a scanner error fails the check",
                    code(&scan.command.display),
                    scan.format.name()
                ),
                "scan",
            ),
        };
        let reproduce = format!("cargo xtask gate -- --exact {name}");
        Rule {
            id: name.clone(),
            name: name.clone(),
            short,
            full: format!(
                "{} {what}; timeout {}. {}",
                self.declared(check),
                crate::spec::format_duration(check.timeout),
                severity_meaning(severity)
            ),
            help: format!(
                "Reproduce it with `{reproduce}` and read the check's log (named in the result with its sha256). Fix the cause; if the risk is understood and owned, accept it in {} with an [[accept]] entry: check = \"{name}\", owner, until, reason.",
                self.gate_file()
            ),
            markdown: format!(
                "Reproduce it with {} and read the check's log (named in the result with its sha256). Fix the cause; if the risk is understood and owned, accept it in {}:\n\n```toml\n[[accept]]\ncheck = \"{name}\"\nowner = \"…\"\nuntil = \"YYYY-MM-DD\"\nreason = \"…\"\n```",
                code(&reproduce),
                code(&self.gate_file())
            ),
            help_uri: None,
            severity: Some(severity),
            level: level(severity),
            tags: tags(&["security", "relgate", kind_tag, severity.as_str()]),
        }
    }

    fn case_rule(
        &self,
        record: &CheckRecord,
        check: Option<&Check>,
        case: &str,
        severity: Severity,
    ) -> Rule {
        let name = format!("{}::{case}", record.name);
        let (kind, declared) = match check {
            Some(check) => (
                match &check.kind {
                    CheckKind::Probe(probe) => probe.kind.clone(),
                    _ => "probe".to_string(),
                },
                self.declared(check),
            ),
            None => (
                "probe".to_string(),
                format!("Check {}, which the gate file does not list:", record.name),
            ),
        };
        let reproduce = format!("cargo xtask gate -- {}", record.name);
        Rule {
            id: name.clone(),
            name: name.clone(),
            short: format!("{name}: case {case} of the {kind} probe holds"),
            full: format!(
                "{declared} case {} of the built-in {} probe fails when the target accepts the attack or the property does not hold, and is inconclusive when the probe could not tell (which fails it too). {}",
                code(case),
                code(&kind),
                severity_meaning(severity)
            ),
            help: format!(
                "Reproduce it with `{reproduce}`; the check's log holds the case table with what was sent and what came back (redacted). Fix the target; if the risk is understood and owned, accept the whole check in {} with an [[accept]] entry: check = \"{}\", owner, until, reason.",
                self.gate_file(),
                record.name
            ),
            markdown: format!(
                "Reproduce it with {}; the check's log holds the case table with what was sent and what came back (redacted). See the `{kind}` probe in the README. Fix the target; if the risk is understood and owned, accept the whole check in {}:\n\n```toml\n[[accept]]\ncheck = \"{}\"\nowner = \"…\"\nuntil = \"YYYY-MM-DD\"\nreason = \"…\"\n```",
                code(&reproduce),
                code(&self.gate_file()),
                record.name
            ),
            help_uri: None,
            severity: Some(severity),
            level: level(severity),
            tags: tags(&["security", "relgate", "probe", &kind, severity.as_str()]),
        }
    }

    fn finding_rule(
        &self,
        record: &CheckRecord,
        finding: &Finding,
        scanner: &str,
        severity: Severity,
    ) -> Rule {
        let id = &finding.id;
        let title = nonempty(&finding.title, id);
        let rule_kind = nonempty(&finding.rule, "finding");
        let help_uri = advisory_uri(id);
        let see = help_uri
            .as_ref()
            .map(|uri| format!("See {uri}. "))
            .unwrap_or_default();
        let p0 =
            "A P0 finding cannot be accepted: if it is not P0, lower it in the scan's overrides.";
        Rule {
            id: id.clone(),
            name: format!("{scanner}/{rule_kind}"),
            short: title.clone(),
            full: format!(
                "{} ({rule_kind}, reported by the {scanner} scan {}). {}",
                title.trim_end_matches('.'),
                record.name,
                severity_meaning(severity)
            ),
            help: format!(
                "{see}Fix it (for a dependency: upgrade or remove the package); if it does not apply, accept it in {} with an [[accept]] entry: finding = \"{id}\", owner, until, reason. {p0}",
                self.gate_file()
            ),
            markdown: format!(
                "{see}Fix it (for a dependency: upgrade or remove the package); if it does not apply, accept it in {}:\n\n```toml\n[[accept]]\nfinding = \"{id}\"\nowner = \"…\"\nuntil = \"YYYY-MM-DD\"\nreason = \"…\"\n```\n\n{p0}",
                code(&self.gate_file())
            ),
            help_uri,
            severity: Some(severity),
            level: level(severity),
            tags: tags(&["security", "relgate", "scan", scanner, rule_kind.as_str(), severity.as_str()]),
        }
    }

    /// `Check api-suites of packet SEC-01 (title), declared at packets.toml line 47,`
    fn declared(&self, check: &Check) -> String {
        let title = self
            .gate
            .packet(&check.packet)
            .map(|packet| packet.title.as_str())
            .filter(|title| !title.is_empty() && *title != check.packet)
            .map(|title| format!(" ({title})"))
            .unwrap_or_default();
        format!(
            "Check {} of packet {}{title}, declared at {} line {}:",
            check.id,
            check.packet,
            self.gate_file(),
            check.line
        )
    }

    fn finish(self, ledger: &Ledger) -> Value {
        let header = ledger.header();
        let version = header
            .map(|header| header.relgate_version.as_str())
            .filter(|version| !version.is_empty())
            .unwrap_or(env!("CARGO_PKG_VERSION"));
        let rules: Vec<Value> = self.rules.iter().map(rule_json).collect();
        let mut invocation = json!({
            "executionSuccessful": self.verdict.is_some() && self.notifications.is_empty(),
        });
        if let Some(started) = header
            .map(|header| header.started.as_str())
            .filter(|started| crate::clock::parse_timestamp(started).is_some())
        {
            invocation["startTimeUtc"] = json!(started);
        }
        if !self.notifications.is_empty() {
            invocation["toolExecutionNotifications"] = Value::Array(self.notifications);
        }
        let mut run = json!({
            "tool": {
                "driver": {
                    "name": "relgate",
                    "version": version,
                    "semanticVersion": version,
                    "rules": rules,
                }
            },
            "automationDetails": { "id": format!("{}/", nonempty(&self.gate.name, "relgate")) },
            "invocations": [invocation],
            "results": self.results,
        });
        let properties = run_properties(header, self.verdict);
        if !properties.is_empty() {
            run["properties"] = Value::Object(properties);
        }
        json!({
            "$schema": SCHEMA_URI,
            "version": "2.1.0",
            "runs": [run],
        })
    }
}

/// The run's provenance: SARIF's `versionControlProvenance` needs a repository URI, which the
/// ledger does not have, so the commit goes here.
fn run_properties(
    header: Option<&RunHeader>,
    verdict: Option<&VerdictRecord>,
) -> Map<String, Value> {
    let mut properties = Map::new();
    let mut put = |key: &str, value: &str| {
        if !value.is_empty() {
            properties.insert(key.to_string(), json!(value));
        }
    };
    if let Some(header) = header {
        put("gate", &header.gate);
        put("gateFile", &header.gate_file);
        put("gateSha256", &header.gate_sha256);
        if let Some(head) = &header.git_head {
            put("gitCommit", head);
        }
        if let Some(dirty) = header.git_dirty {
            put("gitDirty", if dirty { "true" } else { "false" });
        }
        put("runId", &header.run_id);
        put("mode", &header.mode);
    }
    if let Some(verdict) = verdict {
        put("decision", verdict.decision.label());
        put("asOf", &verdict.as_of);
    }
    properties
}

fn rule_json(rule: &Rule) -> Value {
    let mut help = json!({ "text": rule.help });
    if !rule.markdown.is_empty() {
        help["markdown"] = json!(rule.markdown);
    }
    let mut properties = json!({ "tags": rule.tags });
    if let Some(severity) = rule.severity {
        properties["security-severity"] = json!(security_severity(severity));
    }
    let mut value = json!({
        "id": rule.id,
        "name": rule.name,
        "shortDescription": { "text": rule.short },
        "fullDescription": { "text": rule.full },
        "help": help,
        "defaultConfiguration": { "level": rule.level },
        "properties": properties,
    });
    if let Some(uri) = &rule.help_uri {
        value["helpUri"] = json!(uri);
    }
    value
}

fn location(place: &Place) -> Value {
    let mut value = json!({
        "physicalLocation": {
            "artifactLocation": { "uri": uri_path(&place.path), "uriBaseId": SRCROOT },
            "region": { "startLine": place.line.max(1) },
        }
    });
    if let Some((name, qualified)) = &place.package {
        value["logicalLocations"] = json!([{
            "name": nonempty(name, qualified),
            "fullyQualifiedName": qualified,
            "kind": "package",
        }]);
    }
    value
}

/// The advisory page of a well-known advisory id.
fn advisory_uri(id: &str) -> Option<String> {
    let safe = !id.is_empty()
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
    if !safe {
        return None;
    }
    if id.starts_with("RUSTSEC-") {
        Some(format!("https://rustsec.org/advisories/{id}.html"))
    } else if id.starts_with("GHSA-") {
        Some(format!("https://github.com/advisories/{id}"))
    } else if id.starts_with("CVE-") {
        Some(format!("https://nvd.nist.gov/vuln/detail/{id}"))
    } else {
        None
    }
}

fn severity_meaning(severity: Severity) -> &'static str {
    match severity {
        Severity::P0 => "P0: a failure blocks the release unless a risk acceptance covers it.",
        Severity::P1 => {
            "P1: a failure must be triaged; it blocks the release without a risk acceptance."
        }
        Severity::P2 => "P2: a failure does not block the release; it is tracked for follow-up.",
    }
}

/// `0`, `0 or 1`.
fn exit_codes(codes: &[i32]) -> String {
    match codes {
        [] => "0".to_string(),
        codes => codes
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// Unique, non-empty tags in the order given.
fn tags(words: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in words {
        let word = word.trim();
        if !word.is_empty() && !out.iter().any(|known| known == word) {
            out.push(word.to_string());
        }
    }
    out
}

/// Sentences joined, each ending in one full stop.
fn paragraph(sentences: &[String]) -> String {
    sentences
        .iter()
        .map(|sentence| sentence.trim().trim_end_matches('.'))
        .filter(|sentence| !sentence.is_empty())
        .map(|sentence| format!("{sentence}."))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` on one line, or `fallback` when it is blank: SARIF consumers reject empty strings.
fn nonempty(text: &str, fallback: &str) -> String {
    let text = text.replace("\r\n", " ").replace(['\n', '\r'], " ");
    if text.trim().is_empty() {
        fallback.to_string()
    } else {
        text
    }
}

/// An inline code span (Markdown) holding any text.
fn code(text: &str) -> String {
    crate::tracker::code(&nonempty(text, "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_lock_lines_name_the_package_of_that_version() {
        let lock = "version = 3\n\n[[package]]\nname = \"rsa\"\nversion = \"0.9.7\"\n\n[[package]]\nname = \"rsa\"\nversion = \"0.9.8\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        assert_eq!(
            lockfile_line("Cargo.lock", lock, "rsa", Some("0.9.8")),
            Some(8)
        );
        assert_eq!(lockfile_line("Cargo.lock", lock, "rsa", None), Some(4));
        assert_eq!(
            lockfile_line("Cargo.lock", lock, "rsa", Some("1.0.0")),
            Some(4)
        );
        assert_eq!(lockfile_line("Cargo.lock", lock, "paste", None), None);
    }

    #[test]
    fn package_lock_lines_prefer_the_top_level_entry() {
        let lock = "{\n  \"packages\": {\n    \"node_modules/a/node_modules/@scope/b\": {\n      \"version\": \"1.0.0\"\n    },\n    \"node_modules/@scope/b\": {\n      \"version\": \"2.0.0\"\n    }\n  }\n}\n";
        assert_eq!(
            lockfile_line("package-lock.json", lock, "@scope/b", None),
            Some(6)
        );
        assert_eq!(lockfile_line("package-lock.json", lock, "b", None), None);
    }

    #[test]
    fn paths_are_normalised_and_encoded() {
        assert_eq!(
            normalize("./tree/../ci//deploy.yml").as_deref(),
            Some("ci/deploy.yml")
        );
        assert_eq!(normalize("../outside"), None);
        assert_eq!(uri_path("docs/my file:1.md"), "docs/my%20file%3A1.md");
        assert_eq!(percent_decode("/tmp/my%20file%zz"), "/tmp/my file%zz");
    }

    #[test]
    fn texts_are_never_empty() {
        assert_eq!(nonempty(" \n", "fallback"), "fallback");
        assert_eq!(
            paragraph(&["a.".into(), String::new(), "b".into()]),
            "a. b."
        );
        assert_eq!(tags(&["x", "", "x", "y"]), ["x", "y"]);
        assert_eq!(code("a`b"), "`` a`b ``");
    }

    #[test]
    fn well_known_advisories_link_to_their_page() {
        assert_eq!(
            advisory_uri("RUSTSEC-2023-0071").as_deref(),
            Some("https://rustsec.org/advisories/RUSTSEC-2023-0071.html")
        );
        assert_eq!(advisory_uri("generic-api-key"), None);
        assert_eq!(advisory_uri("RUSTSEC-../x"), None);
    }
}
