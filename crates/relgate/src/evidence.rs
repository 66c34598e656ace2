//! The evidence ledger `evidence.jsonl`: one JSON object per line, each carrying the sha256 of
//! the line before it, so that any edit, insertion or deletion breaks the chain.
//!
//! Line 1 is the run [`RunHeader`]; then one [`CheckRecord`] per check and checklist item, one
//! [`PacketRecord`] per packet and one [`VerdictRecord`]. Evidence is written by the runner only:
//! probes and checks never write the ledger themselves.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::model::digest::{sha256_file, sha256_hex, EMPTY_SHA256};

use crate::model::Severity;

/// The file name of the ledger inside the out directory.
pub const LEDGER_FILE: &str = "evidence.jsonl";

/// The `prev` of the first line: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The run header: what was run, from which tree, by which relgate, where and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    /// Gate name.
    pub gate: String,
    /// Path of the gate file.
    pub gate_file: String,
    /// sha256 of the gate file.
    pub gate_sha256: String,
    /// `git rev-parse HEAD` of the gate file's repository, if any.
    pub git_head: Option<String>,
    /// Whether `git status --porcelain` showed changes.
    pub git_dirty: Option<bool>,
    /// relgate version.
    pub relgate_version: String,
    /// Start of the run (RFC 3339, UTC).
    pub started: String,
    /// Host name.
    pub host: String,
    /// Run id: the nextest run id for joined fragments, or a fresh one.
    pub run_id: String,
    /// How the run was driven: `xtask`, `cargo-test`, `nextest`.
    pub mode: String,
}

/// What became of one check or checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It ran and passed.
    Pass,
    /// It ran and failed (including timeouts and kills).
    Fail,
    /// It could not start (spawn failure, unreadable input).
    Error,
    /// It was not run because a dependency packet is not DONE.
    Skipped,
}

impl Outcome {
    /// `PASS`, `FAIL`, `ERROR`, `SKIPPED`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Error => "ERROR",
            Outcome::Skipped => "SKIPPED",
        }
    }

    /// A failure of either kind.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Error)
    }
}

/// What kind of test case a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// A `run = …` command.
    Command,
    /// A `grep = {…}` rule.
    Grep,
    /// A checklist item.
    Checklist,
    /// A built-in probe (`probe = "…"`); its cases are in [`CheckRecord::cases`].
    Probe,
    /// A scanner run (`scan = {…}`); its findings are in [`CheckRecord::findings`].
    Scan,
}

/// How one case of a probe came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseOutcome {
    /// The target refused the attack, or the property holds.
    Pass,
    /// The target accepted the attack, or the property does not hold.
    Fail,
    /// A control misbehaved or a precondition was missing: the probe could not tell.
    Inconclusive,
}

/// Evidence of one case of a probe (`SEC-01::jwt-forgery::expired`), redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeCase {
    /// Case name.
    pub name: String,
    /// Its outcome.
    pub outcome: CaseOutcome,
    /// One line saying why.
    pub message: String,
    /// What was sent (tokens and secrets redacted).
    pub sent: String,
    /// What came back.
    pub got: String,
}

