//! The engine's integration tests: one test binary (one link instead of one per file); each
//! file below is a module, so a suite is a filter: `cargo test -p relgate --test it fuzz::`.
//!
//! `tests/spec_huge_key.rs` stays a binary of its own: it installs a counting global allocator
//! and measures the bytes its process holds, which tests running alongside would disturb.

mod support;

mod fuzz;
mod import_scale;
mod junit_consumers;
mod markdown_consumers;
mod plan;
mod sarif_golden;
mod scan_parsers;
mod spec_errors;
mod spec_scale;
mod sshsig_consumers;
mod tracker_golden;
mod verdict_table;
