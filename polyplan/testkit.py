"""How tests (ours and the generated ones) reach a real store, or say clearly why they can't.

Order of resolution for an engine: the URL in `POLYPLAN_<NAME>_URL`; else a testcontainers
container when a Docker engine answers; else skip with a reason naming the command that would
run the test. When the engine is listed in `POLYPLAN_REQUIRE` (comma-separated, set by CI for
the stores this machine has), that skip becomes a failure: a required store is never skipped.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn


@dataclass(frozen=True)
class EngineAccess:
    """How to reach one engine in tests."""

    engine: str
    env_var: str
    example_url: str
    compose_service: str | None
    container: Callable[[], tuple[Any, str]] | None  # starts a container → (container, url)


def _postgres_container() -> tuple[Any, str]:
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer("postgres:16.4", driver="psycopg").start()
    return container, container.get_connection_url()


def _mysql_container() -> tuple[Any, str]:
    from testcontainers.community.mysql import MySqlContainer

    container = MySqlContainer("mariadb:10.11.9", dialect="pymysql").start()
    return container, container.get_connection_url()


def _redis_container() -> tuple[Any, str]:
    from testcontainers.community.redis import RedisContainer

    container = RedisContainer("redis:7.4.0").start()
    return container, f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"


def _mongodb_container() -> tuple[Any, str]:
    from testcontainers.community.mongodb import MongoDbContainer

    container = MongoDbContainer("mongo:7.0.12").start()
    return container, container.get_connection_url()


def _elasticsearch_container() -> tuple[Any, str]:
    from testcontainers.community.elasticsearch import ElasticSearchContainer

    container = ElasticSearchContainer("docker.elastic.co/elasticsearch/elasticsearch:8.15.3", mem_limit="1g").start()
    return container, f"http://{container.get_container_host_ip()}:{container.get_exposed_port(9200)}"


def _opensearch_container() -> tuple[Any, str]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    container = (
        DockerContainer("opensearchproject/opensearch:2.19.3")
        .with_env("discovery.type", "single-node")
        .with_env("DISABLE_SECURITY_PLUGIN", "true")
        .with_env("OPENSEARCH_JAVA_OPTS", "-Xms512m -Xmx512m")
        .with_exposed_ports(9200)
    )
    container.start()
    wait_for_logs(container, "started", timeout=180)
    return container, f"http://{container.get_container_host_ip()}:{container.get_exposed_port(9200)}"


def _cassandra_container() -> tuple[Any, str]:
    from testcontainers.community.cassandra import CassandraContainer

    container = CassandraContainer("cassandra:4.1.5").start()
    host, port = container.get_contact_points()[0]
    return container, f"cassandra://{host}:{port}/{container.get_local_datacenter()}"


# Image tags match compose/docker-compose.yml, so containers and compose test the same servers.
ENGINES: dict[str, EngineAccess] = {
    "postgresql": EngineAccess(
        "postgresql",
        "POLYPLAN_POSTGRES_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        "postgres",
        _postgres_container,
    ),
    "mysql": EngineAccess(
        "mysql", "POLYPLAN_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test", "mariadb", _mysql_container
    ),
    "sqlite": EngineAccess("sqlite", "POLYPLAN_SQLITE_URL", "sqlite://", None, None),
    "redis": EngineAccess("redis", "POLYPLAN_REDIS_URL", "redis://127.0.0.1:6379/0", "redis", _redis_container),
    "mongodb": EngineAccess(
        "mongodb", "POLYPLAN_MONGODB_URL", "mongodb://127.0.0.1:27017", "mongodb", _mongodb_container
    ),
    "elasticsearch": EngineAccess(
        "elasticsearch",
        "POLYPLAN_ELASTICSEARCH_URL",
        "http://127.0.0.1:9200",
        "elasticsearch",
        _elasticsearch_container,
    ),
    "opensearch": EngineAccess(
        "opensearch",
        "POLYPLAN_OPENSEARCH_URL",
        "http://127.0.0.1:9201",
        "opensearch",
        _opensearch_container,
    ),
    "cassandra": EngineAccess(
        "cassandra",
        "POLYPLAN_CASSANDRA_URL",
        "cassandra://127.0.0.1:9042/datacenter1",
        "cassandra",
        _cassandra_container,
    ),
}

_started: dict[str, str] = {}


def required_engines() -> set[str]:
    """Engines whose tests must not skip (from POLYPLAN_REQUIRE)."""
    return {e.strip() for e in os.environ.get("POLYPLAN_REQUIRE", "").split(",") if e.strip()}


def how_to_run(engine: str) -> str:
    """The sentence that tells a user how to run tests for `engine`."""
    access = ENGINES[engine]
    compose = (
        f"`docker compose -f compose/docker-compose.yml up -d --wait {access.compose_service}` then "
        if access.compose_service
        else ""
    )
    return f"{compose}set {access.env_var}={access.example_url} (or run with a Docker engine for testcontainers)"


def unavailable(engine: str, why: str) -> NoReturn:
    """Skip (or fail, if the engine is required) with a reason that says how to run the test."""
    message = f"{engine} not reachable: {why}. To run: {how_to_run(engine)}"
    if engine in required_engines():
        # Imported here: the CLI reads ENGINES, and `polyplan --help` must not load a test framework.
        import pytest

        pytest.fail(f"POLYPLAN_REQUIRE lists {engine}, so it may not be skipped. {message}", pytrace=False)
    import pytest

    pytest.skip(message)


def docker_available() -> bool:
    """True when a Docker engine answers (testcontainers can start a store)."""
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:  # any failure means "no usable engine": the reason goes into the skip message
        return False
    return True


def resolve_url(engine: str) -> str:
    """A URL for `engine`: env var, else a container, else skip/fail with instructions."""
    access = ENGINES[engine]
    url = os.environ.get(access.env_var)
    if url:
        return url
    if engine == "sqlite":
        return "sqlite://"
    if engine in _started:
        return _started[engine]
    if access.container is None or not docker_available():
        unavailable(engine, f"{access.env_var} is not set and no Docker engine answers")
    container, url = access.container()
    atexit.register(container.stop)
    _started[engine] = url
    return url
