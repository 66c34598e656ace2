//! Log excerpts: the tail of each log of the out directory, made printable and redacted, and
//! links to the files of the out directory.

use std::path::Path;

use crate::report::text::{read_log_tail, TailError};

use super::{code, escape};

/// At most this many lines of a log are shown.
const TAIL_LINES: usize = 40;
/// At most this many bytes of a log are read.
const TAIL_BYTES: usize = 8 * 1024;

/// The last lines of a log in a `<details>`, open for failures; a log that cannot be read is
/// said to be unreadable, in the open.
pub(super) fn tail(out: &mut String, out_dir: &Path, log: &str, recorded_bytes: u64, open: bool) {
    labelled_tail(out, out_dir, log, recorded_bytes, open, "Output");
}

/// [`tail`] under its own label (`Output of attempt 1`).
pub(super) fn labelled_tail(
    out: &mut String,
    out_dir: &Path,
    log: &str,
    recorded_bytes: u64,
    open: bool,
    label: &str,
) {
    match read_tail(out_dir, log) {
        Err(err) => {
            let why = match err {
                TailError::Outside(why) => why.to_string(),
                TailError::Unreadable(err) => format!("cannot read {log}: {err}"),
            };
            out.push_str(&format!(
                "<p class=\"unreadable\">Output tail unavailable: {}</p>\n",
                escape(&why)
            ));
        }
        Ok(tail) => {
            let shown = if tail.cut {
                format!(
                    "last {} lines of {} bytes",
                    tail.text.lines().count(),
                    tail.size
                )
            } else if tail.size == 0 {
                "empty".to_string()
            } else {
                format!("all {} bytes", tail.size)
            };
            if tail.size != recorded_bytes {
                out.push_str(&format!(
                    "<p class=\"unreadable\">The log is {} bytes now; the ledger recorded {} \
                     bytes: it changed after the run (<code>cargo xtask gate verify</code> \
                     names the difference).</p>\n",
                    tail.size, recorded_bytes
                ));
            }
            out.push_str(&format!(
                "<details class=\"output\"{}><summary>{} ({shown})</summary>\
                 <pre class=\"tail\">{}</pre></details>\n",
                if open { " open" } else { "" },
                escape(label),
                escape(&tail.text)
            ));
        }
    }
}

/// The end of a log, redacted.
pub(super) struct Tail {
    text: String,
    /// Whether lines before the shown ones were left out.
    cut: bool,
    /// Size of the whole log.
    size: u64,
}

/// The last [`TAIL_LINES`] lines of the log (at most [`TAIL_BYTES`] bytes, a partial first
/// line dropped), or why they cannot be shown.
fn read_tail(out_dir: &Path, log: &str) -> Result<Tail, TailError> {
    // The one reader and confinement of the reports ([`crate::report::text`]).
    let tail = read_log_tail(out_dir, log, TAIL_BYTES)?;
    let (bytes, start, size) = (tail.bytes, tail.start, tail.size);
    let mut kept: &[u8] = &bytes;
    if start > 0 {
        if let Some(newline) = kept.iter().position(|byte| *byte == b'\n') {
            kept = &kept[newline + 1..];
        }
    }
    let text = printable(&String::from_utf8_lossy(kept));
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let skipped = lines.len().saturating_sub(TAIL_LINES);
    let text = lines[skipped..].concat();
    Ok(Tail {
        text: crate::output::redaction::redact(&text).into_owned(),
        cut: start > 0 || skipped > 0,
        size,
    })
}

/// Terminal output made readable as text: colour sequences dropped, carriage returns as line
/// ends, other control characters as `�`.
pub(super) fn printable(text: &str) -> String {
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                // A CSI sequence ends with a byte in @..~.
                for next in chars.by_ref() {
                    if ('@'..='~').contains(&next) {
                        break;
                    }
                }
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => clean.push('\n'),
            '\n' | '\t' => clean.push(c),
            c if c.is_control() => clean.push('\u{fffd}'),
            c => clean.push(c),
        }
    }
    clean
}

/// `logs/x.log` (linked) `12 bytes, sha256 ab…`.
pub(super) fn log_ref(log: &str, bytes: u64, sha256: Option<&str>) -> String {
    format!(
        "{} ({bytes} bytes, sha256 {})",
        file_link(log),
        code(sha256.unwrap_or("unknown"))
    )
}

/// A link to a file of the out directory, relative to the page (which lives there too).
pub(super) fn file_link(path: &str) -> String {
    let inside = crate::output::containment::is_plain_relative(path);
    if !inside {
        return code(path);
    }
    // `./` keeps a first segment with a colon from reading as a URL scheme.
    format!(
        "<a href=\"./{}\">{}</a>",
        escape(&crate::report::sarif::uri_path(path)),
        code(path)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = String::new();
        for line in 0..100 {
            log.push_str(&format!("line {line}\n"));
        }
        log.push_str("\u{1b}[31mred\u{1b}[0m AKIAIOSFODNN7EXAMPLE\n");
        std::fs::write(dir.path().join("x.log"), &log).unwrap();
        let tail = read_tail(dir.path(), "x.log").unwrap();
        assert!(tail.cut);
        assert_eq!(tail.text.lines().count(), TAIL_LINES);
        assert!(tail.text.starts_with("line 61\n"), "{}", tail.text);
        assert!(tail.text.contains("red "), "{}", tail.text);
        assert!(!tail.text.contains('\u{1b}'), "{}", tail.text);
        assert!(!tail.text.contains("AKIAIOSFODNN7EXAMPLE"), "{}", tail.text);
        assert!(read_tail(dir.path(), "../x.log").is_err());
        assert!(read_tail(dir.path(), "/etc/passwd").is_err());
    }
}
