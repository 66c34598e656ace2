//! Building the packets: the board, the sections that start packets, and what each section
//! holds (checklist items, commands, people, comments).

use super::*;

impl Importer<'_> {
    /// The packet board: the first table with a packet or id column.
    pub(super) fn find_board(&self, title_block: Option<usize>) -> Option<usize> {
        self.blocks.iter().enumerate().position(|(index, block)| {
            Some(index) != title_block
                && matches!(block, Block::Table { header, rows, .. }
                if id_column(header).is_some()
                    && rows.iter().any(|(_, row)| {
                        id_column(header)
                            .and_then(|column| row.get(column))
                            .is_some_and(|cell| !sanitize_id(cell).is_empty())
                    }))
        })
    }

    pub(super) fn take_board(&mut self, index: usize) {
        let blocks = self.blocks;
        let Block::Table {
            first,
            header,
            rows,
            ..
        } = &blocks[index]
        else {
            return;
        };
        let id_at = id_column(header).expect("the board has an id column");
        let column = |names: &[&str]| {
            header.iter().position(|cell| {
                let name = plain_inline(cell).to_lowercase();
                names.contains(&name.trim())
            })
        };
        let title_at = column(&["title", "name", "summary", "description", "packet title"]);
        let implementer_at = column(&[
            "implementer",
            "owner",
            "assignee",
            "developer",
            "dev",
            "author",
            "implemented by",
        ]);
        let reviewer_at = column(&["reviewer", "reviewed by", "review by", "approver"]);
        let depends_at = column(&[
            "depends on",
            "dependencies",
            "depends",
            "dependency",
            "blocked by",
            "after",
            "prerequisites",
        ]);
        let mut board_deps = Vec::new();
        self.note(
            NoteLevel::Note,
            Some(*first),
            format!("packets from the packet board ({} rows)", rows.len()),
        );
        for (line, row) in rows {
            let cell = |at: Option<usize>| {
                at.and_then(|at| row.get(at))
                    .map(|cell| plain_inline(cell))
                    .filter(|cell| !is_blank_cell(cell))
            };
            let written = cell(Some(id_at)).unwrap_or_default();
            let id = sanitize_id(&written);
            if id.is_empty() {
                self.note(
                    NoteLevel::Warning,
                    Some(*line),
                    "board row without a packet id: kept as a comment",
                );
                self.board_kept.push(*line);
                continue;
            }
            if self.by_id.contains_key(&id) {
                self.note(
                    NoteLevel::Warning,
                    Some(*line),
                    format!(
                        "packet `{id}` is on the board twice: the second row is kept as a comment"
                    ),
                );
                self.board_kept.push(*line);
                continue;
            }
            let index = self.add_packet(&written, id, *line);
            let extra: Vec<(String, String)> = header
                .iter()
                .enumerate()
                // The dependency column stays as a comment too: an id in it that names no
                // packet would otherwise vanish.
                .filter(|(at, _)| {
                    ![Some(id_at), title_at, implementer_at, reviewer_at].contains(&Some(*at))
                })
                .filter_map(|(at, name)| cell(Some(at)).map(|value| (plain_inline(name), value)))
                .collect();
            let packet = &mut self.packets[index];
            packet.title = cell(title_at);
            packet.implementer = cell(implementer_at);
            packet.reviewer = cell(reviewer_at);
            packet.board_row = Some((*line, extra));
            if let Some(depends) = cell(depends_at) {
                board_deps.push((index, depends, *line));
            }
            self.mapped.insert(*line);
        }
        let kept: HashSet<usize> = self.board_kept.iter().copied().collect();
        for line in blocks[index].lines() {
            if !kept.contains(&line) {
                self.mapped.insert(line);
            }
        }
        for (index, depends, line) in board_deps {
            for (dep, _, _) in self.mentions(&depends) {
                self.add_dependency(index, dep, line);
            }
        }
    }

    pub(super) fn add_packet(&mut self, written: &str, id: String, line: usize) -> usize {
        let id = if looks_secret(&id) {
            format!("packet-{line}")
        } else {
            id
        };
        let mut unique = id.clone();
        let mut suffix = 2;
        while self.by_id.contains_key(&unique) {
            unique = format!("{id}-{suffix}");
            suffix += 1;
        }
        let written = plain_inline(written).replace('`', "");
        let mut forms = vec![unique.clone()];
        if written.trim() != unique {
            if !written.trim().is_empty() {
                forms.push(written.trim().to_string());
            }
            self.note(
                NoteLevel::Warning,
                Some(line),
                format!(
                    "packet id `{}` became `{unique}` (ids are letters, digits, `.`, `_` and `-`)",
                    written.trim()
                ),
            );
        }
        let index = self.packets.len();
        self.by_id.insert(unique.clone(), index);
        for form in &forms {
            self.by_form.entry(form.clone()).or_insert(index);
        }
        self.packets.push(PacketDraft {
            written_id: (written.trim() != unique).then(|| (written.trim().to_string(), line)),
            id: unique,
            forms,
            ..PacketDraft::default()
        });
        index
    }

    pub(super) fn choose_mode(&mut self, title_block: Option<usize>) -> Mode {
        let id_headings = self
            .blocks
            .iter()
            .enumerate()
            .filter(|(index, block)| {
                Some(*index) != title_block
                    && matches!(block, Block::Heading { text, .. } if id_from_heading(text).is_some())
            })
            .count();
        if id_headings > 0 {
            self.note(
                NoteLevel::Warning,
                None,
                "no packet board: packets from the headings that start with a packet id",
            );
            return Mode::IdHeadings;
        }
        let title_level = title_block.map_or(0, |_| 1);
        let level = (1..=6).find(|level| {
            *level > title_level
                && self.blocks.iter().enumerate().any(|(index, block)| {
                    matches!(block, Block::Heading { level: at, .. } if at == level)
                        && self.has_checkbox(index)
                })
        });
        match level {
            Some(level) => {
                self.note(
                    NoteLevel::Warning,
                    None,
                    format!(
                        "no packet board and no packet ids in headings: one packet per level-{level} section with checkboxes"
                    ),
                );
                Mode::Sections(level)
            }
            None => {
                self.note(
                    NoteLevel::Warning,
                    None,
                    "no packet board, packet headings or sections with checkboxes: the whole tracker is one packet",
                );
                Mode::Single
            }
        }
    }

    /// Whether the section a heading opens (down to the next heading of its level or above)
    /// holds a checkbox.
    pub(super) fn has_checkbox(&self, heading: usize) -> bool {
        let Block::Heading { level, .. } = &self.blocks[heading] else {
            return false;
        };
        self.blocks[heading + 1..]
            .iter()
            .take_while(|block| !matches!(block, Block::Heading { level: at, .. } if at <= level))
            .any(|block| {
                matches!(
                    block,
                    Block::Item {
                        checked: Some(_),
                        ..
                    }
                )
            })
    }

    /// The packet a heading starts, if it starts one; creates packets as headings name them.
    pub(super) fn starts_packet(&mut self, mode: Mode, index: usize) -> Option<usize> {
        let blocks = self.blocks;
        let Block::Heading {
            line, level, text, ..
        } = &blocks[index]
        else {
            return None;
        };
        let (line, level) = (*line, *level);
        match mode {
            Mode::Board => {
                let mentioned: BTreeSet<usize> =
                    self.mentions(text).into_iter().map(|(p, _, _)| p).collect();
                if mentioned.len() == 1 {
                    let packet = *mentioned.first().expect("one");
                    let starting = id_from_heading(text).filter(|(written, _)| {
                        self.packets[packet]
                            .forms
                            .iter()
                            .any(|form| form.eq_ignore_ascii_case(written))
                            || sanitize_id(written) == self.packets[packet].id
                    });
                    if starting.is_some() || level > 1 {
                        if self.packets[packet].title.is_none() {
                            self.packets[packet].title =
                                starting.and_then(|(_, rest)| title_from_rest(&rest));
                        }
                        return Some(packet);
                    }
                }
                if mentioned.is_empty() && level > 1 {
                    if let Some((written, rest)) = id_from_heading(text) {
                        let packet = self.add_packet(&written, sanitize_id(&written), line);
                        self.packets[packet].title = title_from_rest(&rest);
                        self.note(
                            NoteLevel::Warning,
                            Some(line),
                            format!(
                                "packet `{}` has a section but is not on the board: imported",
                                self.packets[packet].id
                            ),
                        );
                        return Some(packet);
                    }
                }
                None
            }
            Mode::IdHeadings => {
                let (written, rest) = id_from_heading(text)?;
                let id = sanitize_id(&written);
                // The first packet with that id (its first form) or with that form.
                let known = [self.by_id.get(&id), self.by_form.get(&written)];
                if let Some(packet) = known.into_iter().flatten().min().copied() {
                    return Some(packet);
                }
                let packet = self.add_packet(&written, id, line);
                self.packets[packet].title = title_from_rest(&rest);
                Some(packet)
            }
            Mode::Sections(at) => {
                if level != at || !self.has_checkbox(index) {
                    return None;
                }
                let title = plain_inline(text);
                let mut id = sanitize_id(&title).to_lowercase();
                if id.is_empty() {
                    id = format!("section-{line}");
                }
                let packet = self.add_packet(&id, id.clone(), line);
                self.packets[packet].title = Some(title).filter(|title| !title.is_empty());
                Some(packet)
            }
            Mode::Single => None,
        }
    }

    pub(super) fn walk(&mut self, mode: Mode, title_block: Option<usize>, board: Option<usize>) {
        let mut current: Option<(usize, usize)> = None;
        if mode == Mode::Single {
            let name = self
                .title
                .as_ref()
                .map(|(_, title)| title.clone())
                .unwrap_or_else(|| self.source_stem());
            let mut id = sanitize_id(&name).to_lowercase();
            if id.is_empty() {
                id = "tracker".to_string();
            }
            let packet = self.add_packet(&id, id.clone(), 1);
            self.packets[packet].title = Some(name);
            self.packets[packet].placed = true;
            self.segments.push(Segment::Packet(packet));
            current = Some((packet, 0));
        }
        let mut general: Vec<usize> = Vec::new();
        let mut state = PacketState::default();
        let blocks = self.blocks;
        for (index, block) in blocks.iter().enumerate() {
            if Some(index) == title_block {
                continue;
            }
            if Some(index) == board {
                if let Block::Table { first, last, .. } = block {
                    self.flush(&mut general);
                    self.segments.push(Segment::Board {
                        first: *first,
                        last: *last,
                    });
                    // Board packets without a section of their own are written here.
                    for packet in 0..self.packets.len() {
                        if self.packets[packet].board_row.is_some() {
                            self.segments.push(Segment::PacketSlot(packet));
                        }
                    }
                }
                continue;
            }
            if let Block::Heading { level, line, .. } = block {
                let (level, line) = (*level, *line);
                let inside = matches!(current, Some((_, at)) if level > at);
                if !inside {
                    if let Some(packet) = self.starts_packet(mode, index) {
                        self.flush(&mut general);
                        if !self.packets[packet].placed {
                            self.packets[packet].placed = true;
                            self.segments.push(Segment::Packet(packet));
                        }
                        self.packets[packet].headings.push(line);
                        for at in block.lines() {
                            self.region[at - 1] = Some(packet);
                            // A setext heading's underline.
                            if at != line {
                                self.mapped.insert(at);
                            }
                        }
                        current = Some((packet, level));
                        state = PacketState::default();
                        continue;
                    }
                    current = None;
                }
            }
            match current {
                Some((packet, _)) => {
                    for at in block.lines() {
                        self.region[at - 1] = Some(packet);
                    }
                    self.absorb(packet, index, &mut state);
                }
                None => {
                    if let Block::Item {
                        line,
                        checked: Some(_),
                        ..
                    } = block
                    {
                        self.note(
                            NoteLevel::Warning,
                            Some(*line),
                            "checkbox outside any packet: kept as a comment",
                        );
                    }
                    if !matches!(block, Block::Rule { .. }) {
                        general.extend(block.lines());
                    }
                }
            }
        }
        self.flush(&mut general);
        // Packet slots hold board packets that never got a section.
        let segments = std::mem::take(&mut self.segments);
        for segment in segments {
            match segment {
                Segment::PacketSlot(packet) => {
                    if !self.packets[packet].placed {
                        self.packets[packet].placed = true;
                        self.segments.push(Segment::Packet(packet));
                    }
                }
                other => self.segments.push(other),
            }
        }
    }

    pub(super) fn flush(&mut self, general: &mut Vec<usize>) {
        if !general.is_empty() {
            self.segments
                .push(Segment::Comments(std::mem::take(general)));
        }
    }

    pub(super) fn source_stem(&self) -> String {
        Path::new(self.source).file_stem().map_or_else(
            || self.source.to_string(),
            |stem| stem.to_string_lossy().into_owned(),
        )
    }

    /// One block of a packet's sections.
    pub(super) fn absorb(&mut self, packet: usize, index: usize, state: &mut PacketState) {
        let blocks = self.blocks;
        let block = &blocks[index];
        let span: Vec<usize> = block.lines().collect();
        let follows_item = state
            .last_item
            .is_some_and(|(_, _, last_line)| span.first() == Some(&(last_line + 1)));
        match block {
            Block::Heading { text, .. } => {
                state.sub = classify(text);
                state.last_item = None;
                state.last_command = None;
                if state.sub == Sub::Commands {
                    self.mapped.extend(span);
                } else {
                    self.packets[packet].comments.extend(span);
                }
            }
            Block::Item {
                line,
                indent,
                checked,
                text,
            } => {
                let (line, indent) = (*line, *indent);
                if let Some((item, item_indent, _)) = state.last_item {
                    if state.sub == Sub::Main && checked.is_none() && indent > item_indent {
                        self.packets[packet].items[item].details.push(line);
                        state.last_item = Some((item, item_indent, line));
                        return;
                    }
                }
                state.last_item = None;
                if state.sub == Sub::Commands {
                    if checked.is_none() && state.last_command.is_some_and(|under| indent > under) {
                        self.packets[packet].comments.push(line);
                        return;
                    }
                    state.last_command = Some(indent);
                }
                match (state.sub, checked) {
                    (Sub::Commands, _) => self.command_item(packet, line, text, *checked),
                    (Sub::Main, Some(done)) => {
                        let text = plain_inline(text);
                        if text.is_empty() {
                            self.keep_as_comment(
                                packet,
                                line,
                                "checkbox without text: kept as a comment",
                            );
                            return;
                        }
                        self.packets[packet].items.push(ItemDraft {
                            line,
                            text,
                            checked: *done,
                            details: Vec::new(),
                        });
                        self.mapped.insert(line);
                        state.last_item =
                            Some((self.packets[packet].items.len() - 1, indent, line));
                    }
                    _ => {
                        if !(state.sub == Sub::Main && self.person_line(packet, line, text)) {
                            self.packets[packet].comments.push(line);
                        }
                    }
                }
            }
            Block::Text { line, indent, text } => {
                let line = *line;
                if let Some(sub) = pseudo_heading(text) {
                    state.sub = sub;
                    state.last_item = None;
                    if sub == Sub::Commands {
                        self.mapped.insert(line);
                    } else {
                        self.packets[packet].comments.push(line);
                    }
                    return;
                }
                if let Some((item, item_indent, _)) = state.last_item {
                    if *indent > item_indent || follows_item {
                        self.packets[packet].items[item].details.push(line);
                        state.last_item = Some((item, item_indent, line));
                        return;
                    }
                }
                state.last_item = None;
                if !(state.sub == Sub::Main && self.person_line(packet, line, text)) {
                    self.packets[packet].comments.push(line);
                }
            }
            Block::Fence {
                first, last, body, ..
            } => {
                state.last_item = None;
                if state.sub == Sub::Commands {
                    self.mapped.insert(*first);
                    self.mapped.insert(*last);
                    let body = body.clone();
                    self.command_fence(packet, &body);
                } else {
                    self.packets[packet].comments.extend(span);
                }
            }
            Block::Table { .. } => {
                state.last_item = None;
                self.packets[packet].comments.extend(span);
            }
            Block::Rule { .. } => {}
        }
    }

    /// `Implementer: alice` / `**Reviewer:** bob` in a packet's text.
    pub(super) fn person_line(&mut self, packet: usize, line: usize, text: &str) -> bool {
        let person = static_regex!(
            r"(?i)^(implementer|implemented by|owner|assignee|reviewer|reviewed by)\s*:\s*(.+)$"
        );
        let plain = plain_inline(text);
        let Some(captures) = person.captures(&plain) else {
            return false;
        };
        let name = captures[2].trim().to_string();
        if is_blank_cell(&name) {
            return false;
        }
        let draft = &mut self.packets[packet];
        let slot = if captures[1].to_lowercase().starts_with("review") {
            &mut draft.reviewer
        } else {
            &mut draft.implementer
        };
        if slot.is_some() {
            return false;
        }
        *slot = Some(name);
        self.mapped.insert(line);
        true
    }

    /// A list item in a commands section: its code span is the command.
    pub(super) fn command_item(
        &mut self,
        packet: usize,
        line: usize,
        text: &str,
        checked: Option<bool>,
    ) {
        let arrow = static_regex!(r"^(.+?)\s*(?:->|→|=>|⇒)\s*(.*)$");
        let (command, rest) = match code_span(text) {
            Some(found) => found,
            None => match arrow.captures(text) {
                Some(captures) if stated_exit_codes(&captures[2]).is_some() => {
                    (captures[1].to_string(), captures[2].to_string())
                }
                _ => {
                    self.keep_as_comment(
                        packet,
                        line,
                        "no command in backticks in a commands section: kept as a comment",
                    );
                    return;
                }
            },
        };
        self.add_command(packet, line, &command, &rest, checked);
    }

    /// A code block in a commands section: one command per line (`\` continues a line, `$ `
    /// prompts and `#` comments are dropped).
    pub(super) fn command_fence(&mut self, packet: usize, body: &[usize]) {
        let arrow = static_regex!(r"^(.+?)\s+(?:->|→|=>|⇒)\s*(exit.*)$");
        let mut pending: Option<(usize, String)> = None;
        for &line in body {
            let text = self.lines[line - 1].trim();
            if pending.is_none() && (text.is_empty() || text.starts_with('#')) {
                if !text.is_empty() {
                    self.packets[packet].comments.push(line);
                }
                continue;
            }
            let (start, mut joined) = pending.take().unwrap_or((line, String::new()));
            self.mapped.insert(line);
            self.command_lines.insert(line);
            let text = text.strip_prefix("$ ").unwrap_or(text);
            if let Some(continued) = text.strip_suffix('\\') {
                joined.push_str(continued.trim_end());
                joined.push(' ');
                pending = Some((start, joined));
                continue;
            }
            joined.push_str(text);
            let (command, rest) = match arrow.captures(&joined) {
                Some(captures) => (captures[1].to_string(), captures[2].to_string()),
                None => (joined.clone(), String::new()),
            };
            self.add_command(packet, start, &command, &rest, None);
        }
        if let Some((start, joined)) = pending {
            self.add_command(packet, start, joined.trim(), "", None);
        }
    }

    pub(super) fn add_command(
        &mut self,
        packet: usize,
        line: usize,
        command: &str,
        rest: &str,
        checked: Option<bool>,
    ) {
        let command = command.trim();
        if command.is_empty() {
            self.packets[packet].comments.push(line);
            return;
        }
        let mut run = command.to_string();
        if !matches!(references(&run), Ok(found) if found.is_empty()) {
            run = run.replace("${", "$${");
            self.note(
                NoteLevel::Warning,
                Some(line),
                "`${` in a command is written `$${` so that the gate passes it to the shell unchanged instead of reading a service reference",
            );
        }
        let expect = match stated_exit_codes(rest) {
            Some(codes) if codes.iter().all(|code| (0..=255).contains(code)) => codes,
            Some(_) => {
                self.note(
                    NoteLevel::Warning,
                    Some(line),
                    "an expected exit code above 255 is ignored: the check expects 0",
                );
                vec![0]
            }
            None => vec![0],
        };
        let timeout = stated_timeout(rest);
        let refused = destructive_git_command(&run);
        if let Some(name) = refused {
            self.note(
                NoteLevel::Warning,
                Some(line),
                format!(
                    "`{name}` is a destructive git command: the check is written commented out"
                ),
            );
        }
        let base = command_id(command);
        let mut id = base.clone();
        let mut suffix = 2;
        while id == PLACEHOLDER_CHECK || self.packets[packet].check_ids.contains(&id) {
            id = format!("{base}-{suffix}");
            suffix += 1;
        }
        self.mapped.insert(line);
        self.command_lines.insert(line);
        self.packets[packet].check_ids.insert(id.clone());
        self.packets[packet].checks.push(CheckDraft {
            line,
            id,
            run,
            expect,
            timeout,
            checked,
            refused,
        });
    }
}
