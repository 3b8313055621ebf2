"""Assignment: systems of record, projections, hard constraints, transactions, placement."""

from __future__ import annotations

import textwrap

import pytest

from polyplan.diagnostics import DiagnosticError
from polyplan.model.schema import Family
from polyplan.pipeline import plan_text
from polyplan.plan.ir import SyncMechanism
from tests.conftest import SCENARIOS, planned

BY_NAME = {path.stem: path for path in SCENARIOS}


def test_every_family_is_chosen_somewhere_across_the_scenarios() -> None:
    used: set[Family] = set()
    for scenario in SCENARIOS:
        used.update(planned(scenario).families_used())
    assert used == set(Family)


@pytest.mark.parametrize(
    ("scenario", "entity", "family"),
    [
        ("shop", "Order", Family.RELATIONAL),
        ("shop", "Cart", Family.CACHE),
        ("saas", "CustomRecord", Family.DOCUMENT),
        ("iot", "Reading", Family.WIDE_COLUMN),
        ("iot", "DeviceState", Family.CACHE),
        ("social", "TimelineEntry", Family.WIDE_COLUMN),
        ("social", "Session", Family.CACHE),
    ],
)
def test_scenario_decisions(scenario: str, entity: str, family: Family) -> None:
    decision = planned(BY_NAME[scenario]).entities[entity]
    assert decision.family is family
    assert decision.score_of(family).eligible
    assert decision.runner_up is not None and decision.runner_up is not family
    assert decision.runner_up.value in decision.runner_up_reason


def test_full_text_search_at_scale_is_projected_to_the_search_engine_through_an_outbox() -> None:
    product = planned(BY_NAME["shop"]).entities["Product"]
    search = [p for p in product.projections if p.family is Family.SEARCH]
    assert len(search) == 1
    assert search[0].patterns == ("search_products",)
    assert search[0].sync is SyncMechanism.OUTBOX_CDC


def test_hot_stale_tolerant_key_lookups_get_a_cache_aside_projection() -> None:
    product = planned(BY_NAME["shop"]).entities["Product"]
    cache = [p for p in product.projections if p.family is Family.CACHE]
    assert [p.patterns for p in cache] == [("product_by_sku",)]
    assert cache[0].sync is SyncMechanism.CACHE_ASIDE_INVALIDATE


def test_every_plan_entity_lives_in_a_family_the_organisation_runs() -> None:
    for scenario in SCENARIOS:
        plan = planned(scenario)
        for decision in plan.entities.values():
            assert plan.model.engines.engine_for(decision.family) == decision.engine


BASE = """
name: t
{engines}
entities:
  Basket:
    attributes:
      token: {{type: string, max_length: 40, unique: true}}
    growth: {{rows_per_day: 100000, ttl_seconds: 3600}}
  Ledger:
    attributes:
      amount: {{type: decimal, precision: 10, scale: 2}}
    growth: {{initial_rows: 1000}}
access_patterns:
  - {{name: basket_by_token, entity: Basket, filters: [{{attribute: token}}], rate: 3000, latency_ms: 3, consistency: eventual}}
{transactions}
"""


def _plan(engines: str = "", transactions: str = "") -> object:
    return plan_text(textwrap.dedent(BASE.format(engines=engines, transactions=transactions)), "t.yaml")


def test_ephemeral_hot_keys_go_to_the_cache() -> None:
    plan = _plan()
    assert plan.entities["Basket"].family is Family.CACHE  # type: ignore[attr-defined]


def test_without_a_cache_the_next_best_store_wins_and_the_blocker_says_why() -> None:
    plan = _plan(engines="engines: {cache: null}")
    basket = plan.entities["Basket"]  # type: ignore[attr-defined]
    assert basket.family is not Family.CACHE
    assert basket.score_of(Family.CACHE).blockers == ("the organisation runs no cache store",)


def test_a_transaction_pulls_its_entities_into_one_transactional_store() -> None:
    plan = _plan(transactions="transactions:\n  - {name: pay, entities: [Basket, Ledger]}")
    basket = plan.entities["Basket"]  # type: ignore[attr-defined]
    ledger = plan.entities["Ledger"]  # type: ignore[attr-defined]
    assert basket.family is ledger.family
    assert basket.family in (Family.RELATIONAL, Family.DOCUMENT)
    assert basket.score_of(Family.CACHE).blockers  # the cache cannot commit across entities


def test_placement_overrides_scoring_but_keeps_the_scores() -> None:
    text = textwrap.dedent(BASE.format(engines="", transactions="")).replace(
        "  Ledger:\n", "  Ledger:\n    placement: {family: document}\n"
    )
    plan = plan_text(text, "t.yaml")
    ledger = plan.entities["Ledger"]
    assert ledger.family is Family.DOCUMENT and ledger.forced
    assert "placement" in ledger.reasons[0]
    assert ledger.score_of(Family.RELATIONAL).total > 0


FULLTEXT = """
name: t
engines: {search: null}
{options}
entities:
  Article:
    attributes:
      body: {type: text}
    growth: {initial_rows: 5000000}
access_patterns:
  - {name: find, entity: Article, filters: [{attribute: body, op: fulltext}], rate: 200}
"""


def test_full_text_at_scale_without_a_search_engine_is_an_error() -> None:
    with pytest.raises(DiagnosticError) as caught:
        plan_text(FULLTEXT.replace("{options}", ""), "t.yaml")
    assert [d.code for d in caught.value.diagnostics] == ["PP314"]
    assert "options.fulltext_fallback: relational" in caught.value.diagnostics[0].message


def test_an_explicit_relational_fallback_keeps_full_text_in_the_relational_store() -> None:
    plan = plan_text(FULLTEXT.replace("{options}", "options: {fulltext_fallback: relational}"), "t.yaml")
    article = plan.entities["Article"]
    assert article.family is Family.RELATIONAL
    assert article.projections == ()


def test_ephemeral_data_pinned_to_a_store_without_expiry_is_warned_about_with_its_position() -> None:
    plan = _plan(
        engines="engines: {document: null}", transactions="transactions:\n  - {name: pay, entities: [Basket, Ledger]}"
    )
    assert plan.entities["Basket"].family is Family.RELATIONAL  # type: ignore[attr-defined]
    warnings = [d for d in plan.diagnostics if d.code == "PP311"]  # type: ignore[attr-defined]
    assert len(warnings) == 1
    assert warnings[0].path == "entities.Basket.growth.ttl_seconds"
    assert warnings[0].location is not None and warnings[0].location.file == "t.yaml"
    assert "scheduled purge" in warnings[0].message
