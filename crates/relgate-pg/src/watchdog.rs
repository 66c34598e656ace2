//! A small `sh` process that cleans a cluster up if its owner dies without doing so.
//!
//! `Drop` does not run when the owning process is killed, aborts, or keeps the cluster in a
//! `static` (statics are never dropped — a common way for tests to share one server). The
//! watchdog holds the read end of a pipe whose write end only the owner has (close-on-exec, so
//! no other child inherits it). A `stop` line means the owner cleaned up itself; end of file
//! means the owner is gone, and the watchdog stops the server (SIGINT, up to 10 s, SIGKILL) and
//! removes the directories. A pid is only signalled while its working directory is the data
//! directory, so a recycled pid is never hit.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::error::PgError;

const SCRIPT: &str = r#"
data=$1
shift
pid=
while IFS= read -r line; do
  case $line in
    pid\ *) pid=${line#pid } ;;
    stop) exit 0 ;;
  esac
done
alive() { [ -n "$pid" ] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$data" ]; }
if alive; then
  kill -INT "$pid" 2>/dev/null
  i=0
  while alive && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  if alive; then kill -KILL "$pid" 2>/dev/null; fi
fi
i=0
while [ "$i" -lt 50 ]; do
  found=
  for proc in /proc/[0-9]*; do
    if [ "$(readlink "$proc/cwd" 2>/dev/null)" = "$data" ]; then
      found=1
      kill -KILL "${proc#/proc/}" 2>/dev/null
    fi
  done
  [ -z "$found" ] && break
  sleep 0.1
  i=$((i+1))
done
rm -rf -- "$@"
"#;

/// The owner's side of the watchdog.
#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Watchdog {
    /// Starts a watchdog for the cluster whose data directory is `data_dir`, removing
    /// `remove` if the owner dies.
    pub(crate) fn spawn(data_dir: &Path, remove: &[PathBuf]) -> Result<Watchdog, PgError> {
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(SCRIPT)
            .arg("relgate-pg-watchdog")
            .arg(data_dir)
            .args(remove)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group: a Ctrl-C in the terminal kills the owner, not its cleaner.
            .process_group(0);
        let mut child = command.spawn().map_err(|source| {
            PgError::io("could not start the /bin/sh cleanup watchdog", source)
        })?;
        let stdin = child.stdin.take();
        Ok(Watchdog { child, stdin })
    }

    /// Tells the watchdog which postmaster to stop should the owner die.
    pub(crate) fn watch(&mut self, pid: u32) {
        self.send(&format!("pid {pid}\n"));
    }

    /// Releases the watchdog: the owner has cleaned up. Reaps it.
    pub(crate) fn release(mut self) {
        self.send("stop\n");
        self.stdin = None;
        let _ = self.child.wait();
    }

    fn send(&mut self, line: &str) {
        // A watchdog that died cannot be helped; the owner still cleans up itself.
        if let Some(stdin) = &mut self.stdin {
            let _ = stdin.write_all(line.as_bytes());
        }
    }
}
