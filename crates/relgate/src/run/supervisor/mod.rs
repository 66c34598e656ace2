//! Containment: every check and service command runs under a small supervisor process, so that
//! nothing it starts outlives it — not on a normal exit, not on a timeout, not when the gate
//! itself is killed with SIGKILL.
//!
//! The supervisor is the gate's own executable re-executed with [`ENV_MARKER`] set;
//! [`maybe_run`] is its entry point and must be the first call of every `main` that runs
//! checks (xtask's and gate-tests'). It is a child subreaper (see `child.rs`), so it finds and
//! kills every descendant of the command — also those that left its process group or session
//! — and, for a check, reports as [`Leftover`]s the ones still running [`Launch::leak_timeout`]
//! after the command exited. [`Supervised`] is the gate's side: a Unix socket to send the
//! request (with the command's output pipe, `frame.rs`) and commands (its end of file tells the
//! supervisor that the gate is gone), and a pipe to read [`Report`]s from. A supervisor that
//! finished a command cleanly serves the next one (`pool.rs`): an exec of the gate's binary
//! costs more than a trivial check.

mod child;
mod frame;
mod pool;
pub mod protocol;
#[cfg(test)]
mod tests;
pub mod tree;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

pub use pool::retire_idle;
pub use protocol::{Report, ENV_MARKER, KILL, STOP, TERMINATE};

/// How long a supervisor may take, beyond the grace periods it was given, to say it is done,
/// and to say it started the command.
const DONE_SLACK: Duration = Duration::from_secs(15);

/// Runs the supervisor and exits when this process was started as one; returns at once
/// otherwise. Call it first thing in `main`.
pub fn maybe_run() {
    // The variable alone is not enough (it could be in a user's environment): the gate also
    // names the process `relgate-supervisor`.
    if std::env::var_os(ENV_MARKER).is_some() {
        let cmdline = std::fs::read("/proc/self/cmdline").unwrap_or_default();
        if cmdline.split(|&b| b == 0).next() == Some(ARG0.as_bytes()) {
            child::run();
        }
    }
}

/// How often, in milliseconds, a gate waiting for reports looks whether its supervisor was
/// stopped.
const STOP_POLL_MS: libc::c_int = 100;

/// The supervisor's `argv[0]`.
const ARG0: &str = "relgate-supervisor";

// The library's own unit-test binary has libtest's `main`; run the hook before it.
#[cfg(test)]
#[used]
#[link_section = ".init_array"]
static TEST_BINARY_HOOK: extern "C" fn() = {
    extern "C" fn hook() {
        maybe_run();
    }
    hook
};

/// What to run under a supervisor.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    /// Program and arguments; the program is looked up on `PATH`.
    pub argv: &'a [String],
    /// Working directory of the command.
    pub cwd: &'a Path,
    /// Variables added to the inherited environment.
    pub env: &'a BTreeMap<String, String>,
    /// A check's leak timeout; `None` for a service.
    pub leak_timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when a service is torn down.
    pub kill_grace: Duration,
}

/// A process that was still running after its command ended, and was killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Its pid.
    pub pid: i32,
    /// Its command line, not redacted.
    pub command: String,
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} `{}`", self.pid, self.command)
    }
}

/// How a supervised command ended.
#[derive(Debug, Default)]
pub struct Finished {
    /// The command's exit status, when the supervisor reported one.
    pub status: Option<ExitStatus>,
    /// Processes that outlived the command and were killed.
    pub leaked: Vec<Leftover>,
    /// A service needed SIGKILL to stop.
    pub forced: bool,
    /// The supervisor ended without saying it was done (it was killed): what the command
    /// started may have survived.
    pub lost: bool,
}

/// How long a supervisor that said it is done may take to exit once the control pipe closes;
/// one that is not done first kills everything below it, for up to its own kill limit.
const EXIT_SLACK: Duration = Duration::from_secs(2);

