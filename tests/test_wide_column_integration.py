"""The generated Cassandra tests, run for real against a server (skipped when none is reachable).

Reaches Cassandra through POLYPLAN_CASSANDRA_URL, else a testcontainers container, else skips
naming the compose command (polyplan.testkit). Each plan's generated tests then run through
`polyplan validate`, which makes a skip inside them a failure. After each run no keyspace of
the run may be left on the server, also when a generated check fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyplan.emit.writer import write_tree
from polyplan.pipeline import plan_text, render
from polyplan.plan.ir import Plan
from polyplan.stores.wide_column import connect
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.conftest import SCENARIOS, planned
from tests.test_wide_column_design import OWN_MODELS
from tests.test_wide_column_golden import WIDE

PLANS = [(path.stem, None) for path in WIDE] + [(name, text) for name, text in sorted(OWN_MODELS.items())]
UNREACHABLE = "cassandra://127.0.0.1:1/datacenter1"


def _plan(name: str, text: str | None) -> Plan:
    return plan_text(text, f"{name}.yaml") if text else planned(next(p for p in SCENARIOS if p.stem == name))


def _write(tmp_path: Path, name: str, text: str | None) -> Path:
    files, _ = render(_plan(name, text))
    out = tmp_path / name
    write_tree(files, out)
    return out


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    """A session on the server the generated tests use, to look at what they leave behind."""
    cluster, session = connect.connect(resolve_url("cassandra"))
    yield session
    cluster.shutdown()


def _left(session: Any, out: Path) -> set[str]:
    """Test keyspaces (pp_…) on the server holding exactly this plan's tables: a run's leftovers."""
    tables = set(json.loads((out / "cassandra" / "design.json").read_text(encoding="utf-8"))["tables"])
    found: dict[str, set[str]] = {}
    for row in session.execute("SELECT keyspace_name, table_name FROM system_schema.tables"):
        if row["keyspace_name"].startswith("pp_"):
            found.setdefault(row["keyspace_name"], set()).add(row["table_name"])
    return {keyspace for keyspace, names in found.items() if names == tables}


@pytest.mark.cassandra
@pytest.mark.parametrize(("name", "text"), PLANS, ids=[name for name, _ in PLANS])
def test_generated_cassandra_tests_pass(tmp_path: Path, server: Any, name: str, text: str | None) -> None:
    url = resolve_url("cassandra")
    out = _write(tmp_path, name, text)
    before = _left(server, out)
    assert run_validation(out, "cassandra", url) == 0
    assert _left(server, out) <= before, "the run left its keyspace behind"


@pytest.mark.cassandra
def test_a_failing_run_still_drops_its_keyspace(tmp_path: Path, server: Any) -> None:
    # One expectation made wrong: the generated checks fail, and the keyspace must go all the same.
    out = _write(tmp_path, "wc_telemetry", OWN_MODELS["wc_telemetry"])
    # The data is made when the module is imported (polyplan.validate.store_data): changed right after.
    module = out / "tests" / "test_cassandra.py"
    line = 'DATA = store_data(HERE, "cassandra")'
    text = module.read_text(encoding="utf-8")
    assert line in text
    module.write_text(text.replace(line, line + '\nDATA["tables"]["device_by_id"]["rows"] += 1', 1), encoding="utf-8")
    before = _left(server, out)
    env = dict(os.environ, POLYPLAN_CASSANDRA_URL=resolve_url("cassandra"), POLYPLAN_REQUIRE="cassandra")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull, "test_cassandra.py"],
        cwd=out / "tests",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 1, result.stdout[-2000:]
    assert "test_valid_rows_accepted[device_by_id]" in result.stdout
    assert _left(server, out) <= before, "a failing run left its keyspace behind"


def _validate(out: Path, url: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "POLYPLAN_CASSANDRA_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "polyplan", "validate", str(out), "--engine", "cassandra", "--url", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def _one_line(code: int, output: str, url: str) -> str:
    """Exit 1, no traceback, and exactly one line that names the engine and the URL."""
    assert code == 1, output
    assert "Traceback" not in output, output
    naming = [line for line in output.splitlines() if url in line]
    assert len(naming) == 1 and "cassandra" in naming[0], output
    return naming[0]


def test_an_unreachable_server_is_one_line_naming_engine_and_url(tmp_path: Path) -> None:
    out = _write(tmp_path, "wc_social", OWN_MODELS["wc_social"])
    line = _one_line(*_validate(out, UNREACHABLE), UNREACHABLE)
    assert "Connection refused" in line


@pytest.mark.cassandra
def test_a_wrong_data_center_is_one_line_naming_engine_and_url(tmp_path: Path, server: Any) -> None:
    # The port answers, so only the generated tests can tell: they stop the run with one line.
    url = resolve_url("cassandra").rsplit("/", 1)[0] + "/no_such_dc"
    out = _write(tmp_path, "wc_social", OWN_MODELS["wc_social"])
    line = _one_line(*_validate(out, url), url)
    assert "no node in data center 'no_such_dc'" in line
