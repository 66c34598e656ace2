//! The two edits `init --xtask` makes to files a user already has — the workspace members of
//! the root `Cargo.toml` and the `xtask` alias of `.cargo/config.toml` — as small text edits
//! that keep every other byte (comments, order, formatting). Each edit is checked by parsing
//! the result: it must hold exactly the old content plus the addition, or the edit is refused
//! with what to add by hand (never a broken manifest).

use toml::{Table, Value};

/// Why an edit cannot be made safely: what to add by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// The crates `--xtask` adds to the workspace.
pub const NEW_MEMBERS: [&str; 2] = ["xtask", "gate-tests"];

fn parse(text: &str) -> Result<Table, Refused> {
    text.parse::<Table>()
        .map_err(|err| Refused(format!("it does not parse as TOML ({})", err.message())))
}

fn by_hand_members() -> String {
    "add \"xtask\" and \"gate-tests\" to `members` of its [workspace] table by hand".to_string()
}

/// `Cargo.toml` (`text`) with `xtask` and `gate-tests` in its workspace members: `None` when
/// they are already there. A package without `[workspace]` gets one (its root package stays a
/// member, as cargo makes it).
pub fn add_members(text: &str) -> Result<Option<String>, Refused> {
    let before = parse(text)?;
    let Some(workspace) = before.get("workspace") else {
        let mut edited = text.to_string();
        if !edited.is_empty() && !edited.ends_with('\n') {
            edited.push('\n');
        }
        edited.push_str("\n[workspace]\nmembers = [\"xtask\", \"gate-tests\"]\n");
        return verified_members(&before, &edited, &NEW_MEMBERS).map(Some);
    };
    let Some(workspace) = workspace.as_table() else {
        return Err(Refused(by_hand_members()));
    };
    let listed: Vec<&str> = match workspace.get("members") {
        None => Vec::new(),
        Some(Value::Array(members)) => members.iter().filter_map(Value::as_str).collect(),
        Some(_) => return Err(Refused(by_hand_members())),
    };
    let missing: Vec<&str> = NEW_MEMBERS
        .into_iter()
        .filter(|member| !listed.contains(member))
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let quoted: Vec<String> = missing.iter().map(|m| format!("\"{m}\"")).collect();
    let edited = match workspace.get("members") {
        None => insert_after_header(
            text,
            "[workspace]",
            &format!("members = [{}]", quoted.join(", ")),
        )
        .ok_or_else(|| Refused(by_hand_members()))?,
        Some(_) => append_to_members(text, &quoted).ok_or_else(|| Refused(by_hand_members()))?,
    };
    verified_members(&before, &edited, &missing).map(Some)
}

/// `edited` if it parses to `before` with `added` appended to `workspace.members`.
fn verified_members(before: &Table, edited: &str, added: &[&str]) -> Result<String, Refused> {
    let after = parse(edited).map_err(|_| Refused(by_hand_members()))?;
    let mut expected = before.clone();
    let workspace = expected
        .entry("workspace")
        .or_insert_with(|| Value::Table(Table::new()));
    let members = workspace
        .as_table_mut()
        .ok_or_else(|| Refused(by_hand_members()))?
        .entry("members")
        .or_insert_with(|| Value::Array(Vec::new()));
    let members = members
        .as_array_mut()
        .ok_or_else(|| Refused(by_hand_members()))?;
    members.extend(added.iter().map(|m| Value::String(m.to_string())));
    if after == expected {
        Ok(edited.to_string())
    } else {
        Err(Refused(by_hand_members()))
    }
}

/// `text` with `line` inserted after the line that is exactly `header` (spaces aside).
fn insert_after_header(text: &str, header: &str, line: &str) -> Option<String> {
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        offset += raw.len();
        if raw.trim() == header {
            let mut edited = text[..offset].to_string();
            if !edited.ends_with('\n') {
                edited.push('\n');
            }
            edited.push_str(line);
            edited.push('\n');
            edited.push_str(&text[offset..]);
            return Some(edited);
        }
    }
    None
}

