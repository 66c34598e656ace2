//! The plan: packets in dependency order.
//!
//! Only a validated [`Gate`] reaches here, so the graph is known to be acyclic and every
//! dependency exists; the functions below rely on that.

use std::collections::BTreeMap;

use crate::spec::{Gate, Packet};

/// Packets in topological order; among packets whose dependencies are met, file order wins,
/// so the order is stable and readable.
pub fn topological(gate: &Gate) -> Vec<&Packet> {
    let mut placed: Vec<&Packet> = Vec::with_capacity(gate.packets.len());
    let mut remaining: Vec<&Packet> = gate.packets.iter().collect();
    while !remaining.is_empty() {
        let ready = remaining.iter().position(|packet| {
            packet
                .depends_on
                .iter()
                .all(|dep| placed.iter().any(|done| &done.id == dep))
        });
        match ready {
            Some(index) => placed.push(remaining.remove(index)),
            // Unreachable for a validated gate; keep the rest in file order rather than loop.
            None => {
                placed.append(&mut remaining);
            }
        }
    }
    placed
}

/// Packets grouped in waves: every packet of a wave depends only on earlier waves, so the
/// packets of one wave may run in parallel.
pub fn waves(gate: &Gate) -> Vec<Vec<&Packet>> {
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    for packet in topological(gate) {
        let depth = packet
            .depends_on
            .iter()
            .filter_map(|dep| level.get(dep.as_str()))
            .map(|depth| depth + 1)
            .max()
            .unwrap_or(0);
        level.insert(&packet.id, depth);
    }
    let count = level.values().copied().max().map_or(0, |max| max + 1);
    let mut waves = vec![Vec::new(); count];
    for packet in &gate.packets {
        waves[level[packet.id.as_str()]].push(packet);
    }
    waves
}

/// Every packet `id` depends on, directly or not, in topological order.
pub fn ancestors<'g>(gate: &'g Gate, id: &str) -> Vec<&'g Packet> {
    let mut wanted: Vec<&str> = vec![id];
    let mut found: Vec<&str> = Vec::new();
    while let Some(current) = wanted.pop() {
        if let Some(packet) = gate.packet(current) {
            for dep in &packet.depends_on {
                if !found.contains(&dep.as_str()) {
                    found.push(dep);
                    wanted.push(dep);
                }
            }
        }
    }
    topological(gate)
        .into_iter()
        .filter(|packet| found.contains(&packet.id.as_str()))
        .collect()
}
