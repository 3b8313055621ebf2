"""polyplan's expand/contract migration against the naive one-step migration, under load, on PostgreSQL.

The change is a real one from the bundled histories (default: scenarios/history/saas, version 1
→ 2, which retypes `task.priority` SMALLINT → INTEGER, renames `task.order` to `position`,
widens `task.title`, and changes `project` and `member`):

1. a template database gets version 1's schema from polyplan's own baseline revision
   (`polyplan migrate` output, run with `alembic upgrade <baseline>`), the parents of the loaded
   entity seeded by `polyplan.seed` at the model's proportions, and the loaded entity's table
   (`--table`, default `task`) filled to --rows rows (default 1,000,000) by copying seeded
   sample rows with generate_series (a fresh key per copy);
2. each round clones the template (CREATE DATABASE … TEMPLATE) once per variant, in alternating
   order, and starts a steady load on the loaded table: --threads threads, each running the
   entity's access patterns (polyplan's own queries for them) and write patterns (insert,
   update) at --rate operations per second, mixed in the model's proportions, over psycopg;
3. variant `polyplan` runs `alembic upgrade <expand>`, switches the load to the new
   application version (its queries use the new column names), then `alembic upgrade head`
   (the contract), each with the `alembic` command in its own process, as a user would;
   variant `naive` runs the same operations the way a hand-written migration would, in one
   transaction (ALTER COLUMN … TYPE, RENAME COLUMN, CREATE INDEX without CONCURRENTLY,
   constraints added validated, no lock_timeout), and the load switches version when it
   commits; an operation of the old version that fails there on a renamed column is retried
   at once in the new version, and its latency counts from its first start;
4. every load operation's latency is recorded; the figures are those of the operations that
   overlap the migration (from the first revision's start to the last one's end).

A sampler polls pg_stat_activity every 50 ms for load sessions waiting on a lock and records the
statement that blocks them, so that a stall comes with its cause.

Claims, each a threshold the run checks (exit 1 when one is missed): polyplan's longest stall
under --max-stall-ms (100) in every round; the naive migration's longest stall at least
--naive-min-ms (1,000) in every round (the benchmark would prove nothing if the naive change did
not hurt); no load operation fails during polyplan's migration; the migrated database has no
drift from a fresh plan of the new version (`polyplan status`'s comparison).

    python bench/migrations.py --json bench/results/migrations.json   # ~5-8 minutes
    python bench/migrations.py --rows 200000 --rounds 1                # quicker
    python bench/migrations.py --report bench/results/migrations.json  # re-check a saved run
    python bench/render_docs.py                                        # docs/benchmarks.md

The server comes from POLYPLAN_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
Databases are named polyplan_migbench_<hex>_…; every one is dropped at the end, on Ctrl-C and
on SIGTERM too.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.schema import AddConstraint as SAAddConstraint
from sqlalchemy.schema import CreateColumn, CreateIndex

from polyplan.migrate.context import Context
from polyplan.migrate.diff import Versions
from polyplan.migrate.folder import write_migration
from polyplan.migrate.ops import (
    AddColumn,
    AddConstraint,
    AddIndex,
    AddTable,
    ColumnChange,
    DropColumn,
    DropConstraint,
    DropIndex,
    DropTable,
    Operation,
    RenameTable,
    ReplaceConstraint,
    ReplaceIndex,
)
from polyplan.migrate.sql import compile_ddl, quote, table_ddl
from polyplan.migrate.status import drift
from polyplan.pipeline import plan_file
from polyplan.plan.ir import Plan
from polyplan.seed.generate import feasible_rows, generate, rows_for_scale
from polyplan.seed.relational import load_rows, table_rows
from polyplan.stores.relational.connect import create_engine
from polyplan.stores.relational.render import build_queries
from polyplan.stores.relational.spec import TableSpec

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
VARIANTS = ("polyplan", "naive")
SAMPLE_ROWS = 10_000  # seeded rows of the loaded table that generate_series copies
WARMUP_SECONDS = 3.0
DEPLOY_SECONDS = 1.0  # between expand and contract: the new application version rolls out
COOLDOWN_SECONDS = 1.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def q(name: str) -> str:
    return quote("postgresql", name)


# --- the two application versions ------------------------------------------------------------


@dataclass(frozen=True)
class AppVersion:
    """What one application version runs against the loaded table: SQL and how to fill it."""

    reads: dict[str, tuple[str, list[str]]]  # pattern → (psycopg SQL, parameter columns)
    insert: str
    insert_columns: list[str]
    update: str
    update_columns: list[str]
    key: str
    renamed: dict[str, str]  # this version's column → the old version's column


def _psycopg_sql(sql: str) -> str:
    """polyplan's query text (SQLAlchemy `:name` parameters) in psycopg's `%(name)s` style."""
    sql = re.sub(r"IN \(:(\w+)\)", r"= ANY(%(\1)s)", sql)
    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)


def app_version(plan: Plan, table: str, renamed: dict[str, str]) -> AppVersion:
    """The loaded table's access patterns (polyplan's queries) and write patterns for `plan`'s version."""
    from polyplan.migrate.diff import designs_of

    design = designs_of(plan)["postgresql"]
    spec = design.tables[table]
    built = design.rendered.metadata.tables[table]
    queries = build_queries(plan, list(design.tables.values()), design.rendered)[0]
    reads = {
        query.name: (_psycopg_sql(query.sql), [p.column for p in query.params])
        for query in queries
        if spec.entity == next(p.entity for p in plan.model.access_patterns if p.name == query.name)
    }
    key = [c.name for c in built.primary_key.columns]
    if len(key) != 1:
        raise SystemExit(f"bench/migrations.py: {table} needs a single-column primary key")
    columns = [c.name for c in built.columns if c.computed is None]
    insert = (
        f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) VALUES ({', '.join(f'%({c})s' for c in columns)})"
    )
    updates = [
        w for w in plan.model.write_patterns if w.entity == spec.entity and w.kind.value == "update" and w.attributes
    ]
    attribute_columns = {
        c.source.split(".", 1)[1]: c.name for c in spec.columns if c.source.startswith(spec.entity + ".")
    }
    updated = [attribute_columns.get(a, a) for a in (updates[0].attributes if updates else [])]
    updated = [c for c in updated if c in built.c] or [columns[1]]
    update = f"UPDATE {q(table)} SET {', '.join(f'{q(c)} = %({c})s' for c in updated)} WHERE {q(key[0])} = %({key[0]})s"
    return AppVersion(reads, insert, columns, update, updated, key[0], renamed)


