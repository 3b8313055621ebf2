"""Generated tests for the MongoDB design: seeded documents, cases, and a pytest file.

At emit time the seeded records become documents (embedded parts nested, many-to-many arrays
filled) and every check gets concrete inputs: the parameters of each pattern's query, with the
documents that match and the order they must come in; documents the validator must reject and
why; duplicates each unique index must refuse. The generated test applies setup.py to a
throw-away database, inserts, and checks all of it on the real server, including that each
pattern's winning plan scans the designed index. Pure: returns texts.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from polyplan.model.derived import all_attributes, key_of, patterns_of, reference_of
from polyplan.model.schema import CompareOp, Direction, FilterOp, RequirementsModel, TypeName
from polyplan.plan.ir import Plan
from polyplan.seed.discriminating import discriminating_rows
from polyplan.seed.generate import generate, link_columns, rows_for_targets
from polyplan.stores.document import codec
from polyplan.stores.document.derived import derived_writes
from polyplan.stores.document.design import SIZE_BUDGET
from polyplan.stores.document.discriminating import (
    EMPTY_PREFIX,
    SMALL,
    make_ties,
    positions,
    properties,
    shown_properties,
    small_score,
    spreads,
)
from polyplan.stores.document.extjson import Decimal128
from polyplan.stores.document.indexes import field_path
from polyplan.stores.document.lookups import follow
from polyplan.stores.document.render import dumps
from polyplan.stores.document.spec import CollectionSpec, DocumentDesign, QuerySpec
from polyplan.stores.document.templates import substitute

DOCUMENTS_PER_COLLECTION = 30
OTHER_ROWS = 5
PARENT_ROWS = 8
DATA_FILE = "data/mongodb_cases.json"
TEST_FILE = "test_mongodb.py"
# TTL collections get their dates moved this far ahead so the TTL monitor leaves the test data alone.
TTL_SHIFT = timedelta(days=36525)
CONSTANT_MATCHES = 5  # documents that should satisfy a pattern's constant filters
OVER_CAP = 5  # documents inserted beyond a capped collection's max
MAX_CAPPED_CASE = 500
STOP_WORDS = frozenset(
    {
        "about",
        "above",
        "after",
        "again",
        "against",
        "before",
        "being",
        "below",
        "between",
        "during",
        "further",
        "having",
        "other",
        "ourselves",
        "should",
        "their",
        "theirs",
        "themselves",
        "there",
        "these",
        "those",
        "through",
        "under",
        "until",
        "where",
        "which",
        "while",
        "would",
        "yourself",
        "yourselves",
    }
)


# --- documents -------------------------------------------------------------------------------


def _documents(
    plan: Plan, design: DocumentDesign, records: Mapping[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    model = plan.model
    result: dict[str, list[dict[str, Any]]] = {}
    for collection in design.collections:
        shift = TTL_SHIFT if any(i.expire_after is not None for i in collection.indexes) else None
        attributes = all_attributes(model, collection.entity)
        documents = []
        for record in records[collection.entity]:
            document = codec.fields_document(attributes, record, shift, collection.paths)
            for embedding in collection.embedded:
                relationship = next(r for r in model.relationships if r.name == embedding.relationship)
                child_fields = dict(all_attributes(model, embedding.child))
                reference = reference_of(model, relationship)
                assert reference is not None
                mine = [
                    c
                    for c in records[embedding.child]
                    if all(c.get(column) == record.get(attr) for column, attr in reference.columns.items())
                ]
                parts = [
                    codec.fields_document(
                        {n: a for n, a in child_fields.items() if n not in reference.columns}, c, shift
                    )
                    for c in mine
                ]
                if embedding.field is None:
                    continue
                if relationship.kind.value == "one_to_one":
                    if parts:
                        document[embedding.field] = parts[0]
                else:
                    document[embedding.field] = parts[: embedding.max_children or len(parts)]
            for link in collection.links:
                relationship = next(r for r in model.relationships if r.name == link.relationship)
                _, to_columns = link_columns(model, relationship)
                key_values = {column: record.get(attr) for column, attr in to_columns.items()}
                items = []
                for row in records.get(relationship.name, []):
                    if all(row.get(c) == v for c, v in key_values.items()):
                        item = codec.fields_document(link.item_fields, row, shift)
                        items.append(next(iter(item.values())) if len(link.item_fields) == 1 else item)
                document[link.field] = items
            documents.append(document)
        result[collection.name] = documents
    return result


# --- expected answers ------------------------------------------------------------------------


def _get(document: Mapping[str, Any], path: str) -> Any:
    # A JSON sub-field's filter names a dotted path (`payload.device.model`); no field name has a dot.
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _matches(document: Mapping[str, Any], flt: Mapping[str, Any], text_word: str | None) -> bool:
    for path, condition in flt.items():
        if path == "$text":
            if text_word is None:
                return False
            continue
        value = _get(document, path)
        if isinstance(condition, dict) and any(str(k).startswith("$") for k in condition):
            for op, operand in condition.items():
                if value is None:
                    return False
                if op == "$in" and value not in operand:
                    return False
                if op == "$gte" and not codec.comparable(value) >= codec.comparable(operand):
                    return False
                if op == "$lte" and not codec.comparable(value) <= codec.comparable(operand):
                    return False
                if op == "$gt" and not codec.comparable(value) > codec.comparable(operand):
                    return False
                if op == "$lt" and not codec.comparable(value) < codec.comparable(operand):
                    return False
                if op == "$regex" and not (isinstance(value, str) and re.search(operand, value)):
                    return False
        elif value != condition and not (isinstance(value, list) and condition in value):
            return False  # a scalar matches an array field when an element equals it (contains)
    return True


def _has_word(document: Mapping[str, Any], paths: list[str], word: str) -> bool:
    for path in paths:
        value = _get(document, path)
        if isinstance(value, str) and word.lower() in re.findall(r"[a-z0-9]+", value.lower()):
            return True
    return False


def _sort_key(document: Mapping[str, Any], sort: tuple[tuple[str, int], ...]) -> tuple[Any, ...]:
    return tuple(codec.comparable(_get(document, path)) for path, _ in sort)


def _ordered(documents: list[dict[str, Any]], sort: tuple[tuple[str, int], ...]) -> list[dict[str, Any]]:
    result = list(documents)
    for path, direction in reversed(sort):
        present = [d for d in result if _get(d, path) is not None]
        missing = [d for d in result if _get(d, path) is None]  # MongoDB sorts missing first ascending
        present.sort(key=lambda d: codec.comparable(_get(d, path)), reverse=direction < 0)
        result = missing + present if direction > 0 else present + missing
    return result


def _richness(query: QuerySpec, document: Mapping[str, Any], everything: Mapping[str, list[dict[str, Any]]]) -> int:
    """How much of a pattern's loading a document exercises: embedded items plus resolvable lookups."""
    score = sum(
        len(document.get(field) or []) if isinstance(document.get(field), list) else 1
        for field in query.embedded
        if field in document
    )
    for lookup in query.lookups:
        if lookup.collection and lookup.local_paths:
            value = document.get(lookup.local_paths[0])
            # A resolvable lookup outweighs any number of embedded items: it is the rarer case in seeded data.
            score += 1000 * any(r.get(lookup.foreign_paths[0]) == value for r in everything.get(lookup.collection, []))
    return score


