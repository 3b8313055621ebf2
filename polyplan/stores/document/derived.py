"""Derived attributes kept in step by MongoDB write paths (`derived: {function, relationship}`).

When a parent and its children are both top-level collections, every child write is paired with
an update of the parent, listed in queries.json → `derived_writes` in the order they run:

- insert: the child's `insert_one`, then on its parent `$inc` by 1 (count) or by the child's value
  (sum), or `$max`/`$min` with the child's value;
- change (of the aggregated attribute or of the reference, i.e. a move): the child's `update_one`,
  then on the old parent `$inc` by −1 or −old value, on the new parent `$inc` by +1 or +new value
  (a change that moves nothing nets zero); a max or min is read again from the children of
  both parents (an aggregation `$group` with `$max`/`$min`) and `$set` (or `$unset` when none is
  left), since a removed extreme cannot be undone by an operator;
- delete: the child's `delete_one`, then the parent as for the old side of a change.

`$inc`, `$max` and `$min` are atomic on the parent document, so concurrent child writes never lose
one another's change. The pair is one unit: run it in a multi-document transaction where the
deployment has them (a replica set or sharded cluster; `transaction` says so); elsewhere (a
standalone server, FerretDB) in the listed order, child first: a failure between the two writes
leaves the parent off by that child until the `repair` pipeline recomputes every parent from its
children (a `$group` of the children per reference, then `$set` of each parent). A max or min
read again outside a transaction can also miss a child written concurrently (the same repair).

A child embedded in its parent is not covered (its write is an update of the parent document,
where the application adds `$inc` to the same update): PP468 stays for it. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import reference_of
from polyplan.model.derived_attribute_checks import derived_attributes, derived_relationship
from polyplan.model.schema import DerivedFunction, RequirementsModel
from polyplan.stores.document.spec import CollectionSpec, DocumentDesign

NEW, OLD = "new", "old"  # the child document after and before the write
TRANSACTION = (
    "run the child write and the parent update in one multi-document transaction (replica set or sharded "
    "cluster); on a standalone server (or FerretDB, which has none) run them in this order, child first: a "
    "failure between them leaves the parent off by that child until the repair pipeline runs"
)
EXTREMES = {DerivedFunction.MAX: "$max", DerivedFunction.MIN: "$min"}


def _param(side: str, path: str) -> dict[str, str]:
    return {"$param": f"{side}.{path}"}


def _parent_filter(parent: CollectionSpec, child: CollectionSpec, columns: dict[str, str], side: str) -> dict[str, Any]:
    """The parent of the child document `side` (`new` or `old`), by the reference it holds."""
    return {parent.paths[key]: _param(side, child.paths[column]) for column, key in columns.items()}


def _adjust(function: DerivedFunction, field: str, value: str | None, side: str, sign: int) -> dict[str, Any]:
    """The atomic update of a count or sum for one child added (sign 1) or removed (sign −1)."""
    if function is DerivedFunction.COUNT or value is None:
        return {"$inc": {field: sign}}
    amount = _param(side, value)
    return {"$inc": {field: amount if sign > 0 else {"$negate": amount}}}


def _recompute(
    function: DerivedFunction, field: str, value: str, child: CollectionSpec, reference: dict[str, str], side: str
) -> dict[str, Any]:
    """Read a max or min again from the children of the parent of `side` (the first child in the
    value's order, a find that an index on (reference, value) serves), then `$set` it (`$unset`
    when none is left)."""
    match: dict[str, Any] = {child.paths[column]: _param(side, child.paths[column]) for column in reference}
    match[value] = {"$ne": None}  # a child without the value does not count (null sorts first)
    order = -1 if function is DerivedFunction.MAX else 1
    return {
        "method": "recompute",
        "child_filter": match,
        "child_sort": [[value, order]],
        "child_field": value,
        "field": field,
    }


def _parent_steps(
    function: DerivedFunction,
    field: str,
    value: str | None,
    parent: CollectionSpec,
    child: CollectionSpec,
    columns: dict[str, str],
    side: str,
    sign: int,
) -> dict[str, Any]:
    """One update of the parent of the child `side`: the child is added (1) or taken away (−1)."""
    step: dict[str, Any] = {"collection": parent.name, "filter": _parent_filter(parent, child, columns, side)}
    if function in EXTREMES:
        assert value is not None
        if sign > 0:
            step.update(method="update_one", update={EXTREMES[function]: {field: _param(side, value)}})
        else:
            step.update(_recompute(function, field, value, child, columns, side))
            step["source"] = child.name
        return step
    step.update(method="update_one", update=_adjust(function, field, value, side, sign))
    return step


def _repair(
    function: DerivedFunction,
    field: str,
    value: str | None,
    parent: CollectionSpec,
    child: CollectionSpec,
    columns: dict[str, str],
) -> dict[str, Any]:
    """Every parent's value from its children: reset, then `$group` per reference and `$set` each."""
    aggregate = {"$sum": 1} if function is DerivedFunction.COUNT else {f"${function.value}": f"${value}"}
    group_id = {child.paths[column]: f"${child.paths[column]}" for column in columns}
    reset = {"$unset": {field: ""}} if function in EXTREMES else {"$set": {field: 0}}
    return {
        "reset": {"collection": parent.name, "update": reset},
        "child_pipeline": [{"$group": {"_id": group_id, "value": aggregate}}],
        "parent_key": {child.paths[column]: parent.paths[key] for column, key in columns.items()},
    }


