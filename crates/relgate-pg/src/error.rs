//! [`PgError`]: everything that can go wrong, phrased so that the reader knows what to do next.
//!
//! No message ever holds a password: URLs pass through [`crate::redact_url`] before they reach
//! an error.

use std::io;
use std::path::PathBuf;

/// The hint shared by every "no PostgreSQL here" error.
pub(crate) const INSTALL_HINT: &str = "install PostgreSQL (Debian/Ubuntu: apt-get install -y \
     postgresql), set RELGATE_PG_BIN to the directory holding initdb and postgres, or use \
     postgres = \"postgres://…\"";

/// An error of this crate. Each message reads after "failed to …" style context and carries a
/// `(hint: …)` line where there is something the user can change.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// No directory holding `initdb` and `postgres` was found (or the one configured lacks them).
    #[error(
        "PostgreSQL server binaries (initdb, postgres) not found; looked at: {}\n(hint: {INSTALL_HINT})",
        looked.join("; ")
    )]
    BinariesNotFound {
        /// Every place that was looked at, with why it did not qualify.
        looked: Vec<String>,
    },

    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path or program.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// `initdb` or the server failed, exited early or did not become ready in time.
    #[error("{message}\n--- last lines of the server log ---\n{log_tail}")]
    Start {
        /// What happened (which program, exit status, timeout).
        message: String,
        /// The last ~20 lines of the server log (initdb's output included).
        log_tail: String,
    },

    /// A SQL statement or a connection failed.
    #[error("{context}: {source}")]
    Sql {
        /// What was being done, with any URL redacted.
        context: String,
        /// The client's error.
        #[source]
        source: postgres::Error,
    },

    /// A connection URL could not be used.
    #[error("invalid PostgreSQL URL `{url}`: {reason}\n(hint: use postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A database name that this crate refuses to create.
    #[error("invalid database name `{name}`: {reason}\n(hint: use 1 to 63 ASCII letters, digits and `_`)")]
    InvalidDatabaseName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// `CREATE DATABASE` found a database of that name already.
    #[error(
        "database `{name}` already exists on {server}\n(hint: pick another name, or drop the \
         leftover with DROP DATABASE \"{name}\" WITH (FORCE) if no one uses it)"
    )]
    DatabaseExists {
        /// The database name.
        name: String,
        /// The server URL, password redacted.
        server: String,
    },

    /// Running as root, but there is no `postgres` OS user to run the server as.
    #[error(
        "running as root, and PostgreSQL refuses to run as root, but there is no `postgres` OS user \
         to run it as\n(hint: install the PostgreSQL server package, which creates that user, or \
         run `useradd --system --user-group --no-create-home postgres`, or run as a non-root user)"
    )]
    NoPostgresUser,

    /// Running as root, the `postgres` user cannot reach the cluster's directory.
    #[error(
        "the `postgres` OS user (uid {uid}) cannot enter {}, so the server could not reach its \
         data directory\n(hint: set parent_dir to a directory every user can traverse, such as \
         /tmp, or grant it o+x)",
        path.display()
    )]
    NotTraversable {
        /// The directory lacking search permission.
        path: PathBuf,
        /// The uid of the `postgres` user.
        uid: u32,
    },
}

impl PgError {
    /// An [`PgError::Io`] with its context.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> PgError {
        PgError::Io {
            context: context.into(),
            source,
        }
    }

    /// A [`PgError::Sql`] with its context.
    pub(crate) fn sql(context: impl Into<String>, source: postgres::Error) -> PgError {
        PgError::Sql {
            context: context.into(),
            source,
        }
    }
}
