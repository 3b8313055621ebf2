"""Performance helpers that are about the interpreter, not the domain."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


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
