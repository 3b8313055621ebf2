"""`polyplan scaffold` for entities the plan keeps in the document store (issue 15): counters'
Profile (a find with `$gt` and a sort, a unique lookup, two `$inc` increments) and saas' CustomRecord
(an equality find sorted by a timestamp, an upsert). Every generated function runs against the real
MongoDB wire-protocol server of POLYPLAN_MONGODB_URL (FerretDB on this machine: never a claim about
MongoDB itself) and is compared with answers computed here from the seeded documents; a server that
does not answer gives one line. Never skipped under POLYPLAN_REQUIRE=mongodb."""

from __future__ import annotations

import importlib
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.model.schema import Attribute
from polyplan.pipeline import plan_file
from polyplan.scaffold import scaffold
from polyplan.scaffold.design import design_scaffold
from polyplan.scaffold.document_runtime import DocumentStoreUnreachable, from_bson, to_bson
from polyplan.stores.document.codec import bson_value, fields_document
from polyplan.stores.document.design import design as document_design
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.scaffold_support import imported_scaffolds

COUNTERS = ROOT / "scenarios" / "counters.yaml"
SAAS = ROOT / "scenarios" / "saas.yaml"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    """The counters and saas scaffolds, written and imported (their documents modules)."""
    root = tmp_path_factory.mktemp("scaffold_document")
    with imported_scaffolds(root, (COUNTERS, SAAS), "documents") as loaded:
        yield loaded


def test_values_are_stored_as_the_document_codec_stores_them() -> None:
    """The package's runtime (which cannot import polyplan) converts as polyplan's codec does."""
    moment = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
    cases: list[tuple[str, Any]] = [
        ("uuid", uuid.UUID(int=7)),
        ("decimal", Decimal("12.50")),
        ("timestamptz", moment),
        ("timestamp", moment.replace(tzinfo=None)),
        ("date", date(2026, 3, 4)),
        ("float", 2),
        ("integer", 3),
        ("string", "a"),
        ("boolean", True),
    ]
    for kind, value in cases:
        ours, codec = to_bson(kind, value), bson_value(Attribute.model_validate({"type": kind}), value)
        if kind == "decimal":  # polyplan's codec has its own driver-free Decimal128 (extjson): same digits
            ours, codec = str(ours), str(codec)
        assert ours == codec, kind
    assert from_bson("timestamptz", to_bson("timestamptz", moment)) == moment.replace(microsecond=891000)
    assert from_bson("date", to_bson("date", date(2026, 3, 4))) == date(2026, 3, 4)
    assert from_bson("decimal", to_bson("decimal", Decimal("12.50"))) == Decimal("12.50")


def test_document_patterns_get_functions_and_only_the_others_are_warned_about() -> None:
    plan = plan_file(COUNTERS)
    design = design_scaffold(plan)
    documents = design.documents
    assert documents is not None
    assert [r.pattern for r in documents.reads] == ["popular_profiles", "profile_by_handle"]
    assert [(w.name, w.kind.value) for w in documents.writes] == [("follow", "increment"), ("unfollow", "increment")]
    # Exactly the document target's queries and $inc updates (one source: polyplan.stores.document).
    planned = {q.pattern: q for q in document_design(plan).queries}
    for read in documents.reads:
        query = planned[read.pattern]
        assert read.query["filter"] == query.filter and read.query["limit"] == query.limit
        assert read.query["sort"] == [[p, d] for p, d in query.sort]
    assert documents.writes[1].command["update"] == {"$inc": {"followers": -1}}
    _, warnings = scaffold(plan)
    said = " ".join(d.message for d in warnings)
    assert "Profile" not in said and "document" not in said
    saas = design_scaffold(plan_file(SAAS)).documents
    assert saas is not None and [w.name for w in saas.writes] == ["save_record"]


def test_a_missing_or_silent_document_store_is_one_line(packages: dict[str, ModuleType]) -> None:
    documents = packages["counters"]
    settings = importlib.import_module("counters.settings")
    runtime = importlib.import_module("counters.document_runtime")
    stores = settings.Stores(sa.create_engine("sqlite://"))
    with pytest.raises(settings.SettingsError) as missing:
        documents.profile_by_handle(stores, "x")
    assert str(missing.value) == "profile_by_handle needs the document store: set COUNTERS_MONGODB_URL to its URL"
    silent = runtime.mongodb_database("mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300", None, "counters")
    with pytest.raises(runtime.DocumentStoreUnreachable) as unreachable:
        documents.follow(settings.Stores(sa.create_engine("sqlite://"), documents=silent), uuid.uuid4())
    (line,) = str(unreachable.value).splitlines()
    assert line.startswith("follow: the document store is not reachable (ServerSelectionTimeoutError: "), line
    assert runtime.DocumentStoreUnreachable.__name__ == DocumentStoreUnreachable.__name__
    # connect() reads the URL in the settings module, the one place.
    connected = settings.connect({"COUNTERS_DATABASE_URL": "sqlite://", "COUNTERS_MONGODB_URL": "mongodb://h:1/app"})
    assert connected.documents is not None and connected.documents.name == "app"


