"""Render the MongoDB design: one JSON definition per collection, queries.json, setup.py, design.md.

JSON is MongoDB Extended JSON (relaxed), written by `extjson` with no driver: Decimal128 bounds
stay exact, and `bson.json_util` reads it back into the values pymongo sends. Key order is the design's (index keys and sort
specifications are ordered lists), so the same plan gives the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

from polyplan.emit.embed import module_code
from polyplan.markdown import code
from polyplan.stores.document import extjson
from polyplan.stores.document.spec import (
    CollectionSpec,
    DocumentDesign,
    Embedding,
    IndexSpec,
    JoinedField,
    QuerySpec,
    ShardDecision,
)

ENGINE = "mongodb"


def __getattr__(name: str) -> Any:
    """`JSON_OPTIONS`: how the generated tests read the artifacts back with pymongo's `bson` (relaxed
    Extended JSON, standard UUIDs, aware dates). Built on first use, so that planning, which writes
    the artifacts with `extjson`, imports no driver (issue 13); the generated tests import it."""
    if name == "JSON_OPTIONS":
        from bson.binary import UuidRepresentation
        from bson.json_util import JSONMode, JSONOptions

        return JSONOptions(json_mode=JSONMode.RELAXED, uuid_representation=UuidRepresentation.STANDARD, tz_aware=True)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


INLINE_WIDTH = 100


def _pretty(value: Any, indent: int) -> str:
    """Indented JSON whose short lists and objects stay on one line (index keys read as pairs)."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, (dict, list)) or (
        len(flat) + indent <= INLINE_WIDTH and "\n" not in flat and _shallow(value)
    ):
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {_pretty(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if not value:
        return "[]"
    items = [pad + _pretty(v, indent + 2) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def _shallow(value: Any) -> bool:
    """Lists of scalars or pairs, and objects of scalars, may share a line."""
    children = value.values() if isinstance(value, dict) else value
    for child in children:
        if isinstance(child, dict) and not all(not isinstance(v, (dict, list)) for v in child.values()):
            return False
        if isinstance(child, list) and not all(not isinstance(v, (dict, list)) for v in child):
            return False
    return True


def dumps(value: Any) -> str:
    """MongoDB Extended JSON (relaxed) text with a trailing newline."""
    plain = json.loads(extjson.dumps(value))  # as JSON text first: non-string keys become strings
    return _pretty(plain, 0) + "\n"


def index_json(index: IndexSpec) -> dict[str, Any]:
    """One index as IndexModel arguments (plus why it exists)."""
    data: dict[str, Any] = {"name": index.name, "key": [[path, direction] for path, direction in index.keys]}
    if index.unique:
        data["unique"] = True
    if index.partial:
        data["partialFilterExpression"] = index.partial
    if index.expire_after is not None:
        data["expireAfterSeconds"] = index.expire_after
    if index.text_options:
        data.update(index.text_options)
    data["serves"] = list(index.serves)
    data["reason"] = index.reason
    return data


def _embedding_json(embedding: Embedding) -> dict[str, Any]:
    return {
        "relationship": embedding.relationship,
        "child": embedding.child,
        "embedded": embedding.embedded,
        "field": embedding.field,
        "worst_case_bytes": round(embedding.worst_case_bytes) if embedding.worst_case_bytes is not None else None,
        "reason": embedding.reason,
    }


def _shard_json(shard: ShardDecision) -> dict[str, Any]:
    return {
        "sharded": shard.sharded,
        "key": [[path, direction] for path, direction in shard.keys] if shard.sharded else None,
        "reason": shard.reason,
        "candidates": [
            {
                "fields": list(c.fields),
                "cardinality": round(c.cardinality),
                "top_value_share": round(c.top_value_share, 6),
                "monotonic": c.monotonic,
                "targeted_read_share": round(c.targeted_share, 4),
                "verdict": c.verdict,
            }
            for c in shard.candidates
        ],
    }


def collection_json(design: DocumentDesign, collection: CollectionSpec) -> dict[str, Any]:
    """The definition file of one collection."""
    references = [e for e in design.embeddings if e.parent == collection.entity and not e.embedded]
    references += [e for e in design.embeddings if e.child == collection.entity and not e.embedded]
    return {
        "collection": collection.name,
        "entity": collection.entity,
        "id": collection.id_attribute or "ObjectId (composite key: unique index on its attributes)",
        **({"options": collection.options} if collection.options else {}),
        "validator": collection.validator,
        "validationLevel": "strict",
        "validationAction": "error",
        "indexes": [index_json(i) for i in collection.indexes],
        "shardKey": _shard_json(collection.shard),
        "embedding": [_embedding_json(e) for e in collection.embedded] + [_embedding_json(e) for e in references],
        "links": [
            {"relationship": link.relationship, "field": link.field, "other": link.other, "reason": link.reason}
            for link in collection.links
        ],
        "size": {
            "avg_document_bytes": round(collection.avg_document_bytes),
            "worst_document_bytes": round(collection.worst_document_bytes),
            "documents_at_horizon": round(collection.documents_at_horizon),
            "data_bytes_at_horizon": round(collection.avg_document_bytes * collection.documents_at_horizon),
            "write_rate": round(collection.write_rate, 3),
        },
        "notes": list(collection.notes),
    }


def query_json(query: QuerySpec) -> dict[str, Any]:
    """One pattern's query; `{"$param": name}` marks a value the application supplies."""
    return {
        "pattern": query.pattern,
        "collection": query.collection,
        "filter": query.filter,
        "sort": [[path, direction] for path, direction in query.sort],
        "projection": query.projection,
        "limit": query.limit,
        "hint": query.index,
        "params": [{"name": p.name, "attribute": p.attribute, "path": p.path, "kind": p.kind} for p in query.params],
        "embedded": list(query.embedded),
        "lookups": [
            {
                "entity": lookup.entity,
                "relationship": lookup.relationship,
                "collection": lookup.collection,
                "local": list(lookup.local_paths),
                "foreign": list(lookup.foreign_paths),
                "hint": lookup.index,
                "note": lookup.note,
            }
            for lookup in query.lookups
        ],
        "notes": list(query.notes),
        **(_joined_json(query) if query.joined else {}),
    }


def _joined_json(query: QuerySpec) -> dict[str, Any]:
    """The `$lookup` pipeline answering a pattern with related fields joined (stores/document/lookups.py)."""
    return {
        "joined": [
            {
                "field": field.field,
                "path": field.path,
                "hops": [
                    {"reference": h.reference, "collection": h.collection, "foreign": h.foreign, "hint": h.index}
                    for h in field.hops
                ],
                "attribute": field.attribute,
                "decision": field.decision,
            }
            for field in query.joined
        ],
        "pipeline": list(query.pipeline),
    }


def render_queries(
    design: DocumentDesign,
    writes: list[dict[str, Any]] | None = None,
    bulk: list[dict[str, Any]] | None = None,
    subset: list[dict[str, Any]] | None = None,
    derived: list[dict[str, Any]] | None = None,
) -> str:
    """queries.json; `writes` (the increments, `$inc`), `bulk_writes` (updates and deletes by
    predicate, document.predicates), `subset_writes` (subset.py) and `derived_writes` (the parent
    updates after each child write, derived.py) only when the model has some."""
    document: dict[str, Any] = {
        "model": design.model,
        "engine": ENGINE,
        "queries": [query_json(q) for q in design.queries],
    }
    if writes:
        document["writes"] = writes
    if bulk:
        document["bulk_writes"] = bulk
    if subset:
        document["subset_writes"] = subset
    if derived:
        document["derived_writes"] = derived
    return dumps(document)


def _index_line(index: IndexSpec) -> str:
    keys = ", ".join(f"{path}: {direction}" for path, direction in index.keys)
    options = []
    if index.unique:
        options.append("unique")
    if index.partial:
        options.append(f"partial {extjson.dumps(index.partial)}")
    if index.expire_after is not None:
        options.append(f"TTL {index.expire_after} s")
    extra = f" ({'; '.join(options)})" if options else ""
    return f"- `{index.name}` `{{{keys}}}`{extra} — {index.reason}"


def _object_id(collection: CollectionSpec) -> str:
    """What `_id` holds when no single attribute is the key: the server's ObjectId, beside the
    composite key's unique index; a keyless history (kind: none, which allows no unique rule)
    has no unique index at all, and its documents are identified by the ObjectId alone."""
    if any(index.unique for index in collection.indexes):
        return "ObjectId; the composite key has a unique index"
    return "ObjectId, generated by the server: the entity has no key (kind: none)"


def _joined_line(field: JoinedField) -> str:
    """One related field joined by `$lookup`: along which references, on which index, and why."""
    steps = " then ".join(
        f"`{h.collection}` on `{h.reference}` → `{h.foreign}` (index `{h.index}`)" for h in field.hops
    )
    return f"  - `{field.field}` = {field.path} by $lookup from {steps}: {field.decision}"


def render_design_md(design: DocumentDesign) -> str:
    """design.md: the collection design with every decision's reason."""
    lines = [
        f"# MongoDB design for `{design.model}`",
        "",
        "Generated by polyplan. `collections/*.json` are the definitions (validator, indexes, shard key),",
        "`queries.json` the query of each access pattern, `setup.py` applies the definitions:",
        "`python setup.py MONGODB_URL [DBNAME]` (idempotent).",
        "",
        "Conventions: a single-attribute key is `_id`; a null attribute is an absent field (never `null`);",
        "uuids are BSON binary subtype 4, decimals Decimal128, dates and timestamps BSON dates (UTC, ms).",
        "",
    ]
    if design.embeddings:
        lines += ["## Embed or reference", ""]
        lines += [f"- **{e.parent} → {e.child}** ({e.relationship}): {e.reason}" for e in design.embeddings]
        lines.append("")
    if design.subsets:
        lines += ["## Subset pattern (bounded loads)", ""]
        lines += [
            f"- **{s.parent}.{s.field}**: {s.describe()} (at most {s.limit}), for {', '.join(s.loads)}; each insert of "
            f"a {s.child} runs `$push` with `$each`, `$sort`, `$slice: {s.limit}` on its parent (queries.json "
            "`subset_writes`); every child stays in its own collection"
            for s in design.subsets
        ]
        lines.append("")
    for collection in design.collections:
        size = (
            f"~{collection.avg_document_bytes:,.0f} B per document (worst {collection.worst_document_bytes:,.0f} B), "
            f"{collection.documents_at_horizon:,.0f} documents at the horizon, {collection.write_rate:,.1f} writes/s"
        )
        lines += [
            f"## `{collection.name}` ({collection.entity})",
            "",
            f"- Size: {size}",
            f"- `_id`: {collection.id_attribute or _object_id(collection)}",
            f"- Extra fields: {'allowed (schema varies)' if collection.additional_properties else 'rejected (additionalProperties: false)'}",
            f"- Shard key: {collection.shard.reason}",
            *(
                [f"- Capped: size {collection.options['size']:,} B, max {collection.options['max']:,} documents"]
                if collection.options
                else []
            ),
            "",
            "Indexes:",
            "",
            *([_index_line(i) for i in collection.indexes] or ["- none besides `_id_`"]),
            "",
        ]
        if collection.shard.candidates:
            lines += [
                "| Candidate | Cardinality | Top value | Monotonic | Targeted reads | Verdict |",
                "|---|---|---|---|---|---|",
            ]
            for c in collection.shard.candidates:
                lines.append(
                    f"| {', '.join(c.fields)} | {c.cardinality:,.0f} | {c.top_value_share:.2%} | {'yes' if c.monotonic else 'no'} | "
                    f"{c.targeted_share:.0%} | {c.verdict.replace('|', '/')} |"
                )
            lines.append("")
        if collection.notes:
            lines += ["Application duties:", "", *[f"- {note}" for note in collection.notes], ""]
    if design.queries:
        lines += ["## Queries", ""]
        for query in design.queries:
            shown = extjson.dumps(query.filter)
            sort = ", ".join(f"{p}: {d}" for p, d in query.sort)
            lines.append(
                f"- **{query.pattern}**: {code(f'db.{query.collection}.find({shown})')}"
                + (f" sort `{{{sort}}}`" if sort else "")
                + (f" limit {query.limit}" if query.limit else "")
                + (f" — index `{query.index}`" if query.index else " — no index")
            )
            lines += [f"  - {lookup.note}" for lookup in query.lookups]
            lines += [_joined_line(field) for field in query.joined]
            if query.pipeline:
                lines.append(
                    f"  - answered with the related fields by `db.{query.collection}.aggregate(pipeline)` "
                    "(queries.json `pipeline`): the find's stages, then `$lookup` per hop"
                )
            lines += [f"  - {note}" for note in query.notes]
        lines.append("")
    return "\n".join(lines)


SETUP_SCRIPT = '''"""Create this design's MongoDB collections with their validators and indexes (idempotent).

    python setup.py MONGODB_URL [DBNAME] [--without FEATURE,...]

Reads collections/*.json beside this file. A new collection is created with its validator (and,
when capped, its size and max); an existing one gets the validator again (collMod), and its cap
(convertToCapped, collMod) when it lacks it. Indexes are created when missing, rebuilt when
their definition changed (a changed TTL is updated in place). On a sharded cluster (mongos) a
collection with a shard key is sharded. Running it twice changes nothing the second time.

`--without` is for servers that speak MongoDB's protocol but lack some of its features (FerretDB):
it applies the rest of the design and lists what it left out. FEATURE is one of validators,
partial_indexes, ttl_indexes, text_indexes, hashed_indexes. Without it, such a server's refusal
is an error: nothing is left out silently.
Generated by polyplan.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from bson import json_util
from bson.binary import UuidRepresentation
from bson.json_util import JSONMode, JSONOptions
from pymongo import IndexModel, MongoClient
from pymongo.database import Database
from pymongo.errors import OperationFailure, PyMongoError, ServerSelectionTimeoutError

HERE = Path(__file__).resolve().parent
OPTIONS = JSONOptions(json_mode=JSONMode.RELAXED, uuid_representation=UuidRepresentation.STANDARD, tz_aware=True)
INDEX_FIELDS = ("unique", "partialFilterExpression", "expireAfterSeconds", "weights", "default_language")
FEATURES = ("validators", "partial_indexes", "ttl_indexes", "text_indexes", "hashed_indexes")
NOT_IMPLEMENTED = 238  # what FerretDB answers for a feature it lacks
__MONGODB_DATABASE__
__SCRIPT_REPORT__

def definitions() -> list[dict[str, Any]]:
    """Every collection definition, in file-name order."""
    files = sorted((HERE / "collections").glob("*.json"))
    return [json_util.loads(path.read_text(encoding="utf-8"), json_options=OPTIONS) for path in files]


def index_needs(spec: Mapping[str, Any]) -> set[str]:
    """The FEATURES an index definition needs beyond a plain index."""
    needs = set()
    if "partialFilterExpression" in spec:
        needs.add("partial_indexes")
    if "expireAfterSeconds" in spec:
        needs.add("ttl_indexes")
    directions = {direction for _, direction in spec["key"]}
    if "text" in directions:
        needs.add("text_indexes")
    if "hashed" in directions:
        needs.add("hashed_indexes")
    return needs


def left_out(without: Collection[str]) -> list[str]:
    """What `apply(db, without=without)` does not create."""
    skipped = []
    for definition in definitions():
        name = definition["collection"]
        if "validators" in without:
            skipped.append(f"the validator of {name}")
        for spec in definition["indexes"]:
            lacking = sorted(index_needs(spec) & set(without))
            if lacking:
                skipped.append(f"index {name}.{spec['name']} ({', '.join(lacking)})")
    return skipped


def index_model(spec: dict[str, Any]) -> IndexModel:
    """The pymongo IndexModel of one index definition."""
    options = {name: spec[name] for name in INDEX_FIELDS if name in spec}
    return IndexModel([(path, direction) for path, direction in spec["key"]], name=spec["name"], **options)


def same_index(current: Mapping[str, Any], spec: dict[str, Any]) -> bool:
    """Whether an existing index (from list_indexes) matches its definition, TTL aside."""
    if any(direction == "text" for _, direction in spec["key"]):
        return current.get("weights") == spec.get("weights") and current.get("default_language") == spec.get("default_language")
    keys = [(path, direction) for path, direction in current["key"].items()]
    wanted = [(path, direction) for path, direction in spec["key"]]
    return (
        keys == wanted
        and bool(current.get("unique")) == bool(spec.get("unique"))
        and current.get("partialFilterExpression") == spec.get("partialFilterExpression")
        and ("expireAfterSeconds" in current) == ("expireAfterSeconds" in spec)
    )


def ferretdb_version(client: MongoClient[Any]) -> str | None:
    """FerretDB's version when the server is FerretDB (MongoDB's protocol, not all of its features)."""
    try:
        return client.admin.command("buildInfo").get("ferretdbVersion")
    except PyMongoError:
        return None


def is_mongos(client: MongoClient[Any]) -> bool:
    """Whether the client talks to a sharded cluster's router."""
    return client.admin.command("hello").get("msg") == "isdbgrid"


def cap(db: Database[Any], name: str, options: Mapping[str, Any]) -> list[str]:
    """Bring an existing collection to its capped options: convertToCapped for a plain one, then
    collMod of its maximum (and size) where they differ; nothing when they match."""
    current = db[name].options()
    done = []
    if not current.get("capped"):
        db.command("convertToCapped", name, size=options["size"])
        done.append(f"converted {name} to a capped collection of size {options['size']}")
        current = db[name].options()
    changes = {}
    if current.get("size") != options["size"]:
        changes["cappedSize"] = options["size"]
    if current.get("max") != options["max"]:
        changes["cappedMax"] = options["max"]
    if changes:
        db.command({"collMod": name, **changes})
        done.append(f"changed the cap of {name}: {changes}")
    return done


def apply(db: Database[Any], shard: bool = True, without: Collection[str] = ()) -> list[str]:
    """Create or update every collection of the design in `db`; returns what changed.

    `without` names FEATURES to leave out (see `left_out`), for a server that lacks them.
    """
    unknown = set(without) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)}: choose from {', '.join(FEATURES)}")
    done: list[str] = []
    existing = set(db.list_collection_names())
    for definition in definitions():
        name = definition["collection"]
        rules = {key: definition[key] for key in ("validator", "validationLevel", "validationAction")}
        if "validators" in without:
            rules = {}
        options = definition.get("options", {})  # a capped collection's capped, size and max
        if name not in existing:
            db.create_collection(name, **options, **rules)
            done.append(f"created {name}" + (f" (capped: size {options['size']}, max {options['max']})" if options else ""))
        else:
            if options:
                done += cap(db, name, options)
            if rules:
                db.command({"collMod": name, **rules})
        collection = db[name]
        current = {index["name"]: index for index in collection.list_indexes()}
        for spec in definition["indexes"]:
            if index_needs(spec) & set(without):
                continue
            have = current.get(spec["name"])
            if have is not None and not same_index(have, spec):
                collection.drop_index(spec["name"])
                done.append(f"dropped changed index {name}.{spec['name']}")
                have = None
            if have is None:
                collection.create_indexes([index_model(spec)])
                done.append(f"created index {name}.{spec['name']}")
            elif have.get("expireAfterSeconds") != spec.get("expireAfterSeconds"):
                db.command({"collMod": name, "index": {"name": spec["name"], "expireAfterSeconds": spec["expireAfterSeconds"]}})
                done.append(f"changed TTL of {name}.{spec['name']}")
        shard_key = definition["shardKey"]
        if shard and shard_key["sharded"] and is_mongos(db.client):
            key = {path: direction for path, direction in shard_key["key"]}
            try:
                db.client.admin.command("shardCollection", f"{db.name}.{name}", key=key)
                done.append(f"sharded {name} on {key}")
            except OperationFailure as exc:
                if "already sharded" not in str(exc):
                    raise
    return done


def main() -> int:
    # argparse, like the other generated scripts: --help prints the usage and never connects.
    parser = argparse.ArgumentParser(
        description=__doc__.split("\\n\\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url", help="MongoDB URL, e.g. mongodb://127.0.0.1:27017/")
    parser.add_argument("dbname", nargs="?", help="database (default: the URL's, else the model's name)")
    parser.add_argument("--without", default="", metavar="FEATURE,...", help="leave out: " + ", ".join(FEATURES))
    args = parser.parse_args()
    without = [f for f in args.without.split(",") if f]
    if not set(without) <= set(FEATURES):
        parser.print_usage(sys.stderr)
        print(f"--without: unknown features {sorted(set(without) - set(FEATURES))}", file=sys.stderr)
        return 2
    database = mongodb_database(args.url, args.dbname, "__MODEL__")
    client = database.client
    try:
        done = apply(database, without=without)
    except PyMongoError as exc:
        print(f"{args.url}: {one_line(exc)}", file=sys.stderr)
        refused = isinstance(exc, OperationFailure) and exc.code == NOT_IMPLEMENTED
        # Asking FerretDB what it is needs a server that answers: not after a server selection timeout.
        if refused or (not isinstance(exc, ServerSelectionTimeoutError) and ferretdb_version(client)):
            print("the server lacks a MongoDB feature this design uses: see --without in `python setup.py`", file=sys.stderr)
        return 1
    for line in done or ["nothing to change"]:
        print(line)
    for line in left_out(without):
        print(f"left out: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def render_setup(design: DocumentDesign) -> str:
    """mongodb/setup.py."""
    database = module_code("polyplan.stores.document", "client.py")
    report = module_code("polyplan.emit", "error_line.py")
    script = SETUP_SCRIPT.replace("__MONGODB_DATABASE__\n", database).replace("__SCRIPT_REPORT__\n", report)
    return script.replace("__MODEL__", design.model)
