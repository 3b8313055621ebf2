"""Index design on small models: candidates (ESR order, partial, covering, full-text, BRIN,
foreign keys), merging of order-compatible candidates, and cost/budget-driven selection."""

from __future__ import annotations

import re
import textwrap
from typing import Any

import pytest

from polyplan.diagnostics import Diagnostic
from polyplan.pipeline import plan_text
from polyplan.stores.relational.design import design_tables
from polyplan.stores.relational.indexes import (
    MAX_NAME,
    design_indexes,
    index_name,
    index_plan_of,
    write_budget,
)
from polyplan.stores.relational.spec import IndexColumn, IndexKind, IndexSpec, TableSpec


def design(yaml: str) -> tuple[dict[str, TableSpec], list[Diagnostic]]:
    plan = plan_text(textwrap.dedent(yaml))
    tables, diagnostics = design_indexes(plan, design_tables(plan)[0])
    return {t.name: t for t in tables}, diagnostics


def shape(index: IndexSpec) -> list[tuple[str, bool]]:
    return [(c.name, c.descending) for c in index.columns]


def route(table: TableSpec, pattern: str) -> Any:
    plan = index_plan_of(table)
    assert plan is not None
    return next(r for r in plan.routes if r.pattern == pattern)


TICKETS = """
name: tickets
engines: {search: null, cache: null, document: null, wide_column: null}
options: {fulltext_fallback: relational}
entities:
  Queue:
    attributes:
      name: {type: string, max_length: 60, unique: true}
    growth: {initial_rows: 200}
  Ticket:
    attributes:
      code: {type: string, max_length: 20, unique: true}
      status: {type: enum, values: [open, pending, closed], weights: [10, 10, 80]}
      priority: {type: integer, bits: 16, distinct: 5}
      opened_at: {type: timestamptz}
      subject: {type: string, max_length: 200}
      body: {type: text, avg_length: 800}
      requester: {type: string, max_length: 254}
    growth: {initial_rows: 2000000, rows_per_day: 5000}
relationships:
  - {name: queue_tickets, kind: one_to_many, from: Queue, to: Ticket}
access_patterns:
  - name: queue_open
    entity: Ticket
    filters: [{attribute: queue_id, op: eq}, {attribute: status, op: eq, value: open}]
    sort: [{attribute: opened_at, direction: desc}]
    limit: 50
    rate: 40
  - name: queue_recent
    entity: Ticket
    filters: [{attribute: queue_id, op: eq}, {attribute: opened_at, op: range}]
    sort: [{attribute: priority, direction: desc}]
    limit: 50
    rate: 20
  - name: by_code
    entity: Ticket
    filters: [{attribute: code, op: eq}]
    rate: 300
  - name: requester_prefix
    entity: Ticket
    filters: [{attribute: requester, op: prefix}]
    limit: 20
    rate: 2
  - name: search_tickets
    entity: Ticket
    filters: [{attribute: subject, op: fulltext}, {attribute: body, op: fulltext}]
    limit: 20
    rate: 5
write_patterns:
  - {name: open_ticket, entity: Ticket, kind: insert, rate: 3}
  - {name: close_ticket, entity: Ticket, kind: update, rate: 2, attributes: [status]}
"""


def test_equality_then_sort_then_range() -> None:
    tables, _ = design(TICKETS)
    recent = route(tables["ticket"], "queue_recent")
    index = next(i for i in tables["ticket"].indexes if i.name == recent.index)
    # queue_id (equality), priority DESC (sort), opened_at (range) — in that order.
    assert shape(index) == [("queue_id", False), ("priority", True), ("opened_at", False)]
    assert index.serves == ("queue_recent",)


def test_constant_predicate_makes_a_partial_index() -> None:
    tables, _ = design(TICKETS)
    open_route = route(tables["ticket"], "queue_open")
    index = next(i for i in tables["ticket"].indexes if i.name == open_route.index)
    assert index.where == (("status", "open"),)
    assert shape(index) == [("queue_id", False), ("opened_at", True)]
    assert index.equality == 1
    assert "partial" in index.reason


