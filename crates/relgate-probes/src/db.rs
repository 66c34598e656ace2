//! What the database probes (`rls`, `audit-chain`, `rls-overhead`) share: connecting as the
//! admin with a connect timeout and the password redacted, running one attempt as the app role
//! in a transaction that is always rolled back, quoting identifiers, and table fingerprints.
//!
//! **Invariant:** every statement a probe runs as the app role goes through [`attempt`], whose
//! transaction is rolled back whatever happens, so a probe never changes the target's data.

use std::fmt;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls, Transaction};

use crate::config::{Config, ConfigError};
use crate::probe::{CaseOutcome, Context};

/// Default `connect_timeout` and `statement_timeout`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// An error of one statement: SQLSTATE (when the server sent one) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// Five-character SQLSTATE, empty for a client-side error (connection lost, bad type).
    pub(crate) code: String,
    /// The server's message, or the client's.
    pub(crate) message: String,
}

impl SqlError {
    /// From a driver error.
    pub(crate) fn from_postgres(error: &postgres::Error) -> SqlError {
        match error.as_db_error() {
            Some(db) => SqlError {
                code: db.code().code().to_string(),
                message: db.message().to_string(),
            },
            None => SqlError {
                code: error
                    .code()
                    .map(|c| c.code().to_string())
                    .unwrap_or_default(),
                message: error.to_string(),
            },
        }
    }

    /// `42501` insufficient_privilege: permission denied, an RLS `WITH CHECK` rejection, or a
    /// guard trigger raising it.
    pub(crate) fn is_insufficient_privilege(&self) -> bool {
        self.code == "42501"
    }

