"""Your own target profiles (issue 13): `--targets DIR` / `polyplan.plan(model, targets=DIR)` overlay
the bundled profiles, every figure planned from them follows, and a bad profile is one line each,
exit 2, nothing written."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import polyplan
from polyplan.analyse.capabilities import BUNDLED_TARGETS, load_capabilities, load_targets
from polyplan.diagnostics import DiagnosticError
from polyplan.pipeline import plan_file, render

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "scenarios" / "shop.yaml"
SAAS = ROOT / "scenarios" / "saas.yaml"
# Every command that plans a model takes --targets (validate runs a written folder: it plans nothing).
PLANNING_COMMANDS = ["plan", "explain", "capacity", "diagram", "scaffold", "seed", "status", "tune", "diff", "migrate"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("POLYPLAN_DEBUG", "FORCE_COLOR")}
    env.update(NO_COLOR="1", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "polyplan", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def edited(folder: Path, engine: str, changes: dict[str, str]) -> Path:
    """A copy of the bundled `engine` profile in `folder` with each `key: value` line replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (BUNDLED_TARGETS / f"{engine}.yaml").read_text(encoding="utf-8")
    for key, value in changes.items():
        text, count = re.subn(rf"^(\s*){key}: [^#\n]*", rf"\g<1>{key}: {value} ", text, count=1, flags=re.M)
        assert count == 1, key
    (folder / f"{engine}.yaml").write_text(text, encoding="utf-8")
    return folder


def stores(plan_json: str) -> dict[str, dict[str, object]]:
    return {s["store"]: s for s in json.loads(plan_json)["capacity"]["stores"]}


def test_without_a_folder_the_plan_carries_the_bundled_profiles() -> None:
    plan = plan_file(SHOP)
    assert dict(plan.capabilities) == load_capabilities()
    assert plan.sizing("postgresql")["page_bytes"] == 8192


def test_a_smaller_node_and_another_fill_factor_change_the_capacity_figures(tmp_path: Path) -> None:
    folder = edited(tmp_path / "mine", "postgresql", {"storage_bytes": "1.0e9", "heap_fill": "0.5"})
    bundled_files, _ = render(plan_file(SHOP))
    mine = polyplan.plan(SHOP, targets=folder)
    assert mine.capability("postgresql").node.storage_bytes == 1.0e9  # type: ignore[union-attr]
    assert mine.capability("redis") == load_capabilities()["redis"]  # the other engines stay bundled
    files, _ = polyplan.render(mine)
    before, after = stores(bundled_files["plan.json"]), stores(files["plan.json"])
    pg = "relational (postgresql)"
    # Half-full heap pages: the same rows take more bytes; a 1 GB node: many more nodes.
    assert after[pg]["years"][-1]["data_bytes"] > 1.5 * before[pg]["years"][-1]["data_bytes"]  # type: ignore[index]
    assert after[pg]["years"][-1]["nodes"] > before[pg]["years"][-1]["nodes"]  # type: ignore[index]
    assert files["capacity.md"] != bundled_files["capacity.md"]
    # Stores the profile does not touch keep their figures.
    assert after["cache (redis)"] == before["cache (redis)"]


def test_a_redis_constant_changes_the_key_sizes_and_the_assumed_settings(tmp_path: Path) -> None:
    folder = edited(tmp_path / "mine", "redis", {"hash_max_listpack_entries": "16", "dict_entry": "48"})
    bundled = json.loads(render(plan_file(SHOP))[0]["redis/keys.json"])
    mine = json.loads(render(polyplan.plan(SHOP, targets=folder))[0]["redis/keys.json"])
    assert mine["assumes"]["hash-max-listpack-entries"] == 16 != bundled["assumes"]["hash-max-listpack-entries"]
    assert sum(k["memory"]["total_bytes"] for k in mine["keys"]) > sum(
        k["memory"]["total_bytes"] for k in bundled["keys"]
    )


