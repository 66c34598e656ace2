//! The run's libtest trials: for each selected packet, one per check, one per case of each
//! probe and one per checklist item. A trial only reports the record the scheduler (or, under
//! nextest, the trial itself) produced.

use std::sync::Arc;

use libtest_mimic::{Completion, Failed, Trial};

use super::RunState;
use crate::evidence::fragment::{self, TrialRun};
use crate::spec::TrialOf;

/// The trials of `packets` (ids, in run order).
pub(super) fn build(shared: &Arc<RunState>, packets: &[String]) -> Vec<Trial> {
    let mut trials = Vec::new();
    for packet_id in packets {
        let packet = shared.packet(packet_id);
        for check in &packet.checks {
            let state = Arc::clone(shared);
            let name = check.name();
            let (packet_id, check_id) = (packet.id.clone(), check.id.clone());
            trials.push(Trial::ignorable_test(name.clone(), move || {
                let check = state
                    .packet(&packet_id)
                    .check(&check_id)
                    .expect("trial check");
                crate::output::redaction::trial_result(in_shard(
                    &state,
                    &name,
                    TrialOf::Check(check),
                    || state.check_trial(&packet_id, &check_id),
                ))
            }));
        }
        for check in &packet.checks {
            for case in check.cases() {
                let state = Arc::clone(shared);
                let name = check.case_name(case);
                let (packet_id, check_id, case) =
                    (packet.id.clone(), check.id.clone(), case.clone());
                trials.push(Trial::ignorable_test(name.clone(), move || {
                    let check = state
                        .packet(&packet_id)
                        .check(&check_id)
                        .expect("trial check");
                    crate::output::redaction::trial_result(in_shard(
                        &state,
                        &name,
                        TrialOf::Case(check, &case),
                        || state.case_trial(&packet_id, &check_id, &case),
                    ))
                }));
            }
        }
        for item in &packet.checklist {
            let state = Arc::clone(shared);
            let name = packet.checklist_name(item);
            let (packet_id, slug) = (packet.id.clone(), item.slug.clone());
            trials.push(Trial::ignorable_test(name.clone(), move || {
                let packet = state.packet(&packet_id);
                let item = packet.checklist.iter().find(|item| item.slug == slug);
                let item = item.expect("trial item");
                crate::output::redaction::trial_result(in_shard(
                    &state,
                    &name,
                    TrialOf::Checklist(packet, item),
                    || state.checklist_trial(&packet_id, &slug),
                ))
            }));
        }
    }
    trials
}

/// A trial of a shard (`run/shard.rs`): refused when the shard's partition does not hold it
/// (relgate's partition and nextest's disagree), left to `gate merge` when its check runs in
/// another shard, else run; then recorded in the journal as finished, so the merge can tell a
/// trial that ran from one whose process died. Outside a shard: just run.
fn in_shard(
    state: &RunState,
    name: &str,
    trial: TrialOf<'_>,
    run: impl FnOnce() -> Result<Completion, Failed>,
) -> Result<Completion, Failed> {
    let Some(shard) = &state.shard else {
        return run();
    };
    if !shard.has_trial(name) {
        return Err(Failed::from(format!(
            "{name} is not in this shard's partition {}, but the test runner ran it here: run nextest without test filters and with the same --partition as {} (or unset it)",
            shard.partition,
            crate::run::shard::ENV_PARTITION
        )));
    }
    let result = match shard.judged_elsewhere(&trial) {
        Some(why) => Ok(Completion::ignored_with(why)),
        None => run(),
    };
    let outcome = match &result {
        Ok(Completion::Completed) => "passed",
        Ok(_) => "ignored",
        Err(_) => "failed",
    };
    let finished = TrialRun {
        trial: name.to_string(),
        attempt: state.attempt,
        outcome: outcome.to_string(),
    };
    if let Err(err) = fragment::write_trial(&state.out_dir, &state.run_id, &finished) {
        return Err(Failed::from(format!(
            "cannot record that {name} finished in {}: {err}",
            fragment::run_dir(&state.out_dir, &state.run_id).display()
        )));
    }
    result
}
