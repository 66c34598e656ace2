//! `cargo xtask gate import`: a hand-kept Markdown tracker, like the seeds, becomes a
//! `packets.toml`.
//!
//! Pure: bytes in, gate-file text and notes out. The steps:
//!
//! 1. **Decode**: UTF-8 (a BOM stripped; UTF-16 with a BOM; invalid bytes replaced, with a
//!    warning), CRLF and CR normalised, and lines double-encoded as UTF-8 (mojibake: `â€”` for
//!    `—`) repaired when the whole line round-trips through Windows-1252 back to valid UTF-8.
//! 2. **Parse** the Markdown that trackers use: ATX and setext headings of any level, `|`
//!    tables, list items with `[ ]`/`[x]` boxes, fenced code blocks, text.
//! 3. **Packets** come from the packet board (a table with a packet or id column), failing that
//!    from headings that start with a packet id (`SEC-01`, `IAM-03`, `P1:`, `Packet 2`), failing
//!    that from every section with checkboxes at the shallowest level that has them.
//! 4. **In a packet's sections** checkboxes become checklist items, commands in a "commands"
//!    section become `[[packet.check]]`s (with `expect` and `timeout` when the tracker states
//!    them), review gates and records stay comments; implementer and reviewer come from the
//!    board or `Reviewer: …` lines; dependencies from arrows (`SEC-00 ──blocks──► SEC-01`),
//!    "depends on", "blocked by", "after", "blocks" statements and a board column.
//!
//! Nothing the tracker claims becomes evidence: every checklist item is bound to its packet's
//! failing `needs-evidence` check until someone binds it to real checks or an attestation, and
//! a ticked box is only a comment. Everything the importer cannot map is kept as a `#` comment
//! with its line number, near where it belongs; only blank lines and horizontal rules are left
//! out. Destructive git commands are written commented out. The result is checked with
//! [`crate::spec::parse`] before it is returned.

use std::collections::BTreeSet;
use std::fmt;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use crate::spec::{destructive_git_command, parse_duration, references};

/// The check every imported packet with a checklist gets: it fails until the packet's checklist
/// items are bound to evidence.
pub const PLACEHOLDER_CHECK: &str = "needs-evidence";

/// The `[defaults] timeout` of an imported gate.
pub const DEFAULT_TIMEOUT: &str = "10m";

/// A tracker turned into gate-file text.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The `packets.toml` text; it loads with [`crate::spec::parse`].
    pub toml: String,
    /// What the importer did that a reader should know, in source order where it has a line.
    pub notes: Vec<Note>,
    /// Each imported packet, in the order the tracker names them.
    pub packets: Vec<PacketSummary>,
    /// How many source lines are kept as comments.
    pub commented_lines: usize,
}

/// What became of one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketSummary {
    /// The packet id in the gate file.
    pub id: String,
    /// Checklist items.
    pub checklist: usize,
    /// Command checks taken from the tracker (not counting `needs-evidence`).
    pub checks: usize,
    /// Commands written commented out (destructive git commands).
    pub commented_checks: usize,
    /// Packets it depends on.
    pub depends_on: Vec<String>,
}

/// How much a note matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteLevel {
    /// What was mapped, for the record.
    Note,
    /// Something was repaired, guessed, renamed or left as a comment that looked meant.
    Warning,
}

/// A note about the import, with the tracker line it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// How much it matters.
    pub level: NoteLevel,
    /// The 1-based tracker line, if the note is about one.
    pub line: Option<usize>,
    /// Lowercase message.
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            NoteLevel::Note => "note",
            NoteLevel::Warning => "warning",
        };
        write!(f, "{level}: {}", self.message)
    }
}

/// Why a tracker could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// No text at all.
    #[error("the tracker is empty")]
    Empty,
    /// NUL bytes: not a text file.
    #[error("the tracker is not a text file (it contains NUL bytes)")]
    Binary,
    /// The produced gate file does not load: a bug in the importer.
    #[error("the imported gate does not load (a bug in the importer): {0}")]
    Invalid(String),
}

