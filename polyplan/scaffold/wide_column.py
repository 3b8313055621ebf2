"""The scaffold's wide-column store (Cassandra as the system of record): what `<package>/wide_column.py`
holds, decided from the plan (pure), and its text.

Every read is the query table the wide-column target designed for the pattern (its SELECT from
`statements.select`, the text of cassandra/queries.cql, partition key and clustering as planned);
every write is the operation of cassandra/writes.json (`render.writes_document`: each query-table
copy, a LOGGED batch where the plan says so, counter updates alone after it), run by the package's
`run_operation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyplan.model.schema import COLLECTION_TYPES, Attribute, Family, TypeName, WriteKind
from polyplan.plan.ir import Plan
from polyplan.scaffold.design import Column, ResultClass, Scaffold, class_name, identifiers

URL_VARIABLE = "CASSANDRA_URL"
KEYSPACE_VARIABLE = "CASSANDRA_KEYSPACE"
_BOUND_OPS = ("eq", "range_from", "range_to", "range_through", "range_after", "range_before")


@dataclass(frozen=True)
class WideRead:
    """One access pattern run on its query table."""

    pattern: str
    entity: str
    result: str
    single: bool
    params: tuple[tuple[str, str, str], ...]  # (bind name, Python name, kind)
    cql: str
    table: str
    # The read plan's second statement, when the counters it reads live in their own table:
    # (its SELECT by key, the key columns bound from each row, the counter columns it adds).
    counters: tuple[str, tuple[str, ...], tuple[str, ...]] | None = None
    walk: BucketWalk | None = None  # a time-bucketed table: the buckets the read plan binds


@dataclass(frozen=True)
class BucketWalk:
    """The time buckets a read walks (its read plan): between the range's bounds, or from the current
    one back to the retention horizon; newest first or oldest first; until `limit` rows."""

    param: str  # the bucket's bind name
    unit: str
    low: str | None  # the range's bind names (None: from now back to the retention horizon)
    high: str | None
    limit: int | None
    newest_first: bool
    retention_days: int | None


@dataclass(frozen=True)
class WideWrite:
    """One write pattern as its writes.json operation."""

    name: str
    entity: str
    kind: WriteKind
    result: str
    key: tuple[Column, ...]
    written: tuple[Column, ...]
    operation: dict[str, Any]
    deltas: tuple[tuple[str, int | float], ...]  # an increment's bind names and step


@dataclass(frozen=True)
class WideScaffold:
    """wide_column.py: its classes, reads and writes, and each table's row key (writes.json)."""

    keyspace: str
    classes: tuple[ResultClass, ...]
    reads: tuple[WideRead, ...]
    writes: tuple[WideWrite, ...]
    row_keys: dict[str, list[str]]
    handled: frozenset[str]


def _kind(attribute: Attribute) -> str:
    return "json" if attribute.type in (*COLLECTION_TYPES, TypeName.OBJECT, TypeName.JSON) else attribute.type.value


