"""A parent's write paths in the scaffold: the copies.sql blocks and the keys.json paths with
`children` that a relational parent's write runs (pure; the code they run is
`cache_parents_runtime.py`, carried into the package).

Before, the scaffold's write of a parent (`extend_item`, `retitle_item`) wrote the parent's row
only: the children's copies stayed old and their cached answers, holding the joined or copied
field, stayed until their TTL. Now the write function runs, in its transaction, each copies.sql
`<table>_<column>__after_<write>` statement, and after the commit each write path keys.json gives
it, as keys.json says (the children query, then DEL or the field set while cached).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pprint import pformat

from polyplan.model.derived import key_of
from polyplan.model.paths import copies_of
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.scaffold.cache_parents_runtime import CopyStep, ParentPath
from polyplan.stores.relational.render import column_for
from polyplan.stores.relational.spec import TableSpec

RUNTIME = "cache_parents_runtime"


@dataclass(frozen=True)
class ParentWrite:
    """What one write function runs beyond its row: copies in its transaction, paths after it."""

    write: str
    copies: tuple[CopyStep, ...]
    paths: tuple[ParentPath, ...]


def design_parents(
    plan: Plan,
    tables: Sequence[TableSpec],
    engines: Sequence[str],
    cached_reads: Mapping[str, tuple[bool, tuple[tuple[str, str], ...], tuple[str, ...]]],
    simple: Sequence[str],
    planned: Sequence[str],
    fed: frozenset[str] = frozenset(),
) -> tuple[tuple[ParentWrite, ...], list[tuple[str, str]]]:
    """The copies and parent paths of each scaffolded write (`simple`: the writes.py functions that
    write one row by key), and (model path, why) for each the package does not run: a write run
    from writes.sql (`planned`), or a cached answer whose key the children query cannot fill.

    `cached_reads`: key template → (single answer, its columns' (name, kind), its template's
    attributes) of each pattern the package reads through the cache. `fed`: the entities a search
    index is relayed from (a copy rewritten in one adds no outbox event, so the index keeps the
    old copy: PP812; the cached answers holding it are dropped by the write's paths).
    """
    from polyplan.stores.relational.copies_sql import copy_statements
    from polyplan.stores.relational.spec import TableKind

    model = plan.model
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    positions = {w.name: i for i, w in enumerate(model.write_patterns)}
    unrun: list[tuple[str, str]] = []
    copies: dict[str, list[CopyStep]] = {}
    statements = {e: {s.name: s for s in copy_statements(model, tables, e)} for e in engines}
    # copies.sql names a copy's statements `<table>_<column>__…`: which entity's rows each rewrites.
    rewritten = {
        f"{by_entity[entity].name}_{column_for(by_entity[entity], entity, name)}": entity
        for entity, name in copies_of(model)
        if entity in by_entity
    }
    for write in model.write_patterns:
        suffix = f"__after_{write.name}"
        names = sorted(n for n in statements[engines[0]] if n.endswith(suffix)) if engines else []
        if not names:
            continue
        if write.name in planned:
            unrun.append((f"write_patterns.{positions[write.name]}", f"its copies.sql blocks ({', '.join(names)})"))
            continue
        if write.name not in simple:
            continue
        spec = by_entity[write.entity]
        projected = sorted({rewritten[n.split("__")[0]] for n in names if rewritten.get(n.split("__")[0]) in fed})
        if projected:
            unrun.append(
                (
                    f"write_patterns.{positions[write.name]}",
                    f"its copies.sql blocks rewrite {', '.join(projected)} rows without outbox events, so "
                    "their search documents keep the old copies",
                )
            )
        for name in names:
            first = statements[engines[0]][name]
            params = tuple((p, column, _kind(spec, column)) for p, column in first.params)
            copies.setdefault(write.name, []).append(
                CopyStep(name, {e: statements[e][name].sql for e in engines}, params)
            )
    paths: dict[str, list[ParentPath]] = {}
    if plan.projections_in(Family.CACHE):
        from polyplan.stores.cache.design import design as cache_design

        cache = cache_design(plan)
        families = {k.name: k for k in cache.keys}
        for path in cache.writes:
            children = path.children
            if children is None:
                continue
            template = families[path.keys[0]].template
            found = cached_reads.get(template.render())
            if found is None:  # the package never fills these answers (the pattern is read uncached)
                continue
            where = f"write_patterns.{positions[path.write]}"
            if path.write in planned:
                unrun.append((where, f"its write path to {path.keys[0]} (keys.json)"))
                continue
            if path.write not in simple:
                continue
            single, columns, attributes = found
            parent, child = by_entity[path.entity], by_entity[children.entity]
            child_key = list(key_of(model.entities[children.entity]).attributes)
            kinds = dict(columns)
            missing = [a for a in attributes if a not in child_key]
            if missing or children.field not in kinds:
                why = f"its key's {', '.join(missing)}" if missing else f"no field {children.field}"
                unrun.append((where, f"its write path to {path.keys[0]}: {why} in the package's answer"))
                continue
            value_column = column_for(parent, path.entity, children.attribute) or children.attribute
            bound: list[tuple[str, str, str]] = []
            for _, parent_attribute in children.reference:
                column = column_for(parent, path.entity, parent_attribute) or parent_attribute
                bound.append((parent_attribute, column, _kind(parent, column)))
            listed = tuple((a, _kind(child, column_for(child, children.entity, a) or a)) for a in child_key)
            parts = tuple((a, a, dict(listed)[a]) for a in attributes)
            paths.setdefault(path.write, []).append(
                ParentPath(
                    path.keys[0],
                    children.query,
                    tuple(bound),
                    listed,
                    template.render(),
                    parts,
                    # A list answer has no field to set: it is dropped (set_field does the same).
                    children.upkeep if single else "invalidate",
                    children.field,
                    (value_column, kinds[children.field]),
                )
            )
    designed = tuple(
        ParentWrite(name, tuple(copies.get(name, ())), tuple(paths.get(name, ())))
        for name in simple
        if name in copies or name in paths
    )
    return designed, unrun


def _kind(spec: TableSpec, column: str) -> str:
    from polyplan.scaffold.names import _kind as kind_of

    return kind_of(spec, column)


def render_parents(package: str, model: str, header: str, parents: Sequence[ParentWrite]) -> str:
    """`<package>/parents.py`: per write, its copies and parent paths, and the two calls its
    function makes (`after_write` in its transaction, `after_commit` after it)."""
    copies = {p.write: p.copies for p in parents if p.copies}
    paths = {p.write: p.paths for p in parents if p.paths}
    body = (
        "# Per write: the copies.sql `__after_<write>` statements run in its transaction.\n"
        f"COPIES: dict[str, tuple[CopyStep, ...]] = {pformat(copies, width=110, sort_dicts=False)}\n\n"
        "# Per write: keys.json's write paths with `children`, run after its commit.\n"
        f"PATHS: dict[str, tuple[ParentPath, ...]] = {pformat(paths, width=110, sort_dicts=False)}\n\n\n"
        "def after_write(connection: sa.Connection, engine: str, write: str, row: Any) -> None:\n"
        '    """In the write\'s transaction, after its statement: rewrite the children\'s copies of the\n'
        '    written parent `row` (a row dataclass, or None when nothing was written)."""\n'
        "    if row is not None:\n"
        "        run_copies(connection, engine, COPIES.get(write, ()), row.as_dict())\n\n\n"
        "def after_commit(stores: Stores, write: str, row: Any) -> int:\n"
        '    """After the commit: drop or change the children\'s cached answers holding the parent\'s\n'
        '    field, as keys.json\'s write paths say (nothing without a cache)."""\n'
        "    if row is None:\n"
        "        return 0\n"
        "    return follow_parent(stores.database, stores.cache, stores.key, PATHS.get(write, ()), row.as_dict())\n"
    )
    from polyplan.scaffold.module_text import _from_import  # isort's line breaking, as every module has it

    imports = (
        "from typing import Any\n\n"
        "import sqlalchemy as sa\n\n"
        + _from_import(f"{package}.{RUNTIME}", ["CopyStep", "ParentPath", "follow_parent", "run_copies"])
        + f"\nfrom {package}.settings import Stores\n"
    )
    return (
        '"""A parent\'s writes: the children\'s copies (copies.sql) and cached answers (keys.json)."""\n\n'
        + header
        + "\nfrom __future__ import annotations\n\n"
        + imports
        + "\n"
        + body
    )


def runtime_code(package: str) -> str:
    """cache_parents_runtime.py's code, importing the package's runtime in place of polyplan's."""
    from polyplan.emit.embed import module_code

    return module_code("polyplan.scaffold", f"{RUNTIME}.py").replace(
        "from polyplan.scaffold.runtime import", f"from {package}.runtime import"
    )
