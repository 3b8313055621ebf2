"""The runtime part of each generated store migration script (MongoDB, search, Cassandra, Redis).

Each text defines `connect(args)`, `run(client, op, args) -> list[str]` (the lines to print),
`ERRORS` (the driver errors that become one-line messages) and `add_arguments(parser)`. The
script (`polyplan.migrate.store_scripts`) puts the operation's data (UPGRADE) and its reverse's
(DOWNGRADE) before it and `main()` after it, so one runtime serves every step of a store.
"""

from __future__ import annotations

from polyplan.emit.embed import module_code

# Every script that talks to a store reads its URL and connects the same way (setup and erasure scripts too).
CASSANDRA_CLUSTER = module_code("polyplan.stores.wide_column", "cluster.py")
MONGODB_DATABASE = module_code("polyplan.stores.document", "client.py")
REDIS_CLIENT = module_code("polyplan.stores.cache", "client.py")
# ... and reports a driver's error in one line.
ERROR_LINE = module_code("polyplan.emit", "error_line.py")

MONGODB = (
    MONGODB_DATABASE
    + '''
from bson import json_util
from pymongo import IndexModel
from pymongo.errors import OperationFailure, PyMongoError

BATCH = 1000  # documents per update: each batch is one short write, so the application keeps going
ERRORS = (PyMongoError, RuntimeError)
NOT_IMPLEMENTED = 238  # what FerretDB answers for a MongoDB feature it lacks
INDEX_FIELDS = ("unique", "partialFilterExpression", "expireAfterSeconds", "weights", "default_language")


def add_arguments(parser):
    parser.add_argument("dbname", nargs="?", help=f"database (default: the URL's, else {MODEL!r})")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"documents per update (default {BATCH})")
    parser.add_argument(
        "--without",
        default="",
        help="validators: leave the validator out, for a server that speaks MongoDB's protocol without it (FerretDB)",
    )


def connect(args):
    return mongodb_database(args.url, args.dbname, MODEL)


def _batched(collection, match, update, batch):
    """Apply `update` to every document matching `match`, `batch` documents at a time; returns the count."""
    done = 0
    while True:
        ids = [d["_id"] for d in collection.find(match, {"_id": 1}).limit(batch)]
        if not ids:
            return done
        changed = collection.update_many({"_id": {"$in": ids}, **match}, update).modified_count
        if not changed:
            # Documents that still match but cannot change would make this loop forever.
            raise RuntimeError(f"{collection.name}: {len(ids)} documents match {match} but the update changed none")
        done += changed


def run(db, op, args):
    kind, name = op["op"], op["table"]
    collection = db[name]
    if kind == "set_validator":
        if "validators" in args.without.split(","):
            return [f"left out: the validator of {name} (--without validators)"]
        validator = json_util.loads(json.dumps(op["new"]))
        db.command({"collMod": name, "validator": validator, "validationLevel": "strict", "validationAction": "error"})
        return [f"validator of {name} set"]
    if kind in ("add_document_index", "drop_document_index"):
        present = op["name"] in collection.index_information()
        if kind == "drop_document_index":
            if present:
                collection.drop_index(op["name"])
            return [f"index {name}.{op['name']} dropped" if present else f"index {name}.{op['name']} already absent"]
        if present:
            return [f"index {name}.{op['name']} already there"]
        spec = op["spec"]
        options = {key: spec[key] for key in INDEX_FIELDS if key in spec}
        collection.create_indexes([IndexModel([(p, d) for p, d in spec["key"]], name=spec["name"], **options)])
        return [f"index {name}.{op['name']} built"]
    if kind == "backfill_field":
        default = json_util.loads(json.dumps({"v": op["default"]}))["v"]
        count = _batched(collection, {op["field"]: {"$exists": False}}, {"$set": {op["field"]: default}}, args.batch)
        return [f"{name}.{op['field']}: {count} documents backfilled"]
    if kind == "unset_field":
        count = _batched(collection, {op["field"]: {"$exists": True}}, {"$unset": {op["field"]: ""}}, args.batch)
        return [f"{name}.{op['field']}: unset in {count} documents"]
    if kind == "rename_field":
        count = _batched(collection, {op["old"]: {"$exists": True}}, {"$rename": {op["old"]: op["new"]}}, args.batch)
        return [f"{name}.{op['old']} → {op['new']}: {count} documents renamed"]
    raise ValueError(f"unknown operation {kind}")


def explain(exc):
    if isinstance(exc, OperationFailure) and exc.code == NOT_IMPLEMENTED:
        return "the server lacks a MongoDB feature this step uses (FerretDB has no validators: --without validators)"
    return None
'''
)

