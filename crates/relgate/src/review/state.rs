//! A packet's review state from its valid reviews and what it is now: pure.
//!
//! - APPROVED: the latest review bound to the current code, definition and outcomes approves,
//!   by a reviewer other than the packet's implementer (the two-person rule, when on);
//! - CHANGES_REQUESTED: that latest current review asks for changes (its findings listed);
//! - STALE: there are reviews, none bound to what the packet is now (each says what changed);
//! - PENDING_REVIEW: no review counts.

use super::record::{Binding, ReviewDecision, ReviewRecord};

/// What the reviews of one packet amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewState {
    /// Approved for what the packet is now.
    Approved(ReviewRecord),
    /// Changes requested for what the packet is now.
    ChangesRequested(ReviewRecord),
    /// Reviewed, but for another commit, definition or outcome: why, one line per review.
    Stale(Vec<String>),
    /// Nobody reviewed it (or no review counts): why not, one line per review left out.
    PendingReview(Vec<String>),
}

impl ReviewState {
    /// `APPROVED`, `CHANGES_REQUESTED`, `STALE`, `PENDING_REVIEW`.
    pub fn label(&self) -> &'static str {
        match self {
            ReviewState::Approved(_) => "APPROVED",
            ReviewState::ChangesRequested(_) => "CHANGES_REQUESTED",
            ReviewState::Stale(_) => "STALE",
            ReviewState::PendingReview(_) => "PENDING_REVIEW",
        }
    }
}

/// The review state of `packet` (of gate `gate`, implemented by `implementer`) given its valid
/// reviews (any order; those of other packets or gates are ignored) and its `current` binding.
/// With `two_person`, an approval by the implementer does not count.
pub fn review_state(
    gate: &str,
    packet: &str,
    implementer: Option<&str>,
    reviews: &[&ReviewRecord],
    current: &Binding,
    two_person: bool,
) -> ReviewState {
    let mut mine: Vec<&ReviewRecord> = reviews
        .iter()
        .copied()
        .filter(|review| review.gate == gate && review.packet == packet)
        .collect();
    // Latest first; the time is RFC 3339 in UTC, so text order is time order.
    mine.sort_by(|a, b| b.time.cmp(&a.time));
    let mut left_out = Vec::new();
    let mut stale = Vec::new();
    for review in mine {
        let self_review = two_person
            && review.decision == ReviewDecision::Approved
            && implementer.is_some_and(|implementer| implementer == review.reviewer);
        if self_review {
            left_out.push(format!(
                "an approval by {} at {} does not count: {} implements the packet (two-person rule)",
                review.reviewer, review.time, review.reviewer
            ));
            continue;
        }
        if review.binding != *current {
            stale.push(format!(
                "{} by {} at {} (commit {}) was for {}",
                review.decision.label(),
                review.reviewer,
                review.time,
                short(&review.commit),
                changed(&review.binding, current)
            ));
            continue;
        }
        return match review.decision {
            ReviewDecision::Approved => ReviewState::Approved(review.clone()),
            ReviewDecision::ChangesRequested => ReviewState::ChangesRequested(review.clone()),
        };
    }
    if stale.is_empty() {
        ReviewState::PendingReview(left_out)
    } else {
        stale.extend(left_out);
        ReviewState::Stale(stale)
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// What differs between the binding reviewed and the current one.
fn changed(reviewed: &Binding, current: &Binding) -> String {
    let mut parts = Vec::new();
    if reviewed.code != current.code {
        parts.push("other code");
    }
    if reviewed.packet != current.packet {
        parts.push("another definition of the packet");
    }
    if reviewed.outcomes != current.outcomes {
        parts.push("other outcomes");
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(code: &str, packet: &str, outcomes: &str) -> Binding {
        Binding {
            code: code.into(),
            packet: packet.into(),
            outcomes: outcomes.into(),
        }
    }

    fn review(
        reviewer: &str,
        time: &str,
        decision: ReviewDecision,
        bound: Binding,
    ) -> ReviewRecord {
        ReviewRecord {
            version: 1,
            gate: "g".into(),
            packet: "A".into(),
            decision,
            reviewer: reviewer.into(),
            key: "SHA256:k".into(),
            time: time.into(),
            commit: "0123456789abcdef".into(),
            binding: bound,
            note: String::new(),
            findings: Vec::new(),
        }
    }

    #[test]
    fn the_latest_current_review_decides_and_older_ones_are_stale() {
        use ReviewDecision::*;
        let now = binding("c2", "p", "o");
        let state = |reviews: &[&ReviewRecord], two_person| {
            review_state("g", "A", Some("ivan"), reviews, &now, two_person)
        };
        assert_eq!(state(&[], true), ReviewState::PendingReview(Vec::new()));
        let approved = review("rita", "2026-12-01T10:00:00.000Z", Approved, now.clone());
        assert_eq!(
            state(&[&approved], true),
            ReviewState::Approved(approved.clone())
        );
        // Changes requested later win; an approval after that wins again.
        let changes = review(
            "rita",
            "2026-12-02T10:00:00.000Z",
            ChangesRequested,
            now.clone(),
        );
        assert_eq!(
            state(&[&approved, &changes], true),
            ReviewState::ChangesRequested(changes.clone())
        );
        let again = review("sam", "2026-12-03T10:00:00.000Z", Approved, now.clone());
        assert_eq!(
            state(&[&changes, &again, &approved], true),
            ReviewState::Approved(again)
        );
        // Reviews of other code or outcomes are stale, and say why.
        let old = review(
            "rita",
            "2026-11-01T10:00:00.000Z",
            Approved,
            binding("c1", "p", "o2"),
        );
        let ReviewState::Stale(why) = state(&[&old], true) else {
            panic!("stale");
        };
        assert_eq!(
            why,
            ["APPROVED by rita at 2026-11-01T10:00:00.000Z (commit 0123456789ab) was for other code, other outcomes"]
        );
        // The implementer's own approval counts only without the two-person rule.
        let own = review("ivan", "2026-12-05T10:00:00.000Z", Approved, now.clone());
        let ReviewState::PendingReview(why) = state(&[&own], true) else {
            panic!("pending");
        };
        assert!(why[0].contains("two-person rule"), "{why:?}");
        assert_eq!(state(&[&own], false), ReviewState::Approved(own.clone()));
        // Another packet's or gate's reviews are not this packet's.
        let mut elsewhere = approved.clone();
        elsewhere.packet = "B".into();
        assert_eq!(
            state(&[&elsewhere], true),
            ReviewState::PendingReview(Vec::new())
        );
    }
}
