"""`polyplan tune` (issue 14): PostgreSQL's optimizer against the plan's index design.

Unit tests of the verdicts on hand-made EXPLAIN documents, the bad-input errors (PP429), and on
the real PostgreSQL: every bundled scenario with a relational store is tuned; each pattern the
index proofs cover gets a verdict, every disagreement carries its code and an explanation with
the optimizer's costs, and the scratch database is gone afterwards, also when the run is
interrupted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.model.schema import Family
from polyplan.stores.relational import Target
from polyplan.stores.relational.indexes import PatternRoute
from polyplan.stores.relational.tuning import (
    NONE_LABEL,
    PLANNED_LABEL,
    IndexSet,
    TuneCase,
    index_sets,
    measured,
    optimizer_choice,
    own_index,
    own_index_sql,
    own_label,
    summary,
    tune_cases,
    verdict,
)
from polyplan.testkit import resolve_url
from polyplan.validate import tune as tune_module
from polyplan.validate.oracle import parse_queries
from polyplan.validate.tune import tune
from tests.conftest import SCENARIOS, planned

ROOT = Path(__file__).resolve().parent.parent
TUNE_CODES = {"PP425", "PP426", "PP427", "PP428"}
EXPECTED_DISAGREEMENTS = {"shop": [("customers_by_email_prefix", "PP426")]}

# --- verdicts on hand-made plans ----------------------------------------------------------------


def _document(cost: float, node: str, table: str = "order", index: str | None = None, cond: str = "") -> Any:
    plan: dict[str, Any] = {"Node Type": node, "Relation Name": table, "Total Cost": cost, "Plan Rows": 5}
    if index:
        plan["Index Name"] = index
        plan["Index Cond"] = cond
    return [{"Plan": plan}]


def _case(designed: tuple[str, ...], expect: dict[str, Any], via: str = "index") -> TuneCase:
    route = PatternRoute("orders_of_customer", "order", "customer_id =", 10.0, expect.get("index"), via)
    return TuneCase(
        pattern="orders_of_customer",
        table="order",
        sql="SELECT 1",
        check={"params": [], "constants": None},
        route=route,
        designed=designed,
        sets=index_sets(designed),
        expect=expect,
        model_rows=8_000_000,
    )


INDEX_EXPECT = {"via": "index", "index": "ix_a", "covering": False, "condition": ["customer_id"]}


def test_index_sets_are_none_each_alone_and_all() -> None:
    assert index_sets(()) == (IndexSet(NONE_LABEL, ()),)
    assert index_sets(("ix_a",)) == (IndexSet(NONE_LABEL, ()), IndexSet("only ix_a", ("ix_a",)))
    assert [s.label for s in index_sets(("ix_a", "ix_b"))] == [NONE_LABEL, "only ix_a", "only ix_b", PLANNED_LABEL]


def test_a_tie_goes_to_the_set_with_fewer_indexes() -> None:
    none = measured(NONE_LABEL, (), _document(8.30, "Index Scan", index="pk_order", cond="(id = 1)"))
    alone = measured("only ix_a", ("ix_a",), _document(8.29, "Index Scan", index="ix_a", cond="(customer_id = 1)"))
    assert optimizer_choice([none, alone]).label == NONE_LABEL
    cheaper = measured("only ix_a", ("ix_a",), _document(4.0, "Index Scan", index="ix_a", cond="(customer_id = 1)"))
    assert optimizer_choice([none, cheaper]).label == "only ix_a"


def test_agreement_states_the_saving() -> None:
    case = _case(("ix_a",), INDEX_EXPECT)
    results = [
        measured(NONE_LABEL, (), _document(217.25, "Seq Scan")),
        measured("only ix_a", ("ix_a",), _document(4.33, "Index Scan", index="ix_a", cond="(customer_id = 7)")),
    ]
    found = verdict(case, results, seeded={"order": 6899})
    assert found.agree and found.code is None
    assert found.optimizer == "only ix_a"
    assert "cost 4.33" in found.explanation and "without it 217.25 (Seq Scan on order), 50.2× more" in found.explanation
    assert "6,899 seeded rows; the model expects 8,000,000" in found.explanation


def test_an_index_the_optimizer_does_not_need_is_pp426() -> None:
    case = _case(("ix_a",), INDEX_EXPECT)
    results = [
        measured(NONE_LABEL, (), _document(8.30, "Index Scan", index="uq_x", cond="(customer_id = 7)")),
        measured("only ix_a", ("ix_a",), _document(8.30, "Index Scan", index="ix_a", cond="(customer_id = 7)")),
    ]
    found = verdict(case, results)
    assert not found.agree and found.code == "PP426" and found.optimizer == NONE_LABEL
    assert "without ix_a the optimizer's cost is 8.30" in found.explanation


def test_another_designed_index_cheaper_is_pp427() -> None:
    case = _case(("ix_a", "ix_b"), INDEX_EXPECT)
    results = [
        measured(NONE_LABEL, (), _document(300.0, "Seq Scan")),
        measured("only ix_a", ("ix_a",), _document(40.0, "Index Scan", index="ix_a", cond="(customer_id = 7)")),
        measured("only ix_b", ("ix_b",), _document(9.0, "Index Scan", index="ix_b", cond="(customer_id = 7)")),
        measured(
            PLANNED_LABEL, ("ix_a", "ix_b"), _document(40.0, "Index Scan", index="ix_a", cond="(customer_id = 7)")
        ),
    ]
    found = verdict(case, results)
    assert found.code == "PP427" and found.optimizer == "only ix_b"
    assert "lower with only ix_b (9.00" in found.explanation


def test_the_designed_index_unused_under_the_planned_set_is_pp425() -> None:
    case = _case(("ix_a",), INDEX_EXPECT)
    results = [
        measured(NONE_LABEL, (), _document(217.25, "Seq Scan")),
        measured("only ix_a", ("ix_a",), _document(217.25, "Seq Scan")),
    ]
    found = verdict(case, results)
    assert found.code == "PP425"
    assert "sequential scan of order" in found.explanation and "none of ['ix_a'] is used" in found.explanation
    assert found.as_data()["costs"][0] == {
        "set": NONE_LABEL,
        "indexes": [],
        "cost": 217.25,
        "rows": 5.0,
        "plan": "Seq Scan on order",
    }
    assert summary([found]) == {"patterns": 1, "agree": 0, "disagree": 1, "PP425": 1}


def test_a_key_route_agrees_when_no_designed_index_helps() -> None:
    expect = {"via": "unique", "columns": ["number"], "covering": False, "condition": ["number"]}
    case = _case(("ix_a",), expect, via="unique (number)")
    results = [
        measured(NONE_LABEL, (), _document(8.3, "Index Scan", index="uq_order_number", cond="(number = 'x')")),
        measured("only ix_a", ("ix_a",), _document(8.3, "Index Scan", index="uq_order_number", cond="(number = 'x')")),
    ]
    found = verdict(case, results, frozenset({"uq_order_number"}))
    assert found.agree and found.polyplan == "unique (number)"


def test_the_own_index_is_equality_sort_range() -> None:
    check = {
        "params": [
            {"name": "since", "column": "placed_at", "op": "from"},
            {"name": "w", "column": "w_id", "op": "eq"},
            {"name": "d", "column": "d_id", "op": "in"},
        ]
    }
    key = own_index(check, [("placed_at", True)])
    assert key == (("d_id", False), ("w_id", False), ("placed_at", True))
    assert own_index_sql("order", key) == 'CREATE INDEX ON "order" ("d_id", "w_id", "placed_at" DESC)'
    assert own_label(key) == "hypothetical (d_id, w_id, placed_at DESC)"
    assert own_index(check, []) == (("d_id", False), ("w_id", False), ("placed_at", False))


def test_a_key_route_its_own_index_halves_is_pp427() -> None:
    """The issue's case: a lookup judged served by the primary key that a dedicated index serves far better."""
    expect = {"via": "primary key", "columns": ["w_id", "d_id", "id"], "covering": False, "condition": ["w_id"]}
    case = _case((), expect, via="primary key")
    pk = _document(601.0, "Index Scan", index="pk_customer", cond="(w_id = 1)")
    own = measured("hypothetical (w_id, last)", ("hypothetical",), _document(5.0, "Index Scan", index="<1>btree"))
    found = verdict(case, [measured(NONE_LABEL, (), pk)], frozenset({"pk_customer"}), None, own)
    assert found.code == "PP427" and found.optimizer == "hypothetical (w_id, last)"
    assert "120.2× lower with its own index, hypothetical (w_id, last)" in found.explanation
    assert "polyplan judged the primary key enough" in found.explanation
    assert [c["set"] for c in found.as_data()["costs"]] == [NONE_LABEL, "hypothetical (w_id, last)"]
    close = measured("hypothetical (w_id, last)", ("hypothetical",), _document(400.0, "Index Scan", index="<1>btree"))
    assert verdict(case, [measured(NONE_LABEL, (), pk)], frozenset({"pk_customer"}), None, close).agree


