"""`contains` on lists and sets and filters on JSON sub-fields, in the relational stores.

Layout (why): a list or set some read filters by an item is kept in one JSON column of its
entity's table (storage auto) instead of the child table other lists get. On PostgreSQL that
column is `jsonb`, and one GIN index with `jsonb_path_ops` serves `tags @> '["drama"]'` for
every item — the expert's layout; a child table would need a join or EXISTS per read, and its
B-tree on (value) serves only PostgreSQL no better. The cost of the JSON column: a set's
uniqueness is not enforced by the database (a CHECK cannot read the array's items, on any of
the three dialects), so the writers keep it a set; a set no read filters by an item stays a
child table with UNIQUE (owner, value).

* PostgreSQL: `col @> jsonb_build_array(CAST(:p AS <item type>))`, GIN (`jsonb_path_ops`).
  A sub-field: `(payload #>> '{device,model}')` (cast to its number type), and a B-tree
  expression index on exactly that expression.
* MariaDB: `JSON_CONTAINS(col, JSON_ARRAY(:p))`; MariaDB has no multi-valued index, so nothing
  indexes it (PP421 says so and what would). A sub-field: a VIRTUAL generated column
  `JSON_VALUE(payload, '$.device.model')` with an index, and the query compares that column.
* SQLite: `EXISTS (SELECT 1 FROM json_each(col) WHERE value = :p)`, a scan (PP421). A sub-field:
  `json_extract(payload, '$.device.model')` with an expression index on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.collection_checks import sub_field
from polyplan.model.dialects import relational_dialects
from polyplan.model.domains import effective_distinct
from polyplan.model.schema import (
    COLLECTION_TYPES,
    AccessPattern,
    Attribute,
    Filter,
    FilterOp,
    RequirementsModel,
    TypeName,
)
from polyplan.plan.membership import describe, inside_filters, pattern_inside_filters
from polyplan.stores.relational.index_results import PatternRoute
from polyplan.stores.relational.spec import ColumnSpec, TableSpec

# Key of TableSpec.extra on entity tables: the filters that look inside a column.
MEMBERSHIP = "membership"

_NUMBERS: dict[TypeName, Any] = {
    TypeName.INTEGER: sa.BigInteger,
    TypeName.DECIMAL: sa.Numeric,
    TypeName.FLOAT: sa.Float,
    TypeName.BOOLEAN: sa.Boolean,
}
_MYSQL_TYPES = {
    TypeName.INTEGER: "BIGINT",
    TypeName.DECIMAL: "DECIMAL(38,10)",
    TypeName.FLOAT: "DOUBLE",
    TypeName.BOOLEAN: "BOOLEAN",
}


@dataclass(frozen=True)
class Inside:
    """One filtered inside of a column: `kind` contains or path, the compared type's name."""

    column: str
    kind: str
    path: tuple[str, ...]
    type: str
    # False when the index design routed no read or write to its index (each such read walks a
    # B-tree in order instead, index_needs.walk_need): the index is then not created, and `note`
    # says why and what its upkeep would have cost (index-plan.md).
    indexed: bool = True
    note: str = ""

    def as_data(self) -> dict[str, Any]:
        found: dict[str, Any] = {"column": self.column, "kind": self.kind, "path": list(self.path), "type": self.type}
        if not self.indexed:
            found |= {"indexed": False, "note": self.note}
        return found

    @property
    def name(self) -> str:
        """Name stem of its index (and MariaDB virtual column): the column and the path."""
        return "__".join((self.column, *self.path)) if self.path else self.column


def membership_note(attribute: Attribute) -> str:
    """The column comment of a list or set kept as JSON because a read filters by an item."""
    note = f"{attribute.type.value.capitalize()} stored as JSON: a read filters by an item (contains)."
    if attribute.type is TypeName.SET:
        note += " Items are unique by the writers' rule (no CHECK can read them)."
    return note


def _insides(model: RequirementsModel, entity: str, column_of: Mapping[str, str]) -> list[Inside]:
    found: dict[tuple[str, str, tuple[str, ...]], Inside] = {}
    for flt in inside_filters(model, entity):
        column = column_of.get(flt.attribute)
        if column is None or flt.kind == "fulltext" or flt.target is None:
            continue
        key = (column, flt.kind, flt.path)
        found.setdefault(key, Inside(column, flt.kind, flt.path, flt.target.type.value))
    return list(found.values())


def membership_extra(model: RequirementsModel, entity: str, column_of: Mapping[str, str]) -> dict[str, Any]:
    """`{MEMBERSHIP: [...]}` for an entity table whose reads look inside its columns, else {}."""
    insides = _insides(model, entity, column_of)
    return {MEMBERSHIP: [i.as_data() for i in insides]} if insides else {}


