"""Search design → generated pytest file, and the data it makes when it runs (pure).

The data is not written at plan time: the generated test makes it from `tests/data/model.json`
through `polyplan.validate.store_data`, which calls `data_text` here. It holds the seeded documents (from `polyplan.seed.generate`, with the hot groups of
`polyplan.seed.discriminating`) and, for every search pattern, the parameters of one run plus
what it must return: the id of the document the parameters were taken from, the ids every
filter other than full text allows (so a pattern without full text must return exactly that
set), and the model's own answer (`polyplan.stores.search.oracle`): the hit count (the size
where the group is larger), the ids in order where the sort is total, and which properties of
the pattern — its size, sort, ties, each filter and range bound — the data shows.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from polyplan.model.derived import all_attributes
from polyplan.model.schema import AccessPattern, Attribute, FilterOp, TypeName
from polyplan.perf import data_json
from polyplan.plan.geo import is_geo
from polyplan.plan.ir import Plan
from polyplan.seed.discriminating import discriminating_rows
from polyplan.seed.generate import generate, rows_for_scale
from polyplan.stores.document.discriminating import make_ties
from polyplan.stores.search.design import SearchDesign, SearchIndex
from polyplan.stores.search.documents import document_id, to_document, to_json_value
from polyplan.stores.search.field_oracle import field_requirements
from polyplan.stores.search.mapping import NORMALIZER
from polyplan.stores.search.oracle import OUTSIDE, answer, cannot_match, has_words, tokens, widened
from polyplan.stores.search.oracle import comparable as _comparable
from polyplan.stores.search.queries import SearchQuery
from polyplan.validate.store_data import MODEL_FILE, model_json

SEED_ROWS = 40  # per entity: enough for every filter to match something, small enough to stay fast
FIRST_VERSION = 10
# Filters whose parameter a group of records shares (ranges are widened over the group instead).
GROUPED = frozenset(
    {FilterOp.EQ, FilterOp.IN, FilterOp.FULLTEXT, FilterOp.PREFIX}
)  # external versions of seeded documents start here, so "older" versions exist
SEEDED_EXPIRY = "9999-12-31T00:00:00Z"  # a seeded document's expiry instant, where records expire


def _fold(value: Any, folded: bool) -> Any:
    return value.casefold() if folded and isinstance(value, str) else value


def _step(value: Any, attribute: Attribute) -> Any:
    """A value just above `value` (upper bound of a half-open range that includes it)."""
    if attribute.type in (TypeName.STRING, TypeName.TEXT, TypeName.ENUM, TypeName.UUID):
        return str(value) + "\uffff"
    if isinstance(value, dt.datetime):
        return value + dt.timedelta(seconds=1)
    if isinstance(value, dt.date):
        return value + dt.timedelta(days=1)
    if isinstance(value, bool):
        return True
    if isinstance(value, Decimal):
        return value + 1
    return value + 1


def _step_down(value: Any, attribute: Attribute) -> Any:
    """A value just below `value` (an exclusive lower bound that keeps it)."""
    if attribute.type in (TypeName.STRING, TypeName.TEXT, TypeName.ENUM, TypeName.UUID):
        return ""
    if isinstance(value, dt.datetime):
        return value - dt.timedelta(seconds=1)
    if isinstance(value, dt.date):
        return value - dt.timedelta(days=1)
    if isinstance(value, bool):
        return False
    return value - 1


def _searched_word(text: str, attribute: str, records: list[dict[str, Any]]) -> str:
    """The word of the target's text that most seeded records hold (then the longest): records
    outside the target's group that hold it too are what shows each other filter at work."""
    words = sorted({w for w in "".join(c if c.isalnum() else " " for c in text).split() if len(w) >= 3})
    if not words:
        return text
    folded = {w.casefold() for w in words}
    holders = Counter(t for r in records if r.get(attribute) is not None for t in tokens(r[attribute]) & folded)
    return max(words, key=lambda w: (holders[w.casefold()], len(w), w))


def _folds(index: SearchIndex, attribute: str) -> bool:
    return index.fields[attribute].get("normalizer") == NORMALIZER


