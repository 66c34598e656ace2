//! Where packets are mentioned in a text: every form of every packet (its id, the id as the
//! tracker wrote it), found in one pass of an Aho-Corasick automaton instead of one search per
//! packet per line, which made an import quadratic (25,000 packets × 100,000 lines).
//!
//! Packets are only ever added, and mostly all at once (the board), but a walk through the
//! sections may add them one by one. The finder keeps its packets in groups, each with its own
//! automaton, merged like the digits of a binary counter (a group is merged into the one before
//! it while that one is not larger), so that adding `n` packets one at a time costs
//! O(n log n) automaton building in all and a search visits O(log n) groups;
//! [`MentionFinder::compact`] makes one group again before the long search of every line.

use aho_corasick::{AhoCorasick, MatchKind};

/// Packet forms, ASCII-lowercased, in groups of consecutive packets.
#[derive(Default)]
pub(super) struct MentionFinder {
    groups: Vec<Group>,
}

/// The automaton of the forms of packets `first..first + count`.
struct Group {
    first: usize,
    count: usize,
    /// `None` when the packets have no non-empty form.
    automaton: Option<AhoCorasick>,
    /// For each pattern of the automaton (a distinct lowercased form), the packets that have
    /// it, in packet order.
    owners: Vec<Vec<usize>>,
}

impl Group {
    fn build(first: usize, forms: &[Vec<String>]) -> Group {
        let mut patterns: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        for (offset, packet_forms) in forms.iter().enumerate() {
            for form in packet_forms {
                let form = form.to_ascii_lowercase();
                if form.is_empty() {
                    continue;
                }
                let pattern = *index.entry(form.clone()).or_insert_with(|| {
                    patterns.push(form);
                    owners.push(Vec::new());
                    patterns.len() - 1
                });
                let packet = first + offset;
                if owners[pattern].last() != Some(&packet) {
                    owners[pattern].push(packet);
                }
            }
        }
        let automaton = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .expect("packet forms are short literals")
        });
        Group {
            first,
            count: forms.len(),
            automaton,
            owners,
        }
    }
}

impl MentionFinder {
    /// Takes in the packets the finder does not know yet, of `packets` (`forms(i)` are packet
    /// `i`'s forms); costs nothing when there are none.
    fn sync<'f>(&mut self, packets: usize, forms: &dyn Fn(usize) -> &'f [String]) {
        let known = self
            .groups
            .last()
            .map_or(0, |group| group.first + group.count);
        if known >= packets {
            return;
        }
        let mut first = known;
        while self
            .groups
            .last()
            .is_some_and(|group| group.count <= packets - first)
        {
            first = self.groups.pop().expect("just checked").first;
        }
        let owned: Vec<Vec<String>> = (first..packets)
            .map(|packet| forms(packet).to_vec())
            .collect();
        self.groups.push(Group::build(first, &owned));
    }

    /// Makes one group of all packets: for a long run of searches with no packet added.
    pub(super) fn compact<'f>(&mut self, packets: usize, forms: &dyn Fn(usize) -> &'f [String]) {
        if self.groups.len() > 1 {
            self.groups.clear();
        }
        self.sync(packets, forms);
    }

    /// Every occurrence of a packet's form in `lower` (ASCII-lowercased text), as
    /// (packet, start, end), at most one per packet and form where occurrences of the same form
    /// overlap (the leftmost wins, then the next one after it, as a left-to-right search
    /// finds them). Not filtered for word boundaries and not sorted.
    pub(super) fn occurrences<'f>(
        &mut self,
        packets: usize,
        forms: &dyn Fn(usize) -> &'f [String],
        lower: &str,
    ) -> Vec<(usize, usize, usize)> {
        self.sync(packets, forms);
        let mut found = Vec::new();
        for group in &self.groups {
            let Some(automaton) = &group.automaton else {
                continue;
            };
            // Where the last accepted occurrence of each pattern ended.
            let mut ends: std::collections::HashMap<usize, usize> = Default::default();
            for hit in automaton.find_overlapping_iter(lower) {
                let pattern = hit.pattern().as_usize();
                let end = ends.entry(pattern).or_insert(0);
                if hit.start() < *end {
                    continue;
                }
                *end = hit.end();
                for &packet in &group.owners[pattern] {
                    found.push((packet, hit.start(), hit.end()));
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(list: &[&[&str]]) -> Vec<Vec<String>> {
        list.iter()
            .map(|forms| forms.iter().map(|form| form.to_string()).collect())
            .collect()
    }

    fn occurrences(
        finder: &mut MentionFinder,
        all: &[Vec<String>],
        text: &str,
    ) -> Vec<(usize, usize, usize)> {
        finder.occurrences(all.len(), &|packet| all[packet].as_slice(), text)
    }

    #[test]
    fn finds_every_form_like_a_search_per_form() {
        let all = forms(&[&["SEC-01", "Sec 01"], &["SEC-010"], &["aa"], &["AA"], &[""]]);
        let mut finder = MentionFinder::default();
        let mut found = occurrences(&mut finder, &all, "sec-010 and sec 01, aaa");
        found.sort_unstable();
        // `aa` in `aaa`: once (the second occurrence overlaps the first), for both packets.
        assert_eq!(
            found,
            [(0, 0, 6), (0, 12, 18), (1, 0, 7), (2, 20, 22), (3, 20, 22)]
        );
    }

    #[test]
    fn packets_added_one_by_one_are_found_and_grouped_like_a_binary_counter() {
        let mut all: Vec<Vec<String>> = Vec::new();
        let mut finder = MentionFinder::default();
        for n in 0..37 {
            all.push(vec![format!("p-{n}")]);
            let found = occurrences(&mut finder, &all, &format!("see p-{n}."));
            assert!(found.contains(&(n, 4, 4 + format!("p-{n}").len())));
            assert!(finder.groups.len() <= 6, "{} groups", finder.groups.len());
        }
        finder.compact(all.len(), &|packet| all[packet].as_slice());
        assert_eq!(finder.groups.len(), 1);
        let found = occurrences(&mut finder, &all, "p-36");
        assert!(
            found.contains(&(36, 0, 4)) && found.contains(&(3, 0, 3)),
            "{found:?}"
        );
    }
}