/// `text` with `quoted` appended inside the first `members = [ … ]` array after `[workspace]`.
fn append_to_members(text: &str, quoted: &[String]) -> Option<String> {
    let section = text.find("[workspace]")?;
    let key = section + text[section..].find("members")?;
    let open = key + text[key..].find('[')?;
    let close = closing_bracket(text, open)?;
    let inside = &text[open + 1..close];
    let content = strip_comments(inside);
    let trimmed = content.trim_end();
    let mut insertion = String::new();
    if inside.contains('\n') {
        // One member a line: keep the style, with a trailing comma.
        let indent = inside
            .lines()
            .find(|line| !line.trim().is_empty())
            .map(|line| &line[..line.len() - line.trim_start().len()])
            .unwrap_or("    ");
        if !trimmed.trim().is_empty() && !trimmed.ends_with(',') {
            // The comma goes right after the last member.
            let at = open + 1 + trimmed.len();
            let mut edited = text[..at].to_string();
            edited.push(',');
            edited.push_str(&text[at..close]);
            for member in quoted {
                edited.push_str(&format!("{indent}{member},\n"));
            }
            edited.push_str(&text[close..]);
            return Some(edited);
        }
        let line_start = text[..close].rfind('\n').map_or(close, |at| at + 1);
        for member in quoted {
            insertion.push_str(&format!("{indent}{member},\n"));
        }
        return Some(format!(
            "{}{insertion}{}",
            &text[..line_start],
            &text[line_start..]
        ));
    }
    let separator = if trimmed.trim().is_empty() || trimmed.ends_with(',') {
        ""
    } else {
        ", "
    };
    let at = open + 1 + trimmed.len();
    Some(format!(
        "{}{separator}{}{}",
        &text[..at],
        quoted.join(", "),
        &text[at..]
    ))
}

