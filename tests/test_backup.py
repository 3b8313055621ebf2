"""Backup and recovery (issue 10): `recovery` objectives, `docs/backup.md`, and a restore on PostgreSQL.

The restore test seeds a throw-away PostgreSQL database with the plan's own seed rows, runs the
backup and restore blocks of the generated `docs/backup.md` exactly as written (a shell with the
block's `$VARIABLES` set), and compares every table of the restored database with the original by
checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from polyplan.capacity import capacity_plan, design_stores
from polyplan.pipeline import plan_text, render, write_plan
from polyplan.security.backup import BACKUP_DOC, METHODS, design_backup, doc_steps, seconds
from polyplan.security.restore_time import THROUGHPUT, estimate_restore, shown
from polyplan.stores.relational.connect import create_engine, scratch_database
from polyplan.testkit import resolve_url
from polyplan.validate.relational import Harness
from tests.conftest import ROOT

SHOP = ROOT / "scenarios" / "shop.yaml"

MODEL = """
name: ledger
recovery: {rpo: 15m, rto: 1h}
entities:
  Account:
    attributes:
      owner: {type: string, max_length: 80}
  Entry:
    attributes:
      amount: {type: decimal, precision: 12, scale: 2}
    recovery: {rpo: 5m, rto: 30m, retention_days: 30}
relationships:
  - {name: account_entries, kind: one_to_many, from: Account, to: Entry}
