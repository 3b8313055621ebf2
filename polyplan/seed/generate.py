"""Deterministic synthetic data for a requirements model (logical records, store-independent).

API
---
`generate(model, rows, seed=0) -> {name: [record, ...]}`
    One list per entity (keyed by entity name, in model order) and one per many-to-many
    relationship (keyed by relationship name). A record is a dict whose keys are exactly
    `polyplan.model.derived.all_attributes(model, entity)`: the key (surrogate `id` when implied),
    the declared attributes, and the implied reference attributes such as `customer_id`.
    A link record has the columns of `link_columns(model, relationship)` plus the link's attributes.
    `rows` maps entity (and optionally relationship) names to counts; a missing entity gets 0
    rows, a missing many-to-many gets a count derived from `avg_children` or the sides' sizes.
`rows_for_scale(model, scale, minimum=10, maximum=None) -> {name: count}`
    `growth.initial_rows × scale` per entity (at least `minimum`, at most `maximum`), clamped so
    that one-to-one and `max_children` bounds can be met, plus a count for each many-to-many
    relationship.
`feasible_rows(model, {entity: count}) -> {name: count}`
    The same clamping for counts chosen by hand (e.g. N rows per entity). Counts are also lowered
    to what the unique rules leave room for (a unique enum of 5 values holds 5 records), keeping
    RESERVE values free for the spare records a test generates on top.
`generation_order(model) -> [entity, ...]`
    Parents before children; load records in this order.
`link_columns(model, relationship) -> (from_columns, to_columns)`
    The reference columns of a many-to-many link record: column → key attribute of that side.

Python types of values: string/text/enum → str, integer → int, decimal → Decimal, float →
float, boolean → bool, date → date, timestamp → naive datetime (UTC), timestamptz → aware
datetime (UTC), uuid → uuid.UUID, json → dict, binary → bytes, object → dict of its fields,
list → list of items; None where nullable. Strings are lower-case words or upper-case codes
unless a pattern says otherwise, never with trailing spaces, and unique values are unique
case-insensitively (so a MySQL unique index accepts them too).

Every value satisfies the model: types, max_length, min/max, pattern, enum, uniqueness (single,
composite and keys), entity checks, nullability, list max_items; every reference points at an
existing parent record (optional references are sometimes None; a reference that would close a
cycle of entities is None, or an error if it is required). The same model, rows and seed give
the same records: randomness comes from `random.Random` seeded per entity, uuids included.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from polyplan.model.derived import Reference, all_attributes, key_of, memoised, patterns_of, references_into, snake
from polyplan.model.ranges import is_range
from polyplan.model.schema import (
    Attribute,
    Check,
    CompareOp,
    FilterOp,
    Relationship,
    RelationshipKind,
    RequirementsModel,
    TypeName,
)
from polyplan.seed.derived import derived_children, fill_copies, fill_derived
from polyplan.seed.values import (
    MAX_DECK,
    NULL_RATE,
    Source,
    distinct_capacity,
    draw_beyond,
    make_source,
    normalise,
    random_space,
    shift,
)

Record = dict[str, Any]
MAX_RETRIES = 200
# Characters a prefix-sharing hot group's records take from its first record (`HotGroup.prefixed`):
# the relational tests try the commonest first one and two letters as a prefix parameter.
PREFIX_SHARED = 2
_NUMBERS = frozenset({TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT})
# Values of every unique rule kept free for spare records: the relational test harness asks
# `generate` for 2 spares per entity on top of the counts `feasible_rows` gives it.
RESERVE = 2
# A composite unique rule with at most this many combinations is filled to the brim (redraws
# find the free ones); a larger one only to half, so that random picks find a free one quickly.
SMALL_COMBINATIONS = 1_000


def link_columns(model: RequirementsModel, relationship: Relationship) -> tuple[dict[str, str], dict[str, str]]:
    """Reference columns of a many-to-many link: (from side, to side), each column → key attribute."""
    from_keys = key_of(model.entities[relationship.from_]).attributes
    to_keys = key_of(model.entities[relationship.to]).attributes
    from_columns = {f"{snake(relationship.from_)}_{attr}": attr for attr in from_keys}
    to_prefix = snake(relationship.to)
    if relationship.from_ == relationship.to:
        to_prefix = f"related_{to_prefix}"  # a self-link needs two distinct column sets
    to_columns = {f"{to_prefix}_{attr}": attr for attr in to_keys}
    return from_columns, to_columns


def generation_order(model: RequirementsModel) -> list[str]:
    """Entities with parents first (model order among equals); a cycle is broken at an optional
    reference (its records get NULL there), one no access pattern filters on if it can be (a
    pattern `r2_ref = :r` on a reference NULL in every row has no rows to find), else in model
    order."""
    # Memoised (models are immutable): planning and emitting ask for it once per target's data,
    # and scanning every pattern per entity made it quadratic (3 s per call at 1,000 entities).
    return list(memoised(model, "seed.generation_order", lambda: _generation_order(model)))


def _generation_order(model: RequirementsModel) -> list[str]:
    parents: dict[str, set[str]] = {name: set() for name in model.entities}
    required: dict[str, set[str]] = {name: set() for name in model.entities}
    filtered: dict[str, set[str]] = {name: set() for name in model.entities}
    for name in model.entities:
        read = {f.attribute for p in patterns_of(model, name) for f in p.filters}
        for reference in references_into(model, name):
            parent = reference.relationship.from_
            if parent != name and parent in model.entities:
                parents[name].add(parent)
                if reference.relationship.required:
                    required[name].add(parent)
                if read & set(reference.columns):
                    filtered[name].add(parent)
    order: list[str] = []
    done: set[str] = set()
    remaining = list(model.entities)
    while remaining:
        ready = next((n for n in remaining if parents[n] <= done), None)
        if ready is None:
            # No entity has all its parents: break a cycle at an optional reference.
            breakable = [n for n in remaining if required[n] <= done]
            ready = next((n for n in breakable if not filtered[n] - done), next(iter(breakable), remaining[0]))
        order.append(ready)
        done.add(ready)
        remaining.remove(ready)
    return order


def rows_for_targets(
    model: RequirementsModel, entities: set[str], per_entity: int, parents: int = 8, others: int = 5
) -> dict[str, int]:
    """Row counts for a store's generated tests: `per_entity` of each designed entity, `parents` of
    the entities they reference (so that one parent has several children to list and order), and
    `others` of everything else, capped where a relationship bounds the children."""
    wanted = rows_for_scale(model, 0.0, minimum=others)
    referenced = {r.from_ for r in model.relationships if r.to in entities and r.from_ != r.to}
    for entity in entities:
        wanted[entity] = parents if entity in referenced else per_entity
    # The same clamps as rows_for_scale's, now that the designed entities' counts changed.
    wanted = feasible_rows(model, wanted)
    for relationship in model.relationships:
        if relationship.kind is RelationshipKind.MANY_TO_MANY:
            wanted.pop(relationship.name, None)  # generate() sizes links from the final entity counts
    return wanted


def rows_for_scale(
    model: RequirementsModel, scale: float, minimum: int = 10, maximum: int | None = None
) -> dict[str, int]:
    """Row counts at `scale` × growth.initial_rows (≥ minimum, ≤ maximum when given), feasible for
    the relationships.

    Tests pass a `maximum`: a scale chosen for some entities (the relational ones) must not give
    millions of rows to another entity that starts much larger.
    """
    cap = maximum if maximum is not None else 2**62
    return feasible_rows(
        model,
        {
            name: min(cap, max(minimum, round(entity.growth.initial_rows * scale)))
            for name, entity in model.entities.items()
        },
    )


def feasible_rows(model: RequirementsModel, wanted: Mapping[str, int]) -> dict[str, int]:
    """`wanted` entity counts lowered where one-to-one, max_children, unique rules over small
    value spaces or reference-only keys cannot hold them, plus a link count for every
    many-to-many relationship."""
    rows = {name: max(0, wanted.get(name, 0)) for name in model.entities}
    for name in generation_order(model):
        rows[name] = min(rows[name], _unique_room(model, name, rows[name]))
        singles = _single_unique(model, name)
        for reference in references_into(model, name):
            relationship = reference.relationship
            parent_rows = rows.get(relationship.from_, 0)
            if relationship.from_ == name or not relationship.required:
                continue
            if parent_rows == 0:
                rows[name] = 0  # nothing to point at
            # The spare records need parents too (one each, for a one-to-one).
            exclusive = len(reference.columns) == 1 and next(iter(reference.columns)) in singles
            if relationship.kind is RelationshipKind.ONE_TO_ONE or exclusive:
                rows[name] = min(rows[name], max(0, parent_rows - RESERVE))
            elif relationship.max_children is not None:
                rows[name] = min(rows[name], max(0, parent_rows * relationship.max_children - RESERVE))
        rows[name] = min(rows[name], _combinations(model, name, rows))
    for relationship in model.relationships:
        if relationship.kind is RelationshipKind.MANY_TO_MANY:
            rows[relationship.name] = _default_links(relationship, rows)
    return rows


def _single_unique(model: RequirementsModel, name: str) -> set[str]:
    """Attributes that are unique on their own: declared unique, a one-attribute rule or key."""
    entity = model.entities[name]
    attributes = all_attributes(model, name)
    singles = {attr for attr, spec in attributes.items() if spec.unique}
    singles.update(group[0] for group in [key_of(entity).attributes, *entity.unique] if len(group) == 1)
    return singles


def _unique_room(model: RequirementsModel, name: str, wanted: int) -> int:
    """At most `wanted`: the records the single-attribute unique rules have distinct values for,
    RESERVE values left over for spares (a unique boolean has room for none)."""
    attributes = all_attributes(model, name)
    references = {column for ref in references_into(model, name) for column in ref.columns}
    room = wanted
    for attr in _single_unique(model, name) - references:
        spec = attributes.get(attr)
        if spec is not None and not spec.nullable:  # a nullable one holds NULL once its values run out
            room = min(room, max(0, distinct_capacity(spec, wanted + RESERVE, attr) - RESERVE))
    return room


def _member_space(spec: Attribute, need: int, name: str) -> int:
    """Distinct values one member of a composite unique rule is drawn from: its unique pool, or
    what its random source draws from (730 dates, 26 one-letter codes, 246 country codes), or its
    `distinct` pool."""
    if spec.unique:
        return distinct_capacity(spec, need, name)
    space = random_space(spec, name)
    return min(space, spec.distinct) if spec.distinct is not None else space


def constant_space(
    model: RequirementsModel, name: str, attr: str, constants: Collection[str], shared: Collection[str] = ()
) -> int | None:
    """How many records can hold one constant of `attr` at once: the fewest combinations the
    other members of a composite key or unique rule holding `attr` leave (constants count once,
    `shared` members too: a hot group's records share one value); None when no such rule bounds
    it (a nullable member or a reference column, whose NULL or many parents never run out).

    fuzz8's model 92: unique (a2 boolean, a3) holds a3 = 9.7 in two records at most, and a hot
    group wanted five of them to take it."""
    entity = model.entities[name]
    attributes = all_attributes(model, name)
    owned = {column for ref in references_into(model, name) for column in ref.columns}
    space: int | None = None
    for group in [key_of(entity).attributes, *entity.unique]:
        if len(group) < 2 or attr not in group:
            continue
        others = [c for c in group if c not in constants and c not in shared]
        if any(c in owned or attributes.get(c) is None or attributes[c].nullable for c in others):
            continue
        combinations = 1
        for column in others:
            combinations *= _member_space(attributes[column], 2**62, column)  # the whole space
        space = combinations if space is None else min(space, combinations)
    return space


def _combinations(model: RequirementsModel, name: str, rows: Mapping[str, int]) -> int:
    """A bound on records from each composite key or unique rule: the combinations its members'
    values (or, for reference columns, the parents' records) allow.

    A small space is filled up to RESERVE combinations short (redraws find the free ones); a
    large one to half, so that random picks find a free combination quickly.
    """
    entity = model.entities[name]
    attributes = all_attributes(model, name)
    owner = {column: ref.relationship for ref in references_into(model, name) for column in ref.columns}
    need = max(1, rows.get(name, 0)) + RESERVE
    bound = 2**62
    for group in [key_of(entity).attributes, *entity.unique]:
        if len(group) < 2 or any(attributes.get(c) is None and c not in owner for c in group):
            continue
        if any(c not in owner and attributes[c].nullable for c in group):
            continue  # a NULL member never collides: any number of records fits
        combinations = 1
        for relationship in {owner[column].name: owner[column] for column in group if column in owner}.values():
            combinations *= rows.get(relationship.from_, 0)
        for column in group:
            if column not in owner:
                combinations *= _member_space(attributes[column], need, column)
        if all(column in owner for column in group):
            bound = min(bound, max(1, combinations // 2))
        elif combinations <= SMALL_COMBINATIONS:
            bound = min(bound, max(0, combinations - RESERVE))
        else:
            bound = min(bound, combinations // 2)
    return bound


def _default_links(relationship: Relationship, rows: Mapping[str, int]) -> int:
    from_rows, to_rows = rows.get(relationship.from_, 0), rows.get(relationship.to, 0)
    wanted = round(relationship.avg_children * from_rows) if relationship.avg_children else max(from_rows, to_rows)
    if relationship.max_children is not None:
        wanted = min(wanted, relationship.max_children * from_rows)
    return min(wanted, from_rows * to_rows)


CONSTANT_RATE = 0.25  # share of records that take one of a pattern's constants
# The index proofs' share: an index design sizes a constant's partial index at one over the
# column's distinct values, and on data where a quarter of the rows hold it a scan is the right
# plan (fuzz9pg's model 23: 'gamma' in 1,238 of 3,000 rows). At 1 % a LIMIT 1 still found its row
# after ~100 rows of a scan (fuzz10pg's run: model 84, `a1 IN (203.29) LIMIT 1` over 20,000 rows).
# A limited pattern's hot group holds its constant besides (`polyplan.seed.discriminating`).
PROOF_CONSTANT_RATE = 0.001
# But at least this many records of each entity hold a pattern's constants: a proof takes its
# parameters from rows with them, and at 0.1 % of 3,000 a pattern without a LIMIT (so without a
# hot group) had none ("no seeded row matches the pattern's constants", fuzz10pg's model 325).
MIN_CONSTANT_ROWS = 10


@dataclass(frozen=True)
class HotGroup:
    """`rows` records of one entity that share one value on each attribute of `shared` (for a
    reference column, the same parent), with every other record taking the `constants`.

    The relational tests ask for these so that an access pattern's parameter group has more
    matching rows than its limit, and rows that fail only its constant filters: data on which a
    missing LIMIT or a dropped filter changes the answer (see `polyplan.seed.discriminating`).
    """

    shared: tuple[str, ...]
    constants: tuple[tuple[str, Any], ...]
    rows: int
    # A word put first in the shared text attributes' value: a full-text search for it finds the
    # group and nothing else (seed texts are made of WORDS, each in many records).
    marker: str | None = None
    # A near group: its records copy the first record of `follows` (generated before them) on
    # `shared`, differ from it on `apart` (another value; for a searched text, none of its words),
    # take each attribute of `inside` (range-filtered) from the middle of that group's values and
    # all take the constants: rows that fail exactly one filter of the answer `follows` holds.
    follows: HotGroup | None = None
    apart: str | None = None
    inside: tuple[str, ...] = ()
    searched: bool = False  # `apart` is searched as full text: differ by every word, not the value
    # Shared attributes searched as full text: the group's value needs a word a search can use
    # (`SEARCH_WORD` characters or more), else a full-text answer never reaches the limit
    # (fuzz8's model 71: 504 records shared 'hz', from `^[a-z][a-z0-9_]*$`).
    words: tuple[str, ...] = ()
    # Nullable sort keys every record holding the group's shared values has a value on, the
    # group's and the others drawn with the same values alike (`_EntityGenerator._fill`): NULLs
    # tied at the limit would otherwise be the answer with the filters and without them.
    filled: tuple[str, ...] = ()
    # How many of those records keep their NULL (the pattern's LIMIT less one): fewer NULLs than
    # the limit are all in every answer, so they tie nothing away, and with one or more left a
    # case still shows where the engine puts NULLs (saas's my_open_tasks, LIMIT 50).
    nulls_kept: int = 0
    # Shared attributes (a prefix filter's) whose records take only the first record's first
    # PREFIX_SHARED characters, keeping their own rest: a unique rule over the attribute leaves
    # room for few records of one whole value (unique (a2, a4), a2 of 4 values: 2 records), but a
    # prefix query reaches its limit on values that merely start alike (fuzz11a's model 536).
    prefixed: tuple[str, ...] = ()
    # Nullable sort keys of a group with no limit: its first record holds a value on each, one
    # other record (one per key) holds NULL, so the group's answer shows where the engine sorts
    # NULLs; a group of a few records (NEAR_ROWS * 2) often drew none (fuzz11a's model 722).
    nulled: tuple[str, ...] = ()


def ancestors(model: RequirementsModel, entities: Collection[str]) -> set[str]:
    """`entities` and every entity their references reach, directly or through others."""
    found: set[str] = set()
    stack = [name for name in entities if name in model.entities]
    while stack:
        name = stack.pop()
        if name in found:
            continue
        found.add(name)
        stack.extend(
            r.relationship.from_ for r in references_into(model, name) if r.relationship.from_ in model.entities
        )
    return found


def generate(
    model: RequirementsModel,
    rows: Mapping[str, int],
    seed: int = 0,
    spare: int = 0,
    hot: Mapping[str, Sequence[HotGroup]] | None = None,
    only: Collection[str] | None = None,
    constant_rate: float = CONSTANT_RATE,
) -> dict[str, list[Record]]:
    """Deterministic records per entity and per many-to-many relationship (see module docstring).

    `only` limits the work to those entities and the ones they reference, directly or not (the
    links of a many-to-many relationship come when both ends are made): a store's tests need
    their own entities' records, and in a large model the rest cost most of the time. The
    records made are the same as in a full run, since an entity's records depend only on its own
    random stream and its parents' records.

    `spare` > 0 appends that many extra records to every entity's list: valid, unique against
    all the others, and referenced by no other record or link (tests insert one as a known-good
    row after loading the rest). `hot` gives entities groups of records that share values (the
    last records before the spares; a group larger than the entity's count is cut).
    `constant_rate` is the share of records that take a pattern's constants at random (the index
    proofs give them the small share an index design assumes, `PROOF_CONSTANT_RATE`).
    """
    clash = {r.name for r in model.relationships if r.kind is RelationshipKind.MANY_TO_MANY} & set(model.entities)
    if clash:
        raise ValueError(f"relationship and entity share a name: {sorted(clash)}")
    produced: dict[str, list[Record]] = {}
    visible: dict[str, list[Record]] = {}
    wanted = set(model.entities) if only is None else ancestors(model, only)
    # A derived attribute is its children's aggregate: they are made too, as in a full run.
    wanted |= ancestors(model, derived_children(model, wanted))
    late: list[tuple[str, Reference]] = []  # references to a parent made later: a broken cycle
    for name in generation_order(model):
        if name not in wanted:
            continue
        count = max(0, rows.get(name, 0))
        groups = (hot or {}).get(name, ())
        produced[name] = _EntityGenerator(model, name, count, seed, visible, spare, groups, constant_rate).run()
        visible[name] = produced[name][:count]
        late += [
            (name, reference)
            for reference in references_into(model, name)
            if reference.relationship.from_ not in visible
            and reference.relationship.from_ != name
            and reference.relationship.from_ in wanted
        ]
    for name, reference in late:
        _fill_late(model, name, reference, visible, seed, (hot or {}).get(name, ()))
    fill_derived(model, produced, {name: len(records) for name, records in visible.items()})
    fill_copies(model, produced)
    result = {name: produced[name] for name in model.entities if name in produced}
    for relationship in model.relationships:
        if relationship.kind is RelationshipKind.MANY_TO_MANY and {relationship.from_, relationship.to} <= wanted:
            count = rows[relationship.name] if relationship.name in rows else _default_links(relationship, rows)
            result[relationship.name] = _links(model, relationship, count, seed, visible)
    return result


def _fill_late(
    model: RequirementsModel,
    name: str,
    reference: Reference,
    visible: Mapping[str, list[Record]],
    seed: int,
    hot: Sequence[HotGroup],
) -> None:
    """Point the records of `name` at parents made after them (the reference at which a cycle is
    broken, NULL when they were made), now that the parents exist.

    Left NULL in every row, `r2_ref = :r` or an index proof's child lookup had no row to find
    (fuzz runs of 2026-12-06). Loading inserts such a reference NULL and updates it once both
    tables hold their rows (`polyplan.seed.relational.load_rows`). A reference in a unique group
    or the key is left NULL (filling it could break the group's uniqueness); a hot group sharing
    it takes one parent for the whole group, the value its query asks for."""
    entity = model.entities[name]
    columns = set(reference.columns)
    if columns & set(key_of(entity).attributes) or any(columns & set(group) for group in entity.unique):
        return
    records = visible[name]
    parents = visible[reference.relationship.from_]
    attributes = all_attributes(model, name)
    exclusive = reference.relationship.kind is RelationshipKind.ONE_TO_ONE or (
        len(columns) == 1 and attributes[next(iter(columns))].unique
    )
    rng = random.Random(f"{seed}/{name}/{reference.relationship.name}/late")
    picker = _Picker(reference, name, rng, parents, len(records), exclusive)
    # Record index → the first record of its hot group when the group shares this reference.
    # (Laid out as `_EntityGenerator` lays them: from the last record down, in the list's order.)
    extents: dict[int, tuple[int, int]] = {}
    end = len(records)
    for heat in hot:
        size = min(heat.rows, end)
        extents[id(heat)] = (end - size, size)
        end -= size
    leaders: dict[int, int] = {}
    for heat in hot if not exclusive else ():
        first, size = extents[id(heat)]
        if size and columns <= set(heat.shared):
            follows = extents.get(id(heat.follows)) if heat.follows is not None else None
            lead = follows[0] if follows is not None and follows[1] else first
            leaders.update(dict.fromkeys(range(first, first + size), lead))
    for index, record in enumerate(records):
        lead = leaders.get(index, index)
        if lead != index:
            for column in columns:
                record[column] = records[lead][column]
            continue
        for _ in range(MAX_RETRIES if index in leaders else 1):
            picker.assign(record, index)  # a group's parameter: a NULL would match nothing
            if picker.chosen is not None:
                break


# --- comparisons the way SQL makes them -----------------------------------------------------


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, Decimal):
        return float(value)
    return value


def check_holds(left: Any, op: CompareOp, right: Any) -> bool:
    """An entity check as SQL evaluates it: a NULL side passes."""
    if left is None or right is None:
        return True
    a, b = _comparable(left), _comparable(right)
    if op is CompareOp.LT:
        return bool(a < b)
    if op is CompareOp.LE:
        return bool(a <= b)
    if op is CompareOp.GT:
        return bool(a > b)
    if op is CompareOp.GE:
        return bool(a >= b)
    return bool(a != b)


# --- references ------------------------------------------------------------------------------


@dataclass(eq=False)
class _Picker:
    """Chooses the parent of each child row for one reference."""

    reference: Reference
    child: str
    rng: random.Random
    parents: list[Record] | None  # None: the parent is generated later (a broken cycle)
    count: int
    exclusive: bool
    own_rows: list[Record] = field(default_factory=list)
    referable: int = 2**62  # own records a self-reference may point at (spares are not)
    chosen: Record | None = None  # the parent record the last `assign` pointed at
    _order: list[int] = field(default_factory=list)
    _used: int = 0
    _children: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        relationship = self.reference.relationship
        where = f"{self.child}.{relationship.name}"
        if self.is_self:
            return
        if self.parents is None:
            if relationship.required and self.count:
                raise ValueError(
                    f"{where}: required references form a cycle; the records cannot be loaded in any order"
                )
            return
        if self.count and not self.parents and relationship.required:
            raise ValueError(f"{where}: {self.count} {self.child} records need a {relationship.from_}, and it has none")
        if self.exclusive:
            if relationship.required and self.count > len(self.parents):
                raise ValueError(
                    f"{where}: one-to-one needs a {relationship.from_} per {self.child}: {self.count} > {len(self.parents)}"
                )
            self._order = self.rng.sample(range(len(self.parents)), min(self.count, len(self.parents)))
        limit = relationship.max_children
        if limit is not None and relationship.required and self.count > limit * len(self.parents):
            raise ValueError(
                f"{where}: {self.count} children exceed max_children {limit} × {len(self.parents)} parents"
            )

    @property
    def is_self(self) -> bool:
        return self.reference.relationship.from_ == self.child

    @property
    def regenerable(self) -> bool:
        return not self.exclusive and (self.is_self or self.parents is not None)

    def _parent_index(self, row_index: int) -> int | None:
        relationship = self.reference.relationship
        optional = not relationship.required
        if self.is_self:
            return self._self_parent(row_index, optional)
        if self.parents is None:
            return None
        if optional and self.rng.random() < NULL_RATE:
            return None
        if not self.parents:
            return None
        if self.exclusive:
            if self._used >= len(self._order):
                return None
            self._used += 1
            return self._order[self._used - 1]
        limit = relationship.max_children
        index = self.rng.randrange(len(self.parents))
        if limit is None:
            return index
        for _ in range(20):
            if self._children.get(index, 0) < limit:
                break
            index = self.rng.randrange(len(self.parents))
        else:
            index = next((i for i in range(len(self.parents)) if self._children.get(i, 0) < limit), -1)
            if index < 0:
                return None
        self._children[index] = self._children.get(index, 0) + 1
        return index

    def _self_parent(self, row_index: int, optional: bool) -> int | None:
        # Point at an earlier record (or, for the first required one, at itself) so that
        # records inserted in order never reference one that does not exist yet.
        if row_index == 0:
            return None if optional else 0
        if optional and self.rng.random() < NULL_RATE:
            return None
        if self.exclusive:
            if row_index > self.referable:
                # A second spare would take the same last record as the first: a required
                # reference points at the record itself instead (unique too), an optional one at none.
                return None if optional else row_index
            return min(row_index, self.referable) - 1
        earlier = min(row_index, self.referable)
        if earlier == 0:
            # No referable record (a table seeded with its spares only, fuzz13a's 1738: _Audit at
            # 0 rows in an index proof): as for the first record.
            return None if optional else row_index
        return self.rng.randrange(earlier)

    def with_sibling(self, row: Record, shared: set[str]) -> None:
        """Refer to a parent that has a sibling: another parent with the same `shared` columns of
        this composite reference (a warehouse with two districts), so that `near` finds one."""
        if self.exclusive or self.is_self or not self.parents:
            return
        columns = self.reference.columns
        groups: dict[tuple[Any, ...], set[tuple[Any, ...]]] = {}
        for parent in self.parents:
            part = tuple(normalise(parent[a]) for c, a in columns.items() if c in shared)
            groups.setdefault(part, set()).add(tuple(normalise(parent[a]) for a in columns.values()))
        order = self.rng.sample(range(len(self.parents)), len(self.parents))
        for index in order:
            parent = self.parents[index]
            if len(groups[tuple(normalise(parent[a]) for c, a in columns.items() if c in shared)]) > 1:
                for column, parent_attr in columns.items():
                    row[column] = parent[parent_attr]
                return

    def near(self, row: Record, shared: set[str], earlier: list[Record]) -> bool:
        """Refer to a parent that agrees with the group's `earlier` records on the `shared` columns
        of this composite reference and that none of them refers to (same warehouse, another
        district); False if none does."""
        columns = self.reference.columns
        wanted = {c: normalise(earlier[0][c]) for c in columns if c in shared}
        used = {tuple(normalise(r[c]) for c in columns) for r in earlier}
        if not self.exclusive and not self.is_self and self.parents and None not in wanted.values():
            order = self.rng.sample(range(len(self.parents)), len(self.parents))
            for index in order:
                parent = self.parents[index]
                values = {c: normalise(parent[a]) for c, a in columns.items()}
                if all(values[c] == v for c, v in wanted.items()) and tuple(values.values()) not in used:
                    for column, parent_attr in columns.items():
                        row[column] = parent[parent_attr]
                    return True
        return False

    def assign(self, row: Record, row_index: int) -> None:
        """Set this reference's columns on `row` (None when it has no parent)."""
        index = self._parent_index(row_index)
        self.chosen = None
        if index is None:
            if self.reference.relationship.required and (self.parents or self.is_self):
                raise ValueError(
                    f"{self.child}.{self.reference.relationship.name}: no parent left for a required reference"
                )
            for column in self.reference.columns:
                row[column] = None
            return
        parent = (
            row
            if self.is_self and index == row_index
            else (self.own_rows if self.is_self else self.parents or [])[index]
        )
        for column, parent_attr in self.reference.columns.items():
            row[column] = parent[parent_attr]
        self.chosen = parent


# --- time order between related records ------------------------------------------------------

_TIMES = frozenset({TypeName.DATE, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ})
# Names that say when a record came to be, for an entity whose growth names no time attribute.
CREATION_NAMES = ("created_at", "created", "created_on", "creation_date", "inserted_at", "registered_at")


def creation_attribute(model: RequirementsModel, name: str) -> str | None:
    """The attribute that says when a record of `name` was created: `growth.time_attribute`, else
    one named like `created_at`; None when it has neither (or it is no date or timestamp)."""
    entity = model.entities[name]
    attributes = all_attributes(model, name)
    candidates = [entity.growth.time_attribute] if entity.growth.time_attribute else []
    candidates += [n for n in CREATION_NAMES if n in attributes]
    return next((n for n in candidates if n in attributes and attributes[n].type in _TIMES), None)


# --- constants of access patterns ------------------------------------------------------------


def seed_value(attribute: Attribute, value: Any) -> Any:
    """A model constant (YAML gives dates, timestamps and uuids as text) as the seed's Python type;
    None when it has none."""
    kind = attribute.type
    try:
        if kind is TypeName.UUID:
            return uuid.UUID(str(value))
        if kind is TypeName.DATE:
            return date.fromisoformat(str(value))
        if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if kind is TypeName.TIMESTAMP:
                return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if kind is TypeName.DECIMAL and not isinstance(value, bool):
            exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            return exact.quantize(Decimal(1).scaleb(-(attribute.scale or 0)))
        if kind is TypeName.FLOAT and not isinstance(value, bool):
            return float(value)
    except (ValueError, TypeError, ArithmeticError):
        return None
    return value


def compared_attributes(model: RequirementsModel, name: str) -> set[str]:
    """Attributes of entity `name` a pattern compares with a parameter (`a0 = :a0`, `a0 IN :a0`,
    a range's bounds) or sorts by: on one value each, no data shows that the filter matters or
    which way the sort runs (fuzz13b's 1785: `a0 >= :from AND a0 < :to ORDER BY a0 LIMIT 500`,
    a0 of `distinct: 1`, every seeded row holding the one a0)."""
    found: set[str] = set()
    for pattern in patterns_of(model, name):
        for flt in pattern.filters:
            compared = flt.op in (FilterOp.EQ, FilterOp.IN) or is_range(flt.op)
            if compared and flt.value is None and not flt.path:
                found.add(flt.attribute)
        found.update(item.attribute for item in pattern.sort)
    return found


def _two_values(attribute: Attribute) -> Attribute:
    """`attribute`, drawn from two values where it declares `distinct: 1`. A parameter equality
    on it shows that it matters only on data holding another value (fuzz13a's 1167: `a3 IN
    (false) AND a0 = :a0`, a0 a string of `distinct: 1`, and every seeded row held the one a0);
    so does a range's bound, and a sort's direction (`compared_attributes`).
    `distinct` estimates production data; it is no rule the seed must keep (an enum of one
    value, whose domain is one value, stays one: `_pool_of` draws no more than the type has)."""
    if attribute.distinct != 1:
        return attribute
    return attribute.model_copy(update={"distinct": 2})


def pattern_constants(model: RequirementsModel, name: str) -> dict[str, list[Any]]:
    """Attribute → the constants access patterns on entity `name` filter it by (`status = 'open'`).

    Seeded records take them now and then, so that a query with a constant has rows to find and
    an index test rows to measure; not an enum's or a boolean's, which every deck of their draws
    holds at the model's share already (`dealt_at_weights`). Attributes with a `pattern` are left alone: a constant is not
    checked against it, and a record breaking it would not load.
    """
    attributes = all_attributes(model, name)
    found: dict[str, list[Any]] = {}
    for pattern in patterns_of(model, name):
        for flt in pattern.filters:
            attribute = attributes.get(flt.attribute)
            # A constant on a JSON sub-field (`path`) is the sub-field's value, not the attribute's.
            if flt.value is None or attribute is None or attribute.pattern is not None or flt.path:
                continue
            values = flt.value if isinstance(flt.value, list) else [flt.value]
            for value in values:
                converted = seed_value(attribute, value)
                if converted is not None and converted not in found.setdefault(flt.attribute, []):
                    found[flt.attribute].append(converted)
    return {attr: values for attr, values in found.items() if values}


def sub_field_constants(model: RequirementsModel, name: str) -> dict[str, list[tuple[tuple[str, ...], Any]]]:
    """JSON attribute → (path, constant) of the patterns on entity `name` that compare a declared
    sub-field with a constant (`specs.brand = 'acme'`), each as a value of the sub-field's type."""
    attributes = all_attributes(model, name)
    found: dict[str, list[tuple[tuple[str, ...], Any]]] = {}
    for pattern in patterns_of(model, name):
        for flt in pattern.filters:
            attribute = attributes.get(flt.attribute)
            if not flt.path or flt.value is None or attribute is None:
                continue
            field: Attribute | None = attribute
            for key in flt.path:
                field = (field.fields or {}).get(key) if field is not None else None
            if field is None or field.pattern is not None:
                continue
            for value in flt.value if isinstance(flt.value, list) else [flt.value]:
                converted = seed_value(field, value)
                entry = (tuple(flt.path), converted)
                if converted is not None and entry not in found.setdefault(flt.attribute, []):
                    found[flt.attribute].append(entry)
    return {attr: entries for attr, entries in found.items() if entries}


def _with_sub_field_constants(
    source: Source, constants: list[tuple[tuple[str, ...], Any]], rng: random.Random, rate: float = CONSTANT_RATE
) -> Source:
    """`source` (a JSON document's), but now and then with a sub-field set to a constant a pattern
    compares it with, so that the pattern's query has rows to find."""
    inner = source.draw

    def draw() -> Any:
        document = inner()
        if isinstance(document, dict) and rng.random() < rate:
            path, value = rng.choice(constants)
            target = document
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = value
        return document

    return Source(draw, exclusive=source.exclusive, pool=source.pool)


def dealt_at_weights(attribute: Attribute, constants: list[Any]) -> bool:
    """Whether the attribute's own source already draws each constant in every deck
    (`values.weighted_deck`: an enum at its weights, a boolean at half), so that adding constants
    would only skew the shares a partial index is sized by (`status = 'open'` at 10 %, not 32 %)."""
    if attribute.type is TypeName.BOOLEAN:
        return all(isinstance(value, bool) for value in constants)
    if attribute.type is not TypeName.ENUM or not attribute.values:
        return False
    weights = attribute.weights or [1.0] * len(attribute.values)
    total = sum(w for w in weights if w > 0)
    share = dict(zip(attribute.values, weights, strict=False))
    return total > 0 and all(share.get(value, 0.0) / total >= 1 / MAX_DECK for value in constants)


def _with_constants(
    source: Source, constants: list[Any], rng: random.Random, after: int = 0, rate: float = CONSTANT_RATE
) -> Source:
    """`source`, but drawing the constants too: now and then (`rate`), or (for a unique attribute)
    first, after `after` values of its own, with the pool's own copies of them skipped."""
    inner = source.draw
    if not source.exclusive:
        choices = None if source.choices is None else (*source.choices, *constants)
        return Source(lambda: rng.choice(constants) if rng.random() < rate else inner(), choices=choices)
    queue = list(constants)
    taken = {normalise(value) for value in constants}
    ahead = [after]

    def draw() -> Any:
        if queue and not ahead[0]:
            return queue.pop(0)
        ahead[0] = max(0, ahead[0] - 1)
        while True:
            value = inner()
            if value is None or normalise(value) not in taken:
                return value

    return Source(draw, exclusive=True)


def _constants_first(source: Source, constants: list[Any], after: int = 0) -> Source:
    """`source` (not exclusive), but its draws after the first `after` give each constant once
    first: the constants then sit on the entity's first records."""
    inner = source.draw
    queue = list(constants)
    ahead = [after]

    def draw() -> Any:
        if queue and not ahead[0]:
            return queue.pop(0)
        ahead[0] = max(0, ahead[0] - 1)
        return inner()

    return Source(draw, pool=source.pool, choices=source.choices)


def _reserved_constants(
    model: RequirementsModel, name: str, hot: Sequence[HotGroup], count: int
) -> dict[str, set[Any]]:
    """Constants of hot groups that a composite unique rule lets fewer records hold than the
    entity has: the groups' records take them (`_heat`), other records never draw them, else
    random draws at CONSTANT_RATE use up the combinations first (fuzz8's model 92)."""
    reserved: dict[str, set[Any]] = {}
    for group in hot:
        names = [attr for attr, _ in group.constants]
        for attr, value in group.constants:
            space = constant_space(model, name, attr, names)
            if space is not None and space <= count:
                reserved.setdefault(attr, set()).add(normalise(value))
    return reserved


def _without(source: Source, kept_out: set[Any]) -> Source:
    """`source`, drawing again whenever it gives a value of `kept_out` (a few values of a large
    space: the loop ends fast; MAX_RETRIES bounds it should the space be nearly all kept out)."""
    inner = source.draw

    def draw() -> Any:
        value = inner()
        for _ in range(MAX_RETRIES):
            if normalise(value) not in kept_out:
                return value
            value = inner()
        return value

    choices = None if source.choices is None else tuple(v for v in source.choices if normalise(v) not in kept_out)
    return Source(draw, exclusive=source.exclusive, pool=source.pool, choices=choices)


# --- entities --------------------------------------------------------------------------------


class _EntityGenerator:
    def __init__(
        self,
        model: RequirementsModel,
        name: str,
        count: int,
        seed: int,
        produced: Mapping[str, list[Record]],
        spare: int = 0,
        hot: Sequence[HotGroup] = (),
        constant_rate: float = CONSTANT_RATE,
    ) -> None:
        entity = model.entities[name]
        self.name = name
        referable = count
        count += spare
        self.count = count
        self.rng = random.Random(f"{seed}/{name}")
        self.attributes = all_attributes(model, name)
        self.checks = list(entity.checks)
        key = key_of(entity).attributes
        singles = {attr for attr, spec in self.attributes.items() if spec.unique}
        self.groups: list[tuple[str, ...]] = []
        for group in ([key] if len(key) > 1 else []) + list(entity.unique):
            if len(group) == 1:
                singles.add(group[0])
            else:
                self.groups.append(tuple(group))
        if len(key) == 1:
            singles.add(key[0])
        self.rows: list[Record] = []
        self.pickers: list[_Picker] = []
        for reference in references_into(model, name):
            relationship = reference.relationship
            exclusive = relationship.kind is RelationshipKind.ONE_TO_ONE or (
                len(reference.columns) == 1 and next(iter(reference.columns)) in singles
            )
            parents = produced.get(relationship.from_)
            picker = _Picker(
                reference, name, self.rng, parents, count, exclusive, own_rows=self.rows, referable=referable
            )
            self.pickers.append(picker)
        self.reference_columns = {column: picker for picker in self.pickers for column in picker.reference.columns}
        # A child is created after its parent (an order after its customer): (picker, the
        # parent's creation attribute) for each reference whose both ends have one.
        self.created = creation_attribute(model, name)
        self.timed: list[tuple[_Picker, str]] = []
        if self.created is not None:
            for picker in self.pickers:
                parent_created = creation_attribute(model, picker.reference.relationship.from_)
                if parent_created is not None:
                    self.timed.append((picker, parent_created))
        compared = compared_attributes(model, name)
        self.sources: dict[str, Source] = {
            attr: make_source(
                _two_values(spec) if attr in compared else spec,
                self.rng,
                count,
                f"{name}.{attr}",
                unique=attr in singles,
            )
            for attr, spec in self.attributes.items()
            if attr not in self.reference_columns
        }
        reserved = _reserved_constants(model, name, hot, count)
        # The first record has no earlier one to refer to: a unique constant goes to the second
        # when the entity refers to itself, so its holder can have a parent (fuzz9's model 719).
        after = 1 if any(picker.is_self for picker in self.pickers) else 0
        constant_rate = max(constant_rate, min(CONSTANT_RATE, MIN_CONSTANT_ROWS / max(count, 1)))
        for attr, values in pattern_constants(model, name).items():
            if attr not in self.sources:
                continue
            if not dealt_at_weights(self.attributes[attr], values):
                self.sources[attr] = _with_constants(self.sources[attr], values, self.rng, after, constant_rate)
            space = constant_space(model, name, attr, values)
            if attr not in reserved and space is not None and space <= count and not self.sources[attr].exclusive:
                # A composite unique rule lets few records hold the constant (unique (a3, a2), a3
                # an enum of one value: `a2 = 'delta'` in one record): drawn at random, or dealt
                # at weights, a table of two records may hold none (fuzz10pg's model 679).
                self.sources[attr] = _constants_first(self.sources[attr], values, after)
        for attr, kept_out in reserved.items():
            if attr in self.sources and not self.sources[attr].exclusive:
                self.sources[attr] = _without(self.sources[attr], kept_out)
        for attr, entries in sub_field_constants(model, name).items():
            if attr in self.sources:
                self.sources[attr] = _with_sub_field_constants(self.sources[attr], entries, self.rng, constant_rate)
        self.constants = pattern_constants(model, name)
        self.seen: list[set[tuple[Any, ...]]] = [set() for _ in self.groups]
        self.numbered = _numbered(
            key, self.attributes, set(self.reference_columns), set(pattern_constants(model, name))
        )
        self.numbers: dict[tuple[str, tuple[Any, ...]], int] = {}
        self.links = self._links()
        # Record index → (its hot group, the group's first index); groups end where spares begin.
        self.hot: dict[int, tuple[HotGroup, int]] = {}
        # Each group's records (first index, count), by identity: where a near group's leader is.
        self.extents: dict[int, tuple[int, int]] = {}
        end = referable
        for heat in hot:
            # A group sharing values keeps the first record out of it: a group holding every
            # record of a capped table leaves no row that fails its equality, and no case shows
            # the filter matters (fuzz13a's 1609: 5 records at most, 3 seeded, all in the group).
            # That record is also the earlier one a group on a reference to its own entity shares
            # (fuzz11a's 796: a first record has no parent to point at).
            size = min(heat.rows, max(0, end - (1 if heat.shared else 0)))
            for index in range(end - size, end):
                self.hot[index] = (heat, end - size)
            self.extents.setdefault(id(heat), (end - size, size))
            end -= size

    def _heat(self, row: Record, index: int) -> None:
        """Give a record of a hot group the group's shared values (its first record's: a whole
        reference at once) and, every other record, the constants."""
        found = self.hot.get(index)
        if found is None:
            return
        group, first = found
        extent = self.extents.get(id(group.follows)) if group.follows is not None else None
        if extent is not None and extent[1] and extent[0] + extent[1] <= index:
            self._near(row, index, group, self.rows[extent[0] : extent[0] + extent[1]])
            row.update(group.constants)
            return
        if index == first:
            # The group's values are parameters of a query: a NULL would match nothing.
            for attr in group.shared:
                picker = self.reference_columns.get(attr)
                source = self.sources.get(attr)
                if picker is not None and not set(picker.reference.columns) <= set(group.shared):
                    picker.with_sibling(row, set(group.shared))
                if attr in dict(self.numbered):
                    # A number no parent uses yet: the group's other records take it under
                    # other parents (the same customer number in another district).
                    row[attr] = 2 ** (self.attributes[attr].bits - 2) + index
                # A marked value the attribute's regex refuses cannot carry the marker: the group's
                # own drawn value (one the regex makes, shared by the group) is searched instead.
                unmarked = group.marker is not None and self.attributes[attr].pattern is not None
                needs_word = attr in group.words or unmarked
                for _ in range(MAX_RETRIES):
                    if row.get(attr) is not None and (not needs_word or _has_search_word(row[attr])):
                        break
                    if picker is not None:
                        picker.assign(row, index)
                    elif source is not None:
                        row[attr] = source.draw()
                if group.marker is not None and isinstance(row.get(attr), str):
                    row[attr] = _marked(self.attributes[attr], row[attr], group.marker)
            for attr in self._nullable_keys(group):
                source = self.sources.get(attr)
                for _ in range(MAX_RETRIES if source is not None and not source.exclusive else 0):
                    if row.get(attr) is not None:
                        break
                    row[attr] = source.draw() if source is not None else None
        else:
            leader = self.rows[first]
            shared = set(group.shared)
            partial = {id(p): p for a in group.shared if (p := self.reference_columns.get(a)) is not None}
            partial = {k: p for k, p in partial.items() if not set(p.reference.columns) <= shared}
            if not all([p.near(row, shared, self.rows[first:index]) for p in partial.values()]):
                return  # no parent fits (no second district in the warehouse): the row stays out
            for attr in group.shared:
                picker = self.reference_columns.get(attr)
                if picker is not None and id(picker) in partial:
                    continue
                if attr in group.prefixed:
                    row[attr] = _prefixed(leader[attr], row.get(attr))
                    continue
                for column in picker.reference.columns if picker is not None else (attr,):
                    row[column] = leader[column]
            nulled = self._nullable_keys(group)
            if index - first <= len(nulled):
                row[nulled[index - first - 1]] = None
        if (index - first) % 2 == 0:
            row.update(group.constants)
            return
        for attr, value in group.constants:
            # The other records fail the constants where the attribute has other values: rows a
            # dropped constant filter would add.
            source = self.sources.get(attr)
            for _ in range(MAX_RETRIES if source is not None and not source.exclusive else 0):
                if row.get(attr) != value:
                    break
                row[attr] = source.draw() if source is not None else value

    def _near(self, row: Record, index: int, group: HotGroup, members: list[Record]) -> None:
        """Make `row` one filter away from the followed group's `members`: their first record's
        values on `group.shared`, another value (or text) on `group.apart`, and the middle of
        their values on each attribute of `group.inside`."""
        leader = members[0]
        shared = set(group.shared)
        partial = {id(p): p for a in group.shared if (p := self.reference_columns.get(a)) is not None}
        partial = {k: p for k, p in partial.items() if not set(p.reference.columns) <= shared}
        for picker in partial.values():
            # Same warehouse, a district none of the members uses; left as drawn if none is free.
            picker.near(row, shared, members)
        for attr in group.shared:
            owner = self.reference_columns.get(attr)
            if owner is not None and id(owner) in partial:
                continue
            for column in owner.reference.columns if owner is not None else (attr,):
                row[column] = leader[column]
        for attr in group.inside:
            source = self.sources.get(attr)
            values = sorted(dict.fromkeys(v for r in members if (v := r.get(attr)) is not None), key=normalise)
            if values and (source is None or not source.exclusive):
                # The middle half: inside any bound that leaves a few of the group's values out;
                # drawn, so that a redraw after a unique collision tries another.
                quarter = len(values) // 4
                row[attr] = self.rng.choice(values[quarter : len(values) - quarter])
        apart = group.apart
        if apart is None:
            return
        chooser = self.reference_columns.get(apart)
        source = self.sources.get(apart)
        spec = self.attributes.get(apart)
        if group.searched and spec is not None and spec.pattern is None and (source is None or not source.exclusive):
            row[apart] = unsearchable(self.rng, spec.max_length)
            return
        for _ in range(MAX_RETRIES):
            if self._differs(row, leader, apart, group.searched):
                return
            if chooser is not None and id(chooser) not in partial and not chooser.exclusive:
                chooser.assign(row, index)
            elif chooser is None and source is not None and not source.exclusive:
                row[apart] = source.draw()
            else:
                return
        if group.searched and isinstance(row.get(apart), str):
            # Seed texts share their words: keep only the words the leader's text lacks.
            theirs = _words(leader.get(apart))
            kept = " ".join(w for w in row[apart].split() if not _words(w) & theirs)
            if kept:
                row[apart] = kept

    @staticmethod
    def _differs(row: Record, leader: Record, attr: str, searched: bool) -> bool:
        if searched:
            return not _words(row.get(attr)) & _words(leader.get(attr))
        return bool(normalise(row.get(attr)) != normalise(leader.get(attr)))

    # Numbers of different types link too: `shift` converts the source's value into the target's
    # units and gives None unless that is exact, so distinct values stay distinct.
    def _links(self) -> list[tuple[str, str, int]]:
        """(source, target, step) for checks between two unique attributes of one type: the
        target is made as the source's value plus `step` units.

        Neither can be redrawn or repaired (each takes values from its own pool), so the larger
        is made from the smaller instead: the smaller's value plus `step` units. A shift keeps
        distinct values distinct, so the larger stays unique, and the check holds by design.
        """
        links: list[tuple[str, str, int]] = []
        taken: set[str] = set()
        for check in self.checks:
            smaller, larger = (
                (check.left, check.right)
                if check.op is not CompareOp.GT and check.op is not CompareOp.GE
                else (check.right, check.left)
            )
            first, second = self.sources.get(smaller), self.sources.get(larger)
            a, b = self.attributes[smaller], self.attributes[larger]
            if (
                first is None
                or second is None
                or not (first.exclusive and second.exclusive)
                or ((a.type, a.scale) != (b.type, b.scale) and not {a.type, b.type} <= _NUMBERS)
                or smaller == larger
            ):
                continue
            step = 0 if check.op in (CompareOp.LE, CompareOp.GE) else 1
            if a.nullable and not b.nullable:
                # A NULL smaller would leave the larger unmade: make the smaller from the larger,
                # `step` units below it, instead (a nullable column may always hold a value).
                source, target, step = larger, smaller, -step
            else:
                source, target = smaller, larger
            if target in taken:
                continue
            taken.add(target)
            links.append((source, target, step))
        return links

    def _takes(self, target: str, drawn: Any, shifted: Any) -> bool:
        """Whether a link's target may hold `shifted` instead of the value it `drawn` from its
        pool: the pool takes `shifted` (it never hands it out again) and gets `drawn` back; False
        when another record holds `shifted` already. A shift keeps distinct values distinct only
        among shifted values: where the source's value is out of the target's range, or finer
        than its scale, the target keeps its own pool value, which a shifted value of another
        record may equal (fuzz13a's 1052: a unique float a0 and the decimal(6, 4) key a2 under
        `a0 != a2`; two records held a2 = 55.2351, and the key's INSERT failed)."""
        source = self.sources.get(target)
        if source is None or source.pool is None or drawn is None or normalise(drawn) == normalise(shifted):
            return True
        return source.pool.replace(drawn, shifted)

    def _after_parents(self, row: Record, index: int) -> None:
        """Move the record's creation time to after each parent's (a day to a month later), unless
        the value is unique (from a pool) or a hot group or pattern constant fixed it."""
        created = self.created
        if created is None or row.get(created) is None:
            return
        source = self.sources.get(created)
        heat = self.hot.get(index)
        if source is None or source.exclusive or row[created] in self.constants.get(created, ()):
            return
        if heat is not None and (
            created in heat[0].shared or created in dict(heat[0].constants) or created in heat[0].inside
        ):
            return
        for picker, parent_created in self.timed:
            parent = picker.chosen
            if parent is None or parent is row or parent.get(parent_created) is None:
                continue
            if not check_holds(row[created], CompareOp.GE, parent[parent_created]):
                later = draw_beyond(self.attributes[created], self.rng, parent[parent_created], True, False)
                if later is not None:
                    row[created] = later

    def _redraw(self, columns: set[str], row: Record, row_index: int) -> bool:
        """Redraw what can be redrawn among `columns`; False when nothing could."""
        changed = False
        for picker in self.pickers:
            if picker.regenerable and not columns.isdisjoint(picker.reference.columns):
                picker.assign(row, row_index)
                changed = True
        for column in sorted(columns):
            source = self.sources.get(column)
            if source is not None and not source.exclusive:
                row[column] = source.draw()
                changed = True
        return changed

    def _violations(self, row: Record) -> tuple[set[str], list[tuple[Any, ...] | None]]:
        bad: set[str] = set()
        keys: list[tuple[Any, ...] | None] = []
        for group, seen in zip(self.groups, self.seen, strict=True):
            values = tuple(normalise(row[c]) for c in group)
            if any(v is None for v in values):
                keys.append(None)  # NULLs never collide in a unique index
                continue
            keys.append(values)
            if values in seen:
                bad.update(group)
        for check in self.checks:
            if not check_holds(row[check.left], check.op, row[check.right]):
                bad.update((check.left, check.right))
        return bad, keys

    def _repair(self, row: Record, index: int) -> bool:
        """Set one side of each broken order check to a value on the right side of the other;
        False when no check could be repaired that way (strings, unique sides, no room)."""
        changed = False
        pinned = self._pinned(index)
        for check in self.checks:
            if check.op is CompareOp.NE or check_holds(row[check.left], check.op, row[check.right]):
                continue
            if self._exchange(row, check, pinned):
                changed = True
                continue
            repaired = False
            smaller, larger = (
                (check.left, check.right) if check.op in (CompareOp.LT, CompareOp.LE) else (check.right, check.left)
            )
            strict = check.op in (CompareOp.LT, CompareOp.GT)
            sides = [(larger, smaller, True), (smaller, larger, False)]
            self.rng.shuffle(sides)
            for side, other, above in sides:
                source = self.sources.get(side)
                if source is None or source.exclusive:
                    continue  # a reference, or a unique value taken from a pool
                value = draw_beyond(self.attributes[side], self.rng, row[other], above, strict)
                if value is not None:
                    row[side] = value
                    changed = repaired = True
                    break
            both = {check.left, check.right}
            if not repaired and self._clear_of_range(row, check, sides, strict) and self._exchange(row, check, both):
                # Moved beyond the unique side's whole range (below it, for `a2 < a1` with a1 at
                # most 0 and a2 drawn from 0 up), then the unique side exchanged to fit beside it.
                changed = True
                continue
            # No room on the side that may move (a unique value beyond the other's whole range),
            # and no NULL that a redraw could give instead: the unique side is exchanged for one
            # the other side can stand next to.
            sides_null = self.attributes[check.left].nullable or self.attributes[check.right].nullable
            if not repaired and not sides_null and self._exchange(row, check, both):
                changed = True
        return changed

    def _nullable_keys(self, group: HotGroup) -> tuple[str, ...]:
        """`group.nulled` but for attributes a link ties to another (one is made from the other:
        a NULL there would change what the other holds) and ones the generator does not make. A
        side of a check stays: a NULL passes any check, as in SQL, and the first record's value
        is repaired like any other (fuzz14a's 2404: `a4 = :a4 ORDER BY a5 DESC` under the check
        `a1 <= a5`; left out, a5 had no NULL, and no case showed where NULLs sort)."""
        bound = {c for link in self.links for c in link[:2]}
        return tuple(a for a in group.nulled if a in self.attributes and self.attributes[a].nullable and a not in bound)

    def _pinned(self, index: int) -> set[str]:
        """The attributes a hot group sets on record `index` again at every attempt (its shared
        values, on every record but the first): a repair of one of those does not last."""
        found = self.hot.get(index)
        if found is None or found[1] == index:
            return set()
        # A prefixed attribute keeps its own rest: redrawing it is what frees a unique collision.
        return set(found[0].shared) - set(found[0].prefixed)

    def _clear_of_range(self, row: Record, check: Check, sides: list[tuple[str, str, bool]], strict: bool) -> bool:
        """Where neither side can move beside the other's value and one side is unique (a pool),
        move the other beyond the unique side's whole min/max instead, once: the seed draws a
        value from 0 up where the model allows it below, and `a2 < a1` with a1 at most 0 never
        held. False when that does not apply or has no room."""
        for side, other, above in sides:
            source, partner = self.sources.get(side), self.sources.get(other)
            edge = self.attributes[other].min if above else self.attributes[other].max
            if source is None or source.exclusive or partner is None or not partner.exclusive or edge is None:
                continue
            beyond = Decimal(str(edge)) if self.attributes[side].type is TypeName.DECIMAL else edge
            value = draw_beyond(self.attributes[side], self.rng, beyond, above, strict)
            if value is not None and value != row[side]:
                row[side] = value
                return True
        return False

    def _exchange(self, row: Record, check: Check, pinned: set[str]) -> bool:
        """Where one side of a broken check is pinned and the other is unique (from a pool,
        which neither a redraw nor a repair may touch), exchange the unique value for one on the
        right side of the pinned value: from the pool, else drawn next to it (a collision with
        an earlier record is then caught as any other); False when that does not apply."""
        for side, other in ((check.left, check.right), (check.right, check.left)):
            source = self.sources.get(side)
            linked = any(target == side for _, target, _ in self.links)  # made from another
            if other not in pinned or source is None or source.pool is None or linked or row[side] is None:
                continue
            fixed, op, on_left = row[other], check.op, side == check.left

            def fits(value: Any, fixed: Any = fixed, op: CompareOp = op, on_left: bool = on_left) -> bool:
                return check_holds(value, op, fixed) if on_left else check_holds(fixed, op, value)

            value = source.pool.exchange(row[side], fits)
            if value is None:
                # Below `fixed` when the side is the smaller one (left of < or <=, right of > or >=).
                above = (check.op in (CompareOp.GT, CompareOp.GE)) == (side == check.left)
                strict = check.op in (CompareOp.LT, CompareOp.GT)
                value = draw_beyond(self.attributes[side], self.rng, fixed, above, strict)
                if value is None or not source.pool.replace(row[side], value):
                    continue
            row[side] = value
            return True
        return False

    def _one(self, index: int) -> Record:
        row: Record = {}
        for attr in self.attributes:
            source = self.sources.get(attr)
            row[attr] = source.draw() if source is not None else None
        for _ in self.links:  # as often as there are links, so that chains (a < b < c) settle
            for origin, target, step in self.links:
                if row[origin] is None:
                    row[target] = None  # nullable, as _links made sure
                    continue
                shifted = shift(self.attributes[target], row[origin], step)
                if shifted is not None and self._takes(target, row[target], shifted):
                    row[target] = shifted
        for picker in self.pickers:
            picker.assign(row, index)
        if self._holds_unique_constant(row):
            # The one record a unique constant's pattern can find: an optional reference left
            # NULL there gives the pattern's reference parameter no row (fuzz9's 719 and 763).
            for picker in self.pickers:
                for _ in range(MAX_RETRIES):
                    if picker.reference.relationship.required or any(
                        row[c] is not None for c in picker.reference.columns
                    ):
                        break
                    picker.assign(row, index)
        for column, parents in self.numbered:
            # Numbered per parent (district 1, 2, … of each warehouse), as such keys are in use:
            # the same number under several parents is what makes each key column matter.
            counter = (column, tuple(normalise(row[c]) for c in parents))
            self.numbers[counter] = self.numbers.get(counter, 0) + 1
            row[column] = self.numbers[counter]
        for attempt in range(MAX_RETRIES):
            self._heat(row, index)  # again after each redraw: the shared values are the point
            self._after_parents(row, index)
            bad, keys = self._violations(row)
            if not bad:
                return self._accepted(row, keys)
            # Alternate: repair broken checks directly, then redraw whatever is still broken
            # (collisions of composite unique rules, checks on types that cannot be repaired).
            if attempt % 2 == 0 and self._repair(row, index):
                continue
            if not self._redraw(bad, row, index):
                break
        self._heat(row, index)
        self._after_parents(row, index)
        for fallback in (self._free_combination, self._null_a_side):
            if fallback(row, index):
                bad, keys = self._violations(row)
                if not bad:
                    return self._accepted(row, keys)
        rules = ", ".join(sorted(bad))
        raise ValueError(
            f"{self.name}: cannot generate record {index}: no values left that satisfy the unique/check rules on "
            f"{rules} (ask for fewer rows, or widen the value ranges)"
        )

    def _accepted(self, row: Record, keys: list[tuple[Any, ...] | None]) -> Record:
        """`row`, its unique keys now taken."""
        for seen, key in zip(self.seen, keys, strict=True):
            if key is not None:
                seen.add(key)
        return row

    def _free_combination(self, row: Record, index: int) -> bool:
        """Where random redraws kept hitting taken combinations of a composite unique rule, set
        one member drawn from a known pool (`Source.choices`) to a value that breaks no rule, in
        a random order; False when no member has one. A rule over a small space (a3 with one
        value, a0 with 1,000) is filled close to the brim (`_combinations`), and 200 random
        draws find the last free values only by luck (fuzz10's model 214, Order's natural key)."""
        pinned = self._pinned(index)
        for group, seen in zip(self.groups, self.seen, strict=True):
            if tuple(normalise(row[c]) for c in group) not in seen:
                continue
            for column in group:
                source = self.sources.get(column)
                if source is None or source.exclusive or source.choices is None or column in pinned:
                    continue
                options = list(source.choices)
                self.rng.shuffle(options)
                kept = row[column]
                for value in options:
                    row[column] = value
                    if not self._violations(row)[0]:
                        return True
                row[column] = kept
            for column in group:
                # A nullable member holds NULL, which never collides: what a group of more
                # records than the other members' values ends with (discriminating._room).
                source = self.sources.get(column)
                if source is None or source.exclusive or column in pinned or not self.attributes[column].nullable:
                    continue
                kept = row[column]
                row[column] = None
                if not self._violations(row)[0]:
                    return True
                row[column] = kept
        return False

    def _null_a_side(self, row: Record, index: int) -> bool:
        """Where a check still fails, set a nullable side to NULL (a NULL side passes a check, as
        in SQL); False when no broken check has one. fuzz13a's 1423: `a4 < a1`, a4 a
        decimal(5, 4) (at least -9.9999), a1 a unique nullable float of -50..50 handed out once
        each: a1 = -30 leaves a4 no value, a1 cannot be redrawn, and record 2 failed."""
        pinned = self._pinned(index)
        changed = False
        for check in self.checks:
            if check_holds(row[check.left], check.op, row[check.right]):
                continue
            for side in (check.left, check.right):
                if side in pinned or side in self.reference_columns or not self.attributes[side].nullable:
                    continue
                row[side] = None
                changed = True
                break
        return changed

    def _holds_unique_constant(self, row: Record) -> bool:
        """Whether `row` holds a pattern constant of a unique attribute (the one record that can)."""
        for attr, values in self.constants.items():
            source = self.sources.get(attr)
            held = row.get(attr)
            if (
                source is not None
                and source.exclusive
                and held is not None
                and normalise(held) in set(map(normalise, values))
            ):
                return True
        return False

    def run(self) -> list[Record]:
        for index in range(self.count):
            self.rows.append(self._one(index))
        self._fill()
        return self.rows

    def _fill(self) -> None:
        """Give each record holding a hot group's shared values a value on the group's `filled`
        sort keys (the group's records come last, so the others are known only now). Only an
        attribute no unique rule, check or link involves, so no rule can break."""
        bound = {c for g in self.groups for c in g} | {c for k in self.checks for c in (k.left, k.right)}
        bound |= {c for link in self.links for c in link[:2]}
        leaders = {id(group): (group, first) for group, first in self.hot.values() if group.filled}
        for group, first in leaders.values():
            if first >= len(self.rows):
                continue
            columns: list[str] = []
            for attr in group.shared:
                if attr in group.prefixed:
                    continue  # its records share a prefix only; the other shared values pick them
                picker = self.reference_columns.get(attr)
                columns += list(picker.reference.columns) if picker is not None else [attr]
            key = tuple(normalise(self.rows[first].get(c)) for c in columns)
            for attr in group.filled:
                source = self.sources.get(attr)
                # An optional reference to another entity's records is filled by picking a parent
                # (fuzz13a's 672: `a2 = :a2 ORDER BY r0_ref LIMIT 1`; NULL references of every a2
                # sorted first, so no answer showed the filter).
                picker = self.reference_columns.get(attr)
                fillable = picker is not None and picker.regenerable and not picker.is_self
                if (not fillable and (source is None or source.exclusive)) or attr in bound:
                    continue
                kept = 0
                for index, row in enumerate(self.rows):
                    if row.get(attr) is None and tuple(normalise(row.get(c)) for c in columns) == key:
                        if kept < group.nulls_kept:
                            kept += 1
                            continue
                        for _ in range(MAX_RETRIES):
                            if source is not None:
                                row[attr] = source.draw()
                            elif picker is not None:
                                picker.assign(row, index)
                            if row[attr] is not None:
                                break


def _prefixed(leader: Any, own: Any) -> Any:
    """`own` with the first PREFIX_SHARED characters of `leader` in place of its own, so as long as
    `own` (the start alone where `own` is shorter; `leader` itself where either is not text)."""
    if not isinstance(leader, str) or not isinstance(own, str):
        return leader
    start = leader[:PREFIX_SHARED]
    return start + own[len(start) :] if len(own) >= len(start) else start


def unsearchable(rng: random.Random, room: int | None) -> str:
    """A text of one-digit words: no full-text search for a word of letters can match it, not
    even with stemming and fuzziness (two edits at most, and every letter would need one)."""
    text = " ".join(str(rng.randrange(10)) for _ in range(4))
    return text[: room or len(text)].rstrip(" ")


def _marked(attribute: Attribute, text: str, marker: str) -> str:
    """`text` with `marker` put first as a word of its own, within the attribute's length; `text`
    unchanged when there is no room or the attribute's regex refuses the marked text (fuzz8's
    model 71: 'rarely hz' broke `^[a-z][a-z0-9_]*$`, which MariaDB and PostgreSQL check)."""
    room = attribute.max_length or len(marker) + 1 + len(text)
    marked = f"{marker} {text}"[:room].rstrip(" ")
    if room <= len(marker) or (attribute.pattern is not None and re.fullmatch(attribute.pattern, marked) is None):
        return text
    return marked


SEARCH_WORD = 4  # the shortest word the relational tests search for (`validate.cases._search_terms`)


def _has_search_word(text: Any) -> bool:
    """Whether a text holds a word the generated full-text tests can search for."""
    return any(len(word) >= SEARCH_WORD for word in _words(text))


def _words(text: Any) -> set[str]:
    """The casefolded words of a text as full-text indexes cut them (none for NULL)."""
    return set("".join(c if c.isalnum() else " " for c in str(text).casefold()).split()) if text is not None else set()


def _numbered(
    key: Sequence[str], attributes: Mapping[str, Attribute], references: set[str], constants: set[str]
) -> list[tuple[str, tuple[str, ...]]]:
    """(column, its parent columns) for each integer of a composite key whose other columns all
    refer to parents and whose values the model leaves open (no bounds, `distinct` or constant)."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for column in key if len(key) > 1 else ():
        others = tuple(c for c in key if c != column)
        spec = attributes[column]
        if (
            column not in references
            and column not in constants
            and spec.type is TypeName.INTEGER
            and spec.min is None
            and spec.max is None
            and spec.distinct is None
            and all(c in references for c in others)
        ):
            found.append((column, others))
    return found


def _links(
    model: RequirementsModel, relationship: Relationship, count: int, seed: int, produced: Mapping[str, list[Record]]
) -> list[Record]:
    rng = random.Random(f"{seed}/{relationship.name}")
    from_rows, to_rows = produced[relationship.from_], produced[relationship.to]
    count = min(max(0, count), len(from_rows) * len(to_rows))
    from_columns, to_columns = link_columns(model, relationship)
    sources: dict[str, Callable[[], Any]] = {
        attr: make_source(spec, rng, count, f"{relationship.name}.{attr}").draw
        for attr, spec in relationship.attributes.items()
        if attr not in from_columns and attr not in to_columns
    }
    records: list[Record] = []
    for pair in rng.sample(range(len(from_rows) * len(to_rows)), count):
        parent, child = from_rows[pair // len(to_rows)], to_rows[pair % len(to_rows)]
        record: Record = {column: parent[attr] for column, attr in from_columns.items()}
        record.update({column: child[attr] for column, attr in to_columns.items()})
        for attr, draw in sources.items():
            record[attr] = draw()
        records.append(record)
    return records


__all__ = [
    "CONSTANT_RATE",
    "PROOF_CONSTANT_RATE",
    "HotGroup",
    "check_holds",
    "generate",
    "generation_order",
    "link_columns",
    "rows_for_scale",
    "unsearchable",
]
