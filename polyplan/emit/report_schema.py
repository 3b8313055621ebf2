"""Every store's schema as rows for the HTML report.

The relational tables come from the relational target's design (`RelationalDesign`: the
TableSpecs with their designed indexes, and each dialect's build, which says how that engine
creates each index and which patterns it answers from it), not from the files rendered from it.
The other stores are read from the structured artifacts their targets write as their design:
MongoDB collections in `mongodb/collections/*.json`, Redis keys in `redis/keys.json`, search
mappings in `<engine>/*.template.json`, CQL tables in `cassandra/design.json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from polyplan.stores.relational.designed import RelationalDesign


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


def _json(files: Mapping[str, str], path: str) -> Any:
    text = files.get(path)
    return None if text is None else json.loads(text)


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
            column: f"{fk.ref_table}.{ref} on delete {fk.on_delete.value}"
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
        schema.objects.append(
            SchemaObject(
                f"{table.kind.value} table", table.name, table.entity, tuple(fields), tuple(indexes), tuple(notes)
            )
        )
    return schema


def _bson_fields(properties: Mapping[str, Any], required: set[str], prefix: str = "") -> list[Field]:
    fields = []
    for name, spec in properties.items():
        bson = spec.get("bsonType", "any")
        kind = " | ".join(bson) if isinstance(bson, list) else str(bson)
        parts = ["required"] if name in required else []
        parts += [f"{k} {spec[k]}" for k in ("maxLength", "minimum", "maximum", "pattern") if k in spec]
        if "enum" in spec:
            parts.append("one of " + ", ".join(str(v) for v in spec["enum"]))
        fields.append(Field(prefix + name, kind, "; ".join(parts)))
        if isinstance(spec.get("properties"), dict):
            fields += _bson_fields(spec["properties"], set(spec.get("required", [])), f"{prefix}{name}.")
        items = spec.get("items")
        if isinstance(items, dict) and isinstance(items.get("properties"), dict):
            fields += _bson_fields(items["properties"], set(items.get("required", [])), f"{prefix}{name}[].")
    return fields


def _document(files: Mapping[str, str]) -> StoreSchema | None:
    paths = sorted(p for p in files if p.startswith("mongodb/collections/") and p.endswith(".json"))
    if not paths:
        return None
    schema = StoreSchema("document:mongodb", "mongodb/collections/")
    for path in paths:
        data = json.loads(files[path])
        validator = data.get("validator", {}).get("$jsonSchema", {})
        fields = _bson_fields(validator.get("properties", {}), set(validator.get("required", [])))
        indexes = [
            Index(i["name"], "{" + ", ".join(f"{k}: {d}" for k, d in i["key"]) + "}", tuple(i.get("serves", [])))
            for i in data.get("indexes", [])
        ]
        notes = []
        shard = data.get("shardKey") or {}
        if shard.get("reason"):
            notes.append(f"shard key: {shard['reason']}")
        notes += [str(n) for n in data.get("notes", [])]
        schema.objects.append(
            SchemaObject("collection", data["collection"], data["entity"], tuple(fields), tuple(indexes), tuple(notes))
        )
    return schema


def _cache(files: Mapping[str, str]) -> StoreSchema | None:
    data = _json(files, "redis/keys.json")
    if data is None or not data.get("keys"):
        return None
    schema = StoreSchema(f"cache:{data.get('engine', 'redis')}", "redis/keys.json")
    for key in data["keys"]:
        fields = tuple(Field(f["name"], f["type"], f"~{f['avg_bytes']:g} B") for f in key.get("fields", []))
        ttl = key.get("ttl_seconds")
        notes = [
            f"{key['role']} key, {key['structure']}" + (f", TTL {ttl:,} s" if ttl else ", no TTL"),
            str(key.get("why_structure", "")),
        ]
        index = Index(key["template"], key["structure"], tuple(key.get("serves", [])))
        schema.objects.append(
            SchemaObject("key", key["name"], key.get("entity", ""), fields, (index,), tuple(n for n in notes if n))
        )
    return schema


def _mapping_fields(properties: Mapping[str, Any], prefix: str = "") -> list[Field]:
    fields = []
    for name, spec in properties.items():
        parts = [f"{k} {spec[k]}" for k in ("analyzer", "scaling_factor", "format", "enabled") if k in spec]
        fields.append(Field(prefix + name, str(spec.get("type", "object")), "; ".join(parts)))
        if isinstance(spec.get("properties"), dict):
            fields += _mapping_fields(spec["properties"], f"{prefix}{name}.")
    return fields


def _search(files: Mapping[str, str]) -> list[StoreSchema]:
    result = []
    for engine in ("elasticsearch", "opensearch"):
        paths = sorted(p for p in files if p.startswith(f"{engine}/") and p.endswith(".template.json"))
        if not paths:
            continue
        schema = StoreSchema(f"search:{engine}", f"{engine}/*.template.json")
        for path in paths:
            data = json.loads(files[path])
            meta = data.get("_meta", {})
            mappings = data.get("template", {}).get("mappings", {})
            fields = _mapping_fields(mappings.get("properties", {}))
            index = Index(
                str(meta.get("alias", path)),
                "index patterns " + ", ".join(data.get("index_patterns", [])),
                tuple(meta.get("patterns", [])),
            )
            notes = [f"system of record: {meta['system_of_record']}"] if meta.get("system_of_record") else []
            schema.objects.append(
                SchemaObject(
                    "search index",
                    str(meta.get("template", path)),
                    str(meta.get("entity", "")),
                    tuple(fields),
                    (index,),
                    tuple(notes),
                )
            )
        result.append(schema)
    return result


def _wide_column(files: Mapping[str, str]) -> StoreSchema | None:
    data = _json(files, "cassandra/design.json")
    if data is None or not data.get("tables"):
        return None
    schema = StoreSchema("wide_column:cassandra", "cassandra/schema.cql")
    for name, table in data["tables"].items():
        partition = list(table.get("partition_key", []))
        clustering = {c: d for c, d in table.get("clustering", [])}
        fields = []
        for column, kind in table.get("columns", []):
            if column in partition:
                role = "partition key"
            elif column in clustering:
                role = f"clustering {clustering[column]}"
            else:
                role = ""
            fields.append(Field(column, kind, role))
        key = "((" + ", ".join(partition) + ")" + "".join(f", {c}" for c in clustering) + ")"
        index = Index("primary key", key, tuple(table.get("patterns", [])))
        schema.objects.append(
            SchemaObject(
                f"CQL table ({table.get('role', 'table')})",
                name,
                str(table.get("entity", "")),
                tuple(fields),
                (index,),
                tuple(str(r) for r in table.get("reasons", [])),
            )
        )
    return schema


def store_schemas(
    files: Mapping[str, str], relational: RelationalDesign | None, relational_engine: str
) -> list[StoreSchema]:
    """The schema of every store the plan writes, relational first (its chosen engine, from the
    relational target's design), then the others from their structured artifacts in `files`."""
    found = [_relational(relational, relational_engine), _document(files), _cache(files)]
    found += _search(files)
    found.append(_wide_column(files))
    return [schema for schema in found if schema is not None and schema.objects]
