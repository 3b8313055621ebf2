"""Partition size estimates and bucketing arithmetic (pure).

The estimate is for the *largest* partition at the planning horizon: an enum's most frequent
value, a parent's maximum (else average) number of children, else rows ÷ distinct values.
Cassandra's guidance bounds a partition at about 100 MB and 100 000 rows; past either bound the
partition key gets a bucket column (a time bucket when the rows are read in time order, else a
hash bucket) sized so each bucket stays within both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from polyplan.analyse.skew import declared_attribute_share, declared_children_share, unbounded_children_share
from polyplan.model.derived import all_attributes, entities_named_as, key_of, references_into
from polyplan.model.domains import effective_distinct
from polyplan.model.schema import Attribute, RequirementsModel, TypeName
from polyplan.plan.ir import Plan

PARTITION_ROWS_LIMIT = 100_000
PARTITION_BYTES_LIMIT = 100 * 1024 * 1024
# Buckets are sized for half the bounds: the estimate is rough and growth may outrun it.
HEADROOM = 0.5
DEFAULT_DISTINCT = 1000  # assumed distinct values of an attribute that declares none
# A table without equality filters keeps its rows in few partitions; each takes at most this many
# writes per second before it becomes a hot spot on its replicas.
WRITES_PER_PARTITION = 1000.0
UNIT_DAYS = {"year": 365.0, "month": 30.0, "day": 1.0, "hour": 1 / 24, "minute": 1 / 1440}
DATE_UNITS = ("year", "month", "day")
TEMPORAL = frozenset({TypeName.DATE, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ})


@dataclass(frozen=True)
class Share:
    """The fraction of a table's rows in its largest partition, for one equality attribute (group)."""

    attributes: tuple[str, ...]
    fraction: float
    reason: str
    assumed: bool = False


@dataclass(frozen=True)
class Estimate:
    """Size of the largest partition of one table at the horizon."""

    rows: float  # rows in the table
    rows_per_day: float  # inserts per day into the table at the horizon
    partitions: float
    rows_per_partition: float
    row_bytes: float
    assumptions: tuple[str, ...]

    @property
    def bytes_per_partition(self) -> float:
        return self.rows_per_partition * self.row_bytes

    @property
    def too_big(self) -> bool:
        return self.rows_per_partition > PARTITION_ROWS_LIMIT or self.bytes_per_partition > PARTITION_BYTES_LIMIT


def unique_sets(model: RequirementsModel, entity: str) -> list[frozenset[str]]:
    """Attribute sets that identify one record: the key, unique attributes, composite uniques."""
    attributes = all_attributes(model, entity)
    key = frozenset(key_of(model.entities[entity]).attributes)
    sets = [key] if key else []  # a keyless history (kind: none) never lives here (plan/keyless.py)
    sets += [frozenset([name]) for name, attribute in attributes.items() if attribute.unique]
    sets += [frozenset(group) for group in model.entities[entity].unique]
    return sets


def _enum_share(attribute: Attribute) -> tuple[float, str]:
    values = attribute.values or ["?"]
    if attribute.weights:
        total = sum(attribute.weights) or 1.0
        top = max(range(len(values)), key=lambda i: attribute.weights[i] if attribute.weights else 0)
        return attribute.weights[
            top
        ] / total, f"most frequent value {values[top]!r} holds {attribute.weights[top] / total:.0%}"
    return 1.0 / len(values), f"{len(values)} equally likely values"


def shares(plan: Plan, entity: str, eq_attributes: list[str], worst_case: bool = False) -> list[Share]:
    """The share of rows in the largest partition contributed by each equality attribute (group).

    With `worst_case`, a child set nothing bounds is sized from the assumed skew of
    `polyplan.analyse.skew` instead of its average.
    """
    model = plan.model
    attributes = all_attributes(model, entity)
    rows = max(1.0, plan.entities[entity].profile.rows_at_horizon)
    found: list[Share] = []
    left = list(eq_attributes)
    for reference in references_into(model, entity):
        columns = tuple(c for c in reference.columns if c in left)
        if not columns:
            continue
        left = [a for a in left if a not in columns]
        relationship = reference.relationship
        parent_rows = max(1.0, plan.entities[relationship.from_].profile.rows_at_horizon)
        declared = declared_children_share(relationship, rows)
        if declared is not None:
            found.append(Share(columns, declared.fraction, declared.reason))
            continue
        if relationship.avg_children:
            average = Share(
                columns,
                min(1.0, relationship.avg_children / rows),
                f"about {relationship.avg_children:g} per {relationship.from_} (avg_children)",
            )
        else:
            average = Share(
                columns, 1.0 / parent_rows, f"rows spread over {parent_rows:,.0f} {relationship.from_} records"
            )
        unbounded = (
            unbounded_children_share(relationship, parent_rows, model.entities[entity].growth) if worst_case else None
        )
        if unbounded is not None and unbounded.fraction > average.fraction:
            found.append(Share(columns, unbounded.fraction, unbounded.reason, True))
        else:
            found.append(average)
    for name in left:
        attribute = attributes[name]
        named_after = _entity_named_by(model, entity, name)
        hot = declared_attribute_share(attribute)
        if hot is not None:
            found.append(Share((name,), hot.fraction, hot.reason))
        elif stated := effective_distinct(attribute):
            found.append(Share((name,), 1.0 / stated, f"{stated:,} distinct values (distinct)"))
        elif attribute.type is TypeName.ENUM:
            fraction, why = _enum_share(attribute)
            found.append(Share((name,), fraction, why))
        elif attribute.type is TypeName.BOOLEAN:
            found.append(Share((name,), 0.5, "two values"))
        elif named_after is not None:
            parent_rows = max(1.0, plan.entities[named_after].profile.rows_at_horizon)
            found.append(
                Share(
                    (name,),
                    1.0 / parent_rows,
                    f"assumed one value per {named_after} ({parent_rows:,.0f}), as its name says (declare `distinct`)",
                    True,
                )
            )
        elif attribute.type is TypeName.UUID:
            # An id of some population much smaller than the rows that carry it.
            guess = max(1.0, math.sqrt(rows))
            found.append(
                Share((name,), 1.0 / guess, f"assumed {guess:,.0f} distinct ids, √rows (declare `distinct`)", True)
            )
        else:
            found.append(
                Share(
                    (name,),
                    1.0 / DEFAULT_DISTINCT,
                    f"assumed {DEFAULT_DISTINCT:,} distinct values (declare `distinct`)",
                    True,
                )
            )
    return found


