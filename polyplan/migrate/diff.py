"""diff(old plan, new plan) → operations, from the relational designs of both versions.

Both versions are designed exactly as `polyplan plan` designs them (TableSpecs, then SQLAlchemy
metadata per engine), and matched by what the model says each table and column stores: a table
by its entity (or relationship, or list attribute), a column by its source path. `renamed_from`
maps old names onto new ones, so a rename is a rename, never a drop and an add; `dropped` is the
only way something of the old version may disappear. Every refusal is a diagnostic at the line
of the model that causes it (PP7xx), and nothing is rendered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from sqlalchemy.schema import AddConstraint as SAAddConstraint

from polyplan.diagnostics import Diagnostic, DiagnosticError, Location, Severity
from polyplan.migrate.comment_ops import ChangeComment
from polyplan.migrate.context import Context, Design, index_columns, index_signature, renamed_index
from polyplan.migrate.derived_ops import derived_operations
from polyplan.migrate.ops import (
    AddColumn,
    AddConstraint,
    AddIndex,
    AddTable,
    AlterColumnType,
    ColumnChange,
    Conversion,
    DropColumn,
    DropConstraint,
    DropIndex,
    DropTable,
    Operation,
    RenameColumn,
    RenameTable,
    ReplaceConstraint,
    ReplaceIndex,
    archive_table,
)
from polyplan.migrate.sql import compile_ddl
from polyplan.migrate.storage_ops import ChangeFillfactor, ChangePersistence
from polyplan.migrate.store_diff import store_operations
from polyplan.migrate.store_ops import StoreOperation
from polyplan.model.loader import LoadedModel, PathKey
from polyplan.model.schema import Attribute, TypeName
from polyplan.plan.ir import Plan
from polyplan.stores.relational.derived_sql import kept_aggregates
from polyplan.stores.relational.design import ATTRIBUTE, RELATIONSHIP, designed_tables
from polyplan.stores.relational.heap_fill import table_fillfactor, unlogged
from polyplan.stores.relational.index_render import dialect_of
from polyplan.stores.relational.render import ENGINES, build_metadata
from polyplan.stores.relational.retention import Retention, retention_of
from polyplan.stores.relational.spec import ColumnSpec, TableKind, TableSpec

T = TypeName
# Changes that keep every value (old type, new type); the reverse of each narrows.
WIDENING = {
    (T.INTEGER, T.DECIMAL),
    (T.INTEGER, T.FLOAT),
    (T.INTEGER, T.STRING),
    (T.INTEGER, T.TEXT),
    (T.DECIMAL, T.STRING),
    (T.DECIMAL, T.TEXT),
    (T.STRING, T.TEXT),
    (T.ENUM, T.STRING),
    (T.ENUM, T.TEXT),
    (T.UUID, T.STRING),
    (T.UUID, T.TEXT),
    (T.DATE, T.TIMESTAMP),
    (T.DATE, T.TIMESTAMPTZ),
    (T.TIMESTAMP, T.TIMESTAMPTZ),
}
NARROWING = {(new, old) for old, new in WIDENING} | {(T.DECIMAL, T.FLOAT), (T.FLOAT, T.DECIMAL)}


def _compare(old: float, new: float) -> Conversion:
    if new == old:
        return Conversion.SAME
    return Conversion.WIDEN if new > old else Conversion.NARROW


def conversion(old: Attribute, new: Attribute) -> Conversion | None:
    """How values of `old` become values of `new`, or None when there is no safe conversion."""
    if old.type is not new.type:
        if (old.type, new.type) in WIDENING:
            return Conversion.WIDEN
        return Conversion.NARROW if (old.type, new.type) in NARROWING else None
    kind = old.type
    if kind is T.STRING:
        return _compare(old.max_length or math.inf, new.max_length or math.inf)
    if kind is T.INTEGER:
        return _compare(old.bits, new.bits)
    if kind is T.DECIMAL:
        old_p, new_p = old.precision or 38, new.precision or 38
        old_s, new_s = old.scale or 0, new.scale or 0
        if (old_p, old_s) == (new_p, new_s):
            return Conversion.SAME
        return Conversion.WIDEN if new_s >= old_s and new_p - new_s >= old_p - old_s else Conversion.NARROW
    if kind is T.ENUM:
        old_values, new_values = set(old.values or ()), set(new.values or ())
        if old_values == new_values:
            return Conversion.SAME
        return Conversion.WIDEN if old_values <= new_values else Conversion.NARROW
    if kind in (T.OBJECT, T.LIST) and (old.storage != new.storage):
        return None  # the layout changes (columns, JSON, child table): not a conversion of values
    return Conversion.SAME


@dataclass
class _Problems:
    found: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)

    def warn(self, code: str, message: str, loaded: LoadedModel, path: PathKey) -> None:
        location = loaded.locate_value(path)
        self.warnings.append(Diagnostic(code, message, ".".join(map(str, path)), Severity.WARNING, location))

    def add(self, code: str, message: str, loaded: LoadedModel, path: PathKey, at_key: bool = False) -> None:
        location: Location | None = loaded.locate(path) if at_key else loaded.locate_value(path)
        self.found.append(Diagnostic(code, message, ".".join(map(str, path)), location=location))


@dataclass(frozen=True)
class Names:
    """How old names become new ones: entities, and attributes per (new) entity."""

    entities: dict[str, str]  # old entity → new entity
    attributes: dict[str, dict[str, str]]  # new entity → old attribute → new attribute

    def source(self, source: str) -> str:
        """An old column's source path written with the new names."""
        parts = source.split(".")
        entity = self.entities.get(parts[0], parts[0])
        if len(parts) > 1:
            parts[1] = self.attributes.get(entity, {}).get(parts[1], parts[1])
        return ".".join([entity, *parts[1:]])


