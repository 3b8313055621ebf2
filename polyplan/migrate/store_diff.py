"""diff(old plan, new plan) → the operations of the non-relational stores.

Both versions are designed exactly as `polyplan plan` designs them (MongoDB collections, search
indexes, CQL tables, Redis key families), and matched by the entity they hold, with the model's
renames (`Names`) applied: a renamed attribute is a renamed field, never an unset and a backfill.
Pure: no I/O. Refusals are diagnostics at the line of the model at fault (PP708–PP711).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from polyplan.migrate.store_ops import (
    AddCqlColumn,
    AddDocumentIndex,
    BackfillField,
    BumpKeyVersion,
    CopyCqlTable,
    CreateSearchIndex,
    DropDocumentIndex,
    MoveEntity,
    Reindex,
    RenameField,
    SetValidator,
    StoreOperation,
)
from polyplan.model.schema import Attribute
from polyplan.plan.ir import Plan
from polyplan.stores.cache.design import CacheDesign, KeySpec
from polyplan.stores.cache.design import design as design_cache
from polyplan.stores.cache.keys import KeyTemplate
from polyplan.stores.document import extjson
from polyplan.stores.document.design import design as design_documents
from polyplan.stores.document.render import index_json
from polyplan.stores.document.spec import CollectionSpec, DocumentDesign
from polyplan.stores.search.design import SearchDesign, SearchIndex, design_search
from polyplan.stores.wide_column.cql import map_literal
from polyplan.stores.wide_column.design import design_wide_column
from polyplan.stores.wide_column.spec import Table, WideColumnDesign

if TYPE_CHECKING:
    from polyplan.migrate.diff import Names, _Problems


def _plain(value: Any) -> Any:
    """BSON values (Decimal128, datetimes) as relaxed Extended JSON data: what scripts and --json carry."""
    return json.loads(extjson.dumps(value))


def _constant_default(attribute: Attribute) -> Any:
    """The attribute's default as a stored value, or None when it has none or it is not a constant."""
    if attribute.default is None or attribute.default == "now":
        return None
    return attribute.default


