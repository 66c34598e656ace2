//! Running the server as the `postgres` OS user when we are root, since PostgreSQL refuses to
//! run as root.

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::error::PgError;

/// The OS user the server runs as when we are root.
#[derive(Clone, Debug)]
pub(crate) struct RunAs {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// Primary and supplementary groups, for the traversal check.
    groups: Vec<u32>,
}

impl RunAs {
    /// `None` when not root (the server runs as ourselves); the `postgres` user when root.
    pub(crate) fn detect() -> Result<Option<RunAs>, PgError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(None);
        }
        lookup_user("postgres").map(Some)
    }

    /// Makes `command` run as this user. std drops supplementary groups when root sets a uid.
    pub(crate) fn apply(&self, command: &mut Command) {
        command.uid(self.uid).gid(self.gid);
    }

    /// Gives `path` (not recursively) to this user.
    pub(crate) fn chown(&self, path: &Path) -> Result<(), PgError> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).map_err(|source| {
            PgError::io(
                format!("could not give {} to the postgres user", path.display()),
                source,
            )
        })
    }

    /// Checks that this user may traverse every ancestor of `dir` (search permission), so the
    /// server can reach its data directory. ACLs are not consulted; mode bits decide.
    pub(crate) fn check_traversable(&self, dir: &Path) -> Result<(), PgError> {
        for ancestor in dir.ancestors().skip(1) {
            let meta = std::fs::metadata(ancestor).map_err(|source| {
                PgError::io(format!("could not stat {}", ancestor.display()), source)
            })?;
            let mode = meta.mode();
            let allowed = if meta.uid() == self.uid {
                mode & 0o100 != 0
            } else if self.groups.contains(&meta.gid()) {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !allowed {
                return Err(PgError::NotTraversable {
                    path: ancestor.to_path_buf(),
                    uid: self.uid,
                });
            }
        }
        Ok(())
    }
}

fn lookup_user(name: &str) -> Result<RunAs, PgError> {
    let c_name = CString::new(name).expect("user name has no NUL");
    let mut passwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and the buffer outlives it; getpwnam_r is the
    // thread-safe variant, which matters because tests start clusters from many threads.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut passwd,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    if rc != 0 {
        return Err(PgError::io(
            format!("could not look up the `{name}` OS user"),
            std::io::Error::from_raw_os_error(rc),
        ));
    }
    if result.is_null() {
        return Err(PgError::NoPostgresUser);
    }
    let (uid, gid) = (passwd.pw_uid, passwd.pw_gid);
    Ok(RunAs {
        uid,
        gid,
        groups: group_list(&c_name, gid),
    })
}

/// The user's groups (primary included); just the primary group if the lookup fails.
fn group_list(name: &CString, gid: u32) -> Vec<u32> {
    let mut count: libc::c_int = 64;
    loop {
        let mut groups = vec![0 as libc::gid_t; usize::try_from(count).unwrap_or(64)];
        let capacity = count;
        // SAFETY: `groups` holds `count` entries; getgrouplist writes at most that many and
        // updates `count` to the number needed when it is too small.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        if rc >= 0 {
            groups.truncate(usize::try_from(count).unwrap_or(0));
            return groups;
        }
        if count <= capacity || count > 65_536 {
            return vec![gid];
        }
    }
}
