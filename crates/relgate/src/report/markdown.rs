//! Markdown text for the reports written in Markdown (tracker.md, the CI job summary) and the
//! Markdown parts of report.sarif: plain text, table cells, code spans and fences that hold
//! any text, and GitHub's heading anchors.
//!
//! Every text a report takes from the gate, the ledger or a command renders as exactly that
//! text in GitHub-flavoured Markdown (cmark-gfm):
//!
//! - **Line breaks** inside a field are folded to a space everywhere ([`inline`]): a newline
//!   would end a list item or a table row. White space at either end of a field is not shown
//!   (as anywhere in HTML).
//! - **Plain text** ([`text`]) has the characters that would start Markdown, HTML or an entity
//!   backslash-escaped (CommonMark lets any ASCII punctuation be escaped so): always `` ` ``,
//!   `*`, `[`, `]`, `<`, `~` and `$` (GitHub's math); `_` unless it stands between two letters
//!   or digits (`snake_case` cannot be emphasis); `&` that starts an entity's shape (`&amp;`,
//!   `&#33;`: letters, digits or `#`, then `;` or the end of the field), which would become
//!   another character; `\` before ASCII punctuation or at the end; at the start of the field
//!   `#`, `>`, `+`, `-`, `=` and the `.` or `)` after leading digits (a heading, quote, list or
//!   thematic break inside a list item); a run of `#` ending the field (a heading's closing
//!   sequence). Everything else is written as it is, so the file reads as plain text.
//! - **Table cells** ([`cell`]) are plain text with `|` escaped too.
//! - **Code spans and fences** ([`code`], [`fence_for`]) escape nothing — `<`, `&` and `\` are
//!   literal inside them — and are delimited by a backtick run longer than any inside.

use std::collections::HashMap;

/// Text on one line, nothing escaped (for code spans and fences): each line break is a space.
pub fn inline(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

/// Plain text: on one line, trimmed, with every character that would start Markdown, HTML or
/// an entity backslash-escaped (see the module's rules), so it renders as exactly itself.
pub fn text(text: &str) -> String {
    let folded = inline(text);
    let chars: Vec<char> = folded.trim_matches([' ', '\t']).chars().collect();
    let leading_digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    // The first `#` of a run of `#` that ends the field.
    let closing_hashes = chars.len() - chars.iter().rev().take_while(|&&c| c == '#').count();
    let word = |at: Option<&char>| at.is_some_and(|c| c.is_alphanumeric());
    let mut out = String::with_capacity(folded.len() + 8);
    for (at, &c) in chars.iter().enumerate() {
        let before = at.checked_sub(1).and_then(|before| chars.get(before));
        let after = chars.get(at + 1);
        let escape = match c {
            '`' | '*' | '[' | ']' | '<' | '~' | '$' => true,
            '_' => !(word(before) && word(after)),
            '&' => entity_follows(&chars[at + 1..]),
            '\\' => after.is_none_or(char::is_ascii_punctuation),
            '#' => at == 0 || at == closing_hashes,
            '>' | '+' | '-' | '=' => at == 0,
            '.' | ')' => {
                at > 0 && at == leading_digits && after.is_none_or(|&c| c == ' ' || c == '\t')
            }
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether `&` before `rest` would start an entity: letters, digits or `#`, then `;` or the end
/// of the field (a report may write `;` right after it).
fn entity_follows(rest: &[char]) -> bool {
    let name = rest
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == '#')
        .count();
    name > 0 && rest.get(name).is_none_or(|&c| c == ';')
}

/// A table cell: plain text ([`text`]) with `|` escaped, which would end the cell.
pub fn cell(cell: &str) -> String {
    text(cell).replace('|', "\\|")
}

/// An inline code span that holds any text: the fence is longer than any backtick run inside.
pub fn code(text: &str) -> String {
    let text = inline(text);
    let longest = longest_backtick_run(&text);
    let ticks = "`".repeat(longest + 1);
    if longest == 0 {
        format!("{ticks}{text}{ticks}")
    } else {
        format!("{ticks} {text} {ticks}")
    }
}

/// A code fence longer than any backtick run in `body` (at least three).
pub fn fence_for(body: &str) -> String {
    "`".repeat((longest_backtick_run(body) + 1).max(3))
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// The anchors GitHub gives a document's headings, in document order: [`slug`], and a heading
/// whose slug an earlier heading already has gets `-1`, `-2`… as GitHub numbers them.
#[derive(Debug, Default)]
pub struct Anchors {
    seen: HashMap<String, usize>,
}

impl Anchors {
    /// The anchor of the next heading of the document, whose text (as written, before
    /// escaping) is `heading`.
    pub fn next(&mut self, heading: &str) -> String {
        let slug = slug(heading);
        let count = self.seen.entry(slug.clone()).or_insert(0);
        let anchor = match *count {
            0 => slug,
            n => format!("{slug}-{n}"),
        };
        *count += 1;
        anchor
    }
}

/// GitHub's heading slug: lower case, characters other than letters, digits, `-`, `_` and
/// spaces dropped, spaces as `-`.
pub fn slug(heading: &str) -> String {
    inline(heading)
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_survive_backticks_and_cells_escape_pipes() {
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(fence_for("x ```` y"), "`````");
    }

    #[test]
    fn code_spans_escape_nothing() {
        assert_eq!(code("<Test> & a\\b"), "`<Test> & a\\b`");
    }

    #[test]
    fn text_escapes_what_would_become_markup() {
        assert_eq!(text("<Test> & a|b"), "\\<Test> & a|b");
        assert_eq!(
            text("&amp; &#33; AT&T a & b &x"),
            "\\&amp; \\&#33; AT&T a & b \\&x"
        );
        assert_eq!(
            text("*x* `y` [z](w) ~s~ $m$"),
            "\\*x\\* \\`y\\` \\[z\\](w) \\~s\\~ \\$m\\$"
        );
        assert_eq!(text("snake_case _x_ a__b"), "snake_case \\_x\\_ a\\_\\_b");
        assert_eq!(text("C:\\Users a\\* b\\"), "C:\\Users a\\\\\\* b\\\\");
        assert_eq!(text("line\r\nbreak\nand\rmore"), "line break and more");
    }

    #[test]
    fn text_escapes_block_starts_and_closing_hashes() {
        for (raw, escaped) in [
            ("# h", "\\# h"),
            ("> q", "\\> q"),
            ("- l", "\\- l"),
            ("+ l", "\\+ l"),
            ("= s", "\\= s"),
            ("12. o", "12\\. o"),
            ("3) o", "3\\) o"),
            ("1.5 s", "1.5 s"),
            ("  - indented", "\\- indented"),
            ("fix #12", "fix #12"),
            ("title ##", "title \\##"),
            ("a - b + c = d > e 1. f", "a - b + c = d > e 1. f"),
        ] {
            assert_eq!(text(raw), escaped, "{raw:?}");
        }
    }

    #[test]
    fn anchors_follow_github() {
        assert_eq!(
            slug("SEC-01 Checklist: AuthZ + Tenant Isolation Replay"),
            "sec-01-checklist-authz--tenant-isolation-replay"
        );
        assert_eq!(slug("SEC_1 Checklist: <T> & a|b"), "sec_1-checklist-t--ab");
        let mut anchors = Anchors::default();
        let taken: Vec<String> = ["Rules", "rules", "Rules!", "Other"]
            .iter()
            .map(|heading| anchors.next(heading))
            .collect();
        assert_eq!(taken, ["rules", "rules-1", "rules-2", "other"]);
    }
}
