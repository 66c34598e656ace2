//! Gate-file errors: every one names the file, line, column and key.

use std::fmt;
use std::path::PathBuf;

/// What is wrong with a gate file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecErrorKind {
    /// The file could not be read.
    Io,
    /// TOML syntax or a value of the wrong type.
    Syntax,
    /// A key the gate format does not have.
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// Two packets, checks or checklist items share an id.
    DuplicateId,
    /// An id contains characters that cannot appear in test names and file paths.
    InvalidId,
    /// `depends_on` names a packet that does not exist.
    UnknownDependency,
    /// Packets depend on each other in a cycle.
    Cycle,
    /// A command is empty.
    EmptyCommand,
    /// A timeout does not parse.
    InvalidTimeout,
    /// A checklist item's `by` names a check the packet does not have.
    UnknownCheck,
    /// An acceptance is incomplete or names nothing real.
    InvalidAcceptance,
    /// A `${name.…}` or `services` entry names no `[[service]]`.
    UnknownService,
    /// A check would run a destructive git command.
    DestructiveCommand,
    /// Any other invalid value (regex, date, glob…).
    InvalidValue,
}

/// An error in a gate file, pointing at the offending key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The gate file.
    pub file: PathBuf,
    /// 1-based line (0 when the error is about the whole file).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Dotted key, e.g. `packet.check.timeout`.
    pub key: Option<String>,
    /// What kind of error.
    pub kind: SpecErrorKind,
    /// Lowercase message.
    pub message: String,
    /// A hint on its own line, e.g. the key that was probably meant.
    pub hint: Option<String>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        // Messages may quote the gate file (a command, a value): redacted like every output,
        // then shortened (a megabyte value is not echoed back whole; shortening first would
        // leave a cut secret the redactor no longer recognises).
        let shown = |text: &str| shorten_quoted(&crate::redaction::redact(text));
        write!(f, ": {}", shown(&self.message))?;
        if let Some(key) = &self.key {
            // Say the key unless the message already names it whole.
            if !self.message.contains(&format!("`{key}`")) {
                // A syntax error's key is whatever stands before `=`: maybe a megabyte.
                write!(f, " (key `{}`)", shorten(&crate::redaction::redact(key)))?;
            }
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  (hint: {})", shown(hint))?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

impl SpecError {
    /// A gate file that is not UTF-8, naming its first invalid byte by line and column, like
    /// every other error.
    pub(crate) fn not_utf8(path: &std::path::Path, err: &std::string::FromUtf8Error) -> SpecError {
        let bytes = err.as_bytes();
        let at = err.utf8_error().valid_up_to();
        let line_start = bytes[..at]
            .iter()
            .rposition(|byte| *byte == b'\n')
            .map_or(0, |newline| newline + 1);
        SpecError {
            file: path.to_path_buf(),
            line: bytes[..at].iter().filter(|byte| **byte == b'\n').count() + 1,
            column: String::from_utf8_lossy(&bytes[line_start..at])
                .chars()
                .count()
                + 1,
            key: None,
            kind: SpecErrorKind::Syntax,
            message: format!("not UTF-8: byte 0x{:02x} is invalid here", bytes[at]),
            hint: Some("save the gate file as UTF-8".to_string()),
        }
    }
}

/// Maps byte offsets of a source text to 1-based line and column.
pub(crate) struct Locator<'a> {
    source: &'a str,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        Locator { source }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        let before = &self.source[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |index| index + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// 1-based line and column of the most deeply nested line (brackets and braces, or the
    /// dots of a table header), for an error that comes without a place (the parser's
    /// recursion limit). The first such line; (1, 1) for an empty text.
    pub(crate) fn deepest_line(&self) -> (usize, usize) {
        let depth = |line: &str| {
            let trimmed = line.trim_start();
            let nesting = trimmed.matches(['[', '{']).count();
            if trimmed.starts_with('[') {
                nesting.max(trimmed.split(']').next().unwrap_or("").matches('.').count() + 1)
            } else {
                nesting
            }
        };
        let mut deepest = (0, 1);
        for (index, line) in self.source.lines().enumerate() {
            let here = depth(line);
            if here > deepest.0 {
                deepest = (here, index + 1);
            }
        }
        (deepest.1, 1)
    }

    /// The table a byte offset is in: the name of the nearest `[table]` or `[[array]]`
    /// header above it (`packet.check`), or `None` at the top level.
    pub(crate) fn table_at(&self, offset: usize) -> Option<&'a str> {
        let offset = offset.min(self.source.len());
        let line_start = self.source[..offset]
            .rfind('\n')
            .map_or(0, |index| index + 1);
        self.source[..line_start].lines().rev().find_map(|line| {
            let line = line.trim();
            line.starts_with('[').then(|| {
                line.trim_start_matches('[')
                    .split(']')
                    .next()
                    .unwrap_or("")
                    .trim()
            })
        })
    }

    /// Byte offset of `key` written in the `[[array]]` table entry that holds `offset`: a line
    /// `key = …` / `key.sub = …` or a sub-table header `[….key]`, searched from the entry's
    /// header to the next `[[` header.
    pub(crate) fn key_offset(&self, offset: usize, key: &str) -> Option<usize> {
        let offset = offset.min(self.source.len());
        let line_start = self.source[..offset]
            .rfind('\n')
            .map_or(0, |index| index + 1);
        let header = self.source[..line_start]
            .match_indices("[[")
            .map(|(index, _)| index)
            .filter(|index| *index == 0 || self.source.as_bytes()[index - 1] == b'\n')
            .last()
            .unwrap_or(0);
        let mut position = header;
        for line in self.source[header..].split_inclusive('\n') {
            let trimmed = line.trim_start();
            if position > line_start && trimmed.starts_with("[[") {
                break;
            }
            let indent = line.len() - trimmed.len();
            if let Some(after) = trimmed.strip_prefix(key) {
                let after = after.trim_start();
                if after.starts_with('=') || after.starts_with('.') {
                    return Some(position + indent);
                }
            }
            if trimmed.starts_with('[') && !trimmed.starts_with("[[") {
                let name = trimmed
                    .trim_start_matches('[')
                    .split(']')
                    .next()
                    .unwrap_or("");
                if name.trim().rsplit('.').next() == Some(key) {
                    return Some(position + indent);
                }
            }
            position += line.len();
        }
        None
    }

    /// The text of the line holding `offset`.
    pub(crate) fn line_text(&self, offset: usize) -> &'a str {
        let offset = offset.min(self.source.len());
        let start = self.source[..offset]
            .rfind('\n')
            .map_or(0, |index| index + 1);
        let end = self.source[offset..]
            .find('\n')
            .map_or(self.source.len(), |index| offset + index);
        &self.source[start..end]
    }
}

