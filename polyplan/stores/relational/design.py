"""The relational design: plan → TableSpecs (pure; no SQLAlchemy, no I/O).

Naming: a table is `snake(entity)` (`Order` → `order`, quoted by the renderer, never renamed);
a column is the attribute name verbatim (spaces, hyphens and `$` included). A many-to-many
relationship becomes an association table named after the relationship; a list attribute becomes
a child table `<snake(entity)>_<snake(attribute)>`. Names longer than every engine accepts are
shortened with a stable hash suffix.

Nested objects (storage `auto`): flattened into `<attribute>_<field>` columns when every field
is scalar (not list, object or json), otherwise one JSON column. An explicit `storage` wins:
`columns` flattens one level (non-scalar fields become JSON columns), `json` keeps one JSON
column, `child_table` moves the object to a one-to-one child table. Lists (storage `auto` or
`child_table`) become child tables with the parent key, a 0-based `position`, and either a
`value` column (scalar items) or one column per field of the item object; `json` keeps a JSON
column, and `columns` cannot hold a list (reported, stored as JSON).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import all_attributes, key_attributes, key_of, patterns_of, references_into, snake
from polyplan.model.schema import (
    COLLECTION_TYPES,
    Attribute,
    Family,
    FilterOp,
    KeyKind,
    ObjectStorage,
    OnDelete,
    Relationship,
    RelationshipKind,
    RequirementsModel,
    Sensitivity,
    TypeName,
)
from polyplan.plan.geo import as_columns
from polyplan.plan.ir import Plan
from polyplan.plan.membership import searched_collections
from polyplan.seed.generate import link_columns
from polyplan.stores.relational.membership import (
    MEMBERSHIP,
    membership_diagnostics,
    membership_extra,
    membership_note,
)
from polyplan.stores.relational.reference_locks import locking_reference_warning
from polyplan.stores.relational.spec import (
    CheckSpec,
    ColumnSpec,
    ForeignKeySpec,
    IndexColumn,
    IndexKind,
    IndexSpec,
    TableKind,
    TableSpec,
)

if TYPE_CHECKING:
    from polyplan.stores.relational.indexes import Probes

MAX_IDENTIFIER = 63  # PostgreSQL's limit (MySQL allows 64, SQLite has none)
MAX_COMMENT = 1000  # MySQL column comments stop at 1024 characters
NON_SCALAR = frozenset({TypeName.LIST, TypeName.SET, TypeName.OBJECT, TypeName.JSON})
CONSTRAINED_FIELDS = ("min", "max", "pattern", "values", "unique")

# Keys of TableSpec.extra
GEO_POINTS = "geo_points"  # geo point attribute → [lat column, lon column, nullable, within-filtered] (geo.py)
POSTGIS = "postgis"  # whether PostgreSQL has PostGIS (options.postgis), with GEO_POINTS
HOLDS = "holds"  # for child tables: "list" or "object"
ATTRIBUTE = "attribute"  # for child tables: the list/object attribute they store
RELATIONSHIP = "relationship"  # for association tables
RETENTION = "retention"  # for aged entity tables: retention.Retention.as_data()
CAP = "cap"  # for capped or loss-tolerable entity tables: caps.design_caps
# For entity tables whose key is `kind: natural`: the values come from the domain, so an integer
# key gets no sequence (SERIAL, AUTO_INCREMENT) — the renderer reads this.
NATURAL_KEY = "natural_key"
# For child tables: whether the owner's key arrives in order (a generated integer or UUIDv7
# surrogate), so the child rows, written with their owner, arrive in key order too (sizing).
ORDERED_PARENT = "ordered_parent"


def generated_key(spec: TableSpec) -> str | None:
    """The column the database numbers itself: the lone integer key of an entity table whose key
    is a surrogate (not `kind: natural`), or None."""
    if spec.kind is not TableKind.ENTITY or spec.extra.get(NATURAL_KEY) is True or len(spec.primary_key) != 1:
        return None
    name = spec.primary_key[0]
    return name if spec.column(name).attribute.type is TypeName.INTEGER else None


def time_ordered_key(spec: TableSpec) -> str | None:
    """The lone key column whose new values arrive in increasing order: a generated integer key,
    or a surrogate uuid key (UUIDv7 begins with its creation time: docs/relational.md); or None."""
    generated = generated_key(spec)
    if spec.kind is TableKind.LIST_CHILD and spec.extra.get(ORDERED_PARENT) is True:
        return spec.primary_key[0]
    if generated is not None or spec.kind is not TableKind.ENTITY or spec.extra.get(NATURAL_KEY) is True:
        return generated
    if len(spec.primary_key) != 1:
        return None
    name = spec.primary_key[0]
    return name if spec.column(name).attribute.type is TypeName.UUID else None


def _time_ordered(model: RequirementsModel, entity: str) -> bool:
    """Whether `entity`'s key is one surrogate integer or uuid attribute (numbered in order)."""
    key = key_of(model.entities[entity])
    if key.kind is KeyKind.NATURAL or len(key.attributes) != 1:
        return False
    kind = key_attributes(model.entities[entity])[key.attributes[0]].type
    return kind in (TypeName.INTEGER, TypeName.UUID)