def test_unique_rule_serves_key_lookup_without_a_new_index() -> None:
    tables, _ = design(TICKETS)
    by_code = route(tables["ticket"], "by_code")
    assert by_code.index is None and by_code.via == "unique (code)"
    assert not any(i.columns[0].name == "code" for i in tables["ticket"].indexes)


def test_prefix_search_marks_the_column() -> None:
    tables, _ = design(TICKETS)
    prefix = route(tables["ticket"], "requester_prefix")
    index = next(i for i in tables["ticket"].indexes if i.name == prefix.index)
    assert index.columns == (IndexColumn("requester", prefix=True),)


def test_relational_full_text_gets_one_index_over_its_columns() -> None:
    tables, _ = design(TICKETS)
    search = route(tables["ticket"], "search_tickets")
    index = next(i for i in tables["ticket"].indexes if i.name == search.index)
    assert index.kind is IndexKind.FULLTEXT
    assert [c.name for c in index.columns] == ["subject", "body"]


def test_every_pattern_has_a_route_and_every_index_names_what_it_serves() -> None:
    tables, _ = design(TICKETS)
    plan = index_plan_of(tables["ticket"])
    assert plan is not None
    assert {r.pattern for r in plan.routes} == {
        "queue_open",
        "queue_recent",
        "by_code",
        "requester_prefix",
        "search_tickets",
    }
    names = {i.name for i in tables["ticket"].indexes}
    for r in plan.routes:
        assert r.index in names or r.via != "index"
    for index in tables["ticket"].indexes:
        assert index.serves and index.reason
        assert all(route(tables["ticket"], s).index == index.name for s in index.serves)


MERGE = """
name: merge
engines: {search: null, cache: null, document: null, wide_column: null}
entities:
  Event:
    attributes:
      account: {type: string, max_length: 40, distinct: 1000, avg_length: 20}
      kind: {type: string, max_length: 20, distinct: 50, avg_length: 10}
      at: {type: timestamptz}
      amount: {type: integer}
    growth: {initial_rows: 5000000, rows_per_day: 1000}
access_patterns:
  - {name: by_account_kind, entity: Event, filters: [{attribute: account, op: eq}, {attribute: kind, op: eq}], sort: [{attribute: at, direction: desc}], limit: 10, rate: 50}
  - {name: by_account, entity: Event, filters: [{attribute: account, op: eq}], rate: 30}
  - {name: by_account_kind_oldest, entity: Event, filters: [{attribute: kind, op: eq}, {attribute: account, op: eq}], sort: [{attribute: at}], limit: 10, rate: 5}
"""


def test_order_compatible_candidates_merge_into_one_index() -> None:
    tables, _ = design(MERGE)
    indexes = tables["event"].indexes
    # by_account is a prefix; the oldest-first pattern walks the same index backwards.
    assert len(indexes) == 1
    index = indexes[0]
    assert shape(index)[:1] == [("account", False)]
    assert {c.name for c in index.columns[:2]} == {"account", "kind"}
    assert shape(index)[2] == ("at", True)
    assert index.serves == ("by_account", "by_account_kind", "by_account_kind_oldest")


def test_a_sort_column_over_small_groups_stays_out_of_a_shorter_deduplicated_key() -> None:
    """MERGE with 10,000 accounts: an (account, kind) pair has 10 of the 5,000,000 rows, so the
    ordered walk reads the same 10 rows as finding the pair and sorting it in memory. With `at`
    the key is nearly unique (no posting lists: 470 MB, four levels); without, it deduplicates
    (80 MB, three levels: index_costs.levels), so the shorter key serves all three reads."""
    tables, _ = design(MERGE.replace("distinct: 1000,", "distinct: 10000,"))
    (index,) = tables["event"].indexes
    assert shape(index) == [("account", False), ("kind", False)]
    assert index.serves == ("by_account", "by_account_kind", "by_account_kind_oldest")
    assert "sorts it in memory" in route(tables["event"], "by_account_kind").reason


