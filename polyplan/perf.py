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


def indented_json(data: Any, *, sort_keys: bool = False, default: Callable[[Any], Any] | None = None) -> str:
    """Exactly `json.dumps(data, indent=2, ensure_ascii=False, sort_keys=…, default=…)`, faster.

    With `indent` the standard library runs its pure-Python, generator-based encoder; plan.json
    of a 1,000-entity model (1.6 million values) spent seconds there. This walks the data once
    with plain recursion and the C string encoder, and spells every value as that encoder does
    (its type tests in its order: str, None, True, False, int, float, list/tuple, dict).
    """
    chunks: list[str] = []
    append = chunks.append
    text = _c_encode_basestring or json.encoder.py_encode_basestring

    def number(value: float) -> str:
        if value != value:
            return "NaN"
        if value == _INFINITY:
            return "Infinity"
        if value == -_INFINITY:
            return "-Infinity"
        return float.__repr__(value)

    def key_text(key: Any) -> str:
        if isinstance(key, str):
            return key
        if isinstance(key, float):
            return number(key)
        if key is True:
            return "true"
        if key is False:
            return "false"
        if key is None:
            return "null"
        if isinstance(key, int):
            return int.__repr__(key)
        raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")

    def walk(value: Any, pad: str) -> None:
        if isinstance(value, str):
            append(text(value))
        elif value is None:
            append("null")
        elif value is True:
            append("true")
        elif value is False:
            append("false")
        elif isinstance(value, int):
            append(int.__repr__(value))
        elif isinstance(value, float):
            append(number(value))
        elif isinstance(value, list | tuple):
            if not value:
                append("[]")
                return
            inner = pad + "  "
            separator = ",\n" + inner
            append("[\n" + inner)
            first = True
            for item in value:
                if not first:
                    append(separator)
                first = False
                walk(item, inner)
            append("\n" + pad + "]")
        elif isinstance(value, dict):
            if not value:
                append("{}")
                return
            inner = pad + "  "
            separator = ",\n" + inner
            append("{\n" + inner)
            first = True
            for key, item in sorted(value.items()) if sort_keys else value.items():
                if not first:
                    append(separator)
                first = False
                append(text(key_text(key)) + ": ")
                walk(item, inner)
            append("\n" + pad + "}")
        elif default is not None:
            walk(default(value), pad)
        else:
            raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")

    walk(data, "")
    return "".join(chunks)


_INFINITY = float("inf")
_c_encode_basestring: Callable[[str], str] | None = getattr(json.encoder, "c_encode_basestring", None)
