"""The scaffold's document store (a MongoDB wire-protocol server as the system of record): what
`<package>/documents.py` holds, decided from the plan (pure), and its text.

Every query is the document target's own (`polyplan.stores.document.design`: the same `QuerySpec`
filters, sorts, projections and limits as mongodb/queries.json), every increment its `$inc` update
(`document.increments.build_writes`), every index its definition (`render.index_json`), carried
into the package as Extended JSON (`render.dumps`) and read back with pymongo's `bson.json_util`,
so a Decimal128 or a date in a filter reaches the server as the plan wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from polyplan.model.schema import COLLECTION_TYPES, Attribute, Family, TypeName, WriteKind
from polyplan.plan.ir import Plan
from polyplan.scaffold.design import Column, ResultClass, Scaffold, class_name, identifiers

# Where the package finds the document store: <APP>_MONGODB_URL, its database from the URL's path.
URL_VARIABLE = "MONGODB_URL"


@dataclass(frozen=True)
class DocClass:
    """A dataclass of documents.py: an entity's document, or the fields one pattern projects."""

    cls: ResultClass
    paths: tuple[tuple[str, str], ...]  # attribute → its document path


@dataclass(frozen=True)
class DocParam:
    """A parameter of a document read: the query's `$param` name, its Python name, type and use."""

    name: str
    field: str
    kind: str
    use: str  # value, list, min, max, above, below, prefix, text, item


@dataclass(frozen=True)
class DocRead:
    """One access pattern served by a collection, run as queries.json has it."""

    pattern: str
    entity: str
    result: str  # DocClass name
    single: bool
    params: tuple[DocParam, ...]
    query: dict[str, Any]  # collection, filter (with $param), projection, sort, limit, hint


@dataclass(frozen=True)
class DocWrite:
    """One write pattern on a collection: by key (insert, update, upsert, delete) or an `$inc`."""

    name: str
    entity: str
    kind: WriteKind
    result: str  # the entity's DocClass
    key: tuple[Column, ...]  # the key attributes (the filter's `$param` names are their names)
    written: tuple[Column, ...]  # what an update sets
    command: dict[str, Any]  # collection, filter and (update, increment) the update document


@dataclass(frozen=True)
class DocumentScaffold:
    """documents.py: its classes, reads, writes and the indexes `install_documents` creates."""

    classes: tuple[DocClass, ...]
    reads: tuple[DocRead, ...]
    writes: tuple[DocWrite, ...]
    indexes: dict[str, list[dict[str, Any]]]  # collection → index definitions (collections/*.json)
    handled: frozenset[str]  # the model paths (access_patterns.N, write_patterns.N) given a function
    fed: frozenset[str] = frozenset()  # entities a search index projects: their writes carry outbox events


def _kind(attribute: Attribute) -> str:
    return "json" if attribute.type in (*COLLECTION_TYPES, TypeName.OBJECT) else attribute.type.value


