"""The requirements model: what an architect writes in YAML.

Every class forbids unknown keys so that a typo is an error rather than a silently ignored
setting. Field descriptions double as the JSON Schema that editors use for completion.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag

IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_ $-]*$"
# Name patterns below are checked by pydantic's Rust regex engine, where `$` matches only at the
# very end (Python's `re` would also accept a final newline: see checks.NAME).

# Upper bounds of counts, sizes and rates: far beyond any real system, and low enough that sizing
# arithmetic stays finite and no store's own limit is crossed by a number alone.
MAX_ROWS = 10**13  # records of one entity, or inserted per day
MAX_RATE = 10**9  # operations per second
MAX_COUNT = 10**9  # other counts: tenants, versions, an enum value's weight
MAX_BYTES = 2**31  # one value or record
MAX_ITEMS = 10**6  # items of one list, children of one parent on average
MAX_DAYS = 36_600  # retention and archiving: a century
MAX_TTL_SECONDS = 630_720_000  # 20 years, Cassandra's largest TTL
MAX_SECONDS = 10 * 366 * 86_400  # staleness: ten years
MAX_LATENCY_MS = 86_400_000  # a day
MAX_NUMBER = 1e38  # min and max: the range of decimal(38)


class Strict(BaseModel):
    """Base for every model class: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class TypeName(StrEnum):
    """The portable type system; each store maps it to its own types."""

    STRING = "string"
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    TIMESTAMPTZ = "timestamptz"
    UUID = "uuid"
    ENUM = "enum"
    JSON = "json"
    BINARY = "binary"
    LIST = "list"
    OBJECT = "object"
    GEO_POINT = "geo_point"
    SET = "set"


# A list keeps order and repeats; a set holds each item once, in no order. Both hold `items`.
COLLECTION_TYPES = frozenset({TypeName.LIST, TypeName.SET})
SCALAR_TYPES = frozenset(TypeName) - {TypeName.LIST, TypeName.SET, TypeName.OBJECT, TypeName.JSON, TypeName.GEO_POINT}
TEXTUAL_TYPES = frozenset({TypeName.STRING, TypeName.TEXT})
ORDERABLE_TYPES = frozenset(
    {
        TypeName.STRING,
        TypeName.INTEGER,
        TypeName.DECIMAL,
        TypeName.FLOAT,
        TypeName.DATE,
        TypeName.TIMESTAMP,
        TypeName.TIMESTAMPTZ,
        TypeName.UUID,
        TypeName.ENUM,
        TypeName.BOOLEAN,
    }
)


class Sensitivity(StrEnum):
    """PII class of an attribute; drives encryption, masking and audit later."""

    NONE = "none"
    CONTACT = "contact"
    IDENTIFIER = "identifier"
    FINANCIAL = "financial"
    HEALTH = "health"
    SECRET = "secret"


class ObjectStorage(StrEnum):
    """How a nested object or list is laid out in a relational store."""

    AUTO = "auto"
    COLUMNS = "columns"
    JSON = "json"
    CHILD_TABLE = "child_table"