/// The position of the `]` closing the array that opens at `open`, skipping strings and
/// comments.
fn closing_bracket(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut chars = text[open..].char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + at);
                }
            }
            '"' | '\'' => {
                for (_, inner) in chars.by_ref() {
                    if inner == c {
                        break;
                    }
                }
            }
            '#' => {
                for (_, inner) in chars.by_ref() {
                    if inner == '\n' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// `inside` with `#` comments blanked out (same length), strings kept.
fn strip_comments(inside: &str) -> String {
    let mut out = String::with_capacity(inside.len());
    let mut quote = None;
    let mut comment = false;
    for c in inside.chars() {
        if comment {
            if c == '\n' {
                comment = false;
                out.push(c);
            } else {
                out.extend(std::iter::repeat_n(' ', c.len_utf8()));
            }
            continue;
        }
        match (quote, c) {
            (None, '#') => {
                comment = true;
                out.push(' ');
                continue;
            }
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if q == c => quote = None,
            _ => {}
        }
        out.push(c);
    }
    out
}

/// The alias value as words, `-p` and `--package` alike, `--quiet` dropped: two aliases that run
/// the same command compare equal.
fn alias_words(value: &Value) -> Option<Vec<String>> {
    let words: Vec<String> = match value {
        Value::String(text) => text.split_whitespace().map(str::to_string).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    Some(
        words
            .into_iter()
            .filter(|word| word != "-q" && word != "--quiet")
            .map(|word| {
                if word == "-p" {
                    "--package".to_string()
                } else {
                    word
                }
            })
            .collect(),
    )
}

/// What adding the alias to a config file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alias {
    /// The file needs this new text.
    Add(String),
    /// The same alias is there already.
    Present,
    /// Another `xtask` alias is there: its value.
    Differs(String),
}

/// `.cargo/config.toml` (`text`, empty for a new file) with `[alias] xtask = "{alias}"`.
pub fn add_alias(text: &str, alias: &str) -> Result<Alias, Refused> {
    let by_hand = || {
        Refused(format!(
            "add `xtask = \"{alias}\"` to its [alias] table by hand"
        ))
    };
    let before = parse(text)?;
    let wanted = Value::String(alias.to_string());
    if let Some(existing) = before.get("alias").and_then(|a| a.get("xtask")) {
        return Ok(if alias_words(existing) == alias_words(&wanted) {
            Alias::Present
        } else {
            Alias::Differs(existing.to_string())
        });
    }
    let line = format!("xtask = {wanted}");
    let edited = match before.get("alias") {
        Some(_) => insert_after_header(text, "[alias]", &line).ok_or_else(by_hand)?,
        None => {
            let mut edited = text.to_string();
            if !edited.is_empty() && !edited.ends_with('\n') {
                edited.push('\n');
            }
            if !edited.is_empty() {
                edited.push('\n');
            }
            edited.push_str(&format!("[alias]\n{line}\n"));
            edited
        }
    };
    let after = parse(&edited).map_err(|_| by_hand())?;
    let mut expected = before;
    expected
        .entry("alias")
        .or_insert_with(|| Value::Table(Table::new()))
        .as_table_mut()
        .ok_or_else(by_hand)?
        .insert("xtask".to_string(), wanted);
    if after == expected {
        Ok(Alias::Add(edited))
    } else {
        Err(by_hand())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_added_keeping_the_rest() {
        let cases = [
            (
                "[package]\nname = \"demo\"\n",
                "[package]\nname = \"demo\"\n\n[workspace]\nmembers = [\"xtask\", \"gate-tests\"]\n",
            ),
            (
                "# root\n[workspace]\nresolver = \"2\"\n",
                "# root\n[workspace]\nmembers = [\"xtask\", \"gate-tests\"]\nresolver = \"2\"\n",
            ),
            (
                "[workspace]\nmembers = [\"a\", \"b\"] # ours\n",
                "[workspace]\nmembers = [\"a\", \"b\", \"xtask\", \"gate-tests\"] # ours\n",
            ),
            (
                "[workspace]\nmembers = []\n",
                "[workspace]\nmembers = [\"xtask\", \"gate-tests\"]\n",
            ),
            (
                "[workspace]\nmembers = [\n  \"a\", # the app\n  \"b\"\n]\n",
                "[workspace]\nmembers = [\n  \"a\", # the app\n  \"b\",\n  \"xtask\",\n  \"gate-tests\",\n]\n",
            ),
            (
                "[workspace]\nmembers = [\n    \"crates/*\",\n]\n",
                "[workspace]\nmembers = [\n    \"crates/*\",\n    \"xtask\",\n    \"gate-tests\",\n]\n",
            ),
            (
                "[workspace]\nmembers = [\"xtask\", \"a]\"]\n",
                "[workspace]\nmembers = [\"xtask\", \"a]\", \"gate-tests\"]\n",
            ),
        ];
        for (before, after) in cases {
            assert_eq!(
                add_members(before).unwrap().as_deref(),
                Some(after),
                "{before}"
            );
        }
        assert_eq!(
            add_members("[workspace]\nmembers = [\"gate-tests\", \"xtask\"]\n").unwrap(),
            None
        );
    }

    #[test]
    fn a_manifest_it_cannot_edit_safely_is_refused() {
        for text in [
            "[workspace\n",
            "workspace = 3\n",
            "[workspace]\nmembers = \"a\"\n",
            // The text search finds default-members first: the check of the result refuses it.
            "[workspace]\ndefault-members = [\"a\"]\nmembers = [\"a\", \"b\"]\n",
        ] {
            let err = add_members(text).unwrap_err();
            assert!(
                err.0.contains("by hand") || err.0.contains("TOML"),
                "{text}: {err:?}"
            );
        }
    }

    #[test]
    fn the_alias_is_added_kept_or_refused() {
        let alias = "run --package xtask --";
        assert_eq!(
            add_alias("", alias).unwrap(),
            Alias::Add("[alias]\nxtask = \"run --package xtask --\"\n".to_string())
        );
        assert_eq!(
            add_alias("[build]\njobs = 2 # two\n", alias).unwrap(),
            Alias::Add(
                "[build]\njobs = 2 # two\n\n[alias]\nxtask = \"run --package xtask --\"\n"
                    .to_string()
            )
        );
        assert_eq!(
            add_alias("[alias]\nb = \"build\"\n", alias).unwrap(),
            Alias::Add("[alias]\nxtask = \"run --package xtask --\"\nb = \"build\"\n".to_string())
        );
        assert_eq!(
            add_alias("[alias]\nxtask = \"run --quiet -p xtask --\"\n", alias).unwrap(),
            Alias::Present
        );
        assert_eq!(
            add_alias(
                "[alias]\nxtask = [\"run\", \"--package\", \"xtask\", \"--\"]\n",
                alias
            )
            .unwrap(),
            Alias::Present
        );
        assert_eq!(
            add_alias("[alias]\nxtask = \"run -p tools --\"\n", alias).unwrap(),
            Alias::Differs("\"run -p tools --\"".to_string())
        );
        assert!(add_alias("alias.b = \"build\"\n", alias).is_err());
        assert!(add_alias("[alias\n", alias).is_err());
    }
}