def design_documents(plan: Plan, skipped: list[tuple[str, str]]) -> DocumentScaffold | None:
    """The document store's part of the scaffold (None when the plan keeps no entity there); what
    it cannot give a function is added to `skipped` (model path, why)."""
    stored = plan.records_in(Family.DOCUMENT)
    if not stored:
        return None
    from polyplan.model.derived import all_attributes, key_of, pattern_positions
    from polyplan.scaffold.doc_outbox import live_filter
    from polyplan.stores.cache.sizing import lookup_set
    from polyplan.stores.document.design import design
    from polyplan.stores.document.increments import build_writes
    from polyplan.stores.document.render import index_json

    model = plan.model
    found = design(plan)
    positions = pattern_positions(model)
    fed = frozenset(e for e in stored if any(p.family is Family.SEARCH for p in plan.entities[e].projections))
    handled: set[str] = set()
    classes: dict[str, DocClass] = {}
    indexes: dict[str, list[dict[str, Any]]] = {}
    for collection in found.collections:
        if collection.entity not in stored:
            continue
        attributes = all_attributes(model, collection.entity)
        names = [a for a in attributes if a in collection.paths]
        columns = tuple(
            Column(n, _kind(attributes[n]), attributes[n].nullable, f)
            for n, f in zip(names, identifiers(names), strict=True)
        )
        classes[collection.entity] = DocClass(
            ResultClass(class_name(collection.entity), collection.entity, columns),
            tuple((n, collection.paths[n]) for n in names),
        )
        indexes[collection.name] = [index_json(i) for i in collection.indexes]
    reads: list[DocRead] = []
    for query in found.queries:
        path = f"access_patterns.{query.pattern}"  # by name, as design.py names a skipped read
        if query.entity not in classes:
            continue
        if query.lookups or query.embedded:
            skipped.append(
                (path, "it reads related entities with its documents: run it as mongodb/queries.json has it")
            )
            continue
        entity = classes[query.entity]
        attributes = all_attributes(model, query.entity)
        params: list[DocParam] = []
        for param, field in zip(query.params, identifiers([p.name for p in query.params]), strict=True):
            attribute = attributes.get(param.attribute)
            if attribute is None:
                break
            if param.kind == "item" and attribute.items is not None:
                attribute = attribute.items
            kind = "string" if param.kind in ("prefix", "text") else _kind(attribute)
            params.append(DocParam(param.name, field, kind, param.kind))
        else:
            result = entity
            if query.projection is not None:
                shown = {p for p, on in query.projection.items() if on} | (
                    {"_id"} if query.projection.get("_id", 1) else set()
                )
                kept = [(c, p) for c, (_, p) in zip(entity.cls.columns, entity.paths, strict=True) if p in shown]
                result = DocClass(
                    ResultClass(class_name(query.pattern) + "Document", query.entity, tuple(c for c, _ in kept)),
                    tuple((c.name, p) for c, p in kept),
                )
                classes[f"{query.entity}.{query.pattern}"] = result
            pattern = model.access_patterns[positions[query.pattern]]
            body = {
                "collection": query.collection,
                "filter": live_filter(query.filter) if query.entity in fed else query.filter,
                "projection": query.projection,
                "sort": [[p, d] for p, d in query.sort],
                "limit": query.limit,
                "hint": query.index,
            }
            reads.append(
                DocRead(
                    query.pattern,
                    query.entity,
                    result.cls.name,
                    lookup_set(model, pattern) is not None,
                    tuple(params),
                    body,
                )
            )
            handled.add(path)
            continue
        skipped.append((path, "a filter follows a relationship: run it as mongodb/queries.json has it"))
    increments = {w["write"]: w for w in build_writes(plan, found)}
    writes: list[DocWrite] = []
    for index, wanted in enumerate(model.write_patterns):
        path = f"write_patterns.{index}"
        if wanted.entity not in stored:
            continue
        if wanted.entity not in classes:
            skipped.append((path, f"{wanted.entity} is embedded in another collection's documents"))
            continue
        if wanted.where or wanted.lock is not None:
            skipped.append((path, "a write by predicate or lock: run it as mongodb/queries.json's bulk_writes has it"))
            continue
        target = found.collection_of(wanted.entity)
        assert target is not None  # classes holds only top-level collections
        entity = classes[wanted.entity]
        by_name = {c.name: c for c in entity.cls.columns}
        key = tuple(by_name[a] for a in key_of(model.entities[wanted.entity]).attributes)
        command: dict[str, Any]
        if wanted.kind is WriteKind.INCREMENT:
            increment = increments[wanted.name]
            command = {k: increment[k] for k in ("collection", "method", "filter", "update")}
        else:
            # By key, as the increments address a document (document.increments): the key's paths.
            command = {
                "collection": collection.name,
                "filter": {collection.paths[c.name]: {"$param": c.name} for c in key},
            }
        written = tuple(by_name[a] for a in wanted.attributes if a in by_name)
        if wanted.kind is WriteKind.UPDATE and not written:
            written = tuple(c for c in entity.cls.columns if c not in key)
        writes.append(DocWrite(wanted.name, wanted.entity, wanted.kind, entity.cls.name, key, written, command))
        handled.add(path)
    return DocumentScaffold(tuple(classes.values()), tuple(reads), tuple(writes), indexes, frozenset(handled), fed)


# --- the text of documents.py --------------------------------------------------------------


def _ext(value: Any) -> str:
    """A Python string literal of `value` as Extended JSON (relaxed), one line, deterministic."""
    import json

    from polyplan.stores.document import extjson

    return repr(json.dumps(json.loads(extjson.dumps(value)), ensure_ascii=False, separators=(",", ":")))


