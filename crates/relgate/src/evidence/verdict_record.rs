//! The records of what the run means: one per packet (status, review gates) and the verdict
//! (decision, residual risks, acceptances, findings as judged), as the ledger keeps them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CheckRecord, ReviewRecord};
use crate::model::Severity;

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
    /// With `[review]`: its review state and the review it rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<PacketReview>,
}

/// A packet's review as the verdict judged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketReview {
    /// `APPROVED`, `CHANGES_REQUESTED`, `STALE`, `PENDING_REVIEW`.
    pub state: String,
    /// Whether GO needs it APPROVED (`[review] require`).
    pub required: bool,
    /// The review the state rests on (approved, or changes requested), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewRecord>,
    /// Why no review counts, or why some do not: one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
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
