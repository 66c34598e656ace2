//! Runs one check command as a child process and captures its output as evidence.
//!
//! The child runs under a [`crate::run::supervisor`] in its own process group, with `/dev/null` as
//! stdin and a single pipe for stdout and stderr, so the log shows both streams interleaved the
//! way a terminal would. A reader thread (`pump`) streams that pipe, redacted, through 256 KiB
//! buffers (flushed when the output goes idle; those of a large output written and hashed by a
//! thread of their own, `exec/appender.rs`) into `<log>.part` (created, with its directory, on
//! the first byte: a command that prints nothing leaves no file) while hashing it, so memory stays
//! flat however much the command prints; the finished log is fsynced (or, in a run that
//! defers, synced with the rest before the ledger: `atomic::defer`) and renamed into place,
//! and its tail read back for failure messages. On timeout every process below the
//! supervisor gets SIGTERM, then SIGKILL; processes still running the leak timeout after the
//! command exited are killed and reported as leaked: a check must never leave processes behind
//! or hang the gate on a pipe nobody closes.

mod appender;
mod pump;

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use appender::Appender;
use pump::pump;

use crate::run::supervisor::{self, Launch, Leftover, Supervised};
use crate::spec::format_duration;

use crate::output::tail::{read_tail, TAIL_BYTES};

/// The usual time between SIGTERM and SIGKILL when a command times out.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

/// How long the output pipe may stay open after the supervisor is done. Only a process that
/// escaped the supervisor (one that killed it) can hold it that long, and waiting would hang.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The most given to the redactor at once: what one read of the pipe returned before it was
/// enlarged ([`pump()`]), so long lines are cut where they always were.
const REDACT_BYTES: usize = 64 * 1024;

/// One command to run.
#[derive(Debug, Clone)]
pub struct ExecRequest<'a> {
    /// The program and its arguments; the program is looked up on `PATH`.
    pub argv: &'a [String],
    /// The working directory of the child.
    pub cwd: &'a Path,
    /// Variables added to the inherited environment.
    pub env: &'a BTreeMap<String, String>,
    /// How long the command may run before its process group is terminated.
    pub timeout: Duration,
    /// How long to wait between SIGTERM and SIGKILL on timeout.
    pub kill_grace: Duration,
    /// How long processes the command started may outlive it before they are killed and the
    /// run is leaky.
    pub leak_timeout: Duration,
    /// Where the combined output ends up; parent directories are created.
    pub log_path: &'a Path,
}

/// What happened when a command ran, and a digest of the log it produced.
#[derive(Debug, Clone)]
pub struct ExecResult {
    /// When the run started.
    pub started: DateTime<Utc>,
    /// When the run ended, output drained and log written.
    pub ended: DateTime<Utc>,
    /// Wall-clock time from start to end, measured on the monotonic clock.
    pub duration: Duration,
    /// The exit code, when the command exited on its own.
    pub exit_code: Option<i32>,
    /// The signal that terminated the command, if any.
    pub signal: Option<i32>,
    /// Whether the command was killed for exceeding its timeout.
    pub timed_out: bool,
    /// Why the command could not be started; the log holds the same message.
    pub spawn_error: Option<String>,
    /// Size of the log file in bytes.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the log file.
    pub sha256: String,
    /// The last [`TAIL_BYTES`] bytes of the log, raw.
    pub tail: Vec<u8>,
    /// Processes that were still running [`ExecRequest::leak_timeout`] after the command
    /// exited, and were killed (not redacted).
    pub leaked: Vec<Leftover>,
    /// Set when containment could not be ensured (the supervisor was killed).
    pub uncontained: Option<String>,
}

