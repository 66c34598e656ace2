//! The processes below a process, found through the `ppid` links of `/proc/*/stat`, and
//! signalled without ever hitting a recycled pid.
//!
//! A pid alone names nothing for long: once a process is reaped its pid may be handed to an
//! unrelated process. A process is therefore named by its pid *and* its start time (field 22 of
//! `/proc/PID/stat`, in clock ticks since boot), and signalled through a pidfd opened before the
//! start time is read again: if the start time still matches, the pidfd holds that very process
//! and no other, whatever happens to the pid afterwards.

use std::collections::BTreeMap;
use std::io;

/// One process as `/proc/PID/stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    /// Process id.
    pub pid: libc::pid_t,
    /// Parent process id.
    pub ppid: libc::pid_t,
    /// Start time in clock ticks after boot: with the pid, the process's identity.
    pub start: u64,
    /// Whether it has exited and waits to be reaped. A thread-group leader that ended its own
    /// thread (`pthread_exit`) shows state `Z` while its other threads run on: that process
    /// is alive, and not a zombie here.
    pub zombie: bool,
}

/// Reads `/proc/PID/stat`; `None` when the process is gone.
pub fn stat(pid: libc::pid_t) -> Option<Proc> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut proc = parse_stat(&text)?;
    if proc.zombie && !live_threads(pid).is_empty() {
        proc.zombie = false;
    }
    Some(proc)
}

/// The threads of `pid` other than its (exited) leader that have not exited: a zombie leader
/// with any of them is a running process that `waitpid` cannot reap.
fn live_threads(pid: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter(|&tid: &libc::pid_t| tid != pid)
        .filter(|tid| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat"))
                .ok()
                .and_then(|text| parse_stat(&text))
                .is_some_and(|thread| !thread.zombie)
        })
        .collect()
}

/// The state letter of `/proc/PID/stat` (`R`, `S`, `T` for stopped…); `None` when it is gone.
pub fn state(pid: libc::pid_t) -> Option<char> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// Parses `pid (comm) state ppid … starttime …`. The command name may hold spaces and
/// parentheses, so the fields are counted after the last `)`.
fn parse_stat(text: &str) -> Option<Proc> {
    let (head, rest) = text.rsplit_once(')')?;
    let pid = head.split_once(" (")?.0.trim().parse().ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Proc {
        pid,
        zombie: *fields.first()? == "Z",
        ppid: fields.get(1)?.parse().ok()?,
        // Field 22 of stat; the 20th after the command name.
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Every process currently below `root` (not `root` itself), parents before their children.
pub fn descendants(root: libc::pid_t) -> Vec<Proc> {
    let mut children: BTreeMap<libc::pid_t, Vec<Proc>> = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if let Some(proc) = stat(pid) {
                children.entry(proc.ppid).or_default().push(proc);
            }
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        for child in children.remove(&parent).unwrap_or_default() {
            queue.push(child.pid);
            found.push(child);
        }
    }
    found
}

/// The command line of a process, arguments joined by spaces (at most 300 characters), or its
/// `[comm]` when it has none (a kernel-style name, or a process that cleared it). A process whose
/// leader thread exited shows no command line of its own; a live thread's is read instead.
pub fn command_line(pid: libc::pid_t) -> String {
    const MAX: usize = 300;
    let mut raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if raw.is_empty() {
        if let Some(tid) = live_threads(pid).first() {
            raw = std::fs::read(format!("/proc/{pid}/task/{tid}/cmdline")).unwrap_or_default();
        }
    }
    let text = String::from_utf8_lossy(&raw).replace('\0', " ");
    let text = text.trim();
    if text.is_empty() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        return format!("[{}]", comm.trim());
    }
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Sends `signal` to `proc` if it is still the same process (same pid, same start time).
/// Returns whether the signal was sent.
pub fn signal(proc: &Proc, signal: libc::c_int) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, proc.pid, 0) } as libc::c_int;
    if pidfd < 0 {
        // Kernels before 5.3 have no pidfds: check the identity right before `kill`, which
        // leaves only the microseconds between the two for a recycled pid.
        if io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS) {
            return false;
        }
        if stat(proc.pid).map(|now| now.start) != Some(proc.start) {
            return false;
        }
        // SAFETY: kill has no memory-safety preconditions.
        return unsafe { libc::kill(proc.pid, signal) } == 0;
    }
    let same = stat(proc.pid).map(|now| now.start) == Some(proc.start);
    let sent = same
        // SAFETY: a pidfd we own, a valid signal number, no siginfo.
        && unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd,
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        } == 0;
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(pidfd) };
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "4242 (a) b (c) S 17 4242 4242 0 -1 4194560 90 0 0 0 0 0 0 0 20 0 1 0 \
                    123456 2 3 4\n";
        let proc = parse_stat(line).expect("parses");
        assert_eq!((proc.pid, proc.ppid, proc.start), (4242, 17, 123456));
        assert!(!proc.zombie);
        let zombie = line.replace(") S 17", ") Z 17");
        assert!(parse_stat(&zombie).expect("parses").zombie);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn descendants_are_found_below_a_child_and_signalled_by_identity() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .stdout(Stdio::null())
            .spawn()
            .expect("sh");
        let me = std::process::id() as libc::pid_t;
        let pid = child.id() as libc::pid_t;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let below = loop {
            let below: Vec<Proc> = descendants(me)
                .into_iter()
                .filter(|p| p.ppid == pid)
                .collect();
            // Until both have exec'd: a forked shell still shows the shell's command line.
            let execd = below
                .iter()
                .all(|p| command_line(p.pid).starts_with("sleep 30"));
            if (below.len() == 2 && execd) || std::time::Instant::now() > deadline {
                break below;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        assert_eq!(below.len(), 2, "{below:?}");
        assert!(command_line(below[0].pid).starts_with("sleep 30"));
        // A stale identity (another start time) is never signalled.
        let stale = Proc {
            start: below[0].start + 1,
            ..below[0]
        };
        assert!(!signal(&stale, libc::SIGKILL));
        assert!(stat(below[0].pid).is_some_and(|p| !p.zombie));
        for proc in &below {
            assert!(signal(proc, libc::SIGKILL));
        }
        let status = child.wait().expect("wait");
        assert!(status.success(), "{status:?}");
    }
}
