"""`$jsonSchema` validators from the model: types, required fields, enums, ranges, patterns.

Conventions shared with the codec: a null attribute is stored by leaving the field out, so a
nullable field is optional but never null (a unique index on it then needs no special case);
the key of a single-key entity is `_id`. Rules between two fields (entity checks) become an
`$expr` beside the `$jsonSchema`, since JSON Schema cannot compare fields.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from polyplan.model.schema import COLLECTION_TYPES, Attribute, Check, CompareOp, SchemaVariability, TypeName
from polyplan.stores.document.extjson import Decimal128

_BSON_TYPES: dict[TypeName, str | list[str]] = {
    TypeName.STRING: "string",
    TypeName.TEXT: "string",
    TypeName.DECIMAL: "decimal",
    TypeName.FLOAT: "double",
    TypeName.BOOLEAN: "bool",
    TypeName.DATE: "date",
    TypeName.TIMESTAMP: "date",
    TypeName.TIMESTAMPTZ: "date",
    TypeName.UUID: "binData",
    TypeName.BINARY: "binData",
    TypeName.ENUM: "string",
    TypeName.LIST: "array",
    TypeName.SET: "array",
    TypeName.OBJECT: "object",
    # Any JSON value but null (a null attribute is an absent field).
    TypeName.JSON: ["object", "array", "string", "int", "long", "double", "decimal", "bool"],
}
_OPS = {CompareOp.LT: "$lt", CompareOp.LE: "$lte", CompareOp.GT: "$gt", CompareOp.GE: "$gte", CompareOp.NE: "$ne"}
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def bson_type(attribute: Attribute) -> str | list[str] | None:
    """The bsonType(s) an attribute's values have."""
    if attribute.type is TypeName.INTEGER:
        # Drivers send small integers as int32 whatever the declared size; 64-bit values need long.
        return ["int", "long"] if attribute.bits == 64 else "int"
    return _BSON_TYPES.get(attribute.type)


def _decimal(value: float) -> Decimal128:
    return Decimal128(Decimal(str(value)).normalize())


def _bounds(attribute: Attribute) -> dict[str, Any]:
    found: dict[str, Any] = {}
    kind = attribute.type
    low, high = attribute.min, attribute.max
    if kind is TypeName.INTEGER and attribute.bits == 16:
        low = -32768 if low is None else low
        high = 32767 if high is None else high
    if kind is TypeName.DECIMAL:
        scale = attribute.scale or 0
        limit = Decimal(10) ** ((attribute.precision or 18) - scale) - Decimal(10) ** -scale
        found["minimum"] = _decimal(float(low)) if low is not None else Decimal128(-limit)
        found["maximum"] = _decimal(float(high)) if high is not None else Decimal128(limit)
        return found
    convert = int if kind is TypeName.INTEGER else float
    if low is not None:
        found["minimum"] = convert(low)
    if high is not None:
        found["maximum"] = convert(high)
    return found


def attribute_schema(attribute: Attribute) -> dict[str, Any]:
    """The `$jsonSchema` of one attribute's value."""
    schema: dict[str, Any] = {}
    kind = attribute.type
    bson = bson_type(attribute)
    if bson is not None:
        schema["bsonType"] = bson
    if attribute.description:
        schema["description"] = attribute.description
    if kind is TypeName.ENUM:
        schema["enum"] = list(attribute.values or [])
    if kind is TypeName.STRING and attribute.max_length:
        schema["maxLength"] = attribute.max_length
    if attribute.pattern is not None:
        schema["pattern"] = attribute.pattern
    if kind in (TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT):
        schema.update(_bounds(attribute))
    if kind in COLLECTION_TYPES and attribute.items is not None:
        schema["items"] = attribute_schema(attribute.items)
        if kind is TypeName.SET:
            schema["uniqueItems"] = True
        if attribute.max_items:
            schema["maxItems"] = attribute.max_items
    if kind is TypeName.OBJECT:
        schema.update(object_schema(attribute.fields or {}, additional=False))
    return schema


def object_schema(
    fields: dict[str, Attribute], additional: bool, extra: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An object whose non-nullable fields are required; `extra` adds properties (e.g. embedded parts)."""
    properties = {name: attribute_schema(attribute) for name, attribute in fields.items()}
    properties.update(extra or {})
    schema: dict[str, Any] = {"bsonType": "object"}
    required = [name for name, attribute in fields.items() if not attribute.nullable]
    if required:
        schema["required"] = required
    schema["properties"] = properties
    schema["additionalProperties"] = additional
    return schema


def allows_extra(variability: SchemaVariability) -> bool:
    """Whether documents may carry fields the model does not name."""
    return variability is not SchemaVariability.LOW


def field_ref(path: str, variable: str = "$CURRENT") -> Any:
    """An aggregation expression reading `path` ($getField for names a field path cannot spell)."""
    if _PLAIN.match(path) and variable == "$CURRENT":
        return f"${path}"
    if _PLAIN.match(path):
        return f"${variable}.{path}"
    return {"$getField": {"field": {"$literal": path}, "input": f"${variable}"}}


def check_expression(check: Check, left_nullable: bool, right_nullable: bool, variable: str = "$CURRENT") -> Any:
    """`left op right` as an aggregation expression; a missing side passes (as SQL's NULL does)."""
    left, right = field_ref(check.left, variable), field_ref(check.right, variable)
    compare = {_OPS[check.op]: [left, right]}
    guards = [
        {"$eq": [{"$ifNull": [side, None]}, None]}
        for side, nullable in ((left, left_nullable), (right, right_nullable))
        if nullable
    ]
    return {"$or": [*guards, compare]} if guards else compare


def validator(schema: dict[str, Any], expressions: list[Any]) -> dict[str, Any]:
    """The collection validator: the schema plus field-comparison rules."""
    result: dict[str, Any] = {"$jsonSchema": schema}
    if len(expressions) == 1:
        result["$expr"] = expressions[0]
    elif expressions:
        result["$expr"] = {"$and": expressions}
    return result
