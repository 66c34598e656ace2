//! The records the verdict writes into the ledger: one per packet, the verdict's own, and one
//! per checklist item — pure functions of the gate, the triage and today's date, so that
//! `verify` recomputes them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::triage::{is_valid, names_finding, triage_finding, FindingState, Triage};
use super::Verdict;
use crate::evidence::{
    AcceptanceNote, CaseKind, CheckRecord, Decision, FindingNote, GateResult, Outcome,
    PacketRecord, PacketStatus, ResidualRisk, VerdictRecord,
};
use crate::spec::{AcceptTarget, Acceptance, Gate, Packet, Severity};

/// Each scan finding's severity and whether it blocks, by check name.
pub(super) fn findings_by_check<'r>(
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

pub(super) fn packet_record(
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
            review: None,
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
            (Triage::Accepted(_) | Triage::Tracked, None) | (Triage::Flaky, _) => {
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
        review: None,
    }
}

/// Why a flaky check is a condition: its attempts, oldest first.
fn flaky_reason(record: &CheckRecord) -> String {
    let attempts: Vec<String> = record
        .attempts
        .iter()
        .chain(std::iter::once(record))
        .enumerate()
        .map(|(index, attempt)| {
            let place = attempt
                .shard
                .as_deref()
                .map_or_else(String::new, |shard| format!(" (shard {shard})"));
            format!(
                "attempt {} {}{place}: {}",
                index + 1,
                attempt.outcome.label(),
                attempt.message
            )
        })
        .collect();
    format!("flaky: passed only after failing ({})", attempts.join("; "))
}

pub(super) fn verdict_record(
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
                Some(Triage::Flaky) => residual_risks.push(ResidualRisk {
                    check: name,
                    severity: check.severity,
                    state: "flaky".to_string(),
                    owner: packet.implementer.clone(),
                    until: None,
                    reason: record.map_or_else(String::new, |record| flaky_reason(record)),
                }),
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
    // The most severe conditions first (an accepted P0 leads), in gate order within a severity.
    residual_risks.sort_by_key(|risk| risk.severity);
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
