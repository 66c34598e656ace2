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

/// `out_dir/name`, when `name` is a relative path of plain components (no `..`, no `.`, not
/// absolute) and, if it exists, does not lead outside `out_dir` through a symlink.
pub fn resolve(out_dir: &Path, name: &str) -> Result<PathBuf, String> {
    if !is_plain_relative(name) {
        return Err(format!(
            "path {name:?} is not a plain relative path inside the out directory"
        ));
    }
    let path = out_dir.join(name);
    if std::fs::symlink_metadata(&path).is_err() {
        // Missing: the caller's read reports it; nothing outside is read.
        return Ok(path);
    }
    let root = out_dir
        .canonicalize()
        .map_err(|err| format!("cannot resolve the out directory: {err}"))?;
    let real = path
        .canonicalize()
        .map_err(|err| format!("cannot resolve {name}: {err}"))?;
    if !real.starts_with(&root) {
        return Err(format!(
            "path {name} leads outside the out directory (to {}) through a symlink",
            real.display()
        ));
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
        assert!(err.contains("through a symlink"), "{err}");
    }
}
