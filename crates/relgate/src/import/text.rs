//! Inline text: ids, titles, section kinds, commands, exit codes and timeouts read from a
//! line; TOML strings and comments written.

use super::*;

/// Inline Markdown reduced to its text: links to their text, bold markers dropped. Code spans
/// keep their backticks.
pub(super) fn plain_inline(text: &str) -> String {
    let link = static_regex!(r"!?\[([^\]]*)\]\([^)]*\)");
    let text = if text.contains('[') {
        link.replace_all(text, "$1")
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    text.replace("**", "").replace("__", "").trim().to_string()
}

/// Whether a cell means "nothing": empty or a dash.
pub(super) fn is_blank_cell(text: &str) -> bool {
    matches!(text.trim(), "" | "-" | "—" | "–" | "--" | "n/a" | "N/A")
}

/// A valid relgate id from free text: letters, digits, `.`, `_` and `-`, starting with a letter
/// or digit; runs of anything else become one `-`.
pub(super) fn sanitize_id(raw: &str) -> String {
    let plain = plain_inline(raw).replace('`', "");
    let mut id = String::new();
    for c in plain.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            id.push(c);
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    let id = id.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut id: String = id.chars().take(48).collect();
    while id.ends_with(|c: char| !c.is_ascii_alphanumeric()) {
        id.pop();
    }
    id
}

/// The slug relgate derives from a checklist item's text; items whose slugs collide or are
/// empty are refused by the loader.
pub(super) fn loader_slug(text: &str) -> String {
    crate::spec::slugify(text.trim())
}

/// A packet id at the start of a heading: `SEC-01`, `IAM-03`, `P1:`, `Packet 2`, `Phase 3`.
/// Returns the id as written and the rest of the heading.
pub(super) fn id_from_heading(text: &str) -> Option<(String, String)> {
    let ticket = static_regex!(r"^([A-Z][A-Z0-9]*(?:[-_.][A-Za-z0-9]+)+)(.*)$");
    let severity_like = static_regex!(r"^(P\d{1,3})(\s*[:—–-].*|)$");
    let word = static_regex!(
        r"(?i)^(packet|phase|step|task|stage|milestone|work\s*package)\s*#?\s*([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$"
    );
    let text = plain_inline(text).replace('`', "");
    let text = text.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    if let Some(captures) = ticket.captures(text) {
        if captures[1].chars().any(|c| c.is_ascii_digit()) {
            return Some((captures[1].to_string(), captures[2].to_string()));
        }
    }
    if let Some(captures) = severity_like.captures(text) {
        return Some((captures[1].to_string(), captures[2].to_string()));
    }
    if let Some(captures) = word.captures(text) {
        let token = &captures[2];
        if !token.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
        let id = if ticket.is_match(token) {
            token.to_string()
        } else {
            format!("{} {token}", &captures[1])
        };
        return Some((id, captures[3].to_string()));
    }
    None
}

/// A packet title from the rest of its heading: separators and a leading "Checklist" dropped.
pub(super) fn title_from_rest(rest: &str) -> Option<String> {
    let lead = static_regex!(r"(?i)^[\s:—–|()\-]*(?:(?:checklist|packet|tasks?)\b[\s:—–|\-]*)?");
    let rest = plain_inline(rest);
    let title = lead.replace(&rest, "").trim().to_string();
    (!title.is_empty()).then_some(title)
}

/// What a section inside a packet holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Sub {
    /// The packet's own text: checkboxes are checklist items.
    #[default]
    Main,
    /// Commands to run: each becomes a check.
    Commands,
    /// Review gates, records, evidence: kept as comments, checkboxes included.
    Kept,
}

pub(super) fn classify(heading: &str) -> Sub {
    let record = static_regex!(r"(?i)\b(records?|evidence|outputs?|logs?|results?|history)\b");
    let commands = static_regex!(r"(?i)\bcommands?\b");
    let gates = static_regex!(r"(?i)\b(gates?|gating|sign-?offs?|verdicts?)\b");
    let record = record.is_match(heading);
    if commands.is_match(heading) && !record {
        Sub::Commands
    } else if record || gates.is_match(heading) {
        Sub::Kept
    } else {
        Sub::Main
    }
}

/// `**Required commands:**` or `Review gates:` on a line of its own acts as a sub-heading.
pub(super) fn pseudo_heading(text: &str) -> Option<Sub> {
    let trimmed = text.trim();
    let bold = (trimmed.starts_with("**") && trimmed.ends_with("**"))
        || (trimmed.starts_with("__") && trimmed.ends_with("__"));
    let plain = plain_inline(trimmed);
    if !(bold || plain.ends_with(':')) || plain.split_whitespace().count() > 6 {
        return None;
    }
    match classify(plain.trim_end_matches(':')) {
        Sub::Main => None,
        sub => Some(sub),
    }
}

