"""`polyplan scaffold` for a plan with no relational entity (issue 15): a user's model
(tests/models/fleet_nosql.yaml) keeps vehicles in the document store with a search index of them,
and their positions in Cassandra. Before, the scaffold refused it (PP810); now the package serves
the stores the plan uses: settings for those alone, no relational module, a compose file with
those stores and `doc_relay` as the relay. Its functions run on the real MongoDB wire-protocol
server of POLYPLAN_MONGODB_URL (FerretDB here: no claim about MongoDB itself), OpenSearch and
Cassandra; never skipped under POLYPLAN_REQUIRE naming them."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from polyplan.diagnostics import DiagnosticError
from polyplan.pipeline import plan_file, plan_text
from polyplan.scaffold import scaffold
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.scaffold_support import scaffold_clean, scaffolded, scratch_index_prefix, scratch_keyspace

MODEL = ROOT / "tests" / "models" / "fleet_nosql.yaml"
APP = "fleet_nosql"
RELATIONAL = ("models.py", "sql.py", "reads.py", "writes.py", "projection.py", "relay.py", "load.py", "check.py")


def test_the_package_has_the_plans_stores_only() -> None:
    files, warnings = scaffold(plan_file(MODEL))
    assert "PP810" not in [w.code for w in warnings]
    names = {path.split("/", 1)[1] for path in files if path.startswith(f"{APP}/")}
    assert {"documents.py", "wide_column.py", "search.py", "doc_relay.py", "settings.py"} <= names
    assert not names & set(RELATIONAL) and not [p for p in files if p.startswith("sql/")]
    settings = files[f"{APP}/settings.py"]
    assert "DATABASE_URL" not in settings and "sqlalchemy" not in settings and "ENGINES" not in settings
    assert "FLEET_NOSQL_MONGODB_URL" in settings and "FLEET_NOSQL_CASSANDRA_URL" in settings
    assert "(no relational entity: no reads, writes or relay modules)" in files[f"{APP}/__init__.py"]
    compose = yaml.safe_load(files["compose.yml"])
    assert set(compose["services"]) == {"opensearch", "mongodb", "cassandra", "relay"}
    assert compose["services"]["relay"]["command"][-1].endswith(f"python -m {APP}.doc_relay")
    assert "FLEET_NOSQL_DATABASE_URL" not in compose["services"]["relay"]["environment"]
    assert "psycopg" not in files["requirements.txt"]


def test_nothing_to_scaffold_is_still_pp810() -> None:
    """No relational entity, and no pattern any store's module gives a function."""
    text = MODEL.read_text(encoding="utf-8").split("access_patterns:\n")[0]
    with pytest.raises(DiagnosticError) as raised:
        scaffold(plan_text(text + "access_patterns: []\nwrite_patterns: []\n", "fleet_nosql.yaml"))
    (found,) = raised.value.diagnostics
    assert found.code == "PP810" and "no relational entity" in found.message, found.message


def test_the_package_is_clean_under_mypy_strict_and_ruff(tmp_path: Path) -> None:
    scaffold_clean(MODEL, tmp_path / APP)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    with scaffolded(MODEL, tmp_path_factory.mktemp("scaffold_nosql")):
        yield {
            n: importlib.import_module(f"{APP}.{n}")
            for n in ("settings", "documents", "search", "doc_relay", "wide_column", "wide_column_runtime")
        }


def test_connect_reads_only_the_plans_stores(app: dict[str, ModuleType]) -> None:
    settings, documents, wide = app["settings"], app["documents"], app["wide_column"]
    stores = settings.connect({})  # no setting is required until a function needs its store
    with pytest.raises(settings.SettingsError, match="FLEET_NOSQL_MONGODB_URL"):
        documents.vehicle_by_plate(stores, "AB-123")
    with pytest.raises(settings.SettingsError, match="FLEET_NOSQL_CASSANDRA_URL"):
        wide.track(stores, uuid.uuid4(), datetime.now(UTC), datetime.now(UTC))


@pytest.mark.mongodb
@pytest.mark.opensearch
@pytest.mark.cassandra
def test_every_function_runs_on_the_real_stores(app: dict[str, ModuleType]) -> None:
    from polyplan.stores.document.connect import scratch_database
    from polyplan.stores.wide_column.design import design_wide_column

    settings, documents, search, relay, wide = (
        app[n] for n in ("settings", "documents", "search", "doc_relay", "wide_column")
    )
    design = design_wide_column(plan_file(MODEL))
    url = resolve_url("cassandra")
    with (
        scratch_keyspace(MODEL) as (session, keyspace),
        scratch_index_prefix() as (client, prefix),
        scratch_database(resolve_url("mongodb")) as db,
    ):
        store = app["wide_column_runtime"].WideColumnStore(url, design.keyspace, keyspace, session=session)
        stores = settings.Stores(search=client, index_prefix=prefix, documents=db, wide_column=store)
        documents.install_documents(stores)
        search.install_search(stores)
        # The document store and its index.
        ids = [uuid.UUID(int=n + 1) for n in range(4)]
        for number, key in enumerate(ids):
            documents.add_vehicle(stores, documents.Vehicle(key, f"AB-{number}", f"blue van {number}", 1000 * number))
        assert documents.drive(stores, ids[1], 1500).mileage == 1500
        assert documents.retire(stores, ids[2]).plate == "AB-2"
        assert documents.vehicle_by_plate(stores, "AB-2") is None
        assert documents.vehicle_by_plate(stores, "AB-1").mileage == 1500
        assert relay.run(stores, once=True) == 6
        client.indices.refresh(index=prefix + search.TARGETS["Vehicle"].alias)
        page = search.search_vehicles(stores, "van")
        assert page.total == 3 and {h.plate for h in page.hits} == {"AB-0", "AB-1", "AB-3"}
        assert {h.mileage for h in page.hits if h.plate == "AB-1"} == {1500}
        # Cassandra's time series, walked by day bucket newest first.
        start = datetime(2026, 3, 1, 22, tzinfo=UTC)
        moments = [start + timedelta(hours=5 * n) for n in range(5)]  # over two day buckets
        for n, moment in enumerate(moments):
            wide.record_position(stores, wide.Position(ids[0], moment, float(n)))
        wide.record_position(stores, wide.Position(ids[1], start, 99.0))
        found = wide.track(stores, ids[0], start, moments[-1] + timedelta(seconds=1))  # [from, to)
        assert [p.speed_kmh for p in found] == [4.0, 3.0, 2.0, 1.0, 0.0]
        assert [p.taken_at for p in found] == sorted(moments, reverse=True)
