"""Write predicates in Cassandra: a predicate is found only through a partition key.

Cassandra writes one row by its full primary key, and a denormalized entity lives in several
tables that must all change. So an update or delete by predicate reads the keys of the matching
rows from a table whose partition key the predicate fixes (one partition, the clustering columns
sliced by the rest of the predicate), then writes each row as the by-key operation does. A
predicate that fixes no table's partition key could only be found with ALLOW FILTERING across
the cluster: PP414 says so, and the application must name the keys itself.
"""

from __future__ import annotations

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import FilterOp, RequirementsModel
from polyplan.plan.predicates import WritePredicate, all_predicates, lock_warnings
from polyplan.stores.wide_column.cql import qualified, quote
from polyplan.stores.wide_column.spec import EntityDesign, Table, WideColumnDesign
from polyplan.stores.wide_column.statements import marker

# The CQL comparison and bind-marker suffix of each bound; `range` is `>= :from AND < :to`.
_BOUNDS = {
    FilterOp.GT: ((">", "above"),),
    FilterOp.GE: ((">=", "from"),),
    FilterOp.LT: (("<", "to"),),
    FilterOp.LE: (("<=", "through"),),
    FilterOp.RANGE: ((">=", "from"), ("<", "to")),
}


def _select(table: Table, predicate: WritePredicate) -> str | None:
    """SELECT of the matching rows' keys from `table`, if the predicate fixes its partition key and
    the rest of the predicate slices its clustering columns (equalities, then one bound)."""
    by_attribute = {c.attribute: c.name for c in table.columns if c.attribute is not None}
    partition = [next((c.attribute for c in table.columns if c.name == n), None) for n in table.partition_key]
    filters = {f.attribute: f for f in predicate.filters}
    if any(f.value is not None for f in predicate.filters):
        return None  # constants name no bind marker; the by-key write would have to repeat them
    bucket = table.bucket
    if bucket is not None:
        # A time bucket is enumerable between two bounds of its attribute (as the reads do it);
        # a hash bucket, or a bound on one side only, would leave every bucket to visit.
        bounded = bucket.kind == "time" and filters.get(bucket.source[0]) is not None
        if not bounded or filters[bucket.source[0]].op is not FilterOp.RANGE:
            return None
    if not all(a in filters and filters[a].op is FilterOp.EQ for a in partition if a is not None):
        return None
    clauses = [(by_attribute[a], "=", a) for a in partition if a is not None]
    if bucket is not None:
        clauses.append((bucket.column, "=", bucket.column))
    rest = [f for f in predicate.filters if f.attribute not in partition]
    clustering = [next((c.attribute for c in table.columns if c.name == n), None) for n, _ in table.clustering]
    for attribute in clustering:
        flt = next((f for f in rest if f.attribute == attribute), None)
        if flt is None:
            break
        rest.remove(flt)
        if flt.op is FilterOp.EQ:
            clauses.append((by_attribute[flt.attribute], "=", flt.attribute))
            continue
        if flt.op not in _BOUNDS:
            return None
        clauses += [(by_attribute[flt.attribute], op, f"{flt.attribute}_{suffix}") for op, suffix in _BOUNDS[flt.op]]
        break
    if rest:
        return None
    where = " AND ".join(f"{quote(column)} {op} {marker(param)}" for column, op, param in clauses)
    names = ", ".join(quote(n) for n in table.primary_key)
    each = f", once per {bucket.column} ({bucket.unit}) between the bounds" if bucket is not None else ""
    return f"SELECT {names} FROM {qualified(table.keyspace, table.name)} WHERE {where}{each}"


def predicate_read(design: EntityDesign, predicate: WritePredicate) -> str | None:
    """The SELECT that finds a predicated write's rows in `design`'s tables, or None."""
    for table in design.tables:
        found = _select(table, predicate)
        if found is not None:
            return found
    return None


def predicate_warnings(model: RequirementsModel, design: WideColumnDesign) -> list[Diagnostic]:
    """PP414 for each predicate no table's partition key serves; PP415 for each locked update."""
    positions = {w.name: i for i, w in enumerate(model.write_patterns)}
    by_entity = {e.entity: e for e in design.entities}
    found: list[Diagnostic] = []
    for predicate in all_predicates(model):
        entity = by_entity.get(predicate.entity)
        if entity is None or predicate_read(entity, predicate) is not None:
            continue
        found.append(
            Diagnostic(
                "PP414",
                f"{predicate.write}: no {predicate.entity} table has a partition key the predicate fixes by "
                "parameters (only the clustering columns may be sliced), so Cassandra could find the rows only "
                "with ALLOW FILTERING over the cluster; the application must name the keys and write each row "
                "by key, or add an access pattern by the predicate's equality attributes",
                f"write_patterns.{positions[predicate.write]}.where",
                Severity.WARNING,
            )
        )
    found += lock_warnings(
        model,
        set(by_entity),
        "Cassandra has no row locks; a lightweight transaction (UPDATE ... IF column = :old) makes the write "
        "conditional on the value read instead",
    )
    return found
