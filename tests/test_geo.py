"""Geo points (`geo_point`, `near`, `within`, a distance sort) and facets (issue 12).

Design tests read what the stores' artifacts say for tests/models/stores_geo.yaml; real-engine
tests run the generated relational modules (haversine oracle) on SQLite, PostgreSQL with PostGIS
and without it (options.postgis: false) and MariaDB, break the emitted SQL to show the generated
test notices, and run the emitted OpenSearch geo and facet queries on the live server against
the same oracle and a count of the documents.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.model.derived import all_attributes
from polyplan.model.schema import json_schema
from polyplan.pipeline import plan_text, render
from polyplan.plan.geo import GEO_TOLERANCE, METRES_PER_DEGREE, haversine_m
from polyplan.seed.generate import generate
from polyplan.stores.search.documents import to_document
from polyplan.stores.search.engines import OPENSEARCH
from polyplan.stores.search.mapping import FieldUse, analysis_settings, field_mapping
from polyplan.stores.search.queries import build_query, template_source
from polyplan.testkit import resolve_url
from polyplan.validate.oracle import canon
from polyplan.validate.runner import run_validation
from tests.conftest import RELATIONAL_ENGINES, break_and_validate, plan_folder

MODEL_PATH = Path(__file__).resolve().parent / "models" / "stores_geo.yaml"
MODEL = MODEL_PATH.read_text(encoding="utf-8")
NO_POSTGIS = MODEL.replace("  relational_dialects:", "  postgis: false\n  relational_dialects:")


@pytest.fixture(scope="module")
def emitted() -> tuple[dict[str, str], list[Any]]:
    files, diagnostics = render(plan_text(MODEL, "stores_geo.yaml"))
    return files, diagnostics


def test_the_json_schema_describes_geo_and_facets() -> None:
    definitions = json_schema()["$defs"]
    assert "geo_point" in definitions["TypeName"]["enum"]
    assert {"near", "within"} <= set(definitions["FilterOp"]["enum"])
    assert definitions["AccessPattern"]["properties"]["facets"]["items"] == {"type": "string"}
    assert definitions["Options"]["properties"]["postgis"]["default"] is True


def test_haversine_on_the_mean_sphere() -> None:
    assert haversine_m(0, 0, 1, 0) == pytest.approx(METRES_PER_DEGREE)
    # Across the antimeridian: one degree of longitude at the equator, not 359.
    assert haversine_m(0, 179.5, 0, -179.5) == pytest.approx(METRES_PER_DEGREE)
    assert haversine_m(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(343_556, abs=100)  # Paris–London


def test_postgis_schema_and_queries(emitted: tuple[dict[str, str], list[Any]]) -> None:
    files, diagnostics = emitted
    schema = files["relational/postgresql/schema.sql"]
    assert "CREATE EXTENSION IF NOT EXISTS postgis;" in schema
    assert (
        'location_geog geography(Point,4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint("location_lon", '
        '"location_lat"), 4326)::geography) STORED' in schema
    )
    assert "CREATE INDEX ix_shop_location_geog ON shop USING gist (location_geog);" in schema
    assert "CREATE INDEX ix_shop_location_latlon ON shop (location_lat, location_lon);" in schema
    queries = files["relational/postgresql/queries.sql"]
    assert "ST_DWithin(shop.location_geog, CAST(ST_SetSRID(ST_MakePoint(:location_lon, :location_lat), 4326)" in queries
    assert "ORDER BY (shop.location_geog <-> CAST(" in queries
    assert not [d for d in diagnostics if d.code == "PP422"]  # PostGIS serves it


def test_mariadb_keeps_a_spatial_point_by_triggers(emitted: tuple[dict[str, str], list[Any]]) -> None:
    files, _ = emitted
    schema = files["relational/mysql/schema.sql"]
    assert "location_point POINT REF_SYSTEM_ID=4326 NOT NULL" in schema
    assert "CREATE SPATIAL INDEX ix_shop_location_point ON shop (location_point);" in schema
    assert "BEFORE INSERT ON `shop` FOR EACH ROW SET NEW.`location_point` = ST_GeomFromWKB(" in schema
    assert "BEFORE UPDATE ON `shop`" in schema
    assert (
        "ST_Distance_Sphere(shop.location_point, Point(:location_lon, :location_lat), 6371008.8)"
        in (files["relational/mysql/queries.sql"])
    )


def test_without_postgis_the_fallback_is_stated() -> None:
    files, diagnostics = render(plan_text(NO_POSTGIS, "stores_geo.yaml"))
    schema = files["relational/postgresql/schema.sql"]
    assert "postgis" not in schema.lower() and "geography" not in schema
    assert "CREATE INDEX ix_shop_location_latlon ON shop (location_lat, location_lon);" in schema
    queries = files["relational/postgresql/queries.sql"]
    assert "shop.location_lat BETWEEN :location_lat - (:location_radius_m / 111195.08023353292)" in queries
    assert "<= power(sin(:location_radius_m / 12742017.6), 2)" in queries
    warned = sorted(d.path for d in diagnostics if d.code == "PP422")
    assert warned == ["access_patterns.0.filters", "access_patterns.1.filters", "access_patterns.2.filters"]
    assert all("PostGIS" in d.message for d in diagnostics if d.code == "PP422")


def test_stores_without_a_geo_design_warn() -> None:
    model = MODEL.replace("engines: {relational: postgresql, document: null,", "engines: {relational: postgresql,")
    model = model.replace(
        "      location: {type: geo_point}\n", "      location: {type: geo_point}\n    placement: {family: document}\n"
    )
    model = model.replace(
        "      price: {type: decimal, precision: 8, scale: 2, min: 0}\n",
        "      price: {type: decimal, precision: 8, scale: 2, min: 0}\n    placement: {family: document}\n",
    )
    model = model.replace("search: opensearch", "search: null").replace(
        "  relational_dialects:", "  fulltext_fallback: relational\n  relational_dialects:"
    )
    _, diagnostics = render(plan_text(model, "stores_geo.yaml"))
    assert sorted(d.path for d in diagnostics if d.code == "PP423") == [
        f"access_patterns.{i}.filters" for i in range(4)
    ]
    assert [d.path for d in diagnostics if d.code == "PP424"] == ["access_patterns.4.facets"]


def test_the_search_mapping_counts_facets_as_written(emitted: tuple[dict[str, str], list[Any]]) -> None:
    files, _ = emitted
    mappings = json.loads(files["opensearch/product.template.json"])["template"]["mappings"]["properties"]
    assert mappings["brand"] == {
        "type": "keyword",
        "normalizer": "pp_lowercase",
        "fields": {"raw": {"type": "keyword"}},
    }
    source = json.loads(files["opensearch/queries.json"])["indexes"]["product"]["patterns"]["search_products"]["source"]
    assert '"aggs":{"facet_brand":{"terms":{"field":"brand.raw","size":5}}' in source
    shop = json.loads(files["opensearch/shop.template.json"])["template"]["mappings"]["properties"]
    assert shop["location"] == {"type": "geo_point"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan_folder(MODEL, "stores_geo.yaml", tmp_path_factory.mktemp("geo"))


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_generated_geo_tests_pass_on_the_engine(folder: Path, engine: str) -> None:
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(folder, engine, url) == 0


@pytest.mark.postgresql
def test_generated_geo_tests_pass_on_postgresql_without_postgis(tmp_path: Path) -> None:
    fallback = plan_folder(NO_POSTGIS, "stores_geo.yaml", tmp_path)
    assert run_validation(fallback, "postgresql", resolve_url("postgresql")) == 0


HAVERSINE = (
    "power(sin(radians(shop.location_lat - :location_lat) / 2.0), 2) + cos(radians(:location_lat)) * "
    "cos(radians(shop.location_lat)) * power(sin(radians(shop.location_lon - :location_lon) / 2.0), 2) <= "
    "power(sin(:location_radius_m / 12742017.6), 2)"
)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            f"WHERE shop.location_lat BETWEEN :location_lat - (:location_radius_m / 111195.08023353292) AND "
            f":location_lat + (:location_radius_m / 111195.08023353292) AND {HAVERSINE} ORDER BY",
            "WHERE :location_radius_m = :location_radius_m AND :location_lat = :location_lat AND :location_lon = "
            ":location_lon ORDER BY",
        ),  # the geo clause ignored
        ("12742017.6), 2) ORDER BY", "6371008.8), 2) ORDER BY"),  # twice the radius
        (
            "shop.location_lon BETWEEN :location_west AND :location_east",
            "shop.location_lon >= :location_west AND :location_east = :location_east",
        ),  # an open box
        ("2.0), 2) ASC\n LIMIT 20", "2.0), 2) DESC\n LIMIT 20"),  # farthest first
    ],
)
def test_a_wrong_geo_query_fails_the_generated_test(folder: Path, tmp_path: Path, before: str, after: str) -> None:
    assert break_and_validate(folder, tmp_path / "plan", "relational/sqlite/queries.sql", before, after) == 1


def test_a_reordered_geo_index_fails_the_catalog_check_naming_it(folder: Path, tmp_path: Path) -> None:
    """No EXPLAIN proof covers a geo read (the oracle proves its answers): the generated index
    tests' catalog check reads the (lat, lon) B-tree back, columns in order."""
    copy = tmp_path / "plan"
    shutil.copytree(folder, copy)
    schema = copy / "relational" / "sqlite" / "schema.sql"
    text = schema.read_text(encoding="utf-8")
    assert "ix_shop_location_latlon ON shop (location_lat, location_lon)" in text
    schema.write_text(text.replace("(location_lat, location_lon)", "(location_lon, location_lat)"), encoding="utf-8")
    with tempfile.TemporaryFile("w+", encoding="utf-8") as output:
        code = run_validation(copy, "sqlite", None, trust_edits=True, modules=["test_sqlite_indexes.py"], output=output)
        output.seek(0)
        report = output.read()
    assert code == 1, report[-2000:]
    assert (
        "shop.ix_shop_location_latlon key is (location_lon, location_lat), designed (location_lat, location_lon)"
        in report
    )


