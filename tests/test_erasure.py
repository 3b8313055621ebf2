"""Erasure of one data subject (issue 10): `relational/<engine>/erasure.sql`, proven on real servers.

Each run plans a model, loads the plan's own seed rows into a throw-away database, reads every
row of every table, erases the subject with the most rows linked to it, and reads every row again:
the subject's rows are gone (delete), still there with every PII column overwritten (anonymize),
or still there with the reference cleared (detach); every other row of every table is unchanged
(checksums); and none of the subject's PII values is left anywhere in the database.
"""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.pipeline import plan_text, render, write_plan
from polyplan.security.design import PGCRYPTO
from polyplan.security.encryption import KEY_SETTING
from polyplan.security.envelope import is_erased
from polyplan.security.erasure import (
    ANONYMIZE,
    AUDIT_ERASURE_FILE,
    DELETE,
    ERASURE_FILE,
    PARAMETER,
    design_erasure,
    holds_pii,
)
from polyplan.stores.cache.codec import key_part
from polyplan.stores.relational.connect import scratch_database, split_statements
from polyplan.stores.relational.spec import TableSpec
from polyplan.testkit import resolve_url
from polyplan.validate.encryption import ENCRYPTION_FILE, EncryptionHarness
from polyplan.validate.relational import Harness
from polyplan.validate.security import SecurityHarness
from polyplan.validate.store_data import store_data
from tests.conftest import ROOT

ENGINES = ("sqlite", "postgresql", "mysql")

# A subject with every kind of row: owned notes (deleted), invoices kept for the books
# (anonymized, so the person is kept too), tickets assigned to them (detached), list items
# holding PII, and many-to-many links.
MODEL = """
name: crm
options: {relational_dialects: [postgresql, mysql, sqlite]}
entities:
  Person:
    attributes:
      email: {type: string, max_length: 120, unique: true, pii: contact, pattern: '^[^@\\s]+@[^@\\s]+$'}
      nickname: {type: string, max_length: 40, nullable: true, pii: contact}
      born: {type: date, pii: identifier}
      phones: {type: list, items: {type: string, max_length: 20, pii: contact}, max_items: 3, avg_items: 2, storage: child_table}
    growth: {initial_rows: 100}
  Note:
    attributes:
      body: {type: string, max_length: 200, pii: contact}
    growth: {initial_rows: 400}
  Invoice:
    attributes:
      amount: {type: decimal, precision: 10, scale: 2, min: 0}
      billed_to: {type: string, max_length: 100, pii: contact}
    growth: {initial_rows: 300, must_keep: true}
  Ticket:
    attributes:
      title: {type: string, max_length: 80}
    growth: {initial_rows: 300}
  Team:
    attributes:
      name: {type: string, max_length: 40}
    growth: {initial_rows: 10}
relationships:
  - {name: person_notes, kind: one_to_many, from: Person, to: Note, owned: true}
  - {name: person_invoices, kind: one_to_many, from: Person, to: Invoice}
  - {name: ticket_assignee, kind: one_to_many, from: Person, to: Ticket, required: false, on_delete: set_null}
  - {name: team_members, kind: many_to_many, from: Team, to: Person}
security:
  data_subject: Person
"""
# The same, with invoices erased too: nothing is kept, so the person is deleted with their links.
DELETED = MODEL.replace(
    "growth: {initial_rows: 300, must_keep: true}", "growth: {initial_rows: 300}\n    erasure: delete"
)

# Three levels below the subject (projects, their tasks, the tasks' comments; comments also hang
# off projects: two paths to one table): erasure follows the graph to every depth, deletes leaves
# before parents and detaches the reviews of erased tasks.
DEEP = """
name: deep
options: {relational_dialects: [postgresql, mysql, sqlite]}
entities:
  Person:
    attributes:
      email: {type: string, max_length: 120, unique: true, pii: contact}
    growth: {initial_rows: 40}
  Project:
    attributes:
      title: {type: string, max_length: 80, pii: contact}
    growth: {initial_rows: 120}
  Task:
    attributes:
      detail: {type: string, max_length: 120, pii: contact}
    growth: {initial_rows: 360}
  Comment:
    attributes:
      body: {type: string, max_length: 200, pii: contact}
    growth: {initial_rows: 1000}
  Review:
    attributes:
      verdict: {type: string, max_length: 40}
    growth: {initial_rows: 200}
relationships:
  - {name: person_projects, kind: one_to_many, from: Person, to: Project, owned: true}
  - {name: project_tasks, kind: one_to_many, from: Project, to: Task, owned: true}
  - {name: task_comments, kind: one_to_many, from: Task, to: Comment, owned: true}
  - {name: project_comments, kind: one_to_many, from: Project, to: Comment, required: false}
  - {name: task_reviews, kind: one_to_many, from: Task, to: Review, required: false, on_delete: set_null}
security:
  data_subject: Person
"""
# With a reference cycle project → task → review → project (no seed loader orders mutually
# dependent tables, so checked on the design and the emitted text).
DEEP_CYCLE = DEEP.replace(
    "security:",
    "  - {name: review_projects, kind: one_to_many, from: Review, to: Project, required: false, on_delete: set_null}\n"
    "security:",
)

MODELS = {"kept": MODEL, "deleted": DELETED, "deep": DEEP}

Rows = dict[str, dict[tuple[str, ...], dict[str, Any]]]


