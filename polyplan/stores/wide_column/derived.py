"""Derived attributes of a Cassandra parent kept in a counter table (issue 12, PP468; pure).

A `count`, or a `sum` of a whole-number attribute, of a parent whose table is in Cassandra is a
`counter` column (counters.py moves it to `<parent>_counters`, keyed by the parent's key, since a
counter shares its table with nothing else). Where the children are Cassandra tables too, each
child write keeps it:

- every insert of a child adds `+1` (count) or `+ the child's value` (sum) to the parent's
  counter row, named by the child's reference: `UPDATE … SET c = c + :c_delta WHERE id = :post_id`;
  every delete subtracts the same (the delete reads the child's row first, as every Cassandra
  delete here does). Run alone after the child's batch: a counter update cannot share a logged
  batch, and is not idempotent (a timed-out one is not retried blindly);
- the parent's read is two statements: its query, then `SELECT … FROM <parent>_counters WHERE
  <key>` (`read`);
- `repair` recomputes it from the children where a child table is partitioned by exactly the
  reference (`SELECT count(*), sum(score) FROM comments_of_post WHERE post_id = :id`), then adds
  the difference from the counter's current value (a counter cannot be set): run it for a
  parent with no child write in flight, e.g. after a child batch succeeded and its add timed out.

PP468 stays, from this target, for what adding cannot keep exact: a `max`/`min` (a delete would
need the other children), a sum over a fractional attribute, and a child update or upsert that may
change the summed attribute or the reference; and, from planning, where the children live in
another store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import reference_of, writes_of
from polyplan.model.derived_attribute_checks import derived_attributes, derived_relationship
from polyplan.model.schema import Attribute, DerivedFunction, Relationship, RequirementsModel, WriteKind
from polyplan.plan.increments import integral
from polyplan.stores.wide_column.cql import qualified, quote
from polyplan.stores.wide_column.spec import EntityDesign, Table
from polyplan.stores.wide_column.typemap import CqlType

COUNTER = CqlType("counter")  # counters.COUNTER (counters.py imports this module)

ADDITIVE = (DerivedFunction.COUNT, DerivedFunction.SUM)


def derived_counters(model: RequirementsModel, entity: str) -> dict[str, Attribute]:
    """The count and whole-number sum derived attributes of `entity`: counter columns in Cassandra."""
    found: dict[str, Attribute] = {}
    for owner, name, attribute in derived_attributes(model):
        derived = attribute.derived
        if owner == entity and derived is not None and derived.function in ADDITIVE and integral(attribute):
            found[name] = attribute
    return found


@dataclass(frozen=True)
class Kept:
    """One derived attribute of a Cassandra parent kept by its Cassandra children's writes."""

    parent: str
    attribute: str
    function: DerivedFunction
    child: str
    summed: str | None  # the child's attribute a sum adds
    reference: tuple[tuple[str, str], ...]  # (child attribute, parent key attribute)
    table: Table  # the parent's counter table
    column: str  # the counter column

    def add(self) -> str:
        """The child's add to its parent's counter (`:<column>_delta` is ±1 or ± the child's value)."""
        by = dict((b, a) for a, b in self.reference)
        where = " AND ".join(f"{quote(k)} = :{by[k]}" for k in self.table.partition_key)
        return (
            f"UPDATE {qualified(self.table.keyspace, self.table.name)} SET {quote(self.column)} = "
            f"{quote(self.column)} + :{self.column}_delta WHERE {where}"
        )


def _counter_table(design: EntityDesign, column: str) -> tuple[Table, str] | None:
    for table in design.tables:
        for c in table.columns:
            if c.attribute == column and c.type == COUNTER:
                return table, c.name
    return None


def kept_attributes(model: RequirementsModel, designs: dict[str, EntityDesign]) -> tuple[list[Kept], list[Diagnostic]]:
    """What the children's writes keep, and PP468 for the derived attributes of a Cassandra parent
    with Cassandra children that adding cannot keep exact."""
    kept: list[Kept] = []
    notes: list[Diagnostic] = []
    for parent, name, attribute in derived_attributes(model):
        derived, relationship = attribute.derived, derived_relationship(model, attribute)
        if derived is None or relationship is None or parent not in designs or relationship.to not in designs:
            continue
        child = relationship.to
        path = f"entities.{parent}.attributes.{name}.derived"
        why = _not_exact(model, child, name, attribute, derived.function, derived.attribute, relationship)
        counter = _counter_table(designs[parent], name)
        if why is None and counter is None:
            why = "it has no counter column"
        if why is not None:
            notes.append(
                Diagnostic(
                    "PP468",
                    f"{parent}.{name} is the {derived.function.value} of {child} children, both in Cassandra, but "
                    f"adding to a counter cannot keep it exact: {why}; the application must keep it, and no "
                    "generated test checks it",
                    path,
                    Severity.WARNING,
                )
            )
            continue
        reference = reference_of(model, relationship)
        assert counter is not None and reference is not None  # one-to-* (PP345)
        pairs = tuple(reference.columns.items())
        kept.append(Kept(parent, name, derived.function, child, derived.attribute, pairs, counter[0], counter[1]))
    return kept, notes


