"""Skew: how many of a table's rows the most frequent value of a column holds (pure).

Partition sizes, shard keys and hot keys depend on the *largest* group, not the average one. The
model states it directly (`hot_share` on an attribute or a relationship, `max_children`, enum
weights); otherwise the average is all that is known. One case has no bound at all: the children
of a parent that are kept for ever with neither `max_children` nor `hot_share`. The busiest
parent's share then grows with the data. polyplan does not design for a guess there (bucketing
every partition for an assumed heavy tail would make the typical read walk many buckets); it
reports how large the busiest partition could grow if parents' shares follow a Zipf law with
exponent 1, under which the busiest of N parents holds 1/H(N) of the children (H the harmonic
number), and asks for `hot_share` or `max_children`.

Every store that sizes by the largest group reads it from here, so a declared skew means the
same thing to each of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from polyplan.model.schema import Attribute, Growth, Relationship

EULER_GAMMA = 0.5772156649


@dataclass(frozen=True)
class TopShare:
    """The share of the rows in the largest group, and where that number comes from."""

    fraction: float
    reason: str
    assumed: bool = False


def zipf_top_share(groups: float) -> float:
    """The busiest group's share among `groups` groups whose sizes follow Zipf's law (exponent 1)."""
    n = max(1.0, groups)
    harmonic = math.log(n) + EULER_GAMMA + 1 / (2 * n) if n > 1 else 1.0
    return min(1.0, 1 / harmonic)


def kept_for_ever(growth: Growth) -> bool:
    """True when nothing (retention or TTL) ever removes the entity's records."""
    return not growth.retention_days and not growth.ttl_seconds


def declared_attribute_share(attribute: Attribute) -> TopShare | None:
    """The attribute's declared hot value share, if the model states one."""
    if attribute.hot_share is None:
        return None
    return TopShare(attribute.hot_share, f"its most frequent value holds {attribute.hot_share:.1%} (hot_share)")


def declared_children_share(relationship: Relationship, child_rows: float) -> TopShare | None:
    """The busiest parent's share of the children, from `max_children` and `hot_share` (the tighter wins)."""
    found: list[TopShare] = []
    if relationship.max_children:
        found.append(
            TopShare(
                min(1.0, relationship.max_children / max(child_rows, 1.0)),
                f"at most {relationship.max_children} per {relationship.from_} (max_children)",
            )
        )
    if relationship.hot_share is not None:
        found.append(
            TopShare(
                relationship.hot_share,
                f"the busiest {relationship.from_} holds {relationship.hot_share:.1%} of them (hot_share)",
            )
        )
    return min(found, key=lambda share: share.fraction) if found else None


def unbounded_children_share(relationship: Relationship, parents: float, child_growth: Growth) -> TopShare | None:
    """The assumed worst case of a child set nothing bounds (see the module docstring), else None."""
    if relationship.max_children or relationship.hot_share is not None or not kept_for_ever(child_growth):
        return None
    fraction = zipf_top_share(parents)
    return TopShare(
        fraction,
        f"unbounded: kept for ever with no max_children or hot_share; if {parents:,.0f} {relationship.from_} "
        f"records' shares follow Zipf's law, the busiest holds 1/H(N) = {fraction:.1%}",
        assumed=True,
    )
