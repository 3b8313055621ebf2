"""Reading the SQL text polyplan emits: where its literals, identifiers and comments are (pure).

Model values (enum values, defaults, patterns, filter constants, comments) reach the emitted SQL
as literals rendered by SQLAlchemy's dialects, and may hold `;`, `--`, `/*`, quotes, blank lines
and line breaks. Whatever splits or tidies that text therefore has to know where a literal starts
and ends. Hand-written because neither SQLAlchemy nor any dependency has a SQL tokenizer; it only
needs to understand SQL as SQLAlchemy renders it, for every engine polyplan targets:

- `'…'` string literals with `''` for a quote: SQLAlchemy doubles quotes on every dialect and
  never writes a backslash-quote, so MySQL's backslash escapes (a backslash is written as two)
  need no case of their own;
- `"…"` and `` `…` `` quoted identifiers, with the quote doubled;
- `-- …` comments to the end of the line and `/* … */` comments (which may hold quotes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from enum import Enum

import sqlalchemy as sa

_OPENER = re.compile(r"['\"`]|--|/\*")  # where a quoted piece or a comment may start
_STATEMENT_END = re.compile(r";[ \t]*\n(?:[ \t]*\n|\Z)|;[ \t]*\Z")


class Piece(Enum):
    CODE = "code"
    QUOTED = "quoted"  # a whole literal or quoted identifier, quotes included
    COMMENT = "comment"  # a whole comment; a line comment without its line break


def _quoted_end(sql: str, start: int) -> int:
    quote, i = sql[start], start + 1
    while True:
        found = sql.find(quote, i)
        if found < 0:
            return len(sql)
        if sql.startswith(quote, found + 1):
            i = found + 2  # a doubled quote stays inside
            continue
        return found + 1


def pieces(sql: str) -> Iterator[tuple[Piece, str]]:
    """`sql` cut into code, quoted and comment pieces that join back to `sql`."""
    # The scan jumps from one opener to the next with a regex: emitted files run to megabytes,
    # and a character-by-character loop over them was a large share of planning time.
    start = 0
    match = _OPENER.search(sql)
    while match is not None:
        i = match.start()
        opener = match.group()
        if opener in "'\"`":
            end = _quoted_end(sql, i)
            kind = Piece.QUOTED
        elif opener == "--":
            found = sql.find("\n", i)
            end = len(sql) if found < 0 else found
            kind = Piece.COMMENT
        else:
            found = sql.find("*/", i + 2)
            end = len(sql) if found < 0 else found + 2
            kind = Piece.COMMENT
        if start < i:
            yield Piece.CODE, sql[start:i]
        yield kind, sql[i:end]
        start = end
        match = _OPENER.search(sql, end)
    if start < len(sql):
        yield Piece.CODE, sql[start:]


def trim_lines(sql: str) -> str:
    """`sql` without blanks at line ends, except inside literals (which keep every character)."""
    out: list[str] = []
    for kind, text in pieces(sql):
        if kind is Piece.QUOTED:
            out.append(text)
        else:
            *ended, rest = text.split("\n")
            out.append("".join(line.rstrip() + "\n" for line in ended) + rest)
    return "".join(out)


def _masked(sql: str) -> str:
    """`sql` with every literal and comment blanked out (same length, no line breaks in them)."""
    return "".join(text if kind is Piece.CODE else "x" * len(text) for kind, text in pieces(sql))


def without_comments(sql: str) -> str:
    """`sql` without its comments; literals keep everything, `--` and line breaks included."""
    return "".join(text for kind, text in pieces(sql) if kind is not Piece.COMMENT)


def split_script(sql: str) -> list[str]:
    """The statements of an emitted script: `;` at a line end, then a blank line or the end.

    Only a `;` outside literals and comments counts (a trigger body has `;` inside, not at the
    end of a paragraph). Comments are dropped (a file header is only comments); statements keep
    no trailing `;`, lose surrounding white space, and empty ones are left out.
    """
    statements: list[str] = []
    start = 0
    for match in _STATEMENT_END.finditer(_masked(sql)):
        statements.append(without_comments(sql[start : match.start()]).strip())
        start = match.end()
    statements.append(without_comments(sql[start:]).strip())
    return [s for s in statements if s]


def commented_blocks(sql: str, opener: str) -> list[tuple[list[str], str]]:
    """(comment lines, SQL) of each block of a file that starts with a comment beginning `opener`.

    How queries.sql is read: each block is a header of `-- key: value` comments, then one
    statement. Only real comments count; a literal holding a line break and `-- name:` does not.
    The SQL keeps no trailing `;` and no surrounding white space; text before the first opener
    (the file header) is left out.
    """
    found: list[tuple[list[str], str]] = []
    comments: list[str] | None = None
    body: list[str] = []
    for kind, text in pieces(sql):
        if kind is Piece.COMMENT and text.startswith(opener):
            if comments is not None:
                found.append((comments, "".join(body).strip().removesuffix(";")))
            comments, body = [text], []
        elif comments is None:
            continue
        elif kind is Piece.COMMENT and not "".join(body).strip():
            comments.append(text)
            body = []
        elif kind is not Piece.COMMENT:
            body.append(text)
    if comments is not None:
        found.append((comments, "".join(body).strip().removesuffix(";")))
    return found


def sub_code(pattern: re.Pattern[str] | str, replacement: str | Callable[[re.Match[str]], str], sql: str) -> str:
    """`re.sub` on the code of `sql` only: a literal that looks like `:name` is left alone."""
    return "".join(re.sub(pattern, replacement, text) if kind is Piece.CODE else text for kind, text in pieces(sql))


def text_clause(sql: str) -> sa.TextClause:
    """`sql` (with `:name` parameters) as a TextClause whose literals stay exactly as written.

    `sa.text` reads `:word` as a parameter even inside a string literal; `\\:` is its escape
    for a literal colon. (`exec_driver_sql` is no way out: psycopg and PyMySQL read `%` as a
    placeholder whenever parameters are passed, while `sa.text` doubles it for them.)
    """
    return sa.text("".join(text.replace(":", "\\:") if kind is Piece.QUOTED else text for kind, text in pieces(sql)))
