"""One-sided ranges and bounded ordered loads (issue 12), as every store designs them.

`scenarios/counters.yaml` holds one pattern of each shape per store: `comments_since`
(relational, `created_at >= ?`), `popular_profiles` (MongoDB, `followers > ?`), `views_until`
(Cassandra, `day <= ?`) and `latest_comments` ("the latest 10 comments"). The generated tests of
each engine run them for real (tests/test_increments.py runs those modules on every server).
"""

from __future__ import annotations

import json
import textwrap

import pytest

from polyplan.model.ranges import ONE_SIDED, RANGE_OPS, is_range
from polyplan.model.schema import FilterOp
from polyplan.pipeline import plan_text, render
from polyplan.stores.relational.design import design_schema
from polyplan.stores.relational.indexes import design_indexes
from tests.conftest import ROOT, planned

COUNTERS = ROOT / "scenarios" / "counters.yaml"


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    emitted, _ = render(planned(COUNTERS))
    return emitted


def _block(text: str, name: str) -> str:
    return text.split(f"-- name: {name}\n", 1)[1].split(";", 1)[0]


def test_every_one_sided_op_is_a_range() -> None:
    assert set(ONE_SIDED) == {FilterOp.GT, FilterOp.GE, FilterOp.LT, FilterOp.LE}
    assert all(is_range(op) for op in RANGE_OPS) and not is_range(FilterOp.PREFIX)


@pytest.mark.parametrize(
    ("op", "sql"),
    [
        ("ge", ">= :created_at_from"),
        ("gt", "> :created_at_above"),
        ("lt", "< :created_at_to"),
        ("le", "<= :created_at_through"),
    ],
)
def test_relational_one_sided_range_binds_one_bound_and_is_indexed(op: str, sql: str) -> None:
    model = textwrap.dedent(
        f"""
        name: forum
        entities:
          Thread:
            attributes:
              title: {{type: string, max_length: 100}}
            growth: {{initial_rows: 100000, rows_per_day: 100}}
          Comment:
            attributes:
              body: {{type: text}}
              created_at: {{type: timestamptz}}
            growth: {{initial_rows: 10000000, rows_per_day: 10000}}
        relationships:
          - {{name: thread_comments, kind: one_to_many, from: Thread, to: Comment}}
        access_patterns:
          - name: comments_from
            entity: Comment
            filters: [{{attribute: thread_id}}, {{attribute: created_at, op: {op}}}]
            rate: 50
        """
    )
    emitted, diagnostics = render(plan_text(model, "forum.yaml"))
    query = _block(emitted["relational/postgresql/queries.sql"], "comments_from")
    assert f"comment.created_at {sql}" in query
    sql = query.split("\nSELECT", 1)[1]
    assert sql.count(":created_at") == 1  # no upper (or lower) bound to invent
    assert (
        "CREATE INDEX ix_comment_thread_id_created_at ON comment (thread_id, created_at)"
        in emitted["relational/postgresql/schema.sql"]
    )
    assert not [d for d in diagnostics if d.code == "PP403"]


def test_bounded_ordered_load_has_the_filter_sort_index_and_a_limit(files: dict[str, str]) -> None:
    query = _block(files["relational/postgresql/queries.sql"], "latest_comments")
    assert query.rstrip().endswith("ORDER BY comment.created_at DESC\n LIMIT 10")
    assert (
        "CREATE INDEX ix_comment_article_id_created_at ON comment (article_id, created_at DESC)"
        in files["relational/postgresql/schema.sql"]
    )
    # The same index serves the one-sided `comments_since` (equality, then the bounded sort column).
    plan = planned(COUNTERS)
    tables, _ = design_schema(plan)
    comment = next(t for t in tables if t.name == "comment")
    index = next(i for i in comment.indexes if i.name == "ix_comment_article_id_created_at")
    assert {"latest_comments", "comments_since"} <= set(index.serves)
    assert design_indexes is not None


def test_mongodb_one_sided_range_uses_its_operator_and_the_sorted_index(files: dict[str, str]) -> None:
    queries = {q["pattern"]: q for q in json.loads(files["mongodb/queries.json"])["queries"]}
    popular = queries["popular_profiles"]
    assert popular["filter"] == {"followers": {"$gt": {"$param": "followers_above"}}}
    assert popular["sort"] == [["followers", -1]] and popular["limit"] == 10
    assert popular["hint"] == "followers_-1"


