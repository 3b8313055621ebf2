"""Derived attributes of a Cassandra parent (issue 12, PP468): a count and a sum of comments kept in
the post's counter table by each comment insert and delete, read by the post's second statement,
and repaired from the comments listed by post. Run on a real Cassandra through the runtime the
generated tests and applications use (connect.Writer), with the emitted writes.json."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from polyplan.pipeline import plan_text, render, write_plan
from polyplan.stores.wide_column import connect
from polyplan.testkit import resolve_url
from polyplan.validate.runner import EXIT_OK, run_validation

MODEL = Path(__file__).resolve().parent / "models" / "blog_counted.yaml"
TEXT = MODEL.read_text(encoding="utf-8")


def _render(text: str = TEXT) -> tuple[dict[str, str], list[Any]]:
    files, diagnostics = render(plan_text(text, "blog_counted.yaml"))
    return files, diagnostics


def test_counts_and_sums_of_cassandra_children_are_kept_without_pp468() -> None:
    files, diagnostics = _render()
    assert "PP468" not in [d.code for d in diagnostics]
    schema = files["cassandra/schema.cql"]
    assert "comments counter" in schema and "score counter" in schema
    writes = json.loads(files["cassandra/writes.json"])
    adds = writes["entities"]["Comment"]["operations"]["add_comment"]["parent_adds"]
    assert [a["cql"] for a in adds] == [
        "UPDATE blog_counted.post_counters SET comments = comments + :comments_delta WHERE id = :post_id",
        "UPDATE blog_counted.post_counters SET score = score + :score_delta WHERE id = :post_id",
    ]
    removed = writes["entities"]["Comment"]["operations"]["remove_comment"]["parent_adds"]
    assert [a["delta"] for a in removed] == [
        {"comments_delta": {"sign": -1, "step": 1}},
        {"score_delta": {"attribute": "score", "sign": -1}},
    ]
    derived = writes["entities"]["Post"]["derived"]
    assert derived["score"]["repair"]["aggregate"] == (
        "SELECT sum(score) FROM blog_counted.comments_of_post WHERE post_id = :id"
    )
    assert "then read comments, score from post_counters by id" in files["cassandra/queries.cql"]


def test_what_adding_cannot_keep_exact_is_warned_by_the_cassandra_target() -> None:
    text = TEXT.replace(
        "  - {name: remove_comment,",
        "  - {name: rescore, entity: Comment, kind: update, attributes: [score], rate: 1}\n  - {name: remove_comment,",
    ).replace(
        "      score: {type: integer, bits: 64, derived",
        "      latest: {type: timestamptz, nullable: true, derived: {function: max, relationship: post_comments, "
        "attribute: created_at}}\n      score: {type: integer, bits: 64, derived",
    )
    _, diagnostics = _render(text)
    warned = {d.path: d.message for d in diagnostics if d.code == "PP468"}
    assert set(warned) == {"entities.Post.attributes.score.derived", "entities.Post.attributes.latest.derived"}
    assert "Comment.rescore may change post_id, score" in warned["entities.Post.attributes.score.derived"]
    assert "a max is not an addition" in warned["entities.Post.attributes.latest.derived"]


@pytest.fixture()
def cassandra() -> Iterator[tuple[Any, dict[str, Any], dict[str, str], str]]:
    files, _ = _render()
    cluster, session = connect.connect(resolve_url("cassandra"))
    keyspace = connect.run_keyspace()
    try:
        connect.apply_schema(session, files["cassandra/schema.cql"], keyspace)
        yield session, json.loads(files["cassandra/writes.json"]), files, keyspace
    finally:
        connect.drop_keyspace(session, keyspace)
        cluster.shutdown()


@pytest.mark.cassandra
def test_child_writes_move_the_parents_count_and_sum_and_repair_restores_them(
    cassandra: tuple[Any, dict[str, Any], dict[str, str], str],
) -> None:
    session, writes, files, keyspace = cassandra
    writer = connect.Writer(session, writes, keyspace)
    comment_ops = writes["entities"]["Comment"]["operations"]
    derived = writes["entities"]["Post"]["derived"]
    posts = [uuid.uuid4() for _ in range(2)]
    for post in posts:
        writer.run(
            writes["entities"]["Post"]["operations"]["add_post"],
            {"id": post, "title": "t", "comments": 0, "score": 0},
            {},
        )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    comments = [
        {
            "id": uuid.uuid4(),
            "post_id": posts[i % 2],
            "body": "b",
            "score": i - 3,
            "created_at": start + timedelta(minutes=i),
        }
        for i in range(9)
    ]
    for comment in comments:
        writer.run(comment_ops["add_comment"], comment, {})

    def value(post: uuid.UUID, name: str) -> int:
        # The post's read: its query, then the second statement writes.json names for the counter.
        assert session.execute(writer.prepare(_query(files, "post_by_id")), {"id": post}).one() is not None
        row = session.execute(writer.prepare(derived[name]["read"]), {"id": post}).one()
        return int(row[name] or 0) if row is not None else 0

    def expected(post: uuid.UUID, kept: list[dict[str, Any]]) -> tuple[int, int]:
        mine = [c for c in kept if c["post_id"] == post]
        return len(mine), sum(c["score"] for c in mine)

    for post in posts:
        assert (value(post, "comments"), value(post, "score")) == expected(post, comments)
    removed, kept = comments[:3], comments[3:]
    for comment in removed:
        current = writer.read_current(comment_ops["remove_comment"], comment)
        assert current is not None
        writer.run(comment_ops["remove_comment"], current, {})
    for post in posts:
        assert (value(post, "comments"), value(post, "score")) == expected(post, kept)
    # A child batch whose adds were lost (a timeout): the repair recomputes from comments_of_post.
    lost = {"id": uuid.uuid4(), "post_id": posts[0], "body": "b", "score": 4, "created_at": start}
    writer.run({**comment_ops["add_comment"], "parent_adds": []}, lost, {})
    kept.append(lost)
    assert value(posts[0], "comments") == expected(posts[0], kept)[0] - 1
    for name in ("comments", "score"):
        repair = derived[name]["repair"]
        for post in posts:
            total = session.execute(writer.prepare(repair["aggregate"]), {"id": post}).one()
            current = session.execute(writer.prepare(repair["current"]), {"id": post}).one()
            difference = int(next(iter(total.values())) or 0) - int((current or {}).get(name) or 0)
            if difference:
                session.execute(writer.prepare(repair["add"]), {"id": post, f"{name}_delta": difference})
    for post in posts:
        assert (value(post, "comments"), value(post, "score")) == expected(post, kept)


def _query(files: dict[str, str], pattern: str) -> str:
    text = files["cassandra/queries.cql"].split(f"-- pattern: {pattern} ", 1)[1]
    lines = [line for line in text.splitlines()[1:] if not line.startswith("--")]
    return "\n".join(lines).split(";", 1)[0]


@pytest.mark.cassandra
def test_generated_cassandra_tests_read_the_derived_counters_back(tmp_path: Path) -> None:
    out = tmp_path / "blog_counted"
    write_plan(MODEL, out)
    assert "def test_derived_counters_follow_the_children" in (out / "tests" / "test_cassandra.py").read_text("utf-8")
    assert run_validation(out, "cassandra", resolve_url("cassandra")) == EXIT_OK
