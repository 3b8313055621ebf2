"""Derived attributes (issue 12: "derived attributes (count/sum/max of a relationship's children,
kept in step on write)"): the model checks, the seed values, the relational triggers proven on
the real engines, and the coded warnings where no store can keep one."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from polyplan.diagnostics import Diagnostic
from polyplan.migrate.context import Design
from polyplan.migrate.derived_ops import DropDerived, KeepDerived
from polyplan.migrate.diff import baseline, diff_plans
from polyplan.migrate.folder import write_migration
from polyplan.migrate.revisions import Phase, phase_steps
from polyplan.model.derived import key_of
from polyplan.pipeline import plan_file, plan_text, render, write_plan
from polyplan.seed.generate import generate
from polyplan.seed.relational import load_rows, table_rows
from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.conftest import RELATIONAL_ENGINES
from tests.test_migrate_engines import round_trip

MODEL = Path(__file__).resolve().parent / "models" / "blog_kept.yaml"
TEXT = MODEL.read_text(encoding="utf-8")


def _warnings(text: str) -> list[Diagnostic]:
    _, diagnostics = render(plan_text(text, "blog_kept.yaml"))
    return [d for d in diagnostics if d.code in ("PP468", "PP469")]


def test_seeded_parents_hold_their_loaded_childrens_aggregates() -> None:
    model = plan_text(TEXT, "blog_kept.yaml").model
    rows = {"Post": 12, "Comment": 90}
    records = generate(model, rows, seed=7, spare=2)
    comments = records["Comment"][: rows["Comment"]]  # the spares are not loaded: they do not count
    key = key_of(model.entities["Post"]).attributes[0]
    for post in records["Post"]:
        mine = [c for c in comments if c["post_id"] == post[key]]
        assert post["comments"] == len(mine)
        assert post["votes"] == sum(c["votes"] for c in mine)
        assert post["last_comment_at"] == max((c["created_at"] for c in mine), default=None)
    assert any(post["comments"] > 1 for post in records["Post"])
    # A store's tests that make only the parents get the same values: the children are made too.
    assert generate(model, rows, seed=7, spare=2, only={"Post"})["Post"] == records["Post"]


def test_derived_sql_backfills_then_triggers_on_every_engine() -> None:
    files, _ = render(plan_text(TEXT, "blog_kept.yaml"))
    postgresql = files["relational/postgresql/derived.sql"]
    assert "UPDATE post SET comments = (SELECT COUNT(*) FROM comment c WHERE c.post_id = post.id);" in postgresql
    assert "UPDATE post SET votes = votes + COALESCE(NEW.votes, 0) WHERE id = NEW.post_id;" in postgresql
    assert "AFTER INSERT OR DELETE OR UPDATE OF post_id, created_at ON comment" in postgresql
    for engine in ("mysql", "sqlite"):
        text = files[f"relational/{engine}/derived.sql"]
        assert len(re.findall(r"CREATE TRIGGER \S+_(ins|del|upd) AFTER", text)) == 9  # three attributes × three events
    # Count and sum start at 0: a parent is inserted before its children.
    assert re.search(r"comments INTEGER DEFAULT 0 NOT NULL", files["relational/postgresql/schema.sql"])


def test_models_without_derived_attributes_write_no_derived_sql() -> None:
    plain = re.sub(r", derived: \{[^}]*\}", "", TEXT)
    files, _ = render(plan_text(plain, "blog.yaml"))
    assert not [path for path in files if path.endswith("derived.sql")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("blog_kept")
    write_plan(MODEL, out)
    return out


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_generated_tests_keep_every_derived_attribute_on_the_real_engine(folder: Path, engine: str) -> None:
    module = (folder / "tests" / f"test_{engine}.py").read_text(encoding="utf-8")
    assert "'Post.comments'" in module and "def test_derived_attribute_kept_in_step" in module
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(folder, engine, url) == 0


def test_the_check_fails_when_a_trigger_is_missing(tmp_path: Path) -> None:
    """Not vacuous: without the insert trigger of the count, the generated test fails."""
    out = tmp_path / "blog"
    write_plan(MODEL, out)
    derived = out / "relational" / "sqlite" / "derived.sql"
    text = derived.read_text(encoding="utf-8")
    blocks = text.split("\n\n")
    kept = [b for b in blocks if not b.startswith("CREATE TRIGGER trg_post_comments_ins")]
    assert len(kept) == len(blocks) - 1
    derived.write_text("\n\n".join(kept), encoding="utf-8")
    # `polyplan validate` refuses an edited plan folder, so the generated module runs directly.
    sabotaged = _run_generated(out, "test_derived_attribute_kept_in_step")
    assert sabotaged.returncode == 1 and "Post.comments after inserting a child" in sabotaged.stdout
    assert "1 failed, 2 passed" in sabotaged.stdout


def _run_generated(out: Path, selected: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_sqlite.py", "-k", selected]
    return subprocess.run(command, cwd=out / "tests", capture_output=True, text=True, timeout=300, check=False)


def test_no_store_keeps_it_outside_the_relational_store_pp468() -> None:
    elsewhere = TEXT.replace("  Comment:\n", "  Comment:\n    placement: {family: document}\n")
    warned = _warnings(elsewhere)
    assert [d.path for d in warned if d.code == "PP468"] == [
        f"entities.Post.attributes.{name}.derived" for name in ("comments", "votes", "last_comment_at")
    ]
    files, _ = render(plan_text(elsewhere, "blog_kept.yaml"))
    assert not [path for path in files if path.endswith("derived.sql")]
    documented = Path(__file__).resolve().parent.parent / "docs" / "diagnostics.md"
    assert warned[0].render().split(": ", 1)[1] in documented.read_text(encoding="utf-8")
    assert not _warnings(TEXT)


def test_a_projection_refreshed_on_the_parents_writes_lags_pp469() -> None:
    cached = TEXT.replace(
        "{name: post_by_id, entity: Post, filters: [{attribute: id}], rate: 100}",
        "{name: post_by_id, entity: Post, filters: [{attribute: id}], rate: 5000, consistency: eventual, "
        "staleness_seconds: 30}",
    )
    warned = [d for d in _warnings(cached) if d.code == "PP469"]
    assert len(warned) == 3 and "cache projection (redis) of Post" in warned[0].message


MIGRATE_INPUTS = Path(__file__).resolve().parent / "migrate_inputs"


def test_the_migration_installs_and_removes_the_triggers() -> None:
    versions = diff_plans(plan_file(MIGRATE_INPUTS / "kept_v1.yaml"), plan_file(MIGRATE_INPUTS / "kept_v2.yaml"))
    kept = [op for op in versions.operations if isinstance(op, KeepDerived)]
    assert [(op.parent, op.column, op.function) for op in kept] == [
        ("post", "comments", "count"),
        ("post", "last_comment_at", "max"),
        ("post", "votes", "sum"),
    ]
    assert all(isinstance(op.reverse(), DropDerived) and op.reverse().reverse() == op for op in kept)
    expand = phase_steps(versions, Phase.EXPAND)
    # After the columns are added: the backfill, then the triggers (the derived.sql statements).
    postgresql = [s.sql for s in expand["postgresql"]]
    added = next(i for i, sql in enumerate(postgresql) if "ADD COLUMN comments" in sql)
    backfill = postgresql.index("UPDATE post SET comments = (SELECT COUNT(*) FROM comment c WHERE c.post_id = post.id)")
    assert added < backfill
    downgrade = [s.sql for s in phase_steps(versions, Phase.CONTRACT, reverse=True)["mysql"]]
    assert "DROP TRIGGER IF EXISTS trg_post_comments_ins" in downgrade
    # A database built from the baseline revision gets them too.
    assert len([op for op in baseline(plan_file(MODEL)).operations if isinstance(op, KeepDerived)]) == 3


@contextmanager
def upgraded(
    old_path: Path, new_path: Path, engine: str, work: Path, counts: dict[str, int], seed: int
) -> Iterator[tuple[sa.Engine, Design]]:
    """A scratch database at the old version holding seeded rows, upgraded to the new one; yields
    it with the new version's design. The migration's round trip is checked first."""
    round_trip(old_path, new_path, engine, work / "round_trip")
    old, new = plan_file(old_path), plan_file(new_path)
    migration = write_migration(old, new, old_path, new_path, work / "migrations")
    before, after = migration.versions.designs[engine]
    with scratch_database(resolve_url(engine)) as database:
        config = Config(str(work / "migrations" / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", database.url.render_as_string(hide_password=False).replace("%", "%%"))
        command.upgrade(config, migration.added[0].id)
        data = generate(old.model, counts, seed=seed)
        with database.begin() as connection:
            load_rows(connection, before.rendered.metadata, table_rows(list(before.tables.values()), data, engine))
        command.upgrade(config, "head")
        yield database, after


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_upgrade_backfills_and_the_triggers_follow_then_downgrade(engine: str, tmp_path: Path) -> None:
    """Old rows are backfilled by the upgrade, a child written afterwards moves its parent, and the
    round trip (upgrade, downgrade, upgrade) keeps every row (tests/test_migrate_engines.round_trip)."""
    old_path, new_path = MIGRATE_INPUTS / "kept_v1.yaml", MIGRATE_INPUTS / "kept_v2.yaml"
    counts = {"Post": 6, "Comment": 40}
    with (
        upgraded(old_path, new_path, engine, tmp_path, counts, seed=3) as (database, _),
        database.begin() as connection,
    ):
        counted: dict[Any, int] = dict(connection.execute(sa.text("SELECT id, comments FROM post")).all())
        grouped = sa.text("SELECT post_id, COUNT(*) FROM comment GROUP BY post_id")
        expected: dict[Any, int] = dict(connection.execute(grouped).all())
        assert {k: v for k, v in counted.items() if v} == expected and sum(counted.values()) == 40
        post = next(iter(expected))
        connection.execute(sa.text("DELETE FROM comment WHERE post_id = :p"), {"p": post})
        assert connection.execute(sa.text("SELECT comments FROM post WHERE id = :p"), {"p": post}).scalar_one() == 0


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_a_parent_rebuilt_later_keeps_its_triggers_working(engine: str, tmp_path: Path) -> None:
    """A rename of the parent's column (SQLite rebuilds the table that the child's triggers name)
    round-trips with the triggers in place."""
    round_trip(MIGRATE_INPUTS / "kept_v2.yaml", MIGRATE_INPUTS / "kept_v3.yaml", engine, tmp_path)


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_a_child_rebuilt_later_gets_its_triggers_back(engine: str, tmp_path: Path) -> None:
    """A rename of the child's column: SQLite rebuilds the table the triggers live on, and its
    rebuild re-creates them; on every engine a comment written after the upgrade moves its post."""
    old_path, new_path = MIGRATE_INPUTS / "kept_v2.yaml", MIGRATE_INPUTS / "kept_v4.yaml"
    with upgraded(old_path, new_path, engine, tmp_path, {"Post": 4, "Comment": 12}, seed=5) as (database, after):
        posts, comments = after.table("post"), after.table("comment")
        with database.begin() as connection:
            post = connection.execute(sa.select(posts).order_by(posts.c.id)).mappings().first()
            assert post is not None
            connection.execute(
                sa.insert(comments).values(
                    id=uuid.uuid4(), post_id=post["id"], text="x", votes=3, created_at=datetime(2030, 1, 1)
                )
            )
            moved = connection.execute(sa.select(posts).where(posts.c.id == post["id"])).mappings().one()
            assert (moved["comments"], moved["votes"]) == (post["comments"] + 1, post["votes"] + 3)