/// Evidence of one check or checklist item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// Packet id.
    pub packet: String,
    /// Check id, or `checklist::<slug>` for a checklist item.
    pub check: String,
    /// Test-case name `PACKET::check`.
    pub name: String,
    /// Command, grep or checklist.
    pub case_kind: CaseKind,
    /// The program and arguments that ran (empty for grep and checklist).
    pub argv: Vec<String>,
    /// Working directory.
    pub cwd: String,
    /// Start (RFC 3339, UTC).
    pub started: String,
    /// End (RFC 3339, UTC).
    pub ended: String,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Exit code, when the process exited.
    pub exit_code: Option<i32>,
    /// Signal number, when the process was killed by a signal.
    pub signal: Option<i32>,
    /// Whether the gate killed it for running past its timeout.
    pub timed_out: bool,
    /// Log path relative to the out directory.
    pub log: Option<String>,
    /// Bytes in the log.
    pub bytes: u64,
    /// sha256 of the log.
    pub sha256: Option<String>,
    /// Outcome of the check itself, before triage.
    pub outcome: Outcome,
    /// Severity of a failure.
    pub severity: Severity,
    /// One line saying why: `exit 0`, `timed out after 2s`, `blocked by SEC-00`.
    pub message: String,
    /// Further facts worth keeping (isolated cargo target dir, dependencies not in this run…).
    #[serde(default)]
    pub notes: Vec<String>,
    /// A probe's cases, in report order (empty for other checks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<ProbeCase>,
    /// A scan's findings, as parsed from its report (empty for other checks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<crate::scan::Finding>,
    /// A scan's report, relative to the out directory (stored with raw secrets removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// sha256 of the stored report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_sha256: Option<String>,
    /// Processes that outlived the command by its leak timeout and were killed, as
    /// `pid N \`command line\``, redacted (empty for a contained command and other checks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leaked: Vec<String>,
}

impl CheckRecord {
    /// A record of `check` of `packet` with everything not given at its default: no command,
    /// no process status, no output, no notes, cases, findings or report, started and ended now.
    /// Callers set what their kind of check knows (`CheckRecord { exit_code, .., ..new }`), so
    /// a new field is added here once.
    pub fn new(
        packet: &str,
        check: &str,
        case_kind: CaseKind,
        severity: Severity,
        outcome: Outcome,
        message: String,
    ) -> CheckRecord {
        let now = crate::model::clock::format_timestamp(crate::model::clock::now());
        CheckRecord {
            packet: packet.to_string(),
            check: check.to_string(),
            name: format!("{packet}::{check}"),
            case_kind,
            argv: Vec::new(),
            cwd: String::new(),
            started: now.clone(),
            ended: now,
            duration_ms: 0,
            exit_code: None,
            signal: None,
            timed_out: false,
            log: None,
            bytes: 0,
            sha256: None,
            outcome,
            severity,
            message,
            notes: Vec::new(),
            cases: Vec::new(),
            findings: Vec::new(),
            report: None,
            report_sha256: None,
            leaked: Vec::new(),
        }
    }

    /// Where the log of `check` of `packet` is, relative to the out directory (written only
    /// when the check printed something).
    pub fn log_path(packet: &str, check: &str) -> String {
        format!("logs/{packet}/{check}.log")
    }

    /// The check ran and printed nothing: no log file, 0 bytes, the digest of no bytes.
    pub fn no_output(&self) -> bool {
        self.log.is_none() && self.bytes == 0 && self.sha256.as_deref() == Some(EMPTY_SHA256)
    }

    /// Fails a command's record whose containment failed — processes outlived the command, or
    /// its supervisor was killed — whatever else judged it: `why` is appended to the message.
    pub fn fail_containment(&mut self, why: Option<String>) {
        if let Some(why) = why {
            if self.outcome == Outcome::Pass {
                self.outcome = Outcome::Fail;
            }
            self.message = format!("{}; {why}", self.message);
        }
    }
}

/// Evidence of one service: how it started, how it ended, and its whole log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// Service name.
    pub name: String,
    /// `postgres-ephemeral`, `postgres-server` or `process`.
    pub service_kind: String,
    /// What was started, as run (passwords redacted).
    pub command: String,
    /// The address checks were given (passwords redacted); empty when it never started.
    pub url: String,
    /// Start (RFC 3339, UTC).
    pub started: String,
    /// Milliseconds until ready.
    pub ready_ms: u64,
    /// When it was stopped.
    pub stopped: String,
    /// `ready` or `failed`.
    pub outcome: String,
    /// One line: how it ended (`stopped`, `exited with 1 before ready`…).
    pub message: String,
    /// Log path relative to the out directory.
    pub log: Option<String>,
    /// Bytes in the log.
    pub bytes: u64,
    /// sha256 of the log.
    pub sha256: Option<String>,
}

