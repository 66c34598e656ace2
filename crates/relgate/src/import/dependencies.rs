//! Dependencies: packets mentioned in a line, the statements and arrows that relate them,
//! and the edges kept (none that would close a cycle).

use super::*;

impl Importer<'_> {
    /// Packets mentioned in `text`, in order: (packet, start, end). `SEC-01..SEC-03` and
    /// `SEC-01 through SEC-03` include the packets between, in packet order.
    pub(super) fn mentions(&mut self, text: &str) -> Vec<(usize, usize, usize)> {
        // ASCII lowercase keeps byte offsets valid in `text`.
        let lower = text.to_ascii_lowercase();
        let packets = &self.packets;
        let mut found: Vec<(usize, usize, usize)> = self
            .finder
            .occurrences(packets.len(), &|packet| &packets[packet].forms, &lower)
            .into_iter()
            .filter(|(_, start, end)| {
                let before = lower[..*start].chars().next_back();
                let after: Vec<char> = lower[*end..].chars().take(2).collect();
                let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
                !(word(before.as_ref())
                    || word(after.first())
                    || (after.first() == Some(&'-') && word(after.get(1))))
            })
            .collect();
        found.sort_by_key(|(packet, start, end)| (*start, std::cmp::Reverse(*end), *packet));
        let mut kept: Vec<(usize, usize, usize)> = Vec::new();
        for mention in found {
            if kept.last().is_some_and(|last| mention.1 < last.2) {
                continue;
            }
            kept.push(mention);
        }
        let range = static_regex!(r"(?i)^\s*(?:\.\.\.?|–|—|-|to|through|thru)\s*$");
        let mut expanded = Vec::new();
        for (at, mention) in kept.iter().enumerate() {
            expanded.push(*mention);
            if let Some(next) = kept.get(at + 1) {
                if next.0 > mention.0 + 1 && range.is_match(&text[mention.2..next.1]) {
                    for between in mention.0 + 1..next.0 {
                        expanded.push((between, mention.2, mention.2));
                    }
                }
            }
        }
        expanded
    }

    /// Dependency statements anywhere in the tracker (commands excepted).
    pub(super) fn find_dependencies(&mut self) {
        let arrow = static_regex!(r"►|▶|→|⇒|⟶|-+>|=+>");
        let forward = static_regex!(
            r"(?i)\b(depends\s+on|depend\s+on|depending\s+on|dependent\s+on|blocked\s+by|requires|require|needs|waits?\s+for|after)\b"
        );
        let backward = static_regex!(r"(?i)\b(blocks|block|unblocks|before|precedes|enables)\b");
        // List markers, quote marks, checkboxes and bold before the text of a line.
        let lead = static_regex!(r"^(?:[\s>*_+#|-]|\d{1,9}[.)]|\[[ xX]\])*");
        if self.packets.len() < 2 {
            return;
        }
        let board_rows: HashSet<usize> = self
            .packets
            .iter()
            .filter_map(|packet| packet.board_row.as_ref().map(|(row, _)| *row))
            .collect();
        // No packet is added from here on: one automaton for every line.
        let packets = &self.packets;
        self.finder
            .compact(packets.len(), &|packet| &packets[packet].forms);
        for number in 1..=self.lines.len() {
            if self.command_lines.contains(&number)
                || self.title.as_ref().is_some_and(|(line, _)| *line == number)
                || board_rows.contains(&number)
            {
                continue;
            }
            let text = &self.lines[number - 1];
            // Every edge joins packets mentioned on the line (or the line's packet and one
            // mentioned on it): a line that mentions none needs no regex at all.
            let lower = text.to_ascii_lowercase();
            let packets = &self.packets;
            let mentioned =
                self.finder
                    .occurrences(packets.len(), &|packet| &packets[packet].forms, &lower);
            if mentioned.is_empty() {
                continue;
            }
            let mut edges: Vec<(usize, usize)> = Vec::new();
            let segments: Vec<&str> = arrow.split(text).collect();
            if segments.len() > 1 {
                for pair in segments.windows(2) {
                    for (before, _, _) in self.mentions(pair[0]) {
                        for (after, _, _) in self.mentions(pair[1]) {
                            edges.push((after, before));
                        }
                    }
                }
            } else {
                let stripped = lead.replace(text, "").to_string();
                let first_forward = forward.find(&stripped);
                let first_backward = backward.find(&stripped);
                let (connector, is_forward) = match (first_forward, first_backward) {
                    (Some(f), Some(b)) if b.start() < f.start() => (b, false),
                    (Some(f), _) => (f, true),
                    (None, Some(b)) => (b, false),
                    (None, None) => continue,
                };
                let left: Vec<usize> = self
                    .mentions(&stripped[..connector.start()])
                    .into_iter()
                    .map(|(packet, _, _)| packet)
                    .collect();
                let right: Vec<usize> = self
                    .mentions(&stripped[connector.end()..])
                    .into_iter()
                    .map(|(packet, _, _)| packet)
                    .collect();
                let left = if left.is_empty() && connector.start() == 0 {
                    self.region[number - 1].into_iter().collect()
                } else {
                    left
                };
                for &l in &left {
                    for &r in &right {
                        edges.push(if is_forward { (l, r) } else { (r, l) });
                    }
                }
            }
            for (dependent, dependency) in edges {
                self.add_dependency(dependent, dependency, number);
            }
        }
    }

    /// Records that `dependent` depends on `dependency`, unless it is itself or would close a
    /// cycle.
    pub(super) fn add_dependency(&mut self, dependent: usize, dependency: usize, line: usize) {
        if dependent == dependency {
            return;
        }
        if let Some(&at) = self.edges.get(&(dependent, dependency)) {
            // Lines are sorted and deduplicated when written: only a repeat in a row is skipped
            // here (one line can state the same dependency twice).
            let lines = &mut self.packets[dependent].depends_on[at].1;
            if lines.last() != Some(&line) {
                lines.push(line);
            }
            return;
        }
        if !self.order.add(dependent, dependency) {
            let message = format!(
                "`{} depends on {}` would close a dependency cycle: not imported",
                self.packets[dependent].id, self.packets[dependency].id
            );
            self.note(NoteLevel::Warning, Some(line), message);
            return;
        }
        let message = format!(
            "{} depends on {}",
            self.packets[dependent].id, self.packets[dependency].id
        );
        self.note(NoteLevel::Note, Some(line), message);
        let depends_on = &mut self.packets[dependent].depends_on;
        self.edges.insert((dependent, dependency), depends_on.len());
        depends_on.push((dependency, vec![line]));
    }
}