def _model_names(old: LoadedModel, new: LoadedModel, problems: _Problems) -> Names:
    """Check renames, drops and retypes of the model itself; return the name mapping."""
    old_model, new_model = old.model, new.model
    if old_model.version > new_model.version:
        problems.add(
            "PP704",
            f"the old model is version {old_model.version} but the new one is version {new_model.version}: "
            "give OLD first, then NEW",
            new,
            ("version",),
        )
    entities: dict[str, str] = {}
    for name, entity in new_model.entities.items():
        source = entity.renamed_from
        if source is not None:
            if source not in old_model.entities:
                problems.add(
                    "PP702",
                    f"'{name}' is renamed from '{source}', but the old version has no entity '{source}'",
                    new,
                    ("entities", name, "renamed_from"),
                )
                continue
            entities[source] = name
        elif name in old_model.entities:
            entities[name] = name
    dropped = set(new_model.dropped.entities)
    for index, name in enumerate(new_model.dropped.entities):
        if name not in old_model.entities:
            problems.add(
                "PP702",
                f"'{name}' is declared dropped, but the old version has no entity '{name}'",
                new,
                ("dropped", "entities", index),
            )
    for name in old_model.entities:
        if name not in entities and name not in dropped:
            problems.add(
                "PP701",
                f"entity '{name}' is not in the new version: declare it in `dropped: {{entities: [{name}]}}` of the "
                f"new version, or give its new name `renamed_from: {name}`",
                old,
                ("entities", name),
                at_key=True,
            )
    dropped_attributes = {(e, a) for e, _, a in (d.partition(".") for d in new_model.dropped.attributes)}
    attributes: dict[str, dict[str, str]] = {}
    for old_name, new_name in entities.items():
        old_entity, new_entity = old_model.entities[old_name], new_model.entities[new_name]
        mapping: dict[str, str] = {}
        for attr_name, attribute in new_entity.attributes.items():
            source = attribute.renamed_from or attr_name
            path: PathKey = ("entities", new_name, "attributes", attr_name)
            if source not in old_entity.attributes:
                if attribute.renamed_from is not None:
                    problems.add(
                        "PP702",
                        f"'{attr_name}' is renamed from '{source}', but {old_name} has no attribute '{source}' "
                        "in the old version",
                        new,
                        (*path, "renamed_from"),
                    )
                continue
            mapping[source] = attr_name
            how = conversion(old_entity.attributes[source], attribute)
            if how is None:
                was = old_entity.attributes[source].type.value
                problems.add(
                    "PP703",
                    f"{new_name}.{attr_name} changes from {was} to {attribute.type.value}, which has no safe "
                    "conversion: add a new attribute and drop the old one",
                    new,
                    (*path, "type"),
                )
        for attr_name in old_entity.attributes:
            if attr_name in mapping:
                continue
            if (new_name, attr_name) in dropped_attributes or (old_name, attr_name) in dropped_attributes:
                continue
            problems.add(
                "PP701",
                f"attribute '{old_name}.{attr_name}' is not in the new version: declare it in "
                f"`dropped: {{attributes: [{new_name}.{attr_name}]}}`, or give its new name `renamed_from: {attr_name}`",
                old,
                ("entities", old_name, "attributes", attr_name),
                at_key=True,
            )
        attributes[new_name] = mapping
    reverse = {new: old for old, new in entities.items()}
    for index, dotted in enumerate(new_model.dropped.attributes):
        entity_name, _, attr_name = dotted.partition(".")
        old_entity_name = reverse.get(entity_name, entity_name if entity_name in old_model.entities else None)
        if old_entity_name is None or attr_name not in old_model.entities[old_entity_name].attributes:
            problems.add(
                "PP702",
                f"'{dotted}' is declared dropped, but the old version has no such attribute",
                new,
                ("dropped", "attributes", index),
            )
    return Names(entities, attributes)


