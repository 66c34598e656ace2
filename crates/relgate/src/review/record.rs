//! What a review is bound to, computed from a run: the digest of a packet's outcomes. The
//! review record itself is evidence (`evidence::review_record`): the ledger keeps the reviews a
//! run read.
//!
//! A record is bound to what was reviewed by three digests (`Binding`): the code (the commit's
//! tree, approvals left out), the packet's definition in the gate file, and its checks'
//! outcomes and exit codes in the run the reviewer looked at. A rerun of the same commit with
//! the same outcomes keeps an approval; a change to any of the three makes it stale.

pub use crate::evidence::{Binding, ReviewDecision, ReviewRecord, RECORD_VERSION};
use crate::evidence::{CaseKind, CheckRecord};
use crate::model::digest::sha256_hex;

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
