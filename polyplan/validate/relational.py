"""What the generated relational tests (`tests/test_<engine>.py` of a plan folder) run.

A `Harness` reads the plan folder's own artifacts — `relational/<engine>/schema.sql`,
`relational/<engine>/queries.sql` and `tests/data/relational.json` (the model, table layout,
seed and row counts) — so the tests check exactly what was emitted. It creates a throw-away
database, applies the schema, loads deterministic seed rows, and then:

* for each constraint: a known-good row inserts, and the same row changed to break only that
  constraint is rejected with the engine's integrity error naming it;
* for each access pattern: the emitted query, with parameters taken from the seeded rows,
  returns exactly the rows a Python oracle computes from the same data.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from polyplan.model.paths import PathRead, copies_of, read_of, resolve
from polyplan.model.schema import AccessPattern, Attribute, CompareOp, RequirementsModel, WriteKind
from polyplan.plan.aggregates import selection
from polyplan.plan.geo import is_geo, is_geo_filter
from polyplan.plan.predicates import all_predicates
from polyplan.seed.discriminating import discriminating_rows
from polyplan.seed.generate import CONSTANT_RATE, check_holds, feasible_rows, generate, link_columns
from polyplan.seed.relational import Row, db_value, load_rows, table_rows
from polyplan.seed.values import distinct_capacity, distinct_values, random_maker
from polyplan.stores.relational.connect import apply_sql
from polyplan.stores.relational.derived_sql import kept_names
from polyplan.stores.relational.design import tables_from_data
from polyplan.stores.relational.render import Constraint, build_metadata, column_for, query_columns
from polyplan.stores.relational.spec import Query, QueryParam, TableKind, TableSpec
from polyplan.stores.relational.sqltext import text_clause
from polyplan.stores.relational.write_predicates import lock_name
from polyplan.validate.aggregates import VALUE, aggregate_rows, compare_aggregates
from polyplan.validate.cases import (
    UNOBSERVABLE,
    Case,
    DataCannotDiscriminate,
    Evaluator,
    Expected,
    build_case,
    candidates,
    choose_cases,
    expected_query,
    limit_out_of_reach,
    order_out_of_reach,
)
from polyplan.validate.derived import check_kept
from polyplan.validate.geo import GeoCase, MissingGeoParameter, compare_geo, geo_cases
from polyplan.validate.membership import membership_bind_type, with_sub_fields
from polyplan.validate.oracle import canon, compare_result, expand_lists, holds, parse_queries, sort_rows
from polyplan.validate.paths import PathCase, path_cases
from polyplan.validate.paths import matching as path_matching
from polyplan.validate.violations import _convert as convert
from polyplan.validate.violations import _fits as fits
from polyplan.validate.violations import _plus as plus
from polyplan.validate.violations import _step as step_of
from polyplan.validate.violations import (
    breaking_value,
    entity_violation,
    error_names,
    feasible,
    rule_violations,
)

LAYOUT_FILE = "relational.json"
FREE_POSITION = 1_000_000
SPARES = 2
# Records asked of `feasible_rows` to find an entity whose keys leave no room for seeded rows.
ROOM_PROBE = 1_000
# A dangling reference tries every combination of its columns' values up to this many.
DANGLING_CANDIDATES = 2_500
MYSQL_CHECK_ERRORS = frozenset({3819, 4025})  # MySQL / MariaDB CHECK failures (PyMySQL: OperationalError)


def _short(value: object, limit: int = 400) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# How many steps from the moved value a check's partner column may be set, tried in this order.
PARTNER_MOVES = (0, 1, -1, 2, -2, 10, -10)


def _moved_partners(
    candidates: list[Row],
    target: Constraint,
    rules: list[Constraint],
    attributes: dict[str, Attribute],
    fixed: set[str],
) -> Iterator[Row]:
    """Candidates whose break also breaks a check between two columns (`a1 < a2` with a2 moved
    past its max while a1 is far above), with that check's other column moved next to the new
    value so that the check holds again: only the target is then broken. Foreign-key columns
    stay put (a moved one would dangle).

    Each candidate gives one row for each place in PARTNER_MOVES the search starts from, so that
    a caller whose first row repeats a key can take the next (fuzz model 1559: the partner a3 of
    `a3 <= a4` is the key, and the value next to a4 may be one the key already holds)."""
    for candidate in candidates:
        broken = rule_violations(rules, candidate, attributes)
        seen: list[Row] = []
        for start in range(len(PARTNER_MOVES)):
            moves = PARTNER_MOVES[start:] + PARTNER_MOVES[:start]
            row = dict(candidate)
            for rule in rules:
                if rule is target or rule.rule != "entity" or rule.name not in broken:
                    continue
                others = [c for c in rule.columns if c not in target.columns]
                moved = [c for c in rule.columns if c in target.columns]
                if len(others) != 1 or len(moved) != 1 or others[0] in fixed or row[moved[0]] is None:
                    continue
                partner, anchor = others[0], row[moved[0]]
                step = step_of(attributes[partner])
                for times in moves:
                    value = convert(plus(anchor, step * times, attributes[partner]), attributes[partner], row[partner])
                    if not fits(attributes[partner], value):
                        continue
                    trial = {**row, partner: value}
                    op, right = rule.value
                    if check_holds(trial[rule.columns[0]], CompareOp(op), trial[right]):
                        row = trial
                        break
            if row != candidate and row not in seen:
                seen.append(row)
                yield row


@dataclass
class Harness:
    """Everything one engine's generated test module needs, read from the plan folder."""

    engine: str
    model: RequirementsModel
    tables: list[TableSpec]
    schema_sql: str
    queries: dict[str, Query]
    seed: int
    rows: dict[str, int]
    writes: dict[str, Query] = field(default_factory=dict)  # writes.sql: the increments, by write pattern
    paths: dict[str, PathRead] = field(default_factory=dict)  # patterns through relationships, as written
    derived_sql: str = ""  # derived.sql: backfills and triggers of derived attributes, run after the load
    # Share of records that take a pattern's constant at random (the index proofs' is smaller).
    constant_rate: float = CONSTANT_RATE
    _spare_cache: dict[str, tuple[list[tuple[str, Row]], Row]] = field(default_factory=dict)
    _case_cache: dict[str, tuple[Evaluator, list[Case]]] = field(default_factory=dict)

    @classmethod
    def from_plan_folder(cls, tests_dir: Path, engine: str) -> Harness:
        """Read `tests/data/relational.json` and `relational/<engine>/*.sql` around `tests_dir`."""
        layout = json.loads((tests_dir / "data" / LAYOUT_FILE).read_text(encoding="utf-8"))
        folder = tests_dir.parent / "relational" / engine
        writes = folder / "writes.sql"
        derived = folder / "derived.sql"
        model = RequirementsModel.model_validate(layout["model"])
        model._copies = {
            (item["entity"], item["attribute"]): resolve(model, item["entity"], item["path"])
            for item in layout.get("copies", [])
        }
        paths = [
            read_of(model, int(item["position"]), AccessPattern.model_validate(item["pattern"]))
            for item in layout.get("paths", [])
        ]
        return cls(
            engine=engine,
            model=model,
            tables=tables_from_data(layout["tables"]),
            schema_sql=(folder / "schema.sql").read_text(encoding="utf-8"),
            queries=parse_queries((folder / "queries.sql").read_text(encoding="utf-8")),
            seed=int(layout["seed"]),
            rows={str(k): int(v) for k, v in layout["rows"].items()},
            writes=parse_queries(writes.read_text(encoding="utf-8")) if writes.is_file() else {},
            paths={read.name: read for read in paths},
            derived_sql=derived.read_text(encoding="utf-8") if derived.is_file() else "",
        )

    # --- data --------------------------------------------------------------------------------

    @cached_property
    def metadata(self) -> sa.MetaData:
        return build_metadata(self.tables, self.engine).metadata

    @cached_property
    def constraints(self) -> dict[str, list[Constraint]]:
        return build_metadata(self.tables, self.engine).constraints

    @cached_property
    def by_name(self) -> dict[str, TableSpec]:
        return {t.name: t for t in self.tables}

    @cached_property
    def _records(self) -> dict[str, list[dict[str, Any]]]:
        # Spare records per entity: valid, unique, referenced by nothing (the known-good rows);
        # hot groups, so that every limited pattern has a parameter group beyond its limit.
        stored = {t.entity for t in self.tables if t.kind is TableKind.ENTITY}
        rows, hot = discriminating_rows(self.model, self.rows, stored, paths=self.paths.values())
        return generate(self.model, rows, self.seed, spare=SPARES, hot=hot, constant_rate=self.constant_rate)

    @cached_property
    def spare_records(self) -> dict[str, list[dict[str, Any]]]:
        """The known-good record of each entity (the last spare)."""
        return {name: records[-1:] for name, records in self._records.items() if name in self.model.entities}

    @cached_property
    def second_spares(self) -> dict[str, list[dict[str, Any]]]:
        """Another spare per entity: the child when a foreign key points at its own table."""
        return {name: records[-2:-1] for name, records in self._records.items() if name in self.model.entities}

    @cached_property
    def loaded(self) -> dict[str, list[Row]]:
        """Rows per table as inserted (spare records left out)."""
        logical = {
            name: (records[:-SPARES] if name in self.model.entities else records)
            for name, records in self._records.items()
        }
        return table_rows(self.tables, logical, self.engine)

    # --- database ----------------------------------------------------------------------------

    def load(self, engine: sa.Engine) -> dict[str, int]:
        """Apply the emitted schema to an empty database and insert the seed rows."""
        apply_sql(engine, self.schema_sql)
        with engine.begin() as connection:
            counts = load_rows(connection, self.metadata, self.loaded)
        if self.derived_sql:
            apply_sql(engine, self.derived_sql)  # as a deployment would: backfill the loaded rows, then the triggers
        return counts

    def check_seed(self, engine: sa.Engine) -> None:
        """The seed rows loaded, table by table, and some were seeded. Where none were (the
        model's keys leave an entity no room beside the SPARES known-good rows the constraint
        tests insert: fuzz10pg's 840, a natural key of a one-value and a boolean attribute, two
        rows in all), it says so, and each table's known-good row must insert instead."""
        expected = {name: len(rows) for name, rows in self.loaded.items()}
        assert self.counts(engine) == expected
        if sum(expected.values()) > 0:
            return
        room = feasible_rows(self.model, {name: ROOM_PROBE for name in self.model.entities})
        full = sorted({t.entity for t in self.tables if t.kind is TableKind.ENTITY and room.get(t.entity) == 0})
        assert full, "no seeded rows, although the model's keys and references leave room for some"
        print(
            f"no seeded rows: the keys and references of {', '.join(full)} leave no room beside the {SPARES} known-good "
            "rows the constraint tests insert; each table's known-good row inserts instead"
        )
        for table in self.by_name:
            self._valid_row_inserts(engine, table)

    def _valid_row_inserts(self, engine: sa.Engine, table_name: str) -> None:
        """Insert `table_name`'s known-good row (its prerequisites first), then roll back."""
        prerequisites, valid = self.valid_row(table_name)
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                for name, row in prerequisites:
                    connection.execute(sa.insert(self.metadata.tables[name]), [row])
                connection.execute(sa.insert(self.metadata.tables[table_name]), [valid])
            finally:
                transaction.rollback()

    def counts(self, engine: sa.Engine) -> dict[str, int]:
        """Rows per table in the database."""
        with engine.connect() as connection:
            return {
                name: int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                for name, table in self.metadata.tables.items()
            }

    # --- constraints -------------------------------------------------------------------------

    def constraint_ids(self) -> list[str]:
        """`table:constraint` for every constraint a violating row can be built for."""
        ids: list[str] = []
        for table in self.tables:
            attributes = {c.name: c.attribute for c in table.columns}
            for constraint in self.constraints[table.name]:
                if feasible(constraint, attributes, self.constraints[table.name], self.engine) is None:
                    ids.append(f"{table.name}:{constraint.name}")
        return ids

    def _constraint(self, ident: str) -> Constraint:
        table, name = ident.split(":", 1)
        return next(c for c in self.constraints[table] if c.name == name)

    def _generated(self, column: Attribute, where: str) -> Any:
        return random_maker(column.model_copy(update={"unique": False}), random.Random(where), where)()

    def valid_row(self, table_name: str) -> tuple[list[tuple[str, Row]], Row]:
        """(rows to insert first, a row of `table_name` that every constraint accepts)."""
        if table_name in self._spare_cache:
            return self._spare_cache[table_name]
        spec = self.by_name[table_name]
        prerequisites: list[tuple[str, Row]] = []
        if spec.kind is TableKind.ENTITY:
            row = table_rows([spec], self.spare_records, self.engine)[spec.name][0]
        elif spec.kind is TableKind.LIST_CHILD:
            parent = self.by_name[spec.foreign_keys[0].ref_table]
            prerequisites.append((parent.name, table_rows([parent], self.spare_records, self.engine)[parent.name][0]))
            owned = table_rows([spec], self.spare_records, self.engine)[spec.name]
            if owned:
                row = dict(owned[0])
            else:
                owner = self.spare_records[spec.entity][0]
                row = {}
                for column in spec.columns:
                    entity_path = column.source.split(".", 1)[1]
                    if column.source.endswith(".#position"):
                        row[column.name] = 0
                    elif entity_path in owner:
                        row[column.name] = db_value(column, owner[entity_path], self.engine)
                    else:
                        sample = self.loaded[spec.name][0][column.name] if self.loaded[spec.name] else None
                        row[column.name] = (
                            sample if sample is not None else self._generated(column.attribute, column.source)
                        )
            for column in spec.columns:
                if column.source.endswith(".#position"):
                    # Far past any seeded position: copying other columns from a seeded row for a
                    # unique test then still leaves (owner, position) unique.
                    row[column.name] = FREE_POSITION
        else:
            relationship = next(r for r in self.model.relationships if r.name == spec.entity)
            from_columns, to_columns = link_columns(self.model, relationship)
            row = {}
            sample = self.loaded[spec.name][0] if self.loaded[spec.name] else {}
            for side, mapping in ((relationship.from_, from_columns), (relationship.to, to_columns)):
                record = self.spare_records[side][0]
                side_table = next((t for t in self.tables if t.kind is TableKind.ENTITY and t.entity == side), None)
                if side_table is not None and all(t != side_table.name for t, _ in prerequisites):
                    prerequisites.append(
                        (side_table.name, table_rows([side_table], self.spare_records, self.engine)[side_table.name][0])
                    )
                for column in spec.columns:
                    key = column.source.split(".", 1)[1]
                    if key in mapping:
                        row[column.name] = db_value(column, record[mapping[key]], self.engine)
            for column in spec.columns:
                if column.name not in row:
                    value = sample.get(column.name)
                    row[column.name] = (
                        value
                        if value is not None or column.nullable
                        else self._generated(column.attribute, column.source)
                    )
        self._spare_cache[table_name] = (prerequisites, row)
        return prerequisites, row

    def violating_row(self, constraint: Constraint, valid: Row) -> Row:
        """`valid` changed so that it breaks `constraint` and no NOT NULL or CHECK rule besides."""
        spec = self.by_name[constraint.table]
        attributes = {c.name: c.attribute for c in spec.columns}
        rules = self.constraints[spec.name]
        allowed = {constraint.name} if constraint.kind in ("not_null", "check") else set()
        candidates: list[Row] = []
        if constraint.kind == "not_null":
            candidates.append({**valid, constraint.columns[0]: None})
        elif constraint.kind in ("primary_key", "unique"):
            for existing in self.loaded[spec.name]:
                if all(existing[c] is not None for c in constraint.columns):
                    candidates.append({**valid, **{c: existing[c] for c in constraint.columns}})
        elif constraint.kind == "foreign_key":
            prerequisites, _ = self.valid_row(constraint.table)
            candidates.extend(self._dangling(constraint, valid, attributes, prerequisites))
        elif constraint.rule == "entity":
            base = dict(valid)
            for column in constraint.columns:
                if base[column] is None:
                    donor = next((r[column] for r in self.loaded[spec.name] if r[column] is not None), None)
                    base[column] = donor if donor is not None else self._generated(attributes[column], column)
            candidates.extend(entity_violation(constraint, base, attributes))
        else:
            column = constraint.columns[0]
            found, value = breaking_value(constraint, attributes[column])
            if found:
                candidates.append({**valid, column: value})
        fixed = {c for fk in spec.foreign_keys for c in fk.columns}
        for candidate in [
            *candidates,
            *self._nulled_partners(candidates, constraint, rules, attributes),
            *_moved_partners(candidates, constraint, rules, attributes, fixed),
        ]:
            if rule_violations(rules, candidate, attributes) == allowed and not self._collides(
                spec, candidate, constraint
            ):
                return candidate
        raise AssertionError(f"cannot build a row of {spec.name} that breaks only {constraint.name}")

    def _unseeded_duplicate(self, constraint: Constraint, valid: Row) -> tuple[Row, Row] | None:
        """For a unique rule no seeded row fills (a reference the seed leaves NULL in every row
        to break a cycle of references), two rows that share one value of it: `valid` with the
        rule's columns set (a reference to a seeded parent row), then another spare row with the
        same values. None when seeded rows have a value to duplicate (violating_row copies it).

        So too for a primary key when the seed loaded no row of the table (fuzz10pg's 840: a key
        of two combinations, both kept for the spares; 679: a list child whose owners' lists all
        came out empty): of an entity, as above; of a list child or link table, the valid row
        twice, which breaks every key and unique rule of the table at once, so only where the
        table has no other."""
        spec = self.by_name[constraint.table]
        if constraint.kind not in ("unique", "primary_key"):
            return None
        if any(all(r[c] is not None for c in constraint.columns) for r in self.loaded[spec.name]):
            return None
        if spec.kind is not TableKind.ENTITY:
            keys = [c for c in self.constraints[spec.name] if c.kind in ("primary_key", "unique")]
            whole = all(valid[c] is not None for c in constraint.columns)
            return (valid, dict(valid)) if keys == [constraint] and whole else None
        others = table_rows([spec], self.second_spares, self.engine)[spec.name]
        if not others:
            return None
        attributes = {c.name: c.attribute for c in spec.columns}
        first = dict(valid)
        for column in constraint.columns:
            if first[column] is not None:
                continue
            key = next((fk for fk in spec.foreign_keys if column in fk.columns), None)
            parent = next(iter(self.loaded[key.ref_table]), None) if key else None
            if parent is None and key is not None and key.ref_table == spec.name:
                # A reference to its own table, which the seed left empty (fuzz14a's 2407: an
                # optional one-to-one _Audit → _Audit, unique r0_ref): the first copy names
                # itself, the one row sure to exist when the second copy goes in. A drawn value
                # would name no row, and the foreign key would refuse the first copy.
                parent = first
            if key is None or parent is None:
                first[column] = self._generated(attributes[column], column)
                continue
            # Every column of the reference from one parent row: a composite key stays whole.
            first.update({c: parent[r] for c, r in zip(key.columns, key.ref_columns, strict=True)})
        rules = self.constraints[spec.name]
        fixed = {c for fk in spec.foreign_keys for c in fk.columns}
        chosen: list[Row] = []
        # The duplicated value may break a check with another column (fuzz model 1559: a4, which
        # the seed left NULL in every row, under `a3 <= a4`): that column then moves next to it,
        # in each row to a value neither a seeded row nor the other row holds on another key.
        for row in (first, {**others[0], **{c: first[c] for c in constraint.columns}}):
            found = next(
                (
                    option
                    for option in (row, *_moved_partners([row], constraint, rules, attributes, fixed))
                    if not rule_violations(rules, option, attributes)
                    and not self._collides(spec, option, constraint, chosen)
                ),
                None,
            )
            if found is None:
                return None
            chosen.append(found)
        return chosen[0], chosen[1]

    @staticmethod
    def _nulled_partners(
        candidates: list[Row], target: Constraint, rules: list[Constraint], attributes: dict[str, Attribute]
    ) -> Iterator[Row]:
        """Candidates whose break also breaks a check between two columns (a value under `min`
        that falls below the other side of `a <= b`), with that check's other, nullable column
        set to NULL: SQL passes a check with a NULL side, so only the target is broken."""
        for candidate in candidates:
            row = dict(candidate)
            for rule in rules:
                if rule is target or rule.rule != "entity" or rule.kind != "check":
                    continue
                for column in rule.columns:
                    if column not in target.columns and attributes[column].nullable:
                        row[column] = None
            if row != candidate:
                yield row

    def _collides(self, spec: TableSpec, row: Row, target: Constraint, also: Sequence[Row] = ()) -> bool:
        """Whether `row` repeats a seeded row (or one of `also`) on a key or unique rule other
        than `target`."""
        groups = [c.columns for c in self.constraints[spec.name] if c.kind in ("primary_key", "unique") and c != target]
        for group in groups:
            key = tuple(row[c] for c in group)
            if any(v is None for v in key):
                continue
            if any(tuple(r[c] for c in group) == key for r in (*self.loaded[spec.name], *also)):
                return True
        return False

    def _dangling(
        self,
        constraint: Constraint,
        valid: Row,
        attributes: dict[str, Attribute],
        prerequisites: Sequence[tuple[str, Row]] = (),
    ) -> Iterator[Row]:
        # A key is dangling only if no parent row has it: neither a seeded one nor a parent the
        # test inserts first in the same transaction (a list child's owner, a link's two sides).
        parents = [
            *self.loaded.get(constraint.ref_table, []),
            *(r for t, r in prerequisites if t == constraint.ref_table),
        ]
        existing = {tuple(r[c] for c in constraint.ref_columns) for r in parents}
        rng = random.Random(f"dangling/{constraint.name}")
        # As many candidate values as each column's type has, up to 50 (an enum key has few).
        plain = [attributes[c].model_copy(update={"nullable": False}) for c in constraint.columns]
        pools = [
            list(distinct_values(attribute, rng, distinct_capacity(attribute, 50, c), c))
            for c, attribute in zip(constraint.columns, plain, strict=True)
        ]
        spec = self.by_name[constraint.table]
        if any(not pool for pool in pools):
            return
        # Every combination where the pools are small (fuzz14a's 2375: a key of a boolean and an
        # enum of 3 values, 6 pairs, 4 held by seeded rows; cycling the pools together tried 3),
        # else the shorter pools cycled: a composite key with a one-value enum column still gets
        # as many candidates as its widest column has values.
        if math.prod(len(pool) for pool in pools) <= DANGLING_CANDIDATES:
            combinations: Iterable[tuple[Any, ...]] = itertools.product(*pools)
        else:
            combinations = (
                tuple(pool[index % len(pool)] for pool in pools) for index in range(max(len(pool) for pool in pools))
            )
        for combination in combinations:
            values = tuple(
                db_value(spec.column(c), value, self.engine)
                for c, value in zip(constraint.columns, combination, strict=True)
            )
            row = {**valid, **dict(zip(constraint.columns, values, strict=True))}
            if constraint.ref_table == constraint.table and values == tuple(row[c] for c in constraint.ref_columns):
                continue  # the row would be its own parent, which satisfies the key (fuzz11a's 796)
            if values not in existing:
                yield row

    def check_constraint(self, engine: sa.Engine, ident: str) -> None:
        """A valid row inserts; the row breaking `ident` (`table:constraint`) is rejected for that reason."""
        constraint = self._constraint(ident)
        prerequisites, valid = self.valid_row(constraint.table)
        table = self.metadata.tables[constraint.table]
        pair = self._unseeded_duplicate(constraint, valid)
        # The duplicate's first copy goes in before it (with the other prerequisites).
        before = [*prerequisites, (constraint.table, pair[0])] if pair else prerequisites
        violating = pair[1] if pair else self.violating_row(constraint, valid)
        self._valid_row_inserts(engine, constraint.table)
        error: sa.exc.DBAPIError | None = None
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                for name, row in before:
                    connection.execute(sa.insert(self.metadata.tables[name]), [row])
                try:
                    connection.execute(sa.insert(table), [violating])
                except sa.exc.DBAPIError as caught:
                    error = caught
            finally:
                transaction.rollback()
        if error is None:
            raise AssertionError(f"{ident}: the database accepted a row that breaks it: {_short(violating)}")
        message = str(error.orig)
        code = error.orig.args[0] if error.orig is not None and error.orig.args else None
        integrity = isinstance(error, sa.exc.IntegrityError) or (self.engine == "mysql" and code in MYSQL_CHECK_ERRORS)
        if not integrity:
            raise AssertionError(f"{ident}: expected an integrity error, got {type(error).__name__}: {message}")
        if not error_names(message, constraint, self.engine) and not self._partition_key_of(engine, error, constraint):
            raise AssertionError(f"{ident}: rejected, but not by this constraint: {message}")

    def _partition_key_of(self, engine: sa.Engine, error: sa.exc.DBAPIError, constraint: Constraint) -> bool:
        """Whether PostgreSQL rejected the row by a partition's own key index (`alert_default_pkey`),
        attached to `constraint`'s: a range-partitioned table (retention) enforces its keys per partition."""
        if self.engine != "postgresql" or constraint.kind not in ("primary_key", "unique"):
            return False
        named = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
        if not named:
            return False
        sql = (
            "SELECT count(*) FROM pg_inherits "
            "WHERE inhrelid = to_regclass(quote_ident(:child)) AND inhparent = to_regclass(quote_ident(:parent))"
        )
        with engine.connect() as connection:
            return bool(connection.execute(sa.text(sql), {"child": named, "parent": constraint.name}).scalar())

    def foreign_key_ids(self) -> list[str]:
        """`table:constraint` for every foreign key (its ON DELETE behaviour is checked)."""
        return [f"{t.name}:{c.name}" for t in self.tables for c in self.constraints[t.name] if c.kind == "foreign_key"]

    def _parent_and_child(self, constraint: Constraint) -> tuple[list[tuple[str, Row]], Row, Row]:
        """(rows to insert, parent row, child row): a fresh parent whose only child is a fresh row."""
        child_spec = self.by_name[constraint.table]
        prerequisites, child = self.valid_row(constraint.table)
        child = dict(child)
        if child_spec.kind is not TableKind.ENTITY:
            # The known-good child row already belongs to fresh (spare) owners, inserted first.
            parent = next(row for name, row in prerequisites if name == constraint.ref_table)
            return prerequisites, parent, child
        if constraint.ref_table == constraint.table:
            parent = child
            child = table_rows([child_spec], self.second_spares, self.engine)[child_spec.name][0]
            steps: list[tuple[str, Row]] = [(constraint.table, parent)]
        else:
            parent_steps, parent = self.valid_row(constraint.ref_table)
            steps = [*parent_steps, (constraint.ref_table, parent)]
        for column, referenced in zip(constraint.columns, constraint.ref_columns, strict=True):
            child[column] = parent[referenced]
        if set(constraint.columns) & set(child_spec.primary_key):
            # The reference is part of the child's key (an order numbered per district): the
            # rest of the key takes a number no loaded row has, or the key could collide.
            for column in child_spec.primary_key:
                if column not in constraint.columns and type(child[column]) is int:
                    taken = [r[column] for r in self.loaded.get(child_spec.name, []) if type(r[column]) is int]
                    child[column] = max([child[column], *taken]) + 1
        return [*steps, *prerequisites], parent, child

    def check_on_delete(self, engine: sa.Engine, ident: str) -> None:
        """Deleting a parent cascades, sets NULL or is refused, as the foreign key declares."""
        constraint = self._constraint(ident)
        steps, parent, child = self._parent_and_child(constraint)
        parent_table = self.metadata.tables[constraint.ref_table]
        child_table = self.metadata.tables[constraint.table]
        parent_key = [parent_table.c[c] == parent[c] for c in self.by_name[constraint.ref_table].primary_key]
        child_key = [child_table.c[c] == child[c] for c in self.by_name[constraint.table].primary_key]
        action = str(constraint.value)
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                for name, row in steps:
                    connection.execute(sa.insert(self.metadata.tables[name]), [row])
                connection.execute(sa.insert(child_table), [child])
                try:
                    connection.execute(sa.delete(parent_table).where(*parent_key))
                except sa.exc.IntegrityError as error:
                    if action in ("restrict", "no_action") and error_names(str(error.orig), constraint, self.engine):
                        return
                    raise AssertionError(f"{ident}: deleting the parent failed unexpectedly: {error.orig}") from None
                if action in ("restrict", "no_action"):
                    raise AssertionError(f"{ident} ({action}): the parent was deleted although a child refers to it")
                remaining = connection.execute(
                    sa.select(*[child_table.c[c] for c in constraint.columns]).where(*child_key)
                ).all()
                if action == "cascade" and remaining:
                    raise AssertionError(f"{ident} (cascade): the child survived its parent's deletion")
                if action == "set_null" and (len(remaining) != 1 or any(v is not None for v in remaining[0])):
                    raise AssertionError(f"{ident} (set_null): the child's reference is {remaining!r}, not NULL")
            finally:
                transaction.rollback()

    # --- queries -----------------------------------------------------------------------------

    def query_names(self) -> list[str]:
        return list(self.queries)

    def _pattern(self, name: str) -> AccessPattern:
        return next(p for p in self.model.access_patterns if p.name == name)

    def expected(self, name: str) -> Expected:
        """What the model says pattern `name`'s query must do (never read from queries.sql)."""
        pattern = self._pattern(name)
        if pattern.aggregate is not None:
            pattern = selection(pattern)  # the rows aggregated; check_aggregate groups them
        spec = next(t for t in self.tables if t.kind is TableKind.ENTITY and t.entity == pattern.entity)
        return expected_query(pattern, spec, self.model)

    @cached_property
    def canonical(self) -> dict[str, list[dict[str, Any]]]:
        """The loaded rows per table with canonical values (as the oracle compares them)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for spec in self.tables:
            attrs = {c.name: c.attribute for c in spec.columns}
            found[spec.name] = [{c: canon(attrs[c], v) for c, v in row.items()} for row in self.loaded[spec.name]]
        return found

    def cases(self, name: str) -> tuple[Evaluator, list[Case]]:
        """The oracle over pattern `name`'s table and the parameter sets its query is run with;
        DataCannotDiscriminate when the seeded rows cannot show a property of the query."""
        if name not in self._case_cache:
            expected = self.expected(name)
            table = expected.table.name
            _, rows = with_sub_fields(
                expected.table, expected.params, self.loaded[table], self.canonical[table], expected.constants
            )
            evaluator = Evaluator(expected, rows, self.engine)
            self._case_cache[name] = (
                evaluator,
                choose_cases(expected, self.loaded[table], self.canonical[table], self.engine),
            )
        return self._case_cache[name]

    def check_data(self, name: str) -> None:
        """The seeded rows make every property of pattern `name` observable (see `cases`)."""
        if name in self.paths:
            self.check_path_data(name)
            return
        if is_geo(self._pattern(name)):
            self._geo_cases(name)  # raises when the seeded points cannot discriminate
            return
        evaluator, chosen = self.cases(name)
        # And the query is asked for rows at least once: an empty answer never shows the
        # selected columns or their values.
        assert any(evaluator.matching(case.conditions) for case in chosen), f"{name}: no case matches a row"
        for note in self.notes(name):
            # Shown by `pytest -rP`: what the oracle does not ask, and why (the plan warned too).
            print(f"{name}: {note} [{UNOBSERVABLE}]")

    def notes(self, name: str) -> list[str]:
        """What pattern `name`'s checks leave out because no valid data can show it (a LIMIT a
        fixed reference or a unique rule keeps out of reach, a sort of one row at most), each
        with its reason."""
        if name in self.paths or is_geo(self._pattern(name)):
            return []
        expected = self.expected(name)
        return [reason for reason in (limit_out_of_reach(expected), order_out_of_reach(expected)) if reason]

    def check_query(self, engine: sa.Engine, name: str) -> None:
        """The emitted query returns what the oracle computes from the model's pattern, for each case."""
        if name in self.paths and self._pattern(name).aggregate is not None:
            self.check_path_aggregate(engine, name)
            return
        if name in self.paths:
            self.check_path_query(engine, name)
            return
        if self._pattern(name).aggregate is not None:
            self.check_aggregate(engine, name)
            return
        if is_geo(self._pattern(name)):
            self.check_geo(engine, name)
            return
        query = self.queries[name]
        evaluator, chosen = self.cases(name)
        expected = evaluator.expected
        unbound = [p for p in expected.params if not re.search(rf":{p.name}\b", query.sql)]
        if unbound:
            listed = ", ".join(f":{p.name} ({p.column} {p.op})" for p in unbound)
            raise AssertionError(f"{name}: the query does not use {listed}, which the model's filters need")
        problems: list[str] = []
        for case in chosen:
            result = self._run_case(engine, query, expected, case)
            if isinstance(result, str):
                problems.append(f"with {case.params!r}: {result}")
                continue
            matching = evaluator.matching(case.conditions)
            problems += [
                f"with {case.params!r}: {problem}"
                for problem in compare_result(
                    expected.pattern, matching, result, expected.columns, expected.sort, self.engine
                )
            ]
        if problems:
            raise AssertionError(f"{name}: " + "; ".join(problems))

    def _bound(
        self, sql: str, params: Sequence[QueryParam], values: dict[str, Any], table: sa.Table
    ) -> tuple[sa.TextClause, dict[str, Any]]:
        """`sql` with its parameters typed as their columns (IN lists expanded), and the binds."""
        lists = [p.name for p in params if p.op == "in"]
        expanded, bound = expand_lists(sql, values, lists)
        types: dict[str, Any] = {}
        for param in params:
            column_type = (
                sa.String()
                if param.op in ("prefix", "search")
                else membership_bind_type(self.by_name[table.name], table, param)
            )
            if param.op == "in":
                types.update({f"{param.name}_{i}": column_type for i in range(len(values[param.name]))})
            else:
                types[param.name] = column_type
        return text_clause(expanded).bindparams(*[sa.bindparam(k, type_=t) for k, t in types.items()]), bound

    def _run_case(self, engine: sa.Engine, query: Query, expected: Expected, case: Case) -> list[dict[str, Any]] | str:
        """The rows (canonical) the emitted SQL returns for one case, or what is wrong with the
        shape of its answer (columns other than the model's reads)."""
        table = self.metadata.tables[expected.table.name]
        attrs = {c.name: c.attribute for c in expected.table.columns}
        statement, bound = self._bound(query.sql, expected.params, case.params, table)
        with engine.connect() as connection:
            keys = connection.execute(statement, bound).keys()
            names = [str(k) for k in list(keys)]
            if [n.lower() for n in names] != [c.lower() for c in expected.columns]:
                return f"returns the columns {names}, the model's pattern reads {list(expected.columns)}"
            typed = statement.columns(*[table.c[c] for c in expected.columns])
            fetched = connection.execute(typed, bound).all()
        return [{c: canon(attrs[c], value) for c, value in zip(expected.columns, row, strict=True)} for row in fetched]

    # --- paths through relationships -----------------------------------------------------------

    def path_cases(self, name: str) -> tuple[list[Row], list[PathCase]]:
        """The pattern's rows with the values its paths reach, and the cases its query runs with."""
        return path_cases(self.paths[name], self.tables, self.loaded, self.canonical, self.engine)

    def check_path_data(self, name: str) -> None:
        """Some case's path filters keep some of the rows the local filters select and drop others:
        a query that ignored the path would then give another answer."""
        read = self.paths[name]
        rows, cases = self.path_cases(name)
        assert cases, f"{name}: the seeded rows reach no value on its paths"
        filtered = any(p is not None for _, p in read.filters)
        on_paths = {p.text for p in read.paths}

        def local(case: PathCase) -> int:
            """Rows the case's own-attribute conditions select (before the paths')."""
            own = [x for x in case.conditions if x.column not in on_paths]
            return sum(all(holds(x, r[x.column], self.engine) for x in own) for r in rows)

        telling = [c for c in cases if 0 < len(path_matching(rows, c, self.engine)) < local(c)]
        assert telling or not filtered, f"{name}: no case has a path filter that both keeps and drops rows"

    def _path_bound(
        self, read: PathRead, query: Query, values: dict[str, Any], table: sa.Table
    ) -> tuple[sa.TextClause, dict[str, Any]]:
        """`_bound` for a joined query: a path's parameter is typed as the column it reaches."""
        lists = [p.name for p in query.params if p.op == "in"]
        expanded, bound = expand_lists(query.sql, values, lists)
        types: dict[str, Any] = {}
        for param in query.params:
            path = next((x for x in read.paths if x.text == param.column), None)
            if param.op in ("prefix", "search"):
                kind: Any = sa.String()
            elif path is None:
                kind = table.c[param.column].type
            else:
                target = next(t for t in self.tables if t.kind is TableKind.ENTITY and t.entity == path.target)
                kind = self.metadata.tables[target.name].c[column_for(target, path.target, path.attribute) or ""].type
            if param.op == "in":
                types.update({f"{param.name}_{i}": kind for i in range(len(values[param.name]))})
            else:
                types[param.name] = kind
        return text_clause(expanded).bindparams(*[sa.bindparam(k, type_=t) for k, t in types.items()]), bound

    def _selected_as_defined(self, name: str, pattern: AccessPattern, spec: TableSpec) -> None:
        """The query selects exactly the columns the model's pattern reads (a path or geo query is
        compared by its own oracle, whose rows would not show a dropped column)."""
        wanted = query_columns(pattern, spec)
        got = list(self.queries[name].columns)
        if wanted is not None and list(wanted) != got:
            raise AssertionError(f"{name}: selects {got}, the pattern reads {list(wanted)}")

    def _related_read_columns(self, read: PathRead, spec: TableSpec) -> list[str] | None:
        """The columns a pattern reading related fields selects, in its `reads` order: its own, a
        copied field's column, a joined field under its label (None: no related field read)."""
        pattern = read.pattern
        if not read.reads:
            return None
        joined = {path.text: path.slug for path in read.reads}
        copied = {
            path.text: attribute
            for (entity, attribute), path in copies_of(self.model).items()
            if entity == pattern.entity
        }
        columns: list[str] = []
        for name in pattern.reads:
            if name in joined:
                columns.append(joined[name])
                continue
            found = query_columns(pattern.model_copy(update={"reads": [copied.get(name, name)]}), spec)
            if found is None:
                return None
            columns += found
        return columns

    def check_path_query(self, engine: sa.Engine, name: str) -> None:
        """The joined query returns, for each case, what the oracle computes by following the
        paths on the seeded rows (the sort through a path compared on the values it reaches)."""
        read = self.paths[name]
        query = self.queries[name]
        spec = next(t for t in self.tables if t.kind is TableKind.ENTITY and t.entity == read.pattern.entity)
        self._selected_as_defined(name, read.pattern, spec)
        wanted = self._related_read_columns(read, spec)
        if wanted is not None and wanted != list(query.columns):
            raise AssertionError(f"{name}: selects {list(query.columns)}, the pattern reads {wanted}")
        rows, cases = self.path_cases(name)
        columns = list(query.columns)
        sort = [
            (
                path.text if path is not None else column_for(spec, read.pattern.entity, s.attribute) or s.attribute,
                s.direction.value == "desc",
            )
            for s, path in read.sort
        ]
        table = self.metadata.tables[spec.name]
        attrs = {c.name: c.attribute for c in spec.columns}
        attrs.update({path.slug: path.kind for path in read.reads})  # related fields joined in
        problems: list[str] = []
        for case in cases:
            statement, bound = self._path_bound(read, query, case.params, table)
            with engine.connect() as connection:
                fetched = connection.execute(statement, bound).all()
            result = [{c: canon(attrs[c], v) for c, v in zip(columns, row, strict=True)} for row in fetched]
            by_projection: dict[tuple[Any, ...], Row] = {}
            for row in rows:
                by_projection.setdefault(tuple(row[c] for c in columns), row)
            # The sort's path values are not selected: take them from the row the result is.
            result = [by_projection.get(tuple(r[c] for c in columns), r) for r in result]
            want = path_matching(rows, case, self.engine)
            problems += [
                f"with {case.params!r}: {problem}"
                for problem in compare_result(read.pattern, want, result, columns, sort, self.engine)
            ]
        if problems:
            raise AssertionError(f"{name}: " + "; ".join(problems))

    def check_path_aggregate(self, engine: sa.Engine, name: str) -> None:
        """An aggregate through relationships returns, for each case, the groups and values the
        oracle computes from the rows its filters select, each row's path values followed on the
        seeded rows (a group through a path is the value the path reaches)."""
        read = self.paths[name]
        pattern = read.pattern
        aggregate = pattern.aggregate
        assert aggregate is not None
        query = self.queries[name]
        spec = next(t for t in self.tables if t.kind is TableKind.ENTITY and t.entity == pattern.entity)
        # Each group's key in the oracle's rows: the column, or the path's dotted name.
        keys = [path.text if path is not None else column_for(spec, pattern.entity, g) or g for g, path in read.groups]
        kinds = [
            path.kind if path is not None else spec.column(key).attribute
            for key, (_, path) in zip(keys, read.groups, strict=True)
        ]
        measured = column_for(spec, pattern.entity, aggregate.attribute) if aggregate.attribute else None
        by_name = dict(zip(aggregate.group_by, keys, strict=True))
        order = [(by_name[s.attribute], s.direction.value == "desc") for s in pattern.sort]
        rows, cases = self.path_cases(name)
        table = self.metadata.tables[spec.name]
        problems: list[str] = []
        for case in cases:
            want = aggregate_rows(path_matching(rows, case, self.engine), keys, measured, aggregate.function)
            if order:
                want = sort_rows(want, order, self.engine)
            if pattern.limit is not None:
                want = want[: pattern.limit]
            statement, bound = self._path_bound(read, query, case.params, table)
            with engine.connect() as connection:
                fetched = connection.execute(statement, bound).all()
            got = [
                {
                    **{k: canon(kind, v) for k, kind, v in zip(keys, kinds, row[:-1], strict=True)},
                    VALUE: row[-1],
                }
                for row in fetched
            ]
            attribute = spec.column(measured).attribute if measured else None
            problem = compare_aggregates(want, got, keys, bool(order), attribute, aggregate.function)
            if problem:
                problems.append(f"with {case.params!r}: {problem}")
        if problems:
            raise AssertionError(f"{name}: " + "; ".join(problems))

    # --- write predicates ----------------------------------------------------------------------

    def write_names(self) -> list[str]:
        """The predicated writes of writes.sql (updates and deletes with a `where`)."""
        return [p.write for p in all_predicates(self.model) if p.write in self.writes]

    def _set_values(self, spec: TableSpec, write: Query) -> dict[str, Any]:
        """A value for each column an update sets: the known-good row's, or for a reference a
        seeded row's (the known-good row's parent is not loaded)."""
        _, valid = self.valid_row(spec.name)
        references = {c for fk in spec.foreign_keys for c in fk.columns}
        seeded = self.loaded[spec.name][0]
        return {
            p.name: seeded[p.column] if p.column in references else valid[p.column]
            for p in write.params
            if p.op == "set"
        }

    def kept_names(self) -> list[str]:
        """`Entity.attribute` of every derived attribute derived.sql keeps in step."""
        return kept_names(self.model, self.tables)

    def check_kept(self, engine: sa.Engine, name: str) -> None:
        """The derived attribute `name` equals its children's aggregate after every kind of child write."""
        check_kept(self, engine, name)

    def check_write(self, engine: sa.Engine, name: str) -> None:
        """For each case the oracle chooses, the emitted write changes exactly the rows the model's
        predicate matches on the seeded rows (its count, its keys, and for an update the values
        set), and a locked write's lock selects those rows first. Every case is rolled back."""
        predicate = next(p for p in all_predicates(self.model) if p.write == name)
        spec = next(t for t in self.tables if t.kind is TableKind.ENTITY and t.entity == predicate.entity)
        expected = expected_query(predicate.as_read(self.model), spec)
        canonical = self.canonical[spec.name]
        evaluator = Evaluator(expected, canonical, self.engine)
        write = self.writes[name]
        lock = self.writes.get(lock_name(name))
        table = self.metadata.tables[spec.name]
        attrs = {c.name: c.attribute for c in spec.columns}
        keys = list(expected.columns)
        for block in (write, lock):
            unbound = [
                q.name for q in expected.params if block is not None and not re.search(rf":{q.name}\b", block.sql)
            ]
            if block is not None and unbound:
                raise AssertionError(
                    f"{block.name}: the statement does not use :{', :'.join(unbound)}, which the model's where needs"
                )
        sets = self._set_values(spec, write)
        problems: list[str] = []
        for case in choose_cases(expected, self.loaded[spec.name], canonical, self.engine):
            want = sorted(
                (tuple(row[k] for k in keys) for row in evaluator.matching(case.conditions)), key=_nulls_first
            )
            with engine.connect() as connection, connection.begin() as transaction:
                if lock is not None:
                    locking, bound = self._bound(lock.sql, lock.params, case.params, table)
                    got = sorted(
                        (
                            tuple(canon(attrs[k], v) for k, v in zip(keys, r, strict=True))
                            for r in connection.execute(locking, bound)
                        ),
                        key=_nulls_first,
                    )
                    if got != want:
                        problems.append(
                            f"with {case.params!r}: the lock selects {len(got)} rows, the model's predicate {len(want)}"
                        )
                statement, bound = self._bound(write.sql, write.params, case.params | sets, table)
                changed = connection.execute(statement, bound).rowcount
                if changed != len(want):
                    problems.append(
                        f"with {case.params!r}: {changed} rows written, the model's predicate matches {len(want)}"
                    )
                # The planned columns only: a generated one (a geo point's geography, a JSON
                # sub-field's virtual column) is the engine's, not the model's.
                stored = [table.c[c] for c in attrs if c in table.c]
                rows = [
                    {c: canon(attrs[c], v) for c, v in row._mapping.items()}
                    for row in connection.execute(sa.select(*stored))
                ]
                left = {tuple(r[k] for k in keys): r for r in rows}
                if predicate.kind is WriteKind.DELETE:
                    kept = [k for k in want if k in left]
                    if kept or len(rows) != len(canonical) - len(want):
                        problems.append(
                            f"with {case.params!r}: {len(canonical) - len(rows)} rows gone, {len(want)} expected"
                        )
                else:
                    set_to = {p.column: canon(attrs[p.column], sets[p.name]) for p in write.params if p.op == "set"}
                    stale = [k for k in want if any(left[k][c] != v for c, v in set_to.items())]
                    if stale:
                        problems.append(f"with {case.params!r}: {len(stale)} matched rows not set to {set_to!r}")
                transaction.rollback()
        if problems:
            raise AssertionError(f"{name}: " + "; ".join(problems))

    # --- aggregates ----------------------------------------------------------------------------

    def check_aggregate(self, engine: sa.Engine, name: str) -> None:
        """For each case, the emitted GROUP BY query returns the groups and values the oracle
        computes from the rows the pattern's filters select (in the pattern's order, to its limit)."""
        pattern = self._pattern(name)
        aggregate = pattern.aggregate
        assert aggregate is not None
        query = self.queries[name]
        evaluator, chosen = self.cases(name)
        expected = evaluator.expected
        spec = expected.table
        table = self.metadata.tables[spec.name]
        attrs = {c.name: c.attribute for c in spec.columns}
        groups = list(query.columns[:-1])
        measured = column_for(spec, pattern.entity, aggregate.attribute) if aggregate.attribute else None
        order = [
            (column_for(spec, pattern.entity, s.attribute) or s.attribute, s.direction.value == "desc")
            for s in pattern.sort
        ]
        problems: list[str] = []
        for case in chosen:
            want = aggregate_rows(evaluator.matching(case.conditions), groups, measured, aggregate.function)
            if order:
                want = sort_rows(want, order, self.engine)
            if pattern.limit is not None:
                want = want[: pattern.limit]
            statement, bound = self._bound(query.sql, expected.params, case.params, table)
            with engine.connect() as connection:
                fetched = connection.execute(statement, bound).all()
            got = [
                {**{g: canon(attrs[g], v) for g, v in zip(groups, row[:-1], strict=True)}, VALUE: row[-1]}
                for row in fetched
            ]
            problem = compare_aggregates(
                want, got, groups, ordered=bool(order), attribute=attrs.get(measured or ""), function=aggregate.function
            )
            if problem:
                problems.append(f"with {case.params!r}: {problem}")
        if problems:
            raise AssertionError(f"{name}: " + "; ".join(problems))

    # --- geo reads -----------------------------------------------------------------------------

    def _geo_cases(self, name: str) -> list[GeoCase]:
        pattern = self._pattern(name)
        query = self.queries[name]
        # The other filters as a plain read has them: the oracle's own parameter sets and rows.
        plain = pattern.model_copy(
            update={"filters": [f for f in pattern.filters if not is_geo_filter(f)], "sort": [], "limit": None}
        )
        spec = next(t for t in self.tables if t.kind is TableKind.ENTITY and t.entity == pattern.entity)
        expected = expected_query(plain, spec)
        rows = self.canonical[spec.name]
        evaluator = Evaluator(expected, rows, self.engine)
        sets = candidates(expected, self.loaded[spec.name], rows, self.engine) if expected.params else [{}]
        selections = [(dict(p), evaluator.matching(build_case(expected, p, self.engine).conditions)) for p in sets]
        try:
            cases = geo_cases(pattern, query.params, selections)
        except MissingGeoParameter as missing:
            raise AssertionError(f"{name}: {missing}") from None
        if isinstance(cases, str):
            raise DataCannotDiscriminate(f"{name}: {cases}")
        return cases

    def check_geo(self, engine: sa.Engine, name: str) -> None:
        """For each geo case, the emitted query returns the rows inside the radius or box (nearest
        first when sorted by distance, to the limit), as the haversine oracle computes them."""
        query = self.queries[name]
        spec = next(t for t in self.tables if t.kind is TableKind.ENTITY and t.entity == query.entity)
        table = self.metadata.tables[spec.name]
        attrs = {c.name: c.attribute for c in spec.columns}
        key = spec.primary_key[0]
        self._selected_as_defined(name, self._pattern(name), spec)
        problems: list[str] = []
        for case in self._geo_cases(name):
            statement, bound = self._bound(query.sql, query.params, case.params, table)
            with engine.connect() as connection:
                fetched = connection.execute(statement, bound).mappings().all()
            got = [{c: canon(attrs[c], row[c]) for c in query.columns if c in attrs} for row in fetched]
            problem = compare_geo(self._pattern(name), case, got, key)
            if problem:
                problems.append(f"with {case.params!r}: {problem}")
        if problems:
            raise AssertionError(f"{name}: " + "; ".join(problems))


def _nulls_first(row: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    """A sort key for rows that may hold NULL: a keyless table's rows are identified by all their
    columns (key: {kind: none}), nullable ones too, and None does not compare with a value."""
    return tuple((value is not None, value) for value in row)
