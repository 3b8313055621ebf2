"""A capped, loss-tolerable entity as a MongoDB capped collection (`growth.cap` + `loss_tolerable`).

A capped collection keeps at most `max` documents and `size` bytes, dropping the oldest in
insertion order as new ones arrive: the server keeps the cap, no trim job runs. It is made only
for a loss-tolerable entity: the server also drops documents silently once `size` bytes are
reached, which, when the record-size estimate is low, is before `max` documents; an entity that
may not lose records keeps PP475 (the command, or an exact trim by `deleteMany`). Its order is
insertion order, so the cap's `order` attribute must grow with inserts (a write-time timestamp);
a capped collection cannot be sharded. The size is rounded as the server rounds it (a multiple
of 256 bytes, at least 4,096), so the options the server lists are the ones emitted.

Pure: no I/O.
"""

from __future__ import annotations

import math
from typing import Any

from polyplan.model.caps import CapRule, cap_of
from polyplan.model.schema import RequirementsModel

SIZE_STEP = 256  # MongoDB rounds a capped collection's size up to a multiple of 256 bytes
SIZE_FLOOR = 4096  # and to at least 4 KiB


def capped_size(rule: CapRule) -> int:
    """The `size` of the capped collection: the cap's bytes as the server rounds them."""
    return max(SIZE_FLOOR, math.ceil(rule.max_bytes / SIZE_STEP) * SIZE_STEP)


def capped_options(model: RequirementsModel, entity: str) -> dict[str, Any] | None:
    """`createCollection` options of `entity`'s collection (`capped`, `size`, `max`), or None when
    it is not capped or not loss-tolerable."""
    rule = cap_of(model, entity)
    if rule is None or not model.entities[entity].loss_tolerable:
        return None
    return {"capped": True, "size": capped_size(rule), "max": rule.max_records}


def capped_note(rule: CapRule, options: dict[str, Any]) -> str:
    """What design.md says of a capped collection."""
    return (
        f"capped collection ({rule.describe()}): created with capped: true, size: {options['size']:,} B, "
        f"max: {options['max']:,}; the server drops the oldest documents by insertion order, so {rule.order} must "
        "grow with inserts; documents cannot grow on update and the collection is never sharded"
    )