COVERING = """
name: covering
engines: {search: null, cache: null, document: null, wide_column: null}
entities:
  Invoice:
    attributes:
      customer: {type: string, max_length: 20, distinct: 50000}
      number: {type: string, max_length: 20}
      total: {type: decimal, precision: 12, scale: 2}
      issued_at: {type: timestamptz}
      notes: {type: text, avg_length: 2000}
    growth: {initial_rows: 3000000, rows_per_day: 2000}
access_patterns:
  - {name: hot_list, entity: Invoice, filters: [{attribute: customer, op: eq}], sort: [{attribute: issued_at, direction: desc}], reads: [id, number, total, issued_at], limit: 20, rate: 200}
  - {name: cold_list, entity: Invoice, filters: [{attribute: number, op: eq}], reads: [id, total], rate: 1}
  - {name: wide_list, entity: Invoice, filters: [{attribute: issued_at, op: range}], reads: [id, notes], limit: 50, rate: 100}
"""


def test_covering_only_for_few_narrow_columns_at_a_high_rate() -> None:
    tables, _ = design(COVERING)
    invoice = tables["invoice"]
    hot = route(invoice, "hot_list")
    index = next(i for i in invoice.indexes if i.name == hot.index)
    assert hot.covering
    assert index.include == ("id", "number", "total")
    assert not route(invoice, "cold_list").covering  # 1/s: heap fetches are cheap enough
    assert not route(invoice, "wide_list").covering  # a TEXT column is not worth copying
    assert all(i.include == () for i in invoice.indexes if i.name != hot.index)


FOREIGN = """
name: foreign
engines: {search: null, cache: null, document: null, wide_column: null}
entities:
  Author:
    attributes: {name: {type: string, max_length: 80, unique: true}}
    growth: {initial_rows: 100000}
  Book:
    attributes: {title: {type: string, max_length: 200}}
    growth: {initial_rows: 1000000}
  Review:
    attributes: {stars: {type: integer, bits: 16}}
    growth: {initial_rows: 5000000}
  Shelf:
    attributes: {label: {type: string, max_length: 20}}
    growth: {initial_rows: 1000}
relationships:
  - {name: author_books, kind: one_to_many, from: Author, to: Book}
  - {name: book_reviews, kind: one_to_many, from: Book, to: Review, owned: true}
  - {name: shelf_books, kind: one_to_many, from: Shelf, to: Book, required: false, on_delete: set_null}
access_patterns:
  - {name: author_with_books, entity: Author, filters: [{attribute: name, op: eq}], loads: [Book], rate: 10}
write_patterns:
  - {name: remove_book, entity: Book, kind: delete, rate: 1}
"""


def test_foreign_keys_are_indexed_where_loads_or_deletes_need_them() -> None:
    tables, _ = design(FOREIGN)
    book = tables["book"]
    review = tables["review"]
    assert [shape(i) for i in book.indexes] == [[("author_id", False)]]
    assert book.indexes[0].serves == ("fk:book(author_id)",)
    assert "author_with_books" in book.indexes[0].reason
    # Deleting books looks reviews up by book_id (cascade).
    assert [shape(i) for i in review.indexes] == [[("book_id", False)]]
    assert "deletes" in review.indexes[0].reason
    # Shelves are never deleted and no pattern loads books by shelf: no index, with the reason.
    book_plan = index_plan_of(book)
    assert book_plan is not None
    assert any("shelf_id" in note and "never deleted" in note for note in book_plan.unindexed_foreign_keys)


