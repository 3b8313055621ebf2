"""On-disk size of relational tables and their indexes, per engine (pure: no I/O).

One model per engine, used by capacity.md (per table and per store), docs/index-plan.md (each
index's size) and the index design's storage cost, and checked against the real engines by
`bench/capacity.py` and `tests/test_capacity_engines.py`.

PostgreSQL (heap + B-tree): a row is a 23-byte tuple header (plus a null bitmap when a nullable
column may be NULL) rounded up to 8, its columns each aligned to their type's alignment (short
varlena values are unaligned, with a 1-byte header), the tuple rounded up to 8, plus a 4-byte item
pointer; pages of 8 KiB less a 24-byte header, filled to the table's fill factor. A row wider than
the TOAST threshold has its widest varlena values compressed (and, past that, moved out of line).
A B-tree entry is an 8-byte index tuple header and the key, rounded up to 8, plus a 4-byte item
pointer; a repeated key is deduplicated into posting lists (6 bytes per further row). Leaves fill
to the build fill factor when keys arrive in order (an identity or UUIDv7 key); in random order
they split 50:50 and fill as a tree grown from one leaf does (`btree_growth`: about ln 2 in the
limit, about 0.65-0.8 on the way there).

MariaDB InnoDB (DYNAMIC rows): the table *is* its primary key's B-tree (16 KiB pages): each record
has a 5-byte header, a null bitmap, 1–2 length bytes per variable-length value, the primary key,
6 + 7 bytes of transaction id and roll pointer, then the other columns. A secondary index entry
holds its key plus the primary key columns it lacks. InnoDB leaves pages 1/16 free on in-order
inserts; random inserts leave them about ln 2 full. Every foreign key whose columns no index leads
with gets an index InnoDB creates itself. Segments grow in 1 MiB extents: a share of one stays free.

Value sizes come from the model: `avg_length`, enum weights and the lengths the seeder draws when
the model gives none (`polyplan.seed.lengths`), never half of `max_length`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from polyplan.model.domains import effective_distinct
from polyplan.model.schema import COLLECTION_TYPES, Attribute, RequirementsModel, TypeName
from polyplan.seed.lengths import NULL_SHARE, expected_chars, numeric_digits
from polyplan.stores.relational.btree_growth import random_insert_leaves
from polyplan.stores.relational.design import POSTGIS, time_ordered_key
from polyplan.stores.relational.geo import geo_columns
from polyplan.stores.relational.heap_fill import table_fillfactor
from polyplan.stores.relational.spec import IndexKind, IndexSpec, TableKind, TableSpec

ENGINES = ("postgresql", "mysql")
HIDDEN_ROW_ID_BYTES = 6.0  # InnoDB's DB_ROW_ID, the clustered key of a table without a primary key
DEFAULT_LIST_ITEMS = 3.0
DEFAULT_CHILDREN = 2.0


@dataclass(frozen=True)
class Constants:
    """One engine's storage constants (`sizing:` in its targets profile, with their sources)."""

    values: Mapping[str, float]

    def __getitem__(self, name: str) -> float:
        return float(self.values[name])


@dataclass(frozen=True)
class IndexSize:
    """One index (the primary key, a unique rule, a designed index or an engine-made FK index)."""

    name: str
    columns: tuple[str, ...]
    role: str  # "primary key", "unique", "index", "foreign key (added by InnoDB)"
    bytes: float
    entry_bytes: float


@dataclass(frozen=True)
class TableSize:
    """A table's rows and bytes on one engine; InnoDB's primary key is its data, not an index."""

    table: str
    engine: str
    rows: float
    row_bytes: float  # average bytes per row in the table's data pages, overhead included
    data_bytes: float  # heap (PostgreSQL, TOAST included) or clustered index (InnoDB)
    indexes: tuple[IndexSize, ...]

    @property
    def index_bytes(self) -> float:
        """Every index outside the data (InnoDB's primary key is the data)."""
        return sum(i.bytes for i in self.indexes if not (self.engine == "mysql" and i.role == "primary key"))

    @property
    def total_bytes(self) -> float:
        return self.data_bytes + self.index_bytes


# --- value sizes ---------------------------------------------------------------------------


def _leaf(column: str) -> str:
    return column


