"""`polyplan validate`: usage errors exit 2, failing checks exit 1, passing checks exit 0."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import polyplan.cli.validate  # noqa: F401  (registers the command)
from polyplan.cli.app import app
from polyplan.emit.writer import write_tree
from polyplan.model.loader import load_text
from polyplan.pipeline import render
from polyplan.plan.assign import build_plan
from polyplan.validate.reach import masked
from polyplan.validate.runner import UsageError, run_validation
from polyplan.validate.runner import test_files as generated_test_files

TINY = """
name: tiny
engines: {relational: sqlite}
entities:
  Note:
    placement: {family: relational}
    attributes:
      title: {type: string, max_length: 40, unique: true}
      stars: {type: integer, min: 0, max: 5}
access_patterns:
  - {name: by_title, entity: Note, filters: [{attribute: title, op: eq}]}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files, _ = render(build_plan(load_text(TINY, "tiny.yaml")))
    out = tmp_path_factory.mktemp("tiny")
    write_tree(files, out)
    return out


def test_not_a_plan_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a plan folder"):
        run_validation(tmp_path, "sqlite")


def test_no_tests_for_the_engine(folder: Path) -> None:
    with pytest.raises(UsageError, match="no test_cassandra"):
        generated_test_files(folder, "cassandra")
    with pytest.raises(UsageError, match="unknown engine"):
        generated_test_files(folder, "oracle")


def test_passing_checks_exit_0(folder: Path) -> None:
    assert run_validation(folder, "sqlite") == 0


def test_failing_checks_exit_1(folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    schema = broken / "relational" / "sqlite" / "schema.sql"
    text = schema.read_text()
    dropped = ",\n\tCONSTRAINT ck_note_stars_max CHECK (stars <= 5)"
    assert dropped in text
    schema.write_text(text.replace(dropped, ""))
    assert run_validation(broken, "sqlite", trust_edits=True) == 1


def test_a_tampered_or_added_file_is_never_run(folder: Path, tmp_path: Path) -> None:
    """validate runs only what polyplan wrote: an edited schema or a stray test module is refused, exit 2."""
    runner = CliRunner()
    edited = tmp_path / "edited"
    shutil.copytree(folder, edited)
    schema = edited / "relational" / "sqlite" / "schema.sql"
    schema.write_text(schema.read_text() + "\nDROP TABLE note;\n")
    refused = runner.invoke(app, ["validate", str(edited), "--engine", "sqlite"])
    assert refused.exit_code == 2 and "schema.sql (edited since polyplan wrote it)" in refused.output
    added = tmp_path / "added"
    shutil.copytree(folder, added)
    (added / "tests" / "test_sqlite_extra.py").write_text("import os\n")
    refused = runner.invoke(app, ["validate", str(added), "--engine", "sqlite"])
    assert refused.exit_code == 2 and "tests/test_sqlite_extra.py" in refused.output


def test_cli_exit_codes(folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(folder), "--engine", "sqlite"])
    assert ok.exit_code == 0
    missing = runner.invoke(app, ["validate", str(tmp_path), "--engine", "sqlite"])
    assert missing.exit_code == 2 and "not a plan folder" in missing.output
    wrong = runner.invoke(app, ["validate", str(folder), "--engine", "oracle"])
    assert wrong.exit_code == 2


UNREACHABLE = [
    ("saas.yaml", "", "mongodb", "mongodb://127.0.0.1:1"),
    ("saas.yaml", "", "cassandra", "cassandra://127.0.0.1:1/datacenter1"),
    ("social.yaml", "engines: {search: opensearch}\n", "opensearch", "http://127.0.0.1:1"),
    ("saas.yaml", "", "postgresql", "postgresql+psycopg://postgres@127.0.0.1:1/postgres"),
]


@pytest.mark.parametrize(("scenario", "extra", "engine", "url"), UNREACHABLE, ids=[u[2] for u in UNREACHABLE])
def test_an_unreachable_server_is_one_line_naming_engine_and_url(
    tmp_path: Path, scenario: str, extra: str, engine: str, url: str
) -> None:
    text = (Path(__file__).resolve().parent.parent / "scenarios" / scenario).read_text()
    name_line = next(line for line in text.splitlines() if line.startswith("name: "))
    files, _ = render(build_plan(load_text(text.replace(name_line, name_line + "\n" + extra.rstrip(), 1), scenario)))
    out = tmp_path / "out"
    write_tree(files, out)
    result = CliRunner().invoke(app, ["validate", str(out), "--engine", engine, "--url", url])
    assert result.exit_code == 1, result.output
    assert (
        result.output.strip()
        == f"polyplan validate: {engine} at {url} is not reachable: 127.0.0.1:1: Connection refused"
    )


def test_messages_never_show_a_password() -> None:
    assert masked("postgresql+psycopg://bob:s3cret@db:5432/app") == "postgresql+psycopg://bob:***@db:5432/app"
    assert masked("redis://:pw@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert masked("mongodb://127.0.0.1:27017") == "mongodb://127.0.0.1:27017"