def design_wide_column(plan: Plan, skipped: list[tuple[str, str]]) -> WideScaffold | None:
    """The Cassandra part of the scaffold (None when the plan keeps no entity there); what it cannot
    give a function is added to `skipped` (model path, why)."""
    stored = plan.records_in(Family.WIDE_COLUMN)
    if not stored:
        return None
    from polyplan.model.derived import all_attributes, key_of
    from polyplan.stores.cache.sizing import lookup_set
    from polyplan.stores.wide_column import statements
    from polyplan.stores.wide_column.design import design_wide_column as design
    from polyplan.stores.wide_column.render import writes_document

    model = plan.model
    found = design(plan)
    document = writes_document(found, model)
    handled: set[str] = set()
    classes: dict[str, ResultClass] = {}
    reads: list[WideRead] = []
    writes: list[WideWrite] = []
    row_keys: dict[str, list[str]] = {}
    for entity in found.entities:
        if entity.entity not in stored:
            continue
        attributes = all_attributes(model, entity.entity)
        columns = [c for t in entity.tables for c in t.columns]
        if any(c.attribute is not None and c.attribute != c.name for c in columns) or any(
            attributes[c.attribute].type is TypeName.OBJECT for c in columns if c.attribute
        ):
            continue  # renamed columns or UDTs: left to cassandra/writes.json (the PP811 lines say so)
        held = [a for a in attributes if any(c.attribute == a for c in columns)]
        counters = {c.name for c in columns if c.type.kind == "counter"}
        record = ResultClass(
            class_name(entity.entity),
            entity.entity,
            tuple(
                # A counter lives in a table of its own: a row read from another table has none.
                Column(a, _kind(attributes[a]), attributes[a].nullable or a in counters, f)
                for a, f in zip(held, identifiers(held), strict=True)
            ),
        )
        classes[entity.entity] = record
        by_name = {c.name: c for c in record.columns}
        operations = document["entities"][entity.entity]["operations"]
        row_keys.update(document["entities"][entity.entity]["row_keys"])
        for query in entity.queries:
            path = f"access_patterns.{query.pattern}"
            counter_read = _counter_read(entity, query, found.keyspace)
            walk = _walk(entity, query, model)
            if query.read_plan and ((counter_read is None and walk is None) or len(query.read_plan) > 1):
                skipped.append((path, f"its read plan is more than one statement ({query.read_plan[0]})"))
                continue
            bound = [p for p in query.params if walk is None or p.name != walk.param]
            if any(p.attribute is None or p.op not in _BOUND_OPS for p in bound):
                skipped.append((path, "a bucket, prefix or IN parameter: run it as cassandra/queries.cql has it"))
                continue
            result = record
            selected = [*query.select, *(counter_read[2] if counter_read else ())]
            if [c.name for c in record.columns] != selected:
                result = ResultClass(
                    class_name(query.pattern) + "Row", entity.entity, tuple(by_name[n] for n in selected)
                )
                classes[f"{entity.entity}.{query.pattern}"] = result
            pattern = next(p for p in model.access_patterns if p.name == query.pattern)
            names = [p.name for p in bound]
            params = tuple(
                (p.name, f, _kind(attributes[p.attribute or ""]))
                for p, f in zip(bound, identifiers(names), strict=True)
            )
            reads.append(
                WideRead(
                    query.pattern,
                    entity.entity,
                    result.name,
                    lookup_set(model, pattern) is not None,
                    params,
                    statements.select(query),
                    query.table,
                    counter_read,
                    walk,
                )
            )
            handled.add(path)
        key = tuple(by_name[a] for a in key_of(model.entities[entity.entity]).attributes if a in by_name)
        projected = any(p.family is Family.SEARCH for p in plan.entities[entity.entity].projections)
        for index, wanted in enumerate(model.write_patterns):
            if wanted.entity != entity.entity:
                continue
            path = f"write_patterns.{index}"
            operation = operations.get(wanted.name) or operations.get(wanted.kind.value)
            why = _unsupported(wanted.kind, operation, key, bool(wanted.where) or wanted.lock is not None)
            if why is None and wanted.kind is WriteKind.INCREMENT and projected:
                # Counter updates and compare-and-set run alone, outside any batch: no event could
                # be written atomically with them.
                why = "an increment of a record a search index projects: run it as cassandra/writes.json has it"
            if why is not None:
                skipped.append((path, why))
                continue
            assert operation is not None
            written = tuple(by_name[a] for a in wanted.attributes if a in by_name)
            step = float(wanted.step if wanted.step is not None else 1)
            # A counter binds a bigint: a whole step is bound as an int.
            deltas = tuple((f"{a}_delta", int(step) if step == int(step) else step) for a in wanted.attributes)
            writes.append(
                WideWrite(wanted.name, entity.entity, wanted.kind, record.name, key, written, operation, deltas)
            )
            handled.add(path)
    return WideScaffold(
        found.keyspace, tuple(classes.values()), tuple(reads), tuple(writes), row_keys, frozenset(handled)
    )


