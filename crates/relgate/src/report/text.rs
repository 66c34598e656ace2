//! What the reports quote from the out directory besides the ledger: the end of a log. One
//! reader for every writer (JUnit's failure text, the HTML page's excerpts), each with its own
//! limit, and one confinement: a log path the evidence names is read only through
//! [`crate::output::containment::resolve`], so a forged record cannot pull `../../etc/passwd` or a
//! symlink out of the out directory into a published report.

use std::io;
use std::path::Path;

/// The end of a log, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTail {
    /// The last bytes of the log (at most the limit asked for).
    pub bytes: Vec<u8>,
    /// The size of the whole log.
    pub size: u64,
    /// Where `bytes` start in the log: 0 when the whole log was read.
    pub start: u64,
}

/// Why a log's tail cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    /// The path is not a plain relative path inside the out directory, or leads out of it.
    #[error(transparent)]
    Outside(#[from] crate::output::containment::PathError),
    /// The log cannot be read (missing, a directory, no permission).
    #[error(transparent)]
    Unreadable(#[from] io::Error),
}

/// The last `max_bytes` bytes of the log `log` (a path relative to `out_dir`, as the ledger
/// names it).
pub fn read_log_tail(out_dir: &Path, log: &str, max_bytes: usize) -> Result<LogTail, TailError> {
    let path = crate::output::containment::resolve(out_dir, log).map_err(TailError::Outside)?;
    let size = std::fs::metadata(&path)?.len();
    let bytes = crate::output::tail::read_tail(&path, max_bytes)?;
    let start = size.saturating_sub(u64::try_from(max_bytes).unwrap_or(u64::MAX));
    Ok(LogTail { bytes, size, start })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_bytes_and_stays_inside() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join("logs")).unwrap();
        std::fs::write(out.join("logs/a.log"), "0123456789").unwrap();
        std::fs::write(dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), out.join("logs/out.log")).unwrap();

        let tail = read_log_tail(&out, "logs/a.log", 4).unwrap();
        assert_eq!(
            (tail.bytes.as_slice(), tail.size, tail.start),
            (&b"6789"[..], 10, 6)
        );
        let whole = read_log_tail(&out, "logs/a.log", 100).unwrap();
        assert_eq!((whole.bytes.len(), whole.start), (10, 0));
        for outside in ["../secret", "logs/out.log", "/etc/passwd", ""] {
            assert!(
                matches!(
                    read_log_tail(&out, outside, 100),
                    Err(TailError::Outside(_))
                ),
                "{outside}"
            );
        }
        assert!(matches!(
            read_log_tail(&out, "logs/missing.log", 100),
            Err(TailError::Unreadable(_))
        ));
    }
}
