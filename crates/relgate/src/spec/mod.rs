//! The gate file: parsed with serde + toml, then validated into a [`Gate`].
//!
//! Only a validated [`Gate`] reaches the planner and the runner: ids are unique, dependencies
//! exist and form no cycle, commands are non-empty and not destructive, timeouts parse, checklist
//! items name real checks and acceptances are complete. Every error names the file, line, column
//! and key (see [`SpecError`]).

mod accept;
mod checks;
mod definition;
mod destructive;
mod error;
mod model;
mod probe;
mod raw;
mod redacted;
mod review;
mod scan;
mod secret_names;
mod services;
mod template;
mod tools;
mod validate;

pub use checks::MAX_RETRIES;
pub use destructive::destructive_git_command;
pub use error::{SpecError, SpecErrorKind};
pub use model::*;
// The severity a check declares; defined with the shared vocabulary below every stage.
pub use crate::model::Severity;
pub use probe::map_strings;
pub use redacted::{redacted_gate, register_gate_secrets};
pub use relgate_probes::duration::{format_duration, parse_duration};
pub use review::DEFAULT_REVIEW_DIR;
pub use scan::{Format, Overrides, ADVISORY_DB_PLACEHOLDER, REPORT_PLACEHOLDER};
pub use template::{expand, references, Reference, TemplateError, SERVICE_FIELDS};
pub use tools::DEFAULT_INSTALL_TIMEOUT;
pub use validate::{load, parse, slugify, MAX_ID_CHARS};
