"""What a scaffolded package contains, as data (frozen dataclasses): its result classes and their
columns, each read and write function with its SQL and cache key, the search projection's indexes
and reads, and the whole `Scaffold` that `design.design_scaffold` decides and `render` writes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from polyplan.model.schema import WriteKind

if TYPE_CHECKING:  # document.py builds on this module's classes
    from polyplan.scaffold.cache_parents import ParentWrite
    from polyplan.scaffold.cache_record import RecordScaffold
    from polyplan.scaffold.document import DocumentScaffold
    from polyplan.scaffold.relational_writes import PlannedWrite
    from polyplan.scaffold.wide_column import WideScaffold


@dataclass(frozen=True)
class Column:
    """One column of a result or a write, with its model type name."""

    name: str
    kind: str
    nullable: bool
    field: str  # its Python name: the column name made an identifier (`last seen` → `last_seen`)


@dataclass(frozen=True)
class ResultClass:
    """A dataclass of the generated package: an entity's row, or the columns one pattern reads."""

    name: str
    entity: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Param:
    """A parameter of a read function: the query's bind name, its column's type and its op."""

    name: str
    kind: str
    op: str


@dataclass(frozen=True)
class CacheKey:
    """A cached answer: key template, TTL and which parameter (or row column) fills each part."""

    template: str
    ttl: int
    parts: tuple[tuple[str, str, str], ...]  # (attribute, parameter, column), kind via the column
    kinds: tuple[tuple[str, str], ...]  # attribute → type name


@dataclass(frozen=True)
class Read:
    """One access pattern as a function."""

    pattern: str
    entity: str
    result: str  # ResultClass name
    single: bool  # a unique lookup: one row or None
    params: tuple[Param, ...]
    sql: dict[str, str]  # engine → text for sa.text (literal colons escaped)
    cache: CacheKey | None
    aggregate: tuple[str, str] | None = None  # an aggregate's value column and the kind it is read as


@dataclass(frozen=True)
class Write:
    """One write pattern as a function over one entity table."""

    name: str
    entity: str
    kind: WriteKind
    result: str  # the entity's ResultClass
    key: tuple[Column, ...]  # primary key columns (update/delete/upsert address the row by them)
    written: tuple[Column, ...]  # columns an update sets
    sql: dict[str, dict[str, str]]  # engine → statement name → text
    outbox: bool  # the entity feeds a projection: the write adds an outbox row


@dataclass(frozen=True)
class SearchSpec:
    """One search index the relay keeps: the plan's write alias and how a row becomes its document."""

    entity: str
    alias: str
    first_index: str
    doc_id: tuple[str, ...]  # the key columns
    fields: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...]  # attribute → (object field, column, kind)
    body: dict[str, Any]  # mappings, analysis and shard settings of a bootstrapped first index
    expiry: tuple[str, int] | None = None  # (field, TTL s) when the store expires records without an event


@dataclass(frozen=True)
class SearchRead:
    """One access pattern served by a search index: the plan's template, run inline."""

    pattern: str
    entity: str
    alias: str
    hit: ResultClass  # its columns are the document's attributes (after `doc_id` and `score`)
    params: tuple[Param, ...]
    source: str  # the mustache template exactly as <engine>/queries.json has it
    size: int
    facets: tuple[str, ...]


@dataclass(frozen=True)
class Scaffold:
    """Everything the package renderer needs."""

    model: str
    package: str
    engines: tuple[str, ...]
    classes: tuple[ResultClass, ...]
    reads: tuple[Read, ...]
    writes: tuple[Write, ...]
    outbox_ddl: dict[str, tuple[str, ...]]
    outbox_sql: dict[str, dict[str, str]]
    skipped: tuple[tuple[str, str], ...]  # (model path, why the pattern has no function)
    search_engine: str | None = None  # elasticsearch or opensearch, when an index is relayed
    indexes: tuple[SearchSpec, ...] = ()
    search_reads: tuple[SearchRead, ...] = ()
    documents: DocumentScaffold | None = None  # the entities kept in the document store
    wide_column: WideScaffold | None = None  # the entities kept in Cassandra
    records: RecordScaffold | None = None  # the entities kept in Redis as their system of record
    planned_writes: tuple[PlannedWrite, ...] = ()  # run as relational/<engine>/writes.sql has them
    parents: tuple[ParentWrite, ...] = ()  # a parent's copies and keys.json paths (cache_parents.py)
    unrun: tuple[tuple[str, str], ...] = ()  # (model path, what of it the package does not run): PP812
