"""HOT-aware write cost (issue 14): on PostgreSQL an index holding a column that an update pattern
writes ends heap-only-tuple updates, so every such update writes every index. The design prices
that (tests/models/reviews_hot.yaml), and on the real PostgreSQL the chosen set keeps the
updates of `rating` HOT while the alternative holding `rating` loses them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.pipeline import plan_text
from polyplan.stores.relational.connect import apply_sql, scratch_database
from polyplan.stores.relational.design import design_tables
from polyplan.stores.relational.index_docs import index_docs
from polyplan.stores.relational.indexes import design_indexes, index_plan_of
from polyplan.stores.relational.render import build_metadata, render_schema
from polyplan.stores.relational.spec import TableSpec
from polyplan.testkit import resolve_url

MODEL = (Path(__file__).resolve().parent / "models" / "reviews_hot.yaml").read_text(encoding="utf-8")


def planned(engine: str) -> tuple[list[TableSpec], str]:
    plan = plan_text(MODEL.replace("engines: {", f"engines: {{relational: {engine}, "))
    tables, _ = design_indexes(plan, design_tables(plan)[0])
    return tables, render_schema(plan.model, build_metadata(tables, "postgresql"))


def review_indexes(tables: list[TableSpec]) -> list[tuple[str, ...]]:
    review = next(t for t in tables if t.name == "review")
    return [tuple(c.name for c in i.columns) for i in review.indexes]


def test_postgresql_keeps_the_updated_column_out_of_the_index() -> None:
    tables, _ = planned("postgresql")
    assert review_indexes(tables) == [("product_id",)]
    review = next(t for t in tables if t.name == "review")
    plan = index_plan_of(review)
    assert plan is not None
    (rejected,) = [r for r in plan.rejected if r.startswith("ix_review_product_id_rating:")]
    assert "the HOT updates it ends (2,400.0)" in rejected


def test_engines_without_hot_take_the_sorted_index() -> None:
    # SQLite (like InnoDB) rewrites only the indexes whose columns change: no HOT path to lose.
    tables, _ = planned("sqlite")
    assert review_indexes(tables) == [("product_id", "rating")]


def test_the_plan_document_reports_a_kept_hot_loss() -> None:
    # At a higher read rate the sorted index pays even after the HOT updates it ends: kept, and said.
    plan = plan_text(
        MODEL.replace("    rate: 60", "    rate: 600").replace("engines: {", "engines: {relational: postgresql, ")
    )
    tables, _ = design_indexes(plan, design_tables(plan)[0])
    assert review_indexes(tables) == [("product_id", "rating")]
    text = index_docs(plan, tables)
    assert "**HOT updates (PostgreSQL):** ends heap-only (HOT) updates of rating: 100.0 updates/s" in text
    assert "kept: the read benefit outweighs it" in text


def hot_share(engine: sa.Engine, schema: str, extra_index: str | None) -> float:
    """Load products and reviews, update ratings, and return n_tup_hot_upd / n_tup_upd of review."""
    apply_sql(engine, schema)
    with engine.begin() as connection:
        if extra_index:
            connection.execute(sa.text(extra_index))
        connection.execute(
            sa.text(
                "INSERT INTO product (id, title) SELECT gen_random_uuid(), 'p' || g FROM generate_series(1, 200) AS g"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO review (id, rating, body, written_at, product_id) "
                "SELECT gen_random_uuid(), 1 + g % 5, repeat('x', 40), now(), p.id "
                "FROM generate_series(1, 20) AS g CROSS JOIN product AS p"
            )
        )
    with engine.connect() as connection:
        ids = [row[0] for row in connection.execute(sa.text("SELECT id FROM review ORDER BY id LIMIT 200"))]
    # The rate_review pattern: many single-row updates of rating, each its own transaction.
    with engine.connect() as connection:
        for round_ in range(10):
            for number, review_id in enumerate(ids):
                connection.execute(
                    sa.text("UPDATE review SET rating = :rating WHERE id = :id"),
                    {"rating": 1 + (number + round_) % 5, "id": review_id},
                )
                connection.commit()
        connection.execute(sa.text("SELECT pg_stat_force_next_flush()"))
        connection.commit()
    deadline = time.monotonic() + 10
    while True:
        with engine.connect() as connection:
            updated, hot = connection.execute(
                sa.text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'review'")
            ).one()
        if updated >= 2000 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert updated == 2000
    return float(hot) / float(updated)


@pytest.mark.postgresql
def test_updates_stay_hot_under_the_chosen_indexes_on_postgresql() -> None:
    _, schema = planned("postgresql")
    url = resolve_url("postgresql")
    with scratch_database(url) as engine:
        chosen = hot_share(engine, schema, None)
    with scratch_database(url) as engine:
        alternative = hot_share(
            engine, schema, "CREATE INDEX ix_review_product_id_rating ON review (product_id, rating DESC)"
        )
    assert chosen > 0.8, f"HOT share under polyplan's indexes: {chosen:.1%}"
    assert alternative < 0.05, f"HOT share with rating indexed: {alternative:.1%}"


COVERING = MODEL.replace(
    "write_patterns:",
    """  - name: recent_reviews_of_product
    entity: Review
    filters: [{attribute: product_id}]
    sort: [{attribute: written_at, direction: desc}]
    reads: [written_at, rating]
    limit: 5
    rate: 50
write_patterns:""",
)


def covering_design(engine: str) -> tuple[list[tuple[str, tuple[str, ...], tuple[str, ...]]], tuple[str, ...]]:
    plan = plan_text(COVERING.replace("engines: {", f"engines: {{relational: {engine}, "))
    tables, _ = design_indexes(plan, design_tables(plan)[0])
    review = next(t for t in tables if t.name == "review")
    index_plan = index_plan_of(review)
    assert index_plan is not None
    chosen = [(i.name, tuple(c.name for c in i.columns), i.include) for i in review.indexes]
    return chosen, index_plan.rejected


def test_postgresql_prefers_the_index_without_the_updated_include_column() -> None:
    chosen, rejected = covering_design("postgresql")
    assert chosen == [("ix_review_product_id_written_at", ("product_id", "written_at"), ())]
    assert any(r.startswith("ix_review_product_id_written_at_covering:") and "HOT updates" in r for r in rejected)
    chosen, _ = covering_design("sqlite")
    assert ("ix_review_product_id_written_at", ("product_id", "written_at"), ("rating",)) in chosen
