//! Synthetic inputs of a chosen size, for the benchmark (`cargo xtask bench`) and for tests
//! of how the loader and the importer scale.

use std::fmt::Write as _;

/// A valid gate file with `packets` packets, each depending on the one before it (a chain: the
/// longest dependency walk a gate of that size can have), each with one `true` check and one
/// checklist item bound to it.
pub fn synthetic_gate(packets: usize) -> String {
    let mut text = String::from("[gate]\nname = \"synthetic\"\n\n");
    for at in 0..packets {
        let _ = writeln!(
            text,
            "[[packet]]\nid = \"SYN-{at:05}\"\ntitle = \"Packet {at}\""
        );
        if at > 0 {
            let _ = writeln!(text, "depends_on = [\"SYN-{:05}\"]", at - 1);
        }
        let _ = writeln!(
            text,
            "checklist = [{{ item = \"Item {at} holds.\", by = [\"check\"] }}]\n[[packet.check]]\nid = \"check\"\nrun = [\"true\"]\n"
        );
    }
    text
}

/// A Markdown tracker whose packet board has `rows` rows (`SYN-00000` …), followed by one
/// section per packet with a checklist and a command.
pub fn synthetic_board(rows: usize) -> String {
    let mut text = String::from(
        "# Synthetic tracker\n\n## Packet board\n\n| Packet | Title | Status | Implementer | Reviewer |\n|---|---|---|---|---|\n",
    );
    for at in 0..rows {
        let _ = writeln!(
            text,
            "| SYN-{at:05} | Packet {at} | PENDING | alice | bob |"
        );
    }
    for at in 0..rows {
        let _ = writeln!(
            text,
            "\n## SYN-{at:05} Packet {at}\n\n- [ ] Item {at} holds.\n\nCommands:\n\n```\ncargo test -p synthetic-{at}\n```"
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_gate_loads_and_the_board_imports() {
        let gate = crate::spec::parse(std::path::Path::new("g.toml"), &synthetic_gate(3));
        assert_eq!(gate.expect("synthetic gate parses").packets.len(), 3);
        let imported = crate::import::import("board.md", synthetic_board(3).as_bytes())
            .expect("synthetic board imports");
        assert_eq!(imported.packets.len(), 3);
    }
}