SEARCH = '''
import urllib.error
import urllib.request

TIMEOUT = 60  # seconds per request; a reindex waits for completion
ERRORS = (OSError, RuntimeError)  # urllib's URLError and HTTPError are OSErrors


def add_arguments(parser):
    parser.add_argument("--replicas", type=int, default=None, help="override number_of_replicas (0 for one node)")
    parser.add_argument("--prefix", default="", help="prefix of every index and alias name (as given to setup.py)")


def connect(args):
    base = args.url.rstrip("/")
    call(base, "GET", "/")  # fails fast with one line when the server is down
    return base


def call(base, method, path, body=None, missing_ok=False):
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and missing_ok:
            return None
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise RuntimeError(f"{method} {path}: HTTP {exc.code} {detail}") from None


def write_index(base, alias):
    """The index the alias writes to (the one marked is_write_index, or its only index)."""
    found = call(base, "GET", f"/_alias/{alias}", missing_ok=True) or {}
    marked = [i for i, d in found.items() if d.get("aliases", {}).get(alias, {}).get("is_write_index")]
    indexes = marked or sorted(found)
    if len(indexes) != 1:
        raise RuntimeError(f"alias {alias} points to {len(indexes)} indexes ({', '.join(indexes)}); expected one")
    return indexes[0]


def copy(base, source, target, drop_fields):
    """Copy the documents `target` lacks from `source`: never overwrites one the dual write put there."""
    body = {"source": {"index": source}, "dest": {"index": target, "op_type": "create"}, "conflicts": "proceed"}
    if drop_fields:
        removals = " ".join(f"ctx._source.remove({json.dumps(f)});" for f in drop_fields)
        body["script"] = {"lang": "painless", "source": removals}
    call(base, "POST", f"/{source}/_refresh")
    done = call(base, "POST", "/_reindex?refresh=true&wait_for_completion=true", body)
    if done.get("failures"):
        raise RuntimeError(f"reindex {source} → {target} failed: {json.dumps(done['failures'][0])[:300]}")
    return done.get("created", 0)


def swap(base, alias, source, target):
    """Move the alias from `source` to `target` in one atomic request: readers never see neither."""
    actions = [
        {"remove": {"index": source, "alias": alias}},
        {"add": {"index": target, "alias": alias, "is_write_index": True}},
    ]
    call(base, "POST", "/_aliases", {"actions": actions})


def exists(base, index):
    return call(base, "HEAD", f"/{index}", missing_ok=True) is not None


def previous_of(base, target):
    """The index `target` was created next to (recorded in its mapping's _meta)."""
    meta = call(base, "GET", f"/{target}/_mapping")[target]["mappings"].get("_meta", {})
    previous = meta.get("polyplan_previous")
    if not previous:
        raise RuntimeError(f"{target} does not record the index before it (_meta.polyplan_previous)")
    return previous


def run(base, op, args):
    alias, target = args.prefix + op["table"], args.prefix + op["target"]
    kind = op["op"]
    if kind == "create_search_index":
        if exists(base, target):
            return [f"{target} exists already"]
        body = json.loads(json.dumps(op["body"]))
        current = write_index(base, alias)
        body["mappings"]["_meta"] = {"polyplan_previous": current, "generated_by": "polyplan"}
        if args.replicas is not None:
            body["settings"].setdefault("index", {})["number_of_replicas"] = args.replicas
        call(base, "PUT", f"/{target}", body)
        return [f"created {target} (next to {current})"]
    if kind == "delete_search_index":
        if not exists(base, target):
            return [f"{target} is gone already"]
        if write_index(base, alias) == target:
            raise RuntimeError(f"alias {alias} still points to {target}: run the reindex step's --down first")
        call(base, "DELETE", f"/{target}")
        return [f"deleted {target}"]
    if kind != "reindex":
        raise ValueError(f"unknown operation {kind}")
    if not exists(base, target):
        raise RuntimeError(f"{target} does not exist: run the step that creates it first")
    current, previous = write_index(base, alias), previous_of(base, target)
    if op["back"]:
        if current != target:
            return [f"{alias} is not on {target} (it is on {current}): nothing to undo"]
        created = copy(base, target, previous, [])
        swap(base, alias, target, previous)
        return [f"{created} documents copied back to {previous}", f"alias {alias}: {target} → {previous}"]
    if current == target:
        return [f"{alias} is on {target} already"]
    lines = [f"{copy(base, current, target, op['drop_fields'])} documents copied {current} → {target}"]
    swap(base, alias, current, target)
    # Writes that reached the old index between the copy and the swap (without the dual write).
    late = copy(base, current, target, op["drop_fields"])
    return [*lines, f"alias {alias}: {current} → {target}", f"{late} late documents copied after the swap"]


def explain(exc):
    return None
'''