/// The candidate closest to `wanted` by edit distance, if it is close enough to be a typo.
pub(crate) fn nearest<'c>(wanted: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let allowed = |candidate: &str| (candidate.len().max(wanted.len()) / 3).max(1);
    let wanted_chars = wanted.chars().count();
    candidates
        .iter()
        // The distance is at least the difference in length: a candidate that far off is never
        // a hint, and an absurd key (megabytes) costs no distance table at all.
        .filter(|candidate| wanted_chars.abs_diff(candidate.chars().count()) <= allowed(candidate))
        .map(|candidate| (edit_distance(wanted, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= allowed(candidate))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: like Levenshtein, with a swap of two neighbours
/// counting as one edit (`gaet` → `gate`), the commonest typo in keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in table.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in table[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[i - 1][j] + 1)
                .min(table[i][j - 1] + 1)
                .min(table[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[i - 2][j - 2] + 1);
            }
            table[i][j] = best;
        }
    }
    table[a.len()][b.len()]
}

/// A key as shown in an error: whole up to 64 characters, else its start and `…` (a megabyte
/// key is not echoed back whole).
pub(crate) fn shorten(key: &str) -> String {
    const SHOWN: usize = 64;
    match key.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &key[..cut]),
        None => key.to_string(),
    }
}

/// `text` with every `quoted` part [`shorten`]ed, and at most [`MESSAGE_CHARS`] characters.
pub(crate) fn shorten_quoted(text: &str) -> String {
    let mut out = String::new();
    for (index, part) in text.split('`').enumerate() {
        if index > 0 {
            out.push('`');
        }
        out.push_str(&if index % 2 == 1 {
            shorten(part)
        } else {
            part.to_string()
        });
    }
    match out.char_indices().nth(MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    }
}

/// The longest message or hint an error shows.
const MESSAGE_CHARS: usize = 1_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["id", "run", "timeout", "severity", "depends_on"];
        assert_eq!(nearest("tiemout", &keys), Some("timeout"));
        assert_eq!(nearest("depend_on", &keys), Some("depends_on"));
        assert_eq!(nearest("severty", &keys), Some("severity"));
        assert_eq!(nearest("banana", &keys), None);
        assert_eq!(nearest("gaet", &["gate", "defaults"]), Some("gate"));
    }

    #[test]
    fn quoted_values_are_shortened() {
        let long = "y".repeat(5_000);
        let shown = shorten_quoted(&format!("invalid timeout `1h{long}` (key `t`)"));
        assert_eq!(
            shown,
            format!("invalid timeout `1h{}…` (key `t`)", &long[..62])
        );
        assert_eq!(shorten_quoted(&long).chars().count(), MESSAGE_CHARS + 1);
        assert_eq!(shorten_quoted("a `b` c"), "a `b` c");
    }

    #[test]
    fn locates_lines_and_columns() {
        let source = "a = 1\nbb = 2\n";
        let locator = Locator::new(source);
        assert_eq!(locator.line_column(0), (1, 1));
        assert_eq!(locator.line_column(6), (2, 1));
        assert_eq!(locator.line_column(9), (2, 4));
        assert_eq!(locator.line_text(8), "bb = 2");
    }
}
