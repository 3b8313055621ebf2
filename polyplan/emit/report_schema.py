"""Every store's schema as rows for the HTML report, from each family's design objects.

Each store target hands its design on (`polyplan.stores.designs.Designs`), and this reads it
rather than re-parse the files rendered from it: the relational tables from `RelationalDesign`
(the TableSpecs with their designed indexes, and each dialect's build, which says how that engine
creates each index and which patterns it answers from it), MongoDB collections from
`DocumentDesign`, Redis key designs from `CacheDesign`, search mappings from `SearchDesign` and
CQL tables from `WideColumnDesign`. `source` still names the artifact a reader opens for the same
design. Objects keep the order of those artifacts: tables in design order, the others by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from polyplan.stores.cache.render import ENGINE as CACHE_ENGINE
from polyplan.stores.cache.spec import CacheDesign
from polyplan.stores.designs import Designs
from polyplan.stores.document.extjson import Decimal128
from polyplan.stores.document.spec import DocumentDesign
from polyplan.stores.relational.designed import RelationalDesign
from polyplan.stores.relational.heap_fill import heap_fill_of, table_fillfactor
from polyplan.stores.search.design import SearchDesign
from polyplan.stores.wide_column.spec import WideColumnDesign


@dataclass(frozen=True)
class Field:
    """A column, document field, hash field or mapping property."""

    name: str
    type: str
    constraints: str = ""


@dataclass(frozen=True)
class Index:
    """An index (or key, or sort order) and the access patterns it serves."""

    name: str
    definition: str
    serves: tuple[str, ...] = ()


@dataclass(frozen=True)
class SchemaObject:
    """A table, collection, key design, search index or CQL table."""

    kind: str
    name: str
    entity: str
    fields: tuple[Field, ...]
    indexes: tuple[Index, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class StoreSchema:
    """One store's schema objects; `source` names the artifact they come from."""

    store: str
    source: str
    objects: list[SchemaObject] = field(default_factory=list)


def _attribute_constraints(attribute: Mapping[str, Any]) -> list[str]:
    parts = []
    for key, label in (("max_length", "max length"), ("min", "≥"), ("max", "≤"), ("pattern", "matches")):
        if key in attribute:
            parts.append(f"{label} {attribute[key]}")
    if "values" in attribute:
        parts.append("one of " + ", ".join(str(v) for v in attribute["values"]))
    if "default" in attribute:
        parts.append(f"default {attribute['default']}")
    if attribute.get("pii"):
        parts.append(f"PII {attribute['pii']}")
    return parts


def _relational(design: RelationalDesign | None, engine: str) -> StoreSchema | None:
    if design is None:
        return None
    served = design.served(engine)
    by_table = design.indexes(engine)
    schema = StoreSchema(f"relational:{engine}", f"relational/{engine}/schema.sql")
    for table in design.tables:
        primary = set(table.primary_key)
        uniques = {c for u in table.uniques if len(u) == 1 for c in u}
        references = {
            column: f"{fk.ref_table}.{ref} "
            + (f"on delete {fk.on_delete.value}" if fk.enforced else "not checked by the database (enforced: false)")
            for fk in table.foreign_keys
            for column, ref in zip(fk.columns, fk.ref_columns, strict=True)
        }
        fields = []
        for column in table.columns:
            parts = ["PK"] if column.name in primary else []
            parts.append("NULL" if column.nullable else "NOT NULL")
            if column.name in uniques:
                parts.append("UNIQUE")
            if column.name in references:
                parts.append(f"FK → {references[column.name]}")
            # The attribute's rules in their JSON form: values read as the model file writes them.
            parts += _attribute_constraints(column.attribute.model_dump(mode="json", exclude_defaults=True))
            fields.append(Field(column.name, column.attribute.type.value, "; ".join(parts)))
        indexes = [Index("primary key", "(" + ", ".join(table.primary_key) + ")")]
        indexes += [Index("unique", "(" + ", ".join(u) + ")") for u in table.uniques if len(u) > 1]
        for shape in by_table.get(table.name, []):
            definition = f"{shape.method} (" + ", ".join(part.name for part in shape.columns) + ")"
            if shape.include:
                definition += " INCLUDE (" + ", ".join(shape.include) + ")"
            if shape.where:
                definition += f" WHERE {shape.where}"
            indexes.append(Index(shape.name, definition, tuple(served.get(shape.name, ()))))
        notes = [table.comment] if table.comment else []
        notes += [f"CHECK {c.left} {c.op} {c.right}" for c in table.checks]
        fill = heap_fill_of(table)
        if fill is not None and table_fillfactor(table, engine) is not None:
            notes.append(fill.describe())
        schema.objects.append(
            SchemaObject(
                f"{table.kind.value} table", table.name, table.entity, tuple(fields), tuple(indexes), tuple(notes)
            )
        )
    return schema


def _bson_value(value: Any) -> Any:
    """A validator value as people read it: a Decimal128 bound in plain digits (`5000`, where
    its own text is `5E+3` and the collection file's Extended JSON `{"$numberDecimal": …}`)."""
    return format(value.to_decimal(), "f") if isinstance(value, Decimal128) else value