def class_head(cls: ResultClass, what: str, annotation: Any) -> str:
    """A generated dataclass up to its methods: the fields, KINDS (attribute → type name) and FIELDS
    (attribute → Python name); `what` says what one instance is ("A document of")."""
    fields = "\n".join(f"    {c.field}: {annotation(c.kind, c.nullable)}" for c in cls.columns)
    kinds = ", ".join(f"{c.name!r}: {c.kind!r}" for c in cls.columns)
    names = ", ".join(f"{c.name!r}: {c.field!r}" for c in cls.columns)
    return (
        f"@dataclass(frozen=True)\nclass {cls.name}:\n"
        f'    """{what} {cls.entity} ({", ".join(c.name for c in cls.columns)})."""\n\n'
        f"{fields}\n\n"
        f"    KINDS: ClassVar[dict[str, str]] = {{{kinds}}}\n"
        f"    FIELDS: ClassVar[dict[str, str]] = {{{names}}}\n"
    )


def _class(doc: DocClass, annotation: Any) -> str:
    cls = doc.cls
    paths = ", ".join(f"{a!r}: {p!r}" for a, p in doc.paths)
    return (
        class_head(cls, "A document of", annotation) + f"    PATHS: ClassVar[dict[str, str]] = {{{paths}}}\n\n"
        "    @classmethod\n"
        f"    def from_document(cls, document: Mapping[str, Any]) -> {cls.name}:\n"
        '        """From a stored document (a field it leaves out is None)."""\n'
        "        return cls(**from_document(cls.KINDS, cls.PATHS, cls.FIELDS, document))\n\n"
        "    def to_document(self) -> dict[str, Any]:\n"
        '        """The document as the design stores it (a None field left out)."""\n'
        "        values = {name: getattr(self, field) for name, field in self.FIELDS.items()}\n"
        "        return to_document(self.KINDS, self.PATHS, values)\n"
    )


def _signature(params: Sequence[tuple[str, str]], annotation: Any) -> str:
    return ", ".join(["stores: Stores", *(f"{field}: {annotation(kind)}" for field, kind in params)])


def _read(read: DocRead, annotation: Any) -> str:
    params = [(p.field, p.kind if p.use != "list" else f"list:{p.kind}") for p in read.params]

    def typed(kind: str, nullable: bool = False) -> str:
        return f"Sequence[{annotation(kind[5:])}]" if kind.startswith("list:") else str(annotation(kind))

    returns = f"{read.result} | None" if read.single else f"list[{read.result}]"
    values = ", ".join(f"{p.name!r}: param_value({p.kind!r}, {p.use!r}, {p.field})" for p in read.params)
    shape = ", ".join(
        part
        for part in (
            f"filter {read.query['filter']}".replace("'", ""),
            f"sort {read.query['sort']}" if read.query["sort"] else "",
            f"limit {read.query['limit']}" if read.query["limit"] else "",
        )
        if part
    )
    found = f"find_all(database[QUERIES[{read.pattern!r}]['collection']], QUERIES[{read.pattern!r}], params, {read.result}.from_document)"
    answer = "    return found[0] if found else None\n" if read.single else "    return found\n"
    return (
        f"def {read.pattern}({_signature(params, typed)}) -> {returns}:\n"
        f'    """{read.pattern}: {read.entity} from the collection {read.query["collection"]!r} ({shape}),\n'
        f'    served by the index {read.query["hint"]!r}."""\n'
        f"    params: dict[str, Any] = {{{values}}}\n"
        f"    database = document_store(stores, {read.pattern!r})\n"
        f"    with answering({read.pattern!r}):\n"
        f"        found = {found}\n" + answer
    )


