"""Relationship paths in relational stores: joins along the foreign keys (model/paths.py).

`bids_ending_after` (Bid, `item.end_date gt`) becomes

    SELECT bid.* FROM bid JOIN item AS item ON item.id = bid.item_id
    WHERE item.end_date > :item_end_date_above ORDER BY item.end_date

An inner join: a row whose reference is NULL has no value on the path, and SQL's comparison with
NULL fails, so it is never selected (the oracle of the generated tests agrees). The index design
serves the join (`path_legs`) from the pattern's own table when one of its own filters is an
equality parameter (it bounds the rows; each parent is then probed by its primary key), and otherwise from
the parent's side: the parent's filter columns with its key covered, then each child's reference
(the foreign key) with the child's own filters, so the engine can drive from the parents that
match to their children. The leg on the pattern's own table is routed under the pattern's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from polyplan.model.derived import key_of
from polyplan.model.paths import Path, PathRead, is_path
from polyplan.model.schema import AccessPattern, Filter, FilterOp, RequirementsModel
from polyplan.plan.aggregates import value_name
from polyplan.stores.relational.aggregates import aggregate_value
from polyplan.stores.relational.render import (
    DIALECTS,
    Rendered,
    column_for,
    compiled_text,
    filter_conditions,
    query_columns,
    where_clause,
)
from polyplan.stores.relational.spec import Query, QueryParam, TableSpec

LEG = "__via_"


def _chain(path: Path, depth: int) -> str:
    """The first `depth` segments of the path as written (`item.seller`): an alias key."""
    return ".".join(hop.name for hop in path.hops[:depth])


def _alias_name(chain: str, taken: set[str]) -> str:
    base = chain.replace(".", "_")
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name)
    return name


def _joined(
    read: PathRead, by_entity: Mapping[str, TableSpec], metadata: sa.MetaData
) -> tuple[Any, dict[str, Any]] | str:
    """The FROM clause (the pattern's table joined along every path) and the table alias per hop
    chain, or why the paths cannot be joined here."""
    root_spec = by_entity[read.pattern.entity]
    root = metadata.tables[root_spec.name]
    joined: Any = root
    aliases: dict[str, Any] = {"": root}
    taken = {root.name}  # another table may keep its own name as its alias
    for path in (*read.paths, *read.reads):
        for depth, hop in enumerate(path.hops, start=1):
            chain = _chain(path, depth)
            if chain in aliases:
                continue
            spec = by_entity.get(hop.target)
            if spec is None:
                return f"its path {path.text} reaches {hop.target}, which is not stored in this database"
            source_spec = by_entity[hop.source]
            pairs: list[tuple[str, str]] = []
            for source_attr, target_attr in hop.pairs:
                left = column_for(source_spec, hop.source, source_attr)
                right = column_for(spec, hop.target, target_attr)
                if left is None or right is None:
                    return f"its path {path.text} joins on {source_attr}, which has no column"
                pairs.append((left, right))
            alias = metadata.tables[spec.name].alias(_alias_name(chain, taken))
            source = aliases[_chain(path, depth - 1)]
            on = [source.c[left] == alias.c[right] for left, right in pairs]
            joined = joined.join(alias, sa.and_(*on))
            aliases[chain] = alias
    return joined, aliases


def path_query(
    read: PathRead, by_entity: Mapping[str, TableSpec], rendered: Rendered, notes: tuple[str, ...]
) -> Query | str:
    """The joined SELECT of a pattern with paths, or the reason it cannot be written here."""
    pattern = read.pattern
    spec = by_entity[pattern.entity]
    own = [name for name in pattern.reads if not is_path(name)]
    # Only related fields read: the row is just those (a pattern reading nothing of its own).
    columns = query_columns(pattern.model_copy(update={"reads": own}), spec) if own or not read.reads else []
    if columns is None:
        return "it reads an attribute stored in another table"
    dialect = DIALECTS[rendered.engine]
    found = _joined_where(read, by_entity, rendered)
    if isinstance(found, str):
        return found
    joined, aliases, params, expressions = found
    root = aliases[""]
    selected = [root.c[c] for c in columns]
    for field in read.reads:  # related fields joined at read time (plan/related_reads.py)
        reached = column_for(by_entity[field.target], field.target, field.attribute)
        if reached is None:
            return f"it reads {field.text}, which has no column"
        selected.append(aliases[_chain(field, len(field.hops))].c[reached].label(field.slug))
    columns = [*columns, *(field.slug for field in read.reads)]
    statement = sa.select(*selected).select_from(joined).where(*expressions)
    for item, path in read.sort:
        if path is None:
            column, table = column_for(spec, pattern.entity, item.attribute), root
        else:
            column = column_for(by_entity[path.target], path.target, path.attribute)
            table = aliases[_chain(path, len(path.hops))]
        if column is None:
            return f"it sorts on {item.attribute}, which has no column"
        statement = statement.order_by(table.c[column].desc() if item.direction.value == "desc" else table.c[column])
    if pattern.limit is not None:
        statement = statement.limit(pattern.limit)
    sql = compiled_text(statement, dialect, {p.name for p in params})
    return Query(
        pattern.name, pattern.entity, spec.name, tuple(columns), tuple(params), sql, (*notes, _joins_note(read))
    )


def _joined_where(
    read: PathRead, by_entity: Mapping[str, TableSpec], rendered: Rendered
) -> tuple[Any, dict[str, Any], list[QueryParam], list[Any]] | str:
    """The FROM clause joined along the paths, the alias per hop chain, and the WHERE of the
    pattern's filters (parameters and conditions), or why they cannot be written here."""
    found = _joined(read, by_entity, rendered.metadata)
    if isinstance(found, str):
        return found
    joined, aliases = found
    where = _where(read, by_entity, aliases, DIALECTS[rendered.engine])
    if isinstance(where, str):
        return where
    return joined, aliases, *where


def _joins_note(read: PathRead) -> str:
    followed = {p.text: p for p in (*read.paths, *read.reads)}.values()
    joins = ", ".join(f"{p.text} through {' → '.join(h.relationship for h in p.hops)}" for p in followed)
    return f"joins along the foreign keys: {joins}"


def _where(
    read: PathRead, by_entity: Mapping[str, TableSpec], aliases: Mapping[str, Any], dialect: Any
) -> tuple[list[QueryParam], list[Any]] | str:
    """The parameters and WHERE conditions of the pattern's filters, each on its table's alias."""
    pattern = read.pattern
    spec = by_entity[pattern.entity]
    root = aliases[""]
    taken: set[str] = set()
    params: list[QueryParam] = []
    expressions: list[Any] = []
    for flt, path in read.filters:
        if path is None:
            built = filter_conditions([flt], pattern.entity, spec, taken)
            table = root
        else:
            target = by_entity[path.target]
            column = column_for(target, path.target, path.attribute)
            if column is None:
                return f"its path {path.text} reaches an attribute with no column"
            built = filter_conditions([flt], path.target, target, taken, {flt.attribute: column})
            table = aliases[_chain(path, len(path.hops))]
        if isinstance(built, str):
            return built
        found_params, conditions = built
        params += [QueryParam(p.name, path.text, p.op) if path is not None else p for p in found_params]
        expressions += where_clause(conditions, table, dialect)
    return params, expressions


def group_label(name: str, path: Path | None) -> str:
    """The result column of a group: the attribute's own name, or the path's slug (`customer_region`)."""
    return path.slug if path is not None else name


def aggregate_path_query(
    read: PathRead, by_entity: Mapping[str, TableSpec], rendered: Rendered, notes: tuple[str, ...]
) -> Query | str:
    """The GROUP BY query of an aggregate that filters or groups through relationships:
    `SELECT customer.region AS customer_region, avg("order".total) AS avg_total FROM "order" JOIN
    customer AS customer ON … WHERE … GROUP BY customer.region`, or why it cannot be written here."""
    pattern = read.pattern
    aggregate = pattern.aggregate
    assert aggregate is not None
    spec = by_entity[pattern.entity]
    dialect = DIALECTS[rendered.engine]
    found = _joined_where(read, by_entity, rendered)
    if isinstance(found, str):
        return found
    joined, aliases, params, expressions = found
    root = aliases[""]
    groups: dict[str, Any] = {}  # group_by name → its column on its table's alias
    for name, path in read.groups:
        target, entity, attribute = (
            (spec, pattern.entity, name)
            if path is None
            else (
                by_entity[path.target],
                path.target,
                path.attribute,
            )
        )
        column = column_for(target, entity, attribute)
        if column is None:
            return f"it groups by {name}, which has no column"
        table = root if path is None else aliases[_chain(path, len(path.hops))]
        groups[name] = table.c[column]
    value = column_for(spec, pattern.entity, aggregate.attribute) if aggregate.attribute else None
    if aggregate.attribute is not None and value is None:
        return "it aggregates an attribute stored in another table"
    measured = aggregate_value(aggregate.function, root.c[value] if value is not None else None)
    labels = [group_label(name, path) for name, path in read.groups]
    selected = [column.label(label) for column, label in zip(groups.values(), labels, strict=True)]
    statement = sa.select(*selected, measured.label(value_name(pattern))).select_from(joined).where(*expressions)
    statement = statement.group_by(*groups.values())
    for item in pattern.sort:  # an aggregate sorts by its groups only (PP323)
        column = groups[item.attribute]
        statement = statement.order_by(column.desc() if item.direction.value == "desc" else column.asc())
    if pattern.limit is not None:
        statement = statement.limit(pattern.limit)
    sql = compiled_text(statement, dialect, {p.name for p in params})
    columns = (*labels, value_name(pattern))
    return Query(pattern.name, pattern.entity, spec.name, columns, tuple(params), sql, (*notes, _joins_note(read)))


def _eq(attributes: Sequence[str]) -> list[Filter]:
    return [Filter(attribute=a, op=FilterOp.EQ) for a in attributes]


def _root_aggregate(read: PathRead) -> dict[str, Any]:
    """For an aggregate grouped through a relationship, the pattern's own table groups by the
    reference its first hop joins on (each parent is then probed by its primary key): the index
    covers that reference beside the value, with no row visit. Empty when every group is local."""
    aggregate = read.pattern.aggregate
    if aggregate is None or all(path is None for _, path in read.groups):
        return {}
    groups = [name for name, path in read.groups if path is None]
    for _, path in read.groups:
        if path is not None:
            groups += [a for a, _ in path.hops[0].pairs if a not in groups]
    return {"aggregate": aggregate.model_copy(update={"group_by": groups})}


def path_legs(model: RequirementsModel, read: PathRead) -> list[AccessPattern]:
    """What the index design serves for a pattern with paths, as reads of one table each: per
    entity on a filtering path, its filters there plus the reference to the next entity toward
    the filter (the foreign key the engine probes), reading the key it joins on; the pattern's own
    table last, under the pattern's name (its local filters plus the first references)."""
    pattern = read.pattern
    sorted_by_path = any(path is not None for _, path in read.sort)
    own = [f for f, path in read.filters if path is None]
    # Related fields read come from the parents' rows (found by key): this leg reads its own
    # columns and the references the joins start from (model/paths.PathRead.local).
    own_reads = read.local().reads
    if any(f.op in (FilterOp.EQ, FilterOp.IN) and "value" not in f.model_fields_set for f in own):
        # An equality parameter on the pattern's own table (a key, a reference: a constant may
        # hold most rows) bounds the rows: the engine drives from it and
        # probes each parent by its key (the primary key serves that), so only this leg is designed.
        local = {
            "filters": own,
            "sort": [] if sorted_by_path else pattern.sort,
            "reads": own_reads,
            **_root_aggregate(read),
        }
        return [pattern.model_copy(update={**local, "limit": None if sorted_by_path else pattern.limit})]
    # chain → (entity, filters ending there, references it is probed by, attributes read)
    nodes: dict[str, tuple[str, list[Filter], list[str], list[str]]] = {"": (pattern.entity, [], [], [])}
    for flt, path in read.filters:
        if path is None:
            nodes[""][1].append(flt)
            continue
        for depth, hop in enumerate(path.hops, start=1):
            chain = _chain(path, depth)
            node = nodes.setdefault(chain, (hop.target, [], [], []))
            source = nodes[_chain(path, depth - 1)]
            for source_attr, target_attr in hop.pairs:
                if source_attr not in source[2]:
                    source[2].append(source_attr)
                if target_attr not in node[3]:
                    node[3].append(target_attr)
        nodes[_chain(path, len(path.hops))][1].append(flt.model_copy(update={"attribute": path.attribute}))
    legs: list[AccessPattern] = []
    for chain, (entity, filters, probes, reads) in sorted(nodes.items(), key=lambda item: -item[0].count(".")):
        if not chain:
            continue
        legs.append(
            AccessPattern(
                name=f"{pattern.name}{LEG}{chain.replace('.', '_')}",
                entity=entity,
                filters=[*filters, *_eq(probes)],
                reads=list(dict.fromkeys([*reads, *key_of(model.entities[entity]).attributes])),
                rate=pattern.rate,
                latency_ms=pattern.latency_ms,
            )
        )
    root = nodes[""]
    legs.append(
        pattern.model_copy(
            update={
                "filters": [*root[1], *_eq(root[2])],
                "sort": [] if sorted_by_path else pattern.sort,
                "reads": own_reads,
                "limit": None if sorted_by_path else pattern.limit,
                **_root_aggregate(read),
            }
        )
    )
    return legs