HEAVY = """
name: heavy
engines: {search: null, cache: null, document: null, wide_column: null}
entities:
  Metric:
    attributes:
      a: {type: string, max_length: 20, distinct: 1000}
      b: {type: string, max_length: 20, distinct: 1000}
      c: {type: string, max_length: 20, distinct: 1000}
      d: {type: string, max_length: 20, distinct: 1000}
      e: {type: string, max_length: 20, distinct: 1000}
    growth: {initial_rows: 10000000}
    placement: {family: relational}
access_patterns:
  - {name: by_a, entity: Metric, filters: [{attribute: a, op: eq}], rate: 100}
  - {name: by_b, entity: Metric, filters: [{attribute: b, op: eq}], rate: 50}
  - {name: by_c, entity: Metric, filters: [{attribute: c, op: eq}], rate: 20}
  - {name: by_d, entity: Metric, filters: [{attribute: d, op: eq}], rate: 10}
  - {name: by_e, entity: Metric, filters: [{attribute: e, op: eq}], rate: 0.0001}
write_patterns:
  - {name: ingest, entity: Metric, kind: insert, rate: 5000}
"""


def test_write_heavy_entity_gets_few_indexes_and_unserved_patterns_say_why() -> None:
    tables, diagnostics = design(HEAVY)
    metric = tables["metric"]
    assert write_budget(5000) == 2
    assert [i.serves for i in metric.indexes] == [("by_a",), ("by_b",)]  # the two most valuable
    for name in ("by_c", "by_d", "by_e"):
        r = route(metric, name)
        assert r.via == "none" and r.index is None
    assert "write budget" in route(metric, "by_c").reason
    warned = {d.message.split(":")[0] for d in diagnostics if d.code == "PP403"}
    assert {"by_c", "by_d", "by_e"} <= warned


def test_a_rare_pattern_on_a_write_heavy_table_does_not_pay_for_its_index() -> None:
    tables, _ = design(
        HEAVY.replace(
            "ingest, entity: Metric, kind: insert, rate: 5000", "ingest, entity: Metric, kind: insert, rate: 50"
        )
    )
    r = route(tables["metric"], "by_e")
    assert r.via == "none"
    assert "does not pay" in r.reason


APPEND = """
name: append
engines: {search: null, cache: null, document: null, wide_column: null}
entities:
  LogLine:
    attributes:
      at: {type: timestamptz}
      level: {type: enum, values: [info, warn, error], weights: [90, 8, 2]}
      message: {type: string, max_length: 500}
    growth: {initial_rows: 50000000, rows_per_day: 1000000, time_attribute: at}
    placement: {family: relational}
access_patterns:
  - {name: window, entity: LogLine, filters: [{attribute: at, op: range}], rate: 1}
  - {name: latest_errors, entity: LogLine, filters: [{attribute: level, op: eq, value: error}], sort: [{attribute: at, direction: desc}], limit: 100, rate: 2}
  - {name: everything, entity: LogLine, rate: 0.01}
"""


def test_brin_for_a_time_range_over_a_large_append_only_table() -> None:
    tables, diagnostics = design(APPEND)
    log = tables["log_line"]
    window = next(i for i in log.indexes if i.serves == ("window",))
    assert window.kind is IndexKind.BRIN and shape(window) == [("at", False)]
    errors = next(i for i in log.indexes if i.serves == ("latest_errors",))
    assert errors.kind is IndexKind.BTREE and errors.where == (("level", "error"),)
    everything = route(log, "everything")
    assert everything.via == "none" and "whole table" in everything.reason
    assert any(d.code == "PP403" and d.message.startswith("everything") for d in diagnostics)
    assert any(d.code == "PP501" and d.message.startswith("everything") for d in diagnostics)


def test_patterns_of_other_stores_and_search_projections_are_out_of_scope() -> None:
    tables, diagnostics = design(
        TICKETS.replace(
            "engines: {search: null, cache: null, document: null, wide_column: null}",
            "engines: {cache: null, document: null, wide_column: null}",
        ).replace("options: {fulltext_fallback: relational}", "")
    )
    search = route(tables["ticket"], "search_tickets")
    assert search.via == "none" and "search projection" in search.reason
    assert not any(i.kind is IndexKind.FULLTEXT for i in tables["ticket"].indexes)
    assert any(d.code == "PP403" and "search_tickets" in d.message for d in diagnostics)