# --- databases -------------------------------------------------------------------------------


def _plain(url: str, database: str | None = None) -> str:
    """A libpq URL (psycopg's) for `url`, on `database`."""
    parsed = sa.engine.make_url(url)
    if database:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class Databases:
    """Throw-away databases on the server, all dropped by `drop_all` (called on every exit path)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stem = f"polyplan_migbench_{uuid.uuid4().hex[:10]}"
        self.made: list[str] = []

    def _admin(self, statement: str) -> None:
        with psycopg.connect(_plain(self.url), autocommit=True) as connection:
            connection.execute(statement)  # names made here, not input

    def create(self, suffix: str, template: str | None = None) -> str:
        name = f"{self.stem}_{suffix}"
        self.made.append(name)
        source = (
            f"TEMPLATE {template}" if template else "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        )
        self._admin(f"CREATE DATABASE {name} {source}")
        return name

    def drop(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if name in self.made:
            self.made.remove(name)

    def drop_all(self) -> None:
        for name in list(reversed(self.made)):
            try:
                self.drop(name)
            except psycopg.Error as error:  # keep dropping the others
                log(f"could not drop {name}: {error}")


def build_template(
    dbs: Databases, old: Plan, folder: Path, baseline: str, table: str, rows: int, seed: int
) -> tuple[str, dict[str, Any]]:
    """Version 1's schema (polyplan's baseline revision), parents seeded, `table` filled to `rows`."""
    name = dbs.create("template")
    run_alembic(folder, _sa_url(dbs.url, name), baseline)
    model = old.model
    from polyplan.migrate.diff import designs_of

    design = designs_of(old)["postgresql"]
    spec = design.tables[table]
    scale = rows / max(1, model.entities[spec.entity].growth.initial_rows)
    wanted = rows_for_scale(model, scale, minimum=10)
    wanted = {e: n for e, n in wanted.items() if e in {t.entity for t in design.tables.values()}}
    wanted[spec.entity] = min(SAMPLE_ROWS, rows)
    wanted = feasible_rows(model, wanted)
    started = time.monotonic()
    data = generate(model, wanted, seed=seed, only=set(wanted))
    engine = create_engine(_sa_url(dbs.url, name))
    try:
        with engine.begin() as connection:
            loaded = load_rows(
                connection, design.rendered.metadata, table_rows(list(design.tables.values()), data, "postgresql")
            )
        log(f"seeded {dict(sorted(loaded.items()))} in {time.monotonic() - started:.1f} s")
        built = design.rendered.metadata.tables[table]
        key = next(iter(built.primary_key.columns))
        copies = max(1, -(-rows // loaded[table]))
        others = [c.name for c in built.columns if c.name != key.name and c.computed is None]
        with engine.begin() as connection:
            # The copies reference the seeded parents, so their foreign-key checks (a million
            # trigger calls) are skipped: replica mode fires no ordinary trigger.
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            # Copies of the seeded rows, each with a fresh key, until the table holds `rows` rows.
            connection.exec_driver_sql(
                f"INSERT INTO {q(table)} ({q(key.name)}, {', '.join(q(c) for c in others)}) "
                f"SELECT gen_random_uuid(), {', '.join('s.' + q(c) for c in others)} "
                f"FROM (SELECT * FROM {q(table)}) s CROSS JOIN generate_series(2, {copies}) g "
                f"LIMIT {rows - loaded[table]}"
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (FREEZE, ANALYZE)")
            count = connection.exec_driver_sql(f"SELECT count(*) FROM {q(table)}").scalar_one()
            size = connection.exec_driver_sql(f"SELECT pg_size_pretty(pg_total_relation_size('{table}'))").scalar_one()
            parents = _parameter_pool(connection, table)
    finally:
        engine.dispose()
    log(f"template {name}: {table} has {count:,} rows ({size}), built in {time.monotonic() - started:.1f} s")
    return name, {"rows": count, "size": size, "seeded": dict(sorted(loaded.items())), "pool": parents}


def _parameter_pool(connection: sa.Connection, table: str) -> dict[str, list[Any]]:
    """Values the load draws its parameters and new rows from: sampled rows of the loaded table."""
    rows = connection.exec_driver_sql(f"SELECT * FROM {q(table)} TABLESAMPLE SYSTEM (2) LIMIT 20000").mappings().all()
    return {"rows": [dict(r) for r in rows]}


def _sa_url(url: str, database: str) -> str:
    return sa.engine.make_url(url).set(database=database).render_as_string(hide_password=False)


def run_alembic(folder: Path, url: str, revision: str) -> float:
    """`alembic upgrade REVISION` in its own process, with the URL in the environment; seconds taken."""
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(folder / "alembic.ini"), "upgrade", revision],
        env={**os.environ, "POLYPLAN_DATABASE_URL": url},
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        # The retries the script logged say what it waited for; the traceback's end says why it stopped.
        retries = [line for line in run.stderr.splitlines() if "lock not granted" in line]
        shown = "\n".join([*retries[:3], f"... {len(retries)} retries in all", run.stderr[-1500:]])
        raise RuntimeError(f"alembic upgrade {revision} failed:\n{shown}")
    return time.monotonic() - started


# --- the naive migration ---------------------------------------------------------------------


def naive_statements(versions: Versions) -> list[str]:
    """The same operations as one hand-written migration would make them: direct DDL, one step."""
    ctx = versions.context("postgresql")
    statements: list[str] = []
    for op in sorted(versions.operations, key=lambda o: o.order):
        statements += _naive(op, ctx)
    return statements


def _naive(op: Operation, ctx: Context) -> list[str]:
    table = q(op.table)
    if isinstance(op, AddTable):
        return table_ddl(ctx.after.table(op.table), "postgresql")
    if isinstance(op, DropTable):
        return [f"DROP TABLE {table}"]
    if isinstance(op, RenameTable):
        return [f"ALTER TABLE {q(op.old)} RENAME TO {table}"]
    if isinstance(op, ColumnChange):
        old_col, new_col = ctx.before.table(op.table).c[op.old], ctx.after.table(op.table).c[op.column]
        out = []
        if op.old != op.column:
            out.append(f"ALTER TABLE {table} RENAME COLUMN {q(op.old)} TO {q(op.column)}")
        old_type = old_col.type.compile(dialect=sa.dialects.postgresql.dialect())  # type: ignore[no-untyped-call]
        new_type = new_col.type.compile(dialect=sa.dialects.postgresql.dialect())  # type: ignore[no-untyped-call]
        if old_type != new_type:
            column = q(op.column)
            out.append(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {new_type} USING {column}::{new_type}")
        return out
    if isinstance(op, AddColumn):  # a restored column too
        return [
            f"ALTER TABLE {table} ADD COLUMN {compile_ddl(CreateColumn(ctx.after.table(op.table).c[op.column]), 'postgresql')}"
        ]
    if isinstance(op, DropColumn):
        return [f"ALTER TABLE {table} DROP COLUMN {q(op.column)}"]
    if isinstance(op, ReplaceIndex) and not op.redefined:
        return []  # the one-step ALTERs above carry the index along (a retype rebuilds it)
    if isinstance(op, AddIndex | ReplaceIndex):
        index = ctx.after.index(op.table, op.name)
        drop = [f"DROP INDEX IF EXISTS {q(op.name)}"] if isinstance(op, ReplaceIndex) else []
        return drop + ([compile_ddl(CreateIndex(index), "postgresql")] if index is not None else [])
    if isinstance(op, DropIndex):
        return [f"DROP INDEX IF EXISTS {q(op.name)}"]
    if isinstance(op, AddConstraint | ReplaceConstraint):
        found = ctx.after.constraint(op.table, op.name)
        drop = (
            [f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {q(op.name)}"] if isinstance(op, ReplaceConstraint) else []
        )
        if found is None:
            return drop
        return [*drop, compile_ddl(SAAddConstraint(found[1], isolate_from_table=False), "postgresql")]
    if isinstance(op, DropConstraint):
        return [f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {q(op.name)}"]
    raise SystemExit(f"bench/migrations.py: no naive form for {type(op).__name__}")


# --- the load --------------------------------------------------------------------------------


@dataclass
class Sample:
    op: str
    start: float  # seconds since the variant's clock started
    ms: float
    version: int
    error: str = ""
    retried: bool = False
    reprepared: bool = False  # the application step PP712 states: DEALLOCATE ALL, then the call again


class Load:
    """--threads threads, each running the entity's reads and writes at a steady rate."""

    def __init__(
        self,
        url: str,
        versions: dict[int, AppVersion],
        pool: dict[str, Any],
        weights: dict[str, float],
        rate: float,
        threads: int,
        seed: int,
    ) -> None:
        self.url, self.versions, self.pool, self.rate = url, versions, pool, rate
        self.weights = weights
        self.version = 1
        self.stop = threading.Event()
        self.samples: list[Sample] = []
        self.lock = threading.Lock()
        self.clock = time.monotonic()
        self.threads = [threading.Thread(target=self._run, args=(seed + i,), daemon=True) for i in range(threads)]
        self.errors: list[str] = []

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> list[Sample]:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)
        return self.samples

    def now(self) -> float:
        return time.monotonic() - self.clock

    def _params(self, rng: random.Random, version: AppVersion, op: str) -> tuple[str, dict[str, Any]]:
        row = rng.choice(self.pool["rows"])
        old_name = {new: old for new, old in version.renamed.items()}

        def value(column: str) -> Any:
            return row.get(old_name.get(column, column), row.get(column))

        if op in version.reads:
            sql, columns = version.reads[op]
            params: dict[str, Any] = {}
            for column, name in zip(columns, re.findall(r"%\((\w+)\)s", sql), strict=False):
                params[name] = value(column)
            if "= ANY(" in sql:
                for name in re.findall(r"= ANY\(%\((\w+)\)s\)", sql):
                    params[name] = [params[name]]
            return sql, params
        if op == "insert":
            params = {c: value(c) for c in version.insert_columns}
            params[version.key] = uuid.uuid4()
            return version.insert, params
        params = {c: value(c) for c in version.update_columns}
        params[version.key] = row[version.key]
        return version.update, params

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        ops, weights = list(self.weights), list(self.weights.values())
        interval = 1.0 / self.rate
        with psycopg.connect(self.url, autocommit=True) as connection:
            next_at = time.monotonic() + rng.random() * interval
            while not self.stop.is_set():
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_at = max(next_at + interval, time.monotonic() - interval)
                op = rng.choices(ops, weights)[0]
                version = self.version
                start = time.monotonic()
                sample = Sample(op, start - self.clock, 0.0, version)
                for attempt in range(2):
                    sql, params = self._params(rng, self.versions[version], op)
                    try:
                        connection.execute(sql, params)
                        break
                    except psycopg.errors.FeatureNotSupported as error:
                        if attempt == 0 and "cached plan must not change result type" in str(error):
                            # The contract changed a column's result type under a statement psycopg
                            # prepared (PP712): the new version's documented step, as pgjdbc and
                            # asyncpg do by themselves, is to drop its prepared statements and retry.
                            connection.execute("DEALLOCATE ALL")
                            sample.reprepared = True
                            continue
                        sample.error = f"{type(error).__name__}: {str(error).splitlines()[0]}"
                        break
                    except psycopg.errors.UndefinedColumn as error:
                        if attempt == 0 and version == 1:
                            # The naive migration renamed a column under a running old version:
                            # the request is retried by the new one (latency counted from the first).
                            version, sample.retried = 2, True
                            continue
                        sample.error = str(error).splitlines()[0]
                    except psycopg.Error as error:
                        sample.error = f"{type(error).__name__}: {str(error).splitlines()[0]}"
                        break
                sample.ms = (time.monotonic() - start) * 1000
                sample.version = version
                with self.lock:
                    self.samples.append(sample)


