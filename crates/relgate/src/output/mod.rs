//! How relgate writes, and reads back what it wrote: every byte through the redactor
//! ([`redaction`]), every file replaced atomically ([`atomic`]), paths the evidence names
//! confined to the out directory ([`containment`]), advisory file locks ([`flock`]), the end of
//! a log ([`tail`]) and text shown on one line ([`one_line`]). The primitives every later stage
//! writes with; they know nothing of gates, checks or reports.

pub mod atomic;
pub mod containment;
pub mod flock;
pub mod redaction;
pub mod tail;

/// `text` on one line: control characters (line breaks, escapes) shown escaped, so a name or a
/// message can neither start a line of its own nor drive a terminal.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
