"""The seed generator: deterministic, and every record satisfies the model it came from."""

from __future__ import annotations

import random
import re
import uuid
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from polyplan.model.derived import all_attributes, key_of, references_into
from polyplan.model.loader import load_file, load_text
from polyplan.model.schema import Attribute, FilterOp, RelationshipKind, RequirementsModel, TypeName
from polyplan.seed import check_holds, generate, generation_order, link_columns, rows_for_scale
from polyplan.seed.discriminating import discriminating_rows
from polyplan.seed.generate import RESERVE
from polyplan.seed.values import uuid7
from polyplan.validate.cases import words

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))

# Every feature the generator must honour, including the awkward ones.
EDGE_MODEL = """
name: edge
entities:
  Person:
    attributes:
      code: {type: string, max_length: 9, unique: true, pattern: '^[A-Z]{3}-[0-9]{5}$'}
      email: {type: string, max_length: 40, unique: true, pattern: '^[a-z0-9._]+@[a-z]+\\.(com|org)$'}
      phone: {type: string, max_length: 16, nullable: true, pattern: '^\\+?[0-9]{7,15}$'}
      nick: {type: string, max_length: 3, distinct: 5}
      height: {type: float, min: 0.5, max: 2.5}
      score: {type: decimal, precision: 5, scale: 2, min: -10, max: 10}
      level: {type: integer, bits: 16, min: 1, max: 9}
      big: {type: integer, bits: 64, unique: true}
      born: {type: date}
      seen: {type: timestamp, nullable: true}
      active: {type: boolean}
      avatar: {type: binary, avg_length: 12, nullable: true}
      prefs: {type: json}
      tier: {type: enum, values: [a, b, c], weights: [1, 0, 3]}
      "odd name-$": {type: string, max_length: 12}
      address:
        type: object
        nullable: true
        fields:
          city: {type: string, max_length: 20}
          zip: {type: string, max_length: 5, pattern: '^[0-9]{5}$'}
      phones:
        type: list
        max_items: 3
        items:
          type: object
          fields:
            kind: {type: enum, values: [home, work]}
            number: {type: string, max_length: 12}
      tags: {type: list, items: {type: string, max_length: 8, unique: true}, max_items: 4}
    checks:
      - {name: seen_after_birth, left: seen, op: gt, right: born}
  Event:
    attributes:
      starts_at: {type: timestamptz}
      ends_at: {type: timestamptz}
      slot: {type: integer, min: 0, max: 50}
      room: {type: enum, values: [r1, r2, r3]}
    unique: [[room, slot]]
    checks:
      - {name: ends_after_start, left: ends_at, op: gt, right: starts_at}
  Badge:
    key: {attributes: [owner_id], kind: natural}
    attributes:
      owner_id: {type: uuid}
      label: {type: string, max_length: 20}
  Employee:
    attributes:
      name: {type: string, max_length: 30}
relationships:
  - {name: hosts, kind: one_to_many, from: Person, to: Event, max_children: 3}
  - {name: badge_owner, kind: one_to_one, from: Person, to: Badge, foreign_key: owner_id}
  - {name: manager, kind: one_to_many, from: Employee, to: Employee, required: false, on_delete: set_null, foreign_key: manager_id}
  - {name: mentor, kind: one_to_many, from: Employee, to: Employee, foreign_key: mentor_id}
  - {name: attends, kind: many_to_many, from: Person, to: Event, attributes: {rsvp: {type: boolean}}}
  - {name: knows, kind: many_to_many, from: Person, to: Person}
"""


def _edge() -> RequirementsModel:
    return load_text(EDGE_MODEL, "edge.yaml").model


