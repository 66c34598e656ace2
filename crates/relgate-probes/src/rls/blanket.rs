//! The `rls` probe's permissive-write cases, as the app role with tenant A set, each attempt
//! in a transaction that is rolled back and bounded by `statement_timeout`/`lock_timeout`:
//! `blanket-update` (`update T set c = A` with no WHERE: it reads no column, so only the
//! UPDATE policies decide), `blanket-delete` (`delete from T`), both judged by comparing the
//! rows affected with A's own rows, and `move-to-other-tenant` (`update T set c = B`, also
//! without WHERE, so it reaches A's rows: a `WITH CHECK` must refuse the new rows).

use crate::db::{self, case, quote_ident, As, DbError, Session, SqlError, TableName};
use crate::probe::{Case, CaseOutcome};

use super::catalog::TenantTable;
use super::judge::{overall, rows, table_lines, PerTable};
use super::state::{Run, Tenants};

impl Run<'_, '_> {
    pub(super) fn blanket_cases(
        &mut self,
        session: &mut Session,
        tables: &[TenantTable],
        tenants: &Tenants,
    ) -> Result<(), DbError> {
        // Under replica mode foreign keys do not fire, so a blanket DELETE counts what the
        // policies let it reach instead of stopping at a referenced row. Only a superuser may
        // set it; a BYPASSRLS admin leaves a foreign-key error inconclusive.
        let superuser: bool = session.admin(|tx| {
            tx.query_one(
                "select rolsuper from pg_roles where rolname = current_user",
                &[],
            )
            .map(|row| row.get(0))
        })?;
        let steps: [(&str, BlanketStep<'_, '_>); 3] = [
            ("blanket-update", |run, session, tables, tenants, _| {
                run.blanket_update(session, tables, tenants)
            }),
            ("blanket-delete", Self::blanket_delete),
            (
                "move-to-other-tenant",
                |run, session, tables, tenants, _| {
                    run.move_to_other_tenant(session, tables, tenants)
                },
            ),
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
            let result = step(self, session, tables, tenants, superuser)?;
            self.push(result);
        }
        Ok(())
    }

    /// Tables where some row is not A's: only there can a blanket write show it reached
    /// further than A's rows.
    fn with_other_rows<'t>(
        &self,
        tables: &'t [TenantTable],
        tenants: &Tenants,
    ) -> Vec<(&'t TenantTable, i64)> {
        tables
            .iter()
            .filter_map(|t| {
                let own = tenants.a_rows.get(&t.name).copied().unwrap_or(0);
                let total = tenants.total_rows.get(&t.name).copied().unwrap_or(0);
                (total > own).then_some((t, own))
            })
            .collect()
    }

    fn blanket_update(
        &mut self,
        session: &mut Session,
        tables: &[TenantTable],
        tenants: &Tenants,
    ) -> Result<Case, DbError> {
        let column = quote_ident(&self.probe.tenant_column);
        let mut per_table = Vec::new();
        for (table, own) in self.with_other_rows(tables, tenants) {
            let sql = format!(
                "update {} set {column} = cast($1::text as {})",
                table.name.quoted(),
                table.tenant_type
            );
            let result = self.as_a(session, tenants, false, |tx| {
                tx.execute(&sql, &[&tenants.a])
            })?;
            let (outcome, got) = judge_blanket(result, own, "updated", &tenants.a, false);
            per_table.push((table.name.clone(), sql, outcome, got));
        }
        Ok(self.blanket_summary("blanket-update", "updated", tenants, per_table))
    }

    fn blanket_delete(
        &mut self,
        session: &mut Session,
        tables: &[TenantTable],
        tenants: &Tenants,
        superuser: bool,
    ) -> Result<Case, DbError> {
        let mut per_table = Vec::new();
        for (table, own) in self.with_other_rows(tables, tenants) {
            let sql = format!("delete from {}", table.name.quoted());
            let result = self.as_a(session, tenants, superuser, |tx| tx.execute(&sql, &[]))?;
            let (outcome, got) = judge_blanket(result, own, "deleted", &tenants.a, true);
            let shown = match superuser {
                true => format!(
                    "{sql} -- with session_replication_role = replica (no foreign-key triggers)"
                ),
                false => sql,
            };
            per_table.push((table.name.clone(), shown, outcome, got));
        }
        Ok(self.blanket_summary("blanket-delete", "deleted", tenants, per_table))
    }

    fn move_to_other_tenant(
        &mut self,
        session: &mut Session,
        tables: &[TenantTable],
        tenants: &Tenants,
    ) -> Result<Case, DbError> {
        let column = quote_ident(&self.probe.tenant_column);
        let (a, b) = (&tenants.a, &tenants.b);
        let mut per_table: Vec<PerTable> = Vec::new();
        for table in tables
            .iter()
            .filter(|t| tenants.a_rows.get(&t.name).is_some_and(|n| *n > 0))
        {
            // No WHERE: a WHERE reads columns, and then PostgreSQL also checks the new row
            // against the SELECT policies, which would hide a missing WITH CHECK.
            let sql = format!(
                "update {} set {column} = cast($1::text as {})",
                table.name.quoted(),
                table.tenant_type
            );
            let result = self.as_a(session, tenants, false, |tx| tx.execute(&sql, &[b]))?;
            let (outcome, got) = match result {
                Ok(0) => (
                    CaseOutcome::Pass,
                    format!("0 rows moved ({a}'s rows are not updatable)"),
                ),
                Ok(count) => (CaseOutcome::Fail, format!("{count} rows moved to {b}")),
                Err(err) if err.is_insufficient_privilege() => {
                    (CaseOutcome::Pass, format!("refused ({err})"))
                }
                Err(err) if err.code.starts_with("23") => (
                    CaseOutcome::Fail,
                    format!("the row policy let {a}'s row become {b}'s; only a constraint stopped it ({err})"),
                ),
                Err(err) => (CaseOutcome::Inconclusive, err.to_string()),
            };
            per_table.push((table.name.clone(), sql, outcome, got));
        }
        let role = &self.probe.target.app_role;
        let setting = &self.probe.tenant_setting;
        let message_for = |outcome: CaseOutcome, per_table: &[PerTable]| {
            match outcome {
            CaseOutcome::Pass => format!(
                "as {role} with {setting} = {a}, no row of {a} could be moved to {b} in {} tenant tables",
                per_table.len()
            ),
            CaseOutcome::Fail => format!(
                "as {role} with {setting} = {a}, rows of {a} were moved to {b} (no WITH CHECK on the new row): {}",
                table_lines(per_table, |o| o == CaseOutcome::Fail).join("; ")
            ),
            CaseOutcome::Inconclusive => format!(
                "inconclusive: as {role} with {setting} = {a}, cannot tell for {}",
                table_lines(per_table, |o| o == CaseOutcome::Inconclusive).join("; ")
            ),
        }
        };
        Ok(finish(
            "move-to-other-tenant",
            per_table,
            message_for,
            |t, sql| format!("{t}: as {role}, {setting} = {a}: {sql} ($1 = {b})"),
        ))
    }

    /// Runs `attack` as the app role with A set; with `replica`, foreign-key and ordinary
    /// triggers are off for the attempt (`session_replication_role`, set as the admin between
    /// `reset role` and the role switch).
    fn as_a<T>(
        &self,
        session: &mut Session,
        tenants: &Tenants,
        replica: bool,
        attack: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<Result<T, SqlError>, DbError> {
        let role = quote_ident(&self.probe.target.app_role);
        session.attempt(
            As::App {
                tenant: Some((&self.probe.tenant_setting, &tenants.a)),
            },
            |tx| {
                if replica {
                    tx.batch_execute(&format!(
                        "reset role; set local session_replication_role = replica; set local role {role}"
                    ))?;
                }
                attack(tx)
            },
        )
    }

    fn blanket_summary(
        &self,
        name: &str,
        verb: &str,
        tenants: &Tenants,
        per_table: Vec<PerTable>,
    ) -> Case {
        let role = &self.probe.target.app_role;
        let setting = &self.probe.tenant_setting;
        let a = &tenants.a;
        let message_for = |outcome: CaseOutcome, per_table: &[PerTable]| {
            match outcome {
            CaseOutcome::Pass => format!(
                "as {role} with {setting} = {a}, a blanket statement {verb} no more than {a}'s own rows in {} tenant tables",
                per_table.len()
            ),
            CaseOutcome::Fail => format!(
                "as {role} with {setting} = {a}, a blanket statement {verb} other tenants' rows (the targeted attack may show 0): {}",
                table_lines(per_table, |o| o == CaseOutcome::Fail).join("; ")
            ),
            CaseOutcome::Inconclusive => format!(
                "inconclusive: as {role} with {setting} = {a}, cannot tell for {}",
                table_lines(per_table, |o| o == CaseOutcome::Inconclusive).join("; ")
            ),
        }
        };
        finish(name, per_table, message_for, |t, sql| {
            format!("{t}: as {role}, {setting} = {a}: {sql} ($1 = {a})")
        })
    }
}