# --- OpenSearch: the emitted geo and facet templates on the live server ----------------------------


@pytest.mark.opensearch
def test_opensearch_geo_and_facets_match_the_oracle() -> None:
    from polyplan.stores.search.connect_opensearch import connect, index_documents

    plan = plan_text(MODEL, "stores_geo.yaml")
    model = plan.model
    client = connect(resolve_url("opensearch"))
    index = f"polyplan-geo-{uuid.uuid4().hex[:8]}"
    records = generate(model, {"Shop": 300, "Product": 300}, seed=7, only=["Shop", "Product"])
    try:
        checked = 0
        for entity, patterns in (("Shop", ["shops_near_me", "pharmacies_near", "shops_in_view"]), ("Product", [])):
            attributes = all_attributes(model, entity)
            mappings = {
                name: field_mapping(a, FieldUse(facet=True), "english", name, []) for name, a in attributes.items()
            }
            name = f"{index}-{entity.lower()}"
            client.indices.create(
                index=name,
                body={
                    "settings": {"number_of_replicas": 0, **analysis_settings(["english"])},
                    "mappings": {"properties": mappings},
                },
            )
            docs = [{"_id": str(r["id"]), "source": to_document(r, attributes), "version": 1} for r in records[entity]]
            index_documents(client, name, docs)
            by_name = {p.name: p for p in model.access_patterns}
            for pattern_name in patterns:
                pattern = by_name[pattern_name]
                query = build_query(name, pattern, attributes, mappings, OPENSEARCH)
                for params, want, either in _opensearch_cases(pattern, records[entity]):
                    found = client.search_template(
                        index=name, body={"source": template_source(query.body), "params": {**params, "size": 500}}
                    )
                    got = [h["_id"] for h in found["hits"]["hits"]]
                    # size 500, past every case's matches: the whole circle or box is compared.
                    assert set(got) - either <= want and want - set(got) <= either, f"{pattern_name} with {params}"
                    if pattern.sort:
                        distances = [h["sort"][0] for h in found["hits"]["hits"]]
                        assert distances == sorted(distances)
                    checked += 1
            if entity == "Product":
                facet = next(p for p in model.access_patterns if p.facets)
                query = build_query(name, facet.model_copy(update={"filters": []}), attributes, mappings, OPENSEARCH)
                found = client.search_template(index=name, body={"source": template_source(query.body), "params": {}})
                for attribute in facet.facets:
                    counts = Counter(str(r[attribute]) for r in records[entity])
                    buckets = found["aggregations"][f"facet_{attribute}"]["buckets"]
                    assert [(b["key"], b["doc_count"]) for b in buckets] == sorted(
                        counts.items(), key=lambda item: (-item[1], item[0])
                    )[: facet.facet_size]
                    checked += 1
        assert checked >= 8
    finally:
        client.indices.delete(index=f"{index}-*", ignore_unavailable=True)


