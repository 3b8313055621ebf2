"""Write predicates as MongoDB bulk writes: `update_many(filter, {"$set": …})` and `delete_many(filter)`.

The filter is the one a read with the same `where` gets (`indexes._filter`, the access patterns'
translation), so an index designed for such a read serves the write too. MongoDB applies each
document's change atomically but not the set of them (without a transaction a failure leaves
some written), and takes no read lock: `lock: for_update` gets PP415 and the usual substitute.
"""

from __future__ import annotations

from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import all_attributes
from polyplan.model.schema import WriteKind
from polyplan.plan.ir import Plan
from polyplan.plan.predicates import all_predicates, lock_warnings
from polyplan.stores.document.indexes import _filter as pattern_filter
from polyplan.stores.document.spec import DocumentDesign

NEW_SUFFIX = "_new"  # `{"$param": "status_new"}`: the value an update sets


def build_bulk_writes(plan: Plan, design: DocumentDesign) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    """One `update_many`/`delete_many` per predicated write on a top-level collection (queries.json
    `bulk_writes`), and PP414/PP415 where the design cannot apply the predicate or the lock."""
    model = plan.model
    positions = {w.name: i for i, w in enumerate(model.write_patterns)}
    found: list[dict[str, Any]] = []
    warnings: list[Diagnostic] = []
    stored = {c.entity for c in design.collections} | {
        e.child for c in design.collections for e in c.embedded if e.embedded
    }
    for predicate in all_predicates(model):
        if predicate.entity not in stored:
            continue
        path = f"write_patterns.{positions[predicate.write]}"
        collection = design.collection_of(predicate.entity)
        if collection is None:
            warnings.append(
                Diagnostic(
                    "PP414",
                    f"{predicate.write}: {predicate.entity} is embedded in another collection's arrays; MongoDB "
                    "cannot update or pull every matching element of every document in one statement here: "
                    "find the parents with the predicate, then write each by key",
                    path,
                    Severity.WARNING,
                )
            )
            continue
        attributes = all_attributes(model, predicate.entity)
        selector, params = pattern_filter(predicate.as_read(model), collection.paths, attributes)
        entry: dict[str, Any] = {
            "write": predicate.write,
            "entity": predicate.entity,
            "collection": collection.name,
            "filter": selector,
            "params": [{"name": p.name, "attribute": p.attribute, "path": p.path, "kind": p.kind} for p in params],
            "rate": predicate.rate,
            "notes": [
                "each document changes atomically, the set of them does not: run it in a transaction when a "
                "partial write must not be seen"
            ],
        }
        if predicate.kind is WriteKind.DELETE:
            entry["method"] = "delete_many"
        else:
            entry["method"] = "update_many"
            entry["update"] = {
                "$set": {collection.paths.get(a, a): {"$param": f"{a}{NEW_SUFFIX}"} for a in predicate.attributes}
            }
        found.append(dict(sorted(entry.items())))
    warnings += lock_warnings(
        model,
        stored,
        "MongoDB takes no read lock (no SELECT ... FOR UPDATE); the update is atomic per document, and a "
        "transaction that writes the documents first holds them against concurrent writers",
    )
    return found, warnings
