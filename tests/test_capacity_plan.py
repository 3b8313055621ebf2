"""The capacity plan (polyplan.capacity): sizes from each store's own estimate, load, node counts,
thresholds by month, scaling steps and their warnings (pure planning, no server)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from polyplan.analyse.capabilities import load_capabilities
from polyplan.analyse.sizing import attribute_bytes
from polyplan.capacity import capacity_plan, design_stores
from polyplan.capacity.load import store_needs
from polyplan.capacity.spec import CapacityPlan
from polyplan.model.schema import Attribute
from polyplan.pipeline import plan_text
from polyplan.plan.ir import Plan
from polyplan.seed.lengths import expected_chars
from tests.conftest import SCENARIOS, planned, rendered

IOT = next(p for p in SCENARIOS if p.stem == "iot")
SOCIAL = next(p for p in SCENARIOS if p.stem == "social")

# Orders of a multi-tenant shop growing 60 M a day on one relational engine: beyond the largest
# single machine within three years.
GROWING = """
name: growing
engines: {{relational: {relational}, document: null, cache: null, search: null, wide_column: null}}
options: {{horizon_years: 3}}
entities:
  Tenant:
    attributes:
      name: {{type: string, max_length: 80}}
    growth: {{initial_rows: 1000, rows_per_day: 1}}
  Order:
    attributes:
      number: {{type: string, max_length: 20, unique: true}}
      total: {{type: decimal, precision: 10, scale: 2}}
      placed_at: {{type: timestamptz}}
    growth: {{initial_rows: 1000000, rows_per_day: 60000000}}
relationships:
  - {{name: tenant_orders, kind: one_to_many, from: Tenant, to: Order, required: true}}
access_patterns:
  - {{name: orders_of_tenant, entity: Order, filters: [{{attribute: {filter}, op: {op}}}], sort: [{{attribute: placed_at, direction: desc}}], limit: 50, rate: 60000, latency_ms: 50, consistency: eventual, staleness_seconds: 30}}
  - {{name: order_by_number, entity: Order, filters: [{{attribute: number, op: {op}}}], rate: 500, latency_ms: 20, consistency: strong}}
write_patterns:
  - {{name: place_order, entity: Order, kind: insert, rate: 2000}}
"""


def growing(relational: str = "postgresql", filter: str = "tenant_id", op: str = "eq") -> Plan:
    """The growing model; `filter` and `op` make the patterns' filters (eq: targeted by a column)."""
    return plan_text(GROWING.format(relational=relational, filter=filter, op=op), "growing.yaml")


def planned_capacity(plan: Plan, **options: object) -> CapacityPlan:
    return capacity_plan(plan, design_stores(plan), **options)  # type: ignore[arg-type]


def codes(capacity: CapacityPlan) -> list[str]:
    return [d.code for d in capacity.diagnostics]


def test_iot_shows_the_year_partitioning_and_the_year_scaling_out_become_necessary_and_why() -> None:
    capacity = planned_capacity(planned(IOT))
    alert = next(t for t in capacity.partitioning if t.resource == "partitioning Alert")
    assert alert.year == 1.0 and "archiving rule first removes rows after 365 days" in alert.why
    cassandra = capacity.store("wide_column (cassandra)")
    out = next(s for s in cassandra.steps if s.action.startswith("scale out"))
    # 40,000 inserts/s from day one against 30,000/s per node; 311 G rows from month 1.
    assert out.year == 0.0 and "writes" in out.why and "replication factor 3" in out.action
    storage = next(t for t in cassandra.thresholds if t.resource == "storage")
    assert storage.year == pytest.approx(1 / 12, abs=0.01)
    # The relational store stays on one node; the text says so in capacity.md too.
    assert all(y.nodes == 1 for y in capacity.store("relational (postgresql)").years)
    text = rendered(IOT)["capacity.md"]
    assert "| Alert | relational (postgresql) | year 1 (month 12) |" in text
    assert "year 0 (month 0): scale out: 17 nodes at replication factor 3" in text