def _key(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def assert_value(attribute: Attribute, value: Any, where: str) -> None:
    """`value` fits `attribute` (type, bounds, pattern, enum, nullability, nested shapes)."""
    if value is None:
        assert attribute.nullable, f"{where}: None in a non-nullable attribute"
        return
    kind = attribute.type
    if kind in (TypeName.STRING, TypeName.TEXT, TypeName.ENUM):
        assert isinstance(value, str), where
        assert value == value.rstrip(" "), f"{where}: trailing space"
        if attribute.max_length is not None:
            assert len(value) <= attribute.max_length, f"{where}: {value!r} too long"
        if attribute.pattern is not None:
            assert re.fullmatch(attribute.pattern, value), f"{where}: {value!r} !~ {attribute.pattern}"
        if kind is TypeName.ENUM:
            assert value in (attribute.values or []), where
    elif kind is TypeName.INTEGER:
        assert isinstance(value, int) and not isinstance(value, bool), where
        assert -(2 ** (attribute.bits - 1)) <= value < 2 ** (attribute.bits - 1), where
    elif kind is TypeName.DECIMAL:
        assert isinstance(value, Decimal), where
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int) and -exponent <= (attribute.scale or 0), where
        assert len(value.as_tuple().digits) <= (attribute.precision or 38), where
    elif kind is TypeName.FLOAT:
        assert isinstance(value, float), where
    elif kind is TypeName.BOOLEAN:
        assert isinstance(value, bool), where
    elif kind is TypeName.DATE:
        assert isinstance(value, date) and not isinstance(value, datetime), where
    elif kind is TypeName.TIMESTAMP:
        assert isinstance(value, datetime) and value.tzinfo is None, where
    elif kind is TypeName.TIMESTAMPTZ:
        assert isinstance(value, datetime) and value.tzinfo is not None, where
    elif kind is TypeName.UUID:
        assert isinstance(value, uuid.UUID), where
    elif kind is TypeName.JSON:
        assert isinstance(value, dict), where
    elif kind is TypeName.BINARY:
        assert isinstance(value, bytes), where
    elif kind is TypeName.OBJECT:
        assert isinstance(value, dict) and set(value) == set(attribute.fields or {}), where
        for name, field in (attribute.fields or {}).items():
            assert_value(field, value[name], f"{where}.{name}")
    elif kind is TypeName.LIST:
        assert isinstance(value, list), where
        assert attribute.items is not None
        if attribute.max_items is not None:
            assert len(value) <= attribute.max_items, where
        for index, item in enumerate(value):
            assert_value(attribute.items.model_copy(update={"unique": False}), item, f"{where}[{index}]")
        if attribute.items.unique:
            assert len({_key(v) for v in value}) == len(value), f"{where}: repeated unique items"
    if attribute.min is not None and kind in (TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT):
        assert value >= attribute.min, where
    if attribute.max is not None and kind in (TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT):
        assert value <= attribute.max, where


def assert_satisfies(model: RequirementsModel, data: dict[str, list[dict[str, Any]]]) -> None:
    """Every rule of the model holds for `data`."""
    for name, entity in model.entities.items():
        attributes = all_attributes(model, name)
        records = data[name]
        key = key_of(entity).attributes
        groups = [tuple(key), *(tuple(g) for g in entity.unique)]
        groups += [(a,) for a, spec in attributes.items() if spec.unique]
        for group in groups:
            seen = [tuple(_key(r[c]) for c in group) for r in records]
            seen = [k for k in seen if None not in k]
            assert len(seen) == len(set(seen)), f"{name}: duplicate {group}"
        for index, record in enumerate(records):
            assert list(record) == list(attributes), f"{name}[{index}]: keys differ from all_attributes"
            for attr, spec in attributes.items():
                assert_value(spec, record[attr], f"{name}[{index}].{attr}")
            for check in entity.checks:
                assert check_holds(record[check.left], check.op, record[check.right]), f"{name}[{index}]: {check.name}"
        for reference in references_into(model, name):
            relationship = reference.relationship
            parents = data[relationship.from_]
            existing = {tuple(p[a] for a in reference.columns.values()) for p in parents}
            per_parent: dict[tuple[Any, ...], int] = {}
            for index, record in enumerate(records):
                value = tuple(record[c] for c in reference.columns)
                if all(v is None for v in value):
                    assert not relationship.required, f"{name}[{index}]: required reference is null"
                    continue
                assert value in existing, f"{name}[{index}]: {relationship.name} points at nothing"
                if relationship.from_ == name:
                    own = [tuple(r[a] for a in reference.columns.values()) for r in records[: index + 1]]
                    assert value in own, f"{name}[{index}]: self reference to a later record"
                per_parent[value] = per_parent.get(value, 0) + 1
            if relationship.max_children is not None:
                assert max(per_parent.values(), default=0) <= relationship.max_children
            if relationship.kind is RelationshipKind.ONE_TO_ONE:
                assert max(per_parent.values(), default=0) <= 1
    for relationship in model.relationships:
        if relationship.kind is not RelationshipKind.MANY_TO_MANY:
            continue
        from_columns, to_columns = link_columns(model, relationship)
        links = data[relationship.name]
        pairs = set()
        for side, columns in ((relationship.from_, from_columns), (relationship.to, to_columns)):
            existing = {tuple(p[a] for a in columns.values()) for p in data[side]}
            for link in links:
                assert tuple(link[c] for c in columns) in existing, f"{relationship.name}: dangling link"
        for link in links:
            pairs.add(tuple(link[c] for c in (*from_columns, *to_columns)))
            for attr, spec in relationship.attributes.items():
                assert_value(spec, link[attr], f"{relationship.name}.{attr}")
        assert len(pairs) == len(links), f"{relationship.name}: repeated link"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_seed_satisfies_model(scenario: Path) -> None:
    model = load_file(scenario).model
    rows = rows_for_scale(model, 0.00005, minimum=25)
    data = generate(model, rows, seed=7)
    assert {name: len(records) for name, records in data.items()} == rows
    assert_satisfies(model, data)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_seed_is_deterministic(scenario: Path) -> None:
    model = load_file(scenario).model
    rows = rows_for_scale(model, 0.00001)
    first, second = generate(model, rows, seed=3), generate(model, rows, seed=3)
    assert repr(first) == repr(second)
    assert repr(generate(model, rows, seed=4)) != repr(first)


