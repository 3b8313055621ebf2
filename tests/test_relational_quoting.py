"""Reserved words and odd identifiers survive every engine, for real.

A model whose names are SQL keywords (`order`, `group`, `select`, `user`, `table`, `from`, `to`,
`where`) or carry spaces, hyphens, `$` and mixed case is planned, and its emitted schema is
applied to SQLite, PostgreSQL and MariaDB; then the generated harness loads seed rows, breaks
every constraint and runs every query. The layout model of test_relational_design (child
tables, link tables, natural keys, one-to-one, a cross-store reference) gets the same treatment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.emit.writer import write_tree
from polyplan.model.loader import load_text
from polyplan.pipeline import render
from polyplan.plan.assign import build_plan
from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from polyplan.validate.relational import Harness
from tests.test_relational_design import MODEL as LAYOUT_MODEL

QUOTING_MODEL = """
name: quoting
engines: {relational: sqlite, search: null}
options: {fulltext_fallback: relational, relational_dialects: [postgresql, mysql, sqlite]}
entities:
  Order:
    placement: {family: relational}
    attributes:
      group: {type: string, max_length: 20}
      select: {type: integer, min: 0, max: 1000}
      "Mixed Case": {type: string, max_length: 10, nullable: true}
      "with-hyphen": {type: enum, values: [a-b, c d]}
      "cost $": {type: decimal, precision: 8, scale: 2, min: 0}
      from: {type: timestamptz}
      to: {type: timestamptz}
      "key words": {type: list, items: {type: string, max_length: 10}, max_items: 3}
      where:
        type: object
        fields:
          left: {type: integer}
          "right side": {type: string, max_length: 5}
    unique: [[group, select]]
    checks: [{name: to_after_from, left: to, op: gt, right: from}]
  User:
    placement: {family: relational}
    key: {attributes: [user], kind: natural}
    attributes:
      user: {type: string, max_length: 30}
      table: {type: string, max_length: 10, pattern: '^[a-z]+$'}
  Group:
    placement: {family: relational}
    description: "100% odd: it's named after a keyword; a comment with % and 'quotes'."
    attributes:
      primary: {type: boolean, default: true}
      "Limit": {type: integer, bits: 16, min: 1}
      "note text": {type: text, avg_length: 80}
relationships:
  - {name: user_orders, kind: one_to_many, from: User, to: Order}
  - {name: group_members, kind: many_to_many, from: Group, to: User, attributes: {"role name": {type: string, max_length: 10}}}
access_patterns:
  - {name: orders_by_group, entity: Order, filters: [{attribute: group, op: eq}], sort: [{attribute: select, direction: desc}], limit: 5}
  - name: orders_of_user
    entity: Order
    filters: [{attribute: user_user, op: eq}, {attribute: from, op: range}]
    sort: [{attribute: from}]
    reads: [id, group, "cost $", from, where]
  - {name: users_by_table, entity: User, filters: [{attribute: table, op: prefix}], sort: [{attribute: user}]}
  - {name: groups_by_limit, entity: Group, filters: [{attribute: "Limit", op: in}, {attribute: primary, op: eq, value: true}]}
  - {name: search_groups, entity: Group, filters: [{attribute: "note text", op: fulltext}], limit: 5, rate: 50}
"""

# Every dialect, since these tests apply the schema on each engine (a model's default is its own
# engine plus SQLite).
EVERY_DIALECT = "options: {relational_dialects: [postgresql, mysql, sqlite]}\n"
MODELS = {
    "quoting": QUOTING_MODEL,
    "layout": LAYOUT_MODEL.replace("name: layout\n", "name: layout\n" + EVERY_DIALECT, 1),
}
ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]


@pytest.fixture(scope="module")
def plan_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folders: dict[str, Path] = {}
    for name, text in MODELS.items():
        files, _ = render(build_plan(load_text(text, f"{name}.yaml")))
        folder = tmp_path_factory.mktemp(name)
        write_tree(files, folder)
        folders[name] = folder
    return folders


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database(engine_name: str) -> Iterator[sa.Engine]:
    with scratch_database(resolve_url(engine_name)) as engine:
        yield engine


def test_fulltext_uses_the_designed_index(plan_folders: dict[str, Path]) -> None:
    folder = plan_folders["quoting"] / "relational"
    notes = {engine: (folder / engine / "queries.sql").read_text() for engine in ("postgresql", "mysql", "sqlite")}
    for text in notes.values():
        assert "uses the designed full-text index" in text
    assert "@@ plainto_tsquery" in notes["postgresql"]
    assert "MATCH (`note text`) AGAINST" in notes["mysql"]
    assert " MATCH " in notes["sqlite"]


def test_quoted_names_in_ddl(plan_folders: dict[str, Path]) -> None:
    folder = plan_folders["quoting"] / "relational"
    pg = (folder / "postgresql" / "schema.sql").read_text()
    my = (folder / "mysql" / "schema.sql").read_text()
    assert 'CREATE TABLE "order"' in pg and 'CREATE TABLE "user"' in pg and 'CREATE TABLE "group"' in pg
    assert '"group" VARCHAR(20)' in pg and '"select" INTEGER' in pg and '"Mixed Case"' in pg
    assert '"with-hyphen"' in pg and '"cost $"' in pg and '"where_right side"' in pg
    assert "CREATE TABLE `order`" in my and "`select` INTEGER" in my and "`Mixed Case`" in my


@pytest.mark.parametrize("model", sorted(MODELS))
def test_model_applies_loads_and_validates(
    plan_folders: dict[str, Path], engine_name: str, database: sa.Engine, model: str
) -> None:
    harness = Harness.from_plan_folder(plan_folders[model] / "tests", engine_name)
    loaded = harness.load(database)
    assert harness.counts(database) == loaded and sum(loaded.values()) > 0
    checked = harness.constraint_ids()
    assert len(checked) > 20
    for ident in checked:
        harness.check_constraint(database, ident)
    for ident in harness.foreign_key_ids():
        harness.check_on_delete(database, ident)
    assert harness.query_names()
    for query in harness.query_names():
        harness.check_query(database, query)
