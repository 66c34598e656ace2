//! What a review is bound to, computed from a run: the digest of a packet's outcomes. The
//! review record itself is evidence (`evidence::review_record`): the ledger keeps the reviews a
//! run read.
//!
//! A record is bound to what was reviewed by three digests (`Binding`): the code (the commit's
//! tree, approvals left out), the packet's definition in the gate file, and its checks'
//! outcomes and exit codes in the run the reviewer looked at. A rerun of the same commit with
//! the same outcomes keeps an approval; a change to any of the three makes it stale.

pub use crate::evidence::{Binding, ReviewDecision, ReviewRecord, RECORD_VERSION};
use std::collections::HashMap;

use crate::evidence::{CaseKind, CheckRecord};
use crate::model::digest::sha256_hex;

/// The run's check records by test-case name (checklist records left out): what
/// [`outcomes_digest`] looks each check up in, so binding every packet costs the size of the
/// run, not its square.
pub fn by_name(records: &[CheckRecord]) -> HashMap<&str, &CheckRecord> {
    records
        .iter()
        .filter(|record| record.case_kind != CaseKind::Checklist)
        .map(|record| (record.name.as_str(), record))
        .collect()
}

/// The digest of a packet's outcomes in a run: for each of its checks (not its checklist items,
/// which the verdict derives), in name order, `name outcome exit-code` on a line of its own —
/// `name missing` without a record — then each acceptance in force on `today` that names one
/// of its checks or one of their findings (target, owner, until, reason). So an approval binds
/// the acceptances it saw: an accepted P0 is approved with its acceptance, and a new or changed
/// acceptance makes the approval stale.
/// `records` is [`by_name`] of the run's records, built once for all packets.
pub fn outcomes_digest(
    packet: &crate::spec::Packet,
    records: &HashMap<&str, &CheckRecord>,
    accepts: &[crate::spec::Acceptance],
    today: chrono::NaiveDate,
) -> String {
    let mut lines: Vec<String> = packet
        .checks
        .iter()
        .map(|check| {
            let name = check.name();
            match records.get(name.as_str()) {
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
    for check in &packet.checks {
        let name = check.name();
        let findings: Vec<&crate::scan::Finding> = records
            .get(name.as_str())
            .map(|record| record.findings.iter().collect())
            .unwrap_or_default();
        for acceptance in accepts
            .iter()
            .filter(|acceptance| acceptance.until >= today)
        {
            let names = match &acceptance.target {
                crate::spec::AcceptTarget::Check(target) => *target == name,
                crate::spec::AcceptTarget::Finding(_) => findings
                    .iter()
                    .any(|finding| crate::scan::names_finding(acceptance, finding)),
            };
            if names {
                lines.push(format!(
                    "{name} accepted: {} by {} until {}: {}",
                    acceptance.target.describe(),
                    acceptance.owner,
                    acceptance.until,
                    acceptance.reason
                ));
            }
        }
    }
    lines.sort();
    sha256_hex(lines.join("\n").as_bytes())
}
