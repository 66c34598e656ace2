//! Rendering: the gate file, with every unmapped line kept as a comment where it belongs.

use super::*;

impl Importer<'_> {
    pub(super) fn source_line(&self, out: &mut String, prefix: &str, line: usize) {
        let text = comment_text(&self.lines[line - 1]);
        if text.trim().is_empty() {
            return;
        }
        let _ = writeln!(out, "{prefix}# {line}: {text}");
    }

    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        let source = comment_text(self.source);
        let _ = writeln!(
            out,
            "# Imported from {source} by `cargo xtask gate import`.\n\
             #\n\
             # Nothing the tracker claims counts as evidence here. Every checklist item is bound to\n\
             # its packet's `{PLACEHOLDER_CHECK}` check, which fails until you bind each item to the\n\
             # checks that prove it (by = [\"check-id\"]) or to a dated attestation\n\
             # (attested = {{ by = \"name\", on = \"YYYY-MM-DD\" }}) and then delete that check.\n\
             # Ticked boxes, statuses, review records and every line the importer could not map are\n\
             # kept as comments with their line in {source} (\"# 12: …\"); only blank lines and\n\
             # horizontal rules are left out."
        );
        out.push('\n');
        out.push_str("[gate]\n");
        let name = self
            .title
            .as_ref()
            .map_or_else(|| self.source_stem(), |(_, title)| title.clone());
        let _ = writeln!(out, "name = {}", quote(&name));
        if let Some(plan) = &self.plan {
            let _ = writeln!(out, "plan = {}", quote(plan));
        }
        let _ = writeln!(
            out,
            "\n[defaults]\n\
             timeout = \"{DEFAULT_TIMEOUT}\"   # a check that runs longer fails; set timeout = \"…\" on slow checks\n\
             severity = \"P0\"   # P0 blocks the release, P1 needs an [[accept]], P2 is tracked"
        );
        for segment in &self.segments {
            match segment {
                Segment::Comments(lines) => {
                    let lines: Vec<usize> = lines
                        .iter()
                        .copied()
                        .filter(|line| !self.mapped.contains(line))
                        .collect();
                    if !lines.is_empty() {
                        out.push('\n');
                    }
                    for line in lines {
                        self.source_line(&mut out, "", line);
                    }
                }
                Segment::Board { first, last } => {
                    let _ = writeln!(
                        out,
                        "\n# {first}-{last}: the packet board; each row is a [[packet]] below (columns the\n\
                         # gate has no key for are kept as comments on the packet)."
                    );
                    for line in &self.board_kept {
                        self.source_line(&mut out, "", *line);
                    }
                }
                Segment::Packet(packet) => self.render_packet(&mut out, *packet),
                Segment::PacketSlot(_) => {}
            }
        }
        out
    }

    pub(super) fn render_packet(&self, out: &mut String, index: usize) {
        let packet = &self.packets[index];
        out.push('\n');
        if let Some(first) = packet.headings.first() {
            self.source_line(out, "", *first);
        }
        out.push_str("[[packet]]\n");
        let _ = writeln!(out, "id = {}", quote(&packet.id));
        if let Some((written, line)) = &packet.written_id {
            let _ = writeln!(
                out,
                "# {line}: the tracker writes this id `{}`",
                comment_text(&crate::output::redaction::redact(written))
            );
        }
        if let Some(title) = &packet.title {
            let _ = writeln!(out, "title = {}", quote(title));
        }
        if !packet.depends_on.is_empty() {
            let mut deps: Vec<&(usize, Vec<usize>)> = packet.depends_on.iter().collect();
            deps.sort_by_key(|(dep, _)| *dep);
            let mut lines: Vec<usize> = deps.iter().flat_map(|(_, lines)| lines.clone()).collect();
            lines.sort_unstable();
            lines.dedup();
            let _ = writeln!(
                out,
                "# depends_on from the tracker's line{} {}",
                if lines.len() == 1 { "" } else { "s" },
                line_list(&lines)
            );
            let ids: Vec<String> = deps
                .iter()
                .map(|(dep, _)| quote(&self.packets[*dep].id))
                .collect();
            let _ = writeln!(out, "depends_on = [{}]", ids.join(", "));
        }
        if let Some(implementer) = &packet.implementer {
            let _ = writeln!(out, "implementer = {}", quote(implementer));
        }
        if let Some(reviewer) = &packet.reviewer {
            let _ = writeln!(out, "reviewer = {}", quote(reviewer));
        }
        if let Some((line, extra)) = &packet.board_row {
            if !extra.is_empty() {
                let columns: Vec<String> = extra
                    .iter()
                    .map(|(name, value)| format!("{name}: {value}"))
                    .collect();
                let _ = writeln!(
                    out,
                    "# {line}: on the board (a hand claim, not evidence): {}",
                    comment_text(&crate::output::redaction::redact(&columns.join("; ")))
                );
            }
        }
        let needs_placeholder =
            !packet.items.is_empty() || packet.checks.iter().all(|check| check.refused.is_some());
        if !packet.items.is_empty() {
            out.push_str("checklist = [\n");
            let mut slugs = BTreeSet::new();
            for item in &packet.items {
                let claim = if item.checked {
                    "ticked [x] in the tracker: a hand claim, not evidence"
                } else {
                    "unticked in the tracker"
                };
                let _ = writeln!(out, "  # {}: {claim}", item.line);
                for detail in &item.details {
                    self.source_line(out, "  ", *detail);
                }
                // Masked before comparing: two items may differ only in a secret.
                let mut text = crate::output::redaction::redact(&item.text).into_owned();
                let slug = loader_slug(&text);
                if slug.is_empty() || slugs.contains(&slug) {
                    text = format!("{text} (line {})", item.line);
                }
                slugs.insert(loader_slug(&text));
                let _ = writeln!(
                    out,
                    "  {{ item = {}, by = [\"{PLACEHOLDER_CHECK}\"] }},",
                    quote(&text)
                );
            }
            out.push_str("]\n");
        }
        let mut comments = packet.comments.clone();
        comments.extend(packet.headings.iter().skip(1));
        comments.sort_unstable();
        comments.dedup();
        if !comments.is_empty() {
            out.push('\n');
        }
        for line in comments {
            self.source_line(out, "", line);
        }
        for check in &packet.checks {
            out.push('\n');
            let text = comment_text(self.lines[check.line - 1].trim());
            match check.checked {
                Some(true) => {
                    let _ = writeln!(
                        out,
                        "# {}: {text}\n# (ticked [x] in the tracker: a hand claim; this check's own result is what counts)",
                        check.line
                    );
                }
                _ => {
                    let _ = writeln!(out, "# {}: {text}", check.line);
                }
            }
            let prefix = if let Some(name) = check.refused {
                let _ = writeln!(
                    out,
                    "# Not imported: `{name}` is a destructive git command, which the gate refuses on\n\
                     # shared worktrees. If a check truly needs it, write it yourself with\n\
                     # allow_destructive = \"<reason>\"."
                );
                "# "
            } else {
                ""
            };
            let _ = writeln!(out, "{prefix}[[packet.check]]");
            let _ = writeln!(out, "{prefix}id = {}", quote(&check.id));
            let _ = writeln!(out, "{prefix}run = {}", quote(&check.run));
            if check.expect != [0] {
                let codes: Vec<String> = check.expect.iter().map(i64::to_string).collect();
                let value = if codes.len() == 1 {
                    codes[0].clone()
                } else {
                    format!("[{}]", codes.join(", "))
                };
                let _ = writeln!(out, "{prefix}expect = {{ exit = {value} }}");
            }
            if let Some(timeout) = &check.timeout {
                let _ = writeln!(out, "{prefix}timeout = {}", quote(timeout));
            }
        }
        if needs_placeholder {
            let what = if packet.items.is_empty() {
                "this packet has no check yet"
            } else {
                "no check or attestation backs the checklist of this packet yet"
            };
            let _ = writeln!(
                out,
                "\n# Fails until the packet's checklist is bound to real evidence; then delete it.\n\
                 [[packet.check]]\n\
                 id = \"{PLACEHOLDER_CHECK}\"\n\
                 run = {}\n\
                 severity = \"P0\"",
                quote(&format!(
                    "echo '{}: {what} (imported from a tracker)' >&2; exit 1",
                    packet.id
                ))
            );
        }
    }
}
