//! The plan: packets in dependency order.
//!
//! Only a validated [`Gate`] reaches here, so the graph is known to be acyclic and every
//! dependency exists; the functions below rely on that.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use crate::spec::{Gate, Packet};

/// Each packet's position in `gate.packets`, by id.
pub fn index(gate: &Gate) -> HashMap<&str, usize> {
    gate.packets
        .iter()
        .enumerate()
        .map(|(at, packet)| (packet.id.as_str(), at))
        .collect()
}

/// Packets in topological order; among packets whose dependencies are met, file order wins,
/// so the order is stable and readable. O((packets + edges) · log packets).
pub fn topological(gate: &Gate) -> Vec<&Packet> {
    let index = index(gate);
    let mut waiting_on: Vec<usize> = vec![0; gate.packets.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); gate.packets.len()];
    for (at, packet) in gate.packets.iter().enumerate() {
        let deps: HashSet<usize> = packet
            .depends_on
            .iter()
            .filter_map(|dep| index.get(dep.as_str()).copied())
            .collect();
        waiting_on[at] = deps.len();
        for dep in deps {
            dependents[dep].push(at);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..gate.packets.len())
        .filter(|at| waiting_on[*at] == 0)
        .map(Reverse)
        .collect();
    let mut placed: Vec<&Packet> = Vec::with_capacity(gate.packets.len());
    let mut is_placed = vec![false; gate.packets.len()];
    while let Some(Reverse(at)) = ready.pop() {
        placed.push(&gate.packets[at]);
        is_placed[at] = true;
        for &dependent in &dependents[at] {
            waiting_on[dependent] -= 1;
            if waiting_on[dependent] == 0 {
                ready.push(Reverse(dependent));
            }
        }
    }
    // Unreachable for a validated gate (a cycle or an unknown dependency): keep the rest in
    // file order rather than lose them.
    placed.extend(
        gate.packets
            .iter()
            .enumerate()
            .filter(|(at, _)| !is_placed[*at])
            .map(|(_, packet)| packet),
    );
    placed
}

/// Every packet `id` depends on, directly or not, in topological order.
pub fn ancestors<'g>(gate: &'g Gate, id: &str) -> Vec<&'g Packet> {
    let index = index(gate);
    let mut found: HashSet<usize> = HashSet::new();
    let mut wanted: Vec<usize> = index.get(id).copied().into_iter().collect();
    while let Some(current) = wanted.pop() {
        for dep in &gate.packets[current].depends_on {
            if let Some(&at) = index.get(dep.as_str()) {
                if found.insert(at) {
                    wanted.push(at);
                }
            }
        }
    }
    topological(gate)
        .into_iter()
        .filter(|packet| {
            index
                .get(packet.id.as_str())
                .is_some_and(|at| found.contains(at))
        })
        .collect()
}
