"""The scaffold's end-to-end modules (pure): `load.py`, the plan's patterns at their relative rates
against the real stores, and `check.py`, every projection compared with the system of record.

Both are tables over the package's own functions, run by `e2e_runtime.py` (copied from
`polyplan/scaffold/e2e_runtime.py`, tested there). The tables come from the same plan as the rest of
the package: the scaffold design (functions, classes, cache keys, search targets), the relational
queries' parameter columns and the search design's parameter attributes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from polyplan.emit.embed import module_code
from polyplan.plan.ir import Plan
from polyplan.scaffold.design import OUTBOX_TABLE, ResultClass, Scaffold
from polyplan.scaffold.e2e_stores import StoreParts
from polyplan.scaffold.module_text import _CLIENTS, _HEADER, _from_import, _literal, _module
from polyplan.scaffold.relational_writes import PlannedWrite
from polyplan.stores.relational.design import designed_tables
from polyplan.stores.relational.render import DIALECTS, build_engines, column_for
from polyplan.stores.relational.spec import TableKind, TableSpec


@dataclass(frozen=True)
class _Entity:
    entity: str
    row: str  # its dataclass
    table: str
    key: tuple[tuple[str, str], ...]
    uniques: tuple[tuple[str, str, int | None], ...]
    references: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class _Call:
    """One pattern of the load: a read (store database, cache or search) or a write (its kind)."""

    pattern: str
    entity: str
    rate: float
    store: str
    function: str  # module.function
    params: tuple[Any, ...]  # a read's (parameter, column, op, kind); a write's key and written (parameter, column)


def _entity(spec: TableSpec, row: str, kinds: dict[str, str], entity_of: dict[str, str]) -> _Entity:
    uniques = tuple(
        (u[0], kinds[u[0]], spec.column(u[0]).attribute.max_length)
        for u in spec.uniques
        if len(u) == 1 and u[0] not in spec.primary_key
    )
    # (columns, parent entity, parent columns): a row that refers to a deleted one is forgotten with it.
    references = tuple(
        (fk.columns, entity_of[fk.ref_table], fk.ref_columns) for fk in spec.foreign_keys if fk.ref_table in entity_of
    )
    key = tuple((c, kinds[c]) for c in spec.primary_key)
    return _Entity(spec.entity, row, spec.name, key, uniques, references)


def _calls(plan: Plan, scaffold: Scaffold, tables: Sequence[TableSpec]) -> tuple[list[_Call], list[_Call]]:
    """The reads (as the plan serves them: a search pattern from its index) and the writes."""
    model = plan.model
    rates = {p.name: p.rate for p in model.access_patterns}
    searched = {r.pattern: r for r in scaffold.search_reads}
    attributes: dict[str, tuple[str, ...]] = {}
    if searched:
        from polyplan.stores.search.design import design_search

        for index in design_search(plan).indexes:
            for query in index.queries:
                attributes[query.pattern] = tuple(p.attribute for p in query.params)
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    columns: dict[str, tuple[str, ...]] = {}
    if scaffold.reads:
        engine = scaffold.engines[0]
        queries = build_engines(plan, list(tables))[engine].queries
        columns = {q.name: tuple(p.column for p in q.params) for q in queries}
    reads: list[_Call] = []
    relational = {r.pattern: r for r in scaffold.reads}
    for pattern in model.access_patterns:
        if pattern.name in searched:
            read = searched[pattern.name]
            spec = by_entity[read.entity]
            params = tuple(
                (p.name, column_for(spec, read.entity, a) or a, p.op, p.kind)
                for p, a in zip(read.params, attributes[read.pattern], strict=True)
            )
            reads.append(
                _Call(read.pattern, read.entity, rates[read.pattern], "search", f"search.{read.pattern}", params)
            )
        elif pattern.name in relational:
            found = relational[pattern.name]
            params = tuple((p.name, c, p.op, p.kind) for p, c in zip(found.params, columns[found.pattern], strict=True))
            store = "cache" if found.cache else "database"
            reads.append(
                _Call(found.pattern, found.entity, rates[found.pattern], store, f"reads.{found.pattern}", params)
            )
    write_rates = {w.name: w.rate for w in model.write_patterns}
    writes = [
        _Call(
            w.name,
            w.entity,
            write_rates[w.name],
            w.kind.value,
            f"writes.{w.name}",
            (
                tuple((c.field, c.name) for c in w.key),
                tuple((c.field, c.name) for c in w.written),
            ),
        )
        for w in scaffold.writes
    ]
    writes += [_planned_call(w, write_rates[w.name]) for w in scaffold.planned_writes]
    return reads, writes


def _planned_call(write: PlannedWrite, rate: float) -> _Call:
    """A write run as writes.sql has it: an increment by its key's parameters, a predicate's
    parameters drawn like a read's (op and kind), the values it sets from another row."""
    if write.kind == "increment":
        key = tuple((p.field, p.column) for p in write.params if p.op != "delta")
        return _Call(write.name, write.entity, rate, "increment", f"writes.{write.name}", (key, (), ()))
    where = tuple((p.field, p.column, p.op, p.kind) for p in write.params if p.op != "set")
    written = tuple((p.field, p.column) for p in write.params if p.op == "set")
    return _Call(write.name, write.entity, rate, "predicate", f"writes.{write.name}", ((), written, where))


