"""The load generator's and the checker's parts for the entities kept outside the relational system
of record (issue 15): the document store's, Cassandra's and Redis's records (pure).

`load.py` gets, per such entity, an `EntitySpec` whose sample is the store's own read (a fed
collection's live documents, the Cassandra base table, the Redis record family), its reads (and the
search reads of its index) and writes at their model rates; `check.py` gets `check_stores`, which
compares each index these records feed with the records: the document store's at `_pp_v`, Cassandra's
at the newest write timestamp of the record's cells (the batch that wrote it last), Redis's by
content only (a relayed stream entry is deleted, and with it the version). The parameters come from
the stores' own designs (the same ones documents.py and wide_column.py are written from)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polyplan.model.schema import WriteKind
from polyplan.plan.ir import Plan

if TYPE_CHECKING:
    from polyplan.scaffold.design import ResultClass, Scaffold

# A document read's parameter use → the load's op (e2e_runtime.param_value).
_DOC_OPS = {
    "value": "eq",
    "list": "in",
    "min": "from",
    "max": "to",
    "above": "from",
    "below": "to",
    "prefix": "prefix",
    "text": "fulltext",
    "item": "contains",
}
# A Cassandra bind marker's op → the load's.
_WIDE_OPS = {
    "eq": "eq",
    "in": "in",
    "range_from": "from",
    "range_after": "from",
    "range_to": "to",
    "range_through": "to",
    "range_before": "to",
}


@dataclass
class StoreParts:
    """What load.py and check.py add for the other stores' entities (empty: nothing)."""

    imports: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)  # `entities()` lines
    reads: list[str] = field(default_factory=list)  # READS lines
    writes: list[str] = field(default_factory=list)  # WRITES lines
    samples: str = ""  # the sample functions
    install: str = ""  # main()'s lines before the load starts
    check: str = ""  # check_stores(), or ""
    check_imports: list[str] = field(default_factory=list)
    stdlib: list[str] = field(default_factory=list)  # load.py's standard-library imports
    modules: list[str] = field(default_factory=list)  # the package's modules load.py and check.py call
    names: set[str] = field(default_factory=set)  # the entities `entities` lists
    failures: list[str] = field(default_factory=list)  # the stores' one-line errors (load.FAILURES)
    keyed_install: bool = False  # load.py creates the Cassandra outbox (keyed_relay.install_outbox)


def _tuple(items: Any) -> str:
    items = list(items)
    return "(" + "".join(f"{item!r}, " for item in items).removesuffix(", ") + ("," if len(items) == 1 else "") + ")"


def _entity_line(plan: Plan, cls: ResultClass, sample: str, module: str) -> str:
    """An EntitySpec of a record class: its key and single unique attributes from the model."""
    from polyplan.model.derived import all_attributes, key_of

    kinds = {c.name: c.kind for c in cls.columns}
    attributes = all_attributes(plan.model, cls.entity)
    key = tuple((a, kinds[a]) for a in key_of(plan.model.entities[cls.entity]).attributes if a in kinds)
    keyed = {a for a, _ in key}
    uniques = tuple((a, kinds[a], attributes[a].max_length) for a in kinds if attributes[a].unique and a not in keyed)
    return f"        {cls.entity!r}: EntitySpec({cls.entity!r}, {module}.{cls.name}, {sample}, {_tuple(key)}, {_tuple(uniques)}),"


def _compare(scaffold: Scaffold, entity: str) -> str:
    """The checker's comparison of a fed entity's records with its index's documents; an index whose
    records expire in their store without an event passes its expiry (expired documents are the
    purge's, not extra)."""
    expiring = any(s.entity == entity and s.expiry is not None for s in scaffold.indexes)
    return (
        f"    compare_records(findings, {entity!r}, found, index_documents(stores, target.alias), "
        f"partial(search_document, target){', target.expiry' if expiring else ''})\n"
    )


