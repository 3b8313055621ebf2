"""The whole pipeline: outputs, determinism, plan.json shape, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyplan.emit.writer import MANIFEST, OutputRefused, write_tree
from polyplan.model.schema import Family
from polyplan.pipeline import plan_text, render, write_plan
from tests.conftest import SCENARIOS, planned, rendered

FAMILIES = {family.value for family in Family}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_rendering_twice_gives_identical_files(scenario: Path) -> None:
    assert render(planned(scenario))[0] == rendered(scenario)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_planning_twice_to_disk_is_byte_identical(scenario: Path, tmp_path: Path) -> None:
    write_plan(scenario, tmp_path / "a")
    write_plan(scenario, tmp_path / "b")
    first = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    second = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert first == second
    assert Path("plan.json") in first and Path("plan.md") in first and Path("erd.mmd") in first


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_plan_json_lists_each_entity_with_its_store_scores_and_reasons(scenario: Path) -> None:
    document = json.loads(rendered(scenario)["plan.json"])
    names = [entity["name"] for entity in document["entities"]]
    assert names == list(planned(scenario).model.entities)
    for entity in document["entities"]:
        assert entity["system_of_record"]["family"] in FAMILIES
        assert entity["system_of_record"]["engine"]
        assert set(entity["scores"]) == FAMILIES
        for family, score in entity["scores"].items():
            assert isinstance(score["total"], float | int), family
            if score["engine"] is not None:
                assert {f["factor"] for f in score["factors"]} >= {"query_fit", "write_scale", "consistency"}
                assert all(f["reason"] for f in score["factors"])
        assert entity["reasons"] and entity["runner_up"]["why"]
        for projection in entity["projections"]:
            assert projection["family"] in FAMILIES and projection["sync"] and projection["patterns"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_erd_names_every_entity_and_relationship(scenario: Path) -> None:
    erd = rendered(scenario)["erd.mmd"]
    model = planned(scenario).model
    assert erd.startswith("erDiagram\n")
    plan = planned(scenario)
    for name in model.entities:
        decision = plan.entities[name]
        # The box shows where the entity lives: the store is part of what the reader sees.
        assert f'    {name}["{name} · {decision.family.value}:{decision.engine}' in erd
    for relationship in model.relationships:
        assert f'"{relationship.name}' in erd


def test_erd_keeps_names_apart_that_mermaid_would_merge() -> None:
    """`a b` and `a-b` are both `a_b` to Mermaid; merged, two entities would draw as one box."""
    text = (
        "name: clash\nentities:\n"
        "  'a b': {attributes: {'x y': {type: text}, x-y: {type: text}}}\n"
        "  a-b: {attributes: {id: {type: text}}}\n"
    )
    erd = render(plan_text(text, "clash.yaml"))[0]["erd.mmd"]
    assert '    a_b["a b · ' in erd and '    a_b_2["a-b · ' in erd
    assert "text x_y " in erd and 'text x_y_2 "name: x-y"' in erd


def test_plan_md_explains_decisions_and_runner_ups() -> None:
    text = rendered(next(p for p in SCENARIOS if p.stem == "shop"))["plan.md"]
    assert "### Cart → cache (redis)" in text
    assert "Runner-up: document scored" in text
    assert "outbox_cdc" in text


def test_the_writer_replaces_a_folder_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree({"a.txt": "one", "sub/b.txt": "two"}, out)
    write_tree({"c.txt": "three"}, out)
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == [MANIFEST, "c.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folders left behind


def test_the_writer_leaves_the_old_folder_untouched_when_writing_fails(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree({"keep.txt": "kept"}, out)
    with pytest.raises(OutputRefused, match="outside the output folder"):
        write_tree({"fine.txt": "x", "../escape.txt": "y"}, out)
    assert (out / "keep.txt").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_capacity_plan_reports_every_entity_each_year_and_honours_ttl_and_retention() -> None:
    iot = next(p for p in SCENARIOS if p.stem == "iot")
    text = rendered(iot)["capacity.md"]
    assert "| year 0 | year 1 | year 2 |" in text
    for name in planned(iot).model.entities:
        assert f"| {name} |" in text
    # Readings are kept 90 days at 3.456 G/day: the table plateaus at 311 G rows from year 1.
    reading = next(line for line in text.splitlines() if line.startswith("| Reading |"))
    assert reading.count("311.0 G") == 2
