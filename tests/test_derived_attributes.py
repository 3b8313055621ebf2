"""Derived attributes (issue 12: "derived attributes (count/sum/max of a relationship's children,
kept in step on write)"): the model checks, the seed values, the relational triggers proven on
the real engines, and the coded warnings where no store can keep one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from polyplan.diagnostics import Diagnostic
from polyplan.model.derived import key_of
from polyplan.pipeline import plan_text, render, write_plan
from polyplan.seed.generate import generate
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation

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


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("sqlite"),
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ],
)
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
