"""The scaffold's outbox for entities the document store keeps and a search index projects (issue
15): what their write functions in `documents.py` do instead of a plain write, and the text of
`<package>/doc_relay.py`, the relay command that keeps their indexes. The runtime they call is
`doc_outbox_runtime.py` (copied into the package; its docstring has the design: the pending events
in the record's own document, one single-document command per write, a state-based relay with the
record's version as the external version). Pure: nothing here does I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from polyplan.model.schema import WriteKind
from polyplan.scaffold.relay_render import relay_command

if TYPE_CHECKING:
    from polyplan.scaffold.design import Scaffold
    from polyplan.scaffold.document import DocumentScaffold, DocWrite

# What each write kind's function calls in the copied runtime.
_CALLS = {
    WriteKind.INSERT: "insert_record",
    WriteKind.UPSERT: "replace_record",
    WriteKind.DELETE: "delete_record",
    WriteKind.UPDATE: "update_record",
    WriteKind.INCREMENT: "increment_record",
}


RELAY = "doc_relay"


def relayed(scaffold: Scaffold) -> bool:
    """Whether the package has the document store's relay (`doc_relay.py`): a document-store entity
    written through the package feeds a search index."""
    return bool(scaffold.documents and scaffold.documents.fed and scaffold.indexes)


def outbox_names(documents: DocumentScaffold) -> list[str]:
    """What documents.py imports from the copied runtime (the calls of its fed writes)."""
    return sorted({_CALLS[w.kind] for w in documents.writes if w.entity in documents.fed})


def document_columns(documents: DocumentScaffold | None) -> dict[str, dict[str, str]]:
    """Entity → attribute → model type, for each fed document-store entity (a search index's fields
    are read from these, by attribute name)."""
    if documents is None:
        return {}
    return {
        doc.cls.entity: {c.name: c.kind for c in doc.cls.columns}
        for doc in documents.classes
        if doc.cls.entity in documents.fed and doc.cls.name == _entity_class(documents, doc.cls.entity)
    }


def _entity_class(documents: DocumentScaffold, entity: str) -> str:
    """The class of an entity's whole document (the first one designed for it; the others are
    the projections of single patterns)."""
    return next(doc.cls.name for doc in documents.classes if doc.cls.entity == entity)


def live_filter(query_filter: dict[str, Any]) -> dict[str, Any]:
    """A planned filter of a fed collection, restricted to live documents (a tombstone of a
    deleted record waits there until the relay has applied its delete)."""
    live = {"_pp_deleted": {"$exists": False}}
    return {"$and": [query_filter, live]} if query_filter else live


def fed_write(write: DocWrite, signature: Callable[[list[tuple[str, str]]], str]) -> str:
    """The function of one write pattern on a fed entity: the same signature and answer as the plain
    one (document.py), its event written with it in the same single-document command."""
    key = [(c.field, c.kind) for c in write.key]
    key_kinds = "{" + ", ".join(f"{c.name!r}: {c.kind!r}" for c in write.key) + "}"
    name = write.name

    def where(values: str) -> str:
        return (
            f"    where = key_filter(WRITES[{name!r}]['filter'], {key_kinds}, [{values}])\n"
            f"    collection = document_store(stores, {name!r})[WRITES[{name!r}]['collection']]\n"
            f"    with answering({name!r}):\n"
        )

    by_key = ", ".join(c.field for c in write.key)
    of_row = ", ".join(f"row.{c.field}" for c in write.key)
    outbox = "with its outbox event in the same single-document command"
    if write.kind is WriteKind.INCREMENT:
        return (
            f"def {name}({signature(key)}) -> bool:\n"
            f'    """{name}: the planned `$inc` of one {write.entity}, {outbox} (the version\n'
            '    incremented, the event pushed). False when no live document has the key."""\n'
            + where(by_key)
            + f"        return increment_record(collection, where, WRITES[{name!r}]['update'])\n"
        )
    if write.kind is WriteKind.INSERT:
        return (
            f"def {name}(stores: Stores, row: {write.result}) -> {write.result}:\n"
            f'    """{name}: inserts the document ({write.entity}), {outbox}\n'
            '    (over a tombstone of the same key not relayed yet, the tombstone is revived)."""\n'
            + where(of_row)
            + "        insert_record(collection, row.to_document(), where)\n"
            "    return row\n"
        )
    if write.kind is WriteKind.UPSERT:
        return (
            f"def {name}(stores: Stores, row: {write.result}) -> {write.result}:\n"
            f'    """{name}: writes the whole document by its key, inserting it if absent ({write.entity}),\n'
            f'    {outbox}."""\n' + where(of_row) + "        replace_record(collection, where, row.to_document())\n"
            "    return row\n"
        )
    if write.kind is WriteKind.DELETE:
        return (
            f"def {name}({signature(key)}) -> {write.result} | None:\n"
            f'    """{name}: deletes one {write.entity} by its key, {outbox}: the document\n'
            "    becomes a tombstone the reads skip until the relay has applied the delete. The document\n"
            '    deleted, or None."""\n' + where(by_key) + "        found = delete_record(collection, where)\n"
            f"    return None if found is None else {write.result}.from_document(found)\n"
        )
    written = [(c.field, c.kind) for c in write.written]
    sets = ", ".join(f"{c.name!r}: {c.field}" for c in write.written)
    return (
        f"def {name}({signature(key + written)}) -> {write.result} | None:\n"
        f'    """{name}: sets {", ".join(c.name for c in write.written)} of one {write.entity} by its key, {outbox};\n'
        '    the document after the update, or None when no live document has the key."""\n'
        f"    values = {{{sets}}}\n"
        f"    fields = to_document({{n: {write.result}.KINDS[n] for n in values}}, {write.result}.PATHS, values)\n"
        + where(by_key)
        + "        found = update_record(collection, where, fields)\n"
        f"    return None if found is None else {write.result}.from_document(found)\n"
    )


