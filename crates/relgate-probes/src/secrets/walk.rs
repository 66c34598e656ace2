//! Walking the tree: which files are scanned (the configured paths and globs, minus excludes,
//! minus what `.gitignore` files ignore, never `.git`), skipping binary and oversized files,
//! and turning rule hits into located, fingerprinted, redacted findings.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::WalkBuilder;
use sha2::{Digest, Sha256};

use super::error::ScanError;
use super::rules::{redact_matches, ruleset};
use super::rules::{RuleSet, Selection};
use crate::mask::MASK;

/// Default `max_file_size`: 1 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1024 * 1024;

/// One secret found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule id (`github-token`, `private-key`, `generic-secret`…).
    pub rule: String,
    /// Path relative to the scanned root, `/`-separated.
    pub path: String,
    /// 1-based line of the secret's first character.
    pub line: usize,
    /// 1-based column (in characters) of the secret's first character.
    pub column: usize,
    /// `sha256("<rule>:<path>:<secret>")` in lower-case hex: stable when the secret moves to
    /// another line of the same file, different when it changes or moves to another file.
    pub fingerprint: String,
    /// The secret's line with the secret cut to its first (at most four) characters followed
    /// by `[REDACTED]`; never the secret in clear.
    pub snippet: String,
}

/// What [`scan_tree`] scans and with which rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOptions {
    /// Directories, files or globs (`.gitignore` syntax) relative to the root; `["."]` by default.
    pub paths: Vec<String>,
    /// Globs (`.gitignore` syntax, relative to the root) of files and directories to skip.
    pub exclude: Vec<String>,
    /// Larger files are skipped.
    pub max_file_size: u64,
    /// Rule ids to apply; `None` for every scanning rule.
    pub rules: Option<Vec<String>>,
    /// Shannon entropy (bits per byte) the `generic-secret` rule requires; `None` for 3.5.
    pub entropy: Option<f64>,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            paths: vec![".".to_string()],
            exclude: Vec::new(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            rules: None,
            entropy: None,
        }
    }
}

/// Scans the files under `root` that `options` selects — never `.git`, nor what `.gitignore`
/// files (nested ones and `.git/info/exclude` included) ignore, nor binary files (a NUL byte
/// in the first 8 KiB) — and returns the findings by path and position. `Err` when the rules
/// or globs are invalid, a path does not exist or a file cannot be read.
pub fn scan_tree(root: &Path, options: &ScanOptions) -> Result<Vec<Finding>, ScanError> {
    let rules = ruleset().map_err(ScanError::Rules)?;
    Ok(scan(root, options, rules, None)?.findings)
}

/// How many leading bytes decide that a file is binary (it has a NUL byte in them).
const BINARY_SNIFF: usize = 8 * 1024;
/// How many characters of context a snippet keeps on each side of the secret.
const SNIPPET_CONTEXT: usize = 40;

/// What a scan saw.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Findings, by path then position.
    pub(crate) findings: Vec<Finding>,
    /// Files scanned.
    pub(crate) files: usize,
    /// Files skipped for their size: path and size in bytes.
    pub(crate) too_large: Vec<(String, u64)>,
    /// Files skipped as binary.
    pub(crate) binary: Vec<String>,
    /// Problems that did not stop the scan (a malformed `.gitignore` line).
    pub(crate) notes: Vec<String>,
}

/// Whether a configured path is a glob (otherwise a file or directory).
pub(crate) fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '[', '{'])
}

/// Checks one glob of `paths` or `exclude` (`.gitignore` syntax).
pub(crate) fn check_glob(glob: &str) -> Result<(), ScanError> {
    let invalid = |source| ScanError::InvalidGlob {
        what: format!("`{glob}`"),
        source,
    };
    let mut builder = GitignoreBuilder::new("");
    builder.allow_unclosed_class(false);
    builder.add_line(None, glob).map_err(invalid)?;
    builder.build().map(|_| ()).map_err(invalid)
}

/// Checks a path that must stay inside the gate root.
pub(crate) fn check_relative(path: &str) -> Result<(), ScanError> {
    let path = Path::new(path);
    if path.is_absolute() || path.components().any(|part| part == Component::ParentDir) {
        return Err(ScanError::LeavesRoot {
            path: path.display().to_string(),
        });
    }
    Ok(())
}

