"""Erasure of the subject from the audit trail on MariaDB/MySQL: `relational/mysql/erasure_audit.sql` (pure).

The legal rule is PostgreSQL's (`erasure.render_audit_erasure_sql`): the trail is kept, the
subject's audit rows are anonymized (their PII set to null in `old_row` and `new_row`), never
deleted. MariaDB has no `DISABLE TRIGGER`, and DDL there commits the transaction, so the trail's
append-only guard (`security.sql`) is not dropped: its UPDATE trigger lets a row change only when
the session set `@app_audit_erasure = 1`, and then only in its row images (table, operation,
actor, time and connection stay as recorded). Only the migration owner holds UPDATE on the trail;
DELETE stays refused to everyone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from polyplan.model.schema import RequirementsModel
from polyplan.security.erasure import (
    ANONYMIZE,
    DELETE,
    PARAMETER,
    ErasurePlan,
    TableStep,
    _selector,
    _text_literal,
    audit_covered,
    holds_pii,
)
from polyplan.stores.relational.spec import TableSpec

ERASURE_FLAG = "app_audit_erasure"  # the session variable the MariaDB guard trigger honours


@dataclass(frozen=True)
class AuditTarget:
    """The audit rows of one table that name the subject, and the PII columns they lose."""

    step: TableStep
    pii: tuple[str, ...]
    match: str  # SQL condition on old_row/new_row selecting the subject's audit rows of the table


_SIDES = ("old_row", "new_row")


class _Matcher:
    """Which audit rows of a table are the subject's, at any depth of the graph.

    erasure_audit.sql runs after erasure.sql, so the rows it deleted are gone from their tables: a
    row further from the subject is found through its parents' keys, read from the trail itself
    (the parent is audited: its images, the deletes included, hold its key and its reference) or
    from the live table (the parent's rows are kept, anonymized). A table with a parent whose keys
    neither gives is not covered (PP450 names it)."""

    def __init__(
        self, plan: ErasurePlan, tables: Sequence[TableSpec], audited: Sequence[str], audit: str, engine: str
    ) -> None:
        from polyplan.stores.relational.render import DIALECTS, build_metadata

        self.plan = plan
        self.audited = set(audited)
        self.engine = engine
        self.dialect = DIALECTS[engine].sa_dialect()
        self.audit = self.dialect.identifier_preparer.quote(audit)
        self.metadata = build_metadata(list(tables), engine).metadata
        self.by_name = {t.name: t for t in tables}
        self.steps = {s.table: s for s in plan.steps if not s.leaf and s.action in (DELETE, ANONYMIZE)}
        self.derived = 0

    def image(self, side: str, column: str) -> str:
        if self.engine == "postgresql":
            return f"{side} ->> {_text_literal(column)}"
        return f"JSON_VALUE({side}, {_path(column)})"

    def literal(self, text: str) -> str:
        return _text_literal(text) if self.engine == "postgresql" else _literal(text)

    def subject(self) -> str:
        return f"CAST(:{PARAMETER} AS TEXT)" if self.engine == "postgresql" else f":{PARAMETER}"

    def match(self, table: str) -> str | None:
        """The condition on an audit row's images that makes it the subject's row of `table`."""
        step = self.steps[table]
        if table == self.plan.subject_table:
            key = self.by_name[table].primary_key[0]
            return " OR ".join(f"{self.image(side, key)} = {self.subject()}" for side in _SIDES)
        parts: list[str] = []
        for fk in step.parents:
            if len(fk.columns) != 1:
                return None
            if fk.ref_table == self.plan.subject_table:
                condition = f"= {self.subject()}"
            else:
                ids = self.ids(fk.ref_table, fk.ref_columns[0])
                if ids is None:
                    return None
                condition = f"IN ({ids})"
            parts += [f"{self.image(side, fk.columns[0])} {condition}" for side in _SIDES]
        return " OR ".join(parts) if parts else None

    def ids(self, table: str, column: str) -> str | None:
        """A query of the subject's values of `table.column` as text, or None when they are lost."""
        step = self.steps.get(table)
        if step is None:
            return None
        parts: list[str] = []
        matched = self.match(table) if table in self.audited else None
        if matched is not None:
            parts += [
                f"SELECT {self.image(side, column)} AS v FROM {self.audit} "
                f"WHERE table_name = {self.literal(table)} AND ({matched})"
                for side in _SIDES
            ]
        if step.action == ANONYMIZE:  # kept rows: their keys are still in the table
            target = self.metadata.tables[table]
            query = sa.select(sa.cast(target.c[column], sa.String()).label("v")).where(
                _selector(self.plan, self.metadata, table)
            )
            parts.append(" ".join(str(query.compile(dialect=self.dialect)).split()))
        if not parts:
            return None
        union = " UNION ".join(parts)
        if self.engine == "postgresql":
            return union
        # MariaDB refuses a subquery on the table an UPDATE changes, unless it is a derived table.
        self.derived += 1
        return f"SELECT v FROM ({union}) AS subject_ids_{self.derived}"


def audit_targets(
    plan: ErasurePlan, tables: Sequence[TableSpec], audited_tables: Sequence[str], audit_table: str, engine: str
) -> list[AuditTarget]:
    """The audited tables whose audit rows erasure_audit.sql rewrites, with their PII columns."""
    matcher = _Matcher(plan, tables, audited_tables, audit_table, engine)
    found: list[AuditTarget] = []
    for step in audit_covered(plan, audited_tables):
        spec = matcher.by_name[step.table]
        keys = set(spec.primary_key) | {c for fk in spec.foreign_keys for c in fk.columns}
        pii = tuple(c.name for c in spec.columns if c.name not in keys and holds_pii(c.attribute))
        match = matcher.match(step.table)
        if pii and match is not None:
            found.append(AuditTarget(step, pii, match))
    return found


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _path(column: str) -> str:
    """A JSON path naming one member (quoted: a column name may hold any character)."""
    return _literal('$."' + column.replace("\\", "\\\\").replace('"', '\\"') + '"')


def guard_update_body(audit_columns: Sequence[str], quote: Callable[[str], str]) -> str:
    """The MariaDB guard trigger's body: refuse any UPDATE of the trail but erasure's rewrite of
    row images, which needs the session flag and leaves every other column as recorded."""
    same = " AND ".join(f"NEW.{quote(c)} <=> OLD.{quote(c)}" for c in audit_columns if c not in ("old_row", "new_row"))
    return (
        "BEGIN\n"
        f"  IF NOT (@{ERASURE_FLAG} <=> 1 AND {same}) THEN\n"
        "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the audit trail is append-only';\n"
        "  END IF;\n"
        "END"
    )


def render_mysql_audit_erasure_sql(
    model: RequirementsModel,
    plan: ErasurePlan,
    tables: Sequence[TableSpec],
    audit_table: str,
    audited_tables: Sequence[str],
) -> str | None:
    """`relational/mysql/erasure_audit.sql`: the subject's audit rows kept, their PII set to null."""
    from polyplan.stores.relational.render import DIALECTS

    quote = DIALECTS["mysql"].sa_dialect().identifier_preparer.quote
    audit = quote(audit_table)
    statements: list[tuple[str, str]] = []
    for target in audit_targets(plan, tables, audited_tables, audit_table, "mysql"):
        nulls = ", ".join(f"{_path(c)}, NULL" for c in target.pii)
        match = target.match
        statements.append(
            (
                f"{target.step.table}: {', '.join(target.pii)} set to null in the audit rows of the subject",
                # JSON_SET of a NULL image (an INSERT's old_row) stays NULL.
                f"UPDATE {audit} SET old_row = JSON_SET(old_row, {nulls}), new_row = JSON_SET(new_row, {nulls})\n"
                f"WHERE table_name = {_literal(target.step.table)} AND ({match})",
            )
        )
    return audit_erasure_text(
        model,
        plan,
        "mysql",
        f"@{ERASURE_FLAG} lets the append-only guard accept this rewrite of row images only, and is cleared at the end",
        (f"SET @{ERASURE_FLAG} = 1", f"SET @{ERASURE_FLAG} = NULL"),
        statements,
    )


def audit_erasure_text(
    model: RequirementsModel,
    plan: ErasurePlan,
    engine: str,
    guard: str,
    around: tuple[str, str],
    statements: Sequence[tuple[str, str]],
) -> str | None:
    """An erasure_audit.sql: its header, the statement that opens the guard, each step, and the one
    that closes it (None when no audited table of the subject holds PII)."""
    if not statements:
        return None
    lines = [
        f"-- Erasure of one data subject ({plan.subject}) from the audit trail, model {model.name} "
        f"(version {model.version}), engine {engine}.",
        "-- Generated by polyplan from the requirements model; change the model, not this file.",
        f"-- Parameter :{PARAMETER} is the subject's key, as for erasure.sql.",
        "-- Note: the audit trail is kept (the legal rule: it proves what was done, this erasure included): the "
        "subject's audit rows are anonymized, not deleted.",
        f"-- Note: run after erasure.sql in the same transaction, as the migration owner ({guard}).",
        "",
        f"{around[0]};",
        "",
    ]
    for why, sql in statements:
        lines += [f"-- step: {why}", f"{sql};", ""]
    lines += [f"{around[1]};", ""]
    return "\n".join(lines)
