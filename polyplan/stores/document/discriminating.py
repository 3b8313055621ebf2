"""Cases of a document pattern whose data can fail a wrong query (pure).

The seed's hot groups (`polyplan.seed.discriminating`) give each limited pattern a parameter
group with more documents than its limit, and documents that fail its constants. Here a pattern
with a range gets two cases on that group: a *wide* window (more matches than the limit, some
documents outside each bound) and a *narrow* one (fewer matches than the limit, so a bound the
sort reads last shows too); documents tied on the first sort key are made where the model lets
two documents share it. Per case the data records which properties of the pattern it shows —
its limit, each sort direction, ties, each range bound, each other filter — with the answer the
query would give without each filter, so the generated test can assert them before it asks the
server anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import pairwise
from typing import Any

from polyplan.stores.document.spec import QuerySpec

WIDE, NARROW, MEDIAN, SMALL = "wide", "narrow", "median", "small"
# An empty prefix matches every value: the seed makes no group of values sharing a longer
# prefix beyond a limit, so this case is the one whose answer a LIMIT cuts.
EMPTY_PREFIX = "empty-prefix"
OUTSIDE = 2  # documents of the group each bound of a wide window excludes
BOUNDS = ("$gt", "$gte", "$lt", "$lte")
Document = dict[str, Any]


def spreads(query: QuerySpec) -> list[str]:
    """The cases a pattern takes: wide and narrow windows for a limited range (else one case on
    its largest group); for a limited pattern with equality or IN filters a small group too
    (under the limit, where a dropped filter adds documents the limit does not cut), and with a
    prefix filter an empty prefix (more matches than the limit)."""
    ranged = any(p.kind in ("min", "from", "above", "to", "through") for p in query.params)
    found = [WIDE, NARROW] if ranged and query.limit else [MEDIAN]
    if query.limit and any(p.kind in ("value", "list") for p in query.params):
        found.append(SMALL)
    if query.limit and any(p.kind == "prefix" for p in query.params):
        found.append(EMPTY_PREFIX)
    return found


def small_score(combo: tuple[str, ...], combos: Mapping[tuple[str, ...], int], limit: int | None) -> int:
    """For a small case: how many of the group's equality values, left out one at a time, let
    in documents of other groups (0 for a group at or beyond the limit)."""
    if limit is not None and combos[combo] >= limit:
        return -1
    score = 0
    for left_out in range(len(combo)):
        rest = combo[:left_out] + combo[left_out + 1 :]
        score += any(other != combo and other[:left_out] + other[left_out + 1 :] == rest for other in combos)
    return score


def positions(kind: str, count: int, spread: str, limit: int | None) -> tuple[int, int]:
    """Indexes into `count` sorted values for a bound of `kind` (("min") the low and the high
    value; one-sided kinds use the first), under `spread`."""
    if spread == MEDIAN or limit is None:
        return (count // 4, (3 * count) // 4) if kind == "min" else (count // 2, count // 2)
    last = count - 1
    outside = min(OUTSIDE, max(0, (count - 2) // 4))
    width = max(2, min(limit - 1, count - 2 * outside - 1) // 2)
    if kind == "min":
        return (outside, last - outside) if spread == WIDE else (outside, min(last, outside + width))
    if kind in ("from", "above"):
        wide = outside if kind == "from" else max(0, outside - 1)
        return (wide, wide) if spread == WIDE else (max(0, last - width), max(0, last - width))
    wide = last - outside if kind == "through" else min(last, last - outside + 1)
    return (wide, wide) if spread == WIDE else (min(last, width), min(last, width))


def filter_properties(flt: Mapping[str, Any]) -> list[tuple[str, Callable[[dict[str, Any]], None]]]:
    """(name, how to drop it from a filter) per range bound and per other filtered field."""
    found: list[tuple[str, Callable[[dict[str, Any]], None]]] = []
    for field, condition in flt.items():
        if field.startswith("$"):
            continue
        bounds = [op for op in condition if op in BOUNDS] if isinstance(condition, dict) else []
        for op in bounds:

            def drop_bound(target: dict[str, Any], field: str = field, op: str = op) -> None:
                del target[field][op]
                if not target[field]:
                    del target[field]

            found.append((f"bound {field} {op}", drop_bound))
        if not bounds:

            def drop(target: dict[str, Any], field: str = field) -> None:
                del target[field]

            found.append((f"filter {field}", drop))
    return found


def properties(query: QuerySpec, unique_sort: str | None) -> dict[str, str | None]:
    """What the pattern's data must show, named, with the reason one cannot hold (else None)."""
    found: dict[str, str | None] = {}
    if query.limit:
        found["limit"] = None
    for path, direction in query.sort:
        found[f"sort {path} {direction}"] = None
    if query.sort:
        found[f"ties {query.sort[0][0]}"] = unique_sort
    for name, _ in filter_properties(query.filter):
        found[name] = None
    return found


Answer = Callable[[Mapping[str, Any], tuple[tuple[str, int], ...], int | None], tuple[list[Document], list[Any]]]


def shown_properties(
    query: QuerySpec, flt: dict[str, Any], answer: Answer, identity: Callable[[Document], Any]
) -> tuple[list[str], dict[str, Any]]:
    """The properties one case shows, and per filter the answer without it (count, sort keys,
    and how many documents it returns that the right filter does not match). `answer(filter,
    sort, limit)` gives the returned documents and their sort keys."""
    right, keys = answer(flt, query.sort, query.limit)
    matching = {repr(identity(d)) for d in answer(flt, query.sort, None)[0]}
    shows: list[str] = []
    if query.limit and len(answer(flt, query.sort, None)[0]) > query.limit:
        shows.append("limit")
    flipped = tuple((path, -direction) for path, direction in query.sort)
    if query.sort and answer(flt, flipped, query.limit)[1] != keys:
        shows += [f"sort {path} {direction}" for path, direction in query.sort]
    if query.sort and any(a[:1] == b[:1] for a, b in pairwise(keys)):
        shows.append(f"ties {query.sort[0][0]}")
    without: dict[str, Any] = {}
    for name, drop in filter_properties(flt):
        loose = {k: dict(v) if isinstance(v, dict) else v for k, v in flt.items()}
        drop(loose)
        got, got_keys = answer(loose, query.sort, query.limit)
        outside = sum(1 for d in got if repr(identity(d)) not in matching)
        if len(got) != len(right) or (query.sort and got_keys != keys) or outside:
            shows.append(name)
            without[name] = {"count": len(got), "sort_keys": got_keys if query.sort else None, "outside": outside}
    return sorted(set(shows)), without


def make_ties(matching: list[Document], path: str) -> None:
    """Every third of the matching documents (in their answer's order) takes the sort value of
    the one before it: ties on the first sort key, with distinct values around them."""
    for index in range(2, len(matching), 3):
        if matching[index - 1].get(path) is not None:
            matching[index][path] = matching[index - 1][path]
