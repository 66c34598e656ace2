//! tracker.md against a golden file: every check kind, dependencies, a blocked packet, scan
//! findings that are accepted and tracked, expired and unused acceptances (the fixture in
//! `support/fixture.rs`, shared with the SARIF golden test). The same shape with Markdown's
//! and HTML's special characters and line breaks in every text field (`support/nasty.rs`)
//! against `tests/golden/tracker-nasty.md`, and its step summary against
//! `tests/golden/summary-nasty.md`.
//!
//! `UPDATE_GOLDEN=1 cargo test -p relgate --test it tracker_golden::` rewrites the golden
//! files; review the diff by eye: it must read like the seed tracker, and escaped text like
//! the text (`markdown_consumers.rs` checks what GitHub's renderer makes of it).

use crate::support;
use crate::support::fixture::{gate, ledger};
use crate::support::nasty;

/// Compares `rendered` with `tests/golden/<name>` (or rewrites it under `UPDATE_GOLDEN`).
fn assert_golden(name: &str, rendered: &str) {
    let Some((path, golden)) = support::golden(name, rendered) else {
        return;
    };
    assert!(
        golden == rendered,
        "{name} differs from {}; run with UPDATE_GOLDEN=1 and review the diff\n{rendered}",
        path.display()
    );
}

#[test]
fn tracker_matches_the_golden_file() {
    let gate = gate();
    let rendered = relgate::report::tracker::render(&gate, &ledger(&gate));
    assert_golden("tracker.md", &rendered);
}

#[test]
fn nasty_tracker_matches_the_golden_file() {
    let gate = nasty::gate();
    let rendered = relgate::report::tracker::render(&gate, &nasty::ledger(&gate));
    assert_golden("tracker-nasty.md", &rendered);
}

#[test]
fn nasty_step_summary_matches_the_golden_file() {
    let gate = nasty::gate();
    let rendered = relgate::report::tracker::summary(&gate, &nasty::ledger(&gate));
    assert_golden("summary-nasty.md", &rendered);
}

#[test]
fn rendering_is_deterministic() {
    let gate = gate();
    let ledger = ledger(&gate);
    assert_eq!(
        relgate::report::tracker::render(&gate, &ledger),
        relgate::report::tracker::render(&gate, &ledger)
    );
}

#[test]
fn mermaid_has_one_node_per_packet_and_one_edge_per_dependency() {
    let gate = gate();
    let rendered = relgate::report::tracker::render(&gate, &ledger(&gate));
    let start = rendered.find("```mermaid\n").expect("a mermaid block");
    let block = &rendered[start..];
    let block = &block[..block[3..].find("```").unwrap() + 3];
    let nodes = block.lines().filter(|line| line.contains("[\"")).count();
    let edges = block.lines().filter(|line| line.contains(" --> ")).count();
    let dependencies: usize = gate.packets.iter().map(|p| p.depends_on.len()).sum();
    assert_eq!(nodes, gate.packets.len(), "{block}");
    assert_eq!(edges, dependencies, "{block}");
    assert!(block.contains("    p0 --> p1\n"), "{block}");
    assert!(block.contains("    class p3 blocked\n"), "{block}");
    assert!(
        block.contains("    class p1 changes_requested\n"),
        "{block}"
    );
}

#[test]
fn a_failing_check_is_an_unchecked_box_with_its_exit_code() {
    let gate = gate();
    let rendered = relgate::report::tracker::render(&gate, &ledger(&gate));
    assert!(
        rendered.contains(
            "- [ ] `cargo test -p tenant-api` -> exit 101 (attempt 2 of 2; attempt 1 (shard slice:1/2): exit 101) (12.3s) — FAIL (P0)\n  - attempt 1 (shard `slice:1/2`): FAIL exit 101 (500ms), log: `logs/SEC-01/api-suites.log` (512 bytes"
        ),
        "{rendered}"
    );
    assert!(
        rendered.contains("- [x] `cargo build --workspace && echo built` -> exit 0 (12.3s)"),
        "{rendered}"
    );
    assert!(rendered.contains("- [ ] P0 FAIL"), "{rendered}");
}

#[test]
fn a_flaky_check_is_flaky_with_its_attempts_never_a_clean_pass() {
    let gate = gate();
    let rendered = relgate::report::tracker::render(&gate, &ledger(&gate));
    assert!(
        rendered.contains(
            "- [x] `scripts/check-registry-mirror.sh` -> exit 0 (attempt 2 of 2; attempt 1: exit 1) (12.3s) — FLAKY (P1)\n  - attempt 1: FAIL exit 1 (500ms), log: `logs/SEC-02/registry-mirror.log`"
        ),
        "{rendered}"
    );
    assert!(
        rendered.contains("(by `registry-mirror`) — on FLAKY `registry-mirror`"),
        "{rendered}"
    );
    assert!(
        rendered.contains("-> exit 0 (attempt 2 of 2; attempt 1: exit 1) — FLAKY\n"),
        "{rendered}"
    );
    assert!(
        rendered.contains(
            "| SEC-02::registry-mirror | P1 | flaky | dana | — | flaky: passed only after failing (attempt 1 FAIL: exit 1 (expected 0); attempt 2 PASS: exit 0) |"
        ),
        "{rendered}"
    );
    // A check that ran once shows no attempts.
    assert!(
        rendered.contains("- [x] `cargo build --workspace && echo built` -> exit 0 (12.3s)\n"),
        "{rendered}"
    );
}