def _sample(name: str, what: str, *lines: str) -> str:
    """A sample function of load.py: up to n records of one entity, read from its own store."""
    body = "".join(f"    {line}\n" for line in lines)
    return f'def {name}(stores: Stores, n: int) -> list[Any]:\n    """Up to n {what}, the load\'s first parameters."""\n{body}'


def _add_entity(parts: StoreParts, plan: Plan, cls: ResultClass, sample: str, module: str) -> None:
    parts.entities.append(_entity_line(plan, cls, sample, module))
    parts.names.add(cls.entity)


def _write_lines(module: str, writes: list[Any], rates: dict[str, float], row_delete: bool) -> list[str]:
    lines = []
    for w in writes:
        kind = w.kind.value
        if w.kind is WriteKind.DELETE and row_delete:
            kind = "delete_row"  # a Redis record's delete takes the whole record
        key = () if row_delete else tuple((c.field, c.name) for c in w.key)
        written = tuple((c.field, c.name) for c in getattr(w, "written", ()))
        lines.append(
            f"    WriteSpec({w.name!r}, {w.entity!r}, {rates[w.name]!r}, {kind!r}, {module}.{w.name}, "
            f"{_tuple(key)}, {_tuple(written)}),"
        )
    return lines


def store_parts(plan: Plan, scaffold: Scaffold) -> StoreParts:
    """The other stores' parts of load.py and check.py for `scaffold` (the full design)."""
    parts = StoreParts()
    model = plan.model
    rates = {p.name: p.rate for p in model.access_patterns} | {w.name: w.rate for w in model.write_patterns}
    package = scaffold.package
    modules: list[str] = []
    classes: list[str] = []
    samples: list[str] = []
    checks: list[str] = []
    if scaffold.documents is not None:
        _documents(plan, scaffold, parts, rates, modules, classes, samples, checks)
    if scaffold.wide_column is not None:
        _wide(plan, scaffold, parts, rates, modules, classes, samples, checks)
    if scaffold.records is not None:
        _records(plan, scaffold, parts, rates, modules, classes, samples, checks)
    _searched(plan, scaffold, parts, rates)
    if not parts.entities:
        return parts
    parts.samples = "\n\n".join(samples)
    if any("search." in line for line in parts.reads):
        modules.append("search")
        parts.install += "        search.install_search(stores)  # the indexes these records' search reads use\n"
    parts.modules = sorted(set(modules))
    # A store that does not answer stops the load and the checker with its one line, as the others do.
    unreachable = {
        "documents": (f"{package}.document_runtime", "DocumentStoreUnreachable"),
        "wide_column": (f"{package}.wide_column_runtime", "WideColumnUnreachable"),
    }
    found = [unreachable[m] for m in sorted(set(modules)) if m in unreachable]
    parts.failures = [name for _, name in found]
    parts.imports = [f"from {module} import {name}" for module, name in found] + (
        [f"from {package}.keyed_relay import install_outbox as install_keyed_outbox"] if parts.keyed_install else []
    )
    if checks:
        parts.check = (
            "def check_stores(stores: Stores, findings: Findings) -> None:\n"
            '    """Each search index fed by the document store, Cassandra or Redis against its records."""\n'
            + "".join(checks)
        )
    return parts


