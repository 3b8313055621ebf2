"""The generated MongoDB cases hold together before any server sees them.

No MongoDB runs here, so this test evaluates the emitted validators with a small interpreter of
the `$jsonSchema` keywords and `$expr` operators the target emits (MongoDB's semantics: bsonType
names, no implicit anchoring of patterns, a missing field is not checked). Every seeded document
must pass, every invalid case must fail, and every duplicate case must pass the validator (it
must be refused by its unique index alone). The real check is the generated test on a server.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from bson import json_util
from bson.decimal128 import Decimal128
from bson.objectid import ObjectId

from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.stores.document import Target
from polyplan.stores.document.render import JSON_OPTIONS
from tests.conftest import SCENARIOS, planned
from tests.test_document_design import doc_plan


def bson_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -(2**31) <= value < 2**31 else "long"
    return {
        str: "string",
        float: "double",
        Decimal128: "decimal",
        datetime: "date",
        uuid.UUID: "binData",
        bytes: "binData",
        dict: "object",
        list: "array",
        ObjectId: "objectId",
    }[type(value)]


def number(value: Any) -> Decimal:
    return value.to_decimal() if isinstance(value, Decimal128) else Decimal(str(value))


def schema_errors(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    errors: list[str] = []
    if "bsonType" in schema:
        allowed = schema["bsonType"] if isinstance(schema["bsonType"], list) else [schema["bsonType"]]
        if bson_type(value) not in allowed:
            return [f"{path}: {bson_type(value)} not in {allowed}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: not in enum")
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: too long")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(f"{path}: pattern")
    if isinstance(value, (int, float, Decimal128)) and not isinstance(value, bool):
        if "minimum" in schema and number(value) < number(schema["minimum"]):
            errors.append(f"{path}: below minimum")
        if "maximum" in schema and number(value) > number(schema["maximum"]):
            errors.append(f"{path}: above maximum")
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: too many items")
        for index, item in enumerate(value):
            errors += schema_errors(schema.get("items", {}), item, f"{path}[{index}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{path}.{name}: required" for name in schema.get("required", []) if name not in value]
        if schema.get("additionalProperties") is False:
            errors += [f"{path}.{name}: not allowed" for name in value if name not in properties]
        for name, item in value.items():
            if name in properties:
                errors += schema_errors(properties[name], item, f"{path}.{name}")
    return errors


_MISSING = object()


def evaluate(expression: Any, variables: dict[str, Any]) -> Any:
    """The aggregation operators the target emits in `$expr`."""
    if isinstance(expression, str) and expression.startswith("$$"):
        name, _, rest = expression[2:].partition(".")
        value = variables[name]
        return value.get(rest, None) if rest else value
    if isinstance(expression, str) and expression.startswith("$"):
        return variables["CURRENT"].get(expression[1:], None)
    if not isinstance(expression, dict):
        return expression
    ((op, args),) = expression.items()
    if op == "$literal":
        return args
    if op == "$getField":
        return evaluate(args["input"], variables).get(evaluate(args["field"], variables))
    if op == "$ifNull":
        first = evaluate(args[0], variables)
        return evaluate(args[1], variables) if first is None else first
    if op in ("$and", "$or"):
        results = [bool(evaluate(a, variables)) for a in args]
        return all(results) if op == "$and" else any(results)
    if op == "$allElementsTrue":
        return all(evaluate(args[0], variables))
    if op == "$map":
        items = evaluate(args["input"], variables)
        return [evaluate(args["in"], {**variables, args["as"]: item}) for item in items]
    if op == "$let":
        bound = {name: evaluate(value, variables) for name, value in args["vars"].items()}
        return evaluate(args["in"], {**variables, **bound})
    left, right = (evaluate(a, variables) for a in args)
    if op == "$eq":
        return left == right
    if op == "$ne":
        return left != right
    if left is None or right is None:
        return False
    left, right = (number(v) if isinstance(v, (int, float, Decimal128)) else v for v in (left, right))
    return {"$gt": left > right, "$gte": left >= right, "$lt": left < right, "$lte": left <= right}[op]


def violations(validator: dict[str, Any], document: dict[str, Any]) -> list[str]:
    errors = schema_errors(validator["$jsonSchema"], document)
    if "$expr" in validator and not evaluate(validator["$expr"], {"CURRENT": document}):
        errors.append("$expr")
    return errors


def emitted(plan: Plan) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    artifacts = Target().emit(plan)
    validators = {}
    for path, text in artifacts.files.items():
        if path.startswith("mongodb/collections/"):
            definition = json_util.loads(text, json_options=JSON_OPTIONS)
            validators[definition["collection"]] = definition["validator"]
    data = json_util.loads(artifacts.tests["data/mongodb_cases.json"], json_options=JSON_OPTIONS)
    return validators, data


PLANS = {"doctest": doc_plan} | {
    s.stem: (lambda s=s: planned(s)) for s in SCENARIOS if planned(s).records_in(Family.DOCUMENT)
}


@pytest.mark.parametrize("name", sorted(PLANS))
def test_seeded_documents_pass_and_invalid_ones_fail(name: str) -> None:
    validators, data = emitted(PLANS[name]())
    for collection, documents in data["documents"].items():
        assert documents, collection
        for document in documents:
            assert violations(validators[collection], document) == [], f"{collection}: {document}"
    assert data["invalid"], "no invalid case"
    for case in data["invalid"]:
        assert violations(validators[case["collection"]], case["document"]), f"accepted: {case['why']}"
    for case in data["duplicates"]:
        assert violations(validators[case["collection"]], case["document"]) == [], case["index"]


def test_every_rule_kind_has_an_invalid_case() -> None:
    _, data = emitted(doc_plan())
    reasons = " | ".join(case["why"] for case in data["invalid"])
    for expected in (
        "missing required field",
        "is a number, not a string",
        "does not match",
        "is longer than",
        "is not one of",
        "below its minimum",
        "above its maximum",
        "is null",
        "meta.lang is missing",
        "a field the model does not declare",
        "check updated_after_created",
        "article_comments holds more than 50 items",
    ):
        assert expected in reasons, expected
    assert {case["index"] for case in data["duplicates"]} == {"handle_1", "name_1", "voter_1_article_ref_1"}


def test_query_cases_select_documents_and_exercise_loading() -> None:
    _, data = emitted(doc_plan())
    cases = {case["pattern"]: case for case in data["queries"]}
    assert all(case["expected_count"] > 0 for case in cases.values())
    assert cases["articles_of_author"]["expected_count"] > 1, "a sorted pattern needs several documents to order"
    loads = cases["article_with_comments"]
    assert loads["embedded_present"] == ["article_comments"]
    assert all(lookup["expected_ids"] for lookup in loads["lookups"])
    assert cases["search_articles"]["text"] is True
    dates = [key[0] for key in cases["published_between"]["sort_keys"]]
    assert dates == sorted(dates)