/// Runs the command, writing its combined output to `request.log_path`.
///
/// A command that cannot be started is not an error: the result carries `spawn_error` and the
/// log holds that message. A command that prints nothing leaves no log file (`bytes` 0, the
/// digest of no bytes): the file, and its directory, are created on the first byte. `Err`
/// means the log itself could not be created, written or renamed into place.
pub fn run(request: &ExecRequest<'_>) -> io::Result<ExecResult> {
    let started = Utc::now();
    let clock = Instant::now();
    let part = part_path(request.log_path);
    let sink = Sink::create(&part)?;
    let finished = supervise(request, sink).and_then(|(mut sink, outcome)| {
        for line in outcome.log_lines() {
            sink.write(format!("[relgate] {line}\n").as_bytes())?;
        }
        let digest = sink.finish(&part, request.log_path)?;
        Ok((digest, outcome))
    });
    let ((bytes, sha256, tail), outcome) = match finished {
        Ok(done) => done,
        Err(err) => {
            // A half-written `.part` is no evidence of anything; don't leave it lying around.
            let _ = std::fs::remove_file(&part);
            return Err(err);
        }
    };
    let status = outcome.status;
    Ok(ExecResult {
        started,
        ended: Utc::now(),
        duration: clock.elapsed(),
        exit_code: status.and_then(|status| status.code()),
        signal: status.and_then(|status| status.signal()),
        timed_out: outcome.timed_out,
        spawn_error: outcome.spawn_error,
        leaked: outcome.leaked,
        uncontained: outcome.uncontained,
        bytes,
        sha256,
        tail,
    })
}

/// One line saying how the run ended: `exit 0`, `exit 3`, `killed by signal 9 (SIGKILL)`,
/// `timed out after 2s`, or the reason it could not start.
pub fn describe_status(result: &ExecResult, timeout: Duration) -> String {
    if let Some(error) = &result.spawn_error {
        return error.clone();
    }
    if result.timed_out {
        return format!("timed out after {}", format_duration(timeout));
    }
    match (result.exit_code, result.signal) {
        (_, Some(signal)) => match signal_name(signal) {
            Some(name) => format!("killed by signal {signal} ({name})"),
            None => format!("killed by signal {signal}"),
        },
        (Some(code), None) => format!("exit {code}"),
        (None, None) => "ended with an unknown status".to_string(),
    }
}

/// How a supervised run ended, before the log is finalised.
#[derive(Default)]
struct Outcome {
    status: Option<ExitStatus>,
    timed_out: bool,
    spawn_error: Option<String>,
    notes: Vec<String>,
    leaked: Vec<Leftover>,
    uncontained: Option<String>,
}

impl Outcome {
    /// Lines relgate itself appends to the log, so the log explains runs without output.
    fn log_lines(&self) -> impl Iterator<Item = &String> {
        self.spawn_error.iter().chain(&self.notes)
    }
}

/// Spawns the child under a supervisor, streams its output into `sink`, enforces the timeout
/// and has everything the command started cleaned up. Returns the sink once the pipe is drained.
fn supervise(request: &ExecRequest<'_>, sink: Sink) -> io::Result<(Sink, Outcome)> {
    let mut outcome = Outcome::default();
    let (reader, writer) = match io::pipe() {
        Ok(pipe) => pipe,
        Err(err) => {
            outcome.spawn_error = Some(spawn_message(request.argv, &err));
            return Ok((sink, outcome));
        }
    };
    let abandon = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel();
    let pump = {
        let abandon = Arc::clone(&abandon);
        std::thread::Builder::new()
            .name("relgate-exec-output".to_string())
            .spawn(move || {
                let drained = pump(reader, sink, &abandon);
                let _ = done_tx.send(());
                drained
            })?
    };
    let launch = Launch {
        argv: request.argv,
        cwd: request.cwd,
        env: request.env,
        leak_timeout: Some(request.leak_timeout),
        kill_grace: request.kill_grace,
    };
    // `spawn` consumes the writer, so once the supervisor and everything below it are gone
    // nothing keeps the pipe open and the reader sees EOF.
    match Supervised::spawn(&launch, writer) {
        Ok(supervised) => contain(supervised, request, &mut outcome),
        Err(err) => outcome.spawn_error = Some(spawn_message(request.argv, &err)),
    }
    if done_rx.recv_timeout(DRAIN_GRACE).is_err() {
        abandon.store(true, Ordering::Relaxed);
        outcome.notes.push(format!(
            "stopped reading output {} after the command ended: a process relgate could not \
             reach still holds the output open",
            format_duration(DRAIN_GRACE)
        ));
    }
    let (sink, read_error) = match pump.join() {
        Ok(drained) => drained?,
        Err(_) => return Err(io::Error::other("the output reader thread panicked")),
    };
    outcome
        .notes
        .extend(read_error.map(|err| format!("reading the output failed: {err}")));
    Ok((sink, outcome))
}

fn spawn_message(argv: &[String], err: &io::Error) -> String {
    match argv.first() {
        Some(program) => format!("cannot start `{program}`: {err}"),
        None => format!("cannot start: {err}"),
    }
}