"""


def table_checksums(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    """Rows and a checksum of every table, rows in key order."""
    found: dict[str, tuple[int, str]] = {}
    metadata = sa.MetaData()
    with warnings.catch_warnings():
        # PostGIS's geography has no SQLAlchemy type: reflected as NullType, its value is compared
        # as the text the driver returns, which is all a checksum needs.
        warnings.filterwarnings("ignore", "Did not recognize type 'geography'", sa.exc.SAWarning)
        metadata.reflect(engine)
    with engine.connect() as connection:
        for name, table in sorted(metadata.tables.items()):
            order = list(table.primary_key.columns) or list(table.columns)
            rows = [[str(v) for v in row] for row in connection.execute(sa.select(table).order_by(*order))]
            found[name] = (len(rows), hashlib.sha256(json.dumps(rows).encode()).hexdigest())
    return found


def run_block(doc: str, block: str, variables: dict[str, str], as_user: Sequence[str] = ()) -> None:
    """Run each line of one block of backup.md in bash with `variables` set (`as_user`: a prefix
    such as `runuser -u postgres --`)."""
    steps = doc_steps(doc, block)
    assert steps, f"no {block} block in backup.md"
    env = {**os.environ, **variables}
    for step in steps:
        done = subprocess.run([*as_user, "bash", "-c", step], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{step}\n{done.stderr}"


def test_a_dump_restored_by_the_generated_procedure_gives_equal_data(tmp_path: Path) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore are not installed (Debian's postgresql-client)")
    write_plan(SHOP, tmp_path / "plan")
    doc = (tmp_path / "plan" / BACKUP_DOC).read_text(encoding="utf-8")
    harness = Harness.from_plan_folder(tmp_path / "plan" / "tests", "postgresql")
    with scratch_database(resolve_url("postgresql")) as source, scratch_database(resolve_url("postgresql")) as target:
        harness.load(source)
        url = source.url
        new_db = str(target.url.database)
        target.dispose()
        # The restore creates the database itself: hand it an empty name (the scratch one, dropped first).
        with create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT").connect() as admin:
            admin.execute(sa.text(f'DROP DATABASE "{new_db}"'))
        plain = make_url(str(url.render_as_string(hide_password=False))).set(drivername="postgresql")
        variables = {
            "BACKUP_DIR": str(tmp_path),
            "DB": str(url.database),
            "DB_URL": plain.render_as_string(hide_password=False),
            "HOST": str(url.host or "127.0.0.1"),
            "PORT": str(url.port or 5432),
            "DB_USER": str(url.username or "postgres"),
            "NEW_DB": new_db,
            "PGPASSWORD": str(url.password or ""),
        }
        run_block(doc, "backup-postgresql", variables)
        run_block(doc, "restore-postgresql-dump", variables)
        restored = create_engine(url.set(database=new_db))
        try:
            before, after = table_checksums(source), table_checksums(restored)
        finally:
            restored.dispose()
    print("\ntable: rows, checksum (source = restored)")
    for name, (rows, digest) in before.items():
        print(f"  {name}: {rows}, {digest[:12]}")
    assert sum(rows for rows, _ in before.values()) > 0
    assert after == before


def test_backup_doc_states_method_schedule_retention_and_objectives() -> None:
    files, _ = render(plan_text(MODEL, "ledger.yaml"))
    doc = files[BACKUP_DOC]
    assert "| postgresql | Account, Entry | 5m | 30m |" in doc  # the strictest objectives of the store
    assert "30 days" in doc and METHODS["postgresql"].schedule in doc
    assert doc_steps(doc, "restore-postgresql-point-in-time")
    assert seconds("15m") == 900 and seconds("1h") == 3600 and seconds("2d") == 172800


def _plan_exit(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    model = tmp_path / "ledger.yaml"
    model.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "polyplan", "plan", str(model), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_rpo_shorter_than_the_method_gives_is_an_error_at_its_line(tmp_path: Path) -> None:
    text = MODEL.replace("rpo: 5m", "rpo: 30s")
    result = _plan_exit(tmp_path, text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "rpo: 30s" in ln)
    assert result.returncode == 2, result.stderr
    errors = [ln for ln in result.stderr.splitlines() if "[PP452]" in ln]
    assert len(errors) == 1 and f"ledger.yaml:{line}:" in errors[0] and "entities.Entry.recovery.rpo" in errors[0]
    assert "Traceback" not in result.stderr


def test_a_malformed_duration_is_a_coded_error(tmp_path: Path) -> None:
    result = _plan_exit(tmp_path, MODEL.replace("rpo: 15m", "rpo: 15 minutes"))
    assert result.returncode == 2 and "recovery.rpo" in result.stderr and "[PP" in result.stderr, result.stderr


# The ledger at a size whose restore cannot fit a 10-minute rto: 2 billion entries at the horizon.
LARGE = MODEL.replace(
    "    recovery: {rpo: 5m, rto: 30m, retention_days: 30}",
    "    growth: {initial_rows: 2000000000}\n    recovery: {rpo: 5m, rto: 10m, retention_days: 30}",
)


def test_restore_estimate_follows_the_capacity_model_and_the_documented_throughput() -> None:
    medium = MODEL.replace(
        "    recovery: {rpo: 5m", "    growth: {initial_rows: 5000000, rows_per_day: 20000}\n    recovery: {rpo: 5m"
    )
    plan = plan_text(medium, "ledger.yaml")
    files, diagnostics = render(plan)
    doc = files[BACKUP_DOC]
    capacity = capacity_plan(plan, design_stores(plan))
    (estimate,) = [estimate_restore(plan, store, capacity) for store in design_backup(plan)[0]]
    # The capacity plan's figure (capacity.md, plan.json): data and indexes of one copy at the horizon.
    horizon = json.loads(files["plan.json"])["capacity"]["stores"]
    sized = next(s for s in horizon if s["store"] == "relational (postgresql)")["years"][-1]
    assert estimate.bytes == pytest.approx(sized["data_bytes"] + sized["index_bytes"], abs=2) and estimate.bytes > 0
    rate = THROUGHPUT["postgresql"]
    assert estimate.seconds == rate.startup_seconds + round(estimate.bytes / (rate.mb_per_s * 1_000_000))
    assert not estimate.over and "PP453" not in {d.code for d in diagnostics}
    row = next(line for line in doc.splitlines() if line.startswith("| postgresql | ") and "MB/s" in line)
    assert f"| {shown(estimate.seconds)} | 30m | yes |" in row, row


def test_a_restore_longer_than_the_rto_warns_at_the_rto(tmp_path: Path) -> None:
    result = _plan_exit(tmp_path, LARGE)
    assert result.returncode == 0, result.stderr  # a warning: the plan is still written
    line = LARGE.splitlines().index("    recovery: {rpo: 5m, rto: 10m, retention_days: 30}") + 1
    warnings = [ln for ln in (result.stdout + result.stderr).splitlines() if "PP453" in ln]
    assert len(warnings) == 1 and f"ledger.yaml:{line}:" in warnings[0], warnings
    assert "entities.Entry.recovery.rto" in warnings[0] and "over the rto of Entry (10m)" in warnings[0]
    doc = (tmp_path / "out" / BACKUP_DOC).read_text(encoding="utf-8")
    row = next(line for line in doc.splitlines() if line.startswith("| postgresql | ") and "MB/s" in line)
    assert row.endswith("| 10m | no (PP453) |"), row
    print("\n" + warnings[0])