def insides_of(extra: Mapping[str, Any]) -> list[Inside]:
    """The Inside records an entity table's `extra` holds."""
    return [
        Inside(
            str(d["column"]),
            str(d["kind"]),
            tuple(d["path"]),
            str(d["type"]),
            bool(d.get("indexed", True)),
            str(d.get("note", "")),
        )
        for d in extra.get(MEMBERSHIP, [])
    ]


def inside_index_name(table: str, inside: Inside) -> str:
    """The name of the index that looks inside `inside` on `table` (the same in every dialect)."""
    from polyplan.stores.relational.design import fit

    return fit(f"ix_{table}_{inside.name}")


def membership_diagnostics(model: RequirementsModel, entity: str, column_of: Mapping[str, str]) -> list[Diagnostic]:
    """PP419 where a list filter cannot be written on the relational layout at all (PP421, where
    a dialect reads every row for a contains filter, needs the index design: `scan_warnings`)."""
    found: list[Diagnostic] = []
    for flt in inside_filters(model, entity):
        if flt.attribute not in column_of:
            found.append(
                Diagnostic(
                    "PP419",
                    f"{entity}.{describe(flt)} ({flt.pattern}): the {flt.attribute} items are a child table "
                    "(storage: child_table), so the query is not written; storage auto keeps a filtered list "
                    "in one JSON column that a GIN index serves on PostgreSQL",
                    f"access_patterns.{flt.pattern}",
                    Severity.WARNING,
                )
            )
    return found


def scan_warnings(model: RequirementsModel, table: TableSpec, routes: Mapping[str, PatternRoute]) -> list[Diagnostic]:
    """PP421 where an emitted dialect reads every row for a contains filter of `table` (once per
    attribute). A read the index design walks in order through a B-tree (`routes`: pattern →
    route) reads about LIMIT ÷ share rows on every dialect, not every row: it is warned about
    only when that misses its latency target, and the message says so."""
    scanning = [d for d in ("mysql", "sqlite") if d in relational_dialects(model)]
    if not scanning:
        return []
    names = " and ".join({"mysql": "MariaDB/MySQL", "sqlite": "SQLite"}[d] for d in scanning)
    contained = {i.column for i in insides_of(table.extra) if i.kind == "contains"}
    found: list[Diagnostic] = []
    seen: set[str] = set()
    for flt in inside_filters(model, table.entity):
        column = next((c.name for c in table.columns if c.source == f"{table.entity}.{flt.attribute}"), None)
        if flt.kind != "contains" or column not in contained or flt.attribute in seen:
            continue
        route = routes.get(flt.pattern)
        walked = route is not None and route.via == "index"  # only an ordered walk routes there
        if route is not None and walked and (route.latency_ms is None or route.estimated_ms <= route.latency_ms):
            continue
        seen.add(flt.attribute)
        if route is not None and walked:
            message = (
                f"{table.entity}.{flt.attribute} contains ({flt.pattern}): no index looks inside {flt.attribute} on "
                f"{names}; the read walks {route.index} in order checking the filter on each row, estimated "
                f"{route.estimated_ms:g} ms against its {route.latency_ms:g} ms target; the search or document "
                "projection's keyword/multikey index finds the matches directly"
            )
        else:
            message = (
                f"{table.entity}.{flt.attribute} contains ({flt.pattern}): no index serves it on {names} (MariaDB "
                "has no multi-valued index; JSON_CONTAINS and json_each read every row); PostgreSQL's GIN index "
                "does, or the search or document projection's keyword/multikey index"
            )
        found.append(Diagnostic("PP421", message, f"access_patterns.{flt.pattern}", Severity.WARNING))
    return found


# --- expressions -----------------------------------------------------------------------------


def _json_path(path: Sequence[str]) -> str:
    return "$." + ".".join(path)


def virtual_column(inside: Inside) -> str:
    """MariaDB's generated column that holds one JSON sub-field (its index's only column)."""
    from polyplan.stores.relational.design import fit

    return fit(f"{inside.column}__{'_'.join(inside.path)}")


def sub_field_expression(table: Any, inside: Inside, engine: str) -> sa.ColumnElement[Any]:
    """The SQL value of a JSON sub-field, written the same in the query and in its index."""
    column = table.c[inside.column]
    kind = TypeName(inside.type)
    if engine == "postgresql":
        # #>> yields text (not the column's jsonb): a constant compared with it renders as text.
        text = column.op("#>>", return_type=sa.Text())(sa.literal_column("'{" + ",".join(inside.path) + "}'"))
        return sa.cast(text, _NUMBERS[kind]()) if kind in _NUMBERS else text
    # Typed as the sub-field's values, so a constant compared with it renders as one (not as JSON).
    if engine == "mysql":
        return sa.literal_column(virtual_column(inside), type_=bind_type(kind))
    return sa.func.json_extract(column, sa.literal_column(f"'{_json_path(inside.path)}'"), type_=bind_type(kind))


