//! A packet's definition as a digest: its `[[packet]]` table in the gate file (with its checks,
//! checklist items and dependencies), read as TOML and written in a canonical form — keys
//! sorted, no comments, no formatting — so that reformatting the file keeps an approval and any
//! change of meaning makes it stale.

use super::model::Packet;
use crate::model::digest::sha256_hex;

/// Sets each packet's [`Packet::definition`] from the gate file `text` (valid TOML: it was
/// just parsed).
pub(super) fn fill(text: &str, packets: &mut [Packet]) {
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return;
    };
    let tables = table
        .get("packet")
        .and_then(toml::Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for packet in packets {
        packet.definition = tables
            .iter()
            .find(|table| table.get("id").and_then(toml::Value::as_str) == Some(&packet.id))
            .map(digest);
    }
}

fn digest(packet: &toml::Value) -> String {
    let json = serde_json::to_value(packet).unwrap_or_default();
    let mut canonical = String::new();
    write_canonical(&json, &mut canonical);
    sha256_hex(canonical.as_bytes())
}

/// JSON with every object's keys in byte order, whatever order the map kept them in.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (at, key) in keys.into_iter().enumerate() {
                if at > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (at, item) in items.iter().enumerate() {
                if at > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest of packet `id`'s definition in the gate file `text`, or `None` when the text has
    /// no such packet (or is not TOML).
    pub fn packet_digest(text: &str, id: &str) -> Option<String> {
        let table: toml::Table = toml::from_str(text).ok()?;
        let packet = table
            .get("packet")?
            .as_array()?
            .iter()
            .find(|packet| packet.get("id").and_then(toml::Value::as_str) == Some(id))?;
        Some(digest(packet))
    }

    const GATE: &str = r#"
[gate]
name = "g"

[[packet]]
id = "A"
title = "First"
[[packet.check]]
id = "unit"
run = ["cargo", "test"]

[[packet]]
id = "B"
title = "Second"
depends_on = ["A"]
"#;

    #[test]
    fn formatting_keeps_the_digest_and_meaning_changes_it() {
        let digest = packet_digest(GATE, "A").unwrap();
        let reformatted = GATE
            .replace(
                "title = \"First\"",
                "# the first packet\ntitle    =   'First'",
            )
            .replace(
                "[[packet.check]]\nid = \"unit\"",
                "[[packet.check]]\n  id = \"unit\"",
            );
        assert_eq!(packet_digest(&reformatted, "A").unwrap(), digest);
        // Another packet's change leaves this one alone.
        let other = GATE.replace("title = \"Second\"", "title = \"Changed\"");
        assert_eq!(packet_digest(&other, "A").unwrap(), digest);
        // A change of its command, or of its title, is a new definition.
        let command = GATE.replace("[\"cargo\", \"test\"]", "[\"cargo\", \"test\", \"--lib\"]");
        assert_ne!(packet_digest(&command, "A").unwrap(), digest);
        assert_ne!(
            packet_digest(&GATE.replace("First", "Prime"), "A").unwrap(),
            digest
        );
        assert_eq!(packet_digest(GATE, "Z"), None);
        assert_eq!(packet_digest("not toml [", "A"), None);
    }
}
