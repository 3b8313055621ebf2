"""SQLite's sizing model: record format, varints, b-tree pages (https://www.sqlite.org/fileformat2.html).

A rowid table stores each row as a cell of its table b-tree: payload-length and rowid varints,
then a record (a header of serial-type varints and the values), plus a 2-byte cell pointer. A
non-INTEGER primary key and each unique rule get an automatic index, a b-tree of records holding
the key columns and the rowid. Integers take 0-8 bytes by magnitude; text its UTF-8 length.
Constants: targets/sqlite.yaml (`sizing`), checked by bench/capacity.py against dbstat.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from polyplan.model.schema import Attribute, TypeName
from polyplan.seed.lengths import NULL_SHARE, expected_chars
from polyplan.seed.values import int_bounds
from polyplan.stores.relational.design import generated_key
from polyplan.stores.relational.sizing import IndexSize, TableSize, _keyed, _monotonic, _where_share
from polyplan.stores.relational.spec import IndexKind, TableSpec

_INTEGER_WIDTHS = (1, 2, 3, 4, 6, 8)  # serial types 1-6: two's complement of these widths


def varint_bytes(value: float) -> int:
    """Bytes of a SQLite varint holding `value` (7 bits a byte, 9 bytes at most)."""
    size, limit = 1, 128
    while value >= limit and size < 9:
        size, limit = size + 1, limit << 7
    return size


def integer_bytes(low: int, high: int) -> float:
    """Mean stored bytes of integers drawn uniformly from [low, high] (0 and 1 take none)."""
    total = high - low + 1
    if total <= 0:
        return 0.0

    def within(lo: int, hi: int) -> int:
        return max(0, min(hi, high) - max(lo, low) + 1)

    stored, counted = 0.0, within(0, 1)
    for width in _INTEGER_WIDTHS:
        reach = within(-(2 ** (8 * width - 1)), 2 ** (8 * width - 1) - 1)
        stored += width * (reach - counted)
        counted = reach
    return stored / total


def sqlite_value(attribute: Attribute, column: str, c: dict[str, float], unique: bool = False) -> tuple[float, float]:
    """(mean stored bytes, mean serial-type header bytes) of one non-null value."""
    kind = attribute.type
    if kind is TypeName.INTEGER:
        low, high = int_bounds(attribute)
        return integer_bytes(low, high), 1.0
    if kind is TypeName.BOOLEAN:
        return 0.0, 1.0
    if kind in (TypeName.FLOAT, TypeName.DECIMAL):
        return c["real_bytes"], 1.0
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
        chars = c["timestamp_chars"]
    elif kind is TypeName.DATE:
        chars = c["date_chars"]
    elif kind is TypeName.UUID:
        chars = c["uuid_chars"]
    else:
        chars = expected_chars(attribute, column, unique)
    return chars, float(varint_bytes(2 * chars + 13))


def record_bytes(
    columns: Sequence[tuple[str, Attribute, bool, bool]], c: dict[str, float], rowid: float = 0.0
) -> float:
    """A record of (name, attribute, nullable, unique) columns, plus a rowid column when `rowid`."""
    header = 0.0
    body = 0.0
    for name, attribute, nullable, unique in columns:
        value, serial = sqlite_value(attribute, name, c, unique)
        share = NULL_SHARE if nullable else 0.0
        header += serial
        body += (1 - share) * value
    if rowid:
        header += 1
        body += integer_bytes(1, int(rowid))
    return varint_bytes(header + 1) + header + body


def tree_bytes(cells: float, cell: float, fill: float, c: dict[str, float], local: float | None = None) -> float:
    """Bytes of a b-tree of `cells` cells of `cell` bytes: leaves at `fill`, interior pages, and the
    overflow pages of cells longer than a table leaf keeps (`local`: the payload kept on the leaf)."""
    if cells <= 0:
        return c["page_bytes"]
    usable = c["page_bytes"] - c["leaf_header"]
    overflow = 0.0
    if local is not None and cell > c["max_local_table"]:
        spill = cell - c["min_local"]
        overflow = cells * math.ceil(spill / c["overflow_usable"]) * c["page_bytes"]
        cell = c["min_local"] + 4
    per_page = max(1.0, math.floor(usable * fill / (cell + c["cell_pointer"])))
    leaves = math.ceil(cells / per_page)
    interior = math.ceil(leaves * c["interior_share"]) if leaves > 1 else 0
    return (leaves + interior) * c["page_bytes"] + overflow


def _rowid_alias(table: TableSpec) -> bool:
    """A lone INTEGER primary key is the rowid itself: no index, NULL in the record. A 32-bit
    integer key is rendered INTEGER, and so is a generated key of any width (render.build_metadata)."""
    if len(table.primary_key) != 1:
        return False
    attribute = table.column(table.primary_key[0]).attribute
    return attribute.type is TypeName.INTEGER and (attribute.bits == 32 or generated_key(table) is not None)


def _columns(table: TableSpec, names: Sequence[str]) -> list[tuple[str, Attribute, bool, bool]]:
    return [(n, table.column(n).attribute, table.column(n).nullable, _keyed(table, n)) for n in names]


def _index_list_sqlite(table: TableSpec) -> list[tuple[str, list[str], str, float]]:
    """(name, columns, role, share of rows) of SQLite's indexes: automatic ones for a non-rowid
    primary key and unique rules, and the designed ones (partial where they have WHERE; included
    columns appended to the key, as the SQLite schema renders them)."""
    found: list[tuple[str, list[str], str, float]] = []
    if table.primary_key and not _rowid_alias(table):  # a keyless table is its rowid b-tree alone
        found.append(("primary key", list(table.primary_key), "primary key", 1.0))
    for unique in table.uniques:
        found.append((f"unique ({', '.join(unique)})", list(unique), "unique", 1.0))
    for index in table.indexes:
        if index.kind not in (IndexKind.BTREE, IndexKind.UNIQUE):
            continue
        keys = [col.name for col in index.columns]
        keys += [col for col in index.include if col not in keys]
        found.append((index.name, keys, "index", _where_share(table, index.where)))
    return found


def sqlite_table(table: TableSpec, rows: float, sizing: Mapping[str, float]) -> TableSize:
    """`table`'s size on SQLite holding `rows` rows: its table b-tree and every index b-tree, with
    SQLite's storage constants `sizing` (`plan.sizing("sqlite")`)."""
    c = dict(sizing)
    names = [col.name for col in table.columns]
    alias = _rowid_alias(table)
    stored = [n for n in names if not (alias and n == table.primary_key[0])]
    record = record_bytes(_columns(table, stored), c) + (1 if alias else 0)  # the alias: a NULL's serial type
    cell = varint_bytes(record) + varint_bytes(rows) + record
    # Rows arrive in rowid order: leaves fill up; a record wider than a leaf keeps overflows.
    data = tree_bytes(rows, cell, c["fill_sequential"], c, local=record)
    indexes: list[IndexSize] = []
    for name, columns, role, share in _index_list_sqlite(table):
        entry = record_bytes(_columns(table, columns), c, rowid=rows)
        entry_cell = varint_bytes(entry) + entry
        fill = c["fill_sequential"] if _monotonic(table, columns) else c["fill_random"]
        indexes.append(IndexSize(name, tuple(columns), role, tree_bytes(rows * share, entry_cell, fill, c), entry_cell))
    return TableSize(table.name, "sqlite", rows, data / rows if rows else cell, data, tuple(indexes))
