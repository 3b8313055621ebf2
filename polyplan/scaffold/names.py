"""Python names and types for the generated code (pure): the package's and classes' names, column
identifiers that are never a keyword or a clash, a column's or parameter's model type, and the SQL
text `sa.text` reads as written (colons inside literals escaped).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from polyplan.model.schema import COLLECTION_TYPES, Attribute, TypeName
from polyplan.scaffold.design_types import Column
from polyplan.stores.relational.membership import column_attribute
from polyplan.stores.relational.spec import TableSpec
from polyplan.stores.relational.sqltext import Piece, pieces


def package_name(model: str) -> str:
    """A Python package name for the model: lower case, `_` for anything else, never a leading digit."""
    name = re.sub(r"\W+", "_", model).strip("_").lower() or "app"
    return f"app_{name}" if name[0].isdigit() else name


def class_name(name: str) -> str:
    """`order_line` / `OrderLine` → `OrderLine`."""
    parts = re.split(r"[^0-9A-Za-z]+", name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p) or "Row"


def escaped(sql: str) -> str:
    """`sql` for `sa.text`: a colon inside a literal is escaped so it is not read as a parameter
    (`sqltext.text_clause`'s rule, applied when the package is written)."""
    return "".join(text.replace(":", "\\:") if kind is Piece.QUOTED else text for kind, text in pieces(sql))


def _kind_of(attribute: Attribute) -> str:
    return "json" if attribute.type in (*COLLECTION_TYPES, TypeName.OBJECT) else attribute.type.value


def _kind(spec: TableSpec, name: str) -> str:
    return _kind_of(spec.column(name).attribute)


def _param_kind(spec: TableSpec, column: str, op: str, reached: Mapping[str, Attribute]) -> str:
    """A parameter's kind: its column's, for a relationship path the attribute it reaches, for a
    JSON sub-field (`specs#brand`) the declared sub-field's, for `contains` one item's."""
    if column in reached:
        return _kind_of(reached[column])
    attribute = column_attribute(spec, column)
    if op == "contains" and attribute.items is not None:
        attribute = attribute.items
    return _kind_of(attribute)


def _columns(
    spec: TableSpec, names: Sequence[str], joined: Mapping[str, Attribute] | None = None
) -> tuple[Column, ...]:
    """Result columns: the table's, and related fields joined in under their labels (`joined`)."""
    joined = joined or {}

    def column(name: str, field: str) -> Column:
        if name in joined:
            return Column(name, _kind_of(joined[name]), joined[name].nullable, field)
        return Column(name, _kind(spec, name), spec.column(name).nullable, field)

    return tuple(column(n, f) for n, f in zip(names, identifiers(names), strict=True))


def identifiers(names: Sequence[str]) -> list[str]:
    """Python identifiers for column names, distinct, never a keyword or a leading digit."""
    import keyword

    taken: set[str] = {"stores", "row", "key", "cls", "self"}  # names the generated functions use
    found: list[str] = []
    for name in names:
        base = re.sub(r"\W+", "_", name).strip("_") or "column"
        if base[0].isdigit() or keyword.iskeyword(base) or base in taken:
            base = f"{base}_"
        ident, counter = base, 2
        while ident in taken:
            ident, counter = f"{base}{counter}", counter + 1
        taken.add(ident)
        found.append(ident)
    return found
