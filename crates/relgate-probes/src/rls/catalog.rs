//! The `rls` probe's catalog cases: which tables are tenant tables, whether each has RLS
//! enabled and forced and a policy for the app role, the app role's attributes and views over
//! tenant tables (`security_invoker`); `policies.rs` judges what the policies and SECURITY
//! DEFINER functions allow.

use std::collections::{BTreeMap, BTreeSet};

use crate::db::{case, DbError, Session, TableName};

use super::judge::pass_unless;
use super::state::Run;

/// One tenant table and what the catalog says about it.
#[derive(Debug, Clone)]
pub(super) struct TenantTable {
    pub(super) name: TableName,
    pub(super) oid: u32,
    pub(super) rls_enabled: bool,
    pub(super) rls_forced: bool,
    pub(super) owner: String,
    pub(super) app_role_owns: bool,
    /// Policies that apply to the app role (`PUBLIC`, the role itself or a role whose
    /// privileges it inherits), as `name (cmd)`.
    pub(super) policies: Vec<String>,
    /// The tenant column's type (`format_type`), e.g. `text` or `uuid`.
    pub(super) tenant_type: String,
    /// The tenant column's `attnum`, to find it in policy expressions.
    pub(super) tenant_attnum: i16,
}

impl Run<'_, '_> {
    pub(super) fn tenant_tables(
        &mut self,
        session: &mut Session,
    ) -> Result<Vec<TenantTable>, DbError> {
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
                            where r.rolname = $3 and exists (select 1 from unnest(p.polroles) g \
                            where pg_has_role(r.oid, g, 'USAGE'))))), '{}'), \
             format_type(a.atttypid, a.atttypmod), a.attnum \
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
                tenant_type: row.get(8),
                tenant_attnum: row.get(9),
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

    pub(super) fn catalog_cases(
        &mut self,
        session: &mut Session,
        tables: &[TenantTable],
        superuser: bool,
        bypass: bool,
    ) -> Result<(), DbError> {
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
        self.permissive_policies(session, tables)?;

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
        self.definer_functions(session, tables)?;
        Ok(())
    }

    /// Views (and materialized views) that read tenant tables, directly or through other views.
    fn invoker_views(
        &mut self,
        session: &mut Session,
        tables: &[TenantTable],
    ) -> Result<(), DbError> {
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
}

/// Whether `reloptions` turn `security_invoker` on (`true`, `on`, `yes`, `1`, any case).
pub(super) fn is_security_invoker(options: &[String]) -> bool {
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
