"""`polyplan schema`: a valid JSON Schema that agrees with the loader about the model's shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from polyplan.model.loader import parse_yaml
from polyplan.model.schema import json_schema

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
BAD_INPUTS = Path(__file__).resolve().parent / "bad_inputs"

# Fixtures whose only fault is shape (PP101 unknown key, PP102 missing field, PP103 wrong value
# found by validation): the JSON Schema must reject them too, or an editor would stay silent.
SHAPE_ERRORS = [
    "empty_entities",
    "empty_entity",
    "invalid_consistency",
    "invalid_engine",
    "invalid_filter_op",
    "invalid_integer_bits",
    "invalid_type_name",
    "missing_attribute_type",
    "missing_entities",
    "missing_relationship_kind",
    "model_name_not_snake_case",
    "negative_rows",
    "three_shape_errors",
    "transaction_of_one_entity",
    "unknown_key_access_pattern",
    "unknown_key_attribute",
    "unknown_key_entity",
    "unknown_key_relationship",
    "unknown_key_root",
    "unknown_key_root_typo",
    "wrong_type_bool_for_integer",
    "wrong_type_float_for_integer",
    "wrong_type_list_for_mapping",
    "wrong_type_mapping_for_list",
    "wrong_type_quoted_number",
    "wrong_type_scalar_for_entity",
    "wrong_type_string_for_integer",
]
# Fixtures that are well-shaped but wrong in meaning (references, contradictions): only the
# cross-checks can find those, so the schema must accept them.
MEANING_ERRORS = [
    "archive_not_before_retention",
    "cache_placement_without_ttl",
    "composite_unique_with_json",
    "filter_unknown_attribute",
    "fulltext_on_integer",
    "must_keep_with_ttl",
    "relationship_unknown_entity",
    "sort_on_json",
    "string_without_max_length",
    "unique_on_list",
    "unknown_suppress_code",
]


@pytest.fixture(scope="module")
def printed_schema() -> dict[str, Any]:
    """What `python -m polyplan schema` prints, parsed."""
    env = {key: value for key, value in os.environ.items() if key != "FORCE_COLOR"}
    done = subprocess.run(
        [sys.executable, "-m", "polyplan", "schema"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stderr) == (0, "")
    schema: dict[str, Any] = json.loads(done.stdout)
    return schema


@pytest.fixture(scope="module")
def validator(printed_schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(printed_schema)


def document(path: Path) -> Any:
    """The plain data the loader validates (dates as ISO text, keys as written)."""
    data, _, _ = parse_yaml(path.read_text(encoding="utf-8"), path.name)
    return data


def test_printed_schema_is_a_valid_draft_2020_12_schema(printed_schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(printed_schema)
    assert printed_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert printed_schema == json_schema()


def test_printed_schema_is_deterministic(printed_schema: dict[str, Any]) -> None:
    again = subprocess.run(
        [sys.executable, "-m", "polyplan", "schema"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert json.loads(again.stdout) == printed_schema
    assert again.stdout == json.dumps(printed_schema, indent=2, sort_keys=True) + "\n"


def test_schema_speaks_yaml_names_and_helps_editors(printed_schema: dict[str, Any]) -> None:
    relationship = printed_schema["$defs"]["Relationship"]
    assert "from" in relationship["properties"] and "from_" not in relationship["properties"]
    assert relationship["additionalProperties"] is False
    attribute = printed_schema["$defs"]["Attribute"]["properties"]
    # Descriptions are what an editor shows while completing.
    assert attribute["max_length"]["description"] == "For string: the maximum number of characters."
    assert "strnig" not in json.dumps(printed_schema["$defs"]["TypeName"])
    assert "string" in printed_schema["$defs"]["TypeName"]["enum"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_every_bundled_scenario_validates(scenario: Path, validator: Draft202012Validator) -> None:
    problems = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document(scenario))
    ]
    assert problems == []


def test_unknown_key_fails_the_schema(validator: Draft202012Validator) -> None:
    data = document(SCENARIOS[0])
    first_entity = next(iter(data["entities"].values()))
    first_entity["colour"] = "red"
    errors = list(validator.iter_errors(data))
    assert len(errors) == 1
    assert errors[0].validator == "additionalProperties"
    assert "'colour' was unexpected" in errors[0].message


@pytest.mark.parametrize("name", SHAPE_ERRORS)
def test_shape_errors_fail_the_schema_too(name: str, validator: Draft202012Validator) -> None:
    assert not validator.is_valid(document(BAD_INPUTS / f"{name}.yaml"))


@pytest.mark.parametrize("name", MEANING_ERRORS)
def test_meaning_errors_pass_the_schema(name: str, validator: Draft202012Validator) -> None:
    assert validator.is_valid(document(BAD_INPUTS / f"{name}.yaml"))
