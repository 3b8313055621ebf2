"""An entity's access and growth profile: the numbers scoring works from.

Derived once from the model so scoring, planning and capacity reports agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyplan.analyse.sizing import SECONDS_PER_DAY, live_rows, record_bytes
from polyplan.model.derived import all_attributes, key_of, patterns_of, relationships_of, transactions_of, writes_of
from polyplan.model.schema import (
    AccessPattern,
    Consistency,
    FilterOp,
    RelationshipKind,
    RequirementsModel,
    WriteKind,
)

# When no write pattern is declared, inserts are inferred from growth; peak traffic is assumed
# to be this many times the daily average (a common planning rule for diurnal load).
PEAK_TO_AVERAGE = 5.0


@dataclass(frozen=True)
class PatternShape:
    """The predicate shapes of one access pattern, as scoring sees them."""

    name: str
    rate: float
    shapes: frozenset[str]  # eq, in, range, prefix, fulltext, sort, loads, scan
    key_lookup: bool  # equality on the key or a unique attribute, nothing else
    latency_ms: float
    consistency: Consistency
    staleness_seconds: float


@dataclass(frozen=True)
class EntityProfile:
    """Everything scoring needs to know about one entity."""

    name: str
    read_rate: float
    write_rate: float
    insert_rate: float
    update_rate: float
    patterns: tuple[PatternShape, ...]
    rows_now: int
    rows_at_horizon: float
    record_bytes: float
    bytes_at_horizon: float
    strongest_consistency: Consistency
    transactions: tuple[str, ...]
    schema_variability: str
    ttl_seconds: int | None
    must_keep: bool
    append_only: bool
    integrity_links: int  # required relationships whose integrity a store must enforce
    owned_by: str | None  # parent entity when this entity is an owned part
    cap_records: int | None = None  # growth.cap.max_records: only the newest are kept
    loss_tolerable: bool = False  # a crash may lose the data

    @property
    def ephemeral(self) -> bool:
        return self.ttl_seconds is not None

    @property
    def transient(self) -> bool:
        """Bounded and disposable (capped and loss-tolerable): memory holds it as well as a TTL would."""
        return self.cap_records is not None and self.loss_tolerable

    @property
    def fulltext_rate(self) -> float:
        return sum(p.rate for p in self.patterns if "fulltext" in p.shapes)

    @property
    def tightest_latency_ms(self) -> float | None:
        return min((p.latency_ms for p in self.patterns), default=None)


def unique_sets(model: RequirementsModel, entity_name: str) -> list[frozenset[str]]:
    """Attribute sets that identify at most one record: the key, unique attributes, unique groups."""
    entity = model.entities[entity_name]
    attributes = all_attributes(model, entity_name)
    key = frozenset(key_of(entity).attributes)
    sets = [key] if key else []  # a keyless history (kind: none) has no identifying set
    sets += [frozenset([name]) for name, attribute in attributes.items() if attribute.unique]
    sets += [frozenset(group) for group in entity.unique]
    return sets


def pattern_shape(model: RequirementsModel, pattern: AccessPattern) -> PatternShape:
    """Classify an access pattern's predicates."""
    shapes = {flt.op.value for flt in pattern.filters}
    if pattern.sort:
        shapes.add("sort")
    if pattern.loads:
        shapes.add("loads")
    if not pattern.filters:
        shapes.add("scan")
    eq_attributes = frozenset(f.attribute for f in pattern.filters if f.op is FilterOp.EQ and f.value is None)
    only_eq = all(f.op is FilterOp.EQ and f.value is None for f in pattern.filters) and pattern.filters
    key_lookup = (
        bool(only_eq)
        and not pattern.sort
        and any(unique == eq_attributes for unique in unique_sets(model, pattern.entity))
    )
    return PatternShape(
        name=pattern.name,
        rate=pattern.rate,
        shapes=frozenset(shapes),
        key_lookup=key_lookup,
        latency_ms=pattern.latency_ms,
        consistency=pattern.consistency,
        staleness_seconds=pattern.staleness_seconds,
    )


_CONSISTENCY_ORDER = [Consistency.EVENTUAL, Consistency.READ_YOUR_WRITES, Consistency.STRONG]


def profile_entity(model: RequirementsModel, name: str) -> EntityProfile:
    """Derive the profile of entity `name`."""
    entity = model.entities[name]
    growth = entity.growth
    patterns = tuple(pattern_shape(model, p) for p in patterns_of(model, name))
    writes = writes_of(model, name)
    inferred_inserts = PEAK_TO_AVERAGE * growth.rows_per_day / SECONDS_PER_DAY
    insert_rate = sum(w.rate for w in writes if w.kind in (WriteKind.INSERT, WriteKind.UPSERT)) or inferred_inserts
    update_rate = sum(w.rate for w in writes if w.kind in (WriteKind.UPDATE, WriteKind.UPSERT))
    delete_rate = sum(w.rate for w in writes if w.kind is WriteKind.DELETE)
    horizon_days = model.options.horizon_years * 365.0
    rows = live_rows(growth, horizon_days)
    size = float(entity.avg_record_bytes or record_bytes(all_attributes(model, name)))
    consistency = max((p.consistency for p in patterns), key=_CONSISTENCY_ORDER.index, default=Consistency.EVENTUAL)
    involved = relationships_of(model, name)
    integrity = sum(1 for r in involved if r.from_ != r.to and (r.required or r.kind is RelationshipKind.MANY_TO_MANY))
    owner = next((r.from_ for r in involved if r.to == name and r.owned), None)
    return EntityProfile(
        name=name,
        read_rate=sum(p.rate for p in patterns),
        write_rate=insert_rate + update_rate + delete_rate,
        insert_rate=insert_rate,
        update_rate=update_rate,
        patterns=patterns,
        rows_now=growth.initial_rows,
        rows_at_horizon=rows,
        record_bytes=size,
        bytes_at_horizon=rows * size,
        strongest_consistency=consistency,
        transactions=tuple(transactions_of(model, name)),
        schema_variability=entity.schema_variability.value,
        ttl_seconds=growth.ttl_seconds,
        must_keep=growth.must_keep,
        append_only=update_rate == 0 and delete_rate == 0 and growth.time_attribute is not None,
        integrity_links=integrity,
        owned_by=owner,
        cap_records=growth.cap.max_records if growth.cap is not None else None,
        loss_tolerable=entity.loss_tolerable,
    )