def _keyed(table: TableSpec, column: str) -> bool:
    """Whether `column` alone is the table's primary key or a unique rule (its values distinct)."""
    return table.primary_key == (column,) or (column,) in table.uniques


def _align(size: float, to: float) -> float:
    return math.ceil(size / to) * to if to > 1 else size


def _varlena_pg(payload: float) -> tuple[float, int]:
    """(bytes, alignment) of a PostgreSQL varlena value of `payload` bytes (short header ≤ 126)."""
    return (1 + payload, 1) if payload <= 126 else (4 + payload, 4)


def pg_value(attribute: Attribute, column: str, unique: bool = False) -> tuple[float, int]:
    """(average stored bytes, alignment) of one non-null value on PostgreSQL (`unique`: a key alone)."""
    kind = attribute.type
    if kind is TypeName.INTEGER:
        width = attribute.bits // 8
        return float(width), width
    if kind in (TypeName.FLOAT, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
        return 8.0, 8
    if kind is TypeName.DATE:
        return 4.0, 4
    if kind is TypeName.BOOLEAN:
        return 1.0, 1
    if kind is TypeName.UUID:
        return 16.0, 1
    if kind is TypeName.DECIMAL:
        whole, fraction = numeric_digits(attribute)
        groups = math.ceil(whole / 4) + math.ceil(fraction / 4)
        return _varlena_pg(2 + 2 * groups)  # numeric's 2-byte short header + base-10000 digits
    if kind is TypeName.JSON or kind in (*COLLECTION_TYPES, TypeName.OBJECT):
        # jsonb: a 4-byte header and 4-byte entries for each key and value, against the quotes,
        # colons and commas of the text: about the text's length (checked by bench/capacity.py).
        return _varlena_pg(4 + expected_chars(attribute, column))
    return _varlena_pg(expected_chars(attribute, column, unique))  # strings, text, enums (varchar), bytea


def mysql_value(attribute: Attribute, column: str, unique: bool = False) -> tuple[float, float]:
    """(average stored bytes, length-prefix bytes) of one non-null value on InnoDB (DYNAMIC)."""
    kind = attribute.type
    if kind is TypeName.INTEGER:
        return float(attribute.bits // 8), 0.0
    if kind is TypeName.FLOAT:
        return 8.0, 0.0
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
        return 8.0, 0.0  # DATETIME(6): 5 bytes + 3 for microseconds
    if kind is TypeName.DATE:
        return 3.0, 0.0
    if kind is TypeName.BOOLEAN:
        return 1.0, 0.0
    if kind is TypeName.UUID:
        return 32.0, 1.0  # CHAR(32) hex in utf8mb4: variable-length, at least 32 bytes
    if kind is TypeName.DECIMAL:
        whole, fraction = numeric_digits(attribute, declared=True)
        return float(_mysql_decimal(whole) + _mysql_decimal(fraction)), 0.0
    chars = expected_chars(attribute, column, unique)
    declared = attribute.max_length
    # Two length bytes when the column may hold more than 255 bytes and the value is over 127.
    wide = declared is None or declared * 4 > 255 or kind in (TypeName.TEXT, TypeName.JSON, TypeName.BINARY)
    return chars, 2.0 if wide and chars > 127 else 1.0


_DECIMAL_BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)  # MariaDB packs 9 digits into 4 bytes


def _mysql_decimal(digits: int) -> int:
    return 4 * (digits // 9) + _DECIMAL_BYTES[digits % 9]


# --- PostgreSQL ----------------------------------------------------------------------------


def _pg_columns(table: TableSpec, names: Sequence[str], start: float) -> tuple[float, float]:
    """(bytes after laying out `names` from offset `start`, null share-weighted), aligned as PG does."""
    offset = start
    for name in names:
        column = table.column(name)
        size, align = pg_value(column.attribute, _leaf(name), _keyed(table, name))
        share = NULL_SHARE if column.nullable else 0.0
        offset = (1 - share) * (_align(offset, align) + size) + share * offset
    return offset, offset - start


def _spatial_columns(table: TableSpec, engine: str) -> list[bool]:
    """Whether each spatial column `engine` adds to `table` for a geo point (geo.py) may be NULL."""
    postgis = bool(table.extra.get(POSTGIS, True))
    return [point.nullable for point in geo_columns(table) if point.spatial(engine, postgis)]


def _pg_heap_tuple(table: TableSpec, c: Constants) -> float:
    """Average heap tuple bytes (MAXALIGNed), before TOAST."""
    spatial = _spatial_columns(table, "postgresql")
    nulls = any(col.nullable for col in table.columns) or any(spatial)
    header = c["tuple_header"] + (math.ceil((len(table.columns) + len(spatial)) / 8) if nulls else 0)
    header = _align(header, c["maxalign"])
    end, _ = _pg_columns(table, [col.name for col in table.columns], header)
    # The generated geography column comes last: a short varlena, so unaligned.
    end += sum((NULL_SHARE if nullable else 1.0) * c["geography_point"] for nullable in spatial)
    return _align(end, c["maxalign"])


def pg_heap_item_bytes(table: TableSpec, sizing: Mapping[str, float]) -> float:
    """The room one average row version takes on a PostgreSQL heap page: its tuple after TOAST
    (wide values compressed or moved out of line) and its line pointer."""
    c = Constants(sizing)
    heap, _ = _pg_toasted(table, _pg_heap_tuple(table, c), c)
    return heap + c["item_pointer"]


def _pg_toasted(table: TableSpec, tuple_bytes: float, c: Constants) -> tuple[float, float]:
    """(tuple bytes kept in the heap, bytes in the TOAST table) after compressing wide values."""
    if tuple_bytes <= c["toast_threshold"]:
        return tuple_bytes, 0.0
    wide = sorted(
        (pg_value(col.attribute, col.name)[0] for col in table.columns if col.attribute.type in _VARLENA),
        reverse=True,
    )
    heap, toast = tuple_bytes, 0.0
    for size in wide:
        if heap <= c["toast_target"]:
            break
        compressed = size * c["compression_ratio"]
        heap -= size - compressed
        if heap > c["toast_target"] and compressed > c["toast_pointer"]:
            # Still too wide: moved out of line in chunks of up to ~2 kB, each a TOAST row.
            heap -= compressed - c["toast_pointer"]
            chunks = math.ceil(compressed / c["toast_chunk"])
            toast += compressed + chunks * (c["toast_row_overhead"])
    return heap, toast


_VARLENA = frozenset(
    {TypeName.STRING, TypeName.TEXT, TypeName.JSON, TypeName.BINARY, TypeName.LIST, TypeName.SET, TypeName.OBJECT}
)


def _pg_pages(rows: float, item: float, c: Constants, fill: float) -> float:
    usable = (c["page_bytes"] - c["page_header"]) * fill
    # Tuples vary in size and a page holds whole ones: on average half a tuple's room stays free
    # (what makes 1.6 kB tuples fit 4.5 a page, not 5).
    per_page = max(1.0, min(c["max_tuples_per_page"], usable / (item + c["item_pointer"]) - 0.5))
    return math.ceil(rows / per_page) if rows > 0 else 0.0


def _monotonic(table: TableSpec, columns: Sequence[str]) -> bool:
    """Whether new keys arrive in order: a generated (identity/auto-increment) integer key or a
    surrogate UUIDv7 key leads the columns."""
    return bool(columns) and columns[0] == time_ordered_key(table)


def _pg_btree(
    table: TableSpec,
    columns: Sequence[str],
    rows: float,
    keys: float,
    unique: bool,
    c: Constants,
    include: Sequence[str] = (),
) -> tuple[float, float]:
    """(bytes, average bytes per row) of a B-tree over `columns` (+ INCLUDE columns, which rule
    out deduplication) with `keys` distinct keys."""
    if rows <= 0:
        return c["page_bytes"], 0.0
    end, _ = _pg_columns(table, [*columns, *include], c["index_tuple_header"])
    return _pg_btree_bytes(_pg_leaves(table, columns, rows, keys, unique, c, include, end), c)


def _pg_btree_bytes(leaves: tuple[float, float, float, float], c: Constants) -> tuple[float, float]:
    """(bytes, average bytes per row) of a PostgreSQL B-tree from `_pg_leaves`' answer."""
    count, per_row, entry, fill = leaves
    page = c["page_bytes"] - c["page_header"] - c["btree_special"]
    inner = count / max(2.0, page * fill / entry)  # one downlink per leaf, the same width as an entry
    return (count + math.ceil(inner) + 1) * c["page_bytes"], per_row  # + the metapage


def _pg_leaves(
    table: TableSpec,
    columns: Sequence[str],
    rows: float,
    keys: float,
    unique: bool,
    c: Constants,
    include: Sequence[str],
    end: float,
    monotonic: bool | None = None,
) -> tuple[float, float, float, float]:
    """(leaf pages, average bytes per row, bytes of one plain entry, leaf fill) of a PostgreSQL
    B-tree whose entries' laid-out bytes (`end`, with the tuple header) are known; `monotonic`:
    `_monotonic(table, columns)` when the caller knows it already."""
    entry = _align(end, c["maxalign"]) + c["item_pointer"]
    per_row = entry
    repeats = rows / max(keys, 1.0)
    if not unique and not include and repeats > 1.05:
        per_row = _posting_bytes(end, repeats, c) / repeats
    page = c["page_bytes"] - c["page_header"] - c["btree_special"]
    if _monotonic(table, columns) if monotonic is None else monotonic:
        # In key order every insert lands on the rightmost leaf, which nbtsplitloc.c splits
        # leaving the left page at the leaf fillfactor (90): as CREATE INDEX (nbtsort.c) fills them.
        leaves = math.ceil(rows * per_row / (page * c["btree_fill_build"]))
    else:
        # In random order a non-rightmost leaf splits 50:50 (nbtsplitloc.c's default strategy)
        # and keeps a high key (one entry); the rightmost still splits at the fillfactor. Leaves
        # grown so fill to ln 2 only in the limit, and swing about it with each doubling before
        # (fringe analysis: btree_growth.py): 0.75 at 100,000 rows of 20-byte entries.
        leaves = math.ceil(
            random_insert_leaves(rows, (page - entry) / per_row, c["btree_split_share"], c["btree_fill_build"])
        )
    fill = rows * per_row / (leaves * page)
    return leaves, per_row, entry, fill


def _descent(leaves: float, fanout: float) -> int:
    """Pages one root-to-leaf descent reads in a tree of `leaves` leaf pages whose inner pages
    hold `fanout` downlinks each: a single leaf is the root; each level above divides by the
    fan-out until one page is left."""
    levels, pages = 1, max(1.0, math.ceil(leaves))
    while pages > 1:
        pages = math.ceil(pages / max(2.0, fanout))
        levels += 1
    return levels


def btree_levels(
    table: TableSpec,
    columns: Sequence[str],
    rows: float,
    keys: float,
    unique: bool,
    engine: str,
    sizing: Mapping[str, float],
    include: Sequence[str] = (),
) -> int:
    """Pages one lookup reads from the root of a B-tree over `columns` (+ `include`) down to its
    first leaf, `rows` rows and `keys` distinct keys, on `engine` with its storage constants
    `sizing` (`plan.sizing(engine)`).

    The height follows the leaf pages, so the entry width and deduplication count: on
    PostgreSQL 13+ a non-unique key repeated over many rows keeps one posting list per key
    (`_posting_bytes`), a unique rule cannot, and INCLUDE columns rule it out. An inner page
    holds one downlink per child, a pivot tuple of the key columns alone (suffix truncation drops
    INCLUDE columns), filled to `btree_fill_nonleaf` (70 %: BTREE_NONLEAF_FILLFACTOR, which
    CREATE INDEX and a rightmost split leave). On InnoDB (16 KiB pages) a secondary entry
    carries the primary key's columns after its own, and so does every node pointer with the
    child's 4-byte page number; the primary key's own leaves are the rows (`columns` equal to
    the primary key)."""
    if engine == "mysql":
        c = Constants(sizing)
        pk = list(table.primary_key)
        row_id = 0.0 if pk else HIDDEN_ROW_ID_BYTES
        usable = c["page_bytes"] - c["page_overhead"]
        if pk and list(columns) == pk:
            record = _mysql_record(table, [col.name for col in table.columns], c, c["system_columns"])
            pointer = _mysql_record(table, pk, c, 4.0)
            fill = c["fill_sequential"] if _monotonic(table, pk) else c["fill_random"]
        else:
            held = list(columns) + [p for p in pk if p not in columns]
            record = _mysql_record(table, held, c, row_id)
            pointer = record + 4.0
            fill = c["fill_random"]
        leaves = max(1.0, rows * record / (usable * fill))
        return _descent(leaves, usable * fill / pointer)
    c = Constants(sizing)
    if rows <= 0:
        return 1
    end, _ = _pg_columns(table, [*columns, *include], c["index_tuple_header"])
    leaves, _, _, _ = _pg_leaves(table, columns, rows, keys, unique, c, include, end)
    pivot_end, _ = _pg_columns(table, columns, c["index_tuple_header"])
    pivot = _align(pivot_end, c["maxalign"]) + c["item_pointer"]
    page = c["page_bytes"] - c["page_header"] - c["btree_special"]
    return _descent(leaves, page * c["btree_fill_nonleaf"] / pivot)


def _posting_bytes(key_end: float, mean: float, c: Constants) -> float:
    """Average bytes one key takes in a deduplicated B-tree (PostgreSQL 13+) when a key present
    holds `mean` rows on average: one ordinary entry for a key with one row, else one posting-list
    tuple: the plain tuple (header and key, MAXALIGNed) then a 6-byte heap TID for *every* row,
    the whole MAXALIGNed (`_bt_form_posting`, nbtdedup.c: the header's own TID field holds the
    list's offset and count, not a row), up to a third of a page a tuple. Rows per key are taken
    as Poisson (keys drawn at random), cut to the keys present."""
    return _posting_key_bytes(key_end, mean, c["page_bytes"], c["posting_tid"], c["maxalign"], c["item_pointer"])


# A model repeats few (key width, rows per key) pairs across its tables and candidate indexes
# (48 distinct in 4,541 calls at 300 entities), and each call sums up to ~450 Poisson terms.
@lru_cache(maxsize=4096)
def _posting_key_bytes(key_end: float, mean: float, page: float, tid: float, maxalign: float, pointer: float) -> float:
    key = _align(key_end, maxalign)
    longest = max(2.0, math.floor((page / 3 - key) / tid))
    if mean > longest:  # long posting lists: full tuples of `longest` TIDs
        return mean / longest * (_align(key + tid * longest, maxalign) + pointer)
    # The Poisson rate whose zero-truncated mean is `mean` (a few Newton steps from `mean`).
    rate = mean
    for _ in range(20):
        value = rate / (1.0 - math.exp(-rate)) - mean
        slope = (1.0 - math.exp(-rate) - rate * math.exp(-rate)) / (1.0 - math.exp(-rate)) ** 2
        rate = max(1e-6, rate - value / max(slope, 1e-9))
    limit = int(min(longest, mean + 8 * math.sqrt(mean) + 10))
    total, weight = 0.0, 0.0
    probability = math.exp(-rate)
    for count in range(1, limit + 1):
        probability *= rate / count
        lists = 1 if count == 1 else count
        tuple_bytes = _align(key + (tid * lists if count > 1 else 0), maxalign)
        total += probability * (tuple_bytes + pointer)
        weight += probability
    return total / max(weight, 1e-12)


@dataclass(frozen=True)
class _PgLayout:
    """What a PostgreSQL table's size takes from its columns alone, whatever its rows: the heap
    tuple before and after TOAST, and each B-tree's key columns, laid-out entry bytes and whether
    its keys arrive in order (`_monotonic`)."""

    heap_tuple: float
    toast: float
    indexes: tuple[tuple[str, tuple[str, ...], str, bool, float, tuple[str, ...], tuple[str, ...], float, bool], ...]


def _pg_layout(table: TableSpec, c: Constants) -> _PgLayout:
    heap_tuple, toast = _pg_toasted(table, _pg_heap_tuple(table, c), c)
    indexes = []
    for name, columns, role, unique, share in _index_list(table, "postgresql"):
        include = tuple(i for spec in table.indexes if spec.name == name for i in spec.include)
        keys_only = tuple(col for col in columns if col not in include)
        end, _ = _pg_columns(table, [*keys_only, *include], c["index_tuple_header"])
        indexes.append(
            (name, tuple(columns), role, unique, share, include, keys_only, end, _monotonic(table, keys_only))
        )
    return _PgLayout(heap_tuple, toast, tuple(indexes))


# Layouts a caller keeps between calls for the same tables (`table_size`'s `layouts`): capacity
# sizes every table at a dozen horizons. Keyed by the table object, which the entry holds.
Layouts = dict[int, tuple[TableSpec, Any]]


def _pg_table(
    table: TableSpec, rows: float, distinct: _Distinct, c: Constants, layouts: Layouts | None = None
) -> TableSize:
    kept = layouts.get(id(table)) if layouts is not None else None
    if kept is not None and kept[0] is table:
        layout: _PgLayout = kept[1]
    else:
        layout = _pg_layout(table, c)
        if layouts is not None:
            layouts[id(table)] = (table, layout)
    heap_tuple, toast = layout.heap_tuple, layout.toast
    # A table designed with room for heap-only updates (heap_fill.py) fills its pages to its fillfactor.
    fillfactor = table_fillfactor(table, "postgresql")
    pages = _pg_pages(rows, heap_tuple, c, c["heap_fill"] if fillfactor is None else fillfactor / 100)
    data = pages * c["page_bytes"]
    if toast:
        data += math.ceil(rows * toast / ((c["page_bytes"] - c["page_header"]) * c["toast_fill"])) * c["page_bytes"]
    indexes = []
    for name, columns, role, unique, share, include, keys_only, end, monotonic in layout.indexes:
        keys = rows * share if unique else distinct(table, keys_only, rows * share)
        if rows * share <= 0:
            size, entry = c["page_bytes"], 0.0
        else:
            leaves = _pg_leaves(table, keys_only, rows * share, keys, unique, c, include, end, monotonic)
            size, entry = _pg_btree_bytes(leaves, c)
        indexes.append(IndexSize(name, columns, role, size, entry))
    row_bytes = data / rows if rows else heap_tuple + c["item_pointer"]
    return TableSize(table.name, "postgresql", rows, row_bytes, data, tuple(indexes))


# --- MariaDB InnoDB ------------------------------------------------------------------------


def _mysql_record(table: TableSpec, columns: Sequence[str], c: Constants, extra: float = 0.0) -> float:
    """Average bytes of an InnoDB record holding `columns` (+ `extra` fixed bytes), with its header."""
    nullable = sum(1 for n in columns if table.column(n).nullable)
    size = c["record_header"] + math.ceil(nullable / 8) + extra + c["directory_per_record"]
    for name in columns:
        column = table.column(name)
        value, prefix = mysql_value(column.attribute, name, _keyed(table, name))
        if value > c["off_page_over"]:
            value = c["off_page_pointer"]  # DYNAMIC: a long value lives off-page, 20-byte pointer
        share = NULL_SHARE if column.nullable else 0.0
        size += (1 - share) * (value + prefix)
    return size


def _mysql_tree(records: float, record: float, fill: float, c: Constants) -> float:
    """Bytes of an InnoDB B-tree of `records` records: leaves, one level of node pointers, slack."""
    usable = (c["page_bytes"] - c["page_overhead"]) * fill
    leaves = max(1.0, math.ceil(records * record / max(record, usable - record / 2)))  # whole records a page
    inner = math.ceil(leaves / max(2.0, usable / record)) if leaves > 1 else 0.0
    if leaves > c["fragment_pages"]:
        # Past its first 32 single pages the leaf segment takes whole 64-page extents, which the
        # size InnoDB reports counts in full; node pointers stay in their own (small) segment.
        # It takes a new extent once less than 1/8 of what it reserved is free (FSEG_FILLFACTOR).
        extents = math.ceil((leaves - c["fragment_pages"]) * c["segment_reserve"] / c["extent_pages"])
        leaves = c["fragment_pages"] + extents * c["extent_pages"]
    return (leaves + inner) * c["page_bytes"]


def _mysql_table(table: TableSpec, rows: float, c: Constants) -> TableSize:
    pk = list(table.primary_key)
    others = [col.name for col in table.columns if col.name not in pk]
    # A keyless table (key: {kind: none}) is clustered on InnoDB's hidden 6-byte DB_ROW_ID, which
    # grows in insert order and which every secondary index entry carries in place of a key.
    row_id = 0.0 if pk else HIDDEN_ROW_ID_BYTES
    # + each SPATIAL index's POINT column (NOT NULL, kept by triggers): a BLOB-like value, 1 length byte.
    spatial = len(_spatial_columns(table, "mysql")) * (c["spatial_point"] + 1)
    record = _mysql_record(table, pk + others, c, c["system_columns"] + row_id + spatial)
    fill = c["fill_sequential"] if _monotonic(table, pk) or not pk else c["fill_random"]
    if table.kind is TableKind.LIST_CHILD and not _monotonic(table, pk):
        # Each parent's items arrive together at a random place; after an ordered (UUIDv7 or
        # generated) parent key they arrive at the right edge, as any in-order key does.
        fill = c["fill_grouped"]
    data = _mysql_tree(rows, record, fill, c)
    indexes = [IndexSize("PRIMARY" if pk else "GEN_CLUST_INDEX", tuple(pk), "primary key", data, record)]
    for name, columns, role, _unique, share in _index_list(table, "mysql"):
        if role == "primary key":
            continue
        entry_columns = list(columns) + [p for p in pk if p not in columns]
        entry = _mysql_record(table, entry_columns, c, row_id)
        fill = c["fill_random"]
        indexes.append(IndexSize(name, tuple(columns), role, _mysql_tree(rows * share, entry, fill, c), entry))
    row_bytes = data / rows if rows else record
    return TableSize(table.name, "mysql", rows, row_bytes, data, tuple(indexes))


# --- the indexes each engine creates ---------------------------------------------------------


def _index_columns(index: IndexSpec, engine: str) -> list[str]:
    keys = [c.name for c in index.columns]
    if engine != "postgresql" and index.where:
        # No partial indexes: the WHERE columns follow the equality columns (render does the same).
        where = [column for column, _ in index.where if column not in keys]
        keys = keys[: index.equality] + where + keys[index.equality :]
    return keys + [c for c in index.include if c not in keys and engine == "postgresql"]


def _index_list(table: TableSpec, engine: str) -> list[tuple[str, list[str], str, bool, float]]:
    """(name, columns, role, unique, share of rows held) of every B-tree index `engine` keeps."""
    found: list[tuple[str, list[str], str, bool, float]] = (
        [("primary key", list(table.primary_key), "primary key", True, 1.0)] if table.primary_key else []
    )
    for unique in table.uniques:
        found.append((f"unique ({', '.join(unique)})", list(unique), "unique", True, 1.0))
    for index in table.indexes:
        if index.kind not in (IndexKind.BTREE, IndexKind.UNIQUE):
            continue
        share = _where_share(table, index.where) if engine == "postgresql" else 1.0
        found.append((index.name, _index_columns(index, engine), "index", index.kind is IndexKind.UNIQUE, share))
    if engine == "mysql":
        for fk in table.foreign_keys:
            if not any(tuple(cols[: len(fk.columns)]) == fk.columns for _, cols, _, _, _ in found):
                found.append((fk.name or f"fk ({', '.join(fk.columns)})", list(fk.columns), "foreign key", False, 1.0))
    return found


# The share of rows a constant condition keeps when the model says nothing about its value.
UNKNOWN_SHARE = 0.5


def _where_share(table: TableSpec, where: Sequence[tuple[str, object]]) -> float:
    """The share of rows a partial index holds: enum weights, the NULL share, a boolean's half."""
    share = 1.0
    for column, value in where:
        attribute = table.column(column).attribute
        values = value if isinstance(value, tuple) else (value,)
        if all(v is None for v in values):
            share *= NULL_SHARE
        elif attribute.type is TypeName.ENUM and attribute.values:
            weights = attribute.weights or [1.0] * len(attribute.values)
            total = sum(weights) or 1.0
            share *= sum(w for v, w in zip(attribute.values, weights, strict=False) if v in values) / total
        elif attribute.type is TypeName.BOOLEAN:
            share *= 0.5 * len(values)
        else:
            share *= UNKNOWN_SHARE
    return min(1.0, share)


class _Distinct:
    """Distinct keys of a column group (the index design's cardinalities when it has them)."""

    def __init__(
        self,
        counts: Mapping[tuple[str, tuple[str, ...]], float] | None = None,
        parents: Mapping[str, float] | None = None,
    ) -> None:
        self.counts = dict(counts or {})
        self.parents = dict(parents or {})

    def __call__(self, table: TableSpec, columns: Sequence[str], rows: float) -> float:
        known = self.counts.get((table.name, tuple(columns)))
        if known is not None:
            return min(rows, known)
        product = 1.0
        for name in columns:
            attribute = table.column(name).attribute
            parent = next((fk.ref_table for fk in table.foreign_keys if fk.columns == (name,)), None)
            if parent is not None and parent in self.parents and not attribute.unique:
                # Rows pick their parent at random: the parents some row points at.
                space = max(1.0, self.parents[parent])
                product *= space * (1.0 - math.exp(-rows / space))
            else:
                product *= _column_distinct(attribute, rows)
            if product >= rows:
                return rows
        return product


def _column_distinct(attribute: Attribute, rows: float) -> float:
    if attribute.unique:
        return rows
    declared = effective_distinct(attribute)  # at most the type's values (PP480)
    if declared:
        return float(declared)
    if attribute.type is TypeName.BOOLEAN:
        return 2.0
    if attribute.type is TypeName.ENUM:
        return float(len(attribute.values or ["x"]))
    return rows


def table_size(
    table: TableSpec,
    rows: float,
    engine: str,
    sizing: Mapping[str, float],
    distinct: Mapping[tuple[str, tuple[str, ...]], float] | None = None,
    parents: Mapping[str, float] | None = None,
    layouts: Layouts | None = None,
) -> TableSize:
    """`table`'s size holding `rows` rows on `engine` ("postgresql", "mysql" or "sqlite"), with the
    storage constants `sizing` (the `sizing:` of the engine's target profile: `plan.sizing(engine)`).
    `distinct` gives known distinct keys per (table, columns); `parents` the rows of referenced tables;
    `layouts` keeps what does not depend on the rows between calls (PostgreSQL)."""
    if engine == "postgresql":
        return _pg_table(table, rows, _Distinct(distinct, parents), Constants(sizing), layouts)
    if engine == "mysql":
        return _mysql_table(table, rows, Constants(sizing))
    if engine == "sqlite":
        from polyplan.stores.relational.sizing_sqlite import sqlite_table  # it builds on this module

        return sqlite_table(table, rows, sizing)
    raise ValueError(f"no sizing model for {engine}")


def index_bytes(
    table: TableSpec,
    columns: Sequence[str],
    rows: float,
    keys: float,
    unique: bool,
    sizing: Mapping[str, float],
    include: Sequence[str] = (),
) -> float:
    """PostgreSQL bytes of one B-tree over `columns` (+ `include`) holding `rows` rows, `keys`
    distinct, with PostgreSQL's storage constants `sizing` (`plan.sizing("postgresql")`)."""
    return _pg_btree(table, columns, rows, keys, unique, Constants(sizing), include)[0]


# --- rows per table ------------------------------------------------------------------------


def child_factor(model: RequirementsModel, table: TableSpec) -> float:
    """Rows of a child table (list items, many-to-many links) per row of its largest parent."""
    if table.kind is TableKind.ASSOCIATION:
        relationship = next((r for r in model.relationships if r.name == table.entity), None)
        if relationship is not None and relationship.avg_children:
            return float(relationship.avg_children)
        return DEFAULT_CHILDREN
    attribute = str(table.extra.get("attribute", ""))
    entity = model.entities.get(table.entity)
    found = entity.attributes.get(attribute) if entity is not None and attribute else None
    if found is not None and found.type in COLLECTION_TYPES and found.avg_items:
        return float(found.avg_items)
    return DEFAULT_LIST_ITEMS if table.kind is TableKind.LIST_CHILD else DEFAULT_CHILDREN


def table_rows(
    model: RequirementsModel, tables: Sequence[TableSpec], entity_rows: Mapping[str, float]
) -> dict[str, float]:
    """Rows per table from rows per entity: child tables grow with their largest parent."""
    found: dict[str, float] = {}
    for table in tables:
        if table.kind is TableKind.ENTITY:
            found[table.name] = float(entity_rows.get(table.entity, 0.0))
    for table in tables:
        if table.kind is TableKind.ENTITY:
            continue
        parents = [found[fk.ref_table] for fk in table.foreign_keys if fk.ref_table in found]
        found[table.name] = max(parents, default=0.0) * child_factor(model, table)
    return found
