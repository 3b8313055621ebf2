"""On-disk size of Cassandra tables (pure: no I/O): the SSTable layout of the `big` format
(Cassandra 4.1 `nb`, 5.0 `oa`), per partition, per row and per cell.

Data.db, uncompressed: each partition is its key (2-byte length, a composite key's components
each with a 2-byte length and an end-of-component byte), its deletion time and an end marker;
each row a flags byte, the clustering values (a null/empty bitmap per 32 columns, a vint length
before each variable-width value), its size and the previous row's as vints and its liveness
(timestamp delta, and TTL and expiry when the table has a TTL); each cell a flags byte, a vint
length for variable-width types and the value (a NULL bound by a write is a tombstone cell: flags
and its deletion time). Index.db holds one entry per partition (the key and its position),
Filter.db a bloom filter (bits per partition at `bloom_filter_fp_chance` 0.01), Summary.db one
entry per `min_index_interval` partitions, CompressionInfo.db 8 bytes per chunk.

On disk Data.db is compressed (LZ4, 16 KiB chunks by default): by `compression_assumed`, with
`compression_low`..`compression_high` the range stated (what bench/capacity.py measured on
seeded data is in docs/benchmarks.md). Replication (the keyspace's factor) and the free space
compaction needs are applied by the capacity plan, not here: this is one copy's live bytes.

Constants: `sizing:` in targets/cassandra.yaml, each with its source. Checked against the real
server's SSTable files by `bench/capacity.py --engine cassandra` and tests/test_capacity_engines.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from polyplan.model.schema import Attribute, TypeName
from polyplan.seed.lengths import NULL_SHARE, expected_chars, numeric_digits
from polyplan.seed.values import DEFAULT_LIST_ITEMS, MAX_LIST_ITEMS
from polyplan.stores.wide_column.spec import Table
from polyplan.stores.wide_column.typemap import CqlType

ENGINE = "cassandra"
_FIXED = {
    "boolean": 1,
    "smallint": 2,
    "int": 4,
    "date": 4,
    "bigint": 8,
    "double": 8,
    "timestamp": 8,
    "uuid": 16,
    "timeuuid": 16,
}


# The `sizing:` constants of targets/cassandra.yaml (the plan carries them: `plan.sizing("cassandra")`).
Constants = Mapping[str, float]


@dataclass(frozen=True)
class CassandraSize:
    """One table's live bytes on one replica: Data.db (uncompressed and as stored) and the
    per-partition files beside it (Index, Filter, Summary, CompressionInfo)."""

    table: str
    rows: float
    partitions: float
    uncompressed_bytes: float  # Data.db before compression
    data_bytes: float  # Data.db as stored (compressed by `compression_assumed`)
    index_bytes: float  # Index.db + Filter.db + Summary.db + CompressionInfo.db
    compaction_headroom: float  # free disk the table's compaction strategy needs, as a share of its bytes

    @property
    def total_bytes(self) -> float:
        return self.data_bytes + self.index_bytes


def _vint(value: float) -> float:
    """Bytes of an unsigned vint (7 bits a byte, at most 9)."""
    return float(min(9, max(1, math.ceil(int(max(1.0, value)).bit_length() / 7))))


def _decimal_bytes(attribute: Attribute) -> float:
    """CQL decimal: a 4-byte scale and the unscaled value's two's-complement bytes."""
    whole, fraction = numeric_digits(attribute)
    return 4 + math.ceil(((whole + fraction) * math.log2(10) + 1) / 8)


def _list_items(attribute: Attribute) -> float:
    """Items of a seeded list on average (the seeder draws 0..most uniformly)."""
    most = min(attribute.max_items or DEFAULT_LIST_ITEMS, MAX_LIST_ITEMS)
    if attribute.avg_items is not None:
        return float(attribute.avg_items)
    return most / 2


def value_bytes(kind: CqlType, attribute: Attribute | None, k: Constants, name: str = "") -> tuple[float, bool]:
    """(average bytes of one non-null value, whether it is variable-width: a vint length first)."""
    if kind.kind in _FIXED:
        return float(_FIXED[kind.kind]), False
    if kind.kind == "counter":
        return k["counter_value"], True
    if attribute is None:  # a bucket column: a timestamp or a hash number
        return 8.0, False
    if kind.kind == "decimal":
        return _decimal_bytes(attribute), True
    if kind.kind == "list" and kind.items is not None and attribute.items is not None:
        item, variable = value_bytes(kind.items, attribute.items, k)
        return _list_items(attribute) * (k["collection_element"] + item + (1 if variable else 0)), True
    if kind.kind == "tuple" and kind.items is not None:  # a nullable item: its field's length, then the item
        item, _ = value_bytes(kind.items, attribute, k, name)
        return 4 + (1 - NULL_SHARE) * item, True
    if kind.kind == "udt":
        fields = attribute.fields or {}
        inner = sum(4 + value_bytes(_udt_field(field), field, k, n)[0] for n, field in fields.items())
        return inner, True
    if attribute.type is TypeName.JSON:
        return expected_chars(attribute, name), True
    return expected_chars(attribute, name), True  # text and blob: UTF-8 bytes / bytes


def _udt_field(attribute: Attribute) -> CqlType:
    """The CQL type of a UDT field, enough to size it (fixed width or not)."""
    scalar = {
        TypeName.BOOLEAN: "boolean",
        TypeName.DATE: "date",
        TypeName.TIMESTAMP: "timestamp",
        TypeName.TIMESTAMPTZ: "timestamp",
        TypeName.UUID: "uuid",
        TypeName.FLOAT: "double",
        TypeName.DECIMAL: "decimal",
    }
    if attribute.type is TypeName.INTEGER:
        return CqlType({16: "smallint", 32: "int", 64: "bigint"}[attribute.bits])
    return CqlType(scalar.get(attribute.type, "text"))


def _cell_bytes(kind: CqlType, attribute: Attribute | None, name: str, k: Constants) -> float:
    """One regular cell on average: header, length, value; a NULL share of tombstone cells."""
    size, variable = value_bytes(kind, attribute, k, name)
    if kind.kind == "list":  # a complex column: its deletion (the write replaces the list) and a count
        present = k["complex_header"] + size
    else:
        present = k["cell_header"] + (_vint(size) if variable else 0.0) + size
    if attribute is not None and attribute.nullable:
        return (1 - NULL_SHARE) * present + NULL_SHARE * k["null_cell"]
    return present


def _key_bytes(table: Table, attributes: Mapping[str, Attribute], k: Constants) -> float:
    """The partition key as stored: one value, or each component with its length and end byte."""
    parts = [
        value_bytes(table.column(c).type, attributes.get(table.column(c).attribute or ""), k, c)[0]
        for c in table.partition_key
    ]
    if len(parts) == 1:
        return parts[0]
    return sum(k["composite_component"] + p for p in parts)


def table_size(
    table: Table, attributes: Mapping[str, Attribute], rows: float, k: Constants, partitions: float | None = None
) -> CassandraSize:
    """The live bytes of `table` holding `rows` rows in `partitions` partitions (default: the
    design's rows per partition at the horizon) on one replica, after a flush (one version of
    each row; overwritten rows and tombstones awaiting compaction are headroom, not counted), by
    the constants `k` (`plan.sizing("cassandra")`)."""
    if partitions is None:
        per = max(1.0, table.estimate.rows_per_partition)
        partitions = rows / per if rows else 0.0
    partitions = min(rows, max(1.0, partitions)) if rows >= 1 else 0.0
    key = {c for c in table.partition_key}
    clustering = [name for name, _ in table.clustering]
    regular = [c for c in table.columns if c.name not in key and c.name not in clustering]
    row = k["row_header"] + (k["row_ttl"] if table.ttl_seconds else 0.0)
    if clustering:
        row += k["clustering_header"] * math.ceil(len(clustering) / 32)
        for name in clustering:
            column = table.column(name)
            size, variable = value_bytes(column.type, attributes.get(column.attribute or ""), k, name)
            row += size + (_vint(size) if variable else 0.0)
    row += sum(_cell_bytes(c.type, attributes.get(c.attribute or ""), c.name, k) for c in regular)
    key_bytes = _key_bytes(table, attributes, k)
    data = partitions * (k["partition_header"] + key_bytes) + rows * row
    index = partitions * (k["index_entry"] + key_bytes + _vint(data))  # the vint: the partition's Data.db offset
    index += partitions * k["filter_bits"] / 8
    index += partitions / k["summary_interval"] * (k["summary_entry"] + key_bytes)
    index += data / (k["chunk_bytes"]) * 8  # CompressionInfo.db: one 8-byte offset per chunk
    strategy = dict(table.compaction).get("class", "SizeTieredCompactionStrategy")
    headroom = {
        "SizeTieredCompactionStrategy": k["headroom_stcs"],
        "LeveledCompactionStrategy": k["headroom_lcs"],
        "TimeWindowCompactionStrategy": k["headroom_twcs"],
    }.get(str(strategy), k["headroom_stcs"])
    return CassandraSize(table.name, rows, partitions, data, data * k["compression_assumed"], index, headroom)


def compression_range(k: Constants) -> tuple[float, float]:
    """Data.db's compressed share of its uncompressed bytes, low and high (stated, not one figure)."""
    return k["compression_low"], k["compression_high"]