/// Status of a packet, as on the seeds' packet board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PacketStatus {
    /// Every check passed (or its failure is accepted or tracked) and every checklist item holds.
    Done,
    /// Something blocking failed or a checklist item is not satisfied.
    ChangesRequested,
    /// A dependency is not DONE.
    Blocked,
    /// Not (completely) run in this run.
    Pending,
}

impl PacketStatus {
    /// `DONE`, `CHANGES_REQUESTED`, `BLOCKED`, `PENDING`.
    pub fn label(self) -> &'static str {
        match self {
            PacketStatus::Done => "DONE",
            PacketStatus::ChangesRequested => "CHANGES_REQUESTED",
            PacketStatus::Blocked => "BLOCKED",
            PacketStatus::Pending => "PENDING",
        }
    }
}

/// Result of one review gate (P0, P1 or P2) of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GateResult {
    /// Nothing of this severity failed.
    Pass,
    /// Something of this severity failed and every such failure is accepted (or, for P2, tracked).
    Conditional,
    /// An unaccepted failure of this severity.
    Fail,
    /// The packet did not run.
    NotRun,
}

impl GateResult {
    /// `PASS`, `CONDITIONAL`, `FAIL`, `NOT_RUN`.
    pub fn label(self) -> &'static str {
        match self {
            GateResult::Pass => "PASS",
            GateResult::Conditional => "CONDITIONAL",
            GateResult::Fail => "FAIL",
            GateResult::NotRun => "NOT_RUN",
        }
    }
}

/// Evidence of one packet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacketRecord {
    /// Packet id.
    pub packet: String,
    /// Status.
    pub status: PacketStatus,
    /// Review gates P0, P1, P2.
    pub gates: BTreeMap<Severity, GateResult>,
    /// Dependencies that are not DONE.
    pub blocked_by: Vec<String>,
    /// Why the packet is not DONE, one line each.
    pub reasons: Vec<String>,
}

/// The release verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// Release.
    Go,
    /// Release, with the residual risks listed.
    GoWithConditions,
    /// Do not release.
    NoGo,
}

impl Decision {
    /// `GO`, `GO_WITH_CONDITIONS`, `NO_GO`.
    pub fn label(self) -> &'static str {
        match self {
            Decision::Go => "GO",
            Decision::GoWithConditions => "GO_WITH_CONDITIONS",
            Decision::NoGo => "NO_GO",
        }
    }
}

/// A residual risk: a failure that does not block release, with who follows it up and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidualRisk {
    /// Test-case name of the failing check.
    pub check: String,
    /// Its severity.
    pub severity: Severity,
    /// `accepted` or `tracked` (P2 without acceptance).
    pub state: String,
    /// Owner from the acceptance, or the packet's implementer for a tracked P2.
    pub owner: Option<String>,
    /// Follow-up date: the acceptance's `until`.
    pub until: Option<String>,
    /// Reason from the acceptance, or the failure message.
    pub reason: String,
}

/// An acceptance that did not apply, reported so the gate file does not rot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptanceNote {
    /// `check SEC-02::npm-audit`.
    pub target: String,
    /// Owner.
    pub owner: String,
    /// Until.
    pub until: String,
    /// Line in the gate file.
    pub line: usize,
}

/// The verdict record, the last line of a complete ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    /// GO, GO_WITH_CONDITIONS or NO_GO.
    pub decision: Decision,
    /// The date acceptances were judged against.
    pub as_of: String,
    /// Residual risks.
    pub residual_risks: Vec<ResidualRisk>,
    /// Expired acceptances: ignored.
    pub expired_acceptances: Vec<AcceptanceNote>,
    /// Acceptances that matched no failure.
    pub unused_acceptances: Vec<AcceptanceNote>,
    /// Why the decision is not GO, one line each.
    pub reasons: Vec<String>,
    /// Every scanner finding of the run with its triage and the acceptance that covers it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingNote>,
}

