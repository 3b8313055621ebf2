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