def _bson_fields(properties: Mapping[str, Any], required: set[str], prefix: str = "") -> list[Field]:
    fields = []
    for name, spec in properties.items():
        bson = spec.get("bsonType", "any")
        kind = " | ".join(bson) if isinstance(bson, list) else str(bson)
        parts = ["required"] if name in required else []
        parts += [f"{k} {_bson_value(spec[k])}" for k in ("maxLength", "minimum", "maximum", "pattern") if k in spec]
        if "enum" in spec:
            parts.append("one of " + ", ".join(str(_bson_value(v)) for v in spec["enum"]))
        fields.append(Field(prefix + name, kind, "; ".join(parts)))
        if isinstance(spec.get("properties"), dict):
            fields += _bson_fields(spec["properties"], set(spec.get("required", [])), f"{prefix}{name}.")
        items = spec.get("items")
        if isinstance(items, dict) and isinstance(items.get("properties"), dict):
            fields += _bson_fields(items["properties"], set(items.get("required", [])), f"{prefix}{name}[].")
    return fields


def _document(design: DocumentDesign | None) -> StoreSchema | None:
    if design is None or not design.collections:
        return None
    schema = StoreSchema("document:mongodb", "mongodb/collections/")
    for collection in sorted(design.collections, key=lambda c: c.name):
        validator = collection.validator.get("$jsonSchema", {})
        fields = _bson_fields(validator.get("properties", {}), set(validator.get("required", [])))
        indexes = [
            Index(i.name, "{" + ", ".join(f"{k}: {d}" for k, d in i.keys) + "}", i.serves) for i in collection.indexes
        ]
        notes = [f"shard key: {collection.shard.reason}"] if collection.shard.reason else []
        notes += collection.notes
        schema.objects.append(
            SchemaObject("collection", collection.name, collection.entity, tuple(fields), tuple(indexes), tuple(notes))
        )
    return schema


def _cache(design: CacheDesign | None) -> StoreSchema | None:
    if design is None or not design.keys:
        return None
    schema = StoreSchema(f"cache:{CACHE_ENGINE}", "redis/keys.json")
    for key in design.keys:
        # keys.json rounds the average to 0.1 B; the report shows the same figure.
        fields = tuple(Field(f.name, f.attribute.type.value, f"~{round(f.text_length, 1):g} B") for f in key.fields)
        ttl = key.ttl_seconds
        notes = [
            f"{key.role.value} key, {key.structure.value}" + (f", TTL {ttl:,} s" if ttl else ", no TTL"),
            key.structure_reason,
        ]
        index = Index(key.template.render(), key.structure.value, key.serves)
        schema.objects.append(SchemaObject("key", key.name, key.entity, fields, (index,), tuple(n for n in notes if n)))
    return schema


def _mapping_fields(properties: Mapping[str, Any], prefix: str = "") -> list[Field]:
    # By name, as the index template lists them (`search.render.dump` sorts its keys).
    fields = []
    for name, spec in sorted(properties.items()):
        parts = [f"{k} {spec[k]}" for k in ("analyzer", "scaling_factor", "format", "enabled") if k in spec]
        fields.append(Field(prefix + name, str(spec.get("type", "object")), "; ".join(parts)))
        if isinstance(spec.get("properties"), dict):
            fields += _mapping_fields(spec["properties"], f"{prefix}{name}.")
    return fields


def _search(design: SearchDesign | None) -> StoreSchema | None:
    if design is None or not design.indexes:
        return None
    folder = design.engine.folder
    schema = StoreSchema(f"search:{design.engine.name}", f"{folder}/*.template.json")
    for index in sorted(design.indexes, key=lambda i: i.alias):
        key = Index(index.alias, "index patterns " + ", ".join(index.index_patterns), index.patterns)
        notes = (f"system of record: {index.system_of_record}",)
        schema.objects.append(
            SchemaObject(
                "search index", index.template_name, index.entity, tuple(_mapping_fields(index.fields)), (key,), notes
            )
        )
    return schema


def _wide_column(design: WideColumnDesign | None) -> StoreSchema | None:
    tables = [] if design is None else [t for e in design.entities for t in e.tables]
    if not tables:
        return None
    schema = StoreSchema("wide_column:cassandra", "cassandra/schema.cql")
    for table in sorted(tables, key=lambda t: t.name):
        clustering = {c: d.value for c, d in table.clustering}
        fields = []
        for column in table.columns:
            if column.name in table.partition_key:
                role = "partition key"
            elif column.name in clustering:
                role = f"clustering {clustering[column.name]}"
            else:
                role = ""
            fields.append(Field(column.name, column.type.render(), role))
        key = "((" + ", ".join(table.partition_key) + ")" + "".join(f", {c}" for c in clustering) + ")"
        schema.objects.append(
            SchemaObject(
                f"CQL table ({table.role})",
                table.name,
                table.entity,
                tuple(fields),
                (Index("primary key", key, table.patterns),),
                table.reasons,
            )
        )
    return schema


def store_schemas(designs: Designs, relational_engine: str) -> list[StoreSchema]:
    """The schema of every store the plan uses, relational first (its chosen engine), from the
    design objects the store targets handed on."""
    found = [
        _relational(designs.relational, relational_engine),
        _document(designs.document),
        _cache(designs.cache),
        _search(designs.search),
        _wide_column(designs.wide_column),
    ]
    return [schema for schema in found if schema is not None and schema.objects]