def _walk(entity: Any, query: Any, model: Any) -> BucketWalk | None:
    """The bucket walk of a read on a time-bucketed table (design._bucket_plan's read plan), or None."""
    table = next(t for t in entity.tables if t.name == query.table)
    bucket = table.bucket
    if bucket is None or bucket.kind != "time" or len(query.read_plan) != 1:
        return None
    param = next((p.name for p in query.params if p.op == "bucket"), None)
    plan = query.read_plan[0]
    if param is None or not plan.startswith(f"bind :{param} to each {bucket.unit} bucket "):
        return None
    attr = bucket.source[0]
    low = next((p.name for p in query.params if p.attribute == attr and p.op == "range_from"), None)
    high = next((p.name for p in query.params if p.attribute == attr and p.op == "range_to"), None)
    retention = model.entities[entity.entity].growth.retention_days
    newest_first = "newest first" in plan or "back to older ones" in plan
    if f"between :{attr}_from and :{attr}_to" in plan and low and high:
        return BucketWalk(param, bucket.unit or "day", low, high, query.limit, newest_first, None)
    if "from the current one back to older ones" in plan and retention:
        # The walk stops at the retention horizon: no row is kept before it.
        return BucketWalk(param, bucket.unit or "day", None, None, query.limit, True, int(retention))
    return None


def _counter_read(entity: Any, query: Any, keyspace: str) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
    """The second statement of a read plan `then read <counters> from <table> by <key> for each row`
    (polyplan.stores.wide_column.counters.counter_reads), or None for any other read plan."""
    own = next((t for t in entity.tables if t.role == "counters"), None)
    if own is None or not query.read_plan or not query.read_plan[0].startswith("then read "):
        return None
    if f" from {own.name} by " not in query.read_plan[0]:
        return None
    named = query.read_plan[0].removeprefix("then read ").split(f" from {own.name} by ")[0]
    counters = tuple(name.strip() for name in named.split(","))
    key = tuple(own.partition_key)
    if any(k not in query.select for k in key):
        return None  # the rows do not carry the counter table's key
    where = " AND ".join(f"{k} = :{k}" for k in key)
    return f"SELECT {', '.join(counters)} FROM {keyspace}.{own.name} WHERE {where}", key, counters


def _unsupported(
    kind: WriteKind, operation: dict[str, Any] | None, key: tuple[Column, ...], predicated: bool
) -> str | None:
    """Why a write pattern gets no function, or None."""
    if operation is None or predicated:
        return "a write by predicate or lock: run it as cassandra/writes.json has it"
    if (
        kind is WriteKind.INCREMENT
        and operation["before_batch"]
        and (operation["statements"] or operation["after_batch"])
    ):
        # Compare-and-set alone is scaffolded (compare_and_set); mixed with counters, the two
        # would need one step binding for both kinds: left to writes.json.
        return "an increment of counters and other columns at once: run it as cassandra/writes.json has it"
    if kind in (WriteKind.UPDATE, WriteKind.UPSERT) and not operation["read_first"]:
        return "an update of an entity without a base table: run it as cassandra/writes.json has it"
    steps = operation["before_batch"] + operation["statements"] + operation["after_batch"]
    if kind is WriteKind.INCREMENT and any(s["computed"] for s in steps):
        return "an increment of a bucketed table: run it as cassandra/writes.json has it"
    if not key:
        return "its key is not a column of the tables"
    return None


# --- the text of wide_column.py ----------------------------------------------------------------


def _class(cls: ResultClass, annotation: Any) -> str:
    from polyplan.scaffold.document import class_head

    return (
        class_head(cls, "A row of", annotation) + "\n"
        "    @classmethod\n"
        f"    def from_row(cls, row: Mapping[str, Any]) -> {cls.name}:\n"
        '        """From a row the driver read (a column the table lacks is None)."""\n'
        "        return cls(**{f: from_driver(cls.KINDS[c], row.get(c)) for c, f in cls.FIELDS.items()})\n\n"
        "    def as_record(self) -> dict[str, Any]:\n"
        '        """Column → the value the driver binds."""\n'
        "        return {c: to_driver(self.KINDS[c], getattr(self, f)) for c, f in self.FIELDS.items()}\n"
    )


