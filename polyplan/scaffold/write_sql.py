"""The statements SQLAlchemy compiles for a scaffolded package, per engine (pure): the outbox table
(its DDL, created next to the planned schema, and the relay's statements) and each write pattern's
statements (RETURNING where the engine has it, else the row read again in the same transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from polyplan.model.schema import WriteKind
from polyplan.scaffold.names import escaped, identifiers
from polyplan.stores.relational.render import DIALECTS
from polyplan.stores.relational.spec import TableSpec
from polyplan.stores.relational.sqltext import trim_lines

# Engines whose write statements have no RETURNING: MySQL has none, MariaDB none for UPDATE. The
# write is followed by a SELECT of the row by its key in the same transaction (`after`).
NO_RETURNING = ("mysql",)

OUTBOX_TABLE = "polyplan_outbox"


def _compiled(statement: sa.ClauseElement, engine: str) -> str:
    return escaped(trim_lines(str(statement.compile(dialect=DIALECTS[engine].sa_dialect())).strip()))


def _outbox_table(metadata: sa.MetaData, engine: str) -> sa.Table:
    """The outbox: one row per committed change of an entity that feeds a projection.

    `done_at` is set when the relay has applied it; `error` parks an event the relay cannot apply
    (a dead letter, kept with its reason). The partial index keeps the relay's scan small however
    long the history grows (on MySQL/MariaDB, which have no partial index, `_outbox` adds one on
    `(done_at, id)`: the pending rows are its NULL range, in id order).
    """
    from sqlalchemy.dialects import mysql

    # MySQL/MariaDB keep a DATETIME without a zone: the default is UTC, as the relay reads it
    # (CURRENT_TIMESTAMP there is the session's zone), with microseconds for the lag.
    stamp = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql")
    default = sa.text("(UTC_TIMESTAMP(6))") if engine == "mysql" else sa.func.current_timestamp()
    table = sa.Table(
        OUTBOX_TABLE,
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(100), nullable=False),
        sa.Column("op", sa.String(10), nullable=False),
        sa.Column("before", sa.Text().with_variant(mysql.LONGTEXT(), "mysql")),
        sa.Column("after", sa.Text().with_variant(mysql.LONGTEXT(), "mysql")),
        sa.Column("created_at", stamp, nullable=False, server_default=default),
        sa.Column("done_at", stamp),
        sa.Column("error", sa.Text()),
        mysql_engine="InnoDB",  # not the server's defaults: transactions, and JSON payloads in utf8mb4
        mysql_charset="utf8mb4",
    )
    if engine != "mysql":
        sa.Index(
            f"ix_{OUTBOX_TABLE}_pending",
            table.c.id,
            postgresql_where=table.c.done_at.is_(None),
            sqlite_where=table.c.done_at.is_(None),
        )
    return table


def _outbox(engine: str) -> tuple[tuple[str, ...], dict[str, str], sa.Table]:
    from polyplan.stores.relational.render import ddl_statements

    metadata = sa.MetaData()
    table = _outbox_table(metadata, engine)
    ddl = tuple(
        s.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1).replace(
            "CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1
        )
        for s in ddl_statements(metadata, engine)
    )
    if engine == "mysql":
        # The index inside CREATE TABLE IF NOT EXISTS: MySQL has no CREATE INDEX IF NOT EXISTS
        # (MariaDB has), and SQLAlchemy renders an Index only as its own statement.
        create, *rest = ddl
        body, closing = create.rsplit("\n)", 1)
        ddl = (f"{body},\n\tINDEX ix_{OUTBOX_TABLE}_pending (done_at, id)\n){closing}", *rest)
    pending = (
        sa.select(table.c.id, table.c.entity, table.c.op, table.c.before, table.c.after, table.c.created_at)
        .where(table.c.done_at.is_(None))
        .order_by(table.c.id)
        .limit(sa.bindparam("batch"))
        .with_for_update()
    )
    statements = {
        "insert": _compiled(
            sa.insert(table).values(
                entity=sa.bindparam("entity"),
                op=sa.bindparam("op"),
                before=sa.bindparam("before"),
                after=sa.bindparam("after"),
            ),
            engine,
        ),
        # SQLite's compiler adds an OFFSET parameter to every LIMIT; the relay binds none.
        "pending": _compiled(pending, engine).replace(" OFFSET :param_1", ""),
        "done": _compiled(
            sa.update(table).where(table.c.id == sa.bindparam("key_id")).values(done_at=sa.bindparam("now")), engine
        ).replace(":key_id", ":id"),
        "park": _compiled(
            sa.update(table)
            .where(table.c.id == sa.bindparam("key_id"))
            .values(done_at=sa.bindparam("now"), error=sa.bindparam("error")),
            engine,
        ).replace(":key_id", ":id"),
        "lag": _compiled(
            sa.select(sa.func.count(), sa.func.min(table.c.created_at)).where(table.c.done_at.is_(None)), engine
        ),
    }
    return ddl, statements, table


def _write_sql(
    write_kind: WriteKind, table: sa.Table, spec: TableSpec, written: Sequence[str], engine: str
) -> dict[str, str]:
    # Parameters are named by the columns' Python names: a column name need not be an identifier.
    ident = dict(zip(table.c.keys(), identifiers(table.c.keys()), strict=True))
    key = [table.c[n] == sa.bindparam(f"key_{ident[n]}") for n in spec.primary_key]
    everything = list(table.c)

    def returning(statement: Any) -> Any:
        return statement if engine in NO_RETURNING else statement.returning(*everything)

    statements = {"before": _compiled(sa.select(*everything).where(*key).with_for_update(), engine)}
    if write_kind is WriteKind.INSERT:
        statements["write"] = _compiled(
            returning(sa.insert(table).values({c.name: sa.bindparam(ident[c.name]) for c in everything})), engine
        )
        del statements["before"]
    elif write_kind is WriteKind.UPDATE:
        statements["write"] = _compiled(
            returning(sa.update(table).where(*key).values({n: sa.bindparam(ident[n]) for n in written})), engine
        )
    elif write_kind is WriteKind.DELETE:
        statements["write"] = _compiled(returning(sa.delete(table).where(*key)), engine)
    elif engine == "mysql":  # upsert: INSERT … ON DUPLICATE KEY UPDATE (the primary key's, or a unique's)
        from sqlalchemy.dialects import mysql

        upsert = mysql.insert(table).values({c.name: sa.bindparam(ident[c.name]) for c in everything})
        statements["write"] = _compiled(
            upsert.on_duplicate_key_update(
                {c.name: upsert.inserted[c.name] for c in everything if c.name not in spec.primary_key}
            ),
            engine,
        )
    else:  # upsert: the dialect's own INSERT … ON CONFLICT on the primary key
        from sqlalchemy.dialects import postgresql, sqlite

        insert = (postgresql.insert if engine == "postgresql" else sqlite.insert)(table).values(
            {c.name: sa.bindparam(ident[c.name]) for c in everything}
        )
        rest = {c.name: insert.excluded[c.name] for c in everything if c.name not in spec.primary_key}
        statements["write"] = _compiled(
            insert.on_conflict_do_update(index_elements=list(spec.primary_key), set_=rest).returning(*everything),
            engine,
        )
    if engine in NO_RETURNING:
        # No RETURNING: the row is read again by its key in the write's transaction, bound by the
        # names the write's own parameters have (the row's fields for an insert or upsert).
        named = "" if write_kind in (WriteKind.INSERT, WriteKind.UPSERT) else "key_"
        again = [table.c[n] == sa.bindparam(f"{named}{ident[n]}") for n in spec.primary_key]
        statements["after"] = _compiled(sa.select(*everything).where(*again), engine)
    return statements