def _select(engine: str, table: str, sample: bool = False, share: bool = False) -> str:
    """SELECT * of one planned table: `:n` rows at random (the load's sample), or all of them, share
    locked (the backfill: a writer of a row waits, so its event comes after the backfilled one)."""
    query: sa.Select[Any] = sa.select(sa.literal_column("*")).select_from(sa.table(table))
    if sample:
        query = query.order_by(sa.func.random()).limit(sa.bindparam("n"))
    if share:
        query = query.with_for_update(read=True)
    text = str(query.compile(dialect=DIALECTS[engine].sa_dialect()))
    # SQLite's compiler adds an OFFSET parameter to every LIMIT; nothing binds it.
    return " ".join(text.replace(" OFFSET :param_1", "").split())


def _tuple(items: Sequence[object]) -> str:
    return "(" + "".join(f"{item!r}, " for item in items).removesuffix(", ") + ("," if len(items) == 1 else "") + ")"


def _load(plan: Plan, scaffold: Scaffold, parts: StoreParts | None = None) -> str:
    parts = parts or StoreParts()
    package = scaffold.package
    tables = designed_tables(plan)
    reads, writes = _calls(plan, scaffold, tables)
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    rows = _entity_classes(scaffold)
    used = sorted({c.entity for c in [*reads, *writes]} | {s.entity for s in scaffold.indexes})
    entities = []
    for name in used:
        cls = rows[name]
        kinds = {c.name: c.kind for c in cls.columns}
        entities.append(_entity(by_entity[name], cls.name, kinds, {t.name: e for e, t in by_entity.items()}))
    samples = {e: {x.entity: _select(e, x.table, sample=True) for x in entities} for e in scaffold.engines}
    backfill = {
        e: {s.entity: _select(e, by_entity[s.entity].name, share=True) for s in scaffold.indexes}
        for e in scaffold.engines
    }
    search = bool(scaffold.indexes)
    client = _CLIENTS.get(scaffold.search_engine or "")
    products = {"cache": "Redis", **({"search": client.product} if client is not None else {})}
    first_use: dict[str, str] = {}
    for call in reads:
        first_use.setdefault("database" if call.store != "search" else "search", call.pattern)
        if call.store == "cache":
            first_use.setdefault("cache", call.pattern)
    for call in writes:
        first_use.setdefault("database", call.pattern)
    entity_lines = "\n".join(
        [
            *(
                f"        {x.entity!r}: EntitySpec({x.entity!r}, {x.row}, SAMPLES[engine][{x.entity!r}], {_tuple(x.key)}, "
                f"{_tuple(x.uniques)}, {_tuple(x.references)}),"
                for x in entities
            ),
            *parts.entities,  # the document store's, Cassandra's and Redis's records (e2e_stores.py)
        ]
    )
    read_lines = "\n".join(
        [
            *(
                f"    ReadSpec({c.pattern!r}, {c.entity!r}, {c.rate!r}, {c.store!r}, {c.function}, {_tuple(c.params)}),"
                for c in reads
            ),
            *parts.reads,
        ]
    )
    write_lines = "\n".join(
        f"    WriteSpec({c.pattern!r}, {c.entity!r}, {c.rate!r}, {c.store!r}, {c.function}, "
        f"{_tuple(c.params[0])}, {_tuple(c.params[1])}"
        + (f", {_tuple(c.params[2])}" if c.params[2:] and c.params[2] else "")
        + "),"
        for c in writes
    )
    write_lines = "\n".join([*([write_lines] if write_lines else []), *parts.writes])
    sample_code = f"\n\n{parts.samples}\n" if parts.samples else ""
    rows_literal = "{" + ", ".join(f"{x.entity!r}: {x.row}" for x in entities) + "}"
    probe_search = (
        "            elif store == 'search':\n                search_client(stores, pattern).info()\n" if search else ""
    )
    install_search = "        install_search(stores)\n" if search else ""
    went_search = (
        f"        store = {client.product!r} if isinstance(error, SearchUnreachable) else store\n"
        if client and search
        else ""
    )
    body = f'''# Per engine, per entity: `:n` rows at random (where the load's parameters start).
SAMPLES: dict[str, dict[str, str]] = {_literal(samples)}

# Per engine, per entity the search index is fed from: every row, share locked (the backfill).
BACKFILL: dict[str, dict[str, str]] = {_literal(backfill)}

ROWS: dict[str, Any] = {rows_literal}

# The patterns at the model's rates: reads as the plan serves them (a search pattern from its index).
READS: list[ReadSpec] = [
{read_lines}
]
WRITES: list[WriteSpec] = [
{write_lines}
]

# Each store a pattern needs, and the first pattern that needs it (named when the store is down).
FIRST_USE: dict[str, str] = {_literal(first_use)}
PRODUCTS: dict[str, str] = {_literal({k: v for k, v in sorted(products.items()) if k in first_use})}
DATABASES = {{"postgresql": "PostgreSQL", "mysql": "MariaDB/MySQL", "sqlite": "SQLite"}}
# What an unreachable store raises, from each client.
UNREACHABLE: tuple[type[Exception], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError, redis.RedisError{", SearchUnreachable" if search else ""})
# What stops the load generator and the checker with one line and exit 2.
FAILURES: tuple[type[Exception], ...] = (SettingsError, StoreUnreachable, *UNREACHABLE{"".join(", " + f for f in parts.failures)})
{sample_code}

def entities(engine: str) -> dict[str, EntitySpec]:
    """The entities the load samples and copies, with this engine's sample statement."""
    return {{
{entity_lines}
    }}


def probe(stores: Stores) -> None:
    """Ask every store a pattern needs once: StoreUnreachable, in one line naming the first pattern
    that needs it, when one does not answer."""
    for store, pattern in FIRST_USE.items():
        product = PRODUCTS.get(store) or DATABASES.get(stores.engine, stores.engine)
        try:
            if store == "database":
                with stores.database.connect() as connection:
                    connection.execute(sa.text("SELECT 1"))
            elif store == "cache" and stores.cache is not None:
                stores.cache.ping()
{probe_search}        except UNREACHABLE as error:
            raise unreachable(pattern, product, error) from None


def failed(command: str, error: Exception) -> int:
    """Print the one line of a missing setting or a store that does not answer; the exit status, 2."""
    if isinstance(error, UNREACHABLE):  # a store that went away after the probe, named by its client's error
        store = "Redis" if isinstance(error, redis.RedisError) else "the database"
{went_search}        error = unreachable(command, store, error)
    print(f"{package}.{{command}}: {{error}}", file=sys.stderr)
    return 2


def backfill(stores: Stores) -> int:
    """Add an outbox event for every row of each entity the search index is fed from (rows loaded by
    another tool, such as `polyplan seed`, that did not write events); returns how many."""
    added = 0
    with stores.database.begin() as connection:
        for entity, sql in BACKFILL[stores.engine].items():
            row_class = ROWS[entity]
            found = connection.execute(statement(sql, {{}}, row_class.KINDS)).mappings().all()
            events = [
                {{"entity": entity, "op": "backfill", "before": None, "after": row_class.from_mapping(r).to_json()}}
                for r in found
            ]
            if events:
                connection.execute(statement(OUTBOX[stores.engine]["insert"], {{}}, {{}}), events)
            added += len(events)
    return added


def main(argv: list[str] | None = None) -> int:
    """`python -m {package}.load [--seconds N] [--rate R] [--threads T] [--backfill]`."""
    parser = argparse.ArgumentParser(
        prog="{package}.load", description="Run the plan's patterns at their relative rates against the stores."
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to run")
    parser.add_argument("--rate", type=float, default=0.0, help="calls per second in all (0: as fast as they go)")
    parser.add_argument("--threads", type=int, default=4, help="worker threads")
    parser.add_argument("--seed", type=int, default=15, help="seed of the random choices")
    parser.add_argument("--sample", type=int, default=500, help="rows sampled per entity at the start")
    parser.add_argument("--backfill", action="store_true", help="first add an outbox event per indexed row")
    options = parser.parse_args(argv)
    try:
        stores = connect()
        probe(stores)
        install_outbox(stores)  # the writes add events to it, whether or not a relay ran yet
{install_search}{parts.install}        if options.backfill:
            print(f"load: backfilled {{backfill(stores)}} outbox events")
        load = Load(stores, entities(stores.engine), READS, WRITES, options.seed)
        with stores.database.connect() as connection:
            load.sample(connection, lambda spec: statement(spec.sample, {{"n": "integer"}}, spec.row.KINDS), options.sample)
        elapsed = load.run(options.seconds, options.rate, options.threads)
    except FAILURES as error:
        return failed("load", error)
    for line in load.report(elapsed):
        print(line)
    calls = sum(s.calls for s in load.stats.values())
    errors = sum(s.errors for s in load.stats.values())
    print(f"load: {{calls}} calls in {{elapsed:.1f}} s ({{calls / max(elapsed, 1e-9):.1f}}/s), {{errors}} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
'''
    classes = sorted({x.row for x in entities})
    called = sorted({c.function.split(".")[0] for c in [*reads, *writes]} | set(parts.modules))
    local = [
        *([_from_import(package, called)] if called else []),
        _from_import(f"{package}.e2e_runtime", ["EntitySpec", "Load", "ReadSpec", "WriteSpec"]),
        *parts.imports,
        *([_from_import(f"{package}.models", classes)] if classes else []),
        _from_import(f"{package}.relay", ["install_outbox"]),
        _from_import(f"{package}.runtime", ["StoreUnreachable", "statement", "unreachable"]),
        *([_from_import(f"{package}.search", ["install_search", "search_client"])] if search else []),
        _from_import(f"{package}.settings", ["SettingsError", "Stores", "connect"]),
        _from_import(f"{package}.sql", ["OUTBOX"]),
    ]
    imports = [
        "import argparse",
        "import sys",
        *parts.stdlib,
        "from typing import Any",
        "",
        "import redis",
        "import sqlalchemy as sa",
        *([f"from {client.module} import {client.unreachable} as SearchUnreachable"] if client and search else []),
        "",
        *sorted(local),  # isort's order: by module (the package's own import first)
    ]
    return _module(
        scaffold,
        "The load generator: `python -m <package>.load`, the plan's access and write patterns at their\n"
        "relative rates (a weighted choice by each pattern's rate), with parameters drawn from rows the\n"
        "system of record holds, from several threads; prints each pattern's calls, errors and p50/p99.",
        imports,
        body,
    )