@pytest.mark.mongodb
def test_every_document_function_answers_as_the_seeded_documents_say(packages: dict[str, ModuleType]) -> None:
    from polyplan.stores.document.connect import scratch_database

    called: dict[str, set[str]] = {"counters": set(), "saas": set()}
    with scratch_database(resolve_url("mongodb")) as db:
        # --- counters: Profile --------------------------------------------------------------
        documents = packages["counters"]
        settings = importlib.import_module("counters.settings")
        stores = settings.Stores(sa.create_engine("sqlite://"), documents=db)
        documents.install_documents(stores)
        called["counters"].add("install_documents")
        assert {"followers_-1", "handle_1"} <= {i["name"] for i in db["profile"].list_indexes()}
        plan = plan_file(COUNTERS)
        collection = document_design(plan).collection_of("Profile")
        assert collection is not None
        attributes = plan.model.entities["Profile"].attributes
        rng = random.Random(15)
        profiles = []
        for number, followers in enumerate(rng.sample(range(1000), 30)):
            record = {"id": uuid.UUID(int=number + 1), "handle": f"user{number}", "followers": followers}
            record["settings"] = {"theme": rng.choice(["dark", "light"])}
            profiles.append(record)
        id_attribute = Attribute.model_validate({"type": "uuid"})
        # Seeded with polyplan's own codec (not the package's), as the plan's document shape says.
        db["profile"].insert_many(
            [fields_document({"id": id_attribute, **attributes}, p, paths=collection.paths) for p in profiles]
        )
        above = sorted(p["followers"] for p in profiles)[12]
        expected = sorted((p for p in profiles if p["followers"] > above), key=lambda p: -p["followers"])[:10]
        got = documents.popular_profiles(stores, above)
        called["counters"].add("popular_profiles")
        assert [(p.id, p.handle, p.followers, p.settings) for p in got] == [
            (e["id"], e["handle"], e["followers"], e["settings"]) for e in expected
        ]
        one = profiles[3]
        found = documents.profile_by_handle(stores, one["handle"])
        called["counters"].add("profile_by_handle")
        assert found == documents.Profile(one["id"], one["handle"], one["followers"], one["settings"])
        assert documents.profile_by_handle(stores, "nobody") is None
        for _ in range(3):
            assert documents.follow(stores, one["id"]) is True
        assert documents.unfollow(stores, one["id"]) is True
        called["counters"] |= {"follow", "unfollow"}
        after = documents.profile_by_handle(stores, one["handle"])
        assert after is not None and after.followers == one["followers"] + 2
        assert documents.follow(stores, uuid.uuid4()) is False  # no document has that key: nothing created
        assert db["profile"].count_documents({}) == 30

        # --- saas: CustomRecord -----------------------------------------------------------------
        documents = packages["saas"]
        settings = importlib.import_module("saas.settings")
        stores = settings.Stores(sa.create_engine("sqlite://"), documents=db)
        documents.install_documents(stores)
        called["saas"].add("install_documents")
        tenants = [uuid.UUID(int=100), uuid.UUID(int=200)]
        start = datetime(2026, 1, 1, tzinfo=UTC)
        rows = []
        for number in range(24):
            moment = start + timedelta(minutes=rng.randrange(100000), milliseconds=rng.randrange(1000))
            row = documents.CustomRecord(
                uuid.UUID(int=1000 + number),
                rng.choice(["Vendor", "Contract"]),
                {"n": number, "tags": ["a", "b"][: number % 3]},
                start,
                moment,
                tenants[number % 2],
            )
            assert documents.save_record(stores, row) == row
            rows.append(row)
        called["saas"].add("save_record")
        changed = documents.CustomRecord(
            rows[0].id, rows[0].record_type, {"n": -1}, start, rows[0].updated_at, tenants[0]
        )
        documents.save_record(stores, changed)  # the same key: replaced, not added
        rows[0] = changed
        assert db["custom_record"].count_documents({}) == 24
        for tenant in tenants:
            for kind in ("Vendor", "Contract"):
                expected_rows = sorted(
                    (r for r in rows if r.tenant_id == tenant and r.record_type == kind),
                    key=lambda r: r.updated_at,
                    reverse=True,
                )[:50]
                assert expected_rows, (tenant, kind)
                assert documents.records_by_type(stores, tenant, kind) == expected_rows
        called["saas"].add("records_by_type")
    for name, module in packages.items():
        assert called[name] == set(module.__all__), name
