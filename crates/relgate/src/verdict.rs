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

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use crate::evidence::{
    AcceptanceNote, CaseKind, CheckRecord, Decision, FindingNote, GateResult, Outcome,
    PacketRecord, PacketStatus, ResidualRisk, VerdictRecord,
};
use crate::plan;
use crate::scan::Finding;
use crate::spec::{
    AcceptTarget, Acceptance, Check, ChecklistItem, Gate, Packet, Satisfaction, Severity,
};

/// What a check's evidence means for the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triage {
    /// It passed.
    Passed,
    /// It failed and a valid acceptance covers it.
    Accepted(Acceptance),
    /// It failed at P2 without an acceptance: tracked, not blocking.
    Tracked,
    /// It failed and blocks the release.
    Blocking,
    /// It was skipped because a dependency is not DONE.
    Skipped,
    /// No evidence for it in this run.
    NotRun,
}

impl Triage {
    /// Whether a checklist item naming this check holds.
    pub fn satisfies_checklist(&self) -> bool {
        matches!(self, Triage::Passed | Triage::Accepted(_) | Triage::Tracked)
    }
}

/// What one scanner finding means for the release: P0 blocks, P1 blocks unless a valid
/// acceptance covers it, P2 is tracked (or accepted, when an acceptance names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindingState {
    /// It blocks the release.
    Blocking,
    /// A valid acceptance covers it.
    Accepted(Acceptance),
    /// P2 without an acceptance: tracked.
    Tracked,
}

impl FindingState {
    /// `blocking`, `accepted` or `tracked`.
    pub fn label(&self) -> &'static str {
        match self {
            FindingState::Blocking => "blocking",
            FindingState::Accepted(_) => "accepted",
            FindingState::Tracked => "tracked",
        }
    }
}

/// Whether an acceptance names this finding (by id, rule or fingerprint).
pub fn names_finding(acceptance: &Acceptance, finding: &Finding) -> bool {
    match &acceptance.target {
        AcceptTarget::Finding(key) => {
            key.eq_ignore_ascii_case(&finding.id)
                || key.eq_ignore_ascii_case(&finding.rule)
                || *key == finding.fingerprint
        }
        AcceptTarget::Check(_) => false,
    }
}

/// Triage of one finding.
pub fn triage_finding(finding: &Finding, accepts: &[Acceptance], today: NaiveDate) -> FindingState {
    let covering = accepts
        .iter()
        .find(|acceptance| names_finding(acceptance, finding) && is_valid(acceptance, today));
    match (finding.severity, covering) {
        (Severity::P0, _) => FindingState::Blocking,
        (_, Some(acceptance)) => FindingState::Accepted(acceptance.clone()),
        (Severity::P1, None) => FindingState::Blocking,
        (Severity::P2, None) => FindingState::Tracked,
    }
}

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

/// Acceptances valid on `today` (inclusive of the `until` day).
pub fn is_valid(acceptance: &Acceptance, today: NaiveDate) -> bool {
    acceptance.until >= today
}

/// Triage of one check given its evidence.
pub fn triage_check(
    check: &Check,
    record: Option<&CheckRecord>,
    accepts: &[Acceptance],
    today: NaiveDate,
) -> Triage {
    let Some(record) = record else {
        return Triage::NotRun;
    };
    match record.outcome {
        Outcome::Pass => Triage::Passed,
        Outcome::Skipped => Triage::Skipped,
        Outcome::Fail | Outcome::Error => {
            let name = check.name();
            let covering = accepts.iter().find(|acceptance| {
                acceptance.target == AcceptTarget::Check(name.clone())
                    && is_valid(acceptance, today)
            });
            if let Some(acceptance) = covering {
                return Triage::Accepted(acceptance.clone());
            }
            // A scan with a parsed report is judged by its findings.
            if !record.findings.is_empty() {
                let states: Vec<FindingState> = record
                    .findings
                    .iter()
                    .map(|finding| triage_finding(finding, accepts, today))
                    .collect();
                if states.contains(&FindingState::Blocking) {
                    return Triage::Blocking;
                }
                return states
                    .into_iter()
                    .find_map(|state| match state {
                        FindingState::Accepted(acceptance) => Some(Triage::Accepted(acceptance)),
                        _ => None,
                    })
                    .unwrap_or(Triage::Tracked);
            }
            if check.severity == Severity::P2 {
                Triage::Tracked
            } else {
                Triage::Blocking
            }
        }
    }
}

