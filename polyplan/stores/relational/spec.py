"""The relational design as plain data, between planning and SQLAlchemy rendering.

`design.py` builds TableSpecs from the plan (normalization), `indexes.py` adds IndexSpecs from
the workload, `render.py` turns both into SQLAlchemy metadata per dialect. Names here are final
(already shortened to fit every engine); quoting is the renderer's job.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from polyplan.model.domains import attribute_domain
from polyplan.model.schema import SCALAR_TYPES, Attribute, OnDelete


class TableKind(StrEnum):
    ENTITY = "entity"
    ASSOCIATION = "association"  # a many-to-many relationship
    LIST_CHILD = "list_child"  # a list-valued attribute moved to its own table


@dataclass(frozen=True)
class ColumnSpec:
    """One column. `attribute` carries the portable type and its constraints."""

    name: str
    attribute: Attribute
    nullable: bool
    source: str  # dotted model path it comes from, e.g. "Order.shipping_address.city"
    comment: str | None = None


def finite_domain(column: ColumnSpec) -> int | None:
    """How many values `column` can hold on any valid data when the model bounds them
    (`attribute_domain`); None when unbounded, or nullable (NULLs never collide in a unique index,
    so any number of rows may hold one). A unique key over such columns caps the table's rows: the
    oracle's LIMITs (`validate.cases.unique_cap`) and the index proofs
    (`index_proof_plans.capped_tables`) read it."""
    return None if column.nullable else attribute_domain(column.attribute)


@dataclass(frozen=True)
class ForeignKeySpec:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    on_delete: OnDelete
    name: str = ""
    # False: the model's `enforced: false`: the reference is designed for (indexes, cardinalities,
    # erasure order) but no FOREIGN KEY constraint is emitted.
    enforced: bool = True


@dataclass(frozen=True)
class CheckSpec:
    """A CHECK between two columns (entity-level rule); per-column rules come from attributes."""

    name: str
    left: str
    op: str  # lt, le, gt, ge, ne
    right: str


class IndexKind(StrEnum):
    BTREE = "btree"
    UNIQUE = "unique"
    FULLTEXT = "fulltext"
    GIN = "gin"
    BRIN = "brin"


@dataclass(frozen=True)
class IndexColumn:
    name: str
    descending: bool = False
    # Searched by prefix (LIKE 'abc%'): PostgreSQL then needs a pattern operator class and
    # SQLite a NOCASE column, or their planners cannot use the index for the prefix.
    prefix: bool = False


@dataclass(frozen=True)
class IndexSpec:
    """An index the workload needs. `where` is a conjunction of constant equalities (partial)."""

    name: str
    table: str
    columns: tuple[IndexColumn, ...]
    kind: IndexKind = IndexKind.BTREE
    include: tuple[str, ...] = ()
    where: tuple[tuple[str, Any], ...] = ()
    serves: tuple[str, ...] = ()  # access pattern names, or "fk:<name>" / "unique:<name>"
    reason: str = ""
    # How many leading columns every served pattern fixes by equality: an engine without partial
    # indexes puts the `where` columns right after them (they are equalities too).
    equality: int = 0


@dataclass(frozen=True)
class TableSpec:
    name: str
    entity: str  # the model entity (or relationship, for associations) it stores
    kind: TableKind
    columns: tuple[ColumnSpec, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKeySpec, ...] = ()
    uniques: tuple[tuple[str, ...], ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    indexes: tuple[IndexSpec, ...] = ()
    comment: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def identity(self, excluded: Collection[str] = ()) -> tuple[str, ...]:
        """The columns that find one row: the primary key, or for a keyless history (key: {kind:
        none}) every scalar column but `excluded` (tests tell their seeded rows apart so)."""
        if self.primary_key:
            return self.primary_key
        return tuple(c.name for c in self.columns if c.name not in excluded and c.attribute.type in SCALAR_TYPES)

    def column(self, name: str) -> ColumnSpec:
        """The column called `name` (StopIteration if there is none)."""
        found = self._columns_by_name.get(name)
        if found is None:
            raise StopIteration(name)
        return found

    @cached_property
    def _columns_by_name(self) -> dict[str, ColumnSpec]:
        # Index design, sizing and rendering look columns up by name hundreds of thousands of
        # times on a large model; the columns never change (a changed table is a new TableSpec).
        # The first column of a name wins, as the scan this replaces did.
        found: dict[str, ColumnSpec] = {}
        for column in self.columns:
            found.setdefault(column.name, column)
        return found


@dataclass(frozen=True)
class QueryParam:
    """A named parameter of a pattern query: `op` is eq, in, from, to, prefix or search."""

    name: str
    column: str
    op: str


@dataclass(frozen=True)
class Query:
    """One access pattern's SQL for one engine: written to queries.sql, and parsed back from it
    by the generated tests (`polyplan.validate.oracle.parse_queries`)."""

    name: str
    entity: str
    table: str
    columns: tuple[str, ...]
    params: tuple[QueryParam, ...]
    sql: str
    notes: tuple[str, ...] = ()
