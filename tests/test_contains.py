"""Membership and JSON sub-field filters (issue 12): `contains` on lists and sets, the `set`
type and `path` filters into a json attribute, planned on tests/models/catalog_contains.yaml and
checked by its generated tests on the real engines (SQLite always, PostgreSQL and MariaDB where
reachable), including that a query which drops the clause fails them."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.model.schema import json_schema
from polyplan.pipeline import plan_text, render
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.conftest import RELATIONAL_ENGINES, break_and_validate, plan_folder

MODEL = (Path(__file__).resolve().parent / "models" / "catalog_contains.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def emitted() -> dict[str, str]:
    files, _ = render(plan_text(MODEL, "catalog_contains.yaml"))
    return files


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan_folder(MODEL, "catalog_contains.yaml", tmp_path_factory.mktemp("contains"))


def test_the_json_schema_describes_set_contains_and_path() -> None:
    schema = json_schema()["$defs"]
    assert "set" in schema["TypeName"]["enum"]
    assert "contains" in schema["FilterOp"]["enum"]
    assert "path" in schema["Filter"]["properties"]


def test_postgresql_keeps_filtered_lists_in_jsonb_with_gin_and_indexes_sub_fields(emitted: dict[str, str]) -> None:
    schema = emitted["relational/postgresql/schema.sql"]
    assert "genres JSONB NOT NULL" in schema
    assert "CREATE INDEX ix_film_tags ON film USING gin (tags jsonb_path_ops);" in schema
    # films_of_genre, the only read filtering by genre, walks ix_film_released in order: a GIN on
    # genres would serve nothing and cost every write of the column (index-plan.md says so).
    assert "ix_film_genres" not in schema
    assert "CREATE INDEX ix_film_released ON film (released DESC);" in schema
    assert "CREATE INDEX ix_film_payload__device__model ON film ((payload #>> '{device,model}'));" in schema
    assert "CREATE INDEX ix_film_payload__device__year ON film (CAST(payload #>> '{device,year}' AS BIGINT));" in schema
    queries = emitted["relational/postgresql/queries.sql"]
    assert "WHERE film.genres @> jsonb_build_array(CAST(:genres AS TEXT))" in queries
    assert "WHERE (film.payload #>> '{device,model}') = :payload_device_model;" in queries


def test_a_set_no_read_filters_by_is_a_child_table_keyed_by_its_items(emitted: dict[str, str]) -> None:
    schema = emitted["relational/postgresql/schema.sql"]
    assert "CONSTRAINT pk_film_languages PRIMARY KEY (film_id, value)" in schema


def test_mariadb_indexes_a_sub_field_through_a_virtual_column(emitted: dict[str, str]) -> None:
    schema = emitted["relational/mysql/schema.sql"]
    assert (
        "ALTER TABLE film ADD COLUMN payload__device_model VARCHAR(255) AS "
        "(JSON_VALUE(payload, '$.device.model')) VIRTUAL;" in schema
    )
    assert "CREATE INDEX ix_film_payload__device__model ON film (payload__device_model);" in schema
    assert "WHERE json_contains(film.tags, json_array(:tags)) = 1;" in emitted["relational/mysql/queries.sql"]


def test_sqlite_uses_json_each_and_an_expression_index(emitted: dict[str, str]) -> None:
    assert "ON film (json_extract(payload, '$.device.model'))" in emitted["relational/sqlite/schema.sql"]
    assert "FROM json_each(film.tags) AS item" in emitted["relational/sqlite/queries.sql"]


def test_contains_without_an_index_is_a_coded_warning() -> None:
    plan = plan_text(MODEL, "catalog_contains.yaml")
    _, diagnostics = render(plan)
    scans = [d for d in diagnostics if d.code == "PP421"]
    # films_of_genre (access_patterns.0) is walked in order through ix_film_released on every
    # dialect, reading about 60 rows for its LIMIT 10, not every row: no PP421 for it.
    assert [d.path for d in scans] == ["access_patterns.1", "access_patterns.2"]
    assert "MariaDB has no multi-valued index" in scans[0].message


def test_pp421_says_a_walked_read_that_misses_its_target_walks_an_index() -> None:
    slow = MODEL.replace("    limit: 10\n    rate: 50\n", "    limit: 10\n    rate: 50\n    latency_ms: 1\n")
    assert slow != MODEL
    _, diagnostics = render(plan_text(slow, "catalog_contains.yaml"))
    (walked,) = [d for d in diagnostics if d.code == "PP421" and d.path == "access_patterns.0"]
    assert "the read walks ix_film_released in order checking the filter on each row" in walked.message
    assert "against its 1 ms target" in walked.message


def test_the_index_plan_explains_the_inside_value_indexes(emitted: dict[str, str]) -> None:
    text = emitted["docs/index-plan.md"]
    assert "## Indexes inside values" in text
    assert "| `films_tagged` | `film` | tags contains | 20 | `ix_film_tags` (inside the value) |" in text
    # A genre holds a sixth of the films: walking released in order stops after ~60 rows for
    # LIMIT 10, where the GIN bitmap reads every film of the genre and sorts them.
    assert "| `films_of_genre` | `film` | genres contains, ORDER BY released DESC | 50 | `ix_film_released` |" in text
    assert "| `ix_film_genres` | `film.genres` holds an item (enum) | not created (below) |" in text
    assert "- `ix_film_genres` (`film.genres`): `films_of_genre` walks `ix_film_released` in order; without it" in text


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_generated_tests_pass_on_the_engine(folder: Path, engine: str) -> None:
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(folder, engine, url) == 0


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # The contains clause dropped (made always true), then a sub-field filter made always true.
        ("WHERE item.value = :tags);", "WHERE item.value = :tags OR :tags IS NOT NULL);"),
        (
            "WHERE json_extract(film.payload, '$.device.model') = :payload_device_model;",
            "WHERE json_extract(film.payload, '$.device.model') >= :payload_device_model;",
        ),
        ("WHERE item.value = :genres)", "WHERE item.value <> :genres)"),
    ],
)
def test_a_query_that_ignores_the_clause_fails_the_generated_tests(
    folder: Path, tmp_path: Path, before: str, after: str
) -> None:
    assert break_and_validate(folder, tmp_path / "plan", "relational/sqlite/queries.sql", before, after) == 1


@pytest.mark.mongodb
def test_the_document_design_passes_its_generated_tests(tmp_path: Path) -> None:
    # The same reads with the document store as system of record: multikey and dotted-path indexes.
    text = MODEL.replace(
        "engines: {document: null, cache: null, search: null, wide_column: null}",
        "engines: {relational: null, cache: null, search: null, wide_column: null}",
    ).replace("options: {relational_dialects: [postgresql, mysql, sqlite]}\n", "")
    folder = plan_folder(text, "catalog_documents.yaml", tmp_path)
    queries = (folder / "mongodb" / "queries.json").read_text(encoding="utf-8")
    assert '"filter": {"tags": {"$param": "tags"}}' in queries
    assert "payload.device.model" in queries
    assert run_validation(folder, "mongodb", resolve_url("mongodb")) == 0