@dataclass
class Tick:
    """One control probe: planned at `start`, done `ms` later (its thread's lateness + a `SELECT 1`)."""

    start: float
    ms: float


class Control:
    """A control beside the load: every 20 ms, `SELECT 1` on a connection of its own.

    It touches no table, so no lock of the migration can hold it up; what delays it is what
    delays everyone at once — the server (checkpoint, I/O, CPU) or this process (the GIL, the
    scheduler of a shared host). A load operation that stalls while the control stalls as long
    did not wait on the migration; one that stalls alone did. The figures keep both.
    """

    INTERVAL = 0.02

    def __init__(self, url: str, clock: float) -> None:
        self.url, self.clock = url, clock
        self.stop = threading.Event()
        self.ticks: list[Tick] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> list[Tick]:
        self.stop.set()
        self.thread.join(timeout=10)
        return self.ticks

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            planned = time.monotonic()
            while not self.stop.is_set():
                planned += self.INTERVAL
                delay = planned - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                connection.execute("SELECT 1")
                done = time.monotonic()
                self.ticks.append(Tick(planned - self.clock, (done - planned) * 1000))
                planned = max(planned, done)


class Blockers:
    """Polls pg_stat_activity: which statement the load's sessions wait on, and for how long."""

    def __init__(self, url: str, application: str) -> None:
        self.url, self.application = url, application
        self.stop = threading.Event()
        self.seen: dict[str, float] = {}  # blocking statement → longest wait seen (ms)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> dict[str, float]:
        self.stop.set()
        self.thread.join(timeout=10)
        return dict(sorted(self.seen.items(), key=lambda kv: -kv[1])[:5])

    def _run(self) -> None:
        sql = (
            "SELECT extract(epoch FROM now() - w.query_start) * 1000, b.query FROM pg_stat_activity w "
            "JOIN pg_stat_activity b ON b.pid = ANY(pg_blocking_pids(w.pid)) "
            "WHERE w.datname = current_database() AND w.wait_event_type = 'Lock' AND w.application_name = %s"
        )
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self.stop.wait(0.05):
                for waited, query in connection.execute(sql, (self.application,)).fetchall():
                    text = " ".join(str(query).split())[:160]
                    self.seen[text] = max(self.seen.get(text, 0.0), float(waited))