def _write(write: DocWrite, annotation: Any, fed: frozenset[str] = frozenset()) -> str:
    if write.entity in fed:  # its event goes with it (polyplan.scaffold.doc_outbox)
        from polyplan.scaffold.doc_outbox import fed_write

        return fed_write(write, lambda params: _signature(params, annotation))
    key = [(c.field, c.kind) for c in write.key]
    key_kinds = "{" + ", ".join(f"{c.name!r}: {c.kind!r}" for c in write.key) + "}"
    key_values = ", ".join(c.field for c in write.key)
    where = (
        f"    where = key_filter(WRITES[{write.name!r}]['filter'], {key_kinds}, [{key_values}])\n"
        f"    collection = document_store(stores, {write.name!r})[WRITES[{write.name!r}]['collection']]\n"
    )
    head = f"    with answering({write.name!r}):\n"
    if write.kind is WriteKind.INCREMENT:
        update = write.command["update"]["$inc"]
        return (
            f"def {write.name}({_signature(key, annotation)}) -> bool:\n"
            f'    """{write.name}: add {", ".join(f"{v} to {p}" for p, v in update.items())} of one {write.entity} with `$inc`\n'
            '    (atomic on the server: concurrent increments never lose one another). False when no document has the key."""\n'
            + where
            + head
            + f"        done = collection.update_one(where, WRITES[{write.name!r}]['update'])\n"
            "    return done.matched_count == 1\n"
        )
    if write.kind in (WriteKind.INSERT, WriteKind.UPSERT):
        verb = (
            "insert_one(row.to_document())"
            if write.kind is WriteKind.INSERT
            else "replace_one(where, row.to_document(), upsert=True)"
        )
        what = (
            "inserts the document"
            if write.kind is WriteKind.INSERT
            else "writes the whole document by its key, inserting it if absent"
        )
        key_of_row = ", ".join(f"row.{c.field}" for c in write.key)
        where_row = (
            where.replace(f"[{key_values}]", f"[{key_of_row}]")
            if write.kind is WriteKind.UPSERT
            else (f"    collection = document_store(stores, {write.name!r})[WRITES[{write.name!r}]['collection']]\n")
        )
        return (
            f"def {write.name}(stores: Stores, row: {write.result}) -> {write.result}:\n"
            f'    """{write.name}: {what} ({write.entity})."""\n' + where_row + head + f"        collection.{verb}\n"
            "    return row\n"
        )
    if write.kind is WriteKind.DELETE:
        return (
            f"def {write.name}({_signature(key, annotation)}) -> {write.result} | None:\n"
            f'    """{write.name}: deletes one {write.entity} by its key; the document deleted, or None."""\n'
            + where
            + head
            + "        found = collection.find_one_and_delete(where)\n"
            f"    return None if found is None else {write.result}.from_document(found)\n"
        )
    written = [(c.field, c.kind) for c in write.written]
    sets = ", ".join(f"{c.name!r}: {c.field}" for c in write.written)
    return (
        f"def {write.name}({_signature(key + [(f, k) for f, k in written], annotation)}) -> {write.result} | None:\n"
        f'    """{write.name}: sets {", ".join(c.name for c in write.written)} of one {write.entity} by its key; the\n'
        '    document after the update, or None when no document has the key."""\n'
        + where
        + f"    values = {{{sets}}}\n"
        + f"    update = {{'$set': to_document({{n: {write.result}.KINDS[n] for n in values}}, {write.result}.PATHS, values)}}\n"
        + head
        + "        found = collection.find_one_and_update(where, update, return_document=ReturnDocument.AFTER)\n"
        f"    return None if found is None else {write.result}.from_document(found)\n"
    )