def _opensearch_cases(pattern: Any, records: list[dict[str, Any]]) -> list[tuple[dict[str, Any], set[str], set[str]]]:
    """Parameter sets, the ids sure to match and those within the tolerance of the radius."""
    cases = []
    near = any(f.op.value == "near" for f in pattern.filters)
    constant = next((f.value for f in pattern.filters if f.attribute == "category"), None)
    kept = [r for r in records if constant is None or r["category"] == constant]
    for centre in kept[::40][:4]:
        lat, lon = centre["location"]["lat"], centre["location"]["lon"]
        if near:
            for radius in (20_000.0, 300_000.0):
                dist = {str(r["id"]): haversine_m(lat, lon, r["location"]["lat"], r["location"]["lon"]) for r in kept}
                want = {k for k, d in dist.items() if d <= radius * (1 - GEO_TOLERANCE)}
                either = {k for k, d in dist.items() if abs(d - radius) < radius * GEO_TOLERANCE}
                assert 0 < len(want) < len(kept)  # the clusters discriminate
                params = {"location_lat": lat, "location_lon": lon, "location_radius_m": radius}
                cases.append((params, want, either))
        else:
            south, north, west, east = lat - 1, lat + 1, lon - 2, lon + 2
            want = {
                str(r["id"])
                for r in kept
                if south <= r["location"]["lat"] <= north and west <= r["location"]["lon"] <= east
            }
            assert 0 < len(want) < len(kept)
            box = {"location_south": south, "location_north": north, "location_west": west, "location_east": east}
            cases.append((box, want, set()))
    return cases


