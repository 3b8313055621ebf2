"""How a logical record becomes Redis values, and how long those values are on average.

One convention for every key: a record is either a hash (one field per attribute) or a string
holding compact JSON. Scalars are written as text that sorts and parses without surprises:
decimals as exact strings, timestamps as ISO 8601 UTC with milliseconds, uuids in canonical
form, booleans as 1/0 in hash fields and true/false in JSON, binary as base64. Absent (null)
attributes are left out of a hash and written as null in JSON. Key parts are percent-encoded
so that a value can never contain the separator ':' or a hash-tag brace.

The same functions serve the application (documented in cache.md) and the generated tests.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from polyplan.model.schema import COLLECTION_TYPES, Attribute, TypeName
from polyplan.seed.lengths import NULL_SHARE, compact_json_chars, decimal_chars, expected_chars, integer_chars

# Characters left readable in key parts; everything else (':', '{', '}', '%', spaces…) is escaped.
KEY_SAFE = "-._~@+=!$&'()*,;"
ISO_MS = 24  # 2024-05-01T12:34:56.000Z


def _iso(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment.isoformat(timespec="milliseconds") + "Z"
    return moment.isoformat(timespec="milliseconds")


def json_value(attribute: Attribute, value: Any) -> Any:
    """The JSON form of one value (recursively for objects and lists)."""
    if value is None:
        return None
    kind = attribute.type
    if kind is TypeName.DECIMAL:
        return str(value)
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ) and isinstance(value, datetime):
        return _iso(value)
    if kind is TypeName.DATE and isinstance(value, date):
        return value.isoformat()
    if kind is TypeName.UUID:
        return str(value)
    if kind is TypeName.BINARY and isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if kind is TypeName.OBJECT and isinstance(value, Mapping):
        fields = attribute.fields or {}
        return {name: json_value(fields[name], item) if name in fields else item for name, item in value.items()}
    if kind in COLLECTION_TYPES and isinstance(value, list) and attribute.items is not None:
        return [json_value(attribute.items, item) for item in value]
    return value


def compact_json(value: Any) -> str:
    """Compact, key-order-preserving JSON (the order is the model's)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def field_text(attribute: Attribute, value: Any) -> str:
    """The text of one hash field (value must not be None)."""
    kind = attribute.type
    if kind is TypeName.BOOLEAN:
        return "1" if value else "0"
    if kind in (TypeName.JSON, TypeName.OBJECT, *COLLECTION_TYPES):
        return compact_json(json_value(attribute, value))
    if kind is TypeName.FLOAT:
        return repr(float(value))
    converted = json_value(attribute, value)
    return str(converted)


def record_json(attributes: Mapping[str, Attribute], record: Mapping[str, Any]) -> str:
    """A record as the compact JSON a string key holds."""
    return compact_json({name: json_value(attribute, record.get(name)) for name, attribute in attributes.items()})


def record_fields(attributes: Mapping[str, Attribute], record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A record as hash field/value pairs (null attributes are absent)."""
    return [
        (name, field_text(attribute, record[name]))
        for name, attribute in attributes.items()
        if record.get(name) is not None
    ]


def key_part(value: Any, attribute: Attribute) -> str:
    """One value inside a key name, escaped so it cannot contain ':', '{' or '}'."""
    return quote(field_text(attribute, value), safe=KEY_SAFE)


def epoch_millis(value: datetime | date) -> int:
    """A timestamp or date as milliseconds since the epoch (naive values are UTC)."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def score_of(attribute: Attribute, value: Any) -> float:
    """The sorted-set score of a value: numbers as themselves, time as epoch ms, enums by position."""
    kind = attribute.type
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ, TypeName.DATE):
        return float(epoch_millis(value))
    if kind is TypeName.BOOLEAN:
        return 1.0 if value else 0.0
    if kind is TypeName.ENUM:
        return float((attribute.values or []).index(value))
    if kind is TypeName.UUID:
        raise ValueError("a uuid has no numeric order")
    return float(Decimal(str(value)))


SCORABLE = frozenset(
    {
        TypeName.INTEGER,
        TypeName.DECIMAL,
        TypeName.FLOAT,
        TypeName.BOOLEAN,
        TypeName.DATE,
        TypeName.TIMESTAMP,
        TypeName.TIMESTAMPTZ,
        TypeName.ENUM,
    }
)


# --- average lengths, for the design-time memory estimate ------------------------------------
# Value lengths are the ones the seeder draws (polyplan.seed.lengths: the model's avg_length,
# distinct and enum weights first), so seeded keys are a fair test of the estimate.

NULL_JSON = 4  # `null`


def integer_text_length(attribute: Attribute) -> float:
    """Average decimal characters of an integer attribute's values."""
    return integer_chars(attribute)


def text_length(attribute: Attribute, name: str = "", unique: bool = False) -> float:
    """Average length of `field_text` for this attribute (JSON text for nested values); `name` and
    `unique` (a key on its own) choose the seeder's value kind, as for the relational estimate."""
    kind = attribute.type
    if kind is TypeName.UUID:
        return 36.0
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
        return float(ISO_MS if kind is TypeName.TIMESTAMPTZ else ISO_MS - 1)
    if kind is TypeName.DATE:
        return 10.0
    if kind is TypeName.BOOLEAN:
        return 1.0
    if kind is TypeName.INTEGER:
        return integer_chars(attribute)
    if kind is TypeName.DECIMAL:
        return decimal_chars(attribute)
    if kind is TypeName.FLOAT:
        return 7.0  # the seeder's floats: three decimals below 1,000 ("523.417")
    if kind is TypeName.BINARY:
        return 4 * math.ceil(expected_chars(attribute) / 3)
    if kind is TypeName.JSON:
        return compact_json_chars(attribute)
    if kind is TypeName.OBJECT and attribute.avg_length is None:
        fields = attribute.fields or {}
        return 2 + sum(len(n) + 3 + json_length(f, n) for n, f in fields.items()) + max(len(fields) - 1, 0)
    if kind in COLLECTION_TYPES and attribute.items is not None and attribute.avg_length is None:
        items = attribute.avg_items or 3.0
        return 2 + items * (json_length(attribute.items, name) + 1)
    return expected_chars(attribute, name, unique)


def json_length(attribute: Attribute, name: str = "", unique: bool = False) -> float:
    """Average length of the JSON form of one value (strings quoted, null where absent)."""
    return json_of_text(attribute, text_length(attribute, name, unique))


def json_of_text(attribute: Attribute, text: float) -> float:
    """Average JSON length of a value whose `field_text` averages `text` characters (quotes, nulls)."""
    kind = attribute.type
    quoted = {TypeName.STRING, TypeName.TEXT, TypeName.ENUM, TypeName.UUID, TypeName.DECIMAL, TypeName.DATE}
    quoted |= {TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ, TypeName.BINARY}
    present = 4.5 if kind is TypeName.BOOLEAN else text + (2 if kind in quoted else 0)
    if attribute.nullable:
        return (1 - NULL_SHARE) * present + NULL_SHARE * NULL_JSON
    return present


def record_json_length(attributes: Mapping[str, Attribute], key: tuple[str, ...] = ()) -> float:
    """Average length of `record_json` for records of these attributes (`key`: the entity's key)."""
    members = [len(n) + 3 + json_length(a, n, (n,) == key) for n, a in attributes.items()]
    return 2 + sum(members) + max(len(members) - 1, 0)