def _choose_params(
    query: QuerySpec,
    documents: list[dict[str, Any]],
    everything: Mapping[str, list[dict[str, Any]]],
    spread: str = "median",
) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    """Parameters that select several documents (rich in loaded parts), the matches, and the
    searched word; range bounds where `spread` puts them (see `discriminating.positions`)."""
    constants = {p: c for p, c in query.filter.items() if not _is_param(c) and p != "$text"}
    pool = [d for d in documents if _matches(d, constants, None)]
    params: dict[str, Any] = {}
    equal = [p for p in query.params if p.kind == "value"]
    if equal:
        combos: Counter[tuple[str, ...]] = Counter()
        rich: Counter[tuple[str, ...]] = Counter()
        for d in pool:
            if all(_get(d, p.path) is not None for p in equal):
                combo = tuple(repr(_get(d, p.path)) for p in equal)
                combos[combo] += 1
                rich[combo] += _richness(query, d, everything)
        if combos:
            order = {combo: position for position, combo in enumerate(combos)}
            wanted = max(combos, key=lambda c: (combos[c], rich[c], -order[c]))
            if spread == SMALL:
                wanted = max(combos, key=lambda c: (small_score(c, combos, query.limit), combos[c], -order[c]))
            pool = [d for d in pool if tuple(repr(_get(d, p.path)) for p in equal) == wanted]
            for p in equal:
                params[p.name] = _get(pool[0], p.path)
        else:
            # No document sets them all (e.g. an optional reference left empty in a small seed):
            # take each from any document, or null, which MongoDB matches as missing or null.
            for p in equal:
                params[p.name] = next((_get(d, p.path) for d in documents if _get(d, p.path) is not None), None)
    for p in (p for p in query.params if p.kind == "item"):
        # The commonest item (the rarest for SMALL) of the pool's arrays: the rest lack it.
        items = Counter(repr(i) for d in pool for i in dict.fromkeys(_get(d, p.path) or []))
        if not items:
            raise ValueError(f"{query.pattern}: no seeded {query.collection} document has items in {p.attribute}")
        ranked = sorted(items.items(), key=lambda item: (item[1] if spread == SMALL else -item[1], item[0]))
        item = ranked[0][0]
        params[p.name] = next(i for d in pool for i in (_get(d, p.path) or []) if repr(i) == item)
        pool = [d for d in pool if any(repr(i) == item for i in (_get(d, p.path) or []))]
    for p in (p for p in query.params if p.kind == "list"):
        counts = Counter(repr(d.get(p.path)) for d in pool if d.get(p.path) is not None)
        chosen = [r for r, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:2]]
        if spread == SMALL:  # the rarest value: documents of the others are what a dropped IN adds
            chosen = [r for r, _ in sorted(counts.items(), key=lambda item: (item[1], item[0]))[:1]]
        params[p.name] = [next(d[p.path] for d in pool if repr(d.get(p.path)) == r) for r in chosen]
        pool = [d for d in pool if repr(d.get(p.path)) in chosen]
    for p in (p for p in query.params if p.kind == "min"):
        values = sorted((_get(d, p.path) for d in pool if _get(d, p.path) is not None), key=codec.comparable)
        values = values or sorted(
            (_get(d, p.path) for d in documents if _get(d, p.path) is not None), key=codec.comparable
        )
        if not values:
            raise ValueError(f"{query.pattern}: no seeded {query.collection} document has {p.attribute}")
        low, high = positions(p.kind, len(values), spread, query.limit)
        params[p.name] = values[low]
        params[p.name.removesuffix("_min") + "_max"] = values[high]
    for p in (p for p in query.params if p.kind in ("from", "above", "to", "through")):
        # A one-sided bound at the median (or where `spread` puts it): documents on both sides.
        values = sorted((_get(d, p.path) for d in pool if _get(d, p.path) is not None), key=codec.comparable)
        values = values or sorted(
            (_get(d, p.path) for d in documents if _get(d, p.path) is not None), key=codec.comparable
        )
        if not values:
            raise ValueError(f"{query.pattern}: no seeded {query.collection} document has {p.attribute}")
        params[p.name] = values[positions(p.kind, len(values), spread, query.limit)[0]]
    for p in (p for p in query.params if p.kind == "prefix"):
        value = next((d[p.path] for d in pool if isinstance(d.get(p.path), str) and d[p.path]), "")
        params[p.name] = "^" + ("" if spread == EMPTY_PREFIX else re.escape(value[: min(3, len(value))]))
    word = None
    for p in (p for p in query.params if p.kind == "text"):
        text = next((d[p.path] for d in pool if isinstance(d.get(p.path), str)), "")
        words = [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4 and w not in STOP_WORDS]
        word = max(words, key=lambda w: (len(w), w)) if words else "zzzz"
        params[p.name] = word
    flt = substitute(query.filter, params)
    matching = [d for d in documents if _matches(d, flt, word)]
    if word is not None:
        text_paths = [p.path for p in query.params if p.kind == "text"]
        matching = [d for d in matching if _has_word(d, text_paths, word)]
    return params, matching, word


def _is_param(condition: Any) -> bool:
    if isinstance(condition, dict):
        return "$param" in condition or any(_is_param(v) for v in condition.values())
    return False


def identity_paths(model: RequirementsModel, collection: CollectionSpec) -> list[str]:
    """The fields that identify a document: _id, or the composite key's fields."""
    if collection.id_attribute:
        return ["_id"]
    return [collection.paths[a] for a in key_of(model.entities[collection.entity]).attributes]


def _identity(document: Mapping[str, Any], paths: list[str]) -> list[Any]:
    return [document.get(p) for p in paths]


def _ensure_constants(
    model: RequirementsModel, design: DocumentDesign, documents: Mapping[str, list[dict[str, Any]]]
) -> None:
    """Give a few documents the constants of each pattern's filter, so its answer is not empty.

    Seeded values follow the enum weights, so a rare constant (status = 'paid' at 5 %) may match no
    document of a few dozen. Attributes that are unique or compared by an entity check are left
    alone: changing them could make a document invalid.
    """
    for query in design.queries:
        collection = next(c for c in design.collections if c.name == query.collection)
        attributes = all_attributes(model, collection.entity)
        checked = {a for check in model.entities[collection.entity].checks for a in (check.left, check.right)}
        safe = {
            collection.paths[name]
            for name, attribute in attributes.items()
            if not attribute.unique and name not in checked and attribute.type is not TypeName.UUID
        }
        constants = {
            p: c for p, c in query.filter.items() if not _is_param(c) and p != "$text" and not isinstance(c, dict)
        }
        if not constants or not set(constants) <= safe:
            continue
        docs = documents[query.collection]
        missing = CONSTANT_MATCHES - sum(1 for d in docs if _matches(d, constants, None))
        for document in [d for d in docs if not _matches(d, constants, None)][: max(0, missing)]:
            document.update(constants)


def _answerer(
    docs: list[dict[str, Any]], word: str | None
) -> Callable[[Mapping[str, Any], tuple[tuple[str, int], ...], int | None], tuple[list[dict[str, Any]], list[Any]]]:
    """What a query returns from `docs` (and its sort keys), for any filter, sort and limit."""

    def answer(
        flt: Mapping[str, Any], sort: tuple[tuple[str, int], ...], limit: int | None
    ) -> tuple[list[dict[str, Any]], list[Any]]:
        found = [d for d in docs if _matches(d, flt, word)]
        found = _ordered(found, sort) if sort else found
        found = found[:limit] if limit else found
        return found, [[_get(d, path) for path, _ in sort] for d in found]

    return answer


def _identifier(paths: list[str]) -> Callable[[dict[str, Any]], list[Any]]:
    def identify(document: dict[str, Any]) -> list[Any]:
        return _identity(document, paths)

    return identify