def test_a_threshold_is_the_first_month_the_need_exceeds_one_node() -> None:
    plan = growing()
    capacity = planned_capacity(plan)
    store = capacity.store("relational (postgresql)")
    storage = next(t for t in store.thresholds if t.resource == "storage")
    assert storage.year is not None
    node = load_capabilities()["postgresql"].node
    assert node is not None
    designs = design_stores(plan)
    month = round(storage.year * 12)
    before = store_needs(plan, designs, (month - 1) * 365 / 12, load_capabilities())["relational (postgresql)"]
    after = store_needs(plan, designs, month * 365 / 12, load_capabilities())["relational (postgresql)"]
    assert before.total_bytes <= node.storage_bytes < after.total_bytes


def test_scaling_steps_go_vertical_first_then_citus_on_the_tenant_column() -> None:
    capacity = planned_capacity(growing())
    steps = capacity.store("relational (postgresql)").steps
    actions = [s.action for s in steps]
    up = next(i for i, a in enumerate(actions) if a.startswith("scale up"))
    out = next(i for i, a in enumerate(actions) if a.startswith("scale out"))
    assert up < out and steps[up].year is not None and steps[out].year is not None
    assert steps[up].year < steps[out].year
    assert "Citus: distribute on tenant_id" in actions[out] and "co-located: order, tenant" in actions[out]
    assert "primary keys gain the distribution column: order (id, tenant_id)" in actions[out]
    assert [s.order for s in steps] == list(range(1, len(steps) + 1))


def test_replicas_serve_eventual_reads_and_a_strong_read_stays_on_the_primary() -> None:
    capacity = planned_capacity(growing())
    store = capacity.store("relational (postgresql)")
    assert store.replica_patterns == ("orders_of_tenant",)
    assert store.primary_patterns == ("order_by_number",)
    assert any(s.action.startswith("up to 1 read replica") for s in store.steps)
    pp434 = next(d for d in capacity.diagnostics if d.code == "PP434")
    assert pp434.path == "access_patterns.order_by_number" and "(strong, 500/s)" in pp434.message


def test_unique_rule_without_the_distribution_column_is_pp433() -> None:
    capacity = planned_capacity(growing())
    found = [d for d in capacity.diagnostics if d.code == "PP433"]
    assert len(found) == 1 and "unique rule (number)" in found[0].message and found[0].path == "entities.Order"


def test_no_equality_filter_leaves_no_distribution_column_pp435() -> None:
    capacity = planned_capacity(growing(filter="number", op="prefix"))
    assert "PP435" in codes(capacity)
    out = next(s for s in capacity.store("relational (postgresql)").steps if s.action.startswith("scale out"))
    assert "no distribution column" in out.action


def test_mysql_that_outgrows_the_largest_machine_is_pp432() -> None:
    capacity = planned_capacity(growing(relational="mysql"))
    assert "PP432" in codes(capacity) and "PP433" not in codes(capacity)


def test_a_profile_without_node_capacity_is_pp436_and_more_nodes_than_max_nodes_is_pp437() -> None:
    bundled = load_capabilities()
    without = {**bundled, "redis": bundled["redis"].model_copy(update={"node": None})}
    capacity = planned_capacity(planned(IOT), capabilities=without)
    assert "PP436" in codes(capacity)
    assert "cache (redis)" not in [s.store for s in capacity.stores]
    small = {**bundled, "cassandra": bundled["cassandra"].model_copy(update={"max_nodes": 8})}
    pp437 = [d for d in planned_capacity(planned(IOT), capabilities=small).diagnostics if d.code == "PP437"]
    assert len(pp437) == 1 and "needs 17 nodes" in pp437[0].message


def test_years_option_plans_beyond_the_horizon() -> None:
    capacity = planned_capacity(planned(IOT), years=5.5)
    assert capacity.years == (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.5)
    assert all(len(line.sizes) == 7 for line in capacity.entities)


