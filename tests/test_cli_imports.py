"""`polyplan --help` and the planning commands load no test framework and no store driver (issue 7)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pytest", "testcontainers", "sqlalchemy", "pymongo", "redis", "cassandra", "elasticsearch", "opensearchpy")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_cli_loads_nothing_heavy_for_help() -> None:
    loaded = loaded_after("import sys; sys.argv = ['polyplan', '--help']\nimport polyplan.cli")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_help_loads_no_network_stack() -> None:
    # urllib.request (http.client, email, ssl) is only for validate's search-engine handshake.
    loaded = loaded_after("import sys; sys.argv = ['polyplan', '--help']\nimport polyplan.cli")
    assert "polyplan" in loaded
    assert not loaded & {"http", "email", "ssl"}, sorted(loaded & {"http", "email", "ssl"})


def test_planning_loads_no_driver_and_no_test_framework() -> None:
    code = "from polyplan.pipeline import plan_file, render\nrender(plan_file('scenarios/iot.yaml'))"
    loaded = loaded_after(code)
    # The wide-column target quotes CQL names by the driver's rule without importing the driver
    # (tests/test_cli_install.py checks they agree), so cassandra-driver stays an extra.
    assert "polyplan" in loaded and "sqlalchemy" in loaded  # the probe really planned
    assert not loaded & {"pytest", "testcontainers", "pymongo", "redis", "elasticsearch", "opensearchpy", "cassandra"}
