"""`seed.generation_order` is memoised per model: each caller gets the same order in a list of
its own, and a large model's order costs no scan of every pattern per entity (issue 7)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from polyplan.model.loader import load_text
from polyplan.seed import generation_order

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from planner import synthetic_model  # type: ignore[import-not-found]


def test_each_caller_gets_its_own_copy_of_the_memoised_order() -> None:
    model = load_text(synthetic_model(12), "synthetic_12.yaml").model
    first = generation_order(model)
    first.reverse()  # a caller changing its list must not change the next caller's
    again = generation_order(model)
    assert again == list(reversed(first))
    assert again is not generation_order(model)
    # The synthetic model is a chain of one-to-many relationships in model order.
    assert again == list(model.entities)


def test_order_of_a_large_model_is_not_quadratic() -> None:
    model = load_text(synthetic_model(600), "synthetic_600.yaml").model
    start = time.process_time()
    order = generation_order(model)
    # Scanning every pattern per entity took ~1 s of CPU here; the linear walk takes ~10 ms.
    # The bound leaves room for a loaded host.
    assert time.process_time() - start < 0.5
    assert sorted(order) == sorted(model.entities)
