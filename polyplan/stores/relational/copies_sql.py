"""Copies of related fields kept on write: `relational/<engine>/copies.sql` (plan/related_reads.py).

A related field the planner copies (`Bid.item_title`, the `item.title` a read returns) is kept in
step by the application's write set, not by a trigger: the write that changes the parent's
attribute runs, in its own transaction, the statement that rewrites its children's copies. That
keeps the cost where the plan counted it (the fan-out of each parent change), visible in the
application's code, and the same on every engine. The file holds, per copy:

- `<table>_<column>__backfill`: every row's copy from its parent (after a bulk load, or once
  when the copy is added to an existing table);
- `<table>_<column>__after_<write>`: for each write that changes the attribute (or a reference on
  the way), the copies of the rows below the changed record, bound by its key;
- `<table>_<column>__on_write`: one row's copy, after inserting it or changing its reference.

Each is one `UPDATE … SET column = (SELECT parent.attribute …)`, a correlated subquery along the
path's foreign keys, which every engine runs (MariaDB too: the subquery reads other tables).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from polyplan.model.derived import key_of
from polyplan.model.paths import Path, copies_of
from polyplan.model.schema import RequirementsModel
from polyplan.plan.related_reads import changing_writes
from polyplan.stores.relational.render import DIALECTS, column_for, header
from polyplan.stores.relational.spec import TableKind, TableSpec


@dataclass(frozen=True)
class CopyStatement:
    """One named statement of copies.sql, with what runs it and the parameters it binds."""

    name: str
    when: str
    params: tuple[tuple[str, str], ...]  # (parameter, the column it is compared with)
    sql: str


def _columns(spec: TableSpec, entity: str, attributes: Sequence[str]) -> list[str] | None:
    found = [column_for(spec, entity, a) for a in attributes]
    return None if None in found else [c for c in found if c is not None]


def _statements(
    model: RequirementsModel, entity: str, name: str, path: Path, by_entity: Mapping[str, TableSpec], dialect: Any
) -> list[CopyStatement]:
    """The statements keeping one copy, or none when an entity on the path is not stored here."""
    specs = [by_entity.get(entity), *(by_entity.get(hop.target) for hop in path.hops)]
    if any(spec is None for spec in specs):
        return []
    root_spec = by_entity[entity]
    column = column_for(root_spec, entity, name)
    metadata = sa.MetaData()
    tables = [
        sa.Table(spec.name, metadata, *(sa.Column(c.name) for c in spec.columns)) for spec in specs if spec is not None
    ]
    root = tables[0]
    # The value: the last table's column, joined hop by hop from the first parent, which is
    # correlated with the updated row.
    conditions: list[Any] = []
    for index, hop in enumerate(path.hops):
        source_spec, target_spec = by_entity[hop.source], by_entity[hop.target]
        left = _columns(source_spec, hop.source, [a for a, _ in hop.pairs])
        right = _columns(target_spec, hop.target, [b for _, b in hop.pairs])
        if left is None or right is None or column is None:
            return []
        conditions.append(
            sa.and_(*(tables[index].c[a] == tables[index + 1].c[b] for a, b in zip(left, right, strict=True)))
        )
    reached = column_for(by_entity[path.target], path.target, path.attribute)
    if reached is None or column is None:
        return []
    joined: Any = tables[1]
    for index in range(2, len(tables)):
        joined = joined.join(tables[index], conditions[index - 1])
    value = sa.select(tables[-1].c[reached]).select_from(joined).where(conditions[0]).scalar_subquery()
    slug = f"{root.name}_{column}"

    def compiled(statement: Any) -> str:
        # SQLAlchemy breaks a subquery's clauses onto lines ending in a space: keep the lines, not the spaces.
        return re.sub(r" +\n", "\n", str(statement.compile(dialect=dialect.sa_dialect())).strip())

    update = sa.update(root).values({column: value})
    found = [
        CopyStatement(f"{slug}__backfill", "after a bulk load, or once when the copy is added", (), compiled(update))
    ]
    for index, hop in enumerate(path.hops):
        last = index == len(path.hops) - 1
        changed = {path.attribute} if last else {a for a, _ in path.hops[index + 1].pairs}
        writes = changing_writes(model, hop.target, changed)
        if not writes:
            continue
        target_spec = by_entity[hop.target]
        keys = _columns(target_spec, hop.target, key_of(model.entities[hop.target]).attributes)
        if keys is None:
            continue
        target = tables[index + 1]
        params = tuple((f"{hop.target.lower()}_{k}", k) for k in keys)
        bound = sa.and_(*(target.c[k] == sa.bindparam(p) for p, k in params))
        below: Any = tables[1]
        for step in range(2, index + 2):
            below = below.join(tables[step], conditions[step - 1])
        where: Any = sa.exists(sa.select(sa.literal_column("1")).select_from(below).where(conditions[0], bound))
        if index == 0:
            # The first parent: its children are found by their reference (the foreign key's index).
            left = _columns(root_spec, entity, [a for a, _ in hop.pairs]) or []
            right = _columns(target_spec, hop.target, [b for _, b in hop.pairs]) or []
            by_key = dict(params[i][::-1] for i in range(len(params)))
            where = sa.and_(*(root.c[a] == sa.bindparam(by_key[b]) for a, b in zip(left, right, strict=True)))
        for write, _ in writes:
            found.append(
                CopyStatement(
                    f"{slug}__after_{write}",
                    f"in the transaction of {hop.target}.{write}, after it: the rows below the {hop.target} it changed",
                    params,
                    compiled(update.where(where)),
                )
            )
    own = _columns(root_spec, entity, key_of(model.entities[entity]).attributes)
    if own is not None:
        params = tuple((k, k) for k in own)
        mine = sa.and_(*(root.c[k] == sa.bindparam(p) for p, k in params))
        found.append(
            CopyStatement(
                f"{slug}__on_write",
                f"after inserting a {entity} or changing its reference: that row's copy",
                params,
                compiled(update.where(mine)),
            )
        )
    return found


def copy_statements(model: RequirementsModel, tables: Sequence[TableSpec], engine: str) -> list[CopyStatement]:
    """Every statement that keeps the planning model's copies, in (entity, attribute) order."""
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    found: list[CopyStatement] = []
    for (entity, name), path in sorted(copies_of(model).items()):
        found += _statements(model, entity, name, path, by_entity, DIALECTS[engine])
    return found


def render_copies_sql(model: RequirementsModel, tables: Sequence[TableSpec], engine: str) -> str | None:
    """copies.sql for one engine, or None when no copy is kept in this store."""
    statements = copy_statements(model, tables, engine)
    if not statements:
        return None
    lines = [header(model, "Copies of related fields, kept by the application's writes", engine)]
    lines.append("-- Parameters are named (:name); '-- param :name  column' says what each one binds.\n")
    for statement in statements:
        lines.append(f"-- name: {statement.name}")
        lines.append(f"-- run: {statement.when}")
        lines += [f"-- param :{param}  {column}" for param, column in statement.params]
        lines.append(f"{statement.sql};\n")
    return "\n".join(lines)