def _entity_classes(scaffold: Scaffold) -> dict[str, ResultClass]:
    """Each entity's row class (its first class), not a pattern's narrower row."""
    seen: dict[str, ResultClass] = {}
    for c in scaffold.classes:
        seen.setdefault(c.entity, c)
    return seen


def _check(plan: Plan, scaffold: Scaffold, parts: StoreParts | None = None) -> str:
    parts = parts or StoreParts()
    package = scaffold.package
    tables = designed_tables(plan)
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    search = bool(scaffold.indexes)
    indexed = search or bool(parts.check)  # some index is checked (index_documents)
    client = _CLIENTS.get(scaffold.search_engine or "")
    everything = {
        e: {s.entity: _select(e, by_entity[s.entity].name) for s in scaffold.indexes} for e in scaffold.engines
    }
    outbox = sa.table(
        OUTBOX_TABLE, *(sa.column(n) for n in ("id", "entity", "before", "after", "created_at", "done_at", "error"))
    )
    events = {
        e: " ".join(str(sa.select(outbox).order_by(outbox.c.id).compile(dialect=DIALECTS[e].sa_dialect())).split())
        for e in scaffold.engines
    }
    classes = {c.name: c for c in scaffold.classes}
    cached = [r for r in scaffold.reads if r.cache is not None]
    cache_lines = "\n".join(
        f"    CachedRead({r.pattern!r}, {r.entity!r}, {r.cache.template!r}, {r.cache.ttl}, "
        f"{_tuple([(a, p, c, k) for (a, p, c), (_, k) in zip(r.cache.parts, r.cache.kinds, strict=True)])}, "
        f"{r.single}, reads.{r.pattern}, {classes[r.result].name}),"
        for r in cached
        if r.cache is not None
    )
    index_code = (
        '''

def index_documents(stores: Stores, alias: str) -> dict[str, tuple[int, dict[str, Any]]]:
    """Document id → (version, _source) of every document behind a write alias, after a refresh."""
    client = search_client(stores, "the checker")
    name = stores.index_prefix + alias
    client.indices.refresh(index=name)
    query = {"query": {"match_all": {}}, "version": True}
    return {
        str(hit["_id"]): (int(hit["_version"]), hit["_source"])
        for hit in helpers.scan(client, query=query, index=name, scroll="1m")
    }
'''
        if indexed
        else ""
    ) + (f"\n\n{parts.check}" if parts.check else "")
    index_compare = (
        "    for entity, stored in rows.items():  # the relational entities' indexes (the others: check_stores)\n"
        "        target, row_class = TARGETS[entity], ROWS[entity]\n"
        "        found = [json.loads(row_class.from_mapping(r).to_json()) for r in stored]\n"
        "        compare_index(\n"
        "            findings,\n"
        "            entity,\n"
        "            {search_id(target, row): row for row in found},\n"
        "            events,\n"
        "            index_documents(stores, target.alias),\n"
        "            partial(search_document, target),\n"
        "            partial(search_id, target),\n"
        "        )\n"
        if search
        else ""
    )
    rows_block = (
        "        rows = {\n"
        "            entity: connection.execute(statement(sql, {}, ROWS[entity].KINDS)).mappings().all()\n"
        "            for entity, sql in ROWS_SQL[stores.engine].items()\n"
        "        }\n"
        if search
        else ""
    )
    body = f'''# Per engine, per indexed entity: every row.
ROWS_SQL: dict[str, dict[str, str]] = {_literal(everything)}
# Per engine: the outbox, in event order.
EVENTS_SQL: dict[str, str] = {_literal(events)}

# Each read the plan caches in Redis: its key template, TTL (the staleness bound) and key parts
# (attribute, parameter, column, kind).
CACHED: list[CachedRead] = [
{cache_lines}
]
{index_code}

def check(stores: Stores) -> Findings:
    """Compare every projection with the system of record: each search document with its row (id,
    version, fields), each cached answer with what the system of record answers now."""
    findings = Findings()
    with stores.database.connect() as connection:
        events = changes(connection.execute(sa.text(EVENTS_SQL[stores.engine])))
{rows_block}    findings.pending = sum(1 for event in events if not event.done)
    findings.parked = [f"event {{e.id}} ({{e.entity}}): {{e.error}}" for e in events if e.error is not None]
{index_compare}{"    check_stores(stores, findings)" + chr(10) if parts.check else ""}    if stores.cache is not None:
        truth = replace(stores, cache=None)  # the same reads, answered by the system of record
        for read in CACHED:
            compare_cache(findings, stores.cache, stores.key_prefix, read, truth, events)
    return findings


def main(argv: list[str] | None = None) -> int:
    """`python -m {package}.check`: exit 0 when every projection equals the system of record, 1 with
    one line per mismatch class (lost, stale, extra, pending, parked), 2 when a store is unreachable."""
    parser = argparse.ArgumentParser(
        prog="{package}.check", description="Compare every projection with the system of record."
    )
    parser.parse_args(argv)
    try:
        stores = connect()
        probe(stores)
        findings = check(stores)
    except FAILURES as error:
        return failed("check", error)
    for line in findings.lines():
        print(f"{package}.check: {{line}}")
    print(findings.summary())
    return 1 if findings.lines() else 0


if __name__ == "__main__":
    sys.exit(main())
'''
    needs_json = search
    checked_modules = [m for m in ("documents", "records", "wide_column") if re.search(rf"\b{m}\.\w", parts.check)]
    imports = [
        "import argparse",
        *(["import json"] if needs_json else []),
        "import sys",
        "from dataclasses import replace",
        *(["from functools import partial", "from typing import Any"] if indexed else []),
        "",
        "import sqlalchemy as sa",
        *([f"from {client.module} import helpers"] if client and indexed else []),
        "",
        *(
            [_from_import(package, sorted({*(["reads"] if cached else []), *checked_modules}))]
            if cached or checked_modules
            else []
        ),
        *(
            [_from_import(f"{package}.batch_outbox_runtime", ["outbox_lag"])]
            if "outbox_lag" in parts.check_imports
            else []
        ),
        _from_import(
            f"{package}.e2e_runtime",
            sorted(
                [
                    "CachedRead",
                    "Findings",
                    "changes",
                    "compare_cache",
                    *(["compare_index"] if search else []),
                    *(
                        n
                        for n in (
                            "compare_records",
                            "document_records",
                            "redis_records",
                            "stream_outbox",
                            "wide_records",
                        )
                        if n + "(" in parts.check
                    ),
                ],
                key=lambda n: (not n[:1].isupper(), n),
            ),
        ),
        *([_from_import(f"{package}.keyed_outbox_runtime", ["STREAM"])] if "STREAM" in parts.check else []),
        _from_import(
            f"{package}.load",
            ["FAILURES", "ROWS", "failed", "probe"] if search else ["FAILURES", "failed", "probe"],
        ),
        *([_from_import(f"{package}.models", sorted({classes[r.result].name for r in cached}))] if cached else []),
        *([_from_import(f"{package}.runtime", ["statement"])] if search else []),
        *([_from_import(f"{package}.search", ["TARGETS", "search_client"])] if indexed else []),
        *([_from_import(f"{package}.search_runtime", ["search_document", "search_id"])] if indexed else []),
        _from_import(f"{package}.settings", ["Stores", "connect"]),
    ]
    return _module(
        scaffold,
        "The checker: `python -m <package>.check` compares every projection with the system of record (run\n"
        "it once the relay has drained the outbox) and prints one line per mismatch class.",
        imports,
        body,
    )


def e2e_files(plan: Plan, scaffold: Scaffold, full: Scaffold | None = None) -> dict[str, str]:
    """`<package>/load.py`, `check.py` and the runtime they share (deterministic). `scaffold` has the
    relational record's indexes; `full`, every index (the other stores' parts: e2e_stores.py)."""
    from polyplan.scaffold.e2e_stores import store_parts

    parts = store_parts(plan, full) if full is not None else StoreParts()
    package = scaffold.package
    runtime = module_code("polyplan.scaffold", "e2e_runtime.py").replace(
        "from polyplan.scaffold.runtime import", f"from {package}.runtime import"
    )
    return {
        f"{package}/e2e_runtime.py": '"""Runtime of the load generator and the checker (copied from polyplan)."""\n\n'
        + _HEADER.format(model=scaffold.model)
        + "\nfrom __future__ import annotations\n"
        + runtime,
        f"{package}/load.py": _load(plan, scaffold, parts),
        f"{package}/check.py": _check(plan, scaffold, parts),
    }
