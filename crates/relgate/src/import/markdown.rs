//! The Markdown blocks trackers use: headings, tables, list items with boxes, fences, text.

/// One Markdown block; line numbers are 1-based.
#[derive(Debug, Clone)]
pub(super) enum Block {
    Heading {
        line: usize,
        last: usize,
        level: usize,
        text: String,
    },
    Item {
        line: usize,
        indent: usize,
        checked: Option<bool>,
        text: String,
    },
    Text {
        line: usize,
        indent: usize,
        text: String,
    },
    Table {
        first: usize,
        last: usize,
        header: Vec<String>,
        rows: Vec<(usize, Vec<String>)>,
    },
    Fence {
        first: usize,
        last: usize,
        body: Vec<usize>,
    },
    Rule {
        line: usize,
    },
}

impl Block {
    pub(super) fn lines(&self) -> std::ops::RangeInclusive<usize> {
        match self {
            Block::Heading { line, last, .. } => *line..=*last,
            Block::Item { line, .. } | Block::Text { line, .. } | Block::Rule { line } => {
                *line..=*line
            }
            Block::Table { first, last, .. } | Block::Fence { first, last, .. } => *first..=*last,
        }
    }
}

pub(super) fn indent_of(line: &str) -> usize {
    let mut width = 0;
    for c in line.chars() {
        match c {
            ' ' => width += 1,
            '\t' => width += 4 - width % 4,
            _ => break,
        }
    }
    width
}

pub(super) fn is_rule(trimmed: &str) -> bool {
    let mut marks = trimmed.chars().filter(|c| !c.is_whitespace());
    let Some(first) = marks.next() else {
        return false;
    };
    matches!(first, '-' | '*' | '_')
        && trimmed.chars().filter(|c| *c == first).count() >= 3
        && trimmed.chars().all(|c| c == first || c == ' ' || c == '\t')
}

pub(super) fn is_table_separator(line: &str) -> bool {
    let cells = table_cells(line);
    line.contains('|')
        && line.contains('-')
        && cells.iter().all(|cell| {
            let cell = cell.trim();
            !cell.is_empty()
                && cell.trim_matches(':').chars().all(|c| c == '-')
                && cell.contains('-')
        })
}

/// The cells of a table row: split at `|` outside code spans, `\|` unescaped.
pub(super) fn table_cells(line: &str) -> Vec<String> {
    let trimmed = line.trim();
    let trimmed = trimmed.strip_prefix('|').unwrap_or(trimmed);
    let trimmed = if trimmed.ends_with('|') && !trimmed.ends_with("\\|") {
        &trimmed[..trimmed.len() - 1]
    } else {
        trimmed
    };
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut in_code = false;
    let mut chars = trimmed.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '`' => {
                in_code = !in_code;
                cell.push(c);
            }
            '|' if !in_code => cells.push(std::mem::take(&mut cell).trim().to_string()),
            _ => cell.push(c),
        }
    }
    cells.push(cell.trim().to_string());
    cells
}

pub(super) fn fence_opening(trimmed: &str) -> Option<(char, usize)> {
    let first = trimmed.chars().next()?;
    if first != '`' && first != '~' {
        return None;
    }
    let count = trimmed.chars().take_while(|c| *c == first).count();
    (count >= 3 && !(first == '`' && trimmed[count..].contains('`'))).then_some((first, count))
}

pub(super) fn parse_blocks(lines: &[String]) -> Vec<Block> {
    let heading = static_regex!(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$");
    let item = static_regex!(r"^([ \t]*)(?:[-*+]|\d{1,9}[.)])(?:[ \t]+(.*?))?[ \t]*$");
    let checkbox = static_regex!(r"^\[([ xX])\](?:[ \t]+(.*))?$");
    let mut blocks: Vec<Block> = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = &lines[index];
        let number = index + 1;
        let trimmed = line.trim();
        index += 1;
        if trimmed.is_empty() {
            continue;
        }
        let indent = indent_of(line);
        if indent < 4 {
            if let Some((mark, count)) = fence_opening(trimmed) {
                let mut body = Vec::new();
                let mut last = lines.len();
                while index < lines.len() {
                    let inner = lines[index].trim();
                    index += 1;
                    if inner.chars().take_while(|c| *c == mark).count() >= count
                        && inner.trim_start_matches(mark).trim().is_empty()
                    {
                        last = index;
                        break;
                    }
                    body.push(index);
                }
                blocks.push(Block::Fence {
                    first: number,
                    last,
                    body,
                });
                continue;
            }
            // Cheap tests first: a regex search per line is most of a debug build's time.
            let maybe_heading = line.trim_start_matches(' ').starts_with('#');
            if let Some(captures) = maybe_heading.then(|| heading.captures(line)).flatten() {
                blocks.push(Block::Heading {
                    line: number,
                    last: number,
                    level: captures[1].len(),
                    text: captures
                        .get(2)
                        .map_or(String::new(), |text| text.as_str().trim().to_string()),
                });
                continue;
            }
            let setext = if trimmed.chars().all(|c| c == '=') {
                Some(1)
            } else if trimmed.chars().all(|c| c == '-') {
                Some(2)
            } else {
                None
            };
            if let (Some(level), Some(Block::Text { line, indent, .. })) = (setext, blocks.last()) {
                if *line + 1 == number && *indent < 4 {
                    let Some(Block::Text { line, text, .. }) = blocks.pop() else {
                        unreachable!("just matched a text block");
                    };
                    blocks.push(Block::Heading {
                        line,
                        last: number,
                        level,
                        text,
                    });
                    continue;
                }
            }
            if is_rule(trimmed) {
                blocks.push(Block::Rule { line: number });
                continue;
            }
        }
        let next_is_separator = lines
            .get(index)
            .is_some_and(|next| is_table_separator(next));
        if trimmed.starts_with('|') || (trimmed.contains('|') && next_is_separator) {
            let header = table_cells(line);
            let mut rows = Vec::new();
            let mut last = number;
            while index < lines.len() {
                let row = lines[index].trim();
                if row.is_empty() || !row.contains('|') {
                    break;
                }
                index += 1;
                last = index;
                if !is_table_separator(row) {
                    rows.push((index, table_cells(row)));
                }
            }
            blocks.push(Block::Table {
                first: number,
                last,
                header,
                rows,
            });
            continue;
        }
        let maybe_item = line
            .trim_start_matches([' ', '\t'])
            .starts_with(|c: char| matches!(c, '-' | '*' | '+') || c.is_numeric());
        if let Some(captures) = maybe_item.then(|| item.captures(line)).flatten() {
            let indent = indent_of(&captures[1]);
            let content = captures.get(2).map_or("", |text| text.as_str());
            let boxed = content.starts_with('[').then(|| checkbox.captures(content));
            let (checked, text) = match boxed.flatten() {
                Some(boxed) => (
                    Some(&boxed[1] != " "),
                    boxed.get(2).map_or("", |text| text.as_str()),
                ),
                None => (None, content),
            };
            blocks.push(Block::Item {
                line: number,
                indent,
                checked,
                text: text.trim().to_string(),
            });
            continue;
        }
        blocks.push(Block::Text {
            line: number,
            indent,
            text: trimmed.to_string(),
        });
    }
    blocks
}