def _entity_named_by(model: RequirementsModel, entity: str, attribute: str) -> str | None:
    """The entity an attribute like `device_id` names by convention (<entity>_<key>), if any."""
    return next((name for name in entities_named_as(model, attribute) if name != entity), None)


def estimate(
    plan: Plan,
    entity: str,
    eq_attributes: list[str],
    selectivity: float,
    row_bytes: float,
    rows_per_day: float,
    worst_case: bool = False,
) -> Estimate:
    """The largest partition of a table keyed by `eq_attributes` holding `selectivity` of the rows.

    `worst_case` sizes an unbounded child set from the assumed skew (see `shares`).
    """
    rows = plan.entities[entity].profile.rows_at_horizon * selectivity
    eq = frozenset(eq_attributes)
    if eq and any(unique <= eq for unique in unique_sets(plan.model, entity)):
        return Estimate(
            rows,
            rows_per_day,
            max(1.0, rows),
            1.0,
            row_bytes,
            ("one row per partition: the equality filters identify a record",),
        )
    parts = shares(plan, entity, eq_attributes, worst_case)
    fraction = math.prod(s.fraction for s in parts)
    per_partition = max(1.0, rows * fraction) if rows >= 1 else 0.0
    notes = tuple(f"{', '.join(s.attributes)}: {s.reason}" for s in parts) or (
        "no equality filter: every row in one partition",
    )
    return Estimate(
        rows, rows_per_day, max(1.0, rows / per_partition) if per_partition else 1.0, per_partition, row_bytes, notes
    )


def time_unit(rows_per_day_per_partition: float, row_bytes: float, temporal: TypeName) -> tuple[str, bool]:
    """The coarsest time bucket keeping a partition within half of both bounds, and whether one does."""
    units = DATE_UNITS if temporal is TypeName.DATE else tuple(UNIT_DAYS)
    for unit in units:
        rows = rows_per_day_per_partition * UNIT_DAYS[unit]
        if rows <= PARTITION_ROWS_LIMIT * HEADROOM and rows * row_bytes <= PARTITION_BYTES_LIMIT * HEADROOM:
            return unit, True
    return units[-1], False


def hash_count(rows_per_partition: float, row_bytes: float, write_rate: float = 0.0) -> int:
    """Hash buckets needed so each partition stays within half of both bounds (and the write-rate bound)."""
    by_rows = rows_per_partition / (PARTITION_ROWS_LIMIT * HEADROOM)
    by_bytes = rows_per_partition * row_bytes / (PARTITION_BYTES_LIMIT * HEADROOM)
    by_writes = write_rate / WRITES_PER_PARTITION
    return max(1, math.ceil(max(by_rows, by_bytes, by_writes)))


# The share of values held by the most common first character: about a tenth for words and names
# (English dictionaries: 's' ~11%, 'c' ~9%); each further character is assumed to split a prefix
# again by ten. Coarse on purpose: it sizes the largest prefix bucket, not the average one.
PREFIX_SHARE = 0.1
MAX_PREFIX_LENGTH = 16  # beyond this a "prefix" is nearly the whole value


def prefix_length(rows: float, distinct: float, row_bytes: float, max_length: int | None) -> tuple[int, float, bool]:
    """The shortest prefix length k whose largest prefix bucket stays within half of both bounds:
    (k, rows in that bucket, whether it fits). A bucket never holds fewer rows than one value's."""
    per_value = rows / max(1.0, distinct)
    longest = min(max_length or MAX_PREFIX_LENGTH, MAX_PREFIX_LENGTH)
    largest = rows
    for length in range(1, longest + 1):
        largest = max(per_value, rows * PREFIX_SHARE**length)
        if largest <= PARTITION_ROWS_LIMIT * HEADROOM and largest * row_bytes <= PARTITION_BYTES_LIMIT * HEADROOM:
            return length, largest, True
    return longest, largest, False
