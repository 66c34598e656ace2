//! The `rls` probe's configuration ([`RlsProbe`]) and run state ([`Run`], the [`Tenants`] the
//! controls chose): the leaf every file of `rls/` builds on.

use std::collections::BTreeMap;

use crate::db::{case, TableName, Target};
use crate::probe::{Case, CaseOutcome, Context};

pub(crate) struct RlsProbe {
    pub(super) target: Target,
    pub(super) tenant_column: String,
    pub(super) tenant_setting: String,
    pub(super) schemas: Vec<String>,
    pub(super) tenants: Option<(String, String)>,
    /// SECURITY DEFINER functions the app role may call that are reviewed and expected
    /// (`name`, `schema.name` or `name(argument types)`).
    pub(super) expected_definer_functions: Vec<String>,
}

pub(super) struct Run<'p, 'c> {
    pub(super) probe: &'p RlsProbe,
    pub(super) context: &'c Context<'c>,
    pub(super) cases: Vec<Case>,
}

/// What the controls established, for the live cases.
pub(super) struct Tenants {
    pub(super) a: String,
    pub(super) b: String,
    /// Admin counts of B's rows per tenant table.
    pub(super) b_rows: BTreeMap<TableName, i64>,
    /// Admin counts of A's rows per tenant table (absent: none).
    pub(super) a_rows: BTreeMap<TableName, i64>,
    /// Admin counts of every row per tenant table, any tenant or none.
    pub(super) total_rows: BTreeMap<TableName, i64>,
}

impl Run<'_, '_> {
    pub(super) fn push(&mut self, case: Case) {
        self.context.log.line(&format!(
            "case {}: {:?}: {}",
            case.name, case.outcome, case.message
        ));
        self.cases.push(case);
    }

    pub(super) fn all_inconclusive(&mut self, names: &[&str], why: &str) {
        for name in names {
            if !self.cases.iter().any(|c| c.name == *name) {
                self.push(case(name, CaseOutcome::Inconclusive, why, "", ""));
            }
        }
    }
}