def _unique_sort(model: RequirementsModel, collection: CollectionSpec, query: QuerySpec) -> str | None:
    """Why no two documents of a case can tie on the pattern's first sort key, or None."""
    if not query.sort:
        return None
    path = query.sort[0][0]
    attributes = all_attributes(model, collection.entity)
    name = next((a for a, p in collection.paths.items() if p == path), None)
    if path == "_id" or (name is not None and name in attributes and attributes[name].unique):
        return f"{path} is unique in the model"
    if name is not None and [name] == list(key_of(model.entities[collection.entity]).attributes):
        return f"{path} is the key"
    checked = {a for check in model.entities[collection.entity].checks for a in (check.left, check.right)}
    if name is None or name in checked or name not in attributes:
        return f"{path} is compared by a check or is not a stored attribute: left as seeded"
    return None


def _tie(model: RequirementsModel, design: DocumentDesign, documents: Mapping[str, list[dict[str, Any]]]) -> None:
    """Ties on each pattern's first sort key among the documents of its first case."""
    for query in design.queries:
        collection = next(c for c in design.collections if c.name == query.collection)
        if not query.sort or _unique_sort(model, collection, query) is not None:
            continue
        _, matching, _ = _choose_params(query, documents[query.collection], documents, spreads(query)[0])
        make_ties(_ordered(matching, query.sort), query.sort[0][0])


