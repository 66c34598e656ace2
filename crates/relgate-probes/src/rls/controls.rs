//! The `rls` probe's controls: the admin sees every tenant's rows, two tenants with data are
//! chosen, `SET LOCAL ROLE` takes effect (negative) and tenant A sees its own rows (positive).
//! Without them the live cases prove nothing and are inconclusive.

use std::collections::BTreeMap;

use crate::db::{case, quote_ident, As, DbError, Session, TableName};
use crate::probe::CaseOutcome;

use super::state::{Run, Tenants};

impl Run<'_, '_> {
    /// Positive control: as the app role with A set, A's rows are visible in at least one
    /// tenant table. Negative control: `SET LOCAL ROLE` really makes the session the app role,
    /// and the admin sees B's rows (without them, "B is invisible" would prove nothing).
    /// Records `controls` as inconclusive for `why` (what was sent and what came back so far)
    /// and returns `why`, the way every misbehaving control ends.
    fn inconclusive_controls(
        &mut self,
        why: String,
        sent: impl Into<String>,
        got: impl Into<String>,
    ) -> Result<Tenants, String> {
        self.push(case("controls", CaseOutcome::Inconclusive, &why, sent, got));
        Err(why)
    }

    pub(super) fn controls(
        &mut self,
        session: &mut Session,
        tables: &[TableName],
    ) -> Result<Result<Tenants, String>, DbError> {
        let column = quote_ident(&self.probe.tenant_column);
        let setting = self.probe.tenant_setting.clone();
        let mut sent = Vec::new();
        let mut got = Vec::new();

        if !session.admin_bypasses_rls()? {
            let why = format!(
                "inconclusive: negative control: the `database` role of {} is neither superuser nor BYPASSRLS, so it cannot count every tenant's rows",
                session.describe
            );
            return Ok(self.inconclusive_controls(
                why,
                "select rolsuper or rolbypassrls from pg_roles where rolname = current_user",
                "false",
            ));
        }

        // Rows per tenant per table, as the admin.
        let mut per_tenant: BTreeMap<String, BTreeMap<TableName, i64>> = BTreeMap::new();
        let mut total_rows = BTreeMap::new();
        for table in tables {
            let sql = format!("select count(*) from {}", table.quoted());
            sent.push(format!("as admin: {sql}"));
            let total: i64 = session.admin(|tx| tx.query_one(&sql, &[]).map(|r| r.get(0)))?;
            total_rows.insert(table.clone(), total);
            let sql = format!(
                "select {column}::text, count(*) from {} where {column} is not null group by 1",
                table.quoted()
            );
            sent.push(format!("as admin: {sql}"));
            let rows = session.admin(|tx| tx.query(&sql, &[]))?;
            for row in rows {
                per_tenant
                    .entry(row.get(0))
                    .or_default()
                    .insert(table.clone(), row.get(1));
            }
        }
        let (a, b) = match &self.probe.tenants {
            Some((a, b)) => (a.clone(), b.clone()),
            None => {
                // The two tenants with data in the most tables (then by name), so the attacks
                // cover as many tables as the data allows.
                let mut ranked: Vec<(&String, usize)> = per_tenant
                    .iter()
                    .map(|(tenant, tables)| (tenant, tables.len()))
                    .collect();
                ranked.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
                if ranked.len() < 2 {
                    let why = format!(
                        "inconclusive: negative control: fewer than two tenants have rows in the tenant tables (found {}); set `tenants` or seed data",
                        ranked.len()
                    );
                    return Ok(self.inconclusive_controls(why, sent.join("\n"), ""));
                }
                (ranked[0].0.clone(), ranked[1].0.clone())
            }
        };
        let b_rows = per_tenant.get(&b).cloned().unwrap_or_default();
        let a_rows = per_tenant.get(&a).cloned().unwrap_or_default();
        let b_total: i64 = b_rows.values().sum();
        got.push(format!(
            "admin sees {b_total} rows of {b} in {} tables",
            b_rows.len()
        ));
        if b_total == 0 {
            let why = format!(
                "inconclusive: negative control: the admin sees no row of tenant {b} in any tenant table, so its invisibility would prove nothing"
            );
            return Ok(self.inconclusive_controls(why, sent.join("\n"), got.join("\n")));
        }

        sent.push(format!(
            "as {}: SET LOCAL ROLE; select current_user, session_user",
            self.probe.target.app_role
        ));
        if let Err(problem) = session.role_switch_control()? {
            let why = format!("inconclusive: negative control: {problem}");
            return Ok(self.inconclusive_controls(why, sent.join("\n"), got.join("\n")));
        }

        // Positive control.
        let mut visible = Vec::new();
        let mut errors = Vec::new();
        for table in tables {
            let sql = format!(
                "select count(*) from {} where {column}::text = $1",
                table.quoted()
            );
            sent.push(format!(
                "as {} with {setting} = {a}: {sql} ($1 = {a})",
                self.probe.target.app_role
            ));
            let seen = session.attempt(
                As::App {
                    tenant: Some((&setting, &a)),
                },
                |tx| tx.query_one(&sql, &[&a]).map(|row| row.get::<_, i64>(0)),
            )?;
            match seen {
                Ok(count) if count > 0 => visible.push(format!("{table}: {count}")),
                Ok(_) => {}
                Err(err) => errors.push(format!("{table}: {err}")),
            }
        }
        got.push(format!(
            "{a} rows visible to {} with {setting} = {a}: {}",
            self.probe.target.app_role,
            if visible.is_empty() {
                "none".to_string()
            } else {
                visible.join(", ")
            }
        ));
        if !errors.is_empty() {
            got.push(format!("errors: {}", errors.join("; ")));
        }
        if visible.is_empty() {
            let why = format!(
                "inconclusive: positive control: as {} with {setting} = {a}, no row of {a} is visible in any tenant table",
                self.probe.target.app_role
            );
            return Ok(self.inconclusive_controls(why, sent.join("\n"), got.join("\n")));
        }
        self.push(case(
            "controls",
            CaseOutcome::Pass,
            format!(
                "positive: as {} with {setting} = {a}, {a}'s rows are visible ({}); negative: SET LOCAL ROLE took effect and the admin sees {b_total} rows of {b} in {} tables",
                self.probe.target.app_role,
                visible.join(", "),
                b_rows.len()
            ),
            sent.join("\n"),
            got.join("\n"),
        ));
        Ok(Ok(Tenants {
            a,
            b,
            b_rows,
            a_rows,
            total_rows,
        }))
    }
}
