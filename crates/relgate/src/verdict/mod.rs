//! The verdict: a pure function of the gate, the evidence and today's date.
//!
//! Rules (from the seeds' trackers, see PRODUCT.md):
//! - a failing check is **blocking** unless a valid `[[accept]]` covers it (**accepted**) or its
//!   severity is P2 (**tracked**); expired acceptances are ignored and reported;
//! - a checklist item holds when every check it names passed, is accepted or is tracked, or
//!   when a dated attestation (not in the future) covers it;
//! - a packet is BLOCKED when a dependency is not DONE, CHANGES_REQUESTED when something
//!   blocking failed or a checklist item does not hold, PENDING when a check has no evidence,
//!   DONE otherwise;
//! - the release is NO_GO unless every packet is DONE; GO_WITH_CONDITIONS when residual risks
//!   (accepted or tracked failures) remain; GO otherwise.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::evidence::{CaseKind, CheckRecord, PacketRecord, PacketStatus, VerdictRecord};
use crate::plan;
use crate::spec::{Acceptance, Gate, Packet};

mod records;
pub mod review;
mod triage;

pub use records::checklist_records;
use records::{findings_by_check, packet_record, verdict_record};
pub use triage::{
    checklist_holds, is_valid, names_finding, triage_check, triage_finding, FindingState, Triage,
};

/// When the verdict is computed: at the end of a run, or while a run is under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Final: a packet without complete evidence is PENDING and blocks its dependents.
    Final,
    /// During a run: only a dependency that is CHANGES_REQUESTED or BLOCKED blocks; one that is
    /// not part of this run (filtered out) does not stop the selected checks from running.
    Running,
}

/// The verdict of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// One record per packet, in file order.
    pub packets: Vec<PacketRecord>,
    /// The decision and what it rests on.
    pub record: VerdictRecord,
    /// Triage of every check, by test-case name.
    pub triage: BTreeMap<String, Triage>,
    /// Checklist items, by test-case name: whether each holds and why.
    pub checklist: BTreeMap<String, (bool, String)>,
}

impl Verdict {
    /// The record of a packet.
    pub fn packet(&self, id: &str) -> Option<&PacketRecord> {
        self.packets.iter().find(|packet| packet.packet == id)
    }
}

/// Computes the verdict. Pure: no clock, no files.
pub fn decide(gate: &Gate, records: &[CheckRecord], today: NaiveDate, stage: Stage) -> Verdict {
    let by_name: BTreeMap<&str, &CheckRecord> = records
        .iter()
        .map(|record| (record.name.as_str(), record))
        .collect();
    let mut triage = BTreeMap::new();
    for check in gate.checks() {
        let name = check.name();
        let state = triage_check(
            check,
            by_name.get(name.as_str()).copied(),
            &gate.accepts,
            today,
        );
        triage.insert(name, state);
    }
    let mut checklist = BTreeMap::new();
    for packet in &gate.packets {
        for item in &packet.checklist {
            checklist.insert(
                packet.checklist_name(item),
                checklist_holds(packet, item, &triage, today),
            );
        }
    }

    let finding_triage = findings_by_check(&by_name, &gate.accepts, today);
    let mut statuses: BTreeMap<&str, PacketStatus> = BTreeMap::new();
    let mut packet_records: BTreeMap<&str, PacketRecord> = BTreeMap::new();
    for packet in plan::topological(gate) {
        let blocked_by = blocked_by(packet, &statuses, stage);
        let record = packet_record(
            packet,
            &triage,
            &checklist,
            blocked_by,
            &statuses,
            &finding_triage,
        );
        statuses.insert(&packet.id, record.status);
        packet_records.insert(&packet.id, record);
    }
    let packets: Vec<PacketRecord> = gate
        .packets
        .iter()
        .filter_map(|packet| packet_records.remove(packet.id.as_str()))
        .collect();

    let record = verdict_record(gate, &packets, &triage, &by_name, today);
    Verdict {
        packets,
        record,
        triage,
        checklist,
    }
}

/// The dependencies of `packet` that block it, given the statuses of the packets it depends on
/// (a dependency missing from `statuses` is PENDING).
fn blocked_by(
    packet: &Packet,
    statuses: &BTreeMap<&str, PacketStatus>,
    stage: Stage,
) -> Vec<String> {
    packet
        .depends_on
        .iter()
        .filter(|dep| {
            let status = statuses
                .get(dep.as_str())
                .copied()
                .unwrap_or(PacketStatus::Pending);
            match stage {
                Stage::Final => status != PacketStatus::Done,
                Stage::Running => matches!(
                    status,
                    PacketStatus::ChangesRequested | PacketStatus::Blocked
                ),
            }
        })
        .cloned()
        .collect()
}

/// The record of one packet from the evidence of its own checks (`records` may hold others;
/// only the packet's are read) and the statuses of the packets it depends on: what
/// [`decide`] computes for it, without looking at the rest of the gate. The runner uses it
/// while checks run, so deciding whether a packet is blocked costs the size of the packet,
/// not of the gate.
pub fn packet_alone(
    packet: &Packet,
    records: &[&CheckRecord],
    accepts: &[Acceptance],
    today: NaiveDate,
    stage: Stage,
    statuses: &BTreeMap<&str, PacketStatus>,
) -> PacketRecord {
    let by_name: BTreeMap<&str, &CheckRecord> = records
        .iter()
        .filter(|record| record.packet == packet.id)
        .map(|record| (record.name.as_str(), *record))
        .collect();
    let triage: BTreeMap<String, Triage> = packet
        .checks
        .iter()
        .map(|check| {
            let name = check.name();
            let state = triage_check(check, by_name.get(name.as_str()).copied(), accepts, today);
            (name, state)
        })
        .collect();
    let checklist: BTreeMap<String, (bool, String)> = packet
        .checklist
        .iter()
        .map(|item| {
            (
                packet.checklist_name(item),
                checklist_holds(packet, item, &triage, today),
            )
        })
        .collect();
    let finding_triage = findings_by_check(&by_name, accepts, today);
    packet_record(
        packet,
        &triage,
        &checklist,
        blocked_by(packet, statuses, stage),
        statuses,
        &finding_triage,
    )
}

/// The end of a run: its records in the gate file's order (checklist records it brought are
/// dropped, they are recomputed; a record the gate does not list is dropped), the final verdict
/// on them (with the reviews the run read and its code digest, see [`review::apply`]), and one
/// record per checklist item after them (`now` is their timestamp).
pub fn conclude(
    gate: &Gate,
    records: Vec<CheckRecord>,
    reviews: (&[crate::evidence::ReviewEntry], Option<&str>),
    today: NaiveDate,
    now: &str,
) -> (Vec<CheckRecord>, Verdict) {
    let mut by_name: BTreeMap<String, CheckRecord> = records
        .into_iter()
        .filter(|record| record.case_kind != CaseKind::Checklist)
        .map(|record| (record.name.clone(), record))
        .collect();
    let mut checks: Vec<CheckRecord> = Vec::new();
    for check in gate.checks() {
        if let Some(record) = by_name.remove(&check.name()) {
            checks.push(record);
        }
    }
    let mut verdict = decide(gate, &checks, today, Stage::Final);
    review::apply(&mut verdict, gate, reviews, &checks, today);
    let checklist = checklist_records(gate, &verdict, now);
    checks.extend(checklist);
    (checks, verdict)
}
