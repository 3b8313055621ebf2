"""The erasure procedure: what erasing one data subject does to every table (pure planning).

`security.data_subject` names the entity whose records are people with a right to erasure. From
its table the procedure follows the foreign keys (the model's relationships as the relational
design rendered them) to every row that belongs to the subject, and decides per table:

* **delete** — the rows go (the default);
* **anonymize** — the rows stay with every PII column overwritten: an entity with
  `growth.must_keep` (orders kept for tax law), or one that declares `erasure: anonymize`; a row
  that is kept keeps its parent too (its foreign key must stay valid), so the parent is then
  anonymized rather than deleted;
* **detach** — a child whose relationship says `on_delete: set_null` is not the subject's data:
  its reference is set to NULL and the row stays as it is.

Link rows of a many-to-many relationship and list items go with a deleted row; those of a kept
row stay, but for list items that hold PII. A self-reference is not followed (a subject's rows do
not make other subjects' rows theirs).

The rendering (`render_erasure_sql`) writes one statement per step for an engine, every one
bound to `:subject_id`, in an order that keeps every foreign key valid: anonymize, detach, then
delete children before parents.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect as SADialect

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import reference_of
from polyplan.model.schema import (
    Attribute,
    Erasure,
    Family,
    OnDelete,
    Relationship,
    RequirementsModel,
    Sensitivity,
    TypeName,
)
from polyplan.plan.ir import Plan
from polyplan.security.erasure_graph import erasure_action
from polyplan.stores.relational.spec import ColumnSpec, ForeignKeySpec, TableKind, TableSpec

if TYPE_CHECKING:
    from polyplan.security.encryption import EncryptedColumn

DELETE, ANONYMIZE, DETACH = "delete", "anonymize", "detach"
PARAMETER = "subject_id"
ERASURE_FILE = "erasure.sql"
PLACEHOLDER = "erased"
# Candidate overwrites of a PII string, in order; `{key}` is the row's primary key as text. A
# unique column needs the key in it; a pattern (an email) may need the second form.
_UNIQUE_FORMS = ("erased-{key}", "erased-{key}@erased.invalid", "{key}")
_SHARED_FORMS = ("erased", "erased@erased.invalid", *_UNIQUE_FORMS)
# The longest text of a primary key of each type (what `{key}` may grow to).
_KEY_TEXT = {TypeName.UUID: "0" * 36, TypeName.INTEGER: "9" * 20}
_CONSTANTS: dict[TypeName, Any] = {
    TypeName.INTEGER: 0,
    TypeName.DECIMAL: Decimal(0),
    TypeName.FLOAT: 0.0,
    TypeName.BOOLEAN: False,
    TypeName.DATE: datetime.date(1970, 1, 1),
    TypeName.TIMESTAMP: datetime.datetime(1970, 1, 1),
    TypeName.TIMESTAMPTZ: datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC),
    TypeName.UUID: uuid.UUID(int=0),
    TypeName.JSON: "{}",
    TypeName.BINARY: b"",
}


def holds_pii(attribute: Attribute) -> bool:
    """Whether an attribute, or a field nested in it at any depth, is classified as PII."""
    if attribute.pii is not Sensitivity.NONE:
        return True
    if attribute.fields and any(holds_pii(f) for f in attribute.fields.values()):
        return True
    return attribute.items is not None and holds_pii(attribute.items)


@dataclass(frozen=True)
class Overwrite:
    """How one PII column of a kept row is overwritten: NULL, a constant, or a text with the row's key."""

    column: str
    value: Any = None  # None: NULL (or the text form below)
    form: str | None = None  # e.g. "erased-{key}": the key cast to text is put in its place