def _documents(plan: Plan, scaffold: Scaffold, parts: StoreParts, rates: dict[str, float], *out: list[str]) -> None:
    from polyplan.scaffold.doc_outbox import _entity_class
    from polyplan.stores.document.design import design

    modules, classes, samples, checks = out
    documents = scaffold.documents
    assert documents is not None
    queries = {q.pattern: q for q in design(plan).queries}
    whole = {
        doc.cls.entity: doc.cls for doc in documents.classes if doc.cls.name == _entity_class(documents, doc.cls.entity)
    }
    collections = {w.entity: w.command["collection"] for w in documents.writes} | {
        r.entity: r.query["collection"] for r in documents.reads
    }
    for entity, cls in whole.items():
        if entity not in collections:
            continue
        collection = collections[entity]
        live = {"_pp_deleted": {"$exists": False}} if entity in documents.fed else {}
        name = f"sample_{cls.name}"
        samples.append(
            _sample(
                name,
                f"{entity} documents (live ones)",
                f"found = documents.document_store(stores, 'the load')[{collection!r}].find({live!r}).limit(n)",
                f"return [documents.{cls.name}.from_document(document) for document in found]",
            )
        )
        _add_entity(parts, plan, cls, name, "documents")
        classes.append(cls.name)
        if entity in documents.fed and any(s.entity == entity for s in scaffold.indexes):
            checks.append(
                f"    target = TARGETS[{entity!r}]\n"
                f"    stored = documents.document_store(stores, 'the checker')[{collection!r}].find({{}})\n"
                f"    found = document_records(findings, {entity!r}, stored, documents.{cls.name}.from_document, partial(search_id, target))\n"
                + _compare(scaffold, entity)
            )
    for read in documents.reads:
        query = queries[read.pattern]
        params = tuple(
            (p.field, q.attribute, _DOC_OPS.get(p.use, "eq"), p.kind)
            for p, q in zip(read.params, query.params, strict=True)
        )
        parts.reads.append(
            f"    ReadSpec({read.pattern!r}, {read.entity!r}, {rates[read.pattern]!r}, 'documents', "
            f"documents.{read.pattern}, {_tuple(params)}),"
        )
    parts.writes += _write_lines("documents", list(documents.writes), rates, False)
    parts.install += "        documents.install_documents(stores)  # the designed indexes the reads use\n"
    modules.append("documents")


def _wide(plan: Plan, scaffold: Scaffold, parts: StoreParts, rates: dict[str, float], *out: list[str]) -> None:
    from polyplan.stores.wide_column.design import design_wide_column

    modules, classes, samples, checks = out
    wide = scaffold.wide_column
    assert wide is not None
    found = {e.entity: e for e in design_wide_column(plan).entities}
    queries = {q.pattern: q for e in found.values() for q in e.queries}
    whole: dict[str, ResultClass] = {}
    for cls in wide.classes:
        whole.setdefault(cls.entity, cls)
    fed = {s.entity for s in scaffold.indexes}
    for entity, cls in whole.items():
        base = found[entity].base_table
        if base is None:
            continue  # no table holds every record by key: nothing to sample or check from
        columns = [c.name for c in cls.columns]
        key = set(next(t for t in found[entity].tables if t.name == base).primary_key)
        stamps = [c for c in columns if c not in key]
        select = f"SELECT {', '.join(columns)} FROM {wide.keyspace}.{base}"
        name = f"sample_{cls.name}"
        samples.append(
            _sample(
                name,
                f"{entity} rows of its base table",
                "store = wide_column.wide_column_store(stores, 'the load')",
                f"return [wide_column.{cls.name}.from_row(row) for row in store.rows('the load', {select + ' LIMIT :n'!r}, {{'n': n}})]",
            )
        )
        _add_entity(parts, plan, cls, name, "wide_column")
        classes.append(cls.name)
        if entity in fed:
            written = ", ".join([*columns, *(f"WRITETIME({c}) AS pp_w_{c}" for c in stamps)])
            cql = f"SELECT {written} FROM {wide.keyspace}.{base}"
            checks.append(
                f"    target = TARGETS[{entity!r}]\n"
                f"    store = wide_column.wide_column_store(stores, 'the checker')\n"
                f"    rows = store.rows('the checker', {cql!r}, {{}})\n"
                f"    found = wide_records(rows, wide_column.{cls.name}.from_row, partial(search_id, target), {[f'pp_w_{c}' for c in stamps]!r})\n"
                + _compare(scaffold, entity)
            )
    if any(e in fed for e in whole):
        checks.append(
            "    store = wide_column.wide_column_store(stores, 'the checker')\n"
            "    session = store.session('the checker')\n"
            "    findings.pending += outbox_lag(session, store.keyspace)[0]\n"
            "    parked = session.execute(f'SELECT entity, key, error FROM {store.keyspace}.polyplan_outbox_parked')\n"
            "    findings.parked += [f\"{p['entity']} {p['key']}: {p['error']}\" for p in parked]\n"
        )
        parts.check_imports.append("outbox_lag")
        parts.install += "        install_keyed_outbox(stores)  # the Cassandra outbox the fed writes insert into\n"
        parts.keyed_install = True
    for read in wide.reads:
        query = queries[read.pattern]
        attributes = {p.name: p for p in query.params}
        params = tuple(
            (f, attributes[n].attribute, _WIDE_OPS.get(attributes[n].op, "eq"), k) for n, f, k in read.params
        )
        parts.reads.append(
            f"    ReadSpec({read.pattern!r}, {read.entity!r}, {rates[read.pattern]!r}, 'wide_column', "
            f"wide_column.{read.pattern}, {_tuple(params)}),"
        )
    parts.writes += _write_lines("wide_column", list(wide.writes), rates, False)
    modules.append("wide_column")


