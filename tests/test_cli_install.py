"""The light install (issue 13): planning needs no store driver and no test framework; a command
that needs an extra names it in one line.

A missing package is simulated in a subprocess by a `sitecustomize` meta-path finder that refuses
the modules, the way an interpreter without them would answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from cassandra import metadata as cassandra_metadata
from cassandra.encoder import cql_quote
from packaging.requirements import Requirement

from polyplan.extras import DRIVER_OF_ENGINE, EXTRA_OF_MODULE
from polyplan.stores.wide_column import cql
from polyplan.stores.wide_column.keywords import CQL_KEYWORDS, CQL_KEYWORDS_UNRESERVED

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SHOP = "scenarios/shop.yaml"
# mimesis: the real-looking names, emails and countries of the test data, built at plan time.
# jinja2, markdown-it-py and graphviz (pure Python) write the HTML report and erd.dot.
CORE = {
    "pydantic",
    "sqlalchemy",
    "typer",
    "rich",
    "pyyaml",
    "mimesis",
    "jinja2",
    "markdown-it-py",
    "graphviz",
}
# Everything an extra brings, pymongo and its `bson` included: polyplan writes the MongoDB artifacts
# (Extended JSON, Decimal128, BSON sizes) itself, so planning needs no driver.
OPTIONAL = sorted({*EXTRA_OF_MODULE} | {"psycopg2", "elastic_transport", "_pytest"})
DRIVERS = ("pymongo", "bson")

BLOCKER = """
import sys
from importlib.abc import MetaPathFinder

BLOCKED = frozenset({blocked!r})


