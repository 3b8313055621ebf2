"""Model text in the emitted Markdown: table cells, code spans and paragraphs that stay what they are.

Hand-written: no dependency escapes text for Markdown (markdown-it-py, which the HTML report uses, reads Markdown; it does not write it). The rules are CommonMark's and GitHub's (GFM)
tables': any ASCII punctuation may be backslash-escaped; a table row is one line, and a `|` not
escaped by a backslash ends a cell, also inside a code span; a code span is closed by a run of
backticks as long as the one that opened it.
"""

from __future__ import annotations

import re

# Every line break CommonMark or a renderer might honour; table rows and list items are one line.
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
# Characters that start inline markup or HTML, or end a table cell. An `_` inside a word
# (`things_by_kind`) opens no emphasis in CommonMark, so it is left as it is for readability.
_INLINE = re.compile(r"([\\`*\[\]<>|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")
# What starts a block (heading, quote, list, rule) when it opens a paragraph.
_BLOCK_START = re.compile(r"^([#>+-]|\d+(?=[.)]))")


def one_line(text: str) -> str:
    """`text` with each line break turned into a space."""
    return _LINE_BREAK.sub(" ", text)


def cell(text: object) -> str:
    """Plain text as one GFM table cell: one line, `|` and inline markup escaped."""
    return _INLINE.sub(lambda m: "\\" + m.group(0), one_line(str(text)))


def prose(text: str) -> str:
    """Plain text as one paragraph (or list item text): nothing in it reads as Markdown."""
    escaped = cell(text).strip()  # leading blanks would make a code block
    # `#`, `>`, `-`, `+` open a block before themselves, `1.` and `1)` before the digits' end.
    return _BLOCK_START.sub(lambda m: m.group(0) + "\\" if m.group(0).isdigit() else "\\" + m.group(0), escaped)


def code(text: str, in_table: bool = False) -> str:
    """`text` as an inline code span, on one line, whatever backticks it holds.

    In a table, `|` is written `\\|`: GFM splits cells before it reads code spans, and shows an
    escaped `|` in a code span as a bare one (outside tables the backslash would show).
    """
    body = one_line(text)
    if in_table:
        body = body.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    # A span whose text starts or ends with a backtick needs a space between it and the fence;
    # CommonMark strips one such space from each side.
    if body.startswith("`") or body.endswith("`"):
        body = f" {body} "
    return f"{fence}{body}{fence}"
