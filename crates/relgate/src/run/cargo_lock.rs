//! Cargo inside cargo: keeping a check that runs cargo from waiting forever on a build lock.
//!
//! Cargo takes an exclusive lock on its build directory (`target/<profile>/.cargo-lock`) while
//! it builds. A cargo that launched the gate and still holds that lock (some versions keep it
//! while test binaries run) would make a check's own `cargo build` in the same workspace wait
//! until its timeout. Before such a check runs, the gate probes the lock without blocking; when
//! another process holds it, the check gets its own `CARGO_TARGET_DIR` and the evidence says so.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Whether a command line invokes cargo.
pub fn invokes_cargo(argv: &[String]) -> bool {
    argv.iter().any(|arg| {
        arg.split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')'))
            .any(|word| word == "cargo" || word.ends_with("/cargo"))
    })
}

/// The target directory cargo would use when started in `cwd` with `env` added.
pub fn target_dir(cwd: &Path, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    if let Some(dir) = env.get("CARGO_TARGET_DIR") {
        return Some(cwd.join(dir));
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(cwd.join(dir));
    }
    // The workspace root is the outermost ancestor with a Cargo.toml declaring [workspace];
    // without one, the nearest Cargo.toml.
    let mut nearest = None;
    let mut workspace = None;
    for dir in cwd.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            nearest.get_or_insert_with(|| dir.to_path_buf());
            if text.lines().any(|line| line.trim() == "[workspace]") {
                workspace = Some(dir.to_path_buf());
            }
        }
    }
    workspace.or(nearest).map(|root| root.join("target"))
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

    #[test]
    fn finds_the_workspace_target() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[workspace]\nmembers = [\"a\"]\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("a/src")).unwrap();
        std::fs::write(dir.path().join("a/Cargo.toml"), "[package]\nname = \"a\"\n").unwrap();
        let env = BTreeMap::new();
        if std::env::var_os("CARGO_TARGET_DIR").is_none() {
            assert_eq!(
                target_dir(&dir.path().join("a/src"), &env),
                Some(dir.path().join("target"))
            );
        }
        let mut env = BTreeMap::new();
        env.insert("CARGO_TARGET_DIR".to_string(), "/tmp/elsewhere".to_string());
        assert_eq!(
            target_dir(dir.path(), &env),
            Some(PathBuf::from("/tmp/elsewhere"))
        );
    }
}
