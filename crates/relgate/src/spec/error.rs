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
    /// A `tools` entry names no `[[tool]]`.
    UnknownTool,
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
        let shown = |text: &str| shorten_quoted(&crate::output::redaction::redact(text));
        write!(f, ": {}", shown(&self.message))?;
        if let Some(key) = &self.key {
            // Say the key unless the message already names it whole.
            if !self.message.contains(&format!("`{key}`")) {
                // A syntax error's key is whatever stands before `=`: maybe a megabyte.
                write!(
                    f,
                    " (key `{}`)",
                    shorten(&crate::output::redaction::redact(key))
                )?;
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
///
/// The start of every line is found once, on first use, so that each lookup costs a binary
/// search and the length of one line, not a scan from the start of the text (a gate of 20,000
/// packets asks for a line per check).
pub(crate) struct Locator<'a> {
    source: &'a str,
    line_starts: std::cell::OnceCell<Vec<usize>>,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        Locator {
            source,
            line_starts: std::cell::OnceCell::new(),
        }
    }

    /// Byte offsets where lines start: 0, then one past every `\n`.
    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', self.source.as_bytes()).map(|at| at + 1))
                .collect()
        })
    }

    /// 0-based index and start offset of the line holding `offset` (clamped to the text).
    fn line_of(&self, offset: usize) -> (usize, usize) {
        let starts = self.line_starts();
        let index = starts.partition_point(|start| *start <= offset) - 1;
        (index, starts[index])
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        let (index, line_start) = self.line_of(offset);
        let column = self.source[line_start..offset].chars().count() + 1;
        (index + 1, column)
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
        let (index, line_start) = self.line_of(offset);
        // The entry's header: the nearest line above this one that starts with `[[`, found walking
        // back line by line (never from the start of the text).
        let starts = self.line_starts();
        let header = starts[..index]
            .iter()
            .rev()
            .copied()
            .find(|start| self.source[*start..].starts_with("[["))
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

/// Longest name (in bytes) that gets a "did you mean": no key, id or check name of a gate is
/// near that long, and the distance table stays small.
const HINT_MAX_BYTES: usize = 256;

/// The candidate closest to `wanted` by edit distance, if it is close enough to be a typo.
/// A name longer than [`HINT_MAX_BYTES`] gets none, at no cost.
pub(crate) fn nearest<'c>(wanted: &str, candidates: &[&'c str]) -> Option<&'c str> {
    if wanted.len() > HINT_MAX_BYTES {
        return None;
    }
    let allowed = |candidate: &str| (candidate.len().max(wanted.len()) / 3).max(1);
    let wanted_chars: Vec<char> = wanted.chars().collect();
    let mut rows = DistanceRows::default();
    candidates
        .iter()
        // The distance is at least the difference in length: a candidate that far off is never
        // a hint and costs no distance table.
        .filter(|candidate| {
            candidate.len() <= HINT_MAX_BYTES
                && wanted_chars.len().abs_diff(candidate.chars().count()) <= allowed(candidate)
        })
        .map(|candidate| (rows.distance(&wanted_chars, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= allowed(candidate))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// The three rows of an edit-distance table that [`DistanceRows::distance`] needs, reused from
/// one candidate to the next: no allocation per character or per row.
#[derive(Default)]
struct DistanceRows {
    b: Vec<char>,
    before_previous: Vec<usize>,
    previous: Vec<usize>,
    current: Vec<usize>,
}

impl DistanceRows {
    /// Optimal string alignment distance: like Levenshtein, with a swap of two neighbours
    /// counting as one edit (`gaet` → `gate`), the commonest typo in keys.
    fn distance(&mut self, a: &[char], b: &str) -> usize {
        self.b.clear();
        self.b.extend(b.chars());
        let b = &self.b;
        for row in [
            &mut self.before_previous,
            &mut self.previous,
            &mut self.current,
        ] {
            row.clear();
            row.resize(b.len() + 1, 0);
        }
        for (j, cell) in self.previous.iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            self.current[0] = i;
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (self.previous[j] + 1)
                    .min(self.current[j - 1] + 1)
                    .min(self.previous[j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(self.before_previous[j - 2] + 1);
                }
                self.current[j] = best;
            }
            std::mem::swap(&mut self.before_previous, &mut self.previous);
            std::mem::swap(&mut self.previous, &mut self.current);
        }
        self.previous[b.len()]
    }
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
        assert_eq!(nearest("ab", &["ba", "abc"]), Some("ba"));
        assert_eq!(nearest("", &["a"]), Some("a"));
        let long = "k".repeat(HINT_MAX_BYTES + 1);
        assert_eq!(nearest(&long, &[&long[1..]]), None);
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
