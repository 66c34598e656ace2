//! The records of a run in one process, and dependency waiting over them.
//!
//! Every cost a trial pays here is independent of the size of the gate: a trial waits for and
//! copies only the records it names; whether a packet is blocked is computed once per packet
//! from the statuses of its direct dependencies, and the status of a packet once per run (when
//! all its checks in the run have published, its status during the run cannot change).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use chrono::NaiveDate;

use crate::evidence::{CheckRecord, PacketStatus};
use crate::plan;
use crate::spec::{Check, Gate, Packet};
use crate::verdict::{self, Stage};

/// What a packet's trials learn once its dependencies are settled.
#[derive(Debug, Clone, Default)]
pub(super) struct Resolution {
    /// Dependencies (direct) whose status blocks the packet.
    pub(super) blocked_by: Vec<String>,
    /// Ancestors with no check in this run (a partial run), in topological order.
    pub(super) not_in_run: Vec<String>,
}

/// The trials selected for this run.
struct InRun {
    names: HashSet<String>,
    partial: bool,
}

/// The shared record board of an in-process run.
pub(super) struct Board {
    records: Mutex<BTreeMap<String, CheckRecord>>,
    changed: Condvar,
    in_run: OnceLock<InRun>,
    /// Status of each packet whose checks have all published (during the run).
    statuses: Mutex<HashMap<String, PacketStatus>>,
    /// Resolution of each packet whose dependencies are settled.
    resolved: Mutex<HashMap<String, Arc<Resolution>>>,
    /// Index of each packet in `gate.packets`.
    packet_at: HashMap<String, usize>,
}

impl Board {
    pub(super) fn new(gate: &Gate) -> Board {
        Board {
            records: Mutex::new(BTreeMap::new()),
            changed: Condvar::new(),
            in_run: OnceLock::new(),
            statuses: Mutex::new(HashMap::new()),
            resolved: Mutex::new(HashMap::new()),
            packet_at: plan::index(gate)
                .into_iter()
                .map(|(id, at)| (id.to_string(), at))
                .collect(),
        }
    }

    /// Sets the trials of this run, once, before any trial starts.
    pub(super) fn select(&self, names: HashSet<String>, partial: bool) {
        let _ = self.in_run.set(InRun { names, partial });
    }

    /// Whether the trial `name` is part of this run.
    pub(super) fn in_run(&self, name: &str) -> bool {
        self.in_run
            .get()
            .is_some_and(|in_run| in_run.names.contains(name))
    }

    /// The packet `id` of `gate` (which must be the gate the board was made for).
    pub(super) fn packet<'g>(&self, gate: &'g Gate, id: &str) -> Option<&'g Packet> {
        self.packet_at.get(id).map(|at| &gate.packets[*at])
    }

    /// Publishes a record and wakes the trials waiting for it.
    pub(super) fn publish(&self, record: CheckRecord) {
        let mut records = self.records.lock().expect("run state lock");
        records.insert(record.name.clone(), record);
        self.changed.notify_all();
    }

    /// Every record published, by name.
    pub(super) fn all(&self) -> Vec<CheckRecord> {
        let records = self.records.lock().expect("run state lock");
        records.values().cloned().collect()
    }

    /// Blocks until every named trial that is part of this run has published its record;
    /// returns those records (of the named trials only).
    pub(super) fn wait_for(&self, names: &[String]) -> Vec<CheckRecord> {
        let wanted: Vec<&String> = names.iter().filter(|name| self.in_run(name)).collect();
        let mut records = self.records.lock().expect("run state lock");
        while !wanted.iter().all(|name| records.contains_key(*name)) {
            records = self.changed.wait(records).expect("run state lock");
        }
        wanted
            .iter()
            .filter_map(|name| records.get(*name).cloned())
            .collect()
    }

    /// Waits until the packets `packet_id` depends on are settled (every check of every
    /// ancestor in this run has published), then says which dependencies block it and which
    /// ancestors are not part of the run. Computed once per packet.
    pub(super) fn dependencies(
        &self,
        gate: &Gate,
        packet_id: &str,
        today: NaiveDate,
    ) -> Arc<Resolution> {
        if let Some(done) = self.resolved.lock().expect("run state lock").get(packet_id) {
            return Arc::clone(done);
        }
        let Some(packet) = self.packet(gate, packet_id) else {
            return Arc::default();
        };
        let statuses: BTreeMap<&str, PacketStatus> = packet
            .depends_on
            .iter()
            .map(|dep| (dep.as_str(), self.status(gate, dep, today)))
            .collect();
        // Only `blocked_by` is read: the packet's own checks have not run.
        let blocked_by =
            verdict::packet_alone(packet, &[], &gate.accepts, today, Stage::Running, &statuses)
                .blocked_by;
        let partial = self.in_run.get().is_some_and(|in_run| in_run.partial);
        let not_in_run = if partial {
            plan::ancestors(gate, packet_id)
                .into_iter()
                .filter(|ancestor| {
                    !ancestor
                        .checks
                        .iter()
                        .any(|check| self.in_run(&check.name()))
                })
                .map(|ancestor| ancestor.id.clone())
                .collect()
        } else {
            Vec::new()
        };
        let resolution = Arc::new(Resolution {
            blocked_by,
            not_in_run,
        });
        self.resolved
            .lock()
            .expect("run state lock")
            .insert(packet_id.to_string(), Arc::clone(&resolution));
        resolution
    }

    /// The status during the run of packet `id`, once all its checks in the run (and those of
    /// its ancestors) have published. Iterative, so a long chain of packets cannot overflow
    /// the stack of a trial's thread.
    fn status(&self, gate: &Gate, id: &str, today: NaiveDate) -> PacketStatus {
        let known = |id: &str| -> Option<PacketStatus> {
            self.statuses
                .lock()
                .expect("run state lock")
                .get(id)
                .copied()
        };
        let mut stack: Vec<(&str, bool)> = vec![(id, false)];
        while let Some((current, expanded)) = stack.pop() {
            if known(current).is_some() {
                continue;
            }
            let Some(packet) = self.packet(gate, current) else {
                continue;
            };
            if !expanded {
                stack.push((current, true));
                for dep in &packet.depends_on {
                    if known(dep).is_none() {
                        stack.push((dep, false));
                    }
                }
                continue;
            }
            let statuses: BTreeMap<&str, PacketStatus> = packet
                .depends_on
                .iter()
                .filter_map(|dep| known(dep).map(|status| (dep.as_str(), status)))
                .collect();
            let names: Vec<String> = packet.checks.iter().map(Check::name).collect();
            let records = self.wait_for(&names);
            let records: Vec<&CheckRecord> = records.iter().collect();
            let status = verdict::packet_alone(
                packet,
                &records,
                &gate.accepts,
                today,
                Stage::Running,
                &statuses,
            )
            .status;
            self.statuses
                .lock()
                .expect("run state lock")
                .insert(current.to_string(), status);
        }
        known(id).unwrap_or(PacketStatus::Pending)
    }
}
