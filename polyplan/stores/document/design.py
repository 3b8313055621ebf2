"""The MongoDB design: collections, embed-or-reference, validators, indexes, shard keys.

Embedding rule (MongoDB's own rules of thumb, made checkable): a child is embedded in its parent
when the part is owned (it lives and dies with the parent), bounded (one-to-one, or
`max_children` declared), loaded together (an access pattern of the parent `loads` it), not
needed on its own (no access pattern of its own, no updates of its own), not shared (no other
entity refers to it, no many-to-many), has the parent's lifecycle (no TTL or retention of its
own), and the worst-case parent document stays under half of the 16 MiB limit (headroom for
growth of the parent's own fields). Anything else is referenced: the child is its own
collection carrying the parent's key, indexed when the parent's patterns load it.

Pure: plan in, `DocumentDesign` out; diagnostics for what MongoDB cannot express.
"""

from __future__ import annotations

from dataclasses import replace

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.bounded_loads import LOAD_MARK, child_relationship
from polyplan.model.caps import cap_of
from polyplan.model.derived import all_attributes, key_of, patterns_of, reference_of, snake
from polyplan.model.schema import (
    Attribute,
    Family,
    OnDelete,
    RelationshipKind,
    RequirementsModel,
    TypeName,
    WriteKind,
)
from polyplan.plan.ir import Plan
from polyplan.seed.generate import link_columns
from polyplan.stores.document import bson_size, validator
from polyplan.stores.document.capped import capped_note, capped_options, capped_size
from polyplan.stores.document.indexes import design_indexes, design_queries
from polyplan.stores.document.lookups import with_lookups
from polyplan.stores.document.shard import choose_shard_key
from polyplan.stores.document.spec import (
    CollectionSpec,
    DocumentDesign,
    Embedding,
    IndexSpec,
    LinkArray,
    QuerySpec,
    ShardDecision,
)
from polyplan.stores.document.subset import Subset, subset_schema, subsets

SIZE_BUDGET = bson_size.DOCUMENT_LIMIT / 2


def collection_name(entity: str) -> str:
    """The collection of an entity: its snake-case name (never `system.*`, never a '$')."""
    name = snake(entity) or "entity"
    return f"c_{name}" if name.startswith("system") else name


def _mib(value: float) -> str:
    return f"{value / (1 << 20):,.2f} MiB" if value >= 1 << 20 else f"{value:,.0f} B"


