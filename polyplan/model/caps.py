"""Caps and loss tolerance (`growth.cap`, `loss_tolerable`): one reading of the model for every store.

A cap keeps only the newest `max_records` records of an entity, newest by the cap's `order`
attribute (else `growth.time_attribute`): a capped log, a recent-events list. Each store carries
it out its own way (a MongoDB capped collection, a Redis LTRIM, a relational trim job) or warns
(Cassandra has no cap). Loss tolerance says a crash may lose the data: stores may skip the
durability they would otherwise pay for (docs/model.md#cap-and-loss-tolerance).

The checks (each finding is (code, message, path), the shape `checks.check_model` turns into a
Problem):

- PP352: a cap with no order (neither `order` nor `growth.time_attribute`), or an order that is
  not an orderable scalar attribute of the entity;
- PP353: a cap or loss tolerance on an entity that must be kept (`growth.must_keep`);
- PP354: a cap on a parent whose children restrict its deletion (the trim would fail), or a
  `max_bytes` below one record of the estimated size.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyplan.analyse.sizing import record_bytes
from polyplan.model.derived import all_attributes
from polyplan.model.schema import ORDERABLE_TYPES, Entity, OnDelete, RelationshipKind, RequirementsModel

Found = tuple[str, str, tuple[str | int, ...]]
# A capped store keeps its size in bytes with this much room over the average record size: the
# estimate is an average, and a MongoDB capped collection silently drops documents at its size.
BYTES_HEADROOM = 2.0


@dataclass(frozen=True)
class CapRule:
    """An entity's cap as every store reads it."""

    entity: str
    max_records: int  # the records kept: the stated count, or fewer where max_bytes binds first
    order: str  # the attribute whose largest values are the newest records
    max_bytes: int  # stated, else max_records × record size × BYTES_HEADROOM
    bytes_stated: bool

    def describe(self) -> str:
        """The cap in words, e.g. "the newest 1,000 records by at"."""
        return f"the newest {self.max_records:,} records by {self.order}"


def cap_order(entity: Entity) -> str | None:
    """The attribute that orders a capped entity's records (None when the model names none)."""
    if entity.growth.cap is None:
        return None
    return entity.growth.cap.order or entity.growth.time_attribute


def cap_of(model: RequirementsModel, name: str) -> CapRule | None:
    """The entity's cap (None without one, or when its order is missing: PP352 reported that)."""
    entity = model.entities[name]
    cap = entity.growth.cap
    order = cap_order(entity)
    if cap is None or order is None:
        return None
    size = float(entity.avg_record_bytes or record_bytes(all_attributes(model, name)))
    if cap.max_bytes is None:
        return CapRule(name, cap.max_records, order, int(cap.max_records * max(1.0, size) * BYTES_HEADROOM), False)
    # A byte cap binds in every store as the records of the estimated size that fit in it (only
    # MongoDB's capped collection counts bytes itself): the tighter of the two caps is kept.
    kept = min(cap.max_records, max(1, int(cap.max_bytes // max(1.0, size))))
    return CapRule(name, kept, order, cap.max_bytes, True)


def cap_problems(model: RequirementsModel) -> list[Found]:
    """PP352–PP354 for every capped or loss-tolerable entity, in model order."""
    found: list[Found] = []
    for name, entity in model.entities.items():
        path: tuple[str | int, ...] = ("entities", name)
        cap = entity.growth.cap
        if entity.growth.must_keep and (cap is not None or entity.loss_tolerable):
            if cap is not None:
                why, where = "a cap: the cap deletes its oldest records", (*path, "growth", "cap")
            else:
                why, where = "loss tolerance: a crash may lose its records", (*path, "loss_tolerable")
            found.append(
                (
                    "PP353",
                    f"{name} must be kept (growth.must_keep), so it cannot have {why}; drop one of the two",
                    where,
                )
            )
        if cap is None:
            continue
        order = cap_order(entity)
        attributes = all_attributes(model, name)
        if order is None:
            found.append(
                (
                    "PP352",
                    f"a cap keeps the newest records, but nothing says which are newest: set cap.order or "
                    f"growth.time_attribute to the attribute that orders {name}'s records",
                    (*path, "growth", "cap"),
                )
            )
        elif order not in attributes or attributes[order].type not in ORDERABLE_TYPES:
            problem = "is not an attribute of" if order not in attributes else "cannot order the records of"
            found.append(
                (
                    "PP352",
                    f"'{order}' {problem} {name}: the cap's order is a date, timestamp, number or string attribute",
                    (*path, "growth", "cap", "order") if cap.order else (*path, "growth", "time_attribute"),
                )
            )
        for index, relationship in enumerate(model.relationships):
            if relationship.from_ != name or relationship.to == name:
                continue
            if relationship.kind is RelationshipKind.MANY_TO_MANY:
                continue
            if relationship.effective_on_delete in (OnDelete.RESTRICT, OnDelete.NO_ACTION):
                found.append(
                    (
                        "PP354",
                        f"the cap deletes {name}'s oldest records, but {relationship.to} refers to them with "
                        f"on_delete: {relationship.effective_on_delete.value}, so the trim would fail; make the "
                        "relationship cascade or set_null, or drop the cap",
                        ("relationships", index, "on_delete"),
                    )
                )
        rule = cap_of(model, name)
        size = float(entity.avg_record_bytes or record_bytes(attributes))
        if rule is not None and cap.max_bytes is not None and cap.max_bytes < size:
            found.append(
                (
                    "PP354",
                    f"max_bytes ({cap.max_bytes:,}) is less than one {name} record (about {size:,.0f} bytes): the store "
                    "could keep none",
                    (*path, "growth", "cap", "max_bytes"),
                )
            )
    return found