/// Imports the tracker `bytes`; `source_name` names it in comments.
pub fn import(source_name: &str, bytes: &[u8]) -> Result<Imported, ImportError> {
    let mut notes = Vec::new();
    let lines = decode(bytes, &mut notes)?;
    if lines.iter().all(|line| line.trim().is_empty()) {
        return Err(ImportError::Empty);
    }
    let blocks = parse_blocks(&lines);
    Importer::new(source_name, &lines, &blocks, notes).run()
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// The tracker as lines (no line terminators), repaired.
fn decode(bytes: &[u8], notes: &mut Vec<Note>) -> Result<Vec<String>, ImportError> {
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
    let masked = crate::redaction::redact(&joined);
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
            false => crate::redaction::redact(line).into_owned(),
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

fn utf16(bytes: &[u8], word: fn([u8; 2]) -> u16) -> String {
    let words = bytes.chunks_exact(2).map(|pair| word([pair[0], pair[1]]));
    char::decode_utf16(words)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// The Windows-1252 byte a character decodes from, for characters outside ASCII. Bytes
/// 0x80–0x9F that Windows-1252 leaves undefined come back as the C1 control characters that
/// Latin-1 decoders produce for them.
fn cp1252_byte(c: char) -> Option<u8> {
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
fn repair_mojibake(line: &str) -> Option<String> {
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

// ---------------------------------------------------------------------------------------------
// Markdown blocks
// ---------------------------------------------------------------------------------------------

/// One Markdown block; line numbers are 1-based.
#[derive(Debug, Clone)]
enum Block {
    Heading {
        line: usize,
        last: usize,
        level: usize,
        text: String,
    },
    Item {
        line: usize,
        indent: usize,
        checked: Option<bool>,
        text: String,
    },
    Text {
        line: usize,
        indent: usize,
        text: String,
    },
    Table {
        first: usize,
        last: usize,
        header: Vec<String>,
        rows: Vec<(usize, Vec<String>)>,
    },
    Fence {
        first: usize,
        last: usize,
        body: Vec<usize>,
    },
    Rule {
        line: usize,
    },
}

impl Block {
    fn lines(&self) -> std::ops::RangeInclusive<usize> {
        match self {
            Block::Heading { line, last, .. } => *line..=*last,
            Block::Item { line, .. } | Block::Text { line, .. } | Block::Rule { line } => {
                *line..=*line
            }
            Block::Table { first, last, .. } | Block::Fence { first, last, .. } => *first..=*last,
        }
    }
}

macro_rules! static_regex {
    ($pattern:expr) => {{
        static CELL: OnceLock<Regex> = OnceLock::new();
        CELL.get_or_init(|| Regex::new($pattern).expect("static regex"))
    }};
}

fn indent_of(line: &str) -> usize {
    let mut width = 0;
    for c in line.chars() {
        match c {
            ' ' => width += 1,
            '\t' => width += 4 - width % 4,
            _ => break,
        }
    }
    width
}

fn is_rule(trimmed: &str) -> bool {
    let mut marks = trimmed.chars().filter(|c| !c.is_whitespace());
    let Some(first) = marks.next() else {
        return false;
    };
    matches!(first, '-' | '*' | '_')
        && trimmed.chars().filter(|c| *c == first).count() >= 3
        && trimmed.chars().all(|c| c == first || c == ' ' || c == '\t')
}

fn is_table_separator(line: &str) -> bool {
    let cells = table_cells(line);
    line.contains('|')
        && line.contains('-')
        && cells.iter().all(|cell| {
            let cell = cell.trim();
            !cell.is_empty()
                && cell.trim_matches(':').chars().all(|c| c == '-')
                && cell.contains('-')
        })
}

/// The cells of a table row: split at `|` outside code spans, `\|` unescaped.
fn table_cells(line: &str) -> Vec<String> {
    let trimmed = line.trim();
    let trimmed = trimmed.strip_prefix('|').unwrap_or(trimmed);
    let trimmed = if trimmed.ends_with('|') && !trimmed.ends_with("\\|") {
        &trimmed[..trimmed.len() - 1]
    } else {
        trimmed
    };
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut in_code = false;
    let mut chars = trimmed.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '`' => {
                in_code = !in_code;
                cell.push(c);
            }
            '|' if !in_code => cells.push(std::mem::take(&mut cell).trim().to_string()),
            _ => cell.push(c),
        }
    }
    cells.push(cell.trim().to_string());
    cells
}

fn fence_opening(trimmed: &str) -> Option<(char, usize)> {
    let first = trimmed.chars().next()?;
    if first != '`' && first != '~' {
        return None;
    }
    let count = trimmed.chars().take_while(|c| *c == first).count();
    (count >= 3 && !(first == '`' && trimmed[count..].contains('`'))).then_some((first, count))
}

fn parse_blocks(lines: &[String]) -> Vec<Block> {
    let heading = static_regex!(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$");
    let item = static_regex!(r"^([ \t]*)(?:[-*+]|\d{1,9}[.)])(?:[ \t]+(.*?))?[ \t]*$");
    let checkbox = static_regex!(r"^\[([ xX])\](?:[ \t]+(.*))?$");
    let mut blocks: Vec<Block> = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = &lines[index];
        let number = index + 1;
        let trimmed = line.trim();
        index += 1;
        if trimmed.is_empty() {
            continue;
        }
        let indent = indent_of(line);
        if indent < 4 {
            if let Some((mark, count)) = fence_opening(trimmed) {
                let mut body = Vec::new();
                let mut last = lines.len();
                while index < lines.len() {
                    let inner = lines[index].trim();
                    index += 1;
                    if inner.chars().take_while(|c| *c == mark).count() >= count
                        && inner.trim_start_matches(mark).trim().is_empty()
                    {
                        last = index;
                        break;
                    }
                    body.push(index);
                }
                blocks.push(Block::Fence {
                    first: number,
                    last,
                    body,
                });
                continue;
            }
            if let Some(captures) = heading.captures(line) {
                blocks.push(Block::Heading {
                    line: number,
                    last: number,
                    level: captures[1].len(),
                    text: captures
                        .get(2)
                        .map_or(String::new(), |text| text.as_str().trim().to_string()),
                });
                continue;
            }
            let setext = if trimmed.chars().all(|c| c == '=') {
                Some(1)
            } else if trimmed.chars().all(|c| c == '-') {
                Some(2)
            } else {
                None
            };
            if let (Some(level), Some(Block::Text { line, indent, .. })) = (setext, blocks.last()) {
                if *line + 1 == number && *indent < 4 {
                    let Some(Block::Text { line, text, .. }) = blocks.pop() else {
                        unreachable!("just matched a text block");
                    };
                    blocks.push(Block::Heading {
                        line,
                        last: number,
                        level,
                        text,
                    });
                    continue;
                }
            }
            if is_rule(trimmed) {
                blocks.push(Block::Rule { line: number });
                continue;
            }
        }
        let next_is_separator = lines
            .get(index)
            .is_some_and(|next| is_table_separator(next));
        if trimmed.starts_with('|') || (trimmed.contains('|') && next_is_separator) {
            let header = table_cells(line);
            let mut rows = Vec::new();
            let mut last = number;
            while index < lines.len() {
                let row = lines[index].trim();
                if row.is_empty() || !row.contains('|') {
                    break;
                }
                index += 1;
                last = index;
                if !is_table_separator(row) {
                    rows.push((index, table_cells(row)));
                }
            }
            blocks.push(Block::Table {
                first: number,
                last,
                header,
                rows,
            });
            continue;
        }
        if let Some(captures) = item.captures(line) {
            let indent = indent_of(&captures[1]);
            let content = captures.get(2).map_or("", |text| text.as_str());
            let (checked, text) = match checkbox.captures(content) {
                Some(boxed) => (
                    Some(&boxed[1] != " "),
                    boxed.get(2).map_or("", |text| text.as_str()),
                ),
                None => (None, content),
            };
            blocks.push(Block::Item {
                line: number,
                indent,
                checked,
                text: text.trim().to_string(),
            });
            continue;
        }
        blocks.push(Block::Text {
            line: number,
            indent,
            text: trimmed.to_string(),
        });
    }
    blocks
}

/// Inline Markdown reduced to its text: links to their text, bold markers dropped. Code spans
/// keep their backticks.
fn plain_inline(text: &str) -> String {
    let link = static_regex!(r"!?\[([^\]]*)\]\([^)]*\)");
    let text = link.replace_all(text, "$1");
    text.replace("**", "").replace("__", "").trim().to_string()
}

/// Whether a cell means "nothing": empty or a dash.
fn is_blank_cell(text: &str) -> bool {
    matches!(text.trim(), "" | "-" | "—" | "–" | "--" | "n/a" | "N/A")
}

/// A valid relgate id from free text: letters, digits, `.`, `_` and `-`, starting with a letter
/// or digit; runs of anything else become one `-`.
fn sanitize_id(raw: &str) -> String {
    let plain = plain_inline(raw).replace('`', "");
    let mut id = String::new();
    for c in plain.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            id.push(c);
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    let id = id.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut id: String = id.chars().take(48).collect();
    while id.ends_with(|c: char| !c.is_ascii_alphanumeric()) {
        id.pop();
    }
    id
}

/// The slug relgate derives from a checklist item's text; items whose slugs collide or are
/// empty are refused by the loader.
fn loader_slug(text: &str) -> String {
    crate::spec::slugify(text.trim())
}

/// A packet id at the start of a heading: `SEC-01`, `IAM-03`, `P1:`, `Packet 2`, `Phase 3`.
/// Returns the id as written and the rest of the heading.
fn id_from_heading(text: &str) -> Option<(String, String)> {
    let ticket = static_regex!(r"^([A-Z][A-Z0-9]*(?:[-_.][A-Za-z0-9]+)+)(.*)$");
    let severity_like = static_regex!(r"^(P\d{1,3})(\s*[:—–-].*|)$");
    let word = static_regex!(
        r"(?i)^(packet|phase|step|task|stage|milestone|work\s*package)\s*#?\s*([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$"
    );
    let text = plain_inline(text).replace('`', "");
    let text = text.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    if let Some(captures) = ticket.captures(text) {
        if captures[1].chars().any(|c| c.is_ascii_digit()) {
            return Some((captures[1].to_string(), captures[2].to_string()));
        }
    }
    if let Some(captures) = severity_like.captures(text) {
        return Some((captures[1].to_string(), captures[2].to_string()));
    }
    if let Some(captures) = word.captures(text) {
        let token = &captures[2];
        if !token.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
        let id = if ticket.is_match(token) {
            token.to_string()
        } else {
            format!("{} {token}", &captures[1])
        };
        return Some((id, captures[3].to_string()));
    }
    None
}

/// A packet title from the rest of its heading: separators and a leading "Checklist" dropped.
fn title_from_rest(rest: &str) -> Option<String> {
    let lead = static_regex!(r"(?i)^[\s:—–|()\-]*(?:(?:checklist|packet|tasks?)\b[\s:—–|\-]*)?");
    let rest = plain_inline(rest);
    let title = lead.replace(&rest, "").trim().to_string();
    (!title.is_empty()).then_some(title)
}

/// What a section inside a packet holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Sub {
    /// The packet's own text: checkboxes are checklist items.
    #[default]
    Main,
    /// Commands to run: each becomes a check.
    Commands,
    /// Review gates, records, evidence: kept as comments, checkboxes included.
    Kept,
}

fn classify(heading: &str) -> Sub {
    let record = static_regex!(r"(?i)\b(records?|evidence|outputs?|logs?|results?|history)\b");
    let commands = static_regex!(r"(?i)\bcommands?\b");
    let gates = static_regex!(r"(?i)\b(gates?|gating|sign-?offs?|verdicts?)\b");
    let record = record.is_match(heading);
    if commands.is_match(heading) && !record {
        Sub::Commands
    } else if record || gates.is_match(heading) {
        Sub::Kept
    } else {
        Sub::Main
    }
}

/// `**Required commands:**` or `Review gates:` on a line of its own acts as a sub-heading.
fn pseudo_heading(text: &str) -> Option<Sub> {
    let trimmed = text.trim();
    let bold = (trimmed.starts_with("**") && trimmed.ends_with("**"))
        || (trimmed.starts_with("__") && trimmed.ends_with("__"));
    let plain = plain_inline(trimmed);
    if !(bold || plain.ends_with(':')) || plain.split_whitespace().count() > 6 {
        return None;
    }
    match classify(plain.trim_end_matches(':')) {
        Sub::Main => None,
        sub => Some(sub),
    }
}

/// The first code span of `text` and the text around it.
fn code_span(text: &str) -> Option<(String, String)> {
    let start = text.find('`')?;
    let ticks = text[start..].chars().take_while(|c| *c == '`').count();
    let fence = "`".repeat(ticks);
    let mut search = start + ticks;
    while let Some(offset) = text[search..].find(&fence) {
        let end = search + offset;
        let after = text[end + ticks..].chars().next();
        if after != Some('`') {
            let inner = &text[start + ticks..end];
            let inner = if inner.len() > 1 && inner.starts_with(' ') && inner.ends_with(' ') {
                &inner[1..inner.len() - 1]
            } else {
                inner
            };
            let rest = format!("{} {}", &text[..start], &text[end + ticks..]);
            return Some((inner.to_string(), rest.trim().to_string()));
        }
        search = end
            + ticks
            + text[end + ticks..]
                .chars()
                .take_while(|c| *c == '`')
                .count();
    }
    None
}

/// Expected exit codes stated in a command's text: `-> exit 0`, `exit code 1`, `exits 0 or 1`,
/// `→ 2`.
fn stated_exit_codes(text: &str) -> Option<Vec<i64>> {
    let exit = static_regex!(
        r"(?i)\bexit(?:\s*code)?s?\b\s*(?:[:=]|is|of|with)?\s*(\d{1,3})((?:\s*(?:,|/|\bor\b|\band\b)\s*\d{1,3}\b)*)"
    );
    let arrow = static_regex!(r"^\s*(?:->|→|=>|⇒)\s*(\d{1,3})\b");
    let (first, more) = if let Some(captures) = exit.captures(text) {
        (
            captures[1].to_string(),
            captures
                .get(2)
                .map_or(String::new(), |m| m.as_str().to_string()),
        )
    } else {
        let captures = arrow.captures(text)?;
        (captures[1].to_string(), String::new())
    };
    let number = static_regex!(r"\d{1,3}");
    let mut codes: Vec<i64> = std::iter::once(first.as_str())
        .chain(number.find_iter(&more).map(|m| m.as_str()))
        .filter_map(|code| code.parse().ok())
        .collect();
    codes.dedup();
    Some(codes)
}

/// A timeout stated in a command's text, as a relgate duration: `timeout 5m`, `(timeout: 90
/// seconds)`.
fn stated_timeout(text: &str) -> Option<String> {
    let timeout = static_regex!(
        r"(?i)\btime\s*-?\s*out\b\s*(?:[:=]|of|after)?\s*(\d{1,6})\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b"
    );
    let captures = timeout.captures(text)?;
    let unit = match captures[2].to_lowercase().as_str() {
        "ms" | "millisecond" | "milliseconds" => "ms",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        _ => "h",
    };
    let duration = format!("{}{unit}", &captures[1]);
    parse_duration(&duration).ok().map(|_| duration)
}

/// A check id from a command: its leading words up to the first flag, slugged.
fn command_id(command: &str) -> String {
    let words: Vec<&str> = command
        .split_whitespace()
        .take_while(|word| !word.starts_with('-') && !word.contains('='))
        .take(5)
        .collect();
    let mut id: String = crate::spec::slugify(&words.join(" "))
        .chars()
        .take(40)
        .collect();
    while id.ends_with('-') {
        id.pop();
    }
    if id.is_empty() || looks_secret(&id) {
        "command".to_string()
    } else {
        id
    }
}

/// Numbers as `3, 9, 13-15`.
fn line_list(lines: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let start = lines[index];
        let mut end = start;
        while index + 1 < lines.len() && lines[index + 1] == end + 1 {
            index += 1;
            end = lines[index];
        }
        parts.push(if end > start + 1 {
            format!("{start}-{end}")
        } else if end == start + 1 {
            format!("{start}, {end}")
        } else {
            start.to_string()
        });
        index += 1;
    }
    parts.join(", ")
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    // The lines were masked as read, but Markdown clean-up (`__`, `**`, links) can join a
    // secret back together: every string written is masked again.
    toml::Value::String(crate::redaction::redact(text).into_owned()).to_string()
}

/// Whether the redactor would change `id`: such an id cannot be a test name.
fn looks_secret(id: &str) -> bool {
    crate::redaction::redact(id) != id
}

/// Text made safe for a TOML comment: control characters other than tab are not allowed.
fn comment_text(text: &str) -> String {
    text.trim_end()
        .chars()
        .map(|c| {
            if c != '\t' && (c.is_control() || c == '\u{7f}') {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The importer
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct PacketDraft {
    id: String,
    /// The id as the tracker wrote it, when it differs.
    written_id: Option<(String, usize)>,
    /// Forms of the id to look for in text.
    forms: Vec<String>,
    title: Option<String>,
    implementer: Option<String>,
    reviewer: Option<String>,
    /// The board row: its line and the columns the gate has no key for.
    board_row: Option<(usize, Vec<(String, String)>)>,
    /// Heading lines that start this packet's sections.
    headings: Vec<usize>,
    items: Vec<ItemDraft>,
    checks: Vec<CheckDraft>,
    /// Source lines kept as comments inside the packet.
    comments: Vec<usize>,
    /// (packet index, lines that say so).
    depends_on: Vec<(usize, Vec<usize>)>,
    placed: bool,
}

#[derive(Debug)]
struct ItemDraft {
    line: usize,
    text: String,
    checked: bool,
    details: Vec<usize>,
}

#[derive(Debug)]
struct CheckDraft {
    line: usize,
    id: String,
    run: String,
    expect: Vec<i64>,
    timeout: Option<String>,
    checked: Option<bool>,
    /// The destructive git command that keeps it commented out.
    refused: Option<&'static str>,
}

#[derive(Debug)]
enum Segment {
    /// Source lines kept as comments where they stand.
    Comments(Vec<usize>),
    /// Where the packet board was.
    Board { first: usize, last: usize },
    /// A packet's `[[packet]]` table.
    Packet(usize),
    /// Where a board packet goes if no section of its own places it earlier.
    PacketSlot(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Board,
    IdHeadings,
    Sections(usize),
    Single,
}

struct Importer<'a> {
    source: &'a str,
    lines: &'a [String],
    blocks: &'a [Block],
    notes: Vec<Note>,
    title: Option<(usize, String)>,
    plan: Option<String>,
    packets: Vec<PacketDraft>,
    segments: Vec<Segment>,
    /// Lines turned into gate data.
    mapped: BTreeSet<usize>,
    /// Lines that hold commands (not scanned for dependency statements).
    command_lines: BTreeSet<usize>,
    /// The packet whose section holds each line (index = line - 1).
    region: Vec<Option<usize>>,
    /// Board rows that could not become packets.
    board_kept: Vec<usize>,
}

impl<'a> Importer<'a> {
    fn new(source: &'a str, lines: &'a [String], blocks: &'a [Block], notes: Vec<Note>) -> Self {
        Importer {
            source,
            lines,
            blocks,
            notes,
            title: None,
            plan: None,
            packets: Vec::new(),
            segments: Vec::new(),
            mapped: BTreeSet::new(),
            command_lines: BTreeSet::new(),
            region: vec![None; lines.len()],
            board_kept: Vec::new(),
        }
    }

    /// Keeps a source line as a comment of `packet`, with a warning saying why.
    fn keep_as_comment(&mut self, packet: usize, line: usize, why: &str) {
        self.note(NoteLevel::Warning, Some(line), why);
        self.packets[packet].comments.push(line);
    }

    fn note(&mut self, level: NoteLevel, line: Option<usize>, message: impl Into<String>) {
        // Notes quote the tracker, whose text may hold a secret once Markdown is cleaned up.
        let message = crate::redaction::redact(&message.into()).into_owned();
        self.notes.push(Note {
            level,
            line,
            message,
        });
    }

    fn run(mut self) -> Result<Imported, ImportError> {
        let title_block = self.find_title();
        let board = self.find_board(title_block);
        let mode = match board {
            Some(index) => {
                self.take_board(index);
                Mode::Board
            }
            None => self.choose_mode(title_block),
        };
        self.walk(mode, title_block, board);
        self.find_plan();
        self.find_dependencies();
        let unplaced = self.unplaced_lines();
        if !unplaced.is_empty() {
            self.note(
                NoteLevel::Warning,
                unplaced.first().copied(),
                format!(
                    "kept lines {} as comments at the end: the importer found no place for them",
                    line_list(&unplaced)
                ),
            );
            self.segments.push(Segment::Comments(unplaced));
        }
        let toml = self.render();
        crate::spec::parse(Path::new("packets.toml"), &toml)
            .map_err(|err| ImportError::Invalid(err.to_string()))?;
        let packets = self
            .packets
            .iter()
            .map(|packet| PacketSummary {
                id: packet.id.clone(),
                checklist: packet.items.len(),
                checks: packet
                    .checks
                    .iter()
                    .filter(|check| check.refused.is_none())
                    .count(),
                commented_checks: packet
                    .checks
                    .iter()
                    .filter(|check| check.refused.is_some())
                    .count(),
                depends_on: {
                    let mut deps: Vec<usize> =
                        packet.depends_on.iter().map(|(dep, _)| *dep).collect();
                    deps.sort_unstable();
                    deps.iter()
                        .map(|dep| self.packets[*dep].id.clone())
                        .collect()
                },
            })
            .collect();
        let commented_lines = self.commented_lines().len();
        self.notes.sort_by_key(|note| note.line.unwrap_or(0));
        Ok(Imported {
            toml,
            notes: self.notes,
            packets,
            commented_lines,
        })
    }

    /// The document title: the first heading when it is the only level-1 heading.
    fn find_title(&mut self) -> Option<usize> {
        let blocks = self.blocks;
        let first = blocks
            .iter()
            .position(|block| matches!(block, Block::Heading { .. }))?;
        let Block::Heading {
            level, text, line, ..
        } = &blocks[first]
        else {
            return None;
        };
        let level_ones = self
            .blocks
            .iter()
            .filter(|block| matches!(block, Block::Heading { level: 1, .. }))
            .count();
        if *level != 1 || level_ones != 1 {
            return None;
        }
        let title = plain_inline(text);
        if title.is_empty() {
            return None;
        }
        self.title = Some((*line, title));
        self.mapped.extend(self.blocks[first].lines());
        Some(first)
    }

    /// The packet board: the first table with a packet or id column.
    fn find_board(&self, title_block: Option<usize>) -> Option<usize> {
        self.blocks.iter().enumerate().position(|(index, block)| {
            Some(index) != title_block
                && matches!(block, Block::Table { header, rows, .. }
                if id_column(header).is_some()
                    && rows.iter().any(|(_, row)| {
                        id_column(header)
                            .and_then(|column| row.get(column))
                            .is_some_and(|cell| !sanitize_id(cell).is_empty())
                    }))
        })
    }

    fn take_board(&mut self, index: usize) {
        let blocks = self.blocks;
        let Block::Table {
            first,
            header,
            rows,
            ..
        } = &blocks[index]
        else {
            return;
        };
        let id_at = id_column(header).expect("the board has an id column");
        let column = |names: &[&str]| {
            header.iter().position(|cell| {
                let name = plain_inline(cell).to_lowercase();
                names.contains(&name.trim())
            })
        };
        let title_at = column(&["title", "name", "summary", "description", "packet title"]);
        let implementer_at = column(&[
            "implementer",
            "owner",
            "assignee",
            "developer",
            "dev",
            "author",
            "implemented by",
        ]);
        let reviewer_at = column(&["reviewer", "reviewed by", "review by", "approver"]);
        let depends_at = column(&[
            "depends on",
            "dependencies",
            "depends",
            "dependency",
            "blocked by",
            "after",
            "prerequisites",
        ]);
        let mut board_deps = Vec::new();
        self.note(
            NoteLevel::Note,
            Some(*first),
            format!("packets from the packet board ({} rows)", rows.len()),
        );
        for (line, row) in rows {
            let cell = |at: Option<usize>| {
                at.and_then(|at| row.get(at))
                    .map(|cell| plain_inline(cell))
                    .filter(|cell| !is_blank_cell(cell))
            };
            let written = cell(Some(id_at)).unwrap_or_default();
            let id = sanitize_id(&written);
            if id.is_empty() {
                self.note(
                    NoteLevel::Warning,
                    Some(*line),
                    "board row without a packet id: kept as a comment",
                );
                self.board_kept.push(*line);
                continue;
            }
            if self.packets.iter().any(|packet| packet.id == id) {
                self.note(
                    NoteLevel::Warning,
                    Some(*line),
                    format!(
                        "packet `{id}` is on the board twice: the second row is kept as a comment"
                    ),
                );
                self.board_kept.push(*line);
                continue;
            }
            let index = self.add_packet(&written, id, *line);
            let extra: Vec<(String, String)> = header
                .iter()
                .enumerate()
                // The dependency column stays as a comment too: an id in it that names no
                // packet would otherwise vanish.
                .filter(|(at, _)| {
                    ![Some(id_at), title_at, implementer_at, reviewer_at].contains(&Some(*at))
                })
                .filter_map(|(at, name)| cell(Some(at)).map(|value| (plain_inline(name), value)))
                .collect();
            let packet = &mut self.packets[index];
            packet.title = cell(title_at);
            packet.implementer = cell(implementer_at);
            packet.reviewer = cell(reviewer_at);
            packet.board_row = Some((*line, extra));
            if let Some(depends) = cell(depends_at) {
                board_deps.push((index, depends, *line));
            }
            self.mapped.insert(*line);
        }
        for line in blocks[index].lines() {
            if !self.board_kept.contains(&line) {
                self.mapped.insert(line);
            }
        }
        for (index, depends, line) in board_deps {
            for (dep, _, _) in self.mentions(&depends) {
                self.add_dependency(index, dep, line);
            }
        }
    }

    fn add_packet(&mut self, written: &str, id: String, line: usize) -> usize {
        let id = if looks_secret(&id) {
            format!("packet-{line}")
        } else {
            id
        };
        let mut unique = id.clone();
        let mut suffix = 2;
        while self.packets.iter().any(|packet| packet.id == unique) {
            unique = format!("{id}-{suffix}");
            suffix += 1;
        }
        let written = plain_inline(written).replace('`', "");
        let mut forms = vec![unique.clone()];
        if written.trim() != unique {
            if !written.trim().is_empty() {
                forms.push(written.trim().to_string());
            }
            self.note(
                NoteLevel::Warning,
                Some(line),
                format!(
                    "packet id `{}` became `{unique}` (ids are letters, digits, `.`, `_` and `-`)",
                    written.trim()
                ),
            );
        }
        self.packets.push(PacketDraft {
            written_id: (written.trim() != unique).then(|| (written.trim().to_string(), line)),
            id: unique,
            forms,
            ..PacketDraft::default()
        });
        self.packets.len() - 1
    }

    fn choose_mode(&mut self, title_block: Option<usize>) -> Mode {
        let id_headings = self
            .blocks
            .iter()
            .enumerate()
            .filter(|(index, block)| {
                Some(*index) != title_block
                    && matches!(block, Block::Heading { text, .. } if id_from_heading(text).is_some())
            })
            .count();
        if id_headings > 0 {
            self.note(
                NoteLevel::Warning,
                None,
                "no packet board: packets from the headings that start with a packet id",
            );
            return Mode::IdHeadings;
        }
        let title_level = title_block.map_or(0, |_| 1);
        let level = (1..=6).find(|level| {
            *level > title_level
                && self.blocks.iter().enumerate().any(|(index, block)| {
                    matches!(block, Block::Heading { level: at, .. } if at == level)
                        && self.has_checkbox(index)
                })
        });
        match level {
            Some(level) => {
                self.note(
                    NoteLevel::Warning,
                    None,
                    format!(
                        "no packet board and no packet ids in headings: one packet per level-{level} section with checkboxes"
                    ),
                );
                Mode::Sections(level)
            }
            None => {
                self.note(
                    NoteLevel::Warning,
                    None,
                    "no packet board, packet headings or sections with checkboxes: the whole tracker is one packet",
                );
                Mode::Single
            }
        }
    }

    /// Whether the section a heading opens (down to the next heading of its level or above)
    /// holds a checkbox.
    fn has_checkbox(&self, heading: usize) -> bool {
        let Block::Heading { level, .. } = &self.blocks[heading] else {
            return false;
        };
        self.blocks[heading + 1..]
            .iter()
            .take_while(|block| !matches!(block, Block::Heading { level: at, .. } if at <= level))
            .any(|block| {
                matches!(
                    block,
                    Block::Item {
                        checked: Some(_),
                        ..
                    }
                )
            })
    }

    /// The packet a heading starts, if it starts one; creates packets as headings name them.
    fn starts_packet(&mut self, mode: Mode, index: usize) -> Option<usize> {
        let blocks = self.blocks;
        let Block::Heading {
            line, level, text, ..
        } = &blocks[index]
        else {
            return None;
        };
        let (line, level) = (*line, *level);
        match mode {
            Mode::Board => {
                let mentioned: BTreeSet<usize> =
                    self.mentions(text).into_iter().map(|(p, _, _)| p).collect();
                if mentioned.len() == 1 {
                    let packet = *mentioned.first().expect("one");
                    let starting = id_from_heading(text).filter(|(written, _)| {
                        self.packets[packet]
                            .forms
                            .iter()
                            .any(|form| form.eq_ignore_ascii_case(written))
                            || sanitize_id(written) == self.packets[packet].id
                    });
                    if starting.is_some() || level > 1 {
                        if self.packets[packet].title.is_none() {
                            self.packets[packet].title =
                                starting.and_then(|(_, rest)| title_from_rest(&rest));
                        }
                        return Some(packet);
                    }
                }
                if mentioned.is_empty() && level > 1 {
                    if let Some((written, rest)) = id_from_heading(text) {
                        let packet = self.add_packet(&written, sanitize_id(&written), line);
                        self.packets[packet].title = title_from_rest(&rest);
                        self.note(
                            NoteLevel::Warning,
                            Some(line),
                            format!(
                                "packet `{}` has a section but is not on the board: imported",
                                self.packets[packet].id
                            ),
                        );
                        return Some(packet);
                    }
                }
                None
            }
            Mode::IdHeadings => {
                let (written, rest) = id_from_heading(text)?;
                let id = sanitize_id(&written);
                if let Some(packet) = self
                    .packets
                    .iter()
                    .position(|packet| packet.id == id || packet.forms.contains(&written))
                {
                    return Some(packet);
                }
                let packet = self.add_packet(&written, id, line);
                self.packets[packet].title = title_from_rest(&rest);
                Some(packet)
            }
            Mode::Sections(at) => {
                if level != at || !self.has_checkbox(index) {
                    return None;
                }
                let title = plain_inline(text);
                let mut id = sanitize_id(&title).to_lowercase();
                if id.is_empty() {
                    id = format!("section-{line}");
                }
                let packet = self.add_packet(&id, id.clone(), line);
                self.packets[packet].title = Some(title).filter(|title| !title.is_empty());
                Some(packet)
            }
            Mode::Single => None,
        }
    }

    fn walk(&mut self, mode: Mode, title_block: Option<usize>, board: Option<usize>) {
        let mut current: Option<(usize, usize)> = None;
        if mode == Mode::Single {
            let name = self
                .title
                .as_ref()
                .map(|(_, title)| title.clone())
                .unwrap_or_else(|| self.source_stem());
            let mut id = sanitize_id(&name).to_lowercase();
            if id.is_empty() {
                id = "tracker".to_string();
            }
            let packet = self.add_packet(&id, id.clone(), 1);
            self.packets[packet].title = Some(name);
            self.packets[packet].placed = true;
            self.segments.push(Segment::Packet(packet));
            current = Some((packet, 0));
        }
        let mut general: Vec<usize> = Vec::new();
        let mut state = PacketState::default();
        let blocks = self.blocks;
        for (index, block) in blocks.iter().enumerate() {
            if Some(index) == title_block {
                continue;
            }
            if Some(index) == board {
                if let Block::Table { first, last, .. } = block {
                    self.flush(&mut general);
                    self.segments.push(Segment::Board {
                        first: *first,
                        last: *last,
                    });
                    // Board packets without a section of their own are written here.
                    for packet in 0..self.packets.len() {
                        if self.packets[packet].board_row.is_some() {
                            self.segments.push(Segment::PacketSlot(packet));
                        }
                    }
                }
                continue;
            }
            if let Block::Heading { level, line, .. } = block {
                let (level, line) = (*level, *line);
                let inside = matches!(current, Some((_, at)) if level > at);
                if !inside {
                    if let Some(packet) = self.starts_packet(mode, index) {
                        self.flush(&mut general);
                        if !self.packets[packet].placed {
                            self.packets[packet].placed = true;
                            self.segments.push(Segment::Packet(packet));
                        }
                        self.packets[packet].headings.push(line);
                        for at in block.lines() {
                            self.region[at - 1] = Some(packet);
                            // A setext heading's underline.
                            if at != line {
                                self.mapped.insert(at);
                            }
                        }
                        current = Some((packet, level));
                        state = PacketState::default();
                        continue;
                    }
                    current = None;
                }
            }
            match current {
                Some((packet, _)) => {
                    for at in block.lines() {
                        self.region[at - 1] = Some(packet);
                    }
                    self.absorb(packet, index, &mut state);
                }
                None => {
                    if let Block::Item {
                        line,
                        checked: Some(_),
                        ..
                    } = block
                    {
                        self.note(
                            NoteLevel::Warning,
                            Some(*line),
                            "checkbox outside any packet: kept as a comment",
                        );
                    }
                    if !matches!(block, Block::Rule { .. }) {
                        general.extend(block.lines());
                    }
                }
            }
        }
        self.flush(&mut general);
        // Packet slots hold board packets that never got a section.
        let segments = std::mem::take(&mut self.segments);
        for segment in segments {
            match segment {
                Segment::PacketSlot(packet) => {
                    if !self.packets[packet].placed {
                        self.packets[packet].placed = true;
                        self.segments.push(Segment::Packet(packet));
                    }
                }
                other => self.segments.push(other),
            }
        }
    }

    fn flush(&mut self, general: &mut Vec<usize>) {
        if !general.is_empty() {
            self.segments
                .push(Segment::Comments(std::mem::take(general)));
        }
    }

    fn source_stem(&self) -> String {
        Path::new(self.source).file_stem().map_or_else(
            || self.source.to_string(),
            |stem| stem.to_string_lossy().into_owned(),
        )
    }

    /// One block of a packet's sections.
    fn absorb(&mut self, packet: usize, index: usize, state: &mut PacketState) {
        let blocks = self.blocks;
        let block = &blocks[index];
        let span: Vec<usize> = block.lines().collect();
        let follows_item = state
            .last_item
            .is_some_and(|(_, _, last_line)| span.first() == Some(&(last_line + 1)));
        match block {
            Block::Heading { text, .. } => {
                state.sub = classify(text);
                state.last_item = None;
                state.last_command = None;
                if state.sub == Sub::Commands {
                    self.mapped.extend(span);
                } else {
                    self.packets[packet].comments.extend(span);
                }
            }
            Block::Item {
                line,
                indent,
                checked,
                text,
            } => {
                let (line, indent) = (*line, *indent);
                if let Some((item, item_indent, _)) = state.last_item {
                    if state.sub == Sub::Main && checked.is_none() && indent > item_indent {
                        self.packets[packet].items[item].details.push(line);
                        state.last_item = Some((item, item_indent, line));
                        return;
                    }
                }
                state.last_item = None;
                if state.sub == Sub::Commands {
                    if checked.is_none() && state.last_command.is_some_and(|under| indent > under) {
                        self.packets[packet].comments.push(line);
                        return;
                    }
                    state.last_command = Some(indent);
                }
                match (state.sub, checked) {
                    (Sub::Commands, _) => self.command_item(packet, line, text, *checked),
                    (Sub::Main, Some(done)) => {
                        let text = plain_inline(text);
                        if text.is_empty() {
                            self.keep_as_comment(
                                packet,
                                line,
                                "checkbox without text: kept as a comment",
                            );
                            return;
                        }
                        self.packets[packet].items.push(ItemDraft {
                            line,
                            text,
                            checked: *done,
                            details: Vec::new(),
                        });
                        self.mapped.insert(line);
                        state.last_item =
                            Some((self.packets[packet].items.len() - 1, indent, line));
                    }
                    _ => {
                        if !(state.sub == Sub::Main && self.person_line(packet, line, text)) {
                            self.packets[packet].comments.push(line);
                        }
                    }
                }
            }
            Block::Text { line, indent, text } => {
                let line = *line;
                if let Some(sub) = pseudo_heading(text) {
                    state.sub = sub;
                    state.last_item = None;
                    if sub == Sub::Commands {
                        self.mapped.insert(line);
                    } else {
                        self.packets[packet].comments.push(line);
                    }
                    return;
                }
                if let Some((item, item_indent, _)) = state.last_item {
                    if *indent > item_indent || follows_item {
                        self.packets[packet].items[item].details.push(line);
                        state.last_item = Some((item, item_indent, line));
                        return;
                    }
                }
                state.last_item = None;
                if !(state.sub == Sub::Main && self.person_line(packet, line, text)) {
                    self.packets[packet].comments.push(line);
                }
            }
            Block::Fence {
                first, last, body, ..
            } => {
                state.last_item = None;
                if state.sub == Sub::Commands {
                    self.mapped.insert(*first);
                    self.mapped.insert(*last);
                    let body = body.clone();
                    self.command_fence(packet, &body);
                } else {
                    self.packets[packet].comments.extend(span);
                }
            }
            Block::Table { .. } => {
                state.last_item = None;
                self.packets[packet].comments.extend(span);
            }
            Block::Rule { .. } => {}
        }
    }

    /// `Implementer: alice` / `**Reviewer:** bob` in a packet's text.
    fn person_line(&mut self, packet: usize, line: usize, text: &str) -> bool {
        let person = static_regex!(
            r"(?i)^(implementer|implemented by|owner|assignee|reviewer|reviewed by)\s*:\s*(.+)$"
        );
        let plain = plain_inline(text);
        let Some(captures) = person.captures(&plain) else {
            return false;
        };
        let name = captures[2].trim().to_string();
        if is_blank_cell(&name) {
            return false;
        }
        let draft = &mut self.packets[packet];
        let slot = if captures[1].to_lowercase().starts_with("review") {
            &mut draft.reviewer
        } else {
            &mut draft.implementer
        };
        if slot.is_some() {
            return false;
        }
        *slot = Some(name);
        self.mapped.insert(line);
        true
    }

    /// A list item in a commands section: its code span is the command.
    fn command_item(&mut self, packet: usize, line: usize, text: &str, checked: Option<bool>) {
        let arrow = static_regex!(r"^(.+?)\s*(?:->|→|=>|⇒)\s*(.*)$");
        let (command, rest) = match code_span(text) {
            Some(found) => found,
            None => match arrow.captures(text) {
                Some(captures) if stated_exit_codes(&captures[2]).is_some() => {
                    (captures[1].to_string(), captures[2].to_string())
                }
                _ => {
                    self.keep_as_comment(
                        packet,
                        line,
                        "no command in backticks in a commands section: kept as a comment",
                    );
                    return;
                }
            },
        };
        self.add_command(packet, line, &command, &rest, checked);
    }

    /// A code block in a commands section: one command per line (`\` continues a line, `$ `
    /// prompts and `#` comments are dropped).
    fn command_fence(&mut self, packet: usize, body: &[usize]) {
        let arrow = static_regex!(r"^(.+?)\s+(?:->|→|=>|⇒)\s*(exit.*)$");
        let mut pending: Option<(usize, String)> = None;
        for &line in body {
            let text = self.lines[line - 1].trim();
            if pending.is_none() && (text.is_empty() || text.starts_with('#')) {
                if !text.is_empty() {
                    self.packets[packet].comments.push(line);
                }
                continue;
            }
            let (start, mut joined) = pending.take().unwrap_or((line, String::new()));
            self.mapped.insert(line);
            self.command_lines.insert(line);
            let text = text.strip_prefix("$ ").unwrap_or(text);
            if let Some(continued) = text.strip_suffix('\\') {
                joined.push_str(continued.trim_end());
                joined.push(' ');
                pending = Some((start, joined));
                continue;
            }
            joined.push_str(text);
            let (command, rest) = match arrow.captures(&joined) {
                Some(captures) => (captures[1].to_string(), captures[2].to_string()),
                None => (joined.clone(), String::new()),
            };
            self.add_command(packet, start, &command, &rest, None);
        }
        if let Some((start, joined)) = pending {
            self.add_command(packet, start, joined.trim(), "", None);
        }
    }

    fn add_command(
        &mut self,
        packet: usize,
        line: usize,
        command: &str,
        rest: &str,
        checked: Option<bool>,
    ) {
        let command = command.trim();
        if command.is_empty() {
            self.packets[packet].comments.push(line);
            return;
        }
        let mut run = command.to_string();
        if !matches!(references(&run), Ok(found) if found.is_empty()) {
            run = run.replace("${", "$${");
            self.note(
                NoteLevel::Warning,
                Some(line),
                "`${` in a command is written `$${` so that the gate passes it to the shell unchanged instead of reading a service reference",
            );
        }
        let expect = match stated_exit_codes(rest) {
            Some(codes) if codes.iter().all(|code| (0..=255).contains(code)) => codes,
            Some(_) => {
                self.note(
                    NoteLevel::Warning,
                    Some(line),
                    "an expected exit code above 255 is ignored: the check expects 0",
                );
                vec![0]
            }
            None => vec![0],
        };
        let timeout = stated_timeout(rest);
        let refused = destructive_git_command(&run);
        if let Some(name) = refused {
            self.note(
                NoteLevel::Warning,
                Some(line),
                format!(
                    "`{name}` is a destructive git command: the check is written commented out"
                ),
            );
        }
        let base = command_id(command);
        let mut id = base.clone();
        let mut suffix = 2;
        while id == PLACEHOLDER_CHECK
            || self.packets[packet]
                .checks
                .iter()
                .any(|check| check.id == id)
        {
            id = format!("{base}-{suffix}");
            suffix += 1;
        }
        self.mapped.insert(line);
        self.command_lines.insert(line);
        self.packets[packet].checks.push(CheckDraft {
            line,
            id,
            run,
            expect,
            timeout,
            checked,
            refused,
        });
    }

    /// `Linked plan:` / `Plan: docs/…` outside packets becomes `[gate] plan`.
    fn find_plan(&mut self) {
        let plan = static_regex!(r"(?i)^(?:linked\s+)?plan\s*:\s*(.*)$");
        let link_target = static_regex!(r"\[[^\]]*\]\(([^)\s]+)[^)]*\)");
        let blocks = self.blocks;
        for (index, block) in blocks.iter().enumerate() {
            let Block::Text { line, text, .. } = block else {
                continue;
            };
            if self.region[line - 1].is_some() || self.mapped.contains(line) {
                continue;
            }
            let value_of = |text: &str| {
                let value = link_target
                    .captures(text)
                    .map_or_else(|| plain_inline(text), |captures| captures[1].to_string());
                value.trim().trim_matches('`').trim().to_string()
            };
            let plain = plain_inline(text);
            let Some(captures) = plan.captures(&plain) else {
                continue;
            };
            let mut value = value_of(&captures[1]);
            let mut lines = vec![*line];
            if value.is_empty() {
                if let Some(Block::Item {
                    line: next,
                    text: next_text,
                    checked: None,
                    ..
                }) = blocks.get(index + 1)
                {
                    value = value_of(next_text);
                    lines.push(*next);
                }
            }
            if !value.is_empty() {
                self.plan = Some(value);
                self.mapped.extend(lines);
                return;
            }
        }
    }

    /// Packets mentioned in `text`, in order: (packet, start, end). `SEC-01..SEC-03` and
    /// `SEC-01 through SEC-03` include the packets between, in packet order.
    fn mentions(&self, text: &str) -> Vec<(usize, usize, usize)> {
        // ASCII lowercase keeps byte offsets valid in `text`.
        let lower = text.to_ascii_lowercase();
        let mut found: Vec<(usize, usize, usize)> = Vec::new();
        for (packet, draft) in self.packets.iter().enumerate() {
            for form in &draft.forms {
                let form = form.to_ascii_lowercase();
                if form.is_empty() {
                    continue;
                }
                let mut from = 0;
                while let Some(offset) = lower[from..].find(&form) {
                    let start = from + offset;
                    let end = start + form.len();
                    from = end;
                    let before = lower[..start].chars().next_back();
                    let after: Vec<char> = lower[end..].chars().take(2).collect();
                    let word =
                        |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
                    if word(before.as_ref())
                        || word(after.first())
                        || (after.first() == Some(&'-') && word(after.get(1)))
                    {
                        continue;
                    }
                    found.push((packet, start, end));
                }
            }
        }
        found.sort_by_key(|(packet, start, end)| (*start, std::cmp::Reverse(*end), *packet));
        let mut kept: Vec<(usize, usize, usize)> = Vec::new();
        for mention in found {
            if kept.last().is_some_and(|last| mention.1 < last.2) {
                continue;
            }
            kept.push(mention);
        }
        let range = static_regex!(r"(?i)^\s*(?:\.\.\.?|–|—|-|to|through|thru)\s*$");
        let mut expanded = Vec::new();
        for (at, mention) in kept.iter().enumerate() {
            expanded.push(*mention);
            if let Some(next) = kept.get(at + 1) {
                if next.0 > mention.0 + 1 && range.is_match(&text[mention.2..next.1]) {
                    for between in mention.0 + 1..next.0 {
                        expanded.push((between, mention.2, mention.2));
                    }
                }
            }
        }
        expanded
    }

    /// Dependency statements anywhere in the tracker (commands excepted).
    fn find_dependencies(&mut self) {
        let arrow = static_regex!(r"►|▶|→|⇒|⟶|-+>|=+>");
        let forward = static_regex!(
            r"(?i)\b(depends\s+on|depend\s+on|depending\s+on|dependent\s+on|blocked\s+by|requires|require|needs|waits?\s+for|after)\b"
        );
        let backward = static_regex!(r"(?i)\b(blocks|block|unblocks|before|precedes|enables)\b");
        // List markers, quote marks, checkboxes and bold before the text of a line.
        let lead = static_regex!(r"^(?:[\s>*_+#|-]|\d{1,9}[.)]|\[[ xX]\])*");
        if self.packets.len() < 2 {
            return;
        }
        for number in 1..=self.lines.len() {
            if self.command_lines.contains(&number)
                || self.title.as_ref().is_some_and(|(line, _)| *line == number)
                || self.packets.iter().any(|packet| {
                    packet
                        .board_row
                        .as_ref()
                        .is_some_and(|(row, _)| *row == number)
                })
            {
                continue;
            }
            let text = &self.lines[number - 1];
            let mut edges: Vec<(usize, usize)> = Vec::new();
            let segments: Vec<&str> = arrow.split(text).collect();
            if segments.len() > 1 {
                for pair in segments.windows(2) {
                    for (before, _, _) in self.mentions(pair[0]) {
                        for (after, _, _) in self.mentions(pair[1]) {
                            edges.push((after, before));
                        }
                    }
                }
            } else {
                let stripped = lead.replace(text, "").to_string();
                let first_forward = forward.find(&stripped);
                let first_backward = backward.find(&stripped);
                let (connector, is_forward) = match (first_forward, first_backward) {
                    (Some(f), Some(b)) if b.start() < f.start() => (b, false),
                    (Some(f), _) => (f, true),
                    (None, Some(b)) => (b, false),
                    (None, None) => continue,
                };
                let left: Vec<usize> = self
                    .mentions(&stripped[..connector.start()])
                    .into_iter()
                    .map(|(packet, _, _)| packet)
                    .collect();
                let right: Vec<usize> = self
                    .mentions(&stripped[connector.end()..])
                    .into_iter()
                    .map(|(packet, _, _)| packet)
                    .collect();
                let left = if left.is_empty() && connector.start() == 0 {
                    self.region[number - 1].into_iter().collect()
                } else {
                    left
                };
                for &l in &left {
                    for &r in &right {
                        edges.push(if is_forward { (l, r) } else { (r, l) });
                    }
                }
            }
            for (dependent, dependency) in edges {
                self.add_dependency(dependent, dependency, number);
            }
        }
    }

    /// Records that `dependent` depends on `dependency`, unless it is itself or would close a
    /// cycle.
    fn add_dependency(&mut self, dependent: usize, dependency: usize, line: usize) {
        if dependent == dependency {
            return;
        }
        if let Some((_, lines)) = self.packets[dependent]
            .depends_on
            .iter_mut()
            .find(|(dep, _)| *dep == dependency)
        {
            if !lines.contains(&line) {
                lines.push(line);
            }
            return;
        }
        if self.reaches(dependency, dependent) {
            let message = format!(
                "`{} depends on {}` would close a dependency cycle: not imported",
                self.packets[dependent].id, self.packets[dependency].id
            );
            self.note(NoteLevel::Warning, Some(line), message);
            return;
        }
        let message = format!(
            "{} depends on {}",
            self.packets[dependent].id, self.packets[dependency].id
        );
        self.note(NoteLevel::Note, Some(line), message);
        self.packets[dependent]
            .depends_on
            .push((dependency, vec![line]));
    }

    /// Whether `from` depends, directly or not, on `to`.
    fn reaches(&self, from: usize, to: usize) -> bool {
        let mut stack = vec![from];
        let mut seen = BTreeSet::new();
        while let Some(packet) = stack.pop() {
            if packet == to {
                return true;
            }
            if seen.insert(packet) {
                stack.extend(self.packets[packet].depends_on.iter().map(|(dep, _)| *dep));
            }
        }
        false
    }

    fn commented_lines(&self) -> BTreeSet<usize> {
        let mut lines = BTreeSet::new();
        for segment in &self.segments {
            if let Segment::Comments(list) = segment {
                lines.extend(list.iter().copied());
            }
        }
        lines.extend(self.board_kept.iter().copied());
        for packet in &self.packets {
            lines.extend(packet.comments.iter().copied());
            lines.extend(packet.headings.iter().copied());
            for item in &packet.items {
                lines.extend(item.details.iter().copied());
            }
        }
        lines.retain(|line| !self.lines[line - 1].trim().is_empty() && !self.mapped.contains(line));
        lines
    }

    /// Lines that are neither mapped nor commented (blank lines and rules aside).
    fn unplaced_lines(&self) -> Vec<usize> {
        let commented = self.commented_lines();
        let rules: BTreeSet<usize> = self
            .blocks
            .iter()
            .filter_map(|block| match block {
                Block::Rule { line } => Some(*line),
                _ => None,
            })
            .collect();
        (1..=self.lines.len())
            .filter(|line| {
                !self.lines[line - 1].trim().is_empty()
                    && !self.mapped.contains(line)
                    && !commented.contains(line)
                    && !rules.contains(line)
            })
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Rendering
    // -----------------------------------------------------------------------------------------

    fn source_line(&self, out: &mut String, prefix: &str, line: usize) {
        let text = comment_text(&self.lines[line - 1]);
        if text.trim().is_empty() {
            return;
        }
        let _ = writeln!(out, "{prefix}# {line}: {text}");
    }

    fn render(&self) -> String {
        let mut out = String::new();
        let source = comment_text(self.source);
        let _ = writeln!(
            out,
            "# Imported from {source} by `cargo xtask gate import`.\n\
             #\n\
             # Nothing the tracker claims counts as evidence here. Every checklist item is bound to\n\
             # its packet's `{PLACEHOLDER_CHECK}` check, which fails until you bind each item to the\n\
             # checks that prove it (by = [\"check-id\"]) or to a dated attestation\n\
             # (attested = {{ by = \"name\", on = \"YYYY-MM-DD\" }}) and then delete that check.\n\
             # Ticked boxes, statuses, review records and every line the importer could not map are\n\
             # kept as comments with their line in {source} (\"# 12: …\"); only blank lines and\n\
             # horizontal rules are left out."
        );
        out.push('\n');
        out.push_str("[gate]\n");
        let name = self
            .title
            .as_ref()
            .map_or_else(|| self.source_stem(), |(_, title)| title.clone());
        let _ = writeln!(out, "name = {}", quote(&name));
        if let Some(plan) = &self.plan {
            let _ = writeln!(out, "plan = {}", quote(plan));
        }
        let _ = writeln!(
            out,
            "\n[defaults]\n\
             timeout = \"{DEFAULT_TIMEOUT}\"   # a check that runs longer fails; set timeout = \"…\" on slow checks\n\
             severity = \"P0\"   # P0 blocks the release, P1 needs an [[accept]], P2 is tracked"
        );
        for segment in &self.segments {
            match segment {
                Segment::Comments(lines) => {
                    let lines: Vec<usize> = lines
                        .iter()
                        .copied()
                        .filter(|line| !self.mapped.contains(line))
                        .collect();
                    if !lines.is_empty() {
                        out.push('\n');
                    }
                    for line in lines {
                        self.source_line(&mut out, "", line);
                    }
                }
                Segment::Board { first, last } => {
                    let _ = writeln!(
                        out,
                        "\n# {first}-{last}: the packet board; each row is a [[packet]] below (columns the\n\
                         # gate has no key for are kept as comments on the packet)."
                    );
                    for line in &self.board_kept {
                        self.source_line(&mut out, "", *line);
                    }
                }
                Segment::Packet(packet) => self.render_packet(&mut out, *packet),
                Segment::PacketSlot(_) => {}
            }
        }
        out
    }

    fn render_packet(&self, out: &mut String, index: usize) {
        let packet = &self.packets[index];
        out.push('\n');
        if let Some(first) = packet.headings.first() {
            self.source_line(out, "", *first);
        }
        out.push_str("[[packet]]\n");
        let _ = writeln!(out, "id = {}", quote(&packet.id));
        if let Some((written, line)) = &packet.written_id {
            let _ = writeln!(
                out,
                "# {line}: the tracker writes this id `{}`",
                comment_text(&crate::redaction::redact(written))
            );
        }
        if let Some(title) = &packet.title {
            let _ = writeln!(out, "title = {}", quote(title));
        }
        if !packet.depends_on.is_empty() {
            let mut deps: Vec<&(usize, Vec<usize>)> = packet.depends_on.iter().collect();
            deps.sort_by_key(|(dep, _)| *dep);
            let mut lines: Vec<usize> = deps.iter().flat_map(|(_, lines)| lines.clone()).collect();
            lines.sort_unstable();
            lines.dedup();
            let _ = writeln!(
                out,
                "# depends_on from the tracker's line{} {}",
                if lines.len() == 1 { "" } else { "s" },
                line_list(&lines)
            );
            let ids: Vec<String> = deps
                .iter()
                .map(|(dep, _)| quote(&self.packets[*dep].id))
                .collect();
            let _ = writeln!(out, "depends_on = [{}]", ids.join(", "));
        }
        if let Some(implementer) = &packet.implementer {
            let _ = writeln!(out, "implementer = {}", quote(implementer));
        }
        if let Some(reviewer) = &packet.reviewer {
            let _ = writeln!(out, "reviewer = {}", quote(reviewer));
        }
        if let Some((line, extra)) = &packet.board_row {
            if !extra.is_empty() {
                let columns: Vec<String> = extra
                    .iter()
                    .map(|(name, value)| format!("{name}: {value}"))
                    .collect();
                let _ = writeln!(
                    out,
                    "# {line}: on the board (a hand claim, not evidence): {}",
                    comment_text(&crate::redaction::redact(&columns.join("; ")))
                );
            }
        }
        let needs_placeholder =
            !packet.items.is_empty() || packet.checks.iter().all(|check| check.refused.is_some());
        if !packet.items.is_empty() {
            out.push_str("checklist = [\n");
            let mut slugs = BTreeSet::new();
            for item in &packet.items {
                let claim = if item.checked {
                    "ticked [x] in the tracker: a hand claim, not evidence"
                } else {
                    "unticked in the tracker"
                };
                let _ = writeln!(out, "  # {}: {claim}", item.line);
                for detail in &item.details {
                    self.source_line(out, "  ", *detail);
                }
                // Masked before comparing: two items may differ only in a secret.
                let mut text = crate::redaction::redact(&item.text).into_owned();
                let slug = loader_slug(&text);
                if slug.is_empty() || slugs.contains(&slug) {
                    text = format!("{text} (line {})", item.line);
                }
                slugs.insert(loader_slug(&text));
                let _ = writeln!(
                    out,
                    "  {{ item = {}, by = [\"{PLACEHOLDER_CHECK}\"] }},",
                    quote(&text)
                );
            }
            out.push_str("]\n");
        }
        let mut comments = packet.comments.clone();
        comments.extend(packet.headings.iter().skip(1));
        comments.sort_unstable();
        comments.dedup();
        if !comments.is_empty() {
            out.push('\n');
        }
        for line in comments {
            self.source_line(out, "", line);
        }
        for check in &packet.checks {
            out.push('\n');
            let text = comment_text(self.lines[check.line - 1].trim());
            match check.checked {
                Some(true) => {
                    let _ = writeln!(
                        out,
                        "# {}: {text}\n# (ticked [x] in the tracker: a hand claim; this check's own result is what counts)",
                        check.line
                    );
                }
                _ => {
                    let _ = writeln!(out, "# {}: {text}", check.line);
                }
            }
            let prefix = if let Some(name) = check.refused {
                let _ = writeln!(
                    out,
                    "# Not imported: `{name}` is a destructive git command, which the gate refuses on\n\
                     # shared worktrees. If a check truly needs it, write it yourself with\n\
                     # allow_destructive = \"<reason>\"."
                );
                "# "
            } else {
                ""
            };
            let _ = writeln!(out, "{prefix}[[packet.check]]");
            let _ = writeln!(out, "{prefix}id = {}", quote(&check.id));
            let _ = writeln!(out, "{prefix}run = {}", quote(&check.run));
            if check.expect != [0] {
                let codes: Vec<String> = check.expect.iter().map(i64::to_string).collect();
                let value = if codes.len() == 1 {
                    codes[0].clone()
                } else {
                    format!("[{}]", codes.join(", "))
                };
                let _ = writeln!(out, "{prefix}expect = {{ exit = {value} }}");
            }
            if let Some(timeout) = &check.timeout {
                let _ = writeln!(out, "{prefix}timeout = {}", quote(timeout));
            }
        }
        if needs_placeholder {
            let what = if packet.items.is_empty() {
                "this packet has no check yet"
            } else {
                "no check or attestation backs the checklist of this packet yet"
            };
            let _ = writeln!(
                out,
                "\n# Fails until the packet's checklist is bound to real evidence; then delete it.\n\
                 [[packet.check]]\n\
                 id = \"{PLACEHOLDER_CHECK}\"\n\
                 run = {}\n\
                 severity = \"P0\"",
                quote(&format!(
                    "echo '{}: {what} (imported from a tracker)' >&2; exit 1",
                    packet.id
                ))
            );
        }
    }
}

/// Where the walk through one packet's sections is.
#[derive(Debug, Default)]
struct PacketState {
    sub: Sub,
    /// The last checklist item: (index, indent, last line it covers).
    last_item: Option<(usize, usize, usize)>,
    /// The indent of the last command item of a commands section: a plain item indented under
    /// it (its log, digest, note) is a detail kept as a comment, not another command.
    last_command: Option<usize>,
}

/// The packet-id column of a table header.
fn id_column(header: &[String]) -> Option<usize> {
    header.iter().position(|cell| {
        let name = plain_inline(cell).to_lowercase();
        let name = name.trim();
        matches!(
            name,
            "packet" | "packet id" | "packet #" | "id" | "ticket" | "work item" | "work package"
        ) || name.starts_with("packet")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{CheckKind, Gate, Satisfaction};
    use std::time::Duration;

    /// Imports `text`, loads the result with the spec loader and checks that no line was left
    /// without a place.
    fn import_text(text: &str) -> (Imported, Gate) {
        import_bytes(text.as_bytes())
    }

    fn import_bytes(bytes: &[u8]) -> (Imported, Gate) {
        let imported = import("tracker.md", bytes).unwrap_or_else(|err| panic!("{err}"));
        let gate = crate::spec::parse(Path::new("packets.toml"), &imported.toml)
            .unwrap_or_else(|err| panic!("{err}\n{}", imported.toml));
        assert!(
            !imported
                .notes
                .iter()
                .any(|note| note.message.contains("found no place")),
            "{:?}\n{}",
            imported.notes,
            imported.toml
        );
        let again = import("tracker.md", bytes).unwrap();
        assert_eq!(again.toml, imported.toml, "deterministic");
        (imported, gate)
    }

    fn ids(gate: &Gate) -> Vec<&str> {
        gate.packets
            .iter()
            .map(|packet| packet.id.as_str())
            .collect()
    }

    fn items(gate: &Gate, packet: &str) -> Vec<String> {
        gate.packet(packet)
            .unwrap_or_else(|| panic!("no packet {packet}"))
            .checklist
            .iter()
            .map(|item| item.text.clone())
            .collect()
    }

    fn command<'g>(gate: &'g Gate, packet: &str, check: &str) -> &'g crate::spec::CommandSpec {
        match &gate.packet(packet).unwrap().check(check).unwrap().kind {
            CheckKind::Command(spec) => spec,
            other => panic!("{other:?}"),
        }
    }

    fn warned(imported: &Imported, needle: &str) -> bool {
        imported
            .notes
            .iter()
            .any(|note| note.level == NoteLevel::Warning && note.message.contains(needle))
    }

    const BOARD: &str = "\
# Release tracker

Linked plan: docs/plan.md

## Rules

1. Do not use destructive git commands.

## Packet Board

| Packet | Title | Status | Implementer | Reviewer |
|---|---|---|---|---|
| SEC-00 | Scope | DONE | alice | bob |
| SEC-01 | Replay | PENDING | carol | — |

## SEC-00 Checklist: Scope

- [x] Scope declared.
- [ ] Rubric documented.

### Required Commands

- [x] `cargo build` -> exit 0

## SEC-01 Checklist: Replay

Depends on: SEC-00

- [ ] Suites rerun.
";

    #[test]
    fn the_board_gives_packets_people_and_statuses_as_comments() {
        let (imported, gate) = import_text(BOARD);
        assert_eq!(ids(&gate), ["SEC-00", "SEC-01"]);
        assert_eq!(gate.name, "Release tracker");
        assert_eq!(gate.plan_link.as_deref(), Some("docs/plan.md"));
        let sec00 = gate.packet("SEC-00").unwrap();
        assert_eq!(sec00.title, "Scope");
        assert_eq!(sec00.implementer.as_deref(), Some("alice"));
        assert_eq!(sec00.reviewer.as_deref(), Some("bob"));
        assert_eq!(
            gate.packet("SEC-01").unwrap().reviewer,
            None,
            "a dash is nobody"
        );
        assert_eq!(gate.packet("SEC-01").unwrap().depends_on, ["SEC-00"]);
        assert_eq!(
            command(&gate, "SEC-00", "cargo-build").display,
            "cargo build"
        );
        let toml = &imported.toml;
        assert!(
            toml.contains("# 13: on the board (a hand claim, not evidence): Status: DONE"),
            "{toml}"
        );
        assert!(
            toml.contains("# 7: 1. Do not use destructive git commands."),
            "{toml}"
        );
        assert!(
            toml.contains("# 26: Depends on: SEC-00") || toml.contains("depends_on"),
            "{toml}"
        );
    }

    #[test]
    fn details_under_a_command_are_comments_not_commands() {
        // relgate's own tracker.md nests the log and its digest under each command.
        let text = "\
## SEC-00 Checklist: Scope

- [ ] Builds.

### Required Commands

- [x] `cargo build` -> exit 0 (8.1s)
  - log: `logs/SEC-00/build.log` (228 bytes, sha256 `d85e2b41`)
- [ ] `cargo test` -> exit 0
";
        let (imported, gate) = import_text(text);
        let commands: Vec<&str> = gate
            .packet("SEC-00")
            .unwrap()
            .checks
            .iter()
            .filter(|check| check.id != PLACEHOLDER_CHECK)
            .map(|check| check.id.as_str())
            .collect();
        assert_eq!(commands, ["cargo-build", "cargo-test"]);
        assert!(
            imported
                .toml
                .contains("# 8:   - log: `logs/SEC-00/build.log`"),
            "{}",
            imported.toml
        );
    }

    #[test]
    fn a_ticked_box_is_a_comment_and_never_satisfies_an_item() {
        let (imported, gate) = import_text(BOARD);
        let sec00 = gate.packet("SEC-00").unwrap();
        for item in &sec00.checklist {
            assert!(
                matches!(&item.satisfied_by, Satisfaction::Checks(by) if by == &[PLACEHOLDER_CHECK]),
                "{item:?}"
            );
        }
        let placeholder = command(&gate, "SEC-00", PLACEHOLDER_CHECK);
        assert_eq!(placeholder.expect_exit, [0]);
        assert!(
            placeholder.display.ends_with("exit 1"),
            "{}",
            placeholder.display
        );
        assert_eq!(
            gate.packet("SEC-00")
                .unwrap()
                .check(PLACEHOLDER_CHECK)
                .unwrap()
                .severity,
            crate::spec::Severity::P0
        );
        let toml = &imported.toml;
        assert!(
            toml.contains("# 18: ticked [x] in the tracker: a hand claim, not evidence"),
            "{toml}"
        );
        assert!(toml.contains("# 19: unticked in the tracker"), "{toml}");
        assert!(
            toml.contains("# 23: - [x] `cargo build` -> exit 0\n# (ticked [x]"),
            "{toml}"
        );
    }

    #[test]
    fn crlf_and_a_bom_are_normalised() {
        let text = BOARD.replace('\n', "\r\n");
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(text.as_bytes());
        let (imported, gate) = import_bytes(&bytes);
        assert!(!imported.toml.contains('\r'));
        assert_eq!(ids(&gate), ["SEC-00", "SEC-01"]);
        assert_eq!(
            items(&gate, "SEC-00"),
            ["Scope declared.", "Rubric documented."]
        );
        assert_eq!(imported.toml, import_text(BOARD).0.toml);
        let (old_mac, _) = import_text(&BOARD.replace('\n', "\r"));
        assert_eq!(old_mac.toml, imported.toml);
    }

    #[test]
    fn utf16_with_a_bom_is_decoded() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "## SEC-01: Héllo\n- [ ] één\n".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let (_, gate) = import_bytes(&bytes);
        assert_eq!(gate.packet("SEC-01").unwrap().title, "Héllo");
        assert_eq!(items(&gate, "SEC-01"), ["één"]);
    }

    #[test]
    fn headings_of_any_level_name_packets() {
        let text = "\
Tracker
=======

#### SEC-07 — Deep heading
- [ ] Deep item.

### P2: Short id
- [ ] Short item.

## Packet 3
- [ ] Worded item.

SEC-09 Setext packet
--------------------
- [ ] Setext item.
";
        let (imported, gate) = import_text(text);
        assert_eq!(ids(&gate), ["SEC-07", "P2", "Packet-3", "SEC-09"]);
        assert_eq!(gate.name, "Tracker");
        assert_eq!(gate.packet("SEC-07").unwrap().title, "Deep heading");
        assert_eq!(gate.packet("P2").unwrap().title, "Short id");
        assert_eq!(items(&gate, "SEC-09"), ["Setext item."]);
        assert!(warned(&imported, "no packet board"));
        assert!(
            warned(&imported, "`Packet 3` became `Packet-3`"),
            "{:?}",
            imported.notes
        );
    }

    #[test]
    fn without_ids_each_section_with_checkboxes_is_a_packet() {
        let text = "\
# Plan

Intro text.

## Notes
Nothing to tick here.

## Backend
### Tasks
- [ ] API hardened.
  - detail one
- [x] DB migrated.
### Commands
- `make test` -> exit 0

## Frontend
- [ ] UI reviewed.
";
        let (imported, gate) = import_text(text);
        assert_eq!(ids(&gate), ["backend", "frontend"]);
        assert_eq!(items(&gate, "backend"), ["API hardened.", "DB migrated."]);
        assert_eq!(command(&gate, "backend", "make-test").display, "make test");
        let toml = &imported.toml;
        assert!(toml.contains("  # 11:   - detail one"), "{toml}");
        assert!(toml.contains("# 3: Intro text."), "{toml}");
        assert!(toml.contains("# 6: Nothing to tick here."), "{toml}");
        assert!(warned(&imported, "one packet per level-2 section"));
    }

    #[test]
    fn emoji_stay_in_titles_and_leave_ids() {
        let text = "\
# 🚀 Launch tracker

| Packet | Title |
|---|---|
| 🔐 SEC-01 | Lock it down 🔒 |

## 🔐 SEC-01 — Lock it down 🔒
- [ ] ✅ Keys rotated 🔑
- [ ] 🔥
";
        let (imported, gate) = import_text(text);
        assert_eq!(ids(&gate), ["SEC-01"]);
        assert_eq!(gate.name, "🚀 Launch tracker");
        assert_eq!(gate.packet("SEC-01").unwrap().title, "Lock it down 🔒");
        assert_eq!(
            items(&gate, "SEC-01"),
            ["✅ Keys rotated 🔑", "🔥 (line 9)"]
        );
        assert!(
            warned(&imported, "`🔐 SEC-01` became `SEC-01`"),
            "{:?}",
            imported.notes
        );
        assert!(imported
            .toml
            .contains("# 5: the tracker writes this id `🔐 SEC-01`"));
    }

    #[test]
    fn mojibake_is_repaired_line_by_line() {
        assert_eq!(
            repair_mojibake("Tracker â€” phase 1").as_deref(),
            Some("Tracker — phase 1")
        );
        assert_eq!(
            repair_mojibake("## ðŸ”´ Critical").as_deref(),
            Some("## 🔴 Critical")
        );
        assert_eq!(
            repair_mojibake("## ðŸŸ\u{a0}Medium").as_deref(),
            Some("## 🟠Medium")
        );
        assert_eq!(repair_mojibake("âœ… Done").as_deref(), Some("✅ Done"));
        assert_eq!(repair_mojibake("cafÃ©").as_deref(), Some("café"));
        // Encoded three times.
        assert_eq!(repair_mojibake("cafÃƒÂ©").as_deref(), Some("café"));
        let text = "# Tracker â€” SEC-001\n\n## ðŸ”´ Critical\n- [ ] **RLS** â†’ blocked\n";
        let (imported, gate) = import_text(text);
        assert_eq!(gate.name, "Tracker — SEC-001");
        assert_eq!(gate.packet("critical").unwrap().title, "🔴 Critical");
        assert_eq!(items(&gate, "critical"), ["RLS → blocked"]);
        assert!(!imported.toml.contains("â€"), "{}", imported.toml);
        assert!(warned(&imported, "double-encoded as UTF-8 (mojibake"));
    }

    #[test]
    fn correct_utf8_with_accents_is_left_alone() {
        for line in [
            "café résumé naïve",
            "Ünïcödé — “quoted” … 100 €",
            "é",
            "Straße ß",
            "日本語 🔴",
            "plain ascii",
        ] {
            assert_eq!(repair_mojibake(line), None, "{line}");
        }
        let text = "## SEC-01: Café crème — été\n- [ ] Vérifié « oui »\n";
        let (imported, gate) = import_text(text);
        assert_eq!(gate.packet("SEC-01").unwrap().title, "Café crème — été");
        assert_eq!(items(&gate, "SEC-01"), ["Vérifié « oui »"]);
        assert!(!warned(&imported, "mojibake"));
    }

    #[test]
    fn invalid_utf8_is_replaced_with_a_warning() {
        let (imported, gate) = import_bytes(b"## SEC-01: Bad \xff byte\n- [ ] item\n");
        assert_eq!(gate.packet("SEC-01").unwrap().title, "Bad \u{fffd} byte");
        let note = imported
            .notes
            .iter()
            .find(|note| note.message.contains("not valid UTF-8"))
            .expect("a warning");
        assert_eq!(note.line, Some(1));
    }

    #[test]
    fn empty_and_binary_input_is_refused() {
        assert!(matches!(import("t.md", b""), Err(ImportError::Empty)));
        assert!(matches!(
            import("t.md", b" \r\n\n"),
            Err(ImportError::Empty)
        ));
        assert!(matches!(
            import("t.md", b"ab\0cd"),
            Err(ImportError::Binary)
        ));
    }

    #[test]
    fn no_structure_at_all_is_one_packet_and_all_comments() {
        let text = "Some notes\nwithout any structure.\n";
        let (imported, gate) = import_text(text);
        assert_eq!(ids(&gate), ["tracker"]);
        let packet = gate.packet("tracker").unwrap();
        assert!(packet.checklist.is_empty());
        assert!(
            packet.check(PLACEHOLDER_CHECK).is_some(),
            "never vacuously DONE"
        );
        assert!(imported.toml.contains("# 1: Some notes"));
        assert!(imported.toml.contains("# 2: without any structure."));
        assert!(warned(&imported, "the whole tracker is one packet"));
    }

    #[test]
    fn a_board_without_titles_takes_them_from_headings_and_keeps_its_dependency_column() {
        let text = "\
| ID | Depends on |
|---|---|
| SEC-01 | — |
| SEC-02 | SEC-01, SEC-99 |

## SEC-02 — Second
- [ ] x
";
        let (imported, gate) = import_text(text);
        assert_eq!(gate.packet("SEC-01").unwrap().title, "SEC-01");
        assert_eq!(gate.packet("SEC-02").unwrap().title, "Second");
        assert_eq!(gate.packet("SEC-02").unwrap().depends_on, ["SEC-01"]);
        assert!(
            imported.toml.contains("Depends on: SEC-01, SEC-99"),
            "{}",
            imported.toml
        );
    }

    #[test]
    fn a_packet_without_commands_or_checklist_still_cannot_pass() {
        let text = "| Packet | Title |\n|---|---|\n| SEC-01 | Only on the board |\n";
        let (_, gate) = import_text(text);
        let packet = gate.packet("SEC-01").unwrap();
        assert_eq!(packet.title, "Only on the board");
        let ids: Vec<&str> = packet
            .checks
            .iter()
            .map(|check| check.id.as_str())
            .collect();
        assert_eq!(ids, [PLACEHOLDER_CHECK]);
    }

    #[test]
    fn a_missing_command_section_gives_no_checks() {
        let (imported, gate) = import_text("## SEC-01: A\n- [ ] one\n- [ ] two\n");
        let packet = gate.packet("SEC-01").unwrap();
        let ids: Vec<&str> = packet
            .checks
            .iter()
            .map(|check| check.id.as_str())
            .collect();
        assert_eq!(ids, [PLACEHOLDER_CHECK]);
        assert_eq!(imported.packets[0].checks, 0);
        assert_eq!(imported.packets[0].checklist, 2);
    }

    #[test]
    fn a_table_it_cannot_map_is_kept_as_comments() {
        let text = "\
## SEC-01: A
- [ ] one

| Risk | Likelihood |
|------|------------|
| Leak | high |

## Appendix

| Term | Meaning |
|---|---|
| RLS | row-level security |
";
        let (imported, _) = import_text(text);
        for line in [
            "# 4: | Risk | Likelihood |",
            "# 5: |------|------------|",
            "# 6: | Leak | high |",
            "# 8: ## Appendix",
            "# 10: | Term | Meaning |",
            "# 12: | RLS | row-level security |",
        ] {
            assert!(imported.toml.contains(line), "{line}\n{}", imported.toml);
        }
    }

    #[test]
    fn expected_exit_codes_and_timeouts_are_kept() {
        let text = "\
## SEC-01: A
### Required commands
- [ ] `./audit.sh` -> exit 1
- [ ] `./lint.sh` → exit codes 0 or 2
- `./slow.sh` -> exit 0 (timeout 90 seconds)
- [ ] `./plain.sh`
- [ ] ``echo `date` `` -> exit 0
- [ ] make check -> exit 3
- [ ] run the migration by hand
```sh
$ ./fenced.sh --flag -> exit 4
# a comment in the block
./long.sh \\
  --more
```
";
        let (imported, gate) = import_text(text);
        assert_eq!(command(&gate, "SEC-01", "audit-sh").expect_exit, [1]);
        assert_eq!(command(&gate, "SEC-01", "lint-sh").expect_exit, [0, 2]);
        assert_eq!(command(&gate, "SEC-01", "plain-sh").expect_exit, [0]);
        assert_eq!(command(&gate, "SEC-01", "echo-date").display, "echo `date`");
        assert_eq!(command(&gate, "SEC-01", "make-check").expect_exit, [3]);
        assert_eq!(command(&gate, "SEC-01", "fenced-sh").expect_exit, [4]);
        assert_eq!(
            command(&gate, "SEC-01", "fenced-sh").display,
            "./fenced.sh --flag"
        );
        assert_eq!(
            command(&gate, "SEC-01", "long-sh").display,
            "./long.sh --more"
        );
        let slow = gate.packet("SEC-01").unwrap().check("slow-sh").unwrap();
        assert_eq!(slow.timeout, Duration::from_secs(90));
        assert!(
            imported.toml.contains("expect = { exit = [0, 2] }"),
            "{}",
            imported.toml
        );
        assert!(imported
            .toml
            .contains("# 9: - [ ] run the migration by hand"));
        assert!(imported.toml.contains("# 12: # a comment in the block"));
        assert!(warned(&imported, "no command in backticks"));
    }

    #[test]
    fn a_destructive_command_is_commented_out() {
        let text = "\
## SEC-01: A
### Commands
- [ ] `git reset --hard origin/main` -> exit 0
- [ ] `make test`
";
        let (imported, gate) = import_text(text);
        let packet = gate.packet("SEC-01").unwrap();
        assert!(packet.check("git-reset").is_none());
        assert!(packet.check("make-test").is_some());
        let toml = &imported.toml;
        assert!(
            toml.contains("# run = \"git reset --hard origin/main\""),
            "{toml}"
        );
        assert!(
            toml.contains("`git reset --hard` is a destructive git command"),
            "{toml}"
        );
        assert!(!toml.contains("\nallow_destructive"), "{toml}");
        assert!(warned(&imported, "destructive git command"));
        assert_eq!(imported.packets[0].commented_checks, 1);
    }

    #[test]
    fn ids_are_sanitised_and_deduplicated() {
        assert_eq!(sanitize_id("SEC 01"), "SEC-01");
        assert_eq!(sanitize_id("**[SEC-02](#sec-02)**"), "SEC-02");
        assert_eq!(sanitize_id("-_.x"), "x");
        assert_eq!(sanitize_id("Ünïcode/Packet #4!"), "n-code-Packet-4");
        assert_eq!(sanitize_id("🔥"), "");
        let text = "\
| ID | Title |
|---|---|
| SEC 01 | One |
| `SEC/02` | Two |
| SEC 01 | Again |
| — | Nobody |
";
        let (imported, gate) = import_text(text);
        assert_eq!(ids(&gate), ["SEC-01", "SEC-02"]);
        assert!(warned(&imported, "`SEC 01` became `SEC-01`"));
        assert!(warned(&imported, "on the board twice"));
        assert!(warned(&imported, "board row without a packet id"));
        assert!(imported.toml.contains("# 5: | SEC 01 | Again |"));
        assert!(imported.toml.contains("# 6: | — | Nobody |"));
    }

    #[test]
    fn duplicate_items_and_check_ids_stay_apart() {
        let text = "\
## SEC-01: A
- [ ] Same.
- [ ] Same!
### Commands
- `make test`
- `make test -- --slow`
- `needs evidence`
";
        let (_, gate) = import_text(text);
        assert_eq!(items(&gate, "SEC-01"), ["Same.", "Same! (line 3)"]);
        let packet = gate.packet("SEC-01").unwrap();
        let ids: Vec<&str> = packet
            .checks
            .iter()
            .map(|check| check.id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "make-test",
                "make-test-2",
                "needs-evidence-2",
                PLACEHOLDER_CHECK
            ]
        );
    }

    #[test]
    fn dependencies_from_statements_arrows_and_ranges() {
        let text = "\
## SEC-00: Start
- [ ] a
## SEC-01: One
Depends on: SEC-00
- [ ] b
## SEC-02: Two
- [ ] c
## SEC-03: Three
- [ ] d
## Order
SEC-01 ──blocks──► SEC-02
SEC-02 -> SEC-03 -> SEC-01
Nothing in SEC-00..SEC-02 blocks SEC-03.
";
        let (imported, gate) = import_text(text);
        assert_eq!(gate.packet("SEC-01").unwrap().depends_on, ["SEC-00"]);
        assert_eq!(gate.packet("SEC-02").unwrap().depends_on, ["SEC-01"]);
        assert_eq!(
            gate.packet("SEC-03").unwrap().depends_on,
            ["SEC-00", "SEC-01", "SEC-02"]
        );
        assert!(warned(
            &imported,
            "`SEC-01 depends on SEC-03` would close a dependency cycle"
        ));
        assert!(imported.toml.contains("# 12: SEC-02 -> SEC-03 -> SEC-01"));
    }

    #[test]
    fn service_references_in_commands_reach_the_shell_unchanged() {
        let text = "## SEC-01: A\n### Commands\n- `curl ${api.url}/x && echo ${HOME}`\n";
        let (imported, gate) = import_text(text);
        let spec = command(&gate, "SEC-01", "curl-api-url-x-echo-home");
        assert_eq!(spec.display, "curl $${api.url}/x && echo $${HOME}");
        assert!(warned(&imported, "is written `$${`"));
    }

    #[test]
    fn checkboxes_outside_packets_are_kept_and_reported() {
        let text = "\
| Packet | Title |
|---|---|
| SEC-01 | One |

## Definition of done
- [ ] Everything green.
";
        let (imported, _) = import_text(text);
        assert!(imported.toml.contains("# 6: - [ ] Everything green."));
        assert!(warned(&imported, "checkbox outside any packet"));
    }

    #[test]
    fn strings_are_escaped_for_toml() {
        let text = r#"## SEC-01: Say "hi" \ 'there' '''
- [ ] C:\path "quoted" \u0041 \n
### Commands
- `printf '%s\n' "a\"b"`
"#;
        let (_, gate) = import_text(text);
        assert_eq!(
            gate.packet("SEC-01").unwrap().title,
            r#"Say "hi" \ 'there' '''"#
        );
        assert_eq!(items(&gate, "SEC-01"), [r#"C:\path "quoted" \u0041 \n"#]);
        assert_eq!(
            command(&gate, "SEC-01", "printf-s-n-a-b").display,
            r#"printf '%s\n' "a\"b""#
        );
    }

    #[test]
    fn sections_are_classified_by_whole_words() {
        assert_eq!(classify("Required Commands"), Sub::Commands);
        assert_eq!(classify("Commands run + exit codes"), Sub::Commands);
        assert_eq!(classify("Command output"), Sub::Kept);
        assert_eq!(classify("SEC-00 Review Record"), Sub::Kept);
        assert_eq!(classify("Review Gates"), Sub::Kept);
        assert_eq!(classify("Review Evidence"), Sub::Kept);
        assert_eq!(classify("Login hardening"), Sub::Main);
        assert_eq!(classify("Investigate delegated tokens"), Sub::Main);
        assert_eq!(classify("Acceptance criteria"), Sub::Main);
    }

    #[test]
    fn control_characters_cannot_break_a_comment() {
        let (imported, _) = import_text("## SEC-01: A\u{7}\nnote\u{1b}[31m red\n- [ ] x\n");
        assert!(
            imported.toml.contains("# 2: note\u{fffd}[31m red"),
            "{}",
            imported.toml
        );
    }
}