impl VerdictRecord {
    /// How a failed record stands in this verdict: `Some("accepted")` or `Some("tracked")` when
    /// its failure is a condition, `None` when it blocks (or did not fail). A scan with findings
    /// is a condition only when none of its findings blocks.
    pub fn condition(&self, record: &CheckRecord) -> Option<&str> {
        if !record.outcome.is_failure() {
            return None;
        }
        if !record.findings.is_empty() {
            let states: Vec<&str> = self
                .findings
                .iter()
                .filter(|note| note.check == record.name)
                .map(|note| note.state.as_str())
                .collect();
            if states.is_empty() || states.contains(&"blocking") {
                return None;
            }
            return Some(if states.contains(&"accepted") {
                "accepted"
            } else {
                "tracked"
            });
        }
        self.residual_risks
            .iter()
            .find(|risk| risk.check == record.name)
            .map(|risk| risk.state.as_str())
    }
}

/// A scanner finding as the verdict judged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingNote {
    /// The scan check's test-case name.
    pub check: String,
    /// Finding id (`RUSTSEC-…`, a rule id).
    pub id: String,
    /// Rule or advisory kind.
    pub rule: String,
    /// Severity after mapping and overrides.
    pub severity: Severity,
    /// Title.
    pub title: String,
    /// `path:line` or `package@version`.
    pub location: Option<String>,
    /// Stable fingerprint.
    pub fingerprint: String,
    /// `blocking`, `accepted` or `tracked`.
    pub state: String,
    /// The acceptance that covers it: `owner until DATE (line N): reason`.
    pub acceptance: Option<String>,
}

/// One ledger line's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// The run header (first line).
    Header(RunHeader),
    /// A service the run started.
    Service(ServiceRecord),
    /// A check or checklist item.
    Check(CheckRecord),
    /// A packet.
    Packet(PacketRecord),
    /// The verdict (last line).
    Verdict(VerdictRecord),
}

/// One ledger line: sequence number, hash of the previous line, payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// 1-based line number.
    pub seq: u64,
    /// sha256 (hex) of the previous line's bytes without its newline; [`GENESIS`] for line 1.
    pub prev: String,
    /// The payload.
    #[serde(flatten)]
    pub record: Record,
}

/// [`Line`] as it is serialized, borrowing its record (the same JSON, without a copy).
#[derive(Serialize)]
struct LineRef<'a> {
    seq: u64,
    prev: &'a str,
    #[serde(flatten)]
    record: &'a Record,
}

/// The records of a run, in ledger order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    /// Payloads in order.
    pub records: Vec<Record>,
}

impl Ledger {
    /// The run header, if present.
    pub fn header(&self) -> Option<&RunHeader> {
        self.records.iter().find_map(|record| match record {
            Record::Header(header) => Some(header),
            _ => None,
        })
    }

    /// All check and checklist records.
    pub fn checks(&self) -> impl Iterator<Item = &CheckRecord> {
        self.records.iter().filter_map(|record| match record {
            Record::Check(check) => Some(check),
            _ => None,
        })
    }

    /// All service records.
    pub fn services(&self) -> impl Iterator<Item = &ServiceRecord> {
        self.records.iter().filter_map(|record| match record {
            Record::Service(service) => Some(service),
            _ => None,
        })
    }

    /// All packet records.
    pub fn packets(&self) -> impl Iterator<Item = &PacketRecord> {
        self.records.iter().filter_map(|record| match record {
            Record::Packet(packet) => Some(packet),
            _ => None,
        })
    }

    /// The verdict record, if present.
    pub fn verdict(&self) -> Option<&VerdictRecord> {
        self.records.iter().find_map(|record| match record {
            Record::Verdict(verdict) => Some(verdict),
            _ => None,
        })
    }

    /// Serializes the ledger with its hash chain.
    pub fn to_jsonl(&self) -> String {
        self.to_jsonl_and_head().0
    }

