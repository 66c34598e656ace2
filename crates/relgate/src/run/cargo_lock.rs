//! Cargo inside cargo: keeping a check that runs cargo from waiting forever on a build lock.
//!
//! Cargo takes an exclusive lock on its build directory (`target/<profile>/.cargo-lock`) while
//! it builds. A cargo that launched the gate and still holds that lock (some versions keep it
//! while test binaries run) would make a check's own `cargo build` in the same workspace wait
//! until its timeout. Before such a check runs, the gate probes the lock without blocking; when
//! another process holds it, the check gets its own `CARGO_TARGET_DIR` and the evidence says so —
//! unless another cargo check of the same run is building there: then the lock is that check's,
//! and this one waits for it as cargo would (no second build from nothing).

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Whether a command line invokes cargo.
pub fn invokes_cargo(argv: &[String]) -> bool {
    argv.iter().any(|arg| {
        arg.split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')'))
            .any(|word| word == "cargo" || word.ends_with("/cargo"))
    })
}

/// The target directory cargo would use when started in `cwd` with `env` added: the check's
/// own `CARGO_TARGET_DIR` first (it wins over everything, as in cargo), then cargo's own answer
/// (`cargo metadata`, which sees the process environment, `.cargo/config.toml`
/// `build.target-dir` and nested workspaces). `None` outside any Cargo project.
pub fn target_dir(cwd: &Path, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    if let Some(dir) = env.get("CARGO_TARGET_DIR") {
        return Some(cwd.join(dir));
    }
    crate::cargo_project::load(cwd, env)
        .ok()
        .map(|project| project.target_directory.clone())
}

/// Target directories cargo checks of this process are running in, with how many.
static RUNNING: Mutex<BTreeMap<PathBuf, usize>> = Mutex::new(BTreeMap::new());

fn running() -> std::sync::MutexGuard<'static, BTreeMap<PathBuf, usize>> {
    RUNNING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A cargo check of this run, counted in the target directory it builds in while it lives.
#[derive(Debug)]
pub struct Running {
    target: PathBuf,
}

impl Running {
    /// Counts a check running cargo in `target` until the returned value drops.
    pub fn enter(target: PathBuf) -> Running {
        *running().entry(target.clone()).or_insert(0) += 1;
        Running { target }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut running = running();
        if let Some(count) = running.get_mut(&self.target) {
            *count -= 1;
            if *count == 0 {
                running.remove(&self.target);
            }
        }
    }
}

/// Whether another cargo check of this process runs in `target` now. A lock held then is most
/// likely that check's, released when it ends: waiting for it, as cargo does, is right, and a
/// second build from nothing in another target directory is not. (A lock held by the cargo that
/// started the gate was already held when the first of them started, which isolated that one.)
pub fn sibling_running(target: &Path) -> bool {
    running().contains_key(target)
}

/// Lock files under `target` that another process holds right now.
pub fn held_locks(target: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(target) else {
        return Vec::new();
    };
    let mut held = Vec::new();
    for entry in entries.flatten() {
        let lock = entry.path().join(".cargo-lock");
        let Ok(file) = std::fs::OpenOptions::new().read(true).open(&lock) else {
            continue;
        };
        // SAFETY: flock on a file descriptor we own; the lock is released when `file` drops.
        let status = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
        if status != 0 {
            held.push(lock);
        }
    }
    held.sort();
    held
}