/// Waits for the command under the request's timeout (SIGTERM, grace, SIGKILL to everything
/// below the supervisor when it runs over), then for the supervisor to kill and report what
/// outlived the command.
fn contain(mut supervised: Supervised, request: &ExecRequest<'_>, outcome: &mut Outcome) {
    let mut status = supervised.wait_exit(request.timeout);
    if status.is_none() && !supervised.lost() {
        outcome.timed_out = true;
        supervised.send(supervisor::TERMINATE);
        status = supervised.wait_exit(request.kill_grace);
        if status.is_none() {
            supervised.send(supervisor::KILL);
        }
    }
    let finished = supervised.finish();
    outcome.status = finished.status;
    if !finished.leaked.is_empty() {
        outcome
            .notes
            .push(leak_note(&finished.leaked, request.leak_timeout));
    }
    if finished.lost {
        let message = "relgate's supervisor of this command was killed or interfered with: \
                       processes the command started may have survived it"
            .to_string();
        outcome.notes.push(message.clone());
        outcome.uncontained = Some(message);
    }
    outcome.leaked = finished.leaked;
}

/// Why a run that may otherwise have passed fails its containment: processes outlived the
/// command (leaky), or the supervisor was killed. Redacted.
pub fn containment_failure(result: &ExecResult, leak_timeout: Duration) -> Option<String> {
    let why = match &result.uncontained {
        Some(why) => why.clone(),
        None if result.leaked.is_empty() => return None,
        None => leak_note(&result.leaked, leak_timeout),
    };
    Some(crate::output::redaction::redact(&why).into_owned())
}

/// The processes that outlived the command, as `pid N \`command line\``, redacted.
pub fn leaked_lines(result: &ExecResult) -> Vec<String> {
    let line =
        |leftover: &Leftover| crate::output::redaction::redact(&leftover.to_string()).into_owned();
    result.leaked.iter().map(line).collect()
}

/// The log line about processes that outlived the command (the first [`LEAKS_NAMED`]).
fn leak_note(leaked: &[Leftover], leak_timeout: Duration) -> String {
    let mut named: Vec<String> = leaked
        .iter()
        .take(LEAKS_NAMED)
        .map(Leftover::to_string)
        .collect();
    if leaked.len() > LEAKS_NAMED {
        named.push(format!("and {} more", leaked.len() - LEAKS_NAMED));
    }
    format!(
        "leaky: {} still running {} after the command exited, killed: {}",
        plural(leaked.len(), "process", "processes"),
        format_duration(leak_timeout),
        named.join(", ")
    )
}

/// How many leftover processes a leak message names.
const LEAKS_NAMED: usize = 10;

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// The log being written: the `.part` file plus a running digest and size (the tail is read
/// back from the file at the end: copying it out of every chunk cost more than the rest of
/// the capture in a debug build).
struct Sink {
    redactor: crate::output::redaction::LineRedactor,
    /// Only redacted bytes reach it. Created on the first byte (with its directory): no
    /// output, no file.
    log: Option<Appender>,
    part: PathBuf,
}

impl Sink {
    fn create(path: &Path) -> io::Result<Sink> {
        Ok(Sink {
            redactor: crate::output::redaction::LineRedactor::new(),
            log: None,
            part: path.to_path_buf(),
        })
    }

    /// Writes what is buffered to the file.
    fn flush(&mut self) -> io::Result<()> {
        self.log.as_mut().map_or(Ok(()), Appender::flush)
    }

    /// Takes output as it comes; writes it redacted, line by line.
    fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        let (redactor, log, part) = (&mut self.redactor, &mut self.log, &self.part);
        chunk
            .chunks(REDACT_BYTES)
            .try_for_each(|piece| redactor.push(piece, &mut |bytes| append(log, part, bytes)))
    }

    /// Makes the log durable under its final name; returns its size, digest and tail. A log
    /// that got no byte has no file: size 0 and the digest of no bytes.
    fn finish(mut self, part: &Path, log_path: &Path) -> io::Result<(u64, String, Vec<u8>)> {
        let (log, own_part) = (&mut self.log, &self.part);
        self.redactor
            .finish(&mut |bytes| append(log, own_part, bytes))?;
        let Some(log) = self.log else {
            return Ok((
                0,
                crate::model::digest::EMPTY_SHA256.to_string(),
                Vec::new(),
            ));
        };
        let (file, bytes, sha256) = log.finish()?;
        crate::output::atomic::sync_file(&file)?;
        drop(file);
        let tail = read_tail(part, TAIL_BYTES)?;
        std::fs::rename(part, log_path)?;
        Ok((bytes, sha256, tail))
    }
}

