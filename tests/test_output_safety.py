"""A user's files are sacred: `polyplan plan --out` replaces only what polyplan wrote (issue 7).

Every case runs the real command line in a subprocess, in a folder of its own, and then checks
that the user's files are still there byte for byte.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polyplan.emit.writer import MANIFEST, OutputRefused, write_tree

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "scenarios" / "shop.yaml"


def run_plan(cwd: Path, model: Path | str, out: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("POLYPLAN_DEBUG", "FORCE_COLOR")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "polyplan", "plan", str(model), "--out", out, *extra],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A user's project folder: the model and a file of their own."""
    (tmp_path / "model.yaml").write_bytes(SHOP.read_bytes())
    (tmp_path / "notes.txt").write_text("my notes\n")
    return tmp_path


def assert_refused(done: subprocess.CompletedProcess[str], code: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"[{code}]" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("out", [".", "..", "./", "sub/.."])
def test_the_current_folder_and_its_parents_are_never_replaced(workdir: Path, out: str) -> None:
    (workdir / "sub").mkdir()
    before = snapshot(workdir.parent)
    done = run_plan(workdir, "model.yaml", out, "--force")
    assert_refused(done, "PP602")
    assert snapshot(workdir.parent) == before


def test_the_models_folder_is_never_replaced(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("cwd")
    before = snapshot(workdir)
    done = run_plan(elsewhere, workdir / "model.yaml", str(workdir), "--force")
    assert_refused(done, "PP602")
    assert snapshot(workdir) == before


def test_a_folder_of_the_users_is_refused_and_force_replaces_it(workdir: Path) -> None:
    mine = workdir / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work\n")
    done = run_plan(workdir, "model.yaml", "mine")
    assert_refused(done, "PP601")
    assert (mine / "thesis.tex").read_text() == "years of work\n"
    forced = run_plan(workdir, "model.yaml", "mine", "--force")
    assert forced.returncode == 0, forced.stderr
    assert not (mine / "thesis.tex").exists() and (mine / "plan.json").is_file()


def test_a_previous_plan_is_replaced_but_not_when_it_holds_a_users_file(workdir: Path) -> None:
    assert run_plan(workdir, "model.yaml", "out").returncode == 0
    assert run_plan(workdir, "model.yaml", "out").returncode == 0  # replacing its own output is fine
    (workdir / "out" / "todo.md").write_text("mine\n")
    done = run_plan(workdir, "model.yaml", "out")
    assert_refused(done, "PP601")
    assert "todo.md" in done.stderr
    assert (workdir / "out" / "todo.md").read_text() == "mine\n"


def test_an_edited_generated_file_counts_as_the_users(workdir: Path) -> None:
    assert run_plan(workdir, "model.yaml", "out").returncode == 0
    (workdir / "out" / "plan.md").write_text("my edits\n")
    done = run_plan(workdir, "model.yaml", "out")
    assert_refused(done, "PP601")
    assert "plan.md (edited since polyplan wrote it)" in done.stderr
    assert (workdir / "out" / "plan.md").read_text() == "my edits\n"


def test_running_the_generated_tests_leaves_nothing_that_blocks_a_new_plan(workdir: Path) -> None:
    assert run_plan(workdir, "model.yaml", "out").returncode == 0
    cache = workdir / "out" / "tests" / "__pycache__"
    cache.mkdir()
    (cache / "test_sqlite.cpython-311.pyc").write_bytes(b"\0")
    assert run_plan(workdir, "model.yaml", "out").returncode == 0


def test_a_file_is_never_replaced(workdir: Path) -> None:
    done = run_plan(workdir, "model.yaml", "notes.txt", "--force")
    assert_refused(done, "PP602")
    assert (workdir / "notes.txt").read_text() == "my notes\n"


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_a_symlink_is_never_followed(workdir: Path, tmp_path_factory: pytest.TempPathFactory, kind: str) -> None:
    target_root = tmp_path_factory.mktemp("target")
    target = target_root / "precious"
    if kind == "folder":
        target.mkdir()
        (target / "data.txt").write_text("keep\n")
    else:
        target.write_text("keep\n")
    (workdir / "link").symlink_to(target)
    before = snapshot(target_root)
    done = run_plan(workdir, "model.yaml", "link", "--force")
    assert_refused(done, "PP602")
    assert snapshot(target_root) == before
    assert (workdir / "link").is_symlink()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions: the read-only case cannot happen")
def test_a_read_only_folder_is_a_clean_error(workdir: Path) -> None:
    locked = workdir / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        done = run_plan(workdir, "model.yaml", "locked/out")
        assert_refused(done, "PP603")
    finally:
        locked.chmod(0o755)


def test_a_read_only_parent_is_a_clean_error_in_the_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root ignores permissions, so the OS refusal is simulated where the writer asks for its staging folder."""

    def refuse(*_: object, **__: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkdtemp", refuse)
    with pytest.raises(OutputRefused) as refused:
        write_tree({"a.txt": "x"}, tmp_path / "out")
    assert refused.value.code == "PP603" and "Permission denied" in refused.value.message
    assert not (tmp_path / "out").exists()


def test_the_manifest_lists_every_file_with_its_hash_and_the_models(workdir: Path) -> None:
    assert run_plan(workdir, "model.yaml", "out").returncode == 0
    manifest = json.loads((workdir / "out" / MANIFEST).read_text())
    files = {p for p in snapshot(workdir / "out") if p != MANIFEST}
    assert set(manifest["files"]) == files
    assert manifest["model"] == "shop" and len(manifest["model_sha256"]) == 64


def test_a_plan_killed_half_way_leaves_the_old_plan_or_the_new_one(workdir: Path) -> None:
    """kill -9 at many points of a write; after each, the folder is whole and the next plan succeeds."""
    assert run_plan(workdir, "model.yaml", "out").returncode == 0
    original = snapshot(workdir / "out")
    (workdir / "model.yaml").write_text(SHOP.read_text().replace("name: shop", "name: shop_two", 1))
    env = {k: v for k, v in os.environ.items() if k != "POLYPLAN_DEBUG"}
    command = [sys.executable, "-m", "polyplan", "plan", "model.yaml", "--out", "out"]
    for delay in (0.3, 0.8, 1.2, 1.6, 2.0, 2.5, 3.0):
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        out = workdir / "out"
        if out.exists():
            now = snapshot(out)
            manifest = json.loads(now[MANIFEST])
            assert manifest["model"] in ("shop", "shop_two")
            assert set(now) - {MANIFEST} == set(manifest["files"])  # whole: every listed file, nothing else
    # The next run recovers whatever was parked and cleans up every hidden sibling.
    assert run_plan(workdir, "model.yaml", "out").returncode == 0
    assert json.loads((workdir / "out" / MANIFEST).read_text())["model"] == "shop_two"
    assert sorted(p.name for p in workdir.iterdir()) == ["model.yaml", "notes.txt", "out"]
    assert original  # the first plan existed


def test_a_write_killed_between_the_two_renames_is_undone_by_the_next(tmp_path: Path) -> None:
    """Simulate the worst moment: the old folder parked, the new one not yet in place."""
    out = tmp_path / "out"
    write_tree({"a.txt": "old"}, out)
    parked = tmp_path / ".out.polyplan-previous-x1"
    parked.mkdir()
    os.replace(out, parked / "previous")
    staging = tmp_path / ".out.polyplan-staging-x2"
    staging.mkdir()
    (staging / "half.txt").write_text("half")
    write_tree({"b.txt": "new"}, out)  # recovers the parked plan first, then replaces it as usual
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