def render_doc_relay(scaffold: Scaffold, documents: DocumentScaffold) -> str:
    """The text of `<package>/doc_relay.py`: `python -m <package>.doc_relay [--once] [--batch N]
    [--metrics-port P]`."""
    from polyplan.scaffold.module_text import _from_import, _module  # the shared module rules

    package = scaffold.package
    fed = document_columns(documents)
    collections: dict[str, str] = {}
    for entity, collection in [
        *((w.entity, w.command["collection"]) for w in documents.writes),
        *((r.entity, r.query["collection"]) for r in documents.reads),
    ]:
        if entity in fed:
            collections.setdefault(entity, collection)
    classes = {entity: _entity_class(documents, entity) for entity in sorted(collections)}
    entries = "".join(f"    {e!r}: ({collections[e]!r}, {classes[e]}),\n" for e in sorted(collections))
    client = {"opensearch": "opensearchpy", "elasticsearch": "elasticsearch"}[scaffold.search_engine or "opensearch"]
    body = f'''# Per fed entity: its collection and the class of its whole document.
COLLECTIONS: dict[str, tuple[str, Any]] = {{
{entries}}}
# What stops the command with one line (a store that never answered, a missing setting).
FAILURES: tuple[type[Exception], ...] = (SettingsError, DocumentStoreUnreachable, PyMongoError, *TRANSIENT)


def _row(cls: Any, document: Mapping[str, Any]) -> dict[str, Any]:
    """A stored document as the search projection reads a record: attribute → JSON value."""
    record = cls.from_document(document)
    return {{name: encode(kind, getattr(record, cls.FIELDS[name])) for name, kind in cls.KINDS.items()}}


def appliers(stores: Stores) -> dict[str, Apply]:
    """Per fed entity: one bulk request per batch to its write alias, each record's newest state at
    its version (`version_type: external`)."""
    client = search_client(stores, "the document relay")

    def bulk(actions: list[dict[str, Any]]) -> Any:
        return helpers.streaming_bulk(client, actions, raise_on_error=False, raise_on_exception=True, max_retries=0)

    def outcome(actions: Any, results: Any) -> Mapping[Any, str]:
        return search_outcome(actions, results).parked

    found: dict[str, Apply] = {{}}
    for entity, (_, cls) in COLLECTIONS.items():
        target = TARGETS[entity]

        def source(document: Mapping[str, Any], target: SearchTarget = target, cls: Any = cls) -> dict[str, Any]:
            return search_document(target, _row(cls, document))

        def doc_id(document: Mapping[str, Any], target: SearchTarget = target, cls: Any = cls) -> str:
            return search_id(target, _row(cls, document))

        found[entity] = search_apply(stores.index_prefix + target.alias, source, bulk, outcome, doc_id)
    return found


def run(stores: Stores, batch: int = 100, once: bool = False, metrics: Metrics | None = None) -> int:
    """Relay the fed collections' pending events to their search indexes until stopped (or until
    none is pending, with `once`)."""
    database = document_store(stores, "the document relay")
    collections = {{entity: database[name] for entity, (name, _) in COLLECTIONS.items()}}
    return relay_forever(collections, appliers(stores), batch, once, transient=TRANSIENT, metrics=metrics)


'''
    body += relay_command(
        f"{package}.doc_relay",
        "Relay the document store's outbox events to the search indexes.",
        "records per batch",
        ["install_search"],
    )
    imports = [
        "import sys",
        "from collections.abc import Mapping",
        "from typing import Any",
        "",
        f"from {client} import helpers",
        "from pymongo.errors import PyMongoError",
        "",
        _from_import(f"{package}.doc_outbox_runtime", ["Apply", "relay_forever", "search_apply"]),
        _from_import(f"{package}.document_runtime", ["DocumentStoreUnreachable"]),
        _from_import(f"{package}.documents", sorted({"document_store", *classes.values()})),
        _from_import(f"{package}.relay_metrics", ["Metrics", "relay_main"]),
        _from_import(f"{package}.runtime", ["encode"]),
        _from_import(f"{package}.search", ["TARGETS", "TRANSIENT", "install_search", "search_client"]),
        _from_import(f"{package}.search_runtime", ["SearchTarget", "search_document", "search_id", "search_outcome"]),
        _from_import(f"{package}.settings", ["SettingsError", "Stores", "connect"]),
    ]
    return _module(
        scaffold,
        "The relay of the document store's outbox: `python -m <package>.doc_relay` (see doc_outbox_runtime.py).",
        imports,
        body,
    )


def relay_metrics_import(code: str, package: str) -> str:
    """A copied runtime's code with its import of relay_metrics (the relays' shared loop and
    metrics, polyplan/scaffold/relay_metrics.py) pointed at the package's own copy."""
    marker = "from polyplan.scaffold.relay_metrics import"
    if marker not in code:
        raise ValueError("the runtime no longer imports relay_metrics")
    return code.replace("# In a package, the package's own relay_metrics (copied beside this module).\n", "").replace(
        marker, f"from {package}.relay_metrics import"
    )


def runtime_code(package: str) -> str:
    """`doc_outbox_runtime.py`'s code, without its docstring, its relay_metrics import pointed at
    the package's own copy."""
    from polyplan.emit.embed import module_code

    return relay_metrics_import(module_code("polyplan.scaffold", "doc_outbox_runtime.py"), package)
