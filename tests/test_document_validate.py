"""`polyplan validate --engine mongodb` on bad input: one line naming the engine and the URL, exit 1.

No MongoDB needed: the URLs lead nowhere, or to a socket of ours that accepts and never answers
(it passes a TCP check, so the generated tests themselves must say what is wrong, once).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_document_design import doc_plan
from tests.test_document_mongodb import write_folder

UNREACHABLE = "mongodb://127.0.0.1:1"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_folder(doc_plan(), tmp_path_factory.mktemp("validate") / "doctest")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:  # closed: the test is over
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for connection in held:
            connection.close()


def validate(folder: Path, url: str) -> tuple[int, str, float]:
    """Exit code, stdout + stderr and seconds of `polyplan validate FOLDER --engine mongodb --url URL`."""
    env = {k: v for k, v in os.environ.items() if k != "POLYPLAN_MONGODB_URL"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "polyplan", "validate", str(folder), "--engine", "mongodb", "--url", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def one_line_naming(output: str, url: str) -> str:
    """The single line that names `url`, with no traceback anywhere."""
    assert "Traceback" not in output, output
    naming = [line for line in output.splitlines() if url in line]
    assert len(naming) == 1, output
    assert "mongodb" in naming[0].replace(url, ""), naming[0]
    return naming[0]


def test_an_unreachable_server_is_one_line_naming_engine_and_url(folder: Path) -> None:
    code, output, elapsed = validate(folder, UNREACHABLE)
    assert code == 1, output
    assert "Connection refused" in one_line_naming(output, UNREACHABLE)
    assert elapsed < 60, f"took {elapsed:.0f} s"


def test_a_server_that_never_answers_is_one_line(folder: Path, silent_port: int) -> None:
    """TCP accepts but no MongoDB answers: validate's URL check stops the run once, after 5 s."""
    url = f"mongodb://127.0.0.1:{silent_port}"
    code, output, elapsed = validate(folder, url)
    assert code == 1, output
    line = one_line_naming(output, url)
    assert f"mongodb at {url} is not reachable: no MongoDB server answered within 5 s" in line, line
    assert "error" not in output.lower().replace("no tests ran", ""), output  # no per-test errors
    assert elapsed < 60, f"took {elapsed:.0f} s"


def test_a_url_that_is_not_mongodb_is_one_line(folder: Path, silent_port: int) -> None:
    url = f"http://127.0.0.1:{silent_port}"
    code, output, _ = validate(folder, url)
    assert code == 2, output  # a usage error: refused before anything connects
    assert "--url is a 'http:' URL, but --engine is mongodb (expected mongodb://)" in output, output


def test_a_password_in_the_url_is_not_shown(folder: Path, silent_port: int) -> None:
    url = f"mongodb://polyplan:s3cret@127.0.0.1:{silent_port}/?serverSelectionTimeoutMS=500"
    code, output, _ = validate(folder, url)
    assert code == 1, output
    assert "s3cret" not in output and f"polyplan:***@127.0.0.1:{silent_port}" in output, output
