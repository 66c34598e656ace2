//! Finding the directory that holds PostgreSQL's server binaries (`initdb` and `postgres`).

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::PgError;

/// The environment variable that names the binaries' directory explicitly.
pub const BIN_ENV: &str = "RELGATE_PG_BIN";

/// Where Debian and Ubuntu install each PostgreSQL major version (`<root>/<major>/bin`).
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// Finds the directory holding `initdb` and `postgres`.
///
/// Looks, in order, at `$RELGATE_PG_BIN`; at `initdb` on `PATH` (the directory of the real file,
/// symlinks resolved); at `pg_config --bindir`; at the highest-numbered
/// `/usr/lib/postgresql/*/bin`. A `RELGATE_PG_BIN` that does not hold the binaries is an error
/// rather than a reason to look further: an explicit setting must not be silently ignored.
pub fn find_bin_dir() -> Result<PathBuf, PgError> {
    find_bin_dir_with(std::env::var_os(BIN_ENV).as_deref())
}

/// [`find_bin_dir`] with the value of `RELGATE_PG_BIN` passed in (`None` or empty: unset), so
/// that it can be tested without touching the process environment.
pub fn find_bin_dir_with(relgate_pg_bin: Option<&OsStr>) -> Result<PathBuf, PgError> {
    if let Some(value) = relgate_pg_bin.filter(|value| !value.is_empty()) {
        let dir = PathBuf::from(value);
        return match missing_binaries(&dir) {
            None => Ok(dir),
            Some(why) => Err(PgError::BinariesNotFound {
                looked: vec![format!("{BIN_ENV}={}: {why}", dir.display())],
            }),
        };
    }

    let mut looked = Vec::new();
    match find_on_path("initdb") {
        Some(initdb) => {
            // Resolve symlinks such as /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb,
            // so that `postgres` is taken from the same installation as `initdb`.
            let real = std::fs::canonicalize(&initdb).unwrap_or_else(|_| initdb.clone());
            let mut candidates = vec![parent(&real)];
            if real != initdb {
                candidates.push(parent(&initdb));
            }
            for dir in candidates {
                match missing_binaries(&dir) {
                    None => return Ok(dir),
                    Some(why) => looked.push(format!("initdb on PATH, {}: {why}", dir.display())),
                }
            }
        }
        None => looked.push("PATH: no initdb".to_owned()),
    }

    match pg_config_bindir() {
        Some(dir) => match missing_binaries(&dir) {
            None => return Ok(dir),
            Some(why) => looked.push(format!("pg_config --bindir {}: {why}", dir.display())),
        },
        None => looked.push("pg_config: not on PATH or failed".to_owned()),
    }

    match highest_debian_bin_dir() {
        Some(dir) => return Ok(dir),
        None => looked.push(format!(
            "{DEBIAN_ROOT}/*/bin: none with initdb and postgres"
        )),
    }
    Err(PgError::BinariesNotFound { looked })
}

/// Why `dir` is not a usable binaries directory, or `None` if it is.
pub(crate) fn missing_binaries(dir: &Path) -> Option<String> {
    if !dir.is_dir() {
        return Some("not a directory".to_owned());
    }
    let missing: Vec<&str> = ["initdb", "postgres"]
        .into_iter()
        .filter(|name| !is_executable(&dir.join(name)))
        .collect();
    if missing.is_empty() {
        None
    } else {
        Some(format!("no executable {} there", missing.join(" or ")))
    }
}

fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn pg_config_bindir() -> Option<PathBuf> {
    let pg_config = find_on_path("pg_config")?;
    let output = Command::new(pg_config)
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = text.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// The `bin` directory of the highest major version under `/usr/lib/postgresql` that holds both
/// binaries. Versions compare numerically ("9.6" < "15"), not as strings.
fn highest_debian_bin_dir() -> Option<PathBuf> {
    let entries = std::fs::read_dir(DEBIAN_ROOT).ok()?;
    let mut versions: Vec<(Vec<u64>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name
                .split('.')
                .map(|part| part.parse::<u64>().ok())
                .collect::<Option<Vec<u64>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| missing_binaries(dir).is_none())
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}
