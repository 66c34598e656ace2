//! `audit-chain`: an append-only, hash-chained audit table.
//!
//! As the app role (with a tenant set, so it sees rows), UPDATE, DELETE and TRUNCATE are each
//! attempted in a transaction that is rolled back and must be refused. The catalog must show
//! enabled guard triggers for UPDATE, DELETE and TRUNCATE and no such privilege for the app
//! role. As the admin, the whole chain is recomputed in id order: every hash equals
//! `expected_hash` and every `prev` equals the previous row's hash. With `anchor`, the head of
//! the chain (id + hash) is saved in a file; the next run requires that row to be unchanged,
//! which catches a deleted tail or a rewritten history, then moves the anchor to the new head.
//! `history.rs` reads the history as the admin: time never goes backwards (`order`), ids have
//! no gaps (`gaps`, with `gapless`), every column changes the hash (`hash-columns`) and a
//! rewrite from row k changes the head's hash (`rewritten-history`).

mod anchor;
mod chain;
mod history;
mod state;

pub use anchor::{AnchorError, AnchorFormatError};
pub use state::AuditError;
pub(crate) use state::AuditProbe;
use state::Table;

use std::path::PathBuf;

use crate::config::{Config, ConfigError};
use crate::db::{self, case, quote_ident, As, DbError, Session, SqlError, TableName, Target};
use crate::probe::{Case, CaseOutcome, Context, Probe, ProbeError};

/// tenant-api's `AUDIT_HASH_EXPRESSION`: the expected `self_hash` of row `e`.
pub(crate) const DEFAULT_EXPECTED_HASH: &str = "encode(sha256(convert_to(\
e.id::text || '|' || e.org_id || '|' || e.actor || '|' || e.action || '|' || e.payload::text \
|| '|' || to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
|| '|' || e.prev_hash, 'UTF8')), 'hex')";

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl AuditProbe {
    pub(crate) fn configure(config: &mut Config<'_>) -> Result<Self, ConfigError> {
        let (database, app_role) = Target::keys(config)?;
        Ok(AuditProbe {
            table: db::string_or(config, "table", "audit_events")?,
            id_column: db::string_or(config, "id_column", "id")?,
            prev_column: db::string_or(config, "prev_column", "prev_hash")?,
            hash_column: db::string_or(config, "hash_column", "self_hash")?,
            expected_hash: db::string_or(config, "expected_hash", DEFAULT_EXPECTED_HASH)?,
            genesis: db::string_or(config, "genesis", GENESIS)?,
            anchor: config.string("anchor")?.map(PathBuf::from),
            tenant: config.string("tenant")?,
            tenant_column: db::string_or(config, "tenant_column", "org_id")?,
            tenant_setting: db::string_or(config, "tenant_setting", "app.org_id")?,
            time_column: db::string_or(config, "time_column", "occurred_at")?,
            unhashed_columns: config.strings("unhashed_columns")?.unwrap_or_default(),
            gapless: config.boolean("gapless")?.unwrap_or(false),
            target: Target::configure(config, database, app_role)?,
        })
    }
}

impl Probe for AuditProbe {
    fn cases(&self) -> Vec<String> {
        let mut cases: Vec<String> = [
            "controls",
            "update-refused",
            "delete-refused",
            "truncate-refused",
            "data-unchanged",
            "guard-triggers",
            "privileges",
            "chain",
            "order",
            "hash-columns",
            "rewritten-history",
        ]
        .iter()
        .map(|name| name.to_string())
        .collect();
        if self.gapless {
            cases.push("gaps".to_string());
        }
        if self.anchor.is_some() {
            cases.push("anchor".to_string());
        }
        cases
    }

    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, ProbeError> {
        let mut session = db::connect(&self.target, context)?;
        let mut cases = Vec::new();
        self.all(&mut session, context, &mut cases)?;
        for case in &cases {
            context.log.line(&format!(
                "case {}: {:?}: {}",
                case.name, case.outcome, case.message
            ));
        }
        Ok(cases)
    }
}

