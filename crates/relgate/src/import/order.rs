//! The dependencies found so far, kept in a topological order, so that "would this edge close
//! a cycle?" is answered without walking the whole graph for every edge (which made importing
//! a board whose rows each depend on the one before quadratic).
//!
//! The order is maintained as in Pearce and Kelly's dynamic topological sort: every packet has
//! a rank, and a dependency always ranks before its dependents. An edge that agrees with the
//! ranks cannot close a cycle and costs nothing; one that does not is checked by searching only
//! the packets ranked between its two ends, which are then re-ranked.

/// Ranks and edges of the dependency graph: packets are `0..len`.
#[derive(Debug, Default)]
pub(super) struct DependencyOrder {
    /// `rank[packet]`: a permutation of `0..len`; a dependency ranks lower than its dependents.
    rank: Vec<usize>,
    /// The packets each packet depends on.
    dependencies: Vec<Vec<usize>>,
    /// The packets that depend on each packet.
    dependents: Vec<Vec<usize>>,
}

impl DependencyOrder {
    /// Makes room for packets `0..packets` (new packets rank last).
    fn grow(&mut self, packets: usize) {
        while self.rank.len() < packets {
            self.rank.push(self.rank.len());
            self.dependencies.push(Vec::new());
            self.dependents.push(Vec::new());
        }
    }

    /// Records that `dependent` depends on `dependency`, unless `dependency` already depends
    /// (directly or not) on `dependent`: then nothing changes and the answer is `false`.
    pub(super) fn add(&mut self, dependent: usize, dependency: usize) -> bool {
        self.grow(dependent.max(dependency) + 1);
        if dependent == dependency {
            return false;
        }
        let (low, high) = (self.rank[dependent], self.rank[dependency]);
        if high > low {
            // The dependency ranks after its new dependent: search what ranks in between.
            let Some(forward) = self.reach(dependent, high, true) else {
                return false;
            };
            let backward = self
                .reach(dependency, low, false)
                .expect("the backward search stops at nothing");
            self.rerank(backward, forward);
        }
        self.dependencies[dependent].push(dependency);
        self.dependents[dependency].push(dependent);
        true
    }

    /// Packets reachable from `start` through dependents (`forward`, ranks up to `bound`) or
    /// through dependencies (ranks from `bound`), `start` included; `None` when a forward search
    /// meets the packet ranked `bound` (the edge would close a cycle).
    fn reach(&self, start: usize, bound: usize, forward: bool) -> Option<Vec<usize>> {
        let mut seen = vec![start];
        let mut stack = vec![start];
        let mut visited = std::collections::HashSet::from([start]);
        while let Some(packet) = stack.pop() {
            let next = if forward {
                &self.dependents[packet]
            } else {
                &self.dependencies[packet]
            };
            for &other in next {
                let rank = self.rank[other];
                if forward && rank == bound {
                    return None;
                }
                let inside = if forward { rank < bound } else { rank > bound };
                if inside && visited.insert(other) {
                    seen.push(other);
                    stack.push(other);
                }
            }
        }
        Some(seen)
    }

    /// Gives the ranks held by `backward` and `forward` to `backward` first, then `forward`,
    /// each keeping its own relative order.
    fn rerank(&mut self, mut backward: Vec<usize>, mut forward: Vec<usize>) {
        backward.sort_unstable_by_key(|packet| self.rank[*packet]);
        forward.sort_unstable_by_key(|packet| self.rank[*packet]);
        let mut ranks: Vec<usize> = backward
            .iter()
            .chain(&forward)
            .map(|packet| self.rank[*packet])
            .collect();
        ranks.sort_unstable();
        for (packet, rank) in backward.into_iter().chain(forward).zip(ranks) {
            self.rank[packet] = rank;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The original check: a search of everything `from` depends on.
    fn reaches(order: &DependencyOrder, from: usize, to: usize) -> bool {
        let mut stack = vec![from];
        let mut seen = std::collections::HashSet::new();
        while let Some(packet) = stack.pop() {
            if packet == to {
                return true;
            }
            if seen.insert(packet) {
                stack.extend(order.dependencies.get(packet).into_iter().flatten());
            }
        }
        false
    }

    #[test]
    fn refuses_exactly_the_edges_that_close_a_cycle() {
        // A small deterministic pseudo-random stream of edges over 12 packets.
        let mut order = DependencyOrder::default();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..400 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let (dependent, dependency) = ((state % 12) as usize, ((state >> 8) % 12) as usize);
            let expected = dependent != dependency && !reaches(&order, dependency, dependent);
            assert_eq!(
                order.add(dependent, dependency),
                expected,
                "{dependent} -> {dependency}"
            );
            for packet in 0..order.rank.len() {
                for &dep in &order.dependencies[packet] {
                    assert!(order.rank[dep] < order.rank[packet]);
                }
            }
        }
    }

    #[test]
    fn chains_in_either_direction_are_accepted_and_closing_them_is_not() {
        let mut order = DependencyOrder::default();
        for n in 1..200 {
            assert!(order.add(n, n - 1));
        }
        assert!(!order.add(0, 199));
        let mut order = DependencyOrder::default();
        for n in 1..200 {
            assert!(order.add(n - 1, n));
        }
        assert!(!order.add(199, 0));
    }
}
