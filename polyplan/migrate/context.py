"""What an operation renders against: both versions' designs for one engine.

Operations name tables, columns, indexes and constraints; the context resolves those names in
the relational design of the version they belong to (`before` is what a step changes from,
`after` what it changes to), exactly as `polyplan plan` renders them for that engine. A reversed
operation is rendered with the context swapped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from polyplan.stores.relational.derived_sql import KeptAggregate
from polyplan.stores.relational.render import Constraint, Rendered
from polyplan.stores.relational.spec import IndexSpec, TableSpec


@dataclass(frozen=True)
class Design:
    """One version's relational design: TableSpecs, and their SQLAlchemy metadata for one engine."""

    tables: dict[str, TableSpec]
    rendered: Rendered
    # Table names as the operations write them (the other version's) → this version's names.
    aliases: dict[str, str] = field(default_factory=dict)
    # The derived attributes this version keeps by triggers (SQLite's table rebuild re-creates them).
    kept: tuple[KeptAggregate, ...] = ()

    def name(self, table: str) -> str:
        """This version's name of `table`."""
        return self.aliases.get(table, table)

    def spec(self, table: str) -> TableSpec:
        """The designed table `table`."""
        return self.tables[self.name(table)]

    def table(self, name: str) -> sa.Table:
        """The SQLAlchemy table `name`."""
        return self.rendered.metadata.tables[self.name(name)]

    def index(self, table: str, name: str) -> sa.Index | None:
        """The index `name` of `table`, or None when this engine creates none (e.g. GIN on SQLite)."""
        return next((i for i in self.table(table).indexes if i.name == name), None)

    def index_spec(self, table: str, name: str) -> IndexSpec:
        """The designed index `name` of `table`."""
        return next(i for i in self.spec(table).indexes if i.name == name)

    def constraint(self, table: str, name: str) -> tuple[Constraint, sa.Constraint] | None:
        """The constraint `name` of `table`, as designed and as SQLAlchemy builds it; None when this
        engine does not enforce it (SQLite has no pattern checks)."""
        rule = next((c for c in self.rendered.constraints.get(self.name(table), []) if c.name == name), None)
        if rule is None:
            return None
        built = next(c for c in self.table(table).constraints if c.name == name)
        return rule, built

    def touching(self, table: str, column: str) -> tuple[list[str], list[str]]:
        """Names of the constraints and of the indexes of `table` that involve `column`."""
        constraints = [
            c.name
            for c in self.rendered.constraints.get(self.name(table), [])
            if c.kind in ("unique", "foreign_key", "check") and column in c.columns
        ]
        indexes = [spec.name for spec in self.spec(table).indexes if column in index_columns(spec)]
        return constraints, indexes


def index_columns(spec: IndexSpec) -> set[str]:
    """Every column an index reads: its key, included and predicate columns."""
    return {c.name for c in spec.columns} | set(spec.include) | {column for column, _ in spec.where}


def renamed_index(spec: IndexSpec, name: str, table: str, columns: dict[str, str]) -> IndexSpec:
    """`spec` named `name` on `table`, with the columns that `columns` renames renamed."""

    def moved(column: str) -> str:
        return columns.get(column, column)

    return replace(
        spec,
        name=name,
        table=table,
        columns=tuple(replace(c, name=moved(c.name)) for c in spec.columns),
        include=tuple(moved(c) for c in spec.include),
        where=tuple((moved(c), value) for c, value in spec.where),
    )


def index_signature(spec: IndexSpec) -> tuple[Any, ...]:
    """What makes two designed indexes the same index (not why they were chosen)."""
    return (spec.table, spec.columns, spec.kind, spec.include, spec.where, spec.equality)


@dataclass(frozen=True)
class Context:
    """One engine, and the design each side of an operation belongs to."""

    engine: str
    before: Design
    after: Design

    def swapped(self) -> Context:
        """The context of the reversed operations, which name renamed tables by their old names."""
        inverse = {old: new for new, old in self.before.aliases.items()}
        return Context(self.engine, replace(self.after, aliases=inverse), replace(self.before, aliases={}))
