"""The loader: YAML → positions → pydantic → cross-checks, and where each finding points."""

from __future__ import annotations

from textwrap import dedent

import pytest

from polyplan.diagnostics import Diagnostic, DiagnosticError, Location
from polyplan.model.loader import load_text, parse_yaml
from polyplan.model.schema import TypeName

MODEL = dedent(
    """\
    name: shop
    entities:
      Customer:
        attributes:
          email: {type: string, max_length: 254}
          on: {type: boolean}
          joined: {type: date, default: 2024-01-31}
          rank:
            type: integer
            min: 0
      Order:
        attributes:
          total: {type: decimal, precision: 10, scale: 2}
    relationships:
      - {name: customer_orders, kind: one_to_many, from: Customer, to: Order}
    """
)


def errors_of(text: str) -> list[Diagnostic]:
    with pytest.raises(DiagnosticError) as raised:
        load_text(text, "m.yaml")
    return raised.value.diagnostics


def rendered(text: str) -> list[str]:
    return [d.render() for d in errors_of(text)]


def test_positions_of_nested_keys_and_values() -> None:
    _, keys, values = parse_yaml(MODEL, "m.yaml")
    assert keys[("entities",)] == Location("m.yaml", 2, 1)
    assert keys[("entities", "Customer", "attributes", "email")] == Location("m.yaml", 5, 7)
    # In a flow mapping the key `type` and its value `string` are different columns of one line.
    assert keys[("entities", "Customer", "attributes", "email", "type")] == Location("m.yaml", 5, 15)
    assert values[("entities", "Customer", "attributes", "email", "type")] == Location("m.yaml", 5, 21)
    # Block style: key on its own line, value after it.
    assert keys[("entities", "Customer", "attributes", "rank", "type")] == Location("m.yaml", 9, 9)
    assert values[("entities", "Customer", "attributes", "rank", "type")] == Location("m.yaml", 9, 15)
    # A block mapping value has no token of its own: only its key is recorded.
    assert ("entities", "Customer", "attributes", "rank") not in values
    # List items are addressed by index.
    assert keys[("relationships", 0)] == Location("m.yaml", 15, 5)
    assert values[("relationships", 0, "to")] == Location("m.yaml", 15, 68)


def test_locate_falls_back_to_the_nearest_written_ancestor() -> None:
    loaded = load_text(MODEL, "m.yaml")
    # `growth` is not written for Customer: the entity's key is the nearest thing in the file.
    assert loaded.locate(("entities", "Customer", "growth", "ttl_seconds")) == Location("m.yaml", 3, 3)
    assert loaded.locate_value(("entities", "Customer", "attributes", "email", "max_length")) == Location(
        "m.yaml", 5, 41
    )
    assert loaded.locate_value(("entities", "Customer")) == Location("m.yaml", 3, 3)


def test_dotted_paths_from_later_stages_are_located() -> None:
    """Planners and emitters name fields as dotted text; list indices arrive as digits."""
    loaded = load_text(MODEL, "m.yaml")

    def split(dotted: str) -> tuple[str, ...]:
        return tuple(dotted.split("."))

    assert loaded.locate(split("relationships.0.to")) == Location("m.yaml", 15, 64)
    assert loaded.locate_value(split("relationships.0.to")) == Location("m.yaml", 15, 68)
    assert loaded.locate(split("relationships.3")) == Location("m.yaml", 14, 1)


def test_values_keep_their_yaml_meaning_and_keys_stay_names() -> None:
    model = load_text(MODEL, "m.yaml").model
    attributes = model.entities["Customer"].attributes
    # `on` would be the boolean true as a YAML 1.1 value; as a key it is a name.
    assert "on" in attributes and attributes["on"].type is TypeName.BOOLEAN
    # Dates are kept as ISO text, the form every store's DDL and seed data use.
    assert attributes["joined"].default == "2024-01-31"
    assert attributes["rank"].min == 0


def test_anchors_and_aliases_are_plain_reuse() -> None:
    text = MODEL.replace("{type: decimal, precision: 10, scale: 2}", "&money {type: decimal, precision: 10, scale: 2}")
    text = text.replace("scale: 2}\n", "scale: 2}\n      tax: *money\n")
    loaded = load_text(text, "m.yaml")
    order = loaded.model.entities["Order"].attributes
    assert order["tax"] == order["total"]


def test_unknown_key_points_at_the_key_and_suggests() -> None:
    text = MODEL.replace("{type: boolean}", "{type: boolean, nulable: true}")
    assert rendered(text) == [
        "m.yaml:6:27: entities.Customer.attributes.on.nulable: unknown key 'nulable' (did you mean 'nullable'?) [PP101]"
    ]


def test_wrong_value_points_at_the_value() -> None:
    text = MODEL.replace("min: 0", "min: zero")
    assert rendered(text) == [
        "m.yaml:10:14: entities.Customer.attributes.rank.min: expected a number, got 'zero' [PP103]"
    ]


def test_missing_field_points_at_the_mapping_that_lacks_it() -> None:
    text = MODEL.replace("      rank:\n        type: integer\n", "      rank:\n")
    assert rendered(text) == [
        "m.yaml:8:7: entities.Customer.attributes.rank.type: required field 'type' is missing [PP102]"
    ]


