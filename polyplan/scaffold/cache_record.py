"""The scaffold's Redis records (Redis as the system of record): what `<package>/records.py` holds,
decided from the plan (pure), and its text.

Each read and write runs the command templates of the Redis design (`polyplan.stores.cache.design`:
the same `ReadPath`/`WritePath` commands and key families as redis/keys.json): the key design's
hash or JSON string, its TTL (EXPIRE or SET … EX), its sorted-set index and MULTI/EXEC where the plan
says atomic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyplan.model.schema import COLLECTION_TYPES, Attribute, Family, TypeName, WriteKind
from polyplan.plan.ir import Plan
from polyplan.scaffold.design import Column, ResultClass, Scaffold, class_name, identifiers


@dataclass(frozen=True)
class RecordRead:
    """One access pattern on a Redis record entity: a key lookup or an index range."""

    pattern: str
    entity: str
    result: str
    params: tuple[Column, ...]
    commands: tuple[tuple[str, ...], ...]
    by_index: bool
    structure: str  # the record's: hash or string


@dataclass(frozen=True)
class RecordWrite:
    """One write pattern on a Redis record entity: its commands for the whole record."""

    name: str
    entity: str
    kind: WriteKind
    result: str
    commands: tuple[tuple[str, ...], ...]
    atomic: bool
    scored: tuple[str, ...]
    trim: tuple[str, int] | None = None  # a capped entity's index (template) and the records kept


@dataclass(frozen=True)
class RecordScaffold:
    """records.py: its classes, reads, writes and the key families (keys.json) they use."""

    classes: tuple[ResultClass, ...]
    reads: tuple[RecordRead, ...]
    writes: tuple[RecordWrite, ...]
    families: dict[str, dict[str, Any]]  # key template → keys.json key family
    entity_families: dict[str, list[str]]  # entity → its families' templates
    handled: frozenset[str]


def _kind(attribute: Attribute) -> str:
    return "json" if attribute.type in (*COLLECTION_TYPES, TypeName.OBJECT, TypeName.JSON) else attribute.type.value


def design_records(plan: Plan, skipped: list[tuple[str, str]]) -> RecordScaffold | None:
    """The Redis-record part of the scaffold (None when the plan keeps no record in Redis); what it
    cannot give a function is added to `skipped` (model path, why)."""
    stored = plan.records_in(Family.CACHE)
    if not stored:
        return None
    from polyplan.stores.cache.design import design
    from polyplan.stores.cache.render import key_json
    from polyplan.stores.cache.spec import Role

    model = plan.model
    found = design(plan)
    families = {key.template.render(): key_json(found, key) for key in found.keys if key.entity in stored}
    by_name = {key.name: key for key in found.keys}
    classes: dict[str, ResultClass] = {}
    structures: dict[str, str] = {}
    entity_families: dict[str, list[str]] = {}
    for key in found.keys:
        if key.entity in stored and key.role is Role.RECORD:
            names = [f.name for f in key.fields]
            classes[key.entity] = ResultClass(
                class_name(key.entity),
                key.entity,
                tuple(
                    Column(f.name, _kind(f.attribute), f.attribute.nullable, i)
                    for f, i in zip(key.fields, identifiers(names), strict=True)
                ),
            )
            structures[key.entity] = key.structure.value
        if key.entity in stored:
            entity_families.setdefault(key.entity, []).append(key.template.render())
    handled: set[str] = set()
    reads: list[RecordRead] = []
    for read in found.reads:
        if read.entity not in classes:
            continue
        path = f"access_patterns.{read.pattern}"
        cls = classes[read.entity]
        by_index = by_name[read.keys[0]].role is Role.INDEX
        tokens = [t for c in read.commands for t in c]
        if any(t.startswith(("<min:", "<max:", "<value:")) for t in tokens) or len(read.commands) > 2:
            skipped.append((path, "a range by score: run it as redis/keys.json has it"))
            continue
        first = by_name[read.keys[0]]
        params = tuple(c for c in cls.columns if c.name in first.template.attributes)
        reads.append(
            RecordRead(read.pattern, read.entity, cls.name, params, read.commands, by_index, structures[read.entity])
        )
        handled.add(path)
    writes: list[RecordWrite] = []
    positions = {w.name: i for i, w in enumerate(model.write_patterns)}
    for write in found.writes:
        if write.entity not in classes:
            continue
        path = f"write_patterns.{positions[write.write]}"
        if write.kind not in (WriteKind.INSERT, WriteKind.UPSERT, WriteKind.DELETE) or not write.commands:
            skipped.append((path, f"a {write.kind.value} of a Redis record: run it as redis/keys.json has it"))
            continue
        scored = tuple(sorted({t[len("<score:") : -1] for c in write.commands for t in c if t.startswith("<score:")}))
        # A capped entity's trim (keys.json: ZRANGE and ZREMRANGEBYRANK of the members past the newest
        # N in one MULTI/EXEC, then their records deleted) is run by the runtime's `trim`, which needs
        # ZRANGE's answer: those two commands leave the plain write's pipeline.
        cap = [c for c in write.commands if c[0] in ("ZRANGE", "ZREMRANGEBYRANK")]
        trim = (cap[0][1], -int(cap[0][3]) - 1) if cap else None
        if trim and any(p.family is Family.SEARCH for p in plan.entities[write.entity].projections):
            # The trim deletes records no event names: a search index would keep them.
            skipped.append((path, "a capped record a search index projects: its trim writes no outbox event"))
            continue
        writes.append(
            RecordWrite(
                write.write,
                write.entity,
                write.kind,
                classes[write.entity].name,
                tuple(c for c in write.commands if c not in cap),
                write.atomic,
                scored,
                trim,
            )
        )
        handled.add(path)
    return RecordScaffold(
        tuple(classes.values()), tuple(reads), tuple(writes), families, entity_families, frozenset(handled)
    )


# --- the text of records.py ------------------------------------------------------------------


def _class(cls: ResultClass, structure: str, annotation: Any) -> str:
    from polyplan.scaffold.document import class_head

    return (
        class_head(cls, f"A record (a Redis {structure}) of", annotation)
        + f"    STRUCTURE: ClassVar[str] = {structure!r}\n\n"
        "    @classmethod\n"
        f"    def from_stored(cls, raw: Any) -> {cls.name} | None:\n"
        '        """From what HGETALL or GET answered (None when the key is absent)."""\n'
        "        values = record_of(cls.KINDS, cls.STRUCTURE, raw)\n"
        "        return None if values is None else cls(**{f: values[c] for c, f in cls.FIELDS.items()})\n\n"
        "    def as_values(self) -> dict[str, Any]:\n"
        '        """Attribute → value."""\n'
        "        return {c: getattr(self, f) for c, f in self.FIELDS.items()}\n"
    )


def _read(read: RecordRead, annotation: Any) -> str:
    signature = ", ".join(["stores: Stores", *(f"{c.field}: {annotation(c.kind)}" for c in read.params)])
    kinds = "{" + ", ".join(f"{c.name!r}: {c.kind!r}" for c in read.params) + "}"
    values = "{" + ", ".join(f"{c.name!r}: {c.field}" for c in read.params) + "}"
    head = (
        f"    client = record_store(stores, {read.pattern!r})\n"
        f"    record = view({kinds}, {values})\n"
        f"    commands = READS[{read.pattern!r}]\n"
    )
    if read.by_index:
        return (
            f"def {read.pattern}({signature}) -> list[{read.result}]:\n"
            f'    """{read.pattern}: {read.entity} records in the order of their sorted-set index, as redis/keys.json says."""\n'
            + head
            + "    try:\n"
            "        found = read_index(client, commands, FAMILIES, record, stores.key_prefix)\n"
            "    except redis.ConnectionError as error:\n"
            f"        raise unreachable({read.pattern!r}, 'Redis', error) from None\n"
            f"    return [row for row in ({read.result}.from_stored(raw) for raw in found) if row is not None]\n"
        )
    return (
        f"def {read.pattern}({signature}) -> {read.result} | None:\n"
        f'    """{read.pattern}: one {read.entity} record by its key (None when absent or expired)."""\n'
        + head
        + "    try:\n"
        "        raw = read_key(client, commands[0], FAMILIES, record, stores.key_prefix)\n"
        "    except redis.ConnectionError as error:\n"
        f"        raise unreachable({read.pattern!r}, 'Redis', error) from None\n"
        f"    return {read.result}.from_stored(raw)\n"
    )


def _write(write: RecordWrite, families: list[str]) -> str:
    verb = {WriteKind.INSERT: "writes", WriteKind.UPSERT: "writes", WriteKind.DELETE: "deletes"}[write.kind]
    fams = "[" + ", ".join(f"FAMILIES[{t!r}]" for t in families) + "]"
    return (
        f"def {write.name}(stores: Stores, row: {write.result}) -> {write.result}:\n"
        f'    """{write.name}: {verb} one {write.entity} record with the plan\'s commands'
        + (" in one MULTI/EXEC" if write.atomic else " (pipelined, not atomic: as the plan says)")
        + (f", then trims {write.entity} to the newest {write.trim[1]:,} (the plan's cap)" if write.trim else "")
        + '."""\n'
        f"    client = record_store(stores, {write.name!r})\n"
        f"    record = view({write.result}.KINDS, row.as_values(), {fams}, {list(write.scored)!r})\n"
        "    try:\n"
        f"        run_write(client, WRITES[{write.name!r}], FAMILIES, record, stores.key_prefix, {write.atomic!r})\n"
        + (
            f"        trim(client, FAMILIES[{write.trim[0]!r}], FAMILIES, stores.key_prefix, {write.trim[1]})\n"
            if write.trim
            else ""
        )
        + "    except redis.ConnectionError as error:\n"
        f"        raise unreachable({write.name!r}, 'Redis', error) from None\n"
        "    return row\n"
    )


