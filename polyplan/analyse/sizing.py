"""Size estimates from the portable type system, shared by scoring and capacity planning."""

from __future__ import annotations

from polyplan.model.schema import COLLECTION_TYPES, Attribute, Growth, TypeName
from polyplan.seed.lengths import expected_chars

_FIXED_BYTES = {
    TypeName.BOOLEAN: 1,
    TypeName.DATE: 4,
    TypeName.TIMESTAMP: 8,
    TypeName.TIMESTAMPTZ: 8,
    TypeName.UUID: 16,
    TypeName.FLOAT: 8,
}
_SEEDED = (TypeName.STRING, TypeName.TEXT, TypeName.JSON, TypeName.BINARY, TypeName.ENUM)
DEFAULT_LIST_ITEMS = 3.0


def attribute_bytes(attribute: Attribute, name: str = "") -> float:
    """Average stored size of one value, before engine overhead. Strings, text, JSON, binary and
    enums take the seeder's length assumptions (`seed.lengths.expected_chars`: the model's
    `avg_length` and enum weights first, else what the seeder draws for an attribute called
    `name`), so an estimate and the seeded data agree."""
    kind = attribute.type
    if kind in _FIXED_BYTES:
        return _FIXED_BYTES[kind]
    if kind is TypeName.INTEGER:
        return attribute.bits / 8
    if kind is TypeName.DECIMAL:
        return 2 + (attribute.precision or 18) / 2
    if kind in _SEEDED:
        return expected_chars(attribute, name)
    if kind in COLLECTION_TYPES and attribute.items is not None:
        return (attribute.avg_items or DEFAULT_LIST_ITEMS) * attribute_bytes(attribute.items)
    if kind is TypeName.OBJECT:
        return sum(attribute_bytes(field) for field in (attribute.fields or {}).values())
    return 8.0


def record_bytes(attributes: dict[str, Attribute]) -> float:
    """Average payload of one record (sum of its attribute sizes)."""
    return sum(attribute_bytes(a, name) for name, a in attributes.items())


def rows_at(days: float, initial_rows: int, rows_per_day: float, monthly_growth_rate: float) -> float:
    """Rows ever inserted after `days`, with the daily rate compounding monthly."""
    if monthly_growth_rate == 0:
        return initial_rows + rows_per_day * days
    months = days / 30.0
    monthly = rows_per_day * 30.0
    growth = 1.0 + monthly_growth_rate
    return float(initial_rows + monthly * (growth**months - 1.0) / monthly_growth_rate)


SECONDS_PER_DAY = 86400.0


def live_rows(growth: Growth, days: float) -> float:
    """Rows held after `days`: inserted so far, less what TTL expiry, retention and a cap removed."""
    rows = rows_at(days, growth.initial_rows, growth.rows_per_day, growth.monthly_growth_rate)
    if growth.ttl_seconds is not None:
        rows = min(rows, growth.initial_rows + growth.rows_per_day * growth.ttl_seconds / SECONDS_PER_DAY)
    if growth.retention_days is not None:
        rows = min(rows, growth.initial_rows + growth.rows_per_day * growth.retention_days)
    if growth.cap is not None:
        rows = min(rows, float(growth.cap.max_records))  # the store never holds more (model/caps.py)
    return rows
