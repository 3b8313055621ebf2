"""The data a Redis design is made of: key families, read and write paths, instances, placeholders.

Every read model (readmodels/) produces these; render.py, testgen.py and the migration diff read
them. Pure data, no planning.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from polyplan.diagnostics import Diagnostic
from polyplan.model.schema import (
    Attribute,
    WriteKind,
)
from polyplan.plan.ir import SyncMechanism
from polyplan.stores.cache import codec
from polyplan.stores.cache.keys import KeyTemplate
from polyplan.stores.cache.memory import RedisMemory

# Placeholders in command templates besides `<attribute>` inside key names (see keys.json).
JSON = "<json>"  # the compact JSON of the key's fields
FIELDS = "<fields…>"  # field/value pairs of the key's non-null fields
MEMBER = "<member>"  # an index member: the record key's untagged values joined by ':'
RECORD_KEY = "<record key>"  # the full name of the record key
STORE = "store"  # name of the canonical write path that stores one record with all its keys


def value_token(attribute: str) -> str:
    """Placeholder for one attribute's field text."""
    return f"<value:{attribute}>"


def score_token(attribute: str) -> str:
    """Placeholder for one attribute's sorted-set score."""
    return f"<score:{attribute}>"


def bound_token(bound: str, attribute: str) -> str:
    """Placeholder for a range bound (min or max) on a score attribute."""
    return f"<{bound}:{attribute}>"


# A write-through cache has no staleness bound to derive a TTL from: this one only keeps cold
# entries from piling up (a read after expiry refills the key).
WRITE_THROUGH_TTL = 3600


def staleness_bound(staleness_seconds: float, sync: SyncMechanism | None) -> int | None:
    """A cached answer's TTL when the pattern's staleness bounds it: invalidated cache-aside
    answers live as long as the pattern tolerates (so a lost invalidation is bounded); None for
    written-through answers, which keep WRITE_THROUGH_TTL."""
    if sync is SyncMechanism.CACHE_ASIDE_INVALIDATE and staleness_seconds >= 1:
        return int(staleness_seconds)
    return None


# Headroom over the estimate for allocator fragmentation and replication/AOF rewrite buffers.
FRAGMENTATION_HEADROOM = 1.3


class Structure(StrEnum):
    STRING = "string"
    HASH = "hash"
    ZSET = "zset"
    LIST = "list"


class Role(StrEnum):
    RECORD = "record"  # an entity's record (system of record in Redis)
    POINTER = "pointer"  # secondary unique lookup → record key
    INDEX = "index"  # sorted set listing record keys
    CACHED = "cached"  # a projection: the cached answer of a pattern


@dataclass(frozen=True)
class FieldSpec:
    """One attribute stored in a record (hash field or JSON member)."""

    name: str
    attribute: Attribute
    text_length: float  # average bytes of the stored text


@dataclass(frozen=True)
class IndexSpec:
    """What a sorted-set key lists: members are record key parts, scores a sort attribute."""

    partition: tuple[str, ...]  # attributes whose values name one sorted set
    constants: tuple[tuple[str, str], ...]  # constant filters baked into the key name
    score: str | None  # attribute giving the score; None = 0 (members ordered by name)
    descending: bool
    range_on_score: bool
    limit: int | None
    members_per_key: float
    member: tuple[str, ...] = ()  # for read models: the attributes a member names (the record key)


@dataclass(frozen=True)
class MemorySpec:
    """Memory of one key family."""

    usage_bytes: int  # MEMORY USAGE of one key (average)
    total_per_key: float  # plus keyspace slot and expires entry
    keys: float  # keys at the planning horizon
    total_bytes: float
    encoding: str
    keys_reason: str


@dataclass(frozen=True)
class KeySpec:
    """A family of keys: one template, one structure, one TTL."""

    name: str
    entity: str
    role: Role
    template: KeyTemplate
    structure: Structure
    structure_reason: str
    fields: tuple[FieldSpec, ...]
    ttl_seconds: int | None
    ttl_reason: str
    tag_reason: str
    serves: tuple[str, ...]
    memory: MemorySpec
    record_key: str | None = None  # for pointers and indexes: the record key family they lead to
    index: IndexSpec | None = None
    sync: SyncMechanism | None = None
    read_model: str | None = None  # for cached keys: the read model that built the key family


@dataclass(frozen=True)
class ReadPath:
    """How one access pattern is answered, as Redis commands on key templates."""

    pattern: str
    entity: str
    keys: tuple[str, ...]  # key family names, in the order they are read
    commands: tuple[tuple[str, ...], ...]
    steps: tuple[str, ...]


@dataclass(frozen=True)
class CapTrim:
    """How an insert keeps a capped entity's newest records: the last two commands of the write
    (ZRANGE and ZREMRANGEBYRANK on the cap index, one MULTI on one key) name the members past the
    cap and remove them; `then` deletes each one's record and its other keys."""

    index: str  # the sorted set scored by the cap's order that lists every record
    keep: int  # the records kept (the cap)
    then: tuple[tuple[str, ...], ...]  # per trimmed member: the entity's delete commands


@dataclass(frozen=True)
class Children:
    """The cached answers of children a parent's write reaches (a joined field they hold).

    After the parent's write commits, `query` (SQL on the system of record, the parent's key as
    `:<attribute>` parameters) lists the children by their reference; the write's commands run once
    per child listed, their key templates filled from the child's values and `<value:field>` from
    the parent's committed `attribute`."""

    entity: str  # the child entity whose cached answers hold the field
    reference: tuple[tuple[str, str], ...]  # (child attribute, parent attribute) pairs
    field: str  # the field of the cached answer holding the joined value
    attribute: str  # the parent's attribute it holds
    query: str  # lists the children's key attributes by the parent's key
    upkeep: str  # "invalidate" or "update" (plan/related_reads.py's choice)


@dataclass(frozen=True)
class WritePath:
    """What a write pattern does to Redis keys, in order relative to the system-of-record commit."""

    write: str
    entity: str
    kind: WriteKind
    keys: tuple[str, ...]
    commands: tuple[tuple[str, ...], ...]
    steps: tuple[str, ...]
    atomic: bool
    trim: CapTrim | None = None
    children: Children | None = None  # a parent's write run once per cached child answer


@dataclass(frozen=True)
class Instance:
    """A Redis deployment with one eviction policy."""

    name: str
    policy: str
    prefixes: tuple[str, ...]
    keys: tuple[str, ...]
    estimated_bytes: float
    maxmemory_bytes: int
    why: str


@dataclass(frozen=True)
class CacheDesign:
    """Everything the Redis target emits, as data."""

    model: str
    namespace: str
    keys: tuple[KeySpec, ...]
    reads: tuple[ReadPath, ...]
    writes: tuple[WritePath, ...]
    stores: tuple[WritePath, ...]  # per record entity: how one record is stored with all its keys
    instances: tuple[Instance, ...]
    shared_policy: str
    shared_why: str
    total_bytes: float
    diagnostics: tuple[Diagnostic, ...]
    memory: RedisMemory  # the formulas and constants every key's memory was sized with (the plan's profile)

    def key(self, name: str) -> KeySpec:
        """The key family called `name`."""
        return next(k for k in self.keys if k.name == name)


def literal(name: str) -> str:
    """An attribute or entity name used literally in a key (escaped like values)."""
    return quote(name, safe=codec.KEY_SAFE)
