"""Same model, same bytes — in every process, whatever the hash seed (issue 7).

Planning twice in one process cannot see order that depends on string hashing (iteration over
sets, `min()` over a frozenset with ties): every process draws a new seed. So each bundled
scenario is planned in six processes with different PYTHONHASHSEED values, and every file's
bytes must agree. Half of them render with `jobs=2` and the relational worker forked for every
model however small, so the worker's output is held to the same bytes across processes too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SCENARIOS

SEEDS = ("0", "1", "2", "3", "42", "4242")
# The render jobs of each seed's process: the reference (seed 0) in one process.
JOBS = {"0": 1, "1": 2, "2": 1, "3": 2, "42": 1, "4242": 2}

# Prints {scenario: {path: sha256}} for every scenario named on the command line; with them the
# data the wide-column and search tests make from tests/data/model.json when they run.
_DIGESTS = """
import hashlib, json, sys
import polyplan.stores.relational
from polyplan.pipeline import plan_file, render
from polyplan.validate.store_data import MAKERS, MODEL_FILE, data_of
polyplan.stores.relational.FORK_MIN_TABLE_ENGINES = 0  # with jobs 2, every scenario forks
out = {}
jobs = int(sys.argv[1])
for path in sys.argv[2:]:
    files, _ = render(plan_file(path), jobs)
    for engine in MAKERS:
        if f"tests/test_{engine}.py" in files:
            data = data_of(files[f"tests/data/{MODEL_FILE}"], engine)
            files[f"(made by the tests) {engine} data"] = json.dumps(data, sort_keys=True)
    out[path] = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(files.items())}
print(json.dumps(out))
"""


def digests(seed: str) -> dict[str, dict[str, str]]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", _DIGESTS, str(JOBS[seed]), *[str(s) for s in SCENARIOS]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, dict[str, str]] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def by_seed() -> dict[str, dict[str, dict[str, str]]]:
    return {seed: digests(seed) for seed in SEEDS}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_every_hash_seed_gives_the_same_files(scenario: Path, by_seed: dict[str, dict[str, dict[str, str]]]) -> None:
    reference = by_seed[SEEDS[0]][str(scenario)]
    for seed in SEEDS[1:]:
        other = by_seed[seed][str(scenario)]
        where = f"PYTHONHASHSEED={seed} (jobs={JOBS[seed]})"
        assert set(other) == set(reference), f"{where} writes other files"
        differing = sorted(name for name in reference if other[name] != reference[name])
        assert not differing, f"{where} changes {differing}"


# Prints {path: sha256} of the PNG capacity charts write_plan adds for each scenario.
_PNG_DIGESTS = """
import hashlib, json, sys
from polyplan.pipeline import plan_file, png_charts, render
out = {}
for path in sys.argv[1:]:
    plan = plan_file(path)
    charts, notice = png_charts(plan, render(plan)[0])
    assert not notice, notice
    out.update({f"{path}:{name}": hashlib.sha256(data).hexdigest() for name, data in sorted(charts.items())})
print(json.dumps(out))
"""


def test_png_charts_are_byte_identical_across_processes() -> None:
    """The PNG capacity charts (matplotlib, Agg, no Software metadata) have the same bytes in two
    processes with different hash seeds, and are real PNG files."""
    pytest.importorskip("matplotlib", reason="the PNG charts need the charts extra")
    scenarios = [str(ROOT / "scenarios" / "iot.yaml"), str(ROOT / "scenarios" / "shop.yaml")]
    runs = []
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _PNG_DIGESTS, *scenarios], capture_output=True, text=True, env=env, check=True
        )
        runs.append(json.loads(done.stdout))
    assert len(runs[0]) == 6, runs[0]  # size, reads and writes for each scenario
    assert runs[0] == runs[1]
    from polyplan.pipeline import plan_file, png_charts, render

    plan = plan_file(scenarios[0])
    charts, _ = png_charts(plan, render(plan)[0])
    for data in charts.values():
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and b"Software" not in data and b"tIME" not in data