/// Whether isolation is switched off (`RELGATE_CARGO_ISOLATION=off`), to reproduce the wait.
pub fn isolation_disabled() -> bool {
    std::env::var("RELGATE_CARGO_ISOLATION").is_ok_and(|value| value == "off" || value == "0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cargo_project::testing::{package, write};

    #[test]
    fn recognises_cargo_invocations() {
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert!(invokes_cargo(&argv(&["cargo", "build"])));
        assert!(invokes_cargo(&argv(&[
            "sh",
            "-c",
            "cd x && cargo test -p y"
        ])));
        assert!(invokes_cargo(&argv(&["/usr/local/bin/cargo", "clippy"])));
        assert!(!invokes_cargo(&argv(&["sh", "-c", "echo cargo-like"])));
        assert!(!invokes_cargo(&argv(&["go", "build", "./..."])));
    }

    #[test]
    fn running_checks_are_counted_per_target_until_they_end() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        assert!(!sibling_running(&target));
        let first = Running::enter(target.clone());
        let second = Running::enter(target.clone());
        assert!(sibling_running(&target));
        assert!(!sibling_running(&target.join("relgate-isolated")));
        drop(first);
        assert!(sibling_running(&target));
        drop(second);
        assert!(!sibling_running(&target));
    }

    #[test]
    fn detects_a_held_lock() {
        let dir = tempfile::tempdir().unwrap();
        let debug = dir.path().join("debug");
        std::fs::create_dir_all(&debug).unwrap();
        let lock_path = debug.join(".cargo-lock");
        let holder = std::fs::File::create(&lock_path).unwrap();
        assert!(held_locks(dir.path()).is_empty());
        // SAFETY: flock on our own descriptor.
        assert_eq!(unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_EX) }, 0);
        assert_eq!(held_locks(dir.path()), vec![lock_path]);
        drop(holder);
        // Other tests in this process fork children; a child between fork and exec still holds a
        // copy of our descriptor, and with it the lock, for a moment. Wait that moment out.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !held_locks(dir.path()).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the lock stayed held after its holder closed it"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// What cargo uses when no config names a directory: the process's `CARGO_TARGET_DIR`
    /// (relative to where cargo starts), else `target/` of the workspace root.
    fn unconfigured(cwd: &Path, root: &Path) -> PathBuf {
        match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => std::path::absolute(cwd.join(dir)).unwrap(),
            None => root.join("target"),
        }
    }

    #[test]
    fn finds_the_workspace_target() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write(
            &root.join("Cargo.toml"),
            "[workspace]\nresolver = \"2\"\nmembers = [\"a\"]\n",
        );
        package(&root.join("a"), "a");
        let env = BTreeMap::new();
        let cwd = root.join("a/src");
        assert_eq!(target_dir(&cwd, &env), Some(unconfigured(&cwd, &root)));
        let mut env = BTreeMap::new();
        env.insert("CARGO_TARGET_DIR".to_string(), "/tmp/elsewhere".to_string());
        assert_eq!(
            target_dir(&root, &env),
            Some(PathBuf::from("/tmp/elsewhere"))
        );
        // Outside any Cargo project there is no build lock to wait on.
        let bare = tempfile::tempdir().unwrap();
        assert_eq!(target_dir(bare.path(), &BTreeMap::new()), None);
    }

    #[test]
    fn honours_build_target_dir_of_cargo_config() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        package(&root, "configured");
        write(
            &root.join(".cargo/config.toml"),
            "[build]\ntarget-dir = \"build-output\"\n",
        );
        // The environment wins over the config file, as in cargo.
        let cwd = root.join("src");
        let expected = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => std::path::absolute(cwd.join(dir)).unwrap(),
            None => root.join("build-output"),
        };
        assert_eq!(target_dir(&cwd, &BTreeMap::new()), Some(expected));
        // A check's own CARGO_BUILD_TARGET_DIR reaches cargo too.
        let env = BTreeMap::from([(
            "CARGO_BUILD_TARGET_DIR".to_string(),
            root.join("from-env").display().to_string(),
        )]);
        if std::env::var_os("CARGO_TARGET_DIR").is_none() {
            assert_eq!(target_dir(&root, &env), Some(root.join("from-env")));
        }
    }

    #[test]
    fn a_nested_workspace_has_its_own_target() {
        // The outer workspace excludes the inner one, which is a workspace of its own: cargo
        // builds it into inner/target (the old text search took the outermost [workspace]).
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write(
            &root.join("Cargo.toml"),
            "[workspace]\nresolver = \"2\"\nmembers = [\"outer\"]\nexclude = [\"inner\"]\n",
        );
        package(&root.join("outer"), "outer");
        let inner = root.join("inner");
        write(
            &inner.join("Cargo.toml"),
            "[workspace]\nresolver = \"2\"\nmembers = [\"member\"]\n",
        );
        package(&inner.join("member"), "member");
        let cwd = inner.join("member");
        assert_eq!(
            target_dir(&cwd, &BTreeMap::new()),
            Some(unconfigured(&cwd, &inner))
        );
        let cwd = root.join("outer");
        assert_eq!(
            target_dir(&cwd, &BTreeMap::new()),
            Some(unconfigured(&cwd, &root))
        );
    }
}
