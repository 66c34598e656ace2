//! `rls`: row-level security of a multi-tenant Postgres database, from the catalog and live.
//!
//! Tenant tables are the tables of `schemas` that have `tenant_column`. The catalog cases check
//! that each has RLS enabled and forced and a policy, that the app role is neither superuser
//! nor BYPASSRLS and owns none of them, that views over them are `security_invoker`, and list
//! the SECURITY DEFINER functions. The live cases act as the app role (`SET LOCAL ROLE`) with
//! tenant A set through `set_config(tenant_setting, A, true)` and try to read, update, delete
//! and insert tenant B's rows, each in a transaction that is rolled back; fingerprints of every
//! tenant table taken before and after prove nothing changed (`data-unchanged`).

use std::collections::{BTreeMap, BTreeSet};

use postgres::types::ToSql;

use crate::config::{Config, ConfigError, ConfigErrorKind};
use crate::db::{
    self, case, compare_fingerprints, quote_ident, worst, As, Session, TableName, Target,
};
use crate::probe::{Case, CaseOutcome, Context, Probe};

const CASES: [&str; 13] = [
    "controls",
    "rls-enabled",
    "rls-forced",
    "policies-present",
    "app-role-attributes",
    "invoker-views",
    "definer-functions",
    "cross-tenant-read",
    "cross-tenant-update",
    "cross-tenant-delete",
    "cross-tenant-insert",
    "no-tenant-set",
    "data-unchanged",
];

/// Live cases: inconclusive whenever a control misbehaves.
const LIVE_CASES: [&str; 6] = [
    "cross-tenant-read",
    "cross-tenant-update",
    "cross-tenant-delete",
    "cross-tenant-insert",
    "no-tenant-set",
    "data-unchanged",
];

pub(crate) struct RlsProbe {
    target: Target,
    tenant_column: String,
    tenant_setting: String,
    schemas: Vec<String>,
    tenants: Option<(String, String)>,
}

impl RlsProbe {
    pub(crate) fn configure(config: &mut Config<'_>) -> Result<Self, ConfigError> {
        let (database, app_role) = Target::keys(config)?;
        let tenant_column = db::string_or(config, "tenant_column", "org_id")?;
        let tenant_setting = db::string_or(config, "tenant_setting", "app.org_id")?;
        let schemas = config
            .strings("schemas")?
            .unwrap_or_else(|| vec!["public".to_string()]);
        if schemas.is_empty() {
            return Err(config.error(
                "schemas",
                ConfigErrorKind::InvalidValue,
                "give at least one schema, e.g. [\"public\"]",
            ));
        }
        let tenants = match config.strings("tenants")? {
            None => None,
            Some(list) if list.len() == 2 && list[0] != list[1] => {
                Some((list[0].clone(), list[1].clone()))
            }
            Some(_) => {
                return Err(config.error(
                    "tenants",
                    ConfigErrorKind::InvalidValue,
                    "give two distinct tenant values [attacker, victim], e.g. [\"org-a\", \"org-b\"], or leave it out to sample two",
                ))
            }
        };
        let target = Target::configure(config, database, app_role)?;
        Ok(RlsProbe {
            target,
            tenant_column,
            tenant_setting,
            schemas,
            tenants,
        })
    }
}

impl Probe for RlsProbe {
    fn cases(&self) -> Vec<String> {
        CASES.iter().map(|name| name.to_string()).collect()
    }

    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, String> {
        let mut session = db::connect(&self.target, context)?;
        let mut run = Run {
            probe: self,
            context,
            cases: Vec::new(),
        };
        run.all(&mut session)?;
        Ok(run.cases)
    }
}

/// One tenant table and what the catalog says about it.
#[derive(Debug, Clone)]
struct TenantTable {
    name: TableName,
    oid: u32,
    rls_enabled: bool,
    rls_forced: bool,
    owner: String,
    app_role_owns: bool,
    /// Policies that apply to the app role (`PUBLIC` or the role itself), as `name (cmd)`.
    policies: Vec<String>,
}

struct Run<'p, 'c> {
    probe: &'p RlsProbe,
    context: &'c Context<'c>,
    cases: Vec<Case>,
}

/// What the controls established, for the live cases.
struct Tenants {
    a: String,
    b: String,
    /// Admin counts of B's rows per tenant table.
    b_rows: BTreeMap<TableName, i64>,
}

