"""A capped, loss-tolerable entity in MongoDB is a capped collection (issue 12, "loss tolerance and
caps"): setup.py creates it with `capped`, `size` and `max`, and the generated tests insert more
documents than its max and check that the server keeps at most max, the newest. FerretDB 1.24.2
accepts the options but keeps every document (a probe sees it), so there the bound check skips
naming the gap, and the options are still checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyplan.model.caps import cap_of
from polyplan.pipeline import plan_text, render
from polyplan.stores.document.capped import capped_size
from tests.test_caps import CAP, MODEL
from tests.test_document_mongodb import validate_then_select, write_folder

# test_caps.py's feed, every record in MongoDB.
FEED = MODEL.replace("engines: {relational: ENGINE}", "engines: {relational: null, document: mongodb}").replace(
    "placement: {family: relational}", "placement: {family: document}"
)


def test_a_loss_tolerable_cap_is_a_capped_collection() -> None:
    plan = plan_text(FEED, "feed.yaml")
    files, diagnostics = render(plan)
    definition = json.loads(files["mongodb/collections/event.json"])
    rule = cap_of(plan.model, "Event")
    assert rule is not None
    assert definition["options"] == {"capped": True, "size": capped_size(rule), "max": CAP}
    assert definition["shardKey"]["sharded"] is False
    codes = {d.code for d in diagnostics}
    assert "PP475" not in codes and "PP476" in codes  # the server keeps the cap; the durability given up is stated
    assert f"- Capped: size 4,096 B, max {CAP} documents" in files["mongodb/design.md"]
    assert "at must grow with inserts" in files["mongodb/design.md"]


def test_the_size_is_rounded_as_the_server_rounds_it() -> None:
    rule = cap_of(
        plan_text(FEED.replace(f"max_records: {CAP}}}", f"max_records: {CAP}, max_bytes: 10000}}"), "f.yaml").model,
        "Event",
    )
    assert rule is not None and capped_size(rule) == 10240  # a multiple of 256
    small = cap_of(plan_text(FEED, "f.yaml").model, "Event")
    assert small is not None and capped_size(small) == 4096  # at least 4 KiB


def test_a_cap_that_may_not_lose_records_keeps_pp475() -> None:
    durable = FEED.replace("    loss_tolerable: true\n", "")
    files, diagnostics = render(plan_text(durable, "feed.yaml"))
    assert "options" not in json.loads(files["mongodb/collections/event.json"])
    (warned,) = [d for d in diagnostics if d.code == "PP475"]
    assert "creates only for a loss_tolerable entity" in warned.message
    assert 'db.createCollection("event", {capped: true, size: 4096, max: 5})' in warned.message


def test_generated_data_fits_the_cap_and_overflows_it_in_the_bound_check(tmp_path: Path) -> None:
    folder = write_folder(plan_text(FEED, "feed.yaml"), tmp_path / "feed")
    data = json.loads((folder / "tests" / "data" / "mongodb_cases.json").read_text(encoding="utf-8"))
    assert len(data["documents"]["event"]) <= CAP
    (case,) = data["capped"]
    assert case["collection"] == "event" and len(case["documents"]) == CAP + 5


@pytest.mark.mongodb
def test_generated_capped_check(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The generated tests pass; the bound runs on MongoDB and skips on FerretDB naming the gap."""
    plan = plan_text(FEED, "feed.yaml")
    lines, skips, label, is_mongodb = validate_then_select(plan, tmp_path / "feed", capfd, "capped_collection")
    if is_mongodb:
        assert "2 passed" in lines[-1] and not skips, lines[-20:]
        return
    assert "1 passed" in lines[-1], lines[-20:]  # the options, as created
    assert len(skips) == 1 and f"{label} lacks capped collections that keep at most their max documents" in skips[0]


def test_a_capped_collection_gets_no_ttl_index_pp478() -> None:
    """MongoDB refuses a TTL index on a capped collection: a plain index and PP478 instead."""
    expiring = FEED.replace("time_attribute: at, cap:", "time_attribute: at, ttl_seconds: 3600, cap:")
    files, diagnostics = render(plan_text(expiring, "feed.yaml"))
    indexes = json.loads(files["mongodb/collections/event.json"])["indexes"]
    assert indexes and not [i for i in indexes if "expireAfterSeconds" in i]
    assert any(
        i["key"] == [["at", -1]] and "no expiry: the collection is capped (PP478)" in i["reason"] for i in indexes
    )
    (warned,) = [d for d in diagnostics if d.code == "PP478"]
    assert warned.path == "entities.Event.growth"
    documented = Path(__file__).resolve().parent.parent / "docs" / "diagnostics.md"
    assert warned.render().split(": ", 1)[1] in documented.read_text(encoding="utf-8")
