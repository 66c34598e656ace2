//! Reviews in the verdict (with `[review]`): each packet's review state from the reviews the run
//! read (`review::state`) against what the packet is now — the run's code, the packet's
//! definition, its outcomes — and, for the packets `[review] require` names, GO only when they
//! are APPROVED. Pure: `report::finish` and `verify` apply it to the same records.

use crate::evidence::{fragment, CheckRecord, Decision, PacketReview, ReviewEntry, ReviewRecord};
use crate::plan;
use crate::review::record::{outcomes_digest, Binding};
use crate::review::state::{review_state, ReviewState};
use crate::spec::Gate;
use chrono::NaiveDate;
use std::collections::BTreeMap;

use super::Verdict;

/// Sets each packet's review and, when a required packet is not APPROVED, makes the decision
/// NO_GO with the reason. `code` is the run's code digest (`RunHeader::code`); `records` its
/// check records. Without `[review]` it changes nothing.
pub fn apply(
    verdict: &mut Verdict,
    gate: &Gate,
    reviews: (&[ReviewEntry], Option<&str>),
    records: &[CheckRecord],
    today: NaiveDate,
) {
    let Some(config) = &gate.review else {
        return;
    };
    let (entries, code) = reviews;
    // A required packet needs its predecessors DONE and APPROVED too (the seeds' final packet
    // "requires all predecessor packets to be DONE/APPROVED"): each required packet's
    // ancestors are required, naming who needs them.
    let mut required: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for id in &config.required {
        required.entry(id.as_str()).or_default();
        for ancestor in plan::ancestors(gate, id) {
            required
                .entry(ancestor.id.as_str())
                .or_default()
                .push(id.as_str());
        }
    }
    let valid: Vec<&ReviewRecord> = entries
        .iter()
        .filter_map(|entry| entry.review.as_ref())
        .collect();
    for packet in &gate.packets {
        let current = Binding {
            code: code.unwrap_or_default().to_string(),
            packet: packet.definition.clone().unwrap_or_default(),
            outcomes: outcomes_digest(packet, records, &gate.accepts, today),
        };
        let state = review_state(
            &gate.name,
            &packet.id,
            packet.implementer.as_deref(),
            &valid,
            &current,
            config.two_person,
        );
        let mut notes = match &state {
            ReviewState::Stale(why) | ReviewState::PendingReview(why) => why.clone(),
            _ => Vec::new(),
        };
        if code.is_none() {
            notes.push(
                "the run's working tree had changes outside the reviews (or no commit): no \
                 review matches it"
                    .to_string(),
            );
        }
        let folder = format!("{}/", fragment::encode(&packet.id));
        notes.extend(
            entries
                .iter()
                .filter(|entry| entry.file.starts_with(&folder))
                .filter_map(|entry| {
                    entry
                        .refused
                        .as_ref()
                        .map(|why| format!("{} does not count: {why}", entry.file))
                }),
        );
        let needed_by = required.get(packet.id.as_str());
        let required = needed_by.is_some();
        let review = match &state {
            ReviewState::Approved(review) | ReviewState::ChangesRequested(review) => {
                Some(review.clone())
            }
            _ => None,
        };
        if required && !matches!(state, ReviewState::Approved(_)) {
            verdict.record.decision = Decision::NoGo;
            let by: Vec<&str> = needed_by
                .into_iter()
                .flatten()
                .copied()
                .filter(|dependent| *dependent != packet.id)
                .collect();
            verdict.record.reasons.push(if by.is_empty() {
                format!(
                    "{} is {}: [review] requires it APPROVED",
                    packet.id,
                    state.label()
                )
            } else {
                format!(
                    "{} is {}: [review] requires it APPROVED before {}",
                    packet.id,
                    state.label(),
                    by.join(", ")
                )
            });
        }
        if let Some(record) = verdict
            .packets
            .iter_mut()
            .find(|record| record.packet == packet.id)
        {
            record.review = Some(PacketReview {
                state: state.label().to_string(),
                required,
                review,
                notes,
            });
        }
    }
}
