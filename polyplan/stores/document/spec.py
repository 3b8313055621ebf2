"""The MongoDB design as plain data, between planning and rendering.

`design.py` decides collections and embedding, `validator.py` builds each `$jsonSchema`,
`indexes.py` the indexes and the query of every access pattern, `shard.py` the shard key.
Paths are final document paths (`_id`, `order_lines.quantity`); values in filters, validators and
partial filters are Python/BSON values (rendered as MongoDB Extended JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from polyplan.diagnostics import Diagnostic
from polyplan.model.schema import Attribute, RelationshipKind

IndexKey = tuple[tuple[str, int | str], ...]  # (path, 1 | -1 | "text" | "hashed")


@dataclass(frozen=True)
class Embedding:
    """The decision for one relationship between two document entities: embed or reference."""

    relationship: str
    parent: str
    child: str
    kind: RelationshipKind
    embedded: bool
    field: str | None  # the parent's array (or sub-document) field when embedded
    reason: str
    max_children: int | None = None
    worst_case_bytes: float | None = None


@dataclass(frozen=True)
class LinkArray:
    """A many-to-many relationship kept as an array of references on one side."""

    relationship: str
    holder: str  # entity whose documents carry the array
    other: str
    field: str
    item_fields: dict[str, Attribute]  # one entry: array of values; several: array of sub-documents
    reason: str


@dataclass(frozen=True)
class IndexSpec:
    """One index. `partial` is a partialFilterExpression; `expire_after` makes it a TTL index."""

    name: str
    keys: IndexKey
    unique: bool = False
    partial: dict[str, Any] | None = None
    expire_after: int | None = None
    text_options: dict[str, Any] | None = None
    serves: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class ShardCandidate:
    """One candidate shard key, judged on cardinality, frequency, monotonicity and targeting."""

    fields: tuple[str, ...]
    cardinality: float
    top_value_share: float
    monotonic: bool
    targeted_share: float
    verdict: str


@dataclass(frozen=True)
class ShardDecision:
    """Whether to shard, on which key, and why."""

    sharded: bool
    keys: IndexKey
    reason: str
    candidates: tuple[ShardCandidate, ...] = ()


@dataclass(frozen=True)
class Param:
    """A value the application supplies to a query."""

    name: str
    attribute: str
    path: str
    kind: str  # value, list, min, max, prefix, text


@dataclass(frozen=True)
class Lookup:
    """A related entity loaded with a pattern's result, when it is not embedded."""

    entity: str
    relationship: str
    collection: str | None  # None: it lives in another store
    local_paths: tuple[str, ...]
    foreign_paths: tuple[str, ...]
    index: str | None
    note: str


@dataclass(frozen=True)
class LookupHop:
    """One `$lookup` step: documents of `collection` whose `foreign` path equals the current
    document's `reference` path (the current document: the pattern's, then each parent reached)."""

    reference: str
    collection: str
    foreign: str
    index: str  # the index that serves the probe (`_id_`)


@dataclass(frozen=True)
class JoinedField:
    """A related field a pattern reads, joined at read time by `$lookup` (plan/lookups.py): the
    answer's `field` (the path's slug) is `attribute` of the document the `hops` reach."""

    field: str
    path: str
    hops: tuple[LookupHop, ...]
    attribute: str
    decision: str  # plan/related_reads.py's line: the costs and why


@dataclass(frozen=True)
class QuerySpec:
    """The find() that answers one access pattern."""

    pattern: str
    entity: str
    collection: str
    filter: dict[str, Any]  # values are literals or {"$param": name}
    sort: tuple[tuple[str, int], ...]
    projection: dict[str, int] | None
    limit: int | None
    index: str | None  # the index expected to serve it ("_id_" for the primary key)
    params: tuple[Param, ...]
    lookups: tuple[Lookup, ...] = ()
    embedded: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # Related fields joined by `$lookup`, and the aggregation pipeline that answers the pattern
    # with them (stores/document/lookups.py); empty when find() answers it alone.
    joined: tuple[JoinedField, ...] = ()
    pipeline: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class CollectionSpec:
    """One collection: its entity, field paths, embedded parts, validator, indexes and shard key."""

    name: str
    entity: str
    id_attribute: str | None  # the attribute stored as _id (None: composite key, ObjectId _id)
    paths: dict[str, str]  # attribute → top-level path
    embedded: tuple[Embedding, ...]
    links: tuple[LinkArray, ...]
    validator: dict[str, Any]
    additional_properties: bool
    indexes: tuple[IndexSpec, ...]
    shard: ShardDecision
    avg_document_bytes: float
    worst_document_bytes: float
    documents_at_horizon: float
    write_rate: float
    notes: tuple[str, ...] = ()
    options: dict[str, Any] | None = None  # createCollection options: a capped collection's (capped.py)


@dataclass(frozen=True)
class DocumentDesign:
    """Everything the MongoDB target emits, as data."""

    model: str
    collections: tuple[CollectionSpec, ...]
    queries: tuple[QuerySpec, ...]
    embeddings: tuple[Embedding, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    subsets: tuple[Any, ...] = ()  # subset.Subset: bounded arrays of a parent's first children

    def collection_of(self, entity: str) -> CollectionSpec | None:
        """The collection holding `entity` as top-level documents."""
        return next((c for c in self.collections if c.entity == entity), None)
