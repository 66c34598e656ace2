//! The records of what ran: the run header, one record per check or checklist item (with a
//! probe's cases), one per service.

use serde::{Deserialize, Serialize};

use super::EMPTY_SHA256;
use crate::model::Severity;

/// The run header: what was run, from which tree, by which relgate, where and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    /// Gate name.
    pub gate: String,
    /// Path of the gate file.
    pub gate_file: String,
    /// The gate file's path relative to the root of its git repository (`git rev-parse
    /// --show-prefix` and its name), for reports read on other machines; `None` outside a
    /// checkout (and in ledgers written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_path: Option<String>,
    /// sha256 of the gate file.
    pub gate_sha256: String,
    /// `git rev-parse HEAD` of the gate file's repository, if any.
    pub git_head: Option<String>,
    /// Whether `git status --porcelain` showed changes.
    pub git_dirty: Option<bool>,
    /// With `[review]`: the digest of the code the run ran (the commit's tree without the
    /// reviews, see `review::code`), or `None` when the working tree had other changes; reviews
    /// are bound to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// relgate version.
    pub relgate_version: String,
    /// Start of the run (RFC 3339, UTC).
    pub started: String,
    /// Host name.
    pub host: String,
    /// Run id: the nextest run id for joined fragments, or a fresh one.
    pub run_id: String,
    /// How the run was driven: `xtask`, `cargo-test`, `nextest`, `merge`.
    pub mode: String,
    /// A shard of a gate split across machines: its partition and the trials it was
    /// responsible for (`None` for a run that was not split; see `run/shard.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// A merged run (`gate merge`): the shards it joined, in partition order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<MergedShard>,
    /// The head of the evidence fragments' journal this ledger was made from (`gate report`
    /// of a nextest run: the sha256 of its last line, whose chain covers every line before
    /// it). A signature over the ledger then covers the journal line for line, so a shard's
    /// journal cannot be changed after its job signed it (`gate merge` checks it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_head: Option<String>,
}

/// What a shard was responsible for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// nextest's partition, `slice:M/N` or `hash:M/N`.
    pub partition: String,
    /// Every trial of the gate in this partition, in nextest's order (sorted by name).
    pub trials: Vec<String>,
}

/// One shard a merged run joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedShard {
    /// Its partition.
    pub partition: String,
    /// Its run id.
    pub run_id: String,
    /// The host it ran on.
    pub host: String,
    /// When it started.
    pub started: String,
    /// The sha256 of its journal's last line (the head of its chain), verified by the merge.
    pub journal_head: String,
    /// How many trials it was responsible for.
    pub trials: usize,
    /// How many of them it ran.
    pub ran: usize,
}

impl RunHeader {
    /// The gate file as reports name it: its path in the repository when known, else the
    /// path the run was given.
    pub fn gate_shown(&self) -> &str {
        self.gate_path.as_deref().unwrap_or(&self.gate_file)
    }
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
    /// The earlier attempts of a check that was run again (`retries`, a nextest retry, or a
    /// run of the same check in another shard of a merged run), oldest first; this record is
    /// the last attempt. A pass after a failed attempt is flaky ([`CheckRecord::is_flaky`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<CheckRecord>,
    /// In a sharded run: the partition of the shard that ran this attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
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
            attempts: Vec::new(),
            shard: None,
        }
    }

    /// It passed on its last attempt after an earlier attempt failed: a condition of the
    /// release at the check's severity, never a clean pass.
    pub fn is_flaky(&self) -> bool {
        self.outcome == Outcome::Pass
            && self
                .attempts
                .iter()
                .any(|attempt| attempt.outcome.is_failure())
    }

    /// How many times the check ran: its earlier attempts and this one.
    pub fn attempt_count(&self) -> usize {
        self.attempts.len() + 1
    }

    /// This record as the newest attempt after `earlier` (oldest first). Attempts are kept
    /// flat: an earlier record's own attempts come before it.
    pub fn after_attempts(mut self, earlier: Vec<CheckRecord>) -> CheckRecord {
        let mut flat = Vec::new();
        for mut attempt in earlier {
            flat.append(&mut attempt.attempts);
            flat.push(attempt);
        }
        flat.append(&mut self.attempts);
        self.attempts = flat;
        self
    }

    /// Where the log of `check` of `packet` is, relative to the out directory (written only
    /// when the check printed something).
    pub fn log_path(packet: &str, check: &str) -> String {
        format!("logs/{packet}/{check}.log")
    }

    /// Where the log of attempt `attempt` (from 1) of `check` is: the first attempt's is
    /// [`CheckRecord::log_path`], a later one's `logs/<packet>/<check>.attempts/<k>.log`, so
    /// no attempt's evidence is ever overwritten by the next.
    pub fn attempt_log_path(packet: &str, check: &str, attempt: usize) -> String {
        Self::attempt_path(&Self::log_path(packet, check), attempt)
    }

    /// The path of `first` (an attempt-1 path such as `reports/P/c.json`) for attempt
    /// `attempt`: `first` itself for attempt 1, else `reports/P/c.attempts/<k>.json`.
    pub fn attempt_path(first: &str, attempt: usize) -> String {
        if attempt <= 1 {
            return first.to_string();
        }
        let (stem, extension) = match first.rsplit_once('.') {
            Some((stem, extension)) if !extension.contains('/') => (stem, format!(".{extension}")),
            _ => (first, String::new()),
        };
        format!("{stem}.attempts/{attempt}{extension}")
    }

    /// Every attempt of the check with its number, oldest first: the earlier attempts
    /// (1, 2, …), then this record, the last.
    pub fn numbered_attempts(&self) -> impl Iterator<Item = (usize, &CheckRecord)> {
        self.attempts
            .iter()
            .chain(std::iter::once(self))
            .enumerate()
            .map(|(index, attempt)| (index + 1, attempt))
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

#[cfg(test)]
mod tests {
    use super::CheckRecord;

    #[test]
    fn attempt_paths_keep_the_first_and_give_each_later_attempt_its_own() {
        assert_eq!(
            CheckRecord::attempt_log_path("SEC.01", "c.v2", 1),
            "logs/SEC.01/c.v2.log"
        );
        assert_eq!(
            CheckRecord::attempt_log_path("SEC.01", "c.v2", 2),
            "logs/SEC.01/c.v2.attempts/2.log"
        );
        assert_eq!(
            CheckRecord::attempt_path("reports/P/scan.sarif", 11),
            "reports/P/scan.attempts/11.sarif"
        );
        assert_eq!(
            CheckRecord::attempt_path("reports/P.x/c", 2),
            "reports/P.x/c.attempts/2"
        );
    }
}