/// The gate's handle on one supervisor.
pub struct Supervised {
    /// The supervisor; `None` once it was given back for the next command or reaped.
    process: Option<pool::Process>,
    /// The per-spawn secret that prefixes every command (see `protocol`).
    nonce: String,
    /// A check (with a leak timeout) rather than a service.
    check: bool,
    /// A STOP was sent.
    stopping: bool,
    /// A command byte was sent: the supervisor may still read it after it said it is done, so
    /// it is not reused.
    commanded: bool,
    /// A report came that the supervisor would not send, or the supervisor was stopped: its
    /// reports are no longer believed, and containment is lost.
    interfered: bool,
    buffer: Vec<u8>,
    closed: bool,
    kill_grace: Duration,
    leak_timeout: Duration,
    /// The command's pid, once it runs.
    pid: Option<i32>,
    finished: Finished,
    done: bool,
}

impl Supervised {
    /// Starts a supervisor that starts the command with `output` as its stdout and stderr.
    /// `Err` is the command's own spawn error (`ENOENT` for a missing program…) or the
    /// supervisor's.
    pub fn spawn(launch: &Launch<'_>, output: io::PipeWriter) -> io::Result<Supervised> {
        if launch.argv.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the command is empty",
            ));
        }
        let nonce = protocol::fresh_nonce()?;
        let request = protocol::Request {
            argv: launch.argv.to_vec(),
            cwd: launch.cwd.to_path_buf(),
            env: launch.env.clone(),
            leak_timeout_ms: launch.leak_timeout.map(|t| t.as_millis() as u64),
            kill_grace_ms: launch.kill_grace.as_millis() as u64,
            nonce: nonce.clone(),
        };
        let payload = serde_json::to_vec(&request).map_err(io::Error::other)?;
        let (mut process, pooled) = pool::Process::take()?;
        let sent = send_request(&process, &payload, &output);
        if let Err(err) = sent {
            process.discard();
            if !pooled {
                return Err(err);
            }
            // An idle supervisor that died: a new one.
            process = pool::Process::start()?;
            send_request(&process, &payload, &output)?;
        }
        // The supervisor has the pipe now: once it and everything below it are done with it,
        // the reader sees end of file.
        drop(output);
        let mut supervised = Supervised {
            process: Some(process),
            nonce,
            check: launch.leak_timeout.is_some(),
            stopping: false,
            commanded: false,
            interfered: false,
            buffer: Vec::new(),
            closed: false,
            kill_grace: launch.kill_grace,
            leak_timeout: launch.leak_timeout.unwrap_or_default(),
            pid: None,
            finished: Finished::default(),
            done: false,
        };
        let deadline = Instant::now() + DONE_SLACK;
        while supervised.pid.is_none() {
            match supervised.next(Some(deadline)) {
                Some(Report::SpawnError { code, message }) => {
                    let _ = supervised.finish_within(DONE_SLACK);
                    return Err(match code {
                        Some(code) => io::Error::from_raw_os_error(code),
                        None => io::Error::other(message),
                    });
                }
                Some(report) => supervised.absorb(report),
                // The command wrote into the report pipe before its supervisor said it started
                // it: the command runs, and containment is lost (`finish` says so).
                None if supervised.interfered => break,
                None => {
                    let _ = supervised.finish_within(DONE_SLACK);
                    return Err(io::Error::other(
                        "relgate's process supervisor did not start the command (does \
                         this program's main call relgate::cli::main, \
                         relgate::harness::test_main or relgate::run::supervisor::maybe_run \
                         first?)",
                    ));
                }
            }
        }
        Ok(supervised)
    }

    /// The command's pid.
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    /// Waits up to `limit` for the command to exit; returns its status if it did.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now().checked_add(limit);
        while self.finished.status.is_none() && !self.closed && !self.interfered {
            match self.next(deadline) {
                Some(report) => self.absorb(report),
                None if self.closed || self.interfered => break,
                None => return None,
            }
        }
        self.finished.status
    }

    /// Whether the supervisor is gone without having said it was done, or was interfered with.
    pub fn lost(&self) -> bool {
        (self.closed && !self.done) || self.interfered
    }

    /// Sends a command byte ([`TERMINATE`], [`KILL`], [`STOP`]).
    pub fn send(&mut self, command: u8) {
        self.stopping |= command == STOP;
        self.commanded = true;
        let message = protocol::command(&self.nonce, command);
        self.send_bytes(&message);
    }

    /// Waits for the supervisor to finish — after the leak timeout, if processes outlived the
    /// command — and reaps it.
    pub fn finish(self) -> Finished {
        let limit = self.leak_timeout + self.kill_grace + DONE_SLACK;
        self.finish_within(limit)
    }

    /// Tears a service down: SIGTERM to every process below the supervisor, the kill grace,
    /// SIGKILL to what is left.
    pub fn stop(mut self) -> Finished {
        self.send(STOP);
        let limit = self.kill_grace + DONE_SLACK;
        self.finish_within(limit)
    }

    fn finish_within(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now().checked_add(limit);
        while !self.done && !self.closed && !self.interfered {
            match self.next(deadline) {
                Some(report) => self.absorb(report),
                None => break,
            }
        }
        if self.reusable() {
            if let Some(process) = self.process.take() {
                process.give_back();
            }
            return std::mem::take(&mut self.finished);
        }
        // A supervisor that said it was done exits 0. Anything else — killed, or a `done` line
        // forged by the command through /proc/PPID/fd/1, after which the supervisor still sees
        // the control pipe close too early and kills everything — is lost containment.
        let exited_cleanly = self.release().is_some_and(|status| status.success());
        self.finished.lost = !self.done || !exited_cleanly || self.interfered;
        if self.finished.lost {
            // Which reports were the supervisor's is unknown (a command can write into its
            // supervisor's report pipe): the status is not believed.
            self.finished.status = None;
        }
        std::mem::take(&mut self.finished)
    }

    /// Whether the supervisor can serve the next command: it said it is done, in order, had
    /// no leftover to kill, and said nothing else (its report pipe is empty, no command byte is on its way to it), it is not
    /// stopped, and the kernel shows nothing running below it — a `done` line forged by a
    /// command that could write into the report pipe cannot pass that.
    fn reusable(&self) -> bool {
        let Some(process) = &self.process else {
            return false;
        };
        self.done
            && !self.interfered
            && !self.closed
            && !self.commanded
            && self.finished.leaked.is_empty()
            && self.buffer.is_empty()
            && !self.readable(0)
            && !self.stopped()
            && process.has_no_children()
    }

    /// Closes the control socket (a supervisor that is not done kills everything on that, one
    /// that is exits) and reaps the supervisor; returns its exit status. A supervisor that does
    /// not exit in time — stopped by the command, or stuck — has its tree killed from here,
    /// then is killed.
    fn release(&mut self) -> Option<ExitStatus> {
        let process = self.process.as_mut()?;
        process.close();
        let limit = if self.done {
            EXIT_SLACK
        } else {
            child::KILL_LIMIT + EXIT_SLACK
        };
        match process.wait_exit(Instant::now() + limit) {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        self.interfered = true;
        self.seize();
        let status = self.process.as_mut()?.child.wait().ok();
        self.process = None;
        status
    }

    /// Whether the supervisor is stopped (SIGSTOP from the command, or a tracer): it can then
    /// neither report nor contain anything.
    fn stopped(&self) -> bool {
        self.process.as_ref().is_some_and(pool::Process::stopped)
    }

    /// Kills everything below the supervisor from the gate — round after round, while the
    /// supervisor lives to adopt the orphans — and then the supervisor itself.
    fn seize(&mut self) {
        let Some(me) = self.process.as_ref().map(pool::Process::pid) else {
            return;
        };
        let supervisor = tree::stat(me);
        if let Some(supervisor) = &supervisor {
            // Stopped, it cannot reap the processes below it (nor any new ones).
            tree::signal(supervisor, libc::SIGSTOP);
        }
        let deadline = Instant::now() + child::KILL_LIMIT;
        loop {
            let live: Vec<tree::Proc> = tree::descendants(me)
                .into_iter()
                .filter(|proc| !proc.zombie)
                .collect();
            if live.is_empty() || Instant::now() >= deadline {
                break;
            }
            for proc in &live {
                tree::signal(proc, libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(supervisor) = &supervisor {
            tree::signal(supervisor, libc::SIGCONT);
            tree::signal(supervisor, libc::SIGKILL);
        }
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        if let Some(control) = self.process.as_mut().and_then(|p| p.control.as_mut()) {
            // A supervisor that is gone cannot be told anything; `lost` says so.
            let _ = control.write_all(bytes);
        }
    }

    /// Takes in one report; one the supervisor would not send at this point was forged.
    fn absorb(&mut self, report: Report) {
        let started = self.pid.is_some();
        let exited = self.finished.status.is_some();
        let expected = match &report {
            Report::Started { .. } | Report::SpawnError { .. } => !started,
            Report::Exited { .. } => started && !exited,
            Report::Leaked { .. } => self.check && exited,
            Report::Stopped { .. } => self.stopping,
            Report::Done => !self.done,
        };
        if !expected {
            self.interfered = true;
            return;
        }
        match report {
            Report::Started { pid } => self.pid = Some(pid),
            Report::Exited { status } => {
                self.finished.status = Some(ExitStatus::from_raw(status));
            }
            Report::Leaked { pid, command } => {
                self.finished.leaked.push(Leftover { pid, command });
            }
            Report::Stopped { forced } => self.finished.forced = forced,
            Report::Done => self.done = true,
            Report::SpawnError { .. } => {}
        }
    }

    /// The next report, or `None` at `deadline`, when the pipe is closed (see `closed`) or
    /// when the supervisor was interfered with (a line that is no report, or it is stopped).
    fn next(&mut self, deadline: Option<Instant>) -> Option<Report> {
        loop {
            if self.interfered {
                return None;
            }
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                match serde_json::from_slice(&line[..end]) {
                    Ok(report) => return Some(report),
                    Err(_) => {
                        self.interfered = true;
                        return None;
                    }
                }
            }
            if self.closed {
                return None;
            }
            let millis = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() && !self.readable(0) {
                        return None;
                    }
                    left.as_millis().min(STOP_POLL_MS as u128) as libc::c_int
                }
                None => STOP_POLL_MS,
            };
            if !self.readable(millis) {
                // Quiet for a while: a stopped supervisor cannot report (nor contain).
                if self.stopped() {
                    self.interfered = true;
                    return None;
                }
                continue;
            }
            let mut chunk = [0u8; 4096];
            let Some(process) = self.process.as_mut() else {
                self.closed = true;
                return None;
            };
            match process.reports.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.closed = true,
            }
        }
    }

    fn readable(&self, millis: libc::c_int) -> bool {
        let Some(process) = &self.process else {
            return false;
        };
        let mut poll = libc::pollfd {
            fd: process.reports.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        unsafe { libc::poll(&mut poll, 1, millis) > 0 }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.process.is_some() {
            self.release();
        }
    }
}

