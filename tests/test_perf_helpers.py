"""polyplan.perf: the data-file JSON writer keeps the values and stays stable."""

from __future__ import annotations

import json
from decimal import Decimal

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