def _not_exact(
    model: RequirementsModel,
    child: str,
    name: str,
    attribute: Attribute,
    function: DerivedFunction,
    summed: str | None,
    relationship: Relationship,
) -> str | None:
    if function not in ADDITIVE:
        return f"a {function.value} is not an addition (a delete would need the other children)"
    if not integral(attribute):
        return "a Cassandra counter holds whole numbers only"
    reference = reference_of(model, relationship)
    references = set(reference.columns) if reference else set()
    watched = references | ({summed} if summed else set())
    for write in writes_of(model, child):
        if write.kind is WriteKind.UPSERT or (
            write.kind in (WriteKind.UPDATE, WriteKind.INCREMENT)
            and (not write.attributes or bool(watched & set(write.attributes)))
        ):
            return f"{child}.{write.name} may change {', '.join(sorted(watched))} (the add would need the old value)"
    return None


def child_adds(kept: list[Kept], child: str, kind: str) -> list[dict[str, Any]]:
    """writes.json `parent_adds` of one insert or delete of `child` (a delete subtracts)."""
    sign = -1 if kind == "delete" else 1
    found = []
    for k in kept:
        if k.child != child:
            continue
        delta: dict[str, Any] = {"sign": sign}
        delta.update({"step": 1} if k.function is DerivedFunction.COUNT else {"attribute": k.summed})
        found.append(
            {
                "attribute": f"{k.parent}.{k.attribute}",
                "cql": k.add(),
                "delta": {f"{k.column}_delta": delta},
                "reference": dict(k.reference),  # child attribute → the parent's key attribute
            }
        )
    return found


def parent_document(kept: list[Kept], designs: dict[str, EntityDesign], parent: str) -> dict[str, Any]:
    """writes.json `derived` of a parent: how each kept attribute is read and repaired."""
    found: dict[str, Any] = {}
    for k in kept:
        if k.parent != parent:
            continue
        table = k.table
        where = " AND ".join(f"{quote(c)} = :{c}" for c in table.partition_key)
        read = f"SELECT {quote(k.column)} FROM {qualified(table.keyspace, table.name)} WHERE {where}"
        entry: dict[str, Any] = {
            "column": k.column,
            "function": k.function.value,
            "child": k.child,
            "read": read,
            "read_note": "the parent's query does not hold it: read it by the parent's key after that query "
            "(a missing row is 0)",
            "repair": None,
        }
        listing = _listing(designs[k.child], [a for a, _ in k.reference])
        if listing is not None:
            aggregate = "count(*)" if k.function is DerivedFunction.COUNT else f"sum({quote(k.summed or '')})"
            by = " AND ".join(f"{quote(a)} = :{b}" for a, b in k.reference)
            entry["repair"] = {
                "aggregate": f"SELECT {aggregate} FROM {qualified(listing.keyspace, listing.name)} WHERE {by}",
                "current": read,
                "add": _repair_add(k),
                "note": "bind :<column>_delta to the aggregate minus the current value (a counter cannot be set); "
                "run it for a parent with no child write in flight",
            }
        found[k.attribute] = entry
    return found


def _repair_add(kept: Kept) -> str:
    """The repair's add: the same counter row named by the parent's own key."""
    table = kept.table
    where = " AND ".join(f"{quote(c)} = :{c}" for c in table.partition_key)
    return (
        f"UPDATE {qualified(table.keyspace, table.name)} SET {quote(kept.column)} = {quote(kept.column)} + "
        f":{kept.column}_delta WHERE {where}"
    )


def _listing(design: EntityDesign, reference: list[str]) -> Table | None:
    """A table of the children partitioned by exactly the reference, unbucketed (one partition lists them)."""
    for table in design.tables:
        if list(table.partition_key) == reference and table.bucket is None and not table.conditions:
            return table
    return None
