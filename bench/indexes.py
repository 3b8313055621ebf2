"""polyplan's index design on the real PostgreSQL, against two baselines, on identical data.

For each bundled scenario with relational entities, at a scale where the largest relational
entity has --rows rows (default 1,000,000):

1. generate the seed once (`polyplan.seed.generate`) and COPY it into a database that has only
   primary keys and unique rules (variant `pk`);
2. clone that database twice (CREATE DATABASE … TEMPLATE) and add either one single-column
   B-tree on every filtered column (variant `single`) or polyplan's index set (`polyplan`);
3. run every read pattern (the SQL of relational/postgresql/queries.sql, and the child lookups
   of patterns that load children) with --samples parameter sets drawn from the data (the same
   sets in every variant): median and p99 latency;
4. insert --inserts held-back rows into the scenario's most-inserted leaf table, 100 rows per
   transaction: rows per second.

It prints per-pattern latencies and the ratios the design is judged by (p99 of `pk` over
`polyplan` on the patterns that need a secondary index; insert rate of `polyplan` over `single`;
index counts), and checks each pattern's p99 against the latency target the model declares.

    python bench/indexes.py                                  # every bundled scenario
    python bench/indexes.py --scenario shop --rows 200000    # quicker
    python bench/indexes.py --json bench/indexes.json        # keep the numbers

The server comes from POLYPLAN_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
Databases are named polyplan_bench_<hex>_<variant> and dropped afterwards.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import json
import os
import platform
import random
import re
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from polyplan.model.schema import Family
from polyplan.pipeline import plan_file
from polyplan.plan.ir import Plan
from polyplan.seed import generate, rows_for_scale
from polyplan.seed.relational import table_rows
from polyplan.stores.relational.connect import create_engine
from polyplan.stores.relational.design import design_schema
from polyplan.stores.relational.index_render import foreign_key_select
from polyplan.stores.relational.index_testgen import time_ordered
from polyplan.stores.relational.indexes import column_of, index_plan_of
from polyplan.stores.relational.render import DIALECTS, build_metadata, build_queries
from polyplan.stores.relational.spec import TableKind, TableSpec
from polyplan.stores.relational.sqltext import text_clause

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
VARIANTS = ("pk", "single", "polyplan")
PG: Any = postgresql.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's constructors are untyped


def quote(name: str) -> str:
    """A PostgreSQL identifier, quoted when it needs to be."""
    return str(PG.identifier_preparer.quote(name))


BATCH = 100  # rows per insert transaction
INSERT_ROUNDS = 8
WARMUP = 5


@dataclass
class Read:
    """One query the application runs: a pattern's, or the child lookup of a pattern that loads."""

    name: str
    table: str
    sql: str
    params: list[dict[str, str]]
    constants: str | None
    route: str  # how polyplan serves it: an index name, "primary key", "unique (…)"
    needs_index: bool  # filters on a column no key or unique rule leads with, and polyplan indexes it
    latency_ms: float | None
    flagged: bool  # the plan already warns (PP501) that its target is at risk
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Timing:
    n: int
    median_ms: float
    p99_ms: float


@dataclass
class ScenarioResult:
    scenario: str
    rows: dict[str, int]
    largest_table: tuple[str, int]
    indexes: dict[str, int]  # secondary indexes per variant (all tables)
    insert_table: str
    insert_indexes: dict[str, int]  # secondary indexes on the insert table per variant
    inserts_per_second: dict[str, float]
    wal_bytes_per_row: dict[str, float]
    reads: dict[str, dict[str, Timing]]  # read → variant → timing
    routes: dict[str, str]
    needs_index: dict[str, bool]
    targets: dict[str, float | None]
    flagged: dict[str, bool]
    seconds: float = 0.0
    plan_indexes: dict[str, list[str]] = field(default_factory=dict)  # read → indexes in its EXPLAIN (polyplan)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- data ------------------------------------------------------------------------------------


def _relational(plan: Plan) -> list[str]:
    return plan.records_in(Family.RELATIONAL)


