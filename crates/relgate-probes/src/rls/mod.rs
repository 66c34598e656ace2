//! `rls`: row-level security of a multi-tenant Postgres database, from the catalog and live.
//!
//! Tenant tables are the tables of `schemas` that have `tenant_column`. The catalog cases check
//! that each has RLS enabled and forced and a policy, that the app role is neither superuser
//! nor BYPASSRLS and owns none of them, that views over them are `security_invoker`, and list
//! the SECURITY DEFINER functions. The live cases act as the app role (`SET LOCAL ROLE`) with
//! tenant A set through `set_config(tenant_setting, A, true)` and try to read, update, delete
//! and insert tenant B's rows, each in a transaction that is rolled back; fingerprints of every
//! tenant table taken before and after prove nothing changed (`data-unchanged`).
//!
//! Permissive policies (constant true, not reading the tenant column, OR-combined) and
//! SECURITY DEFINER functions the app role may call that read tenant tables fail unless
//! expected; blanket UPDATE and DELETE without a WHERE, and moving A's row to B, show writes
//! the targeted attacks miss.
//!
//! This file holds the configuration and the run's order; `catalog.rs` the catalog cases,
//! `policies.rs` the policy and definer-function cases, `controls.rs` the controls, `live.rs`
//! the targeted live attacks, `blanket.rs` the blanket writes and the move, and `judge.rs` how
//! their results are judged and worded.

mod blanket;
mod catalog;
mod controls;
mod judge;
mod live;
mod policies;
mod state;

pub(crate) use state::RlsProbe;
use state::Run;

use crate::config::{Config, ConfigError, ConfigErrorKind};
use crate::db::{self, case, compare_fingerprints, DbError, Session, TableName, Target};
use crate::probe::{Case, Context, Probe, ProbeError};

const CASES: [&str; 17] = [
    "controls",
    "rls-enabled",
    "rls-forced",
    "policies-present",
    "permissive-policies",
    "app-role-attributes",
    "invoker-views",
    "definer-functions",
    "cross-tenant-read",
    "cross-tenant-update",
    "cross-tenant-delete",
    "cross-tenant-insert",
    "no-tenant-set",
    "blanket-update",
    "blanket-delete",
    "move-to-other-tenant",
    "data-unchanged",
];

/// Live cases: inconclusive whenever a control misbehaves.
const LIVE_CASES: [&str; 9] = [
    "cross-tenant-read",
    "cross-tenant-update",
    "cross-tenant-delete",
    "cross-tenant-insert",
    "no-tenant-set",
    "blanket-update",
    "blanket-delete",
    "move-to-other-tenant",
    "data-unchanged",
];

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
        let expected_definer_functions = config
            .strings("expected_definer_functions")?
            .unwrap_or_default();
        let target = Target::configure(config, database, app_role)?;
        Ok(RlsProbe {
            target,
            tenant_column,
            tenant_setting,
            schemas,
            tenants,
            expected_definer_functions,
        })
    }
}

impl Probe for RlsProbe {
    fn cases(&self) -> Vec<String> {
        CASES.iter().map(|name| name.to_string()).collect()
    }

    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, ProbeError> {
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

impl Run<'_, '_> {
    fn all(&mut self, session: &mut Session) -> Result<(), DbError> {
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
                self.blanket_cases(session, &tables, &tenants)?;
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
}

#[cfg(test)]
mod tests {
    use super::catalog::is_security_invoker;
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