def _query_cases(
    model: RequirementsModel, design: DocumentDesign, documents: Mapping[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    _tie(model, design, documents)
    cases = []
    for query, spread in ((q, spread) for q in design.queries for spread in spreads(q)):
        docs = documents[query.collection]
        collection = next(c for c in design.collections if c.name == query.collection)
        ident = identity_paths(model, collection)
        params, matching, word = _choose_params(query, docs, documents, spread)
        ordered = _ordered(matching, query.sort) if query.sort else matching
        shown = ordered[: query.limit] if query.limit else ordered

        answer = _answerer(docs, word)
        shows, without = (
            ([], {})
            if word is not None
            else shown_properties(query, substitute(query.filter, params), answer, _identifier(ident))
        )
        case: dict[str, Any] = {
            "pattern": query.pattern,
            "params": params,
            "matching_ids": [_identity(d, ident) for d in matching],
            "expected_count": len(shown),
            "limit": query.limit,
            "text": word is not None,
            "sort_keys": [[_get(d, path) for path, _ in query.sort] for d in shown] if query.sort else None,
            "embedded_present": [f for f in query.embedded if shown and all(f in d for d in shown)],
            "lookups": [],
            "spread": spread,
            # A full-text answer is checked loosely (stemming finds more): its properties are not claimed.
            "properties": {} if word is not None else properties(query, _unique_sort(model, collection, query)),
            "shows": shows,
            "without": without,
        }
        if query.joined:
            # Each related field joined by $lookup, as the oracle reaches it for every matching document.
            case["joined"] = [
                {"field": f.field, "values": [[_identity(d, ident), follow(f, d, documents)] for d in matching]}
                for f in query.joined
            ]
        for lookup in query.lookups:
            if lookup.collection is None or not lookup.local_paths:
                continue
            values = [d.get(lookup.local_paths[0]) for d in shown if d.get(lookup.local_paths[0]) is not None]
            related = documents.get(lookup.collection, [])
            target = next(c for c in design.collections if c.name == lookup.collection)
            expected = [
                _identity(r, identity_paths(model, target)) for r in related if r.get(lookup.foreign_paths[0]) in values
            ]
            case["lookups"].append(
                {
                    "collection": lookup.collection,
                    "path": lookup.foreign_paths[0],
                    "values": values,
                    "hint": lookup.index,
                    "expected_ids": expected,
                }
            )
        cases.append(case)
    return cases


# --- invalid documents -----------------------------------------------------------------------


def _breaks_pattern(pattern: str, max_length: int | None) -> str | None:
    for candidate in ("", " ", "!", "~~~", "0", "a", "A", "-", "_", "é"):
        if (max_length is None or len(candidate) <= max_length) and re.search(pattern, candidate) is None:
            return candidate
    return None


def _below(value: Any) -> Any:
    if isinstance(value, Decimal128):
        return Decimal128(value.to_decimal() - Decimal(1))
    if isinstance(value, (int, float)):
        return value - 1
    return value - timedelta(days=1)


def _above(value: Any) -> Any:
    if isinstance(value, Decimal128):
        return Decimal128(value.to_decimal() + Decimal(1))
    if isinstance(value, (int, float)):
        return value + 1
    return value + timedelta(days=1)


def _numeric(attribute_type: TypeName, number: float) -> Any:
    if attribute_type is TypeName.DECIMAL:
        return Decimal128(Decimal(str(number)))
    if attribute_type is TypeName.INTEGER:
        return int(number)
    return float(number)


def _invalid_cases(
    model: RequirementsModel, collection: CollectionSpec, documents: list[dict[str, Any]], spare: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Documents the validator must reject: the spare (valid, never inserted) document with one rule broken."""
    if spare is None:
        return []
    base = spare
    attributes = all_attributes(model, collection.entity)
    cases: list[dict[str, Any]] = []

    def add(why: str, document: dict[str, Any]) -> None:
        cases.append({"collection": collection.name, "why": why, "document": document})

    def variant(**changes: Any) -> dict[str, Any]:
        document = copy.deepcopy(base)
        for path, value in changes.items():
            if value is _DROP:
                document.pop(path, None)
            else:
                document[path] = value
        return document

    required = [collection.paths[n] for n, a in attributes.items() if not a.nullable and collection.paths[n] != "_id"]
    for path in required:  # each one: a validator that lost any of them must be caught
        add(f"missing required field {path}", variant(**{path: _DROP}))
    by_type = {a.type: n for n, a in reversed(list(attributes.items())) if collection.paths[n] != "_id"}
    if TypeName.STRING in by_type or TypeName.TEXT in by_type:
        name = by_type.get(TypeName.STRING) or by_type[TypeName.TEXT]
        add(f"{name} is a number, not a string", variant(**{collection.paths[name]: 12345}))
    for name, attribute in attributes.items():
        path = collection.paths[name]
        if path == "_id":
            continue
        if attribute.type is TypeName.ENUM:
            add(f"{name} is not one of {attribute.values}", variant(**{path: "__not_in_enum__"}))
        if attribute.type is TypeName.STRING and attribute.max_length and attribute.pattern is None:
            add(f"{name} is longer than {attribute.max_length}", variant(**{path: "x" * (attribute.max_length + 1)}))
        if attribute.pattern is not None:
            bad = _breaks_pattern(attribute.pattern, attribute.max_length)
            if bad is not None:
                add(f"{name} does not match {attribute.pattern}", variant(**{path: bad}))
        if attribute.type in (TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT):
            if attribute.min is not None:
                add(
                    f"{name} is below its minimum {attribute.min:g}",
                    variant(**{path: _numeric(attribute.type, attribute.min - 1)}),
                )
            if attribute.max is not None:
                add(
                    f"{name} is above its maximum {attribute.max:g}",
                    variant(**{path: _numeric(attribute.type, attribute.max + 1)}),
                )
        if attribute.nullable:
            add(f"{name} is null: a null attribute is an absent field", variant(**{path: None}))
        if attribute.type is TypeName.OBJECT and attribute.fields:
            inner = next((f for f, a in attribute.fields.items() if not a.nullable), None)
            if inner is not None and isinstance(base.get(path), dict):
                nested = {k: v for k, v in base[path].items() if k != inner}
                add(f"{name}.{inner} is missing", variant(**{path: nested}))
    if not collection.additional_properties:
        add("a field the model does not declare", variant(__unexpected__=1))
    for check in model.entities[collection.entity].checks:
        left, right = collection.paths[check.left], collection.paths[check.right]
        if base.get(left) is None or base.get(right) is None:
            continue
        value = base[right]
        broken = (
            value
            if check.op in (CompareOp.GT, CompareOp.LT, CompareOp.NE)
            else (_below(value) if check.op is CompareOp.GE else _above(value))
        )
        add(f"check {check.name} ({check.left} {check.op.value} {check.right}) fails", variant(**{left: broken}))
    for embedding in collection.embedded:
        field = embedding.field or ""
        limit = embedding.max_children
        sample = next((d[field][0] for d in documents if isinstance(d.get(field), list) and d[field]), None)
        if limit is not None and sample is not None and limit <= 1000 and (limit + 1) * 2048 < SIZE_BUDGET:
            add(
                f"{field} holds more than {limit} items",
                variant(**{field: [copy.deepcopy(sample) for _ in range(limit + 1)]}),
            )
    return cases


class _Drop:
    pass


_DROP = _Drop()


def _duplicate_cases(
    collection: CollectionSpec, documents: list[dict[str, Any]], spare: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The spare document carrying an inserted document's unique values: each unique index must refuse it."""
    cases: list[dict[str, Any]] = []
    if spare is None or not documents:
        return cases
    first = documents[0]
    for index in collection.indexes:
        if not index.unique:
            continue
        paths = [p for p, _ in index.keys]
        if any("." in p or first.get(p) is None for p in paths):
            continue
        duplicate = copy.deepcopy(spare)
        for path in paths:
            duplicate[path] = first[path]
        cases.append({"collection": collection.name, "index": index.name, "document": duplicate})
    return cases


def seed_rows(model: RequirementsModel, entities: set[str]) -> dict[str, int]:
    """Row counts for this target's generated tests."""
    return rows_for_targets(model, entities, DOCUMENTS_PER_COLLECTION, parents=PARENT_ROWS, others=OTHER_ROWS)


def render_data(plan: Plan, design: DocumentDesign) -> str:
    """tests/data/mongodb_cases.json (Extended JSON)."""
    model = plan.model
    entities = {c.entity for c in design.collections} | {e.child for e in design.embeddings if e.embedded}
    # Records of these entities only (and of what they reference), plus both ends of the
    # many-to-many links the collections carry.
    linked = {link.relationship for c in design.collections for link in c.links}
    ends = {e for r in model.relationships if r.name in linked for e in (r.from_, r.to)}
    # Hot groups: parameter groups beyond each limit, documents failing each constant.
    rows, hot = discriminating_rows(model, seed_rows(model, entities), entities)
    records = generate(model, rows, seed=0, only=entities | ends, hot=hot)
    everything = _documents(plan, design, records)
    # The last document of each collection is kept out: invalid and duplicate cases are variants of it.
    documents = {name: docs[:-1] if len(docs) > 1 else docs for name, docs in everything.items()}
    spares = {name: docs[-1] if len(docs) > 1 else None for name, docs in everything.items()}
    for collection in design.collections:
        if collection.options:  # a capped collection would drop seeded documents beyond its max
            documents[collection.name] = documents[collection.name][: collection.options["max"]]
    _ensure_constants(model, design, documents)
    data = {
        "model": model.name,
        "identity": {c.name: identity_paths(model, c) for c in design.collections},
        "documents": documents,
        "queries": _query_cases(model, design, documents),
        "invalid": [
            case for c in design.collections for case in _invalid_cases(model, c, documents[c.name], spares[c.name])
        ],
        "duplicates": [
            case for c in design.collections for case in _duplicate_cases(c, documents[c.name], spares[c.name])
        ],
        "index_needs": _index_needs(model, design),
    }
    capped = _capped_cases(plan, design)
    if capped:
        data["capped"] = capped
    derived = _derived_cases(plan, design, documents)
    if derived:
        data["derived"] = derived
    return dumps(data)


DERIVED_CHILDREN = 4  # three written under two parents, the fourth's value for a change


def _derived_cases(
    plan: Plan, design: DocumentDesign, documents: Mapping[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Per derived attribute MongoDB keeps (derived.py): two seeded parents and new children."""
    cases = []
    for entry in derived_writes(plan.model, design)[0]:
        parents = documents[entry["collection"]][:2]
        child = next(c for c in design.collections if c.name == entry["child_collection"])
        if len(parents) < 2:
            continue
        parent = next(c for c in design.collections if c.name == entry["collection"])
        rows = {parent.entity: 1, child.entity: DERIVED_CHILDREN}  # each child needs a parent to refer to
        records = generate(plan.model, rows, seed=2, only=set(rows))
        (children,) = _documents(plan, replace(design, collections=(child,)), records).values()
        field = entry["child_field"]
        cases.append(
            {
                "attribute": entry["attribute"],
                "parents": parents,
                "children": children[:3],
                "changed": children[3].get(field) if field else None,
            }
        )
    return cases


def _capped_cases(plan: Plan, design: DocumentDesign) -> list[dict[str, Any]]:
    """Per capped collection, OVER_CAP more documents than its max (generated like the seed, valid),
    for the check that the server keeps the bound; a cap above MAX_CAPPED_CASE is checked by its
    options only (the data file would hold thousands of documents)."""
    cases = []
    for collection in design.collections:
        options = collection.options
        if not options or options["max"] > MAX_CAPPED_CASE:
            continue
        records = generate(plan.model, {collection.entity: options["max"] + OVER_CAP}, seed=1, only={collection.entity})
        (documents,) = _documents(plan, replace(design, collections=(collection,)), records).values()
        cases.append({"collection": collection.name, "documents": documents})
    return cases


def _index_needs(model: RequirementsModel, design: DocumentDesign) -> list[dict[str, Any]]:
    """Per pattern read from a collection's own documents, what the model says an index must lead
    with: its equality fields (any order), then its sort in order (or all reversed). Stated from
    the model, so that a dropped or reordered index of the design under test is caught."""
    needs: list[dict[str, Any]] = []
    for collection in design.collections:
        for pattern in patterns_of(model, collection.entity):
            if any(f.op is FilterOp.FULLTEXT for f in pattern.filters):
                continue  # a text index answers it; checked against the design where the server has $text
            equality = sorted(
                {
                    field_path(collection.paths, f)
                    for f in pattern.filters
                    if f.op in (FilterOp.EQ, FilterOp.IN, FilterOp.CONTAINS)
                }
            )
            sort = [[collection.paths[s.attribute], 1 if s.direction is Direction.ASC else -1] for s in pattern.sort]
            if "_id" in equality or not (equality or sort):
                continue  # the _id index, or nothing to lead with
            needs.append({"collection": collection.name, "pattern": pattern.name, "equality": equality, "sort": sort})
    return needs


def render_test(design: DocumentDesign, increments: bool = False, subsets: bool = False, derived: bool = False) -> str:
    """tests/test_mongodb.py; with `increments`, also the concurrent `$inc` checks of queries.json's
    writes; with `subsets`, the subset pattern's bounded arrays (subset.py); the `$lookup`
    pipelines (lookups.py) when a pattern has one, capped collections (capped.py), and with
    `derived` the derived attributes' write paths (derived.py)."""
    return (
        TEST_TEMPLATE.replace("__MODEL__", design.model)
        + (INCREMENT_TESTS if increments else "")
        + (SUBSET_TESTS if subsets else "")
        + (LOOKUP_TESTS if any(q.pipeline for q in design.queries) else "")
        + (CAPPED_TESTS if any(c.options for c in design.collections) else "")
        + (DERIVED_TESTS if derived else "")
    )


DERIVED_TESTS = '''

# Derived attributes (queries.json "derived_writes"): each child write followed by the parent's update.
DERIVED = json_util.loads((DESIGN_DIR / "queries.json").read_text(encoding="utf-8"), json_options=JSON_OPTIONS)[
    "derived_writes"
]
DERIVED_CASES = {case["attribute"]: case for case in DATA.get("derived", [])}


@pytest.mark.parametrize("mode", ["in_order", "transaction"])
@pytest.mark.parametrize("write", [w for w in DERIVED if w["attribute"] in DERIVED_CASES], ids=lambda w: w["attribute"])
def test_derived_attribute_follows_child_writes(
    db: Database[Any], server: Examination, applied: dict[str, Any], write: dict[str, Any], mode: str
) -> None:
    """In a database of its own: children inserted, changed, moved and deleted through the emitted
    paths (in the documented order, or in one transaction per child write); after each round every
    parent holds the aggregate of its children read back from the server."""
    from polyplan.validate.document_derived import exercise, no_transactions

    case = DERIVED_CASES[write["attribute"]]
    needs = {DECIMAL128} if runtime.has_decimal(case) else set()
    skip_unless_server_has(server, needs, f"that {write['attribute']} follows its child writes")
    if mode == "transaction" and (why := no_transactions(db, server.server.label)):
        pytest.skip(why)
    with connect.scratch_database(resolve_url("mongodb")) as other:
        SETUP.apply(other, without=applied["without"])
        exercise(other, write, case, transactional=mode == "transaction")


@pytest.mark.parametrize("write", [w for w in DERIVED if w["attribute"] in DERIVED_CASES], ids=lambda w: w["attribute"])
def test_derived_repair_recomputes_parents(server: Examination, applied: dict[str, Any], write: dict[str, Any]) -> None:
    """Children written without their parent updates (a failure between the two), then the repair."""
    from polyplan.validate.document_derived import check_repair

    case = DERIVED_CASES[write["attribute"]]
    needs = {DECIMAL128} if runtime.has_decimal(case) else set()
    if write["function"] in ("max", "min"):
        needs.add(runtime.GROUP_EXTREMES)
    skip_unless_server_has(server, needs, f"the repair of {write['attribute']}")
    with connect.scratch_database(resolve_url("mongodb")) as other:
        SETUP.apply(other, without=applied["without"])
        check_repair(other, write, case)


# Increments of a child attribute a parent sums (queries.json "writes" with "then").
FOLLOWED = [
    (increment, entry)
    for increment in json_util.loads((DESIGN_DIR / "queries.json").read_text(encoding="utf-8"), json_options=JSON_OPTIONS).get("writes", [])
    for step in increment.get("then", [])
    for entry in DERIVED
    if entry["attribute"] == step["attribute"] and entry["attribute"] in DERIVED_CASES
]
if FOLLOWED:

    @pytest.mark.parametrize(("increment", "entry"), FOLLOWED, ids=[f"{i['write']}:{e['attribute']}" for i, e in FOLLOWED])
    def test_derived_sum_follows_increments(
        server: Examination, applied: dict[str, Any], increment: dict[str, Any], entry: dict[str, Any]
    ) -> None:
        from polyplan.validate.document_derived import check_increment

        case = DERIVED_CASES[entry["attribute"]]
        skip_unless_server_has(server, {DECIMAL128} if runtime.has_decimal(case) else set(), f"{entry['attribute']} after {increment['write']}")
        with connect.scratch_database(resolve_url("mongodb")) as other:
            SETUP.apply(other, without=applied["without"])
            check_increment(other, increment, entry, case)
'''


CAPPED_TESTS = '''

# Capped collections (capped.py): created with the designed options; the server keeps the bound.
CAPPED = [name for name, definition in DEFINITIONS.items() if definition.get("options", {}).get("capped")]
CAPPED_CASES = {case["collection"]: case for case in DATA.get("capped", [])}


@pytest.mark.parametrize("name", CAPPED)
def test_capped_collection_is_created_as_designed(db: Database[Any], applied: dict[str, Any], name: str) -> None:
    options = db[name].options()
    assert {key: options.get(key) for key in ("capped", "size", "max")} == DEFINITIONS[name]["options"], options


@pytest.mark.parametrize("name", sorted(CAPPED_CASES))
def test_capped_collection_keeps_at_most_its_max(server: Examination, applied: dict[str, Any], name: str) -> None:
    """In a database of its own (the seeded one stays as the other checks expect), setup.py's
    collection takes more documents than its max, one by one: at most max remain, the newest."""
    most = DEFINITIONS[name]["options"]["max"]
    skip_unless_server_has(server, {runtime.CAPPED}, f"that capped collection {name} keeps at most {most} documents")
    documents = CAPPED_CASES[name]["documents"]
    with connect.scratch_database(resolve_url("mongodb")) as other:
        SETUP.apply(other, without=applied["without"])
        for document in documents:
            other[name].insert_one(document)
        kept = list(other[name].find({}, {"_id": 1}).sort("$natural", 1))
        assert len(kept) <= most, f"{name}: {len(kept)} documents after {len(documents)} inserts, max {most}"
        newest = [document["_id"] for document in documents[-len(kept):]] if kept else []
        assert kept and [document["_id"] for document in kept] == newest, f"{name}: not the newest {len(kept)}"
'''


LOOKUP_TESTS = '''

# Patterns whose related fields are joined by $lookup (stores/document/lookups.py): the pipeline.
PIPELINED = [(query, index) for query, index in RUNS if query.get("pipeline")]


@pytest.mark.parametrize(("query", "index"), PIPELINED, ids=[f"{q['pattern']}:{DATA['queries'][i]['spread']}" for q, i in PIPELINED])
def test_lookup_pipeline_answers(
    db: Database[Any], server: Examination, applied: dict[str, Any], query: dict[str, Any], index: int
) -> None:
    """The emitted aggregation returns the find()'s documents in its order, each with the related
    fields the oracle reaches by following the references on the seeded documents."""
    skip_unless_server_has(server, answer_needs(query) | {runtime.LOOKUP}, f"the $lookup pipeline of {query['pattern']}")
    case = DATA["queries"][index]
    found = list(db[query["collection"]].aggregate(substitute(query["pipeline"], case["params"])))
    ids = [identity(query["collection"], document) for document in found]
    if case["text"]:
        assert len(found) >= case["expected_count"], f"{query['pattern']}: {len(found)} < {case['expected_count']}"
    else:
        assert len(found) == case["expected_count"], f"{query['pattern']}: {len(found)} documents, expected {case['expected_count']}"
        if case["sort_keys"] is not None:
            keys = [[document.get(path) for path, _ in query["sort"]] for document in found]
            assert keys == case["sort_keys"], f"{query['pattern']}: wrong order"
    assert case["expected_count"] > 0, "the case selects nothing"
    for joined_field in case["joined"]:
        field = joined_field["field"]
        expected = {norm(key): value for key, value in joined_field["values"]}
        assert set(ids) <= set(expected), f"{query['pattern']}: returned a document that does not match"
        got = {key: norm(document.get(field)) for key, document in zip(ids, found, strict=True)}
        assert got == {key: norm(expected[key]) for key in ids}, f"{query['pattern']}: {field} differs from the oracle"
        assert any(expected[key] is not None for key in ids), f"{query['pattern']}: no answer has a parent holding {field}"
'''


SUBSET_TESTS = '''

# Subset pattern (queries.json "subset_writes"): a parent keeps its first N children in an array.
SUBSETS = json_util.loads((DESIGN_DIR / "queries.json").read_text(encoding="utf-8"), json_options=JSON_OPTIONS)[
    "subset_writes"
]


@pytest.mark.parametrize("write", SUBSETS, ids=lambda w: f"{w['collection']}.{w['field']}")
def test_subset_keeps_the_first_children(db: Database[Any], applied: dict[str, Any], write: dict[str, Any]) -> None:
    """More children than the array holds, pushed one by one through the emitted update: the
    parent's array is exactly the oracle's first N of them, in the load's order."""
    from polyplan.validate.subsets import check_subset, honours_push_modifiers

    if not honours_push_modifiers(db):
        pytest.skip("the server ignores $push's $sort/$slice modifiers (FerretDB): the subset array is not checked")
    parent = DATA["documents"][write["collection"]][0]
    check_subset(db, write, parent, DATA["documents"][write["child_collection"]])
'''


INCREMENT_TESTS = '''

# Increment write patterns (queries.json "writes") on top-level documents: one update_one with $inc.
INCREMENTS = [
    write
    for write in json_util.loads((DESIGN_DIR / "queries.json").read_text(encoding="utf-8"), json_options=JSON_OPTIONS)[
        "writes"
    ]
    if not any("." in path for path in write["filter"])
]


@pytest.mark.parametrize("write", INCREMENTS, ids=lambda w: w["write"])
def test_increment_is_atomic(
    db: Database[Any], server: Examination, applied: dict[str, Any], write: dict[str, Any]
) -> None:
    """WORKERS threads × TIMES runs of the emitted $inc on one document at once: every add counts."""
    from polyplan.validate.increments import TIMES, WORKERS, check_counter

    skip_unless_server_has(server, {runtime.ATOMIC_INC}, f"that {write['write']} ($inc) loses no concurrent add")

    collection = db[write["collection"]]
    document = DATA["documents"][write["collection"]][0]
    selector = {path: document[path] for path in write["filter"]}

    def add() -> None:
        assert collection.update_one(selector, write["update"]).matched_count == 1

    for field, step in write["update"]["$inc"].items():

        def read(field: str = field) -> Any:
            found = collection.find_one(selector)
            return None if found is None else found.get(field)

        check_counter(read, add, step, f"{write['collection']}.{field}", WORKERS, TIMES)
'''


TEST_TEMPLATE = '''"""Generated by polyplan: the MongoDB design of `__MODEL__`, checked on a real server.

Applies ../mongodb/setup.py to a throw-away database (dropped afterwards, after a failure too),
twice (the second run must change nothing), inserts the seeded documents of
data/mongodb_cases.json, then checks: the validator accepts them and rejects each invalid document
with DocumentValidationFailure, unique indexes refuse duplicates, every designed index exists with
its options (unique, partial, TTL), an index supports each shard key, and every access pattern's
query (from ../mongodb/queries.json) returns the right documents in the right order, its winning
plan scans the designed index (IXSCAN; IDHACK/EXPRESS for `_id`) and the hinted index answers the
same. Dates of collections with a TTL index are 100 years ahead in the data so the TTL monitor
leaves them alone during the run.

The server is asked what it is (buildInfo) and every feature the design uses is probed on a
scratch collection. On a server that only speaks MongoDB's protocol (FerretDB), a check that needs
a feature the server lacks skips with a reason naming the server and the feature, everything else
runs, and the run's summary names the server: such a pass is not a MongoDB pass. On MongoDB
nothing skips. Run it with `polyplan validate OUT --engine mongodb` (POLYPLAN_MONGODB_URL, else
testcontainers, else it skips saying how to run it).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from bson import json_util
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, WriteError

from polyplan.stores.document import connect, runtime
from polyplan.stores.document.render import JSON_OPTIONS
from polyplan.stores.document.runtime import DECIMAL128, HINTS, QUERY_PLANS, TEXT_INDEXES, VALIDATORS, Examination
from polyplan.testkit import resolve_url

HERE = Path(__file__).resolve().parent
DESIGN_DIR = HERE.parent / "mongodb"
QUERIES = json_util.loads((DESIGN_DIR / "queries.json").read_text(encoding="utf-8"), json_options=JSON_OPTIONS)["queries"]
DATA = json_util.loads((HERE / "data" / "mongodb_cases.json").read_text(encoding="utf-8"), json_options=JSON_OPTIONS)
CASES = {case["pattern"]: case for case in reversed(DATA["queries"])}  # the first case of each pattern
# Every case of every query: a limited range has a wide case and a narrow one.
RUNS = [(query, index) for query in QUERIES for index, case in enumerate(DATA["queries"]) if case["pattern"] == query["pattern"]]
ID_STAGES = {"IDHACK", "EXPRESS_IXSCAN", "EXPRESS_CLUSTERED_IXSCAN"}
DOCUMENT_VALIDATION_FAILURE = 121


def load_setup() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mongodb_setup", DESIGN_DIR / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SETUP = load_setup()
DEFINITIONS = {definition["collection"]: definition for definition in SETUP.definitions()}
INDEXES = {(name, spec["name"]): spec for name, d in DEFINITIONS.items() for spec in d["indexes"]}
SHARDED = [name for name, definition in DEFINITIONS.items() if definition["shardKey"]["sharded"]]
# Where each collection's documents hold decimals: a server without Decimal128 stores them without.
DECIMALS = {name: runtime.decimal_paths(documents) for name, documents in DATA["documents"].items()}
# The features setup.py can leave out that this design uses (every collection has a validator).
USES = {VALIDATORS} | {need for spec in INDEXES.values() for need in SETUP.index_needs(spec)}


def joined(query: dict[str, Any]) -> list[dict[str, Any]]:
    """The lookups of a pattern that read another collection of this design."""
    return [lookup for lookup in query["lookups"] if lookup["collection"] and lookup["local"]]


INDEXED = [query for query in QUERIES if query["hint"] or any(lookup["hint"] for lookup in joined(query))]
HINTED = [query for query in QUERIES if query["hint"] and not CASES[query["pattern"]]["text"]]


@pytest.fixture(scope="module")
def db() -> Iterator[Database[Any]]:
    # exit_run: when MongoDB is required and does not answer, one line ends the run.
    with connect.scratch_database(resolve_url("mongodb"), exit_run=True) as database:
        yield database


@pytest.fixture(scope="module")
def server(db: Database[Any], request: pytest.FixtureRequest) -> Examination:
    """What the server is and which features it has, named in the run's summary."""
    examination = connect.examine(db)
    runtime.report(request.config, examination)
    return examination


@pytest.fixture(scope="module")
def applied(db: Database[Any], server: Examination) -> dict[str, Any]:
    # What the server lacks is left out of the design (each check needing it skips); on MongoDB nothing.
    without = sorted(server.missing & USES)
    server.left_out = tuple(SETUP.left_out(without))
    first = SETUP.apply(db, without=without)
    second = SETUP.apply(db, without=without)
    for name, documents in DATA["documents"].items():
        if DECIMAL128 in server.missing:
            documents = [runtime.without_decimals(document) for document in documents]
        if documents:
            db[name].insert_many(documents, ordered=True)
    return {"first": first, "second": second, "without": without}


def skip_unless_server_has(server: Examination, needs: set[str], what: str) -> None:
    """Skip the calling check, naming the server and the features, when the server lacks one."""
    if why := server.lacks(needs, what):
        pytest.skip(why)


def index_needs(collection: str, name: str | None) -> set[str]:
    """The features a designed index needs (none for `_id_`)."""
    spec = INDEXES.get((collection, name or ""))
    return set(SETUP.index_needs(spec)) if spec is not None else set()


def decimal_needs(collection: str, paths: list[str], values: Any = None) -> set[str]:
    """Decimal128, when a check reads a field where `collection` stores decimals or sends one."""
    if runtime.touches(paths, DECIMALS[collection]) or runtime.has_decimal(values):
        return {DECIMAL128}
    return set()


def answer_needs(query: dict[str, Any]) -> set[str]:
    """The features running a pattern's query (and its lookups) on the seeded data needs."""
    case = CASES[query["pattern"]]
    collection = query["collection"]
    paths = [path for path in query["filter"] if not path.startswith("$")] + [path for path, _ in query["sort"]]
    needs = {TEXT_INDEXES} if case["text"] else set()
    needs |= decimal_needs(collection, paths + DATA["identity"][collection], case["params"])
    for lookup in case["lookups"]:
        related = lookup["collection"]
        needs |= decimal_needs(related, [lookup["path"], *DATA["identity"][related]], lookup["values"])
    return needs


def test_every_feature_probe_passes_on_mongodb(server: Examination) -> None:
    """On MongoDB every probe passes (else checks elsewhere could skip wrongly); other servers list their gaps."""
    skip_unless_server_has(server, set(server.missing), "that it passes every feature probe")
    failed = [f"{probe.feature}: {probe.detail}" for probe in server.probes if not probe.present]
    assert not failed, f"feature probes failed on {server.server.label}: {failed}"


def test_setup_is_idempotent(applied: dict[str, Any]) -> None:
    assert applied["first"], "the first run created nothing"
    assert applied["second"] == [], f"a second run changed: {applied['second']}"


def test_setup_applies_the_whole_design(server: Examination, applied: dict[str, Any]) -> None:
    skip_unless_server_has(server, set(applied["without"]), "setup.py applying what it left out here")
    assert SETUP.left_out(applied["without"]) == []


@pytest.mark.parametrize("name", sorted(DATA["documents"]))
def test_validator_accepts_the_seeded_documents(
    db: Database[Any], server: Examination, applied: dict[str, Any], name: str
) -> None:
    needs = {VALIDATORS} | decimal_needs(name, sorted(DECIMALS[name]))
    skip_unless_server_has(server, needs, f"that the validator of {name} accepts its documents")
    assert db[name].count_documents({}) == len(DATA["documents"][name]), name


@pytest.mark.parametrize("key", sorted(INDEXES), ids=lambda key: f"{key[0]}.{key[1]}")
def test_designed_index_exists(
    db: Database[Any], server: Examination, applied: dict[str, Any], key: tuple[str, str]
) -> None:
    collection, name = key
    spec = INDEXES[key]
    skip_unless_server_has(server, index_needs(collection, name), f"index {collection}.{name}")
    current = {index["name"]: index for index in db[collection].list_indexes()}
    assert name in current, f"{collection}: index {name} missing"
    assert current[name].get("expireAfterSeconds") == spec.get("expireAfterSeconds"), f"{name}: TTL"
    assert bool(current[name].get("unique")) == bool(spec.get("unique")), f"{name}: unique"
    assert current[name].get("partialFilterExpression") == spec.get("partialFilterExpression"), f"{name}: partial"


# Sections whose cases this design does not have are left out rather than collected empty.
if DATA["index_needs"]:

    @pytest.mark.parametrize("need", DATA["index_needs"], ids=lambda n: f"{n['collection']}.{n['pattern']}")
    def test_an_index_leads_with_what_the_pattern_needs(
        db: Database[Any], server: Examination, applied: dict[str, Any], need: dict[str, Any]
    ) -> None:
        """From the model, not from the design: some index on the server starts with the pattern's
        equality fields (any order), then its sort (in order, or all reversed)."""
        equality, sort = set(need["equality"]), [tuple(pair) for pair in need["sort"]]
        reverse = [(path, -direction) for path, direction in sort]
        width = len(equality)
        found = []
        for index in db[need["collection"]].list_indexes():
            keys = [(path, d if isinstance(d, str) else int(d)) for path, d in index["key"].items()]  # "text", "hashed"
            found.append(keys)
            lead, rest = keys[:width], keys[width : width + len(sort)]
            if {path for path, _ in lead} == equality and rest in (sort, reverse):
                return
        # setup.py leaves out an index the server cannot build (e.g. partial ones on FerretDB).
        for spec in DEFINITIONS[need["collection"]]["indexes"]:
            if need["pattern"] in spec.get("serves", []):
                skip_unless_server_has(server, index_needs(need["collection"], spec["name"]), f"the index of {need['pattern']}")
        raise AssertionError(f"{need['collection']}.{need['pattern']}: no index leads with {sorted(equality)} then {sort}; indexes: {found}")


# Sections whose cases this design does not have are left out rather than collected empty.
if SHARDED:

    @pytest.mark.parametrize("collection", SHARDED)
    def test_an_index_supports_the_shard_key(
        db: Database[Any], server: Examination, applied: dict[str, Any], collection: str
    ) -> None:
        key = [(path, direction) for path, direction in DEFINITIONS[collection]["shardKey"]["key"]]
        supporting = [
            index_needs(collection, spec["name"])
            for spec in DEFINITIONS[collection]["indexes"]
            if [tuple(pair) for pair in spec["key"][: len(key)]] == key
        ]
        assert supporting, f"no designed index of {collection} supports the shard key {key}"
        skip_unless_server_has(server, min(supporting, key=len), f"the index supporting the shard key of {collection}")
        current = db[collection].list_indexes()
        assert any(list(index["key"].items())[: len(key)] == key for index in current), "no index supports the shard key"


if DATA["invalid"]:

    @pytest.mark.parametrize("case", DATA["invalid"], ids=lambda c: f"{c['collection']}: {c['why']}")
    def test_validator_rejects(db: Database[Any], server: Examination, applied: dict[str, Any], case: dict[str, Any]) -> None:
        collection = case["collection"]
        needs = {VALIDATORS} | decimal_needs(collection, [], case["document"])
        skip_unless_server_has(server, needs, f"that the validator of {collection} rejects a document ({case['why']})")
        with pytest.raises(WriteError) as caught:
            db[collection].insert_one(case["document"])
        assert caught.value.code == DOCUMENT_VALIDATION_FAILURE, caught.value.details


if DATA["duplicates"]:

    @pytest.mark.parametrize("case", DATA["duplicates"], ids=lambda c: f"{c['collection']}.{c['index']}")
    def test_unique_index_refuses_duplicates(
        db: Database[Any], server: Examination, applied: dict[str, Any], case: dict[str, Any]
    ) -> None:
        collection, index = case["collection"], case["index"]
        paths = [path for path, _ in INDEXES[(collection, index)]["key"]]
        needs = index_needs(collection, index) | decimal_needs(collection, paths)
        skip_unless_server_has(server, needs, f"that unique index {collection}.{index} refuses a duplicate")
        document = runtime.without_decimals(case["document"]) if DECIMAL128 in server.missing else case["document"]
        with pytest.raises(DuplicateKeyError):
            db[collection].insert_one(document)
            pytest.fail(f"{collection}.{index} accepted a duplicate")


def substitute(template: Any, params: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        if set(template) == {"$param"}:
            return params[template["$param"]]
        return {key: substitute(value, params) for key, value in template.items()}
    if isinstance(template, list):
        return [substitute(value, params) for value in template]
    return template


def identity(collection: str, document: dict[str, Any]) -> str:
    """A document's key as canonical Extended JSON (comparable whatever tzinfo object a date carries)."""
    return norm([document.get(path) for path in DATA["identity"][collection]])


def norm(value: Any) -> str:
    return json_util.dumps(value, json_options=JSON_OPTIONS)


def plan_stages(plan: Any) -> list[tuple[str, str | None]]:
    """(stage, indexName) of every stage of a winning plan (classic or slot-based)."""
    found: list[tuple[str, str | None]] = []
    if isinstance(plan, dict):
        if "stage" in plan:
            found.append((plan["stage"], plan.get("indexName")))
        for value in plan.values():
            found += plan_stages(value)
    elif isinstance(plan, list):
        for value in plan:
            found += plan_stages(value)
    return found


def assert_uses_index(explained: dict[str, Any], index: str, collection: Any) -> None:
    stages = plan_stages(explained["queryPlanner"]["winningPlan"])
    designed = {spec["name"] for spec in collection.list_indexes()}
    if index == "_id_" and any(stage in ID_STAGES for stage, _ in stages):
        return
    scans = [name for stage, name in stages if stage == "IXSCAN"]
    assert scans, f"no IXSCAN in the winning plan: {stages}"
    assert set(scans) <= designed, f"scans {scans}, not a designed index"


def find(collection: Any, query: dict[str, Any], params: dict[str, Any], hint: str | None = None) -> Any:
    cursor = collection.find(substitute(query["filter"], params), query["projection"])
    if query["sort"]:
        cursor = cursor.sort([(path, direction) for path, direction in query["sort"]])
    if query["limit"]:
        cursor = cursor.limit(query["limit"])
    if hint is not None:
        cursor = cursor.hint(hint)
    return cursor


def _shown(case: dict[str, Any], name: str) -> str | None:
    """Why `case` cannot fail a query that lost property `name`, or None when it can: checked on
    the case's own data (its match count, sort keys, and the answer without a filter)."""
    keys = case["sort_keys"] or []
    kind = name.split()[0]
    if kind == "limit":
        limit = case["limit"]
        return None if len(case["matching_ids"]) > limit else f"{len(case['matching_ids'])} matches, limit {limit}"
    if kind == "sort":
        return None if len({norm(key) for key in keys}) > 1 else "one sort value"
    if kind == "ties":
        return None if any(a[:1] == b[:1] for a, b in zip(keys, keys[1:])) else "no two documents tie"
    lost = case["without"].get(name)
    if lost is None:
        return "no answer recorded without it"
    same = lost["count"] == case["expected_count"] and lost["sort_keys"] == case["sort_keys"] and not lost["outside"]
    return "the answer without it is the same" if same else None


@pytest.mark.parametrize("pattern", sorted(CASES))
def test_pattern_data_discriminates(pattern: str) -> None:
    """Before the server is asked anything: for each property of the pattern (its limit, each
    sort direction, ties on the first sort key, each range bound, each other filter), a case of
    the data fails a query that lost it. A property the model rules out is stated with its
    reason as a warning, after checking all the others."""
    cases = [case for case in DATA["queries"] if case["pattern"] == pattern]
    claimed = cases[0]["properties"]
    impossible = {name: reason for name, reason in claimed.items() if reason}
    for name in sorted(set(claimed) - set(impossible)):
        why = [_shown(case, name) for case in cases if name in case["shows"]]
        assert why and None in why, f"{pattern}: the data cannot show its {name} ({'; '.join(filter(None, why))})"
    for name, reason in sorted(impossible.items()):
        # Stated, not skipped (a skip here would read as a server gap): the warnings summary lists it.
        warnings.warn(f"{pattern}: the data does not show its {name}: {reason}", UserWarning, stacklevel=1)


@pytest.mark.parametrize(("query", "index"), RUNS, ids=[f"{q['pattern']}:{DATA['queries'][i]['spread']}" for q, i in RUNS])
def test_pattern_answers(
    db: Database[Any], server: Examination, applied: dict[str, Any], query: dict[str, Any], index: int
) -> None:
    skip_unless_server_has(server, answer_needs(query), f"the answer of {query['pattern']}")
    case = DATA["queries"][index]
    collection = db[query["collection"]]
    found = list(find(collection, query, case["params"]))
    ids = [identity(query["collection"], document) for document in found]
    matching = [norm(key) for key in case["matching_ids"]]
    if case["text"]:
        # Stemming finds more than the exact word: every exact match must be there (up to the limit).
        assert len(found) >= case["expected_count"], f"{query['pattern']}: {len(found)} < {case['expected_count']}"
        if not query["limit"]:
            assert set(matching) <= set(ids)
    else:
        expected = case["expected_count"]
        assert len(found) == expected, f"{query['pattern']}: {len(found)} documents, expected {expected}"
        assert set(ids) <= set(matching), f"{query['pattern']}: returned a document that does not match"
        if case["sort_keys"] is not None:
            keys = [[document.get(path) for path, _ in query["sort"]] for document in found]
            assert keys == case["sort_keys"], f"{query['pattern']}: wrong order"
    assert case["expected_count"] > 0 or not matching, "the case selects nothing"
    for field in case["embedded_present"]:
        assert all(field in document for document in found), f"embedded {field} missing from the answer"
    for lookup, expected in zip(joined(query), case["lookups"], strict=True):
        condition = {expected["path"]: {"$in": expected["values"]}}
        got = [identity(lookup["collection"], document) for document in db[lookup["collection"]].find(condition)]
        assert sorted(got) == sorted(norm(key) for key in expected["expected_ids"]), f"lookup {lookup['entity']}"


if INDEXED:

    @pytest.mark.parametrize("query", INDEXED, ids=lambda q: q["pattern"])
    def test_pattern_uses_its_index(db: Database[Any], server: Examination, applied: dict[str, Any], query: dict[str, Any]) -> None:
        needs = answer_needs(query) | {QUERY_PLANS} | index_needs(query["collection"], query["hint"])
        for lookup in joined(query):
            needs |= index_needs(lookup["collection"], lookup["hint"])
        skip_unless_server_has(server, needs, f"that {query['pattern']} is served by its designed indexes")
        case = CASES[query["pattern"]]
        collection = db[query["collection"]]
        if query["hint"]:
            assert_uses_index(find(collection, query, case["params"]).explain(), query["hint"], collection)
        for lookup, expected in zip(joined(query), case["lookups"], strict=True):
            if lookup["hint"]:
                related = db[lookup["collection"]]
                condition = {expected["path"]: {"$in": expected["values"]}}
                assert_uses_index(related.find(condition).explain(), lookup["hint"], related)


if HINTED:

    @pytest.mark.parametrize("query", HINTED, ids=lambda q: q["pattern"])
    def test_hinted_index_answers_the_same(db: Database[Any], server: Examination, applied: dict[str, Any], query: dict[str, Any]) -> None:
        # MongoDB refuses hint() on a $text query: text patterns are not in HINTED.
        needs = answer_needs(query) | {HINTS} | index_needs(query["collection"], query["hint"])
        skip_unless_server_has(server, needs, f"that index {query['hint']} gives {query['pattern']} the same answer")
        case = CASES[query["pattern"]]
        collection = db[query["collection"]]
        plain = [identity(query["collection"], d) for d in find(collection, query, case["params"])]
        hinted = [identity(query["collection"], d) for d in find(collection, query, case["params"], query["hint"])]
        assert sorted(hinted) == sorted(plain), "the designed index answers differently"
'''
