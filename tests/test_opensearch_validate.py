"""`polyplan validate` names the plan's search engine when asked for the other one (exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import polyplan.cli.validate  # noqa: F401  (registers the command)
from polyplan.cli.app import app
from polyplan.emit.writer import write_tree
from polyplan.pipeline import render
from polyplan.validate.runner import UsageError, run_validation
from tests.conftest import SCENARIOS, planned
from tests.test_opensearch_design import opensearch_scenario


@pytest.fixture(scope="module")
def elastic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("elastic")
    write_tree(render(planned(next(p for p in SCENARIOS if p.stem == "shop")))[0], out)
    return out.resolve()


@pytest.fixture(scope="module")
def opensearch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("opensearch")
    write_tree(render(opensearch_scenario("shop"))[0], out)
    return out.resolve()


def test_opensearch_on_an_elasticsearch_plan(elastic: Path) -> None:
    with pytest.raises(UsageError) as raised:
        run_validation(elastic, "opensearch")
    assert str(raised.value) == (
        f"this plan's search engine is elasticsearch ({elastic / 'elasticsearch'}/); plan with "
        "`engines: {search: opensearch}` to validate on OpenSearch"
    )


def test_elasticsearch_on_an_opensearch_plan(opensearch: Path) -> None:
    with pytest.raises(UsageError) as raised:
        run_validation(opensearch, "elasticsearch")
    assert str(raised.value) == (
        f"this plan's search engine is opensearch ({opensearch / 'opensearch'}/); plan with "
        "`engines: {search: elasticsearch}` to validate on Elasticsearch"
    )


@pytest.mark.parametrize(
    ("plan", "engine", "planned_engine"),
    [("elastic", "opensearch", "elasticsearch"), ("opensearch", "elasticsearch", "opensearch")],
)
def test_cli_exits_2_and_says_why(plan: str, engine: str, planned_engine: str, request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(plan)
    result = CliRunner().invoke(app, ["validate", str(folder), "--engine", engine])
    assert result.exit_code == 2
    said = " ".join(result.output.split())  # the console may wrap long lines
    assert f"this plan's search engine is {planned_engine}" in said
    assert f"`engines: {{search: {engine}}}`" in said