# --- one variant -----------------------------------------------------------------------------


@dataclass
class Figures:
    """The load's operations that overlap the migration."""

    n: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    max_op: str
    max_at_s: float  # when the longest operation started, seconds after the migration began
    failed: int
    failures: list[str]
    retried: int
    slowest: list[str] = field(default_factory=list)  # "op +start s: ms" of the five slowest
    reprepared: int = 0  # operations that re-prepared after the contract changed a result type (PP712)
    # The control probe (Control) over the same window: its longest delay, and the longest load
    # operation that the control did not see stalled at least half as long at the same time (a
    # stall of the load alone: the migration's, not the host's). 0.0 in runs saved before it.
    control_max_ms: float = 0.0
    alone_max_ms: float = 0.0


@dataclass
class VariantRun:
    variant: str
    round: int
    migration_s: float
    phases_s: dict[str, float]
    during: Figures
    before_p99_ms: float
    before_n: int
    blockers: dict[str, float]
    drift: list[str] = field(default_factory=list)
    # The naive one-step migration can die under the load (a deadlock with an application
    # transaction): that is one of the harms it shows, so it is recorded, not raised.
    error: str = ""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _overlapping(ticks: list[Tick], start: float, ms: float, reach: float) -> float:
    """The longest control delay overlapping [start, start + ms] (seconds, milliseconds).

    `ticks` are in start order (one thread appends them), so only those starting from `reach`
    (the longest tick's length, in seconds: computed once by the caller, as it is the same for
    every operation; computed per operation it made the analysis of a million-row round take
    longer than the round) before `start` up to the end can overlap.
    """
    if not ticks:
        return 0.0
    end = start + ms / 1000
    first = bisect.bisect_left(ticks, start - reach, key=lambda t: t.start)
    last = bisect.bisect_right(ticks, end, key=lambda t: t.start)
    return max((t.ms for t in ticks[first:last] if t.start + t.ms / 1000 >= start), default=0.0)