def _text(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def read_all(engine: sa.Engine, harness: Harness, crypt: EncryptionHarness | None = None) -> Rows:
    """Every row of every table, keyed by its primary key (as text); with `crypt`, the ciphertext
    and keyed-hash columns of encryption.sql too."""
    found: Rows = {}
    with engine.connect() as connection:
        for spec in harness.tables:
            table = crypt.table(spec.name) if crypt else harness.metadata.tables[spec.name]
            rows = [dict(r._mapping) for r in connection.execute(sa.select(table))]
            found[spec.name] = {tuple(_text(r[c]) for c in spec.primary_key): r for r in rows}
    return found


def checksum(rows: dict[tuple[str, ...], dict[str, Any]], leave_out: set[tuple[str, ...]]) -> str:
    kept = sorted((key, {c: _text(v) for c, v in row.items()}) for key, row in rows.items() if key not in leave_out)
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def members(harness: Harness, before: Rows, subject: Any, plan: Any) -> dict[str, set[tuple[str, ...]]]:
    """The subject's rows per table, found in the data by following the foreign keys of each step."""
    specs = {t.name: t for t in harness.tables}
    found: dict[str, set[tuple[str, ...]]] = {plan.subject_table: {(_text(subject),)}}
    for step in reversed(plan.steps):  # parents first
        if step.table == plan.subject_table:
            continue
        keys: set[tuple[str, ...]] = set()
        for fk in step.parents:
            parent = specs[fk.ref_table]
            targets = {
                tuple(_text(row[c]) for c in fk.ref_columns)
                for key, row in before[parent.name].items()
                if key in found.get(parent.name, set())
            }
            keys |= {k for k, row in before[step.table].items() if tuple(_text(row[c]) for c in fk.columns) in targets}
        found[step.table] = found.get(step.table, set()) | keys
    return found


def pick_subject(harness: Harness, before: Rows, subject_table: str) -> Any:
    """The subject with the most rows referencing it directly (ties: the smallest key)."""
    counts: dict[str, int] = {key[0]: 0 for key in before[subject_table]}
    for spec in harness.tables:
        for fk in spec.foreign_keys:
            if fk.ref_table == subject_table and spec.name != subject_table:
                for row in before[spec.name].values():
                    value = row[fk.columns[0]]
                    if value is not None:
                        counts[_text(value)] = counts.get(_text(value), 0) + 1
    best = max(sorted(counts), key=lambda k: counts[k])
    return next(row for key, row in before[subject_table].items() if key[0] == best)[
        harness.by_name[subject_table].primary_key[0]
    ]


def pii_values(spec: TableSpec, row: dict[str, Any]) -> set[str]:
    keys = set(spec.primary_key) | {c for fk in spec.foreign_keys for c in fk.columns}
    return {
        _text(row[c.name])
        for c in spec.columns
        if c.name not in keys and holds_pii(c.attribute) and row[c.name] is not None and len(_text(row[c.name])) >= 6
    }


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name, text in MODELS.items():
        folder = tmp_path_factory.mktemp(f"erasure-{name}")
        (folder / "crm.yaml").write_text(text, encoding="utf-8")
        write_plan(folder / "crm.yaml", folder / "plan")
        found[name] = folder / "plan"
    shop = tmp_path_factory.mktemp("erasure-shop")
    write_plan(ROOT / "scenarios" / "shop.yaml", shop / "plan")
    found["shop"] = shop / "plan"
    return found


def erase_and_compare(plan_dir: Path, engine_name: str) -> dict[str, Any]:
    """Seed, erase one subject, and return what changed per table (asserting as it goes)."""
    harness = Harness.from_plan_folder(plan_dir / "tests", engine_name)
    plan = design_erasure(harness.model, harness.tables)
    assert plan.subject_table is not None
    sql = (plan_dir / "relational" / engine_name / ERASURE_FILE).read_text(encoding="utf-8")
    # With encrypt_pii the database is the encrypted one: expand, the application's backfill, contract.
    encrypted = (plan_dir / "relational" / engine_name / ENCRYPTION_FILE).exists()
    crypt = EncryptionHarness.from_plan_folder(plan_dir / "tests", engine_name) if encrypted else None
    url = resolve_url(engine_name)
    with crypt.database(url) if crypt else scratch_database(url) as engine:
        if crypt is None:
            harness.load(engine)
        before = read_all(engine, harness, crypt)
        subject = pick_subject(harness, before, plan.subject_table)
        mine = members(harness, before, subject, plan)
        # The id as the database stores it: a uuid is 32 hex digits on MariaDB and SQLite.
        bound = subject.hex if isinstance(subject, uuid.UUID) and engine_name != "postgresql" else subject
        with engine.begin() as connection:
            if crypt and engine_name == "postgresql":
                crypt.set_key(connection, crypt.pg_key)  # required pgcrypto columns get an encrypted placeholder
            for statement in split_statements(sql):
                connection.execute(sa.text(statement), {PARAMETER: bound})
        after = read_all(engine, harness, crypt)
        pgcrypto = crypt is not None and engine_name == "postgresql"
        placeholders = pgcrypto_placeholders(crypt, engine, after, mine) if crypt and pgcrypto else {}
    report: dict[str, Any] = {}
    if crypt:
        report["(ciphertexts and keyed hashes of the subject, all gone)"] = cipher_gone(crypt, before, after, mine)
        assert all(placeholders.values()), placeholders
        if placeholders:
            report["(pgcrypto placeholders that decrypt to erased-<key>)"] = sum(placeholders.values())
    secrets = {
        v for name, keys in mine.items() for k in keys for v in pii_values(harness.by_name[name], before[name][k])
    }
    # Seed words repeat across rows: a value another row holds too is not the subject's to erase.
    secrets -= {
        v
        for name, rows in before.items()
        for key, row in rows.items()
        if key not in mine.get(name, set())
        for v in pii_values(harness.by_name[name], row)
    }
    for spec in harness.tables:
        name = spec.name
        steps = [s for s in plan.steps if s.table == name]
        touched = mine.get(name, set())
        detached: set[tuple[str, ...]] = set()
        for step in steps:
            for fk in step.detach:
                # The referenced rows of the subject at any depth (a detached grandchild too).
                targets = {_text(before[fk.ref_table][key][fk.ref_columns[0]]) for key in mine.get(fk.ref_table, set())}
                detached |= {k for k, r in before[name].items() if _text(r[fk.columns[0]]) in targets}
        # Every row the erasure does not concern is unchanged, byte for byte.
        assert checksum(before[name], touched | detached) == checksum(after[name], touched | detached), name
        action = next((s.action for s in steps if not s.leaf), steps[0].action if steps else None)
        if action == DELETE:
            assert not touched & set(after[name]), f"{name}: rows of the subject left"
            assert len(after[name]) == len(before[name]) - len(touched), name
        elif action == ANONYMIZE:
            assert set(after[name]) == set(before[name]), f"{name}: kept rows went"
            for key in touched:
                old, new = before[name][key], after[name][key]
                for column in spec.columns:
                    if holds_pii(column.attribute) and column.name not in spec.primary_key:
                        assert new[column.name] is None or new[column.name] != old[column.name], (name, column.name)
                    elif not holds_pii(column.attribute):
                        assert _text(new[column.name]) == _text(old[column.name]), (name, column.name)
        for key in detached:
            assert key in after[name]
            for fk in next(s for s in steps if s.detach).detach:
                assert all(after[name][key][c] is None for c in fk.columns), name
        report[name] = (len(before[name]), len(after[name]), len(touched), len(detached), action)
    # No PII value of the subject is left anywhere in the database.
    left = {
        v
        for name, rows in after.items()
        for row in rows.values()
        for v in pii_values(harness.by_name[name], row)
        if v in secrets
    }
    assert not left, left
    report["(PII values of the subject, all gone)"] = len(secrets)
    return report


def pgcrypto_placeholders(
    crypt: EncryptionHarness, engine: sa.Engine, after: Rows, mine: dict[str, set[tuple[str, ...]]]
) -> dict[str, int]:
    """Required pgcrypto columns of the subject's kept rows: how many decrypt, with the session's
    key, to erasure's placeholder `erased-<row key>` (the database can still decrypt the column)."""
    found: dict[str, int] = {}
    with engine.begin() as connection:
        crypt.set_key(connection, crypt.pg_key)
        for item in crypt.layout.columns:
            if item.method != PGCRYPTO or not item.required:
                continue
            keys = mine.get(item.table, set()) & set(after[item.table])
            opened = 0
            for key in keys:
                blob = after[item.table][key][item.ciphertext]
                text = connection.execute(
                    sa.text(f"SELECT pgp_sym_decrypt(:blob, current_setting('{KEY_SETTING}'))"), {"blob": blob}
                ).scalar_one()
                opened += text == f"erased-{key[0]}"
            if keys:
                found[item.context] = opened if opened == len(keys) else 0
    return found


def cipher_gone(crypt: EncryptionHarness, before: Rows, after: Rows, mine: dict[str, set[tuple[str, ...]]]) -> int:
    """No row of any table holds a ciphertext or keyed hash of the subject's rows after the erasure;
    the kept rows' required ciphertexts hold erasure's marker (never an envelope). Returns how many
    values of the subject there were."""
    names: dict[str, list[str]] = {}
    for item in crypt.layout.columns:
        names.setdefault(item.table, []).extend(n for n in (item.ciphertext, item.keyed_hash) if n)
    secrets = {
        bytes(row[n])
        for table, columns in names.items()
        for key in mine.get(table, set())
        if key in before[table]
        for n in columns
        if (row := before[table][key])[n] is not None
    }
    assert secrets, "the subject's rows hold no ciphertext: nothing was proven"
    left = [
        (table, n)
        for table, columns in names.items()
        for row in after[table].values()
        for n in columns
        if row[n] is not None and bytes(row[n]) in secrets
    ]
    assert not left, left
    for table in names:
        for key in mine.get(table, set()) & set(after[table]):
            for item in (i for i in crypt.layout.columns if i.table == table and i.method != PGCRYPTO):
                blob = after[table][key][item.ciphertext]
                assert blob is None or is_erased(blob), (table, item.ciphertext)
    return len(secrets)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("model", ["kept", "deleted", "shop", "deep"])
def test_erasure_removes_the_subject_and_nothing_else(folders: dict[str, Path], model: str, engine: str) -> None:
    report = erase_and_compare(folders[model], engine)
    print(f"\n{model} on {engine}: table (before, after, subject rows, detached, action)")
    for name, figures in report.items():
        print(f"  {name}: {figures}")
    if model == "kept":
        assert report["person"][4] == ANONYMIZE and report["person"][2] == 1
        assert report["note"][4] == DELETE and report["note"][2] > 0
        assert report["ticket"][3] > 0  # tickets were detached, not deleted
        assert report["ticket"][0] == report["ticket"][1]
    elif model == "deleted":
        assert report["person"][:3] == (report["person"][0], report["person"][0] - 1, 1)
        assert report["invoice"][4] == DELETE
    elif model == "deep":
        # Every level below the subject is reached: projects, their tasks, the tasks' comments.
        for table in ("project", "task", "comment"):
            assert report[table][4] == DELETE and report[table][2] > 0, (table, report[table])
            assert report[table][1] == report[table][0] - report[table][2]
        assert report["review"][3] > 0 and report["review"][0] == report["review"][1]  # detached, kept
    else:
        assert report["customer"][4] == ANONYMIZE and report["order"][2] > 0


# --- bad input and emitted text (no server) -------------------------------------------------------


def test_unknown_data_subject_is_a_coded_error_at_its_line(tmp_path: Path) -> None:
    text = MODEL.replace("data_subject: Person", "data_subject: Persn")
    model = tmp_path / "crm.yaml"
    model.write_text(text, encoding="utf-8")
    line = text.splitlines().index("  data_subject: Persn") + 1
    result = subprocess.run(
        [sys.executable, "-m", "polyplan", "plan", str(model), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    errors = [ln for ln in result.stderr.splitlines() if "PP447" in ln]
    assert len(errors) == 1 and f"crm.yaml:{line}:" in errors[0] and "security.data_subject" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_erasure_without_subject_and_unfillable_pii_are_errors(tmp_path: Path) -> None:
    for text, code in (
        (DELETED.replace("security:\n  data_subject: Person\n", ""), "PP448"),
        (
            MODEL.replace("born: {type: date, pii: identifier}", "born: {type: date, pii: identifier, unique: true}"),
            "PP449",
        ),
    ):
        model = tmp_path / "m.yaml"
        model.write_text(text, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "polyplan", "plan", str(model), "--out", str(tmp_path / "o")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 2 and code in result.stderr, result.stderr


def test_erasure_follows_a_cyclic_graph_to_every_depth_in_dependency_order() -> None:
    from polyplan.stores.relational.design import design_schema

    plan = plan_text(DEEP_CYCLE, "deep.yaml")
    tables, _ = design_schema(plan)
    design = design_erasure(plan.model, tables)
    assert not design.diagnostics
    actions = {s.table: s.action for s in design.steps}
    assert actions == {"person": DELETE, "project": DELETE, "task": DELETE, "comment": DELETE, "review": "detach"}
    order = [s.table for s in design.steps]
    # Leaves before their parents, each table once, however many paths reach it.
    assert order.index("comment") < order.index("task") < order.index("project") < order.index("person")
    assert len(order) == len(set(order))
    sql = render(plan)[0]["relational/postgresql/erasure.sql"]
    statements = split_statements(sql)
    assert len(statements) == 5 and statements[0].startswith("UPDATE review SET task_id=NULL")
    # A comment is the subject's through its project or through its task (two paths, one statement).
    assert "DELETE FROM comment WHERE comment.project_id IN" in sql and ") OR comment.task_id IN" in sql


def test_erasure_sql_binds_only_the_subject_and_orders_children_first(folders: dict[str, Path]) -> None:
    sql = (folders["deleted"] / "relational" / "postgresql" / ERASURE_FILE).read_text(encoding="utf-8")
    statements = split_statements(sql)
    assert all(":subject_id" in s for s in statements)
    order = [s.split()[2] if s.startswith("DELETE") else s.split()[1] for s in statements]
    assert order.index("person") == len(order) - 1
    assert order.index("note") < order.index("person") and order.index("invoice") < order.index("person")
    doc = (folders["kept"] / "docs" / "security-plan.md").read_text(encoding="utf-8")
    assert "## Erasure" in doc and "| ticket | Ticket | detach | on_delete: set_null | person_id |" in doc


@pytest.mark.parametrize("engine_name", ["postgresql", "mysql"])
def test_audit_rows_of_the_subject_are_anonymized_not_deleted(folders: dict[str, Path], engine_name: str) -> None:
    """shop audits Order: the trail keeps every row, the subject's with the street set to null
    (PostgreSQL: the guard disabled in the transaction; MariaDB: the guard's erasure flag)."""
    plan_dir = folders["shop"]
    harness = SecurityHarness.from_plan_folder(plan_dir / "tests", engine_name)
    base = harness.base
    design = design_erasure(base.model, base.tables)
    assert design.subject_table == "customer"
    folder = plan_dir / "relational" / engine_name
    statements = split_statements((folder / ERASURE_FILE).read_text(encoding="utf-8"))
    statements += split_statements((folder / AUDIT_ERASURE_FILE).read_text(encoding="utf-8"))
    with harness.database(resolve_url(engine_name)) as engine:
        quote = engine.dialect.identifier_preparer.quote
        before = read_all(engine, base)
        subject = pick_subject(base, before, "customer")
        other = next(r["customer_id"] for r in before["order"].values() if r["customer_id"] != subject)
        # The ids as the database stores them: a uuid is 32 hex digits on MariaDB.
        bound, other = (subject, other) if engine_name == "postgresql" else (subject.hex, other.hex)
        with engine.begin() as connection:  # a workload the trail records, PII included
            connection.execute(
                sa.text(
                    f"UPDATE {quote('order')} SET status = status, shipping_address_street = "
                    "shipping_address_street WHERE customer_id IN (:a, :b)"
                ),
                {"a": bound, "b": other},
            )
        trail_before = harness.audit_rows(engine)
        with engine.begin() as connection:
            if engine_name == "postgresql":  # required pgcrypto columns get an encrypted placeholder
                connection.execute(sa.text("SELECT set_config('app.pii_key', 'k', true)"))
            for statement in statements:
                connection.execute(sa.text(statement), {PARAMETER: bound})
        trail_after = harness.audit_rows(engine)
        append_only, _ = harness.audit_changes_refused(engine)
        # The erasure flag lets the row images change, never who acted: the guard still refuses that.
        with engine.connect() as connection:
            if engine_name == "mysql":
                connection.exec_driver_sql("SET @app_audit_erasure = 1")
                with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                    connection.exec_driver_sql(f"UPDATE {quote(harness.security.audit_table or '')} SET actor = 'x'")
                with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                    connection.exec_driver_sql(f"DELETE FROM {quote(harness.security.audit_table or '')}")
    mine = {_text(r["id"]) for r in before["order"].values() if r["customer_id"] == subject}

    def of_subject(row: dict[str, Any]) -> bool:
        return any((row[side] or {}).get("customer_id") == str(bound) for side in ("old_row", "new_row"))

    after_by_id = {row["id"]: row for row in trail_after}
    # Kept, not deleted: every earlier audit row is still there; the erasure's own updates are recorded.
    assert set(after_by_id) >= {row["id"] for row in trail_before}
    assert len(trail_after) == len(trail_before) + len(mine)
    # Another customer's audit rows are unchanged.
    others = [row for row in trail_before if not of_subject(row)]
    assert others and all(after_by_id[row["id"]] == row for row in others)
    # The subject's audit rows hold no street any more (nor its ciphertext).
    subject_rows = [row for row in trail_after if of_subject(row)]
    assert len(subject_rows) == 2 * len(mine)
    streets = {
        row[side]["shipping_address_street"]
        for row in trail_before
        if of_subject(row)
        for side in ("old_row", "new_row")
    }
    assert streets - {None}, "the workload recorded no street of the subject: nothing was proven"
    for row in subject_rows:
        for side in ("old_row", "new_row"):
            assert row[side]["shipping_address_street"] is None
            assert "shipping_address_street_enc" not in row[side]
        assert {row["table_name"], row["operation"], row["actor"]} == {
            after_by_id[row["id"]]["table_name"],
            after_by_id[row["id"]]["operation"],
            after_by_id[row["id"]]["actor"],
        }
    assert append_only  # the guard is back on after the erasure's transaction
    print(
        f"\n{engine_name} audit trail: {len(trail_before)} rows before, {len(trail_after)} after, "
        f"{len(subject_rows)} of the subject"
    )


DEEP_AUDITED = DEEP.replace("  data_subject: Person", "  data_subject: Person\n  audit: [Project, Task, Comment]")


@pytest.mark.parametrize("engine_name", ["postgresql", "mysql"])
def test_audit_rows_of_the_subject_are_anonymized_at_every_depth(tmp_path: Path, engine_name: str) -> None:
    """Projects, tasks and comments audited: the subject's audit rows at all three depths lose their
    PII (found through the trail itself once erasure.sql deleted the rows), every other one is unchanged."""
    (tmp_path / "deep.yaml").write_text(DEEP_AUDITED, encoding="utf-8")
    write_plan(tmp_path / "deep.yaml", tmp_path / "plan")
    harness = SecurityHarness.from_plan_folder(tmp_path / "plan" / "tests", engine_name)
    base = harness.base
    design = design_erasure(base.model, base.tables)
    folder = tmp_path / "plan" / "relational" / engine_name
    statements = split_statements((folder / ERASURE_FILE).read_text(encoding="utf-8"))
    statements += split_statements((folder / AUDIT_ERASURE_FILE).read_text(encoding="utf-8"))
    pii = {"project": "title", "task": "detail", "comment": "body"}
    with harness.database(resolve_url(engine_name)) as engine:
        quote = engine.dialect.identifier_preparer.quote
        before = read_all(engine, base)
        subject = pick_subject(base, before, "person")
        mine = members(base, before, subject, design)
        with engine.begin() as connection:  # a workload the trail records: every row's PII in its images
            for table, column in pii.items():
                connection.execute(sa.text(f"UPDATE {quote(table)} SET {quote(column)} = {quote(column)}"))
        trail_before = harness.audit_rows(engine)
        bound = subject if engine_name == "postgresql" else subject.hex
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement), {PARAMETER: bound})
        trail_after = harness.audit_rows(engine)
    ids = {table: {str(uuid.UUID(key[0])) for key in mine[table]} for table in pii}
    assert all(ids.values()), ids

    def of_subject(row: dict[str, Any]) -> bool:
        images = [row[side] for side in ("old_row", "new_row") if row[side]]
        return any(str(uuid.UUID(image["id"])) in ids[row["table_name"]] for image in images)

    after_by_id = {row["id"]: row for row in trail_after}
    deleted = sum(len(v) for v in ids.values())
    assert len(trail_after) == len(trail_before) + deleted  # erasure's own deletes are recorded, nothing removed
    others = [row for row in trail_before if not of_subject(row)]
    assert others and all(after_by_id[row["id"]] == row for row in others)
    theirs = [row for row in trail_after if of_subject(row)]
    by_table = {table: sum(row["table_name"] == table for row in theirs) for table in pii}
    assert all(by_table.values()), by_table
    for row in theirs:
        for side in ("old_row", "new_row"):
            if row[side]:
                assert row[side][pii[row["table_name"]]] is None, row
    print(f"\n{engine_name}: audit rows of the subject anonymized per table {by_table}; {len(others)} others unchanged")


def test_redis_erasure_script_deletes_the_subjects_cached_entries_only(tmp_path: Path) -> None:
    """social with `data_subject: Account`: the account cache (keyed by handle) loses the subject's entry."""
    import redis

    namespace = f"pperase{uuid.uuid4().hex[:10]}"  # a key space of this run's own on the shared server
    text = (ROOT / "scenarios" / "social.yaml").read_text(encoding="utf-8")
    text = text.replace("name: social", f"name: {namespace}", 1)
    text = text.replace("write_patterns:", "security:\n  data_subject: Account\n\nwrite_patterns:", 1)
    (tmp_path / "social.yaml").write_text(text, encoding="utf-8")
    write_plan(tmp_path / "social.yaml", tmp_path / "plan")
    script = tmp_path / "plan" / "redis" / "erasure.py"
    keys = json.loads((tmp_path / "plan" / "redis" / "keys.json").read_text(encoding="utf-8"))["keys"]
    family = next(k for k in keys if k["entity"] == "Account")
    records = json.loads((tmp_path / "plan" / "tests" / "data" / "redis_records.json").read_text(encoding="utf-8"))
    handle = plan_text(text, "social.yaml").model.entities["Account"].attributes["handle"]
    url = resolve_url("redis")
    client = redis.Redis.from_url(url)
    try:
        for record in records["entities"]["Account"]:
            key = family["template"].replace("<handle>", key_part(record["fields"]["handle"], handle))
            client.set(key, record["json"][family["name"]])
        before = {k: client.get(k) for k in client.scan_iter(match=f"{namespace}:*")}
        subject = records["entities"]["Account"][3]["fields"]["id"]
        done = subprocess.run([sys.executable, str(script), url, subject], capture_output=True, text=True, check=False)
        after = {k: client.get(k) for k in client.scan_iter(match=f"{namespace}:*")}
    finally:
        for key in client.scan_iter(match=f"{namespace}:*"):
            client.delete(key)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{family['name']}: 1 deleted"
    gone = set(before) - set(after)
    assert len(gone) == 1 and json.loads(before[gone.pop()])["id"] == subject
    assert all(after[k] == before[k] for k in after)  # every other entry unchanged
    print(f"\nredis: {len(before)} cached accounts before, {len(after)} after")
    # --help never connects; an unreachable server is one line and exit 1.
    helped = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, check=False)
    assert helped.returncode == 0 and "SUBJECT_ID" in helped.stdout.upper()
    refused = subprocess.run(
        [sys.executable, str(script), "redis://127.0.0.1:1/0", subject], capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr


def test_search_erasure_script_deletes_the_subjects_documents_only(tmp_path: Path) -> None:
    """social with `data_subject: Account` on OpenSearch: the author's posts leave the search index."""
    from polyplan.stores.search.connect_opensearch import connect, drop_prefix, index_documents
    from polyplan.stores.search.runs import load_setup, run_prefix

    text = (ROOT / "scenarios" / "social.yaml").read_text(encoding="utf-8")
    text = text.replace("options:", "engines: {search: opensearch}\noptions:", 1)
    text = text.replace("write_patterns:", "security:\n  data_subject: Account\n\nwrite_patterns:", 1)
    (tmp_path / "social.yaml").write_text(text, encoding="utf-8")
    write_plan(tmp_path / "social.yaml", tmp_path / "plan")
    folder = tmp_path / "plan" / "opensearch"
    docs = store_data(tmp_path / "plan" / "tests", "opensearch")
    posts = docs["indexes"]["post"]["docs"]
    url = resolve_url("opensearch")
    client = connect(url)
    prefix = run_prefix()
    try:
        load_setup(folder / "setup.py").apply(client, folder, prefix=prefix, replicas=0)
        index_documents(client, f"{prefix}post", posts)

        def snapshot() -> dict[str, Any]:
            found = client.search(index=f"{prefix}post", body={"query": {"match_all": {}}, "size": 1000})
            return {hit["_id"]: hit["_source"] for hit in found["hits"]["hits"]}

        before = snapshot()
        authors = [doc["source"]["author_id"] for doc in posts]
        subject = max(sorted(set(authors)), key=authors.count)
        done = subprocess.run(
            [sys.executable, str(folder / "erasure.py"), subject, "--url", url, "--prefix", prefix],
            capture_output=True,
            text=True,
            check=False,
        )
        after = snapshot()
    finally:
        drop_prefix(client, prefix)
    assert done.returncode == 0, done.stderr
    mine = {i for i, source in before.items() if source["author_id"] == subject}
    assert done.stdout.strip() == f"{prefix}post: {len(mine)} deleted" and mine
    assert set(after) == set(before) - mine
    assert all(after[i] == before[i] for i in after)  # every other document unchanged
    print(f"\nopensearch: {len(before)} posts before, {len(after)} after ({len(mine)} of the subject)")
    refused = subprocess.run(
        [sys.executable, str(folder / "erasure.py"), subject, "--url", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr


MONGO_MODEL = """
name: ppmongo
entities:
  Person:
    attributes:
      email: {type: string, max_length: 100, pii: contact}
    growth: {initial_rows: 50}
  Activity:
    attributes:
      kind: {type: string, max_length: 20}
      note: {type: string, max_length: 100, pii: contact}
    placement: {family: document}
    growth: {initial_rows: 200}
relationships:
  - {name: person_activity, kind: one_to_many, from: Person, to: Activity, owned: true}
access_patterns:
  - {name: activity_of_person, entity: Activity, filters: [{attribute: person_id, op: eq}]}
security:
  data_subject: Person
"""


def test_mongodb_erasure_script_deletes_the_subjects_documents_only(tmp_path: Path) -> None:
    """A child of the subject stored in MongoDB (run on FerretDB): its documents of the subject go."""
    from bson import json_util
    from pymongo import MongoClient

    (tmp_path / "m.yaml").write_text(MONGO_MODEL, encoding="utf-8")
    write_plan(tmp_path / "m.yaml", tmp_path / "plan")
    script = tmp_path / "plan" / "mongodb" / "erasure.py"
    cases = json_util.loads((tmp_path / "plan" / "tests" / "data" / "mongodb_cases.json").read_text(encoding="utf-8"))
    documents = cases["documents"]["activity"]
    url = resolve_url("mongodb")
    name = f"pperase_{uuid.uuid4().hex[:10]}"
    client: MongoClient[dict[str, Any]] = MongoClient(url, uuidRepresentation="standard")
    try:
        collection = client[name]["activity"]
        collection.insert_many([dict(d) for d in documents])

        def snapshot() -> dict[Any, Any]:
            return {str(d["_id"]): d for d in collection.find()}

        before = snapshot()
        people = [
            str(uuid.UUID(bytes=bytes(d["person_id"]))) if isinstance(d["person_id"], bytes) else str(d["person_id"])
            for d in before.values()
        ]
        subject = max(sorted(set(people)), key=people.count)
        done = subprocess.run(
            [sys.executable, str(script), url, name, subject], capture_output=True, text=True, check=False
        )
        after = snapshot()
    finally:
        client.drop_database(name)
    assert done.returncode == 0, done.stderr
    mine = {i for i, d, p in zip(before, before.values(), people, strict=True) if p == subject}
    assert done.stdout.strip() == f"activity: {len(mine)} changed" and mine
    assert set(after) == set(before) - mine
    assert all(after[i] == before[i] for i in after)  # every other document unchanged
    print(f"\nmongodb (FerretDB): {len(before)} documents before, {len(after)} after ({len(mine)} of the subject)")


def test_cassandra_erasure_script_deletes_the_subjects_rows_only(tmp_path: Path) -> None:
    """A child of the subject stored in Cassandra: its rows of the subject go from every table."""
    from polyplan.stores.wide_column.connect import apply_schema, connect, drop_keyspace, run_keyspace, table_name

    text = MONGO_MODEL.replace("name: ppmongo", "name: ppcass").replace("family: document", "family: wide_column")
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    write_plan(tmp_path / "m.yaml", tmp_path / "plan")
    folder = tmp_path / "plan" / "cassandra"
    data = store_data(tmp_path / "plan" / "tests", "cassandra")
    records = data["entities"]["Activity"]["records"]
    url = resolve_url("cassandra")
    cluster, session = connect(url)
    keyspace = run_keyspace()
    try:
        apply_schema(session, (folder / "schema.cql").read_text(encoding="utf-8"), keyspace)
        table = table_name(keyspace, "activity_of_person")
        for record in records:
            session.execute(
                f"INSERT INTO {table} (person_id, id, kind, note) VALUES (%s, %s, %s, %s)",
                (uuid.UUID(record["person_id"]), uuid.UUID(record["id"]), record["kind"], record["note"]),
            )

        def snapshot() -> dict[str, dict[str, Any]]:
            return {str(row["id"]): row for row in session.execute(f"SELECT * FROM {table}")}

        before = snapshot()
        people = [r["person_id"] for r in records]
        subject = max(sorted(set(people)), key=people.count)
        done = subprocess.run(
            [sys.executable, str(folder / "erasure.py"), url, subject, "--keyspace", keyspace],
            capture_output=True,
            text=True,
            check=False,
        )
        after = snapshot()
    finally:
        drop_keyspace(session, keyspace)
        cluster.shutdown()
    assert done.returncode == 0, done.stderr
    mine = {i for i, row in before.items() if str(row["person_id"]) == subject}
    assert done.stdout.strip() == f"Activity: {len(mine)} rows deleted" and mine
    assert set(after) == set(before) - mine
    assert all(after[i] == before[i] for i in after)  # every other row unchanged
    print(f"\ncassandra: {len(before)} rows before, {len(after)} after ({len(mine)} of the subject)")


@pytest.mark.parametrize(("engine", "bound"), [("opensearch", "timeout=30"), ("elasticsearch", "request_timeout=30")])
def test_search_erasure_script_bounds_every_request(engine: str, bound: str) -> None:
    """A server that accepts and never answers must end the run (exit 1), as setup.py's 30 s bound does."""
    from polyplan.security.erasure_projections import search_erasure_script
    from polyplan.security.erasure_stores import SCRIPT_REPORT

    target = {"entity": "Post", "alias": "post", "field": "author_id", "parent": None, "parent_key": None}
    tree = ast.parse(search_erasure_script(engine, [target], SCRIPT_REPORT))
    clients = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("OpenSearch", "Elasticsearch")
    ]
    assert [ast.unparse(call) for call in clients] == [f"{ast.unparse(clients[0].func)}(args.url, {bound})"]


# Three levels in MongoDB below a relational subject: Activity → Step → Mark (each referenced, not embedded).
MONGO_DEEP = MONGO_MODEL.replace(
    "relationships:",
    """  Step:
    attributes:
      label: {type: string, max_length: 20}
      detail: {type: string, max_length: 100, pii: contact}
    placement: {family: document}
    growth: {initial_rows: 600}
  Mark:
    attributes:
      score: {type: integer}
    placement: {family: document}
    growth: {initial_rows: 1200}
relationships:
  - {name: activity_steps, kind: one_to_many, from: Activity, to: Step}
  - {name: step_marks, kind: one_to_many, from: Step, to: Mark}""",
).replace(
    "access_patterns:",
    """access_patterns:
  - {name: steps_of_activity, entity: Step, filters: [{attribute: activity_id, op: eq}]}
  - {name: marks_of_step, entity: Mark, filters: [{attribute: step_id, op: eq}]}""",
)


# Each level of MONGO_DEEP and its reference to the level above (the first: to the subject).
DEEP_REFERENCES = {"Activity": "person_id", "Step": "activity_id", "Mark": "step_id"}


def subject_levels(records: dict[str, list[dict[str, Any]]], subject: str) -> dict[str, set[str]]:
    """The keys of the subject's records per level of MONGO_DEEP: those referring to the subject,
    then to the keys found one level up."""
    mine: dict[str, set[str]] = {}
    parents = {subject}
    for entity, reference in DEEP_REFERENCES.items():
        mine[entity] = {r["id"] for r in records[entity] if r[reference] in parents}
        parents = mine[entity]
    return mine


def key(value: Any) -> uuid.UUID:
    """A uuid as pymongo returns it with the standard representation (or as raw binary)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(bytes=bytes(value))


def test_mongodb_erasure_follows_the_graph_to_every_depth(tmp_path: Path) -> None:
    """On FerretDB: the subject's activities, their steps and those steps' marks go; nothing else."""
    from bson import json_util
    from pymongo import MongoClient

    (tmp_path / "m.yaml").write_text(MONGO_DEEP, encoding="utf-8")
    _, diagnostics = write_plan(tmp_path / "m.yaml", tmp_path / "plan")
    assert not [d for d in diagnostics if d.code == "PP450"]  # every level is followed
    script = tmp_path / "plan" / "mongodb" / "erasure.py"
    cases = json_util.loads((tmp_path / "plan" / "tests" / "data" / "mongodb_cases.json").read_text(encoding="utf-8"))
    url = resolve_url("mongodb")
    name = f"pperase_{uuid.uuid4().hex[:10]}"
    client: MongoClient[dict[str, Any]] = MongoClient(url, uuidRepresentation="standard")
    collections = ("activity", "step", "mark")
    try:
        database = client[name]
        for collection in collections:
            database[collection].insert_many([dict(d) for d in cases["documents"][collection]])

        def snapshot() -> dict[str, dict[Any, Any]]:
            return {c: {str(d["_id"]): d for d in database[c].find()} for c in collections}

        before = snapshot()
        people = [key(d["person_id"]) for d in before["activity"].values()]
        subject = max(sorted(set(people)), key=people.count)
        mine_activity = {i for i, d in before["activity"].items() if key(d["person_id"]) == subject}
        activity_keys = {key(before["activity"][i]["_id"]) for i in mine_activity}
        mine_step = {i for i, d in before["step"].items() if key(d["activity_id"]) in activity_keys}
        step_keys = {key(before["step"][i]["_id"]) for i in mine_step}
        mine_mark = {i for i, d in before["mark"].items() if key(d["step_id"]) in step_keys}
        dry = subprocess.run(
            [sys.executable, str(script), url, name, str(subject), "--dry-run"], capture_output=True, text=True
        )
        assert snapshot() == before  # a dry run changes nothing
        done = subprocess.run([sys.executable, str(script), url, name, str(subject)], capture_output=True, text=True)
        after = snapshot()
    finally:
        client.drop_database(name)
    assert done.returncode == 0 and dry.returncode == 0, done.stderr + dry.stderr
    mine = {"activity": mine_activity, "step": mine_step, "mark": mine_mark}
    assert mine_activity and mine_step and mine_mark  # the data reaches the third level
    assert done.stdout.splitlines() == [f"{c}: {len(mine[c])} changed" for c in collections]
    assert dry.stdout.splitlines() == [f"{c}: {len(mine[c])} found" for c in collections]
    for collection in collections:
        assert set(after[collection]) == set(before[collection]) - mine[collection], collection
        assert all(after[collection][i] == before[collection][i] for i in after[collection])
    print(
        "\nmongodb (FerretDB), 3 levels: "
        + ", ".join(f"{c} {len(before[c])} → {len(after[c])} ({len(mine[c])} of the subject)" for c in collections)
    )


def test_cassandra_erasure_follows_the_graph_to_every_depth(tmp_path: Path) -> None:
    """On the real Cassandra: the subject's activities, their steps and those steps' marks go, from
    every table; nothing else."""
    from polyplan.stores.wide_column.connect import apply_schema, connect, drop_keyspace, run_keyspace, table_name

    text = MONGO_DEEP.replace("name: ppmongo", "name: ppcass").replace("family: document", "family: wide_column")
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    _, diagnostics = write_plan(tmp_path / "m.yaml", tmp_path / "plan")
    assert not [d for d in diagnostics if d.code == "PP450"]  # every level is followed
    folder = tmp_path / "plan" / "cassandra"
    design = json.loads((folder / "design.json").read_text(encoding="utf-8"))
    data = store_data(tmp_path / "plan" / "tests", "cassandra")
    entities = tuple(DEEP_REFERENCES)
    url = resolve_url("cassandra")
    cluster, session = connect(url)
    keyspace = run_keyspace()
    tables = {n: t for n, t in sorted(design["tables"].items()) if t["entity"] in entities}
    try:
        apply_schema(session, (folder / "schema.cql").read_text(encoding="utf-8"), keyspace)
        for name, table in tables.items():
            columns = [c for c, _ in table["columns"]]
            statement = (
                f"INSERT INTO {table_name(keyspace, name)} ({', '.join(columns)}) "
                f"VALUES ({', '.join(['%s'] * len(columns))})"
            )
            for record in data["entities"][table["entity"]]["records"]:
                session.execute(
                    statement,
                    tuple(uuid.UUID(record[c]) if table["types"][c]["type"] == "uuid" else record[c] for c in columns),
                )

        def snapshot() -> dict[str, dict[str, Any]]:
            return {
                name: {str(row["id"]): row for row in session.execute(f"SELECT * FROM {table_name(keyspace, name)}")}
                for name in tables
            }

        before = snapshot()
        records = {e: data["entities"][e]["records"] for e in entities}
        people = [r["person_id"] for r in records["Activity"]]
        subject = max(sorted(set(people)), key=people.count)
        mine = subject_levels(records, subject)
        done = subprocess.run(
            [sys.executable, str(folder / "erasure.py"), url, subject, "--keyspace", keyspace],
            capture_output=True,
            text=True,
            check=False,
        )
        after = snapshot()
    finally:
        drop_keyspace(session, keyspace)
        cluster.shutdown()
    assert done.returncode == 0, done.stderr
    assert all(mine.values())  # the data reaches the third level
    assert done.stdout.splitlines() == [f"{e}: {len(mine[e])} rows deleted" for e in entities]
    for name, table in tables.items():
        assert set(after[name]) == set(before[name]) - mine[table["entity"]], name
        assert all(after[name][i] == before[name][i] for i in after[name])
    print(
        "\ncassandra, 3 levels: "
        + ", ".join(f"{n} {len(before[n])} → {len(after[n])}" for n in tables)
        + f" ({', '.join(f'{e}: {len(mine[e])}' for e in entities)} of the subject)"
    )


def projected_deep(name: str) -> str:
    """MONGO_DEEP kept relationally, each level cached in Redis (by key) and projected into
    OpenSearch (a full-text pattern), under the model name `name` (the run's own key space)."""
    patterns = "".join(
        f"  - {{name: {e.lower()}_by_id, entity: {e}, filters: [{{attribute: id, op: eq}}], rate: 5000, "
        "latency_ms: 10, consistency: eventual, staleness_seconds: 30}\n"
        f"  - {{name: search_{e.lower()}, entity: {e}, filters: [{{attribute: {text}, op: fulltext}}], limit: 20, "
        "rate: 300, latency_ms: 200, consistency: eventual, staleness_seconds: 30}\n"
        for e, text in (("Activity", "note"), ("Step", "detail"), ("Mark", "comment"))
    )
    return (
        MONGO_DEEP.replace("name: ppmongo", f"name: {name}")
        .replace("    placement: {family: document}\n", "")
        .replace("      score: {type: integer}", "      score: {type: integer}\n      comment: {type: text}")
        .replace("access_patterns:\n", "access_patterns:\n" + patterns)
        + "engines: {search: opensearch}\n"
    )


def plan_projected_deep(tmp_path: Path, name: str) -> Path:
    """The plan folder of projected_deep(name): no projection is left unreached (PP450)."""
    (tmp_path / "m.yaml").write_text(projected_deep(name), encoding="utf-8")
    _, diagnostics = write_plan(tmp_path / "m.yaml", tmp_path / "plan")
    assert [d.message for d in diagnostics if d.code == "PP450"] == []  # every level is followed
    return tmp_path / "plan"


def most_linked(records: list[dict[str, Any]], reference: str) -> str:
    """The subject the most records refer to (ties: the smallest key)."""
    subjects = [r[reference] for r in records]
    return max(sorted(set(subjects)), key=subjects.count)


def test_redis_erasure_follows_the_graph_to_every_depth(tmp_path: Path) -> None:
    """On the real Redis: the subject's cached activities, their steps and those steps' marks go;
    every other entry stays as it was."""
    import redis

    namespace = f"pperase{uuid.uuid4().hex[:10]}"  # a key space of this run's own on the shared server
    folder = plan_projected_deep(tmp_path, namespace)
    families = {
        k["entity"]: k for k in json.loads((folder / "redis" / "keys.json").read_text(encoding="utf-8"))["keys"]
    }
    data = json.loads((folder / "tests" / "data" / "redis_records.json").read_text(encoding="utf-8"))["entities"]
    records = {e: [r["fields"] for r in data[e]] for e in DEEP_REFERENCES}
    subject = most_linked(records["Activity"], "person_id")
    mine = subject_levels(records, subject)
    script = folder / "redis" / "erasure.py"
    url = resolve_url("redis")
    client = redis.Redis.from_url(url)

    def snapshot() -> dict[str, dict[bytes, bytes | None]]:
        return {
            e: {k: client.get(k) for k in client.scan_iter(match=f"{namespace}:cache:{e.lower()}:*")}
            for e in DEEP_REFERENCES
        }

    try:
        for entity in DEEP_REFERENCES:
            family = families[entity]
            for record in data[entity]:
                client.set(family["template"].replace("<id>", record["fields"]["id"]), record["json"][family["name"]])
        before = snapshot()
        dry = subprocess.run([sys.executable, str(script), url, subject, "--dry-run"], capture_output=True, text=True)
        assert snapshot() == before  # a dry run deletes nothing
        done = subprocess.run([sys.executable, str(script), url, subject], capture_output=True, text=True)
        after = snapshot()
    finally:
        for found in client.scan_iter(match=f"{namespace}:*"):
            client.delete(found)
    assert done.returncode == 0 and dry.returncode == 0, done.stderr + dry.stderr
    assert all(mine.values())  # the data reaches the third level
    assert done.stdout.splitlines() == [f"{families[e]['name']}: {len(mine[e])} deleted" for e in DEEP_REFERENCES]
    assert dry.stdout.splitlines() == [f"{families[e]['name']}: {len(mine[e])} found" for e in DEEP_REFERENCES]
    for entity in DEEP_REFERENCES:
        gone = {json.loads(value or b"{}")["id"] for k, value in before[entity].items() if k not in after[entity]}
        assert gone == mine[entity], entity
        assert all(after[entity][k] == before[entity][k] for k in after[entity])  # every other entry unchanged
    print(
        "\nredis, 3 levels: "
        + ", ".join(f"{e} {len(before[e])} → {len(after[e])} ({len(mine[e])} of the subject)" for e in DEEP_REFERENCES)
    )


def test_search_erasure_follows_the_graph_to_every_depth(tmp_path: Path) -> None:
    """On the real OpenSearch: the subject's activity, step and mark documents go; every other
    document stays as it was."""
    from polyplan.stores.search.connect_opensearch import connect, drop_prefix, index_documents
    from polyplan.stores.search.runs import load_setup, run_prefix

    folder = plan_projected_deep(tmp_path, "ppdeep")
    docs = store_data(folder / "tests", "opensearch")["indexes"]
    aliases = {e: e.lower() for e in DEEP_REFERENCES}
    records = {e: [d["source"] for d in docs[aliases[e]]["docs"]] for e in DEEP_REFERENCES}
    subject = most_linked(records["Activity"], "person_id")
    mine = subject_levels(records, subject)
    script = folder / "opensearch" / "erasure.py"
    url = resolve_url("opensearch")
    client = connect(url)
    prefix = run_prefix()

    def snapshot() -> dict[str, dict[str, Any]]:
        found = {
            e: client.search(index=prefix + a, body={"query": {"match_all": {}}, "size": 1000})
            for e, a in aliases.items()
        }
        return {e: {hit["_id"]: hit["_source"] for hit in found[e]["hits"]["hits"]} for e in aliases}

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(script), subject, "--url", url, "--prefix", prefix, *extra]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    try:
        load_setup(folder / "opensearch" / "setup.py").apply(client, folder / "opensearch", prefix=prefix, replicas=0)
        for alias in aliases.values():
            index_documents(client, prefix + alias, docs[alias]["docs"])
        before = snapshot()
        dry = run("--dry-run")
        assert snapshot() == before  # a dry run deletes nothing
        done = run()
        after = snapshot()
    finally:
        drop_prefix(client, prefix)
    assert done.returncode == 0 and dry.returncode == 0, done.stderr + dry.stderr
    assert all(mine.values())  # the data reaches the third level
    assert done.stdout.splitlines() == [f"{prefix}{aliases[e]}: {len(mine[e])} deleted" for e in DEEP_REFERENCES]
    assert dry.stdout.splitlines() == [f"{prefix}{aliases[e]}: {len(mine[e])} matching" for e in DEEP_REFERENCES]
    for entity in DEEP_REFERENCES:
        assert set(after[entity]) == set(before[entity]) - mine[entity], entity
        assert all(after[entity][i] == before[entity][i] for i in after[entity])  # every other document unchanged
    print(
        "\nopensearch, 3 levels: "
        + ", ".join(f"{e} {len(before[e])} → {len(after[e])} ({len(mine[e])} of the subject)" for e in DEEP_REFERENCES)
    )


def test_a_store_reached_only_through_relational_rows_is_reported() -> None:
    """Person → Activity (relational) → Step → Mark (MongoDB): the MongoDB script cannot know the
    erased activities' keys, so PP450 names the relationship into MongoDB and the one below it."""
    text = MONGO_DEEP.replace(
        "    placement: {family: document}\n    growth: {initial_rows: 200}", "    growth: {initial_rows: 200}"
    )
    plan = plan_text(text, "m.yaml")
    assert plan.entities["Activity"].engine == "postgresql" and plan.entities["Step"].engine == "mongodb"
    _, diagnostics = render(plan)
    found = sorted(d.message.split(":")[0] for d in diagnostics if d.code == "PP450")
    assert found == [
        "Mark (mongodb) holds rows of the subject through step_marks",
        "Step (mongodb) holds rows of the subject through activity_steps",
    ]
