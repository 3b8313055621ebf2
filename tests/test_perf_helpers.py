"""polyplan.perf: the data-file JSON writer keeps the values and stays stable."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from polyplan.perf import data_json


def test_data_json_keeps_values_and_opens_two_levels() -> None:
    data = {
        "tables": {"b": {"rows": [1, 2.5, None, True], "first": {"x": 'é\n"q"'}}, "a": {}},
        "model": "m",
        "odd keys": {2: "two", 1: "one"},
    }
    text = data_json(data)
    assert json.loads(text) == json.loads(json.dumps(data))
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and text.endswith("}\n")
    assert ' "model": "m",' in lines
    assert '  "b": {"first":{"x":"é\\n\\"q\\""},"rows":[1,2.5,null,true]}' in lines  # third level on: compact
    assert '"odd keys": {"1":"one","2":"two"}' in text  # JSON's own spelling of non-text keys
    assert "é" in text  # not escaped: the files are UTF-8
    assert data_json(data) == text


def test_data_json_key_order_and_default() -> None:
    data = {"b": {"z": 1, "a": 2}, "a": Decimal("1.50")}
    assert list(json.loads(data_json(data, default=str))) == ["a", "b"]
    assert json.loads(data_json(data, default=str))["a"] == "1.50"
    assert list(json.loads(data_json(data, sort_keys=False, default=str))) == ["b", "a"]
    assert list(json.loads(data_json(data, sort_keys=False, default=str))["b"]) == ["z", "a"]


def test_indented_json_is_json_dumps_indent_2() -> None:
    from enum import IntEnum, StrEnum

    from polyplan.perf import indented_json

    class Colour(StrEnum):
        RED = "red"

    class Level(IntEnum):
        HIGH = 3

    data = {
        "text": 'é\n"q"\u2028\x00',
        "numbers": [0, -1, 2**70, 1.5, 1e300, -0.0, float("nan"), float("inf"), -float("inf"), True, False, None],
        "empty": {"list": [], "tuple": (), "dict": {}},
        "nested": [[{"a": [1, {"b": ()}]}], ({"z": 1, "a": 2},)],
        "enums": [Colour.RED, Level.HIGH, {Colour.RED: Level.HIGH}],
        "keys": {2: "int", 1.5: "float", True: "true", False: "false", None: "null", "s": "str"},
        "other": Decimal("1.50"),
    }
    assert indented_json(data, default=str) == json.dumps(data, indent=2, ensure_ascii=False, default=str)
    sortable = {"b": {"y": [3, {"d": 1, "c": None}], "x": {}}, "a": [Decimal("2")], "c": {2: 1, 1: 2}}
    expected = json.dumps(sortable, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    assert indented_json(sortable, sort_keys=True, default=str) == expected
    for scalar in ("x", 1, 1.25, None, [], {}):
        assert indented_json(scalar) == json.dumps(scalar, indent=2, ensure_ascii=False)
    with pytest.raises(TypeError):  # as json.dumps does for a value it cannot spell
        indented_json({"x": object()})
