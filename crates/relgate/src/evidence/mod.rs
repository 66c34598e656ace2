//! The evidence ledger `evidence.jsonl`: one JSON object per line, each carrying the sha256 of
//! the line before it, so that any edit, insertion or deletion breaks the chain; the run's
//! journal of records as checks end ([`fragment`]), from which the ledger is built; and the
//! signatures over a finished run ([`signing`]).
//!
//! Line 1 is the run [`RunHeader`]; then one [`CheckRecord`] per check and checklist item, one
//! [`PacketRecord`] per packet and one [`VerdictRecord`]. Evidence is written by the runner only:
//! probes and checks never write the ledger themselves.

pub use crate::model::digest::{sha256_file, sha256_hex, EMPTY_SHA256};

/// The file name of the ledger inside the out directory.
pub const LEDGER_FILE: &str = "evidence.jsonl";

/// The `prev` of the first line: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub mod fragment;
mod ledger;
mod record;
mod review_record;
pub mod signing;
mod verdict_record;

pub use ledger::*;
pub use record::*;
pub use review_record::*;
pub use verdict_record::*;
