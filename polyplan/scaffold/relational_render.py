"""The relational record's modules of a scaffolded package (pure): `models.py` (a row dataclass per
entity and narrower read), `sql.py` (every statement, per engine), `reads.py` (one function per
access pattern, cache-aside where the plan caches it), `writes.py` (one per write pattern, its
outbox event in the same transaction) and `projection.py` (how a change reaches the cache).
"""

from __future__ import annotations

from polyplan.model.schema import WriteKind
from polyplan.scaffold.design import Read, ResultClass, Scaffold, Write
from polyplan.scaffold.module_text import _annotation, _from_import, _kinds_literal, _literal, _module, record_imports
from polyplan.scaffold.relational_writes import render_planned_write


def _models(scaffold: Scaffold) -> str:
    blocks = []
    for cls in scaffold.classes:
        fields = "\n".join(f"    {c.field}: {_annotation(c.kind, c.nullable)}" for c in cls.columns)
        kinds = ", ".join(f"{c.name!r}: {c.kind!r}" for c in cls.columns)
        names = ", ".join(f"{c.name!r}: {c.field!r}" for c in cls.columns)
        blocks.append(
            f"@dataclass(frozen=True)\nclass {cls.name}:\n"
            f'    """A row of {cls.entity} ({", ".join(c.name for c in cls.columns)})."""\n\n'
            f"{fields}\n\n"
            f"    KINDS: ClassVar[dict[str, str]] = {{{kinds}}}\n"
            f"    FIELDS: ClassVar[dict[str, str]] = {{{names}}}\n\n"
            "    @classmethod\n"
            f"    def from_mapping(cls, row: Mapping[Any, Any]) -> {cls.name}:\n"
            '        """From a result row or any mapping that has every column."""\n'
            "        return cls(**{field: row[column] for column, field in cls.FIELDS.items()})\n\n"
            "    @classmethod\n"
            f"    def from_json(cls, text: str) -> {cls.name}:\n"
            '        """From the JSON `to_json` writes (a cached answer, an outbox payload)."""\n'
            "        return cls.from_mapping(from_json(cls.KINDS, text))\n\n"
            "    def as_dict(self) -> dict[str, Any]:\n"
            '        """Column → value."""\n'
            "        return {column: getattr(self, field) for column, field in self.FIELDS.items()}\n\n"
            "    def as_params(self) -> dict[str, Any]:\n"
            '        """Python name → value: the parameters of a write statement."""\n'
            "        return {field: getattr(self, field) for field in self.FIELDS.values()}\n\n"
            "    def to_json(self) -> str:\n"
            '        """Compact JSON of the row."""\n'
            "        return to_json(self.KINDS, self.as_dict())\n"
        )
    imports = [
        *record_imports("Mapping"),
        "",
        _from_import(f"{scaffold.package}.runtime", ["from_json", "to_json"]),
        "",
        "# Referenced by some annotations only (depending on the model's types).",
        "_TYPES = (uuid.UUID, date, datetime, Decimal)",
    ]
    return _module(
        scaffold,
        "Result rows as dataclasses, one per entity (and per pattern that reads fewer columns).",
        imports,
        "\n\n".join(blocks),
    )


def _sql(scaffold: Scaffold) -> str:
    reads = {e: {r.pattern: r.sql[e] for r in scaffold.reads} for e in scaffold.engines}
    writes = {
        e: {w.name: w.sql[e] for w in scaffold.writes} | {p.name: p.sql[e] for p in scaffold.planned_writes}
        for e in scaffold.engines
    }
    body = (
        "# The access-pattern queries exactly as relational/<engine>/queries.sql has them (colons inside\n"
        "# literals escaped for sqlalchemy.text).\n"
        f"READS: dict[str, dict[str, str]] = {_literal(reads)}\n\n"
        "# Each write pattern's statements, compiled by SQLAlchemy from the planned tables (increments and\n"
        "# writes by predicate or lock: exactly as relational/<engine>/writes.sql has them).\n"
        f"WRITES: dict[str, dict[str, dict[str, str]]] = {_literal(writes)}\n\n"
        "# The outbox table (created IF NOT EXISTS next to the planned schema) and the relay's statements.\n"
        f"OUTBOX_DDL: dict[str, list[str]] = {_literal({e: list(s) for e, s in scaffold.outbox_ddl.items()})}\n\n"
        f"OUTBOX: dict[str, dict[str, str]] = {_literal(scaffold.outbox_sql)}\n"
    )
    return _module(scaffold, "Every SQL statement the package runs, per engine.", [], body)


