//! Reviews in the verdict (with `[review]`): each packet's review state from the reviews the run
//! read (`review::state`) against what the packet is now — the run's code, the packet's
//! definition, its outcomes — and, for the packets `[review] require` names, GO only when they
//! are APPROVED. Pure: `report::finish` and `verify` apply it to the same records.

use crate::evidence::{fragment, CheckRecord, Decision, PacketReview, ReviewEntry, ReviewRecord};
use crate::plan;
use crate::review::record::{by_name, outcomes_digest, Binding};
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
    // Without the digest of a clean commit (the run's tree had other changes) nothing is bound
    // to what ran: no review may match, not even one whose record names an empty code.
    let valid: Vec<&ReviewRecord> = match code {
        Some(_) => entries
            .iter()
            .filter_map(|entry| entry.review.as_ref())
            .collect(),
        None => Vec::new(),
    };
    let index = by_name(records);
    for packet in &gate.packets {
        let current = Binding {
            code: code.unwrap_or_default().to_string(),
            packet: packet.definition.clone().unwrap_or_default(),
            outcomes: outcomes_digest(packet, &index, &gate.accepts, today),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ReviewDecision;

    #[test]
    fn without_a_clean_commit_no_review_matches_not_even_one_naming_an_empty_code() {
        let text = "[[packet]]\nid = \"A\"\n[review]\nallowed_signers = \"s\"\nrequire = true\n";
        let gate = crate::spec::parse(std::path::Path::new("/r/packets.toml"), text).unwrap();
        let packet = &gate.packets[0];
        let forged = ReviewRecord {
            version: 1,
            gate: gate.name.clone(),
            packet: "A".into(),
            decision: ReviewDecision::Approved,
            reviewer: "rita@example.com".into(),
            key: "SHA256:k".into(),
            time: "2026-12-04T00:00:00.000Z".into(),
            commit: "c".into(),
            binding: Binding {
                code: String::new(),
                packet: packet.definition.clone().unwrap(),
                outcomes: outcomes_digest(packet, &by_name(&[]), &[], NaiveDate::MIN),
            },
            note: String::new(),
            findings: Vec::new(),
        };
        let entries = [ReviewEntry {
            file: "A/x.json".into(),
            review: Some(forged),
            refused: None,
        }];
        let decide = |code| {
            let mut verdict =
                super::super::decide(&gate, &[], NaiveDate::MIN, super::super::Stage::Final);
            apply(&mut verdict, &gate, (&entries, code), &[], NaiveDate::MIN);
            verdict
        };
        let dirty = decide(None);
        let review = dirty.packets[0].review.as_ref().unwrap();
        assert_eq!(review.state, "PENDING_REVIEW");
        assert_eq!(dirty.record.decision, Decision::NoGo);
        // The same record against a run whose code digest is empty text would have matched.
        assert_eq!(
            decide(Some("")).packets[0].review.as_ref().unwrap().state,
            "APPROVED"
        );
    }
}
