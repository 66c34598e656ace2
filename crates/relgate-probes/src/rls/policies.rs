//! The `rls` probe's catalog cases about what the policies and functions allow:
//! `permissive-policies` (permissive policies that are constant true, do not look at the tenant
//! column, or are OR-combined with another for the same command, including policies that apply
//! through a role the app role is a member of) and `definer-functions` (SECURITY DEFINER
//! functions the app role may call that read tenant tables: a failure unless expected).

use std::collections::BTreeMap;

use crate::db::{case, DbError, Session};
use crate::probe::CaseOutcome;

use super::catalog::TenantTable;
use super::judge::pass_unless;
use super::state::Run;

/// One policy that applies to the app role, from `pg_policy`.
struct Policy {
    table: String,
    name: String,
    command: &'static str,
    permissive: bool,
    using: Option<String>,
    check: Option<String>,
    using_reads_tenant: bool,
    check_reads_tenant: bool,
    /// The roles it is granted to, when the app role gets it only through membership.
    through: Option<String>,
}

impl Run<'_, '_> {
    pub(super) fn permissive_policies(
        &mut self,
        session: &mut Session,
        tables: &[TenantTable],
    ) -> Result<(), DbError> {
        let role = self.probe.target.app_role.clone();
        let column = self.probe.tenant_column.clone();
        let oids: Vec<u32> = tables.iter().map(|t| t.oid).collect();
        let attnums: Vec<i16> = tables.iter().map(|t| t.tenant_attnum).collect();
        // A Var of the policy's own table reading the tenant column, in the stored node tree
        // (`{VAR :varno 1 :varattno N …`); pg_get_expr gives the readable text.
        let sql = "select p.polrelid::regclass::text, p.polname::text, p.polcmd::text, \
             p.polpermissive, pg_get_expr(p.polqual, p.polrelid), \
             pg_get_expr(p.polwithcheck, p.polrelid), \
             coalesce(p.polqual::text like '%{VAR :varno 1 :varattno ' || t.attnum || ' %', false), \
             coalesce(p.polwithcheck::text like '%{VAR :varno 1 :varattno ' || t.attnum || ' %', false), \
             case when 0::oid = any(p.polroles) or me.oid = any(p.polroles) then null \
                  else (select string_agg(pg_get_userbyid(r), ', ' order by 1) \
                        from unnest(p.polroles) r) end \
             from pg_policy p \
             join unnest($1::oid[], $2::int2[]) as t (relid, attnum) on t.relid = p.polrelid \
             join pg_roles me on me.rolname = $3 \
             where 0::oid = any(p.polroles) or exists (select 1 from unnest(p.polroles) r \
                   where pg_has_role(me.oid, r, 'MEMBER')) \
             order by 1, 2";
        self.context
            .log
            .line(&format!("catalog: policies that apply to {role}\n{sql}"));
        let rows = session.admin(|tx| tx.query(sql, &[&oids, &attnums, &role]))?;
        let policies: Vec<Policy> = rows
            .iter()
            .map(|row| Policy {
                table: row.get(0),
                name: row.get(1),
                command: match row.get::<_, String>(2).as_str() {
                    "r" => "SELECT",
                    "a" => "INSERT",
                    "w" => "UPDATE",
                    "d" => "DELETE",
                    _ => "ALL",
                },
                permissive: row.get(3),
                using: row.get(4),
                check: row.get(5),
                using_reads_tenant: row.get(6),
                check_reads_tenant: row.get(7),
                through: row.get(8),
            })
            .collect();

        let mut problems = Vec::new();
        let mut per_command: BTreeMap<(String, &str), Vec<String>> = BTreeMap::new();
        for policy in policies.iter().filter(|p| p.permissive) {
            let label = match &policy.through {
                Some(roles) => format!(
                    "{} on {} ({}, through membership in {roles})",
                    policy.name, policy.table, policy.command
                ),
                None => format!("{} on {} ({})", policy.name, policy.table, policy.command),
            };
            let has_using = policy.command != "INSERT";
            let has_check = matches!(policy.command, "INSERT" | "UPDATE" | "ALL");
            if has_using {
                if let Some(why) =
                    expression_problem(policy.using.as_deref(), policy.using_reads_tenant, &column)
                {
                    problems.push(format!("{label}: USING {why}"));
                }
            }
            // Without WITH CHECK, UPDATE and ALL policies check new rows with USING, judged above;
            // an INSERT policy without one admits any row.
            let check_judged = policy.check.is_some() || policy.command == "INSERT";
            if has_check && check_judged {
                if let Some(why) =
                    expression_problem(policy.check.as_deref(), policy.check_reads_tenant, &column)
                {
                    problems.push(format!("{label}: WITH CHECK {why}"));
                }
            }
            let commands: &[&'static str] = match policy.command {
                "ALL" => &["SELECT", "INSERT", "UPDATE", "DELETE"],
                "SELECT" => &["SELECT"],
                "INSERT" => &["INSERT"],
                "UPDATE" => &["UPDATE"],
                _ => &["DELETE"],
            };
            for command in commands {
                per_command
                    .entry((policy.table.clone(), command))
                    .or_default()
                    .push(policy.name.clone());
            }
        }
        for ((table, command), names) in &per_command {
            if names.len() > 1 {
                problems.push(format!(
                    "{} permissive policies for {command} on {table} are OR-combined (the widest decides): {}",
                    names.len(),
                    names.join(", ")
                ));
            }
        }
        let permissive = policies.iter().filter(|p| p.permissive).count();
        let (outcome, message) = pass_unless(
            &problems,
            "; ",
            || {
                format!(
                    "{permissive} permissive policies apply to {role} on {} tenant tables: each reads `{column}`, none is constant true, at most one per command and table",
                    tables.len()
                )
            },
            |found| format!("permissive policies that widen what {role} may do: {found}"),
        );
        let got = policies
            .iter()
            .map(|p| {
                format!(
                    "{} on {} ({}{}){}: USING {} WITH CHECK {}",
                    p.name,
                    p.table,
                    p.command,
                    if p.permissive { "" } else { ", restrictive" },
                    p.through
                        .as_ref()
                        .map(|r| format!(" to {r}"))
                        .unwrap_or_default(),
                    p.using.as_deref().unwrap_or("-"),
                    p.check.as_deref().unwrap_or("-")
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        self.push(case("permissive-policies", outcome, message, sql, got));
        Ok(())
    }

    /// SECURITY DEFINER functions run with their owner's rights. Those the app role may call
    /// (not triggers) whose body names a tenant table fail unless `expected_definer_functions`
    /// lists them; the others are listed for review.
    pub(super) fn definer_functions(
        &mut self,
        session: &mut Session,
        tables: &[TenantTable],
    ) -> Result<(), DbError> {
        let schemas = self.probe.schemas.clone();
        let role = self.probe.target.app_role.clone();
        let sql = "select p.oid::regprocedure::text, pg_get_userbyid(p.proowner)::text, \
             o.rolsuper or o.rolbypassrls, \
             p.prorettype = 'trigger'::regtype, \
             coalesce((select has_function_privilege(r.oid, p.oid, 'EXECUTE') \
                       from pg_roles r where r.rolname = $2), false), \
             n.nspname::text, p.proname::text, coalesce(p.prosrc, '') \
             from pg_proc p join pg_namespace n on n.oid = p.pronamespace \
             join pg_roles o on o.oid = p.proowner \
             where p.prosecdef and n.nspname = any($1) order by 1";
        self.context
            .log
            .line(&format!("catalog: definer functions\n{sql}"));
        let rows = session.admin(|tx| tx.query(sql, &[&schemas, &role]))?;
        let mut listed = Vec::new();
        let mut unexpected = Vec::new();
        let mut expected = Vec::new();
        for row in &rows {
            let signature: String = row.get(0);
            let (schema, name): (String, String) = (row.get(5), row.get(6));
            let body: String = row.get(7);
            let trigger: bool = row.get(3);
            let callable: bool = row.get(4);
            let reads: Vec<String> = tables
                .iter()
                .filter(|t| names_identifier(&body, &t.name.name))
                .map(|t| t.name.to_string())
                .collect();
            let mut notes = vec![format!("owner {}", row.get::<_, String>(1))];
            if row.get::<_, bool>(2) {
                notes.push("owner bypasses RLS".to_string());
            }
            if trigger {
                notes.push("trigger".to_string());
            } else if callable {
                notes.push(format!("{role} may call it"));
            }
            if !reads.is_empty() {
                notes.push(format!("reads {}", reads.join(", ")));
            }
            let line = format!("{signature} [{}]", notes.join(", "));
            if !trigger && callable && !reads.is_empty() {
                let listed_as_expected = self
                    .probe
                    .expected_definer_functions
                    .iter()
                    .any(|e| *e == name || *e == format!("{schema}.{name}") || *e == signature);
                match listed_as_expected {
                    true => expected.push(signature.clone()),
                    false => unexpected.push(line.clone()),
                }
            }
            listed.push(line);
        }
        let (outcome, message) = if !unexpected.is_empty() {
            (
                CaseOutcome::Fail,
                format!(
                    "{role} may call SECURITY DEFINER function(s) that read tenant tables with their owner's rights, not listed in `expected_definer_functions`: {}",
                    unexpected.join("; ")
                ),
            )
        } else if listed.is_empty() {
            (
                CaseOutcome::Pass,
                format!(
                    "no SECURITY DEFINER function in schema(s) {}",
                    self.probe.schemas.join(", ")
                ),
            )
        } else {
            let message = format!(
                "none that {role} may call reads a tenant table{}; review each of {} SECURITY DEFINER function(s): {}",
                if expected.is_empty() {
                    String::new()
                } else {
                    format!(" unless expected ({})", expected.join(", "))
                },
                listed.len(),
                listed.join("; ")
            );
            (CaseOutcome::Pass, message)
        };
        self.push(case(
            "definer-functions",
            outcome,
            message,
            sql,
            listed.join("\n"),
        ));
        Ok(())
    }
}

/// Why a permissive policy expression widens access, if it does: missing (an INSERT policy
/// without WITH CHECK admits any row), constant true, or not reading the tenant column.
fn expression_problem(
    expression: Option<&str>,
    reads_tenant: bool,
    column: &str,
) -> Option<String> {
    match expression.map(str::trim) {
        None => Some("is missing (any row passes)".to_string()),
        Some(text) if text.eq_ignore_ascii_case("true") => Some("is constant true".to_string()),
        Some(text) if !reads_tenant => Some(format!("({text}) does not read `{column}`")),
        Some(_) => None,
    }
}

/// Whether `body` names `identifier` as a whole word (case-insensitive; `"quoted"` too).
fn names_identifier(body: &str, identifier: &str) -> bool {
    let body = body.to_ascii_lowercase();
    let needle = identifier.to_ascii_lowercase();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    body.match_indices(&needle).any(|(at, _)| {
        let before = body[..at].chars().next_back();
        let after = body[at + needle.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_bodies_name_tables_as_whole_words() {
        assert!(names_identifier(
            "select count(*) from public.projects p",
            "projects"
        ));
        assert!(names_identifier("FROM \"Projects\" x", "projects"));
        assert!(!names_identifier("from projects_archive", "projects"));
        assert!(!names_identifier("from my_projects", "projects"));
    }

    #[test]
    fn expressions_that_widen_access() {
        assert!(expression_problem(Some("true"), false, "org_id").is_some());
        assert!(expression_problem(None, false, "org_id").is_some());
        assert!(expression_problem(Some("(name ~~ 'Shared:%'::text)"), false, "org_id").is_some());
        assert!(expression_problem(Some("(org_id = 'a'::text)"), true, "org_id").is_none());
    }
}
