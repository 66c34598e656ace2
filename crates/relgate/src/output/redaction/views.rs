//! Views of a line the rules are run over besides the line itself, so that a secret next to
//! markup is still seen. Each view's spans are spans of the line: the blanked views keep every
//! byte where it was, the stripped view carries a map back.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::bytes::Regex;

/// What escapes are overwritten with: no rule takes it for part of a secret, so it is the word
/// boundary a token rule needs.
const BLANK: u8 = 0x01;

const ESC: u8 = 0x1b;

/// End of the ANSI escape sequence starting at `start` (an `ESC`): `ESC [ params letter` or
/// the two-byte `ESC x`.
fn ansi_end(text: &[u8], start: usize) -> usize {
    let mut end = start + 1;
    if text.get(end) == Some(&b'[') {
        end += 1;
        while text
            .get(end)
            .is_some_and(|byte| (0x20..0x40).contains(byte))
        {
            end += 1;
        }
    }
    // The final byte (a letter for CSI, any byte after a lone ESC).
    (end + 1).min(text.len())
}

/// `text` with every ANSI escape sequence (colours, cursor moves) overwritten by [`BLANK`], so
/// that a token printed in colour (`ESC[1mghp_…ESC[0m`) has the word boundary its rule needs.
pub(super) fn without_ansi(text: &[u8]) -> Cow<'_, [u8]> {
    if !text.contains(&ESC) {
        return Cow::Borrowed(text);
    }
    let mut view = text.to_vec();
    let mut at = 0;
    while let Some(offset) = memchr::memchr(ESC, &view[at..]) {
        let start = at + offset;
        let end = ansi_end(&view, start);
        view[start..end].fill(BLANK);
        at = end;
    }
    Cow::Owned(view)
}

/// `text` with its backslash escapes overwritten by [`BLANK`], or `None` when it has none: a
/// token right after a JSON or C escape (`"x\nghp_…"`, `\tAKIA…`, `\u0020`, a doubly escaped
/// `\\n`) or after the printed source of a colour (`\033[31m`, `\e[1;31m`, `\x1b[0m`, as in a
/// shown `printf` command) gets its word boundary. A run of backslashes goes with the escape
/// it leads to; a backslash before anything else is left alone (it is no word character).
pub(super) fn without_backslash_escapes(text: &[u8]) -> Option<Vec<u8>> {
    static ESCAPE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"\\+(?:(?:0?33|e|x1[bB]|u001[bB])(?:\[[0-9;?]*[A-Za-z])?|u[0-9A-Fa-f]{4}|[nrtbfv0a]|[\x22'/])",
        )
        .expect("static regex")
    });
    if !text.contains(&b'\\') {
        return None;
    }
    let mut view = text.to_vec();
    let mut found = false;
    for escape in ESCAPE.find_iter(text) {
        view[escape.range()].fill(BLANK);
        found = true;
    }
    found.then_some(view)
}

/// `text` with every ANSI escape sequence removed (not blanked), and for each byte of the view
/// its offset in `text`; `None` when there is none. A token cut in two by a colour change
/// (`ghp_abc ESC[0m def…`) is whole in this view.
pub(super) fn ansi_removed(text: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    if !text.contains(&ESC) {
        return None;
    }
    let mut view = Vec::with_capacity(text.len());
    let mut offsets = Vec::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        if text[at] == ESC {
            at = ansi_end(text, at);
            continue;
        }
        view.push(text[at]);
        offsets.push(at);
        at += 1;
    }
    Some((view, offsets))
}

/// A span of the stripped view as a span of the text (covering the escapes inside it).
pub(super) fn span_in_text(offsets: &[usize], (start, end): (usize, usize)) -> (usize, usize) {
    (offsets[start], offsets[end - 1] + 1)
}
