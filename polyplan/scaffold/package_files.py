"""The package-level files of a scaffold (pure): `settings.py` (the stores, from environment
variables), `__init__.py` (what the package holds), requirements.txt and compose.yml.
"""

from __future__ import annotations

from polyplan.scaffold.design import Scaffold
from polyplan.scaffold.document import settings_parts
from polyplan.scaffold.module_text import _CLIENTS, _HEADER, _from_import, _module
from polyplan.scaffold.wide_column import settings_parts as wide_settings
from polyplan.scaffold.without_relational import compose_without_relational, relational_settings


def _settings(scaffold: Scaffold) -> str:
    prefix = scaffold.package.upper()
    client = _CLIENTS.get(scaffold.search_engine or "")
    search_names = f'SEARCH_URL = "{prefix}_SEARCH_URL"\nINDEX_PREFIX = "{prefix}_INDEX_PREFIX"\n' if client else ""
    search_fields = (
        f"    search: {client.cls} | None = None  # {client.product}, where the relay projects entities\n"
        '    index_prefix: str = ""  # before every index and alias name (a test run\'s own namespace)\n'
        if client
        else ""
    )
    search_doc = f", {prefix}_SEARCH_URL (optional) and {prefix}_INDEX_PREFIX (optional)" if client else ""
    search_connect = (
        "    search_url = environ.get(SEARCH_URL)\n"
        f"    search = {client.cls}(search_url, {client.timeout}=30) if search_url else None\n"
        if client
        else ""
    )
    search_args = ', search, environ.get(INDEX_PREFIX, "")' if client else ""
    # The document store's lines (polyplan.scaffold.document), empty without one.
    documents = settings_parts(scaffold.package) if scaffold.documents else dict.fromkeys(settings_parts(""), "")
    wide = scaffold.wide_column
    cassandra = wide_settings(scaffold.package, wide.keyspace) if wide else dict.fromkeys(documents, "")
    documents = {part: documents[part] + cassandra[part] for part in documents}
    # Without a relational entity (without_relational.py): no database, no engine.
    relational = bool(scaffold.engines)
    database = relational_settings(prefix, scaffold.engines, relational)
    body = f'''{database["names"]}REDIS_URL = "{prefix}_REDIS_URL"
KEY_PREFIX = "{prefix}_KEY_PREFIX"
{search_names}{documents["names"]}{database["engines"]}

class SettingsError(Exception):
    """A setting is missing or names an engine this package has no SQL for (one line)."""


@dataclass(frozen=True)
class Stores:
    """The connections every function takes: {database["what"]}."""

{database["field"]}    cache: redis.Redis | None = None
    key_prefix: str = ""
{search_fields}{documents["field"]}
{database["engine"]}    def key(self, name: str) -> str:
        """A Redis key name under this deployment's prefix."""
        return self.key_prefix + name


def connect(environ: Mapping[str, str] = os.environ) -> Stores:
    """Stores from {database["doc"]}{prefix}_REDIS_URL (optional), {prefix}_KEY_PREFIX (optional){search_doc}{documents["doc"]}."""
{database["url"]}    cache_url = environ.get(REDIS_URL)
    cache = redis.Redis.from_url(cache_url, socket_timeout=10, socket_connect_timeout=5) if cache_url else None
{search_connect}{documents["connect"]}    stores = Stores({database["arg"]}cache, environ.get(KEY_PREFIX, ""){search_args}{documents["args"]})
{database["check"]}    return stores
'''
    imports = [
        "import os",
        "from collections.abc import Mapping",
        "from dataclasses import dataclass",
        *(["from typing import Any"] if scaffold.documents else []),
        "",
        "import redis",
        *(["import sqlalchemy as sa"] if relational else []),
        *([client.import_client] if client else []),
        *(["from pymongo.database import Database"] if scaffold.documents else []),
        *([""] if scaffold.documents or wide else []),
        *([_from_import(f"{scaffold.package}.document_runtime", ["mongodb_database"])] if scaffold.documents else []),
        *([_from_import(f"{scaffold.package}.wide_column_runtime", ["WideColumnStore"])] if wide else []),
    ]
    return _module(scaffold, "Connection settings: environment variables, read in this one place.", imports, body)