/// One permissive-write case over the tables; `self` is threaded for the replica decision.
type BlanketStep<'p, 'c> =
    fn(&mut Run<'p, 'c>, &mut Session, &[TenantTable], &Tenants, bool) -> Result<Case, DbError>;

/// Folds the per-table results into the case; no table at all cannot tell.
fn finish(
    name: &str,
    per_table: Vec<PerTable>,
    message_for: impl Fn(CaseOutcome, &[PerTable]) -> String,
    sent_line: impl Fn(&TableName, &str) -> String,
) -> Case {
    if per_table.is_empty() {
        return case(
            name,
            CaseOutcome::Inconclusive,
            "inconclusive: no tenant table holds rows the attacker could wrongly reach",
            "",
            "",
        );
    }
    let outcome = overall(&per_table);
    let message = message_for(outcome, &per_table);
    let sent = per_table
        .iter()
        .map(|(t, sql, _, _)| sent_line(t, sql))
        .collect::<Vec<_>>()
        .join("\n");
    let got = table_lines(&per_table, |_| true).join("\n");
    case(name, outcome, message, sent, got)
}

/// A blanket UPDATE or DELETE by A: more rows than A owns reached other tenants. A refusal
/// (42501) holds. A constraint error after the row policies (unique, check, not null; a
/// foreign key unless `delete`, where A's own referenced rows raise it too) means the statement
/// reached a row A does not own; any other error, a timeout included, cannot tell.
fn judge_blanket(
    result: Result<u64, SqlError>,
    own: i64,
    verb: &str,
    a: &str,
    delete: bool,
) -> (CaseOutcome, String) {
    match result.map(rows) {
        Ok(count) if count <= own => (
            CaseOutcome::Pass,
            format!("{count} rows {verb}, {a} owns {own}"),
        ),
        Ok(count) => (
            CaseOutcome::Fail,
            format!(
                "{count} rows {verb} but {a} owns {own}: {} other rows reached",
                count - own
            ),
        ),
        Err(err) if err.is_insufficient_privilege() => {
            (CaseOutcome::Pass, format!("refused ({err})"))
        }
        Err(err) if err.code.starts_with("23") && !(delete && err.code == "23503") => (
            CaseOutcome::Fail,
            format!("reached a row {a} does not own; only a constraint stopped it ({err})"),
        ),
        Err(err) => (CaseOutcome::Inconclusive, db::SqlError::to_string(&err)),
    }
}