CASSANDRA = (
    CASSANDRA_CLUSTER
    + """
from cassandra.cluster import DriverException, NoHostAvailable
from cassandra.query import SimpleStatement

BATCH = 500  # rows per page of the copy
ERRORS = (DriverException, NoHostAvailable, OSError, RuntimeError)


def add_arguments(parser):
    parser.add_argument("--keyspace", default=None, help="keyspace (default: the design's)")


def connect(args):
    return cassandra_cluster(args.url, request_timeout=60).connect()


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def copy_table(session, op, keyspace):
    # Create the new table (if missing), copy every row with its write time, compare the counts.
    new, old = f"{quote(keyspace)}.{quote(op['table'])}", f"{quote(keyspace)}.{quote(op['source'])}"
    if op["drop"]:
        session.execute(f"DROP TABLE IF EXISTS {new}", timeout=120)
        return [f"{op['table']} dropped (reads stay on {op['source']})"]
    columns = ",\\n".join(f"  {quote(name)} {kind}" for name, kind in op["columns"])
    partition = ", ".join(quote(c) for c in op["partition_key"])
    if len(op["partition_key"]) > 1:
        partition = f"({partition})"
    clustering = "".join(f", {quote(c)}" for c, _ in op["clustering"])
    options = list(op["options"])
    if op["clustering"]:
        options.insert(0, "CLUSTERING ORDER BY (" + ", ".join(f"{quote(c)} {d}" for c, d in op["clustering"]) + ")")
    create = f"CREATE TABLE IF NOT EXISTS {new} (\\n{columns},\\n  PRIMARY KEY ({partition}{clustering})\\n)"
    session.execute(create + (" WITH " + " AND ".join(options) if options else ""), timeout=120)
    session.cluster.control_connection.wait_for_schema_agreement()
    keys = {*op["partition_key"], *(c for c, _ in op["clustering"])}
    values = [c for c in op["copied"] if c not in keys]
    names = ", ".join(quote(c) for c in op["copied"])
    # The newest write time among the row's values: an older copy never wins over the dual write.
    stamps = "".join(f", WRITETIME({quote(c)})" for c in values)
    marks = ", ".join("?" for _ in op["copied"])
    insert = session.prepare(f"INSERT INTO {new} ({names}) VALUES ({marks}) USING TIMESTAMP ?")
    statement = SimpleStatement(f"SELECT {names}{stamps} FROM {old}", fetch_size=BATCH)
    copied = 0
    width = len(op["copied"])
    for row in session.execute(statement, timeout=120):
        row = tuple(row)
        written = [t for t in row[width:] if t is not None]
        session.execute(insert, (*row[:width], max(written) if written else 1))
        copied += 1
    counts = [session.execute(f"SELECT COUNT(*) FROM {t}", timeout=120).one()[0] for t in (old, new)]
    if counts[1] < counts[0]:
        raise RuntimeError(f"{op['table']} has {counts[1]} rows but {op['source']} {counts[0]}: run this step again")
    return [f"{copied} rows copied {op['source']} → {op['table']}", f"rows: {op['source']} {counts[0]}, {op['table']} {counts[1]}"]


def run(session, op, args):
    keyspace = args.keyspace or op["keyspace"]
    if op["op"] == "copy_cql_table":
        return copy_table(session, op, keyspace)
    table, column = op["table"], op["column"]
    rows = session.execute(
        "SELECT column_name FROM system_schema.columns WHERE keyspace_name = %s AND table_name = %s",
        (keyspace, table),
    )
    present = column in {row[0] for row in rows}
    where = f"{quote(keyspace)}.{quote(table)}"
    if op["op"] == "add_cql_column":
        if present:
            return [f"{table}.{column} already there"]
        # Instant: Cassandra rewrites no data; rows written before read the column as null.
        session.execute(f"ALTER TABLE {where} ADD {quote(column)} {op['type']}", timeout=60)
        return [f"{table}.{column} added"]
    if op["op"] == "drop_cql_column":
        if not present:
            return [f"{table}.{column} already absent"]
        session.execute(f"ALTER TABLE {where} DROP {quote(column)}", timeout=60)
        return [f"{table}.{column} dropped"]
    raise ValueError(f"unknown operation {op['op']}")


def explain(exc):
    return None
"""
)

