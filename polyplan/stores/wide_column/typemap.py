"""Portable types → CQL types, with user-defined types for objects (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyplan.analyse.sizing import attribute_bytes
from polyplan.model.schema import COLLECTION_TYPES, Attribute, TypeName
from polyplan.stores.wide_column.cql import quote, schema_name

_SCALARS = {
    TypeName.STRING: "text",
    TypeName.TEXT: "text",
    TypeName.ENUM: "text",  # CQL has no enum or CHECK: the application validates the values
    TypeName.DECIMAL: "decimal",
    TypeName.FLOAT: "double",
    TypeName.BOOLEAN: "boolean",
    TypeName.DATE: "date",
    TypeName.TIMESTAMP: "timestamp",  # milliseconds, UTC
    TypeName.TIMESTAMPTZ: "timestamp",
    TypeName.UUID: "uuid",
    TypeName.JSON: "text",  # JSON kept as its text; CQL has no JSON type
    TypeName.BINARY: "blob",
}
_INTEGERS = {16: "smallint", 32: "int", 64: "bigint"}


@dataclass(frozen=True)
class CqlType:
    """A CQL type: a scalar, a list or set of a type, a user-defined type (always used frozen), or
    the one-field tuple that holds a collection's nullable item."""

    kind: str  # a scalar name, "list", "set", "udt" or "tuple"
    items: CqlType | None = None
    udt: str | None = None
    json: bool = False  # text holding JSON

    def render(self, nested: bool = False) -> str:
        """The type as written in CQL; `nested` types (inside a collection or UDT) are frozen."""
        if self.kind == "udt" and self.udt is not None:
            return f"frozen<{quote(self.udt)}>"
        if self.kind in ("list", "set") and self.items is not None:
            inner = f"{self.kind}<{self.items.render(nested=True)}>"
            return f"frozen<{inner}>" if nested else inner
        if self.kind == "tuple" and self.items is not None:
            return f"frozen<tuple<{self.items.render(nested=True)}>>"
        return self.kind

    def describe(self, udts: dict[str, Udt]) -> dict[str, Any]:
        """A JSON description (the generated tests convert values with it)."""
        if self.kind == "udt" and self.udt is not None:
            fields = [[name, t.describe(udts)] for name, t in udts[self.udt].fields]
            return {"fields": fields, "name": self.udt, "type": "udt"}
        if self.kind in ("list", "set", "tuple") and self.items is not None:
            return {"items": self.items.describe(udts), "type": self.kind}
        return {"json": True, "type": self.kind} if self.json else {"type": self.kind}


@dataclass(frozen=True)
class Udt:
    """A user-defined type for an object attribute (or a list's object items)."""

    name: str
    fields: tuple[tuple[str, CqlType], ...]
    source: str


def cql_type(attribute: Attribute, udt_base: str, udts: dict[str, Udt], source: str) -> CqlType:
    """The CQL type of `attribute`; object types are registered in `udts` (dependencies first)."""
    kind = attribute.type
    if kind is TypeName.INTEGER:
        return CqlType(_INTEGERS[attribute.bits])
    if kind in _SCALARS:
        return CqlType(_SCALARS[kind], json=kind is TypeName.JSON)
    if kind in COLLECTION_TYPES and attribute.items is not None:
        # A set is Cassandra's own set<>: unique items, kept sorted, no read-before-write to add one.
        items = cql_type(attribute.items, udt_base, udts, f"{source}.items")
        if attribute.items.nullable:
            # A collection refuses a null item ("Expected 4 byte long for date"); the field of a
            # one-field tuple may be null, so each item is wrapped: list<frozen<tuple<date>>>.
            items = CqlType("tuple", items=items)
        return CqlType(kind.value, items=items)
    if kind is TypeName.OBJECT:
        name = schema_name(udt_base)
        fields = tuple(
            (field_name, cql_type(field, f"{udt_base}_{field_name}", udts, f"{source}.{field_name}"))
            for field_name, field in (attribute.fields or {}).items()
        )
        udts.setdefault(name, Udt(name, fields, source))
        return CqlType("udt", udt=name)
    raise ValueError(f"no CQL type for {kind.value}")  # unreachable: the schema is closed


# Cassandra's own storage costs per row and per cell (timestamps, lengths, flags), rounded from
# the storage-engine layout of 4.x; good enough for partition-size estimates.
ROW_OVERHEAD_BYTES = 12
CELL_OVERHEAD_BYTES = 8


def column_bytes(attribute: Attribute | None) -> float:
    """Stored bytes of one cell: the payload plus the per-cell overhead (a bucket is 8 bytes)."""
    return CELL_OVERHEAD_BYTES + (attribute_bytes(attribute) if attribute is not None else 8.0)