def _read(read: WideRead, annotation: Any) -> str:
    signature = ", ".join(["stores: Stores", *(f"{f}: {annotation(k)}" for _, f, k in read.params)])
    binds = ", ".join(f"{n!r}: to_driver({k!r}, {f})" for n, f, k in read.params)
    returns = f"{read.result} | None" if read.single else f"list[{read.result}]"
    answer = "    return found[0] if found else None\n" if read.single else "    return found\n"
    return (
        f"def {read.pattern}({signature}) -> {returns}:\n"
        f'    """{read.pattern}: {read.entity} from its query table {read.table!r}, as cassandra/queries.cql has it."""\n'
        f"    store = wide_column_store(stores, {read.pattern!r})\n"
        + _rows(read, binds)
        + _counted(read)
        + f"    found = [{read.result}.from_row(row) for row in rows]\n"
        + answer
    )


def _rows(read: WideRead, binds: str) -> str:
    """The statement (or, on a time-bucketed table, the walk over its buckets) that reads the rows."""
    walk = read.walk
    if walk is None:
        return f"    rows = store.rows({read.pattern!r}, READS[{read.pattern!r}], {{{binds}}})\n"
    values = f"{{{binds}}}"
    bounds = (
        f"values[{walk.low!r}], values[{walk.high!r}]"
        if walk.low and walk.high
        else f"retention_days={walk.retention_days!r}"
    )
    return (
        f"    values: dict[str, Any] = {values}\n"
        f"    rows = walk_time_buckets(\n"
        f"        store, {read.pattern!r}, READS[{read.pattern!r}], values, {walk.param!r}, {walk.unit!r}, {walk.limit!r}, "
        f"{walk.newest_first!r}, {bounds}\n"
        "    )\n"
    )


def _counted(read: WideRead) -> str:
    """The read plan's counter-table read: one SELECT by key per row (a missing counter is None)."""
    if read.counters is None:
        return ""
    cql, key, counters = read.counters
    bound = ", ".join(f"{k!r}: row[{k!r}]" for k in key)
    return (
        "    for row in rows:  # then the counters, from their own table, one statement per row (the read plan)\n"
        f"        counted = store.rows({read.pattern!r}, {cql!r}, {{{bound}}})\n"
        f"        row.update(counted[0] if counted else dict.fromkeys({counters!r}))\n"
    )


