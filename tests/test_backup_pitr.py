"""Point-in-time recovery (issue 10) by the steps `docs/backup.md` generates, on a PostgreSQL cluster of the test's own.

The test makes a private cluster with Debian's server binaries (initdb, pg_ctl, pg_basebackup) in a
temporary directory on a free port, turns WAL archiving on with the generated
`setup-postgresql-archiving` block, loads the planned schema and its seed rows, takes the base
backup with `backup-postgresql-base`, writes more rows, notes a target time, writes more again,
and restores with `restore-postgresql-point-in-time` and `TARGET_TIME` set: every table must equal
its state at the target (row counts and checksums), and the writes after the target must be gone.
The cluster is stopped and its directory removed whatever happens.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.pipeline import write_plan
from polyplan.security.backup import BACKUP_DOC
from polyplan.stores.relational.connect import create_engine
from polyplan.testkit import unavailable
from polyplan.validate.relational import Harness
from tests.test_backup import MODEL, run_block, table_checksums

pytestmark = pytest.mark.postgresql


def server_binaries() -> Path:
    """The newest Debian PostgreSQL bin directory with initdb, pg_ctl and pg_basebackup (else skip)."""
    found = [
        path
        for path in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        if all((path / name).exists() for name in ("initdb", "pg_ctl", "pg_basebackup", "psql"))
    ]
    if not found:
        unavailable(
            "postgresql",
            "the server binaries (initdb, pg_ctl, pg_basebackup) are not installed "
            "(Debian's postgresql package puts them in /usr/lib/postgresql/<version>/bin)",
        )
    return found[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_as() -> list[str]:
    """initdb and the server refuse to run as root: as root, run them as the postgres user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        unavailable("postgresql", "running as root without a postgres user to run a private cluster as")
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def private_cluster(binaries: Path, as_user: list[str]) -> Iterator[tuple[Path, dict[str, str]]]:
    """A running cluster in a fresh directory (trust auth on 127.0.0.1 only), stopped and removed at the end."""
    root = Path(tempfile.mkdtemp(prefix="pppitr"))  # not under tmp_path: its parents are private to root
    if as_user:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    data = root / "data"
    env = {**os.environ, "PATH": f"{binaries}:{os.environ['PATH']}"}
    variables = {
        "PATH": env["PATH"],
        "PGDATA": str(data),
        "WAL_ARCHIVE": str(root / "archive"),
        "BACKUP_DIR": str(root / "backup"),
        "ADMIN_URL": f"postgresql://postgres@127.0.0.1:{port}/postgres",
    }

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}{done.stderr}"

    try:
        run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n")
        run("pg_ctl", "start", "-D", str(data), "-w", "-l", str(root / "postgresql.log"))
        yield root, variables
    finally:
        subprocess.run([*as_user, "pg_ctl", "stop", "-D", str(data), "-m", "immediate"], env=env, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def write_batch(engine: sa.Engine, label: str) -> None:
    """New accounts with entries, one seeded account renamed and one entry deleted: inserts,
    updates and deletes in one transaction."""
    with engine.begin() as connection:
        for n in range(20):
            account = uuid.uuid4()
            connection.execute(
                sa.text("INSERT INTO account (id, owner) VALUES (:id, :owner)"),
                {"id": account, "owner": f"{label}-{n}"},
            )
            connection.execute(
                sa.text("INSERT INTO entry (id, amount, account_id) VALUES (:id, :amount, :account)"),
                [{"id": uuid.uuid4(), "amount": n * 10 + k, "account": account} for k in range(3)],
            )
        connection.execute(
            sa.text("UPDATE account SET owner = :owner WHERE id = (SELECT id FROM account ORDER BY id LIMIT 1)"),
            {"owner": label},
        )
        connection.execute(sa.text("DELETE FROM entry WHERE id = (SELECT id FROM entry ORDER BY id DESC LIMIT 1)"))


def archive_current_wal(engine: sa.Engine) -> None:
    """Close the current WAL segment and wait until the archiver has copied it (archive_timeout
    does this within 60 s on a server; a test does not wait that long)."""
    # Autocommit: within one transaction the statistics views answer from one snapshot.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        segment = connection.execute(sa.text("SELECT pg_walfile_name(pg_switch_wal())")).scalar_one()
        for _ in range(120):
            archived = connection.execute(sa.text("SELECT last_archived_wal FROM pg_stat_archiver")).scalar_one()
            if archived is not None and archived >= segment:
                return
            time.sleep(0.5)
    raise AssertionError(f"WAL segment {segment} was not archived within 60 s")


def test_point_in_time_restore_by_the_generated_steps_reaches_the_target(tmp_path: Path) -> None:
    binaries = server_binaries()
    as_user = run_as()
    (tmp_path / "ledger.yaml").write_text(MODEL, encoding="utf-8")
    write_plan(tmp_path / "ledger.yaml", tmp_path / "plan")
    doc = (tmp_path / "plan" / BACKUP_DOC).read_text(encoding="utf-8")
    harness = Harness.from_plan_folder(tmp_path / "plan" / "tests", "postgresql")
    with private_cluster(binaries, as_user) as (root, variables):
        run_block(doc, "setup-postgresql-archiving", variables, as_user)
        admin_url = variables["ADMIN_URL"].replace("postgresql://", "postgresql+psycopg://")
        with create_engine(admin_url, isolation_level="AUTOCOMMIT").connect() as admin:
            assert admin.execute(sa.text("SHOW archive_mode")).scalar_one() == "on"
            admin.execute(sa.text("CREATE DATABASE ledger"))
        engine = create_engine(admin_url.rsplit("/", 1)[0] + "/ledger")
        try:
            seeded = sum(harness.load(engine).values())
            run_block(doc, "backup-postgresql-base", variables, as_user)
            write_batch(engine, "after-backup")
            expected = table_checksums(engine)
            with engine.connect() as connection:
                target = connection.execute(sa.text("SELECT clock_timestamp()::text")).scalar_one()
            time.sleep(0.5)  # the next commit is clearly after the target
            write_batch(engine, "after-target")
            latest = table_checksums(engine)
            archive_current_wal(engine)
        finally:
            engine.dispose()
        run_block(doc, "restore-postgresql-point-in-time", {**variables, "TARGET_TIME": target}, as_user)
        restored = create_engine(admin_url.rsplit("/", 1)[0] + "/ledger")
        try:
            after = table_checksums(restored)
            with restored.connect() as connection:
                promoted = not connection.execute(sa.text("SELECT pg_is_in_recovery()")).scalar_one()
        finally:
            restored.dispose()
        archived = len(list((root / "archive").iterdir()))
    print(f"\npoint-in-time restore to {target}: {seeded} seeded rows, {archived} archived WAL files")
    for name, (rows, digest) in expected.items():
        print(
            f"  {name}: {rows} rows at the target, {latest[name][0]} at the end; restored {after[name][0]}, {digest[:12]}"
        )
    assert seeded > 0 and promoted
    assert after == expected  # the state at the target, by checksum
    assert after != latest  # the writes after the target are not replayed
