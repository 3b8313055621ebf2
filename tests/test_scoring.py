"""Scoring: weights, factor arithmetic, hard constraints."""

from __future__ import annotations

import pytest

from polyplan.analyse.capabilities import load_capabilities
from polyplan.analyse.profile import profile_entity
from polyplan.analyse.scoring import FACTORS, WEIGHTS, blockers, score_family
from polyplan.model.schema import Family
from tests.conftest import SCENARIOS, planned

BY_NAME = {path.stem: path for path in SCENARIOS}


def test_weights_cover_every_factor_and_sum_to_one() -> None:
    assert set(WEIGHTS) == set(FACTORS)
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


def test_every_bundled_engine_profile_loads_with_every_shape_scored() -> None:
    capabilities = load_capabilities()
    assert set(capabilities) == {
        "postgresql",
        "mysql",
        "sqlite",
        "mongodb",
        "redis",
        "elasticsearch",
        "opensearch",
        "cassandra",
    }
    for capability in capabilities.values():
        assert set(capability.query_shapes) == {
            "eq",
            "in",
            "range",
            "prefix",
            "sort",
            "fulltext",
            "loads",
            "scan",
            "near",
            "within",
        }
        assert set(capability.consistency) == {"strong", "read_your_writes", "eventual"}
        assert all(0.0 <= v <= 1.0 for v in capability.query_shapes.values())


def test_total_is_the_weighted_sum_of_the_factors() -> None:
    for decision in planned(BY_NAME["shop"]).entities.values():
        for score in decision.scores:
            if score.engine is None:
                continue
            assert score.total == pytest.approx(sum(f.score * f.weight for f in score.factors), abs=0.002)
            assert all(f.reason for f in score.factors)


def test_search_engines_and_volatile_caches_are_never_a_durable_system_of_record() -> None:
    model = planned(BY_NAME["shop"]).model
    capabilities = load_capabilities()
    order = profile_entity(model, "Order")
    assert any("not a system of record" in b for b in blockers(order, capabilities["elasticsearch"], Family.SEARCH))
    # A search engine keeps its data on disk: it is ruled out as not a system of record, never
    # as "volatile" (which `explain` once said of Elasticsearch).
    for engine in ("elasticsearch", "opensearch"):
        assert not any("volatile" in b for b in blockers(order, capabilities[engine], Family.SEARCH))
    assert any("volatile" in b for b in blockers(order, capabilities["redis"], Family.CACHE))
    cart = profile_entity(model, "Cart")
    assert blockers(cart, capabilities["redis"], Family.CACHE) == ()


def test_query_first_stores_pay_write_amplification_per_query_table() -> None:
    model = planned(BY_NAME["saas"]).model
    capabilities = load_capabilities()
    task = profile_entity(model, "Task")
    factor = next(
        f
        for f in score_family(task, Family.WIDE_COLUMN, capabilities["cassandra"]).factors
        if f.factor == "write_scale"
    )
    assert f"× {len(task.patterns)} query tables" in factor.reason


def test_a_family_the_organisation_does_not_run_scores_zero_and_is_blocked() -> None:
    model = planned(BY_NAME["shop"]).model
    score = score_family(profile_entity(model, "Order"), Family.DOCUMENT, None)
    assert score.total == 0 and not score.eligible
