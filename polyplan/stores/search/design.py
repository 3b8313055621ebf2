"""Plan → search index designs (pure: no I/O, no text), for the engine the model runs.

One index per search projection. The numbers come from the entity's profile: shard count from
the projected size, refresh interval from the tightest staleness the served patterns accept,
rollover and deletion from growth and retention. Search is never a system of record: documents
arrive through the transactional outbox of the entity's store (see `sync`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.bounded_loads import bounded_loads
from polyplan.model.derived import all_attributes, key_of, pattern_positions, patterns_of, snake, writes_of
from polyplan.model.schema import Consistency, Family, FilterOp, RequirementsModel, WriteKind
from polyplan.plan.ir import EntityPlan, Plan, Projection
from polyplan.stores.search.engines import SearchEngine, engine_named
from polyplan.stores.search.mapping import FieldUse, analysis_settings, field_mapping
from polyplan.stores.search.queries import SearchQuery, build_query
from polyplan.stores.search.sizing import index_size

# Default language of analysed text: the model has no language setting yet (docs/elasticsearch.md).
DEFAULT_LANGUAGE = "english"
GB = 1024**3
# Elastic's sizing guidance: shards of 10–50 GB. Rollover and shard count keep primaries under 50 GB.
MAX_SHARD_BYTES = 50 * GB
MAX_SHARDS = 1024  # Elasticsearch's (and OpenSearch's) own limit on number_of_shards
MAX_ROLLOVER_DAYS = 30
MAX_REFRESH_SECONDS = 60
REPLICAS = 1  # production default; a single development node runs with 0 (setup.py --replicas 0)
# The document field holding the instant its record expires in a system of record that expires
# records by itself (a Redis key TTL, a Cassandra table TTL): set by the relay, filtered on by every
# query, and what the purge deletes by.
EXPIRES_AT = "expires_at"
EXPIRES_AT_MAPPING: dict[str, Any] = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}


@dataclass(frozen=True)
class Lifecycle:
    """The lifecycle of one index: rollover and deletion (an ILM or ISM policy, by engine)."""

    name: str
    rollover: bool
    max_primary_shard_size: str | None
    max_age_days: int | None
    delete_after: str | None  # age after rollover at which an index is deleted, e.g. "90d"
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SyncEvent:
    """A write in the system of record that emits an outbox event for this index."""

    name: str
    kind: str  # insert, update, upsert, delete
    action: str  # index (full document) or delete


@dataclass(frozen=True)
class SearchIndex:
    """Everything needed to render one index: template, policy, queries and sync contract."""

    entity: str
    alias: str  # the write alias applications read and write through
    first_index: str
    template_name: str
    sor_family: Family
    sor_engine: str
    projection: Projection | None  # None when the index itself holds the records (ephemeral data)
    patterns: tuple[str, ...]
    language: str
    fields: dict[str, dict[str, Any]]  # attribute → mapping
    doc_id: tuple[str, ...]  # key attributes, joined with "|" when composite
    shards: int
    replicas: int
    refresh_seconds: int
    min_staleness_seconds: float
    doc_bytes: float
    projected_docs: float
    projected_bytes: float
    lifecycle: Lifecycle
    queries: tuple[SearchQuery, ...]
    events: tuple[SyncEvent, ...]
    reasons: tuple[str, ...]
    engine: SearchEngine
    # Seconds a record lives after its last write when the system of record expires it by itself
    # (no event is written then): each document carries `expiry_field` = write time + this.
    expiry_seconds: int | None = None
    expiry_field: str | None = None

    @property
    def properties(self) -> dict[str, dict[str, Any]]:
        """The mapping's properties: each attribute's, and the expiry instant's when records expire."""
        if self.expiry_field is None:
            return self.fields
        return {**self.fields, self.expiry_field: EXPIRES_AT_MAPPING}

    @property
    def system_of_record(self) -> str:
        """Where the records live: a projection's source (`family/engine`), else this engine."""
        return f"{self.sor_family.value}/{self.sor_engine}" if self.projection else self.engine.name

    @property
    def index_patterns(self) -> list[str]:
        """The names the template applies to: the alias's rolled-over indexes."""
        return [f"{self.alias}-*"]

    @property
    def settings(self) -> dict[str, Any]:
        """The index settings of the template (the lifecycle part is the engine's)."""
        index: dict[str, Any] = {
            "number_of_replicas": self.replicas,
            "number_of_shards": self.shards,
            "refresh_interval": f"{self.refresh_seconds}s",
            **self.engine.lifecycle_settings(self),
        }
        return {"index": index, **analysis_settings([self.language])}


