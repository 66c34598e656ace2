//! The supervisor process: the gate's own executable, re-executed with [`ENV_MARKER`] set, that
//! runs commands one at a time and makes sure nothing a command started outlives it.
//!
//! It is a child subreaper, so every descendant of the command whose parent dies — a
//! `setsid` or `set -m` background job, a double fork — is reparented to it instead of to init:
//! "no children left" then means "nothing the command started is left", and only then does it
//! report [`Report::Done`] and take the next request. Its stdin is a socket only the gate can
//! write to, carrying requests (each with the command's output pipe, see `frame`) and commands;
//! end of file there while a command runs means the gate is gone (even by SIGKILL, which the
//! kernel enforces by closing the gate's descriptors), and the supervisor kills everything below
//! it and exits; while idle, it just exits. Its stdout carries [`Report`] lines; its stderr is
//! `/dev/null`.

use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use super::protocol::{Report, Request, ENV_MARKER, KILL, NONCE_LEN, STOP, TERMINATE};
use super::tree;

/// How long SIGKILL rounds may take before the supervisor gives up on an unkillable process
/// (one in uninterruptible sleep).
pub(super) const KILL_LIMIT: Duration = Duration::from_secs(10);

/// The supervisor's exit code once it said `done` and the gate closed its control socket: the
/// gate believes its reports only with this code.
const EXIT_DONE: i32 = 0;
/// Its exit code otherwise (the gate went away, a request or command byte was forged, it could
/// not report): it killed everything below it first.
const EXIT_ABORTED: i32 = 1;

/// How many leftover processes are reported at most.
const LEAKS_REPORTED: usize = 1000;

/// Write end of the self-pipe the signal handler wakes the main loop through.
static WAKE: AtomicI32 = AtomicI32::new(-1);

/// Runs the supervisor and exits the process: sets it up, then serves one request after
/// another until the gate closes the control socket (exit 0) or something goes wrong (exit 1,
/// after killing everything below it).
pub(super) fn run() -> ! {
    std::process::exit(serve_requests())
}

fn serve_requests() -> i32 {
    // SAFETY: process-wide settings of this single-threaded process, made before anything
    // else runs: ignore SIGPIPE (a dead gate is noticed on the control socket instead), become
    // the reaper of every orphan below us, and become non-dumpable, so that processes of the
    // same (non-root) user — the commands — cannot open our /proc/PID/fd descriptors or
    // ptrace us. A command's exec makes it dumpable again.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    let Some(wake_read) = self_pipe() else {
        return EXIT_ABORTED;
    };
    loop {
        let (request, output) = match next_request(wake_read) {
            Next::Request(request, output) => (request, output),
            Next::Closed => return EXIT_DONE,
            Next::Broken => return EXIT_ABORTED,
        };
        match Supervisor::start(wake_read, request, output) {
            Start::Running(mut supervisor) => {
                let code = supervisor.serve();
                if code != EXIT_DONE {
                    return code;
                }
            }
            // Said so, and said done: nothing runs below us, the next request may come.
            Start::Refused => {}
            Start::Failed => return EXIT_ABORTED,
        }
    }
}

/// What came on the control socket while no command ran.
enum Next {
    /// The next command to run, with its output pipe.
    Request(Request, OwnedFd),
    /// End of file: the gate is done with us.
    Closed,
    /// A SIGTERM, or bytes that are not a request.
    Broken,
}

