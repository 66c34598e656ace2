//! Exit codes of every relgate command, in one place.

/// GO, or GO_WITH_CONDITIONS without `--deny-conditions`; a clean `verify`.
pub const OK: i32 = 0;
/// NO_GO, GO_WITH_CONDITIONS with `--deny-conditions`, or a failed `verify`.
pub const NO_GO: i32 = 1;
/// The gate file or the arguments are invalid: nothing was run.
pub const INVALID: i32 = 2;
/// A nextest process whose trial failed: what a libtest binary exits with when a test fails
/// (the ledger and verdict come later, from `gate report`).
pub const TEST_FAILED: i32 = 101;
