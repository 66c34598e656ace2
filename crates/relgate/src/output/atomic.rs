//! Atomic file writes: a temp file in the destination directory, then a rename.
//!
//! Readers never see a half-written report or ledger: either the old file or the new one.
//!
//! Durability (fsync) can be batched: while a [`Deferred`] is alive, the writes of this
//! process (atomic files, logs, the evidence journal) skip their fsyncs, and [`Deferred::sync`]
//! makes them all durable with one `syncfs(2)`. A run defers while its checks run and syncs
//! before it writes the ledger, so per-check cost is not a handful of disk flushes, and the
//! ledger never names evidence that a power loss could take away. A killed process loses
//! nothing either way: what it wrote is in the page cache.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many [`Deferred`] guards are alive.
static DEFERRED: AtomicUsize = AtomicUsize::new(0);

/// While alive, fsyncs through [`sync_file`] and [`sync_dir`] are deferred; see the module
/// documentation.
#[must_use = "dropping the guard ends the deferral without syncing"]
pub struct Deferred {
    dir: PathBuf,
}

/// Defers the fsyncs of this process until [`Deferred::sync`] syncs the file system of `dir`.
pub fn defer(dir: &Path) -> Deferred {
    DEFERRED.fetch_add(1, Ordering::SeqCst);
    Deferred {
        dir: dir.to_path_buf(),
    }
}

impl Deferred {
    /// Ends the deferral and makes everything written so far on `dir`'s file system durable.
    pub fn sync(self) -> std::io::Result<()> {
        let dir = std::fs::File::open(&self.dir)?;
        // SAFETY: syncfs takes a descriptor we own for the duration of the call.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        DEFERRED.fetch_sub(1, Ordering::SeqCst);
    }
}

fn deferred() -> bool {
    DEFERRED.load(Ordering::SeqCst) > 0
}

/// `file.sync_all()`, unless fsyncs are deferred.
pub fn sync_file(file: &std::fs::File) -> std::io::Result<()> {
    if deferred() {
        return Ok(());
    }
    file.sync_all()
}

/// `file.sync_data()`, unless fsyncs are deferred.
pub fn sync_data(file: &std::fs::File) -> std::io::Result<()> {
    if deferred() {
        return Ok(());
    }
    file.sync_data()
}

/// Makes a rename or a new entry in `dir` durable, unless fsyncs are deferred.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    if deferred() {
        return Ok(());
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` atomically, creating parent directories as needed.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".relgate-")
        .suffix(".tmp")
        // Reports are read by CI tooling running as other users: rw-r--r-- (less the umask),
        // not the 0600 of a temp file.
        .permissions(std::fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    sync_file(temp.as_file())?;
    temp.persist(path).map_err(|err| err.error)?;
    // Make the rename itself durable.
    sync_dir(dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_whole_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/report.xml");
        write(&path, b"first").unwrap();
        write(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.xml"]);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o044,
            0o044,
            "readable by group and others: {mode:o}"
        );
    }
}