/// Scans the files `options` selects under `root`.
pub(crate) fn scan(
    root: &Path,
    options: &ScanOptions,
    rules: &RuleSet,
    deadline: Option<Instant>,
) -> Result<Scan, ScanError> {
    let selection = rules.select(options.rules.as_deref(), options.entropy)?;
    let targets = Targets::new(root, options)?;
    let mut scan = Scan::default();
    let mut seen = BTreeSet::new();
    for start in &targets.starts {
        let mut builder = WalkBuilder::new(start);
        builder
            .hidden(false)
            .ignore(false)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .require_git(false)
            .parents(true)
            .follow_links(false)
            .sort_by_file_path(|a, b| a.cmp(b));
        let root_for_filter = root.to_path_buf();
        let exclude = targets.exclude.clone();
        builder.filter_entry(move |entry| {
            if entry.file_name() == ".git" {
                return false;
            }
            let is_dir = entry.file_type().is_some_and(|kind| kind.is_dir());
            match entry.path().strip_prefix(&root_for_filter) {
                Ok(relative) if !relative.as_os_str().is_empty() => {
                    !exclude.matched(relative, is_dir).is_ignore()
                }
                _ => true,
            }
        });
        for entry in builder.build() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) if err.io_error().is_some() => {
                    return Err(ScanError::Walk {
                        start: start.display().to_string(),
                        source: err,
                    });
                }
                Err(err) => {
                    scan.notes.push(err.to_string());
                    continue;
                }
            };
            if !entry.file_type().is_some_and(|kind| kind.is_file()) {
                continue;
            }
            let relative = relative_name(root, entry.path());
            if !targets.selects(&relative) || !seen.insert(relative.clone()) {
                continue;
            }
            if deadline.is_some_and(|deadline| Instant::now() > deadline) {
                return Err(ScanError::Deadline { files: scan.files });
            }
            scan_file(
                entry.path(),
                relative,
                options,
                rules,
                &selection,
                &mut scan,
            )?;
        }
    }
    scan.findings
        .sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    Ok(scan)
}

fn scan_file(
    path: &Path,
    relative: String,
    options: &ScanOptions,
    rules: &RuleSet,
    selection: &Selection,
    scan: &mut Scan,
) -> Result<(), ScanError> {
    let unreadable = |source| ScanError::Read {
        path: relative.clone(),
        source,
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > options.max_file_size {
        scan.too_large.push((relative, size));
        return Ok(());
    }
    let text = std::fs::read(path).map_err(unreadable)?;
    if text[..text.len().min(BINARY_SNIFF)].contains(&0) {
        scan.binary.push(relative);
        return Ok(());
    }
    scan.files += 1;
    scan.findings
        .extend(findings_in(&text, &relative, rules, selection));
    Ok(())
}

/// The findings in one file's `text`, located and fingerprinted.
pub(crate) fn findings_in(
    text: &[u8],
    path: &str,
    rules: &RuleSet,
    selection: &Selection,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut line = 1;
    let mut line_start = 0;
    let mut counted = 0;
    for hit in rules.scan(text, selection) {
        for (offset, &byte) in text[counted..hit.start].iter().enumerate() {
            if byte == b'\n' {
                line += 1;
                line_start = counted + offset + 1;
            }
        }
        counted = hit.start;
        let rule = rules.rules()[hit.rule].id;
        let secret = &text[hit.start..hit.end];
        findings.push(Finding {
            rule: rule.to_string(),
            path: path.to_string(),
            line,
            column: char_count(&text[line_start..hit.start]) + 1,
            fingerprint: fingerprint(rule, path, secret),
            snippet: snippet(text, line_start, hit.start, hit.end),
        });
    }
    findings
}

/// `sha256(rule:path:secret)` in hex: the same wherever the secret moves within its file.
pub(crate) fn fingerprint(rule: &str, path: &str, secret: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(rule.as_bytes())
        .chain_update(b":")
        .chain_update(path.as_bytes())
        .chain_update(b":")
        .chain_update(secret)
        .finalize();
    hex::encode(digest)
}

/// The secret's line with the secret cut to its first characters and [`MASK`]: at most four
/// characters, and no more than a quarter of the secret, so a short one shows little.
fn snippet(text: &[u8], line_start: usize, start: usize, end: usize) -> String {
    let line_end = text[start..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(text.len(), |offset| start + offset);
    let before = String::from_utf8_lossy(&text[line_start..start]);
    let before: String = last_chars(before.trim_start(), SNIPPET_CONTEXT);
    let secret = String::from_utf8_lossy(&text[start..end]);
    let shown_chars = (secret.chars().count() / 4).min(4);
    let shown: String = secret.chars().take(shown_chars).collect();
    let after = if end <= line_end {
        let after = String::from_utf8_lossy(&text[end..line_end]);
        after
            .trim_end()
            .chars()
            .take(SNIPPET_CONTEXT)
            .collect::<String>()
    } else {
        "\u{2026}".to_string()
    };
    let snippet = format!("{before}{shown}{MASK}{after}");
    // Another secret on the same line must not show either.
    redact_matches(&snippet).into_owned()
}

fn last_chars(text: &str, count: usize) -> String {
    let total = text.chars().count();
    text.chars().skip(total.saturating_sub(count)).collect()
}

fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&byte| byte & 0xC0 != 0x80).count()
}