    /// [`Ledger::to_jsonl`] and the sha256 of its last line (the chain's head), or
    /// [`GENESIS`].
    fn to_jsonl_and_head(&self) -> (String, String) {
        let mut out = String::new();
        let mut prev = GENESIS.to_string();
        for (index, record) in self.records.iter().enumerate() {
            let line = LineRef {
                seq: index as u64 + 1,
                prev: &prev,
                record,
            };
            // Redacted before it is hashed, so the chain is the chain of what is written.
            let text = serde_json::to_string(&line).expect("ledger records serialize");
            let text = crate::redaction::redact(&text);
            let hash = sha256_hex(text.as_bytes());
            out.push_str(&text);
            out.push('\n');
            prev = hash;
        }
        (out, prev)
    }

    /// sha256 of the last line of [`Ledger::to_jsonl`] (the chain's head), or [`GENESIS`].
    pub fn head(&self) -> String {
        self.to_jsonl_and_head().1
    }

    /// Writes the ledger atomically to `<out>/evidence.jsonl`.
    pub fn write(&self, out_dir: &Path) -> std::io::Result<PathBuf> {
        Ok(self.write_with_head(out_dir)?.0)
    }

    /// [`Ledger::write`], also returning the [`Ledger::head`] (serializing once).
    pub fn write_with_head(&self, out_dir: &Path) -> std::io::Result<(PathBuf, String)> {
        let path = out_dir.join(LEDGER_FILE);
        let (text, head) = self.to_jsonl_and_head();
        crate::redaction::write_report(&path, text.as_bytes())?;
        Ok((path, head))
    }
}

/// What kind of problem `verify` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyErrorKind {
    /// The ledger could not be read.
    Unreadable,
    /// A line is not a ledger record.
    Malformed,
    /// A line's `prev` does not match the hash of the line before it.
    ChainBroken,
    /// A sequence number is wrong: a line was inserted or removed.
    Sequence,
    /// A log's size or digest differs from its record.
    LogChanged,
    /// A log named by a record is missing.
    LogMissing,
    /// The ledger does not end with a verdict record.
    NoVerdict,
    /// A record names a file outside the out directory.
    OutsideOutDir,
}

/// The first problem `verify` found, naming the ledger line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}{}: {message}", line.map(|line| format!(":{line}")).unwrap_or_default())]
pub struct VerifyError {
    /// Ledger path.
    pub path: String,
    /// 1-based line, when the problem is on one line.
    pub line: Option<usize>,
    /// What kind of problem.
    pub kind: VerifyErrorKind,
    /// Lowercase message.
    pub message: String,
}

/// Re-hashes the ledger chain in `out_dir` and every log it names; returns the ledger.
///
/// The first mismatch is returned, naming its line.
pub fn verify(out_dir: &Path) -> Result<Ledger, VerifyError> {
    verify_chain(out_dir).map(|(ledger, _)| ledger)
}

