"""Readers of each engine's query plan and index catalog, as pure functions (no I/O).

The generated `tests/test_<engine>_indexes.py` EXPLAINs every access pattern's query and hands the
engine's plan to `plan_problems` with what the design expects (`Expectation`): the designed index
(or the constraint indexes that serve the pattern), the leading designed columns the pattern must
*seek* on, and whether the index must cover the query. The plan passes only when the engine uses
that index with an index condition on those columns:

- PostgreSQL (`EXPLAIN (FORMAT JSON)`): an `Index Scan`, `Index Only Scan` or `Bitmap Index Scan`
  of the index whose `Index Cond` names every one of those columns. An index scan without a
  condition walks the whole index (only its order is used) and is rejected.
- MariaDB/MySQL (`EXPLAIN`): a row of the table with that `key`, an access `type` that seeks
  (`const`, `eq_ref`, `ref`, `ref_or_null`, `range`, `index_merge`; never `index` or `ALL`) and a
  `key_len` that is the byte length of a prefix of the index's key parts covering those columns
  (`mysql_key_part_length` computes each part's length from the catalog's column types).
- SQLite (`EXPLAIN QUERY PLAN`): `SEARCH <table> USING [COVERING ]INDEX <name> (<col>=? ...)` with
  those columns in the parentheses. `SCAN <table> USING [COVERING ]INDEX <name>` walks the whole
  index and is rejected.

A pattern that seeks on nothing (a sort with a LIMIT over the whole table) may walk the index in
order: its expectation has no condition columns. Covering stays as before: `Index Only Scan`,
`Using index`, `COVERING INDEX`.

`index_problems` compares an index as the engine's catalog describes it (`polyplan.stores.
relational.catalog` reads it) with the design: key columns in order, their direction, collation or
operator class and prefix length, the included columns, the partial predicate, uniqueness and the
access method, to the extent each engine records them.

Every function returns a list of problems (empty: the plan or index is as designed);
`assert_plan` and `assert_index` raise AssertionError with the problems and the plan shown.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ENGINES = ("postgresql", "mysql", "sqlite")
PRIMARY_KEY = {"postgresql": None, "mysql": "PRIMARY", "sqlite": "PRIMARY KEY"}

# --- what the design expects of a plan --------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """What one pattern's plan must show on one engine.

    `names`: the acceptable indexes (the designed one, or every constraint index leading with the
    pattern's key columns). `condition`: the leading key columns the pattern fixes or bounds, which
    the index condition must name; empty when the pattern only reads the index in order.
    """

    table: str
    names: frozenset[str]
    condition: tuple[str, ...] = ()
    covering: bool = False
    fulltext: bool = False


# --- PostgreSQL -------------------------------------------------------------------------------

POSTGRESQL_INDEX_NODES = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
_LITERAL = re.compile(r"'(?:[^']|'')*'")


def postgresql_nodes(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every node of a PostgreSQL JSON plan tree (`document[0]["Plan"]`), parents first."""
    yield plan
    for child in plan.get("Plans", []):
        yield from postgresql_nodes(child)


def mentions(condition: str, column: str) -> bool:
    """Whether an index condition names `column` (bare, quoted or table-qualified), ignoring
    string literals so that a constant like `'customer_id'` does not count."""
    text = _LITERAL.sub("''", condition)
    # Not preceded by a word character or a quote, and not a table qualifier (followed by `.`).
    pattern = rf'(?<![\w"])(?:"{re.escape(column)}"|{re.escape(column)}\b)(?!\s*\.)'
    return re.search(pattern, text) is not None


def postgresql_problems(document: Sequence[Mapping[str, Any]], expect: Expectation) -> list[str]:
    """Problems of a PostgreSQL `EXPLAIN (FORMAT JSON)` document against `expect`."""
    nodes = list(postgresql_nodes(document[0]["Plan"]))
    problems = []
    if any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == expect.table for n in nodes):
        problems.append(f"sequential scan of {expect.table}")
    used = [n for n in nodes if n.get("Index Name") in expect.names and n["Node Type"] in POSTGRESQL_INDEX_NODES]
    if not used:
        return [*problems, f"none of {sorted(expect.names)} is used"]
    seeking = used
    if expect.condition:
        seeking = [n for n in used if all(mentions(n.get("Index Cond", ""), c) for c in expect.condition)]
        if not seeking:
            found = "; ".join(
                f"{n['Node Type']} of {n['Index Name']}: {n.get('Index Cond', 'no Index Cond')}" for n in used
            )
            problems.append(
                f"the index is not searched on {', '.join(expect.condition)} (a scan of the whole index): {found}"
            )
            return problems
    if expect.covering and not any(n["Node Type"] == "Index Only Scan" for n in seeking):
        problems.append("not index-only")
    return problems


