//! Triage: what one check's evidence, or one scan finding, means for the release — blocking,
//! accepted (a valid `[[accept]]` covers it), tracked (P2) — and whether a checklist item holds.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::evidence::{CheckRecord, Outcome};
use crate::scan::Finding;
use crate::spec::{AcceptTarget, Acceptance, Check, ChecklistItem, Packet, Satisfaction, Severity};

/// What a check's evidence means for the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triage {
    /// It passed.
    Passed,
    /// It passed on a later attempt after failing: a condition of the release at the check's
    /// severity (a flaky security check is itself a finding), never a clean pass.
    Flaky,
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
        matches!(
            self,
            Triage::Passed | Triage::Flaky | Triage::Accepted(_) | Triage::Tracked
        )
    }
}

/// What one scanner finding means for the release: P0 and P1 block unless a valid acceptance
/// covers them (owner, follow-up date, reason: the seed's "must be resolved or accepted with
/// explicit owner + follow-up date"), P2 is tracked (or accepted, when an acceptance names it).
/// An accepted finding is a residual risk: the verdict is then at best GO_WITH_CONDITIONS.
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

pub use crate::scan::names_finding;

/// Triage of one finding.
pub fn triage_finding(finding: &Finding, accepts: &[Acceptance], today: NaiveDate) -> FindingState {
    let covering = accepts
        .iter()
        .find(|acceptance| names_finding(acceptance, finding) && is_valid(acceptance, today));
    match (finding.severity, covering) {
        (_, Some(acceptance)) => FindingState::Accepted(acceptance.clone()),
        (Severity::P0 | Severity::P1, None) => FindingState::Blocking,
        (Severity::P2, None) => FindingState::Tracked,
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
        Outcome::Pass if record.is_flaky() => Triage::Flaky,
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