class Refuse(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, Refuse())
"""


def without(blocked: list[str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m polyplan ARGS` in an interpreter where the `blocked` modules cannot be imported."""
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(BLOCKER.format(blocked=sorted(blocked)), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key not in ("POLYPLAN_DEBUG", "FORCE_COLOR")}
    env.update(PYTHONPATH=str(hook), NO_COLOR="1", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "polyplan", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def test_the_core_install_holds_no_driver_and_no_test_framework() -> None:
    core = [Requirement(line) for line in PYPROJECT["project"]["dependencies"]]
    assert {r.name.lower() for r in core} == CORE
    # No MongoDB driver sneaks back in, directly or as `bson` (PyPI's own, unrelated package).
    assert not {r.name.lower() for r in core} & {*DRIVERS, "motor"}
    assert {"pymongo", "bson"} <= set(OPTIONAL)
    sqlalchemy = next(r for r in core if r.name.lower() == "sqlalchemy")
    # A range over the 2.x minors, not a pin to one: applications keep their own minor.
    assert sqlalchemy.specifier.contains("2.1.0") and sqlalchemy.specifier.contains("2.5.0")
    # mimesis is pinned to one minor release: its data tables are part of the seeded values.
    mimesis = next(r for r in core if r.name.lower() == "mimesis")
    assert mimesis.specifier.contains("22.2.9") and not mimesis.specifier.contains("22.3.0")
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {
        "postgresql",
        "mysql",
        "redis",
        "mongodb",
        "cassandra",
        "search",
        "validate",
        "migrate",
        "charts",
        "all",
        "test",
    } <= set(extras)
    assert set(EXTRA_OF_MODULE.values()) <= set(extras)
    # `pip install -e '.[test]'` (README, .ci/run) still installs everything the suite needs.
    assert "polyplan[all]" in extras["test"] and "polyplan[validate,migrate,charts]" in extras["all"]


@pytest.mark.parametrize("scenario", ["iot", "saas", "shop"])  # wide-column, document+search+cache, relational
def test_plan_and_explain_work_with_every_driver_and_test_framework_missing(tmp_path: Path, scenario: str) -> None:
    out = tmp_path / "out"
    done = without(OPTIONAL, tmp_path, "plan", f"scenarios/{scenario}.yaml", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "plan.json").is_file() and (out / "tests").is_dir()
    if scenario == "iot":
        assert (out / "cassandra" / "schema.cql").is_file()
    if scenario == "saas":  # the MongoDB artifacts, written with no pymongo/bson importable
        assert sorted((out / "mongodb" / "collections").glob("*.json")) and (out / "mongodb" / "queries.json").is_file()
        # Talking to the server is what needs the driver, and says which extra brings it.
        line = one_line(without(list(DRIVERS), tmp_path, "validate", str(out), "--engine", "mongodb"))
        assert "pip install 'polyplan[mongodb]'" in line and "[PP604]" in line
    explained = without(OPTIONAL, tmp_path, "explain", f"scenarios/{scenario}.yaml")
    assert explained.returncode == 0, explained.stderr


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    return lines[0]


def test_seed_without_the_driver_names_the_extra(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # never reached: the check comes first
    line = one_line(
        without(
            OPTIONAL, tmp_path, "seed", "scenarios/shop.yaml", "--engine", "postgresql", "--url", url, "--rows", "1"
        )
    )
    assert "pip install 'polyplan[postgresql]'" in line and "[PP604]" in line


def test_validate_without_pytest_names_the_extra(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert without([], tmp_path, "plan", "scenarios/shop.yaml", "--out", str(out)).returncode == 0
    line = one_line(without(OPTIONAL, tmp_path, "validate", str(out), "--engine", "sqlite"))
    assert "pip install 'polyplan[validate]'" in line


def test_status_without_alembic_names_the_extra(tmp_path: Path) -> None:
    line = one_line(without(["alembic"], tmp_path, "status", "scenarios/shop.yaml", "--url", "sqlite://"))
    assert "pip install 'polyplan[migrate]'" in line


def test_a_driver_imported_deep_inside_a_command_still_names_its_extra(tmp_path: Path) -> None:
    # The early check covers the URL's engine; a dialect that imports its driver on connect is
    # caught by the entry point all the same.
    line = one_line(without(["pymysql"], tmp_path, "status", "scenarios/shop.yaml", "--url", "mysql+pymysql://x@h/d"))
    assert "pip install 'polyplan[mysql]'" in line


def test_every_engine_driver_belongs_to_an_extra() -> None:
    assert {driver for driver in DRIVER_OF_ENGINE.values() if driver} <= set(EXTRA_OF_MODULE)


def test_cql_quoting_restates_the_drivers_rule() -> None:
    assert cassandra_metadata.cql_keywords == CQL_KEYWORDS
    assert cassandra_metadata.cql_keywords_unreserved == CQL_KEYWORDS_UNRESERVED
    names = ["id", "Id", "device_id", "select", "SELECT", "key", "ttl", "_x", "9a", 'we"ird', "é", "a b", "group"]
    for name in [*names, *sorted(CQL_KEYWORDS)]:
        assert cql.protect_name(name) == cassandra_metadata.protect_name(name), name
        assert cql.escape_name(name) == cassandra_metadata.escape_name(name), name
        assert cql.string_literal(name) == cql_quote(name), name


def test_the_serverless_commands_work_with_every_driver_missing(tmp_path: Path) -> None:
    # SQLite is in the standard library, the schema-change commands need no server: none needs an extra.
    seeded = without(
        OPTIONAL, tmp_path, "seed", SHOP, "--engine", "sqlite", "--url", f"sqlite:///{tmp_path / 'x.db'}", "--rows", "5"
    )
    assert seeded.returncode == 0 and seeded.stdout.startswith("loaded "), seeded.stderr
    old, new = "scenarios/history/shop/v1.yaml", "scenarios/history/shop/v2.yaml"
    assert without(OPTIONAL, tmp_path, "diff", old, new).returncode == 0
    migrated = without(OPTIONAL, tmp_path, "migrate", old, new, "--out", str(tmp_path / "migrations"))
    assert migrated.returncode == 0 and "revision" in migrated.stdout, migrated.stderr
    assert without(OPTIONAL, tmp_path, "schema").returncode == 0