def _insert_table(plan: Plan, tables: list[TableSpec]) -> TableSpec:
    """The most-inserted entity table no other table references (its own list tables aside)."""
    referenced = {
        fk.ref_table
        for t in tables
        for fk in t.foreign_keys
        if t.kind is not TableKind.LIST_CHILD and fk.ref_table != t.name
    }
    leaves = [t for t in tables if t.kind is TableKind.ENTITY and t.name not in referenced]
    return max(leaves, key=lambda t: (plan.entities[t.entity].profile.insert_rate, t.name))


def seed_counts(plan: Plan, target_rows: int, extra: tuple[str, int]) -> dict[str, int]:
    """Rows per entity: the largest relational entity gets `target_rows`; other stores' entities 10."""
    model = plan.model
    relational = _relational(plan)
    largest = max(model.entities[e].growth.initial_rows for e in relational)
    rows = rows_for_scale(model, target_rows / largest, minimum=10)
    for name in model.entities:
        if name not in relational:
            rows[name] = 10
    rows[extra[0]] += extra[1]
    return rows


# --- databases -------------------------------------------------------------------------------


@contextmanager
def databases(url: str, tag: str) -> Iterator[dict[str, str]]:
    """Names of the three variant databases (created lazily by the caller), dropped on exit."""
    stem = f"polyplan_bench_{uuid.uuid4().hex[:10]}_{tag}"
    names = {variant: f"{stem}_{variant}" for variant in VARIANTS}
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        yield names
    finally:
        with admin.connect() as connection:
            for name in names.values():
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


COLLATIONS = {
    # What most production databases run (en_US.UTF-8): a plain B-tree cannot answer LIKE 'abc%'.
    "icu-en-US": "TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'",
    "C": "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
    "server-default": "",
}


def _engine(url: str, database: str) -> sa.Engine:
    return create_engine(sa.engine.make_url(url).set(database=database))


def _exec_autocommit(url: str, database: str, statements: list[str]) -> None:
    engine = create_engine(sa.engine.make_url(url).set(database=database), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                # Without parameters, so that the drivers do not read a `%` in a literal as one.
                connection.exec_driver_sql(statement, execution_options={"no_parameters": True})
    finally:
        engine.dispose()


def _copy_rows(engine: sa.Engine, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    columns = [c for c in table.columns if c.computed is None]
    json_columns = {c.name for c in columns if isinstance(c.type, sa.JSON)}
    names = ", ".join(quote(c.name) for c in columns)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        Jsonb(row[c.name]) if c.name in json_columns and row[c.name] is not None else row[c.name]
                        for c in columns
                    ]
                )
        raw.commit()
    finally:
        raw.close()


# --- reads -----------------------------------------------------------------------------------


def reads_of(plan: Plan, tables: list[TableSpec], metadata: sa.MetaData, flagged: set[str]) -> list[Read]:
    """Every relational read polyplan routes: pattern queries and the child lookups of loads.

    `flagged`: patterns the plan already warns about (PP501, latency target at risk).
    """
    rendered = build_metadata(tables, "postgresql")
    queries = {q.name: q for q in build_queries(plan, tables, rendered)[0]}
    dialect = DIALECTS["postgresql"].sa_dialect()
    patterns = {p.name: p for p in plan.model.access_patterns}
    found: list[Read] = []
    for spec in tables:
        index_plan = index_plan_of(spec)
        if index_plan is None:
            continue
        for route in index_plan.routes:
            if route.via == "none":
                continue
            label = route.index or route.via
            if route.pattern.startswith("fk:"):
                columns = route.pattern[route.pattern.index("(") + 1 : -1].split(", ")
                loaders = re.findall(r"loaded by ([^;)]+)", route.shape)
                name = f"{loaders[0].split(',')[0].strip()} → {spec.name}" if loaders else route.pattern
                statement = foreign_key_select(metadata.tables[spec.name], columns)
                latency = patterns[loaders[0].split(",")[0].strip()].latency_ms if loaders else None
                found.append(
                    Read(
                        name,
                        spec.name,
                        str(statement.compile(dialect=dialect)),
                        [{"name": c, "column": c, "op": "eq"} for c in columns],
                        None,
                        label,
                        route.via == "index" and _non_key(spec, columns),
                        latency,
                        False,
                    )
                )
                continue
            query = queries.get(route.pattern)
            if query is None:
                continue
            pattern = patterns[route.pattern]
            constants = []
            filtered = []
            for flt in pattern.filters:
                column = column_of(spec, pattern.entity, flt.attribute) or flt.attribute
                filtered.append(column)
                if "value" in flt.model_fields_set:
                    constants.append(_constant_sql(metadata.tables[spec.name], column, flt.value))
            found.append(
                Read(
                    route.pattern,
                    spec.name,
                    query.sql,
                    [{"name": p.name, "column": p.column, "op": p.op} for p in query.params],
                    " AND ".join(constants) or None,
                    label,
                    route.via == "index" and _non_key(spec, filtered),
                    pattern.latency_ms,
                    route.pattern in flagged,
                )
            )
    return found