def _table_key(table: TableSpec) -> tuple[str, str, str]:
    if table.kind is TableKind.ASSOCIATION:
        return (table.kind.value, str(table.extra.get(RELATIONSHIP, table.entity)), "")
    return (table.kind.value, table.entity, str(table.extra.get(ATTRIBUTE, "")))


def _old_table_key(table: TableSpec, names: Names) -> tuple[str, str, str]:
    kind, entity, attribute = _table_key(table)
    if table.kind is TableKind.ASSOCIATION:
        return kind, entity, attribute
    new_entity = names.entities.get(entity, entity)
    return kind, new_entity, names.attributes.get(new_entity, {}).get(attribute, attribute) if attribute else ""


@dataclass(frozen=True)
class Versions:
    """Both designs of every engine, and the operations between them."""

    old: Plan
    new: Plan
    designs: dict[str, tuple[Design, Design]]
    operations: tuple[Operation, ...]
    warnings: tuple[Diagnostic, ...] = ()
    # The non-relational stores' operations (MongoDB, search, Cassandra, Redis, moved entities),
    # run by generated scripts rather than Alembic revisions.
    store_operations: tuple[StoreOperation, ...] = ()

    def context(self, engine: str) -> Context:
        """The rendering context of `engine` (old → new); operations name tables by their new names."""
        before, after = self.designs[engine]
        renamed = {op.table: op.old for op in self.operations if isinstance(op, RenameTable)}
        return Context(engine, replace(before, aliases=renamed), after)


def designs_of(plan: Plan | None) -> dict[str, Design]:
    """The relational design of `plan` for every engine (empty for no plan)."""
    tables = designed_tables(plan) if plan is not None else []
    kept = tuple(kept_aggregates(plan.model, tables)) if plan is not None else ()
    return {
        engine: Design({t.name: t for t in tables}, build_metadata(tables, engine), kept=kept) for engine in ENGINES
    }


def _constraint_def(design: Design, table: str, name: str, engine: str) -> str | None:
    found = design.constraint(table, name)
    if found is None:
        return None
    text = compile_ddl(SAAddConstraint(found[1], isolate_from_table=False), engine)
    return text.split(" ADD ", 1)[1]  # the definition, without the table's (possibly old) name


def _aging(rule: Retention | None) -> tuple[object, ...] | None:
    """What of a retention design a migration would have to change (names aside)."""
    if rule is None:
        return None
    return (rule.column, rule.retention_days, rule.archive_after_days, rule.unit, rule.partitioned)