def figures(samples: list[Sample], start: float, end: float, ticks: list[Tick]) -> Figures:
    during = [s for s in samples if s.start <= end and s.start + s.ms / 1000 >= start]
    if not during:
        return Figures(0, 0.0, 0.0, 0.0, "", 0.0, 0, [], 0)
    longest = max(during, key=lambda s: s.ms)
    reach = max((t.ms for t in ticks), default=0.0) / 1000
    control = {id(s): _overlapping(ticks, s.start, s.ms, reach) for s in during}
    latencies = [s.ms for s in during]
    failures = sorted({f"{s.op}: {s.error}" for s in during if s.error})
    return Figures(
        len(during),
        statistics.median(latencies),
        percentile(latencies, 0.99),
        longest.ms,
        longest.op,
        longest.start - start,
        sum(1 for s in during if s.error),
        failures[:5],
        sum(1 for s in during if s.retried),
        [
            f"{s.op} v{s.version} +{s.start - start:.2f} s: {s.ms:.0f} ms (control {control[id(s)]:.0f} ms)"
            for s in sorted(during, key=lambda s: -s.ms)[:5]
        ],
        sum(1 for s in during if s.reprepared),
        _overlapping(ticks, start, (end - start) * 1000, reach),
        max((s.ms for s in during if control[id(s)] < s.ms / 2), default=0.0),
    )


