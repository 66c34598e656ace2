//! The packet DAG as an inline SVG: one box per packet coloured by status, one arrow per
//! dependency. Each box is a link to its packet's section, named for assistive technology by
//! what the box shows and what the arrows into it say, so the graph is a named group of links
//! rather than an image (an image must not hold focusable links).

use std::collections::BTreeMap;

use super::{class_name, escape, packet_anchor};
use crate::evidence::PacketStatus;
use crate::report::view::PacketView;
use crate::spec::Gate;

/// Box and spacing of the packet graph, in SVG units.
const NODE_WIDTH: usize = 190;

const NODE_HEIGHT: usize = 58;

const GAP_X: usize = 34;

const GAP_Y: usize = 52;

const MARGIN: usize = 16;

/// The packet DAG as an inline SVG: one row per dependency depth (packets without
/// dependencies on top), packets in topological order within a row, arrows from each
/// dependency to its dependents, boxes coloured by status.
pub(super) fn graph(out: &mut String, gate: &Gate, sections: &[PacketView<'_>]) {
    out.push_str("<section id=\"graph\">\n<h2>Packet graph</h2>\n");
    let order = crate::plan::topological(gate);
    if order.is_empty() {
        out.push_str("<p>No packets.</p>\n</section>\n");
        return;
    }
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rows: Vec<Vec<&str>> = Vec::new();
    for packet in &order {
        let level = packet
            .depends_on
            .iter()
            .filter_map(|dependency| depth.get(dependency.as_str()))
            .map(|level| level + 1)
            .max()
            .unwrap_or(0);
        depth.insert(&packet.id, level);
        if rows.len() <= level {
            rows.resize(level + 1, Vec::new());
        }
        rows[level].push(&packet.id);
    }
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1);
    let row_width = |count: usize| count * NODE_WIDTH + count.saturating_sub(1) * GAP_X;
    let width = 2 * MARGIN + row_width(widest);
    let height = 2 * MARGIN + rows.len() * NODE_HEIGHT + (rows.len() - 1) * GAP_Y;
    let mut position: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (level, row) in rows.iter().enumerate() {
        let left = MARGIN + (row_width(widest) - row_width(row.len())) / 2;
        for (index, id) in row.iter().enumerate() {
            position.insert(
                id,
                (
                    left + index * (NODE_WIDTH + GAP_X),
                    MARGIN + level * (NODE_HEIGHT + GAP_Y),
                ),
            );
        }
    }

    out.push_str(&format!(
        "<svg class=\"dag\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"group\" \
         aria-labelledby=\"dag-title\">\n<title id=\"dag-title\">Packets and their \
         dependencies; arrows point from a dependency to the packets that wait for it</title>\n"
    ));
    out.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" \
         fill=\"#57606a\"/></marker></defs>\n",
    );
    for packet in &order {
        let Some(&(to_x, to_y)) = position.get(packet.id.as_str()) else {
            continue;
        };
        for dependency in &packet.depends_on {
            let Some(&(from_x, from_y)) = position.get(dependency.as_str()) else {
                continue;
            };
            let (x1, y1) = (from_x + NODE_WIDTH / 2, from_y + NODE_HEIGHT);
            let (x2, y2) = (to_x + NODE_WIDTH / 2, to_y);
            let bend = (y2 - y1) / 2;
            out.push_str(&format!(
                "<path class=\"edge\" data-from=\"{}\" data-to=\"{}\" d=\"M{x1},{y1} \
                 C{x1},{} {x2},{} {x2},{y2}\" fill=\"none\" stroke=\"#57606a\" \
                 stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>\n",
                escape(dependency),
                escape(&packet.id),
                y1 + bend,
                y2 - bend
            ));
        }
    }
    for packet in &order {
        let Some(&(x, y)) = position.get(packet.id.as_str()) else {
            continue;
        };
        let status = sections
            .iter()
            .find(|section| section.packet.id == packet.id)
            .and_then(PacketView::status);
        let label = status.map_or("PENDING", PacketStatus::label);
        let NodeColours { fill, stroke, ink } = node_colours(status);
        let center = x + NODE_WIDTH / 2;
        let short = shorten(&packet.title, 28);
        // The name starts with the words the box shows, in their order (what a speech user
        // says to follow the link), then what the box cannot show.
        let mut name = format!("{} {short} {label}", packet.id);
        if short != packet.title {
            name.push_str(&format!("; title: {}", packet.title));
        }
        if !packet.depends_on.is_empty() {
            name.push_str(&format!("; depends on {}", packet.depends_on.join(", ")));
        }
        // The texts are on lines of their own: the line ends keep their words apart when
        // the box's visible text is read as one string (as axe's label-in-name check does).
        out.push_str(&format!(
            "<a href=\"#{anchor}\" aria-label=\"{name}\"><title>{name}</title>\
             <g class=\"node status-{class}\" data-packet=\"{id}\">\
             <rect x=\"{x}\" y=\"{y}\" width=\"{NODE_WIDTH}\" height=\"{NODE_HEIGHT}\" rx=\"7\" \
             fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"2\"/>\
             <text x=\"{center}\" y=\"{}\" text-anchor=\"middle\" fill=\"{ink}\" \
             font-family=\"system-ui, sans-serif\" font-size=\"14\" font-weight=\"700\">{id}</text>\n\
             <text x=\"{center}\" y=\"{}\" text-anchor=\"middle\" fill=\"{ink}\" \
             font-family=\"system-ui, sans-serif\" font-size=\"11\">{short}</text>\n\
             <text x=\"{center}\" y=\"{}\" text-anchor=\"middle\" fill=\"{ink}\" \
             font-family=\"system-ui, sans-serif\" font-size=\"11\" font-weight=\"700\">{label}\
             </text></g></a>\n",
            y + 18,
            y + 34,
            y + 50,
            anchor = packet_anchor(&packet.id),
            class = class_name(label),
            id = escape(&packet.id),
            name = escape(&name),
            short = escape(&short),
            label = escape(label),
        ));
    }
    out.push_str("</svg>\n</section>\n");
}

/// The colours of a packet's box: its fill, its outline and the text on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NodeColours {
    pub fill: &'static str,
    pub stroke: &'static str,
    pub ink: &'static str,
}

/// A box's colours by status: green, red, grey or amber, each with ink of at least 4.5:1
/// contrast on the fill (WCAG AA for the box's 11 and 14 px text).
pub(super) fn node_colours(status: Option<PacketStatus>) -> NodeColours {
    let (fill, stroke, ink) = match status {
        Some(PacketStatus::Done) => ("#1a7f37", "#116329", "#ffffff"),
        Some(PacketStatus::ChangesRequested) => ("#cf222e", "#a40e26", "#ffffff"),
        Some(PacketStatus::Blocked) => ("#59636e", "#424a53", "#ffffff"),
        Some(PacketStatus::Pending) | None => ("#d4a72c", "#9a6700", "#1f2328"),
    };
    NodeColours { fill, stroke, ink }
}

/// `text` cut to `max` characters, with `…` when cut.
pub(super) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}
