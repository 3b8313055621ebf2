"""Derived attributes kept in step by MongoDB (issue 12): each child write is paired with the
parent's `$inc` (count, sum) or `$max` (max; read again from the children when one leaves), in a
transaction where the deployment has them, else in the documented order with a repair pipeline
for the failure window. PP468 no longer fires when parent and children are MongoDB collections;
it stays for children embedded in the parent and where another store holds one of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyplan.pipeline import plan_text, render
from tests.test_document_mongodb import validate_then_select

MODEL = Path(__file__).resolve().parent / "models" / "blog_documents.yaml"
TEXT = MODEL.read_text(encoding="utf-8")
ATTRIBUTES = ["Post.comments", "Post.votes", "Post.last_comment_at"]


def _derived(text: str) -> tuple[list[dict[str, object]], set[str]]:
    files, diagnostics = render(plan_text(text, "blog_documents.yaml"))
    return json.loads(files["mongodb/queries.json"]).get("derived_writes", []), {d.code for d in diagnostics}


def test_mongodb_keeps_them_so_no_pp468() -> None:
    writes, codes = _derived(TEXT)
    assert "PP468" not in codes
    assert [w["attribute"] for w in writes] == ATTRIBUTES
    count, total, latest = writes
    assert count["after_child"]["insert"] == [
        {
            "collection": "post",
            "filter": {"_id": {"$param": "new.post_id"}},
            "method": "update_one",
            "update": {"$inc": {"comments": 1}},
        }
    ]
    assert [s["update"] for s in count["after_child"]["change"]] == [
        {"$inc": {"comments": -1}},
        {"$inc": {"comments": 1}},
    ]
    assert total["after_child"]["delete"][0]["update"] == {"$inc": {"votes": {"$negate": {"$param": "old.votes"}}}}
    assert latest["after_child"]["insert"][0]["update"] == {"$max": {"last_comment_at": {"$param": "new.created_at"}}}
    (recompute,) = latest["after_child"]["delete"]
    assert recompute["method"] == "recompute" and recompute["child_sort"] == [["created_at", -1]]
    assert "multi-document transaction" in str(count["transaction"]) and "child first" in str(count["transaction"])
    assert count["repair"]["child_pipeline"] == [{"$group": {"_id": {"post_id": "$post_id"}, "value": {"$sum": 1}}}]


def test_an_increment_of_a_summed_child_attribute_moves_the_parent() -> None:
    files, _ = render(plan_text(TEXT, "blog_documents.yaml"))
    (vote,) = json.loads(files["mongodb/queries.json"])["writes"]
    assert vote["update"] == {"$inc": {"votes": 1}}
    assert vote["then"] == [
        {
            "attribute": "Post.votes",
            "collection": "post",
            "method": "update_one",
            "filter": {"_id": {"$param": "post_id"}},
            "update": {"$inc": {"votes": 1}},
        }
    ]


def test_embedded_children_keep_pp468() -> None:
    """Comments embedded in their post: the application adds to the post's own update."""
    embedded = (
        TEXT.replace("owned: true}", "owned: true, max_children: 50}")
        .replace(
            "{name: post_by_id, entity: Post, filters: [{attribute: id}], rate: 100}",
            "{name: post_by_id, entity: Post, filters: [{attribute: id}], loads: [Comment], rate: 100}",
        )
        .replace(
            "  - {name: comments_of_post, entity: Comment, filters: [{attribute: post_id}], sort: [{attribute: created_at, direction: desc}], limit: 20, rate: 50}\n",
            "",
        )
        .replace("  - {name: vote, entity: Comment, kind: increment, attributes: [votes], rate: 20}\n", "")
    )
    files, diagnostics = render(plan_text(embedded, "blog_documents.yaml"))
    assert '"embedded": true' in files["mongodb/collections/post.json"]
    warned = [d for d in diagnostics if d.code == "PP468"]
    assert len(warned) == 3 and "which are embedded in Post" in warned[0].message
    assert "derived_writes" not in json.loads(files["mongodb/queries.json"])


@pytest.mark.mongodb
def test_generated_derived_checks(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The write paths run in order on any server; in a transaction where the server has them."""
    plan = plan_text(TEXT, "blog_documents.yaml")
    selection = "follows_child_writes or repair_recomputes"
    lines, skips, label, is_mongodb = validate_then_select(plan, tmp_path / "blog_documents", capfd, selection)
    if is_mongodb:
        assert all("standalone server" in line for line in skips), skips
        return
    # FerretDB: the three in-order runs and the count and sum repairs pass.
    assert "5 passed" in lines[-1], lines[-20:]
    increments = validate_then_select(plan, tmp_path / "increments", capfd, "follows_increments")[0]
    assert "1 passed" in increments[-1], increments[-20:]
    assert any(f"{label} has no multi-document transactions" in line for line in skips), skips
    assert any(f"{label} lacks the $group accumulators $max and $min" in line for line in skips), skips
