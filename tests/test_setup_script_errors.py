"""Every generated setup.py reports a server it cannot reach in one line and exits 1, never a traceback.

The scripts run as a user runs them (a subprocess in the emitted folder); the URLs name a port
nothing listens on, so no server is needed.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import polyplan

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _closed_port() -> int:
    """A local port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _emit(scenario: str, folder: Path, search: str | None = None) -> Path:
    """Write the scenario's rendered files into `folder` (the engines' own folders hold setup.py)."""
    model = yaml.safe_load((SCENARIOS / scenario).read_text(encoding="utf-8"))
    if search:
        model.setdefault("engines", {})["search"] = search
    files, _ = polyplan.render(polyplan.plan(polyplan.load(text=yaml.safe_dump(model), source=scenario)))
    for path, text in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return folder


CASES = [
    ("shop.yaml", None, "redis", ["redis://127.0.0.1:{port}/0"]),
    ("shop.yaml", None, "redis", ["http://not-a-redis-url"]),
    ("shop.yaml", None, "elasticsearch", ["--url", "http://127.0.0.1:{port}"]),
    ("shop.yaml", "opensearch", "opensearch", ["--url", "http://127.0.0.1:{port}"]),
    ("saas.yaml", None, "mongodb", ["mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=500"]),
]


@pytest.mark.parametrize(
    ("scenario", "search", "store", "arguments"), CASES, ids=[f"{c[2]}-{c[3][-1][:12]}" for c in CASES]
)
def test_an_unreachable_server_is_one_line_and_exit_1(
    scenario: str, search: str | None, store: str, arguments: list[str], tmp_path: Path
) -> None:
    folder = _emit(scenario, tmp_path, search)
    script = folder / store / "setup.py"
    assert script.is_file(), sorted(p.name for p in folder.iterdir())
    port = _closed_port()
    argv = [argument.format(port=port) for argument in arguments]
    done = subprocess.run(
        [sys.executable, str(script), *argv], capture_output=True, text=True, timeout=120, cwd=folder, check=False
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    url = next(argument for argument in argv if "://" in argument)
    assert lines[0].startswith(f"{url}: "), lines[0]


HELP_CASES = [
    ("shop.yaml", None, "redis"),
    ("shop.yaml", None, "elasticsearch"),
    ("shop.yaml", "opensearch", "opensearch"),
]
HELP_CASES.append(("saas.yaml", None, "mongodb"))


@pytest.mark.parametrize(("scenario", "search", "store"), HELP_CASES, ids=[c[2] for c in HELP_CASES])
def test_help_prints_the_usage_and_never_connects(
    scenario: str, search: str | None, store: str, tmp_path: Path
) -> None:
    """`setup.py --help` is argparse's usage, exit 0, at once: never a host name to connect to
    (the MongoDB script used to take `--help` for one and wait 30 s for its server)."""
    folder = _emit(scenario, tmp_path, search)
    done = subprocess.run(
        [sys.executable, str(folder / store / "setup.py"), "--help"], capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 0 and done.stdout.startswith("usage: setup.py"), done.stdout + done.stderr
    assert done.stderr == ""