def derived_writes(model: RequirementsModel, design: DocumentDesign) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    """queries.json's `derived_writes`, and PP468 for a derived attribute of MongoDB whose
    children are embedded (the application adds to the parent's own update)."""
    found: list[dict[str, Any]] = []
    warnings: list[Diagnostic] = []
    for entity, name, attribute in derived_attributes(model):
        derived, relationship = attribute.derived, derived_relationship(model, attribute)
        if derived is None or relationship is None:
            continue
        parent, child = design.collection_of(entity), design.collection_of(relationship.to)
        reference = reference_of(model, relationship)
        if parent is None or reference is None:
            continue  # not MongoDB's, or not a one-to-* relationship (the model checks refuse it)
        path = f"entities.{entity}.attributes.{name}.derived"
        if child is None:
            if any(e.child == relationship.to and e.embedded for e in parent.embedded):
                warnings.append(
                    Diagnostic(
                        "PP468",
                        f"{entity}.{name} is the {derived.function.value} of {relationship.to} children, which are "
                        f"embedded in {entity}: each child write is an update of the {entity} document, where the "
                        f"application adds the {entity}.{name} change ($inc, $max, $min) to the same update (atomic: "
                        "one document), and no generated test checks it",
                        path,
                        Severity.WARNING,
                    )
                )
            continue
        field = parent.paths[name]
        value = child.paths[derived.attribute] if derived.attribute else None
        columns = reference.columns
        steps = {
            "insert": [_parent_steps(derived.function, field, value, parent, child, columns, NEW, 1)],
            "change": [
                _parent_steps(derived.function, field, value, parent, child, columns, OLD, -1),
                _parent_steps(derived.function, field, value, parent, child, columns, NEW, 1),
            ],
            "delete": [_parent_steps(derived.function, field, value, parent, child, columns, OLD, -1)],
        }
        found.append(
            {
                "attribute": f"{entity}.{name}",
                "function": derived.function.value,
                "collection": parent.name,
                "field": field,
                "child_collection": child.name,
                "child_field": value,
                "reference": {child.paths[column]: parent.paths[key] for column, key in columns.items()},
                "after_child": steps,
                "transaction": TRANSACTION,
                "repair": _repair(derived.function, field, value, parent, child, columns),
            }
        )
    return found, warnings


def increment_parents(
    model: RequirementsModel, design: DocumentDesign, entity: str, attributes: tuple[str, ...], step: float
) -> list[dict[str, Any]]:
    """The parent updates an increment of `entity`'s `attributes` must be followed by: `$inc` of
    each derived sum over one of them by the same step (a count does not move; a max or min
    follows the `change` path of derived_writes with the value the increment returns). The parent
    is found by the child's reference, a parameter named after the reference attribute."""
    child = design.collection_of(entity)
    found: list[dict[str, Any]] = []
    for owner, name, attribute in derived_attributes(model):
        derived, relationship = attribute.derived, derived_relationship(model, attribute)
        if derived is None or relationship is None or relationship.to != entity:
            continue
        if derived.function is not DerivedFunction.SUM or derived.attribute not in attributes:
            continue
        parent, reference = design.collection_of(owner), reference_of(model, relationship)
        if parent is None or child is None or reference is None:
            continue
        amount = int(step) if step == int(step) else step
        found.append(
            {
                "attribute": f"{owner}.{name}",
                "collection": parent.name,
                "method": "update_one",
                "filter": {parent.paths[key]: {"$param": column} for column, key in reference.columns.items()},
                "update": {"$inc": {parent.paths[name]: amount}},
            }
        )
    return found
