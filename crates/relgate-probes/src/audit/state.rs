//! The `audit-chain` probe's configuration ([`AuditProbe`]), the audited [`Table`] and
//! [`AuditError`]: the leaf `mod.rs` and `chain.rs` build on.

use std::path::PathBuf;

use crate::db::{DbError, TableName, Target};

use super::anchor::AnchorError;

/// Why the `audit-chain` probe could not run: the database or the anchor file.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Anchor(#[from] AnchorError),
}

crate::probe::into_probe_error!(AuditError);

pub(crate) struct AuditProbe {
    pub(super) target: Target,
    pub(super) table: String,
    pub(super) id_column: String,
    pub(super) prev_column: String,
    pub(super) hash_column: String,
    pub(super) expected_hash: String,
    pub(super) genesis: String,
    pub(super) anchor: Option<PathBuf>,
    pub(super) tenant: Option<String>,
    pub(super) tenant_column: String,
    pub(super) tenant_setting: String,
    /// The column that must never go backwards in id order (`order`).
    pub(super) time_column: String,
    /// Columns the hash need not cover (`hash-columns`).
    pub(super) unhashed_columns: Vec<String>,
    /// Whether ids are promised to follow each other by one (adds `gaps`).
    pub(super) gapless: bool,
}

/// What the table looks like, from the catalog.
pub(super) struct Table {
    pub(super) name: TableName,
    pub(super) id_type: String,
    pub(super) has_tenant_column: bool,
    /// Every column and its type (`format_type`), in `attnum` order.
    pub(super) columns: Vec<(String, String)>,
}

impl Table {
    /// The type of `column`, if the table has it.
    pub(super) fn column_type(&self, column: &str) -> Option<&str> {
        self.columns
            .iter()
            .find(|(name, _)| name == column)
            .map(|(_, kind)| kind.as_str())
    }
}
