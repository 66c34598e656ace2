//! The plan: dependency order and the packets a packet waits for.

use std::path::Path;

use relgate::plan::{ancestors, topological};
use relgate::spec::{self, Gate};

/// A gate whose file order differs from its dependency order:
/// SEC-03 -> SEC-01 -> SEC-00, SEC-02 -> SEC-00, SEC-04 -> {SEC-02, SEC-03}, SEC-05 alone.
const GATE: &str = r#"
[[packet]]
id = "SEC-04"
depends_on = ["SEC-02", "SEC-03"]
[[packet.check]]
id = "a"
run = "true"

[[packet]]
id = "SEC-03"
depends_on = ["SEC-01"]
[[packet.check]]
id = "a"
run = "true"

[[packet]]
id = "SEC-00"
[[packet.check]]
id = "a"
run = "true"

[[packet]]
id = "SEC-02"
depends_on = ["SEC-00"]
[[packet.check]]
id = "a"
run = "true"

[[packet]]
id = "SEC-01"
depends_on = ["SEC-00"]
[[packet.check]]
id = "a"
run = "true"

[[packet]]
id = "SEC-05"
[[packet.check]]
id = "a"
run = "true"
"#;

fn gate() -> Gate {
    spec::parse(Path::new("plan.toml"), GATE).expect("the plan fixture is valid")
}

fn ids<'a>(packets: impl IntoIterator<Item = &'a relgate::spec::Packet>) -> Vec<&'a str> {
    packets
        .into_iter()
        .map(|packet| packet.id.as_str())
        .collect()
}

#[test]
fn topological_order_puts_every_dependency_first() {
    let gate = gate();
    let order = ids(topological(&gate));
    assert_eq!(order.len(), gate.packets.len());
    for packet in &gate.packets {
        let at = order.iter().position(|id| *id == packet.id).unwrap();
        for dep in &packet.depends_on {
            let dep_at = order.iter().position(|id| id == dep).unwrap();
            assert!(
                dep_at < at,
                "{dep} must come before {} in {order:?}",
                packet.id
            );
        }
    }
}

#[test]
fn among_ready_packets_file_order_wins() {
    let gate = gate();
    // SEC-00 is the first ready packet in file order; then SEC-02 (file order before SEC-01),
    // then SEC-01, SEC-03 (ready once SEC-01 is placed, and before SEC-05 in the file)...
    assert_eq!(
        ids(topological(&gate)),
        ["SEC-00", "SEC-02", "SEC-01", "SEC-03", "SEC-04", "SEC-05"]
    );
}

#[test]
fn a_gate_in_dependency_order_keeps_its_order() {
    let source = "[[packet]]\nid = \"A\"\n[[packet.check]]\nid = \"x\"\nrun = \"true\"\n\
                  [[packet]]\nid = \"B\"\ndepends_on = [\"A\"]\n[[packet.check]]\nid = \"x\"\nrun = \"true\"\n";
    let gate = spec::parse(Path::new("two.toml"), source).unwrap();
    assert_eq!(ids(topological(&gate)), ["A", "B"]);
}

#[test]
fn ancestors_are_transitive_and_in_dependency_order() {
    let gate = gate();
    assert_eq!(
        ids(ancestors(&gate, "SEC-04")),
        ["SEC-00", "SEC-02", "SEC-01", "SEC-03"]
    );
    assert_eq!(ids(ancestors(&gate, "SEC-03")), ["SEC-00", "SEC-01"]);
    assert!(ancestors(&gate, "SEC-00").is_empty());
    assert!(ancestors(&gate, "SEC-05").is_empty());
}