def _read(scaffold: Scaffold, read: Read, classes: dict[str, ResultClass]) -> str:
    cls = classes[read.result]
    signature = []
    binds = []
    for p in read.params:
        annotation = _annotation(p.kind)
        if p.op == "in":
            annotation = f"Sequence[{annotation}]"
        signature.append(f"{p.name}: {annotation}")
        value = f'{p.name} + "%"' if p.op == "prefix" else (f"list({p.name})" if p.op == "in" else p.name)
        binds.append(f"{p.name!r}: {value}")
    returns = f"{cls.name} | None" if read.single else f"list[{cls.name}]"
    expanding = [p.name for p in read.params if p.op == "in"]
    notes = []
    if any(p.op == "prefix" for p in read.params):
        notes.append("The prefix is matched with LIKE as designed: % and _ in it are wildcards.")
    fetch = (
        f"    def fetch() -> list[{cls.name}]:\n"
        "        with stores.database.connect() as connection:\n"
        f"            query = statement(READS[stores.engine][{read.pattern!r}], {_kinds_literal((p.name, p.kind) for p in read.params)}, "
        f"{cls.name}.KINDS, {expanding!r})\n"
        "            rows = connection.execute(query, params).mappings().all()\n"
        + (
            f"        return [{cls.name}.from_mapping(row) for row in rows]\n\n"
            if read.aggregate is None
            # the value as its function's type, whatever the engine answered
            else (
                f"        return [{cls.name}.from_mapping({{**row, {read.aggregate[0]!r}: "
                f"aggregate_value({read.aggregate[1]!r}, row[{read.aggregate[0]!r}])}}) for row in rows]\n\n"
            )
        )
    )
    head = (
        f"def {read.pattern}(stores: Stores, {', '.join(signature)}) -> {returns}:\n"
        if signature
        else (f"def {read.pattern}(stores: Stores) -> {returns}:\n")
    )
    if read.aggregate is not None:
        groups = ", ".join(c.name for c in cls.columns[:-1])
        notes.insert(
            0,
            f"One row {f'per group ({groups})' if groups else 'over all the rows selected'}, as queries.sql's GROUP BY.",
        )
    if read.cache is None:
        doc = f'    """{read.pattern}: {read.entity} from the system of record.{(" " + " ".join(notes)) if notes else ""}"""\n'
        ret = "    rows = fetch()\n    return rows[0] if rows else None\n" if read.single else "    return fetch()\n"
        return head + doc + f"    params: dict[str, Any] = {{{', '.join(binds)}}}\n\n" + fetch + ret
    key = read.cache
    parts = ", ".join(f"{a!r}: key_part({k!r}, {p})" for (a, p, _), (_, k) in zip(key.parts, key.kinds, strict=True))
    doc = (
        f'    """{read.pattern}: {read.entity}, cache-aside on `{key.template}` for {key.ttl} s (the plan\'s\n'
        "    staleness bound), with a single-flight lock on a miss; the system of record without a cache."
        + (" " + " ".join(notes) if notes else "")
        + '"""\n'
    )
    if read.single:
        load = "        rows = fetch()\n        return rows[0].to_json() if rows else None\n"
        decode = f"    return None if text is None else {cls.name}.from_json(text)\n"
        direct = "        rows = fetch()\n        return rows[0] if rows else None\n"
    else:
        load = "        return json.dumps([row.to_json() for row in fetch()])\n"
        decode = f"    return [] if text is None else [{cls.name}.from_json(item) for item in json.loads(text)]\n"
        direct = "        return fetch()\n"
    return (
        head
        + doc
        + f"    params: dict[str, Any] = {{{', '.join(binds)}}}\n\n"
        + fetch
        + "    if stores.cache is None:\n"
        + direct
        + "\n    def load() -> str | None:\n"
        + load
        + f"\n    key = stores.key(fill({key.template!r}, {{{parts}}}))\n"
        + f"    text = cached(stores.cache, key, {key.ttl}, load)\n"
        + decode
    )


