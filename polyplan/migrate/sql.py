"""SQL text for one engine from SQLAlchemy DDL elements, and the guards every step carries.

The DDL is SQLAlchemy's own (the same compiler that writes `schema.sql`), so quoting and types
are exactly what a fresh `polyplan plan` creates; only what SQLAlchemy cannot say (CONCURRENTLY
with IF EXISTS, NOT VALID, MariaDB's ALGORITHM/LOCK clauses, triggers) is added as text here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateColumn, CreateIndex, CreateTable, DDLElement

from polyplan.stores.relational.index_render import dialect_of

# How long a step that takes a lock the application's reads or writes wait for (ACCESS EXCLUSIVE
# on PostgreSQL) may wait for it. While it waits, every later query of the table queues behind it,
# so the wait is short; the revision script retries the step's transaction after a backoff (see
# `polyplan.migrate.folder`), so a busy table makes the migration wait politely instead of
# stalling the application or failing at the first conflict.
LOCK_TIMEOUT = "50ms"
# Steps whose lock lets the application read and write (SHARE UPDATE EXCLUSIVE: concurrent index
# builds, validations, the backfill's row locks) queue no one: they may wait longer.
ONLINE_LOCK_TIMEOUT = "2s"
STATEMENT_TIMEOUT = "60s"
# MariaDB counts lock_wait_timeout in whole seconds, and while an ALTER waits for its metadata
# lock every later statement on the table queues behind it: so a MariaDB step does not wait at
# all (0: it fails at once when the lock is taken) and the revision script retries it after a
# backoff, the way a PostgreSQL step retries after its 50 ms. Seen on MariaDB 10.11 here: 1 s
# queued the application up to 1 s per attempt (tests/test_migrate_locks.py).
MYSQL_LOCK_WAIT_SECONDS = 0
# Rows per committed backfill batch: a write of the application to a row of the batch waits for
# the batch's commit, so a batch must take milliseconds, not the tenths of a second 5,000 took
# (1,000 rows took ~100 ms at a million rows in bench/migrations.py under load: load updates
# waited up to that long for a batch's row locks).
BACKFILL_BATCH = 250


@dataclass(frozen=True)
class Step:
    """One SQL statement of a revision. `autocommit`: run outside the revision's transaction
    (PostgreSQL refuses CREATE INDEX CONCURRENTLY, and a batched backfill commits per batch)."""

    sql: str
    autocommit: bool = False


def quote(engine: str, name: str) -> str:
    """`name` quoted for `engine` (only when it needs it)."""
    return str(dialect_of(engine).identifier_preparer.quote(name))


def compile_ddl(element: DDLElement | CreateColumn, engine: str) -> str:
    """One DDL element as `engine` SQL, without a trailing semicolon."""
    text = str(element.compile(dialect=dialect_of(engine))).strip()
    return "\n".join(line.rstrip() for line in text.splitlines())


def table_ddl(table: sa.Table, engine: str) -> list[str]:
    """Everything `CREATE TABLE` of `table` runs on `engine`: the table, comments, indexes, DDL events."""
    statements: list[str] = []
    indexes: list[tuple[str, str]] = []

    def executor(sql: Any, *args: Any, **kwargs: Any) -> None:
        text = str(sql.compile(dialect=mock.dialect)).strip()
        text = "\n".join(line.rstrip() for line in text.splitlines())
        if isinstance(sql, CreateIndex):
            indexes.append((str(sql.element.name), text))
        else:
            statements.append(text)

    url = {"postgresql": "postgresql+psycopg://", "mysql": "mysql+pymysql://", "sqlite": "sqlite://"}[engine]
    mock = sa.create_mock_engine(url, executor)
    table.create(mock, checkfirst=False)
    return statements + [text for _, text in sorted(indexes)]


def create_table_only(table: sa.Table, engine: str, name: str) -> str:
    """`CREATE TABLE name (...)` with `table`'s columns and constraints, but none of its indexes."""
    # Compiled from the table itself and renamed in the text: a copy of the table (to_metadata)
    # would list its constraints in set order, and the output must be byte-identical.
    text = compile_ddl(CreateTable(table), engine)
    head = f"CREATE TABLE {quote(engine, table.name)} ("
    if not text.startswith(head):
        raise ValueError(f"unexpected CREATE TABLE text for {table.name}: {text[:80]!r}")
    return f"CREATE TABLE {quote(engine, name)} (" + text[len(head) :]


def guards(engine: str) -> list[Step]:
    """The timeouts each step of `engine` sets first (PostgreSQL, MariaDB; SQLite has no other session)."""
    return _guards(engine, LOCK_TIMEOUT, STATEMENT_TIMEOUT)


def online_guards(engine: str) -> list[Step]:
    """The timeouts of a step that runs long under a lock the application's writes do not wait
    for (a concurrent index build, a validation, a backfill): no statement timeout, a longer
    lock timeout."""
    return _guards(engine, ONLINE_LOCK_TIMEOUT, "0")


def _guards(engine: str, lock_timeout: str, statement_timeout: str) -> list[Step]:
    if engine == "postgresql":
        return [Step(f"SET lock_timeout = '{lock_timeout}'"), Step(f"SET statement_timeout = '{statement_timeout}'")]
    if engine == "mysql":
        return [Step(f"SET SESSION lock_wait_timeout = {MYSQL_LOCK_WAIT_SECONDS}")]
    return []


def autocommit(steps: list[Step]) -> list[Step]:
    """`steps` run outside the revision's transaction (one autocommit block each)."""
    return [Step(step.sql, autocommit=True) for step in steps]


def mysql_online(sql: str, algorithm: str, lock: str = "NONE") -> str:
    """A MariaDB ALTER TABLE that refuses to run unless it can run as stated (never silently copies)."""
    return f"{sql}, ALGORITHM={algorithm}, LOCK={lock}"