@dataclass(frozen=True)
class SearchDesign:
    """All indexes of a plan, and what had to be reported."""

    model: str
    indexes: tuple[SearchIndex, ...]
    engine: SearchEngine
    diagnostics: tuple[Diagnostic, ...] = field(default=())


def refresh_seconds(staleness: float) -> int:
    """Refresh interval for a staleness budget: half of it (the outbox relay gets the other half).

    Clamped to 1 s (Elasticsearch's default and a sensible floor) … 60 s (beyond which indexing
    gains little).
    """
    return max(1, min(MAX_REFRESH_SECONDS, math.floor(staleness / 2)))


def shard_count(bytes_per_index: float) -> int:
    """Primary shards so that none exceeds 50 GB."""
    return max(1, min(MAX_SHARDS, math.ceil(bytes_per_index / MAX_SHARD_BYTES)))


def daily_rows_at_horizon(rows_per_day: float, monthly_growth_rate: float, horizon_years: float) -> float:
    """The daily insert rate at the end of the planning horizon (growth compounds monthly)."""
    months = horizon_years * 12.0
    return float(rows_per_day * (1.0 + monthly_growth_rate) ** months)


def _age(seconds: int) -> str:
    """A lifecycle age (ILM and ISM read the same units) in the largest unit that divides it exactly."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def self_expiry(plan: Plan, entity: EntityPlan) -> int | None:
    """Seconds after its last write at which the entity's system of record drops a record by itself,
    writing no event: a Redis record's key TTL (every write re-sets it), a Cassandra table's default
    TTL (counted from the write of each cell). None for a store whose retention is a job of its own
    (a relational purge, a MongoDB TTL index on the time attribute) or that keeps its records."""
    growth = plan.model.entities[entity.name].growth
    if growth.must_keep:
        return None
    if entity.family is Family.CACHE:
        return growth.ttl_seconds or None
    if entity.family is Family.WIDE_COLUMN:
        from polyplan.stores.wide_column.design import table_ttl

        return table_ttl(growth) or None
    return None


def expiry_field_name(attributes: dict[str, Any]) -> str:
    """`expires_at`, or `pp_expires_at` when the entity has an attribute of that name."""
    return EXPIRES_AT if EXPIRES_AT not in attributes else f"pp_{EXPIRES_AT}"


def _uses(model: RequirementsModel, patterns: list[str]) -> dict[str, FieldUse]:
    uses: dict[str, FieldUse] = {}
    positions = pattern_positions(model)
    for name in sorted({n for n in patterns if n in positions}, key=positions.__getitem__):
        pattern = model.access_patterns[positions[name]]
        for flt in pattern.filters:
            old = uses.get(flt.attribute, FieldUse())
            if flt.op is FilterOp.FULLTEXT:
                uses[flt.attribute] = FieldUse(True, old.exact, old.facet)
            elif flt.op in (FilterOp.EQ, FilterOp.IN, FilterOp.PREFIX):
                uses[flt.attribute] = FieldUse(old.fulltext, True, old.facet)
        for sort in pattern.sort:
            old = uses.get(sort.attribute, FieldUse())
            uses[sort.attribute] = FieldUse(old.fulltext, True, old.facet)
        for facet in pattern.facets:
            old = uses.get(facet, FieldUse())
            uses[facet] = FieldUse(old.fulltext, old.exact, True)
    return uses


def _lifecycle(
    plan: Plan, entity: EntityPlan, alias: str, doc_bytes: float, engine: SearchEngine, notes: list[Diagnostic]
) -> tuple[Lifecycle, int]:
    """The lifecycle policy and the primary shard count of each backing index."""
    model = plan.model
    growth = model.entities[entity.name].growth
    profile = entity.profile
    path = f"entities.{entity.name}"
    deletes = any(w.kind is WriteKind.DELETE for w in writes_of(model, entity.name))
    expiry = (
        None if growth.must_keep else (growth.retention_days * 86400 if growth.retention_days else growth.ttl_seconds)
    )
    policy = f"{alias}-lifecycle"
    if profile.append_only and not deletes and growth.rows_per_day > 0:
        daily = daily_rows_at_horizon(growth.rows_per_day, growth.monthly_growth_rate, model.options.horizon_years)
        daily_bytes = daily * doc_bytes
        shards = shard_count(daily_bytes)
        max_age = max(1, min(MAX_ROLLOVER_DAYS, math.floor(shards * MAX_SHARD_BYTES / daily_bytes)))
        reasons = [
            f"append-only ({growth.time_attribute} ages each document): roll over at 50gb per primary shard or "
            f"{max_age}d, whichever comes first ({daily:,.0f} documents/day at the horizon)"
        ]
        if expiry is not None:
            # An index is deleted `expiry` after it rolled over, so its oldest document lives up to
            # expiry + max_age: keep max_age a small fraction of the retention.
            max_age = max(1, min(max_age, expiry // 86400 // 4))
            reasons.append(f"delete each index {_age(expiry)} after rollover (retention)")
        return Lifecycle(policy, True, "50gb", max_age, _age(expiry) if expiry else None, tuple(reasons)), shards
    if profile.update_rate > 0 or deletes:
        why = (
            "updated in place: a single index behind the write alias (rollover would send updates of old "
            "documents to the new write index and duplicate them)"
        )
    else:
        why = "no growth.time_attribute ages the documents: a single index behind the write alias"
    reasons = [f"{why}; reindex behind the alias to resize"]
    if expiry is not None and self_expiry(plan, entity):
        # The store drops the record with no event: the index filters and purges by `expires_at`.
        reasons.append(
            f"retention {_age(expiry)}: {entity.engine} expires records without an event; queries skip and the "
            "relay purges documents past their expiry instant"
        )
    elif expiry is not None:
        notes.append(
            Diagnostic(
                "PP402",
                f"{entity.name}: {engine.lifecycle_feature} cannot expire documents of an index that is updated "
                f"in place; the retention of {_age(expiry)} is applied by deletes in the system of record, relayed by the outbox",
                path,
                Severity.WARNING,
            )
        )
        reasons.append(f"retention {_age(expiry)}: enforced by deletes relayed from the system of record")
    shards = shard_count(profile.rows_at_horizon * doc_bytes)
    return Lifecycle(policy, False, None, None, None, tuple(reasons)), shards


def design_index(
    plan: Plan, entity_name: str, projection: Projection | None, engine: SearchEngine
) -> tuple[SearchIndex, list[Diagnostic]]:
    """The `engine` index for one search projection of `entity_name` (or for its records, if `projection` is None)."""
    model = plan.model
    entity = plan.entities[entity_name]
    attributes = all_attributes(model, entity_name)
    notes: list[Diagnostic] = []
    path = f"entities.{entity_name}"
    alias = snake(entity_name)
    language = DEFAULT_LANGUAGE
    served = projection.patterns if projection else tuple(p.name for p in patterns_of(model, entity_name))
    uses = _uses(model, list(served))
    fields = {
        name: field_mapping(attribute, uses.get(name, FieldUse()), language, f"{path}.attributes.{name}", notes)
        for name, attribute in attributes.items()
    }
    projected_docs = entity.profile.rows_at_horizon
    key = tuple(key_of(model.entities[entity_name]).attributes)
    sized = index_size(fields, key, attributes, projected_docs, plan.sizing(engine.name))
    doc_bytes = sized.document_bytes or entity.profile.record_bytes
    lifecycle, shards = _lifecycle(plan, entity, alias, doc_bytes, engine, notes)
    positions = pattern_positions(model)
    patterns = [model.access_patterns[positions[name]] for name in sorted(set(served), key=positions.__getitem__)]
    staleness = min((p.staleness_seconds for p in patterns), default=0.0)
    refresh = refresh_seconds(staleness)
    # `patterns` is every served pattern in model order: the same walk as over all the model's
    # patterns skipping the others, without a scan of the model per index.
    for pattern in patterns:
        p_path = f"access_patterns.{positions[pattern.name]}"
        if pattern.staleness_seconds < refresh or pattern.consistency is not Consistency.EVENTUAL:
            notes.append(
                Diagnostic(
                    "PP405",
                    f"{pattern.name}: asks for {pattern.consistency.value} reads at most "
                    f"{pattern.staleness_seconds:g}s stale, but a search index lags its system of record (outbox "
                    f"relay plus a {refresh}s refresh); read the system of record where freshness matters",
                    p_path,
                    Severity.WARNING,
                )
            )
        bounded = {b.load.entity: b for b in bounded_loads(model) if b.pattern.name == pattern.name}
        for other in pattern.loaded:
            if other in bounded:
                notes.append(
                    Diagnostic(
                        "PP464",
                        f"{pattern.name}: a search document cannot keep {bounded[other].describe()}; each hit's "
                        f"{other} records are read by {bounded[other].name} from {other}'s own store, which applies "
                        "the sort and the limit",
                        f"{p_path}.loads",
                        Severity.WARNING,
                    )
                )
                continue
            notes.append(
                Diagnostic(
                    "PP402",
                    f"{pattern.name}: search documents do not embed {other}; load it from its own store by key",
                    f"{p_path}.loads",
                    Severity.WARNING,
                )
            )
    expiry = self_expiry(plan, entity) if projection is not None else None
    expiry_field = expiry_field_name(attributes) if expiry else None
    queries = tuple(build_query(alias, p, attributes, fields, engine, expiry_field) for p in patterns)
    writes = writes_of(model, entity_name)
    found = [SyncEvent(w.name, w.kind.value, "delete" if w.kind is WriteKind.DELETE else "index") for w in writes]
    growth = model.entities[entity_name].growth
    if not any(w.kind in (WriteKind.INSERT, WriteKind.UPSERT) for w in writes):
        found.insert(0, SyncEvent("insert (implied by growth)", "insert", "index"))
    if expiry:
        found.append(
            SyncEvent(
                f"expiry purge (TTL in the system of record: delete by query on {expiry_field})", "delete", "delete"
            )
        )
    elif not lifecycle.rollover and not growth.must_keep and (growth.retention_days or growth.ttl_seconds):
        found.append(SyncEvent("expiry purge (retention in the system of record)", "delete", "delete"))
    events = tuple(found)
    reasons = (
        f"{shards} primary shard(s): {projected_docs:,.0f} documents × {doc_bytes:,.0f} B "
        "(_source, inverted index and doc values: stores/search/sizing.py) at the horizon, at most 50 GB per shard",
        f"refresh every {refresh}s: half of the tightest staleness budget ({staleness:g}s) of the served patterns",
        f"text analysed as {language} (the model declares no language)",
        *lifecycle.reasons,
        *(
            [
                f"records expire {_age(expiry)} after their last write in {entity.engine} without an event: each "
                f"document carries `{expiry_field}` (the write time + {_age(expiry)}), every query filters "
                f"`{expiry_field} > now`, and the relay deletes expired documents by query"
            ]
            if expiry
            else []
        ),
    )
    return (
        SearchIndex(
            entity=entity_name,
            alias=alias,
            first_index=f"{alias}-000001",
            template_name=alias,
            sor_family=entity.family,
            sor_engine=entity.engine,
            projection=projection,
            patterns=served,
            language=language,
            fields=fields,
            doc_id=tuple(key_of(model.entities[entity_name]).attributes),
            shards=shards,
            replicas=REPLICAS,
            refresh_seconds=refresh,
            min_staleness_seconds=staleness,
            doc_bytes=doc_bytes,
            projected_docs=projected_docs,
            projected_bytes=sized.total_bytes,
            lifecycle=lifecycle,
            queries=queries,
            events=events,
            reasons=reasons,
            engine=engine,
            expiry_seconds=expiry,
            expiry_field=expiry_field,
        ),
        notes,
    )


def design_search(plan: Plan) -> SearchDesign:
    """Every search index the plan needs (one per search projection), for the model's search engine."""
    engine = engine_named(plan.model.engines.search)
    indexes: list[SearchIndex] = []
    notes: list[Diagnostic] = []
    for entity_name, projection in plan.projections_in(Family.SEARCH):
        index, found = design_index(plan, entity_name, projection, engine)
        indexes.append(index)
        notes.extend(found)
    for entity_name in plan.records_in(Family.SEARCH):
        # The planner only lets ephemeral data live in search alone; it has no copy elsewhere.
        index, found = design_index(plan, entity_name, None, engine)
        indexes.append(index)
        notes.extend(found)
        notes.append(
            Diagnostic(
                "PP402",
                f"{entity_name}: {engine.product} holds the only copy (no transactions, refresh-delayed reads); "
                "writes go straight to the write alias instead of through an outbox",
                f"entities.{entity_name}",
                Severity.WARNING,
            )
        )
    return SearchDesign(plan.model.name, tuple(indexes), engine, tuple(notes))
