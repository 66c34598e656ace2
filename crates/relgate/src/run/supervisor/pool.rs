//! Supervisor processes kept between commands. Starting one is an exec of the gate's own
//! executable — large, and unoptimised in a debug build — which costs several times what a
//! trivial check's command does; so a supervisor that finished a command cleanly (it said it is
//! done, nothing runs below it, nothing else was said to it) serves the next one. One that was
//! sent a command, timed out, leaked, or was interfered with is never reused.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{tree, ExitWatch, ARG0, ENV_MARKER, EXIT_SLACK, STOP_POLL_MS};

/// Supervisors waiting for their next command.
static IDLE: Mutex<Vec<Process>> = Mutex::new(Vec::new());

/// One supervisor process and the gate's ends of its channels.
pub(super) struct Process {
    pub(super) child: Child,
    /// The control socket: requests and commands. Dropping it tells the supervisor the gate is
    /// done with it (or gone).
    pub(super) control: Option<UnixStream>,
    /// Its report lines.
    pub(super) reports: ChildStdout,
    /// Where the interrupt handler knows it from.
    slot: Option<usize>,
}

impl Process {
    /// An idle supervisor, or a new one; `true` with one that served before.
    pub(super) fn take() -> io::Result<(Process, bool)> {
        loop {
            let idle = IDLE
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .pop();
            let Some(mut process) = idle else {
                return Ok((Process::start()?, false));
            };
            // One that died while idle (an interrupt's SIGTERM) is reaped and replaced.
            match process.child.try_wait() {
                Ok(None) => return Ok((process, true)),
                _ => process.discard(),
            }
        }
    }

    /// Starts a supervisor: this executable under the supervisor's name and marker, in its own
    /// process group (a Ctrl-C in the terminal reaches the gate, which decides).
    pub(super) fn start() -> io::Result<Process> {
        let (control, theirs) = UnixStream::pair()?;
        let mut child = Command::new("/proc/self/exe")
            .arg0(ARG0)
            .env(ENV_MARKER, "1")
            .current_dir("/")
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let reports = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("the supervisor has no report pipe"))?;
        let slot = crate::run::interrupt::register_supervisor(child.id() as i32);
        Ok(Process {
            child,
            control: Some(control),
            reports,
            slot,
        })
    }

    pub(super) fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Whether nothing runs below the supervisor, as the kernel lists its children (a
    /// supervisor is single-threaded, so its one task's list is all of them). `false` when
    /// that cannot be read.
    pub(super) fn has_no_children(&self) -> bool {
        let pid = self.pid();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .is_ok_and(|children| children.trim().is_empty())
    }

    /// Whether the supervisor is stopped (SIGSTOP from a command, or a tracer): it can then
    /// neither report nor contain anything, nor exit.
    pub(super) fn stopped(&self) -> bool {
        tree::state(self.pid()).is_some_and(|state| matches!(state, 'T' | 't'))
    }

    /// Waits for the supervisor to exit (woken the moment it does), looking at least every
    /// `STOP_POLL_MS` whether it was stopped instead. `Ok(None)` when it did not exit by
    /// `deadline` or is stopped.
    pub(super) fn wait_exit(&mut self, deadline: Instant) -> io::Result<Option<ExitStatus>> {
        let exited = ExitWatch::open(self.pid());
        while !self.stopped() {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            exited.wait(left.min(Duration::from_millis(STOP_POLL_MS as u64)));
        }
        Ok(None)
    }

    /// Keeps the supervisor for the next command.
    pub(super) fn give_back(self) {
        IDLE.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(self);
    }

    /// Closes the control socket and forgets the supervisor in the interrupt handler, which
    /// must not signal a pid that may be reaped and reused from now on.
    pub(super) fn close(&mut self) {
        crate::run::interrupt::unregister_supervisor(self.slot.take());
        self.control = None;
    }

    /// Ends an idle supervisor: it exits when its control socket closes; one that does not is
    /// killed. It has nothing below it.
    fn retire(mut self) {
        self.close();
        if !matches!(self.wait_exit(Instant::now() + EXIT_SLACK), Ok(Some(_))) {
            self.discard();
        }
    }

    /// Kills and reaps a supervisor that has nothing below it.
    pub(super) fn discard(mut self) {
        self.close();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ends every idle supervisor. Runs at the end of a gate run; without it they exit when the
/// gate's process does (their control sockets close).
pub fn retire_idle() {
    let idle = std::mem::take(&mut *IDLE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    for process in idle {
        process.retire();
    }
}
