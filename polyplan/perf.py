"""Performance helpers that are about the interpreter, not the domain."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for a burst of allocation.

    Loading and planning a large model allocates about a million small, acyclic objects; the
    collector's generation-2 passes over that growing heap made a 10× model cost ~35× the time
    (bench/planner.py). Reference counting still frees everything; cycles wait until the end.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def data_json(data: Any, *, sort_keys: bool = True, default: Callable[[Any], Any] | None = None) -> str:
    """JSON text of a generated test's data file: the outer two levels of objects one member a
    line, everything below them on that member's line.

    `json.dumps` with `indent` runs the standard library's pure-Python encoder, which took most
    of emitting's time on a large model (tens of megabytes of seeded records); without `indent`
    it runs the C encoder. Keeping the outer levels on their own lines still lets a reader (or a
    diff) find one entity, table or case. The text is a function of `data` alone.
    """
    compact = json.JSONEncoder(
        sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"), default=default, check_circular=False
    ).encode

    def text(value: Any, depth: int) -> str:
        if depth >= _DATA_JSON_OPEN_LEVELS or not isinstance(value, dict) or not value:
            return compact(value)
        if not all(isinstance(key, str) for key in value):
            return compact(value)  # JSON's own spelling of other keys (true, null, 1.5)
        pad = " " * (depth + 1)
        keys = sorted(value) if sort_keys else list(value)
        members = [f"{pad}{compact(key)}: {text(value[key], depth + 1)}" for key in keys]
        return "{\n" + ",\n".join(members) + "\n" + " " * depth + "}"

    return text(data, 0) + "\n"


_DATA_JSON_OPEN_LEVELS = 2