def contains_predicate(table: Any, inside: Inside, param: str, engine: str) -> sa.ColumnElement[bool]:
    """`column holds the item :param` in the engine's JSON functions."""
    column = table.c[inside.column]
    kind = TypeName(inside.type)
    if engine == "postgresql":
        item = sa.cast(sa.bindparam(param), _NUMBERS[kind]() if kind in _NUMBERS else sa.Text())
        return column.op("@>")(sa.func.jsonb_build_array(item))  # type: ignore[no-any-return]
    if engine == "mysql":
        return sa.func.json_contains(column, sa.func.json_array(sa.bindparam(param))) == 1
    each = sa.func.json_each(column).table_valued("value").alias("item")
    return sa.exists(sa.select(sa.literal(1)).select_from(each).where(each.c.value == sa.bindparam(param)))


def bind_type(kind: TypeName) -> sa.types.TypeEngine[Any]:
    """How a generated test binds an item or sub-field value (as its JSON form holds it)."""
    found = _NUMBERS.get(kind)
    return found() if found is not None else sa.String()


def attach_membership(table: sa.Table, extra: Mapping[str, Any], engine: str) -> None:
    """The indexes (and MariaDB's virtual columns) that serve the table's inside filters."""
    for inside in insides_of(extra):
        name = inside_index_name(table.name, inside)
        if inside.kind == "contains":
            if engine == "postgresql" and inside.indexed:
                sa.Index(
                    name,
                    table.c[inside.column],
                    postgresql_using="gin",
                    postgresql_ops={inside.column: "jsonb_path_ops"},
                )
            continue  # MariaDB and SQLite: nothing indexes an array's items (PP421)
        if engine == "mysql":
            quote = sa.dialects.mysql.dialect().identifier_preparer.quote
            kind = _MYSQL_TYPES.get(TypeName(inside.type), "VARCHAR(255)")
            column = virtual_column(inside)
            # The queries compare the virtual column, so it stays when its index is not created.
            statements = [
                f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column)} {kind} AS "
                f"(JSON_VALUE({quote(inside.column)}, '{_json_path(inside.path)}')) VIRTUAL",
                *([f"CREATE INDEX {quote(name)} ON {quote(table.name)} ({quote(column)})"] if inside.indexed else []),
            ]
            for statement in statements:
                ddl = sa.DDL(statement).execute_if(dialect="mysql")  # type: ignore[no-untyped-call]
                sa.event.listen(table, "after_create", ddl)
        elif inside.indexed:
            sa.Index(name, sub_field_expression(table, inside, engine))


def inside_filter_of(spec: TableSpec, entity: str, flt: Filter) -> Inside | str | None:
    """The Inside record of a filter that looks inside a column of `spec`, None for a plain
    filter, or why the query cannot be written (the list is a child table; full text over a
    list, which the search projection serves)."""
    source = f"{entity}.{flt.attribute}"
    column = next((c for c in spec.columns if c.source == source), None)
    if column is None or (flt.path is None and column.attribute.type not in COLLECTION_TYPES):
        if flt.path is None and flt.op is not FilterOp.CONTAINS and flt.op is not FilterOp.FULLTEXT:
            return None
        if column is None and (flt.path is not None or flt.op is FilterOp.CONTAINS):
            return f"it filters inside {flt.attribute}, which is not a column of {spec.name}"
        return None
    if flt.path is None and flt.op is FilterOp.FULLTEXT:
        return f"full text over the items of {flt.attribute} is the search projection's (no relational form)"
    path = tuple(flt.path or ())
    kind = "path" if flt.path is not None else "contains"
    return next(
        (i for i in insides_of(spec.extra) if i.column == column.name and i.kind == kind and i.path == path),
        f"no inside filter of {flt.attribute} is planned on {spec.name}",
    )


# Joins a JSON column and a sub-field path in a parameter's column name (`payload#device.model`).
SUB_FIELD_SEP = "#"


def inside_key(inside: Inside) -> str:
    """The oracle's column for an inside filter's parameter: the column, or `column#a.b`."""
    return f"{inside.column}{SUB_FIELD_SEP}{'.'.join(inside.path)}" if inside.path else inside.column


def column_attribute(table: TableSpec, column: str) -> Attribute:
    """The attribute a parameter's column compares: a table column's, or a declared sub-field's."""
    if SUB_FIELD_SEP not in column:
        return table.column(column).attribute
    name, dotted = column.split(SUB_FIELD_SEP, 1)
    found = sub_field(table.column(name).attribute, dotted.split("."))
    if found is None:
        raise ValueError(f"{column}: not a declared sub-field of {table.name}")
    return found