class _Designer:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.model: RequirementsModel = plan.model
        self.entities = plan.records_in(Family.DOCUMENT)
        self.diagnostics: list[Diagnostic] = []
        self.subsets: list[Subset] = []  # bounded arrays of first children (subset.py)

    def warn(self, code: str, message: str, path: str) -> None:
        self.diagnostics.append(Diagnostic(code, message, path, Severity.WARNING))

    # -- embedding --

    def child_fields(self, child: str, relationship_name: str) -> dict[str, Attribute]:
        """A child's attributes inside its parent: without the reference back to that parent."""
        model = self.model
        relationship = next(r for r in model.relationships if r.name == relationship_name)
        reference = reference_of(model, relationship)
        back = set(reference.columns) if reference else set()
        return {name: a for name, a in all_attributes(model, child).items() if name not in back}

    def document_bytes(self, entity: str, worst: bool = False) -> float:
        """BSON bytes of one top-level document of `entity` (without embedded parts)."""
        fields = dict(all_attributes(self.model, entity))
        return bson_size.document_bytes(fields, worst)

    def embeddings(self) -> list[Embedding]:
        model = self.model
        decisions: list[Embedding] = []
        taken: set[str] = set()
        documents = set(self.entities)
        for relationship in model.relationships:
            if relationship.kind is RelationshipKind.MANY_TO_MANY:
                continue
            parent, child = relationship.from_, relationship.to
            if parent not in documents or child not in documents or parent == child:
                continue
            reasons: list[str] = []
            if not relationship.owned:
                reasons.append(f"{child} is not owned by {parent} (it outlives or is shared beyond it)")
            bounded = relationship.kind is RelationshipKind.ONE_TO_ONE or relationship.max_children is not None
            if not bounded:
                reasons.append(f"the number of {child} per {parent} is unbounded (no max_children)")
            loaders = [p.name for p in patterns_of(model, parent) if child in p.loaded]
            if not loaders:
                reasons.append(f"no access pattern of {parent} loads {child} with it")
            own = [p.name for p in patterns_of(model, child)]
            if own:
                reasons.append(f"{child} is read on its own ({', '.join(own)})")
            updates = [
                w.name
                for w in model.write_patterns
                if w.entity == child and w.kind in (WriteKind.UPDATE, WriteKind.UPSERT)
            ]
            if updates:
                reasons.append(f"{child} is updated on its own ({', '.join(updates)})")
            linked = [r.name for r in model.relationships if r.to == child and r.kind is RelationshipKind.MANY_TO_MANY]
            if linked:
                reasons.append(f"{child} is shared: many-to-many ({', '.join(linked)})")
            hanging = [r.name for r in model.relationships if r.from_ == child and r.to != child]
            if hanging:
                # Embedding is one level deep: a part others hang off stays a document they can refer to.
                reasons.append(
                    f"other entities hang off {child} ({', '.join(hanging)}), so it stays a top-level document"
                )
            child_growth, parent_growth = model.entities[child].growth, model.entities[parent].growth
            if (child_growth.ttl_seconds, child_growth.retention_days) != (
                parent_growth.ttl_seconds,
                parent_growth.retention_days,
            ):
                reasons.append(f"{child} expires on its own schedule (TTL or retention differs from {parent}'s)")
            if child in taken:
                reasons.append(f"{child} is already embedded in another parent")
            count = 1 if relationship.kind is RelationshipKind.ONE_TO_ONE else (relationship.max_children or 0)
            element = bson_size.document_bytes(self.child_fields(child, relationship.name), worst=True)
            worst = self.document_bytes(parent, worst=True) + bson_size.array_bytes(count, element) if bounded else None
            if worst is not None and worst > SIZE_BUDGET:
                reasons.append(
                    f"the worst-case {parent} document would be {_mib(worst)}, over half the 16 MiB limit "
                    f"({count} × {_mib(element)} {child})"
                )
            if reasons:
                decisions.append(
                    Embedding(
                        relationship.name,
                        parent,
                        child,
                        relationship.kind,
                        embedded=False,
                        field=None,
                        reason="referenced: " + "; ".join(reasons),
                        max_children=relationship.max_children,
                        worst_case_bytes=worst,
                    )
                )
                continue
            taken.add(child)
            assert worst is not None
            share = 100 * worst / bson_size.DOCUMENT_LIMIT
            decisions.append(
                Embedding(
                    relationship.name,
                    parent,
                    child,
                    relationship.kind,
                    embedded=True,
                    field=relationship.name,
                    reason=(
                        f"embedded as {relationship.name}: owned, bounded ({'one' if count == 1 else f'at most {count}'} per "
                        f"{parent}), loaded together by {', '.join(loaders)} and never read or updated alone; worst case "
                        f"{_mib(worst)} = {share:.2f}% of the 16 MiB document limit"
                    ),
                    max_children=relationship.max_children,
                    worst_case_bytes=worst,
                )
            )
        return decisions

    # -- collections --

    def links(self, entity: str) -> list[LinkArray]:
        """Many-to-many relationships whose `to` side is this document entity: an array of references."""
        found = []
        for relationship in self.model.relationships:
            if relationship.kind is not RelationshipKind.MANY_TO_MANY or relationship.to != entity:
                continue
            from_columns, _ = link_columns(self.model, relationship)
            parent_keys = all_attributes(self.model, relationship.from_)
            items = {
                column: parent_keys[attr].model_copy(update={"unique": False, "description": None})
                for column, attr in from_columns.items()
            }
            items.update(relationship.attributes)
            found.append(
                LinkArray(
                    relationship.name,
                    entity,
                    relationship.from_,
                    relationship.name,
                    items,
                    f"many-to-many with {relationship.from_}: each {entity} lists its {relationship.from_} references "
                    f"(a multikey index answers the reverse lookup)",
                )
            )
        return found

    def collection(self, entity: str, embeddings: list[Embedding]) -> CollectionSpec:
        model = self.model
        spec = model.entities[entity]
        attributes = all_attributes(model, entity)
        id_attribute, paths, top = self.top_level(entity)
        mine = [e for e in embeddings if e.parent == entity and e.embedded]
        links = self.links(entity)
        additional = validator.allows_extra(spec.schema_variability)
        if id_attribute is None:
            extra: dict[str, dict[str, object]] = {"_id": {"bsonType": "objectId"}}
        else:
            extra = {}
        expressions = [
            validator.check_expression(c, attributes[c.left].nullable, attributes[c.right].nullable)
            for c in spec.checks
        ]
        server_id = bson_size.OBJECT_ID if id_attribute is None else 0.0  # the ObjectId the server adds
        avg = bson_size.document_bytes(top) + server_id
        worst = bson_size.document_bytes(top, worst=True) + server_id
        write_rate = self.plan.entities[entity].profile.write_rate
        for embedding in mine:
            child_fields = self.child_fields(embedding.child, embedding.relationship)
            child_spec = model.entities[embedding.child]
            child_schema = validator.object_schema(child_fields, validator.allows_extra(child_spec.schema_variability))
            relationship = next(r for r in model.relationships if r.name == embedding.relationship)
            field = embedding.field or embedding.relationship
            if embedding.kind is RelationshipKind.ONE_TO_ONE:
                extra[field] = {
                    **child_schema,
                    "description": f"{embedding.child} ({embedding.relationship}), embedded",
                }
                avg += bson_size.document_bytes(child_fields) + len(field) + 2
            else:
                extra[field] = {
                    "bsonType": "array",
                    "description": f"{embedding.child} ({embedding.relationship}), embedded",
                    "maxItems": embedding.max_children,
                    "items": child_schema,
                }
                children = relationship.avg_children or (embedding.max_children or 1) / 2
                avg += bson_size.array_bytes(children, bson_size.document_bytes(child_fields)) + len(field) + 2
            worst = max(worst, embedding.worst_case_bytes or 0.0)
            for check in child_spec.checks:
                condition = validator.check_expression(
                    check, child_fields[check.left].nullable, child_fields[check.right].nullable, variable="$e"
                )
                source = validator.field_ref(field)
                if embedding.kind is RelationshipKind.ONE_TO_ONE:
                    expressions.append({"$let": {"vars": {"e": {"$ifNull": [source, {}]}}, "in": condition}})
                else:
                    expressions.append(
                        {
                            "$allElementsTrue": [
                                {"$map": {"input": {"$ifNull": [source, []]}, "as": "e", "in": condition}}
                            ]
                        }
                    )
            write_rate += self.plan.entities[embedding.child].profile.write_rate
        for subset in (s for s in self.subsets if s.parent == entity):
            _, _, child_top = self.top_level(subset.child)
            child_extra = validator.allows_extra(model.entities[subset.child].schema_variability)
            extra[subset.field] = subset_schema(subset, validator.object_schema(child_top, child_extra))
            kept = min(subset.limit, _children_per_parent(model, entity, subset.child))
            child_bytes = bson_size.document_bytes(child_top)
            avg += bson_size.array_bytes(kept, child_bytes) + len(subset.field) + 2
            worst += bson_size.array_bytes(subset.limit, bson_size.document_bytes(child_top, worst=True))
            write_rate += self.plan.entities[subset.child].profile.write_rate  # each insert updates the parent
        for link in links:
            if len(link.item_fields) == 1:
                only = next(iter(link.item_fields.values()))
                items = validator.attribute_schema(only)
                item_bytes = bson_size.value_bytes(only)
            else:
                items = validator.object_schema(link.item_fields, additional=False)
                item_bytes = bson_size.document_bytes(link.item_fields)
            extra[link.field] = {"bsonType": "array", "description": link.reason, "items": items}
            relationship = next(r for r in model.relationships if r.name == link.relationship)
            avg += bson_size.array_bytes(relationship.avg_children or 3.0, item_bytes)
        schema = validator.object_schema(top, additional, extra)
        schema = {
            "bsonType": "object",
            "title": entity,
            **({"description": spec.description.strip()} if spec.description else {}),
            **{k: v for k, v in schema.items() if k != "bsonType"},
        }
        if id_attribute is not None and "required" in schema and "_id" not in schema["required"]:
            schema["required"] = ["_id", *schema["required"]]
        rows = self.plan.entities[entity].profile.rows_at_horizon
        name = collection_name(entity)
        notes = self.notes(entity, mine)
        indexes = design_indexes(self.plan, entity, name, paths, mine, links, self.warn)
        shard, indexes = choose_shard_key(self.plan, entity, paths, indexes, avg * rows, write_rate, self.warn)
        options = capped_options(model, entity)
        if options is not None and shard.sharded:
            shard = ShardDecision(False, (), "not sharded: a capped collection cannot be sharded", shard.candidates)
        if options is not None:
            indexes = self.without_ttl(entity, name, indexes)
        return CollectionSpec(
            name=name,
            entity=entity,
            id_attribute=id_attribute,
            paths=paths,
            embedded=tuple(mine),
            links=tuple(links),
            validator=validator.validator(schema, expressions),
            additional_properties=additional,
            indexes=tuple(indexes),
            shard=shard,
            avg_document_bytes=avg,
            worst_document_bytes=worst,
            documents_at_horizon=rows,
            write_rate=write_rate,
            notes=tuple(notes),
            options=options,
        )

    def without_ttl(self, entity: str, name: str, indexes: list[IndexSpec]) -> list[IndexSpec]:
        """A capped collection's indexes without expiry: MongoDB refuses a TTL index on a capped
        collection, so each TTL index becomes a plain one (it serves a scheduled purge) and PP478
        says the expiry is the application's."""
        kept: list[IndexSpec] = []
        for index in indexes:
            if index.expire_after is None:
                kept.append(index)
                continue
            field = index.keys[0][0]
            self.warn(
                "PP478",
                f"{entity}: collection {name} is capped, and MongoDB refuses a TTL index on a capped collection: the "
                f"expiry after {index.expire_after:,} s is not applied by the server; the cap bounds the collection, "
                f"and a scheduled deleteMany of the documents whose {field} is older deletes the expired ones (the "
                f"plain index {index.name} serves it)",
                f"entities.{entity}.growth",
            )
            reason = f"{index.reason}; no expiry: the collection is capped (PP478), a scheduled purge uses it"
            kept.append(replace(index, expire_after=None, reason=reason))
        return kept

    def top_level(self, entity: str) -> tuple[str | None, dict[str, str], dict[str, Attribute]]:
        """The attribute stored as _id, each attribute's top-level path, and the attributes by path."""
        attributes = all_attributes(self.model, entity)
        key = key_of(self.model.entities[entity]).attributes
        id_attribute = key[0] if len(key) == 1 else None
        paths = {name: ("_id" if name == id_attribute else name) for name in attributes}
        return id_attribute, paths, {paths[name]: attribute for name, attribute in attributes.items()}

    def notes(self, entity: str, embedded: list[Embedding]) -> list[str]:
        """What the application must do that the store does not (and the diagnostics for it)."""
        model = self.model
        found: list[str] = []
        attributes = all_attributes(model, entity)
        defaults = [name for name, a in attributes.items() if a.default is not None]
        if defaults:
            found.append(f"defaults ({', '.join(defaults)}) are set by the application: MongoDB has no column defaults")
        decimals = [name for name, a in attributes.items() if a.type is TypeName.DECIMAL]
        if decimals:
            self.warn(
                "PP402",
                f"{entity}: MongoDB stores {', '.join(decimals)} as Decimal128; the validator bounds the value "
                "but cannot enforce the declared scale, so the application rounds before writing",
                f"entities.{entity}.attributes.{decimals[0]}",
            )
            found.append(f"decimals ({', '.join(decimals)}) are Decimal128: round to the declared scale before writing")
        growth = model.entities[entity].growth
        rule = cap_of(model, entity)
        capped = capped_options(model, entity)
        if rule is not None and capped is not None:
            found.append(capped_note(rule, capped))  # setup.py creates it capped: the server keeps the cap
        elif rule is not None:
            # Not loss-tolerable: a capped collection also drops documents at its byte size, silently,
            # so the setup makes a plain collection and the capped form is stated, with the command.
            size = capped_size(rule)
            command = f'db.createCollection("{collection_name(entity)}", {{capped: true, size: {size}, max: {rule.max_records}}})'
            self.warn(
                "PP475",
                f"{entity}: {rule.describe()} is a MongoDB capped collection, which the generated setup creates only "
                f"for a loss_tolerable entity (it also drops documents silently at its byte size): create it with "
                f"{command} before the setup runs (insertion order is its order, so {rule.order} must grow with "
                f"inserts; no sharding; size from max_bytes or the record estimate), or trim with deleteMany of "
                f"{rule.order} below the {rule.max_records:,}th newest",
                f"entities.{entity}.growth.cap",
            )
            found.append(f"capped: {rule.describe()}: {command}")
        if model.entities[entity].loss_tolerable:
            self.warn(
                "PP476",
                f"{entity}: loss_tolerable: its writes may use writeConcern {{w: 1, j: false}} (acknowledged by the "
                "primary before the journal): a crash or failover loses the last writes",
                f"entities.{entity}.loss_tolerable",
            )
            found.append("loss-tolerable: writes may use writeConcern {w: 1, j: false}")
        if growth.archive_after_days:
            self.warn(
                "PP413",
                f"{entity}: archive_after_days ({growth.archive_after_days}) has no MongoDB equivalent; "
                "use Atlas Online Archive or a scheduled job that moves old documents",
                f"entities.{entity}.growth.archive_after_days",
            )
            found.append(
                f"archiving after {growth.archive_after_days} days is a scheduled job (or Atlas Online Archive)"
            )
        for relationship in model.relationships:
            if relationship.to != entity or relationship.kind is RelationshipKind.MANY_TO_MANY:
                continue
            parent_plan = self.plan.entities.get(relationship.from_)
            if parent_plan is None:
                continue
            policy = relationship.effective_on_delete
            where = "in MongoDB" if parent_plan.family is Family.DOCUMENT else f"in {parent_plan.engine}"
            if relationship.required or policy is not OnDelete.NO_ACTION:
                self.warn(
                    "PP402" if parent_plan.family is Family.DOCUMENT else "PP407",
                    f"{entity}: MongoDB does not enforce the reference {relationship.name} to {relationship.from_} "
                    f"({where}); the application checks the parent exists on write and applies on_delete "
                    f"{policy.value} when the parent is deleted",
                    f"relationships.{model.relationships.index(relationship)}",
                )
                found.append(
                    f"reference {relationship.name} → {relationship.from_} ({where}) is enforced by the application: "
                    f"parent must exist on write; on delete of the parent: {policy.value}"
                )
        for embedding in embedded:
            found.append(
                f"{embedding.child} lives inside {embedding.field}: insert with $push, delete with $pull, change one "
                f"with arrayFilters; a write to the parent and its parts is a single-document, atomic write"
            )
        for transaction in model.transactions:
            if entity not in transaction.entities:
                continue
            inside = {entity} | {e.child for e in embedded}
            others = [e for e in transaction.entities if e not in inside]
            if not others:
                found.append(f"transaction {transaction.name} is a single-document write (its entities are embedded)")
            else:
                found.append(
                    f"transaction {transaction.name} spans {', '.join(transaction.entities)}: a multi-document "
                    "transaction (replica set or sharded cluster required), or keep them in one document"
                )
        return found