def test_design_is_deterministic_and_names_fit_every_engine() -> None:
    first, _ = design(TICKETS)
    second, _ = design(TICKETS)
    assert first == second
    long = index_name("a" * 40, IndexKind.BTREE, (IndexColumn("b" * 30), IndexColumn("c" * 30)), (("d", 1),))
    assert len(long) <= MAX_NAME
    assert long != index_name("a" * 40, IndexKind.BTREE, (IndexColumn("b" * 30), IndexColumn("c" * 31)), (("d", 1),))


@pytest.mark.parametrize(("rate", "budget"), [(0, 6), (10, 6), (50, 5), (500, 3), (40000, 2)])
def test_write_budget_shrinks_with_write_rate(rate: float, budget: int) -> None:
    assert write_budget(rate) == budget


GROUPS = """
name: groups
engines: {search: null, cache: null, document: null, wide_column: null}
entities:
  Card:
    attributes:
      board: {type: string, max_length: 20, distinct: 500000}
      lane: {type: string, max_length: 20, distinct: 5000}
      position: {type: integer}
      title: {type: string, max_length: 200}
    growth: {initial_rows: 5000000}
    placement: {family: relational}
access_patterns:
  - {name: cards_of_board, entity: Card, filters: [{attribute: board, op: eq}], sort: [{attribute: position}], limit: 100, rate: 50}
  - {name: cards_of_lane, entity: Card, filters: [{attribute: lane, op: eq}], sort: [{attribute: position}], limit: 10, rate: 50}
write_patterns:
  - {name: add_card, entity: Card, kind: insert, rate: 50}
"""


def test_sort_columns_join_the_key_only_when_the_equality_group_is_large() -> None:
    tables, _ = design(GROUPS)
    card = tables["card"]
    board = route(card, "cards_of_board")  # ~10 cards per board: sorting them in memory is free
    lane = route(card, "cards_of_lane")  # ~1,000 cards per lane, 10 wanted: the index order pays
    by_name = {i.name: i for i in card.indexes}
    assert shape(by_name[board.index]) == [("board", False)]
    assert "in memory" in board.reason and "in memory" in by_name[board.index].reason
    assert shape(by_name[lane.index]) == [("lane", False), ("position", False)]
    assert "in memory" not in lane.reason
    plan = index_plan_of(card)
    assert plan is not None
    assert any(r.startswith("ix_card_board_position: adds no read benefit") for r in plan.rejected)


def test_index_plan_shows_each_chosen_index_saving_per_read() -> None:
    """index-plan.md gives the pages a read touches through the index against before it, per
    pattern, not only a per-second total (which against a scan reads as an implausible number)."""
    from tests.conftest import SCENARIOS, rendered

    text = rendered(next(p for p in SCENARIOS if p.stem == "saas"))["docs/index-plan.md"]
    benefits = [line for line in text.splitlines() if "**read benefit:**" in line]
    assert benefits and all(" per read instead of ≈ " in line for line in benefits)
    assert "`my_open_tasks` (150/s) ≈ " in text


WALK = """
name: listings
engines: {search: null, cache: null, document: null, wide_column: null}
entities:
  Listing:
    attributes:
      title: {type: string, max_length: 80}
      ends_at: {type: timestamptz}
      colors: {type: set, items: {type: enum, values: [red, green, blue, black]}, max_items: 2}
      tags: {type: set, items: {type: string, max_length: 12, distinct: 100000}, max_items: 3}
    growth: {initial_rows: 2000000}
access_patterns:
  - {name: in_color, entity: Listing, filters: [{attribute: colors, op: contains}], sort: [{attribute: ends_at}], limit: 20, rate: 10}
  - {name: tagged, entity: Listing, filters: [{attribute: tags, op: contains}], sort: [{attribute: ends_at}], limit: 20, rate: 10}
  - {name: all_in_color, entity: Listing, filters: [{attribute: colors, op: contains}], rate: 1}
write_patterns:
  - {name: add_listing, entity: Listing, kind: insert, rate: 5}
"""


