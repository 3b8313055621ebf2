"""Increment write patterns as MongoDB updates: `{"$inc": {field: step}}`, one atomic document update.

`$inc` is applied by the server under the document's write lock, so concurrent increments never
lose one another (a `find` then `$set` of the new value would). A counter that was never set
starts from 0 (`$inc` creates the field). An entity embedded in its parent's array is added to
through the positional operator on the matching element.
"""

from __future__ import annotations

from typing import Any

from polyplan.model.derived import key_of
from polyplan.plan.increments import increments_of
from polyplan.plan.ir import Plan
from polyplan.stores.document.derived import increment_parents
from polyplan.stores.document.spec import DocumentDesign


def _step(value: float) -> int | float:
    return int(value) if value == int(value) else value


def build_writes(plan: Plan, design: DocumentDesign) -> list[dict[str, Any]]:
    """One `update_one` per increment write pattern on an entity the design stores (queries.json)."""
    found: list[dict[str, Any]] = []
    embedded_in = {e.child: e for c in design.collections for e in c.embedded if e.embedded and e.field}
    for entity in plan.model.entities:
        increments = increments_of(plan.model, entity)
        if not increments:
            continue
        key = list(key_of(plan.model.entities[entity]).attributes)
        collection = design.collection_of(entity)
        if collection is not None:
            filter_ = {collection.paths.get(k, k): {"$param": k} for k in key}
            prefix, target, note = "", collection.name, "matched by the key: one document"
        elif entity in embedded_in:
            embedding = embedded_in[entity]
            parent = design.collection_of(embedding.parent)
            if parent is None:
                continue
            field = embedding.field
            filter_ = {f"{field}.{k}": {"$param": k} for k in key}
            prefix, target = f"{field}.$.", parent.name
            note = f"{entity} is embedded in {embedding.parent}.{field}: the positional $ adds to the matched element"
        else:
            continue
        for increment in increments:
            parents = increment_parents(plan.model, design, entity, increment.attributes, increment.step)
            then = {"then": parents} if parents and collection is not None else {}
            found.append(
                {
                    "write": increment.write,
                    "entity": entity,
                    "collection": target,
                    "method": "update_one",
                    "filter": filter_,
                    "update": {"$inc": {f"{prefix}{a}": _step(increment.step) for a in increment.attributes}},
                    "rate": increment.rate,
                    "notes": [
                        note,
                        "atomic: the server adds under the document lock; never find the value and $set it back",
                        *(
                            [
                                "then, in the same transaction or right after (derived_writes' order), $inc each parent "
                                "whose derived sum adds this attribute (`then`)"
                            ]
                            if then
                            else []
                        ),
                    ],
                    **then,
                }
            )
    return found
