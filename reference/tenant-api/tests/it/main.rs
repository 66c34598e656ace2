//! The reference service's integration tests: one test binary, so its suites also share one
//! throwaway Postgres cluster (`support::with_cluster`, a static of this process, stopped at exit) instead of starting
//! one per file. Each file below is a module, so a suite is a filter:
//! `cargo test -p tenant-api --test it probe_webhook::`.

mod support;

mod api;
mod cluster;
mod probe_access_classes;
mod probe_database;
mod probe_database_target;
mod probe_identity;
mod probe_jwt_classes;
mod probe_webhook;