def _write(write: WideWrite, annotation: Any, projected: bool = False) -> str:
    name, cls = write.name, write.result

    def outbox(current: str, new: str) -> str:
        """A fed record's outbox argument (keyed_outbox.py), else nothing."""
        from polyplan.scaffold.keyed_outbox import wide_outbox

        return wide_outbox(write, current, new) if projected else ""

    key_args = [f"{c.field}: {annotation(c.kind)}" for c in write.key]
    key_record = ", ".join(f"{c.name!r}: to_driver({c.kind!r}, {c.field})" for c in write.key)
    head = f"    store = wide_column_store(stores, {name!r})\n    operation = WRITES[{name!r}]\n"
    if write.kind is WriteKind.INCREMENT and write.operation["before_batch"]:
        added = ", ".join(d.removesuffix("_delta") for d, _ in write.deltas)
        step = write.deltas[0][1]
        return (
            f"def {name}({', '.join(['stores: Stores', *key_args])}) -> bool:\n"
            f'    """{name}: adds {step:g} to {added} of one {write.entity} by compare-and-set, as cassandra/writes.json\n'
            "    says (read, UPDATE … IF the value read, retried while another writer wins); False when the key\n"
            '    has no row."""\n'
            + head
            + f"    return compare_and_set(store, {name!r}, operation, {{{key_record}}}, {step!r}, ROW_KEYS)\n"
        )
    if write.kind is WriteKind.INCREMENT:
        deltas = ", ".join(f"{d!r}: {step!r}" for d, step in write.deltas)
        added = ", ".join(f"{step:g} to {d.removesuffix('_delta')}" for d, step in write.deltas)
        return (
            f"def {name}({', '.join(['stores: Stores', *key_args])}) -> None:\n"
            f'    """{name}: adds {added} of one {write.entity}\n'
            '    (counter updates, each alone: not idempotent, so a timeout is not retried blindly)."""\n'
            + head
            + f"    run_operation(store, {name!r}, operation, None, {{{key_record}, {deltas}}}, ROW_KEYS)\n"
        )
    if write.kind is WriteKind.INSERT or (write.kind is WriteKind.DELETE and not write.operation["read_first"]):
        what = "inserts it into every query table" if write.kind is WriteKind.INSERT else "deletes it from every table"
        current, new = ("None", "row.as_record()") if write.kind is WriteKind.INSERT else ("row.as_record()", "None")
        return (
            f"def {name}(stores: Stores, row: {cls}) -> None:\n"
            f'    """{name}: {what} of {write.entity}, as cassandra/writes.json says."""\n'
            + head
            + f"    run_operation(store, {name!r}, operation, {current}, {new}, ROW_KEYS{outbox(current, new)})\n"
        )
    # write_after_read's outbox: the batch of a fed record, made for each attempt's rows.
    after_read_outbox = (
        f"        lambda current, new: {outbox('current', 'new').removeprefix(', ')},\n" if projected else ""
    )
    read = (
        f"    rows = store.rows({name!r}, operation['read_first'], {{{key_record}}})\n"
        "    current = rows[0] if rows else None\n"
    )
    if write.kind is WriteKind.DELETE:
        return (
            f"def {name}({', '.join(['stores: Stores', *key_args])}) -> {cls} | None:\n"
            f'    """{name}: deletes one {write.entity} from every table (its current row read first); the row, or None."""\n'
            + head
            + read
            + "    if current is None:\n        return None\n"
            + f"    run_operation(store, {name!r}, operation, current, None, ROW_KEYS{outbox('current', 'None')})\n"
            + f"    return {cls}.from_row(current)\n"
        )
    if write.kind is WriteKind.UPSERT:
        key_record = ", ".join(f"{c.name!r}: to_driver({c.kind!r}, row.{c.field})" for c in write.key)
        return (
            f"def {name}(stores: Stores, row: {cls}) -> {cls}:\n"
            f'    """{name}: writes one {write.entity} to every table, moving its copies whose key changed\n'
            '    (read again when another writer deleted or moved it meanwhile)."""\n'
            + head
            + f"    write_after_read(\n        store,\n        {name!r},\n        operation,\n        {{{key_record}}},\n"
            + "        lambda current: row.as_record(),\n        ROW_KEYS,\n"
            + after_read_outbox
            + "    )\n    return row\n"
        )
    args = [*key_args, *(f"{c.field}: {annotation(c.kind, c.nullable)}" for c in write.written)]
    sets = ", ".join(f"{c.name!r}: to_driver({c.kind!r}, {c.field})" for c in write.written)
    return (
        f"def {name}({', '.join(['stores: Stores', *args])}) -> {cls} | None:\n"
        f'    """{name}: sets {", ".join(c.name for c in write.written)} of one {write.entity} in every table holding it\n'
        "    (its current row read first, again when another writer deleted or moved it meanwhile; one LOGGED\n"
        '    batch); the row after, or None when there is none."""\n'
        + head
        + f"    new = write_after_read(\n        store,\n        {name!r},\n        operation,\n        {{{key_record}}},\n"
        + f"        lambda current: None if current is None else {{**current, {sets}}},\n        ROW_KEYS,\n"
        + after_read_outbox
        + f"    )\n    return None if new is None else {cls}.from_row(new)\n"
    )


