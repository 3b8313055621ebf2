"""Runtime of the write patterns run as `relational/<engine>/writes.sql` has them (increments, writes
by predicate, locked updates): the transaction and the statements in their order.

Copied verbatim (without this docstring, its runtime import pointed at the package's own `runtime`)
into a package as `write_runtime.py` when it has such a write; tested here through the scaffolded
packages (tests/test_scaffold_relational_writes.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from polyplan.scaffold.runtime import statement


class PhantomRows(Exception):
    """A write by predicate matched rows its locked read did not (one line)."""


@dataclass
class Changed:
    """What a planned write did: the rows it wrote (when the package tracks them for the outbox)."""

    count: int
    before: list[dict[str, Any]] = field(default_factory=list)
    after: list[dict[str, Any] | None] = field(default_factory=list)


@contextmanager
def transaction(engine: sa.Engine, immediate: bool) -> Iterator[sa.Connection]:
    """`engine.begin()`; on SQLite with `immediate`, the transaction begins with BEGIN IMMEDIATE.

    SQLite has no FOR UPDATE (writes.sql's lock note): BEGIN IMMEDIATE takes the database's write
    lock at the first statement, so the lock block's rows cannot change before the write. Issued by
    hand because SQLAlchemy's pysqlite dialect begins lazily (the driver's implicit BEGIN) and has no
    option for one transaction's mode; sqlite3 then sees the transaction open and commits it.
    """
    if engine.dialect.name != "sqlite" or not immediate:
        with engine.begin() as connection:
            yield connection
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


def _bound(names: Sequence[str], params: Mapping[str, Any]) -> dict[str, Any]:
    return {name: params[name] for name in names}


def run_planned(
    connection: sa.Connection,
    statements: Mapping[str, str],
    binds: Mapping[str, Sequence[str]],
    params: Mapping[str, Any],
    kinds: Mapping[str, str],
    columns: Mapping[str, str],
    key: Sequence[tuple[str, str]],
) -> Changed:
    """Run one planned write in `connection`'s transaction: its lock block (when the plan locks),
    the rows it will write (when `statements` has `rows`: the outbox needs them), the writes.sql
    statement, then each written row again by key.

    `binds` names the parameters of each statement, `kinds` the model type of each parameter,
    `columns` of each column of the entity's table, `key` its primary key's (column, kind).
    """
    if "lock" in statements:
        names = binds["lock"]
        connection.execute(statement(statements["lock"], _bound(names, kinds), {}), _bound(names, params))
    before: list[dict[str, Any]] = []
    if "rows" in statements:
        names = binds["rows"]
        found = connection.execute(statement(statements["rows"], _bound(names, kinds), columns), _bound(names, params))
        before = [dict(row) for row in found.mappings()]
    names = binds["write"]
    result = connection.execute(statement(statements["write"], _bound(names, kinds), {}), _bound(names, params))
    count = result.rowcount
    if "rows" not in statements:
        return Changed(count)
    if count != len(before):
        # The locked read's rows cannot change or leave; a row that came to match after it (an
        # insert, under READ COMMITTED) would be written without an event. Rolled back instead.
        raise PhantomRows(f"{count} rows written, {len(before)} read and locked before: retry the write")
    key_kinds = {f"key_{column}": kind for column, kind in key}
    after: list[dict[str, Any] | None] = []
    for row in before:
        again = (
            connection.execute(
                statement(statements["row"], key_kinds, columns), {f"key_{column}": row[column] for column, _ in key}
            )
            .mappings()
            .first()
        )
        after.append(None if again is None else dict(again))
    return Changed(count, before, after)