/// Whether a checklist item holds, and a one-line reason.
pub fn checklist_holds(
    packet: &Packet,
    item: &ChecklistItem,
    triage: &BTreeMap<String, Triage>,
    today: NaiveDate,
) -> (bool, String) {
    match &item.satisfied_by {
        Satisfaction::Attested { by, on } if *on > today => (
            false,
            format!("attestation by {by} is dated {on}, after today ({today})"),
        ),
        Satisfaction::Attested { by, on } => (true, format!("attested by {by} on {on}")),
        Satisfaction::Checks(ids) => {
            let mut missing = Vec::new();
            for id in ids {
                let name = format!("{}::{}", packet.id, id);
                match triage.get(&name).unwrap_or(&Triage::NotRun) {
                    state if state.satisfies_checklist() => {}
                    Triage::Blocking => missing.push(format!("{name} failed")),
                    Triage::Skipped => missing.push(format!("{name} was skipped")),
                    _ => missing.push(format!("{name} has no evidence")),
                }
            }
            if missing.is_empty() {
                (true, format!("satisfied by {}", ids.join(", ")))
            } else {
                (false, format!("not satisfied: {}", missing.join("; ")))
            }
        }
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

/// Each scan finding's severity and whether it blocks, by check name.
fn findings_by_check<'r>(
    by_name: &BTreeMap<&'r str, &CheckRecord>,
    accepts: &[Acceptance],
    today: NaiveDate,
) -> BTreeMap<&'r str, Vec<(Severity, bool)>> {
    by_name
        .iter()
        .map(|(name, record)| {
            let triaged = record
                .findings
                .iter()
                .map(|finding| {
                    let state = triage_finding(finding, accepts, today);
                    (finding.severity, state == FindingState::Blocking)
                })
                .collect();
            (*name, triaged)
        })
        .collect()
}

