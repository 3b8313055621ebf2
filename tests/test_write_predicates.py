"""Write predicates (issue 14): `where:` on updates and deletes, `lock: for_update`, in every store.

Design tests read what the targets emit for small models of our own; the real-engine tests run
the generated relational test modules, which execute each write with its predicate on the seeded
rows and compare the rows written with the oracle's (count, keys, values), on SQLite, PostgreSQL
and MariaDB.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from polyplan.model.schema import json_schema
from polyplan.pipeline import plan_text, render
from polyplan.plan.predicates import all_predicates
from polyplan.stores.relational.design import design_schema
from polyplan.stores.relational.indexes import index_plan_of
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.conftest import RELATIONAL_ENGINES, break_and_validate, plan_folder

HELPDESK = textwrap.dedent(
    """
    name: helpdesk
    engines: {relational: postgresql, document: null, cache: null, search: null, wide_column: null}
    options: {relational_dialects: [postgresql, mysql, sqlite]}
    entities:
      Ticket:
        attributes:
          code: {type: string, max_length: 20, unique: true}
          status: {type: enum, values: [open, pending, closed], weights: [6, 3, 1]}
          priority: {type: integer, min: 1, max: 5}
          opened_at: {type: timestamp}
          assignee: {type: string, max_length: 40, nullable: true}
        growth: {initial_rows: 2000000, rows_per_day: 20000}
    access_patterns:
      - {name: ticket_by_code, entity: Ticket, filters: [{attribute: code}], rate: 100}
    write_patterns:
      - {name: open_ticket, entity: Ticket, kind: insert, rate: 20}
      - name: close_stale
        entity: Ticket
        kind: update
        attributes: [status]
        where: [{attribute: status, value: pending}, {attribute: opened_at, op: lt}]
        rate: 50
      - name: reassign_queue
        entity: Ticket
        kind: update
        attributes: [assignee]
        lock: for_update
        where: [{attribute: priority}, {attribute: opened_at, op: range}]
        rate: 30
      - name: purge_closed
        entity: Ticket
        kind: delete
        where: [{attribute: status, value: closed}, {attribute: opened_at, op: lt}]
        rate: 5
    """
)


@pytest.fixture(scope="module")
def emitted() -> dict[str, str]:
    files, _ = render(plan_text(HELPDESK, "helpdesk.yaml"))
    return files


def test_the_model_reads_where_and_lock_once_for_every_store() -> None:
    plan = plan_text(HELPDESK, "helpdesk.yaml")
    found = {p.write: (p.kind.value, p.attributes, p.locks) for p in all_predicates(plan.model)}
    assert found == {
        "close_stale": ("update", ("status",), False),
        "reassign_queue": ("update", ("assignee",), True),
        "purge_closed": ("delete", (), False),
    }
    write = json_schema()["$defs"]["WritePattern"]["properties"]
    assert write["where"]["items"] == {"$ref": "#/$defs/Filter"}
    assert "for_update" in json.dumps(json_schema()["$defs"]["Lock"])


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_relational_writes_carry_their_predicate(emitted: dict[str, str], engine: str) -> None:
    text = emitted[f"relational/{engine}/writes.sql"]
    assert "-- name: close_stale" in text and "-- name: purge_closed" in text
    assert "ticket.status = 'pending' AND ticket.opened_at < :opened_at_to" in text
    assert "DELETE FROM ticket WHERE ticket.status = 'closed' AND ticket.opened_at < :opened_at_to;" in text
    assert (
        "SET assignee=:assignee_new WHERE ticket.priority = :priority AND ticket.opened_at >= :opened_at_from" in text
    )
    lock = text.split("-- name: reassign_queue.lock", 1)[1].split(";", 1)[0]
    # The lock selects the same rows first; SQLite has no row locks (BEGIN IMMEDIATE instead).
    assert ("FOR UPDATE" in lock.split("\nSELECT", 1)[1]) == (engine != "sqlite")
    assert "ticket.priority = :priority" in lock


def test_the_index_design_serves_a_write_predicate_when_its_rate_warrants_it() -> None:
    plan = plan_text(HELPDESK, "helpdesk.yaml")
    tables, _ = design_schema(plan)
    (ticket,) = [t for t in tables if t.name == "ticket"]
    planned = index_plan_of(ticket)
    assert planned is not None
    routes = {r.pattern: r for r in planned.routes}
    assert routes["reassign_queue"].index == "ix_ticket_priority_opened_at"
    assert [tuple(c.name for c in i.columns) for i in ticket.indexes] == [("priority", "opened_at")]
    # Run a few times a day, the same predicate is not worth maintaining an index on every insert.
    slow = plan_text(HELPDESK.replace("rate: 30", "rate: 0.0001"), "helpdesk.yaml")
    (slow_ticket,) = [t for t in design_schema(slow)[0] if t.name == "ticket"]
    assert not slow_ticket.indexes


def test_index_plan_md_gives_the_reason(emitted: dict[str, str]) -> None:
    text = emitted["docs/index-plan.md"]
    assert "reassign_queue (30/s: update where priority =, opened_at range)" in text
    assert "| `purge_closed` | `ticket` | delete where status = 'closed', opened_at range |" in text


def test_generated_tests_name_every_predicated_write(emitted: dict[str, str]) -> None:
    module = emitted["tests/test_sqlite.py"]
    assert "def test_write_predicate_matches_oracle" in module
    for name in ("close_stale", "reassign_queue", "purge_closed"):
        assert f"    {name!r},\n" in module


OTHER_STORES = textwrap.dedent(
    """
    name: readings
    engines: {cache: null, search: null}
    entities:
      Reading:
        placement: {family: wide_column}
        key: {attributes: [sensor, taken_at], kind: natural}
        attributes:
          sensor: {type: string, max_length: 20}
          taken_at: {type: timestamp}
          value: {type: float}
        growth: {initial_rows: 100000000, rows_per_day: 5000000}
      Doc:
        placement: {family: document}
        attributes:
          owner: {type: string, max_length: 40}
          state: {type: enum, values: [draft, live]}
        growth: {initial_rows: 100000}
    access_patterns:
      - {name: readings_of_sensor, entity: Reading, filters: [{attribute: sensor}, {attribute: taken_at, op: range}],
         sort: [{attribute: taken_at, direction: desc}], rate: 500, staleness_seconds: 5}
      - {name: docs_of_owner, entity: Doc, filters: [{attribute: owner}], rate: 50}
    write_patterns:
      - {name: purge_sensor, entity: Reading, kind: delete, rate: 1,
         where: [{attribute: sensor}, {attribute: taken_at, op: range}]}
      - {name: fix_values, entity: Reading, kind: update, attributes: [value], rate: 1,
         where: [{attribute: value, op: gt}]}
      - {name: publish_owner, entity: Doc, kind: update, attributes: [state], rate: 5, lock: for_update,
         where: [{attribute: owner}, {attribute: state, value: draft}]}
    """
)


@pytest.fixture(scope="module")
def other() -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    files, diagnostics = render(plan_text(OTHER_STORES, "readings.yaml"))
    return files, [(d.code, d.path, d.message) for d in diagnostics]


def test_mongodb_applies_the_predicate_with_update_many(
    other: tuple[dict[str, str], list[tuple[str, str, str]]],
) -> None:
    files, diagnostics = other
    (bulk,) = json.loads(files["mongodb/queries.json"])["bulk_writes"]
    assert bulk["method"] == "update_many"
    assert bulk["filter"] == {"owner": {"$param": "owner"}, "state": "draft"}
    assert bulk["update"] == {"$set": {"state": {"$param": "state_new"}}}
    # No read lock in MongoDB: said with a code.
    assert [p for c, p, _ in diagnostics if c == "PP415"] == ["write_patterns.2.lock"]


def test_cassandra_uses_the_partition_key_or_warns(other: tuple[dict[str, str], list[tuple[str, str, str]]]) -> None:
    files, diagnostics = other
    operations = json.loads(files["cassandra/writes.json"])["entities"]["Reading"]["operations"]
    first = operations["purge_sensor"]["notes"][0]
    assert first.startswith("find the rows first with `SELECT sensor, taken_at_day, taken_at FROM ")
    assert "WHERE sensor = :sensor AND taken_at_day = :taken_at_day AND taken_at >= :taken_at_from" in first
    assert "once per taken_at_day (day) between the bounds" in first
    # value > ? fixes no partition key: a scan of the cluster, so a warning, not a statement.
    assert operations["fix_values"]["notes"][0].startswith("no table's partition key is fixed by the predicate")
    assert [p for c, p, _ in diagnostics if c == "PP414"] == ["write_patterns.1.where"]


def test_a_cache_or_search_copy_warns_that_it_cannot_follow_a_predicate() -> None:
    model = HELPDESK.replace("cache: null, search: null", "cache: redis, search: null").replace(
        "{name: ticket_by_code, entity: Ticket, filters: [{attribute: code}], rate: 100}",
        "{name: ticket_by_code, entity: Ticket, filters: [{attribute: code}], rate: 5000, staleness_seconds: 30}",
    )
    _, diagnostics = render(plan_text(model, "helpdesk.yaml"))
    warned = sorted(d.path for d in diagnostics if d.code == "PP414")
    assert warned == ["write_patterns.1.where", "write_patterns.2.where", "write_patterns.3.where"]


# --- real engines ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan_folder(HELPDESK, "helpdesk.yaml", tmp_path_factory.mktemp("helpdesk"))


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_generated_write_tests_pass_on_the_engine(folder: Path, engine: str) -> None:
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(folder, engine, url) == 0


def test_a_write_that_loses_its_predicate_fails_the_generated_test(folder: Path, tmp_path: Path) -> None:
    """The check is not vacuous: a DELETE without its status condition writes too many rows."""
    relative = "relational/sqlite/writes.sql"
    before = "DELETE FROM ticket WHERE ticket.status = 'closed' AND "
    assert break_and_validate(folder, tmp_path / "plan", relative, before, "DELETE FROM ticket WHERE ") == 1


@pytest.mark.postgresql
def test_the_lock_block_holds_the_rows_against_another_writer_on_postgresql(folder: Path) -> None:
    """`reassign_queue.lock` really locks: while its transaction is open, another transaction's
    UPDATE of a selected row waits (and gives up at its lock_timeout)."""
    import sqlalchemy as sa

    from polyplan.stores.relational.connect import scratch_database
    from polyplan.validate.relational import Harness

    harness = Harness.from_plan_folder(folder / "tests", "postgresql")
    lock = harness.writes["reassign_queue.lock"]
    with scratch_database(resolve_url("postgresql")) as engine:
        harness.load(engine)
        row = harness.loaded["ticket"][0]
        binds = {"priority": row["priority"], "opened_at_from": row["opened_at"], "opened_at_to": None}
        with engine.connect() as holder, holder.begin():
            binds["opened_at_to"] = holder.execute(
                sa.text("SELECT max(opened_at) + interval '1 second' FROM ticket")
            ).scalar_one()
            locked = holder.execute(sa.text(lock.sql), binds).scalars().all()
            assert row["id"] in locked
            with engine.connect() as other, other.begin():
                other.execute(sa.text("SET LOCAL lock_timeout = '300ms'"))
                with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                    other.execute(sa.text("UPDATE ticket SET assignee = 'x' WHERE id = :id"), {"id": row["id"]})
        engine.dispose()


def _bind(value: object, binds: dict[str, object]) -> object:
    """A queries.json filter or update with each {"$param": name} replaced by its value."""
    if isinstance(value, dict):
        if set(value) == {"$param"}:
            return binds[str(value["$param"])]
        return {k: _bind(v, binds) for k, v in value.items()}
    return value


@pytest.mark.mongodb
def test_the_emitted_update_many_writes_the_matching_documents_on_the_document_server(
    other: tuple[dict[str, str], list[tuple[str, str, str]]],
) -> None:
    """On the server at POLYPLAN_MONGODB_URL (FerretDB here): the bulk write's filter and $set change
    exactly the documents the predicate matches."""
    from polyplan.stores.document import connect

    files, _ = other
    (bulk,) = json.loads(files["mongodb/queries.json"])["bulk_writes"]
    documents = [{"_id": n, "owner": f"o{n % 3}", "state": "draft" if n % 2 else "live"} for n in range(30)]
    with connect.scratch_database(resolve_url("mongodb")) as db:
        collection = db[bulk["collection"]]
        collection.insert_many(documents)
        binds = {"owner": "o1", "state_new": "live"}
        result = collection.update_many(_bind(bulk["filter"], binds), _bind(bulk["update"], binds))
        expected = [d["_id"] for d in documents if d["owner"] == "o1" and d["state"] == "draft"]
        assert result.matched_count == len(expected) == 5
        assert sorted(d["_id"] for d in collection.find({"owner": "o1", "state": "live"})) == sorted(
            d["_id"] for d in documents if d["owner"] == "o1"
        )
