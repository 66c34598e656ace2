//! The earlier attempts of a check that ran more than once (retries, nextest retries, shards of
//! a merged run): a table of every attempt — number, outcome, exit, duration, shard, log — and
//! each earlier attempt's log tail as the last attempt's is shown, open when it failed.

use super::logs::{labelled_tail, log_ref};
use super::{escape, outcome_badge, Page};
use crate::evidence::CheckRecord;
use crate::report::view::duration;

/// Appends the attempts of `record` (nothing for a check that ran once).
pub(super) fn attempts(out: &mut String, page: &Page<'_>, record: &CheckRecord) {
    if record.attempts.is_empty() {
        return;
    }
    let count = record.attempt_count();
    let every: Vec<&CheckRecord> = record
        .attempts
        .iter()
        .chain(std::iter::once(record))
        .collect();
    out.push_str(&format!(
        "<table class=\"attempts\">\n<caption>Ran {count} times; the last attempt is the \
         result{}</caption>\n<thead><tr><th>Attempt</th><th>Outcome</th><th>Exit</th>\
         <th>Duration</th><th>Shard</th><th>Log</th></tr></thead>\n<tbody>\n",
        if record.is_flaky() {
            ": it passed only after failing (FLAKY)"
        } else {
            ""
        }
    ));
    for (index, attempt) in every.iter().enumerate() {
        let log = match &attempt.log {
            Some(log) => log_ref(log, attempt.bytes, attempt.sha256.as_deref()),
            None if attempt.no_output() => "no output".to_string(),
            None => "—".to_string(),
        };
        out.push_str(&format!(
            "<tr class=\"attempt\" data-attempt=\"{}\"><td>{} of {count}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{log}</td></tr>\n",
            index + 1,
            index + 1,
            outcome_badge(Some(attempt.outcome)),
            escape(&exit_of(attempt)),
            escape(&duration(attempt.duration_ms)),
            escape(attempt.shard.as_deref().unwrap_or("—")),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    for (index, attempt) in record.attempts.iter().enumerate() {
        if let Some(log) = &attempt.log {
            labelled_tail(
                out,
                page.out_dir,
                log,
                attempt.bytes,
                attempt.outcome.is_failure(),
                &format!("Output of attempt {} of {count}", index + 1),
            );
        }
    }
}

/// How an attempt's process ended (`exit 1`), `—` for an attempt that ran none (grep, probe).
fn exit_of(attempt: &CheckRecord) -> String {
    if attempt.exit_code.is_some() || attempt.signal.is_some() || attempt.timed_out {
        super::packets::process_end(attempt)
    } else {
        "—".to_string()
    }
}
