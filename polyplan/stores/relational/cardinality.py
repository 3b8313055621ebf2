"""Distinct-value counts of columns and column groups, derived from what the model says (pure).

An index decision rests on how many rows one equality group holds. The model states that
number directly (`distinct`, `unique`, enum weights, booleans) or implies it:

- a reference column has at most as many distinct values as its parent has rows (at most its
  parent's cap, when the parent's keys bound its rows: row_caps.py), and each part
  of a composite reference at most as many as the parent's matching key column;
- the columns of a composite key identify the table's rows together, so a column numbered per
  parent (`d_id` under `d_w_id`) has the table's rows divided by its siblings' counts;
- an integer bounded by `min` and `max` has at most `max - min + 1` values.

Only when none of this applies is a count *guessed* (`DEFAULT_DISTINCT`); such estimates carry
`guessed=True` so that the index design can say when a decision hinges on one (PP420).

A group of columns is never counted as the plain product of its columns (two columns of 1,000
guessed values each would make every (warehouse, district) pair unique): a group that contains
a key is unique, a group that contains a reference counts at most the parent's rows, and the
total is bounded by the table's rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from polyplan.model.domains import effective_distinct
from polyplan.model.schema import Attribute, TypeName
from polyplan.stores.relational.row_caps import row_cap
from polyplan.stores.relational.spec import TableSpec

DEFAULT_DISTINCT = 1000  # an attribute of which the model says nothing that bounds its values
HIGH_CARDINALITY = frozenset({TypeName.UUID, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ})


@dataclass(frozen=True)
class Estimate:
    """How many distinct values one column holds, and where the number comes from."""

    value: float
    source: str
    guessed: bool = False


def enum_shares(attribute: Attribute) -> dict[str, float]:
    """Each enum value's share of the rows (declared weights, or equal shares)."""
    values = attribute.values or []
    weights = attribute.weights if attribute.weights and len(attribute.weights) == len(values) else [1.0] * len(values)
    total = sum(weights) or 1.0
    return {value: weight / total for value, weight in zip(values, weights, strict=True)}


