"""Relationship paths in filters and sorts (`seller.region_id`, `item.end_date`; issues 12, 14).

A filter or sort attribute with dots names a path: each segment but the last is a to-one hop
(a relationship whose `to` is the current entity, many-to-one or one-to-one, or the parent side
of a one-to-one), named by the relationship's `name` or by the snake_case name of the entity it
reaches; the last segment is an attribute of the reached entity. Entity and attribute names
cannot contain a dot, so a dotted name is always a path.

The path is resolved once, after validation, into `Path` (the hops with their join attributes,
the reached entity, the final attribute and its type). Consumers read `PathRead`s, never the
dotted text. The planning model (`planning_model`) keeps each pattern with its *local*
predicate only (the filters on its own attributes, and its sort and limit only when no path
takes part in them): every store that cannot follow a relationship designs for that superset,
and a coded warning says how the path predicate is applied. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyplan.model.derived import all_attributes, reference_of, snake
from polyplan.model.schema import (
    AccessPattern,
    Attribute,
    Filter,
    Relationship,
    RelationshipKind,
    RequirementsModel,
    Sort,
    TypeName,
)

SEPARATOR = "."
# A related field read is one column of a join or one copied value: not a nested structure.
UNREADABLE_TYPES = frozenset({TypeName.LIST, TypeName.SET, TypeName.OBJECT, TypeName.GEO_POINT})
Found = tuple[str, str, tuple[str | int, ...]]


def is_path(name: str) -> bool:
    """Whether an attribute name is a relationship path (names themselves never hold a dot)."""
    return SEPARATOR in name


@dataclass(frozen=True)
class Hop:
    """One to-one step of a path: rows of `source` join rows of `target` where every
    `source.a == target.b` for (a, b) in `pairs` (a reference and the key it points at).
    `name` is the segment as written (the relationship's name or the entity's)."""

    name: str
    relationship: str
    source: str
    target: str
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Path:
    """A resolved path from `entity` to `attribute` of the last hop's target."""

    entity: str
    text: str
    hops: tuple[Hop, ...]
    attribute: str
    kind: Attribute

    @property
    def target(self) -> str:
        """The entity whose attribute the path reads."""
        return self.hops[-1].target

    @property
    def slug(self) -> str:
        """`item.end_date` → `item_end_date`: parameter and copied-column names."""
        return self.text.replace(SEPARATOR, "_")


