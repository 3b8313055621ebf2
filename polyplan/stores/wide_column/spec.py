"""What a Cassandra design is: its tables, columns, buckets and queries per entity (frozen data
the renderers, the generated tests and the scaffold read). `design.py` makes them from the plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from polyplan.diagnostics import Diagnostic
from polyplan.model.schema import Direction
from polyplan.stores.wide_column.estimate import Estimate
from polyplan.stores.wide_column.typemap import CqlType, Udt


@dataclass(frozen=True)
class Column:
    """One column; `attribute` is None for a bucket column."""

    name: str
    type: CqlType
    attribute: str | None


@dataclass(frozen=True)
class Bucket:
    """A column added to the partition key to bound partitions (or to give a table one at all)."""

    column: str
    kind: str  # "time", "hash" or "prefix"
    source: tuple[str, ...]  # the time attribute, the key attributes that are hashed, or the prefixed one
    unit: str | None = None  # for time buckets: year, month, day, hour, minute
    count: int | None = None  # for hash buckets
    reason: str = ""
    length: int | None = None  # for prefix buckets: the characters of the value kept

    def describe(self) -> dict[str, Any]:
        """The JSON form applications and tests compute bucket values from (see runtime.py)."""
        if self.kind == "time":
            return {"column": self.column, "kind": "time", "of": self.source[0], "unit": self.unit}
        if self.kind == "prefix":
            return {"column": self.column, "kind": "prefix", "length": self.length, "of": self.source[0]}
        return {"column": self.column, "count": self.count, "kind": "hash", "of": list(self.source)}


@dataclass(frozen=True)
class Condition:
    """Membership: the table holds a record only if this holds (`values` None means "is not null").

    `values` are the model's constants as written (the CQL and writes.json show them); `typed`, the
    same as the seed types a value of the attribute (YAML gives a date as text, a record holds a
    `date`), is what `holds` compares a record's value with."""

    attribute: str
    values: tuple[Any, ...] | None
    typed: tuple[Any, ...] | None = field(default=None, compare=False)

    def holds(self, record: dict[str, Any]) -> bool:
        """Whether `record` (seeded values) belongs in the table under this condition."""
        value = record.get(self.attribute)
        if self.values is None:
            return value is not None
        return value in (self.values if self.typed is None else self.typed)

    def structured(self) -> dict[str, Any]:
        """The JSON form: {"attribute", "in": [...]} or {"attribute", "is_not_null": true}."""
        if self.values is None:
            return {"attribute": self.attribute, "is_not_null": True}
        return {"attribute": self.attribute, "in": list(self.values)}

    def describe(self) -> str:
        """The condition in words, e.g. status = 'active'."""
        if self.values is None:
            return f"{self.attribute} is not null"
        shown = ", ".join(repr(v) for v in self.values)
        return f"{self.attribute} = {shown}" if len(self.values) == 1 else f"{self.attribute} in ({shown})"


@dataclass(frozen=True)
class Table:
    """One CQL table (`keyspace` qualifies its name in every statement)."""

    name: str
    keyspace: str
    entity: str
    role: str  # "base" (by key, the write target) or "pattern"
    patterns: tuple[str, ...]
    partition_key: tuple[str, ...]
    clustering: tuple[tuple[str, Direction], ...]
    columns: tuple[Column, ...]
    conditions: tuple[Condition, ...]
    bucket: Bucket | None
    estimate: Estimate  # the largest partition, after bucketing
    unbucketed: Estimate | None  # before bucketing, when a bucket was added
    ttl_seconds: int | None
    compaction: tuple[tuple[str, str | int], ...]
    reasons: tuple[str, ...]

    @property
    def primary_key(self) -> tuple[str, ...]:
        return self.partition_key + tuple(name for name, _ in self.clustering)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Param:
    """A bind marker of a query."""

    name: str
    attribute: str | None  # None for a bucket
    op: str  # eq, in, range_from, range_to, prefix, prefix_end, bucket


@dataclass(frozen=True)
class Restriction:
    column: str
    op: str  # "=", ">=", "<"
    param: str


@dataclass(frozen=True)
class Query:
    """The SELECT of one access pattern (on `keyspace`.`table`)."""

    pattern: str
    entity: str
    keyspace: str
    table: str
    select: tuple[str, ...]
    restrictions: tuple[Restriction, ...]
    order: tuple[tuple[str, Direction], ...]
    limit: int | None
    consistency: str
    params: tuple[Param, ...]
    read_plan: tuple[str, ...]  # how the application runs it, when one statement is not enough
    description: str | None


@dataclass(frozen=True)
class EntityDesign:
    entity: str
    tables: tuple[Table, ...]
    base_table: str | None
    udts: tuple[Udt, ...]
    queries: tuple[Query, ...]
    time_series: bool
    # A projection (a search index, a cache) is fed from its change events, each carrying the whole
    # record: the writes then replace whole rows (writes.py, `_update`).
    projected: bool = False


@dataclass(frozen=True)
class WideColumnDesign:
    keyspace: str
    entities: tuple[EntityDesign, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    errors: tuple[Diagnostic, ...] = field(default=())

    @property
    def udts(self) -> tuple[Udt, ...]:
        seen: dict[str, Udt] = {}
        for entity in self.entities:
            for udt in entity.udts:
                seen.setdefault(udt.name, udt)
        return tuple(seen.values())

    def table(self, name: str) -> Table:
        return self._tables[name]

    @cached_property
    def _tables(self) -> dict[str, Table]:
        # Built once: the renderers look a table up per query, and a scan per look-up made that
        # quadratic in the entities. The first table of a name wins, as the scan's did.
        found: dict[str, Table] = {}
        for entity in self.entities:
            for table in entity.tables:
                found.setdefault(table.name, table)
        return found
