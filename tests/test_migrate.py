"""`polyplan diff`, `migrate` and `lint` without a server: operations, errors at the model's line,
the revision folder (chained, deterministic, safe), offline SQL and the lint rules (issue 9)."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from polyplan.diagnostics import DiagnosticError
from polyplan.migrate.diff import Versions, conversion, diff_plans
from polyplan.migrate.folder import existing_revisions, plan_migration, write_migration
from polyplan.migrate.lint import lint_sql, statements
from polyplan.migrate.ops import (
    AddColumn,
    AddIndex,
    AlterColumnType,
    ColumnChange,
    Conversion,
    DropColumn,
    RenameColumn,
)
from polyplan.migrate.revisions import Phase, lint_revision, phase_steps
from polyplan.migrate.sql import BACKFILL_BATCH
from polyplan.migrate.storage_ops import ChangeFillfactor
from polyplan.model.schema import Attribute, TypeName
from polyplan.pipeline import plan_file
from tests.test_bad_input import ANSI, expected_lines, run_main, snapshot

ROOT = Path(__file__).resolve().parent.parent
INPUTS = Path(__file__).resolve().parent / "migrate_inputs"
HISTORY = ROOT / "scenarios" / "history"
SHOP_V1, SHOP_V2 = HISTORY / "shop" / "v1.yaml", HISTORY / "shop" / "v2.yaml"
BAD = sorted(p for p in INPUTS.glob("*.yaml") if expected_lines(p))
DOCS = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")


def shop() -> Versions:
    return diff_plans(plan_file(SHOP_V1), plan_file(SHOP_V2))


def old_of(fixture: Path) -> str:
    """The OLD model of a bad NEW model: `# old: FILE`, else base.yaml."""
    found = [line.split(":", 1)[1].strip() for line in fixture.read_text().splitlines() if line.startswith("# old:")]
    return found[0] if found else "base.yaml"


# --- operations ----------------------------------------------------------------------------


def test_the_shop_change_is_the_operations_the_model_declares() -> None:
    operations = {type(op).__name__: op for op in shop().operations}
    assert set(operations) == {
        "AlterColumnType",
        "AddColumn",
        "RenameColumn",
        "AddConstraint",
        "AddIndex",
        "DropColumn",
        "ChangeFillfactor",
    }
    # Dropping product.attributes narrows its rows (1,620 → 1,348 bytes a version), so the room
    # kept for its stock updates' new versions shrinks: fillfactor 80 → 83 (heap_fill.py).
    assert operations["ChangeFillfactor"] == ChangeFillfactor("product")
    rename = operations["RenameColumn"]
    assert isinstance(rename, RenameColumn)
    assert (rename.table, rename.old, rename.column) == ("customer", "full_name", "name")
    assert operations["DropColumn"] == DropColumn("product", "attributes", True, "polyplan_dropped_product_attributes")
    assert operations["AddColumn"] == AddColumn("customer", "phone")
    assert operations["AddIndex"] == AddIndex("customer", "ix_customer_country_created_at")
    retypes = [op for op in shop().operations if isinstance(op, AlterColumnType)]
    assert {(op.table, op.column, op.old_type, op.new_type, op.conversion) for op in retypes} == {
        ("category", "title", "VARCHAR(120)", "VARCHAR(240)", Conversion.WIDEN),
        ("product", "stock", "INTEGER", "BIGINT", Conversion.WIDEN),
    }


def test_every_operation_reverses_to_itself_and_swaps_its_phase() -> None:
    for op in shop().operations:
        back = op.reverse()
        assert back.reverse() == op
        if isinstance(op, ColumnChange):
            assert isinstance(back, ColumnChange)
            assert (back.old, back.column, back.old_type) == (op.column, op.old, op.new_type)
        elif isinstance(op, ChangeFillfactor):
            assert back == op  # a setting: the downgrade renders it from the old design
        else:
            assert back.removes != op.removes, op


def test_postgresql_steps_are_zero_downtime_by_construction() -> None:
    versions = shop()
    expand = phase_steps(versions, Phase.EXPAND)["postgresql"]
    contract = phase_steps(versions, Phase.CONTRACT)["postgresql"]
    sql = [s.sql for s in expand + contract]
    index = next(s for s in expand if "CREATE INDEX" in s.sql)
    assert index.autocommit and "CONCURRENTLY" in index.sql
    backfill = next(s for s in expand if s.sql.startswith("DO "))
    assert backfill.autocommit and f"LIMIT {BACKFILL_BATCH}" in backfill.sql and "COMMIT" in backfill.sql
    # Batches walk the primary key: none rescans the rows done before it.
    assert "WHERE (id) > (polyplan_last.id) ORDER BY id" in backfill.sql
    assert any("CREATE TRIGGER polyplan_sync_customer_name" in s for s in sql)
    # NOT NULL of the renamed column: a NOT VALID check, validated outside the transaction, then SET NOT NULL.
    check = sql.index(
        "ALTER TABLE customer ADD CONSTRAINT polyplan_nn_customer_name CHECK (name IS NOT NULL) NOT VALID"
    )
    validate = sql.index("ALTER TABLE customer VALIDATE CONSTRAINT polyplan_nn_customer_name")
    assert check < validate < sql.index("ALTER TABLE customer ALTER COLUMN name SET NOT NULL")
    # The sync trigger lives until the transaction that drops the old column: dropped before the
    # validation, the running version's inserts (which set only the old column) would break the check.
    trigger = len(expand) + [s.sql for s in contract].index(
        "DROP TRIGGER IF EXISTS polyplan_sync_customer_name ON customer"
    )
    drop = next(i for i, s in enumerate(sql) if s.endswith("ALTER TABLE customer DROP COLUMN full_name"))
    assert validate < trigger < drop
    assert not any(step.autocommit for step in (expand + contract)[trigger : drop + 1])
    # A longer varchar changes in place; a rewriting retype goes through a shadow column.
    assert any(s.endswith("ALTER TABLE category ALTER COLUMN title TYPE VARCHAR(240)") for s in sql)
    assert "ALTER TABLE product ADD COLUMN stock__polyplan_new BIGINT" in sql
    # Timeouts before every DDL statement: the lint agrees.
    for revision in plan_migration(plan_file(SHOP_V1), plan_file(SHOP_V2), SHOP_V1, SHOP_V2, Path("none")).added:
        findings = lint_revision(revision)[("postgresql", "upgrade")]
        assert {f.code for f in findings} <= {"PP807"}, [(f.code, f.statement) for f in findings]


def test_each_postgresql_transaction_alters_one_table() -> None:
    """Holding one table's ACCESS EXCLUSIVE lock while waiting for another's deadlocks with the
    application's foreign-key checks: a revision commits before it moves to the next table."""
    for history in ("shop", "saas"):
        old, new = HISTORY / history / "v1.yaml", HISTORY / history / "v2.yaml"
        versions = diff_plans(plan_file(old), plan_file(new))
        for phase in (Phase.EXPAND, Phase.CONTRACT):
            for reverse in (False, True):
                altered: set[str] = set()
                for step in phase_steps(versions, phase, reverse)["postgresql"]:
                    if step.autocommit:
                        altered = set()
                        continue
                    altered |= set(re.findall(r"^ALTER TABLE (\S+)", step.sql, re.M))
                    assert len(altered) <= 1, (history, phase, reverse, altered, step.sql)