def test_cassandra_one_sided_range_slices_the_clustering_column(files: dict[str, str]) -> None:
    design = json.loads(files["cassandra/design.json"])
    query = design["queries"]["views_until"]
    assert query["table"] == "views_of_article"  # shares the table clustered by day DESC
    cql = files["cassandra/queries.cql"].split("-- pattern: views_until", 1)[1].split("\n\n", 1)[0]
    assert "WHERE article_slug = :article_slug AND day <= :day_through" in cql
    assert "ORDER BY day DESC" in cql and "LIMIT 7" in cql
    assert "ALLOW FILTERING" not in cql


def test_search_one_sided_range_has_one_key() -> None:
    model = textwrap.dedent(
        """
        name: auctions
        entities:
          Item:
            attributes:
              title: {type: string, max_length: 200}
              body: {type: text, avg_length: 2000}
              end_date: {type: timestamptz}
            growth: {initial_rows: 5000000, rows_per_day: 20000}
        access_patterns:
          - name: open_items
            entity: Item
            filters: [{attribute: body, op: fulltext}, {attribute: end_date, op: ge}]
            rate: 100
            consistency: eventual
            staleness_seconds: 30
        """
    )
    emitted, _ = render(plan_text(model, "auctions.yaml"))
    pattern = json.loads(emitted["elasticsearch/queries.json"])["indexes"]["item"]["patterns"]["open_items"]
    assert pattern["params"]["end_date_from"] == {"attribute": "end_date", "op": "range_from", "type": "timestamptz"}
    source = pattern["source"]
    assert '{"range":{"end_date":{"gte":{{#toJson}}end_date_from{{/toJson}}}}}' in source
    assert '"lt"' not in source  # one bound only


def test_redis_cannot_serve_a_one_sided_range_and_says_so() -> None:
    model = textwrap.dedent(
        """
        name: board
        entities:
          Score:
            placement: {family: cache}
            attributes:
              game: {type: string, max_length: 20}
              points: {type: integer}
            growth: {initial_rows: 1000, ttl_seconds: 86400}
        access_patterns:
          - name: scores_above
            entity: Score
            filters: [{attribute: game}, {attribute: points, op: ge}]
            sort: [{attribute: points, direction: desc}]
            limit: 10
            rate: 200
        """
    )
    _, diagnostics = render(plan_text(model, "board.yaml"))
    assert any(
        d.code == "PP403" and "its ge filter on points has no Redis key structure" in d.message for d in diagnostics
    )


CHAT = """
name: chat
entities:
  Room:
    placement: {family: wide_column}
    attributes:
      title: {type: string, max_length: 100}
    growth: {initial_rows: 100000, rows_per_day: 100}
  Message:
    placement: {family: wide_column}
    attributes:
      body: {type: text, avg_length: 200}
      sent_at: {type: timestamptz}
    growth: {initial_rows: 10000000, rows_per_day: 200000, must_keep: true, time_attribute: sent_at}
relationships:
  - {name: room_messages, kind: one_to_many, from: Room, to: Message, max_children: 5000000, avg_children: 100}
access_patterns:
  - name: history
    entity: Message
    filters: [{attribute: room_id}]
    sort: [{attribute: sent_at, direction: desc}]
    limit: 50
    rate: 500
"""


def test_chat_history_is_bucketed_from_the_worst_case_and_kept_without_time_windows() -> None:
    """The average room (100 messages) fits one partition; the largest the model allows (5,000,000)
    does not: the partition is sized from the worst case and bucketed by day. Kept for ever, it gets
    no time-window compaction (no window would ever expire whole)."""
    emitted, diagnostics = render(plan_text(CHAT, "chat.yaml"))
    table = json.loads(emitted["cassandra/design.json"])["tables"]["history"]
    assert table["bucket"]["unit"] == "day" and table["bucket"]["of"] == "sent_at"
    assert table["estimate"]["assumptions"] == ["room_id: at most 5000000 per Room (max_children)"]
    assert table["compaction"] == {"class": "SizeTieredCompactionStrategy"}
    assert any(d.code == "PP502" and "5,000,000 rows" in d.message for d in diagnostics)
