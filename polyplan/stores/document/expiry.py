"""How fast MongoDB's TTL monitor would have to delete, and whether that is acceptable (pure).

Once an entity's retention window is full, every insert is matched by one expiry: the TTL
monitor (one background thread per node, a pass every 60 s, one delete per document) deletes as
many documents a second as the application inserts. Beyond a tenth of a node's write capacity
(the target profile's `write_rows_per_second_per_node`) those deletes compete with the
application's writes and the monitor falls behind, so documents outlive their retention.
"""

from __future__ import annotations

from polyplan.plan.ir import Plan

SECONDS_PER_DAY = 86_400
TTL_SHARE_OF_NODE = 0.1  # the share of one node's write capacity expiry may take


def expiry_rate(plan: Plan, entity: str) -> float:
    """Documents a second the TTL monitor deletes at the horizon (the insert rate then)."""
    model = plan.model
    growth = model.entities[entity].growth
    months = model.options.horizon_years * 12
    return float(growth.rows_per_day * (1.0 + growth.monthly_growth_rate) ** months / SECONDS_PER_DAY)


def expiry_limit(plan: Plan) -> float:
    """The most deletes a second a TTL index may imply on the document engine."""
    engine = plan.model.engines.document or "mongodb"
    capability = plan.capability(engine)
    return (capability.write_rows_per_second_per_node if capability else 15000.0) * TTL_SHARE_OF_NODE