# --- MariaDB/MySQL ----------------------------------------------------------------------------

# Access types that look rows up by a key value or range; `index` reads the whole index and
# `ALL` the whole table.
MYSQL_SEEK_TYPES = frozenset({"system", "const", "eq_ref", "ref", "ref_or_null", "range", "index_merge"})
# Bytes of the fixed-size types in an InnoDB key.
_MYSQL_FIXED = {
    "tinyint": 1,
    "bool": 1,
    "boolean": 1,
    "smallint": 2,
    "mediumint": 3,
    "int": 4,
    "integer": 4,
    "bigint": 8,
    "float": 4,
    "double": 8,
    "real": 8,
    "date": 3,
    "year": 1,
    "uuid": 16,
    "inet4": 4,
    "inet6": 16,
}
_DECIMAL_LEFTOVER = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)  # bytes for 0..8 decimal digits past each 9


@dataclass(frozen=True)
class MySQLColumn:
    """The catalog facts (information_schema.COLUMNS/STATISTICS) that fix a key part's length."""

    data_type: str
    nullable: bool = False
    octet_length: int | None = None  # CHARACTER_OCTET_LENGTH
    max_length: int | None = None  # CHARACTER_MAXIMUM_LENGTH
    precision: int | None = None  # NUMERIC_PRECISION
    scale: int | None = None  # NUMERIC_SCALE
    datetime_precision: int | None = None
    sub_part: int | None = None  # prefix length in characters (STATISTICS.SUB_PART)


def _decimal_bytes(digits: int) -> int:
    return digits // 9 * 4 + _DECIMAL_LEFTOVER[digits % 9]


