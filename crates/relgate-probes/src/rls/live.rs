//! The `rls` probe's live cases: as the app role with tenant A set, read, update, delete and
//! insert tenant B's rows, and read with no tenant set; each attempt in a transaction that is
//! rolled back.

use postgres::types::ToSql;

use crate::db::{self, case, quote_ident, As, DbError, Session, TableName};
use crate::probe::{Case, CaseOutcome};

use super::judge::{judge_count, overall, rows, table_lines, PerTable};
use super::state::{Run, Tenants};

impl Run<'_, '_> {
    pub(super) fn live_cases(
        &mut self,
        session: &mut Session,
        tables: &[TableName],
        tenants: &Tenants,
    ) -> Result<(), DbError> {
        let targets: Vec<(TableName, i64)> = tables
            .iter()
            .filter_map(|t| {
                tenants
                    .b_rows
                    .get(t)
                    .filter(|count| **count > 0)
                    .map(|count| (t.clone(), *count))
            })
            .collect();
        let skipped: Vec<String> = tables
            .iter()
            .filter(|t| !tenants.b_rows.contains_key(*t))
            .map(|t| t.to_string())
            .collect();
        let note = if skipped.is_empty() {
            String::new()
        } else {
            format!(
                " (not attacked, no {} rows: {})",
                tenants.b,
                skipped.join(", ")
            )
        };
        let steps: [(&str, LiveStep<'_, '_>); 5] = [
            ("cross-tenant-read", Self::cross_tenant_read),
            ("cross-tenant-update", Self::cross_tenant_update),
            ("cross-tenant-delete", Self::cross_tenant_delete),
            ("cross-tenant-insert", Self::cross_tenant_insert),
            ("no-tenant-set", Self::no_tenant_set),
        ];
        for (name, step) in steps {
            if session.past_deadline() {
                self.push(case(
                    name,
                    CaseOutcome::Inconclusive,
                    "inconclusive: the check's deadline passed",
                    "",
                    "",
                ));
                continue;
            }
            let mut result = step(self, session, &targets, tenants)?;
            if result.name != "no-tenant-set" {
                result.message.push_str(&note);
            }
            self.push(result);
        }
        Ok(())
    }

    fn cross_tenant_read(
        &mut self,
        session: &mut Session,
        targets: &[(TableName, i64)],
        tenants: &Tenants,
    ) -> Result<Case, DbError> {
        let column = quote_ident(&self.probe.tenant_column);
        let mut per_table = Vec::new();
        for (table, admin_count) in targets {
            let sql = format!(
                "select count(*) from {} where {column}::text = $1",
                table.quoted()
            );
            let seen = self.as_tenant_a(session, tenants, |tx| {
                tx.query_one(&sql, &[&tenants.b])
                    .map(|row| row.get::<_, i64>(0))
            })?;
            let (outcome, got) = judge_count(
                seen,
                |count| format!("{count} of {admin_count} visible"),
                "refused",
                ToString::to_string,
            );
            per_table.push((table.clone(), sql, outcome, got));
        }
        Ok(self.summarize("cross-tenant-read", "rows of", "read", tenants, per_table))
    }

    fn cross_tenant_update(
        &mut self,
        session: &mut Session,
        targets: &[(TableName, i64)],
        tenants: &Tenants,
    ) -> Result<Case, DbError> {
        let column = quote_ident(&self.probe.tenant_column);
        let statement = |table: &str| {
            format!("update {table} set {column} = {column} where {column}::text = $1")
        };
        self.cross_tenant_write(
            session,
            targets,
            tenants,
            ("cross-tenant-update", "updated"),
            &statement,
            false,
        )
    }

    fn cross_tenant_delete(
        &mut self,
        session: &mut Session,
        targets: &[(TableName, i64)],
        tenants: &Tenants,
    ) -> Result<Case, DbError> {
        let column = quote_ident(&self.probe.tenant_column);
        let statement = |table: &str| format!("delete from {table} where {column}::text = $1");
        self.cross_tenant_write(
            session,
            targets,
            tenants,
            ("cross-tenant-delete", "deleted"),
            &statement,
            true,
        )
    }

