//! Paths named by the evidence stay inside the out directory: `verify` reads a file the ledger
//! or the attestation names only through [`resolve`], so a forged record cannot make it read
//! (and report on) `../../etc/hostname` or follow a symlink out.

use std::path::{Component, Path, PathBuf};

/// Whether `name` is a non-empty relative path of plain components (no `..`, no `.`, not
/// absolute): the check on the text alone, for a link; [`resolve`] adds the symlink check for a
/// read.
pub fn is_plain_relative(name: &str) -> bool {
    !name.is_empty()
        && Path::new(name)
            .components()
            .all(|part| matches!(part, Component::Normal(_)))
}

/// Why a path the evidence names is not read.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// Absolute, empty, or with `.` or `..` components.
    #[error("path {0:?} is not a plain relative path inside the out directory")]
    NotPlain(String),
    /// The out directory itself cannot be resolved.
    #[error("cannot resolve the out directory: {0}")]
    OutDir(#[source] std::io::Error),
    /// The path exists but cannot be resolved (a dangling or looping symlink…).
    #[error("cannot resolve {name}: {source}")]
    Resolve {
        /// The path as the evidence names it.
        name: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A symlink leads out of the out directory.
    #[error("path {name} leads outside the out directory (to {}) through a symlink", real.display())]
    Outside {
        /// The path as the evidence names it.
        name: String,
        /// Where it leads.
        real: PathBuf,
    },
}

/// `out_dir/name`, when `name` is a relative path of plain components (no `..`, no `.`, not
/// absolute) and, if it exists, does not lead outside `out_dir` through a symlink.
pub fn resolve(out_dir: &Path, name: &str) -> Result<PathBuf, PathError> {
    if !is_plain_relative(name) {
        return Err(PathError::NotPlain(name.to_string()));
    }
    let path = out_dir.join(name);
    if std::fs::symlink_metadata(&path).is_err() {
        // Missing: the caller's read reports it; nothing outside is read.
        return Ok(path);
    }
    let root = out_dir.canonicalize().map_err(PathError::OutDir)?;
    let real = path.canonicalize().map_err(|source| PathError::Resolve {
        name: name.to_string(),
        source,
    })?;
    if !real.starts_with(&root) {
        return Err(PathError::Outside {
            name: name.to_string(),
            real,
        });
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_inside_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join("logs")).unwrap();
        std::fs::write(out.join("logs/a.log"), "a").unwrap();
        std::fs::write(dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), out.join("logs/out.log")).unwrap();
        std::os::unix::fs::symlink("a.log", out.join("logs/in.log")).unwrap();
        assert_eq!(resolve(&out, "logs/a.log").unwrap(), out.join("logs/a.log"));
        assert!(resolve(&out, "logs/in.log").is_ok());
        assert!(resolve(&out, "logs/missing.log").is_ok());
        for bad in [
            "../secret",
            "logs/../../secret",
            "/etc/hostname",
            "./logs/a.log",
            "",
        ] {
            assert!(resolve(&out, bad).is_err(), "{bad}");
        }
        let err = resolve(&out, "logs/out.log").unwrap_err();
        assert!(matches!(err, PathError::Outside { .. }), "{err:?}");
        assert!(err.to_string().contains("through a symlink"), "{err}");
    }
}