def render_documents(scaffold: Scaffold, documents: DocumentScaffold, annotation: Any) -> str:
    """The text of `<package>/documents.py`."""
    package = scaffold.package
    from polyplan.scaffold.doc_outbox import outbox_names
    from polyplan.scaffold.module_text import _from_import, _module, record_imports  # the shared module rules

    queries = {r.pattern: r.query for r in documents.reads}
    writes = {w.name: w.command for w in documents.writes}
    names = sorted(["install_documents", *(r.pattern for r in documents.reads), *(w.name for w in documents.writes)])
    runtime = ["answering", "find_all", "from_document", "index_model", "key_filter", "param_value", "to_document"]
    imports = [
        *record_imports("Mapping", "Sequence"),
        "",
        "from bson import json_util",
        "from bson.binary import UuidRepresentation",
        "from bson.json_util import JSONMode, JSONOptions",
        "from pymongo import ReturnDocument",
        "from pymongo.database import Database",
        "",
        *([_from_import(f"{package}.doc_outbox_runtime", outbox_names(documents))] if documents.fed else []),
        _from_import(f"{package}.document_runtime", runtime),
        _from_import(f"{package}.settings", ["SettingsError", "Stores"]),
        "",
        "__all__ = [" + ", ".join(repr(n) for n in names) + "]",
        "# Referenced by some annotations only (depending on the model's types).",
        "_TYPES = (uuid.UUID, date, datetime, Decimal, Sequence, ReturnDocument)",
    ]
    prefix = package.upper()
    body = (
        "# How the plan's Extended JSON is read: relaxed, standard uuids, aware dates.\n"
        "_JSON = JSONOptions(json_mode=JSONMode.RELAXED, uuid_representation=UuidRepresentation.STANDARD, tz_aware=True)\n\n"
        '# The finds exactly as mongodb/queries.json has them ({"$param": name}: a function\'s argument).\n'
        "QUERIES: dict[str, dict[str, Any]] = {\n"
        + "".join(f"    {p!r}: json_util.loads({_ext(q)}, json_options=_JSON),\n" for p, q in queries.items())
        + "}\n\n"
        "# Each write pattern's filter (by key) and, for an increment, the planned $inc update.\n"
        "WRITES: dict[str, dict[str, Any]] = {\n"
        + "".join(f"    {w!r}: json_util.loads({_ext(c)}, json_options=_JSON),\n" for w, c in writes.items())
        + "}\n\n"
        "# The indexes of each collection as mongodb/collections/*.json defines them.\n"
        "INDEXES: dict[str, list[dict[str, Any]]] = {\n"
        + "".join(f"    {c!r}: json_util.loads({_ext(i)}, json_options=_JSON),\n" for c, i in documents.indexes.items())
        + "}\n\n\n"
        "def document_store(stores: Stores, who: str) -> Database[dict[str, Any]]:\n"
        '    """The document store\'s database, or a one-line SettingsError naming what to set."""\n'
        "    if stores.documents is None:\n"
        f'        raise SettingsError(f"{{who}} needs the document store: set {prefix}_{URL_VARIABLE} to its URL")\n'
        "    return stores.documents\n\n\n"
        "def install_documents(stores: Stores) -> None:\n"
        '    """Create the designed indexes of every collection (an index that exists is left as it is).\n'
        '    Validators, TTL changes and sharding are mongodb/setup.py\'s."""\n'
        '    database = document_store(stores, "install_documents")\n'
        '    with answering("install_documents"):\n'
        "        for collection, specs in INDEXES.items():\n"
        "            if specs:\n"
        "                database[collection].create_indexes([index_model(spec) for spec in specs])\n\n\n"
        + "\n\n".join(_class(c, annotation) for c in documents.classes)
        + "\n\n"
        + "\n\n".join(
            [
                *(_read(r, annotation) for r in documents.reads),
                *(_write(w, annotation, documents.fed) for w in documents.writes),
            ]
        )
    )
    return _module(
        scaffold,
        "One function per access and write pattern of the entities the plan keeps in the document store\n(a MongoDB wire-protocol server), with the plan's filters, sorts, projections, limits and $inc.",
        imports,
        body,
    )


def settings_parts(package: str) -> dict[str, str]:
    """The lines settings.py adds for the document store (its variable, field, connection)."""
    prefix = package.upper()
    return {
        "names": f'MONGODB_URL = "{prefix}_{URL_VARIABLE}"\n',
        "field": "    documents: Database[dict[str, Any]] | None = None  # the document store's database\n",
        "doc": f", {prefix}_{URL_VARIABLE} (optional: its database is the URL's path, else {package!r})",
        "connect": "    mongodb_url = environ.get(MONGODB_URL)\n"
        f"    documents = mongodb_database(mongodb_url, None, {package!r}) if mongodb_url else None\n",
        "args": ", documents=documents",
    }


def runtime_code() -> str:
    """`document_runtime.py`'s code (without its docstring) with the query-template filler
    (`polyplan.stores.document.templates`) carried in, then polyplan's own MongoDB client
    settings (`polyplan.stores.document.client`: standard uuids, aware dates, a 10 s server selection)."""
    from polyplan.emit.embed import carried_code, merged_code, module_code

    client = module_code("polyplan.stores.document", "client.py")
    # client.py quotes its annotations for the scripts that carry it without `from __future__ import
    # annotations`; the package's modules have that import, where ruff asks for them unquoted.
    client = client.replace('"MongoClient[Any]"', "MongoClient[Any]").replace('"Database[Any]"', "Database[Any]")
    own = carried_code("polyplan.scaffold", "document_runtime.py")
    return merged_code(own, module_code("polyplan.stores.document", "templates.py")) + client
