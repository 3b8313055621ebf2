"""Row counts and hot groups that make the relational tests' data able to fail a wrong query.

Plain random rows rarely put more rows behind one parameter value than a pattern's LIMIT, so a
query that lost its LIMIT (or had it changed) returned the same rows as the right one. Here
each limited access pattern gets a `HotGroup`: enough records sharing one value of each of its
equality, IN and full-text attributes (and of a prefix-filtered one beside full text) that, with its constants applied, more rows match than
the limit allows; every other one takes the constants, the rest mostly fail them. Per
equality, IN and full-text filter of a pattern with other filters, a *near* group follows that
group (`HotGroup.follows`): a few records with its values on every other filter, inside its
range bounds and with its constants, but another value of that one attribute (for full text, a
text no search for a word of letters matches), so that dropping that one filter adds rows next
to the answer. (A pattern without such a group keeps the older near records: per equality of a
multi-equality pattern, records sharing the other equality values.) A sorted pattern without a
limit gets a small group too, so that some answer holds several rows for its sort to order
(random values of a free-text equality put one record behind each value). The remaining
records stay random,
so other parameter values still give small groups (where a dropped filter adds rows to a
complete answer). Deterministic: counts and groups only; the values come from the seed.

A pattern that filters through a relationship (model/paths.py; the relational tests get its
reads as written, `paths`) is sized as written, not as the planning model's local predicate
(which has lost the limit a path takes part in): its local filters group as above; an equality
or IN on a path shares the value on the related entity, so the group is built through the
relationship — its records share the first hop's reference (one parent, so one value at the end
of the path); and each range bound on a path adds NEAR_ROWS records for the bound to leave out
(the tests choose it so that more rows than the limit stay; see validate/paths.py).

Stores whose tests read one parameter group per pattern (a Cassandra partition, where every
other group is another partition) ask for `outside` more rows per range bound in the group, so
that the same group also holds rows each bound excludes (see `bounded_rows`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Iterable, Iterator, Mapping

from polyplan.model.derived import all_attributes, key_of, references_into
from polyplan.model.paths import PathRead, is_path
from polyplan.model.ranges import is_range
from polyplan.model.schema import TEXTUAL_TYPES, AccessPattern, FilterOp, RelationshipKind, RequirementsModel
from polyplan.seed.generate import (
    PREFIX_SHARED,
    RESERVE,
    HotGroup,
    _member_space,
    _single_unique,
    constant_space,
    feasible_rows,
    seed_value,
)
from polyplan.seed.regex import splices_prefix

# Rows beyond the limit in a hot group, so that NULLs on a range attribute or the constants
# drawn in the other records cannot push the matching count back under it.
MARGIN = 4
# The share of a hot group whose rows pass the pattern's constants (every other row takes them).
CONSTANT_SHARE = 0.5
# The share left when a nullable range attribute drops the NULL rows (NULL_RATE is 0.1).
NULLABLE_SHARE = 0.85
# Records sharing all equality values but one, per equality filter of a multi-filter pattern.
NEAR_ROWS = 3
SHARED_OPS = frozenset({FilterOp.EQ, FilterOp.IN, FilterOp.FULLTEXT})
# The word that marks a small group of records for a full-text pattern: no seed word contains it.
MARKER = "rarely"


def _constants(model: RequirementsModel, pattern: AccessPattern) -> list[tuple[str, object]]:
    """The pattern's constant filters as seed values (the first of an IN list); constants on an
    attribute with a regex pattern are left out (a record breaking the regex would not load)."""
    attributes = all_attributes(model, pattern.entity)
    found: list[tuple[str, object]] = []
    for flt in pattern.filters:
        attribute = attributes.get(flt.attribute)
        # A constant on a JSON sub-field (`path`) is the sub-field's value, not the attribute's.
        if attribute is None or "value" not in flt.model_fields_set or attribute.pattern is not None or flt.path:
            continue
        value = flt.value[0] if isinstance(flt.value, list) and flt.value else flt.value
        converted = None if value is None else seed_value(attribute, value)
        if value is None or converted is not None:
            found.append((flt.attribute, converted))
    return found


def _shared(model: RequirementsModel, pattern: AccessPattern) -> list[str] | None:
    """Attributes a parameter group of the pattern shares; None when a group holds one row at
    most (an equality on a unique attribute, or a constant on one).

    A parameterised prefix is shared too when the pattern also searches full text (or has no
    equality, IN or full-text filter beside it): the near
    records of the full-text filter copy the group's prefix value, and the tests' prefix must
    both cut the group beyond the limit and keep those records in, which only a prefix the
    group shares can do (with random values, no prefix of the group reaches the limit)."""
    singles = _single_unique(model, pattern.entity)
    if _fixes_a_unique_rule(model, pattern):
        return None
    searched = any(f.op is FilterOp.FULLTEXT and "value" not in f.model_fields_set for f in pattern.filters)
    # A prefix with no equality beside it (a Cassandra prefix bucket) is shared for the same reason.
    alone = not any(f.op in SHARED_OPS and "value" not in f.model_fields_set for f in pattern.filters)
    shared: list[str] = []
    for flt in pattern.filters:
        if "value" in flt.model_fields_set:
            if flt.attribute in singles and flt.value is not None and flt.op in (FilterOp.EQ, FilterOp.IN):
                # A constant on a unique attribute: its few values hold a row each, and a group
                # taking it would break the unique rule (`a0 = 0.8405 LIMIT 500`).
                return None
            continue
        lone_prefix = alone and not is_path(flt.attribute)  # a path's value lives on another entity
        if flt.op not in SHARED_OPS and not ((searched or lone_prefix) and flt.op is FilterOp.PREFIX):
            continue
        if flt.attribute in singles:
            if flt.op is FilterOp.EQ:
                return None
            continue
        shared.append(flt.attribute)
    return shared


def grow_parents(
    model: RequirementsModel, wanted: dict[str, int], grown: set[str], shared: Collection[tuple[str, str]] = ()
) -> None:
    """More parents where a required one-to-one or `max_children` would cap the records of an
    entity that got hot groups (`feasible_rows` lowers the children, never raises the parents):
    fuzz8's model 88 had 20 parents of at most 10 children, so 198 records under `LIMIT 500`.
    Up the chain of required references, a grown parent growing its own parents in turn.

    `shared` names optional references too, as (child entity, relationship): ones a hot group
    shares. Their random children used up every parent's `max_children` before the group came,
    and the group shared NULL (fuzz11a's 706: 3,000 customers, one audit of at most 2)."""
    for _ in range(len(model.entities)):
        changed = False
        for name in sorted(grown):
            for parent, per_parent in _capped_parents(model, name, wanted, shared):
                needed = math.ceil(wanted.get(name, 0) / per_parent) + RESERVE
                if needed > wanted[parent]:
                    wanted[parent] = needed
                    grown.add(parent)
                    changed = True
        if not changed:
            return


def _capped_parents(
    model: RequirementsModel, name: str, wanted: Mapping[str, int], shared: Collection[tuple[str, str]] = ()
) -> Iterator[tuple[str, int]]:
    """(parent, children a parent may have) of each reference of `name` whose parent caps its
    records: a required (or, named in `shared`, optional) one-to-one or `max_children` reference
    to another entity being seeded."""
    for reference in references_into(model, name):
        relationship = reference.relationship
        parent = relationship.from_
        needed_anyway = relationship.required or (name, relationship.name) in shared
        if parent == name or not needed_anyway or parent not in wanted:
            continue
        per_parent = 1 if relationship.kind is RelationshipKind.ONE_TO_ONE else relationship.max_children
        if per_parent is not None:
            yield parent, per_parent


def spare_parents(model: RequirementsModel, wanted: dict[str, int]) -> None:
    """Parents enough for the spares. Every entity's seed ends with RESERVE spare records, valid
    and each with parents of its own; `feasible_rows` keeps RESERVE parents of a required
    one-to-one or `max_children` reference free for them, and with fewer parents it cuts the
    children to none while their spares still need them (fuzz model 837: the index proofs seeded
    1 _Audit, and user-profile's 2 spares needed one each). Such a parent gets the records the
    spares need, and its own required parents grow in turn (`grow_parents`)."""
    grown: set[str] = set()
    for name in sorted(wanted):
        for parent, per_parent in _capped_parents(model, name, wanted):
            needed = math.ceil(RESERVE / per_parent)
            if wanted[parent] < needed:
                wanted[parent] = needed
                grown.add(parent)
    grow_parents(model, wanted, grown)


def _prefix_shared(model: RequirementsModel, pattern: AccessPattern, shared: list[str]) -> tuple[str, ...]:
    """The shared attributes whose group may share a prefix rather than a whole value: a prefix
    parameter's text attribute, no reference column and no full-text search on it (its words are
    what a search group shares), with no regex or one whose first PREFIX_SHARED characters can
    move from one value to another (`regex.splices_prefix`; another start could break others).
    fuzz14a's 2340: a1 of `[A-F0-9]{8}` in the key (a1, a0), a0 a date of 730 random values,
    left room for 365 records of one a1, and `LIMIT 500` on a prefix of a1 was never reached."""
    attributes = all_attributes(model, pattern.entity)
    searched = {f.attribute for f in pattern.filters if f.op is FilterOp.FULLTEXT}
    found: list[str] = []
    for flt in pattern.filters:
        attribute = attributes.get(flt.attribute)
        if (
            flt.op is FilterOp.PREFIX
            and "value" not in flt.model_fields_set
            and flt.attribute in shared
            and flt.attribute not in searched
            and attribute is not None
            and attribute.type in TEXTUAL_TYPES
            and (attribute.pattern is None or splices_prefix(attribute.pattern, PREFIX_SHARED))
            and flt.attribute not in found
        ):
            found.append(flt.attribute)
    return tuple(found)


def _shared_references(model: RequirementsModel, groups: Mapping[str, list[HotGroup]]) -> set[tuple[str, str]]:
    """(entity, relationship) of each reference a non-empty hot group shares."""
    found: set[tuple[str, str]] = set()
    for name, held in groups.items():
        shared = {attr for group in held if group.rows for attr in group.shared}
        for reference in references_into(model, name):
            if not shared.isdisjoint(reference.columns):
                found.add((name, reference.relationship.name))
    return found


def _fixes_a_unique_rule(model: RequirementsModel, pattern: AccessPattern) -> bool:
    """Whether the pattern's equalities cover a whole unique rule or the key with a constant among
    them: its answer holds one row at most, and a group sharing the other members would break the
    rule (`a1 = 'f88276ef-…' AND a5 = :a5 LIMIT 500` under unique (a1, a5): fuzz8's model 13,
    whose seed ran out of values). With parameters only (`tenant_id = :t AND email = :e` under
    unique (tenant_id, email)) the group shares one member and the other members differ, which is
    what shows each filter matters."""
    constants = {f.attribute for f in pattern.filters if "value" in f.model_fields_set and f.value is not None}
    fixed = {
        f.attribute
        for f in pattern.filters
        if (f.op is FilterOp.EQ and (f.value is not None or "value" not in f.model_fields_set))
        or (f.op is FilterOp.IN and isinstance(f.value, list) and len(f.value) == 1)
    }
    entity = model.entities[pattern.entity]
    rules = [key_of(entity).attributes, *entity.unique]
    return any(group and set(group) <= fixed and set(group) & constants for group in rules)


def _constant_pair(model: RequirementsModel, pattern: AccessPattern, counts: dict[str, int]) -> HotGroup | None:
    """Two records sharing the pattern's parameter equalities, one taking its constants and one
    not, for a pattern whose equalities fix a unique rule with a constant among them (no larger
    group fits under the rule, `_fixes_a_unique_rule`): the pair is the only data on which a
    dropped constant filter changes the answer. fuzz13a's 1370: `a2 IN (4) AND a0 = :a0` under
    unique (a2, a0), a0 a string(6) each record held alone, so no case showed "the filter a2 IN
    (4) matters". None where the rule holds nothing (the constants unknown to the seed, or a
    parameter on an attribute unique alone: no two records share it)."""
    if not _fixes_a_unique_rule(model, pattern):
        return None
    constants = tuple(_constants(model, pattern))
    singles = _single_unique(model, pattern.entity)
    if not constants or any(value is None or attr in singles for attr, value in constants):
        return None
    shared = list(
        dict.fromkeys(
            f.attribute
            for f in pattern.filters
            if "value" not in f.model_fields_set and f.op in (FilterOp.EQ, FilterOp.IN) and not is_path(f.attribute)
        )
    )
    if not shared or any(attr in singles for attr in shared):
        return None
    room = _room(model, pattern.entity, shared, 2, counts)
    return HotGroup(tuple(shared), constants, room) if room == 2 else None


def _room(model: RequirementsModel, entity: str, shared: list[str], rows: int, counts: dict[str, int]) -> int:
    """At most `rows`: what the unique rules holding a shared attribute leave room for, once the
    parents the other members refer to are made numerous enough (`counts` grows)."""
    attributes = all_attributes(model, entity)
    owner = {column: ref.relationship for ref in references_into(model, entity) for column in ref.columns}
    room = rows
    for reference in references_into(model, entity):
        limit = reference.relationship.max_children
        if limit is not None and not set(reference.columns).isdisjoint(shared):
            room = min(room, limit)  # a parent holds at most max_children
    for group in [key_of(model.entities[entity]).attributes, *model.entities[entity].unique]:
        if len(group) < 2 or set(group).isdisjoint(shared):
            continue
        if any(c not in shared and c not in owner and c in attributes and attributes[c].nullable for c in group):
            # A NULL member never collides: the group's records hold NULL there once the other
            # values run out (as `generate._combinations` counts it). fuzz13a's 1061: unique (a3,
            # a0), a3 a nullable decimal(1, 0), left room for 9 records of a0 = '2024-12-06', and
            # `LIMIT 500` on them was never reached.
            continue
        combinations = 1
        for column in group:
            if column in shared:
                continue
            if column in owner:
                parent = owner[column].from_
                # Twice the group's size: random redraws then find a free parent quickly.
                counts[parent] = max(counts.get(parent, 0), 2 * rows + RESERVE)
                combinations *= counts[parent]
            elif column in attributes:
                combinations *= _member_space(attributes[column], rows + RESERVE, column)
        room = min(room, max(0, combinations // 2))
    return room


def _constant_takers(
    model: RequirementsModel, entity: str, constants: tuple[tuple[str, object], ...], shared: Iterable[str]
) -> int | None:
    """How many records sharing `shared` the unique rules let take all of `constants` at once;
    None when no rule bounds it (`generate.constant_space`)."""
    names = [attr for attr, _ in constants]
    spaces = [constant_space(model, entity, attr, names, tuple(shared)) for attr in names]
    known = [space for space in spaces if space is not None]
    return min(known) if known else None


def range_bounds(pattern: AccessPattern) -> int:
    """How many bounds the pattern's parameter filters put on ranges (two for a `range`)."""
    return sum(
        2 if flt.op is FilterOp.RANGE else 1
        for flt in pattern.filters
        if is_range(flt.op) and "value" not in flt.model_fields_set
    )


def _near_groups(
    model: RequirementsModel, pattern: AccessPattern, main: HotGroup, counts: dict[str, int]
) -> list[HotGroup]:
    """Per equality, IN and full-text filter `main` shares, NEAR_ROWS records that copy its
    values on every other filter (its first record's on a prefix filter), sit inside its range
    bounds and take its constants, but fail
    that one filter (another value; a text without the group's words): dropping the filter adds
    them to the answer. None for a pattern with a single filter (every other record shows it)."""
    if len(pattern.filters) < 2:
        return []
    attributes = all_attributes(model, pattern.entity)
    inside = tuple(
        dict.fromkeys(
            flt.attribute
            for flt in pattern.filters
            if is_range(flt.op)
            and "value" not in flt.model_fields_set
            and flt.attribute in attributes
            and not attributes[flt.attribute].unique
        )
    )
    # A prefix the tests take from the group's first record: the near records copy its value.
    prefixes = [
        flt.attribute
        for flt in pattern.filters
        if flt.op is FilterOp.PREFIX
        and "value" not in flt.model_fields_set
        and flt.attribute in attributes
        and not attributes[flt.attribute].unique
        and flt.attribute not in main.shared
    ]
    near: list[HotGroup] = []
    for left_out in main.shared:
        others = [a for a in main.shared if a != left_out] + prefixes
        # Room beside the group's own records: they share the same parents and unique values.
        room = max(0, _room(model, pattern.entity, others, NEAR_ROWS + main.rows, counts) - main.rows)
        searched = any(f.attribute == left_out and f.op is FilterOp.FULLTEXT for f in pattern.filters)
        near.append(HotGroup(tuple(others), main.constants, room, None, main, left_out, inside, searched))
    return near


def _through_paths(model: RequirementsModel, read: PathRead) -> tuple[list[str] | None, int, bool]:
    """What a pattern's path filters add to its group: the reference columns its records share
    (None when a path equality reaches one row per value: a first hop from a parent to its
    one child), the range bounds on paths, and whether a path's value can be NULL."""
    attributes = all_attributes(model, read.pattern.entity)
    shared: list[str] = []
    bounds = 0
    nullable = False
    for flt, path in read.filters:
        if path is None or "value" in flt.model_fields_set:
            continue  # a constant through a path: the group's parent passes it or not, at random
        columns = [source for source, _ in path.hops[0].pairs]
        nullable = nullable or path.kind.nullable or any(attributes[c].nullable for c in columns if c in attributes)
        if is_range(flt.op):
            bounds += 2 if flt.op is FilterOp.RANGE else 1
        elif flt.op in (FilterOp.EQ, FilterOp.IN):
            owned = {c for ref in references_into(model, read.pattern.entity) for c in ref.columns}
            if not set(columns) <= owned:
                return None, bounds, nullable
            shared += [c for c in columns if c not in shared]
    return shared, bounds, nullable


def discriminating_rows(
    model: RequirementsModel,
    rows: Mapping[str, int],
    entities: Iterable[str],
    outside: int = 0,
    paths: Iterable[PathRead] = (),
) -> tuple[dict[str, int], dict[str, list[HotGroup]]]:
    """`rows` grown by the hot groups of the patterns on `entities`, and the groups by entity;
    with `outside`, each limited pattern's group holds that many more rows per range bound.
    `paths` are the patterns through relationships as written (the model has their local
    predicate): their groups are sized for their limit and built through the relationship."""
    wanted = {name: count for name, count in rows.items() if name in model.entities}
    groups: dict[str, list[HotGroup]] = {}
    chosen = set(entities)
    attributes_of = {name: all_attributes(model, name) for name in chosen if name in model.entities}
    reads = {read.name: read for read in paths}
    for pattern in model.access_patterns:
        if pattern.entity not in attributes_of:
            continue
        through: list[str] | None = []
        path_bounds, path_nulls = 0, False
        read = reads.get(pattern.name)
        if read is not None:
            # The local filters with the sort and limit as written (a path's sort key is not an
            # attribute here: only whether there is a sort matters below).
            pattern = read.pattern.model_copy(update={"filters": [f for f, p in read.filters if p is None]})
            through, path_bounds, path_nulls = _through_paths(model, read)
        shared = _shared(model, pattern)
        if shared is None and read is None:
            pair = _constant_pair(model, pattern, wanted)
            if pair is not None:
                groups.setdefault(pattern.entity, []).append(pair)
                wanted[pattern.entity] = wanted.get(pattern.entity, 0) + pair.rows
        if shared is None or through is None:
            continue
        shared += [c for c in through if c not in shared]
        constants = tuple(_constants(model, pattern))
        added: list[HotGroup] = []
        main: HotGroup | None = None
        if pattern.limit is not None:
            share = CONSTANT_SHARE if constants else 1.0
            share *= NULLABLE_SHARE if path_nulls else 1.0
            for flt in pattern.filters:
                attribute = attributes_of[pattern.entity].get(flt.attribute)
                if is_range(flt.op) and attribute is not None and attribute.nullable:
                    share *= NULLABLE_SHARE
            if any(
                (attribute := attributes_of[pattern.entity].get(item.attribute)) is not None and attribute.nullable
                for item in pattern.sort
            ):
                # A store that keeps no NULL sort key (a Cassandra clustering column) reads the
                # group without its NULL rows, which `filled` cannot always fill (an attribute
                # under a unique rule): they must not take it under the limit (fuzz 616).
                share *= NULLABLE_SHARE
            beyond = MARGIN + outside * range_bounds(pattern) + NEAR_ROWS * path_bounds
            size = math.ceil((pattern.limit + beyond) / share)
            words = tuple(
                a for a in shared if any(f.attribute == a and f.op is FilterOp.FULLTEXT for f in pattern.filters)
            )
            room = _room(model, pattern.entity, shared, size, wanted)
            prefixed: tuple[str, ...] = ()
            if room < size:
                # A unique rule leaves room for few records of one value: a prefix filter's
                # records need share only its start (fuzz11a's model 536).
                prefixed = _prefix_shared(model, pattern, shared)
                if prefixed:
                    wider = _room(model, pattern.entity, [a for a in shared if a not in prefixed], size, wanted)
                    prefixed, room = (prefixed, wider) if wider > room else ((), room)
            takers = _constant_takers(model, pattern.entity, constants, shared)
            if takers is not None:
                room = min(room, 2 * takers)  # every other record takes the constants
            # A nullable sort key: NULLs of the group's value tie at the limit (SQLite and MariaDB
            # sort them first) whether or not the filters hold, so no answer shows them (fuzz9's 563).
            filled = tuple(
                item.attribute
                for item in pattern.sort
                if (attribute := attributes_of[pattern.entity].get(item.attribute)) is not None and attribute.nullable
            )
            main = HotGroup(
                tuple(shared),
                constants,
                room,
                words=words,
                filled=filled,
                nulls_kept=max(0, pattern.limit - 1),
                prefixed=prefixed,
            )
        elif pattern.sort or (outside and range_bounds(pattern)):
            # No limit: the group needs only rows on each side of each bound and a few between.
            # A sort needs a group too: where each parameter value holds one record (a free-text
            # equality), no answer has two rows whose order the sort's direction could change.
            size = 2 * NEAR_ROWS + outside * range_bounds(pattern)
            filtered = {f.attribute for f in pattern.filters}
            nulled = tuple(
                dict.fromkeys(
                    item.attribute
                    for item in pattern.sort
                    if (attribute := attributes_of[pattern.entity].get(item.attribute)) is not None
                    and attribute.nullable
                    and item.attribute not in filtered
                    and item.attribute not in shared
                )
            )
            room = _room(model, pattern.entity, shared, size, wanted)
            main = HotGroup(tuple(shared), constants, room, nulled=nulled)
        searched = tuple(f.attribute for f in pattern.filters if f.op is FilterOp.FULLTEXT and f.attribute in shared)
        if searched and pattern.limit is not None:
            # Seed texts share their words with many records: a full-text answer under the
            # limit (where a dropped filter adds rows to a complete answer) needs a rare word.
            room = _room(model, pattern.entity, list(searched), 2 * NEAR_ROWS, wanted)
            added.append(HotGroup(searched, constants, room, marker=MARKER))
        if main is not None and main.rows:
            # Near groups go before the group they follow: placed above it, generated after it.
            near = _near_groups(model, pattern, main, wanted)
            left = _constant_takers(model, pattern.entity, constants, ())
            if left is not None:
                # Near records all take the constants too, beside the group's (fuzz8's model 92).
                left -= math.ceil(main.rows / 2)
                for index, group in enumerate(near):
                    near[index] = dataclasses.replace(group, rows=max(0, min(group.rows, left)))
                    left -= near[index].rows
            added[:0] = near
            added.append(main)
        else:
            equalities = [a for a in shared if any(f.attribute == a and f.op is FilterOp.EQ for f in pattern.filters)]
            if len(equalities) > 1:
                for left_out in equalities:
                    others = [a for a in shared if a != left_out]
                    room = _room(model, pattern.entity, others, NEAR_ROWS, wanted)
                    added.append(HotGroup(tuple(others), constants, room))
        groups.setdefault(pattern.entity, []).extend(added)
        wanted[pattern.entity] = wanted.get(pattern.entity, 0) + sum(g.rows for g in added)
    grow_parents(model, wanted, set(groups), _shared_references(model, groups))
    counts = feasible_rows(model, wanted)
    # Link tables keep the counts the plan chose; only entities grow.
    counts.update({name: count for name, count in rows.items() if name not in model.entities})
    return counts, groups
