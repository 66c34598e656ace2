//! Exit codes of every relgate command, in one place.

/// GO, or GO_WITH_CONDITIONS without `--deny-conditions`; a clean `verify`.
pub const OK: i32 = 0;
/// NO_GO, GO_WITH_CONDITIONS with `--deny-conditions`, or a failed `verify`.
pub const NO_GO: i32 = 1;
/// The gate file or the arguments are invalid: nothing was run.
pub const INVALID: i32 = 2;
