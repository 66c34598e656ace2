//! What the gate and a supervisor say to each other.
//!
//! The gate writes one JSON [`Request`] line to the supervisor's stdin, then single command
//! bytes; end of file on that pipe means the gate is gone. The supervisor answers with one JSON
//! [`Report`] per line on its stdout.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The environment variable that turns the gate's own executable into a supervisor.
pub const ENV_MARKER: &str = "RELGATE_SUPERVISOR";

/// Command byte: SIGTERM to every process below the supervisor (a timeout).
pub const TERMINATE: u8 = b'T';
/// Command byte: SIGKILL to every process below the supervisor.
pub const KILL: u8 = b'K';
/// Command byte: tear a service down (SIGTERM to all, grace, SIGKILL to the rest) and exit.
pub const STOP: u8 = b'S';

/// What to run, sent once as the first line.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// Program and arguments; the program is looked up on `PATH`.
    pub argv: Vec<String>,
    /// Working directory of the command.
    pub cwd: PathBuf,
    /// Variables added to the inherited environment.
    pub env: BTreeMap<String, String>,
    /// A check: how long processes may outlive the command before they are killed as leaked.
    /// `None` for a service, which keeps running until it is stopped.
    pub leak_timeout_ms: Option<u64>,
    /// Time between SIGTERM and SIGKILL when leftovers or a service are torn down.
    pub kill_grace_ms: u64,
}

/// One line the supervisor reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Report {
    /// The command runs with this pid (the leader of its own process group).
    Started {
        /// Its pid.
        pid: i32,
    },
    /// The command could not be started.
    SpawnError {
        /// The OS error code, if there was one.
        code: Option<i32>,
        /// The error as text.
        message: String,
    },
    /// The command ended; its raw wait status.
    Exited {
        /// As `waitpid` returned it.
        status: i32,
    },
    /// A process that was still running after the command ended and the leak timeout passed.
    Leaked {
        /// Its pid.
        pid: i32,
        /// Its command line (not redacted).
        command: String,
    },
    /// A service was torn down; `forced` when some process needed SIGKILL.
    Stopped {
        /// Whether SIGTERM was not enough.
        forced: bool,
    },
    /// Nothing the supervisor started is left; it exits next.
    Done,
}