/// The first code span of `text` and the text around it.
pub(super) fn code_span(text: &str) -> Option<(String, String)> {
    let start = text.find('`')?;
    let ticks = text[start..].chars().take_while(|c| *c == '`').count();
    let fence = "`".repeat(ticks);
    let mut search = start + ticks;
    while let Some(offset) = text[search..].find(&fence) {
        let end = search + offset;
        let after = text[end + ticks..].chars().next();
        if after != Some('`') {
            let inner = &text[start + ticks..end];
            let inner = if inner.len() > 1 && inner.starts_with(' ') && inner.ends_with(' ') {
                &inner[1..inner.len() - 1]
            } else {
                inner
            };
            let rest = format!("{} {}", &text[..start], &text[end + ticks..]);
            return Some((inner.to_string(), rest.trim().to_string()));
        }
        search = end
            + ticks
            + text[end + ticks..]
                .chars()
                .take_while(|c| *c == '`')
                .count();
    }
    None
}

/// Expected exit codes stated in a command's text: `-> exit 0`, `exit code 1`, `exits 0 or 1`,
/// `→ 2`.
pub(super) fn stated_exit_codes(text: &str) -> Option<Vec<i64>> {
    let exit = static_regex!(
        r"(?i)\bexit(?:\s*code)?s?\b\s*(?:[:=]|is|of|with)?\s*(\d{1,3})((?:\s*(?:,|/|\bor\b|\band\b)\s*\d{1,3}\b)*)"
    );
    let arrow = static_regex!(r"^\s*(?:->|→|=>|⇒)\s*(\d{1,3})\b");
    let (first, more) = if let Some(captures) = exit.captures(text) {
        (
            captures[1].to_string(),
            captures
                .get(2)
                .map_or(String::new(), |m| m.as_str().to_string()),
        )
    } else {
        let captures = arrow.captures(text)?;
        (captures[1].to_string(), String::new())
    };
    let number = static_regex!(r"\d{1,3}");
    let mut codes: Vec<i64> = std::iter::once(first.as_str())
        .chain(number.find_iter(&more).map(|m| m.as_str()))
        .filter_map(|code| code.parse().ok())
        .collect();
    codes.dedup();
    Some(codes)
}

/// A timeout stated in a command's text, as a relgate duration: `timeout 5m`, `(timeout: 90
/// seconds)`.
pub(super) fn stated_timeout(text: &str) -> Option<String> {
    let timeout = static_regex!(
        r"(?i)\btime\s*-?\s*out\b\s*(?:[:=]|of|after)?\s*(\d{1,6})\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b"
    );
    let captures = timeout.captures(text)?;
    let unit = match captures[2].to_lowercase().as_str() {
        "ms" | "millisecond" | "milliseconds" => "ms",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        _ => "h",
    };
    let duration = format!("{}{unit}", &captures[1]);
    parse_duration(&duration).ok().map(|_| duration)
}

/// A check id from a command: its leading words up to the first flag, slugged.
pub(super) fn command_id(command: &str) -> String {
    let words: Vec<&str> = command
        .split_whitespace()
        .take_while(|word| !word.starts_with('-') && !word.contains('='))
        .take(5)
        .collect();
    let mut id: String = crate::spec::slugify(&words.join(" "))
        .chars()
        .take(40)
        .collect();
    while id.ends_with('-') {
        id.pop();
    }
    if id.is_empty() || looks_secret(&id) {
        "command".to_string()
    } else {
        id
    }
}

/// Numbers as `3, 9, 13-15`.
pub(super) fn line_list(lines: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let start = lines[index];
        let mut end = start;
        while index + 1 < lines.len() && lines[index + 1] == end + 1 {
            index += 1;
            end = lines[index];
        }
        parts.push(if end > start + 1 {
            format!("{start}-{end}")
        } else if end == start + 1 {
            format!("{start}, {end}")
        } else {
            start.to_string()
        });
        index += 1;
    }
    parts.join(", ")
}

/// A TOML basic string.
pub(super) fn quote(text: &str) -> String {
    // The lines were masked as read, but Markdown clean-up (`__`, `**`, links) can join a
    // secret back together: every string written is masked again.
    toml::Value::String(crate::output::redaction::redact(text).into_owned()).to_string()
}

/// Whether the redactor would change `id`: such an id cannot be a test name.
pub(super) fn looks_secret(id: &str) -> bool {
    crate::output::redaction::redact(id) != id
}

/// Text made safe for a TOML comment: control characters other than tab are not allowed.
pub(super) fn comment_text(text: &str) -> String {
    text.trim_end()
        .chars()
        .map(|c| {
            if c != '\t' && (c.is_control() || c == '\u{7f}') {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}
