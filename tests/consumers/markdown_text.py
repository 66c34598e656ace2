"""What GitHub's Markdown renderer makes of a document: reads Markdown on stdin, renders it with
cmark-gfm (the pinned `cmarkgfm`, GitHub's extensions: table, autolink, tagfilter,
strikethrough, tasklist; raw HTML kept, as GitHub renders before it sanitizes) and prints one
JSON object describing the HTML, read with Python's html.parser:

- "blocks": [tag, text] for each innermost block (p, li, h1-h6, th, td, pre): the text a reader
  sees there, entities decoded, code spans included;
- "tags": every element name in the HTML, sorted; "comments": how many HTML comments;
- "rows": for each table row, [its table's columns, cells in the HTML, cells in its source
  line as cmark-gfm splits it]; cmark-gfm drops cells beyond the header's count, so the source
  count is found by rendering the line as the header of a table of 1, 2, … columns;
- "headings": [level, text, anchor] with the anchor GitHub gives the heading (lower case,
  characters other than letters, digits, spaces, `-` and `_` dropped, spaces as `-`, a
  repeated anchor suffixed `-1`, `-2`…);
- "links": the href of every link to an anchor of the document (`#…`).

Usage: python3 markdown_text.py < document.md
"""

import json
import re
import sys
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options

OPTIONS = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_FOOTNOTES | Options.CMARK_OPT_SOURCEPOS
BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "th", "td", "pre"}
VOID = {"input", "br", "hr", "img"}


def render(markdown):
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=OPTIONS)


def github_anchor(text, seen):
    slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
    count = seen.get(slug, 0)
    seen[slug] = count + 1
    return slug if count == 0 else f"{slug}-{count}"


class Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks = []
        self.open = []  # indices into self.blocks of the open blocks, innermost last
        self.stack = []
        self.tags = set()
        self.comments = 0
        self.links = []
        self.tables = []  # per table: [columns, [(source line, html cells)]]
        self.row = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "a" and (attrs.get("href") or "").startswith("#"):
            self.links.append(attrs["href"])
        if tag == "table":
            self.tables.append([0, []])
        if tag == "tr":
            line = int(attrs["data-sourcepos"].split(":")[0])
            self.row = [line, 0]
        if tag in ("th", "td") and self.row is not None:
            self.row[1] += 1
        if tag in VOID:
            return
        self.stack.append(tag)
        if tag in BLOCKS:
            self.blocks.append([tag, ""])
            self.open.append(len(self.blocks) - 1)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self.stack:
            top = self.stack.pop()
            if top in BLOCKS:
                self.open.pop()
            if top == tag:
                break
        if tag == "tr" and self.row is not None:
            table = self.tables[-1]
            if not table[1]:
                table[0] = self.row[1]
            table[1].append(tuple(self.row))
            self.row = None

    def handle_data(self, data):
        if self.open:
            self.blocks[self.open[-1]][1] += data

    def handle_comment(self, data):
        self.comments += 1


def source_cells(line):
    """How many cells cmark-gfm splits `line` into: the width of the table it heads."""
    for columns in range(1, len(line) + 2):
        if "<table" in render(line + "\n" + "|---" * columns + "|\n"):
            return columns
    return 0


def main():
    markdown = sys.stdin.read()
    reader = Reader()
    reader.feed(render(markdown))
    reader.close()
    lines = markdown.split("\n")
    rows = []
    for columns, table_rows in reader.tables:
        for line, cells in table_rows:
            rows.append([columns, cells, source_cells(lines[line - 1])])
    seen = {}
    headings = [
        [int(tag[1]), text, github_anchor(text, seen)]
        for tag, text in reader.blocks
        if re.fullmatch(r"h[1-6]", tag)
    ]
    json.dump(
        {
            "blocks": reader.blocks,
            "tags": sorted(reader.tags),
            "comments": reader.comments,
            "rows": rows,
            "headings": headings,
            "links": reader.links,
        },
        sys.stdout,
        ensure_ascii=False,
    )


if __name__ == "__main__":
    main()