def test_yaml_scalars_are_not_coerced() -> None:
    """YAML already types scalars: a `yes` or a quoted number where an integer belongs is a mistake."""
    assert rendered(MODEL.replace("max_length: 254", "max_length: yes")) == [
        "m.yaml:5:41: entities.Customer.attributes.email.max_length: expected a whole number, got true [PP103]"
    ]
    assert rendered(MODEL.replace("max_length: 254", "max_length: '254'")) == [
        "m.yaml:5:41: entities.Customer.attributes.email.max_length: expected a whole number, got '254' [PP103]"
    ]
    assert rendered(MODEL.replace("{type: boolean}", "{type: boolean, nullable: 1}")) == [
        "m.yaml:6:37: entities.Customer.attributes.on.nullable: expected true or false, got 1 [PP103]"
    ]


def test_duplicate_keys_are_all_reported_with_the_first_place() -> None:
    text = MODEL.replace(
        "  Order:\n    attributes:\n",
        "  Order:\n    attributes:\n      total: {type: float}\n",
    ).replace("name: shop\n", "name: shop\nname: store\n")
    assert rendered(text) == [
        "m.yaml:2:1: name: duplicate key 'name' (first defined at line 1) [PP003]",
        "m.yaml:15:7: entities.Order.attributes.total: duplicate key 'total' (first defined at line 14) [PP003]",
    ]


def test_several_shape_errors_at_once_in_file_order() -> None:
    text = (
        MODEL.replace("scale: 2", "scale: two")
        .replace("{type: boolean}", "{type: bool}")
        .replace("kind: one_to_many", "kind: one_to_many, colour: red")
    )
    assert rendered(text) == [
        "m.yaml:6:18: entities.Customer.attributes.on.type: expected one of string, text, integer, decimal, float, "
        "boolean, date, timestamp, timestamptz, uuid, enum, json, binary, list, object, geo_point, set; got 'bool' "
        "(did you mean 'boolean'?) [PP103]",
        "m.yaml:13:52: entities.Order.attributes.total.scale: expected a whole number, got 'two' [PP103]",
        "m.yaml:15:48: relationships.0.colour: unknown key 'colour' [PP101]",
    ]


def test_several_cross_check_errors_at_once_in_file_order() -> None:
    text = (
        MODEL.replace("to: Order}", "to: Invoice}")
        .replace("min: 0", "min: 0\n        max_length: 3")
        .replace("  Order:\n", "  Order:\n    growth: {must_keep: true, ttl_seconds: 60}\n")
    )
    assert rendered(text) == [
        "m.yaml:11:21: entities.Customer.attributes.rank.max_length: max_length applies to string, not integer [PP303]",
        "m.yaml:13:44: entities.Order.growth.ttl_seconds: Order must be kept, so it cannot have a TTL [PP301]",
        "m.yaml:17:68: relationships.0.to: unknown entity 'Invoice' [PP201]",
    ]


def test_pattern_checks_wait_for_sound_relationships() -> None:
    """Patterns resolve attributes through relationships, so a broken one would only add noise."""
    text = MODEL.replace("to: Order}", "to: Invoice}")
    text += "access_patterns:\n  - {name: by_email, entity: Customer, sort: [{attribute: joined_on}]}\n"
    assert [d.code for d in errors_of(text)] == ["PP201"]


def test_cross_checks_of_patterns_run_when_relationships_are_sound() -> None:
    text = MODEL + "access_patterns:\n  - {name: by_email, entity: Customer, sort: [{attribute: joined_on}]}\n"
    assert rendered(text) == [
        "m.yaml:17:59: access_patterns.0.sort.0.attribute: 'joined_on' is not an attribute of Customer [PP202]"
    ]


def test_names_as_keys_point_at_the_key() -> None:
    text = MODEL.replace("  Order:\n", "  Order.Line:\n").replace("to: Order}", "to: Order.Line}")
    text += "security:\n  roles:\n    - {name: support, grants: {Invoice: [read]}}\n"
    found = errors_of(text)
    assert [(d.code, d.path, d.location) for d in found] == [
        ("PP203", "entities.Order.Line", Location("m.yaml", 11, 3)),
        ("PP201", "security.roles.0.grants.Invoice", Location("m.yaml", 18, 32)),
    ]


def test_yaml_syntax_errors_point_at_the_problem() -> None:
    assert rendered("name: shop\nentities:\n  Customer:\n    attributes: {a: {type: text}\n") == [
        "m.yaml:5:1: YAML syntax error: expected ',' or '}', but got the end of the file "
        "(in the flow mapping that starts at line 4, column 17) [PP002]"
    ]


def test_unsupported_tags_are_refused_without_running_anything() -> None:
    assert rendered("name: !!python/object/apply:os.getcwd []\nentities: {}\n") == [
        "m.yaml:1:7: YAML error: the YAML tag '!!python/object/apply:os.getcwd' is not supported "
        "(a model holds plain values only) [PP002]"
    ]


def test_empty_and_non_mapping_documents() -> None:
    assert rendered("") == ["m.yaml:1:1: the file is empty [PP004]"]
    assert rendered("\n\n# only a comment\n") == ["m.yaml:1:1: the file is empty [PP004]"]
    assert rendered("[shop]\n") == ["m.yaml:1:1: the model must be a mapping with 'name' and 'entities' [PP004]"]


def test_a_valid_model_loads_with_its_source() -> None:
    loaded = load_text(MODEL, "m.yaml")
    assert loaded.source == "m.yaml"
    assert list(loaded.model.entities) == ["Customer", "Order"]
