//! One run per out directory: the run lock, and the invalidation of the previous run's
//! verdict-bearing files before anything else happens.
//!
//! `.relgate-lock` is locked with `flock(2)` for the whole life of every invocation that
//! writes into the out directory (`cargo xtask gate`, `gate report`, `cargo test -p
//! gate-tests`, each process of `cargo nextest run -p gate-tests`) and holds the owner's run
//! id and pid. An in-process run holds it exclusively. The processes of one nextest run share
//! it (shared locks, joined by run id): a different run is refused while any of them lives.
//! Deciding whether to join or to take the directory over happens under a second lock,
//! `.relgate-lock.guard`, held only for that decision and the clean-up that follows it.
//!
//! The first invocation of a run (or a `report`) removes the previous verdict — the ledger
//! first, so that from the first unlink on, `gate verify` fails — before it even reads the
//! gate file: a refused or killed run never leaves an earlier run's set looking current.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::output::flock::FileLock;

/// Marker file that says an out directory was made by relgate and may be cleaned by it.
pub const OUT_MARKER: &str = ".relgate-out";
/// The run lock; its content names the run holding it.
pub const LOCK_FILE: &str = ".relgate-lock";
/// Held while a process decides whether to join a run or take the directory over.
const GUARD_FILE: &str = ".relgate-lock.guard";

/// The files that say what a run decided, in the order they are removed: the ledger first.
pub fn verdict_files() -> [&'static str; 7] {
    [
        crate::evidence::LEDGER_FILE,
        crate::report::attestation::ATTESTATION_FILE,
        crate::report::junit::JUNIT_FILE,
        crate::report::tracker::TRACKER_FILE,
        crate::report::sarif::SARIF_FILE,
        crate::report::html::HTML_FILE,
        // The gate copy verify recomputes the verdict from belongs to the run that wrote it.
        crate::report::attestation::GATE_COPY,
    ]
}

/// Directories a new run empties: an earlier run's logs and evidence must not mix with its own.
const RUN_DIRS: [&str; 4] = [
    "logs",
    "reports",
    "advisory-db",
    crate::evidence::fragment::FRAGMENTS_DIR,
];

/// How a process takes the out directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// One process is the whole run (`cargo xtask gate`, `cargo test`, `gate report`).
    Exclusive,
    /// One of the processes of a nextest run: processes with the same run id share the lock.
    PerRun,
}

/// What the invocation goes on to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A run: logs, reports and fragments of earlier runs are removed too.
    Run,
    /// `gate report`: the fragments and logs it reads stay; only the verdict goes.
    Report,
    /// `gate sign`: nothing is removed; the run's evidence is signed as it is.
    Sign,
}

/// Why the out directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    /// Another run holds the lock.
    #[error("out dir {dir} is in use by run {run_id} (pid {pid}); wait for it to finish or choose another --out")]
    InUse {
        /// The out directory.
        dir: String,
        /// The run holding it.
        run_id: String,
        /// Its process (the first, for a nextest run).
        pid: String,
    },
    /// A non-empty directory relgate did not make.
    #[error("out directory {dir} is not empty and was not made by relgate (no {OUT_MARKER}): choose another --out")]
    Foreign {
        /// The out directory.
        dir: String,
    },
    /// An I/O error on a named path.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OutDirError {
    let path = path.display().to_string();
    move |source| OutDirError::Io {
        action,
        path,
        source,
    }
}

/// Who holds the lock, as written into [`LOCK_FILE`].
#[derive(Debug, Serialize, Deserialize)]
struct Owner {
    run_id: String,
    pid: u32,
    /// False until the directory has been cleaned for this run.
    ready: bool,
    /// The `cargo nextest` process of a nextest run: the run goes on between its test
    /// processes, while none of them holds the lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runner: Option<Process>,
}

