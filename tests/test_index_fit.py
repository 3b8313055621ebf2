"""The memo behind `serves` and `usable` (index_fit): keyed on a need's structure only, so the
PP420 re-designs of a table, whose needs differ only in their numbers, reuse every answer."""

from __future__ import annotations

from dataclasses import replace

from polyplan.stores.relational.index_fit import fits
from polyplan.stores.relational.indexes import Need, serves, usable
from polyplan.stores.relational.spec import IndexColumn, IndexKind

QUEUE_OPEN = Need(
    name="queue_open",
    table="ticket",
    rate=40.0,
    eq=("queue_id",),
    sort=(IndexColumn("opened_at", descending=True),),
    limit=50,
    selectivity=0.001,
    group_selectivity=0.005,
)
FULL = (IndexColumn("queue_id"), IndexColumn("opened_at", descending=True))
GROUP = (IndexColumn("queue_id"),)


def test_a_needs_form_leaves_out_the_numbers_a_guessed_count_moves() -> None:
    moved = replace(QUEUE_OPEN, rate=1.0, selectivity=0.5, group_selectivity=0.5)
    assert moved.form == QUEUE_OPEN.form
    assert moved != QUEUE_OPEN  # the need itself still differs: only the memo key ignores it
    # Another column sorted is another form, with another answer.
    other = replace(QUEUE_OPEN, sort=(IndexColumn("priority", descending=True),))
    assert other.form != QUEUE_OPEN.form
    assert serves(IndexKind.BTREE, FULL, (), QUEUE_OPEN) and not serves(IndexKind.BTREE, FULL, (), other)


def test_serves_and_usable_answer_from_the_form() -> None:
    # The full key serves it; the equality group alone only finds its rows (sorted in memory).
    assert serves(IndexKind.BTREE, FULL, (), QUEUE_OPEN) and usable(IndexKind.BTREE, FULL, (), QUEUE_OPEN)
    assert not serves(IndexKind.BTREE, GROUP, (), QUEUE_OPEN) and usable(IndexKind.BTREE, GROUP, (), QUEUE_OPEN)
    # A partial index on a constant the pattern does not fix answers nothing.
    partial = (("status", "open"),)
    assert not usable(IndexKind.BTREE, FULL, partial, QUEUE_OPEN)


def test_a_redesign_with_other_numbers_reuses_the_answers() -> None:
    serves(IndexKind.BTREE, GROUP, (), QUEUE_OPEN)
    before = fits.cache_info()
    moved = replace(QUEUE_OPEN, selectivity=0.2, group_selectivity=0.3)
    assert not serves(IndexKind.BTREE, GROUP, (), moved) and usable(IndexKind.BTREE, GROUP, (), moved)
    after = fits.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 2