@dataclass
class Setup:
    url: str
    folder: Path
    expand: str
    head: str
    naive: list[str]
    versions: dict[int, AppVersion]
    pool: dict[str, Any]
    weights: dict[str, float]
    new_plan: Plan
    threads: int
    rate: float


def run_variant(setup: Setup, dbs: Databases, template: str, variant: str, number: int, seed: int) -> VariantRun:
    name = dbs.create(f"r{number}_{variant}", template=template)
    application = f"migbench_load_{variant}"
    load_url = _plain(setup.url, name) + ("&" if "?" in setup.url else "?") + f"application_name={application}"
    load = Load(load_url, setup.versions, setup.pool, setup.weights, setup.rate, setup.threads, seed)
    blockers = Blockers(_plain(setup.url, name), application)
    control = Control(_plain(setup.url, name), load.clock)
    phases: dict[str, float] = {}
    error = ""
    try:
        load.start()
        blockers.start()
        control.start()
        time.sleep(WARMUP_SECONDS)
        begin = load.now()
        if variant == "polyplan":
            phases["expand"] = run_alembic(setup.folder, _sa_url(setup.url, name), setup.expand)
            phases["contract starts at"] = load.now() + DEPLOY_SECONDS - begin
            load.version = 2  # the new application version is deployed between expand and contract
            time.sleep(DEPLOY_SECONDS)
            phases["contract"] = run_alembic(setup.folder, _sa_url(setup.url, name), setup.head)
        else:
            started = time.monotonic()
            try:
                with psycopg.connect(_plain(setup.url, name)) as connection:
                    for statement in setup.naive:
                        connection.execute(statement)
                    connection.commit()
                    load.version = 2
            except psycopg.errors.DeadlockDetected as exc:
                error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
            phases["one step"] = time.monotonic() - started
        end = load.now()
        time.sleep(COOLDOWN_SECONDS)
    finally:
        samples = load.finish()
        seen = blockers.finish()
        ticks = control.finish()
    before = [s.ms for s in samples if s.start + s.ms / 1000 < begin]
    found: list[str] = []
    if variant == "polyplan":
        engine = create_engine(_sa_url(setup.url, name))
        try:
            with engine.connect() as connection:
                found = [d.describe() for d in drift(setup.new_plan, connection)]
        finally:
            engine.dispose()
    dbs.drop(name)
    run = VariantRun(
        variant,
        number,
        end - begin,
        phases,
        figures(samples, begin, end, ticks),
        percentile(before, 0.99),
        len(before),
        seen,
        found,
        error,
    )
    d = run.during
    log(
        f"round {number} {variant}: migration {run.migration_s:.1f} s; load during it: {d.n} ops, p99 {d.p99_ms:.1f} ms, "
        f"longest {d.max_ms:.1f} ms ({d.max_op} at +{d.max_at_s:.1f} s), alone {d.alone_max_ms:.1f} ms, "
        f"control longest {d.control_max_ms:.1f} ms, failed {d.failed}, retried {d.retried}, "
        f"re-prepared {d.reprepared}; phases {run.phases_s}; slowest {d.slowest}"
        + (f"; blocked by {next(iter(seen))!r} up to {next(iter(seen.values())):.0f} ms" if seen else "")
        + (f"; the migration failed: {error}" if error else "")
    )
    return run


# --- verdicts and the report -------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    max_stall_ms: float = 100.0
    naive_min_ms: float = 1000.0


def _runs(saved: dict[str, Any]) -> list[VariantRun]:
    runs = []
    for r in saved["runs"]:
        runs.append(VariantRun(**{**r, "during": Figures(**r["during"])}))
    return runs


def verdicts(saved: dict[str, Any]) -> list[tuple[bool, str]]:
    """Each claim with whether it held: (held, text)."""
    limits = Limits(**saved["limits"])
    runs = _runs(saved)
    mine = [r for r in runs if r.variant == "polyplan"]
    naive = [r for r in runs if r.variant == "naive"]
    lines: list[tuple[bool, str]] = []
    if not mine or not naive:
        return [(False, "both variants ran")]
    worst = max(r.during.max_ms for r in mine)
    lines.append(
        (
            worst < limits.max_stall_ms,
            f"polyplan's longest stall under {limits.max_stall_ms:g} ms in every round: worst {worst:,.1f} ms",
        )
    )
    # A round whose naive migration deadlocked with the load shows the harm as surely as a stall.
    completed = [r for r in naive if not r.error]
    died = sorted({r.error for r in naive if r.error})
    least = min((r.during.max_ms for r in completed), default=float("inf"))
    lines.append(
        (
            least >= limits.naive_min_ms,
            f"the naive migration stalls the load at least {limits.naive_min_ms:,.0f} ms in every round: "
            + (f"shortest {least:,.1f} ms" if completed else "no round completed")
            + (f"; it failed in {len(naive) - len(completed)} round(s): {'; '.join(died[:2])}" if died else ""),
        )
    )
    failed = sum(r.during.failed for r in mine)
    why = sorted({f for r in mine for f in r.during.failures})
    lines.append(
        (
            failed == 0,
            f"no load operation fails during polyplan's migration: {failed} failed"
            + (f" ({'; '.join(why[:3])})" if why else ""),
        )
    )
    drifted = sorted({d for r in mine for d in r.drift})
    lines.append(
        (
            not drifted,
            "polyplan's migrated database equals a fresh plan of the new version (no drift)"
            + (f": {'; '.join(drifted[:3])}" if drifted else ""),
        )
    )
    return lines