# --- facets a relational store serves: GROUP BY counts beside the query ----------------------------

FACETS = """
name: facets_rel
engines: {relational: postgresql, document: null, cache: null, search: null, wide_column: null}
options: {relational_dialects: [postgresql, mysql, sqlite]}
entities:
  Product:
    attributes:
      brand: {type: string, max_length: 40, distinct: 12}
      category: {type: enum, values: [audio, video, kitchen, garden]}
      price: {type: decimal, precision: 8, scale: 2, min: 0}
    growth: {initial_rows: 50000}
access_patterns:
  - name: products_of_category
    entity: Product
    filters: [{attribute: category}]
    facets: [brand, price]
    facet_size: 3
    limit: 20
"""


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_relational_facets_count_what_the_filters_select(tmp_path: Path, engine: str) -> None:
    from polyplan.stores.relational.connect import scratch_database
    from polyplan.validate.oracle import parse_queries
    from polyplan.validate.relational import Harness

    folder = plan_folder(FACETS, "facets.yaml", tmp_path)
    facets = parse_queries((folder / "relational" / engine / "facets.sql").read_text(encoding="utf-8"))
    assert sorted(facets) == ["products_of_category__facet_brand", "products_of_category__facet_price"]
    harness = Harness.from_plan_folder(folder / "tests", engine)
    rows = harness.canonical["product"]
    url = "sqlite://" if engine == "sqlite" else resolve_url(engine)
    with scratch_database(url) as database:
        harness.load(database)
        checked = 0
        for category in ("audio", "video", "kitchen", "garden"):
            selected = [r for r in rows if r["category"] == category]
            for query in facets.values():
                column = query.columns[0]
                counts = Counter(r[column] for r in selected)
                want = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:3]
                with database.connect() as connection:
                    got = connection.execute(sa.text(query.sql), {"category": category}).all()
                attribute = next(c.attribute for c in harness.by_name["product"].columns if c.name == column)
                assert [(canon(attribute, v), n) for v, n in got] == want, f"{query.name} of {category}"
                checked += 1
        assert checked == 8 and len(rows) > 12  # more rows than brands: counts above 1


@pytest.mark.parametrize(
    ("engine", "index"),
    [
        pytest.param("postgresql", "ix_shop_location_geog", marks=pytest.mark.postgresql),
        pytest.param("mysql", "ix_shop_location_point", marks=pytest.mark.mysql),
    ],
)
def test_the_spatial_index_can_serve_near(folder: Path, engine: str, index: str) -> None:
    """EXPLAIN of the emitted near query names the spatial index (sequential scans priced out on
    PostgreSQL: the seeded table is small enough that a scan would win)."""
    from polyplan.stores.relational.connect import scratch_database
    from polyplan.validate.relational import Harness

    harness = Harness.from_plan_folder(folder / "tests", engine)
    query = harness.queries["shops_near_me"]
    params = {"location_lat": 48.85, "location_lon": 2.35, "location_radius_m": 5000.0}
    with scratch_database(resolve_url(engine)) as database:
        harness.load(database)
        # 4,000 more shops far from Paris, so that the radius keeps a small share of the rows
        # (on the seeded few hundred, where a sixth is near Paris, a scan is rightly cheaper).
        shop = harness.metadata.tables["shop"]
        far = [
            {
                "id": uuid.UUID(int=i + 1),
                "name": "far",
                "category": "cafe",
                "location_lat": -60 + (i % 300) / 10,
                "location_lon": -170 + (i % 340),
            }
            for i in range(4000)
        ]
        with database.begin() as connection:
            connection.execute(shop.insert(), far)
            connection.execute(sa.text("ANALYZE TABLE shop" if engine == "mysql" else "ANALYZE shop"))
        statement, bound = harness._bound(query.sql, query.params, params, harness.metadata.tables["shop"])
        with database.connect() as connection:
            if engine == "postgresql":
                connection.execute(sa.text("SET enable_seqscan = off"))
            plan = connection.execute(sa.text("EXPLAIN " + str(statement)), bound).all()
    assert index in " ".join(str(part) for row in plan for part in row)