const ATTACKS: [&str; 3] = ["update-refused", "delete-refused", "truncate-refused"];

/// Where the cases that read the whole chain as the admin start in [`AuditProbe::cases`]
/// (`chain` and after): inconclusive together when the admin cannot read it.
const HISTORY_FROM: usize = 7;

impl AuditProbe {
    fn all(
        &self,
        session: &mut Session,
        context: &Context<'_>,
        cases: &mut Vec<Case>,
    ) -> Result<(), AuditError> {
        let table = match self.table_info(session)? {
            Ok(table) => table,
            Err(why) => {
                for name in self.cases() {
                    cases.push(case(&name, CaseOutcome::Inconclusive, &why, "", ""));
                }
                return Ok(());
            }
        };
        let role_exists = session.app_role_attributes()?.is_some();
        if role_exists {
            cases.push(self.guard_triggers(session, &table)?);
            cases.push(self.privileges(session, &table)?);
        } else {
            let why = format!(
                "inconclusive: the app role `{}` does not exist",
                self.target.app_role
            );
            for name in ["guard-triggers", "privileges"] {
                cases.push(case(name, CaseOutcome::Inconclusive, &why, "", ""));
            }
        }

        let bypass = session.admin_bypasses_rls()?;
        let count_sql = format!("select count(*) from {}", table.name.quoted());
        let rows: i64 = session.admin(|tx| tx.query_one(&count_sql, &[]).map(|r| r.get(0)))?;
        let chain_ready = if !bypass {
            Err(format!(
                "inconclusive: the `database` role of {} is neither superuser nor BYPASSRLS, so it cannot read the whole chain",
                session.describe
            ))
        } else if rows == 0 {
            Err(format!(
                "inconclusive: {} is empty: an empty log proves nothing",
                table.name
            ))
        } else {
            Ok(())
        };

        // Every attempt is rolled back; the table's fingerprint before and after proves it.
        let before = if bypass {
            Some(db::fingerprints(
                session,
                std::slice::from_ref(&table.name),
            )?)
        } else {
            None
        };
        match self.controls(session, &table, rows, &chain_ready, role_exists)? {
            Ok((control, tenant)) => {
                cases.push(control);
                for attack in ATTACKS {
                    cases.push(self.attack(session, &table, attack, tenant.as_deref())?);
                }
            }
            Err(control) => {
                let why = control.message.clone();
                cases.push(control);
                for attack in ATTACKS {
                    cases.push(case(attack, CaseOutcome::Inconclusive, &why, "", ""));
                }
            }
        }

        cases.push(match &before {
            Some(before) => {
                let after = db::fingerprints(session, std::slice::from_ref(&table.name))?;
                let (outcome, message) = db::compare_fingerprints(before, &after);
                let got = after
                    .iter()
                    .map(|(table, fingerprint)| format!("{table}: {fingerprint}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                case(
                    "data-unchanged",
                    outcome,
                    message,
                    db::fingerprint_sql(&table.name),
                    got,
                )
            }
            None => case(
                "data-unchanged",
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: the `database` role of {} cannot see every row, so it cannot show that nothing changed",
                    session.describe
                ),
                "",
                "",
            ),
        });
        match chain_ready {
            Err(why) => {
                for name in self.cases().into_iter().skip(HISTORY_FROM) {
                    cases.push(case(&name, CaseOutcome::Inconclusive, &why, "", ""));
                }
            }
            Ok(()) => {
                let (chain, head) = self.chain(session, &table)?;
                let chain_ok = chain.outcome == CaseOutcome::Pass;
                cases.push(chain);
                cases.push(self.order(session, &table)?);
                cases.push(self.hash_columns(session, &table)?);
                cases.push(self.rewritten_history(session, &table, rows)?);
                if self.gapless {
                    cases.push(self.gaps(session, &table)?);
                }
                if let Some(anchor) = &self.anchor {
                    let path = context.root.join(anchor);
                    cases.push(self.anchor(session, &table, &path, head, chain_ok, context)?);
                }
            }
        }
        Ok(())
    }

