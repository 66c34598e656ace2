//! The run's libtest trials: for each selected packet, one per check, one per case of each
//! probe and one per checklist item. A trial only reports the record the scheduler (or, under
//! nextest, the trial itself) produced.

use std::sync::Arc;

use libtest_mimic::Trial;

use super::RunState;

/// The trials of `packets` (ids, in run order).
pub(super) fn build(shared: &Arc<RunState>, packets: &[String]) -> Vec<Trial> {
    let mut trials = Vec::new();
    for packet_id in packets {
        let packet = shared.packet(packet_id);
        for check in &packet.checks {
            let state = Arc::clone(shared);
            let name = check.name();
            let (packet_id, check_id) = (packet.id.clone(), check.id.clone());
            trials.push(Trial::ignorable_test(name, move || {
                crate::output::redaction::trial_result(state.check_trial(&packet_id, &check_id))
            }));
        }
        for check in &packet.checks {
            for case in check.cases() {
                let state = Arc::clone(shared);
                let name = check.case_name(case);
                let (packet_id, check_id, case) =
                    (packet.id.clone(), check.id.clone(), case.clone());
                trials.push(Trial::ignorable_test(name, move || {
                    crate::output::redaction::trial_result(
                        state.case_trial(&packet_id, &check_id, &case),
                    )
                }));
            }
        }
        for item in &packet.checklist {
            let state = Arc::clone(shared);
            let name = packet.checklist_name(item);
            let (packet_id, slug) = (packet.id.clone(), item.slug.clone());
            trials.push(Trial::ignorable_test(name, move || {
                crate::output::redaction::trial_result(state.checklist_trial(&packet_id, &slug))
            }));
        }
    }
    trials
}