def test_cases_cover_every_postgresql_proof() -> None:
    plan = planned(ROOT / "scenarios" / "shop.yaml")
    artifacts = Target().emit(plan)
    assert artifacts.design is not None
    data = json.loads(artifacts.tests["data/indexes.json"])
    queries = parse_queries(artifacts.files["relational/postgresql/queries.sql"])
    cases = tune_cases(list(artifacts.design.tables), data, {name: q.sql for name, q in queries.items()})
    proofs = {(p["table"], p["name"]) for p in data["proofs"] if "postgresql" in p["engines"]}
    assert {(c.table, c.pattern) for c in cases} == proofs
    without_queries = tune_cases(list(artifacts.design.tables), data, {})
    # fk: lookups carry their own SQL; a pattern's comes from queries.sql.
    assert {(c.table, c.pattern) for c in without_queries} == {(t, n) for t, n in proofs if n.startswith("fk:")}
    for case in cases:
        assert case.sets[0].kept == () and all(set(s.kept) <= set(case.designed) for s in case.sets)


# --- bad input --------------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polyplan", "tune", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )


def test_a_url_of_another_engine_is_pp429() -> None:
    done = _cli("scenarios/shop.yaml", "--url", "sqlite://")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "polyplan tune asks PostgreSQL's optimizer: --url must be postgresql://…, not sqlite [PP429]"
    )


