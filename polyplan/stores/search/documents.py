"""Logical records → Elasticsearch documents (pure).

The JSON form a sync relay sends: decimals as numbers, dates as `YYYY-MM-DD`, timestamps as ISO 8601,
uuids as strings, binary as base64, JSON and objects as nested JSON. Used by the generated tests to
build the documents they index, and as the reference for hand-written relays.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from polyplan.model.schema import COLLECTION_TYPES, Attribute, TypeName


def to_json_value(value: Any, attribute: Attribute) -> Any:
    """One attribute value in its document form."""
    if value is None:
        return None
    kind = attribute.type
    if kind in COLLECTION_TYPES and attribute.items is not None:
        return [to_json_value(item, attribute.items) for item in value]
    if kind is TypeName.OBJECT:
        fields = attribute.fields or {}
        return {name: to_json_value(value.get(name), field) for name, field in fields.items() if name in value}
    if isinstance(value, Decimal):
        return float(value) if kind is not TypeName.STRING else str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def to_document(record: dict[str, Any], attributes: dict[str, Attribute]) -> dict[str, Any]:
    """The document of one record; attributes absent from the record are left out."""
    return {name: to_json_value(record[name], attribute) for name, attribute in attributes.items() if name in record}


def document_id(record: dict[str, Any], key: tuple[str, ...]) -> str:
    """The document id: the key value, or the key values joined with '|' for a composite key."""
    parts = []
    for name in key:
        value = record[name]
        parts.append(value.isoformat() if isinstance(value, dt.date) else str(value))
    return "|".join(parts)
