//! relgate-pg: throwaway PostgreSQL clusters and per-run databases, for tests and for the gate.
//!
//! - [`Ephemeral`] runs `initdb` in a temporary directory and starts the `postgres` binary as a
//!   child in its own process group (`[[service]] postgres = "ephemeral"`). Stopping or dropping
//!   it leaves no process and no directory; a watchdog cleans up even if the owner dies.
//! - [`RunDatabase`] creates a database on an existing server for one run
//!   (`postgres = "postgres://…"`) and drops it afterwards unless kept.
//! - [`find_bin_dir`] locates `initdb` and `postgres`; [`redact_url`] hides passwords.
//!
//! ```no_run
//! use relgate_pg::{Ephemeral, EphemeralOptions};
//!
//! let cluster = Ephemeral::start(&EphemeralOptions::default())?;
//! let url = cluster.create_database("app_test")?;
//! let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
//! client.batch_execute("CREATE TABLE t (id int)").expect("create");
//! cluster.stop()?;
//! # Ok::<(), relgate_pg::PgError>(())
//! ```
//!
//! When run as root, the server runs as the `postgres` OS user (PostgreSQL refuses root).
#![deny(missing_docs)]

mod bin_dir;
mod ephemeral;
mod error;
mod process;
mod run_as;
mod run_database;
pub mod testing;
mod url;
mod watchdog;

pub use bin_dir::{find_bin_dir, find_bin_dir_with, BIN_ENV};
pub use ephemeral::{Ephemeral, EphemeralOptions};
pub use error::PgError;
pub use process::has_exited;
pub use run_database::{drop_database, RunDatabase};
pub use url::redact_url;