def fit(name: str, limit: int = MAX_IDENTIFIER) -> str:
    """`name`, or a prefix plus a stable hash when it is longer than `limit`."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('_ ')}_{digest}"


def constraint_name(prefix: str, table: str, *parts: str) -> str:
    """A stable constraint name such as `fk_order_line_order_id` (ASCII, fitted)."""
    words = [snake(part) or re.sub(r"\W", "_", part) for part in (table, *parts)]
    return fit("_".join([prefix, *words]))


class UniqueNames:
    """Hands out names unique under case folding (MySQL and SQLite fold column names)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, wanted: str) -> str:
        name, counter = fit(wanted), 2
        while name.casefold() in self._taken:
            name = fit(f"{wanted}_{counter}")
            counter += 1
        self._taken.add(name.casefold())
        return name


def _comment(*parts: str | None) -> str | None:
    text = " ".join(" ".join(p.split()) for p in parts if p)
    if not text:
        return None
    return text if len(text) <= MAX_COMMENT else text[: MAX_COMMENT - 1] + "…"


def _pii(attribute: Attribute) -> str | None:
    return None if attribute.pii is Sensitivity.NONE else f"PII: {attribute.pii.value}."


def _sentence(text: str | None) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def _scalar_fields(attribute: Attribute) -> bool:
    return all(field.type not in NON_SCALAR for field in (attribute.fields or {}).values())