def test_edge_model_satisfies_every_rule() -> None:
    model = _edge()
    rows = {"Person": 300, "Event": 120, "Badge": 250, "Employee": 80, "attends": 500, "knows": 400}
    data = generate(model, rows, seed=11)
    assert len(data["attends"]) == 500 and len(data["knows"]) == 400
    assert_satisfies(model, data)
    people = data["Person"]
    assert {p["tier"] for p in people} <= {"a", "c"}, "a zero weight is never drawn"
    assert len({p["nick"] for p in people}) <= 5
    assert any(p["phone"] is None for p in people) and any(p["phone"] for p in people)
    assert any(e["manager_id"] is None for e in data["Employee"][1:])
    assert data["Employee"][0]["mentor_id"] == data["Employee"][0]["id"], "first required self-reference is itself"
    assert set(data["knows"][0]) == {"person_id", "related_person_id"}


def test_generation_order_puts_parents_first() -> None:
    model = _edge()
    order = generation_order(model)
    assert order.index("Person") < order.index("Event") and order.index("Person") < order.index("Badge")


def test_rows_for_scale_respects_minimum_and_bounds() -> None:
    model = _edge()
    rows = rows_for_scale(model, 1.0, minimum=4)
    assert all(count >= 4 for name, count in rows.items() if name in model.entities and name != "Badge")
    # One-to-one: at most one badge per person, and a person left for each of the spare badges
    # a test generates on top (generate(..., spare=RESERVE)).
    assert rows["Badge"] == rows["Person"] - RESERVE
    assert rows["Event"] <= 3 * rows["Person"]


def test_impossible_requests_fail_clearly() -> None:
    model = _edge()
    with pytest.raises(ValueError, match=r"Badge\.badge_owner"):
        generate(model, {"Person": 5, "Badge": 6})
    with pytest.raises(ValueError, match="Event"):
        generate(model, {"Person": 100, "Event": 200})  # room × slot allows 153 combinations
    tiny = load_text(
        "name: t\nentities:\n  A:\n    attributes:\n      c: {type: string, max_length: 2, unique: true, pattern: '^[ab]{2}$'}\n",
        "t.yaml",
    ).model
    with pytest.raises(ValueError, match=r"A\.c"):
        generate(tiny, {"A": 5})


def test_values_are_python_types_and_keys_uuid_v7() -> None:
    model = _edge()
    people = generate(model, {"Person": 3}, seed=1)["Person"]
    # Surrogate keys are time-ordered UUIDv7 (docs/relational.md): version 7, RFC variant, and
    # increasing in the order the records are made, as an application's inserts would draw them.
    assert [p["id"].version for p in people] == [7, 7, 7]
    assert all(p["id"].variant == uuid.RFC_4122 for p in people)
    assert [p["id"] for p in people] == sorted(p["id"] for p in people)
    assert isinstance(people[0]["score"], Decimal)


