"""A cache is chosen by what it saves against what it costs to keep in step (issue 12: "the plan
changes when the write rate grows 100×"). Pure: no server."""

from __future__ import annotations

from pathlib import Path

from polyplan.model.schema import Family
from polyplan.pipeline import plan_text

SHOP = (Path(__file__).resolve().parent.parent / "scenarios" / "shop.yaml").read_text(encoding="utf-8")
STOCK = "{name: update_stock, entity: Product, kind: update, rate: 45, attributes: [stock]}"


def _cache_of_product(text: str) -> tuple[list[str], list[str]]:
    plan = plan_text(text, "shop.yaml")
    cached = [
        p
        for projection in plan.entities["Product"].projections
        if projection.family is Family.CACHE
        for p in projection.patterns
    ]
    warned = [d.message for d in plan.diagnostics if d.code == "PP462"]
    return cached, warned


def test_the_product_cache_states_its_upkeep_and_runner_up() -> None:
    plan = plan_text(SHOP, "shop.yaml")
    (cache,) = [p for p in plan.entities["Product"].projections if p.family is Family.CACHE]
    assert cache.patterns == ("product_by_sku",)
    assert "45 changes/s against 2,500 reads/s: about 98% of reads answered from memory" in cache.reason
    assert "runner-up: the system of record alone" in cache.reason


def test_at_a_hundred_times_the_writes_the_cache_goes() -> None:
    assert STOCK in SHOP
    cached, warned = _cache_of_product(SHOP)
    assert cached == ["product_by_sku"] and not warned
    busy = SHOP.replace(STOCK, STOCK.replace("rate: 45", "rate: 4500"))
    cached, warned = _cache_of_product(busy)
    assert cached == []
    (message,) = warned
    assert "changes 4,500 times/s against 2,500 reads/s" in message and "36%" in message


def test_just_below_the_line_the_cache_stays() -> None:
    # 2,400 changes against 2,500 reads: a cache emptied by each would still answer 51 % of them.
    cached, warned = _cache_of_product(SHOP.replace(STOCK, STOCK.replace("rate: 45", "rate: 2400")))
    assert cached == ["product_by_sku"] and not warned