def sub_field_attribute(inside: Inside) -> Attribute:
    """A stand-in attribute of the compared type (strings unbounded: the JSON holds them)."""
    kind = TypeName(inside.type)
    if kind is TypeName.STRING:
        return Attribute(type=TypeName.TEXT)
    if kind is TypeName.DECIMAL:
        return Attribute(type=kind, precision=38, scale=10)
    return Attribute(type=kind)


def sub_field_table(spec: TableSpec, entity: str, label: str, inside: Inside) -> TableSpec:
    """`spec` with one stand-in column `label` for a sub-field, so the scalar filter code writes
    its parameters and conditions (then moved onto the sub-field's expression)."""
    column = ColumnSpec(label, sub_field_attribute(inside), True, f"{entity}.{label}", None)
    return replace(spec, columns=(*spec.columns, column))


# Share of records an item or sub-field value selects when the model declares no `distinct`.
INSIDE_SHARE = 0.01


def _share(target: Attribute | None) -> float:
    if target is None:
        return INSIDE_SHARE
    if target.type is TypeName.ENUM and target.values:
        return 1 / len(target.values)
    if target.type is TypeName.BOOLEAN:
        return 0.5
    declared = effective_distinct(target)
    return 1 / declared if declared else INSIDE_SHARE


def inside_route(model: RequirementsModel, pattern: AccessPattern, table: TableSpec) -> tuple[str, float, str] | None:
    """(index name, share of rows it selects, shape) of the index that serves a read filtering
    inside a value on `table`, or None. On PostgreSQL every such filter has its index; on
    MariaDB and SQLite a contains filter has none (PP421 said so) and the route is PostgreSQL's."""
    insides = {(i.column, i.kind, i.path): i for i in insides_of(table.extra)}
    best: tuple[str, float, str] | None = None
    for flt in pattern_inside_filters(model, pattern):
        column = next((c.name for c in table.columns if c.source == f"{pattern.entity}.{flt.attribute}"), None)
        inside = insides.get((column or "", flt.kind, flt.path))
        if inside is None:
            continue
        share = _share(flt.target)
        found = (inside_index_name(table.name, inside), share, describe(flt))
        if best is None or share < best[1]:
            best = found
    return best


def inside_section(tables: Sequence[TableSpec]) -> list[str]:
    """index-plan.md's account of the indexes that look inside values, per dialect (none: []),
    and of those not created because every read filtering there walks a B-tree instead."""
    rows: list[str] = []
    dropped: list[str] = []
    for table in tables:
        for inside in insides_of(table.extra):
            name = inside_index_name(table.name, inside)
            if not inside.indexed:
                dropped.append(f"- `{name}` (`{table.name}.{inside.column}`): {inside.note}")
            if inside.kind == "contains":
                rows.append(
                    f"| `{name}` | `{table.name}.{inside.column}` holds an item ({inside.type}) | "
                    + ("not created (below)" if not inside.indexed else "GIN (`jsonb_path_ops`) serving `@>`")
                    + " | none: `JSON_CONTAINS` reads every row (no multi-valued "
                    "index in MariaDB) | none: `json_each` reads every row |"
                )
            elif not inside.indexed:
                dotted = ".".join(inside.path)
                rows.append(
                    f"| `{name}` | `{table.name}.{inside.column}` → `{dotted}` ({inside.type}) | not created (below) "
                    f"| VIRTUAL column `{virtual_column(inside)}` (`JSON_VALUE`), no index | not created (below) |"
                )
            else:
                dotted = ".".join(inside.path)
                rows.append(
                    f"| `{name}` | `{table.name}.{inside.column}` → `{dotted}` ({inside.type}) | B-tree on "
                    f"`{inside.column} #>> '{{{','.join(inside.path)}}}'` | VIRTUAL column `{virtual_column(inside)}` "
                    f"(`JSON_VALUE`) and its index | B-tree on `json_extract({inside.column}, '{_json_path(inside.path)}')` |"
                )
    if not rows:
        return []
    notes = (
        [
            "",
            "Not created: no read or write is routed to these indexes. Each read filtering there is sorted and "
            "LIMITed, and walking a B-tree on its sort in order, checking the filter on each row, reads fewer "
            "pages than the inside-value index's matches; the index would still cost every write of the column.",
            "",
            *dropped,
        ]
        if dropped
        else []
    )
    return [
        "## Indexes inside values",
        "",
        "Lists and sets a read filters by an item (`contains`) are one JSON column of their entity's table "
        "(a set no read filters by stays a child table keyed by (owner, value)); JSON sub-fields a read "
        "filters on (`path`) get an index on the expression the query compares, written the same in both.",
        "",
        "| index | looks at | PostgreSQL | MariaDB | SQLite |",
        "|---|---|---|---|---|",
        *rows,
        *notes,
        "",
    ]
