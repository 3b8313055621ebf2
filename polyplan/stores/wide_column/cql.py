"""Small pieces of CQL text: identifiers, literals, statement splitting (pure).

CQL is written by hand in this package: no maintained library renders CQL DDL (cassandra-driver
only parses schema it reads back). Identifier quoting follows the driver's own rule
(`cassandra.metadata.protect_name`, restated here in three lines so that planning needs no
driver; tests/test_cli_install.py checks both agree): a name stays bare only if it is lower case
`[a-z][a-z0-9_]*` and not a reserved word; anything else is double-quoted, with `"` doubled.
Unreserved keywords (`key`, `group`, `ttl`, type names…) are quoted too: a quoted identifier is
never read as a keyword, so this costs nothing and survives keywords becoming reserved later.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from polyplan.stores.wide_column.keywords import CQL_KEYWORDS, CQL_KEYWORDS_RESERVED

# Keyspace, table and type names: at most 48 characters, letters, digits and underscores only
# (even quoted), because they become directory names on every node.
MAX_SCHEMA_NAME = 48
_SCHEMA_NAME = re.compile(r"[^a-z0-9_]+")
_BARE_NAME = re.compile(r"[a-z][0-9a-z_]*")  # the driver's `valid_cql3_word_re`


# Keywords of Cassandra 4.1+ grammars (GROUP BY, PER PARTITION LIMIT, LIKE, CAST, data masking…)
# that the driver's keyword list predates: quoted as well.
_NEWER_KEYWORDS = frozenset(
    {
        "access",
        "cast",
        "datacenters",
        "duration",
        "group",
        "hashed",
        "like",
        "mask",
        "maxwritetime",
        "partition",
        "per",
        "select_masked",
        "unmask",
    }
)
_KEYWORDS = CQL_KEYWORDS | _NEWER_KEYWORDS


def escape_name(name: str) -> str:
    """`name` double-quoted, `"` doubled (`cassandra.metadata.escape_name`)."""
    return '"' + name.replace('"', '""') + '"'


def protect_name(name: str) -> str:
    """`name` bare when CQL reads it as a name, else quoted (`cassandra.metadata.protect_name`)."""
    if name.lower() not in CQL_KEYWORDS_RESERVED and _BARE_NAME.fullmatch(name):
        return name
    return escape_name(name)


def quote(name: str) -> str:
    """A column, field, table or bind-marker name as CQL must spell it."""
    return escape_name(name) if name.lower() in _KEYWORDS else protect_name(name)


def qualified(keyspace: str, name: str) -> str:
    """A table or type name with its keyspace, e.g. `iot.device_window`.

    Every statement polyplan writes names its keyspace: Cassandra 4.0.2+ warns when a prepared
    statement relies on the session's keyspace (`USE`), since the same text then means different
    tables on different connections.
    """
    return f"{quote(keyspace)}.{quote(name)}"


def retarget(cql: str, source: str, target: str) -> str:
    """`cql` with every `source.` qualifier (as `qualified` writes it) pointed at keyspace `target`.

    How a test runs the artifacts in a keyspace of its own, or an application deploys them under
    another keyspace name. Only a qualifier is replaced: the name followed by a dot and not
    preceded by a name character, dot or quote.
    """
    pattern = re.compile(r"(?<![\w\".])" + re.escape(quote(source)) + r"\.(?=[\w\"])")
    return pattern.sub(lambda _: f"{quote(target)}.", cql)


def schema_name(base: str) -> str:
    """A legal keyspace/table/type name from `base`: lower case, [a-z0-9_], ≤ 48 characters.

    Long names keep their start and get a short hash of the whole, so they stay unique and stable.
    """
    name = _SCHEMA_NAME.sub("_", base.lower()).strip("_") or "t"
    if not name[0].isalpha():
        name = f"t_{name}"
    if len(name) <= MAX_SCHEMA_NAME:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{name[: MAX_SCHEMA_NAME - 9].rstrip('_')}_{digest}"


def string_literal(text: str) -> str:
    """A CQL string literal, as the driver's encoder writes one ('' escapes a quote)."""
    return "'" + text.replace("'", "''") + "'"


def comment(text: str) -> str:
    """Text for a `--` comment line: one line, whatever line breaks a model value brought."""
    return " ".join(text.splitlines())


def map_literal(options: dict[str, Any]) -> str:
    """A CQL map literal of string keys, e.g. the replication or compaction options."""
    parts = []
    for key, value in options.items():
        shown = (
            str(value).lower()
            if isinstance(value, bool)
            else (str(value) if isinstance(value, int) else string_literal(str(value)))
        )
        parts.append(f"{string_literal(key)}: {shown}")
    return "{" + ", ".join(parts) + "}"


def split_statements(text: str) -> list[tuple[list[str], str]]:
    """Split a CQL script as polyplan writes it into (leading comment lines, statement) pairs.

    Statements end with `;` at the end of a line; `--` lines are comments. (Scripts from elsewhere,
    with `;` inside string literals at a line end, are not this function's business.)
    """
    found: list[tuple[list[str], str]] = []
    comments: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("--")):
            if stripped.startswith("--"):
                comments.append(stripped[2:].strip())
            elif not stripped:
                comments = []
            continue
        current.append(line)
        if stripped.endswith(";"):
            found.append((comments, "\n".join(current).strip().rstrip(";").strip()))
            comments, current = [], []
    if current:
        found.append((comments, "\n".join(current).strip()))
    return found
