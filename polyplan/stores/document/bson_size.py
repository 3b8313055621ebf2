"""BSON sizes of values and documents, for the 16 MiB limit and capacity figures.

Per the BSON spec: an element is a type byte, the field name as a C string, then the value;
strings carry a 4-byte length and a NUL, documents and arrays a 4-byte length and a NUL, and
array elements are named "0", "1", … Average sizes come from the model (`sizing.attribute_bytes`
for text); worst cases from maximum lengths and item counts where the model states them.
"""

from __future__ import annotations

import random
import statistics
from functools import cache
from typing import Any

from polyplan.model.schema import COLLECTION_TYPES, Attribute, TypeName
from polyplan.seed.lengths import NULL_SHARE, expected_chars
from polyplan.seed.values import random_maker

DOCUMENT_LIMIT = 16 * 1024 * 1024  # MongoDB's maximum BSON document size
UNBOUNDED_TEXT = 64 * 1024.0  # worst case assumed for text/json/binary without a declared bound
OBJECT_ID = 1 + 4 + 12  # `_id` the server adds when the design maps no attribute to it: type, "_id\0", ObjectId


def _encoded_value_bytes(value: Any) -> int:
    """Bytes of one BSON value, as `bson.encode` writes the plain JSON types (bsonspec.org 1.1).
    By hand so that planning needs no driver (issue 13); tests/test_extjson.py checks it against
    `bson.encode` when pymongo is installed."""
    if value is None:
        return 0  # null: the element's type byte says it all
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 4 if -(2**31) <= value < 2**31 else 8  # int32, else int64 (as pymongo chooses)
    if isinstance(value, float):
        return 8
    if isinstance(value, str):
        return 4 + len(value.encode("utf-8")) + 1  # int32 length, the bytes, NUL
    if isinstance(value, dict):
        return encoded_document_bytes(value)
    if isinstance(value, (list, tuple)):
        return encoded_document_bytes({str(i): item for i, item in enumerate(value)})  # arrays: keys "0", "1", …
    raise TypeError(f"no BSON size for a {type(value).__name__}")


def encoded_document_bytes(document: dict[str, Any]) -> int:
    """Bytes of `document` encoded as BSON: int32 length, each element (type byte, field name as a
    C string, value), NUL."""
    elements = sum(1 + len(name.encode("utf-8")) + 1 + _encoded_value_bytes(v) for name, v in document.items())
    return 4 + elements + 1


@cache
def _json_document_bytes(average: int | None) -> float:
    """Mean BSON bytes of the seeder's JSON values (stored as embedded documents), 64 draws."""
    attribute = Attribute.model_validate({"type": "json", **({"avg_length": average} if average else {})})
    make = random_maker(attribute, random.Random(0), "sizing")
    sizes = []
    for _ in range(64):
        value = make()
        sizes.append(encoded_document_bytes(value) if isinstance(value, dict) else 5.0)
    return statistics.fmean(sizes)


def _fixed(kind: TypeName, attribute: Attribute) -> float | None:
    if kind is TypeName.BOOLEAN:
        return 1
    if kind in (TypeName.DATE, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ, TypeName.FLOAT):
        return 8
    if kind is TypeName.INTEGER:
        return 8 if attribute.bits == 64 else 4
    if kind is TypeName.DECIMAL:
        return 16
    if kind is TypeName.UUID:
        return 4 + 1 + 16
    return None


def value_bytes(attribute: Attribute, worst: bool = False, name: str = "", unique: bool = False) -> float:
    """BSON bytes of one value (average, or the worst case when `worst`); `name` picks the seeder's
    value kind for the average (the same assumption as the relational estimate)."""
    kind = attribute.type
    fixed = _fixed(kind, attribute)
    if fixed is not None:
        return fixed
    if kind is TypeName.OBJECT:
        return document_bytes(attribute.fields or {}, worst)
    if kind in COLLECTION_TYPES and attribute.items is not None:
        items = (attribute.max_items or 1000) if worst else (attribute.avg_items or 3.0)
        element = 1 + 3 + value_bytes(attribute.items, worst)  # type, "NN\0", value
        return 4 + items * element + 1
    if kind is TypeName.BINARY:
        size = expected_chars(attribute)
        return 4 + 1 + (UNBOUNDED_TEXT if worst and not attribute.avg_length else size)
    if worst:
        if kind is TypeName.STRING:
            return 4 + 4 * float(attribute.max_length or 0) + 1  # UTF-8: up to 4 bytes a character
        if kind is TypeName.ENUM:
            return 4 + max(len(v) for v in attribute.values or ["x"]) + 1
        return 4 + max(UNBOUNDED_TEXT, 4.0 * (attribute.avg_length or 0)) + 1
    if kind is TypeName.JSON:
        return _json_document_bytes(attribute.avg_length)
    return 4 + expected_chars(attribute, name, unique) + 1


def element_bytes(name: str, attribute: Attribute, worst: bool = False) -> float:
    """One field: type byte, name, value; on average a nullable field is absent NULL_SHARE of the time."""
    size = 1 + len(name.encode("utf-8")) + 1 + value_bytes(attribute, worst, name.rsplit(".", 1)[-1], name == "_id")
    return size if worst or not attribute.nullable else (1 - NULL_SHARE) * size


def document_bytes(fields: dict[str, Attribute], worst: bool = False) -> float:
    """A document of `fields` (all present)."""
    return 4 + sum(element_bytes(name, attribute, worst) for name, attribute in fields.items()) + 1


def array_bytes(count: float, item_bytes: float) -> float:
    """An array of `count` items of `item_bytes` each (names "0"… ≈ 3 bytes with the type byte)."""
    return 4 + count * (1 + 3 + item_bytes) + 1