def _reads(scaffold: Scaffold) -> str:
    classes = {c.name: c for c in scaffold.classes}
    used = sorted({r.result for r in scaffold.reads})
    imports = [
        "import json",
        "import uuid",
        "from collections.abc import Sequence",
        "from datetime import date, datetime",
        "from decimal import Decimal",
        "from typing import Any",
        "",
        _from_import(f"{scaffold.package}.models", used),
        _from_import(
            f"{scaffold.package}.runtime",
            [
                *(["aggregate_value"] if any(r.aggregate for r in scaffold.reads) else []),
                *(["cached", "fill", "key_part"] if any(r.cache for r in scaffold.reads) else []),
                "statement",
            ],
        ),
        _from_import(f"{scaffold.package}.settings", ["Stores"]),
        _from_import(f"{scaffold.package}.sql", ["READS"]),
        "",
        "__all__ = [" + ", ".join(repr(r.pattern) for r in sorted(scaffold.reads, key=lambda r: r.pattern)) + "]",
        "# Referenced by some signatures only (depending on the model's types).",
        "_TYPES = (uuid.UUID, date, datetime, Decimal, Sequence, json)",
    ]
    body = "\n\n".join(_read(scaffold, r, classes) for r in scaffold.reads)
    return _module(
        scaffold, "One function per access pattern served by the relational system of record.", imports, body
    )


def _key_args(write: Write) -> tuple[list[str], str]:
    return [f"{c.field}: {_annotation(c.kind)}" for c in write.key], ", ".join(
        f"'key_{c.field}': {c.field}" for c in write.key
    )


