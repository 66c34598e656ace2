//! The built-in secret rules and what uses them: [`scan_tree`] over a tree (honouring
//! `.gitignore`, findings fingerprinted for allowlisting) and the matches every redaction masks
//! ([`match_spans`], [`may_match`], [`redact_matches`]). `table.rs` is the rule table,
//! `rules.rs` the compiled [`rules::RuleSet`] and the matchers redaction uses, `accept.rs` the
//! checks a match must pass, `keywords.rs` the keyword pre-filter, `canary.rs` the controls'
//! samples, `walk.rs` the tree walk and [`scan_tree`], `error.rs` [`ScanError`]. This file only
//! re-exports: dependencies point from `walk` to `rules` to `table`/`accept`/`keywords`, and
//! the whole folder is below the probes and the redactor (it uses only [`crate::mask`]); the
//! `secrets` probe is `secrets_probe.rs`.

mod accept;
pub(crate) mod canary;
mod error;
mod keywords;
pub(crate) mod rules;
pub(crate) mod table;
pub(crate) mod walk;

pub use error::{RuleError, ScanError};
pub(crate) use rules::{match_spans, may_match, redact_matches};
pub use walk::{scan_tree, Finding, ScanOptions, DEFAULT_MAX_FILE_SIZE};
