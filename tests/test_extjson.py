"""polyplan writes MongoDB Extended JSON and BSON sizes without a driver (issue 13): the text and
sizes must be what pymongo's `bson` would write, value by value and on the real artifacts."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, Inexact
from pathlib import Path
from typing import Any

import pytest

bson = pytest.importorskip("bson", reason="pymongo (polyplan[mongodb]) is the reference these checks compare with")
from bson import json_util  # noqa: E402
from bson.binary import UuidRepresentation  # noqa: E402
from bson.decimal128 import Decimal128 as DriverDecimal128  # noqa: E402
from bson.json_util import JSONMode, JSONOptions  # noqa: E402

from polyplan.stores.document import extjson  # noqa: E402
from polyplan.stores.document.bson_size import encoded_document_bytes  # noqa: E402
from polyplan.stores.document.render import JSON_OPTIONS  # noqa: E402
from tests.conftest import SCENARIOS, planned  # noqa: E402

OPTIONS = JSONOptions(json_mode=JSONMode.RELAXED, uuid_representation=UuidRepresentation.STANDARD, tz_aware=True)

DECIMALS = ["0", "-0", "0.00", "12.50", "5", "9999999999999999.99", "-1.5E-10", "1E+6144", "1E-6176", "NaN"]
DECIMALS += ["123456789012345678901234567890.1234", "-99999999999999999999999999999999.99"]


def driver_form(value: Any) -> Any:
    """`value` with polyplan's Decimal128 swapped for the driver's (what pymongo would have built)."""
    if isinstance(value, extjson.Decimal128):
        return DriverDecimal128(value.to_decimal())
    if isinstance(value, dict):
        return {k: driver_form(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [driver_form(v) for v in value]
    return value


@pytest.mark.parametrize("text", DECIMALS)
def test_decimal128_prints_as_the_drivers(text: str) -> None:
    ours, theirs = extjson.Decimal128(Decimal(text)), DriverDecimal128(Decimal(text))
    assert str(ours) == str(theirs)
    assert extjson.dumps({"d": ours}) == json_util.dumps({"d": theirs}, json_options=OPTIONS)
    if text != "NaN":
        assert ours.to_decimal().as_tuple() == theirs.to_decimal().as_tuple()


def test_decimal128_refuses_what_the_format_cannot_hold_as_the_driver_does() -> None:
    digits = "1." + "3" * 40  # 41 significant digits: no exact decimal128
    with pytest.raises(Inexact):
        extjson.Decimal128(Decimal(digits))
    with pytest.raises(Inexact):
        DriverDecimal128(Decimal(digits))


def test_every_value_kind_the_artifacts_hold_reads_as_the_drivers() -> None:
    moment = datetime(2025, 1, 1, 1, 2, 3, 456789, tzinfo=UTC)
    values: list[Any] = [
        uuid.UUID("13065206-5dfe-4c8a-bec1-67784bc02ce4"),
        b"\x00binary\xff",
        moment,
        moment.replace(microsecond=0),
        datetime(2020, 5, 5),  # naive: UTC
        datetime(1960, 6, 1, tzinfo=UTC),  # before the epoch: milliseconds
        moment.astimezone(timezone(timedelta(hours=2))),
        math.nan,
        math.inf,
        -math.inf,
        1.5,
        2**40,
        -7,
        True,
        None,
        "é\u2028\"'",
        (1, "two"),
        {"nested": {"list": [extjson.Decimal128("1.10"), {"$in": [1, 2]}]}},
    ]
    assert extjson.dumps(values) == json_util.dumps(driver_form(values), json_options=OPTIONS)


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"a": 1, "b": 2**40, "c": -(2**31), "d": 2**31, "e": 1.5, "f": True, "g": None},
        {"text": "ünïcødé", "list": [1, "x", None, {"k": [[], {}]}], "é": {"deep": {"er": "value"}}},
    ],
)
def test_bson_sizes_are_the_encoders(document: dict[str, Any]) -> None:
    assert encoded_document_bytes(document) == len(bson.encode(document))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.stem)
def test_the_artifacts_read_back_as_the_driver_wrote_them(scenario: Path, tmp_path: Path) -> None:
    """Every value of every MongoDB JSON file of a plan, read by `bson`, is written as `bson` writes it."""
    from polyplan.pipeline import render

    files, _ = render(planned(scenario))
    written = {p: t for p, t in files.items() if p.startswith("mongodb/") and p.endswith(".json")}
    written |= {p: t for p, t in files.items() if p.startswith("tests/data/mongodb") and p.endswith(".json")}
    if not written:
        pytest.skip(f"{scenario.stem} puts nothing in MongoDB")
    for path, text in written.items():
        parsed = json_util.loads(text, json_options=JSON_OPTIONS)
        assert extjson.dumps(driver_to_ours(parsed)) == json_util.dumps(parsed, json_options=OPTIONS), path


def driver_to_ours(value: Any) -> Any:
    """The driver's parsed values in the form polyplan builds them (its Decimal128)."""
    if isinstance(value, DriverDecimal128):
        return extjson.Decimal128(value.to_decimal())
    if isinstance(value, dict):
        return {k: driver_to_ours(v) for k, v in value.items()}
    if isinstance(value, list):
        return [driver_to_ours(v) for v in value]
    return value
