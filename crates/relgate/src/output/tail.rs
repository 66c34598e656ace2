//! The end of a log: the last bytes of a file, and those bytes as text safe to embed in XML or
//! print to a terminal. Every reader of a log's tail (a check's record, the services' start-up
//! errors, JUnit's failure text, the HTML page) goes through these two functions.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// How many trailing bytes of a log a check's record keeps as its tail; [`tail_text`] takes a
/// buffer this long as cut from a longer log.
pub const TAIL_BYTES: usize = 16 * 1024;

/// Returns the last `max_bytes` bytes of the file at `path`.
pub fn read_tail(path: &Path, max_bytes: usize) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let max = u64::try_from(max_bytes).unwrap_or(u64::MAX);
    file.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut tail = Vec::with_capacity(max_bytes.min(TAIL_BYTES));
    // `take` because the file may still be growing while we read it.
    file.take(max).read_to_end(&mut tail)?;
    Ok(tail)
}

/// Renders the last `max_lines` lines of `bytes` as text that is safe to embed in XML or print to
/// a terminal.
///
/// Invalid UTF-8 is replaced, as is every control character except `\n` and `\t`. A buffer of
/// [`TAIL_BYTES`] or more is assumed to have been cut from a longer log, so its first, partial
/// line is dropped. Within a line only the text after the last carriage return is kept, which
/// is what a terminal would have shown for a progress bar (and removes the `\r` of CRLF).
pub fn tail_text(bytes: &[u8], max_lines: usize) -> String {
    let mut bytes = bytes;
    if bytes.len() >= TAIL_BYTES {
        bytes = match bytes.iter().position(|&b| b == b'\n') {
            Some(newline) => &bytes[newline + 1..],
            // One huge line: keep it, but not a broken UTF-8 sequence at the cut.
            None => {
                let start = bytes
                    .iter()
                    .position(|&b| b & 0xC0 != 0x80)
                    .unwrap_or(bytes.len());
                &bytes[start..]
            }
        };
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    if text.is_empty() || max_lines == 0 {
        return String::new();
    }
    let lines: Vec<&str> = text.split('\n').collect();
    lines[lines.len().saturating_sub(max_lines)..]
        .iter()
        .map(|line| {
            let shown = line
                .rsplit('\r')
                .find(|part| !part.is_empty())
                .unwrap_or("");
            shown.chars().map(sanitize_char).collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn sanitize_char(c: char) -> char {
    // U+FFFE and U+FFFF are not allowed in XML even though they are not control characters.
    let unsafe_char = (c.is_control() && c != '\t') || c == '\u{FFFE}' || c == '\u{FFFF}';
    if unsafe_char {
        char::REPLACEMENT_CHARACTER
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_tail_returns_at_most_the_last_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").expect("write");
        assert_eq!(read_tail(&path, 4).expect("tail"), b"6789");
        assert_eq!(read_tail(&path, 100).expect("tail"), b"0123456789");
        assert_eq!(read_tail(&path, 0).expect("tail"), b"");
        assert!(read_tail(&dir.path().join("missing"), 4).is_err());
    }

    #[test]
    fn tail_text_keeps_the_last_lines() {
        assert_eq!(tail_text(b"a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_text(b"a\nb\nc", 5), "a\nb\nc");
        assert_eq!(tail_text(b"a\n\nc\n", 2), "\nc");
        assert_eq!(tail_text(b"", 5), "");
        assert_eq!(tail_text(b"a\nb\n", 0), "");
    }

    #[test]
    fn tail_text_drops_the_partial_first_line_of_a_cut_buffer() {
        let mut cut = "é".repeat(TAIL_BYTES / 2).into_bytes();
        cut.remove(0); // the cut fell inside a multi-byte character
        cut.extend_from_slice(b"\nlast line\n");
        assert_eq!(tail_text(&cut, 20), "last line");
        // Without a newline to cut at, the text is kept but the broken character is not.
        let single = &"é".repeat(TAIL_BYTES / 2 + 1).into_bytes()[1..];
        let text = tail_text(single, 20);
        assert!(!text.contains(char::REPLACEMENT_CHARACTER));
        assert!(text.starts_with('é'));
        // A short buffer is the whole log: nothing is dropped.
        assert_eq!(tail_text(b"first\nsecond", 20), "first\nsecond");
    }

    #[test]
    fn tail_text_is_safe_for_xml_and_terminals() {
        let text = tail_text(b"red \x1b[31mX\x00\x07\tend\xff\xfe\n", 5);
        assert_eq!(
            text,
            "red \u{FFFD}[31mX\u{FFFD}\u{FFFD}\tend\u{FFFD}\u{FFFD}"
        );
        assert_eq!(
            tail_text("a\u{FFFF}\u{85}b".as_bytes(), 5),
            "a\u{FFFD}\u{FFFD}b"
        );
        // CRLF line ends and progress bars show what a terminal would have shown.
        assert_eq!(tail_text(b"one\r\ntwo\r\n", 5), "one\ntwo");
        assert_eq!(tail_text(b"10%\r50%\r100%\rdone\n", 5), "done");
        assert_eq!(tail_text(b"10%\r100%\r\n", 5), "100%");
    }
}