@dataclass
class Cardinalities:
    """Distinct counts over a set of tables with known row counts.

    `overrides` replaces the estimate of (table, column): the index design re-plans with a
    guessed count moved to the ends of its plausible range to see whether its choice flips.
    """

    tables: Mapping[str, TableSpec]
    rows: Mapping[str, float]
    overrides: Mapping[tuple[str, str], float] = field(default_factory=dict)
    _memo: dict[tuple[str, str], Estimate] = field(default_factory=dict)
    _active: set[tuple[str, str]] = field(default_factory=set)
    # `group` per (table, columns, bound): the index design asks for the same groups many times
    # (each need's equality group, each candidate's key for its entry width and its size). A
    # group reads only memoised column estimates after its first count, so it cannot change.
    _groups: dict[tuple[str, frozenset[str], float | None], float] = field(default_factory=dict)

    def with_overrides(self, overrides: Mapping[tuple[str, str], float]) -> Cardinalities:
        """A copy that takes `overrides` as given counts."""
        return Cardinalities(self.tables, self.rows, {**self.overrides, **overrides})

    def _rows(self, table: str) -> float:
        return max(1.0, self.rows.get(table, 1.0))

    def reference_rows(self, table: str) -> float:
        """The rows a reference to `table` can point to: its rows, or fewer when its keys cap it
        (`row_caps.row_cap`). fuzz model 1394: Customer grows by a million rows a day, but its
        unique enum of 4 values allows 4, so a reference to it holds 4 values, not a million."""
        rows = self._rows(table)
        capped = row_cap(self.tables[table], self.tables) if table in self.tables else None
        return rows if capped is None else max(1.0, min(rows, float(capped[0])))

    def column(self, table: str, column: str) -> Estimate:
        """The distinct count of one column (memoised; cycles through references end in a guess)."""
        key = (table, column)
        if key in self.overrides:
            return Estimate(max(1.0, self.overrides[key]), "assumed")
        if key not in self._memo:
            if key in self._active:  # a reference cycle: nothing derivable along it
                return self._guess(table, column)
            self._active.add(key)
            try:
                self._memo[key] = self._column(table, column)
            finally:
                self._active.discard(key)
        return self._memo[key]

    def _guess(self, table: str, column: str) -> Estimate:
        rows = self._rows(table)
        return Estimate(float(min(DEFAULT_DISTINCT, rows)), f"assumed {DEFAULT_DISTINCT:,}", guessed=True)

    def _column(self, table_name: str, column: str) -> Estimate:
        table = self.tables[table_name]
        rows = self._rows(table_name)
        attribute = table.column(column).attribute
        single = next((fk for fk in table.foreign_keys if fk.columns == (column,) and fk.ref_table in self.rows), None)
        if single is not None:
            parent_rows = self.reference_rows(single.ref_table)
            return Estimate(min(rows, parent_rows), f"reference to {single.ref_table} ({parent_rows:,.0f} rows)")
        if attribute.unique or table.primary_key == (column,) or (column,) in table.uniques:
            return Estimate(rows, "unique")
        declared = effective_distinct(attribute)  # at most the type's values (PP480)
        if declared:
            return Estimate(float(min(declared, rows)), "declared distinct")
        if attribute.type is TypeName.ENUM and attribute.values:
            shares = enum_shares(attribute)
            return Estimate(1.0 / sum(share * share for share in shares.values()), "enum values")
        if attribute.type is TypeName.BOOLEAN:
            return Estimate(2.0, "boolean")
        if attribute.type in HIGH_CARDINALITY:
            return Estimate(rows, f"{attribute.type.value} values")
        found = self._from_reference(table, column, rows)
        if found is None:
            found = self._from_key(table, column, rows)
        bounded = self._bounded(attribute, rows)
        if found is None:
            return bounded if bounded is not None else self._guess(table_name, column)
        if bounded is not None and bounded.value < found.value:
            return bounded
        return found

    def _from_reference(self, table: TableSpec, column: str, rows: float) -> Estimate | None:
        """A reference column: the parent's matching key column, bounded by the parent's rows."""
        for fk in table.foreign_keys:
            if column not in fk.columns or fk.ref_table not in self.tables or fk.ref_table == table.name:
                continue
            parent_rows = self.reference_rows(fk.ref_table)
            parent = self.column(fk.ref_table, fk.ref_columns[fk.columns.index(column)])
            value = min(parent.value, parent_rows, rows)
            return Estimate(value, f"reference to {fk.ref_table} ({parent_rows:,.0f} rows)", guessed=parent.guessed)
        return None

    def _from_key(self, table: TableSpec, column: str, rows: float) -> Estimate | None:
        """A column of a composite key numbered per value of its sibling columns."""
        for key in (table.primary_key, *table.uniques):
            if column not in key or len(key) < 2:
                continue
            siblings = [self.column(table.name, other) for other in key if other != column]
            if any(s.guessed for s in siblings):
                continue
            per_group = rows / math.prod(s.value for s in siblings)
            if per_group >= 1.0:
                return Estimate(per_group, f"key ({', '.join(key)}) identifies {rows:,.0f} rows")
        return None

    @staticmethod
    def _bounded(attribute: Attribute, rows: float) -> Estimate | None:
        if attribute.type is TypeName.INTEGER and attribute.min is not None and attribute.max is not None:
            span = math.floor(attribute.max) - math.ceil(attribute.min) + 1
            return Estimate(float(max(1, min(span, rows))), f"integer from {attribute.min:g} to {attribute.max:g}")
        return None

    def group(self, table_name: str, columns: Iterable[str], bound: float | None = None) -> float:
        """The distinct count of a group of columns taken together (≥ 1, ≤ the table's rows, or
        ≤ `bound` when the group is counted over fewer rows, as in a partial index)."""
        key = (table_name, frozenset(columns), bound)
        found = self._groups.get(key)
        if found is None:
            found = self._groups[key] = self._group(table_name, key[1], bound)
        return found

    def _group(self, table_name: str, columns: frozenset[str], bound: float | None) -> float:
        table = self.tables[table_name]
        rows = self._rows(table_name) if bound is None else max(1.0, bound)
        remaining = set(columns)
        if not remaining:
            return 1.0
        if any(key and set(key) <= remaining for key in (table.primary_key, *table.uniques)):
            return rows
        total = 1.0
        # References first, longest first: a group holding a whole reference counts at most the
        # parent's rows (for a composite one, the parent's count of its key columns together).
        for fk in sorted(table.foreign_keys, key=lambda f: (-len(f.columns), f.columns)):
            if len(fk.columns) < 2 or not set(fk.columns) <= remaining or fk.ref_table not in self.tables:
                continue
            if fk.ref_table == table_name:
                continue
            parts = math.prod(self.column(table_name, c).value for c in fk.columns)
            total *= min(parts, self.group(fk.ref_table, fk.ref_columns), self.reference_rows(fk.ref_table))
            remaining -= set(fk.columns)
        total *= math.prod(self.column(table_name, c).value for c in sorted(remaining))
        return max(1.0, min(total, rows))

    def guessed(self, table: str, columns: Iterable[str]) -> list[str]:
        """The columns among `columns` whose count is a guess, in the given order."""
        return [c for c in dict.fromkeys(columns) if self.column(table, c).guessed]


__all__ = ["DEFAULT_DISTINCT", "Cardinalities", "Estimate", "enum_shares"]
