//! A human review as evidence: the record a reviewer signs (`cargo xtask gate approve`, see
//! `review/`), what it is bound to, and the ledger's entry for each review a run read — valid,
//! or refused with the reason.

use serde::{Deserialize, Serialize};

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
    /// The code: `review::code::code_digest` of the commit (its tree, the approvals directory
    /// left out).
    pub code: String,
    /// The packet's definition: `spec::Packet::definition`.
    pub packet: String,
    /// The packet's checks' outcomes and exit codes in the run: `review::record::outcomes_digest`.
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

/// A review as the run read it from the reviews directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewEntry {
    /// The record file, relative to the reviews directory.
    pub file: String,
    /// The review, when its signature, key and signer held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewRecord>,
    /// Why it does not count, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}