def _matcher(
    index: SearchIndex, pattern: AccessPattern, params: dict[str, tuple[str, str, Any]]
) -> Callable[[dict[str, Any]], bool]:
    """A predicate that says whether a record passes every filter except full text."""
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for flt in pattern.filters:
        if flt.value is not None:
            fold = _folds(index, flt.attribute)
            members = [_fold(v, fold) for v in (flt.value if isinstance(flt.value, list) else [flt.value])]
            checks.append(_check(flt.attribute, "in", members, fold))
    for attr, op, raw in params.values():
        checks.append(_check(attr, op, raw, _folds(index, attr)))
    return lambda record: all(check(record) for check in checks)


def _check(attr: str, op: str, raw: Any, fold: bool) -> Callable[[dict[str, Any]], bool]:
    """How the search engine (Elasticsearch or OpenSearch alike) evaluates one parameterised filter, in Python."""

    def value(record: dict[str, Any]) -> Any:
        return _comparable(_fold(record.get(attr), fold))

    bound = _comparable(_fold(raw, fold))
    if op == "eq":
        return lambda r: r.get(attr) is not None and value(r) == bound
    if op == "in":
        members = {_comparable(_fold(x, fold)) for x in raw}
        return lambda r: r.get(attr) is not None and value(r) in members
    if op == "range_from":
        return lambda r: r.get(attr) is not None and value(r) >= bound
    if op == "range_to":
        return lambda r: r.get(attr) is not None and value(r) < bound
    if op == "range_above":
        return lambda r: r.get(attr) is not None and value(r) > bound
    if op == "range_through":
        return lambda r: r.get(attr) is not None and value(r) <= bound
    if op == "prefix":
        return lambda r: r.get(attr) is not None and str(r[attr]).casefold().startswith(str(raw).casefold())
    return lambda r: True  # full text: decided by the analyzer, checked through the expected hit


def _target(records: list[dict[str, Any]], pattern: AccessPattern) -> dict[str, Any]:
    """The record a pattern's parameters come from; constants are imposed on it if no record has them."""
    needed = [f.attribute for f in pattern.filters if f.value is None]
    constants = [
        (f.attribute, f.value[0] if isinstance(f.value, list) else f.value)
        for f in pattern.filters
        if f.value is not None
    ]
    # An empty list holds no word or item to search for (`[]` is not None, but no value either).
    candidates = [r for r in records if all(r.get(a) not in (None, []) for a in needed)] or records
    shared = [f.attribute for f in pattern.filters if f.value is None and f.op in GROUPED]
    passing = [r for r in candidates if all(r.get(a) == v for a, v in constants)]
    if passing:
        # The record of the largest parameter group (the seed's hot group): more matches than the size.
        sizes: dict[tuple[str, ...], int] = {}
        for record in passing:
            group = tuple(repr(record.get(a)) for a in shared)
            sizes[group] = sizes.get(group, 0) + 1
        return max(passing, key=lambda r: sizes[tuple(repr(r.get(a)) for a in shared)])
    record = candidates[0]
    for attr, value in constants:
        record[attr] = value
    return record