def test_uuid7_puts_the_milliseconds_first() -> None:
    first, second = uuid7(1_700_000_000_000, random.Random(1)), uuid7(1_700_000_000_001, random.Random(0))
    assert first.int >> 80 == 1_700_000_000_000 and first < second and str(first) < str(second)
    assert first.hex < second.hex  # CHAR(32) keys (MariaDB, SQLite) sort in the same order


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_spare_records_are_valid_and_unreferenced(scenario: Path) -> None:
    model = load_file(scenario).model
    rows = rows_for_scale(model, 0.0, minimum=15)
    data = generate(model, rows, seed=2, spare=2)
    assert_satisfies(model, data)
    for name in model.entities:
        assert len(data[name]) == rows[name] + 2
    for name in model.entities:
        for reference in references_into(model, name):
            parent = reference.relationship.from_
            spares = {tuple(r[a] for a in reference.columns.values()) for r in data[parent][-2:]}
            used = [tuple(r[c] for c in reference.columns) for r in data[name][: rows[name]]]
            assert not spares & set(used), f"{name} refers to a spare {parent}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_discriminating_rows_satisfy_the_model_and_exceed_each_limit(scenario: Path) -> None:
    model = load_file(scenario).model
    entities = set(model.entities)
    base = rows_for_scale(model, 0.0, minimum=20, maximum=300)
    rows, hot = discriminating_rows(model, base, entities)
    data = generate(model, rows, seed=5, hot=hot)
    assert_satisfies(model, data)
    assert repr(data) == repr(generate(model, rows, seed=5, hot=hot)), "deterministic"
    for pattern in model.access_patterns:
        # Near groups (records one filter away from a group) are checked on their own below.
        groups = [g for g in hot.get(pattern.entity, []) if g.marker is None and g.follows is None]
        if pattern.limit is None or not groups:
            continue
        constants = {f.attribute: f.value for f in pattern.filters if "value" in f.model_fields_set}
        # Some group of records shares the pattern's parameter values and, with its constants,
        # has more records than the limit: a lost LIMIT changes the answer.
        best = 0
        for group in groups:
            if constants and set(dict(group.constants)) != set(constants):
                continue  # another pattern's group: its records take that pattern's constants
            # By repr: a group may share a list (full text over a list of strings), not hashable.
            shared = Counter(repr(tuple(r[a] for a in group.shared)) for r in data[pattern.entity])
            value, _ = shared.most_common(1)[0]
            members = [r for r in data[pattern.entity] if repr(tuple(r[a] for a in group.shared)) == value]
            passing = [r for r in members if all(str(r[a]).lower() == str(v).lower() for a, v in constants.items())]
            best = max(best, len(passing))
            if constants:
                assert len(passing) < len(members), f"{pattern.name}: no record of the group fails its constants"
        assert best > pattern.limit, f"{pattern.name}: {best} records behind one parameter, limit {pattern.limit}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_near_records_fail_exactly_one_filter_of_their_group(scenario: Path) -> None:
    """Each near group's records copy the group they follow on every other shared filter, take its
    constants and differ on their own filter (another value; for full text, no common word)."""
    model = load_file(scenario).model
    entities = set(model.entities)
    rows, hot = discriminating_rows(model, rows_for_scale(model, 0.0, minimum=20, maximum=300), entities)
    data = generate(model, rows, seed=5, hot=hot)
    seen = 0
    for entity, groups in hot.items():
        end = rows[entity]
        extent: dict[int, tuple[int, int]] = {}
        for group in groups:
            size = min(group.rows, end)
            extent[id(group)] = (end - size, size)
            end -= size
        for group in groups:
            if group.follows is None or not group.rows:
                continue
            first, size = extent[id(group)]
            leader = data[entity][extent[id(group.follows)][0]]
            for record in data[entity][first : first + size]:
                seen += 1
                assert all(record[a] == leader[a] for a in group.shared), (entity, group.apart)
                assert all(record[a] == v for a, v in group.constants), (entity, group.apart)
                assert group.apart is not None
                if group.searched:
                    assert not words(str(record[group.apart])) & words(str(leader[group.apart])), group.apart
                else:
                    assert str(record[group.apart]).casefold() != str(leader[group.apart]).casefold(), group.apart
    kinds = {f.op for p in model.access_patterns for f in p.filters if "value" not in f.model_fields_set}
    if {FilterOp.IN, FilterOp.FULLTEXT} & kinds:
        assert seen, "the scenario filters on IN or full text, and no near record was made"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_only_some_entities_gives_the_same_records(scenario: Path) -> None:
    """`only` makes the asked entities and their ancestors, each with the records of a full run."""
    model = load_file(scenario).model
    rows = rows_for_scale(model, 0.0, minimum=12)
    full = generate(model, rows)
    for name in model.entities:
        some = generate(model, rows, only=[name])
        parents = {r.relationship.from_ for r in references_into(model, name)} & set(model.entities)
        assert name in some and parents <= set(some)
        for made, records in some.items():
            assert records == full[made], f"{scenario.stem}: {made} differs when only {name} is asked for"
    assert len(generate(model, rows, only=[])) == 0
