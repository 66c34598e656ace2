//! The earlier attempts of a check in JUnit, as Maven Surefire writes reruns (quick-junit's
//! `TestRerun`): a flaky pass is a success with one `<flakyFailure>` (`<flakyError>` for an
//! ERROR attempt) per failed attempt; a failure after earlier attempts carries one
//! `<rerunFailure>` (`<rerunError>`) per earlier failed attempt. Each holds the attempt's
//! message and type, its time and start, its notes, log path, digest and log tail in
//! `<stackTrace>`, as the last attempt's `<failure>` holds its own. An earlier attempt that
//! passed (a check run again in another shard of a merged run) has no Surefire element: the
//! case's `<system-out>` lists every attempt.

use quick_junit::{NonSuccessKind, TestRerun};

use super::{details, failure_type};
use crate::evidence::{CheckRecord, Outcome};
use crate::model::clock;
use crate::report::view::{attempt_result, shard_suffix};

/// One Surefire rerun element per earlier failed attempt of `record`, oldest first.
pub(super) fn reruns(record: &CheckRecord, out_dir: &std::path::Path) -> Vec<TestRerun> {
    record
        .attempts
        .iter()
        .enumerate()
        .filter(|(_, attempt)| attempt.outcome.is_failure())
        .map(|(index, attempt)| {
            let kind = match attempt.outcome {
                Outcome::Error => NonSuccessKind::Error,
                _ => NonSuccessKind::Failure,
            };
            let mut rerun = TestRerun::new(kind);
            let message = if attempt.message.trim().is_empty() {
                format!("{} (no message recorded)", attempt.outcome.label())
            } else {
                attempt.message.clone()
            };
            rerun
                .set_message(message)
                .set_type(match kind {
                    NonSuccessKind::Error => "spawn",
                    NonSuccessKind::Failure => failure_type(attempt),
                })
                .set_time(std::time::Duration::from_millis(attempt.duration_ms))
                .set_description(format!(
                    "attempt {} of {}{}: {} {}",
                    index + 1,
                    record.attempt_count(),
                    shard_suffix(attempt),
                    attempt.outcome.label(),
                    attempt_result(attempt)
                ));
            if let Some(started) = clock::parse_timestamp(&attempt.started) {
                rerun.set_timestamp(started);
            }
            let details = details(attempt, out_dir);
            if !details.is_empty() {
                rerun.set_stack_trace(details);
            }
            rerun
        })
        .collect()
}

/// The case's own `<system-out>` for a check that ran more than once: every attempt, one line
/// each (`attempt 1 of 2 (shard slice:1/3): FAIL exit 1 (1.2s), log logs/…`).
pub(super) fn system_out(record: &CheckRecord) -> Option<String> {
    if record.attempts.is_empty() {
        return None;
    }
    let count = record.attempt_count();
    let mut lines = vec![if record.is_flaky() {
        format!("FLAKY: passed on attempt {count} of {count} only after failing")
    } else {
        format!("ran {count} times: attempt {count} of {count} is the result")
    }];
    lines.extend(
        record
            .attempts
            .iter()
            .chain(std::iter::once(record))
            .enumerate()
            .map(|(index, attempt)| {
                let log = attempt
                    .log
                    .as_deref()
                    .map_or_else(|| "no output".to_string(), |log| format!("log {log}"));
                format!(
                    "attempt {} of {count}{}: {} {} ({}ms), {log}",
                    index + 1,
                    shard_suffix(attempt),
                    attempt.outcome.label(),
                    attempt_result(attempt),
                    attempt.duration_ms
                )
            }),
    );
    Some(lines.join("\n"))
}
