"""The only I/O of the relational target: reach a server, make a throw-away database, run SQL.

Used by the generated tests, `polyplan validate` and `polyplan seed`. Throw-away databases are
named `polyplan_<uuid hex>` and dropped afterwards (PostgreSQL with `WITH (FORCE)`); on
PostgreSQL they use the C collation and on MariaDB/MySQL utf8mb4 with binary collation, so that
string order and equality are code-point based everywhere (what the emitted schema declares
for MySQL, and what the generated tests' oracle assumes).
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from polyplan.stores.relational.sqltext import split_script
from polyplan.stores.scratch import process_alive, terminate_as_interrupt


def engine_name(url: str) -> str:
    """postgresql, mysql or sqlite, from a SQLAlchemy URL."""
    backend = make_url(url).get_backend_name()
    return "mysql" if backend == "mariadb" else backend


def _mysql_url(url: URL) -> URL:
    # utf8mb4 on the connection, or PyMySQL talks latin1/utf8mb3 to some servers.
    return url if "charset" in url.query else url.update_query_dict({"charset": "utf8mb4"})


def create_engine(url: str | URL, **kwargs: Any) -> sa.Engine:
    """An Engine; SQLite connections get `PRAGMA foreign_keys=ON` (SQLite's default is off)."""
    parsed = make_url(url)
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        parsed = _mysql_url(parsed)
    engine = sa.create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def split_statements(sql: str) -> list[str]:
    """The statements of an emitted .sql file (`;` at a line end, then a blank line or the end).

    A `;`, `--` or blank line inside a literal (a model value) belongs to the literal. Comments
    (file headers) are dropped; statements keep no trailing `;`.
    """
    return split_script(sql)


def apply_sql(engine: sa.Engine, sql: str) -> int:
    """Run every statement of `sql` in order (one transaction where the engine allows DDL in one)."""
    statements = split_statements(sql)
    with engine.begin() as connection:
        # The DBAPI cursor without parameters: psycopg and PyMySQL would otherwise read a `%`
        # (in a comment, a pattern or a LIKE) as a placeholder.
        cursor = connection.connection.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()
    return len(statements)


# polyplan_<pid of the creating process>_<random hex>: the pid lets a later run tell a database
# whose creator was killed (and so never dropped it) from one that another run is still using.
_SCRATCH_NAME = re.compile(r"^polyplan_(\d+)_[0-9a-f]{24}$")


def _is_local(url: URL) -> bool:
    return (url.host or "localhost") in ("localhost", "127.0.0.1", "::1") or url.host == os.uname().nodename


def sweep_abandoned(connection: sa.Connection, backend: str) -> list[str]:
    """Drop the scratch databases of killed runs: named by polyplan, creator gone, nobody connected.

    Only called for servers on this machine, where a pid says whether the creator still runs.
    """
    if backend == "postgresql":
        names = [r[0] for r in connection.exec_driver_sql("SELECT datname FROM pg_database")]
        busy = {r[0] for r in connection.exec_driver_sql("SELECT DISTINCT datname FROM pg_stat_activity")}
    else:
        names = [r[0] for r in connection.exec_driver_sql("SHOW DATABASES")]
        busy = {r[0] for r in connection.exec_driver_sql("SELECT DISTINCT db FROM information_schema.processlist")}
    dropped = []
    for name in sorted(names):
        match = _SCRATCH_NAME.match(name)
        if match and name not in busy and not process_alive(int(match.group(1))):
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            dropped.append(name)
    return dropped


@contextmanager
def scratch_database(url: str) -> Iterator[sa.Engine]:
    """A new, empty database on the server at `url`, dropped on exit (a temp file for SQLite).

    Dropped also on SIGTERM; a run killed outright (SIGKILL) leaves it behind, and the next run
    against a server on this machine drops it.
    """
    with terminate_as_interrupt():
        yield from _scratch_database(url)


def _scratch_database(url: str) -> Iterator[sa.Engine]:
    parsed = make_url(url)
    backend = engine_name(url)
    name = f"polyplan_{os.getpid()}_{uuid.uuid4().hex[:24]}"
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="polyplan_")
        engine = create_engine(f"sqlite:///{os.path.join(folder, name + '.db')}")
        try:
            yield engine
        finally:
            engine.dispose()
            shutil.rmtree(folder, ignore_errors=True)
        return
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as connection:
            if _is_local(parsed):
                sweep_abandoned(connection, backend)
            if backend == "postgresql":
                connection.exec_driver_sql(
                    f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
                )
            else:
                connection.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        engine = create_engine(parsed.set(database=name))
        try:
            yield engine
        finally:
            # A connection the caller dropped without closing may sit in a reference cycle; were
            # it collected after the forced drop below, its pool's rollback would fail and log a
            # traceback from inside whatever the collector interrupted (on Python 3.11 that log
            # re-enters ast.parse and breaks a caller's parse with a SystemError). Collect it now,
            # while its database still exists, so dispose() closes it cleanly.
            gc.collect()
            engine.dispose()
            with admin.connect() as connection:
                if backend == "postgresql":
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                else:
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
    finally:
        admin.dispose()