    fn table_info(&self, session: &mut Session) -> Result<Result<Table, String>, DbError> {
        let name = TableName::parse(&self.table, "public");
        let quoted = name.quoted();
        let columns: Vec<(String, String)> = session.admin(|tx| {
            tx.query(
                "select a.attname::text, format_type(a.atttypid, a.atttypmod) \
                 from pg_attribute a where a.attrelid = to_regclass($1) \
                 and a.attnum > 0 and not a.attisdropped order by a.attnum",
                &[&quoted],
            )
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        if columns.is_empty() {
            return Ok(Err(format!(
                "inconclusive: table {name} does not exist (check `table`)"
            )));
        }
        let find = |column: &str| {
            columns
                .iter()
                .find(|(c, _)| c == column)
                .map(|(_, t)| t.clone())
        };
        for (key, column) in [
            ("id_column", &self.id_column),
            ("prev_column", &self.prev_column),
            ("hash_column", &self.hash_column),
        ] {
            if find(column).is_none() {
                return Ok(Err(format!(
                    "inconclusive: {name} has no column `{column}` (check `{key}`)"
                )));
            }
        }
        Ok(Ok(Table {
            id_type: find(&self.id_column).unwrap_or_default(),
            has_tenant_column: find(&self.tenant_column).is_some(),
            name,
            columns,
        }))
    }

    /// Positive control: as the app role (tenant set), at least one row is visible, so a
    /// refused UPDATE/DELETE means something. Negative control: `SET LOCAL ROLE` took effect.
    fn controls(
        &self,
        session: &mut Session,
        table: &Table,
        rows: i64,
        chain_ready: &Result<(), String>,
        role_exists: bool,
    ) -> Result<Result<(Case, Option<String>), Case>, DbError> {
        let inconclusive = |message: String, sent: &str, got: &str| {
            case("controls", CaseOutcome::Inconclusive, message, sent, got)
        };
        if !role_exists {
            return Ok(Err(inconclusive(
                format!(
                    "inconclusive: the app role `{}` does not exist",
                    self.target.app_role
                ),
                "",
                "",
            )));
        }
        if rows == 0 {
            if let Err(why) = chain_ready {
                return Ok(Err(inconclusive(why.clone(), "", "")));
            }
        }
        let role = &self.target.app_role;
        let column = quote_ident(&self.tenant_column);
        let tenant = match (&self.tenant, table.has_tenant_column) {
            (Some(tenant), _) => Some(tenant.clone()),
            (None, false) => None,
            (None, true) => {
                let sql = format!(
                    "select {column}::text from {} order by {} desc limit 1",
                    table.name.quoted(),
                    quote_ident(&self.id_column)
                );
                session.admin(|tx| tx.query_opt(&sql, &[]).map(|r| r.map(|r| r.get(0))))?
            }
        };
        let mut sent = vec![format!(
            "as {role}: SET LOCAL ROLE; select current_user, session_user"
        )];
        if let Err(problem) = session.role_switch_control()? {
            return Ok(Err(inconclusive(
                format!("inconclusive: negative control: {problem}"),
                &sent.join("\n"),
                "",
            )));
        }
        let sql = format!("select count(*) from {}", table.name.quoted());
        let setting = self.tenant_setting.clone();
        let who = match &tenant {
            Some(tenant) => {
                sent.push(format!("as {role} with {setting} = {tenant}: {sql}"));
                As::App {
                    tenant: Some((&setting, tenant)),
                }
            }
            None => {
                sent.push(format!("as {role}: {sql}"));
                As::App { tenant: None }
            }
        };
        let seen = session.attempt(who, |tx| {
            tx.query_one(&sql, &[]).map(|r| r.get::<_, i64>(0))
        })?;
        let with = match &tenant {
            Some(tenant) => format!(" with {setting} = {tenant}"),
            None => String::new(),
        };
        match seen {
            Ok(count) if count > 0 => Ok(Ok((
                case(
                    "controls",
                    CaseOutcome::Pass,
                    format!(
                        "positive: as {role}{with}, {count} of {rows} rows of {} are visible; negative: SET LOCAL ROLE took effect",
                        table.name
                    ),
                    sent.join("\n"),
                    format!("{count} rows visible"),
                ),
                tenant,
            ))),
            Ok(_) => Ok(Err(inconclusive(
                format!(
                    "inconclusive: positive control: as {role}{with}, no row of {} is visible, so a refused UPDATE or DELETE would prove nothing (set `tenant`)",
                    table.name
                ),
                &sent.join("\n"),
                "0 rows visible",
            ))),
            Err(err) => Ok(Err(inconclusive(
                format!(
                    "inconclusive: positive control: as {role}{with}, reading {} failed: {err}",
                    table.name
                ),
                &sent.join("\n"),
                &err.to_string(),
            ))),
        }
    }

    fn attack(
        &self,
        session: &mut Session,
        table: &Table,
        name: &str,
        tenant: Option<&str>,
    ) -> Result<Case, DbError> {
        let quoted = table.name.quoted();
        let id = quote_ident(&self.id_column);
        let hash = quote_ident(&self.hash_column);
        let newest = format!("{id} = (select max({id}) from {quoted})");
        let sql = match name {
            "update-refused" => format!("update {quoted} set {hash} = {hash} where {newest}"),
            "delete-refused" => format!("delete from {quoted} where {newest}"),
            _ => format!("truncate {quoted}"),
        };
        let role = &self.target.app_role;
        let setting = &self.tenant_setting;
        let who = As::App {
            tenant: tenant.map(|tenant| (setting.as_str(), tenant)),
        };
        let with = match tenant {
            Some(tenant) => format!(" with {setting} = {tenant}"),
            None => String::new(),
        };
        if session.past_deadline() {
            return Ok(case(
                name,
                CaseOutcome::Inconclusive,
                "inconclusive: the check's deadline passed",
                "",
                "",
            ));
        }
        let result = session.attempt(who, |tx| tx.execute(&sql, &[]))?;
        let verb = match name {
            "update-refused" => "UPDATE",
            "delete-refused" => "DELETE",
            _ => "TRUNCATE",
        };
        let (outcome, message, got) = match result {
            Ok(0) if verb != "TRUNCATE" => (
                CaseOutcome::Pass,
                format!("{verb} of the newest visible row as {role}{with} affected 0 rows"),
                "0 rows affected".to_string(),
            ),
            Ok(count) if verb != "TRUNCATE" => (
                CaseOutcome::Fail,
                format!(
                    "{verb} as {role}{with} affected {count} row(s) of {} (rolled back)",
                    table.name
                ),
                format!("{count} rows affected"),
            ),
            Ok(_) => (
                CaseOutcome::Fail,
                format!("TRUNCATE {} as {role} succeeded (rolled back)", table.name),
                "TRUNCATE succeeded".to_string(),
            ),
            Err(err) if is_inconclusive_error(&err) => (
                CaseOutcome::Inconclusive,
                format!("inconclusive: {verb} as {role}{with} did not finish: {err}"),
                err.to_string(),
            ),
            Err(err) => (
                CaseOutcome::Pass,
                format!("{verb} as {role}{with} was refused: {err}"),
                err.to_string(),
            ),
        };
        Ok(case(
            name,
            outcome,
            message,
            format!("as {role}{with}: {sql}"),
            got,
        ))
    }

    fn guard_triggers(&self, session: &mut Session, table: &Table) -> Result<Case, DbError> {
        // tgtype bits: 8 DELETE, 16 UPDATE, 32 TRUNCATE. 'O' (origin) and 'A' (always) fire in
        // normal sessions; 'D' is disabled and 'R' fires only in replica sessions.
        let sql =
            "select t.tgname::text, t.tgtype::int, t.tgenabled::text, t.tgfoid::regproc::text \
                   from pg_trigger t where t.tgrelid = to_regclass($1) and not t.tgisinternal \
                   order by 1";
        let quoted = table.name.quoted();
        let triggers: Vec<(String, i32, String, String)> = session.admin(|tx| {
            tx.query(sql, &[&quoted]).map(|rows| {
                rows.iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                    .collect()
            })
        })?;
        let enabled = |bit: i32| {
            triggers
                .iter()
                .filter(|(_, kind, state, _)| kind & bit != 0 && (state == "O" || state == "A"))
                .map(|(name, _, _, _)| name.clone())
                .collect::<Vec<_>>()
        };
        let mut missing = Vec::new();
        let mut found = Vec::new();
        for (event, bit) in [("UPDATE", 16), ("DELETE", 8), ("TRUNCATE", 32)] {
            let names = enabled(bit);
            if names.is_empty() {
                missing.push(event);
            } else {
                found.push(format!("{event}: {}", names.join(", ")));
            }
        }
        let got = triggers
            .iter()
            .map(|(name, kind, state, function)| {
                format!("{name}: tgtype {kind}, tgenabled {state}, function {function}")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let (outcome, message) = if missing.is_empty() {
            (
                CaseOutcome::Pass,
                format!(
                    "enabled guard triggers on {}: {}",
                    table.name,
                    found.join("; ")
                ),
            )
        } else {
            (
                CaseOutcome::Fail,
                format!(
                    "no enabled trigger on {} for {}",
                    table.name,
                    missing.join(", ")
                ),
            )
        };
        Ok(case("guard-triggers", outcome, message, sql, got))
    }

    fn privileges(&self, session: &mut Session, table: &Table) -> Result<Case, DbError> {
        let sql = "select has_any_column_privilege($1, $2::text::regclass, 'UPDATE'), \
                   has_table_privilege($1, $2::text::regclass, 'DELETE'), \
                   has_table_privilege($1, $2::text::regclass, 'TRUNCATE')";
        let role = self.target.app_role.clone();
        let quoted = table.name.quoted();
        let (update, delete, truncate): (bool, bool, bool) = session.admin(|tx| {
            tx.query_one(sql, &[&role, &quoted])
                .map(|r| (r.get(0), r.get(1), r.get(2)))
        })?;
        let held: Vec<&str> = [
            ("UPDATE", update),
            ("DELETE", delete),
            ("TRUNCATE", truncate),
        ]
        .iter()
        .filter(|(_, has)| *has)
        .map(|(name, _)| *name)
        .collect();
        let (outcome, message) = if held.is_empty() {
            (
                CaseOutcome::Pass,
                format!(
                    "{role} has no UPDATE, DELETE or TRUNCATE privilege on {}",
                    table.name
                ),
            )
        } else {
            (
                CaseOutcome::Fail,
                format!("{role} holds {} on {}", held.join(", "), table.name),
            )
        };
        Ok(case(
            "privileges",
            outcome,
            message,
            sql,
            format!("UPDATE {update}, DELETE {delete}, TRUNCATE {truncate}"),
        ))
    }
}

/// A timeout or a client-side error proves no refusal.
fn is_inconclusive_error(err: &SqlError) -> bool {
    err.is_timeout()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configure(text: &str) -> Result<Vec<String>, ConfigError> {
        crate::configure("audit-chain", &text.parse::<toml::Table>().unwrap())
    }

    #[test]
    fn anchor_case_only_when_configured() {
        let plain = configure("database = \"${db.url}\"").unwrap();
        assert_eq!(plain[0], "controls");
        assert!(!plain.contains(&"anchor".to_string()));
        let anchored = configure("database = \"x\"\nanchor = \"gate/audit-anchor.toml\"").unwrap();
        assert_eq!(anchored.last().map(String::as_str), Some("anchor"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert_eq!(
            configure("database = \"x\"\nhash_col = \"h\"")
                .unwrap_err()
                .key,
            "hash_col"
        );
        assert_eq!(configure("table = \"t\"").unwrap_err().key, "database");
    }
}