def all_held(saved: dict[str, Any]) -> bool:
    return all(held for held, _ in verdicts(saved))


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.1f} ({min(values):,.1f}–{max(values):,.1f})"


def _controlled(figures: Figures, value: float) -> str:
    """A control figure, or "—" for a run saved before the control probe existed."""
    return f"{value:,.1f}" if figures.control_max_ms else "—"


def render_saved(saved: dict[str, Any]) -> str:
    """The docs/benchmarks.md section of a results file written by --json (bench/render_docs.py calls this)."""
    runs = _runs(saved)
    setup = saved["setup"]
    out = [
        "<!-- rendered by `python bench/render_docs.py` from bench/results/migrations.json; do not edit -->",
        "",
        f"Reproduce: `{saved['command']}`",
        "",
        f"Measured {saved['started']} on {saved['machine']}; {saved['server']}. Load average "
        f"{saved['load_before']} at the start and {saved['load_after']} at the end: **the host is shared with other "
        "work, so latencies include its noise** (rounds are interleaved to spread it over both variants).",
        "",
        f"Change: `{setup['history']}` {setup['old']} → {setup['new']} ({setup['operations']} operations; on the loaded "
        f"table: {setup['on_table']}). Loaded table `{setup['table']}`: {setup['rows']:,} rows ({setup['size']}), "
        f"cloned from one template per run. Load: {setup['threads']} threads × {setup['rate']:g} operations/s "
        f"({', '.join(f'{k} {v:g}' for k, v in setup['weights'].items())}, the model's rates as weights), psycopg, "
        "autocommit; latency is client-side wall clock per operation. Figures cover the operations that overlap the "
        "migration.",
        "",
        "| round | variant | migration s | ops during | p50 ms | p99 ms | longest stall ms | at | stalled alone ms | "
        "control longest ms | failed | retried | re-prepared | p99 before ms |",
        "|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        d = r.during
        phases = ", ".join(f"{k} {v:.1f}" for k, v in r.phases_s.items())
        out.append(
            f"| {r.round} | {r.variant} | {r.migration_s:.1f} ({phases}) | {d.n:,} | {d.p50_ms:.2f} | {d.p99_ms:.2f} | "
            f"**{d.max_ms:,.1f}** | {d.max_op} +{d.max_at_s:.1f} s | {_controlled(d, d.alone_max_ms)} | "
            f"{_controlled(d, d.control_max_ms)} | {d.failed} | {d.retried} | {d.reprepared} | "
            f"{r.before_p99_ms:.2f} ({r.before_n:,}) |"
        )
    out += [
        "",
        "*Stalled alone*: the longest load operation during which the control probe (a `SELECT 1` every 20 ms on "
        "its own connection, in the load's process, touching no table) was not delayed at least half as long; "
        "*control longest*: the control's own longest delay. A stall the control shares is the host's or the "
        "server's (scheduler, I/O), not a lock of the migration. The claim below is judged on the raw longest stall.",
        "",
        "Median (min–max) over the rounds:",
        "",
    ]
    for variant in VARIANTS:
        mine = [r for r in runs if r.variant == variant]
        if mine:
            out.append(
                f"- {variant}: longest stall {_spread([r.during.max_ms for r in mine])} ms "
                + (
                    f"(stalled alone {_spread([r.during.alone_max_ms for r in mine])} ms); "
                    if all(r.during.control_max_ms for r in mine)
                    else "; "
                )
                + f"p99 {_spread([r.during.p99_ms for r in mine])} ms; migration {_spread([r.migration_s for r in mine])} s"
            )
    out += ["", "What the load's sessions waited on (longest wait seen by a 50 ms sampler of pg_stat_activity):", ""]
    for variant in VARIANTS:
        seen: dict[str, float] = {}
        for r in runs:
            if r.variant == variant:
                for text, ms in r.blockers.items():
                    seen[text] = max(seen.get(text, 0.0), ms)
        top = sorted(seen.items(), key=lambda kv: -kv[1])[:3]
        listed = "; ".join(f"`{text}` {ms:,.0f} ms" for text, ms in top) or "no lock wait seen"
        out.append(f"- {variant}: {listed}")
    out += ["", "Claims (the run exits 1 when one is missed):", ""]
    out += [f"- {'PASS' if held else 'FAIL'} {text}" for held, text in verdicts(saved)]
    return "\n".join(out) + "\n"


# --- main --------------------------------------------------------------------------------------


def _load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds through the `finally` that drops
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", default="saas", help="scenarios/history/<name>")
    parser.add_argument("--old", default="v1")
    parser.add_argument("--new", default="v2")
    parser.add_argument("--table", default="task", help="the loaded table (its entity's patterns run as load)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rate", type=float, default=50.0, help="operations per second per thread")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-stall-ms", type=float, default=Limits.max_stall_ms)
    parser.add_argument("--naive-min-ms", type=float, default=Limits.naive_min_ms)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--report", type=Path, help="re-check a saved --json run (runs nothing)")
    args = parser.parse_args()
    if args.report:
        saved = json.loads(args.report.read_text(encoding="utf-8"))
        print(render_saved(saved))
        return 0 if all_held(saved) else 1
    url = os.environ.get("POLYPLAN_POSTGRES_URL", DEFAULT_URL)
    history = ROOT / "scenarios" / "history" / args.history
    old_path, new_path = history / f"{args.old}.yaml", history / f"{args.new}.yaml"
    old, new = plan_file(old_path), plan_file(new_path)
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = _load_average()
    clock = time.monotonic()
    dbs = Databases(url)
    try:
        with tempfile.TemporaryDirectory(prefix="polyplan_migbench_") as tmp:
            folder = Path(tmp) / "migrations"
            migration = write_migration(old, new, old_path, new_path, folder)
            baseline, expand, contract = (r.id for r in migration.added)
            versions = migration.versions
            renamed = {
                op.column: op.old
                for op in versions.operations
                if isinstance(op, ColumnChange) and op.table == args.table
            }
            apps = {1: app_version(old, args.table, {}), 2: app_version(new, args.table, renamed)}
            spec: TableSpec = versions.designs["postgresql"][1].tables[args.table]
            weights = {
                p.name: p.rate for p in new.model.access_patterns if p.entity == spec.entity and p.name in apps[2].reads
            }
            for w in new.model.write_patterns:
                if w.entity == spec.entity and w.kind.value in ("insert", "update"):
                    weights[w.kind.value] = weights.get(w.kind.value, 0.0) + w.rate
            naive = naive_statements(versions)
            with psycopg.connect(_plain(url), autocommit=True) as connection:
                server = str(connection.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            log(f"PostgreSQL {server}; naive migration:\n  " + ";\n  ".join(naive))
            template, built = build_template(dbs, old, folder, baseline, args.table, args.rows, args.seed)
            setup = Setup(
                url, folder, expand, contract, naive, apps, built["pool"], weights, new, args.threads, args.rate
            )
            runs: list[VariantRun] = []
            for number in range(1, args.rounds + 1):
                order = VARIANTS if number % 2 else tuple(reversed(VARIANTS))
                for variant in order:
                    runs.append(run_variant(setup, dbs, template, variant, number, args.seed + 100 * number))
    except KeyboardInterrupt:
        log("interrupted: dropping the databases")
        raise
    finally:
        dbs.drop_all()
    shown = [a for i, a in enumerate(sys.argv[1:]) if a != "--json" and sys.argv[i] != "--json"]
    on_table = sorted({op.describe() for op in versions.operations if op.table == args.table})
    saved = {
        "command": " ".join(["python bench/migrations.py", *shown]),
        "started": started_at,
        "seconds": round(time.monotonic() - clock, 1),
        "machine": f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "server": f"PostgreSQL {server} on the same host",
        "load_before": load_before,
        "load_after": _load_average(),
        "limits": asdict(Limits(args.max_stall_ms, args.naive_min_ms)),
        "setup": {
            "history": f"scenarios/history/{args.history}",
            "old": args.old,
            "new": args.new,
            "operations": len(versions.operations),
            "on_table": "; ".join(on_table),
            "table": args.table,
            "rows": built["rows"],
            "size": built["size"],
            "threads": args.threads,
            "rate": args.rate,
            "weights": weights,
            "naive": naive,
        },
        "runs": [asdict(r) for r in runs],
    }
    if args.json:
        args.json.write_text(json.dumps(saved, indent=1, default=str) + "\n", encoding="utf-8")
    print(render_saved(saved))
    print(f"(run took {saved['seconds']:.0f} s)")
    return 0 if all_held(saved) else 1


if __name__ == "__main__":
    sys.exit(main())