def render_wide_column(scaffold: Scaffold, wide: WideScaffold, annotation: Any) -> str:
    """The text of `<package>/wide_column.py`."""
    package = scaffold.package
    from polyplan.scaffold.keyed_outbox import fed, wide_helper
    from polyplan.scaffold.module_text import _from_import, _literal, _module, record_imports

    names = sorted([*(r.pattern for r in wide.reads), *(w.name for w in wide.writes)])
    prefix = package.upper()
    # A record a search index projects writes its outbox event in its batch (keyed_outbox.py).
    projected = fed(scaffold, wide)
    outboxed = any(w.entity in projected for w in wide.writes)
    imports = [
        *record_imports(*(["Callable", "Mapping"] if outboxed else ["Mapping"])),
        "",
        *([_from_import(f"{package}.batch_outbox_runtime", ["write_with_event"])] if outboxed else []),
        *([_from_import(f"{package}.keyed_outbox_runtime", ["batch_event"])] if outboxed else []),
        *([_from_import(f"{package}.search", ["TARGETS"])] if outboxed else []),
        _from_import(f"{package}.settings", ["SettingsError", "Stores"]),
        _from_import(
            f"{package}.wide_column_runtime",
            [
                "WideColumnStore",
                *(
                    ["compare_and_set"]
                    if any(w.operation["before_batch"] and w.kind is WriteKind.INCREMENT for w in wide.writes)
                    else []
                ),
                "from_driver",
                *(["run_operation"] if wide.writes else []),
                "to_driver",
                *(["walk_time_buckets"] if any(r.walk for r in wide.reads) else []),
                *(
                    ["write_after_read"]
                    if any(w.kind in (WriteKind.UPDATE, WriteKind.UPSERT) for w in wide.writes)
                    else []
                ),
            ],
        ),
        "",
        "__all__ = [" + ", ".join(repr(n) for n in names) + "]",
        "# Referenced by some annotations only (depending on the model's types).",
        "_TYPES = (uuid.UUID, date, datetime, Decimal)",
    ]
    body = (
        f"KEYSPACE = {wide.keyspace!r}  # the keyspace the plan's statements name\n\n"
        "# Each pattern's SELECT on its query table, exactly as cassandra/queries.cql has it.\n"
        f"READS: dict[str, str] = {_literal({r.pattern: r.cql for r in wide.reads})}\n\n"
        "# Each write pattern's operation, exactly as cassandra/writes.json has it.\n"
        f"WRITES: dict[str, dict[str, Any]] = {_literal({w.name: w.operation for w in wide.writes})}\n\n"
        "# The primary key of each table (whether a row moved, for `only_if`).\n"
        f"ROW_KEYS: dict[str, list[str]] = {_literal(wide.row_keys)}\n\n\n"
        "def wide_column_store(stores: Stores, who: str) -> WideColumnStore:\n"
        '    """Cassandra, or a one-line SettingsError naming what to set."""\n'
        "    if stores.wide_column is None:\n"
        f'        raise SettingsError(f"{{who}} needs Cassandra: set {prefix}_{URL_VARIABLE} to its cassandra:// URL")\n'
        "    return stores.wide_column\n\n\n"
        + "\n\n".join(_class(c, annotation) for c in wide.classes)
        + "\n\n"
        + (wide_helper([e for e in projected if any(w.entity == e for w in wide.writes)]) + "\n\n" if outboxed else "")
        + "\n\n".join(
            [
                *(_read(r, annotation) for r in wide.reads),
                *(_write(w, annotation, w.entity in projected) for w in wide.writes),
            ]
        )
    )
    return _module(
        scaffold,
        "One function per access and write pattern of the entities the plan keeps in Cassandra: each\nread on its query table, each write to every table copy as cassandra/writes.json says.",
        imports,
        body,
    )


def settings_parts(package: str, keyspace: str) -> dict[str, str]:
    """The lines settings.py adds for Cassandra (its variables, field, connection)."""
    prefix = package.upper()
    return {
        "names": f'CASSANDRA_URL = "{prefix}_{URL_VARIABLE}"\nCASSANDRA_KEYSPACE = "{prefix}_{KEYSPACE_VARIABLE}"\n',
        "field": "    wide_column: WideColumnStore | None = None  # Cassandra, connected on first use\n",
        "doc": f", {prefix}_{URL_VARIABLE} and {prefix}_{KEYSPACE_VARIABLE} (optional: else {keyspace!r})",
        "connect": "    cassandra_url = environ.get(CASSANDRA_URL)\n"
        "    wide_column = (\n"
        f"        WideColumnStore(cassandra_url, {keyspace!r}, environ.get(CASSANDRA_KEYSPACE)) if cassandra_url else None\n"
        "    )\n",
        "args": ", wide_column=wide_column",
    }


def runtime_code() -> str:
    """`wide_column_runtime.py`'s code with polyplan's imports replaced by the modules' own code (the
    cassandra:// URL rule and the bucket rules the plan's writes.json refers to)."""
    from polyplan.emit.embed import carried_code, merged_code, module_code

    own = carried_code("polyplan.scaffold", "wide_column_runtime.py")
    cluster = module_code("polyplan.stores.wide_column", "cluster.py").replace('-> "Cluster"', "-> Cluster")
    return merged_code(own, cluster, module_code("polyplan.stores.wide_column", "runtime.py"))
