//! For test suites that need a tool — a real PostgreSQL above all: skip with a printed reason
//! when it is missing, except in CI, where a skip would be a silent pass.

/// The variable that turns a missing tool into a test failure (`.ci/run` and the gate's own
/// test checks set it).
pub const REQUIRE_TOOLS_ENV: &str = "RELGATE_REQUIRE_TOOLS";

/// Call first in a test that needs PostgreSQL: `if skip_without_postgres() { return; }`.
///
/// Returns `false` when [`crate::find_bin_dir`] finds `initdb` and `postgres`. Otherwise prints
/// why and the command that installs them to stderr and returns `true`; with
/// `RELGATE_REQUIRE_TOOLS` set it panics instead.
pub fn skip_without_postgres() -> bool {
    let Err(error) = crate::find_bin_dir() else {
        return false;
    };
    skip(&format!(
        "PostgreSQL is missing ({error}); install it with `cargo xtask gate setup --tool postgresql`"
    ));
    true
}

/// Says why a test that needs a missing tool does not run, on stderr (straight to the
/// terminal: libtest captures what a passing test prints). With `RELGATE_REQUIRE_TOOLS` set
/// (`.ci/run`, this repository's gate) it panics instead, so CI cannot go green by skipping.
pub fn skip(why: &str) {
    assert!(
        std::env::var_os(REQUIRE_TOOLS_ENV).is_none(),
        "{REQUIRE_TOOLS_ENV} is set but {why}"
    );
    let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("skipped: {why}\n"));
}
