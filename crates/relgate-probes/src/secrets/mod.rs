//! The built-in secret rules and what uses them: [`scan_tree`] over a tree (honouring
//! `.gitignore`, findings fingerprinted for allowlisting) and the matches every redaction masks
//! ([`match_spans`], [`may_match`], [`redact_matches`]). `table.rs` is the rule table,
//! `rules.rs` the compiled [`rules::RuleSet`], `accept.rs` the checks a match must pass,
//! `keywords.rs` the keyword pre-filter, `canary.rs` the controls' samples and `walk.rs` the
//! tree walk. Below the probes and the redactor: it uses only [`crate::mask`]; the `secrets`
//! probe is `secrets_probe.rs`.

mod accept;
pub(crate) mod canary;
mod error;
mod keywords;
pub(crate) mod rules;
pub(crate) mod table;
pub(crate) mod walk;

use std::borrow::Cow;
use std::path::Path;

pub use error::ScanError;

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
    let rules = rules::ruleset().map_err(ScanError::RulesDoNotCompile)?;
    Ok(walk::scan(root, options, rules, None)?.findings)
}

/// Text with every match of the built-in secret rules replaced by [`crate::mask::MASK`].
pub(crate) fn redact_matches(text: &str) -> Cow<'_, str> {
    match rules::ruleset() {
        Ok(rules) => rules.redact(text),
        // The rules are constants checked by unit tests; should they ever fail to compile,
        // the `controls` case says so and known secrets are still masked by the redactor.
        Err(_) => Cow::Borrowed(text),
    }
}

/// Byte ranges of every match of the built-in secret rules in `text` (see
/// the redactor's `Redactor::spans`).
pub(crate) fn match_spans(text: &[u8]) -> Vec<(usize, usize)> {
    match rules::ruleset() {
        Ok(rules) => rules.redact_spans(text),
        Err(_) => Vec::new(),
    }
}

/// Whether some built-in rule could match in `text` (see [`rules::RuleSet::any_keyword`]);
/// `true` when the rules cannot be loaded, so nothing is waved through.
pub(crate) fn may_match(text: &[u8]) -> bool {
    rules::ruleset().map_or(true, |rules| rules.any_keyword(text))
}
