"""Proof, on a real engine, that derived attributes stay equal to their children's aggregate.

After the load (and `derived.sql`'s backfill), and after each of: inserting a child, changing its
aggregated value, moving it to another parent and deleting it, every parent row must hold what
Python computes from the child rows read back — the oracle never reads the derived column's
own formula from the SQL file. Everything runs in one transaction that is rolled back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa

from polyplan.model.schema import DerivedFunction, RequirementsModel
from polyplan.stores.relational.derived_sql import KeptAggregate, kept_aggregates
from polyplan.stores.relational.spec import TableSpec


class _Harness(Protocol):
    model: RequirementsModel
    tables: list[TableSpec]

    @property
    def metadata(self) -> sa.MetaData: ...

    def valid_row(self, table_name: str) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]: ...


def _same(stored: Any, computed: Any) -> bool:
    if stored is None or computed is None:
        return stored is None and computed is None
    if isinstance(stored, float | Decimal) or isinstance(computed, float | Decimal):
        return math.isclose(float(stored), float(computed), rel_tol=1e-9, abs_tol=1e-9)
    return bool(stored == computed)


def _expected(kept: KeptAggregate, children: Sequence[Mapping[str, Any]], parent_key: tuple[Any, ...]) -> Any:
    mine = [c for c in children if tuple(c[r] for r in kept.references) == parent_key]
    if kept.function is DerivedFunction.COUNT:
        return len(mine)
    values = [c[kept.source] for c in mine if kept.source is not None and c[kept.source] is not None]
    if kept.function is DerivedFunction.SUM:
        return sum(values, 0)
    if not values:
        return None
    return max(values) if kept.function is DerivedFunction.MAX else min(values)


def _mismatches(connection: sa.Connection, kept: KeptAggregate, parent: sa.Table, child: sa.Table) -> list[str]:
    columns = [*kept.references, *([kept.source] if kept.source else [])]
    children = [dict(r._mapping) for r in connection.execute(sa.select(*(child.c[c] for c in columns)))]
    found: list[str] = []
    for row in connection.execute(sa.select(*(parent.c[k] for k in kept.key), parent.c[kept.column])):
        key = tuple(row[: len(kept.key)])
        expected = _expected(kept, children, key)
        if not _same(row[-1], expected):
            found.append(f"{kept.parent} {key}: {kept.column} = {row[-1]!r}, its children give {expected!r}")
    return found


def _assert_kept(connection: sa.Connection, kept: KeptAggregate, parent: sa.Table, child: sa.Table, after: str) -> None:
    wrong = _mismatches(connection, kept, parent, child)
    assert not wrong, f"{kept.entity}.{kept.attribute} after {after}: " + "; ".join(wrong[:3])


def _parent_value(connection: sa.Connection, kept: KeptAggregate, parent: sa.Table, key: tuple[Any, ...]) -> Any:
    where = sa.and_(*(parent.c[k] == v for k, v in zip(kept.key, key, strict=True)))
    return connection.execute(sa.select(parent.c[kept.column]).where(where)).scalar_one()


def check_kept(harness: _Harness, engine: sa.Engine, name: str) -> None:
    """Insert, change, move and delete a child of `name`'s relationship and check every parent
    after each step; the count (or the sum, max or min) of the child's parent must move too."""
    kept = next(k for k in kept_aggregates(harness.model, harness.tables) if k.name == name)
    parent, child = harness.metadata.tables[kept.parent], harness.metadata.tables[kept.child]
    child_key = [c.name for c in child.primary_key.columns]
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            _assert_kept(connection, kept, parent, child, "the load and the backfill")
            prerequisites, row = harness.valid_row(kept.child)
            for table, values in prerequisites:
                connection.execute(harness.metadata.tables[table].insert(), values)
            owner = tuple(row[r] for r in kept.references)
            before = _parent_value(connection, kept, parent, owner)
            connection.execute(child.insert(), row)
            _assert_kept(connection, kept, parent, child, "inserting a child")
            if kept.function is DerivedFunction.COUNT:
                assert _parent_value(connection, kept, parent, owner) == (before or 0) + 1, "the count did not move"
            this = sa.and_(*(child.c[k] == row[k] for k in child_key))
            if kept.source is not None:
                others = connection.execute(
                    sa.select(child.c[kept.source]).where(child.c[kept.source].is_not(None)).distinct().limit(3)
                ).scalars()
                other = next((v for v in others if not _same(v, row[kept.source])), None)
                if other is not None:
                    connection.execute(child.update().where(this).values({kept.source: other}))
                    _assert_kept(connection, kept, parent, child, f"changing the child's {kept.source}")
            if not set(kept.references) & set(child_key):
                elsewhere = connection.execute(
                    sa.select(*(parent.c[k] for k in kept.key))
                    .where(sa.not_(sa.and_(*(parent.c[k] == v for k, v in zip(kept.key, owner, strict=True)))))
                    .limit(1)
                ).first()
                if elsewhere is not None:
                    moved = dict(zip(kept.references, elsewhere, strict=True))
                    connection.execute(child.update().where(this).values(moved))
                    _assert_kept(connection, kept, parent, child, "moving the child to another parent")
            connection.execute(child.delete().where(this))
            _assert_kept(connection, kept, parent, child, "deleting the child")
        finally:
            transaction.rollback()