@dataclass(frozen=True)
class TableStep:
    """What erasure does to one table: its action, the edges that reach it, what it overwrites."""

    table: str
    entity: str
    action: str
    parents: tuple[ForeignKeySpec, ...]  # foreign keys to reached tables whose rows make these rows the subject's
    overwrites: tuple[Overwrite, ...] = ()
    detach: tuple[ForeignKeySpec, ...] = ()  # set_null references to the subject's rows, cleared
    reason: str = ""
    leaf: bool = False  # a many-to-many link table or a list's items, reached through one parent


@dataclass
class ErasurePlan:
    """Every table the subject reaches, in statement order, with the design's diagnostics."""

    subject: str
    subject_table: str | None
    subject_key: str = ""  # the subject table's key column
    steps: list[TableStep] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _entity_rule(model: RequirementsModel, entity: str) -> tuple[str, str]:
    definition = model.entities[entity]
    if definition.erasure is Erasure.ANONYMIZE:
        return ANONYMIZE, "erasure: anonymize"
    if definition.erasure is Erasure.DELETE:
        return DELETE, "erasure: delete"
    if definition.growth.must_keep:
        return ANONYMIZE, "growth.must_keep: the rows are kept, their PII overwritten"
    return DELETE, "the subject's rows"


def _key_text(spec: TableSpec) -> str:
    """The longest text the table's primary key may have (the `{key}` of an overwrite)."""
    column = spec.column(spec.primary_key[0])
    if column.attribute.type in _KEY_TEXT:
        return _KEY_TEXT[column.attribute.type]
    return "0" * (column.attribute.max_length or 36)


def _fits(text: str, attribute: Attribute) -> bool:
    if attribute.max_length is not None and len(text) > attribute.max_length:
        return False
    return attribute.pattern is None or re.search(attribute.pattern, text) is not None


def overwrite_for(spec: TableSpec, column: ColumnSpec, unique: bool) -> Overwrite | None:
    """The overwrite of a PII column of a kept row, or None when none satisfies its constraints."""
    attribute = column.attribute
    if column.nullable:
        return Overwrite(column.name)
    kind = attribute.type
    if kind in (TypeName.STRING, TypeName.TEXT):
        key = _key_text(spec)
        for form in _UNIQUE_FORMS if unique else _SHARED_FORMS:
            if _fits(form.format(key=key), attribute):
                return Overwrite(column.name, form=form) if "{key}" in form else Overwrite(column.name, value=form)
        return None
    if unique:
        return None  # one constant cannot fill a unique column twice
    if kind is TypeName.ENUM:
        return Overwrite(column.name, value=(attribute.values or [PLACEHOLDER])[0])
    if kind in _CONSTANTS:
        value = _CONSTANTS[kind]
        if kind in (TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT):
            low = attribute.min if attribute.min is not None else value
            high = attribute.max if attribute.max is not None else max(value, low)
            value = type(value)(min(max(value, low), high))
        return Overwrite(column.name, value=value)
    return None


