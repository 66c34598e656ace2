//! The `audit-chain` probe's history cases, read-only as the admin: `order` (the time column
//! never goes backwards in id order), `gaps` (with `gapless`, ids follow each other by one),
//! `hash-columns` (every column but the hash changes the expected hash: the expression is
//! evaluated on the newest row and on copies of it with one column changed, built with
//! `jsonb_populate_record`, so it works for any expression over `e`, a function included) and
//! `rewritten-history` (the chain recomputed from a rewritten row k up to the head, in SQL,
//! must end in another head hash: what lets an anchor catch a rewrite).

use crate::db::{case, quote_ident, As, DbError, Session, SqlError};
use crate::probe::{Case, CaseOutcome};

use super::state::{AuditProbe, Table};

/// How far before the head `rewritten-history` starts its rewrite (bounded work).
const REWRITE_DEPTH: i64 = 1000;

impl AuditProbe {
    /// Runs one read-only admin query; a SQL error becomes the case's inconclusive message.
    fn read<T>(
        &self,
        session: &mut Session,
        read: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<Result<T, SqlError>, DbError> {
        session.attempt(As::Admin, read)
    }

    /// A case whose query lists offending rows (`describe` says what each is): none is a pass
    /// (`pass`), any is a failure (`fail` of how many and the first, every row in `got`), and a
    /// failed query is inconclusive. `names` are the case's name and the query's, for messages.
    fn offending_rows(
        &self,
        session: &mut Session,
        (name, query): (&str, &str),
        sql: String,
        describe: impl Fn(&postgres::Row) -> String,
        pass: String,
        fail: impl FnOnce(usize, &str) -> String,
    ) -> Result<Case, DbError> {
        let found = self.read(session, |tx| {
            tx.query(&sql, &[])
                .map(|rows| rows.iter().map(&describe).collect::<Vec<_>>())
        })?;
        let (outcome, message, got) = match found {
            Err(err) => (
                CaseOutcome::Inconclusive,
                format!("inconclusive: the {query} query failed: {err}"),
                err.to_string(),
            ),
            Ok(found) if found.is_empty() => (CaseOutcome::Pass, pass, String::new()),
            Ok(found) => (
                CaseOutcome::Fail,
                fail(found.len(), &found[0]),
                found.join("\n"),
            ),
        };
        Ok(case(name, outcome, message, sql, got))
    }

    pub(super) fn order(&self, session: &mut Session, table: &Table) -> Result<Case, DbError> {
        let Some(kind) = table.column_type(&self.time_column) else {
            return Ok(case(
                "order",
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: {} has no column `{}` (set `time_column`)",
                    table.name, self.time_column
                ),
                "",
                "",
            ));
        };
        let id = quote_ident(&self.id_column);
        let time = quote_ident(&self.time_column);
        let sql = format!(
            "select x.id, x.t, x.before from (select e.{id}::text as id, e.{time}::text as t, \
             e.{time} as tv, lag(e.{time}) over (order by e.{id}) as bv, \
             lag(e.{time}::text) over (order by e.{id}) as before from {} e) x \
             where x.tv < x.bv order by x.id limit 20",
            table.name.quoted()
        );
        let pass = format!(
            "in {} order, {} ({kind}) never goes backwards in {}",
            self.id_column, self.time_column, table.name
        );
        self.offending_rows(
            session,
            ("order", "order"),
            sql,
            |r| {
                format!(
                    "row {}: {} {} is before the previous row's {}",
                    r.get::<_, String>(0),
                    self.time_column,
                    r.get::<_, String>(1),
                    r.get::<_, String>(2)
                )
            },
            pass,
            |count, first| {
                format!(
                    "time goes backwards in {} ({count} row(s) shown): first {first}",
                    table.name
                )
            },
        )
    }

