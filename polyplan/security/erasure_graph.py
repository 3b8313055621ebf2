"""The subject's data inside one non-relational store, at any depth (pure).

erasure.sql follows the relationship graph through the relational tables. A store that holds a
chain of the subject's entities (Activity → Step → Mark in MongoDB) is followed the same way by its
own erasure script: the direct children are found by their reference to the subject, each deeper
level by its reference to the keys of the level above, all found before anything changes. A row
that erasure detaches (its reference set to null) is no longer the subject's, so the walk stops
there; an anonymized row stays the subject's, and so do its children.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from polyplan.model.derived import reference_of
from polyplan.model.schema import Erasure, OnDelete, Relationship
from polyplan.plan.ir import Plan

DELETE, ANONYMIZE, DETACH = "delete", "anonymize", "detach"


@dataclass(frozen=True)
class StoreStep:
    """One relationship the store's script follows: `parent` None means the subject itself."""

    relationship: Relationship
    field: str  # the child's attribute that holds the parent's key
    parent_key: str  # the parent's key attribute it refers to
    parent: str | None
    action: str

    @property
    def entity(self) -> str:
        return self.relationship.to


def erasure_action(plan: Plan, relationship: Relationship) -> str:
    """What erasure does to a child's rows of the subject: detach (on_delete set_null), anonymize
    (the entity says so, or must keep its rows), else delete."""
    definition = plan.model.entities[relationship.to]
    if relationship.effective_on_delete is OnDelete.SET_NULL:
        return DETACH
    if definition.erasure is Erasure.ANONYMIZE or (definition.erasure is None and definition.growth.must_keep):
        return ANONYMIZE
    return DELETE


def store_steps(plan: Plan, engine: str, holds: Callable[[str], bool] | None = None) -> list[StoreStep]:
    """Relationships from the subject into `engine`, then on within `engine`, parents first (each
    entity once: the first path found reaches it; a cycle ends where it returns).

    `holds` says which entities the store has copies of (default: those it is the system of record
    for); a cache or search engine passes its projections."""
    model = plan.model
    if holds is None:
        holds = lambda entity: plan.entities[entity].engine == engine  # noqa: E731
    subject = model.security.data_subject
    found: list[StoreStep] = []
    frontier: list[str | None] = [None]
    seen: set[str] = set()
    while frontier:
        parent = frontier.pop(0)
        for relationship in model.relationships:
            source = subject if parent is None else parent
            reference = reference_of(model, relationship)
            decision = plan.entities.get(relationship.to)
            if (
                relationship.from_ != source
                or decision is None
                or not holds(relationship.to)
                or reference is None
                or len(reference.columns) != 1
                or relationship.to in seen
                or relationship.to == subject
            ):
                continue
            ((field, key),) = reference.columns.items()
            action = erasure_action(plan, relationship)
            found.append(StoreStep(relationship, field, key, parent, action))
            seen.add(relationship.to)
            if action != DETACH:
                frontier.append(relationship.to)
    return found