def test_sharding_reads_the_plans_profile() -> None:
    # A smaller node in a user's profile also moves entities away from MongoDB at scoring time, so
    # the same plan is given a smaller MongoDB node after the fact: the shard decision weighs that node.
    from polyplan.stores.document import Target

    plan = plan_file(SAAS)
    bundled = Target().emit(plan).files["mongodb/design.md"]
    small = plan.capabilities["mongodb"].model_copy(update={"comfortable_bytes_per_node": 1.0e11})
    smaller = dataclasses.replace(plan, capabilities={**plan.capabilities, "mongodb": small})
    mine = Target().emit(smaller).files["mongodb/design.md"]
    assert "comfortable 2,000.0 GB" in bundled and "comfortable 2,000.0 GB" not in mine
    assert "comfortable 100.0 GB" in mine


def test_a_profile_adds_an_engine(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    text = (BUNDLED_TARGETS / "postgresql.yaml").read_text(encoding="utf-8")
    (folder / "pgfork.yaml").write_text(text.replace("engine: postgresql", "engine: pgfork"), encoding="utf-8")
    found = load_targets(folder)
    assert set(found) == {*load_capabilities(), "pgfork"}


def test_the_cli_plans_with_the_folder(tmp_path: Path) -> None:
    folder = edited(tmp_path / "mine", "postgresql", {"storage_bytes": "1.0e9"})
    done = cli("-q", "plan", str(SHOP), "--out", str(tmp_path / "out"), "--targets", str(folder))
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    pg = next(s for s in written["capacity"]["stores"] if s["store"] == "relational (postgresql)")
    bundled = stores(render(plan_file(SHOP))[0]["plan.json"])["relational (postgresql)"]
    assert pg["years"][-1]["nodes"] > bundled["years"][-1]["nodes"]  # type: ignore[index]
    capacity = cli("capacity", str(SHOP), "--json", "--targets", str(folder))
    assert capacity.returncode == 0, capacity.stderr
    nodes = {s["store"]: s["years"][-1]["nodes"] for s in json.loads(capacity.stdout)["stores"]}
    assert nodes["relational (postgresql)"] == pg["years"][-1]["nodes"] > 1


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("postgresql.yaml", None, r"postgresql\.yaml:7:12: max_nodes: Input should be a valid integer.* \[PP619\]$"),
        ("broken.yaml", "engine: [x\n", r"broken\.yaml:2:1: YAML syntax error: .* \[PP618\]$"),
        ("list.yaml", "- engine\n", r"list\.yaml:1:1: a target profile must be a mapping.* \[PP618\]$"),
    ],
)
def test_a_bad_profile_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, name: str, text: str | None, expected: str
) -> None:
    folder = tmp_path / "bad"
    if text is None:
        edited(folder, "postgresql", {"max_nodes": "many"})
    else:
        folder.mkdir()
        (folder / name).write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    done = cli("plan", str(SHOP), "--out", str(out), "--targets", str(folder))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert re.search(expected, lines[0]) and lines[0].startswith(str(folder / name)), lines[0]
    assert not out.exists()


def test_a_profile_missing_sizing_constants_names_them(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    text = (BUNDLED_TARGETS / "sqlite.yaml").read_text(encoding="utf-8")
    (folder / "sqlite.yaml").write_text(re.sub(r"^  page_bytes:.*\n", "", text, flags=re.M), encoding="utf-8")
    with pytest.raises(DiagnosticError) as raised:
        load_targets(folder)
    [problem] = raised.value.diagnostics
    assert problem.code == "PP619" and "missing: page_bytes" in problem.message and problem.path == "sizing"


def test_two_profiles_of_one_engine_and_an_empty_folder_are_refused(tmp_path: Path) -> None:
    folder = edited(tmp_path / "twice", "redis", {})
    (folder / "redis2.yaml").write_text((folder / "redis.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(DiagnosticError) as raised:
        load_targets(folder)
    assert [d.code for d in raised.value.diagnostics] == ["PP619"]
    assert "second profile for engine 'redis'" in raised.value.diagnostics[0].message
    (tmp_path / "empty").mkdir()
    with pytest.raises(DiagnosticError) as empty:
        load_targets(tmp_path / "empty")
    assert empty.value.diagnostics[0].code == "PP618"


@pytest.mark.parametrize("command", PLANNING_COMMANDS)
def test_every_planning_command_takes_the_folder(command: str) -> None:
    done = cli(command, "--help")
    assert done.returncode == 0 and "--targets" in done.stdout, done.stdout
