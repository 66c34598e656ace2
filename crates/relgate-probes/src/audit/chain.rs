//! The `audit-chain` probe's chain cases: `chain` recomputes every row's hash as the admin,
//! in id order, and `anchor` compares the chain's head with the anchor file of the last
//! passing run, then moves it.

use std::path::Path;

use crate::db::{case, quote_ident, As, DbError, Session};
use crate::probe::{Case, CaseOutcome, Context};

use super::anchor::{parse_anchor, write_anchor, AnchorError};
use super::state::{AuditError, AuditProbe, Table};

impl AuditProbe {
    /// Recomputes the chain as the admin; returns the case and the head (id, hash).
    pub(super) fn chain(
        &self,
        session: &mut Session,
        table: &Table,
    ) -> Result<(Case, Option<(String, String)>), DbError> {
        let id = quote_ident(&self.id_column);
        let prev = quote_ident(&self.prev_column);
        let hash = quote_ident(&self.hash_column);
        let sql = format!(
            "select e.{id}::text, e.{prev}::text, e.{hash}::text, ({})::text from {} e order by e.{id}",
            self.expected_hash,
            table.name.quoted()
        );
        let result = session.attempt(As::Admin, |tx| {
            tx.query(&sql, &[]).map(|rows| {
                rows.iter()
                    .map(|r| {
                        (
                            r.get::<_, String>(0),
                            r.get::<_, Option<String>>(1),
                            r.get::<_, Option<String>>(2),
                            r.get::<_, Option<String>>(3),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })?;
        let rows = match result {
            Ok(rows) => rows,
            Err(err) => {
                return Ok((
                    case(
                        "chain",
                        CaseOutcome::Inconclusive,
                        format!(
                            "inconclusive: the chain query failed (check `expected_hash`): {err}"
                        ),
                        sql,
                        err.to_string(),
                    ),
                    None,
                ))
            }
        };
        let mut problems = Vec::new();
        let mut previous = Some(self.genesis.clone());
        for (row_id, row_prev, row_hash, expected) in &rows {
            if *row_prev != previous {
                problems.push(format!(
                    "row {row_id}: {} {} does not equal the previous row's {} {}",
                    self.prev_column,
                    short(row_prev),
                    self.hash_column,
                    short(&previous)
                ));
            }
            if row_hash.is_none() || row_hash != expected {
                problems.push(format!(
                    "row {row_id}: {} {} but the expected hash is {}",
                    self.hash_column,
                    short(row_hash),
                    short(expected)
                ));
            }
            previous = row_hash.clone();
        }
        let head = rows
            .last()
            .and_then(|(id, _, hash, _)| hash.clone().map(|hash| (id.clone(), hash)));
        let (outcome, message) = if problems.is_empty() {
            (
                CaseOutcome::Pass,
                format!(
                    "{} rows of {} recompute and link from the genesis hash; head id {}",
                    rows.len(),
                    table.name,
                    head.as_ref().map(|(id, _)| id.as_str()).unwrap_or("-")
                ),
            )
        } else {
            (
                CaseOutcome::Fail,
                format!(
                    "{} problem(s) in {} rows, first: {}",
                    problems.len(),
                    rows.len(),
                    problems[0]
                ),
            )
        };
        let got = problems
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        Ok((case("chain", outcome, message, sql, got), head))
    }

    pub(super) fn anchor(
        &self,
        session: &mut Session,
        table: &Table,
        path: &Path,
        head: Option<(String, String)>,
        chain_ok: bool,
        context: &Context<'_>,
    ) -> Result<Case, AuditError> {
        let shown = path.display().to_string();
        let Some((head_id, head_hash)) = head else {
            return Ok(case(
                "anchor",
                CaseOutcome::Inconclusive,
                "inconclusive: the chain has no head to anchor",
                "",
                "",
            ));
        };
        let existing = match std::fs::read_to_string(path) {
            Ok(text) => Some(parse_anchor(&text).map_err(|source| AnchorError::Parse {
                path: shown.clone(),
                source,
            })?),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(AnchorError::Read {
                    path: shown,
                    source,
                }
                .into())
            }
        };
        let Some(anchor) = existing else {
            if !chain_ok {
                return Ok(case(
                    "anchor",
                    CaseOutcome::Inconclusive,
                    format!("inconclusive: no anchor at {shown} yet, and none written because the chain is broken"),
                    "",
                    "",
                ));
            }
            write_anchor(path, &table.name.to_string(), &head_id, &head_hash)?;
            context
                .log
                .line(&format!("anchor written: {shown} id {head_id}"));
            return Ok(case(
                "anchor",
                CaseOutcome::Pass,
                format!(
                    "first run: no anchor yet, created {shown} at head id {head_id} (hash {})",
                    short(&Some(head_hash.clone()))
                ),
                format!("write {shown}"),
                format!("id = {head_id}, hash = {head_hash}"),
            ));
        };
        if anchor.table != table.name.to_string() {
            return Ok(case(
                "anchor",
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: anchor {shown} is for table {}, not {}",
                    anchor.table, table.name
                ),
                "",
                "",
            ));
        }
        let id = quote_ident(&self.id_column);
        let hash = quote_ident(&self.hash_column);
        let sql = format!(
            "select e.{hash}::text from {} e where e.{id} = $1::text::{}",
            table.name.quoted(),
            table.id_type
        );
        let found: Option<Option<String>> = session.admin(|tx| {
            tx.query_opt(&sql, &[&anchor.id])
                .map(|r| r.map(|r| r.get(0)))
        })?;
        let sent = format!("{sql} ($1 = {}) -- anchor {shown}", anchor.id);
        let (outcome, mut message, got) = match found {
            None => (
                CaseOutcome::Fail,
                format!(
                    "anchored row id {} is gone from {}: the tail of the log was deleted or the history rewritten",
                    anchor.id, table.name
                ),
                "no row".to_string(),
            ),
            Some(found) if found.as_deref() == Some(anchor.hash.as_str()) => (
                CaseOutcome::Pass,
                format!("anchored row id {} still has its hash", anchor.id),
                format!("hash {}", anchor.hash),
            ),
            Some(found) => (
                CaseOutcome::Fail,
                format!(
                    "anchored row id {} now has hash {}, the anchor says {}: history was rewritten",
                    anchor.id,
                    short(&found),
                    short(&Some(anchor.hash.clone()))
                ),
                format!("hash {}", found.unwrap_or_default()),
            ),
        };
        if outcome == CaseOutcome::Pass && chain_ok {
            if head_id != anchor.id || head_hash != anchor.hash {
                write_anchor(path, &table.name.to_string(), &head_id, &head_hash)?;
                context
                    .log
                    .line(&format!("anchor advanced: {shown} id {head_id}"));
                message.push_str(&format!("; anchor advanced to head id {head_id}"));
            } else {
                message.push_str("; the head has not moved");
            }
        } else {
            message.push_str("; anchor not advanced");
        }
        Ok(case("anchor", outcome, message, sent, got))
    }
}

/// The first 12 characters of a hash, for messages.
fn short(hash: &Option<String>) -> String {
    match hash {
        None => "null".to_string(),
        Some(hash) if hash.len() > 12 => format!("{}…", &hash[..12]),
        Some(hash) => hash.clone(),
    }
}