/// Appends redacted bytes to the log, creating it on the first byte.
fn append(log: &mut Option<Appender>, part: &Path, bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let log = match log {
        Some(log) => log,
        None => log.insert(Appender::new(create_in_dir(part)?)),
    };
    log.write(bytes)
}

/// Creates `path`, and its directory when that is missing (tried first: the directory of a
/// packet's logs exists from its first check with output on).
pub(crate) fn create_in_dir(path: &Path) -> io::Result<File> {
    match File::create(path) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            File::create(path)
        }
        result => result,
    }
}

/// A name for the log while it is written, unique to this process and call
/// (`<log>.<pid>-<n>.part`): two writers of one log never share a temp file.
pub(crate) fn part_path(log_path: &Path) -> PathBuf {
    unique_sibling(log_path, "part")
}

/// `<path>.<pid>-<n>.<suffix>`: a temp name next to `path` that no other process or call uses.
pub(crate) fn unique_sibling(path: &Path, suffix: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}-{n}.{suffix}", std::process::id()));
    PathBuf::from(name)
}

fn signal_name(signal: i32) -> Option<&'static str> {
    // Looked up through libc constants because signal numbers differ between architectures.
    const NAMES: &[(libc::c_int, &str)] = &[
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGXFSZ, "SIGXFSZ"),
        (libc::SIGSYS, "SIGSYS"),
    ];
    NAMES
        .iter()
        .find(|(number, _)| *number == signal)
        .map(|(_, name)| *name)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::output::tail::tail_text;
    use sha2::{Digest, Sha256};
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    /// A temp directory to run commands in, with their log at [`Fixture::log`]; the leak
    /// timeout is 300ms.
    pub(crate) struct Fixture {
        pub(crate) dir: tempfile::TempDir,
        pub(crate) env: BTreeMap<String, String>,
    }

    impl Fixture {
        pub(crate) fn new() -> Fixture {
            Fixture {
                dir: tempfile::tempdir().expect("tempdir"),
                env: BTreeMap::new(),
            }
        }

        pub(crate) fn log(&self) -> PathBuf {
            self.dir.path().join("logs/nested/check.log")
        }

        pub(crate) fn run(
            &self,
            argv: &[&str],
            timeout: Duration,
            kill_grace: Duration,
        ) -> ExecResult {
            let argv: Vec<String> = argv.iter().map(|arg| arg.to_string()).collect();
            let log = self.log();
            let request = ExecRequest {
                argv: &argv,
                cwd: self.dir.path(),
                env: &self.env,
                timeout,
                kill_grace,
                leak_timeout: Duration::from_millis(300),
                log_path: &log,
            };
            let result = run(&request).expect("log written");
            assert_eq!(
                log.exists(),
                result.bytes > 0,
                "a log file exactly when there was output"
            );
            // No output, no file and no directory either.
            let parts: Vec<_> = std::fs::read_dir(log.parent().unwrap())
                .into_iter()
                .flatten()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
                .filter(|name| name.ends_with(".part"))
                .collect();
            assert!(
                parts.is_empty(),
                "the .part file must be renamed away: {parts:?}"
            );
            result
        }

        pub(crate) fn sh(&self, script: &str) -> ExecResult {
            self.run(
                &["sh", "-c", script],
                Duration::from_secs(30),
                DEFAULT_KILL_GRACE,
            )
        }

        pub(crate) fn log_bytes(&self) -> Vec<u8> {
            std::fs::read(self.log()).expect("log readable")
        }
    }

    pub(crate) fn sha256_of_file(path: &Path) -> String {
        let mut file = File::open(path).expect("open log");
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).expect("read log");
            if n == 0 {
                return hex::encode(hasher.finalize());
            }
            hasher.update(&buf[..n]);
        }
    }

    fn first_line_pid(log: &[u8]) -> libc::pid_t {
        let text = String::from_utf8_lossy(log);
        text.lines()
            .next()
            .and_then(|line| line.trim().parse().ok())
            .expect("pid on line 1")
    }

    /// Processes in the group that are not zombies, as `pid state comm` strings.
    fn live_members(pgid: libc::pid_t) -> Vec<String> {
        let mut live = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid pgrp ...`; comm may contain spaces, so split after ')'.
            let Some(close) = stat.rfind(')') else {
                continue;
            };
            let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            let pgrp: libc::pid_t = fields.get(2).and_then(|f| f.parse().ok()).unwrap_or(0);
            if pgrp == pgid && fields.first() != Some(&"Z") {
                live.push(stat[..close + 1].to_string());
            }
        }
        live
    }

    /// Whether `kill(-pgid, 0)` reports ESRCH. Killed processes may linger briefly as zombies
    /// until init reaps them, so allow a moment.
    fn group_gone(pgid: libc::pid_t) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            // SAFETY: signal 0 only checks for existence.
            let rc = unsafe { libc::kill(-pgid, 0) };
            if rc != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn assert_group_gone(pgid: libc::pid_t) {
        assert!(
            live_members(pgid).is_empty(),
            "left behind: {:?}",
            live_members(pgid)
        );
        assert!(group_gone(pgid), "process group {pgid} still exists");
    }

    fn peak_rss_kb() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    #[test]
    fn stdout_and_stderr_interleave_in_one_log_and_stdin_is_null() {
        let fx = Fixture::new();
        // `cat` returns at once only if stdin is /dev/null rather than the test's stdin.
        let result = fx.sh("echo out; echo err >&2; cat; echo out2 >&2; echo out3");
        assert_eq!(fx.log_bytes(), b"out\nerr\nout2\nout3\n");
        assert_eq!(result.exit_code, Some(0));
        assert_eq!(result.signal, None);
        assert!(!result.timed_out);
        assert_eq!(result.spawn_error, None);
        assert_eq!(result.bytes, 18);
        assert_eq!(result.sha256, sha256_of_file(&fx.log()));
        assert_eq!(result.tail, fx.log_bytes());
        assert!(result.ended >= result.started);
        assert_eq!(describe_status(&result, Duration::from_secs(1)), "exit 0");
    }

    #[test]
    fn binary_output_is_stored_byte_for_byte() {
        let fx = Fixture::new();
        let result = fx.sh(r"printf '\377\000\376\015\033x'");
        assert_eq!(fx.log_bytes(), b"\xff\x00\xfe\r\x1bx");
        assert_eq!(result.bytes, 6);
        assert_eq!(result.sha256, sha256_of_file(&fx.log()));
    }

    #[test]
    fn a_command_printing_nothing_leaves_no_log_file() {
        let fx = Fixture::new();
        let result = fx.sh("true");
        assert_eq!((result.exit_code, result.bytes), (Some(0), 0));
        assert_eq!(result.sha256, crate::model::digest::EMPTY_SHA256);
        assert!(result.tail.is_empty());
        assert!(!fx.log().parent().unwrap().exists(), "nothing created");
        // One byte is enough for the file, and its directory.
        let result = fx.sh("printf x");
        assert_eq!(result.bytes, 1);
        assert_eq!(fx.log_bytes(), b"x");
    }

    #[test]
    fn exit_codes_and_signals_are_reported() {
        let fx = Fixture::new();
        let result = fx.sh("exit 3");
        assert_eq!((result.exit_code, result.signal), (Some(3), None));
        assert_eq!(describe_status(&result, Duration::from_secs(1)), "exit 3");

        let result = fx.sh("kill -9 $$");
        assert_eq!((result.exit_code, result.signal), (None, Some(9)));
        assert!(!result.timed_out);
        assert_eq!(
            describe_status(&result, Duration::from_secs(1)),
            "killed by signal 9 (SIGKILL)"
        );
    }

    #[test]
    fn env_is_added_and_cwd_is_honoured() {
        let mut fx = Fixture::new();
        fx.env
            .insert("RELGATE_EXEC_TEST".to_string(), "hello world".to_string());
        let result = fx.sh("echo \"$RELGATE_EXEC_TEST\"; test -n \"$PATH\" && pwd -P");
        assert_eq!(result.exit_code, Some(0));
        let cwd = fx.dir.path().canonicalize().expect("canonical tempdir");
        let expected = format!("hello world\n{}\n", cwd.display());
        assert_eq!(String::from_utf8_lossy(&fx.log_bytes()), expected);
    }

    #[test]
    fn stray_background_processes_are_killed_once_the_child_exits() {
        let fx = Fixture::new();
        let clock = Instant::now();
        let result = fx.sh("echo $$; sleep 100 & echo hi");
        assert!(
            clock.elapsed() < Duration::from_secs(5),
            "took {:?}",
            clock.elapsed()
        );
        assert_eq!(result.exit_code, Some(0));
        assert!(!result.timed_out);
        let log = fx.log_bytes();
        let text = String::from_utf8_lossy(&log);
        assert!(text.contains("hi\n[relgate] leaky: 1 process"), "{text}");
        assert_group_gone(first_line_pid(&log));
    }

    #[test]
    fn timeout_terminates_the_whole_group() {
        let fx = Fixture::new();
        let clock = Instant::now();
        let result = fx.run(
            &["sh", "-c", "echo $$; sleep 30 & sleep 30; wait"],
            Duration::from_secs(1),
            Duration::from_millis(200),
        );
        let elapsed = clock.elapsed();
        assert!(elapsed >= Duration::from_secs(1), "took {elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
        assert!(result.timed_out);
        assert_eq!(result.signal, Some(libc::SIGTERM));
        assert_eq!(result.exit_code, None);
        assert_eq!(
            describe_status(&result, Duration::from_secs(1)),
            "timed out after 1s"
        );
        assert_group_gone(first_line_pid(&fx.log_bytes()));
    }

    #[test]
    fn a_child_ignoring_sigterm_is_killed_after_the_grace_period() {
        let fx = Fixture::new();
        let clock = Instant::now();
        let result = fx.run(
            &["sh", "-c", "echo $$; trap '' TERM; sleep 30"],
            Duration::from_millis(500),
            Duration::from_millis(300),
        );
        let elapsed = clock.elapsed();
        assert!(elapsed >= Duration::from_millis(800), "took {elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
        assert!(result.timed_out);
        assert_eq!(result.signal, Some(libc::SIGKILL));
        assert_group_gone(first_line_pid(&fx.log_bytes()));
    }

    #[test]
    fn a_missing_command_is_a_spawn_error_with_a_log() {
        let fx = Fixture::new();
        let result = fx.run(
            &["relgate-no-such-command", "x"],
            Duration::from_secs(5),
            DEFAULT_KILL_GRACE,
        );
        let error = result.spawn_error.clone().expect("spawn error");
        assert!(
            error.starts_with("cannot start `relgate-no-such-command`: "),
            "{error}"
        );
        assert!(
            error.contains("No such file or directory (os error 2)"),
            "{error}"
        );
        assert_eq!(
            (result.exit_code, result.signal, result.timed_out),
            (None, None, false)
        );
        let log = fx.log_bytes();
        assert_eq!(log, format!("[relgate] {error}\n").as_bytes());
        assert_eq!(result.bytes, log.len() as u64);
        assert_eq!(result.sha256, sha256_of_file(&fx.log()));
        assert_eq!(result.tail, log);
        assert_eq!(describe_status(&result, Duration::from_secs(1)), error);
    }

    #[test]
    fn a_file_without_execute_permission_is_a_spawn_error() {
        let fx = Fixture::new();
        let script = fx.dir.path().join("script.sh");
        std::fs::write(&script, "#!/bin/sh\necho never\n").expect("write script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let program = script.display().to_string();
        let result = fx.run(&[&program], Duration::from_secs(5), DEFAULT_KILL_GRACE);
        let error = result.spawn_error.clone().expect("spawn error");
        assert!(error.contains("Permission denied (os error 13)"), "{error}");
        assert_eq!(result.exit_code, None);
        assert!(String::from_utf8_lossy(&fx.log_bytes()).contains(&error));
    }

    #[test]
    fn an_empty_command_is_a_spawn_error() {
        let fx = Fixture::new();
        let result = fx.run(&[], Duration::from_secs(5), DEFAULT_KILL_GRACE);
        let error = result.spawn_error.expect("spawn error");
        assert!(error.contains("empty"), "{error}");
        assert!(result.bytes > 0);
    }

    #[test]
    fn the_tail_is_the_last_bytes_of_a_long_output() {
        let fx = Fixture::new();
        let result = fx.sh("seq 1 20000");
        let log = fx.log_bytes();
        assert!(log.len() > TAIL_BYTES);
        assert_eq!(result.tail, &log[log.len() - TAIL_BYTES..]);
        assert_eq!(read_tail(&fx.log(), TAIL_BYTES).expect("tail"), result.tail);
        assert_eq!(tail_text(&result.tail, 2), "19999\n20000");
    }

    #[test]
    fn a_hundred_megabytes_stream_through_in_bounded_memory() {
        const SIZE: usize = 100_000_000;
        let fx = Fixture::new();
        let before = peak_rss_kb();
        let result = fx.run(
            &["head", "-c", &SIZE.to_string(), "/dev/zero"],
            Duration::from_secs(300),
            DEFAULT_KILL_GRACE,
        );
        let growth_kb = peak_rss_kb().saturating_sub(before);
        assert!(growth_kb < 32 * 1024, "peak RSS grew by {growth_kb} kB");
        assert_eq!(result.exit_code, Some(0));
        assert_eq!(result.bytes, SIZE as u64);
        assert_eq!(std::fs::metadata(fx.log()).expect("log").len(), SIZE as u64);
        assert_eq!(result.sha256, sha256_of_file(&fx.log()));
        let mut zeros = Sha256::new();
        let chunk = vec![0u8; 1 << 20];
        let mut left = SIZE;
        while left > 0 {
            let n = left.min(chunk.len());
            zeros.update(&chunk[..n]);
            left -= n;
        }
        assert_eq!(result.sha256, hex::encode(zeros.finalize()));
        assert_eq!(result.tail, vec![0u8; TAIL_BYTES]);
    }

    /// Secrets in a large output (the path where the output is redacted in blocks, read in
    /// large pieces and written by a thread of its own) are masked wherever they fall: between
    /// `yes` lines, in a long line, at the end without a newline.
    #[test]
    fn secrets_in_a_large_output_are_masked() {
        let token = ["gh", "p_", "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5b7"].concat();
        let mut fx = Fixture::new();
        fx.env.insert("PAYLOAD".to_string(), token.clone());
        let script = "yes | head -c 3000001; echo \"t=$PAYLOAD\"; \
                      head -c 2500000 /dev/zero | tr '\\0' x; echo \" $PAYLOAD \"; \
                      yes | head -c 1000000; printf '%s' \"$PAYLOAD\"";
        let result = fx.sh(script);
        assert_eq!(result.exit_code, Some(0));
        let log = fx.log_bytes();
        let text = String::from_utf8_lossy(&log);
        assert!(!text.contains(&token), "a token in clear");
        assert_eq!(text.matches(crate::output::redaction::MASK).count(), 3);
        assert_eq!(result.bytes, log.len() as u64);
        assert_eq!(result.sha256, sha256_of_file(&fx.log()));
        assert!(text.ends_with(crate::output::redaction::MASK));
    }

    #[test]
    fn describe_status_formats_every_outcome() {
        let base = ExecResult {
            started: Utc::now(),
            ended: Utc::now(),
            duration: Duration::ZERO,
            exit_code: None,
            signal: None,
            timed_out: false,
            spawn_error: None,
            leaked: Vec::new(),
            uncontained: None,
            bytes: 0,
            sha256: String::new(),
            tail: Vec::new(),
        };
        let with = |change: &dyn Fn(&mut ExecResult)| {
            let mut result = base.clone();
            change(&mut result);
            result
        };
        let second = Duration::from_secs(1);
        assert_eq!(
            describe_status(&with(&|r| r.exit_code = Some(0)), second),
            "exit 0"
        );
        assert_eq!(
            describe_status(&with(&|r| r.signal = Some(libc::SIGSEGV)), second),
            "killed by signal 11 (SIGSEGV)"
        );
        assert_eq!(
            describe_status(&with(&|r| r.signal = Some(63)), second),
            "killed by signal 63"
        );
        let timed_out = with(&|r| {
            r.timed_out = true;
            r.signal = Some(libc::SIGTERM);
        });
        assert_eq!(
            describe_status(&timed_out, Duration::from_secs(2)),
            "timed out after 2s"
        );
        assert_eq!(
            describe_status(&timed_out, Duration::from_secs(90)),
            "timed out after 1m30s"
        );
        assert_eq!(
            describe_status(&timed_out, Duration::from_millis(500)),
            "timed out after 500ms"
        );
        assert_eq!(
            describe_status(&timed_out, Duration::from_secs(600)),
            "timed out after 10m"
        );
        let failed = with(&|r| r.spawn_error = Some("cannot start `x`: boom".to_string()));
        assert_eq!(describe_status(&failed, second), "cannot start `x`: boom");
    }
}
