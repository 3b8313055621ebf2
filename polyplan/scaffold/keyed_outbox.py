"""The scaffold's outboxes for records Redis or Cassandra keep and a search index projects (issue 15):
what their write functions in `records.py` and `wide_column.py` do instead of a plain write, and
the text of `<package>/keyed_relay.py`, the relay command that keeps their indexes. The runtimes
they call are copied into the package: `keyed_outbox_runtime.py` (the write side),
`stream_outbox_runtime.py` (Redis: MULTI/EXEC with an XADD, a consumer group),
`batch_outbox_runtime.py` (Cassandra: one LOGGED batch with the outbox INSERT, bucket partitions)
and `relay_metrics.py` (the relay loop and its metrics). Pure: nothing here does I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polyplan.model.schema import WriteKind
from polyplan.scaffold.relay_render import relay_command

if TYPE_CHECKING:
    from polyplan.scaffold.cache_record import RecordScaffold, RecordWrite
    from polyplan.scaffold.design import Scaffold
    from polyplan.scaffold.wide_column import WideScaffold, WideWrite

RELAY = "keyed_relay"


def keyed_columns(wide: WideScaffold | None, records: RecordScaffold | None) -> dict[str, dict[str, str]]:
    """Entity → attribute → model type of each Redis or Cassandra entity the package has a record
    class for (a search index's fields are read from these, by attribute name)."""
    found: dict[str, dict[str, str]] = {}
    for part in (wide, records):
        for cls in part.classes if part is not None else ():
            found.setdefault(cls.entity, {c.name: c.kind for c in cls.columns})  # the first: the whole record
    return found


def fed(scaffold: Scaffold, part: WideScaffold | RecordScaffold | None) -> list[str]:
    """The entities of `part` a relayed search index projects, sorted."""
    if part is None:
        return []
    mine = {c.entity for c in part.classes}
    return sorted({s.entity for s in scaffold.indexes if s.entity in mine})


def record_write(write: RecordWrite, family: str, structure: str) -> str:
    """The function of one write pattern on a fed Redis record: the same signature and answer as
    the plain one (cache_record.py), its commands and its event's XADD in one MULTI/EXEC, the record
    read under WATCH first (`keyed_outbox_runtime.write_record`)."""
    verb = "deletes" if write.kind is WriteKind.DELETE else "writes"
    read = "hgetall" if structure == "hash" else "get"
    name, cls = write.name, write.result
    return (
        f"def {name}(stores: Stores, row: {cls}) -> {cls}:\n"
        f'    """{name}: {verb} one {write.entity} record with the plan\'s commands and its outbox event (an XADD\n'
        "    to the records' stream) in one MULTI/EXEC, the record read under WATCH first (a search index\n"
        '    projects it; retried when another client changed the key meanwhile)."""\n'
        f"    client = record_store(stores, {name!r})\n"
        f"    record = view({cls}.KINDS, row.as_values(), [FAMILIES[{family!r}]], {list(write.scored)!r})\n"
        f"    key = stores.key_prefix + fill({family!r}, record)\n"
        "    try:\n"
        "        write_record(\n"
        "            client,\n"
        "            key,\n"
        f"            lambda pipe: {cls}.from_stored(pipe.{read}(key)),\n"
        f"            lambda pipe: queue_write(pipe, WRITES[{name!r}], FAMILIES, record, stores.key_prefix),\n"
        "            stores.key_prefix + STREAM,\n"
        f"            {write.entity!r},\n"
        f"            {write.kind.value!r},\n"
        f"            TARGETS[{write.entity!r}].doc_id,\n"
        f"            {'None' if write.kind is WriteKind.DELETE else 'row'},\n"
        "        )\n"
        "    except redis.ConnectionError as error:\n"
        f"        raise unreachable({name!r}, 'Redis', error) from None\n"
        "    return row\n"
    )


def record_family(records: RecordScaffold, entity: str) -> tuple[str, str]:
    """The key template and structure of an entity's record family (keys.json's role `record`)."""
    return next(
        (template, str(family["structure"]))
        for template, family in records.families.items()
        if family["entity"] == entity and family["role"] == "record"
    )


def wide_outbox(write: WideWrite, current: str, new: str) -> str:
    """The `outbox` argument of a fed Cassandra write's `run_operation`: its statements and the
    event's INSERT in one LOGGED batch (`current`, `new`: the driver rows' expressions)."""
    return f", outbox_of(store, {write.name!r}, {write.entity!r}, {write.kind.value!r}, {current}, {new})"


def wide_helper(entities: list[str]) -> str:
    """`outbox_of` and the record classes it reads an event's state with (wide_column.py)."""
    return (
        "# Each record a search index projects: its class (the event's state is read with it).\n"
        "RECORDS: dict[str, Any] = {" + ", ".join(f"{e!r}: {_class_name(e)}" for e in entities) + "}\n\n\n"
        "def outbox_of(\n"
        "    store: WideColumnStore,\n"
        "    who: str,\n"
        "    entity: str,\n"
        "    op: str,\n"
        "    current: Mapping[str, Any] | None,\n"
        "    new: Mapping[str, Any] | None,\n"
        ") -> Callable[[list[tuple[Any, dict[str, Any]]]], None]:\n"
        '    """The batch of a record a search index projects: its statements and its outbox event in one\n'
        '    LOGGED batch (batch_outbox_runtime.write_with_event; the event\'s version is the batch\'s timestamp)."""\n'
        "    cls = RECORDS[entity]\n"
        "    before = None if current is None else cls.from_row(current)\n"
        "    after = None if new is None else cls.from_row(new)\n"
        "    document, state = batch_event(TARGETS[entity].doc_id, op, before, after)\n\n"
        "    def run(statements: list[tuple[Any, dict[str, Any]]]) -> None:\n"
        "        write_with_event(store.session(who), store.keyspace, statements, entity, op, document, state)\n\n"
        "    return run\n"
    )


def _class_name(entity: str) -> str:
    from polyplan.scaffold.design import class_name

    return class_name(entity)


def render_keyed_relay(scaffold: Scaffold) -> str:
    """The text of `<package>/keyed_relay.py`: `python -m <package>.keyed_relay [--once] [--batch N]
    [--metrics-port P]`, relaying the Redis records' stream and the Cassandra outbox table."""
    from polyplan.scaffold.module_text import _from_import, _module

    package = scaffold.package
    in_redis, in_cassandra = fed(scaffold, scaffold.records), fed(scaffold, scaffold.wide_column)
    client = {"opensearch": "opensearchpy", "elasticsearch": "elasticsearch"}[scaffold.search_engine or "opensearch"]
    expiring = {
        s.entity: s.expiry for s in scaffold.indexes if s.expiry is not None and s.entity in in_redis + in_cassandra
    }
    expiry_arg = ", EXPIRY" if expiring else ""
    wide_expiry_arg = ", EXPIRY, 1.0" if expiring else ""
    redis_part = (
        "    if REDIS_ENTITIES:\n"
        '        client = record_store(stores, "the keyed relay")\n'
        "        stream = stores.key_prefix + STREAM\n"
        "        ensure_group(client, stream)\n"
        '        consumer = f"{socket.gethostname()}-{os.getpid()}"  # a killed relay\'s entries are re-claimed\n'
        f"        redis_apply = keyed_search_apply(targets(stores, REDIS_ENTITIES), bulk, outcome{expiry_arg})\n"
        "        steps.append(lambda: relay_stream_batch(client, stream, consumer, redis_apply, batch, metrics=metrics))\n"
        "        measures.append(lambda: stream_lag(client, stream))\n"
        "        retried.append(redis.RedisError)\n"
        if in_redis
        else ""
    )
    cassandra_part = (
        "    if CASSANDRA_ENTITIES:\n"
        '        store = wide_column_store(stores, "the keyed relay")\n'
        '        session, keyspace = store.session("the keyed relay"), store.keyspace\n'
        "        install_outbox(stores)\n"
        + ("        # A Cassandra cell expires at its write's whole second + the TTL.\n" if wide_expiry_arg else "")
        + f"        cassandra_apply = keyed_search_apply(targets(stores, CASSANDRA_ENTITIES), bulk, outcome{wide_expiry_arg})\n"
        "        steps.append(lambda: relay_buckets(session, keyspace, cassandra_apply, batch, metrics))\n"
        "        measures.append(lambda: outbox_lag(session, keyspace))\n"
        "        retried.extend((NoHostAvailable, DriverException, OSError))\n"
        if in_cassandra
        else ""
    )
    install = (
        '''

def install_outbox(stores: Stores) -> None:
    """Create the Cassandra outbox and dead-letter tables if missing (the writes of a record a search
    index projects insert into the first; `sql/outbox.cassandra.cql` holds the same DDL)."""
    store = wide_column_store(stores, "the keyed relay")
    session = store.session("the keyed relay")
    for ddl in outbox_ddl(store.keyspace):
        session.execute(ddl)
'''
        if in_cassandra
        else ""
    )
    delete_call = {
        "opensearchpy": 'client.delete_by_query(index=index, body={"query": query}, conflicts="proceed", refresh=True)',
        "elasticsearch": 'client.delete_by_query(index=index, query=query, conflicts="proceed", refresh=True).body',
    }[client]
    expiry_part = (
        "# Per entity whose store expires its records without an event: the expiry field of its documents\n"
        "# and the TTL (seconds after the last write); the relay sets the one and purges by it.\n"
        f"EXPIRY: dict[str, tuple[str, int]] = {{{', '.join(f'{e!r}: {x!r}' for e, x in sorted(expiring.items()))}}}\n"
        "PURGE_EVERY = 60.0  # seconds between two purges of expired documents (and one at start)\n\n\n"
        "def purge_expired(stores: Stores, metrics: Metrics | None = None) -> int:\n"
        '    """Delete, by query, every document whose record has expired in its store (which writes no\n'
        '    event then); answers how many, counted in `metrics` (polyplan_relay_purged_total)."""\n'
        '    client = search_client(stores, "the keyed relay")\n'
        "    indexes = {stores.index_prefix + TARGETS[e].alias: field for e, (field, _) in EXPIRY.items()}\n"
        "\n    def delete(index: str, query: dict[str, Any]) -> Any:\n"
        f"        return {delete_call}\n\n"
        "    deleted = purge_indexes(delete, indexes)\n"
        "    if metrics is not None:\n"
        "        metrics.record_purge(deleted)\n"
        "    return deleted\n\n\n"
        if expiring
        else ""
    )
    signature = (
        "def run(\n    stores: Stores,\n    batch: int = 100,\n    once: bool = False,\n"
        "    metrics: Metrics | None = None,\n    purge_every: float = PURGE_EVERY,\n) -> int:"
        if expiring
        else "def run(stores: Stores, batch: int = 100, once: bool = False, metrics: Metrics | None = None) -> int:"
    )
    purge_doc = (
        " Every `purge_every`\n    seconds (the first time at start; never with math.inf) the documents of records expired in\n"
        "    their store are purged."
        if expiring
        else ""
    )
    purge_step = (
        "    due = [time.monotonic() if math.isfinite(purge_every) else math.inf]  # the first purge: at start\n\n"
        "    def purge() -> int:\n"
        "        if time.monotonic() >= due[0]:\n"
        "            purge_expired(stores, metrics)\n"
        "            due[0] = time.monotonic() + purge_every\n"
        "        return 0  # purged documents are not events: counted apart\n\n"
        "    steps.insert(0, purge)\n"
        if expiring
        else ""
    )
    failures = ", ".join(
        [
            "SettingsError",
            *(["redis.RedisError"] if in_redis else []),
            *(["WideColumnUnreachable", "NoHostAvailable"] if in_cassandra else []),
            "*TRANSIENT",
        ]
    )
    body = f'''REDIS_ENTITIES: tuple[str, ...] = {tuple(in_redis)!r}  # their events: the records' stream
CASSANDRA_ENTITIES: tuple[str, ...] = {tuple(in_cassandra)!r}  # their events: the outbox table
# What stops the command with one line (a store that never answered, a missing setting).
FAILURES: tuple[type[Exception], ...] = ({failures})
{install}

{expiry_part}def targets(stores: Stores, entities: tuple[str, ...]) -> dict[str, tuple[str, Any]]:
    """Per entity: its write alias and how an event's state becomes its search document."""
    return {{e: (stores.index_prefix + TARGETS[e].alias, partial(search_document, TARGETS[e])) for e in entities}}


{signature}
    """Relay the records' events to their search indexes until stopped (or until none is pending,
    with `once`): each round one batch of each outbox, each applied in one bulk request at the
    events' external versions; store errors retried with backoff.{purge_doc}"""
    metrics = metrics if metrics is not None else Metrics()
    client_search = search_client(stores, "the keyed relay")

    def bulk(actions: list[dict[str, Any]]) -> Any:
        return helpers.streaming_bulk(
            client_search, actions, raise_on_error=False, raise_on_exception=True, max_retries=0
        )

    def outcome(actions: Any, results: Any) -> Mapping[Any, str]:
        return search_outcome(actions, results).parked

    steps: list[Callable[[], int]] = []
    measures: list[Callable[[], tuple[int, float]]] = []
    retried: list[type[Exception]] = [*TRANSIENT]
{redis_part}{cassandra_part}{purge_step}
    def measure() -> tuple[int, float]:
        found = [m() for m in measures]
        return sum(n for n, _ in found), max((lag for _, lag in found), default=0.0)

    return relay_loop(lambda: sum(step() for step in steps), measure, tuple(retried), metrics, once)


'''
    body += relay_command(
        f"{package}.{RELAY}",
        "Relay the Redis and Cassandra records' outbox events to the search indexes.",
        "events per batch and outbox",
        ["install_search"],
    )
    imports = [
        *sorted(
            [
                *(["import os", "import socket"] if in_redis else []),
                *(["import math", "import time"] if expiring else []),
                "import sys",
            ]
        ),
        "from collections.abc import Callable, Mapping",
        "from functools import partial",
        "from typing import Any",
        "",
        *(["import redis"] if in_redis else []),
        *(
            ["from cassandra import DriverException", "from cassandra.cluster import NoHostAvailable"]
            if in_cassandra
            else []
        ),
        f"from {client} import helpers",
        "",
        *(
            [_from_import(f"{package}.batch_outbox_runtime", ["outbox_ddl", "outbox_lag", "relay_buckets"])]
            if in_cassandra
            else []
        ),
        *([_from_import(f"{package}.keyed_outbox_runtime", ["STREAM"])] if in_redis else []),
        *([_from_import(f"{package}.records", ["record_store"])] if in_redis else []),
        _from_import(f"{package}.relay_metrics", ["Metrics", "relay_loop", "relay_main"]),
        _from_import(f"{package}.search", ["TARGETS", "TRANSIENT", "install_search", "search_client"]),
        _from_import(
            f"{package}.search_runtime",
            [*(["purge_indexes"] if expiring else []), "search_document", "search_outcome"],
        ),
        _from_import(f"{package}.settings", ["SettingsError", "Stores", "connect"]),
        _from_import(
            f"{package}.stream_outbox_runtime",
            sorted(["keyed_search_apply", *(["ensure_group", "relay_stream_batch", "stream_lag"] if in_redis else [])]),
        ),
        *([_from_import(f"{package}.wide_column", ["wide_column_store"])] if in_cassandra else []),
        *([_from_import(f"{package}.wide_column_runtime", ["WideColumnUnreachable"])] if in_cassandra else []),
    ]
    return _module(
        scaffold,
        "The relay of the Redis and Cassandra records' outboxes: `python -m <package>.keyed_relay`\n"
        "(see stream_outbox_runtime.py and batch_outbox_runtime.py).",
        imports,
        body,
    )


def cassandra_ddl(keyspace: str) -> str:
    """`sql/outbox.cassandra.cql`: the outbox and dead-letter tables in the plan's keyspace."""
    from polyplan.scaffold.batch_outbox_runtime import outbox_ddl

    return "".join(f"{statement};\n\n" for statement in outbox_ddl(keyspace)).rstrip("\n") + "\n"


def keyed_files(scaffold: Scaffold, copied: Any) -> dict[str, str]:
    """The relay, the runtimes it and the fed writes import (`copied(what, code)` puts a runtime
    under the package's header) and the Cassandra outbox DDL; empty without a fed record."""
    from polyplan.emit.embed import module_code

    package = scaffold.package
    in_redis, in_cassandra = fed(scaffold, scaffold.records), fed(scaffold, scaffold.wide_column)
    if not (in_redis or in_cassandra):
        return {}

    def code(name: str) -> str:
        return module_code("polyplan.scaffold", name).replace("from polyplan.scaffold.", f"from {package}.")

    files = {
        f"{package}/{RELAY}.py": render_keyed_relay(scaffold),
        f"{package}/keyed_outbox_runtime.py": copied(
            "the Redis and Cassandra outboxes' writes", code("keyed_outbox_runtime.py")
        ),
        f"{package}/stream_outbox_runtime.py": copied("the Redis records' outbox", code("stream_outbox_runtime.py")),
    }
    if in_cassandra and scaffold.wide_column is not None:
        files[f"{package}/batch_outbox_runtime.py"] = copied(
            "the Cassandra records' outbox", code("batch_outbox_runtime.py")
        )
        files["sql/outbox.cassandra.cql"] = cassandra_ddl(scaffold.wide_column.keyspace)
    return files
