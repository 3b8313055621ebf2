"""Derived attributes of a parent held in Redis (polyplan/stores/cache/derived.py).

A count or sum of children, parent and children both Redis records: each child insert and delete
adds to the parent's hash with HINCRBY (a guarded script: only while the parent is stored) in the
child's write path, and the generated test runs the child writes on a real Redis and reads the
parent back. PP468 stays for what adding cannot keep exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyplan.pipeline import plan_text, render
from polyplan.stores.cache.derived import GUARDED_ADD
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation

MODEL = """
name: board
engines: {cache: redis}
entities:
  Board:
    attributes:
      title: {type: string, max_length: 40}
      cards: {type: integer, derived: {function: count, relationship: board_cards}}
      points: {type: integer, derived: {function: sum, relationship: board_cards, attribute: points}}
    growth: {initial_rows: 1000, ttl_seconds: 86400}
    placement: {family: cache}
  Card:
    attributes:
      text: {type: string, max_length: 80}
      points: {type: integer, min: 0, max: 100}
    growth: {initial_rows: 10000, ttl_seconds: 86400}
    placement: {family: cache}
relationships:
  - {name: board_cards, kind: one_to_many, from: Board, to: Card, avg_children: 10}
access_patterns:
  - {name: board_by_id, entity: Board, filters: [{attribute: id}], rate: 100}
  - {name: card_by_id, entity: Card, filters: [{attribute: id}], rate: 100}
write_patterns:
  - {name: add_card, entity: Card, kind: insert, rate: 10}
  - {name: remove_card, entity: Card, kind: delete, rate: 1}
"""
# An update of the summed attribute would need the old value: the sum is left to the application.
RESCORED = MODEL + "  - {name: score_card, entity: Card, kind: update, attributes: [points], rate: 1}\n"


def _design(text: str) -> tuple[dict[str, dict[str, object]], list[tuple[str, str, str]]]:
    files, diagnostics = render(plan_text(text, "board.yaml"))
    design = json.loads(files["redis/keys.json"])
    return {w["write"]: w for w in design["writes"]}, [(d.code, d.path, d.message) for d in diagnostics]


def test_child_writes_add_to_the_parents_hash_and_pp468_is_gone() -> None:
    writes, diagnostics = _design(MODEL)
    assert not [d for d in diagnostics if d[0] == "PP468"]
    parent = "board:board:<board_id>"
    assert writes["add_card"]["commands"][-2:] == [
        ["EVAL", GUARDED_ADD, "1", parent, "cards", "1", "1"],
        ["EVAL", GUARDED_ADD, "1", parent, "points", "<value:points>", "1"],
    ]
    assert writes["remove_card"]["commands"][-2:] == [
        ["EVAL", GUARDED_ADD, "1", parent, "cards", "1", "-1"],
        ["EVAL", GUARDED_ADD, "1", parent, "points", "<value:points>", "-1"],
    ]
    assert "board" in writes["add_card"]["keys"]


def test_what_adding_cannot_keep_stays_pp468() -> None:
    writes, diagnostics = _design(RESCORED)
    (warned,) = [d for d in diagnostics if d[0] == "PP468"]
    assert warned[1] == "entities.Board.attributes.points.derived"
    assert "score_card may change board_id, points: the add would need the old value" in warned[2]
    assert [c[4] for c in writes["add_card"]["commands"] if c[0] == "EVAL"] == ["cards"]
    latest = MODEL.replace(
        "type: integer, derived: {function: sum, relationship: board_cards, attribute: points}",
        "type: integer, nullable: true, derived: {function: max, relationship: board_cards, attribute: points}",
    )
    (maximum,) = [d for d in _design(latest)[1] if d[0] == "PP468"]
    assert "a max cannot be kept by adding" in maximum[2]


def _folder(tmp_path: Path) -> Path:
    from tests.test_cache_redis import write_folder

    return write_folder(plan_text(MODEL, "board.yaml"), tmp_path / "board")


@pytest.mark.redis
def test_generated_tests_read_the_parent_back_after_child_writes(tmp_path: Path) -> None:
    """On a real Redis: each child insert moves the parent's count by +1 and its sum by the child's
    points, each delete by minus those; an add to a parent that is not stored creates nothing. An
    insert that adds 2 fails the generated test."""
    url = resolve_url("redis")
    folder = _folder(tmp_path)
    assert "def test_derived_parents_follow_their_children" in (folder / "tests" / "test_redis.py").read_text(
        encoding="utf-8"
    )
    assert run_validation(folder, "redis", url) == 0
    keys = folder / "redis" / "keys.json"
    design = json.loads(keys.read_text(encoding="utf-8"))
    for write in design["writes"]:
        if write["write"] == "add_card":
            write["commands"] = [[*c[:6], "2"] if c[0] == "EVAL" else c for c in write["commands"]]
    keys.write_text(json.dumps(design, indent=1), encoding="utf-8")
    assert run_validation(folder, "redis", url, trust_edits=True) == 1