class PathError(ValueError):
    """Why a dotted name does not resolve: `code` is PP324 (unknown) or PP326 (to-many hop)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _steps(model: RequirementsModel, entity: str) -> list[tuple[Relationship, str, bool, str]]:
    """(relationship, entity reached, to-one?, direction) for every relationship of `entity`;
    direction `up` goes from a child to its parent, `down` from a parent to its children."""
    found: list[tuple[Relationship, str, bool, str]] = []
    for relationship in model.relationships:
        many = relationship.kind is RelationshipKind.MANY_TO_MANY
        if relationship.to == entity:
            found.append((relationship, relationship.from_, not many, "up"))
        if relationship.from_ == entity:
            found.append((relationship, relationship.to, relationship.kind is RelationshipKind.ONE_TO_ONE, "down"))
    return found


def _hop(model: RequirementsModel, entity: str, segment: str) -> Hop:
    steps = _steps(model, entity)
    by_name = [s for s in steps if s[0].name == segment]
    named = by_name or [s for s in steps if snake(s[1]) == segment]
    if not named:
        choices = sorted({s[0].name for s in steps if s[2]})
        hint = f" (to-one relationships: {', '.join(choices)})" if choices else ""
        raise PathError("PP324", f"{entity} has no relationship '{segment}'{hint}")
    # A self-reference matches both ways: its child-to-parent side is the to-one one.
    to_one = [s for s in named if s[2]]
    if not to_one:
        relationship, reached = named[0][0], named[0][1]
        raise PathError(
            "PP326",
            f"'{segment}' leads from {entity} to many {reached} ({relationship.kind.value} '{relationship.name}'): "
            "a path goes through to-one relationships only",
        )
    if not by_name and len({s[0].name for s in to_one}) > 1:
        names = ", ".join(sorted({s[0].name for s in to_one}))
        raise PathError("PP324", f"'{segment}' is ambiguous from {entity}: name one of the relationships {names}")
    relationship, reached, _, direction = to_one[0]
    reference = reference_of(model, relationship)
    if reference is None:  # a to-one step is never many-to-many
        raise PathError("PP326", f"'{segment}' is a many_to_many relationship")
    if direction == "up":
        pairs = tuple(reference.columns.items())
    else:
        pairs = tuple((parent, child) for child, parent in reference.columns.items())
    return Hop(segment, relationship.name, entity, reached, pairs)


def resolve(model: RequirementsModel, entity: str, text: str) -> Path:
    """The path `text` from `entity`; PathError when a segment does not resolve."""
    *segments, last = text.split(SEPARATOR)
    hops: list[Hop] = []
    current = entity
    for segment in segments:
        hop = _hop(model, current, segment)
        hops.append(hop)
        current = hop.target
    attribute = all_attributes(model, current).get(last)
    if attribute is None:
        raise PathError("PP324", f"'{last}' is not an attribute of {current} (reached by '{text}')")
    return Path(entity, text, tuple(hops), last, attribute)


@dataclass(frozen=True)
class PathRead:
    """An access pattern with at least one path, as written, with every path resolved.

    `filters`, `sort` and the aggregate's `groups` (its group_by names) keep the pattern's order;
    the second item is None for a local one. `reads` holds the related fields the pattern returns
    (`item.title` in its `reads`): each is joined at read time or copied into the pattern's
    entity, as plan/related_reads.py decides."""

    position: int
    pattern: AccessPattern
    filters: tuple[tuple[Filter, Path | None], ...]
    sort: tuple[tuple[Sort, Path | None], ...]
    groups: tuple[tuple[str, Path | None], ...] = ()
    reads: tuple[Path, ...] = ()

    @property
    def name(self) -> str:
        return self.pattern.name

    @property
    def paths(self) -> tuple[Path, ...]:
        """Distinct paths of the filters, sorts and groups, in order (the predicate's paths; the
        related fields read are `reads`)."""
        seen: dict[str, Path] = {}
        for _, path in (*self.filters, *self.sort, *self.groups):
            if path is not None:
                seen.setdefault(path.text, path)
        return tuple(seen.values())

    @property
    def predicate_paths(self) -> bool:
        """Whether a filter, sort or group goes through a relationship (not only the reads)."""
        return bool(self.paths)

    def local(self) -> AccessPattern:
        """The pattern's local predicate: what a store that cannot follow the path returns (a
        superset). A sort or limit that a path takes part in cannot be applied before it; an
        aggregate keeps its own groups only (the application groups by the path's value)."""
        filters = [f for f, path in self.filters if path is None]
        sorted_by_path = any(path is not None for _, path in self.sort)
        filtered_by_path = any(path is not None for _, path in self.filters)
        grouped_by_path = any(path is not None for _, path in self.groups)
        update: dict[str, Any] = {"filters": filters}
        if self.reads:
            # The related fields are the join's or the copy's (plan/related_reads.py); the local
            # read keeps the references the hops start from, so the parent can be found.
            own = [name for name in self.pattern.reads if not is_path(name)]
            starts = [a for path in self.reads for a, _ in path.hops[0].pairs]
            update["reads"] = list(dict.fromkeys([*own, *starts])) if own else []
        if sorted_by_path or grouped_by_path:
            update["sort"] = []
        if sorted_by_path or filtered_by_path or grouped_by_path:
            update["limit"] = None
        if grouped_by_path and self.pattern.aggregate is not None:
            groups = [g for g, path in self.groups if path is None]
            update["aggregate"] = self.pattern.aggregate.model_copy(update={"group_by": groups})
        return self.pattern.model_copy(update=update)


def has_path(pattern: AccessPattern) -> bool:
    """Whether a pattern filters, sorts, groups or reads through a relationship."""
    groups = pattern.aggregate.group_by if pattern.aggregate is not None else []
    return (
        any(is_path(name) for name in pattern.reads)
        or any(is_path(f.attribute) for f in pattern.filters)
        or any(is_path(s.attribute) for s in pattern.sort)
        or any(is_path(g) for g in groups)
    )


def read_of(model: RequirementsModel, position: int, pattern: AccessPattern) -> PathRead:
    """`pattern` (at `position` in `access_patterns`) with its paths resolved."""
    filters = tuple(
        (f, resolve(model, pattern.entity, f.attribute) if is_path(f.attribute) else None) for f in pattern.filters
    )
    sort = tuple(
        (s, resolve(model, pattern.entity, s.attribute) if is_path(s.attribute) else None) for s in pattern.sort
    )
    names = pattern.aggregate.group_by if pattern.aggregate is not None else []
    groups = tuple((g, resolve(model, pattern.entity, g) if is_path(g) else None) for g in names)
    reads = tuple(resolve(model, pattern.entity, name) for name in dict.fromkeys(pattern.reads) if is_path(name))
    return PathRead(position, pattern, filters, sort, groups, reads)


def path_reads(model: RequirementsModel) -> tuple[PathRead, ...]:
    """Every pattern with a path, resolved (the model must be valid: see `path_problems`)."""
    return tuple(read_of(model, i, p) for i, p in enumerate(model.access_patterns) if has_path(p))


def planning_model(model: RequirementsModel, reads: tuple[PathRead, ...]) -> RequirementsModel:
    """`model` with each path pattern reduced to its local predicate, at the same position (so
    every diagnostic keeps pointing at the pattern's line). Unchanged without paths."""
    if not reads:
        return model
    local = {read.position: read.local() for read in reads}
    patterns = [local.get(i, p) for i, p in enumerate(model.access_patterns)]
    planned = model.model_copy(update={"access_patterns": patterns})
    # The copy shares the memo of derived facts, some of which describe the patterns.
    planned._derived = {}
    return planned


def _plain_names(model: RequirementsModel) -> list[Found]:
    """PP326 where a path is given but a plain attribute is required."""
    # (name written, what takes only the entity's own attributes, where it is written)
    named: list[tuple[str, str, tuple[str | int, ...]]] = []
    found: list[Found] = []
    for index, pattern in enumerate(model.access_patterns):
        at: tuple[str | int, ...] = ("access_patterns", index)
        aggregate = pattern.aggregate
        if aggregate is None:
            continue
        if aggregate.attribute is not None:
            named.append((aggregate.attribute, "an aggregate", (*at, "aggregate", "attribute")))
    for index, write in enumerate(model.write_patterns):
        at = ("write_patterns", index)
        named += [(name, "a write", (*at, "attributes", i)) for i, name in enumerate(write.attributes)]
        named += [(f.attribute, "a write predicate", (*at, "where", i, "attribute")) for i, f in enumerate(write.where)]
    found += [
        ("PP326", f"{what} names the entity's own attributes, not a path ('{name}')", at)
        for name, what, at in named
        if is_path(name)
    ]
    return found


def path_problems(model: RequirementsModel) -> list[Found]:
    """PP324 and PP326 for every path that does not resolve or stands where it cannot, PP349 for a
    related field read that is not one value; the op and type checks of a resolved filter or sort
    path are the caller's (checks.py), coded PP327."""
    found = _plain_names(model)
    for index, pattern in enumerate(model.access_patterns):
        if pattern.entity not in model.entities:
            continue
        named: list[tuple[tuple[str | int, ...], str]] = [
            (("filters", i, "attribute"), f.attribute) for i, f in enumerate(pattern.filters)
        ]
        named += [(("sort", i, "attribute"), s.attribute) for i, s in enumerate(pattern.sort)]
        named += [(("reads", i), name) for i, name in enumerate(pattern.reads)]
        if pattern.aggregate is not None:  # an aggregate groups by a path's value too (issue 14)
            named += [(("aggregate", "group_by", i), g) for i, g in enumerate(pattern.aggregate.group_by)]
        for at, text in named:
            if not is_path(text):
                continue
            try:
                reached = resolve(model, pattern.entity, text)
            except PathError as error:
                found.append((error.code, str(error), ("access_patterns", index, *at)))
                continue
            if at[0] == "reads" and reached.kind.type in UNREADABLE_TYPES:
                found.append(
                    (
                        "PP349",
                        f"'{text}' reaches the {reached.kind.type.value} attribute {reached.target}.{reached.attribute}: "
                        "a related field read is one value (a scalar or json), which a join selects or a "
                        f"copy holds; load the {reached.target} records with `loads` instead",
                        ("access_patterns", index, *at),
                    )
                )
    return found


def copies_of(model: RequirementsModel) -> dict[tuple[str, str], Path]:
    """(entity, attribute) → the path each copied attribute of the planning model holds
    (plan/related_reads.with_copies adds them; empty for a model as written)."""
    return dict(model._copies)