class Attribute(Strict):
    """One attribute of an entity (or a field of a nested object, or a list's item)."""

    type: TypeName = Field(description="Portable type.")
    description: str | None = None
    max_length: Annotated[int, Field(gt=0, le=65535)] | None = Field(
        default=None, description="For string: the maximum number of characters."
    )
    bits: Literal[16, 32, 64] = Field(default=32, description="For integer: storage size.")
    precision: Annotated[int, Field(gt=0, le=38)] | None = Field(default=None, description="For decimal.")
    scale: Annotated[int, Field(ge=0, le=38)] | None = Field(default=None, description="For decimal.")
    values: list[str] | None = Field(default=None, description="For enum: the allowed values.")
    weights: list[Annotated[float, Field(ge=0, le=MAX_COUNT)]] | None = Field(
        default=None, description="For enum: relative frequency of each value (seeding, selectivity)."
    )
    items: Attribute | None = Field(default=None, description="For list and set: the item type.")
    fields: dict[str, Attribute] | None = Field(
        default=None,
        description="For object: its fields. For json: the sub-fields filters name by `path` (declared with their "
        "type; the document may hold others).",
    )
    storage: ObjectStorage = Field(
        default=ObjectStorage.AUTO,
        description="For list/object in relational stores: columns, json or child_table.",
    )
    nullable: bool = False
    default: Any = Field(default=None, description="Default value (a literal, or 'now' for timestamps).")
    unique: bool = False
    min: Annotated[float, Field(ge=-MAX_NUMBER, le=MAX_NUMBER)] | None = Field(
        default=None, description="Inclusive lower bound (numbers)."
    )
    max: Annotated[float, Field(ge=-MAX_NUMBER, le=MAX_NUMBER)] | None = Field(
        default=None, description="Inclusive upper bound (numbers)."
    )
    pattern: str | None = Field(default=None, description="Regular expression a string must match.")
    pii: Sensitivity = Sensitivity.NONE
    distinct: Annotated[int, Field(gt=0, le=MAX_ROWS)] | None = Field(
        default=None, description="Expected number of distinct values (selectivity, seeding)."
    )
    hot_share: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None,
        description="Skew: the share of the rows holding the most frequent value (a hot key), when it is "
        "more than distinct alone implies (partition sizes, shard keys, hot keys).",
    )
    avg_length: Annotated[int, Field(gt=0, le=MAX_BYTES)] | None = Field(
        default=None, description="Average size in characters/bytes for text, json and binary (sizing)."
    )
    max_items: Annotated[int, Field(gt=0, le=MAX_ITEMS)] | None = Field(
        default=None, description="For list and set: the most items one record may hold."
    )
    avg_items: Annotated[float, Field(gt=0, le=MAX_ITEMS)] | None = Field(
        default=None, description="For list and set: average items."
    )
    renamed_from: str | None = Field(
        default=None,
        description="The attribute's name in the previous version of the model: a migration renames it.",
    )
    derived: Derived | None = Field(
        default=None,
        description="Kept in step with a relationship's children (count, sum, max or min of them): the store "
        "updates it on every write of a child; no write pattern sets it.",
    )


class DerivedFunction(StrEnum):
    COUNT = "count"
    SUM = "sum"
    MAX = "max"
    MIN = "min"


class Derived(Strict):
    """An attribute kept equal to an aggregate of the children of one of the entity's relationships."""

    function: DerivedFunction
    relationship: str = Field(description="A one_to_many or one_to_one relationship whose `from` is this entity.")
    attribute: str | None = Field(
        default=None, description="The children's attribute aggregated; none for count (it counts children)."
    )


class KeyKind(StrEnum):
    SURROGATE = "surrogate"
    NATURAL = "natural"
    NONE = "none"  # an append-only history with no unique key (docs/model.md: what that costs)


class Key(Strict):
    """The primary key: a generated surrogate, natural attributes the entity already has, or none."""

    attributes: list[str] = Field(
        default_factory=list,
        description="The key's attributes (at least one); none with kind: none (an append-only history: no "
        "primary key, rows are never updated or deleted one by one).",
    )
    kind: KeyKind = KeyKind.SURROGATE


class CompareOp(StrEnum):
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    NE = "ne"