class _Designer:
    def __init__(self, model: RequirementsModel, tables: Sequence[TableSpec]) -> None:
        self.model = model
        self.tables = list(tables)
        self.by_name = {t.name: t for t in tables}
        self.diagnostics: list[Diagnostic] = []

    def error(self, code: str, message: str, path: str) -> None:
        self.diagnostics.append(Diagnostic(code, message, path, Severity.ERROR))

    def reach(self, subject_table: str) -> tuple[dict[str, str], dict[str, str], list[tuple[str, ForeignKeySpec]]]:
        """Entity tables the subject's rows reach through foreign keys: action, reason, and the edges."""
        actions = {subject_table: DELETE}
        reasons = {subject_table: "the data subject"}
        subject = self.by_name[subject_table].entity
        if self.model.entities[subject].erasure is not None or self.model.entities[subject].growth.must_keep:
            actions[subject_table], reasons[subject_table] = _entity_rule(self.model, subject)
        edges: list[tuple[str, ForeignKeySpec]] = []  # (child table, foreign key to a reached table)
        queue = [subject_table]
        while queue:
            parent = queue.pop(0)
            for spec in self.tables:
                if spec.kind is not TableKind.ENTITY or spec.name == parent:
                    continue
                for fk in spec.foreign_keys:
                    if fk.ref_table != parent:
                        continue
                    edges.append((spec.name, fk))
                    if fk.on_delete is OnDelete.SET_NULL or spec.name in actions:
                        continue
                    actions[spec.name], reasons[spec.name] = _entity_rule(self.model, spec.entity)
                    queue.append(spec.name)
        return actions, reasons, edges

    def keep_parents(
        self, actions: dict[str, str], reasons: dict[str, str], edges: list[tuple[str, ForeignKeySpec]]
    ) -> None:
        """A kept row keeps the row it references: its parent is anonymized instead of deleted."""
        changed = True
        while changed:
            changed = False
            for child, fk in edges:
                if fk.on_delete is OnDelete.SET_NULL or actions.get(child) != ANONYMIZE:
                    continue
                if actions[fk.ref_table] == DELETE:
                    parent = self.by_name[fk.ref_table].entity
                    if self.model.entities[parent].erasure is Erasure.DELETE:
                        entity = self.by_name[child].entity
                        self.error(
                            "PP451",
                            f"{parent} declares erasure: delete, but {entity} rows of the subject are kept "
                            f"({reasons[child]}) and reference it through {', '.join(fk.columns)}: "
                            f"declare erasure: delete on {entity}, or anonymize {parent}",
                            f"entities.{parent}.erasure",
                        )
                        continue
                    actions[fk.ref_table] = ANONYMIZE
                    reasons[fk.ref_table] = f"kept: {self.by_name[child].entity} rows that are kept reference it"
                    changed = True

    def overwrites(self, spec: TableSpec) -> tuple[Overwrite, ...]:
        # A column of any unique rule (alone or with others) needs a distinct overwrite per row.
        unique = {name for group in spec.uniques for name in group}
        found: list[Overwrite] = []
        keys = set(spec.primary_key) | {c for fk in spec.foreign_keys for c in fk.columns}
        for column in spec.columns:
            if column.name in keys or not holds_pii(column.attribute):
                continue
            overwrite = overwrite_for(spec, column, column.name in unique or column.attribute.unique)
            if overwrite is None:
                self.error(
                    "PP449",
                    f"{spec.name}.{column.name} holds PII of rows that erasure keeps ({spec.entity}), but no "
                    "overwrite fits it (NOT NULL, unique, its pattern or length): make it nullable, or "
                    f"declare erasure: delete on {spec.entity}",
                    f"entities.{column.source.split('.')[0]}.attributes.{column.source.split('.')[1]}",
                )
                continue
            found.append(overwrite)
        return tuple(found)

    def run(self) -> ErasurePlan:
        subject = self.model.security.data_subject or ""
        subject_table = next((t.name for t in self.tables if t.kind is TableKind.ENTITY and t.entity == subject), None)
        plan = ErasurePlan(subject, subject_table, diagnostics=self.diagnostics)
        if subject_table is None:
            return plan
        if len(self.by_name[subject_table].primary_key) != 1:
            self.error(
                "PP451",
                f"the data subject {subject} has a composite key: the erasure procedure binds one subject id",
                "security.data_subject",
            )
            return plan
        plan.subject_key = self.by_name[subject_table].primary_key[0]
        actions, reasons, edges = self.reach(subject_table)
        self.keep_parents(actions, reasons, edges)
        carrying = [(c, fk) for c, fk in edges if fk.on_delete is not OnDelete.SET_NULL and c in actions]
        sorter: TopologicalSorter[str] = TopologicalSorter()
        for name in actions:
            sorter.add(name)
        for child, fk in carrying:
            sorter.add(fk.ref_table, child)  # the child's rows go before the parent's
        try:
            order = list(sorter.static_order())
        except CycleError as error:
            self.error(
                "PP451",
                f"the subject's tables reference each other in a cycle ({' → '.join(error.args[1])}): "
                "no deletion order keeps every foreign key valid",
                "security.data_subject",
            )
            return plan
        steps: list[TableStep] = []
        for name in order:
            spec = self.by_name[name]
            parents = tuple(fk for c, fk in carrying if c == name)
            detach = tuple(fk for c, fk in edges if c == name and fk.on_delete is OnDelete.SET_NULL)
            overwrites = self.overwrites(spec) if actions[name] == ANONYMIZE else ()
            steps.extend(self._leaves(spec, actions[name]))
            steps.append(TableStep(name, spec.entity, actions[name], parents, overwrites, detach, reasons[name]))
        for child, _fk in edges:  # set_null children the subject does not otherwise reach
            if child not in actions and not any(s.table == child for s in steps):
                spec = self.by_name[child]
                detach = tuple(f for c, f in edges if c == child)
                steps.insert(0, TableStep(child, spec.entity, DETACH, (), (), detach, "on_delete: set_null"))
        plan.steps = steps
        return plan

    def _leaves(self, parent: TableSpec, action: str) -> list[TableStep]:
        """Many-to-many link rows and list items of a reached row."""
        found: list[TableStep] = []
        for spec in self.tables:
            if spec.kind is TableKind.ENTITY:
                continue
            for fk in spec.foreign_keys:
                if fk.ref_table != parent.name:
                    continue
                if action == DELETE:
                    found.append(
                        TableStep(
                            spec.name,
                            spec.entity,
                            DELETE,
                            (fk,),
                            reason=f"links of deleted {parent.entity} rows",
                            leaf=True,
                        )
                    )
                elif spec.kind is TableKind.LIST_CHILD and any(holds_pii(c.attribute) for c in spec.columns):
                    found.append(
                        TableStep(
                            spec.name, spec.entity, DELETE, (fk,), reason="PII list items of kept rows", leaf=True
                        )
                    )
        return found


