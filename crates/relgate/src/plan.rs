//! The plan: packets in dependency order.
//!
//! Only a validated [`Gate`] reaches here, so the graph is known to be acyclic and every
//! dependency exists; the functions below rely on that.

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