class _Designer:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.model: RequirementsModel = plan.model
        self.relational = set(plan.records_in(Family.RELATIONAL))
        self.tables: list[TableSpec] = []
        self.diagnostics: list[Diagnostic] = []
        self.table_names = UniqueNames()
        self.entity_tables = {
            name: self.table_names.take(snake(name)) for name in self.plan.records_in(Family.RELATIONAL)
        }
        # Each relationship's position in the model, by identity: `list.index` compares pydantic
        # models field by field from the start, which made every table's paths quadratic.
        self.positions = {id(r): i for i, r in enumerate(self.model.relationships)}

    def relationship_path(self, relationship: Relationship) -> str:
        """`relationships.N` of one of the model's relationships."""
        found = self.positions.get(id(relationship))
        return f"relationships.{self.model.relationships.index(relationship) if found is None else found}"

    def warn(self, message: str, path: str, code: str = "PP402") -> None:
        self.diagnostics.append(Diagnostic(code, message, path, Severity.WARNING))

    # --- entities -------------------------------------------------------------------------

    def entity(self, name: str) -> None:
        model = self.model
        entity = model.entities[name]
        table = self.entity_tables[name]
        key = key_of(entity).attributes
        attributes = all_attributes(model, name)
        names = UniqueNames()
        columns: list[ColumnSpec] = []
        uniques: list[tuple[str, ...]] = []
        children: list[tuple[str, Attribute]] = []
        column_of: dict[str, str] = {}
        geo_points: dict[str, list[Any]] = {}
        searched = searched_collections(model, name)
        for attr_name, attribute in attributes.items():
            path = f"{name}.{attr_name}"
            nullable = attribute.nullable and attr_name not in key
            if attribute.type is TypeName.GEO_POINT:
                # Two columns, lat and lon (geo.py adds each engine's spatial column beside them).
                geo_points[attr_name] = [nullable]
                attribute = as_columns(attribute)
            if attribute.type in COLLECTION_TYPES:
                in_json = attribute.storage is ObjectStorage.AUTO and attr_name in searched
                if attribute.storage in (ObjectStorage.AUTO, ObjectStorage.CHILD_TABLE) and not in_json:
                    children.append((attr_name, attribute))
                    continue
                note = f"{attribute.type.value.capitalize()} stored as JSON (storage: json)."
                if in_json:
                    note = membership_note(attribute)
                column_of[attr_name] = names.take(attr_name)
                if attribute.storage is ObjectStorage.COLUMNS:
                    self.warn(
                        f"{path}: a list cannot be stored as columns; stored as one JSON column",
                        f"entities.{name}.attributes.{attr_name}.storage",
                    )
                    note = "List stored as JSON (a list cannot be columns)."
                self._json_constraints(attribute, path, f"entities.{name}.attributes.{attr_name}")
                columns.append(
                    ColumnSpec(
                        column_of[attr_name],
                        attribute,
                        nullable,
                        path,
                        _comment(_sentence(attribute.description), note, _pii(attribute)),
                    )
                )
            elif attribute.type is TypeName.OBJECT:
                storage = attribute.storage
                if storage is ObjectStorage.CHILD_TABLE:
                    children.append((attr_name, attribute))
                    continue
                if storage is ObjectStorage.COLUMNS or (storage is ObjectStorage.AUTO and _scalar_fields(attribute)):
                    rule = (
                        "a geo point's coordinates"
                        if attr_name in geo_points
                        else "explicit storage: columns"
                        if storage is ObjectStorage.COLUMNS
                        else "storage auto: every field is scalar"
                    )
                    for field_name, field in (attribute.fields or {}).items():
                        column = names.take(f"{attr_name}_{field_name}")
                        column_of[f"{attr_name}.{field_name}"] = column
                        note = f"Field {field_name} of object {attr_name}, flattened into columns ({rule})."
                        if field.type in NON_SCALAR:
                            note += " Stored as JSON."
                        if field.unique and field.type not in NON_SCALAR:
                            uniques.append((column,))
                        columns.append(
                            ColumnSpec(
                                column,
                                field,
                                nullable or field.nullable,
                                f"{path}.{field_name}",
                                _comment(_sentence(field.description), note, _pii(field)),
                            )
                        )
                    continue
                why = (
                    "explicit storage: json"
                    if storage is ObjectStorage.JSON
                    else "storage auto: a field is a list, object or json"
                )
                self._json_constraints(attribute, path, f"entities.{name}.attributes.{attr_name}")
                columns.append(
                    ColumnSpec(
                        names.take(attr_name),
                        attribute,
                        nullable,
                        path,
                        _comment(_sentence(attribute.description), f"Object stored as JSON ({why}).", _pii(attribute)),
                    )
                )
            else:
                column = names.take(attr_name)
                column_of[attr_name] = column
                if attribute.unique and (attr_name,) != tuple(key):
                    uniques.append((column,))
                columns.append(
                    ColumnSpec(
                        column, attribute, nullable, path, _comment(_sentence(attribute.description), _pii(attribute))
                    )
                )
        for attr_name, (geo_nullable,) in list(geo_points.items()):
            boxed = any(
                f.attribute == attr_name and f.op is FilterOp.WITHIN
                for p in patterns_of(model, name)
                for f in p.filters
            )
            geo_points[attr_name] = [column_of[f"{attr_name}.lat"], column_of[f"{attr_name}.lon"], geo_nullable, boxed]
        primary_key = tuple(column_of.get(k, k) for k in key)
        foreign_keys = self._foreign_keys(name, table, column_of, uniques, primary_key)
        for group in entity.unique:
            uniques.append(tuple(column_of.get(a, a) for a in group))
        checks = tuple(
            CheckSpec(
                check.name,
                column_of.get(check.left, check.left),
                check.op.value,
                column_of.get(check.right, check.right),
            )
            for check in entity.checks
        )
        self.tables.append(
            TableSpec(
                name=table,
                entity=name,
                kind=TableKind.ENTITY,
                columns=tuple(columns),
                primary_key=primary_key,
                foreign_keys=tuple(foreign_keys),
                uniques=_dedupe(uniques, primary_key),
                checks=checks,
                comment=_comment(_sentence(entity.description)),
                extra=({NATURAL_KEY: True} if key_of(entity).kind is KeyKind.NATURAL else {})
                | ({GEO_POINTS: geo_points, POSTGIS: model.options.postgis} if geo_points else {})
                | membership_extra(model, name, column_of),
            )
        )
        self.diagnostics.extend(membership_diagnostics(model, name, column_of))
        for attr_name, attribute in children:
            self.child(name, table, attr_name, attribute)

    def _foreign_keys(
        self,
        name: str,
        table: str,
        column_of: dict[str, str],
        uniques: list[tuple[str, ...]],
        primary_key: tuple[str, ...],
    ) -> list[ForeignKeySpec]:
        found: list[ForeignKeySpec] = []
        seen: set[tuple[str, ...]] = set()
        for reference in references_into(self.model, name):
            relationship = reference.relationship
            columns = tuple(column_of.get(c, c) for c in reference.columns)
            if relationship.kind is RelationshipKind.ONE_TO_ONE and columns != primary_key:
                uniques.append(columns)  # one parent, at most one child (also when the column is declared)
            if columns in seen:
                continue
            seen.add(columns)
            parent = relationship.from_
            path = self.relationship_path(relationship)
            if parent not in self.relational:
                family = self.plan.entities[parent].family.value if parent in self.plan.entities else "another store"
                self.warn(
                    f"{name}.{', '.join(columns)} refers to {parent}, which lives in the {family} store: "
                    "the column is kept but no foreign key can enforce it",
                    path,
                    code="PP407",
                )
                continue
            found.append(
                ForeignKeySpec(
                    columns=columns,
                    ref_table=self.entity_tables[parent],
                    ref_columns=tuple(reference.columns.values()),
                    on_delete=relationship.effective_on_delete,
                    name=constraint_name("fk", table, *columns),
                    enforced=relationship.enforced,
                )
            )
            if (costly := locking_reference_warning(self.model, relationship)) is not None:
                self.warn(costly, path, code="PP483")
        return found

    def _json_constraints(self, attribute: Attribute, path: str, model_path: str) -> None:
        nested = list((attribute.fields or {}).values())
        if attribute.items is not None:
            nested.append(attribute.items)
            nested.extend((attribute.items.fields or {}).values())
        if any(getattr(field, rule) not in (None, False) for field in nested for rule in CONSTRAINED_FIELDS):
            self.warn(
                f"{path} is stored as JSON: the rules on its fields (min, max, pattern, enum, unique) are not enforced by the database",
                model_path,
            )

    # --- child tables ---------------------------------------------------------------------

    def _parent_columns(
        self, entity_name: str, table: str, names: UniqueNames
    ) -> tuple[list[ColumnSpec], dict[str, str]]:
        entity = self.model.entities[entity_name]
        columns: list[ColumnSpec] = []
        mapping: dict[str, str] = {}
        for key_attr, attribute in key_attributes(entity).items():
            column = names.take(f"{snake(entity_name)}_{key_attr}")
            mapping[column] = key_attr
            owner = attribute.model_copy(
                update={"nullable": False, "unique": False, "default": None, "description": None}
            )
            columns.append(
                ColumnSpec(
                    column,
                    owner,
                    False,
                    f"{entity_name}.{key_attr}",
                    _comment(f"The owning {entity_name} ({table}.{key_attr})."),
                )
            )
        return columns, mapping

    def child(self, entity_name: str, parent_table: str, attr_name: str, attribute: Attribute) -> None:
        holds = "list" if attribute.type in COLLECTION_TYPES else "object"
        table = self.table_names.take(f"{snake(entity_name)}_{snake(attr_name)}")
        names = UniqueNames()
        path = f"{entity_name}.{attr_name}"
        columns, mapping = self._parent_columns(entity_name, parent_table, names)
        parent_columns = tuple(mapping)
        primary_key: tuple[str, ...] = parent_columns
        uniques: list[tuple[str, ...]] = []
        if holds == "list":
            position = names.take("position")
            columns.append(
                ColumnSpec(
                    position,
                    Attribute(type=TypeName.INTEGER, min=0),
                    False,
                    f"{path}.#position",
                    "0-based position of the item in the list.",
                )
            )
            primary_key = (*parent_columns, position)
            item = attribute.items or Attribute(type=TypeName.TEXT)
            if attribute.type is TypeName.SET:
                # A set's items are unique within their record: UNIQUE (owner, value) says so to
                # the database, on every dialect (a CHECK cannot compare a row with its siblings).
                item = item.model_copy(update={"unique": True})
            shape = item if item.type is TypeName.OBJECT else None
            item_nullable = item.nullable
        else:
            shape = attribute
            item = attribute
            item_nullable = False
        if shape is not None:
            for field_name, field in (shape.fields or {}).items():
                column = names.take(field_name)
                note = "Stored as JSON." if field.type in NON_SCALAR else None
                if field.unique and field.type not in NON_SCALAR:
                    uniques.append((*parent_columns, column) if holds == "list" else (column,))
                columns.append(
                    ColumnSpec(
                        column,
                        field,
                        field.nullable or item_nullable,
                        f"{path}.{field_name}",
                        _comment(_sentence(field.description), note, _pii(field)),
                    )
                )
        else:
            column = names.take("value")
            if item.unique and item.type not in NON_SCALAR:
                uniques.append((*parent_columns, column))
            if attribute.type is TypeName.SET:
                # A set is keyed by its items: (owner, value) is the primary key, and the
                # position only keeps the order the items were written in.
                primary_key = (*parent_columns, column)
            columns.append(
                ColumnSpec(
                    column,
                    item.model_copy(update={"unique": False}),
                    item.nullable,
                    f"{path}.#value",
                    _comment(_sentence(item.description), "One item of the list.", _pii(item)),
                )
            )
        why = "storage: child_table" if attribute.storage is ObjectStorage.CHILD_TABLE else "storage auto"
        what = (
            f"Items of {path} (list stored as a child table, {why})."
            if holds == "list"
            else f"Object {path} stored as a one-to-one child table."
        )
        self.tables.append(
            TableSpec(
                name=table,
                entity=entity_name,
                kind=TableKind.LIST_CHILD,
                columns=tuple(columns),
                primary_key=primary_key,
                foreign_keys=(
                    ForeignKeySpec(
                        parent_columns,
                        parent_table,
                        tuple(mapping.values()),
                        OnDelete.CASCADE,
                        constraint_name("fk", table, *parent_columns),
                    ),
                ),
                uniques=_dedupe(uniques, primary_key),
                comment=_comment(what, _sentence(attribute.description)),
                extra={HOLDS: holds, ATTRIBUTE: attr_name, ORDERED_PARENT: _time_ordered(self.model, entity_name)},
            )
        )

    # --- many-to-many ---------------------------------------------------------------------

    def association(self, relationship: Relationship) -> None:
        table = self.table_names.take(snake(relationship.name))
        names = UniqueNames()
        path = self.relationship_path(relationship)
        from_columns, to_columns = link_columns(self.model, relationship)
        columns: list[ColumnSpec] = []
        foreign_keys: list[ForeignKeySpec] = []
        for side, mapping in ((relationship.from_, from_columns), (relationship.to, to_columns)):
            keys = key_attributes(self.model.entities[side])
            taken: list[str] = []
            for column, key_attr in mapping.items():
                name = names.take(column)
                taken.append(name)
                owner = keys[key_attr].model_copy(
                    update={"nullable": False, "unique": False, "default": None, "description": None}
                )
                columns.append(
                    ColumnSpec(
                        name,
                        owner,
                        False,
                        f"{relationship.name}.{column}",
                        _comment(f"The linked {side} ({key_attr})."),
                    )
                )
            if side in self.relational:
                foreign_keys.append(
                    ForeignKeySpec(
                        tuple(taken),
                        self.entity_tables[side],
                        tuple(mapping.values()),
                        OnDelete.CASCADE,
                        constraint_name("fk", table, *taken),
                    )
                )
            else:
                family = self.plan.entities[side].family.value if side in self.plan.entities else "another store"
                self.warn(
                    f"{relationship.name} links to {side}, which lives in the {family} store: no foreign key can enforce it",
                    path,
                    code="PP407",
                )
        primary_key = tuple(c.name for c in columns)
        uniques: list[tuple[str, ...]] = []
        for attr_name, attribute in relationship.attributes.items():
            name = names.take(attr_name)
            note = None
            if attribute.type in NON_SCALAR:
                note = "Stored as JSON (attributes of a link are not split further)."
                self._json_constraints(attribute, f"{relationship.name}.{attr_name}", f"{path}.attributes.{attr_name}")
            elif attribute.unique:
                uniques.append((name,))
            columns.append(
                ColumnSpec(
                    name,
                    attribute,
                    attribute.nullable,
                    f"{relationship.name}.{attr_name}",
                    _comment(_sentence(attribute.description), note, _pii(attribute)),
                )
            )
        self.tables.append(
            TableSpec(
                name=table,
                entity=relationship.name,
                kind=TableKind.ASSOCIATION,
                columns=tuple(columns),
                primary_key=primary_key,
                foreign_keys=tuple(foreign_keys),
                uniques=_dedupe(uniques, primary_key),
                comment=_comment(
                    f"Links of the many-to-many relationship {relationship.name}: {relationship.from_} ↔ {relationship.to}."
                ),
                extra={RELATIONSHIP: relationship.name},
            )
        )

    def run(self) -> tuple[list[TableSpec], list[Diagnostic]]:
        for name in self.plan.records_in(Family.RELATIONAL):
            self.entity(name)
        for relationship in self.model.relationships:
            if relationship.kind is RelationshipKind.MANY_TO_MANY and (
                relationship.from_ in self.relational or relationship.to in self.relational
            ):
                self.association(relationship)
        return self.tables, self.diagnostics