class Check(Strict):
    """A rule between two attributes of one record, e.g. ends_at > starts_at."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    left: str
    op: CompareOp
    right: str


class Cap(Strict):
    """Only the newest records are kept: a capped log, a recent-events list (docs/model.md#cap)."""

    max_records: Annotated[int, Field(gt=0, le=MAX_ROWS)] = Field(
        description="The most records kept: inserting one more removes the oldest."
    )
    max_bytes: Annotated[int, Field(gt=0, le=MAX_ROWS)] | None = Field(
        default=None,
        description="The most bytes kept (a MongoDB capped collection's size); default: max_records times the "
        "estimated record size, with headroom.",
    )
    order: str | None = Field(
        default=None,
        description="The attribute that says which records are newest (default: growth.time_attribute).",
    )


class Growth(Strict):
    """Volume over time."""

    initial_rows: Annotated[int, Field(ge=0, le=MAX_ROWS)] = 0
    rows_per_day: Annotated[float, Field(ge=0, le=MAX_ROWS)] = 0
    monthly_growth_rate: Annotated[float, Field(ge=0, le=10)] = Field(
        default=0, description="Compound growth of the daily insert rate per month (0.05 = 5%)."
    )
    retention_days: Annotated[int, Field(gt=0, le=MAX_DAYS)] | None = Field(
        default=None, description="Rows older than this are deleted (None keeps them)."
    )
    archive_after_days: Annotated[int, Field(gt=0, le=MAX_DAYS)] | None = Field(
        default=None, description="Rows older than this move to cold storage."
    )
    ttl_seconds: Annotated[int, Field(gt=0, le=MAX_TTL_SECONDS)] | None = Field(
        default=None, description="Ephemeral data expires this long after its last write."
    )
    must_keep: bool = Field(default=False, description="Legal or business hold: never expire rows.")
    time_attribute: str | None = Field(
        default=None, description="The attribute that ages a row (retention, archiving, partitioning)."
    )
    cap: Cap | None = Field(
        default=None,
        description="Keep only the newest max_records records, by `order` (else time_attribute): each store "
        "caps or trims, or warns.",
    )


class SchemaVariability(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Family(StrEnum):
    """Store families polyplan plans for."""

    RELATIONAL = "relational"
    DOCUMENT = "document"
    CACHE = "cache"
    SEARCH = "search"
    WIDE_COLUMN = "wide_column"


class Placement(Strict):
    """An explicit assignment that overrides scoring (the score is still shown)."""

    family: Family


DURATION_PATTERN = r"^[1-9][0-9]{0,6}(s|m|h|d)$"


class Recovery(Strict):
    """Recovery objectives: how much recent data a restore may lose, and how long it may take."""

    rpo: str = Field(
        pattern=DURATION_PATTERN,
        description="Recovery point objective: the most recent writes a restore may lose, e.g. 15m (s, m, h, d).",
    )
    rto: str = Field(
        pattern=DURATION_PATTERN, description="Recovery time objective: how long a restore may take, e.g. 1h."
    )
    retention_days: Annotated[int, Field(gt=0, le=MAX_DAYS)] = Field(
        default=7, description="How long backups are kept: the point-in-time window."
    )


class Erasure(StrEnum):
    """What erasing a data subject does to a row of an entity that holds the subject's data."""

    DELETE = "delete"
    ANONYMIZE = "anonymize"


class Entity(Strict):
    """A thing the application stores."""

    description: str | None = None
    key: Key | None = Field(default=None, description="Defaults to a surrogate 'id' of type uuid.")
    attributes: dict[str, Attribute] = Field(min_length=1)
    unique: list[list[str]] = Field(default_factory=list, description="Composite unique rules.")
    checks: list[Check] = Field(default_factory=list)
    growth: Growth = Field(default_factory=Growth)
    schema_variability: SchemaVariability = SchemaVariability.LOW
    placement: Placement | None = None
    avg_record_bytes: Annotated[int, Field(gt=0, le=MAX_BYTES)] | None = Field(
        default=None, description="Override of the estimated record size."
    )
    renamed_from: str | None = Field(
        default=None, description="The entity's name in the previous version of the model: a migration renames it."
    )
    recovery: Recovery | None = Field(
        default=None, description="This entity's recovery objectives (overrides the model's `recovery`)."
    )
    loss_tolerable: bool = Field(
        default=False,
        description="The data may be lost in a crash (a cache-like or telemetry entity): stores may skip "
        "durability for speed (PostgreSQL UNLOGGED, Cassandra writes at ONE, Redis without persistence).",
    )
    erasure: Erasure | None = Field(
        default=None,
        description="Erasing a data subject deletes this entity's rows of the subject, or keeps them with their "
        "PII overwritten (anonymize); unset, the relationships and growth.must_keep decide.",
    )


class RelationshipKind(StrEnum):
    ONE_TO_ONE = "one_to_one"
    ONE_TO_MANY = "one_to_many"
    MANY_TO_MANY = "many_to_many"


class OnDelete(StrEnum):
    CASCADE = "cascade"
    RESTRICT = "restrict"
    SET_NULL = "set_null"
    NO_ACTION = "no_action"


class Relationship(Strict):
    """A link between two entities. For one_to_*, `to` holds the reference to `from`."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: RelationshipKind
    from_: str = Field(alias="from", description="The parent (one) side.")
    to: str = Field(description="The child (many) side; it carries the foreign key.")
    required: bool = Field(default=True, description="The child must have a parent.")
    owned: bool = Field(default=False, description="The child lives and dies with its parent.")
    on_delete: OnDelete | None = Field(default=None, description="Defaults: cascade if owned, else restrict.")
    enforced: bool = Field(
        default=True,
        description="A relational store checks the reference with a FOREIGN KEY. false: the application "
        "guarantees it, as an append-only log written thousands of times a second often does (no check "
        "and no lock of the parent row on each child write; an orphan is possible). Only on one_to_one "
        "and one_to_many, with on_delete restrict or no_action and not owned.",
    )
    foreign_key: str | Annotated[list[str], Field(min_length=1)] | None = Field(
        default=None,
        description="Name of the reference attribute on `to`; for a parent with a composite key, a list of the "
        "child's attributes, one per parent key attribute in key order.",
    )
    attributes: dict[str, Attribute] = Field(
        default_factory=dict, description="Attributes of a many_to_many link itself."
    )
    max_children: Annotated[int, Field(gt=0, le=MAX_ROWS)] | None = Field(
        default=None, description="Upper bound of children per parent (embedding decisions)."
    )
    avg_children: Annotated[float, Field(gt=0, le=MAX_ITEMS)] | None = None
    hot_share: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None,
        description="Skew: the share of all children that the busiest parent holds (partition sizes, shard "
        "keys, hot keys). Without it or max_children, a child set kept for ever has no stated bound.",
    )

    @property
    def effective_on_delete(self) -> OnDelete:
        """The declared policy, or the one implied by ownership."""
        if self.on_delete is not None:
            return self.on_delete
        return OnDelete.CASCADE if self.owned else OnDelete.RESTRICT


class FilterOp(StrEnum):
    EQ = "eq"
    IN = "in"
    RANGE = "range"
    PREFIX = "prefix"
    FULLTEXT = "fulltext"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    NEAR = "near"
    WITHIN = "within"
    CONTAINS = "contains"


class Filter(Strict):
    """One predicate of an access pattern. With `value`, the predicate is a constant."""

    attribute: str = Field(
        description="An attribute of the entity, or a path through to-one relationships to an attribute of the "
        "entity reached (`item.end_date`, `item.seller.region_id`)."
    )
    op: FilterOp = FilterOp.EQ
    value: Any = Field(default=None, description="A constant (status = 'open'): enables partial indexes.")
    path: Annotated[list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]], Field(min_length=1)] | None = (
        Field(
            default=None,
            description="For a json attribute: the declared sub-field filtered, as keys from the document's root "
            "([device, model] is payload.device.model); the op applies to that sub-field's declared type.",
        )
    )


class Direction(StrEnum):
    ASC = "asc"
    DESC = "desc"


class Sort(Strict):
    attribute: str = Field(
        description="An attribute of the entity, or a path through to-one relationships (`item.end_date`)."
    )
    direction: Direction = Direction.ASC


class Load(Strict):
    """A bounded, ordered load of a pattern's children: `{entity: Comment, sort: [...], limit: 10}`."""

    entity: str = Field(description="The child entity, related by a one-to-many relationship from the pattern's.")
    sort: list[Sort] = Field(default_factory=list, description="The children's order: attributes of the child.")
    limit: Annotated[int, Field(ge=1, le=MAX_ITEMS)] | None = Field(
        default=None, description="The most children loaded per parent row, first in `sort` order."
    )


# A loads item is a bare entity name (every related record) or a Load mapping; the tag picks the
# branch, so a bad mapping reports its own field, not also "expected a string" (the loader drops
# the tag from the error path).
LoadItem = Annotated[
    Annotated[str, Tag("tag-name")] | Annotated[Load, Tag("tag-load")],
    Discriminator(lambda value: "tag-name" if isinstance(value, str) else "tag-load"),
]


class Consistency(StrEnum):
    STRONG = "strong"
    READ_YOUR_WRITES = "read_your_writes"
    EVENTUAL = "eventual"


class AggregateFunction(StrEnum):
    COUNT = "count"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    COUNT_DISTINCT = "count_distinct"


class Aggregate(Strict):
    """What a read computes over the rows its filters select, per group of `group_by` values."""

    function: AggregateFunction
    attribute: str | None = Field(
        default=None, description="The attribute aggregated; required except for count (which counts rows)."
    )
    group_by: list[str] = Field(default_factory=list, description="One result per distinct value of these; empty: one.")


class AccessPattern(Strict):
    """A read the application performs."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    entity: str
    description: str | None = None
    filters: list[Filter] = Field(default_factory=list)
    sort: list[Sort] = Field(default_factory=list)
    limit: Annotated[int, Field(gt=0, le=MAX_ITEMS)] | None = None
    reads: list[str] = Field(
        default_factory=list,
        description="Attributes read; empty means all. A path through to-one relationships (`item.title`) reads "
        "a related field: joined at read time or copied into this entity, whichever costs less.",
    )
    loads: list[LoadItem] = Field(
        default_factory=list,
        description="Related entities loaded together: a name loads every related record; a mapping with sort and "
        "limit loads a parent's first children in that order (the latest 10 comments).",
    )
    rate: Annotated[float, Field(ge=0, le=MAX_RATE)] = Field(default=1, description="Peak executions per second.")
    latency_ms: Annotated[float, Field(gt=0, le=MAX_LATENCY_MS)] = Field(default=100, description="p99 latency target.")
    consistency: Consistency = Consistency.STRONG
    staleness_seconds: Annotated[float, Field(ge=0, le=MAX_SECONDS)] = Field(
        default=0, description="How old an answer may be."
    )
    aggregate: Aggregate | None = Field(
        default=None,
        description="Return an aggregate (count, sum, avg, min, max, count_distinct) of the selected rows, per "
        "group_by values, instead of the rows.",
    )
    facets: list[str] = Field(
        default_factory=list,
        description="Attributes counted per value beside the rows (search terms aggregations; GROUP BY counts "
        "in a relational store): the buckets a faceted search shows.",
    )
    facet_size: Annotated[int, Field(gt=0, le=10_000)] = Field(
        default=10, description="The most frequent values returned per facet."
    )
    scan: bool = Field(
        default=False,
        description="The read may visit every partition (an export, a rare admin listing): a store that would "
        "have to scatter it over every bucket does so with a warning (PP473) instead of refusing it (PP406).",
    )

    @property
    def loaded(self) -> list[str]:
        """The entities `loads` names, in order (a bounded load by its entity)."""
        return [item if isinstance(item, str) else item.entity for item in self.loads]


class WriteKind(StrEnum):
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    UPSERT = "upsert"
    INCREMENT = "increment"


class Lock(StrEnum):
    """How an update holds the rows it writes before it writes them."""

    FOR_UPDATE = "for_update"


class WritePattern(Strict):
    """A write the application performs."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    entity: str
    kind: WriteKind = WriteKind.INSERT
    rate: Annotated[float, Field(ge=0, le=MAX_RATE)] = Field(default=1, description="Peak executions per second.")
    attributes: list[str] = Field(
        default_factory=list, description="Attributes written by an update; for an increment, the counters added to."
    )
    step: Annotated[float, Field(ge=-MAX_NUMBER, le=MAX_NUMBER)] | None = Field(
        default=None,
        description="For increment: the amount added each time (default 1; negative decrements). "
        "Every store adds it atomically, never by read-modify-write.",
    )
    where: list[Filter] = Field(
        default_factory=list,
        description="For update and delete: the rows written, in the filter language of access patterns "
        "(status = 'expired', created_at lt :t, a key prefix); empty writes one record by its key.",
    )
    lock: Lock | None = Field(
        default=None,
        description="For update: for_update reads and locks the rows first (SELECT ... FOR UPDATE) in the "
        "writing transaction, so no concurrent writer changes them in between.",
    )


class Transaction(Strict):
    """Writes to several entities that must commit atomically."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    entities: list[str] = Field(min_length=2)
    rate: Annotated[float, Field(ge=0, le=MAX_RATE)] = 1


class Isolation(StrEnum):
    NONE = "none"
    ROW = "row"
    SCHEMA = "schema"
    DATABASE = "database"


class Tenancy(Strict):
    """Multi-tenancy needs (acted on by the security planner)."""

    isolation: Isolation = Isolation.NONE
    tenant_key: str | None = Field(default=None, description="Attribute carrying the tenant id.")
    entities: list[str] = Field(default_factory=list, description="Tenant-scoped entities; empty = all.")
    tenants: Annotated[int, Field(gt=0, le=MAX_COUNT)] | None = None


class Grant(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Role(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    grants: dict[str, list[Grant]] = Field(default_factory=dict, description="Entity name → grants; '*' = all.")


class Security(Strict):
    roles: list[Role] = Field(default_factory=list)
    encrypt_pii: bool = False
    audit: list[str] = Field(default_factory=list, description="Entities whose changes are audited.")
    data_subject: str | None = Field(
        default=None,
        description="The entity whose records are people with a right to erasure (e.g. Customer): "
        "polyplan generates the procedure that erases one of them across every store.",
    )


class Engines(Strict):
    """Which engine the organisation runs for each family; null means it runs none."""

    relational: Literal["postgresql", "mysql", "sqlite"] | None = "postgresql"
    document: Literal["mongodb"] | None = "mongodb"
    cache: Literal["redis"] | None = "redis"
    search: Literal["elasticsearch", "opensearch"] | None = "elasticsearch"
    wide_column: Literal["cassandra"] | None = "cassandra"

    def engine_for(self, family: Family) -> str | None:
        """The engine run for a family, or None."""
        value: str | None = getattr(self, family.value)
        return value


class Options(Strict):
    horizon_years: Annotated[float, Field(gt=0, le=20)] = Field(default=3, description="Capacity-planning horizon.")
    fulltext_fallback: Literal["relational", "none"] = Field(
        default="none",
        description="With 'relational', full-text at scale may stay in the relational store.",
    )
    suppress: list[str] = Field(default_factory=list, description="Diagnostic codes to silence, e.g. PP401.")
    postgis: bool = Field(
        default=True,
        description="Whether the PostgreSQL server has the PostGIS extension: geo points get a geography column "
        "with a GiST index; false keeps them as lat/lon columns with a B-tree prefilter (PP422).",
    )
    relational_dialects: list[Literal["postgresql", "mysql", "sqlite"]] | None = Field(
        default=None,
        min_length=1,
        description="SQL dialects to emit schemas, queries and tests for. Default: the engine in "
        "engines.relational plus sqlite (tests that need no server).",
    )


class Dropped(Strict):
    """What this version removes on purpose from the previous one (a migration drops it)."""

    entities: list[str] = Field(default_factory=list, description="Entities of the previous version removed.")
    attributes: list[str] = Field(
        default_factory=list, description="Attributes of the previous version removed, as Entity.attribute."
    )


class RequirementsModel(Strict):
    """The root of a polyplan requirements model."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: Annotated[int, Field(ge=1, le=MAX_COUNT)] = 1
    description: str | None = None
    engines: Engines = Field(default_factory=Engines)
    options: Options = Field(default_factory=Options)
    entities: dict[str, Entity] = Field(min_length=1)
    relationships: list[Relationship] = Field(default_factory=list)
    access_patterns: list[AccessPattern] = Field(default_factory=list)
    write_patterns: list[WritePattern] = Field(default_factory=list)
    transactions: list[Transaction] = Field(default_factory=list)
    tenancy: Tenancy = Field(default_factory=Tenancy)
    security: Security = Field(default_factory=Security)
    recovery: Recovery | None = Field(
        default=None, description="Recovery objectives of the whole model: backups, their schedule and the restore."
    )
    dropped: Dropped = Field(
        default_factory=Dropped, description="Entities and attributes of the previous version removed on purpose."
    )

    # Memo of facts derived from this (immutable) model; see polyplan.model.derived.
    _derived: dict[Any, Any] = PrivateAttr(default_factory=dict)
    # Attributes the planner added as copies of related fields, (entity, attribute) → the path
    # they copy (plan/related_reads.py); empty in a model as written.
    _copies: dict[Any, Any] = PrivateAttr(default_factory=dict)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the requirements model (for editor completion)."""
    schema = RequirementsModel.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "polyplan requirements model"
    return schema