impl Run<'_, '_> {
    fn push(&mut self, case: Case) {
        self.context.log.line(&format!(
            "case {}: {:?}: {}",
            case.name, case.outcome, case.message
        ));
        self.cases.push(case);
    }

    fn all_inconclusive(&mut self, names: &[&str], why: &str) {
        for name in names {
            if !self.cases.iter().any(|c| c.name == *name) {
                self.push(case(name, CaseOutcome::Inconclusive, why, "", ""));
            }
        }
    }

    fn all(&mut self, session: &mut Session) -> Result<(), String> {
        let tables = self.tenant_tables(session)?;
        let role = session.app_role_attributes()?;
        let column = &self.probe.tenant_column;
        let schemas = self.probe.schemas.join(", ");
        if tables.is_empty() {
            let why = format!(
                "inconclusive: no table in schema(s) {schemas} has the tenant column `{column}`"
            );
            self.all_inconclusive(&CASES, &why);
            return Ok(());
        }
        let Some((superuser, bypass)) = role else {
            let why = format!(
                "inconclusive: the app role `{}` does not exist",
                self.probe.target.app_role
            );
            self.all_inconclusive(&CASES, &why);
            return Ok(());
        };
        self.catalog_cases(session, &tables, superuser, bypass)?;

        let names: Vec<TableName> = tables.iter().map(|t| t.name.clone()).collect();
        let before = db::fingerprints(session, &names)?;
        match self.controls(session, &names)? {
            Ok(tenants) => {
                self.live_cases(session, &names, &tenants)?;
                let after = db::fingerprints(session, &names)?;
                let (outcome, message) = compare_fingerprints(&before, &after);
                let sent = names
                    .iter()
                    .map(db::fingerprint_sql)
                    .collect::<Vec<_>>()
                    .join("\n");
                let got = after
                    .iter()
                    .map(|(table, f)| format!("{table}: {f}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                self.push(case("data-unchanged", outcome, message, sent, got));
            }
            Err(why) => self.all_inconclusive(&LIVE_CASES, &why),
        }
        Ok(())
    }

    fn tenant_tables(&mut self, session: &mut Session) -> Result<Vec<TenantTable>, String> {
        let schemas = self.probe.schemas.clone();
        let column = self.probe.tenant_column.clone();
        let role = self.probe.target.app_role.clone();
        let sql = "select n.nspname::text, c.relname::text, c.oid, c.relrowsecurity, \
             c.relforcerowsecurity, pg_get_userbyid(c.relowner)::text, \
             coalesce((select r.oid = c.relowner or pg_has_role(r.oid, c.relowner, 'MEMBER') \
                       from pg_roles r where r.rolname = $3), false), \
             coalesce((select array_agg(p.polname::text || ' (' || \
                         case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' \
                         when 'w' then 'UPDATE' when 'd' then 'DELETE' else 'ALL' end || \
                         case when p.polpermissive then '' else ', restrictive' end || ')' \
                         order by p.polname) \
                       from pg_policy p where p.polrelid = c.oid \
                       and (0::oid = any(p.polroles) or exists (select 1 from pg_roles r \
                            where r.rolname = $3 and r.oid = any(p.polroles)))), '{}') \
             from pg_class c join pg_namespace n on n.oid = c.relnamespace \
             join pg_attribute a on a.attrelid = c.oid and a.attname = $2 \
                  and a.attnum > 0 and not a.attisdropped \
             where c.relkind in ('r', 'p') and n.nspname = any($1) \
             order by 1, 2";
        self.context
            .log
            .line(&format!("catalog: tenant tables\n{sql}"));
        let rows = session.admin(|tx| tx.query(sql, &[&schemas, &column, &role]))?;
        let tables: Vec<TenantTable> = rows
            .iter()
            .map(|row| TenantTable {
                name: TableName {
                    schema: row.get(0),
                    name: row.get(1),
                },
                oid: row.get(2),
                rls_enabled: row.get(3),
                rls_forced: row.get(4),
                owner: row.get(5),
                app_role_owns: row.get(6),
                policies: row.get(7),
            })
            .collect();
        self.context.log.line(&format!(
            "tenant tables: {}",
            tables
                .iter()
                .map(|t| t.name.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(tables)
    }

    fn catalog_cases(
        &mut self,
        session: &mut Session,
        tables: &[TenantTable],
        superuser: bool,
        bypass: bool,
    ) -> Result<(), String> {
        let listing = |flag: &dyn Fn(&TenantTable) -> String| {
            tables
                .iter()
                .map(|t| format!("{}: {}", t.name, flag(t)))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let sent_flags = "select relname, relrowsecurity, relforcerowsecurity from pg_class \
                          (tables of the schemas with the tenant column)";

        let not_enabled: Vec<String> = tables
            .iter()
            .filter(|t| !t.rls_enabled)
            .map(|t| t.name.to_string())
            .collect();
        let (outcome, message) = pass_unless(
            &not_enabled,
            ", ",
            || format!("RLS is enabled on all {} tenant tables", tables.len()),
            |found| format!("RLS is not enabled on {found}"),
        );
        let got = listing(&|t| format!("relrowsecurity = {}", t.rls_enabled));
        self.push(case("rls-enabled", outcome, message, sent_flags, got));

        let not_forced: Vec<String> = tables
            .iter()
            .filter(|t| !t.rls_forced)
            .map(|t| format!("{} (owner {})", t.name, t.owner))
            .collect();
        let (outcome, message) = pass_unless(
            &not_forced,
            ", ",
            || format!("RLS is forced on all {} tenant tables", tables.len()),
            |found| format!("RLS is not forced on {found}: their owner bypasses the policies"),
        );
        let got = listing(&|t| format!("relforcerowsecurity = {}", t.rls_forced));
        self.push(case("rls-forced", outcome, message, sent_flags, got));

        let without: Vec<String> = tables
            .iter()
            .filter(|t| t.policies.is_empty())
            .map(|t| t.name.to_string())
            .collect();
        let app_role = &self.probe.target.app_role;
        let (outcome, message) = pass_unless(
            &without,
            ", ",
            || format!("every tenant table has a policy that applies to {app_role}"),
            |found| format!("no policy applies to {app_role} on {found}"),
        );
        let got = listing(&|t| {
            if t.policies.is_empty() {
                "no policy".to_string()
            } else {
                t.policies.join(", ")
            }
        });
        self.push(case(
            "policies-present",
            outcome,
            message,
            "select polname, polcmd, polroles from pg_policy (per tenant table; PUBLIC or the app role)",
            got,
        ));

        let role = &self.probe.target.app_role;
        let owned: Vec<String> = tables
            .iter()
            .filter(|t| t.app_role_owns)
            .map(|t| format!("{} (owner {})", t.name, t.owner))
            .collect();
        let mut problems = Vec::new();
        if superuser {
            problems.push("is SUPERUSER".to_string());
        }
        if bypass {
            problems.push("has BYPASSRLS".to_string());
        }
        if !owned.is_empty() {
            problems.push(format!(
                "owns (or is a member of the owner of) {}",
                owned.join(", ")
            ));
        }
        let (outcome, message) = pass_unless(
            &problems,
            ", ",
            || format!("{role} is not superuser, not BYPASSRLS and owns no tenant table"),
            |found| format!("{role} {found}"),
        );
        self.push(case(
            "app-role-attributes",
            outcome,
            message,
            "select rolsuper, rolbypassrls from pg_roles; pg_has_role(app role, relowner, 'MEMBER') per tenant table",
            format!(
                "rolsuper = {superuser}, rolbypassrls = {bypass}, owns: {}",
                if owned.is_empty() { "nothing".to_string() } else { owned.join(", ") }
            ),
        ));

        self.invoker_views(session, tables)?;
        self.definer_functions(session)?;
        Ok(())
    }

    /// Views (and materialized views) that read tenant tables, directly or through other views.
    fn invoker_views(
        &mut self,
        session: &mut Session,
        tables: &[TenantTable],
    ) -> Result<(), String> {
        let sql = "select distinct v.oid, n.nspname::text, v.relname::text, v.relkind::text, \
             coalesce(v.reloptions::text[], '{}'), d.refobjid \
             from pg_rewrite r \
             join pg_class v on v.oid = r.ev_class \
             join pg_namespace n on n.oid = v.relnamespace \
             join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid \
                  and d.refclassid = 'pg_class'::regclass and d.refobjid <> v.oid \
             where v.relkind in ('v', 'm') \
               and n.nspname not in ('pg_catalog', 'information_schema') \
               and n.nspname not like 'pg\\_toast%'";
        self.context
            .log
            .line(&format!("catalog: view dependencies\n{sql}"));
        let rows = session.admin(|tx| tx.query(sql, &[]))?;
        struct View {
            name: String,
            kind: String,
            options: Vec<String>,
            reads: BTreeSet<u32>,
        }
        let mut views: BTreeMap<u32, View> = BTreeMap::new();
        for row in &rows {
            let oid: u32 = row.get(0);
            let view = views.entry(oid).or_insert_with(|| View {
                name: format!("{}.{}", row.get::<_, String>(1), row.get::<_, String>(2)),
                kind: row.get(3),
                options: row.get(4),
                reads: BTreeSet::new(),
            });
            view.reads.insert(row.get(5));
        }
        // Closure: a view over a view over a tenant table reads tenant rows too.
        let mut tenant: BTreeSet<u32> = tables.iter().map(|t| t.oid).collect();
        let mut over_tenant: BTreeSet<u32> = BTreeSet::new();
        loop {
            let before = over_tenant.len();
            for (oid, view) in &views {
                if view.reads.iter().any(|read| tenant.contains(read)) {
                    over_tenant.insert(*oid);
                }
            }
            tenant.extend(over_tenant.iter().copied());
            if over_tenant.len() == before {
                break;
            }
        }
        let mut bad = Vec::new();
        let mut good = Vec::new();
        for oid in &over_tenant {
            let view = &views[oid];
            if view.kind == "m" {
                bad.push(format!(
                    "{} is a materialized view (RLS does not apply to its stored rows)",
                    view.name
                ));
            } else if is_security_invoker(&view.options) {
                good.push(view.name.clone());
            } else {
                bad.push(format!(
                    "{} is not security_invoker (reloptions {:?})",
                    view.name, view.options
                ));
            }
        }
        let (outcome, message) = pass_unless(
            &bad,
            "; ",
            || match good.is_empty() {
                true => "no view reads a tenant table".to_string(),
                false => format!(
                    "every view over tenant tables is security_invoker: {}",
                    good.join(", ")
                ),
            },
            |found| format!("views over tenant tables read with their owner's rights: {found}"),
        );
        let got = over_tenant
            .iter()
            .map(|oid| {
                let view = &views[oid];
                format!(
                    "{} ({}) reloptions {:?}",
                    view.name, view.kind, view.options
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        self.push(case(
            "invoker-views",
            outcome,
            message,
            "select views and materialized views from pg_rewrite/pg_depend that read tenant tables (transitively), with reloptions",
            got,
        ));
        Ok(())
    }

    /// SECURITY DEFINER functions run with their owner's rights; listed for review.
    fn definer_functions(&mut self, session: &mut Session) -> Result<(), String> {
        let schemas = self.probe.schemas.clone();
        let role = self.probe.target.app_role.clone();
        let sql = "select p.oid::regprocedure::text, pg_get_userbyid(p.proowner)::text, \
             o.rolsuper or o.rolbypassrls, \
             p.prorettype = 'trigger'::regtype, \
             coalesce((select has_function_privilege(r.oid, p.oid, 'EXECUTE') \
                       from pg_roles r where r.rolname = $2), false) \
             from pg_proc p join pg_namespace n on n.oid = p.pronamespace \
             join pg_roles o on o.oid = p.proowner \
             where p.prosecdef and n.nspname = any($1) order by 1";
        self.context
            .log
            .line(&format!("catalog: definer functions\n{sql}"));
        let rows = session.admin(|tx| tx.query(sql, &[&schemas, &role]))?;
        let listed: Vec<String> = rows
            .iter()
            .map(|row| {
                let mut notes = vec![format!("owner {}", row.get::<_, String>(1))];
                if row.get::<_, bool>(2) {
                    notes.push("owner bypasses RLS".to_string());
                }
                if row.get::<_, bool>(3) {
                    notes.push("trigger".to_string());
                } else if row.get::<_, bool>(4) {
                    notes.push(format!("{role} may call it"));
                }
                format!("{} [{}]", row.get::<_, String>(0), notes.join(", "))
            })
            .collect();
        let message = if listed.is_empty() {
            format!(
                "no SECURITY DEFINER function in schema(s) {}",
                self.probe.schemas.join(", ")
            )
        } else {
            format!(
                "informational, review each: {} SECURITY DEFINER function(s): {}",
                listed.len(),
                listed.join("; ")
            )
        };
        self.push(case(
            "definer-functions",
            CaseOutcome::Pass,
            message,
            sql,
            listed.join("\n"),
        ));
        Ok(())
    }

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

    fn controls(
        &mut self,
        session: &mut Session,
        tables: &[TableName],
    ) -> Result<Result<Tenants, String>, String> {
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
        for table in tables {
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
        Ok(Ok(Tenants { a, b, b_rows }))
    }

    fn live_cases(
        &mut self,
        session: &mut Session,
        tables: &[TableName],
        tenants: &Tenants,
    ) -> Result<(), String> {
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
    ) -> Result<Case, String> {
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
    ) -> Result<Case, String> {
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
    ) -> Result<Case, String> {
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
    ) -> Result<Case, String> {
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
    ) -> Result<Case, String> {
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
    ) -> Result<Vec<InsertColumn>, String> {
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
    ) -> Result<Case, String> {
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
    ) -> Result<Result<T, db::SqlError>, String> {
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
    fn(&mut Run<'p, 'c>, &mut Session, &[(TableName, i64)], &Tenants) -> Result<Case, String>;

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

/// What one live attack did to one table: the table, what was sent, its outcome, what came back.
type PerTable = (TableName, String, CaseOutcome, String);

/// Judges the row count an attack on B's rows produced: no row is a refusal, any row a
/// failure (`seen` words both), an insufficient-privilege error a refusal (`refused (…)`),
/// any other error inconclusive (worded by `other`).
fn judge_count(
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
fn rows(affected: u64) -> i64 {
    i64::try_from(affected).unwrap_or(i64::MAX)
}

/// Passes when nothing was `found`; fails naming what was (joined with `separator`).
fn pass_unless(
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
fn overall(per_table: &[PerTable]) -> CaseOutcome {
    per_table
        .iter()
        .fold(CaseOutcome::Pass, |outcome, (_, _, o, _)| {
            worst(outcome, *o)
        })
}

/// `table: got` for each table whose outcome `keep` selects.
fn table_lines(per_table: &[PerTable], keep: impl Fn(CaseOutcome) -> bool) -> Vec<String> {
    per_table
        .iter()
        .filter(|(_, _, o, _)| keep(*o))
        .map(|(t, _, _, got)| format!("{t}: {got}"))
        .collect()
}

/// Whether `reloptions` turn `security_invoker` on (`true`, `on`, `yes`, `1`, any case).
fn is_security_invoker(options: &[String]) -> bool {
    options.iter().any(|option| {
        option.split_once('=').is_some_and(|(key, value)| {
            key.trim().eq_ignore_ascii_case("security_invoker")
                && matches!(
                    value.trim().to_ascii_lowercase().as_str(),
                    "true" | "on" | "yes" | "1" | "t" | "y"
                )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configure(text: &str) -> Result<Vec<String>, ConfigError> {
        crate::configure("rls", &text.parse::<toml::Table>().unwrap())
    }

    #[test]
    fn cases_are_stable_and_controls_come_first() {
        let cases = configure("database = \"${db.url}\"").unwrap();
        assert_eq!(cases[0], "controls");
        assert_eq!(cases.len(), CASES.len());
        assert!(cases.contains(&"data-unchanged".to_string()));
    }

    #[test]
    fn database_is_required_and_tenants_need_two_distinct_values() {
        assert_eq!(configure("").unwrap_err().key, "database");
        let err = configure("database = \"x\"\ntenants = [\"org-a\"]").unwrap_err();
        assert_eq!(err.key, "tenants");
        assert!(err.message.contains("two distinct"));
        assert!(configure("database = \"x\"\ntenants = [\"a\", \"a\"]").is_err());
        assert!(configure(
            "database = \"x\"\ntenants = [\"a\", \"b\"]\nstatement_timeout = \"5s\""
        )
        .is_ok());
        assert_eq!(
            configure("database = \"x\"\nschemas = []").unwrap_err().key,
            "schemas"
        );
        assert_eq!(
            configure("database = \"x\"\ntenant = \"a\"")
                .unwrap_err()
                .key,
            "tenant"
        );
    }

    #[test]
    fn security_invoker_reloptions() {
        assert!(is_security_invoker(&["security_invoker=true".to_string()]));
        assert!(is_security_invoker(&[
            "check_option=local".to_string(),
            "security_invoker=on".to_string()
        ]));
        assert!(!is_security_invoker(
            &["security_invoker=false".to_string()]
        ));
        assert!(!is_security_invoker(&[]));
    }
}
