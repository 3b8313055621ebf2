"""Logical records → MongoDB documents, following the design's conventions.

uuid → BSON binary subtype 4 (pymongo `uuidRepresentation="standard"`), decimal → Decimal128,
date and timestamps → BSON dates in UTC with millisecond precision, binary → binary subtype 0,
null → the field is left out. A single-attribute key becomes `_id`; embedded children become
arrays (or a sub-document) of their own documents without the reference back to the parent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from polyplan.model.schema import COLLECTION_TYPES, Attribute, TypeName
from polyplan.stores.document.extjson import Decimal128


def _moment(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def bson_value(attribute: Attribute, value: Any, shift: timedelta | None = None) -> Any:
    """One value as stored (None stays None: the caller leaves the field out)."""
    if value is None:
        return None
    kind = attribute.type
    if kind is TypeName.UUID:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    if kind is TypeName.DECIMAL:
        return Decimal128(Decimal(str(value)))
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
        moment = _moment(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))
        return moment + shift if shift else moment
    if kind is TypeName.DATE:
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return moment + shift if shift else moment
    if kind is TypeName.FLOAT:
        return float(value)
    if kind is TypeName.INTEGER:
        return int(value)
    if kind is TypeName.OBJECT and isinstance(value, Mapping):
        return fields_document(attribute.fields or {}, value, shift)
    if kind in COLLECTION_TYPES and isinstance(value, list) and attribute.items is not None:
        items = attribute.items
        return [bson_value(items, item, shift) for item in value]
    return value


def fields_document(
    fields: Mapping[str, Attribute],
    record: Mapping[str, Any],
    shift: timedelta | None = None,
    paths: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A (sub-)document of `fields` from `record`, null fields left out."""
    document: dict[str, Any] = {}
    for name, attribute in fields.items():
        value = bson_value(attribute, record.get(name), shift)
        if value is not None:
            document[(paths or {}).get(name, name)] = value
    return document


def comparable(value: Any) -> Any:
    """A value Python can order the way MongoDB sorts it (Decimal128 as Decimal, uuid by bytes)."""
    if isinstance(value, Decimal128):
        return value.to_decimal()
    if isinstance(value, uuid.UUID):
        return value.bytes
    return value