def _records(plan: Plan, scaffold: Scaffold, parts: StoreParts, rates: dict[str, float], *out: list[str]) -> None:
    from polyplan.scaffold.keyed_outbox import record_family

    modules, classes, samples, checks = out
    records = scaffold.records
    assert records is not None
    fed = {s.entity for s in scaffold.indexes}
    for cls in records.classes:
        template, structure = record_family(records, cls.entity)
        glob = _glob(template)
        string = structure == "string"
        name = f"sample_{cls.name}"
        samples.append(
            _sample(
                name,
                f"{cls.entity} records",
                "client = records.record_store(stores, 'the load')",
                f"keys = list(islice(client.scan_iter(match=stores.key_prefix + {glob!r}, count=500), n))",
                f"found = [records.{cls.name}.from_stored(client.{'get' if string else 'hgetall'}(key)) for key in keys]",
                "return [record for record in found if record is not None]",
            )
        )
        _add_entity(parts, plan, cls, name, "records")
        classes.append(cls.name)
        if cls.entity in fed:
            checks.append(
                f"    target = TARGETS[{cls.entity!r}]\n"
                f"    client = records.record_store(stores, 'the checker')\n"
                f"    found = redis_records(client, stores.key_prefix + {glob!r}, records.{cls.name}.from_stored, partial(search_id, target), {string!r})\n"
                + _compare(scaffold, cls.entity)
            )
    if any(c.entity in fed for c in records.classes):
        checks.append(
            "    stream_outbox(findings, records.record_store(stores, 'the checker'), stores.key_prefix + STREAM)\n"
        )
    for read in records.reads:
        params = tuple((c.field, c.name, "eq", c.kind) for c in read.params)
        parts.reads.append(
            f"    ReadSpec({read.pattern!r}, {read.entity!r}, {rates[read.pattern]!r}, 'records', "
            f"records.{read.pattern}, {_tuple(params)}),"
        )
    parts.writes += _write_lines("records", list(records.writes), rates, True)
    modules.append("records")
    parts.stdlib.append("from itertools import islice")


def _glob(template: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "*", template)


def _searched(plan: Plan, scaffold: Scaffold, parts: StoreParts, rates: dict[str, float]) -> None:
    """The search reads of the indexes these entities feed (the params are the attributes)."""
    from polyplan.stores.search.design import design_search

    mine = parts.names
    if not mine or not scaffold.search_reads:
        return
    attributes = {
        q.pattern: tuple(p.attribute for p in q.params) for i in design_search(plan).indexes for q in i.queries
    }
    for read in scaffold.search_reads:
        if read.entity not in mine:
            continue
        params = tuple((p.name, a, p.op, p.kind) for p, a in zip(read.params, attributes[read.pattern], strict=True))
        parts.reads.append(
            f"    ReadSpec({read.pattern!r}, {read.entity!r}, {rates[read.pattern]!r}, 'search', "
            f"search.{read.pattern}, {_tuple(params)}),"
        )
