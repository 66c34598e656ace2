//! Stopping the postmaster and making sure nothing of a cluster survives.
//!
//! Two PostgreSQL facts shape this module. The postmaster's children each call `setsid()`
//! (`InitPostmasterChild`), so killing the postmaster's process group reaches only the
//! postmaster; and every child's working directory is the data directory, which is how
//! [`sweep`] finds the orphans of a postmaster that was killed.

use std::io;
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How often exits are polled for.
const POLL: Duration = Duration::from_millis(20);

/// How long [`sweep`] waits for killed orphans to disappear.
const SWEEP_WAIT: Duration = Duration::from_secs(5);

/// Whether the child `pid` has exited, without reaping it.
///
/// Leaving the zombie in place keeps its pid, and so its process-group id, from being reused
/// while the group is still signalled. Retries on `EINTR`; any other error (`ECHILD`: not our
/// child, or already reaped) is returned.
pub fn has_exited(pid: u32) -> io::Result<bool> {
    loop {
        // SAFETY: siginfo_t is plain old data; all-zero is a valid value and is what tells
        // "no state change" (si_pid == 0) apart under WNOHANG.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t; WNOWAIT leaves the child waitable.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            // SAFETY: waitid filled `info` (or left it zeroed when the child is still running).
            return Ok(unsafe { info.si_pid() } != 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Sends `signal` to `pid` (a negative pid: a process group), ignoring "no such process".
pub(crate) fn signal(pid: i32, signal: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Waits for `child` to exit until `deadline`, without reaping it. `Ok(false)` on timeout.
pub(crate) fn wait_exit_until(child: &Child, deadline: Instant) -> io::Result<bool> {
    loop {
        if has_exited(child.id())? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(POLL);
    }
}

/// Stops a postmaster: SIGINT (fast shutdown), up to `grace` for it to exit, then SIGKILL to its
/// process group; then reaps it. Returns its exit status and whether it had to be killed.
pub(crate) fn stop_postmaster(mut child: Child, grace: Duration) -> io::Result<(ExitStatus, bool)> {
    let pid = child.id() as i32;
    let mut killed = false;
    if !has_exited(child.id())? {
        signal(pid, libc::SIGINT);
        if !wait_exit_until(&child, Instant::now() + grace)? {
            signal(-pid, libc::SIGKILL);
            killed = true;
        }
    }
    // The postmaster is a zombie or about to be one, so its group id is still ours: anything
    // left in the group (nothing, normally) is killed before the id can be reused.
    signal(-pid, libc::SIGKILL);
    let status = child.wait()?;
    Ok((status, killed))
}

/// Kills every process whose working directory is `data_dir` (a cluster's orphaned backends
/// and auxiliary processes) and waits up to a few seconds for them to go. Zombies, which an
/// init that does not reap may keep around, count as gone.
pub(crate) fn sweep(data_dir: &Path) {
    let deadline = Instant::now() + SWEEP_WAIT;
    loop {
        let survivors = processes_in(data_dir);
        if survivors.is_empty() || Instant::now() >= deadline {
            return;
        }
        for pid in survivors {
            signal(pid, libc::SIGKILL);
        }
        std::thread::sleep(POLL);
    }
}

/// Live (non-zombie) processes whose working directory is `dir`. Linux only (`/proc`);
/// elsewhere it finds nothing.
pub(crate) fn processes_in(dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir)
                && !is_zombie(*pid)
        })
        .collect()
}

/// Whether `pid` is a zombie (or gone), from `/proc/PID/stat`'s state field.
pub(crate) fn is_zombie(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The command name is parenthesised and may hold spaces; the state follows its `)`.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_none_or(|state| state == "Z" || state == "X")
}
