"""compose/docker-compose.yml: every supported store, pinned, health-checked, on loopback only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from polyplan.testkit import ENGINES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose" / "docker-compose.yml"
EXPECTED = {
    "postgres": ("postgres", "16."),
    "mariadb": ("mariadb", "10.11."),
    "redis": ("redis", "7."),
    "mongodb": ("mongo", "7.0."),
    "elasticsearch": ("docker.elastic.co/elasticsearch/elasticsearch", "8.15."),
    "opensearch": ("opensearchproject/opensearch", "2.19."),
    "cassandra": ("cassandra", "4.1."),
}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    found: dict[str, Any] = data["services"]
    return found


def test_every_store_the_tests_name_is_a_service(services: dict[str, Any]) -> None:
    named = {access.compose_service for access in ENGINES.values() if access.compose_service}
    assert named == set(services) == set(EXPECTED)


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_images_are_pinned_to_exact_versions(services: dict[str, Any], service: str) -> None:
    image = services[service]["image"]
    name, _, tag = image.rpartition(":")
    repository, version = EXPECTED[service]
    assert name == repository
    assert tag != "latest" and tag.startswith(version)
    # A release, not a floating major: PostgreSQL numbers releases major.minor, the others major.minor.patch.
    assert re.fullmatch(r"\d+\.\d+" if service == "postgres" else r"\d+\.\d+\.\d+", tag), f"{image} is not a release"


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_health_checked_and_loopback_only(services: dict[str, Any], service: str) -> None:
    spec = services[service]
    assert spec["healthcheck"]["test"]
    for port in spec["ports"]:
        assert str(port).startswith("127.0.0.1:"), port


def test_elasticsearch_is_a_single_node_without_security(services: dict[str, Any]) -> None:
    env = services["elasticsearch"]["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "false"


def test_ports_match_the_urls_the_tests_use(services: dict[str, Any]) -> None:
    for access in ENGINES.values():
        if access.compose_service is None:
            continue
        published = {str(p).split(":")[1] for p in services[access.compose_service]["ports"]}
        assert any(f":{port}" in access.example_url for port in published), access.engine


def test_readme_and_docs_name_every_url() -> None:
    readme = (ROOT / "compose" / "README.md").read_text(encoding="utf-8")
    running = (ROOT / "docs" / "running-stores.md").read_text(encoding="utf-8")
    for access in ENGINES.values():
        if access.compose_service:
            assert f"{access.env_var}={access.example_url}" in readme, access.env_var
            assert access.env_var in running, access.env_var
