//! Markdown text for the reports written in Markdown (tracker.md, the CI job summary) and the
//! Markdown parts of report.sarif: one-line text, table cells, code spans and fences that hold
//! any text.

/// Text on one line: newlines would end a list item or a table row.
pub fn inline(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

/// A table cell: one line, `|` escaped.
pub fn cell(text: &str) -> String {
    inline(text).replace('|', "\\|")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_survive_backticks_and_cells_escape_pipes() {
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(fence_for("x ```` y"), "`````");
    }
}