def test_no_url_is_pp429() -> None:
    env = {k: v for k, v in os.environ.items() if k != "POLYPLAN_POSTGRES_URL"}
    done = _cli("scenarios/shop.yaml", env=env)
    assert done.returncode == 2
    assert "[PP429]" in done.stderr and "Traceback" not in done.stderr


# --- the real PostgreSQL ----------------------------------------------------------------------

# The bundled scenarios with an entity in a relational store (all of them, today).
RELATIONAL = [s for s in SCENARIOS if planned(s).records_in(Family.RELATIONAL)]


def _scratch_left(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": f"polyplan_{os.getpid()}_%"}
            )
            return [r[0] for r in rows]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    url = resolve_url("postgresql")
    yield url
    assert _scratch_left(url) == []


@pytest.mark.postgresql
@pytest.mark.parametrize("scenario", RELATIONAL, ids=lambda p: p.stem)
def test_tune_every_bundled_scenario(scenario: Path, postgres: str) -> None:
    report = tune(scenario, postgres)
    plan = planned(scenario)
    data = json.loads(Target().emit(plan).tests["data/indexes.json"])
    proofs = {(p["table"], p["name"]) for p in data["proofs"] if "postgresql" in p["engines"]}
    assert {(f.table, f.pattern) for f in report.findings} == proofs
    assert report.seeded and all(count > 0 for count in report.seeded.values())
    for finding in report.findings:
        assert finding.measured or finding.code == "PP428"
        if finding.agree:
            assert finding.code is None
            assert finding.explanation.startswith(f"the optimizer takes {finding.polyplan} too: cost ")
        else:
            assert finding.code in TUNE_CODES, finding
            # Listed and explained: the optimizer's costs (or the server's reason) are in the text.
            assert finding.code == "PP428" or " cost" in finding.explanation, finding.explanation
            assert "seeded rows; the model expects" in finding.explanation or finding.code == "PP428"
        if report.hypopg.endswith("own index") and not finding.polyplan.startswith("index "):
            # A key route was also costed with the pattern's own hypothetical index (HypoPG).
            assert any(m.label.startswith("hypothetical (") for m in finding.measured), finding
    counts = report.as_data()["summary"]
    assert counts["agree"] + counts["disagree"] == counts["patterns"] == len(proofs)
    # What the real optimizer said when this was written (issue 14): every pattern agrees but one,
    # whose explanation test_shop_email_prefix_disagreement_is_explained_by_the_collation checks.
    # A new disagreement fails here until it is understood and listed.
    listed = sorted((f.pattern, f.code) for f in report.findings if not f.agree)
    assert listed == EXPECTED_DISAGREEMENTS.get(scenario.stem, []), [f.explanation for f in report.findings]
    assert _scratch_left(postgres) == []


@pytest.mark.postgresql
def test_shop_email_prefix_disagreement_is_explained_by_the_collation(postgres: str) -> None:
    """The one shop pattern where the scratch database's optimizer needs no designed index."""
    report = tune(ROOT / "scenarios" / "shop.yaml", postgres)
    found = {f.pattern: f for f in report.findings}
    prefix = found["customers_by_email_prefix"]
    assert prefix.code == "PP426" and prefix.optimizer == NONE_LABEL
    assert "C collation" in prefix.explanation and "varchar_pattern_ops" in prefix.explanation
    others = [f for f in report.findings if f.pattern != "customers_by_email_prefix"]
    assert all(f.agree for f in others), [f.explanation for f in others if not f.agree]


@pytest.mark.postgresql
def test_cli_json_and_exit_code(postgres: str) -> None:
    env = {**os.environ, "POLYPLAN_POSTGRES_URL": postgres}
    done = _cli("scenarios/counters.yaml", "--json", env=env)
    body = json.loads(done.stdout)
    assert body["model"] == "counters" and body["method"].startswith("real indexes")
    assert body["summary"]["patterns"] == len(body["patterns"]) > 0
    assert done.returncode == (1 if body["summary"]["disagree"] else 0), done.stderr
    for pattern in body["patterns"]:
        assert pattern["costs"][0]["set"] == NONE_LABEL and pattern["costs"][0]["cost"] > 0


@pytest.mark.postgresql
def test_the_scratch_database_is_dropped_on_interrupt(postgres: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: object) -> None:
        assert len(_scratch_left(postgres)) == 1  # the scratch database exists while tune runs
        raise KeyboardInterrupt

    monkeypatch.setattr(tune_module, "_findings", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tune(ROOT / "scenarios" / "counters.yaml", postgres)
    assert _scratch_left(postgres) == []
