"""`derived_attributes` is memoised per model, and the PP348 check reads each relationship once:
the stores asked for the derived attributes once per entity and per write, and each call scanned
every attribute of every entity (quadratic in the model; issue 7)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from polyplan.model.derived_attribute_checks import _written_elsewhere, derived_attributes
from polyplan.model.loader import load_text
from polyplan.model.schema import RequirementsModel
from polyplan.stores.wide_column.derived import derived_counters

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from planner import synthetic_model  # type: ignore[import-not-found]

MODELS = Path(__file__).resolve().parent / "models"


def test_the_memo_is_one_immutable_answer_per_model() -> None:
    model = load_text((MODELS / "blog_kept.yaml").read_text(), "blog_kept.yaml").model
    found = derived_attributes(model)
    assert found is derived_attributes(model)
    assert isinstance(found, tuple)  # no caller can change what the next one reads
    # The same answer as a scan in model order.
    assert list(found) == [
        (entity, name, attribute)
        for entity, declared in model.entities.items()
        for name, attribute in declared.attributes.items()
        if attribute.derived is not None
    ]
    assert found  # the model declares derived attributes (the scan above is not vacuous)


@pytest.fixture(scope="module")
def large() -> RequirementsModel:
    return load_text(synthetic_model(600), "synthetic_600.yaml").model


def test_asking_per_entity_of_a_large_model_is_not_quadratic(large: RequirementsModel) -> None:
    model = large
    start = time.process_time()
    for entity in model.entities:
        assert derived_counters(model, entity) == {}
    # A scan per entity took ~0.3 s of CPU here; the memo takes under 1 ms. Room for a loaded host.
    assert time.process_time() - start < 0.1


def test_the_reference_check_reads_each_relationship_once(large: RequirementsModel) -> None:
    model = large
    start = time.process_time()
    assert _written_elsewhere(model) == []
    # Every relationship per entity took ~33 ms of CPU here; one pass takes ~4 ms.
    assert time.process_time() - start < 0.02
