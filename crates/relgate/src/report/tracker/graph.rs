//! The tracker's mermaid flowchart of the packet DAG: one node per packet (its id, title and
//! status), one edge per dependency, one class per status; GitHub renders it.

use super::super::markdown::inline;
use super::super::view::PacketView;
use crate::evidence::PacketStatus;

/// Appends the ```` ```mermaid ```` block of `sections` to `out`.
pub(super) fn graph(out: &mut String, sections: &[PacketView<'_>]) {
    out.push_str("```mermaid\nflowchart TD\n");
    // Node ids are positional so that any packet id is a valid mermaid id.
    let node = |id: &str| {
        sections
            .iter()
            .position(|section| section.packet.id == id)
            .map(|index| format!("p{index}"))
    };
    for (index, section) in sections.iter().enumerate() {
        let label = format!("{}: {}", section.packet.id, section.packet.title);
        out.push_str(&format!(
            "    p{index}[\"{}<br/>{}\"]\n",
            mermaid_text(&label),
            section.status().map_or("PENDING", PacketStatus::label)
        ));
    }
    for (index, section) in sections.iter().enumerate() {
        for dependency in &section.packet.depends_on {
            if let Some(from) = node(dependency) {
                out.push_str(&format!("    {from} --> p{index}\n"));
            }
        }
    }
    out.push_str("    classDef done fill:#2da44e,stroke:#1a7f37,color:#ffffff\n");
    out.push_str("    classDef changes_requested fill:#cf222e,stroke:#a40e26,color:#ffffff\n");
    out.push_str("    classDef blocked fill:#8c959f,stroke:#57606a,color:#ffffff\n");
    out.push_str("    classDef pending fill:#d4a72c,stroke:#9a6700,color:#000000\n");
    for (index, section) in sections.iter().enumerate() {
        let class = match section.status() {
            Some(PacketStatus::Done) => "done",
            Some(PacketStatus::ChangesRequested) => "changes_requested",
            Some(PacketStatus::Blocked) => "blocked",
            Some(PacketStatus::Pending) | None => "pending",
        };
        out.push_str(&format!("    class p{index} {class}\n"));
    }
    out.push_str("```\n\n");
}

/// Text inside a quoted mermaid label, on one line: `#`, quotes, angle brackets and `&` as
/// mermaid's entity codes (`#35;`…), so that the label shows the text as it is.
fn mermaid_text(text: &str) -> String {
    inline(text)
        .replace('#', "#35;")
        .replace('"', "#quot;")
        .replace('&', "#38;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_labels_use_entity_codes() {
        assert_eq!(
            mermaid_text("a\"<b>\"&amp; #1\nx"),
            "a#quot;#lt;b#gt;#quot;#38;amp; #35;1 x"
        );
    }
}