/// [`verify`], also returning the chain's head: the sha256 of the last line.
pub fn verify_chain(out_dir: &Path) -> Result<(Ledger, String), VerifyError> {
    let path = out_dir.join(LEDGER_FILE);
    let display = path.display().to_string();
    let error = |line: Option<usize>, kind: VerifyErrorKind, message: String| VerifyError {
        path: display.clone(),
        line,
        kind,
        message,
    };
    let file = std::fs::File::open(&path).map_err(|err| {
        error(
            None,
            VerifyErrorKind::Unreadable,
            format!("cannot read: {err}"),
        )
    })?;
    let mut prev = GENESIS.to_string();
    let mut ledger = Ledger::default();
    let mut count = 0usize;
    for (index, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let number = index + 1;
        let at = Some(number);
        let bytes = line.map_err(|err| {
            error(
                at,
                VerifyErrorKind::Unreadable,
                format!("cannot read: {err}"),
            )
        })?;
        let parsed: Line = serde_json::from_slice(&bytes).map_err(|err| {
            error(
                at,
                VerifyErrorKind::Malformed,
                format!("not a ledger record: {err}"),
            )
        })?;
        if parsed.prev != prev {
            return Err(error(
                at,
                VerifyErrorKind::ChainBroken,
                format!(
                    "hash chain broken: record {number} says the previous line hashed to {}, it hashes to {prev} (the previous line or this one was changed)",
                    parsed.prev
                ),
            ));
        }
        if parsed.seq != number as u64 {
            return Err(error(
                at,
                VerifyErrorKind::Sequence,
                format!(
                    "sequence number {}, expected {number} (a line was inserted or removed)",
                    parsed.seq
                ),
            ));
        }
        let log = match &parsed.record {
            Record::Check(check) => Some((&check.name, &check.log, &check.sha256, check.bytes)),
            Record::Service(service) => {
                Some((&service.name, &service.log, &service.sha256, service.bytes))
            }
            _ => None,
        };
        if let Some((name, Some(log), Some(sha256), bytes)) = log {
            if let Err((kind, message)) = verify_log(out_dir, name, log, sha256, Some(bytes)) {
                return Err(error(at, kind, message));
            }
        }
        if let Record::Check(check) = &parsed.record {
            if let Err(message) = verify_no_log(out_dir, check) {
                return Err(error(at, VerifyErrorKind::LogChanged, message));
            }
        }
        // A scan's stored report is evidence too.
        if let Record::Check(CheckRecord {
            name,
            report: Some(report),
            report_sha256: Some(sha256),
            ..
        }) = &parsed.record
        {
            if let Err((kind, message)) = verify_log(out_dir, name, report, sha256, None) {
                return Err(error(at, kind, message));
            }
        }
        prev = sha256_hex(&bytes);
        ledger.records.push(parsed.record);
        count = number;
    }
    if !matches!(ledger.records.last(), Some(Record::Verdict(_))) {
        return Err(error(
            None,
            VerifyErrorKind::NoVerdict,
            format!(
                "no verdict record: the ledger is incomplete or was truncated after line {count}"
            ),
        ));
    }
    Ok((ledger, prev))
}

/// A check record without a log must say so consistently: no bytes, no digest or the digest of
/// no bytes, and — when it claims the check ran and printed nothing — no log file on disk.
pub fn verify_no_log(out_dir: &Path, check: &CheckRecord) -> Result<(), String> {
    if check.log.is_some() {
        return Ok(());
    }
    let name = &check.name;
    if check.bytes != 0 {
        return Err(format!(
            "{name} records {} bytes of output but no log",
            check.bytes
        ));
    }
    let Some(sha256) = &check.sha256 else {
        return Ok(());
    };
    if sha256 != EMPTY_SHA256 {
        return Err(format!(
            "{name} records output with sha256 {sha256} but no log (no output is sha256 {EMPTY_SHA256})"
        ));
    }
    let relative = CheckRecord::log_path(&check.packet, &check.check);
    let plain = Path::new(&relative)
        .components()
        .all(|part| matches!(part, std::path::Component::Normal(_)));
    if plain && std::fs::symlink_metadata(out_dir.join(&relative)).is_ok() {
        return Err(format!(
            "{relative} exists, but the record of {name} says the check printed nothing"
        ));
    }
    Ok(())
}

fn verify_log(
    out_dir: &Path,
    name: &str,
    log: &str,
    recorded: &str,
    recorded_bytes: Option<u64>,
) -> Result<(), (VerifyErrorKind, String)> {
    let path = crate::containment::resolve(out_dir, log).map_err(|err| {
        (
            VerifyErrorKind::OutsideOutDir,
            format!("log {log} of {name}: {err}"),
        )
    })?;
    let (actual, actual_bytes) = sha256_file(&path).map_err(|err| {
        (
            VerifyErrorKind::LogMissing,
            format!("log {log} of {name} is missing: {err}"),
        )
    })?;
    if actual != recorded || recorded_bytes.is_some_and(|bytes| bytes != actual_bytes) {
        let size = recorded_bytes.map_or(String::new(), |bytes| format!("{bytes} bytes "));
        return Err((
            VerifyErrorKind::LogChanged,
            format!(
                "{log} of {name} changed: recorded {size}sha256 {recorded}, found {actual_bytes} bytes sha256 {actual}"
            ),
        ));
    }
    Ok(())
}