class _Differ:
    def __init__(self, old: Plan, new: Plan, names: Names, problems: _Problems) -> None:
        self.old, self.new, self.names, self.problems = old, new, names, problems
        self.before, self.after = designs_of(old), designs_of(new)
        self.ops: list[Operation] = []

    def run(self) -> list[Operation]:
        old_tables = self.before["postgresql"].tables
        new_tables = self.after["postgresql"].tables
        old_by_key = {_old_table_key(t, self.names): t for t in old_tables.values()}
        new_by_key = {_table_key(t): t for t in new_tables.values()}
        order = [t.name for t in self.after["postgresql"].rendered.metadata.sorted_tables]
        for name in order:
            table = new_tables[name]
            key = _table_key(table)
            if key in old_by_key:
                self._table(old_by_key[key], table)
            else:
                self.ops.append(AddTable(name))
        old_order = [t.name for t in self.before["postgresql"].rendered.metadata.sorted_tables]
        for name in reversed(old_order):
            table = old_tables[name]
            if _old_table_key(table, self.names) not in new_by_key:
                self._vanished_table(table)
        return self.ops

    def _vanished_table(self, table: TableSpec) -> None:
        kind, entity, attribute = _old_table_key(table, self.names)
        new_model = self.new.model
        still_there = (
            entity in new_model.entities
            and kind != TableKind.ASSOCIATION.value
            and (not attribute or attribute in new_model.entities[entity].attributes)
        )
        if still_there:
            path: PathKey = ("entities", entity) + (("attributes", attribute) if attribute else ())
            what = f"{entity}.{attribute}" if attribute else entity
            self.problems.add(
                "PP707",
                f"{what} no longer lives in the relational table '{table.name}' (it moved to another store or "
                "changed its storage); polyplan cannot migrate that yet: add a new attribute or entity, and drop "
                "the old one",
                self.new.loaded,
                path,
            )
            return
        self.ops.append(DropTable(table.name))

    def _table(self, old: TableSpec, new: TableSpec) -> None:
        if old.name != new.name:
            self.ops.append(RenameTable(old.name, new.name))
        old_columns = {self.names.source(c.source): c for c in old.columns}
        new_columns = {c.source: c for c in new.columns}
        renamed = {c.name: new_columns[s].name for s, c in old_columns.items() if s in new_columns}
        old_key = tuple(renamed.get(c, c) for c in old.primary_key)
        if old_key != new.primary_key:
            key_change = self._key_change(old, new, old_key, set(renamed.values()))
            if key_change is None:
                return
            self.ops.append(key_change)
        if _aging(retention_of(old)) != _aging(retention_of(new)):
            # Partitioning a live table (or changing its jobs) is a copy-and-swap, not an ALTER.
            self._refuse(new, "its retention or archive rule changes (partitions and jobs in schema.sql)")
            return
        changed: list[ColumnChange] = []
        for source, column in new_columns.items():
            previous = old_columns.get(source)
            if previous is None:
                self._added_column(new, column)
            else:
                change = self._column(old, new, previous, column)
                if change is not None:
                    changed.append(change)
        for source, column in old_columns.items():
            if source not in new_columns:
                self._dropped_column(old, new, column, source)
        self.ops.extend(changed)
        self._comments(old, new, old_columns, new_columns, changed)
        if table_fillfactor(old, "postgresql") != table_fillfactor(new, "postgresql"):
            self.ops.append(ChangeFillfactor(new.name))
        if unlogged(old) != unlogged(new):
            self.ops.append(ChangePersistence(new.name))
        self._constraints(old, new, changed)
        self._indexes(old, new, changed)

    def _comments(
        self,
        old: TableSpec,
        new: TableSpec,
        old_columns: dict[str, ColumnSpec],
        new_columns: dict[str, ColumnSpec],
        changed: list[ColumnChange],
    ) -> None:
        """A description edited in the model: the comment follows (a changed column brings its own)."""
        if old.comment != new.comment:
            self.ops.append(ChangeComment(new.name))
        rebuilt = {c.column for c in changed}
        for source, column in new_columns.items():
            previous = old_columns.get(source)
            if previous is not None and column.name not in rebuilt and previous.comment != column.comment:
                self.ops.append(ChangeComment(new.name, column.name))

    def _path(self, source: str) -> PathKey:
        parts = source.split(".")
        if parts[0] in self.new.model.entities and len(parts) > 1:
            if parts[1] in self.new.model.entities[parts[0]].attributes:
                return ("entities", parts[0], "attributes", parts[1])
            return ("entities", parts[0])
        return ("relationships",)

    def _key_change(
        self, old: TableSpec, new: TableSpec, old_key: tuple[str, ...], kept: set[str]
    ) -> AddConstraint | DropConstraint | None:
        """The primary key added to a keyless table (key: {kind: none} before) or dropped from one
        that becomes keyless, when its columns are in both versions (a natural key); any other key
        change is refused (None)."""
        if old_key and new.primary_key:
            self._refuse(new, "its primary key changes")
            return None
        if not set(old_key or new.primary_key) <= kept:
            self._refuse(
                new,
                "it gains or loses a key whose columns only one version has (a surrogate key); a key can be added "
                "to or dropped from a keyless table (key: {kind: none}) only on attributes both versions declare",
            )
            return None
        aging = retention_of(new) or retention_of(old)
        if aging is not None and aging.partitioned:
            self._refuse(new, "its key changes on a range-partitioned table (a copy-and-swap, not an ALTER)")
            return None
        design = self.after if new.primary_key else self.before
        table = new.name if new.primary_key else old.name
        name = next(
            c.name for e in ENGINES for c in design[e].rendered.constraints.get(table, []) if c.kind == "primary_key"
        )
        # Added in the expand phase (before the new version relies on it); dropped at the contract.
        return AddConstraint(new.name, name) if new.primary_key else DropConstraint(new.name, name)

    def _refuse(self, table: TableSpec, why: str) -> None:
        self.problems.add(
            "PP707",
            f"table '{table.name}': {why}; polyplan cannot migrate that yet",
            self.new.loaded,
            ("entities", table.entity) if table.entity in self.new.model.entities else ("relationships",),
        )

    def _added_column(self, table: TableSpec, column: ColumnSpec) -> None:
        built = self.after["postgresql"].table(table.name).c[column.name]
        if not column.nullable and built.server_default is None:
            self.problems.add(
                "PP705",
                f"'{column.source}' is new and required, but has no default: existing rows would have no value; "
                "give it a `default:` or make it `nullable: true`",
                self.new.loaded,
                self._path(column.source),
            )
            return
        self.ops.append(AddColumn(table.name, column.name))

    def _dropped_column(self, old: TableSpec, new: TableSpec, column: ColumnSpec, source: str) -> None:
        parts = source.split(".")
        model = self.new.model
        if len(parts) > 1 and parts[0] in model.entities and parts[1] in model.entities[parts[0]].attributes:
            self.problems.add(
                "PP707",
                f"column '{old.name}.{column.name}' has no place in the new design although '{parts[0]}.{parts[1]}' "
                "is still there (its storage changed); polyplan cannot migrate that yet",
                self.new.loaded,
                self._path(source),
            )
            return
        self.ops.append(DropColumn(new.name, column.name, keep=True, archive=archive_table(new.name, column.name)))

    def _column(self, old: TableSpec, new: TableSpec, before: ColumnSpec, after: ColumnSpec) -> ColumnChange | None:
        types = {
            engine: (
                str(self.before[engine].table(old.name).c[before.name].type.compile(dialect=dialect_of(engine))),
                str(self.after[engine].table(new.name).c[after.name].type.compile(dialect=dialect_of(engine))),
            )
            for engine in ENGINES
        }
        retyped = any(a != b for a, b in types.values())
        old_default = self.before["postgresql"].table(old.name).c[before.name].server_default
        new_default = self.after["postgresql"].table(new.name).c[after.name].server_default
        if before.nullable != after.nullable or (old_default is None) != (new_default is None):
            self.problems.add(
                "PP707",
                f"'{after.source}' changes whether it is required or has a default; polyplan cannot migrate that "
                "yet: add a new attribute and drop the old one",
                self.new.loaded,
                self._path(after.source),
            )
            return None
        if before.name == after.name and not retyped:
            return None
        if before.name in old.primary_key:
            # Foreign keys of other tables point at it: a new column would leave them behind.
            self.problems.add(
                "PP707",
                f"'{after.source}' is part of the primary key of '{new.name}' and is renamed or retyped; polyplan "
                "cannot migrate that yet",
                self.new.loaded,
                self._path(after.source),
            )
            return None
        how = conversion(before.attribute, after.attribute)
        if how is None:
            return None  # reported on the model already (PP703)
        old_type, new_type = types["postgresql"]
        if how is Conversion.NARROW:
            self.problems.warn(
                "PP805",
                f"'{after.source}' narrows from {old_type} to {new_type}: the migration fails on a value that does not "
                "fit; check the data first",
                self.new.loaded,
                (*self._path(after.source), "type"),
            )
        if before.name != after.name:
            return RenameColumn(new.name, before.name, after.name, old_type, new_type, how)
        if old_type != new_type and "PP712" not in self.new.model.options.suppress:
            # The swap (or the in-place ALTER TYPE) gives the name the new version reads a new
            # type, typmod included; PostgreSQL refuses to run a server-side prepared statement
            # whose result type changes, so the application has to prepare it again.
            self.problems.warn(
                "PP712",
                f"'{after.source}' keeps its name and changes from {old_type} to {new_type} at the contract: a "
                "prepared statement that returns it fails with 'cached plan must not change result type' until "
                "it is prepared again; the application must run DEALLOCATE ALL (or reconnect) on that error and "
                "retry (docs/migrations.md)",
                self.new.loaded,
                (*self._path(after.source), "type"),
            )
        return AlterColumnType(new.name, before.name, after.name, old_type, new_type, how)

    def _constraints(self, old: TableSpec, new: TableSpec, changed: list[ColumnChange]) -> None:
        managed_before = {c.old for c in changed}
        managed_after = {c.column for c in changed}
        names: set[str] = set()
        for engine in ENGINES:
            names |= {c.name for c in self.before[engine].rendered.constraints.get(old.name, [])}
            names |= {c.name for c in self.after[engine].rendered.constraints.get(new.name, [])}
        for name in sorted(names):
            rules_before = [
                r for e in ENGINES for r in self.before[e].rendered.constraints.get(old.name, []) if r.name == name
            ]
            rules_after = [
                r for e in ENGINES for r in self.after[e].rendered.constraints.get(new.name, []) if r.name == name
            ]
            if any(r.kind in ("primary_key", "not_null") for r in rules_before + rules_after):
                continue
            if any(set(r.columns) & managed_before for r in rules_before) or any(
                set(r.columns) & managed_after for r in rules_after
            ):
                continue  # replaced by the column change itself
            if not rules_after:
                self.ops.append(DropConstraint(new.name, name))
            elif not rules_before:
                self.ops.append(AddConstraint(new.name, name))
            elif any(
                _constraint_def(self.before[e], old.name, name, e) != _constraint_def(self.after[e], new.name, name, e)
                for e in ENGINES
            ):
                self.ops.append(ReplaceConstraint(new.name, name))

    def _indexes(self, old: TableSpec, new: TableSpec, changed: list[ColumnChange]) -> None:
        """Index operations of a table, each with the column changes of the columns it reads:
        the expand phase builds an index for the new version on the columns that hold its values
        by then, so that the contract only retires the old one (ops.ReplaceIndex)."""
        before = {i.name: i for i in old.indexes}
        after = {i.name: i for i in new.indexes}
        renames = {c.old: c.column for c in changed}
        # Whether PostgreSQL moves a column to a new one (a rename, a retype it cannot make in place).
        context = Context(
            "postgresql",
            replace(self.before["postgresql"], aliases={new.name: old.name}),
            self.after["postgresql"],
        )
        for name in sorted(set(before) | set(after)):
            was, now = before.get(name), after.get(name)
            moves = tuple(
                c
                for c in changed
                if (was is not None and c.old in index_columns(was))
                or (now is not None and c.column in index_columns(now))
            )
            if now is None:
                self.ops.append(DropIndex(new.name, name, moves))
            elif was is None:
                self.ops.append(AddIndex(new.name, name, moves))
            else:
                redefined = index_signature(renamed_index(was, name, new.name, renames)) != index_signature(now)
                if redefined or any(c.middle(context) != c.old for c in moves):
                    self.ops.append(ReplaceIndex(new.name, name, moves, redefined))