    /// Runs `statement` (over each table, with tenant B as `$1`) as the app role with tenant A
    /// set, judged by the rows it affected. With `foreign_key_reached`, a foreign-key error
    /// (23503) is a failure: the row was matched, and only the referencing rows stopped it.
    fn cross_tenant_write(
        &mut self,
        session: &mut Session,
        targets: &[(TableName, i64)],
        tenants: &Tenants,
        (case_name, done): (&str, &str),
        statement: &dyn Fn(&str) -> String,
        foreign_key_reached: bool,
    ) -> Result<Case, DbError> {
        let mut per_table = Vec::new();
        for (table, _) in targets {
            let sql = statement(&table.quoted());
            let result =
                self.as_tenant_a(session, tenants, |tx| tx.execute(&sql, &[&tenants.b]))?;
            let (outcome, got) = match result {
                Err(err) if foreign_key_reached && err.code == "23503" => (
                    CaseOutcome::Fail,
                    format!(
                        "the delete reached {}'s rows and only a foreign key stopped it ({err})",
                        tenants.b
                    ),
                ),
                other => write_outcome(other),
            };
            per_table.push((table.clone(), sql, outcome, got));
        }
        Ok(self.summarize(case_name, "rows of", done, tenants, per_table))
    }

    /// Inserts, as the app role with A set, a copy of one of B's rows (read as the admin) with
    /// its unique keys changed: columns in a unique index that have a default take the default,
    /// text ones without a default take a marker value. RLS `WITH CHECK` runs before unique and
    /// foreign-key checks, so a rejection is 42501; any other error leaves the table
    /// inconclusive.
    fn cross_tenant_insert(
        &mut self,
        session: &mut Session,
        targets: &[(TableName, i64)],
        tenants: &Tenants,
    ) -> Result<Case, DbError> {
        let column = quote_ident(&self.probe.tenant_column);
        let marker = format!(
            "relgate-probe-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        );
        let mut per_table = Vec::new();
        for (table, _) in targets {
            let read = format!(
                "select to_jsonb(t)::text from {} t where t.{column}::text = $1 limit 1",
                table.quoted()
            );
            let row: Option<String> = session.admin(|tx| {
                tx.query_opt(&read, &[&tenants.b])
                    .map(|r| r.map(|r| r.get(0)))
            })?;
            let Some(row) = row else {
                per_table.push((
                    table.clone(),
                    read,
                    CaseOutcome::Inconclusive,
                    "no row to copy".to_string(),
                ));
                continue;
            };
            let columns = self.insert_columns(session, table)?;
            let mut names = Vec::new();
            let mut values = Vec::new();
            let mut changed = Vec::new();
            for col in &columns {
                match col.plan {
                    ColumnPlan::Copy => {
                        names.push(quote_ident(&col.name));
                        values.push(format!("r.{}", quote_ident(&col.name)));
                    }
                    ColumnPlan::Marker => {
                        names.push(quote_ident(&col.name));
                        values.push("$2::text".to_string());
                        changed.push(format!("{} = marker", col.name));
                    }
                    ColumnPlan::Default => changed.push(format!("{} = default", col.name)),
                }
            }
            let sql = format!(
                "insert into {table} ({}) select {} from jsonb_populate_record(null::{table}, $1::text::jsonb) r",
                names.join(", "),
                values.join(", "),
                table = table.quoted()
            );
            let description = format!(
                "{sql} -- $1 = one {} row copied as the admin{}",
                tenants.b,
                if changed.is_empty() {
                    String::new()
                } else {
                    format!(", with {}", changed.join(", "))
                }
            );
            let params: [&(dyn ToSql + Sync); 2] = [&row, &marker];
            let used = if values.iter().any(|v| v.starts_with("$2")) {
                2
            } else {
                1
            };
            let result =
                self.as_tenant_a(session, tenants, |tx| tx.execute(&sql, &params[..used]))?;
            let (outcome, got) = judge_count(
                result.map(rows),
                |count| match count {
                    0 => "0 rows inserted".to_string(),
                    _ => format!(
                        "{count} row(s) for {} inserted while {} was set",
                        tenants.b, tenants.a
                    ),
                },
                "rejected",
                |err| {
                    format!("neither inserted nor rejected by RLS: {err} (an RLS rejection would have come first)")
                },
            );
            per_table.push((table.clone(), description, outcome, got));
        }
        Ok(self.summarize(
            "cross-tenant-insert",
            "rows for",
            "inserted",
            tenants,
            per_table,
        ))
    }

    fn insert_columns(
        &mut self,
        session: &mut Session,
        table: &TableName,
    ) -> Result<Vec<InsertColumn>, DbError> {
        let sql = "select a.attname::text, a.atthasdef or a.attidentity <> '', \
             a.attidentity = 'a', a.attgenerated <> '', \
             t.typcategory = 'S', \
             exists (select 1 from pg_index i where i.indrelid = a.attrelid \
                     and i.indisunique and a.attnum = any(i.indkey)) \
             from pg_attribute a join pg_type t on t.oid = a.atttypid \
             where a.attrelid = $1::text::regclass and a.attnum > 0 and not a.attisdropped \
             order by a.attnum";
        let quoted = table.quoted();
        let rows = session.admin(|tx| tx.query(sql, &[&quoted]))?;
        Ok(rows
            .iter()
            .map(|row| {
                let name: String = row.get(0);
                let has_default: bool = row.get(1);
                let identity_always: bool = row.get(2);
                let generated: bool = row.get(3);
                let text: bool = row.get(4);
                let unique: bool = row.get(5);
                let plan = if generated || identity_always {
                    ColumnPlan::Default
                } else if unique && name != self.probe.tenant_column {
                    if has_default {
                        ColumnPlan::Default
                    } else if text {
                        ColumnPlan::Marker
                    } else {
                        ColumnPlan::Copy
                    }
                } else {
                    ColumnPlan::Copy
                };
                InsertColumn { name, plan }
            })
            .collect())
    }

    fn no_tenant_set(
        &mut self,
        session: &mut Session,
        targets: &[(TableName, i64)],
        _tenants: &Tenants,
    ) -> Result<Case, DbError> {
        let mut per_table = Vec::new();
        for (table, admin_count) in targets {
            let sql = format!("select count(*) from {}", table.quoted());
            let seen = session.attempt(As::App { tenant: None }, |tx| {
                tx.query_one(&sql, &[]).map(|row| row.get::<_, i64>(0))
            })?;
            let (outcome, got) = judge_count(
                seen,
                |count| {
                    match count {
                    0 => "0 rows visible".to_string(),
                    _ => format!("{count} rows visible (admin sees at least {admin_count} of the victim alone)"),
                }
                },
                "refused",
                ToString::to_string,
            );
            per_table.push((table.clone(), sql, outcome, got));
        }
        let role = &self.probe.target.app_role;
        let setting = &self.probe.tenant_setting;
        let outcome = overall(&per_table);
        let bad = table_lines(&per_table, |o| o != CaseOutcome::Pass);
        let message = match outcome {
            CaseOutcome::Pass => format!(
                "as {role} with no {setting} set, no row is visible in {} tenant tables",
                per_table.len()
            ),
            _ => format!("as {role} with no {setting} set: {}", bad.join("; ")),
        };
        let sent = per_table
            .iter()
            .map(|(t, sql, _, _)| format!("{t}: as {role}, no {setting}: {sql}"))
            .collect::<Vec<_>>()
            .join("\n");
        let got = table_lines(&per_table, |_| true).join("\n");
        Ok(case("no-tenant-set", outcome, message, sent, got))
    }

    fn as_tenant_a<T>(
        &self,
        session: &mut Session,
        tenants: &Tenants,
        attack: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<Result<T, db::SqlError>, DbError> {
        session.attempt(
            As::App {
                tenant: Some((&self.probe.tenant_setting, &tenants.a)),
            },
            attack,
        )
    }

    fn summarize(
        &self,
        name: &str,
        preposition: &str,
        verb: &str,
        tenants: &Tenants,
        per_table: Vec<PerTable>,
    ) -> Case {
        let role = &self.probe.target.app_role;
        let setting = &self.probe.tenant_setting;
        let (a, b) = (&tenants.a, &tenants.b);
        let outcome = overall(&per_table);
        let failing = table_lines(&per_table, |o| o == CaseOutcome::Fail);
        let unsure = table_lines(&per_table, |o| o == CaseOutcome::Inconclusive);
        let message = match outcome {
            CaseOutcome::Pass => format!(
                "as {role} with {setting} = {a}, no {preposition} {b} {verb} in {} tenant tables",
                per_table.len()
            ),
            CaseOutcome::Fail => format!(
                "as {role} with {setting} = {a}, {preposition} {b} {verb}: {}",
                failing.join("; ")
            ),
            CaseOutcome::Inconclusive => format!(
                "inconclusive: as {role} with {setting} = {a}, cannot tell for {}",
                unsure.join("; ")
            ),
        };
        let sent = per_table
            .iter()
            .map(|(t, sql, _, _)| format!("{t}: as {role}, {setting} = {a}: {sql} ($1 = {b})"))
            .collect::<Vec<_>>()
            .join("\n");
        let got = table_lines(&per_table, |_| true).join("\n");
        case(name, outcome, message, sent, got)
    }
}

/// One live attack over the tables that hold the victim's rows.
type LiveStep<'p, 'c> =
    fn(&mut Run<'p, 'c>, &mut Session, &[(TableName, i64)], &Tenants) -> Result<Case, DbError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnPlan {
    Copy,
    Default,
    Marker,
}

struct InsertColumn {
    name: String,
    plan: ColumnPlan,
}

/// UPDATE/DELETE of B's rows: 0 rows or a privilege error is a refusal.
fn write_outcome(result: Result<u64, db::SqlError>) -> (CaseOutcome, String) {
    judge_count(
        result.map(rows),
        |count| format!("{count} rows affected"),
        "refused",
        ToString::to_string,
    )
}
