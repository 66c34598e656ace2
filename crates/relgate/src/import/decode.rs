//! Decoding: the tracker's bytes as lines of text, BOMs, UTF-16, line endings and mojibake
//! handled.

use super::*;

/// The tracker as lines (no line terminators), repaired.
pub(super) fn decode(bytes: &[u8], notes: &mut Vec<Note>) -> Result<Vec<String>, ImportError> {
    let text = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        utf16(rest, u16::from_le_bytes)
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        utf16(rest, u16::from_be_bytes)
    } else {
        let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
        if bytes.contains(&0) {
            return Err(ImportError::Binary);
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => text.to_string(),
            Err(err) => {
                let line = bytes[..err.valid_up_to()]
                    .iter()
                    .filter(|byte| **byte == b'\n')
                    .count()
                    + 1;
                notes.push(Note {
                    level: NoteLevel::Warning,
                    line: Some(line),
                    message: "the tracker is not valid UTF-8: invalid bytes are replaced by U+FFFD"
                        .to_string(),
                });
                String::from_utf8_lossy(bytes).into_owned()
            }
        }
    };
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    if lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let mut repaired = Vec::new();
    for (index, line) in lines.iter_mut().enumerate() {
        if let Some(fixed) = repair_mojibake(line) {
            *line = fixed;
            repaired.push(index + 1);
        }
    }
    if let Some(first) = repaired.first() {
        notes.push(Note {
            level: NoteLevel::Warning,
            line: Some(*first),
            message: format!(
                "repaired text double-encoded as UTF-8 (mojibake such as `â€”` for `—`) on {} line{}: {}",
                repaired.len(),
                if repaired.len() == 1 { "" } else { "s" },
                line_list(&repaired)
            ),
        });
    }
    mask_secrets(&mut lines, notes);
    Ok(lines)
}

/// Masks what the redactor masks (tokens, keys, passwords in URLs, known secrets) in every
/// line, with a warning naming the lines: a secret in a tracker must not be copied into the
/// gate file, and an id or checklist item holding one would not load (test names are printed
/// unredacted).
fn mask_secrets(lines: &mut [String], notes: &mut Vec<Note>) {
    let joined = lines.join("\n");
    let masked = crate::output::redaction::redact(&joined);
    if masked == joined {
        return;
    }
    // Whole, so that a private-key block spanning lines is seen; the redactor keeps lines.
    let masked: Vec<&str> = masked.split('\n').collect();
    let whole = masked.len() == lines.len();
    let mut changed = Vec::new();
    for (index, line) in lines.iter_mut().enumerate() {
        let new = match whole {
            true => masked[index].to_string(),
            false => crate::output::redaction::redact(line).into_owned(),
        };
        if new != *line {
            *line = new;
            changed.push(index + 1);
        }
    }
    notes.push(Note {
        level: NoteLevel::Warning,
        line: changed.first().copied(),
        message: format!(
            "masked text that looks like a secret on line{} {}: rotate that credential, and keep it out of the tracker",
            if changed.len() == 1 { "" } else { "s" },
            line_list(&changed)
        ),
    });
}

pub(super) fn utf16(bytes: &[u8], word: fn([u8; 2]) -> u16) -> String {
    let words = bytes.chunks_exact(2).map(|pair| word([pair[0], pair[1]]));
    char::decode_utf16(words)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// The Windows-1252 byte a character decodes from, for characters outside ASCII. Bytes
/// 0x80–0x9F that Windows-1252 leaves undefined come back as the C1 control characters that
/// Latin-1 decoders produce for them.
pub(super) fn cp1252_byte(c: char) -> Option<u8> {
    const HIGH: [(char, u8); 27] = [
        ('€', 0x80),
        ('‚', 0x82),
        ('ƒ', 0x83),
        ('„', 0x84),
        ('…', 0x85),
        ('†', 0x86),
        ('‡', 0x87),
        ('ˆ', 0x88),
        ('‰', 0x89),
        ('Š', 0x8A),
        ('‹', 0x8B),
        ('Œ', 0x8C),
        ('Ž', 0x8E),
        ('\u{2018}', 0x91),
        ('\u{2019}', 0x92),
        ('\u{201C}', 0x93),
        ('\u{201D}', 0x94),
        ('•', 0x95),
        ('–', 0x96),
        ('—', 0x97),
        ('˜', 0x98),
        ('™', 0x99),
        ('š', 0x9A),
        ('›', 0x9B),
        ('œ', 0x9C),
        ('ž', 0x9E),
        ('Ÿ', 0x9F),
    ];
    let code = u32::from(c);
    if code < 0x100 {
        return Some(code as u8);
    }
    HIGH.iter()
        .find(|(high, _)| *high == c)
        .map(|(_, byte)| *byte)
}

/// The line with mojibake undone, when every character of it maps back to a Windows-1252 byte
/// and those bytes are valid UTF-8 that differs from the line (repeated for text encoded more
/// than twice). Correct text with accents (`café`) does not round-trip: a lone `é` is byte 0xE9,
/// which is not valid UTF-8 on its own.
pub(super) fn repair_mojibake(line: &str) -> Option<String> {
    let mut current = line.to_string();
    let mut changed = false;
    for _ in 0..3 {
        if current.is_ascii() {
            break;
        }
        let bytes: Option<Vec<u8>> = current.chars().map(cp1252_byte).collect();
        let Some(fixed) = bytes.and_then(|bytes| String::from_utf8(bytes).ok()) else {
            break;
        };
        if fixed == current {
            break;
        }
        current = fixed;
        changed = true;
    }
    changed.then_some(current)
}
