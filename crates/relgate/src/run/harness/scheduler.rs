//! Runs the checks of an in-process run (`cargo xtask gate`, `cargo test -p gate-tests`) on
//! `-j` worker threads of its own, each taking a *ready* check: one whose ancestor packets are
//! settled (every check of theirs in the run has published). libtest-mimic's trials only wait
//! for the records and report them.
//!
//! libtest-mimic hands trials to its workers in submission order, so when trials ran their
//! checks themselves, a check waiting for its dependencies held a worker that a ready check of
//! an independent packet could have used. Here no worker ever waits for a dependency: it runs
//! the highest ready check — the packet with the longest chain of dependents first, then
//! submission order — or sleeps until one is ready.
//!
//! `-j` bounds the checks *running*, not the bookkeeping after them: a worker gives its job
//! slot back as soon as its check has a record, and publishes it (evidence fragment, digest
//! chain, progress) while another worker already runs the next check — except the last check
//! of a packet whose publishing releases the packet's dependents, which are then ranked with
//! the rest. There are twice as many workers as slots.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex};

use super::RunState;
use crate::plan;

/// A check to run: its priority (packet height, then submission order), packet and check.
type Task = (usize, Reverse<usize>, usize, usize);

struct Queue {
    ready: BinaryHeap<Task>,
    /// Per packet (index in `gate.packets`): dependencies not yet settled.
    unsettled_deps: Vec<usize>,
    /// Per packet: its checks in the run that have not published yet.
    remaining: Vec<usize>,
    /// Checks not finished yet, in all.
    outstanding: usize,
    /// Job slots free: checks that may start running now.
    free_slots: usize,
}

struct Plan {
    /// Per packet: its checks in the run (indices in `packet.checks`), in file order.
    checks: Vec<Vec<usize>>,
    /// Per packet: the packets that depend on it directly.
    dependents: Vec<Vec<usize>>,
    /// Per packet: the longest chain of packets from it to a packet nothing depends on.
    height: Vec<usize>,
    /// Per packet: the position of its first check in submission order.
    order: Vec<usize>,
}

/// The worker threads; [`Scheduler::join`] waits for them.
pub(super) struct Scheduler {
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Scheduler {
    /// Starts workers running every check, `jobs` at a time, of the run (`state`'s board knows which).
    pub(super) fn start(state: &Arc<RunState>, jobs: usize) -> Scheduler {
        let gate = &state.gate;
        let at = plan::index(gate);
        let count = gate.packets.len();
        let mut plan = Plan {
            checks: vec![Vec::new(); count],
            dependents: vec![Vec::new(); count],
            height: vec![1; count],
            order: vec![0; count],
        };
        let mut unsettled_deps = vec![0; count];
        for (index, packet) in gate.packets.iter().enumerate() {
            plan.checks[index] = (0..packet.checks.len())
                .filter(|check| state.board.in_run(&packet.checks[*check].name()))
                .collect();
            for dep in &packet.depends_on {
                if let Some(&dep) = at.get(dep.as_str()) {
                    plan.dependents[dep].push(index);
                    unsettled_deps[index] += 1;
                }
            }
        }
        let topological = plan::topological(gate);
        let mut submitted = 0;
        for packet in &topological {
            let index = at[packet.id.as_str()];
            plan.order[index] = submitted;
            submitted += packet.checks.len();
        }
        for packet in topological.iter().rev() {
            let index = at[packet.id.as_str()];
            plan.height[index] = 1 + plan.dependents[index]
                .iter()
                .map(|dependent| plan.height[*dependent])
                .max()
                .unwrap_or(0);
        }
        let mut queue = Queue {
            ready: BinaryHeap::new(),
            remaining: plan.checks.iter().map(Vec::len).collect(),
            outstanding: plan.checks.iter().map(Vec::len).sum(),
            unsettled_deps,
            free_slots: jobs.max(1),
        };
        // The roots are taken before any is released: releasing a root with no check in the
        // run settles it, which releases its dependents; visiting them again here would
        // release them twice (their checks queued twice, their dependents' counts gone below
        // zero).
        let roots: Vec<usize> = (0..count)
            .filter(|packet| queue.unsettled_deps[*packet] == 0)
            .collect();
        for packet in roots {
            queue.release(&plan, packet);
        }
        let shared = Arc::new((Mutex::new(queue), Condvar::new(), plan));
        let workers = (0..2 * jobs.max(1))
            .map(|_| {
                let state = Arc::clone(state);
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || work(&state, &shared))
            })
            .collect();
        Scheduler { workers }
    }

    /// Waits until every check has run.
    pub(super) fn join(self) {
        for worker in self.workers {
            let _ = worker.join();
        }
    }
}

impl Queue {
    /// `packet`'s dependencies are settled: its checks are ready; with none in the run, it is
    /// settled itself.
    fn release(&mut self, plan: &Plan, packet: usize) {
        for (offset, check) in plan.checks[packet].iter().enumerate() {
            let order = plan.order[packet] + offset;
            self.ready
                .push((plan.height[packet], Reverse(order), packet, *check));
        }
        if self.remaining[packet] == 0 {
            self.settle(plan, packet);
        }
    }

    /// Every check of `packet` and of its ancestors has published: its dependents may go.
    fn settle(&mut self, plan: &Plan, packet: usize) {
        for &dependent in &plan.dependents[packet] {
            self.unsettled_deps[dependent] -= 1;
            if self.unsettled_deps[dependent] == 0 {
                self.release(plan, dependent);
            }
        }
    }
}

fn work(state: &RunState, shared: &(Mutex<Queue>, Condvar, Plan)) {
    let (queue, changed, plan) = shared;
    loop {
        let task = {
            let mut queue = queue.lock().expect("scheduler lock");
            loop {
                if queue.free_slots > 0 {
                    if let Some(task) = queue.ready.pop() {
                        queue.free_slots -= 1;
                        break Some(task);
                    }
                }
                if queue.outstanding == 0 {
                    break None;
                }
                queue = changed.wait(queue).expect("scheduler lock");
            }
        };
        let Some((_, _, packet, check)) = task else {
            changed.notify_all();
            return;
        };
        // Always a record, even when the runner panics.
        let record = state.run_in_process(&state.gate.packets[packet].checks[check]);
        // The last check of a settled packet keeps its slot until it has published: its
        // dependents become ready then, and the slot must go to the best of them, not to
        // whatever else is ready a moment earlier.
        let settles = {
            let mut queue = queue.lock().expect("scheduler lock");
            let settles = queue.remaining[packet] == 1 && queue.unsettled_deps[packet] == 0;
            if !settles {
                queue.free_slots += 1;
            }
            settles
        };
        changed.notify_all();
        state.publish(record);
        let mut queue = queue.lock().expect("scheduler lock");
        queue.outstanding -= 1;
        queue.remaining[packet] -= 1;
        if queue.remaining[packet] == 0 && queue.unsettled_deps[packet] == 0 {
            queue.settle(plan, packet);
        }
        if settles {
            queue.free_slots += 1;
        }
        changed.notify_all();
    }
}
