"""Indexes from the workload, and the query that answers each access pattern.

Compound keys follow the equality–sort–range rule: equality fields first (they narrow to one
contiguous run of the index), then the sort fields in the pattern's directions (the run is
already ordered, so no in-memory sort), then range and prefix fields (they scan within the run).
A constant equality (`status = 'paid'`) becomes a partial index, smaller and only as large as the
documents the pattern can return. Unique attributes get unique indexes (partial over documents
that have the field, since a null attribute is an absent field). Retention and TTL become TTL
indexes, full-text filters one text index. An index whose key is a prefix of another's (same
options) is dropped: the longer one serves both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from polyplan.analyse.profile import pattern_shape
from polyplan.model.bounded_loads import bounded_loads
from polyplan.model.collection_checks import filter_target
from polyplan.model.derived import all_attributes, key_of, reference_of, related_entities
from polyplan.model.ranges import ONE_SIDED, is_range
from polyplan.model.schema import (
    AccessPattern,
    Attribute,
    Direction,
    Family,
    Filter,
    FilterOp,
    RelationshipKind,
    TypeName,
    WriteKind,
)
from polyplan.plan.geo import is_geo
from polyplan.plan.ir import Plan
from polyplan.stores.document import codec
from polyplan.stores.document.expiry import expiry_limit, expiry_rate
from polyplan.stores.document.spec import (
    CollectionSpec,
    Embedding,
    IndexKey,
    IndexSpec,
    LinkArray,
    Lookup,
    Param,
    QuerySpec,
)

Warn = Callable[[str, str, str], None]
TEXT_LANGUAGE = "english"
_TIME = (TypeName.DATE, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ)

# A one-sided bound's parameter kind → its query operator.
MONGO_BOUNDS = {"from": "$gte", "above": "$gt", "to": "$lt", "through": "$lte"}


def index_name(keys: IndexKey, partial: Mapping[str, Any] | None = None) -> str:
    """MongoDB's default name (`a_1_b_-1`), plus the partial filter's fields so names stay unique."""
    name = "_".join(f"{path}_{direction}" for path, direction in keys)
    if partial:
        name += "__where_" + "_".join(str(path) for path in partial)
    return name


def searched_elsewhere(plan: Plan, pattern: AccessPattern) -> bool:
    """Whether a search projection serves this pattern (so MongoDB needs no index for it)."""
    entity = plan.entities[pattern.entity]
    return any(p.family is Family.SEARCH and pattern.name in p.patterns for p in entity.projections)


def bson_value(attribute: Attribute, value: Any) -> Any:
    """A constant from the model as the BSON value stored for it (`codec.bson_value`, unshifted).

    A date, timestamp, uuid or decimal constant is written as the BSON date, binary uuid or
    Decimal128 the documents hold: left as the model's text, `{a3: "2024-11-13"}` matched no
    stored date, and the test data mixed text with dates (fuzz model 437)."""
    return codec.bson_value(attribute, value)


def unique_sets(plan: Plan, entity: str) -> list[tuple[str, ...]]:
    """Attribute sets that identify one document."""
    model = plan.model
    key = tuple(key_of(model.entities[entity]).attributes)
    found = [key] if key else []  # a keyless history (kind: none): the generated ObjectId only
    found += [(name,) for name, attribute in all_attributes(model, entity).items() if attribute.unique]
    found += [tuple(group) for group in model.entities[entity].unique]
    return found


def field_path(paths: Mapping[str, str], flt: Filter) -> str:
    """The document path a filter compares: the attribute's, and a JSON sub-field's keys after it."""
    return ".".join([paths[flt.attribute], *(flt.path or [])])


def _pattern_key(
    pattern: AccessPattern, paths: Mapping[str, str], attributes: Mapping[str, Attribute]
) -> tuple[IndexKey, dict[str, Any] | None]:
    # contains is equality on the array's path (a multikey index key); a path filter names the
    # sub-field's dotted path.
    equality = [
        (field_path(paths, f), 1)
        for f in pattern.filters
        if f.op in (FilterOp.EQ, FilterOp.CONTAINS) and f.value is None
    ]
    equality += [(field_path(paths, f), 1) for f in pattern.filters if f.op is FilterOp.IN]
    seen = {path for path, _ in equality}
    sort = []
    for item in pattern.sort:
        path = paths[item.attribute]
        if path not in seen:
            sort.append((path, -1 if item.direction is Direction.DESC else 1))
            seen.add(path)
    ranged = []
    for flt in pattern.filters:
        path = field_path(paths, flt)
        if (is_range(flt.op) or flt.op is FilterOp.PREFIX) and path not in seen:
            ranged.append((path, 1))
            seen.add(path)
    constants = {
        field_path(paths, f): bson_value(filter_target(attributes[f.attribute], f), f.value)
        for f in pattern.filters
        if f.op is FilterOp.EQ and f.value is not None
    }
    keys: list[tuple[str, int | str]] = [*equality, *sort, *ranged]
    if not keys and constants:
        return tuple((path, 1) for path in constants), None
    return tuple(keys), (constants or None)


def _covers(longer: IndexSpec, shorter: IndexSpec) -> bool:
    """Whether `longer` serves every query `shorter` serves (key prefix, same options)."""
    if shorter.unique or shorter.expire_after or shorter.text_options or longer.text_options:
        return False
    if shorter.partial != longer.partial:
        return False
    prefix = longer.keys[: len(shorter.keys)]
    if len(prefix) < len(shorter.keys):
        return False
    same = all(a == b for (a, _), (b, _) in zip(prefix, shorter.keys, strict=True))
    forward = all(x == y for (_, x), (_, y) in zip(prefix, shorter.keys, strict=True))
    backward = all(
        x == -y
        for (_, x), (_, y) in zip(prefix, shorter.keys, strict=True)
        if isinstance(x, int) and isinstance(y, int)
    )
    return same and (forward or backward)


def _with_serves(index: IndexSpec, serves: tuple[str, ...], reason: str, unique: bool = False) -> IndexSpec:
    return IndexSpec(
        index.name,
        index.keys,
        index.unique or unique,
        index.partial,
        index.expire_after,
        index.text_options,
        tuple(dict.fromkeys(index.serves + serves)),
        reason,
    )


def _merge(indexes: list[IndexSpec]) -> list[IndexSpec]:
    """Fold identical and prefix-covered indexes into the ones that serve them."""
    result: list[IndexSpec] = []
    for index in indexes:
        same = next(
            (i for i in result if i.keys == index.keys and i.partial == index.partial and not i.text_options), None
        )
        if same is None:
            result.append(index)
        else:
            result[result.index(same)] = _with_serves(
                same, index.serves, f"{same.reason}; {index.reason}", index.unique
            )
    changed = True
    while changed:
        changed = False
        for index in result:
            cover = next(
                (o for o in result if o is not index and len(o.keys) > len(index.keys) and _covers(o, index)), None
            )
            if cover is not None:
                reason = f"{cover.reason}; also serves {', '.join(index.serves)} (key prefix)"
                result[result.index(cover)] = _with_serves(cover, index.serves, reason)
                result.remove(index)
                changed = True
                break
    return result


def _ttl_attribute(plan: Plan, entity: str, warn: Warn) -> str | None:
    model = plan.model
    growth = model.entities[entity].growth
    attributes = all_attributes(model, entity)
    if growth.time_attribute:
        return growth.time_attribute
    times = [name for name, a in attributes.items() if a.type in _TIME]
    updated = [name for name in times if "updated" in name or "last" in name or "seen" in name]
    candidates = updated or [n for n in times if attributes[n].default == "now"]
    chosen = candidates[0] if candidates else None
    if chosen is None:
        warn(
            "PP402",
            f"{entity}: ttl_seconds needs a date field that each write refreshes; the entity has none, so no TTL "
            "index is created: add a timestamp attribute (e.g. updated_at) and set growth.time_attribute",
            f"entities.{entity}.growth.ttl_seconds",
        )
    return chosen


def design_indexes(
    plan: Plan,
    entity: str,
    collection: str,
    paths: Mapping[str, str],
    embedded: list[Embedding],
    links: list[LinkArray],
    warn: Warn,
) -> list[IndexSpec]:
    """The indexes of one collection, merged and named."""
    model = plan.model
    attributes = all_attributes(model, entity)
    found: list[IndexSpec] = []
    uniques = unique_sets(plan, entity)
    text_fields: list[str] = []
    text_serves: list[str] = []
    for pattern in model.access_patterns:
        if pattern.entity != entity or searched_elsewhere(plan, pattern) or is_geo(pattern):
            continue  # geo reads: no 2dsphere design here (PP423)
        fulltext = [f.attribute for f in pattern.filters if f.op is FilterOp.FULLTEXT]
        if fulltext:
            text_fields += [paths[a] for a in fulltext if paths[a] not in text_fields]
            text_serves.append(pattern.name)
            continue
        eq = {f.attribute for f in pattern.filters if f.op is FilterOp.EQ and f.value is None}
        if any(set(u) <= eq for u in uniques) and not pattern.sort:
            continue  # at most one document: the unique (or _id) index serves it
        keys, partial = _pattern_key(pattern, paths, attributes)
        if not keys:
            warn(
                "PP403",
                f"{pattern.name} has no filter or sort an index can serve: it scans the {collection} collection",
                f"access_patterns.{model.access_patterns.index(pattern)}",
            )
            continue
        shape = "equality–sort–range order" if len(keys) > 1 else "single field"
        found.append(
            IndexSpec(
                index_name(keys, partial),
                keys,
                partial=partial,
                serves=(pattern.name,),
                reason=f"{pattern.name}: {shape}"
                + (f", partial on {', '.join(f'{k} = {v!r}' for k, v in (partial or {}).items())}" if partial else ""),
            )
        )
    for unique in uniques:
        if len(unique) == 1 and paths[unique[0]] == "_id":
            continue
        keys = tuple((paths[a], 1) for a in unique)
        nullable = [paths[a] for a in unique if attributes[a].nullable]
        partial = {path: {"$exists": True} for path in nullable} or None
        found.append(
            IndexSpec(
                index_name(keys, partial),
                keys,
                unique=True,
                partial=partial,
                serves=(f"unique:{'+'.join(unique)}",),
                reason=f"unique {', '.join(unique)}"
                + (" (documents without the field are not indexed)" if partial else ""),
            )
        )
    for embedding in embedded:
        child_attributes = all_attributes(model, embedding.child)
        for name, attribute in child_attributes.items():
            if attribute.unique:
                keys = ((f"{embedding.field}.{name}", 1),)
                found.append(
                    IndexSpec(
                        index_name(keys),
                        keys,
                        unique=True,
                        serves=(f"unique:{embedding.child}.{name}",),
                        reason=f"unique {embedding.child}.{name} across documents (duplicates inside one array are the application's check)",
                    )
                )
    if text_fields:
        keys = tuple((path, "text") for path in text_fields)
        found.append(
            IndexSpec(
                f"{collection}_text",
                keys,
                text_options={"default_language": TEXT_LANGUAGE, "weights": {path: 1 for path in text_fields}},
                serves=tuple(text_serves),
                reason=f"full-text ({TEXT_LANGUAGE} stemming and stop words) for {', '.join(text_serves)}; one text index per collection",
            )
        )
    found += _reference_indexes(plan, entity, paths)
    for link in links:
        path = link.field if len(link.item_fields) == 1 else f"{link.field}.{next(iter(link.item_fields))}"
        keys = ((path, 1),)
        found.append(
            IndexSpec(
                index_name(keys),
                keys,
                serves=(f"link:{link.relationship}",),
                reason=f"multikey: the {link.holder} documents of one {link.other} ({link.relationship})",
            )
        )
    found = _merge(found)
    return _with_ttl(plan, entity, paths, found, warn)


def _reference_indexes(plan: Plan, entity: str, paths: Mapping[str, str]) -> list[IndexSpec]:
    model = plan.model
    found = []
    for relationship in model.relationships:
        if relationship.to != entity or relationship.kind is RelationshipKind.MANY_TO_MANY:
            continue
        reference = reference_of(model, relationship)
        if reference is None:
            continue
        loaders = [p.name for p in model.access_patterns if p.entity == relationship.from_ and entity in p.loaded]
        deletes = [
            w.name for w in model.write_patterns if w.entity == relationship.from_ and w.kind is WriteKind.DELETE
        ]
        if not loaders and not deletes:
            continue
        keys = tuple((paths[column], 1) for column in reference.columns)
        why = (
            f"loaded by {', '.join(loaders)}"
            if loaders
            else f"found on delete of {relationship.from_} ({', '.join(deletes)})"
        )
        found.append(
            IndexSpec(
                index_name(keys),
                keys,
                serves=(f"ref:{relationship.name}", *loaders),
                reason=f"reference {relationship.name}: {why}",
            )
        )
    return found


def _with_ttl(
    plan: Plan, entity: str, paths: Mapping[str, str], indexes: list[IndexSpec], warn: Warn
) -> list[IndexSpec]:
    growth = plan.model.entities[entity].growth
    wanted: dict[str, tuple[int, str]] = {}
    keep_index: dict[str, str] = {}  # attributes indexed for a scheduled purge instead of a TTL
    if growth.retention_days is not None and growth.time_attribute:
        rate, limit = expiry_rate(plan, entity), expiry_limit(plan)
        if rate > limit:
            warn(
                "PP412",
                f"{entity}: a TTL index for the retention of {growth.retention_days} days would delete "
                f"{rate:,.0f} documents/s at the horizon, above {limit:,.0f}/s (a tenth of one node's writes); "
                f"no TTL index: drop whole time-bucketed collections, or run a batched deleteMany on "
                f"{growth.time_attribute} < now - {growth.retention_days} days off-peak (its index is kept for it)",
                f"entities.{entity}.growth.retention_days",
            )
            keep_index[growth.time_attribute] = (
                f"retention: a scheduled purge deletes documents older than {growth.retention_days} days "
                f"by {growth.time_attribute} (a TTL index would delete {rate:,.0f}/s)"
            )
        else:
            wanted[growth.time_attribute] = (
                growth.retention_days * 86400,
                f"retention: {growth.retention_days} days after {growth.time_attribute} "
                f"(about {rate:,.0f} deletes/s at the horizon)",
            )
    if growth.ttl_seconds is not None:
        attribute = _ttl_attribute(plan, entity, warn)
        if attribute is not None:
            seconds = growth.ttl_seconds
            if attribute in wanted:
                seconds = min(seconds, wanted[attribute][0])
            wanted[attribute] = (seconds, f"TTL: {growth.ttl_seconds} s after {attribute} (each write must refresh it)")
    for attribute, why in keep_index.items():
        path = paths[attribute]
        if attribute not in wanted and not any(i.keys and i.keys[0][0] == path for i in indexes):
            keys = ((path, 1),)
            indexes.append(IndexSpec(index_name(keys), keys, serves=("retention",), reason=why))
    for attribute, (seconds, why) in wanted.items():
        path = paths[attribute]
        single = next(
            (i for i in indexes if len(i.keys) == 1 and i.keys[0][0] == path and not i.partial and not i.unique), None
        )
        if single is not None:
            indexes[indexes.index(single)] = IndexSpec(
                single.name, single.keys, False, None, seconds, None, single.serves, f"{single.reason}; {why}"
            )
        else:
            keys = ((path, 1),)
            indexes.append(IndexSpec(index_name(keys), keys, expire_after=seconds, serves=("ttl",), reason=why))
    return indexes


# --- queries ---------------------------------------------------------------------------------


def _filter(
    pattern: AccessPattern, paths: Mapping[str, str], attributes: Mapping[str, Attribute]
) -> tuple[dict[str, Any], list[Param]]:
    result: dict[str, Any] = {}
    params: list[Param] = []
    text = [f for f in pattern.filters if f.op is FilterOp.FULLTEXT]
    if text:
        params.append(Param("text", text[0].attribute, paths[text[0].attribute], "text"))
        result["$text"] = {"$search": {"$param": "text"}}
    for flt in pattern.filters:
        path = field_path(paths, flt)
        attribute = filter_target(attributes[flt.attribute], flt)
        if flt.op is FilterOp.FULLTEXT:
            continue
        if flt.op is FilterOp.CONTAINS:
            # MongoDB matches a scalar against each element of an array field: {tags: "x"}.
            name = flt.attribute
            params.append(Param(name, flt.attribute, path, "item"))
            result[path] = {"$param": name}
            continue
        if flt.value is not None:
            if flt.op is FilterOp.IN and isinstance(flt.value, list):
                result[path] = {"$in": [bson_value(attribute, v) for v in flt.value]}
            else:
                result[path] = bson_value(attribute, flt.value)
            continue
        if flt.op is FilterOp.EQ:
            params.append(Param(flt.attribute, flt.attribute, path, "value"))
            result[path] = {"$param": flt.attribute}
        elif flt.op is FilterOp.IN:
            name = f"{flt.attribute}_in"
            params.append(Param(name, flt.attribute, path, "list"))
            result[path] = {"$in": {"$param": name}}
        elif flt.op is FilterOp.RANGE:
            low, high = f"{flt.attribute}_min", f"{flt.attribute}_max"
            params += [Param(low, flt.attribute, path, "min"), Param(high, flt.attribute, path, "max")]
            result[path] = {"$gte": {"$param": low}, "$lte": {"$param": high}}
        elif flt.op in ONE_SIDED:
            kind = ONE_SIDED[flt.op][0]
            name = f"{flt.attribute}_{kind}"
            params.append(Param(name, flt.attribute, path, kind))
            result[path] = {MONGO_BOUNDS[kind]: {"$param": name}}
        elif flt.op is FilterOp.PREFIX:
            name = f"{flt.attribute}_prefix"
            params.append(Param(name, flt.attribute, path, "prefix"))
            result[path] = {"$regex": {"$param": name}}
    return result, params


def _served_by(pattern: AccessPattern, collection: CollectionSpec, plan: Plan) -> str | None:
    for index in collection.indexes:
        if pattern.name in index.serves:
            return index.name
    eq = {f.attribute for f in pattern.filters if f.op is FilterOp.EQ and f.value is None}
    for unique in unique_sets(plan, pattern.entity):
        if set(unique) <= eq:
            if len(unique) == 1 and collection.paths[unique[0]] == "_id":
                return "_id_"
            keys = tuple((collection.paths[a], 1) for a in unique)
            match = next((i for i in collection.indexes if i.keys == keys and i.unique), None)
            if match is not None:
                return match.name
    return None


def _lookups(
    plan: Plan,
    pattern: AccessPattern,
    collection: CollectionSpec,
    collections: list[CollectionSpec],
    embeddings: list[Embedding],
) -> tuple[list[Lookup], list[str]]:
    model = plan.model
    lookups: list[Lookup] = []
    embedded: list[str] = []
    for other in pattern.loaded:
        inside = next((e for e in collection.embedded if e.child == other), None)
        if inside is not None and inside.field:
            embedded.append(inside.field)
            continue
        # The relationship between the two (the first, as the model check that allowed the load):
        # a self-reference of `other` is not a way from the pattern's entity to it.
        relationship = related_entities(model, pattern.entity)[other]
        target = next((c for c in collections if c.entity == other), None)
        embedded_elsewhere = next((e for e in embeddings if e.child == other and e.embedded), None)
        if target is None:
            where = plan.entities[other].engine if other in plan.entities else "another store"
            if embedded_elsewhere is not None:
                where = f"MongoDB, embedded in {embedded_elsewhere.parent}"
            lookups.append(
                Lookup(other, relationship.name, None, (), (), None, f"{other} is read from {where} by the application")
            )
            continue
        reference = reference_of(model, relationship)
        if relationship.kind is RelationshipKind.MANY_TO_MANY or reference is None:
            link = next((link for link in target.links if link.relationship == relationship.name), None) or next(
                (link for link in collection.links if link.relationship == relationship.name), None
            )
            note = f"{other} through the {relationship.name} array" if link else f"{other} through {relationship.name}"
            lookups.append(Lookup(other, relationship.name, target.name, (), (), None, note))
            continue
        if relationship.from_ == pattern.entity:
            local = tuple(collection.paths[attr] for attr in reference.columns.values())
            foreign = tuple(target.paths[column] for column in reference.columns)
            keys = tuple((path, 1) for path in foreign)
            index = next((i.name for i in target.indexes if i.keys[: len(keys)] == keys), None)
            note = f"find {target.name} where {', '.join(foreign)} in the parents' {', '.join(local)}"
            bounded = next(
                (b for b in bounded_loads(model) if b.pattern.name == pattern.name and b.load.entity == other), None
            )
            if bounded is not None:
                note = f"per parent, {bounded.describe()}: its own query {bounded.name}"
        else:
            local = tuple(collection.paths[column] for column in reference.columns)
            foreign = tuple(target.paths[attr] for attr in reference.columns.values())
            index = "_id_" if foreign == ("_id",) else None
            note = f"find {target.name} by {', '.join(foreign)} from the results' {', '.join(local)}"
        lookups.append(Lookup(other, relationship.name, target.name, local, foreign, index, note))
    return lookups, embedded


def design_queries(
    plan: Plan, collections: list[CollectionSpec], embeddings: list[Embedding]
) -> tuple[list[QuerySpec], list[Any]]:
    """The find() of every access pattern whose entity is a document collection."""
    model = plan.model
    found: list[QuerySpec] = []
    for pattern in model.access_patterns:
        collection = next((c for c in collections if c.entity == pattern.entity), None)
        if collection is None or searched_elsewhere(plan, pattern) or is_geo(pattern):
            continue  # another store serves it (a search projection builds its own query); geo: PP423
        attributes = all_attributes(model, pattern.entity)
        paths = collection.paths
        flt, params = _filter(pattern, paths, attributes)
        sort = tuple((paths[s.attribute], -1 if s.direction is Direction.DESC else 1) for s in pattern.sort)
        lookups, embedded = _lookups(plan, pattern, collection, collections, embeddings)
        projection: dict[str, int] | None = None
        if pattern.reads:
            # Besides what the pattern reads: the key (to address the document), the sort fields
            # (to page on them), what lookups join on, and embedded parts the pattern loads.
            identity = [paths[a] for a in key_of(model.entities[pattern.entity]).attributes]
            wanted = [paths[a] for a in pattern.reads] + identity + [p for p, _ in sort]
            wanted += [p for lookup in lookups for p in lookup.local_paths] + embedded
            projection = {path: 1 for path in dict.fromkeys(wanted)}
        notes: list[str] = []
        shape = pattern_shape(model, pattern)
        if "in" in shape.shapes and pattern.sort:
            notes.append(
                "$in before a sort: MongoDB merges one sorted run per value (SORT_MERGE), fine for short lists"
            )
        found.append(
            QuerySpec(
                pattern=pattern.name,
                entity=pattern.entity,
                collection=collection.name,
                filter=flt,
                sort=sort,
                projection=projection,
                limit=pattern.limit,
                index=_served_by(pattern, collection, plan),
                params=tuple(params),
                lookups=tuple(lookups),
                embedded=tuple(embedded),
                notes=tuple(notes),
            )
        )
    return found, []