/// Waits, idle, for the next request, or for a termination signal.
fn next_request(wake_read: libc::c_int) -> Next {
    loop {
        let mut fds = [
            libc::pollfd {
                fd: wake_read,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds for the duration of the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if ready < 0 && interrupted() {
            continue;
        }
        if fds[0].revents != 0 && drain_wake(wake_read).contains(&b'T') {
            return Next::Broken;
        }
        if fds[1].revents == 0 {
            continue;
        }
        return match super::frame::receive(0) {
            Ok(Some((payload, output))) => match serde_json::from_slice::<Request>(&payload) {
                Ok(request) if request.nonce.len() == NONCE_LEN && !request.argv.is_empty() => {
                    Next::Request(request, output)
                }
                _ => Next::Broken,
            },
            Ok(None) => Next::Closed,
            Err(_) => Next::Broken,
        };
    }
}

/// Reads every wake-up byte the self-pipe holds.
fn drain_wake(wake_read: libc::c_int) -> Vec<u8> {
    let mut woken = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reading into a local buffer from our non-blocking self-pipe.
        let n = unsafe { libc::read(wake_read, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return woken;
        }
        woken.extend_from_slice(&buf[..n as usize]);
    }
}

/// How starting a request's command went.
enum Start {
    /// It runs.
    Running(Supervisor),
    /// It could not start; that and `done` were reported.
    Refused,
    /// The gate stopped listening.
    Failed,
}

extern "C" fn on_signal(signal: libc::c_int) {
    let byte: u8 = if signal == libc::SIGCHLD { b'C' } else { b'T' };
    let fd = WAKE.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe; a full pipe already holds a wake-up.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
}

struct Supervisor {
    me: libc::pid_t,
    command: libc::pid_t,
    exited: bool,
    leak_timeout: Option<Duration>,
    kill_grace: Duration,
    wake_read: libc::c_int,
    control_open: bool,
    leak_deadline: Option<Instant>,
    /// The gate's per-spawn nonce, which prefixes every command.
    nonce: Vec<u8>,
    /// Control bytes read but not yet a whole command.
    pending: Vec<u8>,
}

impl Supervisor {
    /// Starts the request's command with `output` as its stdout and stderr.
    fn start(wake_read: libc::c_int, request: Request, output: OwnedFd) -> Start {
        let Ok(output_err) = output.try_clone() else {
            return Start::Failed;
        };
        let mut command = Command::new(&request.argv[0]);
        command
            .args(&request.argv[1..])
            .current_dir(&request.cwd)
            .envs(&request.env)
            .env_remove(ENV_MARKER)
            .stdin(Stdio::null())
            .stdout(Stdio::from(output))
            .stderr(Stdio::from(output_err))
            // Its own group: the command (and its pipeline) does not share the supervisor's.
            .process_group(0);
        let spawned = command.spawn();
        // The command has the output pipe; the supervisor must not keep it open.
        drop(command);
        let child = match spawned {
            Ok(child) => child,
            Err(err) => {
                let reported = report(&Report::SpawnError {
                    code: err.raw_os_error(),
                    message: err.to_string(),
                })
                .and_then(|()| report(&Report::Done));
                return if reported.is_ok() {
                    Start::Refused
                } else {
                    Start::Failed
                };
            }
        };
        let command_pid = child.id() as libc::pid_t;
        // Reaped below with waitpid(-1); the handle is only a pid.
        drop(child);
        if report(&Report::Started { pid: command_pid }).is_err() {
            return Start::Failed;
        }
        Start::Running(Supervisor {
            me: std::process::id() as libc::pid_t,
            command: command_pid,
            exited: false,
            leak_timeout: request.leak_timeout_ms.map(Duration::from_millis),
            kill_grace: Duration::from_millis(request.kill_grace_ms),
            wake_read,
            control_open: true,
            leak_deadline: None,
            nonce: request.nonce.into_bytes(),
            pending: Vec::new(),
        })
    }

    /// The main loop; returns the exit code.
    fn serve(&mut self) -> i32 {
        loop {
            let timeout = self
                .leak_deadline
                .map(|deadline| deadline.saturating_duration_since(Instant::now()));
            let (control_ready, woken) = self.wait(timeout);
            if woken.contains(&b'T') {
                // The gate was interrupted and tells us through SIGTERM.
                self.kill_all();
                return EXIT_ABORTED;
            }
            let no_children = self.reap();
            if control_ready {
                if !self.read_control() {
                    // The gate is gone: nothing it started may survive it.
                    self.control_open = false;
                    self.kill_all();
                    return EXIT_ABORTED;
                }
                if let Some(code) = self.obey() {
                    return code;
                }
            }
            if self.exited && self.leak_timeout.is_some() {
                if no_children {
                    return self.done();
                }
                if self
                    .leak_deadline
                    .is_some_and(|deadline| Instant::now() >= deadline)
                {
                    return self.leaked();
                }
            }
        }
    }

    /// Reads what the control pipe holds into `pending`; `false` at end of file or an error
    /// (the gate is gone).
    fn read_control(&mut self) -> bool {
        let mut bytes = [0u8; 256];
        // SAFETY: reading into a local buffer from our stdin.
        let n = unsafe { libc::read(0, bytes.as_mut_ptr().cast(), bytes.len()) };
        if n == 0 || (n < 0 && !interrupted()) {
            return false;
        }
        self.pending.extend_from_slice(&bytes[..n.max(0) as usize]);
        true
    }

    /// Reads into `pending` whatever the control pipe holds right now.
    fn read_pending(&mut self) {
        while self.control_open {
            let mut poll = libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            let ready = unsafe { libc::poll(&mut poll, 1, 0) } > 0;
            if !ready || poll.revents & libc::POLLIN == 0 || !self.read_control() {
                return;
            }
        }
    }

    /// Carries out the whole commands in `pending`; returns the exit code when one ends the
    /// supervisor. Anything that is not the gate's nonce followed by a known command byte was
    /// written by someone else: everything is killed, and the supervisor exits without `done`.
    fn obey(&mut self) -> Option<i32> {
        while self.pending.len() > NONCE_LEN {
            let message: Vec<u8> = self.pending.drain(..=NONCE_LEN).collect();
            if message[..NONCE_LEN] != self.nonce[..] {
                return Some(self.interfered());
            }
            match message[NONCE_LEN] {
                TERMINATE => self.signal_all(libc::SIGTERM),
                KILL => self.signal_all(libc::SIGKILL),
                STOP => return Some(self.stop()),
                _ => return Some(self.interfered()),
            }
        }
        if !self.nonce.starts_with(&self.pending) {
            return Some(self.interfered());
        }
        None
    }

    /// Someone other than the gate wrote to the control pipe: kill everything, and exit without
    /// saying `done`, which the gate records as lost containment.
    fn interfered(&mut self) -> i32 {
        self.pending.clear();
        self.kill_all();
        EXIT_ABORTED
    }

    /// Waits for the control pipe or the self-pipe; returns whether the control pipe is
    /// readable and the wake-up bytes drained from the self-pipe.
    fn wait(&self, timeout: Option<Duration>) -> (bool, Vec<u8>) {
        let mut fds = [
            libc::pollfd {
                fd: self.wake_read,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if self.control_open { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let millis = timeout.map_or(-1, |t| t.as_millis().min(60_000) as libc::c_int);
        // SAFETY: two valid pollfds for the duration of the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, millis) };
        if ready <= 0 {
            return (false, Vec::new());
        }
        let woken = if fds[0].revents != 0 {
            drain_wake(self.wake_read)
        } else {
            Vec::new()
        };
        (fds[1].revents != 0, woken)
    }

    /// Reaps every child that has exited, reporting the command's status. Returns whether no
    /// child is left at all — then, as a subreaper, nothing below us is left.
    fn reap(&mut self) -> bool {
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes the status into a local.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid > 0 {
                if pid == self.command && !self.exited {
                    self.exited = true;
                    self.leak_deadline = self.leak_timeout.map(|limit| Instant::now() + limit);
                    if report(&Report::Exited { status }).is_err() {
                        // Nobody listens any more: the gate is gone.
                        self.control_open = false;
                    }
                }
                continue;
            }
            if pid == 0 {
                return false;
            }
            if !interrupted() {
                return true;
            }
        }
    }

    /// Sends `signal` to every live process below us.
    fn signal_all(&self, signal: libc::c_int) {
        for proc in tree::descendants(self.me) {
            if !proc.zombie {
                tree::signal(&proc, signal);
            }
        }
    }

    /// SIGKILL to everything below us, round after round (the children of a killed process are
    /// reparented to us and found by the next round), until no child is left.
    fn kill_all(&mut self) {
        let deadline = Instant::now() + KILL_LIMIT;
        loop {
            if self.reap() {
                return;
            }
            self.signal_all(libc::SIGKILL);
            if Instant::now() >= deadline {
                return;
            }
            self.wait_for_children(Duration::from_millis(10));
        }
    }

    /// Waits until no child is left or `limit` passed; returns whether none is left.
    fn wait_for_children(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.reap() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let saved = self.control_open;
            // Only SIGCHLD matters here; the control pipe is read by the main loop.
            self.control_open = false;
            self.wait(Some(left));
            self.control_open = saved;
        }
    }

    /// The leak timeout passed with processes still below us: report and kill them.
    fn leaked(&mut self) -> i32 {
        let live: Vec<tree::Proc> = tree::descendants(self.me)
            .into_iter()
            .filter(|p| !p.zombie)
            .collect();
        // A live child is always found (its ppid is us); none found means they all just ended.
        if live.is_empty() {
            if self.reap() {
                return self.done();
            }
            // Children we cannot see (no /proc?) are still leaks.
            let _ = report(&Report::Leaked {
                pid: 0,
                command: "(unidentified: /proc shows no process below relgate's supervisor)"
                    .to_string(),
            });
        }
        // A fork bomb is reported by its first thousand processes (and killed whole).
        for proc in live.into_iter().take(LEAKS_REPORTED) {
            let _ = report(&Report::Leaked {
                pid: proc.pid,
                command: tree::command_line(proc.pid),
            });
        }
        // The leak timeout was their grace: they go at once.
        self.kill_all();
        self.done()
    }

    /// Tears a service down: SIGTERM to everything, a grace period, SIGKILL to what is left.
    fn stop(&mut self) -> i32 {
        self.signal_all(libc::SIGTERM);
        let forced = !self.wait_for_children(self.kill_grace);
        self.kill_all();
        let _ = report(&Report::Stopped { forced });
        self.done()
    }

    fn done(&mut self) -> i32 {
        // Whatever the command's status, it has been reported; make sure it was.
        self.reap();
        // The gate writes each command at once (a pipe write under PIPE_BUF is atomic): what
        // is readable now is whole commands, or bytes someone else wrote.
        self.read_pending();
        if let Some(code) = self.obey() {
            return code;
        }
        if !self.pending.is_empty() {
            // The start of a command the gate never finished: written by someone else.
            return self.interfered();
        }
        match report(&Report::Done) {
            Ok(()) => EXIT_DONE,
            Err(_) => EXIT_ABORTED,
        }
    }
}

/// A non-blocking, close-on-exec self-pipe with SIGCHLD and the termination signals wired to
/// it. Returns its read end.
fn self_pipe() -> Option<libc::c_int> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors owned by this process from now on.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return None;
    }
    WAKE.store(fds[1], Ordering::SeqCst);
    for signal in [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with our async-signal-safe handler; handlers are reset to
        // the default in the command when it execs.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
    Some(fds[0])
}

/// Writes one report line to the gate.
fn report(report: &Report) -> io::Result<()> {
    let mut line = serde_json::to_vec(report).map_err(io::Error::other)?;
    line.push(b'\n');
    // SAFETY: fd 1 is the report pipe for the whole life of this process; ManuallyDrop keeps
    // the File from closing it.
    let mut out = ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    out.write_all(&line)
}

fn interrupted() -> bool {
    io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
}