def _dedupe(groups: list[tuple[str, ...]], primary_key: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The unique rules without repeats, and without those another rule implies: unique (a, b)
    adds nothing when a alone (or the key) is unique, and no row could break it alone."""
    rules = [frozenset(group) for group in (primary_key, *groups) if group]
    seen: set[frozenset[str]] = {frozenset(primary_key)}
    result: list[tuple[str, ...]] = []
    for group in groups:
        members = frozenset(group)
        if members not in seen and not any(rule < members for rule in rules):
            seen.add(members)
            result.append(group)
    return tuple(result)


def design_tables(plan: Plan) -> tuple[list[TableSpec], list[Diagnostic]]:
    """Tables (entity, child and association) for every entity whose record is relational."""
    return _Designer(plan).run()


def design_schema(plan: Plan) -> tuple[list[TableSpec], list[Diagnostic]]:
    """`design_tables` followed by the workload's indexes (`indexes.design_indexes`), the
    retention design (`retention.design_retention`), caps (`caps.design_caps`) and the heap
    fillfactor (`heap_fill.design_heap_fill`)."""
    tables, before, probes, after = design_schema_probed(plan)
    return tables, [*before, *probes.run(), *after]


def designed_tables(plan: Plan) -> list[TableSpec]:
    """The tables of `design_schema`, for a caller that reads no diagnostics: the PP420 probes,
    which only make diagnostics, are left unmade (about a third of the design's time)."""
    return design_schema_probed(plan)[0]


def design_schema_probed(plan: Plan) -> tuple[list[TableSpec], list[Diagnostic], Probes, list[Diagnostic]]:
    """`design_schema` with the index design's PP420 probes not yet made (`indexes.Probes`):
    the tables, the diagnostics before the probes', the probes, and the diagnostics after."""
    from polyplan.stores.relational.caps import design_caps
    from polyplan.stores.relational.heap_fill import design_heap_fill
    from polyplan.stores.relational.indexes import design_indexes_probed
    from polyplan.stores.relational.retention import design_retention

    tables, diagnostics = design_tables(plan)
    tables, probes, index_diagnostics = design_indexes_probed(plan, tables)
    tables, retention_diagnostics = design_retention(plan, tables)
    tables, cap_diagnostics = design_caps(plan, tables)
    tables = design_heap_fill(plan, tables)
    return tables, diagnostics, probes, index_diagnostics + retention_diagnostics + cap_diagnostics


# --- plain-data form (for generated tests; indexes and planner notes are left out) ----------


def tables_to_data(tables: list[TableSpec]) -> list[dict[str, object]]:
    """TableSpecs as JSON-ready dicts: what a generated test needs to map and check rows."""
    return [
        {
            "name": t.name,
            "entity": t.entity,
            "kind": t.kind.value,
            "columns": [
                {
                    "name": c.name,
                    "attribute": c.attribute.model_dump(mode="json", exclude_defaults=True, by_alias=True),
                    "nullable": c.nullable,
                    "source": c.source,
                    "comment": c.comment,
                }
                for c in t.columns
            ],
            "primary_key": list(t.primary_key),
            "foreign_keys": [
                {
                    "columns": list(f.columns),
                    "ref_table": f.ref_table,
                    "ref_columns": list(f.ref_columns),
                    "on_delete": f.on_delete.value,
                    "name": f.name,
                    # Only when false, so that plans of models without it keep their bytes.
                    **({} if f.enforced else {"enforced": False}),
                }
                for f in t.foreign_keys
            ],
            "uniques": [list(u) for u in t.uniques],
            "checks": [{"name": c.name, "left": c.left, "op": c.op, "right": c.right} for c in t.checks],
            "extra": {
                k: v
                for k, v in sorted(t.extra.items())
                if k
                in (
                    HOLDS,
                    ATTRIBUTE,
                    RELATIONSHIP,
                    RETENTION,
                    CAP,
                    NATURAL_KEY,
                    MEMBERSHIP,
                    ORDERED_PARENT,
                    GEO_POINTS,
                    POSTGIS,
                )
            },
            "comment": t.comment,
            # The designed indexes: the security SQL copies them into each tenant's schema.
            "indexes": [
                {
                    "name": i.name,
                    "table": i.table,
                    "columns": [{"name": c.name, "descending": c.descending, "prefix": c.prefix} for c in i.columns],
                    "kind": i.kind.value,
                    "include": list(i.include),
                    "where": [[column, value] for column, value in i.where],
                    "serves": list(i.serves),
                    "reason": i.reason,
                    "equality": i.equality,
                }
                for i in t.indexes
            ],
        }
        for t in tables
    ]


def tables_from_data(data: list[dict[str, Any]]) -> list[TableSpec]:
    """The inverse of `tables_to_data`."""
    return [
        TableSpec(
            name=t["name"],
            entity=t["entity"],
            kind=TableKind(t["kind"]),
            columns=tuple(
                ColumnSpec(
                    c["name"], Attribute.model_validate(c["attribute"]), c["nullable"], c["source"], c.get("comment")
                )
                for c in t["columns"]
            ),
            primary_key=tuple(t["primary_key"]),
            foreign_keys=tuple(
                ForeignKeySpec(
                    tuple(f["columns"]),
                    f["ref_table"],
                    tuple(f["ref_columns"]),
                    OnDelete(f["on_delete"]),
                    f["name"],
                    f.get("enforced", True),
                )
                for f in t["foreign_keys"]
            ),
            uniques=tuple(tuple(u) for u in t["uniques"]),
            checks=tuple(CheckSpec(c["name"], c["left"], c["op"], c["right"]) for c in t["checks"]),
            extra=dict(t["extra"]),
            comment=t.get("comment"),
            indexes=tuple(
                IndexSpec(
                    i["name"],
                    i["table"],
                    tuple(IndexColumn(c["name"], c["descending"], c["prefix"]) for c in i["columns"]),
                    IndexKind(i["kind"]),
                    tuple(i["include"]),
                    tuple((column, value) for column, value in i["where"]),
                    tuple(i["serves"]),
                    i["reason"],
                    i["equality"],
                )
                for i in t.get("indexes", [])
            ),
        )
        for t in data
    ]
