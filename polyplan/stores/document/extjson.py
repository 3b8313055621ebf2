"""MongoDB Extended JSON (relaxed mode) and Decimal128 values, written without a MongoDB driver.

Why by hand: the one library that writes Extended JSON is pymongo's `bson` package (PyPI's
`bson` is another, unmaintained one), and planning must not need a driver (issue 13: the core
install holds none; `pip install 'polyplan[mongodb]'` brings pymongo for `validate`). polyplan's
MongoDB artifacts hold a small, fixed set of BSON types, each written exactly as
`bson.json_util.dumps(value, json_options=JSONOptions(json_mode=RELAXED,
uuid_representation=STANDARD, tz_aware=True))` writes it (the Extended JSON v2 specification,
https://github.com/mongodb/specifications/blob/master/source/extended-json/extended-json.md):

- `Decimal128` → `{"$numberDecimal": "<decimal string>"}`, the value first fitted to the IEEE 754
  decimal128 format (34 digits, exponent -6176..6111, clamped), as bson's `Decimal128` does;
- `uuid.UUID` → `{"$binary": {"base64": …, "subType": "04"}}` (the standard UUID subtype);
- `bytes` → `{"$binary": {"base64": …, "subType": "00"}}`;
- `datetime` → `{"$date": "YYYY-MM-DDTHH:MM:SS[.mmm]Z"}` from the epoch on (naive means UTC), else
  `{"$date": {"$numberLong": "<milliseconds>"}}`;
- a non-finite float → `{"$numberDouble": "NaN" | "Infinity" | "-Infinity"}`; finite floats,
  integers, strings, booleans and null are plain JSON; mappings and other iterables (tuples)
  become objects and arrays.

tests/test_extjson.py compares this module with `bson` (when installed) value by value and
on every bundled scenario's MongoDB artifacts; the golden files pin the bytes.
"""

from __future__ import annotations

import base64
import calendar
import decimal
import json
import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# The decimal128 format of IEEE 754-2008, as bson.decimal128 sets it up: 34 significant digits,
# exponents clamped to the format, and an error (never silent rounding) for a value it cannot hold.
_DECIMAL128 = decimal.Context(
    prec=34,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-6143,
    Emax=6144,
    capitals=1,
    flags=[],
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.Inexact],
    clamp=1,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Decimal128:
    """A decimal as MongoDB's Decimal128 stores it (what `bson.decimal128.Decimal128` holds).

    Only what planning needs: build one from a `Decimal` (or its text), read it back with
    `to_decimal()`, print it, compare it. A value with more than 34 significant digits raises
    `decimal.Inexact`, as bson's class does.
    """

    __slots__ = ("_value",)

    def __init__(self, value: decimal.Decimal | str) -> None:
        self._value = _DECIMAL128.create_decimal(value)

    def to_decimal(self) -> decimal.Decimal:
        """The stored value as a `decimal.Decimal` (exponent and trailing zeros kept)."""
        return self._value

    def __str__(self) -> str:
        return "NaN" if self._value.is_nan() else str(self._value)

    def __repr__(self) -> str:
        return f"Decimal128('{self}')"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Decimal128):
            return self._value.as_tuple() == other._value.as_tuple()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-equality semantics, like bson's class


def _binary(data: bytes, subtype: int) -> dict[str, Any]:
    return {"$binary": {"base64": base64.b64encode(data).decode(), "subType": f"{subtype:02x}"}}


def _date(moment: datetime) -> dict[str, Any]:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment >= _EPOCH:
        offset = moment.utcoffset()
        zone = "Z" if not offset else moment.strftime("%z")
        millis = moment.microsecond // 1000
        fraction = f".{millis:03d}" if millis else ""
        return {"$date": f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}{fraction}{zone}"}
    offset = moment.utcoffset()
    naive = moment - offset if offset else moment
    milliseconds = calendar.timegm(naive.timetuple()) * 1000 + naive.microsecond // 1000
    return {"$date": {"$numberLong": str(milliseconds)}}


def _scalar(value: Any) -> Any:
    if isinstance(value, Decimal128):
        return {"$numberDecimal": str(value)}
    if isinstance(value, uuid.UUID):
        return _binary(value.bytes, 4)
    if isinstance(value, bytes):
        return _binary(value, 0)
    if isinstance(value, datetime):
        return _date(value)
    if isinstance(value, float) and not math.isfinite(value):
        return {"$numberDouble": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    return value


def to_plain(value: Any) -> Any:
    """`value` with every BSON value replaced by its Extended JSON object (plain JSON data)."""
    if isinstance(value, Mapping):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    return _scalar(value)


def dumps(value: Any) -> str:
    """`value` as relaxed Extended JSON text (`json.dumps`'s default layout, ASCII only)."""
    return json.dumps(to_plain(value))