def _non_key(spec: TableSpec, columns: list[str]) -> bool:
    """Whether some filtered column is not the leading column of the primary key or a unique rule."""
    leading = {group[0] for group in (spec.primary_key, *spec.uniques) if group}
    return any(column not in leading for column in columns)


def _constant_sql(table: sa.Table, column: str, value: Any) -> str:
    from polyplan.stores.relational.index_render import constant_predicate

    expression = constant_predicate(table.c[column], value, "postgresql")
    return str(expression.compile(dialect=PG, compile_kwargs={"literal_binds": True}))


def draw_samples(engine: sa.Engine, read: Read, count: int, rng: random.Random) -> None:
    """`count` parameter sets for `read`, drawn from the loaded rows (the same for every variant)."""
    if not read.params:
        read.samples = [{} for _ in range(count)]
        return
    columns = sorted({p["column"] for p in read.params})
    where = " AND ".join([*(f"{quote(c)} IS NOT NULL" for c in columns), *([read.constants] if read.constants else [])])
    with engine.connect() as connection:
        connection.exec_driver_sql(f"SELECT setseed({rng.random():.6f})")
        picked = connection.exec_driver_sql(
            f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(read.table)} WHERE {where} ORDER BY random() LIMIT {count}",
            execution_options={"no_parameters": True},  # `where` holds the model's constants
        ).fetchall()
        ordered: dict[str, list[Any]] = {}
        for param in read.params:
            if param["op"] in ("to", "in") and param["column"] not in ordered:
                column = quote(param["column"])
                ordered[param["column"]] = list(
                    connection.exec_driver_sql(
                        f"SELECT {column} FROM {quote(read.table)} WHERE {column} IS NOT NULL ORDER BY 1"
                    ).scalars()
                )
    read.samples = []
    for row in picked:
        sample = dict(zip(columns, row, strict=True))
        values: dict[str, Any] = {}
        for param in read.params:
            column, value = param["column"], sample[param["column"]]
            if param["op"] in ("eq", "from"):
                values[param["name"]] = value
            elif param["op"] == "to":
                series = ordered[column]
                at = bisect.bisect_right(series, value) + max(1, len(series) // 100)
                values[param["name"]] = series[min(at, len(series) - 1)]
            elif param["op"] == "in":
                values[param["name"]] = [value, rng.choice(ordered[column])]
            elif param["op"] == "prefix":
                prefix = re.match(r"[0-9A-Za-z]{1,3}|.", str(value)).group(0)  # type: ignore[union-attr]
                wildcard = not re.search(rf":{param['name']}\b\s*\|\|\s*'%'", read.sql)
                values[param["name"]] = prefix + ("%" if wildcard else "")
            else:
                words = [w for w in re.split(r"[^0-9A-Za-z]+", str(value)) if len(w) >= 4]
                values[param["name"]] = max(words, key=len) if words else str(value)
        read.samples.append(values)


def text_with_lists(sql: str, lists: list[str]) -> sa.TextClause:
    """queries.sql text as a statement; `IN (:name)` lists expand (text() wants `IN :name`)."""
    for name in lists:
        sql = sql.replace(f"(:{name})", f":{name}")
    return text_clause(sql).bindparams(*(sa.bindparam(name, expanding=True) for name in lists))


def _index_names(node: dict[str, Any]) -> list[str]:
    found = [node["Index Name"]] if "Index Name" in node else []
    for child in node.get("Plans", []):
        found += _index_names(child)
    return found


def plan_indexes(engine: sa.Engine, read: Read) -> list[str]:
    """The indexes PostgreSQL's own plan uses for `read` (EXPLAIN with its first sample)."""
    lists = [p["name"] for p in read.params if p["op"] == "in"]
    statement = text_with_lists(f"EXPLAIN (FORMAT JSON) {read.sql}", lists)
    with engine.connect() as connection:
        document = connection.execute(statement, read.samples[0] if read.samples else {}).scalar_one()
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    return sorted(set(_index_names(plan)))


def time_read(engine: sa.Engine, read: Read, budget: float) -> Timing:
    """Median and p99 over the samples (stopping early, after 20, once `budget` seconds pass)."""
    statement = text_with_lists(read.sql, [p["name"] for p in read.params if p["op"] == "in"])
    durations: list[float] = []
    with engine.connect() as connection:
        # Warm the variant's caches first (each variant is a fresh clone), within half the budget.
        started = time.perf_counter()
        for params in read.samples[: max(WARMUP, len(read.samples) // 4)]:
            connection.execute(statement, params).fetchall()
            if time.perf_counter() - started > budget / 2:
                break
        gc.disable()  # the client's garbage collector is not the database's latency
        try:
            started = time.perf_counter()
            for params in read.samples:
                before = time.perf_counter()
                connection.execute(statement, params).fetchall()
                durations.append((time.perf_counter() - before) * 1000)
                if len(durations) >= 20 and time.perf_counter() - started > budget:
                    break
        finally:
            gc.enable()
    durations.sort()
    p99 = durations[min(len(durations) - 1, round(0.99 * (len(durations) - 1)))]
    return Timing(len(durations), statistics.median(durations), p99)


def _explained_insert(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> int:
    """Insert `rows` in one statement and return the WAL bytes that statement wrote.

    EXPLAIN (ANALYZE, WAL) counts the WAL of this backend's statement only, so the figure does
    not pick up other sessions' writes on a shared server (the server-wide WAL position does).
    """
    compiled = table.insert().values(rows).compile(dialect=PG)
    explained = connection.exec_driver_sql(
        f"EXPLAIN (ANALYZE, WAL, TIMING OFF, FORMAT JSON) {compiled}", compiled.params
    ).scalar_one()
    document = json.loads(explained) if isinstance(explained, str) else explained
    return int(document[0]["Plan"].get("WAL Bytes", 0))


def time_inserts(
    engine: sa.Engine, batches: list[list[tuple[sa.Table, list[dict[str, Any]]]]]
) -> tuple[int, float, int]:
    """(rows, seconds, WAL bytes) inserting `batches`, one transaction per batch."""
    total = sum(len(rows) for batch in batches for _, rows in batch)
    wal = 0
    started = time.perf_counter()
    with engine.connect() as connection:
        for batch in batches:
            with connection.begin():
                for table, rows in batch:
                    if rows:
                        wal += _explained_insert(connection, table, rows)
    return total, time.perf_counter() - started, wal


# --- one scenario ----------------------------------------------------------------------------


def single_column_indexes(plan: Plan, tables: list[TableSpec], reads: list[Read]) -> list[str]:
    """One B-tree per filtered column, the way a per-column habit would add them.

    A column a key or unique rule already leads with gets none (that index serves it), except
    for a prefix search, which needs a pattern operator class under a linguistic collation.
    """
    by_name = {t.name: t for t in tables}
    wanted: dict[tuple[str, str], bool] = {}  # (table, column) → searched by prefix
    for read in reads:
        for param in read.params:
            key = (read.table, param["column"])
            wanted[key] = wanted.get(key, False) or param["op"] == "prefix"
        pattern = next((p for p in plan.model.access_patterns if p.name == read.name), None)
        if pattern is None:
            continue
        for flt in pattern.filters:
            column = column_of(by_name[read.table], pattern.entity, flt.attribute)
            if column and flt.op.value != "fulltext":
                wanted.setdefault((read.table, column), False)
    statements = []
    for (table, column), prefix in sorted(wanted.items()):
        spec = by_name[table]
        keyed = any(group[:1] == (column,) for group in (spec.primary_key, *spec.uniques))
        if keyed and not prefix:
            continue
        ops = ""
        if prefix:
            ops = " text_pattern_ops" if spec.column(column).attribute.type.value == "text" else " varchar_pattern_ops"
        statements.append(
            f"CREATE INDEX {quote(f'bench_{table}_{column}'[:63])} ON {quote(table)} ({quote(column)}{ops})"
        )
    return statements


def run_scenario(
    path: Path, url: str, target_rows: int, samples: int, inserts: int, budget: float, seed: int, collation: str
) -> ScenarioResult | None:
    started = time.perf_counter()
    plan = plan_file(path)
    if not _relational(plan):
        log(f"{path.stem}: no relational entities; skipped")
        return None
    tables, diagnostics = design_schema(plan)
    flagged = {d.message.split(":")[0] for d in diagnostics if d.code == "PP501"}
    metadata = build_metadata(tables, "postgresql").metadata
    insert_spec = _insert_table(plan, tables)
    rows = seed_counts(plan, target_rows, (insert_spec.entity, inserts))
    log(f"{path.stem}: generating {sum(rows.values()):,} records …")
    records = generate(plan.model, rows, seed=seed)
    held_back = records[insert_spec.entity][-inserts:]
    records[insert_spec.entity] = records[insert_spec.entity][:-inserts]
    mapped = table_rows(tables, records, "postgresql")
    for name, column in time_ordered(plan, tables).items():  # append-only rows arrive in time order
        mapped[name].sort(key=lambda row: (row[column] is None, str(row[column])))
    largest = max(mapped.items(), key=lambda item: len(item[1]))
    own = [t for t in tables if t.entity == insert_spec.entity and t.kind in (TableKind.ENTITY, TableKind.LIST_CHILD)]
    held = table_rows(own, {insert_spec.entity: held_back}, "postgresql")
    reads = reads_of(plan, tables, metadata, flagged)
    rng = random.Random(seed)
    indexes_polyplan = [
        str(CreateIndex(index).compile(dialect=PG))
        for table in metadata.sorted_tables
        for index in sorted(table.indexes, key=lambda i: str(i.name))
    ]
    indexes_single = single_column_indexes(plan, tables, reads)
    with databases(url, path.stem) as names:
        _exec_autocommit(
            url,
            sa.engine.make_url(url).database or "postgres",
            [f"CREATE DATABASE {names['pk']} {COLLATIONS[collation]}"],
        )
        base = _engine(url, names["pk"])
        with base.begin() as connection:
            for table in metadata.sorted_tables:
                connection.execute(CreateTable(table))
        log(
            f"{path.stem}: loading {sum(len(r) for r in mapped.values()):,} rows (largest: {largest[0]} {len(largest[1]):,}) …"
        )
        for table in metadata.sorted_tables:
            _copy_rows(base, table, mapped[table.name])
        base.dispose()
        _exec_autocommit(url, names["pk"], ["VACUUM ANALYZE"])
        for variant, statements in (("single", indexes_single), ("polyplan", indexes_polyplan)):
            _exec_autocommit(
                url,
                sa.engine.make_url(url).database or "postgres",
                [f"CREATE DATABASE {names[variant]} TEMPLATE {names['pk']}"],
            )
            log(f"{path.stem}: {variant}: building {len(statements)} indexes …")
            _exec_autocommit(url, names[variant], [*statements, "VACUUM ANALYZE"])
        engines = {variant: _engine(url, names[variant]) for variant in VARIANTS}
        for read in reads:
            draw_samples(engines["pk"], read, samples, rng)
        timings: dict[str, dict[str, Timing]] = {read.name: {} for read in reads}
        used = {read.name: plan_indexes(engines["polyplan"], read) for read in reads}
        for name, names_used in used.items():
            log(f"{path.stem}: polyplan plan of {name}: {', '.join(names_used) or 'no index'}")
        for number, read in enumerate(reads):
            # Variants back to back per read, in rotating order, so drift in the machine's load
            # does not favour one of them.
            for variant in VARIANTS[number % 3 :] + VARIANTS[: number % 3]:
                timings[read.name][variant] = time_read(engines[variant], read, budget)
                t = timings[read.name][variant]
                log(
                    f"{path.stem}: {variant:8} {read.name:40} n={t.n:4} p50={t.median_ms:9.3f} ms p99={t.p99_ms:9.3f} ms"
                )
        insert_batches: list[list[tuple[sa.Table, list[dict[str, Any]]]]] = []
        owner = held[insert_spec.name]
        children = {name: rows_ for name, rows_ in held.items() if name != insert_spec.name}
        key = insert_spec.primary_key
        for start in range(0, len(owner), BATCH):
            chunk = owner[start : start + BATCH]
            keys = {tuple(r[k] for k in key) for r in chunk}
            batch = [(metadata.tables[insert_spec.name], chunk)]
            for name, child_rows in children.items():
                child_key = [c.name for c in next(t for t in tables if t.name == name).columns][: len(key)]
                batch.append((metadata.tables[name], [r for r in child_rows if tuple(r[c] for c in child_key) in keys]))
            insert_batches.append(batch)
        # Inserts in rounds, each variant once per round in rotating order, each after a
        # CHECKPOINT, so that no variant pays for another's dirty pages or full-page writes.
        spent = dict.fromkeys(VARIANTS, 0.0)
        inserted = dict.fromkeys(VARIANTS, 0)
        wal = dict.fromkeys(VARIANTS, 0)
        rounds = [insert_batches[i::INSERT_ROUNDS] for i in range(INSERT_ROUNDS)]
        for number, batches in enumerate(rounds):
            for variant in VARIANTS[number % 3 :] + VARIANTS[: number % 3]:
                _exec_autocommit(url, names[variant], ["CHECKPOINT"])
                rows_in, seconds, written = time_inserts(engines[variant], batches)
                wal[variant] += written
                spent[variant] += seconds
                inserted[variant] += rows_in
        rates = {variant: inserted[variant] / spent[variant] for variant in VARIANTS}
        wal_per_row = {variant: wal[variant] / inserted[variant] for variant in VARIANTS}
        for variant in VARIANTS:
            log(
                f"{path.stem}: {variant:8} inserts into {insert_spec.name}: {rates[variant]:,.0f} rows/s, "
                f"{wal_per_row[variant]:,.0f} WAL bytes/row"
            )
        counts = {}
        on_insert_table = {}
        for variant, engine in engines.items():
            with engine.connect() as connection:
                counted = connection.exec_driver_sql(
                    "SELECT c.relname, count(*) FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND NOT x.indisprimary AND NOT x.indisunique GROUP BY c.relname"
                ).fetchall()
            counts[variant] = sum(n for _, n in counted)
            on_insert_table[variant] = next((int(n) for name, n in counted if name == insert_spec.name), 0)
            engine.dispose()
    return ScenarioResult(
        scenario=path.stem,
        rows={name: len(r) for name, r in mapped.items()},
        largest_table=(largest[0], len(largest[1])),
        indexes=counts,
        insert_table=insert_spec.name,
        insert_indexes=on_insert_table,
        inserts_per_second=rates,
        wal_bytes_per_row=wal_per_row,
        reads=timings,
        routes={r.name: r.route for r in reads},
        needs_index={r.name: r.needs_index for r in reads},
        targets={r.name: r.latency_ms for r in reads},
        flagged={r.name: r.flagged for r in reads},
        seconds=time.perf_counter() - started,
        plan_indexes=used,
    )


# --- report ----------------------------------------------------------------------------------


def _result_from_json(data: dict[str, Any]) -> ScenarioResult:
    reads = {name: {v: Timing(**t) for v, t in by_variant.items()} for name, by_variant in data["reads"].items()}
    return ScenarioResult(**{**data, "reads": reads, "largest_table": tuple(data["largest_table"])})


def _route_in_plan(route: str, used: list[str]) -> bool:
    if route == "primary key":
        return any(name.startswith("pk_") for name in used)
    if route.startswith("unique"):
        return any(name.startswith(("uq_", "pk_")) for name in used)
    return route in used


@dataclass(frozen=True)
class Thresholds:
    """The claims this benchmark makes, as numbers it checks: a missed one fails the run."""

    read_speedup: float = 10.0  # p99 of `pk` over `polyplan`, on reads routed to a designed index
    wal_slack: float = 0.001  # polyplan may write this fraction more WAL per inserted row than `single`


THRESHOLDS = Thresholds()


def verdicts(result: ScenarioResult, limits: Thresholds = THRESHOLDS) -> list[tuple[bool, str]]:
    """The claims checked on one scenario: (held, the claim with its numbers).

    Every claim is a threshold; there is no third state. Insert cost is judged by WAL bytes per
    row, a count, because the insert rate on this shared machine varies more between runs than
    the variants differ (the rate is reported beside it, not judged)."""
    lines: list[tuple[bool, str]] = []
    if result.plan_indexes:
        missing = [n for n, used in result.plan_indexes.items() if not _route_in_plan(result.routes[n], used)]
        total = len(result.plan_indexes)
        lines.append(
            (
                not missing,
                f"PostgreSQL's own plan (EXPLAIN) uses the routed index for {total - len(missing)}/{total} reads"
                + (f"; not: {', '.join(missing)}" if missing else ""),
            )
        )
    ratios = {
        name: t["pk"].p99_ms / t["polyplan"].p99_ms for name, t in result.reads.items() if result.needs_index[name]
    }
    if ratios:
        worst = min(ratios, key=lambda n: (ratios[n], n))
        lines.append(
            (
                ratios[worst] >= limits.read_speedup,
                f"p99 pk ÷ polyplan ≥ {limits.read_speedup:g}× on every read routed to a designed index: "
                f"lowest {ratios[worst]:,.1f}× ({worst})",
            )
        )
    rate = result.inserts_per_second
    wal = result.wal_bytes_per_row
    lines.append(
        (
            wal["polyplan"] <= wal["single"] * (1 + limits.wal_slack),
            f"inserts into {result.insert_table} write no more WAL per row than `single`: "
            f"{wal['polyplan']:,.0f} vs {wal['single']:,.0f} bytes/row "
            f"(rate {rate['polyplan']:,.0f} vs {rate['single']:,.0f} rows/s, reported, not judged)",
        )
    )
    counts = f"polyplan {result.indexes['polyplan']} vs single {result.indexes['single']}"
    counts += f" (on {result.insert_table}: {result.insert_indexes['polyplan']} vs {result.insert_indexes['single']})"
    lines.append((result.indexes["polyplan"] <= result.indexes["single"], f"no more secondary indexes: {counts}"))
    over = []
    for name, timing in result.reads.items():
        target = result.targets[name]
        if target is not None and timing["polyplan"].p99_ms > target:
            flag = ", the plan warns PP501" if result.flagged[name] else ""
            over.append(f"{name} {timing['polyplan'].p99_ms:.2f} ms > {target:g} ms{flag}")
    targeted = sum(1 for n in result.reads if result.targets[n] is not None)
    lines.append(
        (
            not over,
            f"every read's p99 is within its latency target ({targeted - len(over)}/{targeted})"
            + (f"; over: {'; '.join(over)}" if over else ""),
        )
    )
    return lines


def _verdict_lines(result: ScenarioResult) -> list[str]:
    return [f"{'PASS' if held else 'FAIL'} {text}" for held, text in verdicts(result)]


def all_held(results: list[ScenarioResult]) -> bool:
    """True when every claim held on every scenario."""
    return all(held for result in results for held, _ in verdicts(result))


def render_saved(saved: dict[str, Any]) -> str:
    """The docs section of a results file written by --json (bench/render_docs.py calls this)."""
    return markdown([_result_from_json(r) for r in saved["results"]], saved["command"])


def markdown(results: list[ScenarioResult], command: str) -> str:
    """The `## Index design (bench/indexes.py)` section of docs/benchmarks.md."""
    out = [
        "## Index design (bench/indexes.py)",
        "",
        f"Reproduce: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        "PostgreSQL on the same host (the server and version are printed by the run).",
        "",
        "Three variants load identical data: `pk` (primary keys and unique rules only), `single` (plus one "
        "single-column B-tree on every filtered column), `polyplan` (plus the designed index set). Latencies are "
        "client-side wall-clock per query, in milliseconds. Inserts: held-back rows of the most-inserted leaf table, "
        f"{BATCH} rows per transaction. A read is timed over its drawn parameter sets, stopping early once its "
        "time budget is spent: the samples column gives the real count behind each p99.",
        "",
        f"Claims, each a threshold the run checks and exits 1 on: EXPLAIN uses the routed index for every read; "
        f"p99 pk ÷ polyplan ≥ {THRESHOLDS.read_speedup:g}× on reads routed to a designed index; WAL per inserted row "
        f"no more than `single` (+{THRESHOLDS.wal_slack:.1%}); no more secondary indexes than `single`; every p99 "
        "within the model's latency target.",
        "",
    ]
    for result in results:
        out += [
            f"### {result.scenario}",
            "",
            f"Largest table: `{result.largest_table[0]}` with {result.largest_table[1]:,} rows; run took {result.seconds:,.0f} s.",
            "",
            "| read | polyplan route | target ms | samples pk / single / polyplan | pk p50 / p99 | single p50 / p99 "
            "| polyplan p50 / p99 | p99 pk ÷ polyplan |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, t in result.reads.items():
            ratio = t["pk"].p99_ms / t["polyplan"].p99_ms
            target = f"{result.targets[name]:g}" if result.targets[name] is not None else ""
            out.append(
                f"| `{name}` | {result.routes[name]} | {target} | {t['pk'].n:,} / {t['single'].n:,} / {t['polyplan'].n:,} | "
                f"{t['pk'].median_ms:.2f} / {t['pk'].p99_ms:.2f} | "
                f"{t['single'].median_ms:.2f} / {t['single'].p99_ms:.2f} | {t['polyplan'].median_ms:.2f} / {t['polyplan'].p99_ms:.2f} | "
                f"{ratio:,.1f}× |"
            )
        rate = result.inserts_per_second
        out += [
            "",
            f"Inserts into `{result.insert_table}`: pk {rate['pk']:,.0f} rows/s, single {rate['single']:,.0f} rows/s, "
            f"polyplan {rate['polyplan']:,.0f} rows/s (polyplan ÷ single = {rate['polyplan'] / rate['single']:.2f}×); "
            f"WAL per row: pk {result.wal_bytes_per_row['pk']:,.0f}, single {result.wal_bytes_per_row['single']:,.0f}, "
            f"polyplan {result.wal_bytes_per_row['polyplan']:,.0f} bytes. "
            f"Secondary indexes: single {result.indexes['single']} (on `{result.insert_table}`: {result.insert_indexes['single']}), "
            f"polyplan {result.indexes['polyplan']} (on `{result.insert_table}`: {result.insert_indexes['polyplan']}).",
            "",
        ]
        out += [f"- {line}" for line in _verdict_lines(result)]
        out.append("")
    return "\n".join(out)


def main() -> int:
    # A terminated run still drops its databases (the `finally` blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", help="bundled scenario name (repeatable); default: all")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the largest relational entity")
    parser.add_argument("--samples", type=int, default=1000, help="parameter sets per read")
    parser.add_argument("--inserts", type=int, default=40_000, help="rows inserted per variant")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per read and variant before stopping early")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--collation", choices=sorted(COLLATIONS), default="icu-en-US", help="collation of the databases"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--markdown", type=Path, help="write the docs/benchmarks.md section here")
    parser.add_argument("--report", type=Path, help="re-render the report of a saved --json run (runs nothing)")
    args = parser.parse_args()
    if args.report:
        saved = json.loads(args.report.read_text(encoding="utf-8"))
        text = render_saved(saved)
        if args.markdown:
            args.markdown.write_text(text, encoding="utf-8")
        print(text)
        return 0 if all_held([_result_from_json(r) for r in saved["results"]]) else 1
    url = os.environ.get("POLYPLAN_POSTGRES_URL", DEFAULT_URL)
    paths = sorted((ROOT / "scenarios").glob("*.yaml"))
    if args.scenario:
        paths = [p for p in paths if p.stem in args.scenario]
    with create_engine(url).connect() as connection:
        log(f"server: {connection.exec_driver_sql('SELECT version()').scalar()}")
    results = []
    for path in paths:
        result = run_scenario(path, url, args.rows, args.samples, args.inserts, args.budget, args.seed, args.collation)
        if result is None:
            continue
        results.append(result)
        print(f"\n== {result.scenario} ==")
        for line in _verdict_lines(result):
            print(line)
    shown = [
        a
        for i, a in enumerate(sys.argv[1:])
        if a not in ("--json", "--markdown") and sys.argv[i] not in ("--json", "--markdown")
    ]
    command = " ".join(["python bench/indexes.py", *shown])  # output paths do not change the numbers
    if args.json:
        saved = {"command": command, "results": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(saved, indent=1, default=str) + "\n", encoding="utf-8")
    text = markdown(results, command)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    print()
    print(text)
    return 0 if all_held(results) else 1


if __name__ == "__main__":
    sys.exit(main())