def design(plan: Plan) -> DocumentDesign:
    """The MongoDB design for every entity whose system of record is the document family."""
    designer = _Designer(plan)
    embeddings = designer.embeddings()
    embedded_children = {e.child for e in embeddings if e.embedded}
    designer.subsets = subsets(plan, embedded_children)
    collections = [
        designer.collection(entity, embeddings) for entity in designer.entities if entity not in embedded_children
    ]
    queries, notes = design_queries(plan, collections, embeddings)
    queries = [with_lookups(plan, _with_subsets(q, designer.subsets), collections) for q in queries]
    return DocumentDesign(
        model=plan.model.name,
        collections=tuple(collections),
        queries=tuple(queries),
        embeddings=tuple(embeddings),
        diagnostics=tuple(designer.diagnostics + notes),
        subsets=tuple(designer.subsets),
    )


def _children_per_parent(model: RequirementsModel, parent: str, child: str) -> float:
    """The average number of `child` records per `parent` (sizing a subset array)."""
    relationship = child_relationship(model, parent, child)
    if relationship is not None and relationship.avg_children is not None:
        return relationship.avg_children
    parents = max(1, model.entities[parent].growth.initial_rows)
    return model.entities[child].growth.initial_rows / parents


def _with_subsets(query: QuerySpec, found: list[Subset]) -> QuerySpec:
    """A parent pattern's query, saying which of its bounded loads come with the parent."""
    kept = [s for s in found if f"{query.pattern}{LOAD_MARK}{snake(s.child)}" in s.loads]
    if not kept:
        return query
    notes = [
        f"{s.describe()} come with each {s.parent} document in {s.field} (subset pattern): no second query; "
        f"the query of {query.pattern}{LOAD_MARK}{snake(s.child)} serves a document whose array is missing"
        for s in kept
    ]
    return replace(query, embedded=(*query.embedded, *(s.field for s in kept)), notes=(*query.notes, *notes))
