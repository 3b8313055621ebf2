"""How many rows the generated index proofs load, and in which order (pure: design → numbers).

Enough rows that each engine's planner prefers an index to a scan, few enough for a few seconds
per engine; append-only tables are loaded in time order, as their rows arrive. Part of the
generated index proofs (index_testgen.py has the whole).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.seed.discriminating import discriminating_rows, grow_parents, spare_parents
from polyplan.seed.generate import feasible_rows, rows_for_scale
from polyplan.stores.relational.index_load import PAGE_BYTES, heap_row_bytes
from polyplan.stores.relational.spec import IndexKind, TableKind, TableSpec

# Seed size: the largest relational entity gets TARGET_ROWS, every entity a proof reads at least
# MIN_ROWS. Enough that each planner prefers an index to a scan, small enough for a few seconds
# per engine.
TARGET_ROWS = 20_000
MIN_ROWS = 3_000
# Largest share of an entity's proof rows that its hot groups holding a pattern's constants may
# take: the design sizes a constant at one over the column's distinct values, and a LIMIT 500
# group of 1,010 records (half of them with the constant) in 3,000 rows made it 13 % (fuzz9pg's
# model 23, where PostgreSQL rightly scanned).
MAX_CONSTANT_GROUP_SHARE = 0.05
# A parent whose reference a proof binds alone gets MIN_ROWS when its proportion leaves it fewer
# rows than this: each of its groups would hold over MAX_CONSTANT_GROUP_SHARE of its children.
FEW_PARENTS = math.ceil(1 / MAX_CONSTANT_GROUP_SHARE)
# A BRIN summarises each BRIN_PAGES_PER_RANGE heap pages (PostgreSQL's default `pages_per_range`,
# which the DDL keeps): a proof table of fewer pages is one range, which no range read can skip,
# so PostgreSQL rightly scans it (fuzz model 863: 3,000 Items in ≈ 40 pages, their proportion of
# the model's initial rows, for a BRIN designed at 90 million). A table a BRIN proof reads gets
# rows for BRIN_PROOF_RANGES ranges at the design's row width, at most MAX_BRIN_ROWS.
BRIN_PAGES_PER_RANGE = 128
BRIN_PROOF_RANGES = 4
MAX_BRIN_ROWS = 5 * TARGET_ROWS


def seed_rows(
    plan: Plan,
    proved: Collection[str] | None = None,
    target: int = TARGET_ROWS,
    minimum: int = MIN_ROWS,
    floors: Mapping[str, int] | None = None,
    parents: Collection[str] = (),
) -> dict[str, int]:
    """Seed counts: the largest relational entity gets `target` rows, the others the model's
    proportion of them; `proved` entities (those an EXPLAIN proof reads; all when None) and those
    whose size the model does not give get at least `minimum`, and an entity in `floors` at least
    its count there (`brin_rows`). An entity in `parents` (`reference_parents`) left fewer than
    FEW_PARENTS rows by its proportion gets `minimum` too.

    A parent only referenced keeps its proportion: raised to `minimum`, 10 warehouses of 10
    districts became 3,000 districts of about 7 orders each, where reading a district's orders
    through the primary key is as good as the designed (district, customer) index, and MariaDB
    rightly took the primary key. The index design counted the model's 3,000 orders a district.
    """
    model = plan.model
    relational = plan.records_in(Family.RELATIONAL)
    largest = max((model.entities[e].growth.initial_rows for e in relational), default=0)
    scaled = rows_for_scale(model, target / largest if largest else 1.0, minimum=1, maximum=target)
    floored = set(model.entities) if proved is None else set(proved)
    floored |= {name for name, entity in model.entities.items() if not entity.growth.initial_rows}
    wanted = {name: max(count, min(minimum, target)) if name in floored else count for name, count in scaled.items()}
    for name in sorted(parents):
        if name in wanted and wanted[name] < FEW_PARENTS:
            wanted[name] = max(wanted[name], min(minimum, target))
    for name, rows in sorted((floors or {}).items()):
        if name in wanted:
            wanted[name] = max(wanted[name], rows)
    _dilute_constant_groups(plan, wanted, floored & set(wanted), target)
    # A floored entity whose required parent holds few children (`max_children`, one-to-one) needs
    # its parents grown too, else `feasible_rows` cuts it back (fuzz9's model 383: 1 parent of at
    # most 2 line items left the proved list table empty).
    grow_parents(model, wanted, floored & set(wanted))
    spare_parents(model, wanted)
    return feasible_rows(model, wanted)


def _dilute_constant_groups(plan: Plan, wanted: dict[str, int], proved: set[str], target: int) -> None:
    """Raise each proved entity whose hot groups hold a pattern's constants (`discriminating_rows`
    adds them to the seed) so that they stay within MAX_CONSTANT_GROUP_SHARE of its rows, up to
    `target` rows."""
    _, groups = discriminating_rows(plan.model, wanted, proved)
    for name in sorted(proved):
        held = sum(group.rows for group in groups.get(name, ()) if group.constants)
        if held:
            wanted[name] = max(wanted[name], min(target, math.ceil(held / MAX_CONSTANT_GROUP_SHARE)))


def brin_rows(tables: list[TableSpec], proved: Collection[str]) -> dict[str, int]:
    """Entity → the rows its table needs for a BRIN proof to show ranges skipped: BRIN_PROOF_RANGES
    ranges of BRIN_PAGES_PER_RANGE pages at the design's row width (`heap_row_bytes`), for each
    `proved` entity whose table has a BRIN index."""
    pages = BRIN_PROOF_RANGES * BRIN_PAGES_PER_RANGE
    return {
        table.entity: min(MAX_BRIN_ROWS, math.ceil(pages * PAGE_BYTES / heap_row_bytes(table)))
        for table in tables
        if table.kind is TableKind.ENTITY
        and table.entity in proved
        and any(index.kind is IndexKind.BRIN for index in table.indexes)
    }


def time_ordered(plan: Plan, tables: list[TableSpec]) -> dict[str, str]:
    """Table → time column for append-only entities: their rows are loaded in time order, the
    order they arrive in (BRIN and the planner's correlation statistics depend on it). Not a
    table that refers to itself: seeded rows refer only to earlier rows, and reordered they would
    refer to rows not yet inserted."""
    found = {}
    for table in tables:
        decided = plan.entities.get(table.entity)
        if any(fk.ref_table == table.name for fk in table.foreign_keys):
            continue
        if table.kind is TableKind.ENTITY and decided is not None and decided.profile.append_only:
            column = plan.model.entities[table.entity].growth.time_attribute
            if column is not None:
                found[table.name] = column
    return found


def reference_parents(tables: list[TableSpec], proofs: list[dict[str, Any]]) -> set[str]:
    """The parent entities of the references that a pattern's proof binds alone (`r2_ref = :r`):
    its group is one parent's children, a share the parent's seeded rows decide. Fuzz model 2138:
    100 million Selects and 1,000 _Audits at first (≈ 15,000 Selects an _Audit at the horizon,
    0.015 % of them), seeded 20,000 Selects and one _Audit holding 17,971 of them, which both
    engines rightly scanned. A proof that binds more (order_entry's district and customer) seeks
    a narrower group and leaves the parent its proportion."""
    entity_of = {spec.name: spec.entity for spec in tables}
    specs = {spec.name: spec for spec in tables}
    found: set[str] = set()
    for proof in proofs:
        bound = {p["column"] for check in proof["engines"].values() for p in check.get("params", ())}
        found.update(
            entity_of[fk.ref_table]
            for fk in specs[proof["table"]].foreign_keys
            if fk.ref_table in entity_of and bound == set(fk.columns)
        )
    return found


def proved_entities(plan: Plan, tables: list[TableSpec], proofs: list[dict[str, Any]]) -> set[str]:
    """The entities whose tables the proofs read; for a link table, both ends (its rows follow
    theirs); for a foreign-key lookup (`fk:child(columns)`), the parent too: at its proportion of
    the model's initial rows it may hold a handful of rows among which every child is shared, and
    the engines rightly scan (fuzz model 9: 100 million groups at first and 1,000 Selects, at the
    horizon ≈ 90 groups a Select; seeded, 20,000 groups and 1 Select holding 17,919 of them)."""
    entity_of = {spec.name: spec.entity for spec in tables}
    specs = {spec.name: spec for spec in tables}
    links = {r.name: (r.from_, r.to) for r in plan.model.relationships}
    found: set[str] = set()
    for proof in proofs:
        entity = entity_of[proof["table"]]
        found.update(links.get(entity, (entity,)))
        found.update(
            entity_of[fk.ref_table]
            for fk in specs[proof["table"]].foreign_keys
            if proof["name"] == f"fk:{proof['table']}({', '.join(fk.columns)})" and fk.ref_table in entity_of
        )
    return found


__all__ = [
    "MIN_ROWS",
    "TARGET_ROWS",
    "brin_rows",
    "proved_entities",
    "reference_parents",
    "seed_rows",
    "time_ordered",
]