    pub(super) fn gaps(&self, session: &mut Session, table: &Table) -> Result<Case, DbError> {
        let id = quote_ident(&self.id_column);
        if !matches!(table.id_type.as_str(), "bigint" | "integer" | "smallint") {
            return Ok(case(
                "gaps",
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: `gapless` needs an integer `{}`, {} has {}",
                    self.id_column, table.name, table.id_type
                ),
                "",
                "",
            ));
        }
        let sql = format!(
            "select x.before::text, x.id::text from (select e.{id} as id, \
             lag(e.{id}) over (order by e.{id}) as before from {} e) x \
             where x.id - x.before <> 1 order by x.id limit 20",
            table.name.quoted()
        );
        let pass = format!(
            "{} of {} follow each other by one",
            self.id_column, table.name
        );
        self.offending_rows(
            session,
            ("gaps", "gap"),
            sql,
            |r| {
                format!(
                    "{} {} is followed by {}",
                    self.id_column,
                    r.get::<_, String>(0),
                    r.get::<_, String>(1)
                )
            },
            pass,
            |_, first| {
                format!(
                    "{} has gaps (rows missing from a gapless log): first {first}",
                    table.name
                )
            },
        )
    }

    pub(super) fn hash_columns(
        &self,
        session: &mut Session,
        table: &Table,
    ) -> Result<Case, DbError> {
        let quoted = table.name.quoted();
        let id = quote_ident(&self.id_column);
        let mut columns = Vec::new();
        let mut skipped = Vec::new();
        for (name, kind) in &table.columns {
            if *name == self.hash_column || self.unhashed_columns.contains(name) {
                continue;
            }
            match mutation(&format!("t0.{}", quote_ident(name)), kind) {
                Some(changed) => columns.push((name.clone(), changed)),
                None => skipped.push(format!("{name} ({kind})")),
            }
        }
        let evaluate = |row: &str| {
            format!(
                "(select ({})::text from jsonb_populate_record(null::{quoted}, {row}) e)",
                self.expected_hash
            )
        };
        let mut selects = vec![evaluate("to_jsonb(t0)")];
        for (name, changed) in &columns {
            selects.push(evaluate(&format!(
                "to_jsonb(t0) || jsonb_build_object({}, to_jsonb({changed}))",
                quote_literal(name)
            )));
        }
        let sql = format!(
            "select {} from {quoted} t0 order by t0.{id} desc limit 1",
            selects.join(", ")
        );
        let hashes = self.read(session, |tx| {
            tx.query_opt(&sql, &[]).map(|row| {
                row.map(|row| {
                    (0..row.len())
                        .map(|i| row.get::<_, Option<String>>(i))
                        .collect::<Vec<_>>()
                })
            })
        })?;
        let shown_sql = format!(
            "{sql} -- the expected hash of the newest row, then with one column changed each"
        );
        let hashes = match hashes {
            Ok(Some(hashes)) => hashes,
            Ok(None) => {
                return Ok(case(
                    "hash-columns",
                    CaseOutcome::Inconclusive,
                    format!("inconclusive: {} has no row", table.name),
                    shown_sql,
                    "",
                ))
            }
            Err(err) => {
                return Ok(case(
                    "hash-columns",
                    CaseOutcome::Inconclusive,
                    format!("inconclusive: the expected hash cannot be evaluated on a changed row (check `expected_hash`): {err}"),
                    shown_sql,
                    err.to_string(),
                ))
            }
        };
        let baseline = &hashes[0];
        let uncovered: Vec<String> = columns
            .iter()
            .zip(&hashes[1..])
            .filter(|(_, hash)| *hash == baseline)
            .map(|((name, _), _)| name.clone())
            .collect();
        let covered: Vec<String> = columns
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| !uncovered.contains(name))
            .collect();
        let got = format!(
            "covered: {}\nnot covered: {}\nnot tried: {}",
            covered.join(", "),
            uncovered.join(", "),
            skipped.join(", ")
        );
        let (outcome, message) = if !uncovered.is_empty() {
            (
                CaseOutcome::Fail,
                format!(
                    "the hash of {} does not cover {}: changing it leaves the expected hash as it was, so it can be rewritten without breaking the chain",
                    table.name,
                    uncovered.join(", ")
                ),
            )
        } else if baseline.is_none() {
            (
                CaseOutcome::Inconclusive,
                "inconclusive: the expected hash of the newest row is null".to_string(),
            )
        } else if !skipped.is_empty() {
            (
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: no way to change {} to try them (list them in `unhashed_columns` if they need no cover)",
                    skipped.join(", ")
                ),
            )
        } else {
            (
                CaseOutcome::Pass,
                format!(
                    "every column of {} but {} changes the expected hash: {}",
                    table.name,
                    self.hash_column,
                    covered.join(", ")
                ),
            )
        };
        Ok(case("hash-columns", outcome, message, shown_sql, got))
    }

    pub(super) fn rewritten_history(
        &self,
        session: &mut Session,
        table: &Table,
        rows: i64,
    ) -> Result<Case, DbError> {
        if rows < 2 {
            return Ok(case(
                "rewritten-history",
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: {} has {rows} row(s); a rewrite needs one before the head",
                    table.name
                ),
                "",
                "",
            ));
        }
        let quoted = table.name.quoted();
        let id = quote_ident(&self.id_column);
        let hash = quote_ident(&self.hash_column);
        let depth = (rows - 1).min(REWRITE_DEPTH);
        // Row k's hash is replaced (any rewrite of its content gives another one); every later
        // row is relinked to its predecessor's new hash and rehashed with the expected hash.
        let sql = format!(
            "with recursive c (id, h) as ( \
               (select t.{id}, 'relgate-rewritten-' || t.{hash}::text from {quoted} t \
                order by t.{id} desc offset {depth} limit 1) \
               union all \
               select nx.id, nx.h from c, lateral (select t.{id} as id, \
                 (select ({expr})::text from jsonb_populate_record(null::{quoted}, \
                   to_jsonb(t) || jsonb_build_object({prev_key}, c.h)) e) as h \
                 from {quoted} t where t.{id} > c.id order by t.{id} limit 1) nx) \
             select (select c.id::text from c order by c.id limit 1), \
                    (select c.h from c order by c.id desc limit 1), \
                    (select t.{hash}::text from {quoted} t order by t.{id} desc limit 1)",
            expr = self.expected_hash,
            prev_key = quote_literal(&self.prev_column),
        );
        let result = self.read(session, |tx| {
            tx.query_one(&sql, &[]).map(|r| {
                (
                    r.get::<_, Option<String>>(0),
                    r.get::<_, Option<String>>(1),
                    r.get::<_, Option<String>>(2),
                )
            })
        })?;
        let (outcome, message, got) = match result {
            Err(err) => (
                CaseOutcome::Inconclusive,
                format!("inconclusive: the chain cannot be recomputed in SQL (check `expected_hash`): {err}"),
                err.to_string(),
            ),
            Ok((Some(from), Some(new_head), Some(head))) if new_head != head => (
                CaseOutcome::Pass,
                format!(
                    "rewriting row {from} and recomputing the chain after it ({depth} rows) changes the head's hash: an anchor of the head catches a rewritten history"
                ),
                format!("head {head}, after the rewrite {new_head}"),
            ),
            Ok((Some(from), Some(new_head), Some(_))) => (
                CaseOutcome::Fail,
                format!(
                    "rewriting row {from} and recomputing the chain after it leaves the head's hash unchanged: the hash does not carry {} forward, so history can be rewritten under an anchor",
                    self.prev_column
                ),
                format!("head {new_head} before and after"),
            ),
            Ok(other) => (
                CaseOutcome::Inconclusive,
                "inconclusive: the recomputed chain ended in a null hash".to_string(),
                format!("{other:?}"),
            ),
        };
        Ok(case("rewritten-history", outcome, message, sql, got))
    }
}

