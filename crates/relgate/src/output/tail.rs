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
/// a terminal, in ASCII wherever the output was not valid text.
///
/// A buffer of [`TAIL_BYTES`] or more is assumed to have been cut from a longer log, so its
/// first, partial line is dropped. Within a line only the text after the last carriage return
/// is kept, which is what a terminal would have shown for a progress bar (and removes the `\r`
/// of CRLF). Terminal escape sequences (colours, cursor moves, titles, hyperlinks) are dropped;
/// every other byte that is not text is shown as `\xNN`: invalid UTF-8, control characters but
/// `\t`, and U+FFFD, U+FFFE and U+FFFF (the last two are not XML characters; a replacement
/// character makes encoding detectors such as xunit-viewer's take UTF-8 for CP1252).
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
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() || max_lines == 0 {
        return String::new();
    }
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    lines[lines.len().saturating_sub(max_lines)..]
        .iter()
        .map(|line| {
            let shown = line
                .rsplit(|&b| b == b'\r')
                .find(|part| !part.is_empty())
                .unwrap_or(b"");
            printable(shown)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One line of output as text: see [`tail_text`].
fn printable(line: &[u8]) -> String {
    let line = without_escape_sequences(line);
    let mut text = String::with_capacity(line.len());
    for chunk in line.utf8_chunks() {
        for c in chunk.valid().chars() {
            let shown_as_escape =
                (c.is_control() && c != '\t') || matches!(c, '\u{FFFD}' | '\u{FFFE}' | '\u{FFFF}');
            if shown_as_escape {
                let mut utf8 = [0; 4];
                for byte in c.encode_utf8(&mut utf8).bytes() {
                    text.push_str(&format!("\\x{byte:02X}"));
                }
            } else {
                text.push(c);
            }
        }
        for byte in chunk.invalid() {
            text.push_str(&format!("\\x{byte:02X}"));
        }
    }
    text
}

/// `line` without ANSI escape sequences: CSI (`ESC [` parameters, final byte `@`..`~`), OSC
/// (`ESC ]` … `BEL` or `ESC \`), nF escapes (`ESC ( B`) and two-byte escapes. A sequence cut
/// off by the end of the line is dropped to the end.
fn without_escape_sequences(line: &[u8]) -> Vec<u8> {
    const ESC: u8 = 0x1B;
    let mut kept = Vec::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.iter().position(|&b| b == ESC) {
        kept.extend_from_slice(&rest[..at]);
        let sequence = &rest[at + 1..];
        let len = match sequence.first() {
            Some(b'[') => sequence[1..]
                .iter()
                .position(|b| (0x40..=0x7E).contains(b))
                .map_or(sequence.len(), |end| end + 2),
            Some(b']') => {
                let body = &sequence[1..];
                match body.iter().position(|&b| b == 0x07 || b == ESC) {
                    Some(end) if body[end] == ESC && body.get(end + 1) == Some(&b'\\') => end + 3,
                    Some(end) => end + 2,
                    None => sequence.len(),
                }
            }
            // nF escapes: intermediate bytes, then one final byte (`ESC ( B`).
            Some(0x20..=0x2F) => sequence
                .iter()
                .position(|b| (0x30..=0x7E).contains(b))
                .map_or(sequence.len(), |end| end + 1),
            Some(_) => 1,
            None => 0,
        };
        rest = &sequence[len..];
    }
    kept.extend_from_slice(rest);
    kept
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
        let text = tail_text(b"red \x1b[31mX\x1b[0m\x00\x07\tend\xff\xfe\n", 5);
        assert_eq!(text, "red X\\x00\\x07\tend\\xFF\\xFE");
        assert_eq!(
            tail_text("a\u{FFFF}\u{85}\u{FFFD}b".as_bytes(), 5),
            "a\\xEF\\xBF\\xBF\\xC2\\x85\\xEF\\xBF\\xBDb"
        );
        assert!(tail_text(b"\x01\xff\xc3", 5).is_ascii());
        // CRLF line ends and progress bars show what a terminal would have shown.
        assert_eq!(tail_text(b"one\r\ntwo\r\n", 5), "one\ntwo");
        assert_eq!(tail_text(b"10%\r50%\r100%\rdone\n", 5), "done");
        assert_eq!(tail_text(b"10%\r100%\r\n", 5), "100%");
    }

    #[test]
    fn terminal_escape_sequences_are_dropped() {
        let styled = b"\x1b[1;32m   Compiling\x1b[0m relgate\x1b]8;;https://x\x07link\x1b]8;;\x1b\\ \x1b(Bok";
        assert_eq!(tail_text(styled, 5), "   Compiling relgatelink ok");
        // A sequence cut off at the end of the line goes with it; text after a lone ESC stays.
        assert_eq!(tail_text(b"done\x1b[3", 5), "done");
        assert_eq!(tail_text(b"a\x1b", 5), "a");
    }
}