/// A process, told apart from a later one with the same pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Process {
    pid: u32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat`, field 22).
    start: u64,
}

impl Process {
    fn read(pid: u32) -> Option<Process> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let start = fields.get(19)?.parse().ok()?;
        Some(Process { pid, start })
    }

    fn alive(self) -> bool {
        Process::read(self.pid) == Some(self)
    }

    /// The nextest process running this test process, if the parent is one.
    fn nextest_parent() -> Option<Process> {
        // SAFETY: getppid has no preconditions.
        let parent = unsafe { libc::getppid() } as u32;
        let cmdline = std::fs::read(format!("/proc/{parent}/cmdline")).ok()?;
        String::from_utf8_lossy(&cmdline)
            .contains("nextest")
            .then(|| Process::read(parent))
            .flatten()
    }
}

/// The out directory, held for one run until dropped (or the process dies).
#[derive(Debug)]
pub struct OutDirLock {
    _lock: FileLock,
}

/// Takes `out_dir` for the run `run_id` and, unless this process joins a nextest run that
/// already did, removes the previous run's verdict (and, for a [`Purpose::Run`], its logs,
/// reports and fragments). Fails at once when another run holds the directory.
pub fn acquire(
    out_dir: &Path,
    run_id: &str,
    sharing: Sharing,
    purpose: Purpose,
) -> Result<OutDirLock, OutDirError> {
    std::fs::create_dir_all(out_dir).map_err(io_error("create", out_dir))?;
    let guard_path = out_dir.join(GUARD_FILE);
    let guard_existed = guard_path.exists();
    let _guard = FileLock::exclusive(&guard_path).map_err(io_error("lock", &guard_path))?;
    // Judged under the guard: a relgate process that got it first has finished preparing the
    // directory, so a half-prepared one is never taken for a foreign directory.
    if let Err(err) = refuse_foreign(out_dir) {
        if !guard_existed {
            let _ = std::fs::remove_file(&guard_path);
        }
        return Err(err);
    }
    let lock_path = out_dir.join(LOCK_FILE);
    let in_use = |owner: Option<Owner>| {
        let (run_id, pid) = owner.map_or_else(
            || ("unknown".to_string(), "unknown".to_string()),
            |owner| {
                let pid = owner.runner.map_or(owner.pid, |runner| runner.pid);
                (owner.run_id, pid.to_string())
            },
        );
        OutDirError::InUse {
            dir: out_dir.display().to_string(),
            run_id,
            pid,
        }
    };
    let owner = read_owner(&lock_path);
    let joins = sharing == Sharing::PerRun
        && owner
            .as_ref()
            .is_some_and(|owner| owner.run_id == run_id && owner.ready);
    if joins {
        // Another process of this nextest run prepared the directory.
        return match FileLock::try_shared(&lock_path).map_err(io_error("lock", &lock_path))? {
            Some(lock) => Ok(OutDirLock { _lock: lock }),
            None => Err(in_use(owner)),
        };
    }
    let runner_alive = owner
        .as_ref()
        .is_some_and(|owner| owner.run_id != run_id && owner.runner.is_some_and(Process::alive));
    if runner_alive {
        // Between two test processes of a nextest run nobody holds the lock; the run is on.
        return Err(in_use(owner));
    }
    let Some(lock) = FileLock::try_exclusive(&lock_path).map_err(io_error("lock", &lock_path))?
    else {
        return Err(in_use(owner));
    };
    let mut owner = Owner {
        run_id: run_id.to_string(),
        pid: std::process::id(),
        ready: false,
        runner: match sharing {
            Sharing::PerRun => Process::nextest_parent(),
            Sharing::Exclusive => None,
        },
    };
    write_owner(&lock, &owner).map_err(io_error("write", &lock_path))?;
    if purpose != Purpose::Sign {
        invalidate(out_dir)?;
    }
    if purpose == Purpose::Run {
        for dir in RUN_DIRS {
            remove(&out_dir.join(dir), true)?;
        }
    }
    let marker = out_dir.join(OUT_MARKER);
    let text = format!(
        "made by relgate; `{}` rewrites this directory\n",
        crate::model::invocation::gate_command()
    );
    crate::output::atomic::write(&marker, text.as_bytes()).map_err(io_error("write", &marker))?;
    owner.ready = true;
    write_owner(&lock, &owner).map_err(io_error("write", &lock_path))?;
    if sharing == Sharing::PerRun {
        // Still under the guard: nobody can take the lock between the two flock calls.
        lock.downgrade().map_err(io_error("lock", &lock_path))?;
    }
    Ok(OutDirLock { _lock: lock })
}

/// Removes every verdict-bearing file of the out directory, the ledger first, then the
/// attestation and any signature or envelope, then the reports; syncs the directory.
pub fn invalidate(out_dir: &Path) -> Result<(), OutDirError> {
    let mut files: Vec<PathBuf> = verdict_files()
        .iter()
        .take(2)
        .map(|name| out_dir.join(name))
        .collect();
    // Signatures and envelopes of the attestation, whatever they are called.
    let entries = std::fs::read_dir(out_dir).map_err(io_error("read", out_dir))?;
    for entry in entries {
        let entry = entry.map_err(io_error("read", out_dir))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let signed = [".dsse.json", ".sig", ".intoto.json", ".intoto.jsonl"]
            .iter()
            .any(|suffix| name.ends_with(suffix));
        if signed || name.starts_with("attestation.") {
            files.push(entry.path());
        }
    }
    files.extend(
        verdict_files()
            .iter()
            .skip(2)
            .map(|name| out_dir.join(name)),
    );
    for (index, file) in files.iter().enumerate() {
        remove(file, false)?;
        if index == 0 {
            sync_dir(out_dir)?;
        }
    }
    sync_dir(out_dir)
}

/// A new run id: UTC time to the millisecond and the process id.
pub fn new_run_id() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
        std::process::id()
    )
}

fn refuse_foreign(out_dir: &Path) -> Result<(), OutDirError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(out_dir).map_err(io_error("read", out_dir))? {
        let entry = entry.map_err(io_error("read", out_dir))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.retain(|name| name != GUARD_FILE);
    let ours = names
        .iter()
        .any(|name| name == OUT_MARKER || name == LOCK_FILE);
    if !names.is_empty() && !ours {
        return Err(OutDirError::Foreign {
            dir: out_dir.display().to_string(),
        });
    }
    Ok(())
}

fn read_owner(lock_path: &Path) -> Option<Owner> {
    let mut text = String::new();
    std::fs::File::open(lock_path)
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    serde_json::from_str(&text).ok()
}

/// Rewrites the lock file's content in place (the lock stays on the same file).
fn write_owner(lock: &FileLock, owner: &Owner) -> std::io::Result<()> {
    let mut file = lock.file();
    let json = serde_json::to_string(owner).map_err(std::io::Error::other)?;
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(json.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_data()
}

fn remove(path: &Path, dir: bool) -> Result<(), OutDirError> {
    let result = if dir {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match result {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(io_error("remove", path)(err))
        }
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), OutDirError> {
    std::fs::File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error("sync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict_set(dir: &Path) {
        for name in verdict_files() {
            std::fs::write(dir.join(name), "old").unwrap();
        }
        std::fs::write(dir.join("attestation.dsse.json"), "old").unwrap();
        std::fs::write(dir.join("attestation.sig"), "old").unwrap();
        std::fs::create_dir_all(dir.join("logs/P")).unwrap();
        std::fs::write(dir.join("logs/P/a.log"), "old").unwrap();
    }

    #[test]
    fn a_second_run_is_refused_while_the_first_holds_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "run-1", Sharing::Exclusive, Purpose::Run).unwrap();
        let err = acquire(dir.path(), "run-2", Sharing::Exclusive, Purpose::Run).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("is in use by run run-1"), "{text}");
        assert!(
            text.contains(&format!("(pid {})", std::process::id())),
            "{text}"
        );
        // Not even a process claiming the same run id joins an exclusive run.
        assert!(acquire(dir.path(), "run-1", Sharing::PerRun, Purpose::Run).is_err());
        drop(first);
        acquire(dir.path(), "run-2", Sharing::Exclusive, Purpose::Run).unwrap();
    }

    #[test]
    fn processes_of_one_nextest_run_share_and_another_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "nx-1", Sharing::PerRun, Purpose::Run).unwrap();
        std::fs::create_dir_all(dir.path().join("logs/P")).unwrap();
        std::fs::write(dir.path().join("logs/P/a.log"), "mine").unwrap();
        let second = acquire(dir.path(), "nx-1", Sharing::PerRun, Purpose::Run).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("logs/P/a.log")).unwrap(),
            "mine",
            "a joining process must not clean its own run's files"
        );
        for (run, sharing) in [("nx-2", Sharing::PerRun), ("x", Sharing::Exclusive)] {
            let err = acquire(dir.path(), run, sharing, Purpose::Run).unwrap_err();
            assert!(err.to_string().contains("in use by run nx-1"), "{err}");
        }
        drop((first, second));
        // A later process of the same run joins even when no other process is alive.
        acquire(dir.path(), "nx-1", Sharing::PerRun, Purpose::Run).unwrap();
        assert!(dir.path().join("logs/P/a.log").exists());
    }

    #[test]
    fn a_nextest_run_holds_the_directory_while_its_runner_lives() {
        let dir = tempfile::tempdir().unwrap();
        let lock_path = dir.path().join(LOCK_FILE);
        let me = Process::read(std::process::id()).expect("/proc/self/stat");
        assert!(me.alive());
        let owner = |runner| Owner {
            run_id: "nx-1".to_string(),
            pid: 1,
            ready: true,
            runner,
        };
        // No test process holds the lock, but the nextest process (here: this one) lives.
        let written = FileLock::exclusive(&lock_path).unwrap();
        write_owner(&written, &owner(Some(me))).unwrap();
        drop(written);
        let err = acquire(dir.path(), "run-2", Sharing::Exclusive, Purpose::Run).unwrap_err();
        let expected = format!("in use by run nx-1 (pid {})", me.pid);
        assert!(err.to_string().contains(&expected), "{err}");
        // Its own processes still join.
        acquire(dir.path(), "nx-1", Sharing::PerRun, Purpose::Run).unwrap();
        // Once the runner is gone (another start time: a reused pid), the run is over.
        let gone = Process {
            pid: me.pid,
            start: me.start + 1,
        };
        let written = FileLock::exclusive(&lock_path).unwrap();
        write_owner(&written, &owner(Some(gone))).unwrap();
        drop(written);
        acquire(dir.path(), "run-2", Sharing::Exclusive, Purpose::Run).unwrap();
    }

    #[test]
    fn taking_the_directory_removes_the_previous_verdict() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(OUT_MARKER), "").unwrap();
        verdict_set(dir.path());
        let _report = acquire(dir.path(), "report-1", Sharing::Exclusive, Purpose::Report).unwrap();
        for name in verdict_files() {
            assert!(!dir.path().join(name).exists(), "{name} left behind");
        }
        assert!(!dir.path().join("attestation.dsse.json").exists());
        assert!(!dir.path().join("attestation.sig").exists());
        assert!(
            dir.path().join("logs/P/a.log").exists(),
            "report keeps logs"
        );
        drop(_report);
        verdict_set(dir.path());
        let _run = acquire(dir.path(), "run-1", Sharing::Exclusive, Purpose::Run).unwrap();
        assert!(
            !dir.path().join("logs").exists(),
            "a run starts without old logs"
        );
        assert!(!dir.path().join(crate::evidence::LEDGER_FILE).exists());
    }

    #[test]
    fn a_foreign_directory_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("evidence.jsonl"), "mine").unwrap();
        let err = acquire(dir.path(), "run-1", Sharing::Exclusive, Purpose::Run).unwrap_err();
        assert!(matches!(err, OutDirError::Foreign { .. }), "{err}");
        assert!(dir.path().join("evidence.jsonl").exists());
        assert!(!dir.path().join(LOCK_FILE).exists());
    }
}
