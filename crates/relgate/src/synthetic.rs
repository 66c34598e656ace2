//! Synthetic inputs of any size, for the scale tests and the benchmark: a gate file of `n`
//! packets and a Markdown tracker whose packet board has `n` rows.
//!
//! Both are valid, deterministic and shaped like real ones (ids, titles, people, a check or two
//! per packet, checklist items, dependency chains), so that the time to load or import them
//! measures the loader and the importer, not an error path.

use std::fmt::Write as _;
use std::time::Duration;

/// A valid gate file of `packets` packets, `SYN-00001` onwards. Each packet has one or two
/// `run` checks (argv or shell, some with a timeout), a checklist item bound to its first
/// check, and depends on the packet before it (a chain as long as the gate), every tenth one
/// also on the packet ten before. One `[[accept]]` for a P1 check closes the file.
pub fn synthetic_gate(packets: usize) -> String {
    let mut out = String::with_capacity(packets * 360 + 256);
    let _ = writeln!(
        out,
        "# A synthetic gate of {packets} packets (relgate::synthetic).\n\n\
         [gate]\nname = \"Synthetic gate\"\n\n[defaults]\ntimeout = \"5m\"\nseverity = \"P0\""
    );
    for n in 1..=packets {
        let id = packet_id(n);
        let _ = writeln!(
            out,
            "\n[[packet]]\nid = \"{id}\"\ntitle = \"Synthetic packet {n}\""
        );
        match n {
            1 => {}
            _ if n > 10 && n % 10 == 0 => {
                let _ = writeln!(
                    out,
                    "depends_on = [\"{}\", \"{}\"]",
                    packet_id(n - 1),
                    packet_id(n - 10)
                );
            }
            _ => {
                let _ = writeln!(out, "depends_on = [\"{}\"]", packet_id(n - 1));
            }
        }
        let _ = writeln!(
            out,
            "implementer = \"dev{}\"\nreviewer = \"rev{}\"\n\
             checklist = [\n  {{ item = \"Packet {n} builds and its tests pass.\", by = [\"build\"] }},\n]\n\n\
             [[packet.check]]\nid = \"build\"\nrun = [\"true\", \"{id}\"]",
            n % 7,
            n % 5
        );
        if n % 2 == 0 {
            let _ = writeln!(
                out,
                "\n[[packet.check]]\nid = \"lint\"\nrun = \"test -n {id}\"\ntimeout = \"90s\"\nseverity = \"P1\""
            );
        }
    }
    if packets >= 2 {
        let _ = writeln!(
            out,
            "\n[[accept]]\ncheck = \"{}::lint\"\nowner = \"security\"\nuntil = \"2099-12-31\"\nreason = \"synthetic\"",
            packet_id(2)
        );
    }
    out
}

/// A Markdown tracker whose packet board has `rows` rows (`SYN-00001` onwards, each depending
/// on the row before in a "Depends on" column), followed by one section per packet: a heading,
/// a checkbox, a "blocked by" statement naming the packet before, and a commands list with one
/// command. `cargo xtask gate import` turns it into a gate of `rows` packets.
pub fn synthetic_board(rows: usize) -> String {
    let mut out = String::with_capacity(rows * 300 + 256);
    let _ = writeln!(
        out,
        "# Synthetic Release Tracker\n\n\
         A synthetic tracker of {rows} packets (relgate::synthetic).\n\n\
         ## Packet board\n\n\
         | Packet | Title | Implementer | Reviewer | Depends on | Status |\n\
         |---|---|---|---|---|---|"
    );
    for n in 1..=rows {
        let depends = if n == 1 {
            "—".to_string()
        } else {
            packet_id(n - 1)
        };
        let _ = writeln!(
            out,
            "| {} | Synthetic packet {n} | dev{} | rev{} | {depends} | open |",
            packet_id(n),
            n % 7,
            n % 5
        );
    }
    for n in 1..=rows {
        let id = packet_id(n);
        let _ = writeln!(out, "\n## {id} Synthetic packet {n}\n");
        let _ = writeln!(out, "- [ ] Packet {n} builds and its tests pass.");
        if n > 1 {
            let _ = writeln!(out, "\nBlocked by {}.", packet_id(n - 1));
        }
        let _ = writeln!(out, "\n**Commands:**\n\n- `test -n {id}` → exit 0");
    }
    out
}