def _init(scaffold: Scaffold) -> str:
    skipped = "".join(f"- {path}: {why}\n" for path, why in scaffold.skipped) or "- nothing\n"
    skipped = skipped.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    doc = (
        f"Data access for the model {scaffold.model!r}, scaffolded by polyplan.\n\n"
        + (
            "reads: one function per access pattern; writes: one per write pattern; relay: the outbox relay;\n"
            if scaffold.engines
            else "(no relational entity: no reads, writes or relay modules)\n"
        )
        + ("search: one function per pattern the plan serves from a search index;\n" if scaffold.search_reads else "")
        + ("documents: one function per pattern on the document store;\n" if scaffold.documents else "")
        + ("wide_column: one function per pattern on Cassandra;\n" if scaffold.wide_column else "")
        + ("records: one function per pattern on the records Redis keeps;\n" if scaffold.records else "")
        + ("keyed_relay: the relay of the Redis and Cassandra records' outboxes;\n" if _keyed(scaffold) else "")
        + "settings.connect(): the stores, from environment variables. Not scaffolded:\n"
        + skipped
    )
    return f'"""{doc}"""\n\n' + _HEADER.format(model=scaffold.model)


def _keyed(scaffold: Scaffold) -> bool:
    """Whether a search index projects a Redis or Cassandra record (the package has keyed_relay.py)."""
    from polyplan.scaffold.keyed_outbox import fed

    return bool(fed(scaffold, scaffold.records) or fed(scaffold, scaffold.wide_column))


# What the package imports, per store, in the ranges polyplan's own extras use (pyproject.toml).
_REQUIREMENTS = {
    "sqlalchemy": "sqlalchemy>=2.1,<3",
    "postgresql": "psycopg[binary]>=3.2,<4",
    "mysql": "pymysql>=1.1,<2",
    "redis": "redis>=5,<9",
    "opensearch": "opensearch-py>=2.6,<4",
    "elasticsearch": "elasticsearch>=8.15,<9",
    "pymongo": "pymongo>=4.6,<5",
    "cassandra": "cassandra-driver>=3.29,<4",
}


def _requirements(scaffold: Scaffold) -> str:
    """requirements.txt: the drivers the package imports (settings.py imports redis-py always)."""
    needed = ["sqlalchemy", *(e for e in scaffold.engines if e in _REQUIREMENTS), "redis"]
    if scaffold.search_engine and scaffold.indexes:
        needed.append(scaffold.search_engine)
    if scaffold.documents:
        needed.append("pymongo")
    if scaffold.wide_column:
        needed.append("cassandra")
    return "".join(f"{_REQUIREMENTS[name]}\n" for name in needed)


def _compose(scaffold: Scaffold) -> str | None:
    """compose.yml: the stores the package uses and its relays as services (`relay`, and `keyed_relay`
    with a Redis or Cassandra record a search index projects; None without a PostgreSQL system of
    record: SQLite needs no server, and a relay container would not see its file)."""
    from polyplan.emit.compose import render_app_compose

    if scaffold.engines and "postgresql" not in scaffold.engines:
        return None
    from polyplan.scaffold import doc_outbox
    from polyplan.scaffold.keyed_outbox import RELAY, fed

    prefix = scaffold.package.upper()
    stores = [("postgresql", f"{prefix}_DATABASE_URL")] if scaffold.engines else []
    # The keyed relay reads the Redis records' stream: Redis is a store of the package then, even
    # without a cached read.
    keyed_redis = bool(fed(scaffold, scaffold.records))
    if any(r.cache for r in scaffold.reads) or (scaffold.records and not scaffold.engines) or keyed_redis:
        stores.append(("redis", f"{prefix}_REDIS_URL"))
    if scaffold.search_engine and scaffold.indexes:
        stores.append((scaffold.search_engine, f"{prefix}_SEARCH_URL"))
    if scaffold.documents:
        stores.append(("mongodb", f"{prefix}_MONGODB_URL"))
    if scaffold.wide_column:
        stores.append(("cassandra", f"{prefix}_CASSANDRA_URL"))
    keyed = [RELAY] if _keyed(scaffold) else []  # the Redis and Cassandra records' relay: a service too
    if scaffold.engines:
        # Beside the relational relay, the document store's (its own outbox, its own service).
        documents = [doc_outbox.RELAY] if doc_outbox.relayed(scaffold) else []
        return render_app_compose(scaffold.model, scaffold.package, stores, more_relays=[*documents, *keyed])
    return compose_without_relational(scaffold, stores, keyed)
