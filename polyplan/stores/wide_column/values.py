"""Values between three forms (pure): seeded Python values, JSON, and cassandra-driver values.

A type is described as design.json does it: {"type": "uuid"}, {"type": "list", "items": ...},
{"type": "udt", "name": ..., "fields": [[name, type], ...]}, {"type": "text", "json": true}, and {"type": "tuple", "items": ...} for a collection's nullable item,
which Cassandra keeps as a one-field tuple (a collection holds no null): its JSON form is the item
itself, its driver form the tuple `(item,)`.
Timestamps are UTC with milliseconds (what Cassandra keeps); `canonical` maps a value read back
from Cassandra and a seeded value to the same JSON, so tests compare them directly.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any


def _utc_millis(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def to_json(value: Any, desc: dict[str, Any]) -> Any:
    """A seeded (or application) value in the JSON form of its CQL type."""
    if value is None:
        return None
    kind = desc["type"]
    if kind == "tuple":
        return to_json(value, desc["items"])
    if kind in ("list", "set"):
        return [to_json(item, desc["items"]) for item in value]
    if kind == "udt":
        return {name: to_json(value.get(name), field) for name, field in desc["fields"]}
    if desc.get("json"):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return canonical(value)


def to_driver(value: Any, desc: dict[str, Any]) -> Any:
    """A JSON-form value as cassandra-driver binds it (UDTs as tuples in field order, a nullable
    item as its one-field tuple, null or not)."""
    kind = desc["type"]
    if kind == "tuple":
        return (to_driver(value, desc["items"]),)
    if value is None:
        return None
    if kind in ("list", "set"):
        return [to_driver(item, desc["items"]) for item in value]
    if kind == "udt":
        return tuple(to_driver(value.get(name), field) for name, field in desc["fields"])
    if kind in ("uuid", "timeuuid"):
        return uuid.UUID(value)
    if kind == "timestamp":
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "decimal":
        return Decimal(value)
    if kind == "blob":
        return base64.b64decode(value)
    if kind == "double":
        return float(value)
    return value


def canonical(value: Any) -> Any:
    """The JSON form of a scalar (seeded or read back): comparable across both."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return _utc_millis(value).isoformat(timespec="milliseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    date = getattr(value, "date", None)  # cassandra.util.Date
    if callable(date):
        return canonical(date())
    return str(value)