class StoreDiffer:
    """The store operations between two plans (`run`), problems reported into `problems`."""

    def __init__(self, old: Plan, new: Plan, names: Names, problems: _Problems) -> None:
        self.old, self.new, self.names, self.problems = old, new, names, problems
        self.old_entity = {new_name: old_name for old_name, new_name in names.entities.items()}
        self.homes: list[dict[str, tuple[str, ...]]] = [{}, {}]
        self.counted: list[dict[str, tuple[str, str]]] = [{}, {}]

    def run(self) -> list[StoreOperation]:
        """Every store's operations: MongoDB, search, Cassandra, Redis, then moved entities."""
        ops: list[StoreOperation] = []
        documents = (design_documents(self.old), design_documents(self.new))
        search = (design_search(self.old), design_search(self.new))
        wide = (design_wide_column(self.old), design_wide_column(self.new))
        cache = (design_cache(self.old), design_cache(self.new))
        ops += self._documents(*documents)
        ops += self._search(*search)
        ops += self._wide_column(*wide)
        ops += self._cache(*cache)
        for side in (0, 1):
            self._homes(side, documents[side], search[side], wide[side], cache[side])
        ops += self._moves()
        return ops

    def _homes(
        self, side: int, documents: DocumentDesign, search: SearchDesign, wide: WideColumnDesign, cache: CacheDesign
    ) -> None:
        """Where each entity lives in one version (system-of-record objects, by store), for a move's runbook."""
        plan = (self.old, self.new)[side]
        homes: dict[str, list[str]] = {}
        counted: dict[str, tuple[str, str]] = {}  # the object that holds one entry per record
        for collection in documents.collections:
            homes.setdefault(collection.entity, []).append(f"MongoDB collection {collection.name}")
            counted.setdefault(collection.entity, ("mongodb", collection.name))
        for index in search.indexes:
            if index.projection is None:
                homes.setdefault(index.entity, []).append(f"search alias {index.alias}")
                counted.setdefault(index.entity, ("search", index.alias))
        for entity in wide.entities:
            for table in entity.tables:
                homes.setdefault(entity.entity, []).append(f"CQL table {wide.keyspace}.{table.name}")
            base = entity.base_table or entity.tables[0].name
            counted.setdefault(entity.entity, ("cassandra", f"{wide.keyspace}.{base}"))
        for key in cache.keys:
            if key.role.value == "record":
                homes.setdefault(key.entity, []).append(f"Redis keys {key.template.render()}")
                counted.setdefault(key.entity, ("redis", scan_pattern(key.template)))
        from polyplan.stores.relational.design import designed_tables

        for spec in designed_tables(plan):
            homes.setdefault(spec.entity, []).append(f"table {spec.name}")
            if spec.kind.value == "entity":
                counted.setdefault(spec.entity, ("sql", spec.name))
        self.homes[side] = {entity: tuple(found) for entity, found in homes.items()}
        self.counted[side] = counted

    def _renamed(self, entity: str) -> dict[str, str]:
        """Old attribute → new attribute of (new) `entity`."""
        return self.names.attributes.get(entity, {})

    # --- MongoDB ---------------------------------------------------------------------------------

    def _documents(self, before: DocumentDesign, after: DocumentDesign) -> list[StoreOperation]:
        ops: list[StoreOperation] = []
        for collection in after.collections:
            old_entity = self.old_entity.get(collection.entity)
            previous = before.collection_of(old_entity) if old_entity else None
            if previous is not None:
                ops += self._collection(previous, collection)
        return ops

    def _collection(self, old: CollectionSpec, new: CollectionSpec) -> list[StoreOperation]:
        name = new.name
        if old.name != name:
            self._refuse(new.entity, f"its collection is renamed from '{old.name}' to '{name}'")
            return []
        renamed = self._renamed(new.entity)
        entity = self.new.model.entities[new.entity]
        backfills: list[StoreOperation] = []
        renames: list[StoreOperation] = []
        kept = set(renamed.values())
        for attribute, path in new.paths.items():
            if attribute in kept:
                old_attribute = next(o for o, n in renamed.items() if n == attribute)
                old_path = old.paths.get(old_attribute)
                if old_path is not None and old_path != path:
                    renames.append(RenameField(name, old_path, path))
                continue
            spec = entity.attributes.get(attribute)
            if spec is None:
                continue  # a relationship's reference field: it comes with its relationship
            default = _constant_default(spec)
            if default is not None:
                backfills.append(BackfillField(name, path, _plain(default)))
            elif not spec.nullable:
                self.problems.add(
                    "PP708",
                    f"'{new.entity}.{attribute}' is new and required in collection '{name}', but has no constant "
                    "default to backfill existing documents with; give it a `default:` or make it `nullable: true`",
                    self.new.loaded,
                    ("entities", new.entity, "attributes", attribute),
                )
        old_indexes = {i.name: self._index(i) for i in old.indexes}
        new_indexes = {i.name: self._index(i) for i in new.indexes}
        builds: list[StoreOperation] = []
        drops: list[StoreOperation] = []
        for index in sorted(set(old_indexes) | set(new_indexes)):
            if old_indexes.get(index) == new_indexes.get(index):
                continue
            if index in old_indexes:
                drops.append(DropDocumentIndex(name, index, old_indexes[index]))
            if index in new_indexes:
                builds.append(AddDocumentIndex(name, index, new_indexes[index]))
        widen: list[StoreOperation] = []
        narrow: list[StoreOperation] = []
        before, after = _plain(old.validator), _plain(new.validator)
        if before != after:
            either = {"$or": [before, after]}
            widen.append(SetValidator(name, before, either))
            narrow.append(SetValidator(name, either, after, final=True))
        # A validator that accepts both versions' documents first (the old application keeps
        # inserting old ones), then the data in batches, the new indexes, and in contract (only the
        # new version runs) the old indexes and the validator of the new version alone.
        return [*widen, *backfills, *renames, *builds, *drops, *narrow]

    @staticmethod
    def _index(index: Any) -> dict[str, Any]:
        data = _plain(index_json(index))
        return {k: v for k, v in data.items() if k not in ("serves", "reason")}

    # --- search ----------------------------------------------------------------------------------

    def _search(self, before: SearchDesign, after: SearchDesign) -> list[StoreOperation]:
        ops: list[StoreOperation] = []
        old_by_entity = {i.entity: i for i in before.indexes}
        for index in after.indexes:
            old_entity = self.old_entity.get(index.entity)
            previous = old_by_entity.get(old_entity) if old_entity else None
            if previous is None or (previous.fields == index.fields and previous.settings == index.settings):
                continue
            if previous.alias != index.alias:
                self._refuse(index.entity, f"its search alias changes from '{previous.alias}' to '{index.alias}'")
                continue
            renamed = self._renamed(index.entity)
            if any(renamed.get(f, f) != f for f in previous.fields):
                self._refuse(index.entity, "a searchable attribute is renamed (a reindex script would have to move it)")
                continue
            dropped = tuple(sorted(set(previous.fields) - set(index.fields)))
            target = f"{index.alias}_v{self.new.model.version}"
            ops += [CreateSearchIndex(index.alias, target, self._body(index)), Reindex(index.alias, target, dropped)]
        return ops

    @staticmethod
    def _body(index: SearchIndex) -> dict[str, Any]:
        """The new index's settings and mappings (lifecycle aside: the new version's setup.py attaches it)."""
        settings = json.loads(json.dumps(index.settings))
        settings.get("index", {}).pop("lifecycle", None)
        return {"settings": settings, "mappings": {"dynamic": "strict", "properties": index.fields}}

    # --- Cassandra -------------------------------------------------------------------------------

    def _wide_column(self, before: WideColumnDesign, after: WideColumnDesign) -> list[StoreOperation]:
        ops: list[StoreOperation] = []
        old_tables = {t.name: t for e in before.entities for t in e.tables}
        for entity in after.entities:
            for table in entity.tables:
                previous = old_tables.get(table.name)
                if previous is None:
                    continue
                if (previous.partition_key, previous.clustering) != (table.partition_key, table.clustering):
                    copy = self._copy(entity.entity, previous, table, after.keyspace)
                    if copy is not None:
                        ops.append(copy)
                    continue
                old_columns = {c.name: c for c in previous.columns}
                for column in table.columns:
                    if column.name not in old_columns:
                        ops.append(AddCqlColumn(table.name, after.keyspace, column.name, column.type.render()))
                    elif old_columns[column.name].type != column.type:
                        self._refuse(
                            entity.entity,
                            f"column '{table.name}.{column.name}' changes type; Cassandra cannot alter a column's type",
                            code="PP709",
                        )
        return ops

    def _copy(self, entity: str, old: Table, new: Table, keyspace: str) -> CopyCqlTable | None:
        """The new table of a changed key, or None (PP709) when its key needs a column the old lacks."""
        old_columns = {c.name: c.type for c in old.columns}
        key = [*new.partition_key, *(c for c, _ in new.clustering)]
        missing = [c for c in key if c not in old_columns]
        retyped = [c.name for c in new.columns if c.name in old_columns and old_columns[c.name] != c.type]
        if missing or retyped:
            why = f"needs {', '.join(missing)}, which it does not have" if missing else f"retypes {', '.join(retyped)}"
            self._refuse(entity, f"CQL table '{new.name}' changes its key and the new one {why}", code="PP709")
            return None
        options: list[str] = []
        if new.ttl_seconds:
            options.append(f"default_time_to_live = {new.ttl_seconds}")
        options.append(f"compaction = {map_literal(dict(new.compaction))}")
        return CopyCqlTable(
            f"{new.name}_v{self.new.model.version}",
            keyspace,
            old.name,
            tuple((c.name, c.type.render()) for c in new.columns),
            new.partition_key,
            tuple((c, d.value.upper()) for c, d in new.clustering),
            tuple(options),
            tuple(c.name for c in new.columns if c.name in old_columns),
        )

    # --- Redis -----------------------------------------------------------------------------------

    def _cache(self, before: CacheDesign, after: CacheDesign) -> list[StoreOperation]:
        ops: list[StoreOperation] = []
        old_keys = {k.name: k for k in before.keys}
        for key in after.keys:
            previous = old_keys.get(key.name)
            if previous is None or not key.fields:
                continue
            old_fields = [f.name for f in previous.fields]
            new_fields = [f.name for f in key.fields]
            if old_fields == new_fields and previous.structure == key.structure:
                continue
            if previous.template.render() != key.template.render() or previous.structure != key.structure:
                self._refuse(key.entity, f"key family '{key.name}' changes its key or structure", code="PP710")
                continue
            renamed = {o: n for o, n in self._renamed(key.entity).items() if o != n and o in old_fields}
            drops = tuple(f for f in old_fields if f not in renamed and f not in new_fields)
            adds = tuple(
                (f.name, _plain(_constant_default(f.attribute)))
                for f in key.fields
                if f.name not in old_fields and f.name not in renamed.values()
            )
            ops.append(
                BumpKeyVersion(
                    key.name,
                    key.structure.value,
                    scan_pattern(previous.template),
                    scan_pattern(versioned(key, self.new.model.version)),
                    tuple(sorted(renamed.items())),
                    drops,
                    adds,
                )
            )
        return ops

    # --- moved entities --------------------------------------------------------------------------

    def _moves(self) -> list[StoreOperation]:
        ops: list[StoreOperation] = []
        for new_name, entity in self.new.entities.items():
            old_name = self.old_entity.get(new_name)
            if old_name is None:
                continue
            before = self.old.entities[old_name]
            if (before.family, before.engine) != (entity.family, entity.engine):
                source = f"{before.family.value}/{before.engine}"
                target = f"{entity.family.value}/{entity.engine}"
                homes = (self.homes[0].get(old_name, ()), self.homes[1].get(new_name, ()))
                counts = (self.counted[0].get(old_name), self.counted[1].get(new_name))
                ops.append(MoveEntity(new_name, source, target, *homes, *counts))
        return ops

    def _refuse(self, entity: str, why: str, code: str = "PP711") -> None:
        path = ("entities", entity) if entity in self.new.model.entities else ("version",)
        self.problems.add(code, f"{entity}: {why}; polyplan cannot migrate that yet", self.new.loaded, path)


def versioned(key: KeySpec, version: int) -> KeyTemplate:
    """`key`'s template with `v<version>` after its namespace: where the new version's values live."""
    from polyplan.stores.cache.keys import Segment

    first, *rest = key.template.segments
    return KeyTemplate((first, Segment(literal=f"v{version}"), *rest))


def scan_pattern(template: KeyTemplate) -> str:
    """A SCAN MATCH pattern for every key of `template` (placeholders as `*`)."""
    return template.fill({a: "*" for a in template.attributes})


def store_operations(old: Plan, new: Plan, names: Names, problems: _Problems) -> list[StoreOperation]:
    """The operations of every non-relational store from `old` to `new` (see StoreDiffer)."""
    return StoreDiffer(old, new, names, problems).run()


__all__ = ["StoreDiffer", "scan_pattern", "store_operations", "versioned"]
