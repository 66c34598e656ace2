//! The importer's cost grows with the tracker, not with its square (issue 13: a board of 2k /
//! 8k rows took 1.4 / 13.9 s in a debug build: a search for every packet on every line, a walk
//! of the whole dependency graph for every dependency, a scan of every packet for every id…).
//! Compared in CPU time at two sizes, so a busy machine does not make it flaky; a test binary
//! of its own, so that its memory does not count against the tests that measure theirs.

use relgate::import::import;
use relgate::synthetic::{assert_near_linear, synthetic_board};

#[test]
fn importing_a_board_costs_in_proportion_to_its_rows() {
    let (small, large) = (250, 2_000);
    let boards = [synthetic_board(small), synthetic_board(large)];
    // The quadratic importer: 27 times.
    assert_near_linear("importing board rows", small, large, |rows| {
        let board = &boards[usize::from(rows == large)];
        let imported = import("board.md", board.as_bytes()).expect("the board imports");
        assert_eq!(imported.packets.len(), rows);
    });
}
