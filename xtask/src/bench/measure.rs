//! Timing a process and the peak RSS of its tree, and medians.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// One run of a command.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Wall-clock time from spawn to exit.
    pub wall: Duration,
    /// Peak resident set size of the largest process of its tree (the process itself and every
    /// descendant that was waited for), from `wait4`'s rusage: KiB.
    pub max_rss_kib: u64,
}

/// Runs `command` (stdin from /dev/null; stdout and stderr discarded) to its end.
/// `Err` when it cannot start or exits with a status not in `ok`.
pub fn run(command: &mut Command, ok: &[i32]) -> Result<Sample, String> {
    let (child, shown, started) = start_quiet(command)?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child, writing into locals. `child` is never waited on by
        // std (it is only dropped, which does not wait).
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waiting for {shown}: {err}"));
        }
    }
    let wall = started.elapsed();
    drop(child);
    let status = ExitStatus::from_raw(status);
    if !status.code().is_some_and(|code| ok.contains(&code)) {
        return Err(format!("{shown} ended with {status}"));
    }
    Ok(Sample {
        wall,
        max_rss_kib: usage.ru_maxrss as u64,
    })
}

/// Like [`run`], but kills the command (and reports `Ok(None)`) when it runs over `limit`.
pub fn run_within(
    command: &mut Command,
    ok: &[i32],
    limit: Duration,
) -> Result<Option<Sample>, String> {
    let (mut child, shown, started) = start_quiet(command)?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.code().is_some_and(|code| ok.contains(&code)) => {
                return Ok(Some(Sample {
                    wall: started.elapsed(),
                    max_rss_kib: 0,
                }))
            }
            Ok(Some(status)) => return Err(format!("{shown} ended with {status}")),
            Ok(None) if started.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            Err(err) => return Err(format!("waiting for {shown}: {err}")),
        }
    }
}

/// Starts `command` with stdin from /dev/null and its output discarded; returns the child, the
/// command as shown in errors, and when it started.
fn start_quiet(command: &mut Command) -> Result<(std::process::Child, String, Instant), String> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let shown = format!("{command:?}");
    let started = Instant::now();
    let child = command
        .spawn()
        .map_err(|err| format!("cannot start {shown}: {err}"))?;
    Ok((child, shown, started))
}

/// The median of `values` (the lower middle one for an even count); zero when empty.
pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values
        .get(values.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}

/// Seconds with three decimals, or milliseconds under a second.
pub fn show(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
    } else {
        format!("{:.3} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_take_the_middle() {
        let ms = Duration::from_millis;
        assert_eq!(median(vec![ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(median(vec![ms(4), ms(1), ms(2), ms(3)]), ms(2));
        assert_eq!(median(Vec::new()), Duration::ZERO);
    }

    #[test]
    fn a_child_is_timed_with_its_peak_rss() {
        let sample = run(Command::new("sh").args(["-c", "sleep 0.05"]), &[0]).unwrap();
        assert!(sample.wall >= Duration::from_millis(50), "{sample:?}");
        assert!(sample.max_rss_kib > 0, "{sample:?}");
        assert!(run(&mut Command::new("false"), &[0]).is_err());
    }
}