def _write(scaffold: Scaffold, write: Write) -> str:
    cls = write.result
    kinds = f"{cls}.KINDS"
    key_kinds = _kinds_literal((f"key_{c.field}", c.kind) for c in write.key)
    outbox = (
        "        if written is not None:\n"
        "            connection.execute(\n"
        f"                statement(OUTBOX[stores.engine]['insert'], {{}}, {{}}),\n"
        f"                {{'entity': {write.entity!r}, 'op': {write.kind.value!r}, 'before': None if before is None else before.to_json(), 'after': None if after is None else after.to_json()}},\n"
        "            )\n"
        if write.outbox
        else ""
    )
    after_commit = "    invalidate(stores, before, after)\n" if write.outbox else ""
    # A parent's copies (in the transaction) and its children's cached answers (after it): cache_parents.py.
    parent = any(p.write == write.name for p in scaffold.parents)
    if parent:
        outbox += f"        after_write(connection, stores.engine, {write.name!r}, after)\n"
        after_commit += f"    after_commit(stores, {write.name!r}, after)\n"
    run_before = (
        "        found = connection.execute(\n"
        f"            statement(WRITES[stores.engine][{write.name!r}]['before'], {key_kinds}, {kinds}), key\n"
        "        ).mappings().first()\n"
        f"        before = None if found is None else {cls}.from_mapping(found)\n"
    )
    if write.kind in (WriteKind.INSERT, WriteKind.UPSERT):
        signature = f"row: {cls}"
        key = "    key: dict[str, Any] = {" + ", ".join(f"'key_{c.field}': row.{c.field}" for c in write.key) + "}\n"
        params = "row.as_params()"
        row_class = next(c for c in scaffold.classes if c.name == cls)
        param_kinds = _kinds_literal((c.field, c.kind) for c in row_class.columns)
        returns = cls
        if write.kind is WriteKind.INSERT:
            key, run_before = "", f"        before: {cls} | None = None\n"
        if not write.outbox:  # nothing needs the row as it was
            key, run_before = "", ""
    else:
        args, key_values = _key_args(write)
        extra = [
            f"{c.field}: {_annotation(c.kind, c.nullable)}" for c in write.written if write.kind is WriteKind.UPDATE
        ]
        signature = ", ".join([*args, *extra])
        key = f"    key: dict[str, Any] = {{{key_values}}}\n"
        values = ", ".join(f"{c.field!r}: {c.field}" for c in write.written) if write.kind is WriteKind.UPDATE else ""
        params = f"{{**key, {values}}}" if values else "key"
        param_kinds = (
            _kinds_literal(
                [*((f"key_{c.field}", c.kind) for c in write.key), *((c.field, c.kind) for c in write.written)]
            )
            if values
            else key_kinds
        )
        returns = f"{cls} | None"
        if not write.outbox and write.kind is not WriteKind.DELETE:
            run_before = ""
    doc = f'    """{write.name}: {write.kind.value} {write.entity}'
    doc += (
        "; the row and its outbox event commit in one transaction, then the cached answers are invalidated."
        if write.outbox
        else " in one transaction (no projection reads this entity, so no outbox event)."
    )
    if parent:
        doc += " It also rewrites the children's copies and their cached answers (parents.py)."
    doc += '"""\n'
    result = "after" if write.kind is not WriteKind.DELETE else "before"
    return (
        f"def {write.name}(stores: Stores, {signature}) -> {returns}:\n"
        + doc
        + key
        + "    with stores.database.begin() as connection:\n"
        + run_before
        + "        written = write_row(\n"
        + f"            connection, WRITES[stores.engine][{write.name!r}], {param_kinds}, {kinds}, {params}\n"
        + "        )\n"
        + (
            f"        after = None if written is None else {cls}.from_mapping(written)\n"
            if write.kind is not WriteKind.DELETE
            else "        after = None\n"
        )
        + outbox
        + after_commit
        + (f"    assert {result} is not None\n" if returns == cls else "")
        + f"    return {result}\n"
    )


def _writes(scaffold: Scaffold) -> str:
    planned = scaffold.planned_writes
    used = sorted({w.result for w in scaffold.writes} | {w.result for w in planned})
    outbox = any(w.outbox for w in scaffold.writes) or any(w.outbox for w in planned)
    blocks = [_write(scaffold, w) for w in scaffold.writes] + [render_planned_write(w, _annotation) for w in planned]
    # A model without relational write patterns still gets the module (its readers import it).
    body = "\n\n".join(blocks) or "# The model has no write pattern on the relational system of record."
    names = sorted([*(w.name for w in scaffold.writes), *(w.name for w in planned)])
    called = [name for name in ("statement", "write_row") if f"{name}(" in body]
    local = [
        *([_from_import(f"{scaffold.package}.models", used)] if used else []),
        *([_from_import(f"{scaffold.package}.parents", ["after_commit", "after_write"])] if scaffold.parents else []),
        *([_from_import(f"{scaffold.package}.projection", ["invalidate"])] if outbox else []),
        *(
            [
                # Only what the functions call (an insert with no outbox calls write_row alone).
                *([_from_import(f"{scaffold.package}.runtime", called)] if called else []),
                _from_import(f"{scaffold.package}.settings", ["Stores"]),
                _from_import(f"{scaffold.package}.sql", ["OUTBOX", "WRITES"] if outbox else ["WRITES"]),
            ]
            if blocks
            else []
        ),
        *([_from_import(f"{scaffold.package}.write_runtime", ["run_planned", "transaction"])] if planned else []),
    ]
    imports = [
        "import uuid",
        "from datetime import date, datetime",
        "from decimal import Decimal",
        *(["from typing import Any"] if "Any" in body else []),
        *(["", *local] if local else []),
        "",
        # An empty list needs its type for mypy --strict; a filled one states it.
        ("__all__ = [" + ", ".join(repr(n) for n in names) + "]") if names else "__all__: list[str] = []",
        "_TYPES = (uuid.UUID, date, datetime, Decimal)",
    ]
    return _module(scaffold, "One function per write pattern on the relational system of record.", imports, body)


