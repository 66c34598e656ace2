//! What the gate and a supervisor say to each other.
//!
//! The gate sends a [`Request`] as one frame on the supervisor's stdin, a Unix socket (4-byte
//! length, JSON, and the command's output pipe passed along, see `frame.rs`), then commands:
//! each the request's [`Request::nonce`] followed by one command byte. The supervisor answers
//! with one JSON [`Report`] per line on its stdout; after [`Report::Done`] it waits for the
//! next request. End of file on the socket means the gate is done with it, or gone.
//!
//! The nonce is fresh for every request and known only to the gate and the supervisor, so a
//! process that gets hold of the socket cannot forge a command: any byte that is not part of a
//! well-formed command makes the supervisor kill everything and exit without [`Report::Done`],
//! which the gate records as lost containment. A socket cannot be opened through
//! `/proc/PID/fd` (not even by root), and a supervisor is non-dumpable, so that takes ptrace
//! rights over it.

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

/// What to run: one per command, each in a frame of its own.
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
    /// The prefix of every command: [`NONCE_LEN`] random hex digits.
    pub nonce: String,
}

/// Length of [`Request::nonce`].
pub const NONCE_LEN: usize = 32;

/// A fresh nonce from the kernel's random source.
pub fn fresh_nonce() -> std::io::Result<String> {
    let mut bytes = [0u8; NONCE_LEN / 2];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: getrandom writes at most the given length into our local buffer.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
            continue;
        }
        filled += n as usize;
    }
    Ok(hex::encode(bytes))
}

/// One command as the gate writes it.
pub fn command(nonce: &str, byte: u8) -> Vec<u8> {
    let mut message = nonce.as_bytes().to_vec();
    message.push(byte);
    message
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