/// `path` relative to `root`, `/`-separated (the form fingerprints and allowlists use).
fn relative_name(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Where to walk and which files to keep.
struct Targets {
    /// Directories or files to walk.
    starts: Vec<PathBuf>,
    /// Plain paths, relative and `/`-separated (`""` for the whole root).
    plain: Vec<String>,
    /// Globs of `paths`, as one matcher (empty when there are none).
    globs: Option<Gitignore>,
    exclude: Gitignore,
}

impl Targets {
    fn new(root: &Path, options: &ScanOptions) -> Result<Targets, ScanError> {
        if !root.is_dir() {
            return Err(ScanError::RootNotDir {
                root: root.display().to_string(),
            });
        }
        let invalid = |what: String| move |source| ScanError::InvalidGlob { what, source };
        let mut starts = Vec::new();
        let mut plain = Vec::new();
        let mut globs = GitignoreBuilder::new(root);
        globs.allow_unclosed_class(false);
        let mut has_globs = false;
        for path in &options.paths {
            if is_glob(path) {
                globs
                    .add_line(None, path)
                    .map_err(invalid(format!("`{path}` in `paths`")))?;
                has_globs = true;
                continue;
            }
            check_relative(path)?;
            let normal: PathBuf = Path::new(path)
                .components()
                .filter(|part| matches!(part, Component::Normal(_)))
                .collect();
            let start = root.join(&normal);
            if !start.exists() {
                return Err(ScanError::MissingPath {
                    path: path.clone(),
                    root: root.display().to_string(),
                });
            }
            plain.push(relative_name(Path::new(""), &normal));
            starts.push(start);
        }
        if has_globs {
            starts.push(root.to_path_buf());
        }
        starts.sort();
        starts.dedup();
        let globs = has_globs
            .then(|| globs.build())
            .transpose()
            .map_err(invalid("in `paths`".to_string()))?;
        let mut exclude = GitignoreBuilder::new(root);
        exclude.allow_unclosed_class(false);
        for glob in &options.exclude {
            exclude
                .add_line(None, glob)
                .map_err(invalid(format!("`{glob}` in `exclude`")))?;
        }
        let exclude = exclude
            .build()
            .map_err(invalid("in `exclude`".to_string()))?;
        Ok(Targets {
            starts,
            plain,
            globs,
            exclude,
        })
    }

    /// Whether the file at `relative` is one the configuration asked for.
    fn selects(&self, relative: &str) -> bool {
        let under_plain = self.plain.iter().any(|plain| {
            plain.is_empty()
                || relative == plain
                || relative
                    .strip_prefix(plain.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        });
        under_plain
            || self.globs.as_ref().is_some_and(|globs| {
                globs
                    .matched_path_or_any_parents(relative, false)
                    .is_ignore()
            })
    }
}