def test_mariadb_and_sqlite_steps() -> None:
    versions = shop()
    mysql = [
        s.sql for s in phase_steps(versions, Phase.EXPAND)["mysql"] + phase_steps(versions, Phase.CONTRACT)["mysql"]
    ]
    assert any(s.endswith("ALGORITHM=INSTANT, LOCK=NONE") and "ADD COLUMN phone" in s for s in mysql)
    assert any(s.startswith("CREATE INDEX ix_customer_country_created_at") and s.endswith("LOCK=NONE") for s in mysql)
    assert any("CHANGE COLUMN stock stock BIGINT" in s and s.endswith("ALGORITHM=COPY, LOCK=SHARED") for s in mysql)
    assert sum(s.startswith("SET SESSION lock_wait_timeout") for s in mysql) >= 6
    sqlite = [s.sql for s in phase_steps(versions, Phase.CONTRACT)["sqlite"]]
    rebuilt = {re.search(r"CREATE TABLE (\w+)", s).group(1) for s in sqlite if s.startswith("CREATE TABLE")}  # type: ignore[union-attr]
    assert rebuilt == {
        "_polyplan_new_category",
        "_polyplan_new_customer",
        "_polyplan_new_product",
        "polyplan_dropped_product_attributes",  # the dropped column's values, for a downgrade
    }
    assert any(
        s.startswith("INSERT INTO _polyplan_new_customer (id, email, name,") and "full_name" in s for s in sqlite
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"type": "string", "max_length": 10}, {"type": "string", "max_length": 20}, Conversion.WIDEN),
        ({"type": "string", "max_length": 20}, {"type": "string", "max_length": 10}, Conversion.NARROW),
        ({"type": "integer"}, {"type": "integer", "bits": 64}, Conversion.WIDEN),
        ({"type": "integer", "bits": 64}, {"type": "integer", "bits": 16}, Conversion.NARROW),
        (
            {"type": "decimal", "precision": 10, "scale": 2},
            {"type": "decimal", "precision": 12, "scale": 2},
            Conversion.WIDEN,
        ),
        (
            {"type": "decimal", "precision": 10, "scale": 2},
            {"type": "decimal", "precision": 10, "scale": 3},
            Conversion.NARROW,
        ),
        ({"type": "enum", "values": ["a"]}, {"type": "enum", "values": ["a", "b"]}, Conversion.WIDEN),
        ({"type": "string", "max_length": 9}, {"type": "text"}, Conversion.WIDEN),
        ({"type": "text"}, {"type": "string", "max_length": 9}, Conversion.NARROW),
        ({"type": "date"}, {"type": "timestamptz"}, Conversion.WIDEN),
        ({"type": "boolean"}, {"type": "date"}, None),
        ({"type": "json"}, {"type": "integer"}, None),
    ],
)
def test_conversions(old: dict[str, object], new: dict[str, object], expected: Conversion | None) -> None:
    assert conversion(Attribute.model_validate(old), Attribute.model_validate(new)) == expected
    assert TypeName(str(old["type"]))  # the table names real portable types


