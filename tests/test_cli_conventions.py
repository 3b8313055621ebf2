"""CLI conventions (issue 13): --version, -v/-q through logging, shell completion, --json on
explain / plan / validate / lint / status, validate --junit-xml, one line for a missing or wrong server URL, and
`explain` finding an entity whatever its letter case."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

import pytest

from polyplan.emit.writer import write_tree
from polyplan.model.loader import load_text
from polyplan.pipeline import plan_file, render
from polyplan.plan.assign import build_plan
from polyplan.validate.runner import run_validation
from tests.test_validate_runner import TINY  # one note, its title unique: the smallest plan

ROOT = Path(__file__).resolve().parent.parent
SHOP = "scenarios/shop.yaml"


def polyplan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m polyplan ARGS`, colourless and wide, with no store URL unless `env` gives one."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLYPLAN_") and k != "FORCE_COLOR"}
    clean.update({"NO_COLOR": "1", "COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "polyplan", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files, _ = render(build_plan(load_text(TINY, "tiny.yaml")))
    out = tmp_path_factory.mktemp("tiny")
    write_tree(files, out)
    return out


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop plan, for the URL checks (they stop before any of its tests runs)."""
    files, _ = render(plan_file(ROOT / SHOP))
    out = tmp_path_factory.mktemp("shop")
    write_tree(files, out)
    return out


