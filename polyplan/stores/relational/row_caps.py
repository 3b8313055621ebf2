"""The most rows a table can hold on any valid data, where its keys bound them (pure).

A unique key over columns of bounded values caps its table: a unique enum of 4 values allows 4
rows, whatever the entity's growth says. A table whose own non-null unique reference points to
such a table is capped by it too (a required one-to-one child has one row per parent at most):
fuzz model 1473's Order needs its own _Audit, whose unique DECIMAL(12, 2) in [0, 1] allows 101.

Two readers: the distinct counts of references (cardinality.py: a reference to a capped parent
holds at most the parent's cap of values, fuzz model 1394) and the index proofs' capped tables
(index_proof_plans.capped_tables, which adds list children).
"""

from __future__ import annotations

from collections.abc import Mapping

from polyplan.stores.relational.spec import TableSpec, finite_domain


def key_cap(spec: TableSpec) -> tuple[int, tuple[str, ...]] | None:
    """(rows, key) for the key or unique rule of `spec` whose bounded, non-null columns allow the
    fewest rows; None when no key is bounded so."""
    best: tuple[int, tuple[str, ...]] | None = None
    names = {col.name for col in spec.columns}
    for key in [spec.primary_key, *spec.uniques]:
        sizes = [finite_domain(spec.column(c)) for c in key if c in names]
        if not key or len(sizes) != len(key) or any(size is None for size in sizes):
            continue
        rows = 1
        for size in sizes:
            rows *= size or 0
        if best is None or rows < best[0]:
            best = (rows, tuple(key))
    return best


def row_cap(spec: TableSpec, tables: Mapping[str, TableSpec]) -> tuple[int, str] | None:
    """(the most rows `spec` can hold, why): its own keys' cap (`key_cap`), or the cap of a table
    one of its non-null unique references points to, whichever is lower; None when uncapped."""
    return _row_cap(spec, tables, frozenset())


def _row_cap(spec: TableSpec, tables: Mapping[str, TableSpec], seen: frozenset[str]) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    keyed = key_cap(spec)
    if keyed is not None:
        rows, key = keyed
        best = rows, f"{spec.entity}'s unique key ({', '.join(key)}) allows {rows} records"
    keys = {tuple(sorted(k)) for k in (spec.primary_key, *spec.uniques) if k}
    names = {col.name for col in spec.columns}
    for fk in spec.foreign_keys:
        parent = tables.get(fk.ref_table)
        if parent is None or parent.name in seen or parent.name == spec.name:
            continue
        # One row per parent row at most: the reference is unique, and never NULL (NULLs repeat).
        if tuple(sorted(fk.columns)) not in keys or any(c not in names or spec.column(c).nullable for c in fk.columns):
            continue
        above = _row_cap(parent, tables, seen | {spec.name})
        if above is not None and (best is None or above[0] < best[0]):
            best = above[0], f"{above[1]}, and each {spec.entity} holds its own ({', '.join(fk.columns)} unique)"
    return best


__all__ = ["key_cap", "row_cap"]