/// An expression giving `column` (of type `kind`) another value, null included; `None` for a
/// type it does not know.
fn mutation(column: &str, kind: &str) -> Option<String> {
    let base = kind.split('(').next().unwrap_or(kind).trim();
    Some(match base {
        "text" | "character varying" | "character" | "name" | "citext" => {
            format!("case when {column}::text = 'x' then 'y' else 'x' end")
        }
        "smallint" | "integer" | "bigint" | "numeric" | "real" | "double precision" => {
            format!("(coalesce({column}, 0) + 1)::{kind}")
        }
        "uuid" => format!(
            "(case when {column}::text = '00000000-0000-4000-8000-000000000001' \
             then '00000000-0000-4000-8000-000000000002' \
             else '00000000-0000-4000-8000-000000000001' end)::uuid"
        ),
        "jsonb" | "json" => format!(
            "(case when {column}::text = '{{\"relgate\": 1}}' then '{{\"relgate\": 2}}' \
             else '{{\"relgate\": 1}}' end)::jsonb"
        ),
        "timestamp with time zone" | "timestamp without time zone" | "date" => {
            format!("(coalesce({column}, now()) + interval '1 day')::{kind}")
        }
        "boolean" => format!("not coalesce({column}, false)"),
        "bytea" => format!("coalesce({column}, ''::bytea) || '\\x00'::bytea"),
        _ => return None,
    })
}

/// A SQL string literal.
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_cover_the_common_types_and_refuse_the_rest() {
        assert!(mutation("t0.a", "text").unwrap().contains("'x'"));
        assert!(mutation("t0.a", "character varying(20)").is_some());
        assert!(mutation("t0.a", "bigint").unwrap().ends_with("::bigint"));
        assert!(mutation("t0.a", "timestamp with time zone").is_some());
        assert!(mutation("t0.a", "tsvector").is_none());
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
