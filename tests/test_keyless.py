"""Append-only histories without a key (issue 14): `key: {kind: none}`.

The model says it; the consequences follow: no primary key in the relational DDL of any dialect,
the hidden row key of MariaDB (InnoDB's DB_ROW_ID) in its sizing and PP442, PP441 for PostgreSQL's
replica identity, Cassandra and Redis ruled out (they hold every record under its key), MongoDB's
generated ObjectId, migrations that drop or add a natural key, and the generated tests (seeded
rows, write predicates, retention) passing on the real engines.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from polyplan.diagnostics import DiagnosticError
from polyplan.migrate.diff import diff_plans
from polyplan.model.schema import json_schema
from polyplan.pipeline import plan_text, render
from polyplan.plan.ir import Plan
from polyplan.stores.relational.design import design_schema
from polyplan.stores.relational.sizing import table_size
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.conftest import RELATIONAL_ENGINES, plan_folder
from tests.test_migrate_engines import ENGINES, round_trip

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ROOT / "tests" / "migrate_inputs"

AUDIT = textwrap.dedent(
    """
    name: audit
    engines: {relational: postgresql, document: null, cache: null, search: null, wide_column: null}
    options: {relational_dialects: [postgresql, mysql, sqlite]}
    entities:
      Account:
        attributes:
          handle: {type: string, max_length: 30, unique: true}
        growth: {initial_rows: 1000}
      Event:
        description: Append-only history of what happened to an account.
        key: {kind: none}
        attributes:
          kind: {type: enum, values: [login, logout, purchase]}
          amount: {type: decimal, precision: 10, scale: 2, nullable: true}
          at: {type: timestamp}
        growth: {initial_rows: 50000, rows_per_day: 5000, retention_days: 365, time_attribute: at}
    relationships:
      - {name: account_events, kind: one_to_many, from: Account, to: Event}
    access_patterns:
      - {name: events_of_account, entity: Event, filters: [{attribute: account_id}],
         sort: [{attribute: at, direction: desc}], limit: 50, rate: 20}
      - {name: purchases_since, entity: Event, filters: [{attribute: kind, value: purchase}, {attribute: at, op: ge}]}
    write_patterns:
      - {name: record_event, entity: Event, kind: insert, rate: 100}
      - {name: forget_old_logins, entity: Event, kind: delete,
         where: [{attribute: kind, value: login}, {attribute: at, op: lt}], rate: 0.1}
    """
)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_text(AUDIT, "audit.yaml")


@pytest.fixture(scope="module")
def emitted(plan: Plan) -> tuple[dict[str, str], list[str]]:
    files, diagnostics = render(plan)
    return files, [f"{d.code} {d.path}: {d.message}" for d in diagnostics]


def test_the_json_schema_offers_kind_none() -> None:
    key = json_schema()["$defs"]["Key"]
    assert "none" in json_schema()["$defs"]["KeyKind"]["enum"]
    assert "attributes" not in key.get("required", [])


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_no_dialect_declares_a_primary_key(emitted: tuple[dict[str, str], list[str]], engine: str) -> None:
    schema = emitted[0][f"relational/{engine}/schema.sql"]
    event = schema[schema.index("CREATE TABLE event (") :].split(";")[0]
    assert "PRIMARY KEY" not in event and "event_id" not in event and "\tid " not in event
    assert "PRIMARY KEY" in schema[schema.index("CREATE TABLE account (") :].split(";")[0]


def test_the_table_spec_has_no_key_and_no_implied_id(plan: Plan) -> None:
    event = next(t for t in design_schema(plan)[0] if t.name == "event")
    assert event.primary_key == ()
    assert [c.name for c in event.columns] == ["kind", "amount", "at", "account_id"]


def test_postgresql_warns_of_the_replica_identity(emitted: tuple[dict[str, str], list[str]]) -> None:
    found = [d for d in emitted[1] if d.startswith("PP441")]
    assert len(found) == 1 and found[0].startswith("PP441 entities.Event.key:")
    assert "forget_old_logins, the retention purge" in found[0] and "REPLICA IDENTITY FULL" in found[0]


def test_mariadb_warns_of_the_hidden_row_id_and_sizes_it() -> None:
    text = AUDIT.replace("relational: postgresql,", "relational: mysql,")
    plan = plan_text(text, "audit.yaml")
    _, diagnostics = render(plan)
    found = [d for d in diagnostics if d.code == "PP442"]
    assert [d.path for d in found] == ["entities.Event.key"] and "DB_ROW_ID" in found[0].message
    assert not [d for d in diagnostics if d.code == "PP441"]
    tables = {t.name: t for t in design_schema(plan)[0]}
    keyless = table_size(tables["event"], 100_000, "mysql", plan.sizing("mysql"))
    assert keyless.indexes[0].name == "GEN_CLUST_INDEX" and keyless.indexes[0].columns == ()
    # Every secondary entry carries the 6-byte row id; keyed by `at`, which the index already
    # holds, the same entry carries nothing more.
    keyed = table_size(replace(tables["event"], primary_key=("at",)), 100_000, "mysql", plan.sizing("mysql"))
    entry = {i.name: i.entry_bytes for i in keyed.indexes}
    index = "ix_event_account_id_at"
    assert next(i.entry_bytes for i in keyless.indexes if i.name == index) - entry[index] == 6
    # PostgreSQL and SQLite keep no index for a key that is not there.
    for engine in ("postgresql", "sqlite"):
        size = table_size(tables["event"], 100_000, engine, plan.sizing(engine))
        assert not [i for i in size.indexes if i.role == "primary key"]


def test_cassandra_and_redis_are_ruled_out_by_scoring() -> None:
    text = AUDIT.replace(
        "engines: {relational: postgresql, document: null, cache: null, search: null, wide_column: null}",
        "engines: {relational: postgresql, document: null, search: null}",
    ).replace("rows_per_day: 5000,", "rows_per_day: 50000000,")
    plan = plan_text(text, "audit.yaml")
    scores = {s.family.value: s for s in plan.entities["Event"].scores}
    assert any("primary key" in b for b in scores["wide_column"].blockers)
    assert any("under a key" in b for b in scores["cache"].blockers)
    assert plan.entities["Event"].family.value == "relational"


def test_hot_reads_get_no_cache_read_model() -> None:
    text = AUDIT.replace(
        "engines: {relational: postgresql, document: null, cache: null,",
        "engines: {relational: postgresql, document: null,",
    ).replace("limit: 50, rate: 20}", "limit: 50, rate: 20000, consistency: eventual, staleness_seconds: 5}")
    plan = plan_text(text, "audit.yaml")
    _, diagnostics = render(plan)
    assert not plan.entities["Event"].projections
    found = [d for d in diagnostics if d.code == "PP444"]
    assert [d.path for d in found] == ["entities.Event.key"] and "events_of_account" in found[0].message


def test_mongodb_generates_the_id() -> None:
    text = AUDIT.replace("document: null,", "").replace(
        "    key: {kind: none}\n", "    key: {kind: none}\n    placement: {family: document}\n"
    )
    files, _ = render(plan_text(text, "audit.yaml"))
    design = files["mongodb/design.md"]
    assert "- `_id`: ObjectId, generated by the server: the entity has no key (kind: none)" in design
    assert "(unique)" not in design[design.index("## `event`") :]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan_folder(AUDIT, "audit.yaml", tmp_path_factory.mktemp("audit"))


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_generated_tests_pass_on_the_engine(folder: Path, engine: str) -> None:
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(folder, engine, url) == 0


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("old", "new"), [("keyless_v1", "keyless_v2"), ("keyless_v2", "keyless_v3")], ids=["drop", "add"]
)
def test_a_migration_drops_or_adds_the_natural_key(engine: str, old: str, new: str, tmp_path: Path) -> None:
    round_trip(INPUTS / f"{old}.yaml", INPUTS / f"{new}.yaml", engine, tmp_path, {"entry": ["serial"]})


def test_a_surrogate_key_is_not_dropped_in_place() -> None:
    v1 = (INPUTS / "keyless_v1.yaml").read_text(encoding="utf-8")
    surrogate = v1.replace("    key: {kind: natural, attributes: [serial]}\n", "")
    with pytest.raises(DiagnosticError) as raised:
        diff_plans(plan_text(surrogate, "v1.yaml"), plan_text((INPUTS / "keyless_v2.yaml").read_text(), "v2.yaml"))
    messages = [f"{d.code} {d.message}" for d in raised.value.diagnostics]
    assert any(m.startswith("PP707") and "(a surrogate key)" in m for m in messages), messages


SECURED = textwrap.dedent(
    """
    name: audit
    engines: {relational: postgresql, document: null, cache: null, search: null, wide_column: null}
    options: {relational_dialects: [postgresql, mysql, sqlite]}
    entities:
      Account:
        attributes:
          handle: {type: string, max_length: 30, unique: true}
          email: {type: string, max_length: 80, pii: contact}
          tenant_id: {type: uuid}
        growth: {initial_rows: 1000}
      Event:
        key: {kind: none}
        attributes:
          kind: {type: enum, values: [login, logout, purchase]}
          ip: {type: string, max_length: 40, pii: identifier}
          tenant_id: {type: uuid}
          at: {type: timestamp}
        growth: {initial_rows: 50000, rows_per_day: 5000}
    relationships:
      - {name: account_events, kind: one_to_many, from: Account, to: Event}
    access_patterns:
      - {name: events_of_account, entity: Event, filters: [{attribute: account_id}],
         sort: [{attribute: at, direction: desc}], limit: 50, rate: 20}
    write_patterns:
      - {name: record_event, entity: Event, kind: insert, rate: 100}
    tenancy: {isolation: row, tenant_key: tenant_id}
    security:
      encrypt_pii: true
      data_subject: Account
      roles:
        - {name: app, grants: {"*": [read, write]}}
      audit: [Event]
    """
)


@pytest.fixture(scope="module")
def secured_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan_folder(SECURED, "audit.yaml", tmp_path_factory.mktemp("secured"))


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_tenancy_encryption_erasure_and_audit_find_keyless_rows_by_their_columns(
    secured_folder: Path, engine: str
) -> None:
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(secured_folder, engine, url) == 0


def test_full_text_reads_get_no_search_projection() -> None:
    text = (
        AUDIT.replace("search: null,", "search: opensearch,")
        .replace("options: {", "options: {fulltext_fallback: relational, ")
        .replace("      at: {type: timestamp}\n", "      at: {type: timestamp}\n      note: {type: text}\n", 1)
        .replace(
            "access_patterns:\n",
            "access_patterns:\n  - {name: search_notes, entity: Event, filters: [{attribute: note, op: fulltext}]}\n",
        )
    )
    plan = plan_text(text, "audit.yaml")
    assert not plan.entities["Event"].projections
    found = [d for d in plan.diagnostics if d.code == "PP444"]
    assert [d.path for d in found] == ["entities.Event.key"] and "search_notes" in found[0].message