def test_a_cache_projection_is_sized_by_the_cache_design_not_as_a_copy_of_the_entity() -> None:
    plan = planned(SOCIAL)
    designs = design_stores(plan)
    capacity = capacity_plan(plan, designs)
    cache = capacity.store("cache (redis)")
    # The Redis store at the horizon is exactly the cache design's memory estimate (its key
    # families: sessions held there and the cached answers of projected patterns).
    assert cache.years[-1].stored_bytes == pytest.approx(designs.cache.total_bytes, rel=1e-9)
    timeline = next(
        line for line in capacity.entities if line.entity == "TimelineEntry" and line.store == "cache (redis)"
    )
    assert timeline.role == "projection" and timeline.source == "Redis key memory (cache design)"
    payload = plan.entities["TimelineEntry"].profile.bytes_at_horizon
    assert timeline.sizes[-1].total_bytes < payload / 1000  # was a full copy (4.4 TB) before
    search = capacity.store("search (elasticsearch)")
    indexes = sum(i.projected_bytes for i in designs.search.indexes)
    assert search.years[-1].data_bytes + search.years[-1].index_bytes == pytest.approx(indexes, rel=1e-9)


def test_plan_json_and_capacity_md_carry_the_same_figures() -> None:
    files = rendered(IOT)
    data = json.loads(files["plan.json"])["capacity"]
    cassandra = next(s for s in data["stores"] if s["store"] == "wide_column (cassandra)")
    assert [y["nodes"] for y in cassandra["years"]] == [4, 17, 17]
    assert "| profile-sized nodes | 4 | 17 | 17 |" in files["capacity.md"]
    assert data["partitioning"][0]["year"] == 1.0
    for chart in ("docs/capacity-size.svg", "docs/capacity-reads.svg", "docs/capacity-writes.svg"):
        assert files[chart].startswith("<svg") and f"`{chart}`" in files["capacity.md"]
        assert "wide_column (cassandra)" in files[chart]


def test_string_sizes_follow_the_seeder_not_half_of_max_length() -> None:
    code = Attribute.model_validate({"type": "string", "max_length": 200})
    assert attribute_bytes(code) == expected_chars(code) != 100
    email = Attribute.model_validate({"type": "string", "max_length": 200})
    assert attribute_bytes(email, "email") == pytest.approx(expected_chars(email, "email"))
    text = Attribute.model_validate({"type": "text"})
    assert attribute_bytes(text) == expected_chars(text) == 200.0
    weighted = Attribute.model_validate({"type": "enum", "values": ["a", "bbbbbbbbbb"], "weights": [9, 1]})
    assert attribute_bytes(weighted) == pytest.approx(1.9)
    assert math.isclose(attribute_bytes(Attribute.model_validate({"type": "uuid"})), 16)


def test_png_charts_are_written_beside_the_svg_or_pp438_says_why_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write_plan adds docs/capacity-*.png (in the manifest, so a second run replaces them); without
    matplotlib the SVG charts alone are written and PP438 says so."""
    from polyplan.emit import capacity_png
    from polyplan.pipeline import png_charts, render, write_plan

    pytest.importorskip("matplotlib", reason="the PNG charts need the charts extra")
    out = tmp_path / "out"
    for _ in range(2):  # the second write finds only files its manifest lists
        write_plan(IOT, out)
    for name in ("size", "reads", "writes"):
        assert (out / "docs" / f"capacity-{name}.png").read_bytes().startswith(b"\x89PNG")
        assert (out / "docs" / f"capacity-{name}.svg").is_file()
    monkeypatch.setattr(capacity_png, "available", lambda: False)
    plan = planned(IOT)
    charts, notice = png_charts(plan, render(plan)[0])
    assert charts == {} and [d.code for d in notice] == ["PP438"] and "SVG only" in notice[0].message