def diff_plans(old: Plan, new: Plan) -> Versions:
    """The operations that turn `old`'s relational design into `new`'s. Raises DiagnosticError
    (PP7xx, at the line of the model at fault) when the change cannot be migrated as declared."""
    problems = _Problems()
    names = _model_names(old.loaded, new.loaded, problems)
    if problems.found:
        raise DiagnosticError(problems.found)
    differ = _Differ(old, new, names, problems)
    operations = differ.run()
    operations += derived_operations(
        old.model,
        list(differ.before["postgresql"].tables.values()),
        new.model,
        list(differ.after["postgresql"].tables.values()),
    )
    stores = store_operations(old, new, names, problems)
    if not problems.found and (operations or stores) and old.model.version == new.model.version:
        problems.add(
            "PP704",
            f"the design changes but both versions are version {new.model.version}: raise `version` in the new model",
            new.loaded,
            ("version",),
        )
    if problems.found:
        raise DiagnosticError(problems.found)
    designs = {engine: (differ.before[engine], differ.after[engine]) for engine in ENGINES}
    return Versions(old, new, designs, tuple(operations), tuple(problems.warnings), tuple(stores))


def baseline(plan: Plan) -> Versions:
    """From an empty database to `plan`'s design: every table added."""
    after = designs_of(plan)
    before = designs_of(None)
    order = [t.name for t in after["postgresql"].rendered.metadata.sorted_tables]
    designs = {engine: (before[engine], after[engine]) for engine in ENGINES}
    kept = derived_operations(None, [], plan.model, list(after["postgresql"].tables.values()))
    return Versions(plan, plan, designs, (*(AddTable(name) for name in order), *kept))
