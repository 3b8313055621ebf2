"""The model's answer to a search pattern on the seeded records, and what the data shows (pure).

The generated OpenSearch/Elasticsearch test compares the engine's hits with this answer, which
is computed from the access pattern in the model (filters, constants, ranges, sort, size) and
the seeded records, never from the query templates under test. Full text is decided by the
engine's analyzer: records holding the searched word as a token are a lower bound of its
matches, so a full-text pattern gets an exact count only when that bound reaches the size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import partial
from itertools import pairwise
from typing import Any

from polyplan.stores.search.queries import SearchQuery

OUTSIDE = 2  # records of a pattern's group beyond each range bound
Record = dict[str, Any]
Check = Callable[[Record], bool]


def comparable(value: Any) -> Any:
    """`value` as the engine compares it: aware datetimes in UTC, without the zone."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def widened(group: list[Record], attribute: str, op: str, raw: Any) -> Any:
    """A range bound over `group` that leaves OUTSIDE distinct values of it beyond the bound
    (`raw` when the group has too few values for that)."""
    values: dict[Any, Any] = {}
    for record in group:
        if record.get(attribute) is not None:
            values.setdefault(comparable(record[attribute]), record[attribute])
    ordered = [values[k] for k in sorted(values)]
    count = len(ordered)
    if count < 2 * OUTSIDE + 2:
        return raw
    position = {
        "range_from": OUTSIDE,
        "range_above": OUTSIDE - 1,
        "range_to": count - OUTSIDE,
        "range_through": count - OUTSIDE - 1,
    }[op]
    return ordered[position]


def tokens(text: Any) -> set[str]:
    """The casefolded words of `text` (a lower bound of what an analyzer indexes)."""
    return set("".join(c if c.isalnum() else " " for c in str(text).casefold()).split())


def cannot_match(record: Record, words: Mapping[str, str]) -> bool:
    """Whether no analyzer can match `record` to a searched word: the word is letters only and
    each word of the record's text a digit or two (stemming keeps letters; AUTO fuzziness allows
    two edits at most, fewer than it would take). A sound, narrow test: the seed's near records
    for full text (`polyplan.seed.generate.unsearchable`) pass it."""
    for attr, word in words.items():
        text = record.get(attr)
        found = tokens(text) if text is not None else set()
        if word.isalpha() and all(t.isdigit() and len(t) <= 2 for t in found):
            return True
    return False


def has_words(record: Record, words: Mapping[str, str]) -> bool:
    """Whether `record` holds each searched word as a token of its attribute (a lower bound of
    what the analyzer matches)."""
    return all(attr in record and word.casefold() in tokens(record[attr]) for attr, word in words.items())


def _sorted(records: list[Record], sort: tuple[tuple[str, str], ...], folded: set[str]) -> list[Record]:
    """`records` in the query's sort order; a missing value sorts last either way (the engine's
    default), ties keep the records' order."""

    result = list(records)
    for field, direction in reversed(sort):
        present = [r for r in result if r.get(field) is not None]
        present.sort(key=partial(_value, field=field, folded=folded), reverse=direction == "desc")
        result = present + [r for r in result if r.get(field) is None]
    return result


def _value(record: Record, field: str, folded: set[str]) -> Any:
    """A record's sort value as the engine compares it (a normalized keyword casefolded)."""
    found = record.get(field)
    return found.casefold() if field in folded and isinstance(found, str) else comparable(found)


def _keys(records: list[Record], query: SearchQuery, folded: set[str]) -> list[list[str]]:
    return [[repr(_value(r, f, folded)) for f, _ in query.sort] for r in records]


def answer(
    records: list[Record],
    identity: Callable[[Record], str],
    checks: Mapping[str, Check],
    words: Mapping[str, str],
    query: SearchQuery,
    folded: set[str],
    unique_sort: str | None,
) -> dict[str, Any]:
    """The number of records the model says match (a lower bound under full text), the hit count and ordered ids the pattern must give (None where the model cannot say),
    the properties of the pattern its data must show (name → why it cannot, or None), the ones
    it does show, and per filter the count of matches without it."""

    def passes(record: Record, left_out: str | None = None) -> bool:
        if any(attr not in record or word.casefold() not in tokens(record[attr]) for attr, word in words.items()):
            return False
        return all(check(record) for name, check in checks.items() if name != left_out)

    matching = _sorted([r for r in records if passes(r)], query.sort, folded)
    size = query.size
    page = matching[:size]
    count = min(size, len(matching)) if not words else (size if len(matching) >= size else None)
    order = None
    if not words and query.sort:
        keys = _keys(matching[: size + 1], query, folded)
        total = all(r.get(f) is not None for r in page for f, _ in query.sort) and all(
            a != b for a, b in pairwise(keys)
        )
        order = [identity(r) for r in page] if total else None
    properties: dict[str, str | None] = {"size": None}
    shows: list[str] = []
    if len(matching) > size:
        shows.append("size")
    if query.sort:
        for field, direction in query.sort:
            properties[f"sort {field} {direction}"] = None
        properties[f"ties {query.sort[0][0]}"] = unique_sort
        reverse = tuple((f, "asc" if d == "desc" else "desc") for f, d in query.sort)
        backwards = _sorted(matching, reverse, folded)
        if _keys(backwards[:size], query, folded) != _keys(page, query, folded):
            shows += [f"sort {field} {direction}" for field, direction in query.sort]
        first = [k[0] for k in _keys(matching, query, folded)]
        if any(a == b for a, b in pairwise(first)):
            shows.append(f"ties {query.sort[0][0]}")
    without: dict[str, int] = {}
    for name in checks:
        properties[f"filter {name}"] = None
        loose = [r for r in records if passes(r, name)]
        if len(loose) > len(matching):
            shows.append(f"filter {name}")
            without[f"filter {name}"] = len(loose)
    return {
        "count": count,
        "matches": len(matching),
        "order": order,
        "properties": properties,
        "shows": sorted(set(shows)),
        "without": without,
    }