    /// A timeout or lock timeout: the attempt did not finish, which proves nothing.
    pub(crate) fn is_timeout(&self) -> bool {
        matches!(self.code.as_str(), "57014" | "55P03") || self.code.is_empty()
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code.is_empty() {
            write!(f, "error: {}", self.message)
        } else {
            write!(f, "SQLSTATE {}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for SqlError {}

/// Why a database probe could not run at all (the check is an ERROR, not a failure): it
/// cannot connect, an attempt cannot be set up or rolled back, a catalog query fails.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// `database` does not parse; `url` has its password redacted.
    #[error("`database` {url} is not a connection string: {source}")]
    NotAConnectionString {
        url: String,
        #[source]
        source: postgres::Error,
    },
    /// The deadline passed before the first connection.
    #[error("deadline passed before connecting to {target}")]
    DeadlineBeforeConnect { target: String },
    /// The server refused or did not answer.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: postgres::Error,
    },
    /// The check's deadline passed before an attempt.
    #[error("the check's deadline passed")]
    DeadlinePassed,
    /// One step of setting up or rolling back an attempt (`cannot begin a transaction`,
    /// `cannot set timeouts`, `cannot switch to the app role …`, `rollback failed`).
    #[error("{step}: {source}")]
    Attempt {
        step: String,
        #[source]
        source: SqlError,
    },
    /// The connection closed while an attempt ran.
    #[error("the connection closed during the attempt")]
    ConnectionClosed,
    /// A read-only admin query (catalog, counts, fingerprints) failed.
    #[error("catalog query on {target} failed: {source}")]
    Catalog {
        target: String,
        #[source]
        source: SqlError,
    },
}

crate::probe::into_probe_error!(DbError);

impl From<postgres::Error> for SqlError {
    fn from(error: postgres::Error) -> SqlError {
        SqlError::from_postgres(&error)
    }
}

/// How a probe reaches the database: the admin URL and the role it attacks as.
pub(crate) struct Target {
    /// The admin/owner connection string (may hold a password).
    pub(crate) url: String,
    /// The role the application connects as.
    pub(crate) app_role: String,
    /// Timeout of the TCP/socket connection and startup.
    pub(crate) connect_timeout: Duration,
    /// `statement_timeout` and `lock_timeout` of every transaction the probe opens.
    pub(crate) statement_timeout: Duration,
}

impl Target {
    /// Reads `database` (required) and `app_role` (default `tenant_app`), the first keys of
    /// every database probe; [`Target::configure`] completes the target.
    pub(crate) fn keys(config: &mut Config<'_>) -> Result<(String, String), ConfigError> {
        let url = config.required_string("database")?;
        let app_role = string_or(config, "app_role", "tenant_app")?;
        Ok((url, app_role))
    }

    /// The target of `url` as `app_role` (from [`Target::keys`]), reading `connect_timeout` and
    /// `statement_timeout` (default ten seconds each), the last keys of every database probe.
    pub(crate) fn configure(
        config: &mut Config<'_>,
        url: String,
        app_role: String,
    ) -> Result<Target, ConfigError> {
        Ok(Target {
            url,
            app_role,
            connect_timeout: duration_key(config, "connect_timeout")?,
            statement_timeout: duration_key(config, "statement_timeout")?,
        })
    }
}

/// Reads string `key`, or `default` when it is not set.
pub(crate) fn string_or(
    config: &mut Config<'_>,
    key: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    Ok(config.string(key)?.unwrap_or_else(|| default.to_string()))
}

/// An admin connection plus what the probe needs to attack through it.
pub(crate) struct Session {
    /// The admin connection.
    pub(crate) client: Client,
    /// The app role, as configured.
    pub(crate) app_role: String,
    /// `host:port/db as user`, password-free, for messages.
    pub(crate) describe: String,
    statement_timeout: Duration,
    deadline: Instant,
}

/// Replaces the password of a PostgreSQL connection string (URL or key/value form) with `***`.
pub(crate) fn redact_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let (scheme, rest) = url.split_at(scheme_end + 3);
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let authority = match authority.rfind('@') {
            Some(at) => match authority[..at].split_once(':') {
                Some((user, _)) => format!("{user}:***{}", &authority[at..]),
                None => authority.to_string(),
            },
            None => authority.to_string(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|param| match param.split_once('=') {
                        Some(("password", _)) => "password=***".to_string(),
                        _ => param.to_string(),
                    })
                    .collect();
                format!("{path}?{}", query.join("&"))
            }
            None => tail.to_string(),
        };
        return format!("{scheme}{authority}{tail}");
    }
    // Key/value form: `host=h password=secret dbname=d`.
    url.split(' ')
        .map(|word| match word.split_once('=') {
            Some(("password", _)) => "password=***".to_string(),
            _ => word.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Connects as the admin. The password is registered as a secret before anything is logged,
/// and no message holds the URL in clear.
pub(crate) fn connect(target: &Target, context: &Context<'_>) -> Result<Session, DbError> {
    let mut config: postgres::Config =
        target
            .url
            .parse()
            .map_err(|source| DbError::NotAConnectionString {
                url: redact_url(&target.url),
                source,
            })?;
    if let Some(password) = config.get_password() {
        context.log.add_secret(&String::from_utf8_lossy(password));
    }
    let describe = describe_config(&config);
    let remaining = context.deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err(DbError::DeadlineBeforeConnect { target: describe });
    }
    config.connect_timeout(target.connect_timeout.min(remaining));
    context.log.line(&format!("connect {describe}"));
    let client = config.connect(NoTls).map_err(|source| DbError::Connect {
        target: describe.clone(),
        source,
    })?;
    context.log.line("connected");
    Ok(Session {
        client,
        app_role: target.app_role.clone(),
        describe,
        statement_timeout: target.statement_timeout,
        deadline: context.deadline,
    })
}

fn describe_config(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres {host}:{port}/{} as {}",
        config.get_dbname().unwrap_or("(default)"),
        config.get_user().unwrap_or("(default user)")
    )
}

/// Who runs an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum As<'t> {
    /// The admin connection itself (for baselines), no role switch, no tenant.
    Admin,
    /// The app role (`SET LOCAL ROLE`), with `setting` set to `tenant` when given.
    App {
        /// `(setting, tenant)`, e.g. `("app.org_id", "org-a")`, or `None` for no tenant.
        tenant: Option<(&'t str, &'t str)>,
    },
}

impl Session {
    /// Whether the check's deadline has passed.
    pub(crate) fn past_deadline(&self) -> bool {
        Instant::now() >= self.deadline
    }

    fn timeout_ms(&self) -> u128 {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        self.statement_timeout.min(remaining).as_millis().max(1)
    }

