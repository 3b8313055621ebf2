"""The search projection of a scaffolded package (pure): each planned index the package keeps from
the outbox, with its fields' source columns, and each access pattern the plan serves from an index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from polyplan.model.schema import COLLECTION_TYPES, Attribute, Family
from polyplan.plan.ir import Plan
from polyplan.scaffold.design_types import Column, Param, ResultClass, SearchRead, SearchSpec
from polyplan.scaffold.names import _kind, _kind_of, class_name, identifiers
from polyplan.stores.relational.render import column_for
from polyplan.stores.relational.spec import TableSpec


def _search(
    plan: Plan,
    by_entity: Mapping[str, TableSpec],
    relational: Sequence[str],
    skipped: list[tuple[str, str]],
    documents: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[str | None, tuple[SearchSpec, ...], tuple[SearchRead, ...]]:
    """The search indexes the relay keeps (those projected from a scaffolded relational entity) and
    a read per pattern they serve, from the plan's search design (the same mappings and templates
    as <engine>/*.json)."""
    if not plan.projections_in(Family.SEARCH):
        return None, (), ()
    from polyplan.model.derived import all_attributes, pattern_positions
    from polyplan.stores.search.design import design_search
    from polyplan.stores.search.queries import template_source

    design = design_search(plan)
    positions = pattern_positions(plan.model)
    indexes: list[SearchSpec] = []
    search_reads: list[SearchRead] = []
    documents = documents or {}
    for index in design.indexes:
        if index.projection is None or (index.entity not in relational and index.entity not in documents):
            where = "it holds the only copy" if index.projection is None else f"{index.entity} is not scaffolded"
            skipped.extend(
                (f"access_patterns.{positions[p]}", f"its search index is not relayed: {where}") for p in index.patterns
            )
            continue
        attributes = all_attributes(plan.model, index.entity)
        fields: list[tuple[str, tuple[tuple[str, str, str], ...]]] = []
        if index.entity in documents:  # the relay's row holds each attribute under its own name
            kinds = documents[index.entity]
            fields = [(a, (("", a, kinds[a]),)) for a in index.fields if a in kinds]
            doc_id: tuple[str, ...] = tuple(index.doc_id)
        else:
            spec = by_entity[index.entity]
            for attribute in index.fields:
                parts = tuple(
                    (c.source.removeprefix(f"{index.entity}.{attribute}").lstrip("."), c.name, _kind(spec, c.name))
                    for c in spec.columns
                    if c.source == f"{index.entity}.{attribute}" or c.source.startswith(f"{index.entity}.{attribute}.")
                )
                fields.append((attribute, parts))
            doc_id = tuple(column_for(spec, index.entity, a) or a for a in index.doc_id)
        settings = {k: v for k, v in index.settings["index"].items() if k not in ("lifecycle", "plugins")}
        body = {
            "mappings": {"dynamic": "strict", "properties": index.properties},
            "settings": {"index": settings, **{k: v for k, v in index.settings.items() if k != "index"}},
        }
        expiry = None if index.expiry_field is None else (index.expiry_field, index.expiry_seconds or 0)
        indexes.append(SearchSpec(index.entity, index.alias, index.first_index, doc_id, tuple(fields), body, expiry))
        for query in index.queries:
            names = ["doc_id", "score", *(query.body.get("_source", {}).get("includes") or index.fields)]
            idents = identifiers(names)
            hit = ResultClass(
                class_name(query.pattern) + "Hit",
                index.entity,
                tuple(
                    Column(name, _kind_of(attributes[name]), attributes[name].nullable, ident)
                    for name, ident in zip(names[2:], idents[2:], strict=True)
                ),
            )
            params = tuple(Param(p.name, _search_kind(attributes[p.attribute], p.op), p.op) for p in query.params)
            pattern = plan.model.access_patterns[positions[query.pattern]]
            search_reads.append(
                SearchRead(
                    query.pattern,
                    index.entity,
                    index.alias,
                    hit,
                    params,
                    template_source(query.body),
                    query.size,
                    tuple(pattern.facets),
                )
            )
    return design.engine.name, tuple(indexes), tuple(search_reads)


def _search_kind(attribute: Attribute, op: str) -> str:
    """A search parameter's model type: text for full text and prefixes, a number for geometry, an
    element's type for a collection."""
    if op in ("fulltext", "prefix"):
        return "string"
    if op.startswith(("near_", "box_")):
        return "float"
    if attribute.type in COLLECTION_TYPES and attribute.items is not None:
        return _kind_of(attribute.items)
    return _kind_of(attribute)
