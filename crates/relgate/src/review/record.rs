//! An approval (or a request for changes) as it is committed to the repository: a JSON record
//! and, beside it, its SSH signature (`NAME.json.sig`, as `ssh-keygen -Y sign` names it).
//!
//! The record is bound to what was reviewed by three digests ([`Binding`]): the code (the
//! commit's tree, approvals left out), the packet's definition in the gate file, and its checks'
//! outcomes and exit codes in the run the reviewer looked at. A rerun of the same commit with the
//! same outcomes keeps an approval; a change to any of the three makes it stale.

use serde::{Deserialize, Serialize};

use crate::evidence::{CaseKind, CheckRecord};
use crate::model::digest::sha256_hex;

/// The version of the record format.
pub const RECORD_VERSION: u32 = 1;

/// What the reviewer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReviewDecision {
    /// `cargo xtask gate approve`.
    Approved,
    /// `cargo xtask gate request-changes`.
    ChangesRequested,
}

impl ReviewDecision {
    /// `APPROVED`, `CHANGES_REQUESTED`.
    pub fn label(self) -> &'static str {
        match self {
            ReviewDecision::Approved => "APPROVED",
            ReviewDecision::ChangesRequested => "CHANGES_REQUESTED",
        }
    }
}

/// What a review is bound to; each is a sha256 in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// The code: [`super::code::code_digest`] of the commit (its tree, the approvals directory
    /// left out).
    pub code: String,
    /// The packet's definition: [`super::definition::packet_digest`].
    pub packet: String,
    /// The packet's checks' outcomes and exit codes in the run: [`outcomes_digest`].
    pub outcomes: String,
}

/// One review of one packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRecord {
    /// [`RECORD_VERSION`].
    pub version: u32,
    /// The gate's name.
    pub gate: String,
    /// The packet's id.
    pub packet: String,
    /// Approved, or changes requested.
    pub decision: ReviewDecision,
    /// Who reviewed: the identity the allowed signers file lists for the signing key.
    pub reviewer: String,
    /// The signing key's fingerprint (`SHA256:…`).
    pub key: String,
    /// When (RFC 3339, UTC).
    pub time: String,
    /// The commit reviewed (`git rev-parse HEAD`): the checkpoint a rollback reverts.
    pub commit: String,
    /// What the review is bound to.
    pub binding: Binding,
    /// The reviewer's note.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// Findings of a request for changes, one per entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

impl ReviewRecord {
    /// The record as it is written and signed: pretty JSON and a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a review record serializes");
        bytes.push(b'\n');
        bytes
    }
}

/// The digest of a packet's outcomes in a run: for each of its checks (not its checklist items,
/// which the verdict derives), in name order, `name outcome exit-code` on a line of its own.
/// Checks without a record are `name missing`.
pub fn outcomes_digest(packet: &crate::spec::Packet, records: &[CheckRecord]) -> String {
    let mut lines: Vec<String> = packet
        .checks
        .iter()
        .map(|check| {
            let name = check.name();
            match records
                .iter()
                .find(|record| record.name == name && record.case_kind != CaseKind::Checklist)
            {
                Some(record) => format!(
                    "{name} {} {}",
                    record.outcome.label(),
                    record
                        .exit_code
                        .map_or_else(|| "-".to_string(), |code| code.to_string())
                ),
                None => format!("{name} missing"),
            }
        })
        .collect();
    lines.sort();
    sha256_hex(lines.join("\n").as_bytes())
}