    /// Runs `attack` in a transaction as `who`, then rolls back whatever happened.
    ///
    /// The outer `Err` means the attempt could not be set up (the role does not exist, the
    /// connection broke): the probe cannot tell. The inner result is the attack's own outcome,
    /// an error included (a refusal is usually an error).
    pub(crate) fn attempt<T>(
        &mut self,
        who: As<'_>,
        attack: impl FnOnce(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<Result<T, SqlError>, DbError> {
        if self.past_deadline() {
            return Err(DbError::DeadlinePassed);
        }
        let step = |step: &str| {
            let step = step.to_string();
            move |err: postgres::Error| DbError::Attempt {
                step,
                source: SqlError::from(err),
            }
        };
        let timeout = self.timeout_ms();
        let role = quote_ident(&self.app_role);
        let mut transaction = self
            .client
            .transaction()
            .map_err(step("cannot begin a transaction"))?;
        transaction
            .batch_execute(&format!(
                "set local statement_timeout = {timeout}; set local lock_timeout = {timeout}"
            ))
            .map_err(step("cannot set timeouts"))?;
        if let As::App { tenant } = who {
            transaction
                .batch_execute(&format!("set local role {role}"))
                .map_err(step(&format!(
                    "cannot switch to the app role {}",
                    self.app_role
                )))?;
            if let Some((setting, value)) = tenant {
                transaction
                    .query_one("select set_config($1, $2, true)", &[&setting, &value])
                    .map_err(step(&format!("cannot set {setting}")))?;
            }
        }
        let outcome = attack(&mut transaction).map_err(SqlError::from);
        // Dropping would roll back too; rolling back explicitly surfaces a broken connection.
        let rollback = transaction.rollback();
        if let Err(err) = rollback {
            if !self.client.is_closed() {
                return Err(step("rollback failed")(err));
            }
            return Err(DbError::ConnectionClosed);
        }
        Ok(outcome)
    }

    /// Runs a read-only admin query outside any attempt (catalog lookups).
    pub(crate) fn admin<T>(
        &mut self,
        read: impl FnOnce(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        match self.attempt(As::Admin, read)? {
            Ok(value) => Ok(value),
            Err(source) => Err(DbError::Catalog {
                target: self.describe.clone(),
                source,
            }),
        }
    }

    /// Whether the admin connection sees every row regardless of RLS (superuser or BYPASSRLS).
    pub(crate) fn admin_bypasses_rls(&mut self) -> Result<bool, DbError> {
        self.admin(|tx| {
            tx.query_one(
                "select rolsuper or rolbypassrls from pg_roles where rolname = current_user",
                &[],
            )
            .map(|row| row.get(0))
        })
    }

    /// `Some((superuser, bypassrls))` of the app role, `None` when it does not exist.
    pub(crate) fn app_role_attributes(&mut self) -> Result<Option<(bool, bool)>, DbError> {
        let role = self.app_role.clone();
        self.admin(|tx| {
            tx.query_opt(
                "select rolsuper, rolbypassrls from pg_roles where rolname = $1",
                &[&role],
            )
            .map(|row| row.map(|row| (row.get(0), row.get(1))))
        })
    }

    /// The negative control every database probe shares: after `SET LOCAL ROLE`, `current_user`
    /// is the app role and not the admin, so no attempt silently runs with the admin's rights.
    pub(crate) fn role_switch_control(&mut self) -> Result<Result<(), String>, DbError> {
        let app_role = self.app_role.clone();
        let seen = self.attempt(As::App { tenant: None }, |tx| {
            tx.query_one("select current_user::text, session_user::text", &[])
                .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1)))
        })?;
        Ok(match seen {
            Ok((current, session)) if current == app_role && current != session => Ok(()),
            Ok((current, session)) => Err(format!(
                "after SET LOCAL ROLE {app_role}, current_user is {current} (session user {session})"
            )),
            Err(err) => Err(format!("SET LOCAL ROLE {app_role} then current_user: {err}")),
        })
    }
}

/// A possibly schema-qualified table name, quoted for SQL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TableName {
    /// Schema.
    pub(crate) schema: String,
    /// Table.
    pub(crate) name: String,
}

impl TableName {
    /// Parses `table` or `schema.table` (no quoting: names with dots are not supported here).
    pub(crate) fn parse(text: &str, default_schema: &str) -> TableName {
        match text.split_once('.') {
            Some((schema, name)) => TableName {
                schema: schema.to_string(),
                name: name.to_string(),
            },
            None => TableName {
                schema: default_schema.to_string(),
                name: text.to_string(),
            },
        }
    }

    /// `"schema"."name"`.
    pub(crate) fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// Quotes an identifier the way `quote_ident` does: always in double quotes, inner quotes
/// doubled, so any name (keywords, capitals, spaces) is taken literally.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Row count and md5 of a table's rows in a fixed order: equal fingerprints before and after a
/// probe mean the probe changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    /// `count(*)`.
    pub(crate) rows: i64,
    /// md5 of the rows' text forms, sorted and comma-joined (empty for an empty table).
    pub(crate) md5: String,
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rows, md5 {}", self.rows, self.md5)
    }
}