# --- errors at the model's line --------------------------------------------------------------


@pytest.mark.parametrize("fixture", BAD, ids=lambda p: p.stem)
def test_bad_changes_exit_2_at_the_line_and_write_nothing(
    fixture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for model in INPUTS.glob("*.yaml"):
        shutil.copy(model, tmp_path / model.name)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    for args in (["diff", old_of(fixture), fixture.name], ["migrate", old_of(fixture), fixture.name, "--out", "out"]):
        code, out, err = run_main(args, monkeypatch, capsys)
        assert (code, out) == (2, "")
        assert err.splitlines() == expected_lines(fixture)
    assert snapshot(tmp_path) == before  # no folder, no staging folder beside it


def test_documented_migration_errors_are_what_polyplan_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    documented = [line for line in re.findall(r"^migrate_inputs/.*\[PP7\d\d\]$", DOCS, re.M)]
    printed = {f"migrate_inputs/{line}" for fixture in BAD for line in expected_lines(fixture)}
    shutil.copytree(INPUTS, tmp_path / "migrate_inputs")
    monkeypatch.chdir(tmp_path)
    base, v2, good = "migrate_inputs/base.yaml", "migrate_inputs/version2.yaml", "migrate_inputs/good.yaml"
    assert run_main(["migrate", base, v2, "--out", "migrations"], monkeypatch, capsys)[0] == 0
    code, _, err = run_main(["migrate", base, good, "--out", "migrations"], monkeypatch, capsys)
    assert code == 2
    printed |= set(err.splitlines())
    assert len(documented) == 8
    assert set(documented) <= printed


# --- the folder --------------------------------------------------------------------------------


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_migrate_is_deterministic_chained_and_idempotent(tmp_path: Path) -> None:
    base, good, v3 = INPUTS / "base.yaml", INPUTS / "good.yaml", INPUTS / "good_v3.yaml"
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        write_migration(plan_file(base), plan_file(good), base, good, folder)
    assert folder_bytes(first) == folder_bytes(second)
    again = write_migration(plan_file(base), plan_file(good), base, good, first)
    assert again.added == [] and folder_bytes(first) == folder_bytes(second)
    added = write_migration(plan_file(good), plan_file(v3), good, v3, first).added
    chain = {r.id: r.down for r in existing_revisions(first)}
    assert len(chain) == 5 and list(chain.values()).count(None) == 1
    assert added[0].down == next(r.id for r in existing_revisions(second) if r.path.endswith("_contract.py"))
    assert added[1].down == added[0].id
    # The earlier revisions are kept byte for byte.
    assert {
        k: v for k, v in folder_bytes(first).items() if k in folder_bytes(second) and k.startswith("versions/")
    } == {k: v for k, v in folder_bytes(second).items() if k.startswith("versions/")}


def test_migrate_never_replaces_a_users_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_handwritten.py").write_text("revision = 'mine'\n")
    code, _, err = run_main(["migrate", str(SHOP_V1), str(SHOP_V2), "--out", str(folder)], monkeypatch, capsys)
    assert code == 2 and "[PP601]" in err
    assert [p.name for p in folder.iterdir()] == ["0001_handwritten.py"]


def test_diff_json_and_text(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["diff", str(SHOP_V1), str(SHOP_V2), "--json"], monkeypatch, capsys)
    assert code == 0
    body = json.loads(out)
    assert (body["old"]["version"], body["new"]["version"]) == (1, 2)
    assert len(body["old"]["sha256"]) == 64
    assert {"op": "rename_column", "table": "customer", "old": "full_name", "column": "name"}.items() <= next(
        o for o in body["operations"] if o["op"] == "rename_column"
    ).items()
    assert [o["op"] for o in body["operations"]] == [op.kind for op in shop().operations]
    code, out, _ = run_main(["diff", str(SHOP_V1), str(SHOP_V2)], monkeypatch, capsys)
    assert code == 0 and "  ~ column customer.full_name → name (renamed)    [expand + contract]" in out.splitlines()
    code, out, _ = run_main(["diff", str(SHOP_V1), str(SHOP_V1)], monkeypatch, capsys)
    assert (code, out.splitlines()[-1]) == (0, "  no change to the relational design")


def test_a_narrowing_is_reported_at_the_type_and_still_migrated(tmp_path: Path) -> None:
    text = (INPUTS / "good.yaml").read_text().replace("max_length: 300, renamed_from", "max_length: 100, renamed_from")
    (tmp_path / "narrow.yaml").write_text(text)
    versions = diff_plans(plan_file(INPUTS / "base.yaml"), plan_file(tmp_path / "narrow.yaml"))
    assert [d.render() for d in versions.warnings if d.code != "PP712"] == [
        f"{tmp_path / 'narrow.yaml'}:8:20: entities.Customer.attributes.name.type: warning: 'Customer.name' narrows "
        "from VARCHAR(200) to VARCHAR(100): the migration fails on a value that does not fit; check the data first [PP805]"
    ]
    assert any(isinstance(op, RenameColumn) and op.conversion is Conversion.NARROW for op in versions.operations)


def test_offline_sql_renders_for_every_engine(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    write_migration(plan_file(SHOP_V1), plan_file(SHOP_V2), SHOP_V1, SHOP_V2, folder)
    expected = {
        "postgresql": "CREATE INDEX CONCURRENTLY ix_customer_country_created_at",
        "mysql": "ALGORITHM=INSTANT, LOCK=NONE",
        "sqlite": "INSERT INTO _polyplan_new_customer",
    }
    for dialect, needle in expected.items():
        config = Config(str(folder / "alembic.ini"), cmd_opts=_x(f"dialect={dialect}"))
        buffer = io.StringIO()
        config.stdout = buffer  # type: ignore[attr-defined]
        with redirect_stdout(buffer):
            command.upgrade(config, "head", sql=True)
        assert needle in buffer.getvalue(), dialect
    # And with the alembic command itself, from the folder.
    done = subprocess.run(
        [str(Path(sys.executable).parent / "alembic"), "-x", "dialect=postgresql", "upgrade", "head", "--sql"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ALTER TABLE customer VALIDATE CONSTRAINT polyplan_nn_customer_name;" in done.stdout


def _x(argument: str) -> object:
    """What `alembic -x ARGUMENT` passes to the environment."""
    return type("Options", (), {"x": [argument]})()


# --- lint -----------------------------------------------------------------------------------

UNSAFE = """-- a comment; with a semicolon
CREATE INDEX ix_a ON t (a);
ALTER TABLE t ADD COLUMN b int NOT NULL;
ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid();
SET lock_timeout = '2s';
ALTER TABLE t ALTER COLUMN a TYPE bigint;
ALTER TABLE t ADD CONSTRAINT ck CHECK (a > 0);
DO $x$ BEGIN PERFORM 1; END $x$;
ALTER TABLE t DROP COLUMN d;
ALTER TABLE t RENAME COLUMN e TO f;
ALTER TABLE t ALTER COLUMN f SET NOT NULL;
ALTER TABLE t ADD CONSTRAINT u UNIQUE (a);
"""

SAFE = """SET lock_timeout = '2s';
SET statement_timeout = '60s';
CREATE TABLE fresh (id int PRIMARY KEY);
CREATE INDEX ix_fresh ON fresh (id);
CREATE INDEX CONCURRENTLY ix_a ON t (a);
ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 0;
ALTER TABLE t ADD CONSTRAINT nn CHECK (f IS NOT NULL) NOT VALID;
ALTER TABLE t VALIDATE CONSTRAINT nn;
ALTER TABLE t ALTER COLUMN f SET NOT NULL;
ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES s (id) NOT VALID;
-- polyplan-lint: ignore PP807 (retired in release 12)
ALTER TABLE t DROP COLUMN old;
"""


def test_lint_finds_each_rule_at_its_line() -> None:
    found = [(f.code, f.line) for f in lint_sql(UNSAFE)]
    assert found == [
        ("PP806", 2),
        ("PP802", 2),
        ("PP803", 3),
        ("PP804", 4),
        ("PP801", 6),
        ("PP809", 7),
        ("PP807", 9),
        ("PP808", 10),
        ("PP803", 11),
        ("PP809", 12),
    ]
    assert lint_sql(SAFE) == []


def test_lint_for_mariadb() -> None:
    sql = "CREATE INDEX i ON t (a);\nALTER TABLE t MODIFY a BIGINT;\nALTER TABLE t CHANGE COLUMN a b INT, ALGORITHM=INSTANT;\n"
    assert [(f.code, f.line) for f in lint_sql(sql, "mysql")] == [
        ("PP806", 1),
        ("PP802", 1),
        ("PP801", 2),
        ("PP808", 3),
    ]


def test_statements_keep_quoted_semicolons_and_positions() -> None:
    sql = "SELECT ';' AS a;\n  DO $b$ BEGIN x; y; END $b$ ;\nSELECT \"a;b\" FROM t -- c; d\n;"
    found = [(s.text, s.line, s.column) for s in statements(sql)]
    assert found == [
        ("SELECT ';' AS a", 1, 1),
        ("DO $b$ BEGIN x; y; END $b$", 2, 3),
        ('SELECT "a;b" FROM t -- c; d', 3, 1),
    ]


def test_lint_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "change.sql").write_text(UNSAFE)
    (tmp_path / "safe.sql").write_text(SAFE)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(["lint", "change.sql"], monkeypatch, capsys)
    lines = ANSI.sub("", err).splitlines()
    assert code == 1 and len(lines) == 10
    # The example in docs/diagnostics.md is this run's.
    assert lines[4] in DOCS
    assert run_main(["lint", "safe.sql"], monkeypatch, capsys)[:2] == (0, "safe.sql: no findings\n")
    code, _, err = run_main(["lint", "missing.sql"], monkeypatch, capsys)
    assert code == 2 and err.startswith("missing.sql:1:1: cannot read SQL file") and err.rstrip().endswith("[PP001]")


def test_renamed_from_changes_the_migration_not_the_plan(tmp_path: Path) -> None:
    """Without renamed_from the same v2 is an error; with it, a rename (and `plan` ignores it)."""
    text = SHOP_V2.read_text().replace(", renamed_from: full_name", "")
    (tmp_path / "v2.yaml").write_text(text)
    with pytest.raises(DiagnosticError) as raised:
        diff_plans(plan_file(SHOP_V1), plan_file(tmp_path / "v2.yaml"))
    assert [d.code for d in raised.value.diagnostics] == ["PP701"]
    assert raised.value.diagnostics[0].location is not None and raised.value.diagnostics[0].location.line == 16


def test_migrate_refuses_a_plan_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan"
    assert run_main(["plan", str(SHOP_V1), "--out", str(plan)], monkeypatch, capsys)[0] == 0
    before = folder_bytes(plan)
    code, _, err = run_main(["migrate", str(SHOP_V1), str(SHOP_V2), "--out", str(plan)], monkeypatch, capsys)
    assert code == 2 and err.strip().endswith(
        "holds a polyplan plan, not migrations; give `polyplan migrate` a folder of its own [PP601]"
    )
    assert folder_bytes(plan) == before


def test_a_key_attribute_is_not_renamed_or_retyped(tmp_path: Path) -> None:
    old = "name: m\nversion: 1\nentities:\n  Tag:\n    key: {attributes: [slug], kind: natural}\n    attributes:\n      slug: {type: string, max_length: 20}\n"
    (tmp_path / "v1.yaml").write_text(old)
    (tmp_path / "v2.yaml").write_text(
        old.replace("version: 1", "version: 2").replace("max_length: 20", "max_length: 40")
    )
    with pytest.raises(DiagnosticError) as raised:
        diff_plans(plan_file(tmp_path / "v1.yaml"), plan_file(tmp_path / "v2.yaml"))
    assert [d.render() for d in raised.value.diagnostics] == [
        f"{tmp_path / 'v2.yaml'}:7:13: entities.Tag.attributes.slug: 'Tag.slug' is part of the primary key of 'tag' "
        "and is renamed or retyped; polyplan cannot migrate that yet [PP707]"
    ]


def test_migrate_prints_the_lint_of_its_upgrades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m"
    code, stdout, err = run_main(["migrate", str(SHOP_V1), str(SHOP_V2), "--out", str(out)], monkeypatch, capsys)
    assert code == 0 and len(stdout.splitlines()) == 5
    # Three revisions, then the runbooks of the other stores the change touches.
    assert stdout.splitlines()[3:] == [
        f"{out}: stores/v1-v2/redis/RUNBOOK.md: 1 operation",
        f"{out}: stores/v1-v2/search/RUNBOOK.md: 2 operations",
    ]
    # The retyped columns that keep their name: prepared statements must be prepared again.
    warned = [line for line in err.splitlines() if line.endswith("[PP712]")]
    assert [line.split(": ")[1] for line in warned] == [
        "entities.Category.attributes.title.type",
        "entities.Product.attributes.stock.type",
    ]
    lines = [line for line in err.splitlines() if not line.endswith("[PP712]")]
    contract = next(p for p in out.glob("versions/*_contract.py"))
    # Deliberate and reported: the declared drop, MariaDB's rename and its table copy (SQLite drops
    # by rebuilding the table without the column, which the lint has no statement to see in).
    assert {(line.split("[")[1].split("]")[0], line.rsplit("[", 1)[1]) for line in lines} == {
        ("postgresql", "PP807]"),
        ("mysql", "PP807]"),
        ("mysql", "PP808]"),
        ("mysql", "PP801]"),
    }
    assert all(line.startswith(f"{contract}[") for line in lines)


def test_a_binary_compatible_widening_touches_no_index(tmp_path: Path) -> None:
    """A longer VARCHAR that a covering index includes: PostgreSQL changes it in place (no shadow
    column) and keeps the index as it is, MariaDB's CHANGE COLUMN carries it: no index step at all."""
    old_path = INPUTS / "covering_v1.yaml"
    text = old_path.read_text().replace("version: 1", "version: 2")
    (tmp_path / "wider.yaml").write_text(text.replace("max_length: 120", "max_length: 240"))
    versions = diff_plans(plan_file(old_path), plan_file(tmp_path / "wider.yaml"))
    assert [op.describe() for op in versions.operations] == [
        "~ column ticket.subject, VARCHAR(120) → VARCHAR(240) (widen)"
    ]
    for engine in ("postgresql", "mysql"):
        steps = [s.sql for phase in Phase if phase is not Phase.BASELINE for s in phase_steps(versions, phase)[engine]]
        assert not [s for s in steps if "INDEX" in s or "__polyplan_new" in s], engine