def test_a_sorted_limited_read_walks_an_ordered_index_when_its_inside_filter_is_unselective() -> None:
    """A color kept by a quarter of the rows: walking an index on ends_at and checking the color
    on each row stops after ~80 rows for LIMIT 20, where the GIN bitmap reads every match and
    sorts it. A tag kept by one row in 100,000 is cheaper through its GIN index: walking in order
    would read ~2 million rows to find 20. Without a LIMIT there is nothing to stop early."""
    tables, _ = design(WALK)
    listing = tables["listing"]
    walked = route(listing, "in_color")
    assert walked.via == "index" and walked.index == "ix_listing_ends_at"
    assert "walks the index in order checking colors contains on each row: about 80 rows for LIMIT 20" in walked.reason
    assert walked.estimated_ms < 20
    tagged = route(listing, "tagged")
    assert (tagged.via, tagged.index) == ("inside index", "ix_listing_tags")
    unlimited = route(listing, "all_in_color")
    assert (unlimited.via, unlimited.index) == ("inside index", "ix_listing_colors")
    assert [i.name for i in listing.indexes] == ["ix_listing_ends_at"]
    plan = index_plan_of(listing)
    assert plan is not None
    reads = {m.name: m.reads for m in plan.metrics}["ix_listing_ends_at"]
    # Only the walk counts for the index: through it the tag read costs more than its GIN index.
    assert [(name, before > 100 * after) for name, _, before, after in reads] == [("in_color", True)]


def test_an_inside_value_index_no_read_is_routed_to_is_not_created() -> None:
    """When the only read filtering by colors walks ix_listing_ends_at, the GIN on colors serves
    nothing and would cost every write of colors: it is marked not created (no DDL on any
    dialect), with the saving in index-plan.md. A write predicate filtering there is routed to it
    and keeps it."""
    from polyplan.stores.relational.membership import insides_of

    walked_only = WALK.replace(
        "  - {name: all_in_color, entity: Listing, filters: [{attribute: colors, op: contains}], rate: 1}\n", ""
    )
    listing = design(walked_only)[0]["listing"]
    indexed = {i.column: i.indexed for i in insides_of(listing.extra)}
    assert indexed == {"colors": False, "tags": True}
    (colors,) = [i for i in insides_of(listing.extra) if i.column == "colors"]
    assert colors.note.startswith("`in_color` walks `ix_listing_ends_at` in order; without it, the 5.00 writes/s")
    assert "(≈ 160.0 page reads/s saved: 8 pages a write × 4)" in colors.note
    with_delete = walked_only + (
        "  - {name: drop_color, entity: Listing, kind: delete, where: [{attribute: colors, op: contains}], rate: 1}\n"
    )
    listing = design(with_delete)[0]["listing"]
    assert {i.column: i.indexed for i in insides_of(listing.extra)} == {"colors": True, "tags": True}
    assert (route(listing, "drop_color").via, route(listing, "drop_color").index) == (
        "inside index",
        "ix_listing_colors",
    )


def test_a_route_through_an_index_that_costs_more_than_a_scan_scans() -> None:
    """ix_listing_ends_at is chosen for the walked in_color read; an update of every listing
    ending before a time (a third of the table) would read it and then a heap page per row,
    more than a scan: the update is routed to the scan, and the index serves in_color only."""
    closing = WALK + (
        "  - {name: close, entity: Listing, kind: update, attributes: [title], "
        "where: [{attribute: ends_at, op: lt}], rate: 1}\n"
    )
    listing = design(closing)[0]["listing"]
    closed = route(listing, "close")
    assert (closed.via, closed.index) == ("none", None)
    assert closed.reason.startswith("a scan of listing reads fewer pages (≈ ")
    (index,) = [i for i in listing.indexes if i.name == "ix_listing_ends_at"]
    assert index.serves == ("in_color",)
    scan, through = (float(n.replace(",", "")) for n in re.findall(r"≈ ([\d,]+)", closed.reason))
    assert scan < through
