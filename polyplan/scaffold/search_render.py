"""`search.py` of a scaffolded package (pure): the index bootstrap, the relay's versioned bulk apply,
and one function per access pattern the plan serves from a search index.
"""

from __future__ import annotations

from pprint import pformat

from polyplan.scaffold.design import ResultClass, Scaffold, SearchRead
from polyplan.scaffold.module_text import (
    _CLIENTS,
    _annotation,
    _Client,
    _from_import,
    _kinds_literal,
    _literal,
    _module,
    record_imports,
)


def _hit_class(cls: ResultClass) -> str:
    fields = "\n".join(f"    {c.field}: {_annotation(c.kind, c.nullable)}" for c in cls.columns)
    kinds = ", ".join(f"{c.name!r}: {c.kind!r}" for c in cls.columns)
    names = ", ".join(f"{c.name!r}: {c.field!r}" for c in cls.columns)
    return (
        f"@dataclass(frozen=True)\nclass {cls.name}:\n"
        f'    """A hit on {cls.entity}: the document id, its score and its fields ({", ".join(c.name for c in cls.columns)})."""\n\n'
        "    doc_id: str\n"
        "    score: float | None\n"
        f"{fields}\n\n"
        f"    KINDS: ClassVar[dict[str, str]] = {{{kinds}}}\n"
        f"    FIELDS: ClassVar[dict[str, str]] = {{{names}}}\n\n"
        "    @classmethod\n"
        f"    def from_hit(cls, hit: Mapping[str, Any]) -> {cls.name}:\n"
        '        """From one hit of a search response (a field absent from `_source` is None)."""\n'
        '        source = hit.get("_source") or {}\n'
        "        values = {field: hit_value(cls.KINDS[name], source.get(name)) for name, field in cls.FIELDS.items()}\n"
        '        return cls(str(hit["_id"]), hit.get("_score"), **values)\n'
    )


def _search_read(scaffold: Scaffold, read: SearchRead, client: _Client) -> str:
    signature = ["stores: Stores"]
    for p in read.params:
        annotation = _annotation(p.kind)
        signature.append(f"{p.name}: Sequence[{annotation}]" if p.op == "in" else f"{p.name}: {annotation}")
    signature.append("size: int | None = None")
    values = ", ".join([*(f"{p.name!r}: {p.name}" for p in read.params), "'size': size"])
    kinds = _kinds_literal([*((p.name, p.kind) for p in read.params), ("size", "integer")])
    return (
        f"def {read.pattern}({', '.join(signature)}) -> Page[{read.hit.name}]:\n"
        f'    """{read.pattern}: {read.entity} from the search index `{read.alias}`, with the plan\'s template\n'
        f"    (<engine>/queries.json); `size` pages past the plan's {read.size}."
        + (f" Facets: {', '.join(read.facets)}." if read.facets else "")
        + '"""\n'
        f"    params = search_params({kinds}, {{{values}}})\n"
        f"    client, index = search_client(stores, {read.pattern!r}), stores.index_prefix + {read.alias!r}\n"
        f"    source = SOURCES[{read.pattern!r}]\n"
        "    try:\n"
        f"        response = {client.search}\n"
        "    except SearchUnreachable as error:\n"
        f"        raise unreachable({read.pattern!r}, {client.product!r}, error) from None\n"
        f"    return page_of(response, {read.hit.name}.from_hit, {tuple(read.facets)!r})\n"
    )