def mysql_key_part_length(column: MySQLColumn) -> int | None:
    """The bytes one key part adds to MariaDB/MySQL's `key_len`, or None for a type not known here.

    `key_len` counts each part at its maximum stored size: fixed types by size, strings by their
    character length (or prefix) times the charset's bytes per character plus a 2-byte length
    for variable ones, plus one byte when the column is nullable.
    """
    kind = column.data_type.lower()
    size: int | None
    if kind in _MYSQL_FIXED:
        size = _MYSQL_FIXED[kind]
    elif kind in ("decimal", "numeric"):
        precision, scale = column.precision or 10, column.scale or 0
        size = _decimal_bytes(precision - scale) + _decimal_bytes(scale)
    elif kind in ("datetime", "timestamp", "time"):
        base = {"datetime": 5, "timestamp": 4, "time": 3}[kind]
        size = base + math.ceil((column.datetime_precision or 0) / 2)
    elif kind in ("char", "varchar", "binary", "varbinary", "tinytext", "text", "mediumtext", "longtext"):
        octets, chars = column.octet_length, column.max_length
        if octets is None or not chars:
            return None
        per_char = max(1, octets // chars)
        size = column.sub_part * per_char if column.sub_part else octets
        if kind not in ("char", "binary"):
            size += 2  # length bytes of a variable-length (or prefix) part
    else:
        return None  # ENUM/SET sizes depend on the value count; JSON/BLOB are not key parts here
    return size + (1 if column.nullable else 0)


def _prefix_lengths(parts: Sequence[int | None]) -> list[int] | None:
    """key_len of the first 1, 2, … parts; None when a part's length is unknown."""
    total, found = 0, []
    for part in parts:
        if part is None:
            return None
        total += part
        found.append(total)
    return found


def mysql_problems(
    rows: Sequence[Mapping[str, Any]],
    expect: Expectation,
    key_parts: Mapping[str, Sequence[int | None]] | None = None,
) -> list[str]:
    """Problems of MariaDB/MySQL `EXPLAIN` rows (as mappings) against `expect`.

    `key_parts` gives, per acceptable index name, each key part's length in bytes
    (`mysql_key_part_length`); without it `key_len` is only required to be positive.
    """
    mine = [r for r in rows if r["table"] == expect.table]
    if not mine:
        return [f"{expect.table} is not in the plan"]
    problems = []
    if any(r["type"] == "ALL" for r in mine):
        problems.append(f"full scan of {expect.table} (type ALL)")
    used = [(r, k) for r in mine for k in str(r["key"] or "").split(",") if k in expect.names]
    if not used:
        return [*problems, f"none of {sorted(expect.names)} is used"]
    if expect.fulltext:
        if not any(r["type"] == "fulltext" for r, _ in used):
            problems.append("the full-text index is not searched (type is not fulltext)")
        return problems
    seeking = [r for r, _ in used]
    if expect.condition:
        seeking = []
        reasons = []
        for row, key in used:
            why = _mysql_seek_problem(row, key, expect, (key_parts or {}).get(key))
            if why is None:
                seeking.append(row)
            else:
                reasons.append(why)
        if not seeking:
            return [*problems, *reasons]
    if expect.covering:
        extras = [set(str(r.get("Extra") or "").split("; ")) for r in seeking]
        if not any("Using index" in e for e in extras):
            problems.append("not index-only (no 'Using index')")
    return problems


def _mysql_seek_problem(
    row: Mapping[str, Any], key: str, expect: Expectation, parts: Sequence[int | None] | None
) -> str | None:
    """Why this plan row does not seek `key` on the expected columns, or None when it does."""
    kind = row["type"]
    if kind not in MYSQL_SEEK_TYPES:
        return f"{key} is read with type {kind}, not searched on {', '.join(expect.condition)}"
    keys = str(row["key"]).split(",")
    lengths = str(row.get("key_len") or "").split(",")
    try:
        key_len = int(lengths[keys.index(key)])
    except (ValueError, IndexError):
        return f"{key} is used with no key_len ({row.get('key_len')!r})"
    if key_len <= 0:
        return f"{key} is used with key_len {key_len}"
    prefixes = _prefix_lengths(parts) if parts is not None else None
    if prefixes is None:
        return None  # a part of unknown length: key_len > 0 is all that can be asked
    wanted = len(expect.condition)
    if wanted > len(prefixes):
        return f"{key} has {len(prefixes)} key parts, fewer than the {wanted} columns it must be searched on"
    if key_len not in prefixes:
        return f"{key} key_len {key_len} is not the length of any prefix of its key parts {prefixes}"
    if key_len < prefixes[wanted - 1]:
        used = prefixes.index(key_len) + 1
        return (
            f"{key} is searched on {used} key part(s) (key_len {key_len}), not on all of "
            f"{', '.join(expect.condition)} (key_len {prefixes[wanted - 1]})"
        )
    return None


# --- SQLite -----------------------------------------------------------------------------------


def _sqlite_condition_columns(condition: str) -> list[str]:
    """Columns of a SQLite plan's `(a=? AND b>? AND b<?)`, in order."""
    return [m.group(1) for m in re.finditer(r'(?:^|\bAND\s+)"?([^\s=<>"]+)"?\s*(?:=|>|<|IN\b)', condition)]


def sqlite_problems(details: Sequence[str], expect: Expectation) -> list[str]:
    """Problems of SQLite `EXPLAIN QUERY PLAN` detail lines against `expect`."""
    table = re.escape(expect.table)
    problems = []
    # `SCAN t` (or `SCAN TABLE t` before 3.36) with no index: the whole table.
    if any(re.fullmatch(rf"SCAN (?:TABLE )?{table}(?: AS \S+)?", d) for d in details):
        problems.append(f"full scan of {expect.table}")
    used: list[tuple[str, str | None, str]] = []  # (SEARCH or SCAN, condition, line)
    for line in details:
        for name in expect.names:
            if name == "PRIMARY KEY":
                found = re.fullmatch(
                    rf"(SEARCH|SCAN) (?:TABLE )?{table}(?: AS \S+)? USING (?:INTEGER )?PRIMARY KEY(?: \((.*)\))?", line
                )
            else:
                found = re.fullmatch(
                    rf"(SEARCH|SCAN) (?:TABLE )?{table}(?: AS \S+)? USING (?:COVERING )?INDEX {re.escape(name)}"
                    r"(?: \((.*)\))?",
                    line,
                )
            if found:
                used.append((found.group(1), found.group(2), line))
            elif expect.fulltext and re.match(rf"SCAN {re.escape(name)} VIRTUAL TABLE INDEX \d+:M", line):
                used.append(("SEARCH", None, line))
    if not used:
        return [*problems, f"none of {sorted(expect.names)} is used"]
    seeking = used
    if expect.condition and not expect.fulltext:
        seeking = [u for u in used if u[0] == "SEARCH" and _sqlite_covers(u[1] or "", expect.condition, u[2])]
        if not seeking:
            shown = "; ".join(line for _, _, line in used)
            problems.append(
                f"the index is not searched on {', '.join(expect.condition)} (a scan of the whole index): {shown}"
            )
            return problems
    if expect.covering and not any("COVERING INDEX" in line for _, _, line in seeking):
        problems.append("not index-only (no COVERING INDEX)")
    return problems


def _sqlite_covers(condition: str, wanted: Sequence[str], line: str) -> bool:
    columns = _sqlite_condition_columns(condition)
    if "INTEGER PRIMARY KEY" in line and columns == ["rowid"] and len(wanted) == 1:
        return True  # the rowid alias of an INTEGER PRIMARY KEY column
    return all(_sqlite_searches(condition, column) for column in wanted)


def _sqlite_searches(condition: str, column: str) -> bool:
    # SQLite prints names bare, spaces and all (`name $1 -- x=?`): look for each wanted name
    # as a whole term rather than splitting the condition into names.
    term = rf'(?:^|\bAND\s+)(?:"{re.escape(column)}"|{re.escape(column)})\s*(?:=|>|<|IN\b)'
    return re.search(term, condition) is not None


# --- the generated tests' entry point ---------------------------------------------------------


def plan_problems(
    engine: str, plan: Any, expect: Expectation, key_parts: Mapping[str, Sequence[int | None]] | None = None
) -> list[str]:
    """Problems of `engine`'s plan (PostgreSQL: the JSON document; MySQL: rows as mappings;
    SQLite: the detail lines) against `expect`."""
    if engine == "postgresql":
        return postgresql_problems(plan, expect)
    if engine == "mysql":
        return mysql_problems(plan, expect, key_parts)
    if engine == "sqlite":
        return sqlite_problems(plan, expect)
    raise ValueError(f"unknown relational engine {engine!r} (expected one of {', '.join(ENGINES)})")


def show_plan(engine: str, plan: Any) -> str:
    """The plan as text for a failure message."""
    if engine == "postgresql":
        return json.dumps(list(plan), indent=1, default=str)
    if engine == "mysql":
        return "\n".join(str(dict(r)) for r in plan)
    return "\n".join(str(d) for d in plan)


def assert_plan(
    engine: str, plan: Any, expect: Expectation, key_parts: Mapping[str, Sequence[int | None]] | None = None
) -> None:
    """Raise AssertionError, listing every problem and the plan, unless the plan is as designed."""
    problems = plan_problems(engine, plan, expect, key_parts)
    if problems:
        raise AssertionError(
            f"{expect.table} via {sorted(expect.names)}: " + "; ".join(problems) + "\n" + show_plan(engine, plan)
        )


# --- indexes in the catalog -------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPart:
    """One key column of an index. Unset optional fields mean "the engine's default"."""

    name: str
    descending: bool = False
    collation: str | None = None  # SQLite: NOCASE for a prefix-searched column
    opclass: str | None = None  # PostgreSQL: a non-default operator class (varchar_pattern_ops)
    length: int | None = None  # MariaDB: prefix length in characters of a TEXT column


@dataclass(frozen=True)
class IndexShape:
    """An index as designed, or as an engine's catalog describes it."""

    name: str
    table: str
    columns: tuple[KeyPart, ...]
    include: tuple[str, ...] = ()
    where: str | None = None  # the partial predicate, as SQL text (normalised by the engine)
    unique: bool = False
    method: str = "btree"

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> IndexShape:
        """An IndexShape from its `tests/data/indexes.json` form (see `as_data`)."""
        return cls(
            name=data["name"],
            table=data["table"],
            columns=tuple(KeyPart(**c) for c in data["columns"]),
            include=tuple(data.get("include", ())),
            where=data.get("where"),
            unique=bool(data.get("unique", False)),
            method=data.get("method", "btree"),
        )

    def as_data(self) -> dict[str, Any]:
        """The JSON form written into `tests/data/indexes.json` (defaults left out)."""
        columns = []
        for part in self.columns:
            column: dict[str, Any] = {"name": part.name}
            if part.descending:
                column["descending"] = True
            for field in ("collation", "opclass", "length"):
                if getattr(part, field) is not None:
                    column[field] = getattr(part, field)
            columns.append(column)
        return {
            "name": self.name,
            "table": self.table,
            "columns": columns,
            "include": list(self.include),
            "where": self.where,
            "unique": self.unique,
            "method": self.method,
        }


def _describe(part: KeyPart) -> str:
    text = part.name
    if part.collation and part.collation.upper() != "BINARY":
        text += f" COLLATE {part.collation}"
    if part.opclass:
        text += f" {part.opclass}"
    if part.length:
        text += f"({part.length})"
    return text + (" DESC" if part.descending else "")


def normalise_sql(text: str | None) -> str | None:
    """Whitespace-collapsed SQL text (None stays None)."""
    return None if text is None else " ".join(text.split())


def index_problems(engine: str, designed: IndexShape, found: IndexShape | None) -> list[str]:
    """Differences between the designed index and the catalog's, to the extent `engine` records them.

    PostgreSQL records everything compared here. SQLite has no INCLUDE (the design's included
    columns are already trailing key columns) and one access method. MariaDB's catalog
    (information_schema.STATISTICS) has no INCLUDE and no partial predicate, because MariaDB has
    neither (the design's fallbacks turn both into key columns): only the key columns, their
    order, direction and prefix length, uniqueness and the index type are compared there.
    """
    label = f"{designed.table}.{designed.name}"
    if found is None:
        return [f"{label} is missing"]
    problems = []
    want = [_describe(_defaulted(engine, p)) for p in designed.columns]
    have = [_describe(_defaulted(engine, p)) for p in found.columns]
    if want != have:
        problems.append(f"{label} key is ({', '.join(have)}), designed ({', '.join(want)})")
    if designed.unique != found.unique:
        problems.append(
            f"{label} is {'' if found.unique else 'not '}unique, designed {'' if designed.unique else 'not '}unique"
        )
    if designed.method.lower() != found.method.lower():
        problems.append(f"{label} is a {found.method} index, designed {designed.method}")
    if engine != "mysql":
        if list(designed.include) != list(found.include):
            problems.append(f"{label} includes ({', '.join(found.include)}), designed ({', '.join(designed.include)})")
        if normalise_sql(designed.where) != normalise_sql(found.where):
            problems.append(f"{label} predicate is {found.where or 'none'}, designed {designed.where or 'none'}")
    return problems


def _defaulted(engine: str, part: KeyPart) -> KeyPart:
    """`part` with the engine's defaults made explicit, so designed and catalog forms compare."""
    collation = part.collation
    if engine == "sqlite" and collation is None:
        collation = "BINARY"
    return KeyPart(part.name, part.descending, collation.upper() if collation else None, part.opclass, part.length)


def assert_index(engine: str, designed: IndexShape, found: IndexShape | None) -> None:
    """Raise AssertionError listing every difference unless the catalog's index is as designed."""
    problems = index_problems(engine, designed, found)
    if problems:
        raise AssertionError("; ".join(problems))