/// Sends a request, with the command's output pipe, to a supervisor.
fn send_request(
    process: &pool::Process,
    payload: &[u8],
    output: &io::PipeWriter,
) -> io::Result<()> {
    let control = process
        .control
        .as_ref()
        .ok_or_else(|| io::Error::other("the supervisor's control socket is closed"))?;
    frame::send(control, payload, output.as_fd())
}

/// Waits for a child process to exit without reaping it: a pidfd polled for readability, or
/// short sleeps on kernels without pidfds (before 5.3).
struct ExitWatch {
    pidfd: libc::c_int,
}

impl ExitWatch {
    fn open(pid: libc::pid_t) -> ExitWatch {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1. The pid
        // is our unreaped child, so it cannot have been recycled.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
        ExitWatch { pidfd }
    }

    /// Returns when the process has exited or `limit` passed.
    fn wait(&self, limit: Duration) {
        if self.pidfd < 0 {
            std::thread::sleep(limit.min(Duration::from_millis(5)));
            return;
        }
        let mut poll = libc::pollfd {
            fd: self.pidfd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        unsafe { libc::poll(&mut poll, 1, limit.as_millis() as libc::c_int) };
    }
}

impl Drop for ExitWatch {
    fn drop(&mut self) {
        if self.pidfd >= 0 {
            // SAFETY: a descriptor we own, closed once.
            unsafe { libc::close(self.pidfd) };
        }
    }
}