/// The fingerprint SQL of `table` (read as a role that sees every row).
pub(crate) fn fingerprint_sql(table: &TableName) -> String {
    format!(
        "select count(*), coalesce(md5(string_agg(t::text, ',' order by t::text)), '') from {} t",
        table.quoted()
    )
}

/// Fingerprints of `tables`, read as the admin.
pub(crate) fn fingerprints(
    session: &mut Session,
    tables: &[TableName],
) -> Result<Vec<(TableName, Fingerprint)>, DbError> {
    let mut out = Vec::new();
    for table in tables {
        let sql = fingerprint_sql(table);
        let fingerprint = session.admin(|tx| {
            tx.query_one(&sql, &[]).map(|row| Fingerprint {
                rows: row.get(0),
                md5: row.get(1),
            })
        })?;
        out.push((table.clone(), fingerprint));
    }
    Ok(out)
}

/// Compares fingerprints taken before and after: `Pass` when all equal, else `Fail` naming
/// the tables that changed.
pub(crate) fn compare_fingerprints(
    before: &[(TableName, Fingerprint)],
    after: &[(TableName, Fingerprint)],
) -> (CaseOutcome, String) {
    let changed: Vec<String> = before
        .iter()
        .filter_map(|(table, old)| {
            let new = after
                .iter()
                .find(|(other, _)| other == table)
                .map(|(_, f)| f);
            match new {
                Some(new) if new == old => None,
                Some(new) => Some(format!("{table}: {old} before, {new} after")),
                None => Some(format!("{table}: no fingerprint after")),
            }
        })
        .collect();
    if changed.is_empty() {
        let rows: i64 = before.iter().map(|(_, f)| f.rows).sum();
        (
            CaseOutcome::Pass,
            format!(
                "{} tables ({rows} rows) have the same row count and md5 before and after",
                before.len()
            ),
        )
    } else {
        (
            CaseOutcome::Fail,
            format!("rows changed: {}", changed.join("; ")),
        )
    }
}

/// The worse of two outcomes: Fail over Inconclusive over Pass.
pub(crate) fn worst(a: CaseOutcome, b: CaseOutcome) -> CaseOutcome {
    fn rank(outcome: CaseOutcome) -> u8 {
        match outcome {
            CaseOutcome::Pass => 0,
            CaseOutcome::Inconclusive => 1,
            CaseOutcome::Fail => 2,
        }
    }
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// A case, for brevity.
pub(crate) fn case(
    name: &str,
    outcome: CaseOutcome,
    message: impl Into<String>,
    sent: impl Into<String>,
    got: impl Into<String>,
) -> crate::probe::Case {
    crate::probe::Case {
        name: name.to_string(),
        outcome,
        message: message.into(),
        sent: sent.into(),
        got: got.into(),
    }
}

/// Reads a duration key with a default.
fn duration_key(config: &mut Config<'_>, key: &'static str) -> Result<Duration, ConfigError> {
    Ok(config.duration(key)?.unwrap_or(DEFAULT_TIMEOUT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_in_both_forms() {
        assert_eq!(
            redact_url("postgres://admin:s3cr%40t@db:5432/app?sslmode=disable&password=x"),
            "postgres://admin:***@db:5432/app?sslmode=disable&password=***"
        );
        assert_eq!(
            redact_url("postgresql://postgres@127.0.0.1:5432/t"),
            "postgresql://postgres@127.0.0.1:5432/t"
        );
        assert_eq!(
            redact_url("host=db password=hunter2 dbname=app"),
            "host=db password=*** dbname=app"
        );
    }

    #[test]
    fn identifiers_are_always_quoted() {
        assert_eq!(quote_ident("org_id"), "\"org_id\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(
            TableName::parse("audit_events", "public").quoted(),
            "\"public\".\"audit_events\""
        );
        assert_eq!(
            TableName::parse("app.Events", "public").quoted(),
            "\"app\".\"Events\""
        );
    }

    #[test]
    fn worst_prefers_fail_then_inconclusive() {
        use CaseOutcome::*;
        assert_eq!(worst(Pass, Inconclusive), Inconclusive);
        assert_eq!(worst(Fail, Inconclusive), Fail);
        assert_eq!(worst(Pass, Pass), Pass);
    }
}
