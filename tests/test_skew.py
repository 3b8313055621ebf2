"""Skew: partitions and shard keys are sized from the largest group, never the average alone
(issue 12: "an unbounded chat history gets no time bucket because the average partition is
small"). Pure: no server."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from polyplan.analyse.skew import zipf_top_share
from polyplan.diagnostics import Diagnostic
from polyplan.pipeline import plan_text, render

CHAT = """
name: chat
options: {horizon_years: 3}
entities:
  Channel:
    attributes:
      title: {type: string, max_length: 80}
    growth: {initial_rows: 100000, rows_per_day: 100}
  Message:
    placement: {family: wide_column}
    attributes:
      body: {type: text, avg_length: 200}
      sent_at: {type: timestamptz, default: now}
    growth: {initial_rows: 10000000, rows_per_day: 1000000GROWTH}
relationships:
  - {name: channel_messages, kind: one_to_many, from: Channel, to: Message, foreign_key: channel_id,
     avg_children: 100BOUND}
access_patterns:
  - {name: channel_history, entity: Message, filters: [{attribute: channel_id}],
     SORT limit: 50, rate: 2000}
"""
BY_TIME = "sort: [{attribute: sent_at, direction: desc}],"


def _chat(bound: str = "", growth: str = "", sort: str = BY_TIME) -> tuple[dict[str, str], list[Diagnostic]]:
    text = CHAT.replace("BOUND", bound).replace("GROWTH", growth).replace("SORT", sort)
    return render(plan_text(text, "<test>"))


def _table(files: dict[str, str]) -> dict[str, Any]:
    table: dict[str, Any] = json.loads(files["cassandra/design.json"])["tables"]["channel_history"]
    return table


def test_zipf_top_share_is_one_over_the_harmonic_number() -> None:
    assert zipf_top_share(1) == 1.0
    assert zipf_top_share(10) == pytest.approx(1 / sum(1 / k for k in range(1, 11)), rel=1e-3)
    n = 200_000
    assert zipf_top_share(n) == pytest.approx(1 / (math.log(n) + 0.5772156649), rel=1e-4)


def test_an_unbounded_history_is_reported_with_its_plausible_worst_case() -> None:
    files, diagnostics = _chat()
    table = _table(files)
    # The average channel holds 100 messages and nothing bounds the busiest one (kept for ever):
    # no bucket for a guess, which would make the typical channel's read walk buckets, but a
    # warning with what a Zipf-skewed busiest channel would hold and what to declare.
    assert table["bucket"] is None
    warned = [d for d in diagnostics if d.code == "PP459"]
    assert len(warned) == 1
    worst = 1_105_000_000 * zipf_top_share(209_500)
    assert f"could hold {worst:,.0f} rows" in warned[0].message
    assert "declare hot_share (or max_children) on the relationship and a time bucket is sized" in warned[0].message


def test_a_declared_hot_share_sizes_the_bucket_without_an_assumption() -> None:
    files, diagnostics = _chat(bound=", hot_share: 0.001")
    table = _table(files)
    # The expert's answer: 0.1 % of a million messages a day is 1,000 a day in the busiest
    # channel, 1.1 million over the horizon: a month bucket keeps it within the bounds.
    assert table["bucket"]["kind"] == "time" and table["bucket"]["unit"] == "month"
    assert table["unbucketed"]["rows_per_partition"] == pytest.approx(1_105_000)
    assert "hot_share" in table["unbucketed"]["assumptions"][0]
    assert "sent_at_month = :sent_at_month" in files["cassandra/queries.cql"]
    assert "each month bucket from the current one back" in files["cassandra/queries.cql"]
    assert not [d for d in diagnostics if d.code == "PP459"]


def test_max_children_bounds_the_partition_so_no_bucket_is_needed() -> None:
    files, diagnostics = _chat(bound=", max_children: 5000")
    table = _table(files)
    assert table["bucket"] is None
    assert table["estimate"]["rows_per_partition"] == pytest.approx(5000)
    assert not [d for d in diagnostics if d.code in ("PP459", "PP502")]


def test_a_retention_bounds_the_partition_so_the_average_stands() -> None:
    _, diagnostics = _chat(growth=", retention_days: 30, time_attribute: sent_at")
    assert not [d for d in diagnostics if d.code == "PP459"]


def test_an_unbounded_partition_read_in_no_time_order_is_warned_not_hash_bucketed() -> None:
    files, diagnostics = _chat(sort="")
    table = _table(files)
    assert table["bucket"] is None  # a hash bucket would make every read query every bucket
    warned = [d for d in diagnostics if d.code == "PP459"]
    assert len(warned) == 1 and "no time order to bucket by" in warned[0].message


SHARDED = """
name: shop
engines: {document: mongodb}
entities:
  Seller:
    placement: {family: document}
    attributes:
      name: {type: string, max_length: 80}
    growth: {initial_rows: 1000000}
  Listing:
    placement: {family: document}
    attributes:
      title: {type: string, max_length: 200}
      body: {type: text, avg_length: 20000}
    growth: {initial_rows: 100000000, rows_per_day: 100000}
relationships:
  - {name: seller_listings, kind: one_to_many, from: Seller, to: Listing, foreign_key: seller_id HOT}
access_patterns:
  - {name: listings_of_seller, entity: Listing, filters: [{attribute: seller_id}], limit: 20, rate: 500}
"""


def _shard(hot: str) -> str:
    files, _ = render(plan_text(SHARDED.replace("HOT", hot), "<test>"))
    return next(text for name, text in sorted(files.items()) if name.startswith("mongodb/") and "sharded on" in text)


def test_mongodb_shard_key_is_judged_by_the_declared_hot_value() -> None:
    assumed = _shard("")
    declared = _shard(", hot_share: 0.05")
    # Without a skew the most common seller is assumed to be 100 times the average (0.01 %);
    # the declared 5 % makes its documents a chunk that cannot split, so _id is appended.
    assert "hot_share" not in assumed and "0.01%" in assumed
    assert "5.0% of them (hot_share)" in declared
    assert "5.00% of documents" in declared and "is appended" in declared


SKEWED = """
name: skew
entities:
  Account:
    attributes:
      handle: {type: string, max_length: 30, unique: true}
      country: {type: string, max_length: 2, distinct: 200, hot_share: 0.3}
    growth: {initial_rows: 1000000}
access_patterns:
  - {name: by_country, entity: Account, filters: [{attribute: country}], limit: 20}
"""


def test_skew_on_a_relational_entity_is_reported_with_what_it_changes() -> None:
    plan = plan_text(SKEWED, "<test>")
    notes = [d for d in plan.diagnostics if d.code == "PP460"]
    assert len(notes) == 1
    assert notes[0].path == "entities.Account.attributes.country.hot_share"
    assert "30.0% of 1,000,000 rows" in notes[0].message and "by_country returns up to 20 rows" in notes[0].message