fn packet_record(
    packet: &Packet,
    triage: &BTreeMap<String, Triage>,
    checklist: &BTreeMap<String, (bool, String)>,
    blocked_by: Vec<String>,
    statuses: &BTreeMap<&str, PacketStatus>,
    finding_triage: &BTreeMap<&str, Vec<(Severity, bool)>>,
) -> PacketRecord {
    let mut gates = BTreeMap::new();
    if !blocked_by.is_empty() {
        for severity in [Severity::P0, Severity::P1, Severity::P2] {
            gates.insert(severity, GateResult::NotRun);
        }
        let reasons = blocked_by
            .iter()
            .map(|dep| {
                let status = statuses
                    .get(dep.as_str())
                    .copied()
                    .unwrap_or(PacketStatus::Pending);
                format!("blocked by {dep} ({})", status.label())
            })
            .collect();
        return PacketRecord {
            packet: packet.id.clone(),
            status: PacketStatus::Blocked,
            gates,
            blocked_by,
            reasons,
        };
    }

    let mut reasons = Vec::new();
    let mut blocking = false;
    let mut not_run = false;
    let mut seen: BTreeMap<Severity, (bool, bool)> = BTreeMap::new(); // (blocking, conditional)
    for check in &packet.checks {
        let name = check.name();
        // A scan's review gates sit at its findings' severities, not at the check's: a blocking
        // finding fails its severity's gate, an accepted or tracked one makes it conditional.
        let findings = finding_triage
            .get(name.as_str())
            .filter(|findings| !findings.is_empty());
        match (triage.get(&name).unwrap_or(&Triage::NotRun), findings) {
            (Triage::Passed, _) => {}
            (
                whole @ (Triage::Accepted(_) | Triage::Tracked | Triage::Blocking),
                Some(findings),
            ) => {
                // An acceptance of the whole check covers every finding, P0 included.
                let covered = matches!(whole, Triage::Accepted(acceptance)
                    if acceptance.target == AcceptTarget::Check(name.clone()));
                let findings: Vec<(Severity, bool)> = findings
                    .iter()
                    .map(|(severity, blocks)| (*severity, *blocks && !covered))
                    .collect();
                for (severity, blocks) in &findings {
                    let entry = seen.entry(*severity).or_default();
                    if *blocks {
                        entry.0 = true;
                    } else {
                        entry.1 = true;
                    }
                }
                let blocking_severities: BTreeSet<&str> = findings
                    .iter()
                    .filter(|(_, blocks)| *blocks)
                    .map(|(severity, _)| severity.as_str())
                    .collect();
                if blocking_severities.is_empty() && matches!(whole, Triage::Blocking) {
                    seen.entry(check.severity).or_default().0 = true;
                    blocking = true;
                    reasons.push(format!("{name} failed ({})", check.severity.as_str()));
                } else if !blocking_severities.is_empty() {
                    blocking = true;
                    let count = findings.iter().filter(|(_, blocks)| *blocks).count();
                    reasons.push(format!(
                        "{name} failed: {count} blocking finding{} ({})",
                        if count == 1 { "" } else { "s" },
                        blocking_severities
                            .into_iter()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            (Triage::Accepted(_) | Triage::Tracked, None) => {
                seen.entry(check.severity).or_default().1 = true
            }
            (Triage::Blocking, None) => {
                seen.entry(check.severity).or_default().0 = true;
                blocking = true;
                reasons.push(format!("{name} failed ({})", check.severity.as_str()));
            }
            (Triage::Skipped | Triage::NotRun, _) => {
                not_run = true;
                reasons.push(format!("{name} has no evidence in this run"));
            }
        }
    }
    let mut unsatisfied = false;
    for item in &packet.checklist {
        let name = packet.checklist_name(item);
        if let Some((false, why)) = checklist.get(&name) {
            unsatisfied = true;
            reasons.push(format!("{name}: {why}"));
        }
    }
    let all_missing = !packet.checks.is_empty()
        && packet.checks.iter().all(|check| {
            matches!(
                triage.get(&check.name()),
                Some(Triage::NotRun | Triage::Skipped) | None
            )
        });
    for severity in [Severity::P0, Severity::P1, Severity::P2] {
        let (has_blocking, has_condition) = seen.get(&severity).copied().unwrap_or_default();
        let result = if all_missing {
            GateResult::NotRun
        } else if has_blocking {
            GateResult::Fail
        } else if has_condition {
            GateResult::Conditional
        } else {
            GateResult::Pass
        };
        gates.insert(severity, result);
    }
    // A checklist item that fails only because its checks did not run leaves the packet PENDING.
    let status = if blocking {
        PacketStatus::ChangesRequested
    } else if not_run {
        PacketStatus::Pending
    } else if unsatisfied {
        PacketStatus::ChangesRequested
    } else {
        PacketStatus::Done
    };
    PacketRecord {
        packet: packet.id.clone(),
        status,
        gates,
        blocked_by,
        reasons,
    }
}

fn verdict_record(
    gate: &Gate,
    packets: &[PacketRecord],
    triage: &BTreeMap<String, Triage>,
    records: &BTreeMap<&str, &CheckRecord>,
    today: NaiveDate,
) -> VerdictRecord {
    let mut residual_risks = Vec::new();
    let mut used: BTreeSet<usize> = BTreeSet::new();
    let mut findings = Vec::new();
    let mut reasons = Vec::new();
    for packet in &gate.packets {
        for check in &packet.checks {
            let name = check.name();
            let state = triage.get(&name);
            let record = records.get(name.as_str());
            let scanned = record.filter(|record| !record.findings.is_empty());
            if let Some(record) = scanned {
                // Covered as a whole by an acceptance of the check: one residual risk below.
                let whole = match state {
                    Some(Triage::Accepted(acceptance))
                        if acceptance.target == AcceptTarget::Check(name.clone()) =>
                    {
                        Some(acceptance.clone())
                    }
                    _ => None,
                };
                for finding in &record.findings {
                    let finding_state = match &whole {
                        Some(acceptance) => FindingState::Accepted(acceptance.clone()),
                        None => triage_finding(finding, &gate.accepts, today),
                    };
                    for acceptance in gate.accepts.iter().filter(|acceptance| {
                        names_finding(acceptance, finding) && is_valid(acceptance, today)
                    }) {
                        used.insert(acceptance.line);
                        if finding.severity == Severity::P0 {
                            reasons.push(format!(
                                "acceptance of {} (line {}) cannot cover P0 finding {} of {name}: a P0 blocks the release; if it is not P0, say so in the scan's `overrides`",
                                acceptance.target.describe(),
                                acceptance.line,
                                finding.id
                            ));
                        }
                    }
                    let acceptance = match &finding_state {
                        FindingState::Accepted(acceptance) => Some(format!(
                            "{} until {} (line {}): {}",
                            acceptance.owner, acceptance.until, acceptance.line, acceptance.reason
                        )),
                        _ => None,
                    };
                    if whole.is_none() {
                        let risk = |state: &str, owner, until, reason| ResidualRisk {
                            check: format!("{name} {}", finding.id),
                            severity: finding.severity,
                            state: state.to_string(),
                            owner,
                            until,
                            reason,
                        };
                        match &finding_state {
                            FindingState::Accepted(acceptance) => residual_risks.push(risk(
                                "accepted",
                                Some(acceptance.owner.clone()),
                                Some(acceptance.until.to_string()),
                                acceptance.reason.clone(),
                            )),
                            FindingState::Tracked => residual_risks.push(risk(
                                "tracked",
                                packet.implementer.clone(),
                                None,
                                format!("P2 finding tracked: {}", finding.title),
                            )),
                            FindingState::Blocking => {}
                        }
                    }
                    findings.push(FindingNote {
                        check: name.clone(),
                        id: finding.id.clone(),
                        rule: finding.rule.clone(),
                        severity: finding.severity,
                        title: finding.title.clone(),
                        location: finding.location.clone(),
                        fingerprint: finding.fingerprint.clone(),
                        state: finding_state.label().to_string(),
                        acceptance,
                    });
                }
                if whole.is_none() {
                    continue;
                }
            }
            match state {
                Some(Triage::Accepted(acceptance)) => {
                    used.insert(acceptance.line);
                    residual_risks.push(ResidualRisk {
                        check: name,
                        severity: check.severity,
                        state: "accepted".to_string(),
                        owner: Some(acceptance.owner.clone()),
                        until: Some(acceptance.until.to_string()),
                        reason: acceptance.reason.clone(),
                    });
                }
                Some(Triage::Tracked) => residual_risks.push(ResidualRisk {
                    check: name,
                    severity: check.severity,
                    state: "tracked".to_string(),
                    owner: packet.implementer.clone(),
                    until: None,
                    reason: "P2 failure tracked for post-release follow-up".to_string(),
                }),
                _ => {}
            }
        }
    }
    let note = |acceptance: &Acceptance| AcceptanceNote {
        target: acceptance.target.describe(),
        owner: acceptance.owner.clone(),
        until: acceptance.until.to_string(),
        line: acceptance.line,
    };
    let expired_acceptances: Vec<AcceptanceNote> = gate
        .accepts
        .iter()
        .filter(|acceptance| !is_valid(acceptance, today))
        .map(note)
        .collect();
    let unused_acceptances: Vec<AcceptanceNote> = gate
        .accepts
        .iter()
        .filter(|acceptance| is_valid(acceptance, today) && !used.contains(&acceptance.line))
        .map(note)
        .collect();

    for packet in packets {
        if packet.status != PacketStatus::Done {
            let why = if packet.reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", packet.reasons.join("; "))
            };
            reasons.push(format!(
                "{} is {}{why}",
                packet.packet,
                packet.status.label()
            ));
        }
    }
    let all_done = packets
        .iter()
        .all(|packet| packet.status == PacketStatus::Done);
    let decision = if !all_done {
        Decision::NoGo
    } else if !residual_risks.is_empty() {
        Decision::GoWithConditions
    } else {
        Decision::Go
    };
    if decision != Decision::Go {
        for expired in &expired_acceptances {
            reasons.push(format!(
                "acceptance of {} (line {}) expired on {}: ignored",
                expired.target, expired.line, expired.until
            ));
        }
    }
    if decision == Decision::GoWithConditions {
        for risk in &residual_risks {
            reasons.push(format!(
                "{} failed ({}), {}",
                risk.check,
                risk.severity.as_str(),
                risk.state
            ));
        }
    }
    VerdictRecord {
        decision,
        as_of: today.to_string(),
        residual_risks,
        expired_acceptances,
        unused_acceptances,
        reasons,
        findings,
    }
}

/// The end of a run: its records in the gate file's order (checklist records it brought are
/// dropped, they are recomputed; a record the gate does not list is dropped), the final verdict
/// on them, and one record per checklist item after them (`now` is their timestamp).
pub fn conclude(
    gate: &Gate,
    records: Vec<CheckRecord>,
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
    let verdict = decide(gate, &checks, today, Stage::Final);
    let checklist = checklist_records(gate, &verdict, now);
    checks.extend(checklist);
    (checks, verdict)
}

/// One record per checklist item, as the verdict judged it (`now` is their timestamp): pure, so
/// that `verify` recomputes them.
pub fn checklist_records(gate: &Gate, verdict: &Verdict, now: &str) -> Vec<CheckRecord> {
    let mut records = Vec::new();
    for packet in &gate.packets {
        let blocked = verdict
            .packet(&packet.id)
            .is_some_and(|record| record.status == PacketStatus::Blocked);
        for item in &packet.checklist {
            let name = packet.checklist_name(item);
            let (holds, why) = verdict.checklist.get(&name).cloned().unwrap_or_default();
            let (outcome, message) = if blocked {
                let deps = verdict
                    .packet(&packet.id)
                    .map(|record| record.blocked_by.join(", "))
                    .unwrap_or_default();
                (Outcome::Skipped, format!("blocked by {deps}"))
            } else if holds {
                (Outcome::Pass, why)
            } else {
                (Outcome::Fail, why)
            };
            records.push(CheckRecord {
                name,
                started: now.to_string(),
                ended: now.to_string(),
                notes: vec![item.text.clone()],
                ..CheckRecord::new(
                    &packet.id,
                    &format!("checklist::{}", item.slug),
                    CaseKind::Checklist,
                    Severity::P0,
                    outcome,
                    message,
                )
            });
        }
    }
    records
}
