//! How the `rls` probe judges and words results: a row count from an attack, a list of
//! problems from the catalog, and per-table results folded into one case.

use crate::db::{self, worst, TableName};
use crate::probe::CaseOutcome;

/// What one live attack did to one table: the table, what was sent, its outcome, what came back.
pub(super) type PerTable = (TableName, String, CaseOutcome, String);

/// Judges the row count an attack on B's rows produced: no row is a refusal, any row a
/// failure (`seen` words both), an insufficient-privilege error a refusal (`refused (…)`),
/// any other error inconclusive (worded by `other`).
pub(super) fn judge_count(
    result: Result<i64, db::SqlError>,
    seen: impl FnOnce(i64) -> String,
    refused: &str,
    other: impl FnOnce(&db::SqlError) -> String,
) -> (CaseOutcome, String) {
    match result {
        Ok(0) => (CaseOutcome::Pass, seen(0)),
        Ok(count) => (CaseOutcome::Fail, seen(count)),
        Err(err) if err.is_insufficient_privilege() => {
            (CaseOutcome::Pass, format!("{refused} ({err})"))
        }
        Err(err) => (CaseOutcome::Inconclusive, other(&err)),
    }
}

/// Rows affected, as a count.
pub(super) fn rows(affected: u64) -> i64 {
    i64::try_from(affected).unwrap_or(i64::MAX)
}

/// Passes when nothing was `found`; fails naming what was (joined with `separator`).
pub(super) fn pass_unless(
    found: &[String],
    separator: &str,
    pass: impl FnOnce() -> String,
    fail: impl FnOnce(String) -> String,
) -> (CaseOutcome, String) {
    match found.is_empty() {
        true => (CaseOutcome::Pass, pass()),
        false => (CaseOutcome::Fail, fail(found.join(separator))),
    }
}

/// The worst outcome over the tables (a pass when there are none).
pub(super) fn overall(per_table: &[PerTable]) -> CaseOutcome {
    per_table
        .iter()
        .fold(CaseOutcome::Pass, |outcome, (_, _, o, _)| {
            worst(outcome, *o)
        })
}

/// `table: got` for each table whose outcome `keep` selects.
pub(super) fn table_lines(
    per_table: &[PerTable],
    keep: impl Fn(CaseOutcome) -> bool,
) -> Vec<String> {
    per_table
        .iter()
        .filter(|(_, _, o, _)| keep(*o))
        .map(|(t, _, _, got)| format!("{t}: {got}"))
        .collect()
}