/// The CPU time the calling thread spends in `work`, with its result: unlike wall time, it
/// does not grow while a busy machine runs other processes, so scale tests can compare costs.
pub fn thread_cpu_time<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    fn now() -> Duration {
        let mut time = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `time` is a valid timespec for the call to fill in.
        let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) };
        assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
    }
    let start = now();
    let result = work();
    (result, now() - start)
}

/// How many times more CPU time `work(large)` takes than `work(small)`, each measured at least
/// twice and the cheapest kept (a preempted run costs more, never less). Work that is linear
/// in its size gives about `large / small`; quadratic work, its square.
pub fn cost_ratio(small: usize, large: usize, work: impl Fn(usize)) -> f64 {
    let cheapest = |size: usize, runs: usize| {
        (0..runs)
            .map(|_| thread_cpu_time(|| work(size)).1)
            .min()
            .expect("at least one run")
    };
    // The small size is cheap: more runs smooth out its noise. The large one is measured twice
    // too (a single run that lands on a cold cache or a preempted core fails a linear loader).
    let small_cost = cheapest(small, 3);
    let large_cost = cheapest(large, 2);
    large_cost.as_secs_f64() / small_cost.as_secs_f64().max(1e-6)
}

/// Asserts that `work` (of sizes `small` and `large`) costs about in proportion to its size:
/// at most 2.5 times `large / small` as much CPU time at `large`. Work quadratic in its size
/// costs `large / small` times more again (the quadratic loader measured 34 times for 8
/// times the packets), and fails. The margin is for `n log n` indexes (ordered maps: 10.4
/// times for 8 times from 1,000) and for caches a loaded machine shares: the loader measured
/// 10.3 to 12.6 times alone and 17.9 times while CI ran the other test binaries beside it.
pub fn assert_near_linear(what: &str, small: usize, large: usize, work: impl Fn(usize)) {
    let ratio = cost_ratio(small, large, work);
    let linear = large as f64 / small as f64;
    eprintln!("{what}: {large} cost {ratio:.1} times {small} (linear: {linear:.0})");
    assert!(
        ratio < linear * 2.5,
        "{what}: {large} cost {ratio:.1} times as much as {small}; linear would be {linear:.0}"
    );
}

fn packet_id(n: usize) -> String {
    format!("SYN-{n:05}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_gate_loads_with_its_packets_checks_and_chain() {
        let gate = crate::spec::parse(std::path::Path::new("synthetic.toml"), &synthetic_gate(25))
            .expect("the synthetic gate loads");
        assert_eq!(gate.packets.len(), 25);
        assert_eq!(gate.checks().count(), 25 + 12);
        assert!(gate.packets[0].depends_on.is_empty());
        assert_eq!(gate.packets[9].depends_on, ["SYN-00009"]);
        assert_eq!(gate.packets[19].depends_on, ["SYN-00019", "SYN-00010"]);
        assert!(gate
            .packets
            .iter()
            .all(|packet| packet.checklist.len() == 1));
        assert_eq!(gate.accepts.len(), 1);
    }

    #[test]
    fn the_synthetic_board_imports_into_a_chain_of_packets() {
        let imported = crate::import::import("board.md", synthetic_board(5).as_bytes())
            .expect("the synthetic board imports");
        assert_eq!(imported.packets.len(), 5);
        for (n, packet) in imported.packets.iter().enumerate() {
            assert_eq!(packet.id, packet_id(n + 1));
            assert_eq!(packet.checklist, 1, "{packet:?}");
            assert_eq!(packet.checks, 1, "{packet:?}");
            let expected: Vec<String> = (n > 0).then(|| packet_id(n)).into_iter().collect();
            assert_eq!(packet.depends_on, expected);
        }
    }
}