def design_erasure(model: RequirementsModel, tables: Sequence[TableSpec]) -> ErasurePlan:
    """The erasure plan of the data subject over the relational tables (empty when the subject is
    not stored relationally), with PP449/PP451 errors."""
    return _Designer(model, tables).run()


# --- rendering ---------------------------------------------------------------------------------


def _selector(plan: ErasurePlan, metadata: sa.MetaData, table: str) -> sa.ColumnElement[bool]:
    """The subject's rows of `table`: its key for the subject's table, else rows whose foreign
    keys point at the subject's rows of a parent."""
    target = metadata.tables[table]
    if table == plan.subject_table:
        (key,) = [c for c in target.primary_key.columns]
        return key == sa.bindparam(PARAMETER)
    step = next(s for s in plan.steps if s.table == table and not s.leaf)
    return sa.or_(*[_references(plan, metadata, target, fk) for fk in step.parents])


def _constant(value: Any, type_: Any, dialect: SADialect) -> sa.ColumnElement[Any]:
    """A constant written into the SQL text (the file binds only the subject id)."""
    text = str(sa.literal(value, type_).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    return sa.literal_column(text, type_=type_)


def _value(target: sa.Table, spec: TableSpec, overwrite: Overwrite, dialect: SADialect) -> Any:
    if overwrite.form is None:
        if overwrite.value is None:
            return sa.null()
        return _constant(overwrite.value, target.c[overwrite.column].type, dialect)
    expression: Any = sa.cast(target.c[spec.primary_key[0]], sa.String())
    before, _, after = overwrite.form.partition("{key}")
    if before:
        expression = _constant(before, sa.String(), dialect) + expression
    if after:
        expression = expression + _constant(after, sa.String(), dialect)
    return expression


def erasure_statements(
    plan: ErasurePlan,
    tables: Sequence[TableSpec],
    metadata: sa.MetaData,
    dialect: SADialect,
    cipher: Sequence[EncryptedColumn] = (),
) -> list[tuple[TableStep, sa.Update | sa.Delete]]:
    """Each step's statement: anonymize updates, then detaching updates, then deletes (children first).

    `cipher`: the encrypted columns of encrypt_pii (`metadata` must hold their `*_enc`/`*_hmac`
    columns): a kept row's ciphertexts and keyed hashes are overwritten too (`erasure_cipher`)."""
    from polyplan.security.erasure_cipher import cipher_values, guarded

    by_name = {t.name: t for t in tables}
    updates: list[tuple[TableStep, sa.Update | sa.Delete]] = []
    detaches: list[tuple[TableStep, sa.Update | sa.Delete]] = []
    deletes: list[tuple[TableStep, sa.Update | sa.Delete]] = []
    for step in plan.steps:
        target = metadata.tables[step.table]
        for fk in step.detach:
            statement = sa.update(target).where(_references(plan, metadata, target, fk))
            detaches.append((step, statement.values({c: sa.null() for c in fk.columns})))
        if step.action == ANONYMIZE and step.overwrites:
            spec = by_name[step.table]
            encrypted = {c.column for c in cipher if c.table == step.table}
            values: dict[str, Any] = {}
            for overwrite in step.overwrites:
                value = _value(target, spec, overwrite, dialect)
                held = overwrite.column in encrypted and (overwrite.value is not None or overwrite.form is not None)
                values[overwrite.column] = guarded(target, overwrite.column, value) if held else value
            values.update(cipher_values(target, spec, cipher, dialect))
            updates.append((step, sa.update(target).where(_selector(plan, metadata, step.table)).values(values)))
        elif step.action == DELETE:
            deletes.append((step, sa.delete(target).where(_selector_of(plan, metadata, step))))
    return [*updates, *detaches, *deletes]


def _selector_of(plan: ErasurePlan, metadata: sa.MetaData, step: TableStep) -> sa.ColumnElement[bool]:
    if not step.leaf:
        return _selector(plan, metadata, step.table)
    # A link or list table: its rows of the reached parent rows.
    target = metadata.tables[step.table]
    (fk,) = step.parents
    return _references(plan, metadata, target, fk)


def _references(
    plan: ErasurePlan, metadata: sa.MetaData, target: sa.Table, fk: ForeignKeySpec
) -> sa.ColumnElement[bool]:
    """Rows of `target` whose foreign key `fk` points at the subject's rows of its parent."""
    parent = metadata.tables[fk.ref_table]
    chosen = sa.select(*[parent.c[c] for c in fk.ref_columns]).where(_selector(plan, metadata, fk.ref_table))
    left = [target.c[c] for c in fk.columns]
    return left[0].in_(chosen) if len(left) == 1 else sa.tuple_(*left).in_(chosen)


def render_erasure_sql(
    model: RequirementsModel, engine: str, plan: ErasurePlan, tables: Sequence[TableSpec], metadata: sa.MetaData
) -> str:
    """`relational/<engine>/erasure.sql`: the statements that erase one subject, bound to `:subject_id`."""
    from polyplan.security.erasure_cipher import cipher_columns, cipher_metadata, needs_key
    from polyplan.stores.relational.render import DIALECTS

    dialect = DIALECTS[engine].sa_dialect()
    cipher = cipher_columns(model, tables, engine)
    notes: list[str] = []
    if cipher:
        metadata = cipher_metadata(tables, engine, cipher)
        notes.append(
            "-- Note: encrypt_pii: apply to the schema with encryption.sql's expand phase run; kept rows' *_enc and "
            "*_hmac columns are overwritten too (NULL, or a marker derived from the row's key)."
        )
        if needs_key(cipher, [s.table for s in plan.steps if s.action == ANONYMIZE]):
            notes.append(
                "-- Note: SET app.pii_key in the session first: required pgcrypto columns get an encrypted placeholder."
            )
    key = f"{plan.subject_table}.{next(t for t in tables if t.name == plan.subject_table).primary_key[0]}"
    lines = [
        f"-- Erasure of one data subject ({plan.subject}) for model {model.name} (version {model.version}), "
        f"engine {engine}.",
        "-- Generated by polyplan from the requirements model; change the model, not this file.",
        f"-- Parameter :{PARAMETER} is the subject's key ({key}) as stored (a uuid: 32 hex digits on MariaDB and "
        "SQLite); every statement binds it.",
        "-- Note: run every statement in one transaction, in this order: anonymize, detach, then delete "
        "(children before parents).",
        "-- Note: apply to the schema of schema.sql; what it does not reach is listed in docs/security-plan.md (Erasure).",
        *notes,
        "",
    ]
    for step, statement in erasure_statements(plan, tables, metadata, dialect, cipher):
        sql = str(statement.compile(dialect=dialect)).strip()
        verb = "detach" if sql.startswith("UPDATE") and step.action != ANONYMIZE else step.action
        lines += [f"-- step: {step.table} {verb}: {step.reason}", f"{sql};", ""]
    return "\n".join(lines) + "\n"


def step_summary(plan: ErasurePlan) -> list[dict[str, Any]]:
    """The plan as data (plan.json and security-plan.md): table, entity, action, why, what is overwritten."""
    return [
        {
            "table": s.table,
            "entity": s.entity,
            "action": s.action,
            "reason": s.reason,
            "overwrites": [o.column for o in s.overwrites],
            "detaches": [", ".join(fk.columns) for fk in s.detach],
            "links": _links(plan, s),
        }
        for s in plan.steps
    ]


def _links(plan: ErasurePlan, step: TableStep) -> list[str]:
    """Columns of a step's rows that hold the subject's key: its own key for the subject's table, the
    reference for a direct child; none further away (reached only through other rows)."""
    if step.leaf or step.action == DETACH:
        return []
    if step.table == plan.subject_table:
        return [plan.subject_key]
    return [fk.columns[0] for fk in step.parents if fk.ref_table == plan.subject_table and len(fk.columns) == 1]


def unreached(
    plan: Plan, erasure: ErasurePlan, audit_rewritten: Sequence[str] = (), elsewhere: Sequence[Relationship] = ()
) -> list[Diagnostic]:
    """PP450: data of the subject that no generated step erases: audit rows of reached entities,
    and rows reached through a relationship, at any depth, that neither erasure.sql nor a store's
    erasure script follows (`elsewhere`: those the scripts follow)."""
    model = plan.model
    reached = list(dict.fromkeys(s.entity for s in erasure.steps if not s.leaf and s.action != DETACH))
    followed = {r.name for r in elsewhere}
    in_sql = {s.entity for s in erasure.steps}
    # Every entity holding the subject's data, however it is reached (a detached row is not the
    # subject's any more, so the walk does not go past it).
    owned = [erasure.subject]
    for entity in owned:
        for relationship in model.relationships:
            if (
                relationship.from_ == entity
                and relationship.to not in owned
                and reference_of(model, relationship) is not None  # many-to-many: shared, not owned
                and erasure_action(plan, relationship) != DETACH
            ):
                owned.append(relationship.to)
    found: list[Diagnostic] = []
    path = "security.data_subject"
    for entity in reached:
        if entity in model.security.audit and entity not in audit_rewritten:
            found.append(
                Diagnostic(
                    "PP450",
                    f"{entity} is audited: its audit rows of the subject keep their old and new values (PII "
                    "included); erasure.sql does not rewrite the append-only audit table, so an operator must rewrite them (anonymized, not deleted: the trail is kept)",
                    path,
                    Severity.WARNING,
                )
            )
    for relationship in model.relationships:
        child = relationship.to
        # erasure.sql follows a relationship between two tables it reaches; the store scripts theirs.
        by_sql = (
            relationship.from_ in reached
            and plan.entities[child].family is Family.RELATIONAL
            and (child in in_sql or child == erasure.subject)
        )
        if relationship.from_ in owned and not by_sql and relationship.name not in followed:
            found.append(
                Diagnostic(
                    "PP450",
                    f"{child} ({plan.entities[child].engine}) holds rows of the subject through "
                    f"{relationship.name}: no generated erasure step follows it into that store",
                    path,
                    Severity.WARNING,
                )
            )
    return found


AUDIT_ERASURE_FILE = "erasure_audit.sql"


def audit_covered(plan: ErasurePlan, audited_tables: Sequence[str]) -> list[TableStep]:
    """Audited steps whose audit rows erasure_audit.sql rewrites: the subject's own table, and every
    table further away whose parents' keys of the subject are still known after erasure.sql (the
    subject's key; a parent whose rows are kept; an audited parent itself covered)."""
    steps = {s.table: s for s in plan.steps if not s.leaf and s.action in (DELETE, ANONYMIZE)}
    audited = set(audited_tables)

    def known(table: str) -> bool:  # the subject's keys of `table` can be read after erasure.sql
        return table == plan.subject_table or steps[table].action == ANONYMIZE or (table in audited and found(table))

    def found(table: str) -> bool:  # its audit rows of the subject can be told from the others
        step = steps[table]
        if table == plan.subject_table:
            return True
        return bool(step.parents) and all(
            len(fk.columns) == 1 and fk.ref_table in steps and known(fk.ref_table) for fk in step.parents
        )

    return [s for s in steps.values() if s.table in audited and found(s.table)]


def render_audit_erasure_sql(
    model: RequirementsModel,
    plan: ErasurePlan,
    tables: Sequence[TableSpec],
    audit_table: str,
    audited_tables: Sequence[str],
) -> str | None:
    """`relational/postgresql/erasure_audit.sql`: the subject's audit rows kept, their PII set to null.

    The legal rule: an audit trail is kept (it proves what was done, the erasure included), so the
    subject's audit rows are anonymized, not deleted. Run after erasure.sql, in its transaction, as
    the migration owner: the append-only guard is disabled for that transaction only.
    """
    from polyplan.security.erasure_audit import audit_erasure_text, audit_targets
    from polyplan.stores.relational.render import DIALECTS

    quote = DIALECTS["postgresql"].sa_dialect().identifier_preparer.quote
    audit = quote(audit_table)
    guard = quote(f"{audit_table}_append_only")
    statements: list[tuple[str, str]] = []
    for target in audit_targets(plan, tables, audited_tables, audit_table, "postgresql"):
        step, pii = target.step, target.pii
        nulls = ", ".join(f"{_text_literal(c)}, NULL" for c in pii)
        # With encrypt_pii the audited row also carries the ciphertext and keyed hash: dropped too.
        cipher = [f"{c}{suffix}" for c in pii for suffix in ("_enc", "_hmac")] if model.security.encrypt_pii else []
        drop = f" - ARRAY[{', '.join(_text_literal(c) for c in cipher)}]" if cipher else ""
        match = target.match
        statements.append(
            (
                f"{step.table}: {', '.join(pii)} set to null in the audit rows of the subject",
                f"UPDATE {audit} SET old_row = (old_row{drop}) || jsonb_build_object({nulls}), "
                f"new_row = (new_row{drop}) || jsonb_build_object({nulls})\n"
                f"WHERE table_name = {_text_literal(step.table)} AND ({match})",
            )
        )
    return audit_erasure_text(
        model,
        plan,
        "postgresql",
        "the append-only guard is disabled for this transaction only",
        (f"ALTER TABLE {audit} DISABLE TRIGGER {guard}", f"ALTER TABLE {audit} ENABLE TRIGGER {guard}"),
        statements,
    )


def _text_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
