//! Advisory whole-file locks (`flock(2)`), released when the [`FileLock`] is dropped or the
//! process dies — a killed holder never leaves a lock behind.
//!
//! Used for the out directory's run lock ([`crate::run::outdir`]), the evidence journal
//! ([`crate::evidence::fragment`], which keeps its file open and locks it per record through
//! [`open_lock_file`] and [`Locked`]) and the claims of checks under nextest ([`crate::run::nextest`]). The
//! descriptors are close-on-exec, so a check's command never inherits a lock.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A held lock on an open file.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Waits for an exclusive lock on `path` (created if missing).
    pub fn exclusive(path: &Path) -> io::Result<FileLock> {
        let file = open(path)?;
        flock(&file, libc::LOCK_EX)?;
        Ok(FileLock { file })
    }

    /// An exclusive lock on `path` if nobody holds any lock on it now.
    pub fn try_exclusive(path: &Path) -> io::Result<Option<FileLock>> {
        let file = open(path)?;
        try_flock(file, libc::LOCK_EX)
    }

    /// A shared lock on `path` if nobody holds an exclusive lock on it now.
    pub fn try_shared(path: &Path) -> io::Result<Option<FileLock>> {
        let file = open(path)?;
        try_flock(file, libc::LOCK_SH)
    }

    /// Turns an exclusive lock into a shared one. Not atomic (flock(2) drops the lock first):
    /// callers hold another lock that keeps competitors out meanwhile.
    pub fn downgrade(&self) -> io::Result<()> {
        flock(&self.file, libc::LOCK_SH)
    }

    /// The locked file.
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// Opens (creating) a lock file the way [`FileLock`] does, for a caller that keeps it open and
/// locks it repeatedly through [`Locked`].
pub fn open_lock_file(path: &Path) -> io::Result<File> {
    open(path)
}

/// An exclusive lock on an open file, released when dropped (the file stays open).
pub struct Locked<'a>(&'a File);

impl<'a> Locked<'a> {
    /// Waits for an exclusive lock on `file`.
    pub fn exclusive(file: &'a File) -> io::Result<Locked<'a>> {
        flock(file, libc::LOCK_EX)?;
        Ok(Locked(file))
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = flock(self.0, libc::LOCK_UN);
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        // A symlink planted as a lock file (a committed `target/gate/.relgate-lock` -> some
        // file) must not make relgate write through it.
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn try_flock(file: File, operation: libc::c_int) -> io::Result<Option<FileLock>> {
    match flock(&file, operation | libc::LOCK_NB) {
        Ok(()) => Ok(Some(FileLock { file })),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_and_shared_shares_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = FileLock::exclusive(&path).unwrap();
        assert!(FileLock::try_exclusive(&path).unwrap().is_none());
        assert!(FileLock::try_shared(&path).unwrap().is_none());
        held.downgrade().unwrap();
        let other = FileLock::try_shared(&path).unwrap();
        assert!(other.is_some(), "shared locks coexist");
        assert!(FileLock::try_exclusive(&path).unwrap().is_none());
        drop(held);
        drop(other);
        assert!(FileLock::try_exclusive(&path).unwrap().is_some());
    }
}