def _case(
    index: SearchIndex,
    query: SearchQuery,
    pattern: AccessPattern,
    records: list[dict[str, Any]],
    attributes: dict[str, Attribute],
    target: dict[str, Any],
) -> dict[str, Any]:
    params: dict[str, tuple[str, str, Any]] = {}
    for param in query.params:
        attribute = attributes[param.attribute]
        value = target[param.attribute]
        if param.op == "eq":
            raw: Any = value
        elif param.op == "in":
            raw = [value]
        elif param.op in ("range_from", "range_through"):
            raw = value
        elif param.op == "range_above":
            # The nearest seeded value below the target: the target matches, that record does not.
            below = sorted(
                {
                    _comparable(r[param.attribute])
                    for r in records
                    if r.get(param.attribute) is not None and _comparable(r[param.attribute]) < _comparable(value)
                }
            )
            raw = below[-1] if below else _step_down(value, attribute)
            if (
                isinstance(value, dt.datetime)
                and value.tzinfo is not None
                and isinstance(raw, dt.datetime)
                and raw.tzinfo is None
            ):
                raw = raw.replace(tzinfo=dt.UTC)
        elif param.op == "range_to":
            above = sorted(
                {
                    _comparable(r[param.attribute])
                    for r in records
                    if r.get(param.attribute) is not None and _comparable(r[param.attribute]) > _comparable(value)
                }
            )
            raw = above[0] if above else _step(value, attribute)
            if (
                isinstance(value, dt.datetime)
                and value.tzinfo is not None
                and isinstance(raw, dt.datetime)
                and raw.tzinfo is None
            ):
                raw = raw.replace(tzinfo=dt.UTC)
        elif param.op == "prefix":
            raw = str(value)[: max(1, len(str(value)) // 2)]
        else:
            raw = _searched_word(str(value), param.attribute, records)
        params[param.name] = (param.attribute, param.op, raw)
    # Ranges over the group rather than around the target: more matches than the size, and
    # OUTSIDE records of the group beyond each bound.
    words = {attr: str(raw) for attr, op, raw in params.values() if op == "fulltext"}
    for name, (attr, op, raw) in list(params.items()):
        if op == "prefix":
            # The longest prefix of the target's value that more records than the size start with
            # (else the shortest): a prefix group the size cuts.
            for length in range(len(str(raw)), 0, -1):
                params[name] = (attr, op, str(target[attr])[:length])
                group_matches = _matcher(index, pattern, params)
                if sum(1 for r in records if group_matches(r) and has_words(r, words)) > query.size:
                    break
            else:
                # No prefix of the target's value does: the first letter most of the group shares.
                others = _matcher(index, pattern, {n: p for n, p in params.items() if n != name})
                firsts = Counter(
                    str(r[attr])[:1].casefold() for r in records if r.get(attr) and others(r) and has_words(r, words)
                )
                if firsts:
                    params[name] = (attr, op, min(firsts, key=lambda c: (-firsts[c], c)))
    in_group = _matcher(index, pattern, {n: p for n, p in params.items() if not p[1].startswith("range_")})
    group = [r for r in records if in_group(r)]
    for name, (attr, op, raw) in list(params.items()):
        if op.startswith("range_"):
            params[name] = (attr, op, widened(group, attr, op, raw))
    matches = _matcher(index, pattern, params)
    if not matches(target):
        target = next((r for r in records if matches(r)), target)
    key = index.doc_id
    json_params = {
        name: (
            [to_json_value(v, attributes[attr]) for v in raw]
            if isinstance(raw, list)
            else (raw if op in ("prefix", "fulltext") else to_json_value(raw, attributes[attr]))
        )
        for name, (attr, op, raw) in params.items()
    }
    checks = {
        name: _check(attr, op, raw, _folds(index, attr)) for name, (attr, op, raw) in params.items() if op != "fulltext"
    }
    for flt in pattern.filters:
        if flt.value is not None:
            fold = _folds(index, flt.attribute)
            members = [_fold(v, fold) for v in (flt.value if isinstance(flt.value, list) else [flt.value])]
            checks[f"constant {flt.attribute}"] = _check(flt.attribute, "in", members, fold)
    folded = {field for field, _ in query.sort if field in index.fields and _folds(index, field)}
    oracle = answer(
        records, lambda r: document_id(r, key), checks, words, query, folded, _unique_sort(pattern, attributes, query)
    )
    # Records passing every other filter that the searched words cannot match (the seed's near
    # records for full text): a query that lost its full-text clause returns them.
    unmatched = sorted(document_id(r, key) for r in records if words and matches(r) and cannot_match(r, words))
    for name, (_, op, _) in params.items():
        if op == "fulltext":
            oracle["properties"][f"filter {name}"] = None
            if unmatched:
                oracle["shows"] = sorted({*oracle["shows"], f"filter {name}"})
    return {
        **oracle,
        "allowed": sorted(document_id(r, key) for r in records if matches(r)),
        "unmatched": unmatched,
        "exact": not any(f.op is FilterOp.FULLTEXT for f in pattern.filters),
        "expect": document_id(target, key),
        "params": json_params,
        "size": query.size,
        "sort": [direction for _, direction in query.sort],
        "template_id": query.template_id,
    }


def _make_ties(
    index: SearchIndex, records: list[dict[str, Any]], attributes: dict[str, Attribute], cases: dict[str, Any]
) -> bool:
    """Ties on the first sort key of each sorted pattern among the records it matches, where the
    model lets two records share it (see `make_ties`); whether a record changed."""
    changed = False
    by_id = {document_id(r, index.doc_id): r for r in records}
    for query in index.queries:
        if not query.sort or query.sort[0][0] not in attributes or attributes[query.sort[0][0]].unique:
            continue
        field = query.sort[0][0]
        if field in index.doc_id:
            continue
        matching = [by_id[i] for i in cases[query.pattern]["allowed"] if by_id[i].get(field) is not None]
        matching.sort(key=lambda r: _comparable(r[field]))
        before = [r[field] for r in matching]
        make_ties(matching, field)
        changed |= before != [r[field] for r in matching]
    return changed


def _unique_sort(pattern: AccessPattern, attributes: dict[str, Attribute], query: SearchQuery) -> str | None:
    """Why no two documents can tie on the first sort key (None when they can)."""
    if not query.sort:
        return None
    attribute = attributes.get(query.sort[0][0])
    if attribute is not None and attribute.unique:
        return f"{query.sort[0][0]} is unique in the model"
    return None


def test_data(plan: Plan, design: SearchDesign) -> dict[str, Any]:
    """Seeded documents and per-pattern expectations for every index."""
    model = plan.model
    entities = [i.entity for i in design.indexes]
    # Hot groups: per limited pattern a group beyond its size, OUTSIDE more per range bound,
    # and records failing each constant.
    rows, hot = discriminating_rows(model, rows_for_scale(model, 0.0, minimum=SEED_ROWS), entities, outside=OUTSIDE)
    seeded = generate(model, rows, only=entities, hot=hot) if design.indexes else {}
    by_name = {p.name: p for p in model.access_patterns}
    indexes: dict[str, Any] = {}
    for index in design.indexes:
        attributes = all_attributes(model, index.entity)
        records = [dict(r) for r in seeded[index.entity]]
        # Geo reads are checked against the haversine oracle by their own test (validate/geo.py's
        # cases need the points and radii, not this module's value groups).
        queries = [q for q in index.queries if not is_geo(by_name[q.pattern])]
        targets = {query.pattern: _target(records, by_name[query.pattern]) for query in queries}
        cases = {
            query.pattern: _case(index, query, by_name[query.pattern], records, attributes, targets[query.pattern])
            for query in queries
        }
        if _make_ties(index, records, attributes, cases):
            # The data changed: every case again, on the final records.
            cases = {
                query.pattern: _case(index, query, by_name[query.pattern], records, attributes, targets[query.pattern])
                for query in index.queries
            }
        # Seeded records of a store that expires them have not expired: their instant is far ahead.
        expiry = {index.expiry_field: SEEDED_EXPIRY} if index.expiry_field else {}
        docs = [
            {
                "_id": document_id(r, index.doc_id),
                "source": {**to_document(r, attributes), **expiry},
                "version": FIRST_VERSION + i,
            }
            for i, r in enumerate(records)
        ]
        indexes[index.alias] = {
            "cases": cases,
            "docs": docs,
            "fields": sorted(index.properties),
            "field_types": field_requirements(
                {name: a for name, a in attributes.items() if name in index.fields},
                [by_name[query.pattern] for query in index.queries],
            ),
            "first_index": index.first_index,
            "policy": index.lifecycle.name,
            "refresh_interval": f"{index.refresh_seconds}s",
            "shards": index.shards,
            **design.engine.test_index_data(index),
        }
    return {"indexes": indexes, "model": model.name}


def data_text(plan: Plan, design: SearchDesign) -> str:
    """The generated test's data as JSON text (what `polyplan.validate.store_data` hands it)."""
    return data_json(test_data(plan, design))


def render_tests(plan: Plan, design: SearchDesign) -> dict[str, str]:
    """Generated test file of the design's engine and the model file it makes its data from,
    keyed by path under OUT/tests/.

    The file is named `test_<engine>.py` so that `polyplan validate OUT --engine <engine>` finds it.
    """
    if not design.indexes:
        return {}
    engine = design.engine
    return {
        f"test_{engine.name}.py": engine.test_template.replace("@MODEL@", plan.model.name),
        f"data/{MODEL_FILE}": model_json(plan),
    }
