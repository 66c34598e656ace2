//! `tenant-api`: the reference system that relgate's probes attack.
//!
//! A small multi-tenant HTTP service over PostgreSQL, hardened the way the IAM remediation
//! tracker asks (forced row-level security on every tenant table, deny-by-default RBAC from
//! `roles`/`permissions`/`role_permissions`, consent enforced by a `security_invoker` view, an
//! append-only hash-chained audit log, strict JWT and Svix webhook validation), with `--flaw`
//! switches that each turn on one honest, observable weakness.
//!
//! Codemap: [`flaw`] names the weaknesses; [`schema`] holds the SQL applied at start;
//! [`service`] starts the server and holds the handlers (the child-records ones and their
//! consent check in the private `records`); [`jwt`], [`webhook`] and [`rbac`] are
//! the checks the handlers call; [`pool`] is the connection pool; [`shutdown`] the signal flag.
//!
//! **Invariant:** no flaw is observable as a flag — only as behaviour or catalog state.

#![deny(missing_docs)]

pub mod flaw;
pub mod jwt;
pub mod pool;
pub mod rbac;
mod records;
pub mod schema;
pub mod service;
pub mod shutdown;
pub mod webhook;

pub use flaw::{Flaw, Flaws};
pub use service::{run, ServiceConfig, ServiceError};
