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

macro_rules! static_regex {
    ($pattern:expr) => {{
        static CELL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
        CELL.get_or_init(|| regex::Regex::new($pattern).expect("static regex"))
    }};
}

mod decode;
mod dependencies;
mod markdown;
mod mentions;
mod order;
mod packets;
mod render;
#[cfg(test)]
mod tests;
mod text;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::fmt::Write as _;
use std::path::Path;

use crate::spec::{destructive_git_command, parse_duration, references};
use decode::decode;
use markdown::{parse_blocks, Block};
use text::*;

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
    /// The ids of `checks`.
    check_ids: HashSet<String>,
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
    mapped: LineSet,
    /// Lines that hold commands (not scanned for dependency statements).
    command_lines: LineSet,
    /// The packet whose section holds each line (index = line - 1).
    region: Vec<Option<usize>>,
    /// Board rows that could not become packets.
    board_kept: Vec<usize>,
    /// Packet index by id.
    by_id: HashMap<String, usize>,
    /// The first packet that has each form.
    by_form: HashMap<String, usize>,
    /// Where packets are mentioned.
    finder: mentions::MentionFinder,
    /// The dependencies recorded so far, in a topological order.
    order: order::DependencyOrder,
    /// Index in the dependent's `depends_on` of each recorded (dependent, dependency).
    edges: HashMap<(usize, usize), usize>,
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
            mapped: LineSet::new(lines.len()),
            command_lines: LineSet::new(lines.len()),
            region: vec![None; lines.len()],
            board_kept: Vec::new(),
            by_id: HashMap::new(),
            by_form: HashMap::new(),
            finder: mentions::MentionFinder::default(),
            order: order::DependencyOrder::default(),
            edges: HashMap::new(),
        }
    }

    /// Keeps a source line as a comment of `packet`, with a warning saying why.
    fn keep_as_comment(&mut self, packet: usize, line: usize, why: &str) {
        self.note(NoteLevel::Warning, Some(line), why);
        self.packets[packet].comments.push(line);
    }

    fn note(&mut self, level: NoteLevel, line: Option<usize>, message: impl Into<String>) {
        // Notes quote the tracker, whose text may hold a secret once Markdown is cleaned up.
        let message = crate::output::redaction::redact(&message.into()).into_owned();
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
}

/// A set of the tracker's 1-based line numbers: a flag per line, not a tree (it is asked
/// about every line, several times).
#[derive(Debug)]
struct LineSet(Vec<bool>);

impl LineSet {
    fn new(lines: usize) -> LineSet {
        LineSet(vec![false; lines + 1])
    }

    fn insert(&mut self, line: usize) {
        if let Some(flag) = self.0.get_mut(line) {
            *flag = true;
        }
    }

    fn contains(&self, line: &usize) -> bool {
        self.0.get(*line).copied().unwrap_or(false)
    }

    fn extend(&mut self, lines: impl IntoIterator<Item = usize>) {
        for line in lines {
            self.insert(line);
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