REDIS = (
    REDIS_CLIENT
    + '''
import redis

BATCH = 500  # keys per SCAN round
ERRORS = (redis.RedisError, OSError)


def add_arguments(parser):
    parser.add_argument("--prefix", default="", help="prefix before every key name (a shared server's namespace)")


def connect(args):
    return redis_client(args.url, decode_responses=True)


def prefix(pattern):
    return pattern.split("*", 1)[0]


def transform(op, record):
    """An old value's fields in the new version's shape: renamed, dropped, defaults added."""
    renames = dict(op["renames"])
    shaped = {renames.get(k, k): v for k, v in record.items() if k not in op["drops"]}
    for name, default in op["adds"]:
        if name not in shaped and default is not None:
            shaped[name] = default
    return shaped


def new_key(op, key):
    return prefix(op["new_pattern"]) + key[len(prefix(op["old_pattern"])):]


def run(client, op, args):
    op = {**op, "old_pattern": args.prefix + op["old_pattern"], "new_pattern": args.prefix + op["new_pattern"]}
    if op["op"] == "retire_key_version":
        deleted = 0
        batch = []
        for key in client.scan_iter(match=op["new_pattern"], count=BATCH):
            batch.append(key)
            if len(batch) == BATCH:
                deleted += client.unlink(*batch)
                batch = []
        if batch:
            deleted += client.unlink(*batch)
        return [f"{deleted} keys {op['new_pattern']} deleted (the old keys {op['old_pattern']} are untouched)"]
    if op["op"] != "bump_key_version":
        raise ValueError(f"unknown operation {op['op']}")
    warmed = 0
    for key in client.scan_iter(match=op["old_pattern"], count=BATCH):
        target = new_key(op, key)
        ttl = client.pttl(key)
        if op["structure"] == "hash":
            if client.exists(target):
                continue  # the new version wrote it already: it is newer
            fields = transform(op, client.hgetall(key))
            if not fields:
                continue
            pipe = client.pipeline(transaction=True)
            pipe.hset(target, mapping={k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()})
            if ttl > 0:
                pipe.pexpire(target, ttl)
            pipe.execute()
        else:
            text = client.get(key)
            if text is None:
                continue  # expired meanwhile
            value = json.dumps(transform(op, json.loads(text)), separators=(",", ":"), ensure_ascii=False)
            # NX: never overwrite a value the new version wrote.
            if not client.set(target, value, nx=True, px=ttl if ttl > 0 else None):
                continue
        warmed += 1
    return [f"{warmed} keys warmed {op['old_pattern']} → {op['new_pattern']}"]


def explain(exc):
    return None
'''
)

RUNTIMES = {"mongodb": MONGODB, "search": SEARCH, "cassandra": CASSANDRA, "redis": REDIS}
# What each script needs installed (printed in its docstring).
REQUIRES = {
    "mongodb": 'pip install "pymongo>=4.6,<5"',
    "search": "nothing beyond Python 3.10+ (HTTP with the standard library)",
    "cassandra": 'pip install "cassandra-driver>=3.29,<4"',
    "redis": 'pip install "redis>=5,<9"',
}

# The verify step of an entity moving to another store: count its records on both sides. Each
# store's driver is imported only when that store is counted.
MOVE = (
    MONGODB_DATABASE
    + CASSANDRA_CLUSTER
    + REDIS_CLIENT
    + ERROR_LINE
    + """
TIMEOUT = 30


def count_mongodb(url, name):
    return mongodb_database(url, None, MODEL)[name].count_documents({})


def count_cassandra(url, name):
    cluster = cassandra_cluster(url, request_timeout=120)
    try:
        keyspace, table = name.split(".", 1)
        return cluster.connect().execute(f'SELECT COUNT(*) FROM "{keyspace}"."{table}"').one()[0]
    finally:
        cluster.shutdown()


def count_search(url, name):
    import urllib.request

    with urllib.request.urlopen(url.rstrip("/") + f"/{name}/_count", timeout=TIMEOUT) as answer:
        return json.loads(answer.read())["count"]


def count_redis(url, name):
    client = redis_client(url)
    return sum(1 for _ in client.scan_iter(match=name, count=1000))


def count_sql(url, name):
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            table = sa.table(name)
            return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    finally:
        engine.dispose()


COUNTERS = {
    "mongodb": count_mongodb,
    "cassandra": count_cassandra,
    "search": count_search,
    "redis": count_redis,
    "sql": count_sql,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_url", help="the URL of the store the entity moves from")
    parser.add_argument("target_url", help="the URL of the store it moves to")
    parser.add_argument("--source-name", help=f"what to count there (default {OPERATION['source_count'][1]!r})")
    parser.add_argument("--target-name", help=f"what to count there (default {OPERATION['target_count'][1]!r})")
    args = parser.parse_args(argv)  # --help exits here, before any connection
    counts = []
    for side, url, given in (("source", args.source_url, args.source_name), ("target", args.target_url, args.target_name)):
        kind, name = OPERATION[f"{side}_count"]
        try:
            counts.append(COUNTERS[kind](url, given or name))
        except Exception as exc:  # any driver's failure: one line, never a traceback
            print(f"{url}: {one_line(exc)}", file=sys.stderr)
            return 1
    print(f"{OPERATION['table']}: {counts[0]} in the source, {counts[1]} in the target")
    if counts[0] != counts[1]:
        print("the counts differ: run the backfill again before switching reads", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
"""
)
