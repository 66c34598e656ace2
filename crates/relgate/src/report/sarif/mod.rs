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

mod locations;
mod results;
mod rules;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::evidence::{AcceptanceNote, Ledger, VerdictRecord};
use crate::report::view::ReportView;
use crate::spec::{Gate, Severity};

pub(crate) use locations::uri_path;
// Moved to `scan::lockfile` (scan knowledge); kept here for callers of the old path.
pub use crate::scan::lockfile::lockfile_line;

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
    /// lockfiles audit findings may point into ([`crate::scan::lockfile::read_lockfiles`]).
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
        let lockfiles = crate::scan::lockfile::read_lockfiles(gate);
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

/// Renders the view's gate and ledger (with [`SourceTree::read`]), redacts and writes
/// `out_dir/report.sarif` atomically
/// ([`crate::output::redaction::write_report`]); returns its path and the redacted document.
pub fn write_view(view: &ReportView<'_>) -> std::io::Result<(PathBuf, Value)> {
    let path = view.out_dir.join(SARIF_FILE);
    let tree = SourceTree::read(view.gate);
    let mut document = render_with(view.gate, view.ledger, &tree);
    // Every string redacted (the gate's own commands and titles included), so the document
    // returned for the CI annotations is the one on disk.
    crate::output::redaction::redact_json(&mut document);
    let mut text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
    text.push('\n');
    crate::output::redaction::write_report(&path, text.as_bytes())?;
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
    /// It passed only after failing: a condition at its severity (`Triage::Flaky`).
    Flaky,
    /// The ledger has no verdict record.
    Untriaged,
}

impl State {
    fn label(&self) -> &'static str {
        match self {
            State::Blocking => "blocking",
            State::Accepted(_) => "accepted",
            State::Tracked => "tracked",
            State::Flaky => "flaky",
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
    crate::report::markdown::code(&nonempty(text, "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_never_empty() {
        assert_eq!(nonempty(" \n", "fallback"), "fallback");
        assert_eq!(
            paragraph(&["a.".into(), String::new(), "b".into()]),
            "a. b."
        );
        assert_eq!(code("a`b"), "`` a`b ``");
    }
}
