"""`options.relational_dialects` (issue 13): a model that runs MariaDB gets MariaDB and SQLite
output, not PostgreSQL; a list chooses others; a bad list is a coded error at its line."""

from __future__ import annotations

import pytest

from polyplan.diagnostics import DiagnosticError
from polyplan.pipeline import plan_text, render

BASE = """name: shelf
engines: {relational: ENGINE, document: null, cache: null, search: null, wide_column: null}
OPTIONS
entities:
  Book:
    attributes:
      title: {type: string, max_length: 80, unique: true}
      body: {type: text, avg_length: 400}
    growth: {initial_rows: 1000}
access_patterns:
  - {name: book_by_title, entity: Book, filters: [{attribute: title}], rate: 10}
"""


def model(engine: str = "mysql", options: str = "") -> str:
    return BASE.replace("ENGINE", engine).replace("OPTIONS", options)


def written(text: str) -> tuple[set[str], set[str]]:
    """(dialect folders under relational/, generated test modules) of a model's output."""
    files, _ = render(plan_text(text, "shelf.yaml"))
    folders = {path.split("/")[1] for path in files if path.startswith("relational/")}
    return folders, {path.removeprefix("tests/") for path in files if path.startswith("tests/test_")}


@pytest.mark.parametrize(
    ("engine", "expected"),
    [("mysql", {"mysql", "sqlite"}), ("postgresql", {"postgresql", "sqlite"}), ("sqlite", {"sqlite"})],
)
def test_by_default_the_chosen_engine_and_sqlite_are_written(engine: str, expected: set[str]) -> None:
    folders, tests = written(model(engine))
    assert folders == expected
    assert {name.split("_")[1].removesuffix(".py") for name in tests} == expected


def test_a_list_chooses_the_dialects_in_a_fixed_order() -> None:
    folders, _ = written(model("mysql", "options: {relational_dialects: [sqlite, mysql, postgresql]}"))
    assert folders == {"postgresql", "mysql", "sqlite"}
    only, only_tests = written(model("mysql", "options: {relational_dialects: [mysql]}"))
    assert only == {"mysql"} and only_tests == {"test_mysql.py", "test_mysql_indexes.py"}
    # The order of the list changes no artifact (the test data file copies the model as written).
    first = render(plan_text(model("mysql", "options: {relational_dialects: [mysql, sqlite]}"), "shelf.yaml"))[0]
    second = render(plan_text(model("mysql", "options: {relational_dialects: [sqlite, mysql]}"), "shelf.yaml"))[0]
    del first["tests/data/relational.json"], second["tests/data/relational.json"]
    assert first == second


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            model("mysql", "options:\n  relational_dialects: [sqlite, postgresql]"),
            "shelf.yaml:4:24: options.relational_dialects: leaves out mysql",
        ),
        (
            model("mysql", "options:\n  relational_dialects: [mysql, mysql]"),
            "shelf.yaml:4:32: options.relational_dialects.1: mysql is listed twice [PP616]",
        ),
        (
            model("mysql", "options:\n  relational_dialects: [mysql, oracle]"),
            "shelf.yaml:4:32: options.relational_dialects.1: expected one of postgresql, mysql, sqlite; got 'oracle'",
        ),
        (
            model("null", "options:\n  relational_dialects: [sqlite]").replace(
                "title: {type: string, max_length: 80, unique: true}", "title: {type: string, max_length: 80}"
            ),
            "[PP617]",
        ),
    ],
    ids=["PP615", "PP616", "PP103", "PP617"],
)
def test_a_bad_list_is_a_coded_error_at_its_line(text: str, expected: str) -> None:
    with pytest.raises(DiagnosticError) as raised:
        render(plan_text(text, "shelf.yaml"))
    assert any(expected in d.render() for d in raised.value.diagnostics), [d.render() for d in raised.value.diagnostics]
