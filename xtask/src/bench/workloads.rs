//! The gate files the benchmark runs.

use std::fmt::Write as _;
use std::time::Duration;

/// `checks` checks running `true`, ten to a packet, each packet depending on the one before
/// (so every check also waits for its dependencies, as in a real gate).
pub fn trivial_checks(checks: usize) -> String {
    trivial_gate(checks, true)
}

/// `checks` checks running `true`, ten to a packet, no packet depending on another: split into
/// shards, each shard runs its own share and nothing else (with [`trivial_checks`]' chain, a
/// shard also runs every check before its own as dependency runs).
pub fn independent_checks(checks: usize) -> String {
    trivial_gate(checks, false)
}

fn trivial_gate(checks: usize, chained: bool) -> String {
    let mut text = format!("[gate]\nname = \"bench: {checks} trivial checks\"\n");
    for at in 0..checks {
        let packet = at / 10;
        if at % 10 == 0 {
            let _ = write!(
                text,
                "\n[[packet]]\nid = \"P-{packet:05}\"\ntitle = \"Packet {packet}\"\n"
            );
            if chained && packet > 0 {
                let _ = writeln!(text, "depends_on = [\"P-{:05}\"]", packet - 1);
            }
        }
        let _ = writeln!(text, "[[packet.check]]\nid = \"c{at}\"\nrun = [\"true\"]");
    }
    text
}

/// One check running `command` (a shell line).
pub fn one_check(command: &str) -> String {
    format!(
        "[gate]\nname = \"bench: output capture\"\n\n[[packet]]\nid = \"OUT\"\ntitle = \"Output\"\n[[packet.check]]\nid = \"output\"\nrun = {}\ntimeout = \"1h\"\n",
        toml_string(command)
    )
}

fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A packet of the scheduling DAG: its id, dependencies and its checks' sleeps in units.
struct Node {
    id: &'static str,
    depends_on: &'static [&'static str],
    sleeps: &'static [u32],
}

/// The scheduling DAG: a diamond (A → B, C → D) beside an independent packet E. Its total
/// work (14 units) divides by 1 and 2 jobs, so its bound max(critical path, total / j) is a
/// makespan some schedule reaches at `-j` 1, 2 and more (with 13 units no schedule of whole
/// units could finish in 6.5 at `-j 2`, and the target would measure the DAG, not the
/// scheduler).
const DAG: &[Node] = &[
    Node {
        id: "A",
        depends_on: &[],
        sleeps: &[2, 1],
    },
    Node {
        id: "B",
        depends_on: &["A"],
        sleeps: &[1, 1],
    },
    Node {
        id: "C",
        depends_on: &["A"],
        sleeps: &[3],
    },
    Node {
        id: "D",
        depends_on: &["B", "C"],
        sleeps: &[1, 1],
    },
    Node {
        id: "E",
        depends_on: &[],
        sleeps: &[1, 1, 1, 1],
    },
];

/// The DAG of sleeping checks with `unit` per sleep unit.
pub fn sleeping_dag(unit: Duration) -> String {
    let mut text = String::from("[gate]\nname = \"bench: scheduling\"\n");
    for node in DAG {
        let _ = write!(
            text,
            "\n[[packet]]\nid = \"{}\"\ntitle = \"{}\"\n",
            node.id, node.id
        );
        if !node.depends_on.is_empty() {
            let deps: Vec<String> = node.depends_on.iter().map(|d| format!("\"{d}\"")).collect();
            let _ = writeln!(text, "depends_on = [{}]", deps.join(", "));
        }
        for (at, units) in node.sleeps.iter().enumerate() {
            let seconds = unit.as_secs_f64() * f64::from(*units);
            let _ = writeln!(
                text,
                "[[packet.check]]\nid = \"s{at}\"\nrun = [\"sleep\", \"{seconds:.3}\"]"
            );
        }
    }
    text
}

/// The DAG's lower bound at `jobs` parallel checks: max(critical path, total work / jobs),
/// where a packet's checks may run side by side and a packet starts when its dependencies end.
pub fn dag_bound(unit: Duration, jobs: usize) -> Duration {
    let mut finish: Vec<(&str, u32)> = Vec::new();
    for node in DAG {
        let start = node
            .depends_on
            .iter()
            .filter_map(|dep| finish.iter().find(|(id, _)| id == dep).map(|(_, end)| *end))
            .max()
            .unwrap_or(0);
        let longest = node.sleeps.iter().max().copied().unwrap_or(0);
        finish.push((node.id, start + longest));
    }
    let critical = finish.iter().map(|(_, end)| *end).max().unwrap_or(0);
    let total: u32 = DAG.iter().flat_map(|node| node.sleeps.iter()).sum();
    let bound = f64::from(critical).max(f64::from(total) / jobs.max(1) as f64);
    unit.mul_f64(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gates_load() {
        let dir = std::env::temp_dir().join(format!("relgate-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in [
            ("trivial.toml", trivial_checks(25)),
            ("independent.toml", independent_checks(25)),
            ("one.toml", one_check("yes \"a\\b\" | head -c 10")),
            ("dag.toml", sleeping_dag(Duration::from_millis(10))),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            relgate::spec::load(&path).unwrap_or_else(|err| panic!("{name}: {err}"));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_dag_bound_is_the_critical_path_or_the_work_shared() {
        let unit = Duration::from_secs(1);
        // Critical path A(2) → C(3) → D(1) = 6; total work 14.
        assert_eq!(dag_bound(unit, 1), Duration::from_secs(14));
        assert_eq!(dag_bound(unit, 2), Duration::from_secs(7));
        assert_eq!(dag_bound(unit, 4), Duration::from_secs(6));
    }
}
