//! Why a service is not there for a check: the typed errors of starting and waiting for one.
//! Their text is what the service's record, its log and the check's message say.

use std::path::PathBuf;

use super::ready::ReadyError;

/// Why `Services::ensure` cannot give a check its services.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The check names a service the gate does not declare.
    #[error("no service `{0}`")]
    Unknown(String),
    /// The service failed to start (earlier, for another check, or now); `message` is the
    /// redacted reason its record holds.
    #[error("service `{name}` did not start: {message}")]
    NotStarted {
        /// The service.
        name: String,
        /// Why, redacted.
        message: String,
    },
    /// The run is ending and the service was stopped already.
    #[error("service `{0}` was already stopped")]
    AlreadyStopped(String),
}

/// Why a service did not start.
#[derive(Debug, thiserror::Error)]
pub(super) enum StartError {
    /// Its log or the log's directory could not be created.
    #[error("cannot create {}: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No loopback port could be picked for `${port}`.
    #[error("cannot pick a free port: {0}")]
    Port(#[source] std::io::Error),
    /// The PostgreSQL cluster or database could not be set up.
    #[error("{0}")]
    Postgres(#[source] relgate_pg::PgError),
    /// The output pipe could not be created.
    #[error("cannot create a pipe: {0}")]
    Pipe(#[source] std::io::Error),
    /// The service's command is empty.
    #[error("empty command")]
    EmptyCommand,
    /// The command could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// The thread copying its output could not be started.
    #[error("cannot start the log reader: {0}")]
    LogReader(#[source] std::io::Error),
    /// It started but never became ready; the last lines of its log say why, when there are any.
    #[error("{why}{}", tail.as_ref().map(|tail| format!("; last lines of its log:\n{tail}")).unwrap_or_default())]
    NotReady {
        #[source]
        why: ReadyFailure,
        tail: Option<String>,
    },
}

/// Why a started process was not ready.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReadyFailure {
    /// It exited first.
    #[error("exited ({0}) before it was ready")]
    Exited(std::process::ExitStatus),
    /// Its supervisor is gone.
    #[error("its supervisor was killed")]
    SupervisorKilled,
    /// It never said where it listens.
    #[error("printed no `listening on HOST:PORT` line within {timeout} (or say `${{port}}` in its command to give it a port)")]
    NoAddress { timeout: String },
    /// Its readiness probe still failed at the deadline.
    #[error("not ready within {timeout}: {source}")]
    Timeout {
        timeout: String,
        #[source]
        source: ReadyError,
    },
}
