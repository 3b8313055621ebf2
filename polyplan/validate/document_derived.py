"""Run MongoDB's derived-attribute write paths on a server and check the parents (generated tests).

queries.json → `derived_writes` (stores/document/derived.py) pairs each child write with the
parent updates that keep a count, sum, max or min in step. `exercise` performs child writes the
way an application following it would: insert three children under two parents, change one's
aggregated value and move another to the other parent, delete two; after each round every parent
must hold the aggregate of its children as read back from the server. In transaction mode each
child write and its parent updates run in one multi-document transaction.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pymongo.client_session import ClientSession
from pymongo.database import Database

Document = dict[str, Any]


def no_transactions(db: Database[Any], label: str) -> str | None:
    """Why the server runs no multi-document transaction (None when it does): they need a replica
    set or a sharded cluster, and FerretDB has none."""
    if label.startswith("FerretDB"):
        return f"{label} has no multi-document transactions: the documented order is checked instead"
    hello = db.client.admin.command("hello")
    if "setName" not in hello and hello.get("msg") != "isdbgrid":
        return f"{label} is a standalone server: multi-document transactions need a replica set or a sharded cluster"
    return None


def _value(template: Any, sides: Mapping[str, Document]) -> Any:
    """A step's template with `{"$param": "new.f"}` / `{"$negate": …}` replaced by the child's values."""
    if isinstance(template, dict):
        if set(template) == {"$param"}:
            side, _, field = template["$param"].partition(".")
            return sides[side].get(field)
        if set(template) == {"$negate"}:
            return -_value(template["$negate"], sides)
        return {key: _value(inner, sides) for key, inner in template.items()}
    if isinstance(template, list):
        return [_value(inner, sides) for inner in template]
    return template


def _parent_steps(
    db: Database[Any], steps: Sequence[Mapping[str, Any]], sides: Mapping[str, Document], session: ClientSession | None
) -> None:
    for step in steps:
        selector = _value(step["filter"], sides)
        if step["method"] == "update_one":
            db[step["collection"]].update_one(selector, _value(step["update"], sides), session=session)
            continue
        # recompute: read the extreme again from the children, then set it (or unset: none left).
        sort = [(path, direction) for path, direction in step["child_sort"]]
        first = db[step["source"]].find_one(_value(step["child_filter"], sides), sort=sort, session=session)
        value = None if first is None else first.get(step["child_field"])
        update = {"$unset": {step["field"]: ""}} if value is None else {"$set": {step["field"]: value}}
        db[step["collection"]].update_one(selector, update, session=session)


def _write(
    db: Database[Any],
    entry: Mapping[str, Any],
    kind: str,
    new: Document | None,
    old: Document | None,
    transactional: bool,
) -> None:
    """One child write and its parent updates, in the documented order (in one transaction if asked)."""
    children = db[entry["child_collection"]]
    sides = {"new": new or {}, "old": old or {}}

    def run(session: ClientSession | None) -> None:
        if kind == "insert":
            assert new is not None
            children.insert_one(new, session=session)
        elif kind == "change":
            assert new is not None and old is not None
            children.replace_one({"_id": old["_id"]}, new, session=session)
        else:
            assert old is not None
            children.delete_one({"_id": old["_id"]}, session=session)
        _parent_steps(db, entry["after_child"][kind], sides, session)

    if not transactional:
        run(None)
        return
    with db.client.start_session() as session, session.start_transaction():
        run(session)


def _aggregate(function: str, values: list[Any]) -> Any:
    if function == "count":
        return len(values)
    present = [v for v in values if v is not None]
    if function == "sum":
        return sum(present)
    if not present:
        return None
    return max(present) if function == "max" else min(present)


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, float) or isinstance(got, float):
        return got is not None and expected is not None and math.isclose(float(got), float(expected), rel_tol=1e-9)
    return bool(expected == got)


def check_parents(db: Database[Any], entry: Mapping[str, Any], parents: Sequence[Document], when: str) -> None:
    """Every parent holds the aggregate of its children as read back from the server."""
    for parent in parents:
        match = {child: parent[key] for child, key in entry["reference"].items()}
        values = [
            d.get(entry["child_field"]) if entry["child_field"] else 1
            for d in db[entry["child_collection"]].find(match)
        ]
        expected = _aggregate(entry["function"], values)
        stored = db[entry["collection"]].find_one({key: parent[key] for key in entry["reference"].values()})
        assert stored is not None, f"{entry['collection']}: parent {match} missing"
        got = stored.get(entry["field"])
        assert _same(expected, got), (
            f"{entry['attribute']} after {when}: {got!r}, but its {len(values)} children give {expected!r}"
        )


def _childless(entry: Mapping[str, Any], parent: Document) -> Document:
    """A copy of a seeded parent holding the value of no children: a count or sum of 0, no max."""
    fresh = copy.deepcopy(parent)
    fresh.pop(entry["field"], None)
    fresh.update(entry["repair"]["reset"]["update"].get("$set", {}))
    return fresh


def exercise(db: Database[Any], entry: Mapping[str, Any], case: Mapping[str, Any], transactional: bool) -> None:
    """Two parents, three children written through the emitted paths, checked after each round."""
    parents = [_childless(entry, p) for p in case["parents"]]
    db[entry["collection"]].insert_many(copy.deepcopy(parents))
    children = [copy.deepcopy(c) for c in case["children"]]
    owners = [parents[0], parents[0], parents[1]]
    for child, owner in zip(children, owners, strict=True):
        for column, key in entry["reference"].items():
            child[column] = owner[key]
        _write(db, entry, "insert", child, None, transactional)
    check_parents(db, entry, parents, "three inserts")
    first, second = children[0], children[1]
    changed = copy.deepcopy(first)
    if entry["child_field"]:
        changed[entry["child_field"]] = case["changed"]
    _write(db, entry, "change", changed, first, transactional)
    moved = copy.deepcopy(second)
    for column, key in entry["reference"].items():
        moved[column] = parents[1][key]
    _write(db, entry, "change", moved, second, transactional)
    check_parents(db, entry, parents, "a change and a move")
    _write(db, entry, "delete", None, changed, transactional)
    _write(db, entry, "delete", None, children[2], transactional)
    check_parents(db, entry, parents, "two deletes")


def check_repair(db: Database[Any], entry: Mapping[str, Any], case: Mapping[str, Any]) -> None:
    """The failure window closed: children written without their parent updates (as after a crash
    between the two), then the emitted repair: every parent holds its children's aggregate."""
    parents = [copy.deepcopy(p) for p in case["parents"]]
    db[entry["collection"]].insert_many(copy.deepcopy(parents))
    children = [copy.deepcopy(c) for c in case["children"]]
    for child, owner in zip(children, [parents[0], parents[0], parents[1]], strict=True):
        for column, key in entry["reference"].items():
            child[column] = owner[key]
    db[entry["child_collection"]].insert_many(children)
    repair(db, entry)
    check_parents(db, entry, parents, "the repair")


