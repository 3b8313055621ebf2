"""Related fields read from MongoDB (issue 12): a `$lookup` stage or a copy, chosen by cost.

tests/models/auction_lookup.yaml puts the auction of auction_reads.yaml in MongoDB: the join
candidate is a `$lookup` on the item's `_id` (one indexed probe per returned bid), the copy is
`Bid.item_title` kept on write. The emitted pipeline runs in the generated tests against the
server; FerretDB has no `$lookup`, so there that check skips naming the stage.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from polyplan.pipeline import plan_text, render
from polyplan.plan.related_reads import Choice
from polyplan.stores.document import Target
from polyplan.stores.document.lookups import follow
from tests.test_document_mongodb import validate_then_select

MODEL = Path(__file__).resolve().parent / "models" / "auction_lookup.yaml"
TEXT = MODEL.read_text(encoding="utf-8")


def _hundredfold(text: str) -> str:
    """The same auction with every Item update 100× as frequent."""
    text = text.replace("attributes: [title], rate: 0.5}", "attributes: [title], rate: 50}")
    return text.replace("attributes: [end_date], rate: 40}", "attributes: [end_date], rate: 4000}")


def _queries(text: str) -> dict[str, dict[str, object]]:
    files, _ = render(plan_text(text, "auction_lookup.yaml"))
    return {q["pattern"]: q for q in json.loads(files["mongodb/queries.json"])["queries"]}


def test_lookup_or_copy_by_the_rates() -> None:
    """The title changes rarely: copied; the end date often: $lookup. At 100× the writes both are looked up."""
    plan = plan_text(TEXT, "auction_lookup.yaml")
    chosen = {d.path.text: d.chosen.choice for d in plan.related_reads}
    assert chosen == {"item.title": Choice.COPY, "item.end_date": Choice.JOIN}
    end_date = next(d for d in plan.related_reads if d.path.text == "item.end_date")
    # $lookup: 100 reads/s × 20 bids × 1 hop; copy: 40 extensions/s × 20 bids × 4, plus the GBs.
    assert end_date.chosen.cost == pytest.approx(2000.0)
    assert end_date.runner_up is not None and end_date.runner_up.cost == pytest.approx(3200.0, abs=0.1)
    assert "indexed $lookup probes/s" in end_date.chosen.detail
    more = plan_text(_hundredfold(TEXT), "auction_lookup.yaml")
    assert {d.path.text: d.chosen.choice for d in more.related_reads} == {
        "item.title": Choice.JOIN,
        "item.end_date": Choice.JOIN,
    }
    # Both candidates exist, so no PP470 (which states a forced copy).
    assert not [d for d in plan.diagnostics if d.code == "PP470"]


def test_the_pattern_gets_a_lookup_pipeline_on_the_parents_id() -> None:
    query = _queries(TEXT)["recent_bids_of_bidder"]
    assert query["projection"] == {"amount": 1, "placed_at": 1, "item_id": 1, "item_title": 1, "_id": 1}
    assert query["pipeline"] == [
        {"$match": {"bidder": {"$param": "bidder"}}},
        {"$sort": {"placed_at": -1}},
        {"$limit": 20},
        {"$project": query["projection"]},
        {"$lookup": {"from": "item", "localField": "item_id", "foreignField": "_id", "as": "item_end_date__0"}},
        {"$unwind": {"path": "$item_end_date__0", "preserveNullAndEmptyArrays": True}},
        {"$set": {"item_end_date": "$item_end_date__0.end_date"}},
        {"$project": {"item_end_date__0": 0}},
    ]
    (joined,) = query["joined"]
    assert joined["hops"] == [{"reference": "item_id", "collection": "item", "foreign": "_id", "hint": "_id_"}]
    assert joined["decision"].startswith("item.end_date: joined (cost 2,000.0) over copy (cost 3,200.0) because ")
    # A pattern with nothing joined keeps its plain find().
    assert "pipeline" not in _queries(TEXT)["item_by_id"]
    files, _ = render(plan_text(TEXT, "auction_lookup.yaml"))
    design = files["mongodb/design.md"]
    assert re.search(
        r"`item_end_date` = item\.end_date by \$lookup from `item` on `item_id` → `_id` \(index `_id_`\)", design
    )


def test_no_lookup_to_a_parent_in_another_store() -> None:
    """Item in PostgreSQL, Bid in MongoDB: $lookup cannot reach it, so the copies are forced (PP470)."""
    text = (
        TEXT.replace("relational: null", "relational: postgresql")
        .replace("  Item:\n    attributes:", "  Item:\n    placement: {family: relational}\n    attributes:")
        .replace("  Bid:\n    attributes:", "  Bid:\n    placement: {family: document}\n    attributes:")
    )
    plan = plan_text(text, "auction_lookup.yaml")
    assert (plan.entities["Item"].family.value, plan.entities["Bid"].family.value) == ("relational", "document")
    assert {d.path.text: d.chosen.choice for d in plan.related_reads} == {
        "item.title": Choice.COPY,
        "item.end_date": Choice.COPY,
    }
    warned = [d for d in plan.diagnostics if d.code == "PP470"]
    assert len(warned) == 2
    assert (
        "the document store (mongodb) cannot $lookup along item.title (Item is not a mongodb collection, so $lookup "
        "cannot reach it), so Item.title is copied into Bid.item_title" in warned[0].message
    )


def test_the_oracle_follows_the_reference() -> None:
    """The cases' expected values come from walking the seeded documents, not from the pipeline."""
    plan = plan_text(TEXT, "auction_lookup.yaml")
    design = Target().emit(plan).design
    (query,) = [q for q in design.queries if q.joined]
    (field,) = query.joined
    documents = {"item": [{"_id": 1, "end_date": "2026-01-01"}]}
    assert follow(field, {"item_id": 1}, documents) == "2026-01-01"
    assert follow(field, {"item_id": 2}, documents) is None
    assert follow(field, {}, documents) is None


@pytest.mark.mongodb
def test_generated_lookup_check_runs_or_names_the_missing_stage(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The generated tests pass; the $lookup check runs on MongoDB and skips on FerretDB naming $lookup."""
    plan = plan_text(TEXT, "auction_lookup.yaml")
    lines, skips, label, is_mongodb = validate_then_select(plan, tmp_path / "auction_lookup", capfd, "lookup_pipeline")
    if is_mongodb:
        assert "2 passed" in lines[-1] and not skips, lines[-20:]
        return
    assert skips and all(f"{label} lacks the $lookup aggregation stage" in line for line in skips), skips
