"""Proof that an emitted subset write keeps a parent's first N children (stores/document/subset.py).

`check_subset` pushes more children than the array holds, one by one, through the emitted
`update_one` (`$push` with `$each`, `$sort`, `$slice`), reads the parent back and compares its
array with the oracle: the same children sorted by the load's order in Python, the first N. A
write without `$slice` (or a server that ignores it) leaves more than N; one without `$sort`
keeps them in arrival order.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

from bson import json_util
from pymongo.database import Database

# The $param substitution the generated MongoDB tests' data is made with (one rule for both).
from polyplan.stores.document.templates import substitute

EXTRA = 3  # children pushed beyond the limit: the cut must drop them


def honours_push_modifiers(db: Database[Any]) -> bool:
    """Whether the server applies `$push`'s `$sort` and `$slice` (FerretDB 1.24 accepts and ignores them)."""
    probe = db["polyplan_probe_push_slice"]
    probe.drop()
    probe.insert_one({"_id": 1})
    probe.update_one({"_id": 1}, {"$push": {"a": {"$each": [2, 1, 3], "$sort": 1, "$slice": 2}}})
    found = probe.find_one({"_id": 1})
    probe.drop()
    return found is not None and found.get("a") == [1, 2]


def first_children(children: Sequence[Mapping[str, Any]], sort: Mapping[str, int], limit: int) -> list[Any]:
    """The oracle: `children` in the load's order (stable sorts, last key first), the first `limit`."""
    ordered = list(children)
    for path, direction in reversed(list(sort.items())):
        ordered.sort(key=operator.itemgetter(path), reverse=direction < 0)
    return ordered[:limit]


def _keys(documents: Sequence[Mapping[str, Any]], sort: Mapping[str, int]) -> list[str]:
    # Compared on the sort values (as Extended JSON): children that tie may keep either order.
    return [json_util.dumps([document.get(path) for path in sort]) for document in documents]


def check_subset(
    db: Database[Any], write: Mapping[str, Any], parent: Mapping[str, Any], seeded: Sequence[Mapping[str, Any]]
) -> None:
    """Push limit + EXTRA of the `seeded` children (re-parented to `parent`) through `write` and
    assert the parent's array is the oracle's first `limit`; the array is removed afterwards."""
    field, reference = write["field"], write["reference"]
    sort, limit = write["sort"], write["limit"]  # the bound as stated, never read off the update
    usable = [child for child in seeded if all(path in child for path in sort)]
    assert len(usable) > limit, f"the seeded {write['child_collection']} documents cannot fill {field}"
    children = [{**child, reference: parent["_id"]} for child in usable[: limit + EXTRA]]
    parents = db[write["collection"]]
    selector = {"_id": parent["_id"]}
    parents.update_one(selector, {"$unset": {field: ""}})
    try:
        for child in children:
            params = {"document": child, reference: parent["_id"]}
            done = parents.update_one(substitute(write["filter"], params), substitute(write["update"], params))
            assert done.matched_count == 1, f"the subset write matched no {write['collection']} document"
        kept = (parents.find_one(selector) or {}).get(field, [])
    finally:
        parents.update_one(selector, {"$unset": {field: ""}})
    expected = first_children(children, sort, limit)
    assert len(kept) == limit, f"{write['collection']}.{field} holds {len(kept)} children after the pushes, not {limit}"
    assert _keys(kept, sort) == _keys(expected, sort), (
        f"{write['collection']}.{field} is not the first {limit} in the load's order: {_keys(kept, sort)} "
        f"against {_keys(expected, sort)}"
    )