def _projection(scaffold: Scaffold) -> str:
    classes = {c.name: c for c in scaffold.classes}
    fed = sorted(
        {w.entity for w in scaffold.writes if w.outbox}
        | {r.entity for r in scaffold.reads if r.cache}
        # An index of a document-store entity is fed by doc_relay.py, not by this relay.
        | {s.entity for s in scaffold.indexes if s.entity in {c.entity for c in scaffold.classes}}
    )
    entity_class: dict[str, str] = {}
    for c in scaffold.classes:
        entity_class.setdefault(c.entity, c.name)
    families = [
        (read.entity, read.cache.template, [(a, c, dict(read.cache.kinds)[a]) for a, _, c in read.cache.parts])
        for read in scaffold.reads
        if read.cache is not None
    ]
    lines = [
        "# Per entity: the key families holding its answers: (key template, [(attribute, column, kind)]).",
        "FAMILIES: dict[str, list[tuple[str, list[tuple[str, str, str]]]]] = {",
    ]
    for entity in fed:
        lines.append(f"    {entity!r}: [")
        lines += [f"        ({t!r}, {parts!r})," for e, t, parts in families if e == entity]
        lines.append("    ],")
    lines.append("}")
    row_classes = sorted({entity_class[e] for e in fed})
    lines.append("ROWS: dict[str, Any] = {" + ", ".join(f"{e!r}: {entity_class[e]}" for e in fed) + "}")
    body = (
        "\n".join(lines)
        + '''


def _key(stores: Stores, template: str, parts: list[tuple[str, str, str]], row: Mapping[str, Any] | None) -> str | None:
    if row is None or any(row.get(column) is None for _, column, _ in parts):
        return None
    return stores.key(fill(template, {attribute: key_part(kind, row[column]) for attribute, column, kind in parts}))


def _keys(stores: Stores, entity: str, *rows: Any) -> list[str]:
    """The keys of every answer any of `rows` (entity rows or None) is part of, sorted, once each."""
    found = {
        _key(stores, template, parts, row.as_dict())
        for row in rows
        if row is not None
        for template, parts in FAMILIES.get(entity, [])
    }
    return sorted(key for key in found if key is not None)


def invalidate(stores: Stores, before: Any, after: Any) -> None:
    """After a commit: delete every cached answer the row was or is part of (the writer's fast path;
    the relay's delete of the same keys is the guaranteed one)."""
    if stores.cache is None:
        return
    entity = type(after if after is not None else before).__name__
    entity = next((name for name, cls in ROWS.items() if cls.__name__ == entity), entity)
    keys = _keys(stores, entity, before, after)
    if keys:
        stores.cache.delete(*keys)


def apply(stores: Stores, event: Event) -> None:
    """Apply one outbox event to the cache: every answer the row was or is part of is deleted, and
    the next read fills it from the system of record. Never a write: a relay that lags behind the
    writers would otherwise put an older row over a fresher fill. Applying an event twice changes
    nothing."""
    if event.entity not in ROWS:
        raise UnknownEntity(f"no projection of entity {event.entity!r} in this package")
    if stores.cache is None:
        return
    row_class = ROWS[event.entity]
    before = None if event.before is None else row_class.from_json(event.before)
    after = None if event.after is None else row_class.from_json(event.after)
    keys = _keys(stores, event.entity, before, after)
    if keys:
        stores.cache.delete(*keys)
'''
    )
    imports = [
        "from collections.abc import Mapping",
        "from typing import Any",
        "",
        *([_from_import(f"{scaffold.package}.models", row_classes)] if row_classes else []),
        _from_import(f"{scaffold.package}.runtime", ["Event", "UnknownEntity", "fill", "key_part"]),
        _from_import(f"{scaffold.package}.settings", ["Stores"]),
    ]
    del classes
    return _module(
        scaffold,
        "The cache projection: which keys hold each entity's rows, and how a change reaches them.",
        imports,
        body,
    )
