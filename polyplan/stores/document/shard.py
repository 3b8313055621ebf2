"""Shard key choice: only when the projected size or write rate outgrows one replica set.

Candidates are the equality fields of the collection's access patterns (each pattern's whole
equality set, and each field alone). Each is judged on
- cardinality: distinct values at the horizon (enough to spread chunks over many shards);
- frequency: the share of documents holding the most common value (a hot value is a hot shard,
  and its documents form a chunk that cannot split when it outgrows the chunk size);
- monotonicity: a key that only grows (timestamps, ObjectIds) sends every insert to the last
  chunk; such a key is hashed;
- targeting: the share of reads that name the key by equality (the others are scatter-gather).
The best targeted, non-monotonic, high-cardinality candidate wins; `_id` is appended when its
most frequent value could outgrow a chunk. Without one, `{_id: "hashed"}` spreads writes evenly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from polyplan.analyse.skew import declared_attribute_share, declared_children_share
from polyplan.model.derived import all_attributes, key_of, reference_of
from polyplan.model.domains import effective_distinct
from polyplan.model.schema import FilterOp, RelationshipKind, TypeName
from polyplan.plan.ir import Plan
from polyplan.stores.document.indexes import index_name, searched_elsewhere
from polyplan.stores.document.spec import IndexKey, IndexSpec, ShardCandidate, ShardDecision

Warn = Callable[[str, str, str], None]
CHUNK_BYTES = 128 * 1024 * 1024  # MongoDB's default chunk (range) size
MIN_CARDINALITY = 1000
HEAVY_HITTER = 100.0  # assumed: the most common value is this many times as frequent as the average


def _gb(value: float) -> str:
    return f"{value / 1e9:,.1f} GB"


def _attribute_stats(plan: Plan, entity: str, attribute: str) -> tuple[float, float, bool, str]:
    """(cardinality, top value share, monotonic, how) of one attribute."""
    model = plan.model
    spec = all_attributes(model, entity)[attribute]
    rows = max(plan.entities[entity].profile.rows_at_horizon, 1.0)
    growth = model.entities[entity].growth
    monotonic = spec.type in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ, TypeName.DATE) and (
        spec.default == "now" or growth.time_attribute == attribute
    )
    if spec.type is TypeName.ENUM and spec.values:
        weights = spec.weights or [1.0] * len(spec.values)
        return float(len(spec.values)), max(weights) / sum(weights), monotonic, "enum"
    if spec.type is TypeName.BOOLEAN:
        return 2.0, 0.5, monotonic, "boolean"
    uniques = [key_of(model.entities[entity]).attributes] + [
        [n] for n, a in all_attributes(model, entity).items() if a.unique
    ]
    if [attribute] in uniques:
        return rows, 1 / rows, monotonic, "unique"
    for relationship in model.relationships:
        reference = reference_of(model, relationship) if relationship.to == entity else None
        if (
            reference is not None
            and attribute in reference.columns
            and relationship.kind is not RelationshipKind.MANY_TO_MANY
        ):
            parents = (
                plan.entities[relationship.from_].profile.rows_at_horizon
                if relationship.from_ in plan.entities
                else rows
            )
            cardinality = max(1.0, min(parents, rows))
            declared = declared_children_share(relationship, rows)
            if declared is not None:
                return (
                    cardinality,
                    declared.fraction,
                    monotonic,
                    f"one value per {relationship.from_}, {declared.reason}",
                )
            return cardinality, min(1.0, HEAVY_HITTER / cardinality), monotonic, f"one value per {relationship.from_}"
    hot = declared_attribute_share(spec)
    if hot is not None:
        cardinality = float(min(effective_distinct(spec) or rows, rows))
        return cardinality, hot.fraction, monotonic, hot.reason
    stated = effective_distinct(spec)
    if stated is not None:
        cardinality = float(min(stated, rows))
        return cardinality, min(1.0, HEAVY_HITTER / cardinality), monotonic, "declared distinct"
    cardinality = max(1.0, math.sqrt(rows))
    return cardinality, min(1.0, HEAVY_HITTER / cardinality), monotonic, "assumed √rows (declare `distinct`)"


def _candidates(plan: Plan, entity: str) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for pattern in plan.model.access_patterns:
        if pattern.entity != entity or searched_elsewhere(plan, pattern):
            continue
        eq = tuple(f.attribute for f in pattern.filters if f.op is FilterOp.EQ and f.value is None)
        for candidate in (eq, *((a,) for a in eq)):
            if candidate and candidate not in found:
                found.append(candidate)
    return found


def _judge(plan: Plan, entity: str, fields: tuple[str, ...], data_bytes: float) -> ShardCandidate:
    model = plan.model
    rows = max(plan.entities[entity].profile.rows_at_horizon, 1.0)
    stats = [_attribute_stats(plan, entity, a) for a in fields]
    cardinality = min(rows, math.prod(s[0] for s in stats))
    top = max(1 / rows, math.prod(s[1] for s in stats))
    monotonic = all(s[2] for s in stats)
    patterns = [p for p in model.access_patterns if p.entity == entity and not searched_elsewhere(plan, p)]
    total = sum(p.rate for p in patterns) or 1.0
    targeted = (
        sum(
            p.rate
            for p in patterns
            if set(fields) <= {f.attribute for f in p.filters if f.op is FilterOp.EQ and f.value is None}
        )
        / total
    )
    problems = []
    if cardinality < MIN_CARDINALITY:
        problems.append(f"only {cardinality:,.0f} values: writes would gather on a few shards")
    if monotonic:
        problems.append("monotonic: every insert would hit the last chunk unless hashed")
    jumbo = data_bytes * top > CHUNK_BYTES
    verdict = "; ".join(problems) if problems else "usable"
    if jumbo and not problems:
        verdict = f"usable with a field appended: its most common value may hold {_gb(data_bytes * top)}, over a {CHUNK_BYTES >> 20} MiB chunk"
    how = ", ".join(f"{a}: {s[3]}" for a, s in zip(fields, stats, strict=True))
    return ShardCandidate(fields, cardinality, top, monotonic, targeted, f"{verdict} ({how})")


def _splitter(plan: Plan, entity: str, paths: Mapping[str, str], prefix: tuple[str, ...]) -> str:
    """The field appended to a prefix whose most common value outgrows a chunk.

    An append-only entity's time attribute keeps one value's documents in time order, so a
    targeted range read of recent data hits few chunks; anything that can change is a poor shard
    key field (updating it moves the document), so otherwise `_id`.
    """
    profile = plan.entities[entity].profile
    time_attribute = plan.model.entities[entity].growth.time_attribute
    if profile.append_only and time_attribute and time_attribute not in prefix:
        return paths[time_attribute]
    return "_id"


def choose_shard_key(
    plan: Plan,
    entity: str,
    paths: Mapping[str, str],
    indexes: list[IndexSpec],
    data_bytes: float,
    write_rate: float,
    warn: Warn,
) -> tuple[ShardDecision, list[IndexSpec]]:
    """The shard decision for one collection, and its indexes adjusted to it."""
    engine = plan.model.engines.document or "mongodb"
    capability = plan.capability(engine)
    size_limit = (capability.comfortable_bytes_per_node if capability else 2e12) / 2
    write_limit = (capability.write_rows_per_second_per_node if capability else 15000.0) / 2
    load = f"{_gb(data_bytes)} of documents and {write_rate:,.0f} writes/s at the horizon"
    limits = f"half of one replica set's comfortable {_gb(size_limit * 2)} / {write_limit * 2:,.0f} writes/s"
    if data_bytes <= size_limit and write_rate <= write_limit:
        return ShardDecision(False, (), f"not sharded: {load} fit one replica set (shard beyond {limits})"), indexes
    judged = [_judge(plan, entity, fields, data_bytes) for fields in _candidates(plan, entity)]
    usable = [c for c in judged if c.verdict.startswith("usable")]
    usable.sort(key=lambda c: (-c.targeted_share, -c.cardinality, len(c.fields)))
    if usable:
        best = usable[0]
        keys: IndexKey = tuple((paths[a], 1) for a in best.fields)
        if best.verdict.startswith("usable with a field appended") and "_id" not in [p for p, _ in keys]:
            keys = (*keys, (_splitter(plan, entity, paths, best.fields), 1))
        reason = (
            f"sharded on {{{', '.join(f'{p}: {d}' for p, d in keys)}}}: {load} exceed {limits}; "
            f"{best.targeted_share:.0%} of reads name it by equality (targeted), {best.cardinality:,.0f} values, "
            f"the most common holds {best.top_value_share:.2%} of documents"
            + (
                f"; {keys[-1][0]} is appended so one value's documents can split over chunks"
                if len(keys) > len(best.fields)
                else ""
            )
        )
    else:
        monotonic_only = [c for c in judged if c.monotonic and c.cardinality >= MIN_CARDINALITY]
        if monotonic_only:
            best = max(monotonic_only, key=lambda c: c.targeted_share)
            keys = ((paths[best.fields[0]], "hashed"),)
            reason = f"sharded on {{{paths[best.fields[0]]}: hashed}}: {load} exceed {limits}; the best-targeted field is monotonic, so hashing spreads inserts (range reads on it scatter)"
        else:
            keys = (("_id", "hashed"),)
            reason = f"sharded on {{_id: hashed}}: {load} exceed {limits}; no pattern names a field that spreads well, so writes are spread by _id and reads scatter-gather"
    indexes = list(indexes)
    if not any(i.keys[: len(keys)] == keys and not i.partial and not i.text_options for i in indexes):
        indexes.append(IndexSpec(index_name(keys), keys, serves=("shard",), reason="supports the shard key"))
    shard_paths = [p for p, _ in keys]
    for index in list(indexes):
        if index.unique and [p for p, _ in index.keys[: len(shard_paths)]] != shard_paths:
            indexes[indexes.index(index)] = IndexSpec(
                index.name,
                index.keys,
                False,
                index.partial,
                index.expire_after,
                index.text_options,
                index.serves,
                f"{index.reason} — not unique: a sharded collection only enforces unique keys prefixed by the shard key",
            )
            warn(
                "PP402",
                f"{entity}: {index.reason} cannot be enforced once the collection is sharded on {', '.join(shard_paths)}; "
                f"keep a side collection whose _id is the unique value, inserted in the same transaction",
                f"entities.{entity}",
            )
    return ShardDecision(True, keys, reason, tuple(judged)), indexes
