//! The code a review is bound to: the digest of a commit's tree as `git ls-tree -r` lists it
//! (mode, type, object id and path of every file), with the approvals directory left out — so
//! committing an approval does not make it stale — and only when the working tree has no
//! change outside that directory (what ran, or what was reviewed, is then the commit).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::model::digest::sha256_hex;

/// The state of the repository holding `dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeState {
    /// A clean checkout of `commit`, whose code digest is `digest`.
    Clean {
        /// `git rev-parse HEAD`.
        commit: String,
        /// [`code_digest`].
        digest: String,
    },
    /// `commit` with changes outside the approvals directory: not a commit's code.
    Dirty {
        /// `git rev-parse HEAD`.
        commit: String,
    },
    /// Not a git repository (or git is missing).
    NoRepository,
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The state of the repository holding `dir`, leaving out `approvals` (a directory, absolute or
/// relative to `dir`).
pub fn code_state(dir: &Path, approvals: &Path) -> CodeState {
    let Some(commit) = git(dir, &["rev-parse", "HEAD"]).map(|head| head.trim().to_string()) else {
        return CodeState::NoRepository;
    };
    let Some(top) = git(dir, &["rev-parse", "--show-toplevel"]).map(|top| top.trim().to_string())
    else {
        return CodeState::NoRepository;
    };
    let approvals =
        std::path::absolute(dir.join(approvals)).unwrap_or_else(|_| dir.join(approvals));
    let top = std::path::absolute(&top).unwrap_or_else(|_| top.clone().into());
    let excluded = approvals
        .strip_prefix(&top)
        .ok()
        .map(|relative| relative.display().to_string().replace('\\', "/"))
        .filter(|relative| !relative.is_empty());
    let exclude = excluded
        .as_ref()
        .map(|relative| format!(":(top,exclude){relative}"));
    let mut status = vec!["status", "--porcelain", "--", ":(top)"];
    if let Some(exclude) = &exclude {
        status.push(exclude);
    }
    let Some(changes) = git(dir, &status) else {
        return CodeState::NoRepository;
    };
    if !changes.trim().is_empty() {
        return CodeState::Dirty { commit };
    }
    let Some(listing) = git(dir, &["ls-tree", "-r", "--full-tree", &commit]) else {
        return CodeState::NoRepository;
    };
    CodeState::Clean {
        digest: code_digest(&listing, excluded.as_deref()),
        commit,
    }
}

/// The digest of a `git ls-tree -r` listing, without the entries under `excluded` (a path
/// relative to the repository's top).
pub fn code_digest(listing: &str, excluded: Option<&str>) -> String {
    let kept: Vec<&str> = listing
        .lines()
        .filter(|line| {
            let path = line.split_once('\t').map_or("", |(_, path)| path);
            excluded.is_none_or(|dir| path != dir && !path.starts_with(&format!("{dir}/")))
        })
        .collect();
    sha256_hex(kept.join("\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, script: &str) {
        let status = Command::new("sh")
            .args(["-c", script])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{script}");
    }

    #[test]
    fn approvals_never_change_the_code_and_everything_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        sh(
            root,
            "git init -q . && git config user.email t@example.com && git config user.name t \
             && echo one > a.rs && git add . && git commit -qm one",
        );
        let approvals = Path::new(".relgate/approvals");
        let CodeState::Clean { digest, commit } = code_state(root, approvals) else {
            panic!("a clean checkout");
        };
        // An approval written, then committed: the same code.
        sh(
            root,
            "mkdir -p .relgate/approvals/A && echo x > .relgate/approvals/A/r.json",
        );
        assert!(
            matches!(code_state(root, approvals), CodeState::Clean { digest: d, .. } if d == digest)
        );
        sh(root, "git add . && git commit -qm approve");
        let CodeState::Clean {
            digest: after,
            commit: next,
        } = code_state(root, approvals)
        else {
            panic!("clean");
        };
        assert_eq!(after, digest);
        assert_ne!(next, commit);
        // A change to the code, uncommitted then committed.
        sh(root, "echo two > a.rs");
        assert!(matches!(
            code_state(root, approvals),
            CodeState::Dirty { .. }
        ));
        sh(root, "git commit -qam two");
        assert!(
            matches!(code_state(root, approvals), CodeState::Clean { digest: d, .. } if d != digest)
        );
        // An untracked file outside the approvals is a change too.
        sh(root, "echo new > b.rs");
        assert!(matches!(
            code_state(root, approvals),
            CodeState::Dirty { .. }
        ));
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(
            code_state(outside.path(), approvals),
            CodeState::NoRepository
        );
    }
}
