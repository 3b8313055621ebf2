"""Each plan's compose.yml (issue 15: "a compose file for the plan with only the stores that plan
uses, and health checks"): the services its generated tests need, as polyplan's own compose file
defines them. Pure: no Docker here (its use is covered by the compose/ check of the repo file)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from polyplan.emit.compose import bundled_services, engines_tested
from polyplan.pipeline import plan_text, render
from polyplan.testkit import ENGINES
from tests.conftest import SCENARIOS, planned

ROOT = Path(__file__).resolve().parent.parent


def test_the_bundled_services_are_the_repository_compose_file() -> None:
    repository = yaml.safe_load((ROOT / "compose" / "docker-compose.yml").read_text(encoding="utf-8"))
    assert repository["services"] == bundled_services()
    # Every engine that needs a server has its service, with a health check for `up --wait`.
    for access in ENGINES.values():
        if access.compose_service is not None:
            assert "healthcheck" in bundled_services()[access.compose_service], access.engine


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_a_plan_gets_the_services_of_its_generated_tests(scenario: Path) -> None:
    files, _ = render(planned(scenario))
    tested = engines_tested(files)
    compose = yaml.safe_load(files["compose.yml"])
    wanted = {ENGINES[engine].compose_service for engine in tested}
    assert set(compose["services"]) == wanted and wanted
    assert all(compose["services"][name] == bundled_services()[name] for name in wanted)
    for engine in tested:
        access = ENGINES[engine]
        assert f"#   export {access.env_var}={access.example_url}\n" in files["compose.yml"]
        assert f"#   polyplan validate . --engine {engine}\n" in files["compose.yml"]
    # Only what the plan uses: shop has no Cassandra, counters no search engine.
    if scenario.stem == "shop":
        assert wanted == {"postgres", "mariadb", "redis", "elasticsearch"}


def test_a_plan_that_needs_no_server_gets_no_compose_file() -> None:
    text = """
name: notes
options: {relational_dialects: [sqlite]}
engines: {relational: sqlite}
entities:
  Note:
    attributes:
      title: {type: string, max_length: 80}
access_patterns:
  - {name: note_by_id, entity: Note, filters: [{attribute: id}]}
"""
    files, _ = render(plan_text(text, "notes.yaml"))
    assert "tests/test_sqlite.py" in files and "compose.yml" not in files
