//! [`ScanError`]: why a secret scan cannot run or its configuration is invalid. A leaf of
//! `secrets/`: the walk and the compiled rules return it, the `secrets` probe and the callers
//! of `scan_tree` read it.

/// Why the built-in rules do not compile (a bug in the rule table, caught by the unit tests
/// and by the `secrets` probe's `controls`). `Clone`: the compiled rules are built once and
/// every caller gets the same answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuleError {
    /// A rule's pattern is not a valid regex.
    #[error("rule {rule} does not compile: {source}")]
    Pattern {
        rule: &'static str,
        #[source]
        source: regex::Error,
    },
    /// A rule's pattern lacks the `secret` group.
    #[error("rule {rule} pattern `{pattern}` has no `secret` group")]
    NoSecretGroup { rule: &'static str, pattern: String },
    /// The keyword searcher does not build.
    #[error("the rules' keywords do not compile: {0}")]
    Keywords(#[source] aho_corasick::BuildError),
    /// The keyword pre-filter does not build.
    #[error("the rules' keyword filter does not compile: {0}")]
    Prefilter(#[source] regex::Error),
}

/// Why a scan cannot run (the `secrets` check is an ERROR) or a path or glob of its
/// configuration is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The built-in rules do not compile (a bug in the rule table).
    #[error(transparent)]
    Rules(RuleError),
    /// `rules` names a rule that does not exist or does not scan.
    #[error("unknown rule `{id}` (expected one of {known})")]
    UnknownRule { id: String, known: String },
    /// A glob of `paths` or `exclude` does not parse; `what` is the glob and where it is
    /// (`` `*.pem` in `paths` ``), or only where when the set fails as a whole.
    #[error("invalid glob {what}: {source}")]
    InvalidGlob {
        what: String,
        #[source]
        source: ignore::Error,
    },
    /// An empty entry of `paths`.
    #[error("an empty path; use \".\" for the whole gate root")]
    EmptyPath,
    /// A path that is absolute or climbs with `..`.
    #[error("`{path}` leaves the gate root: give a path relative to it, without `..`")]
    LeavesRoot { path: String },
    /// The gate root is not a directory.
    #[error("the gate root {root} is not a directory")]
    RootNotDir { root: String },
    /// An entry of `paths` does not exist.
    #[error("`paths`: {path} does not exist under {root}")]
    MissingPath { path: String, root: String },
    /// A directory cannot be walked.
    #[error("cannot walk {start}: {source}")]
    Walk {
        start: String,
        #[source]
        source: ignore::Error,
    },
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The check's deadline passed mid-scan.
    #[error("the deadline passed after scanning {files} files")]
    Deadline { files: usize },
}
