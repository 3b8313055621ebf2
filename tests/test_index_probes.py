"""The PP420 re-designs of a table (index_guesses) do only the work a moved distinct count can
change (issue 7's planner speed): they route each need without recording a design
(`index_select.served_by`), share the table's candidate fits (`Frame.fitting`) and each
pattern's structure (`index_needs.Draft`), and distinct counts of column groups are memoised.
Each test checks that the shortcut answers as the full computation does, and that it is taken."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from polyplan.pipeline import plan_text
from polyplan.stores.relational import cardinality, index_candidates, index_guesses, index_needs, indexes
from polyplan.stores.relational.cardinality import Cardinalities
from polyplan.stores.relational.design import design_tables
from polyplan.stores.relational.index_results import index_plan_of
from polyplan.stores.relational.index_select import design_table, served_by

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from planner import synthetic_model  # type: ignore[import-not-found]  # noqa: E402

MODELS = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "tests" / "models").glob("*.yaml"))
ORDER_ENTRY = (ROOT / "tests" / "models" / "order_entry.yaml").read_text(encoding="utf-8")
# Without the district's customers, the customer's warehouse and district counts are guessed and
# the probes flip how customer_by_last_name is served (test_relational_keys: PP420).
GUESSED = "\n".join(line for line in ORDER_ENTRY.splitlines() if "name: district_customers," not in line) + "\n"


def _probes_checked(text: str, name: str, monkeypatch: Any) -> tuple[int, list[str]]:
    """(probes run, diagnostic codes) of the index design of a model text, each probe's answer
    compared with the routes of a recorded design of the same needs."""
    plan = plan_text(text, name)
    compared: list[int] = []

    def checked(ctx: Any, table: Any, needs: Any, frame: Any) -> dict[str, str]:
        via = served_by(ctx, table, needs, frame)
        recorded = index_plan_of(design_table(ctx, table, needs, [], frame))
        assert recorded is not None
        assert via == {route.pattern: route.via for route in recorded.routes}
        compared.append(len(via))
        return via

    monkeypatch.setattr(indexes, "served_by", checked)
    _, diagnostics = indexes.design_indexes(plan, design_tables(plan)[0])
    return len(compared), [d.code for d in diagnostics]


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_a_probe_serves_each_need_as_the_recorded_design_would(path: Path, monkeypatch: Any) -> None:
    _probes_checked(path.read_text(encoding="utf-8"), path.name, monkeypatch)


def test_a_flipping_probe_serves_as_the_recorded_design_would(monkeypatch: Any) -> None:
    probes, codes = _probes_checked(GUESSED, "order_entry.yaml", monkeypatch)
    assert probes > 0 and "PP420" in codes


def _counted(monkeypatch: Any, module: Any, name: str) -> Counter[str]:
    calls: Counter[str] = Counter()
    original = getattr(module, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


def _design_counts(monkeypatch: Any, probed: int) -> tuple[int, int, int]:
    """(fits asked, pattern drafts made, probes run) of the 30-entity synthetic model's index
    design with at most `probed` guessed columns probed per table."""
    monkeypatch.setattr(index_guesses, "MAX_PROBED", probed)
    plan = plan_text(synthetic_model(30), "synthetic_30.yaml")
    tables = design_tables(plan)[0]
    fits = _counted(monkeypatch, index_candidates, "fits")
    drafts = _counted(monkeypatch, index_needs, "_draft")
    probes = _counted(monkeypatch, indexes, "served_by")
    indexes.design_indexes(plan, tables)
    monkeypatch.undo()
    return fits["fits"], drafts["_draft"], probes["served_by"]


def test_probes_reuse_the_tables_fits_and_pattern_drafts(monkeypatch: Any) -> None:
    fits, drafts, probes = _design_counts(monkeypatch, index_guesses.MAX_PROBED)
    unprobed = _design_counts(monkeypatch, 0)
    assert probes > 0 and unprobed[2] == 0
    # Every probe re-designs a table, yet asks no fit and drafts no pattern the design had not.
    assert (fits, drafts) == unprobed[:2]


def test_a_group_count_is_worked_out_once_and_a_probe_counts_its_own(monkeypatch: Any) -> None:
    plan = plan_text(synthetic_model(12), "synthetic_12.yaml")
    tables = {t.name: t for t in design_tables(plan)[0]}
    rows = dict.fromkeys(tables, 50_000.0)
    card = Cardinalities(tables, rows)
    calls = _counted(monkeypatch, Cardinalities, "_group")
    table = sorted(tables)[1]
    first = card.group(table, ["score", "status"])
    assert card.group(table, ("status", "score")) == first  # the same group in another order
    assert calls["_group"] == 1
    assert first == Cardinalities(tables, rows).group(table, ["status", "score"])
    # An override is a card of its own: its groups are counted with the moved count.
    moved = card.with_overrides({(table, "score"): 10.0})
    assert moved.group(table, ["score", "status"]) == pytest.approx(first / cardinality.DEFAULT_DISTINCT * 10)
    assert card.group(table, ["score", "status"]) == first


def test_designed_tables_are_design_schemas_without_making_a_probe(monkeypatch: Any) -> None:
    """Callers that read no diagnostics (migrate, seed, scaffold) take `designed_tables`: the
    same tables as `design_schema`, with the PP420 probes (diagnostics only) left unmade."""
    from polyplan.stores.relational.design import design_schema, designed_tables

    plan = plan_text(GUESSED, "order_entry.yaml")
    probed = _counted(monkeypatch, indexes, "served_by")
    tables, diagnostics = design_schema(plan)
    assert probed["served_by"] > 0 and "PP420" in {d.code for d in diagnostics}
    probed.clear()
    assert repr(designed_tables(plan)) == repr(tables)
    assert probed["served_by"] == 0