def repair(db: Database[Any], entry: Mapping[str, Any]) -> None:
    """The emitted repair: reset every parent, then set each from the `$group` of its children."""
    plan = entry["repair"]
    db[plan["reset"]["collection"]].update_many({}, plan["reset"]["update"])
    for group in db[entry["child_collection"]].aggregate(plan["child_pipeline"]):
        selector = {key: group["_id"][child] for child, key in plan["parent_key"].items()}
        db[entry["collection"]].update_one(selector, {"$set": {entry["field"]: group["value"]}})


def check_increment(
    db: Database[Any], write: Mapping[str, Any], entry: Mapping[str, Any], case: Mapping[str, Any]
) -> None:
    """An increment of a child followed by its `then` updates, a few times: the parent's derived
    sum still equals the sum of its children read back."""
    parent = _childless(entry, case["parents"][0])
    db[entry["collection"]].insert_one(copy.deepcopy(parent))
    child = copy.deepcopy(case["children"][0])
    for column, key in entry["reference"].items():
        child[column] = parent[key]
    _write(db, entry, "insert", child, None, False)
    params = {**{path: child[path] for path in write["filter"]}, **{c: child[c] for c in entry["reference"]}}
    for _ in range(3):
        db[write["collection"]].update_one({path: child[path] for path in write["filter"]}, write["update"])
        for step in write["then"]:
            selector = {key: params[value["$param"]] for key, value in step["filter"].items()}
            db[step["collection"]].update_one(selector, step["update"])
    check_parents(db, entry, [parent], f"three runs of {write['write']}")
