"""Derived attributes kept in step by the database: `relational/<engine>/derived.sql`.

For each derived attribute (`derived: {function, relationship, attribute}`) whose entity and
children are both relational, the file holds a backfill (the parent column set from its
children, for rows that exist before the triggers) and row triggers on the child table that
keep it in step on every insert, delete and update of the reference or the aggregated column:

- count and sum add and subtract the child's contribution (`n = n + 1`, `s = s + NEW.x`): an
  UPDATE of the parent row under its row lock, so concurrent child writes never lose one;
- max and min read the parent's children again (a delete or a lowered value cannot be undone
  from the old value alone).

Run it once after the schema (the backfill makes rows loaded before it right; from then on the
triggers do); its UPDATE statements are idempotent, so a later bulk load that bypassed the
triggers is put right by running them again. Triggers are not expressible in SQLAlchemy's DDL constructs (it has no
trigger element), so they are written here by hand, per engine: a PL/pgSQL trigger function on
PostgreSQL, one trigger per event on MariaDB/MySQL and SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from polyplan.model.derived import key_of, reference_of
from polyplan.model.derived_attribute_checks import derived_attributes, derived_relationship
from polyplan.model.schema import DerivedFunction, RequirementsModel
from polyplan.stores.relational.design import fit
from polyplan.stores.relational.render import DIALECTS, header
from polyplan.stores.relational.spec import TableKind, TableSpec


@dataclass(frozen=True)
class KeptAggregate:
    """One derived attribute as tables and columns: `parent.column` = function(child.source) per
    parent, the child's `references` columns matching the parent's `key` columns in order."""

    entity: str
    attribute: str
    function: DerivedFunction
    parent: str
    column: str
    key: tuple[str, ...]
    child: str
    references: tuple[str, ...]
    source: str | None  # the aggregated child column; None for count

    @property
    def name(self) -> str:
        """`Entity.attribute`: how tests and reports name it."""
        return f"{self.entity}.{self.attribute}"

    @property
    def trigger(self) -> str:
        """The base name of the trigger objects (each engine adds its suffixes)."""
        return fit(f"trg_{self.parent}_{self.column}", 56)

    def as_data(self) -> dict[str, object]:
        """JSON-ready form, for the generated tests."""
        return {
            "entity": self.entity,
            "attribute": self.attribute,
            "function": self.function.value,
            "parent": self.parent,
            "column": self.column,
            "key": list(self.key),
            "child": self.child,
            "references": list(self.references),
            "source": self.source,
        }


def _column_of(spec: TableSpec, source: str) -> str | None:
    return next((c.name for c in spec.columns if c.source == source), None)


def kept_aggregates(model: RequirementsModel, tables: Sequence[TableSpec]) -> list[KeptAggregate]:
    """Every derived attribute whose entity and children both have relational tables, in model order."""
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    found: list[KeptAggregate] = []
    for entity, name, attribute in derived_attributes(model):
        derived = attribute.derived
        relationship = derived_relationship(model, attribute)
        reference = reference_of(model, relationship) if relationship is not None else None
        parent, child = by_entity.get(entity), by_entity.get(relationship.to) if relationship else None
        if derived is None or reference is None or relationship is None or parent is None or child is None:
            continue
        parent_key = key_of(model.entities[entity]).attributes
        by_parent_attr = {parent_attr: child_attr for child_attr, parent_attr in reference.columns.items()}
        column = _column_of(parent, f"{entity}.{name}")
        key = tuple(_column_of(parent, f"{entity}.{k}") for k in parent_key)
        references = tuple(_column_of(child, f"{relationship.to}.{by_parent_attr[k]}") for k in parent_key)
        source = _column_of(child, f"{relationship.to}.{derived.attribute}") if derived.attribute else None
        if column is None or None in key or None in references or (derived.attribute and source is None):
            continue
        found.append(
            KeptAggregate(
                entity,
                name,
                derived.function,
                parent.name,
                column,
                tuple(k for k in key if k is not None),
                child.name,
                tuple(r for r in references if r is not None),
                source,
            )
        )
    return found


def kept_names(model: RequirementsModel, tables: Sequence[TableSpec]) -> list[str]:
    """`Entity.attribute` of every derived attribute the relational schema keeps in step, sorted
    (the tests' copy of the model lists attributes in another order)."""
    return sorted(kept.name for kept in kept_aggregates(model, tables))


class _Sql:
    """The statements of one kept aggregate on one engine."""

    def __init__(self, kept: KeptAggregate, engine: str) -> None:
        quote = DIALECTS[engine].sa_dialect().identifier_preparer.quote
        self.kept = kept
        self.engine = engine
        self.parent = quote(kept.parent)
        self.child = quote(kept.child)
        self.column = quote(kept.column)
        self.key = [quote(k) for k in kept.key]
        self.references = [quote(r) for r in kept.references]
        self.source = quote(kept.source) if kept.source else None
        self.quote = quote

    def _match(self, row: str) -> str:
        return " AND ".join(f"{k} = {row}.{r}" for k, r in zip(self.key, self.references, strict=True))

    def _children(self) -> str:
        """The aggregate over the children of the parent row being updated."""
        join = " AND ".join(f"c.{r} = {self.parent}.{k}" for k, r in zip(self.key, self.references, strict=True))
        function = self.kept.function
        measured = "*" if function is DerivedFunction.COUNT else f"c.{self.source}"
        aggregate = f"{function.value.upper()}({measured})"
        if function is DerivedFunction.SUM:
            aggregate = f"COALESCE({aggregate}, 0)"
        return f"(SELECT {aggregate} FROM {self.child} c WHERE {join})"

    def backfill(self) -> str:
        """Set every parent row from its children (rows loaded before the triggers)."""
        return f"UPDATE {self.parent} SET {self.column} = {self._children()};"

    def change(self, row: str, sign: str) -> str:
        """The parent update for adding (`+`) or removing (`-`) child row `row` (NEW or OLD)."""
        function = self.kept.function
        if function is DerivedFunction.COUNT:
            value = f"{self.column} {sign} 1"
        elif function is DerivedFunction.SUM:
            value = f"{self.column} {sign} COALESCE({row}.{self.source}, 0)"
        else:
            value = self._children()
        return f"UPDATE {self.parent} SET {self.column} = {value} WHERE {self._match(row)};"

    def watched(self) -> list[str]:
        """The child columns whose update changes the aggregate."""
        return [*self.references, *([self.source] if self.source else [])]


def _postgresql(sql: _Sql) -> list[str]:
    name = sql.quote(sql.kept.trigger)
    function = sql.quote(fit(f"{sql.kept.trigger}_fn"))
    body = [
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$",
        "BEGIN",
        "    IF TG_OP IN ('DELETE', 'UPDATE') THEN",
        f"        {sql.change('OLD', '-')}",
        "    END IF;",
        "    IF TG_OP IN ('INSERT', 'UPDATE') THEN",
        f"        {sql.change('NEW', '+')}",
        "    END IF;",
        "    RETURN NULL;",
        "END",
        "$$;",
    ]
    trigger = (
        f"CREATE TRIGGER {name} AFTER INSERT OR DELETE OR UPDATE OF {', '.join(sql.watched())} ON {sql.child}\n"
        f"FOR EACH ROW EXECUTE FUNCTION {function}();"
    )
    return ["\n".join(body), trigger]


def _row_triggers(sql: _Sql) -> list[str]:
    """One trigger per event (MariaDB/MySQL and SQLite have no multi-event trigger)."""
    base = sql.kept.trigger
    begin, end = "BEGIN", "END"
    moves = [f"    {sql.change('OLD', '-')}", f"    {sql.change('NEW', '+')}"]
    if sql.engine == "mysql":
        # MariaDB/MySQL triggers have no column list: an update of another column (a counter
        # added to 3,000 times a second) must not touch the parent row.
        same = " AND ".join(f"OLD.{c} <=> NEW.{c}" for c in sql.watched())
        moves = [f"    IF NOT ({same}) THEN", *(f"    {line}" for line in moves), "    END IF;"]
    on_update = "\n".join([begin, *moves, end])
    event = "UPDATE" if sql.engine == "mysql" else f"UPDATE OF {', '.join(sql.watched())}"
    return [
        f"CREATE TRIGGER {sql.quote(base + '_ins')} AFTER INSERT ON {sql.child} FOR EACH ROW\n"
        + "\n".join([begin, f"    {sql.change('NEW', '+')}", end]),
        f"CREATE TRIGGER {sql.quote(base + '_del')} AFTER DELETE ON {sql.child} FOR EACH ROW\n"
        + "\n".join([begin, f"    {sql.change('OLD', '-')}", end]),
        f"CREATE TRIGGER {sql.quote(base + '_upd')} AFTER {event} ON {sql.child} FOR EACH ROW\n" + on_update,
    ]


def install_statements(kept: KeptAggregate, engine: str) -> list[str]:
    """The backfill and the triggers of one kept aggregate on `engine`, each without its `;`."""
    return [_Sql(kept, engine).backfill().removesuffix(";"), *trigger_statements(kept, engine)]


def trigger_statements(kept: KeptAggregate, engine: str) -> list[str]:
    """The triggers (and PostgreSQL's trigger function) of one kept aggregate, each without its `;`."""
    sql = _Sql(kept, engine)
    made = _postgresql(sql) if engine == "postgresql" else _row_triggers(sql)
    return [statement.removesuffix(";") for statement in made]


def uninstall_statements(kept: KeptAggregate, engine: str) -> list[str]:
    """What removes the triggers (and PostgreSQL's trigger function) of one kept aggregate."""
    sql = _Sql(kept, engine)
    if engine == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {sql.quote(kept.trigger)} ON {sql.child}",
            f"DROP FUNCTION IF EXISTS {sql.quote(fit(f'{kept.trigger}_fn'))}()",
        ]
    return [f"DROP TRIGGER IF EXISTS {sql.quote(kept.trigger + suffix)}" for suffix in ("_ins", "_del", "_upd")]


def render_derived_sql(model: RequirementsModel, kept: Sequence[KeptAggregate], engine: str) -> str | None:
    """`derived.sql` for `engine`: per kept aggregate its backfill and its triggers; None when the
    model keeps none relationally."""
    if not kept:
        return None
    blocks = [
        header(model, "Derived attributes kept in step by triggers", engine)
        + "-- Run once after schema.sql (and after a first bulk load): each backfill sets the parents from their\n"
        "-- children, then the triggers keep them in step on every child insert, delete and update. After a later\n"
        "-- bulk load that bypassed the triggers, run the UPDATE statements again: they are idempotent."
    ]
    for item in kept:
        sql = _Sql(item, engine)
        of = f"({item.source})" if item.source else "(children)"
        blocks.append(f"-- {item.entity}.{item.attribute} = {item.function.value}{of} of {item.child}")
        blocks.append(sql.backfill())
        if engine == "postgresql":
            blocks += _postgresql(sql)
        else:
            blocks += [f"{statement};" for statement in _row_triggers(sql)]
    return "\n\n".join(blocks) + "\n"