def render_records(scaffold: Scaffold, records: RecordScaffold, annotation: Any) -> str:
    """The text of `<package>/records.py`."""
    package = scaffold.package
    from polyplan.scaffold.keyed_outbox import fed, record_family, record_write
    from polyplan.scaffold.module_text import _from_import, _literal, _module, record_imports

    names = sorted([*(r.pattern for r in records.reads), *(w.name for w in records.writes)])
    prefix = package.upper()
    # A record a search index projects writes its outbox event with it (keyed_outbox.py).
    projected = set(fed(scaffold, records))
    plain = [w for w in records.writes if w.entity not in projected]
    outboxed = [w for w in records.writes if w.entity in projected]
    runtime = [
        "record_of",
        *(["run_write"] if plain else []),
        "view",
        *(["trim"] if any(w.trim for w in records.writes) else []),
        *(["fill", "queue_write"] if outboxed else []),
    ]
    if any(r.by_index for r in records.reads):
        runtime.append("read_index")
    if any(not r.by_index for r in records.reads):
        runtime.append("read_key")
    imports = [
        *record_imports(),
        "",
        "import redis",
        "",
        _from_import(f"{package}.cache_record_runtime", sorted(runtime)),
        *([_from_import(f"{package}.keyed_outbox_runtime", ["STREAM", "write_record"])] if outboxed else []),
        _from_import(f"{package}.runtime", ["unreachable"]),
        *([_from_import(f"{package}.search", ["TARGETS"])] if outboxed else []),
        _from_import(f"{package}.settings", ["SettingsError", "Stores"]),
        "",
        "__all__ = [" + ", ".join(repr(n) for n in names) + "]",
        "# Referenced by some annotations only (depending on the model's types).",
        "_TYPES = (uuid.UUID, date, datetime, Decimal)",
    ]
    body = (
        "# The key families of the records, exactly as redis/keys.json has them.\n"
        f"FAMILIES: dict[str, dict[str, Any]] = {_literal(records.families)}\n\n"
        "# Each pattern's commands, exactly as redis/keys.json has them (a cap's ZRANGE and ZREMRANGEBYRANK\n# are run by `trim`, which needs ZRANGE's answer).\n"
        f"READS: dict[str, list[list[str]]] = {_literal({r.pattern: [list(c) for c in r.commands] for r in records.reads})}\n\n"
        f"WRITES: dict[str, list[list[str]]] = {_literal({w.name: [list(c) for c in w.commands] for w in records.writes})}\n\n\n"
        "def record_store(stores: Stores, who: str) -> redis.Redis:\n"
        '    """Redis, the records\' system of record, or a one-line SettingsError naming what to set."""\n'
        "    if stores.cache is None:\n"
        f'        raise SettingsError(f"{{who}} needs Redis: set {prefix}_REDIS_URL to its URL")\n'
        "    return stores.cache\n\n\n"
        + "\n\n".join(_class(c, _structure(records, c), annotation) for c in records.classes)
        + "\n\n"
        + "\n\n".join(
            [
                *(_read(r, annotation) for r in records.reads),
                *(
                    record_write(w, *record_family(records, w.entity))
                    if w.entity in projected
                    else _write(w, records.entity_families[w.entity])
                    for w in records.writes
                ),
            ]
        )
    )
    return _module(
        scaffold,
        "One function per access and write pattern of the entities the plan keeps in Redis as their\nsystem of record: the key design's hash or JSON string, TTL, index and MULTI/EXEC.",
        imports,
        body,
    )


def _structure(records: RecordScaffold, cls: ResultClass) -> str:
    record = next((f for f in records.families.values() if f["entity"] == cls.entity and f["role"] == "record"), None)
    return str(record["structure"]) if record else "hash"


def runtime_code() -> str:
    """`cache_record_runtime.py`'s code with polyplan's command-template module carried in."""
    from polyplan.emit.embed import carried_code, merged_code, module_code

    own = carried_code("polyplan.scaffold", "cache_record_runtime.py")
    commands = module_code("polyplan.stores.cache", "commands.py").replace(
        "from polyplan.stores.cache.codec import KEY_SAFE\n",
        f"# polyplan's Redis key convention (polyplan.stores.cache.codec.KEY_SAFE)\nKEY_SAFE = {_key_safe()!r}\n",
    )
    return merged_code(own, commands)


def _key_safe() -> str:
    from polyplan.stores.cache.codec import KEY_SAFE

    return KEY_SAFE
