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

/// Opens `path` for reading only if it is a regular file: never through a final symlink, and
/// without blocking on a FIFO or a device (a forged out directory could put one where a log or
/// the ledger belongs, and a plain open or read would hang, or never end on `/dev/zero`). The
/// check is on the opened file, so it cannot be swapped between the check and the read.
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|err| match err.raw_os_error() {
            Some(libc::ELOOP) => not_regular(path),
            _ => err,
        })?;
    if !file.metadata()?.file_type().is_file() {
        return Err(not_regular(path));
    }
    Ok(file)
}

/// The bytes of `path`, if it is a regular file ([`open_regular`]).
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    open_regular(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The deepest part of `path` that exists: `path` itself, or its nearest existing ancestor
/// (a dangling symlink counts as not existing).
pub fn existing_part(path: &Path) -> Option<&Path> {
    path.ancestors().find(|ancestor| ancestor.exists())
}

/// `path` made absolute with every symlink of its existing part resolved, the rest (not yet
/// created) as given: `link/new` is seen where it will be, to compare with another real path.
pub fn real_path(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let Some(existing) = existing_part(&path) else {
        return path;
    };
    let Ok(real) = std::fs::canonicalize(existing) else {
        return path;
    };
    match path.strip_prefix(existing) {
        Ok(rest) if !rest.as_os_str().is_empty() => real.join(rest),
        _ => real,
    }
}

fn not_regular(path: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "{} is not a regular file (a symlink, FIFO, device or directory): relgate writes its evidence as files",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_open_never_a_fifo_device_symlink_or_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.log");
        std::fs::write(&file, "a").unwrap();
        assert_eq!(read_regular(&file).unwrap(), b"a");
        let fifo = dir.path().join("fifo.log");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        std::os::unix::fs::symlink(&file, dir.path().join("link.log")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.log")).unwrap();
        for name in ["fifo.log", "link.log", "zero.log", ""] {
            let err = read_regular(&dir.path().join(name)).unwrap_err();
            assert!(
                err.to_string().contains("not a regular file"),
                "{name}: {err}"
            );
        }
        assert!(read_regular(&dir.path().join("missing.log")).is_err());
    }

    #[test]
    fn a_real_path_resolves_the_existing_part_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("target")).unwrap();
        std::os::unix::fs::symlink(root.join("target"), root.join("link")).unwrap();
        assert_eq!(
            real_path(&root.join("link/new/out")),
            root.join("target/new/out")
        );
        assert_eq!(real_path(&root.join("link")), root.join("target"));
        assert_eq!(
            existing_part(&root.join("link/new/out")),
            Some(root.join("link").as_path())
        );
        // A dangling symlink is not followed: it is part of what does not exist yet.
        std::os::unix::fs::symlink(root.join("gone"), root.join("dangling")).unwrap();
        assert_eq!(real_path(&root.join("dangling/x")), root.join("dangling/x"));
    }

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