def _search(scaffold: Scaffold) -> str:
    """search.py: the index bootstrap, the relay's bulk apply, and a read per search pattern."""
    client = _CLIENTS[scaffold.search_engine or ""]
    prefix = scaffold.package.upper()
    targets = "\n".join(
        f"    {s.entity!r}: SearchTarget({s.alias!r}, {s.doc_id!r}, {s.fields!r}"
        + ("" if s.expiry is None else f", expiry={s.expiry!r}")
        + "),"
        for s in scaffold.indexes
    )
    bootstrap = {s.alias: [s.first_index, s.body] for s in scaffold.indexes}
    sources = {r.pattern: r.source for r in scaffold.search_reads}
    body = (
        "# Per entity: its write alias, the key columns of the document id, each field's columns (and, for\n"
        "# records their store expires without an event, the expiry field and the TTL).\n"
        f"TARGETS: dict[str, SearchTarget] = {{\n{targets}\n}}\n\n"
        "# Per write alias: the first index behind it and its body (the plan's mappings, analysis and shards;\n"
        "# lifecycle policies and stored templates are <engine>/setup.py's).\n"
        f"BOOTSTRAP: dict[str, list[Any]] = {pformat(bootstrap, width=110, sort_dicts=False)}\n\n"
        "# The search templates exactly as <engine>/queries.json has them.\n"
        f"SOURCES: dict[str, str] = {_literal(sources)}\n\n"
        "# What the relay retries with backoff: nothing answered, or the engine asked to slow down.\n"
        "TRANSIENT: tuple[type[Exception], ...] = (SearchUnreachable, SearchRetry)\n\n\n"
        f"def search_client(stores: Stores, who: str) -> {client.cls}:\n"
        '    """The search client, or a one-line SettingsError naming what to set."""\n'
        "    if stores.search is None:\n"
        f'        raise SettingsError(f"{{who}} needs {client.product}: set {prefix}_SEARCH_URL to its URL")\n'
        "    return stores.search\n\n\n"
        "def install_search(stores: Stores) -> None:\n"
        '    """Create each index and its write alias if the alias is missing (as <engine>/setup.py would),\n'
        '    so the relay never writes to an auto-created index of the wrong mapping."""\n'
        '    client = search_client(stores, "the relay")\n'
        "    for alias, (first, body) in BOOTSTRAP.items():\n"
        "        if client.indices.exists_alias(name=stores.index_prefix + alias):\n"
        "            continue\n"
        "        index = stores.index_prefix + first\n"
        '        aliases = {stores.index_prefix + alias: {"is_write_index": True}}\n'
        "        try:\n"
        f"            {client.create}\n"
        "        except SearchRefused as error:  # a second relay created it first\n"
        '            if "resource_already_exists" not in str(error):\n'
        "                raise\n\n\n"
        "def apply_events(stores: Stores, events: Sequence[Event]) -> dict[int, str]:\n"
        '    """Apply a batch of outbox events to the indexes in one bulk request, each action at its event\'s\n'
        "    external version (a 409 means the index already has that version or a newer one: success).\n"
        '    Returns the events whose documents the engine rejected, with the reason (parked by the relay)."""\n'
        "    actions = search_actions(TARGETS, events, stores.index_prefix)\n"
        "    if not actions:\n"
        "        return {}\n"
        '    client = search_client(stores, "the relay")\n'
        "    results = helpers.streaming_bulk(\n"
        "        client, [action for _, action in actions], raise_on_error=False, raise_on_exception=True, max_retries=0\n"
        "    )\n"
        "    return search_outcome(actions, results).parked\n\n\n"
        + "\n\n".join(_hit_class(r.hit) for r in scaffold.search_reads)
        + "\n\n"
        + "\n\n".join(_search_read(scaffold, r, client) for r in scaffold.search_reads)
    )
    imports = [
        *record_imports("Mapping", "Sequence"),
        "",
        # isort's order of three imports from one module: by the first name each imports.
        *sorted(
            [
                f"from {client.module} import {client.cls}, helpers",
                f"from {client.module} import {client.unreachable} as SearchUnreachable",
                f"from {client.module} import {client.refused} as SearchRefused",
            ]
        ),
        "",
        _from_import(f"{scaffold.package}.runtime", ["Event", "unreachable"]),
        _from_import(
            f"{scaffold.package}.search_runtime",
            [
                "Page",
                "SearchRetry",
                "SearchTarget",
                "hit_value",
                "page_of",
                "search_actions",
                "search_outcome",
                "search_params",
            ],
        ),
        _from_import(f"{scaffold.package}.settings", ["SettingsError", "Stores"]),
        "",
        "__all__ = ["
        + ", ".join(
            repr(n) for n in sorted(["apply_events", "install_search", *(r.pattern for r in scaffold.search_reads)])
        )
        + "]",
        "# Referenced by some annotations only (depending on the model's types).",
        "_TYPES = (uuid.UUID, date, datetime, Decimal)",
    ]
    return _module(
        scaffold,
        f"The search projection on {client.product}: index bootstrap, the relay's versioned bulk apply, and\n"
        "one function per access pattern the plan serves from a search index.",
        imports,
        body,
    )
