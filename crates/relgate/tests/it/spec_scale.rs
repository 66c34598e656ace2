//! The loader's cost grows with the gate, not with its square (issue 13: 1k / 5k / 20k
//! packets took 0.3 / 2.9 / 34 s in a debug build: line numbers counted from the start of the
//! file for every check, a scan of every packet for every dependency, a regex compiled per
//! id…). Compared in CPU time at two sizes, so a busy machine does not make it flaky.

use std::path::Path;

use relgate::spec;
use relgate::synthetic::{assert_near_linear, synthetic_gate};

#[test]
fn loading_a_gate_costs_in_proportion_to_its_packets() {
    let (small, large) = (1_000, 8_000);
    let gates = [synthetic_gate(small), synthetic_gate(large)];
    // The quadratic loader: 34 times.
    assert_near_linear("loading packets", small, large, |packets| {
        let text = &gates[usize::from(packets == large)];
        let gate = spec::parse(Path::new("packets.toml"), text).expect("the synthetic gate loads");
        assert_eq!(gate.packets.len(), packets);
    });
}
