//! [`RunDatabase`]: a database created on an existing server for one run.

use std::str::FromStr;
use std::time::Duration;

use postgres::NoTls;

use crate::ephemeral::create_database;
use crate::error::PgError;
use crate::url::{quote_identifier, redact_url, validate_database_name, with_database};

/// How long connecting to the server may take when its URL sets no `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A database created on an existing server for one run, dropped (`WITH (FORCE)`, so open
/// connections do not keep it alive) when dropped, unless kept.
///
/// Connections use no TLS: a server URL demanding `sslmode=require` cannot be used.
#[derive(Debug)]
pub struct RunDatabase {
    server_url: String,
    name: String,
    url: String,
    keep: bool,
    /// Whether the database still needs dropping (false once dropped, or when kept).
    pending_drop: bool,
}

impl RunDatabase {
    /// Connects to `server_url` and runs `CREATE DATABASE "name"`. `name` must be 1 to 63
    /// ASCII letters, digits and `_`; an existing database of that name is an error
    /// ([`PgError::DatabaseExists`]), never reused. With `keep`, the database outlives this
    /// value (for inspecting a failed run).
    pub fn create(server_url: &str, name: &str, keep: bool) -> Result<RunDatabase, PgError> {
        validate_database_name(name)?;
        let url = with_database(server_url, name)?;
        let mut client = connect(server_url)?;
        create_database(&mut client, name, &redact_url(server_url))?;
        Ok(RunDatabase {
            server_url: server_url.to_owned(),
            name: name.to_owned(),
            url,
            keep,
            pending_drop: !keep,
        })
    }

    /// The database's URL: `server_url` with the database replaced by [`name`](Self::name),
    /// user, password, hosts, port and query parameters kept. It holds the password, if any:
    /// pass it through [`redact_url`] before showing it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the database is kept rather than dropped.
    pub fn keep(&self) -> bool {
        self.keep
    }

    /// Drops the database now (`DROP DATABASE IF EXISTS … WITH (FORCE)`, PostgreSQL 13 or
    /// newer), reporting failure; does nothing when kept.
    pub fn drop_now(mut self) -> Result<(), PgError> {
        self.drop_database()
    }

    fn drop_database(&mut self) -> Result<(), PgError> {
        if !self.pending_drop {
            return Ok(());
        }
        // Tried once: a failure is reported here, not retried noisily by `Drop`.
        self.pending_drop = false;
        drop_database(&self.server_url, &self.name)
    }
}

/// Drops database `name` on the server at `server_url` (`DROP DATABASE IF EXISTS … WITH
/// (FORCE)`, PostgreSQL 13 or newer); a missing database is not an error. For cleanup paths
/// that cannot reach the [`RunDatabase`], such as an interrupt handler.
pub fn drop_database(server_url: &str, name: &str) -> Result<(), PgError> {
    validate_database_name(name)?;
    let mut client = connect(server_url)?;
    let statement = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_identifier(name)
    );
    client.batch_execute(&statement).map_err(|source| {
        PgError::sql(
            format!(
                "could not drop database `{name}` on {} (DROP … WITH (FORCE) needs PostgreSQL 13 \
                 or newer)",
                redact_url(server_url)
            ),
            source,
        )
    })
}

impl Drop for RunDatabase {
    /// Best effort: drops the database unless kept or already dropped; never panics.
    fn drop(&mut self) {
        let _ = self.drop_database();
    }
}

fn connect(server_url: &str) -> Result<postgres::Client, PgError> {
    let mut config =
        postgres::Config::from_str(server_url).map_err(|source| PgError::InvalidUrl {
            url: redact_url(server_url),
            reason: source.to_string(),
        })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    config.connect(NoTls).map_err(|source| {
        PgError::sql(
            format!("could not connect to {}", redact_url(server_url)),
            source,
        )
    })
}