def test_version() -> None:
    done = polyplan("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"polyplan {version('polyplan')}"


@pytest.mark.parametrize(
    ("flag", "env"),
    [(("--no-color",), {"NO_COLOR": ""}), ((), {"NO_COLOR": "1"})],
    ids=["flag", "environment"],
)
def test_no_color_prints_plain_text(flag: tuple[str, ...], env: dict[str, str]) -> None:
    """`--no-color` (or NO_COLOR) on a terminal that takes colour (FORCE_COLOR): no escape
    sequence at all, neither colours nor bold or italics, in a table, a summary or an error."""
    forced = {"FORCE_COLOR": "1", **env}
    styled = polyplan("explain", SHOP, "Product", env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert "\x1b[" in styled.stdout, "FORCE_COLOR gives no styles here: the check below would prove nothing"
    table = polyplan(*flag, "explain", SHOP, "Product", env=forced)
    unknown = polyplan(*flag, "explain", SHOP, "Produkt", env=forced)
    assert table.returncode == 0 and "Product" in table.stdout
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    for output in (table.stdout, table.stderr, unknown.stdout, unknown.stderr):
        assert "\x1b[" not in output


def test_shell_completion_is_offered() -> None:
    done = polyplan("--help")
    assert "--install-completion" in done.stdout and "--show-completion" in done.stdout


def test_verbose_logs_each_stage_and_quiet_prints_only_errors(tmp_path: Path) -> None:
    loud = polyplan("-vv", "plan", SHOP, "--out", str(tmp_path / "loud"))
    assert loud.returncode == 0
    assert "planned shop: 7 entities" in loud.stderr and "wrote " in loud.stderr  # INFO
    assert "relational target:" in loud.stderr  # DEBUG
    quiet = polyplan("-q", "plan", SHOP, "--out", str(tmp_path / "quiet"))
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    assert (tmp_path / "quiet" / "plan.json").is_file()
    normal = polyplan("plan", SHOP, "--out", str(tmp_path / "normal"))
    assert "[PP403]" in normal.stderr and "INFO" not in normal.stderr and "Customer" in normal.stdout


def test_plan_json_summary(tmp_path: Path) -> None:
    done = polyplan("plan", SHOP, "--out", str(tmp_path / "out"), "--json")
    body = json.loads(done.stdout)
    expected = plan_file(ROOT / SHOP)
    assert body["model"] == "shop" and [e["name"] for e in body["entities"]] == list(expected.entities)
    product = next(e for e in body["entities"] if e["name"] == "Product")
    assert product["system_of_record"] == {"family": "relational", "engine": "postgresql"}
    assert {p["family"] for p in product["projections"]} == {
        p.family.value for p in expected.entities["Product"].projections
    }
    assert any(d["code"] == "PP403" for d in body["diagnostics"])


def test_explain_json_and_any_letter_case() -> None:
    done = polyplan("explain", SHOP, "product", "--json")
    assert done.returncode == 0, done.stderr
    (entity,) = json.loads(done.stdout)["entities"]
    assert entity["name"] == "Product" and entity["system_of_record"]["family"] == "relational"
    assert set(entity["scores"]) == {"relational", "document", "cache", "search", "wide_column"}
    table = polyplan("explain", SHOP, "PRODUCT")
    assert table.returncode == 0 and "Product → relational (postgresql)" in table.stdout


def test_explain_suggests_the_closest_entity() -> None:
    done = polyplan("explain", SHOP, "prodcut")
    assert done.returncode == 2
    assert done.stderr.strip() == "ENTITY: unknown entity 'prodcut'; did you mean 'Product'? [PP201]"


def test_validate_json_and_junit_xml(tiny: Path, tmp_path: Path) -> None:
    report = tmp_path / "reports" / "junit.xml"
    report.parent.mkdir()
    done = polyplan("validate", str(tiny), "--engine", "sqlite", "--json", "--junit-xml", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    body = json.loads(done.stdout)
    assert body["exit_code"] == 0 and body["counts"]["failed"] == 0 and body["counts"]["error"] == 0
    assert body["counts"]["passed"] == len(body["tests"]) > 5
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and int(suite.get("tests", "0")) == len(body["tests"])
    assert {case.get("name") for case in suite.iter("testcase")} == {t["nodeid"].split("::")[-1] for t in body["tests"]}


def test_validate_prints_a_summary_not_dots(tiny: Path) -> None:
    done = polyplan("validate", str(tiny), "--engine", "sqlite")
    assert done.returncode == 0
    (line,) = done.stdout.strip().splitlines()
    assert " passed in " in line and "." * 5 not in done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        (None, 2, "no URL for postgresql: pass --url postgresql+psycopg://"),
        ("postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", 1, "is not reachable: 127.0.0.1:{port}"),
        ("mysql+pymysql://root@127.0.0.1:3306/test", 2, "--url is a mysql URL, but --engine is postgresql"),
        ("redis://127.0.0.1:6379/0", 2, "--url is a redis URL, but --engine is postgresql"),
    ],
)
def test_validate_without_a_usable_url_says_so_in_one_line(url: str | None, code: int, says: str, shop: Path) -> None:
    from polyplan import testkit

    if url is None and testkit.docker_available():
        pytest.skip("a Docker engine answers here: validate would start a container instead")
    port = str(free_port())
    args = ["validate", str(shop), "--engine", "postgresql"] + (["--url", url.format(port=port)] if url else [])
    done = polyplan(*args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code and len(lines) == 1, done.stderr
    assert says.format(port=port) in lines[0] and done.stdout == ""


def test_validate_against_a_server_that_is_not_the_engine_says_so_in_one_line(shop: Path) -> None:
    # Something listens on the port but does not speak PostgreSQL: it closes every connection.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def refuse() -> None:
            for _ in range(3):
                try:
                    connection, _ = server.accept()
                except OSError:
                    return
                connection.close()

        listener = threading.Thread(target=refuse, daemon=True)
        listener.start()
        done = polyplan(
            "validate", str(shop), "--engine", "postgresql", "--url", f"postgresql+psycopg://u@127.0.0.1:{port}/d"
        )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith(
        f"polyplan validate: postgresql at postgresql+psycopg://u@127.0.0.1:{port}/d is not reachable: "
    )


def test_validate_events_name_each_failure(tiny: Path, tmp_path: Path) -> None:
    # The events behind the progress bar and --json: the count first, then a verdict per test,
    # and a broken schema (its UNIQUE rule dropped) shows up as failures, not as a passing run.
    broken = tmp_path / "broken"
    shutil.copytree(tiny, broken)
    schema = broken / "relational" / "sqlite" / "schema.sql"
    text = schema.read_text(encoding="utf-8")
    assert "\tCONSTRAINT uq_note_title UNIQUE (title),\n" in text
    schema.write_text(text.replace("\tCONSTRAINT uq_note_title UNIQUE (title),\n", ""), encoding="utf-8")
    events: list[dict[str, object]] = []
    with (tmp_path / "pytest.txt").open("w+", encoding="utf-8") as output:
        code = run_validation(broken, "sqlite", trust_edits=True, output=output, events=events.append)
    assert code == 1
    total, *verdicts = events
    assert total == {"total": len(verdicts)}
    failed = [v for v in verdicts if v["outcome"] == "failed"]
    assert failed and all(str(v["nodeid"]).startswith("test_sqlite") for v in failed), verdicts
    assert all(v["message"] for v in failed), failed


def test_lint_json_lists_every_finding(tmp_path: Path) -> None:
    script = tmp_path / "change.sql"
    script.write_text("ALTER TABLE t ADD COLUMN c int NOT NULL;\nCREATE INDEX i ON t (c);\n", encoding="utf-8")
    done = polyplan("lint", str(script), "--json")
    body = json.loads(done.stdout)
    assert done.returncode == 1 and done.stderr == ""
    assert [(f["code"], f["line"]) for f in body["findings"]] == [("PP806", 1), ("PP803", 1), ("PP802", 2)]
    clean = tmp_path / "clean.sql"
    clean.write_text("SELECT 1;\n", encoding="utf-8")
    done = polyplan("lint", str(clean), "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["findings"] == []


def test_status_without_a_server_says_so_in_one_line() -> None:
    pytest.importorskip("alembic", reason="polyplan status needs the migrate extra")
    pytest.importorskip("psycopg", reason="a postgresql URL needs the postgresql extra")
    port = free_port()
    done = polyplan("status", SHOP, "--url", f"postgresql+psycopg://u:p@127.0.0.1:{port}/d", "--json")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1 and done.stdout == "", done.stderr
    assert lines[0].startswith("polyplan status: cannot reach the database: ")


def test_a_bug_exits_3_with_a_plain_message_and_debug_shows_the_traceback() -> None:
    """Exit code 3 (README): an exception polyplan did not expect is an internal error, not bad
    input. The planner is made to fail from inside (a bug stand-in) in a fresh interpreter."""
    script = (
        "import sys, polyplan.pipeline as p\n"
        "def broken(*a, **k): raise ZeroDivisionError('stand-in bug')\n"
        "p.plan_file = broken\n"
        "from polyplan.cli import main\n"
        f"sys.argv = ['polyplan', 'explain', {SHOP!r}]\n"
        "main()\n"
    )
    clean = {k: v for k, v in os.environ.items() if k != "POLYPLAN_DEBUG"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=clean, capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("polyplan: internal error: ZeroDivisionError: stand-in bug")
    assert "Traceback" not in done.stderr
    debug = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env={**clean, "POLYPLAN_DEBUG": "1"}, capture_output=True, text=True
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "stand-in bug" in debug.stderr


def test_pytest_m_engine_in_an_output_folder_selects_every_test_of_that_engine(shop: Path) -> None:
    """Every generated test carries its engine mark: `pytest -m postgresql` in the folder collects
    exactly the tests of test_postgresql*.py (collection only: nothing connects)."""

    def collected(*args: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *args],
            cwd=shop,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return [line for line in done.stdout.splitlines() if "::" in line]

    marked = collected("-m", "postgresql", "tests")
    files = sorted(str(p.relative_to(shop)) for p in (shop / "tests").glob("test_postgresql*.py"))
    assert len(files) > 1 and marked == collected(*files)
    assert len(marked) > 50
