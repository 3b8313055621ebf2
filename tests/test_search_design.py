"""Elasticsearch design rules: mappings, shards, refresh, lifecycle, search templates, sync contract."""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from polyplan.diagnostics import Diagnostic
from polyplan.model.schema import Attribute, Family, TypeName
from polyplan.pipeline import plan_text, render
from polyplan.plan.ir import Plan
from polyplan.stores.search import Target
from polyplan.stores.search.design import (
    GB,
    MAX_SHARD_BYTES,
    SearchDesign,
    design_search,
    refresh_seconds,
    shard_count,
)
from polyplan.stores.search.documents import document_id, to_document
from polyplan.stores.search.mapping import FieldUse, exact_field, field_mapping
from polyplan.stores.search.queries import template_source
from polyplan.stores.search.render import index_template
from polyplan.stores.search.testgen import data_text
from polyplan.validate.store_mutations import search_query_mutations
from tests.conftest import SCENARIOS, planned

# Logs (append-only, retention: rollover and delete) and articles (edited in place, strong reads).
EVENTS = textwrap.dedent(
    """
    name: search_events
    description: Logs and articles searched in Elasticsearch; the records live in PostgreSQL.
    entities:
      LogEvent:
        attributes:
          service: {type: string, max_length: 40, distinct: 200}
          level: {type: enum, values: [debug, info, warn, error], weights: [40, 40, 15, 5]}
          message: {type: text, avg_length: 300}
          at: {type: timestamptz}
          host: {type: string, max_length: 64}
          latency_ms: {type: integer, min: 0}
          cost: {type: decimal, precision: 30, scale: 4, nullable: true}
        growth: {initial_rows: 0, rows_per_day: 200000000, retention_days: 14, time_attribute: at}
        placement: {family: relational}
      Article:
        attributes:
          title: {type: string, max_length: 200}
          body: {type: text, avg_length: 4000}
          published: {type: date}
          tags: {type: list, items: {type: string, max_length: 30}, avg_items: 3}
          score: {type: float}
        growth: {initial_rows: 100000, rows_per_day: 100, retention_days: 3650, time_attribute: published}
        placement: {family: relational}
    access_patterns:
      - name: search_logs
        entity: LogEvent
        filters:
          - {attribute: message, op: fulltext}
          - {attribute: service, op: eq}
          - {attribute: level, op: in}
          - {attribute: at, op: range}
        sort: [{attribute: at, direction: desc}]
        limit: 100
        rate: 20
        consistency: eventual
        staleness_seconds: 60
      - name: search_articles
        entity: Article
        filters:
          - {attribute: body, op: fulltext}
          - {attribute: title, op: prefix}
        sort: [{attribute: published, direction: desc}, {attribute: title}]
        reads: [id, title, published]
        limit: 10
        rate: 100
        consistency: strong
    write_patterns:
      - {name: edit_article, entity: Article, kind: update, attributes: [title, body], rate: 1}
    """
)
# A wide-column entity whose prefix read has no equality filter (tests/test_scatter.py).
AUTOCOMPLETE = (Path(__file__).parent / "models" / "autocomplete.yaml").read_text(encoding="utf-8")
# Full text over a list of strings (issue 12): many records have no tag at all.
TAGGED = textwrap.dedent(
    """
    name: tagged
    engines: {search: elasticsearch}
    entities:
      Recipe:
        attributes:
          title: {type: string, max_length: 120}
          tags: {type: list, items: {type: string, max_length: 24, distinct: 40}, max_items: 6, avg_items: 1}
        growth: {initial_rows: 500000, rows_per_day: 500}
    access_patterns:
      - name: recipes_by_tag_words
        entity: Recipe
        filters: [{attribute: tags, op: fulltext}]
        limit: 20
        rate: 50
        consistency: eventual
        staleness_seconds: 30
    """
)
OWN_MODELS = {"search_events": EVENTS, "search_autocomplete": AUTOCOMPLETE, "search_tagged": TAGGED}


def _plan(text: str) -> Plan:
    return plan_text(text, "<test>")


@pytest.fixture(scope="module")
def events() -> SearchDesign:
    return design_search(_plan(EVENTS))


@pytest.fixture(scope="module")
def shop() -> SearchDesign:
    return design_search(planned(next(p for p in SCENARIOS if p.stem == "shop")))


def _index(design: SearchDesign, alias: str) -> Any:
    return next(i for i in design.indexes if i.alias == alias)


# --- mappings ----------------------------------------------------------------------------------


def test_fulltext_string_is_text_with_a_raw_keyword(shop: SearchDesign) -> None:
    fields = _index(shop, "product").fields
    assert fields["title"] == {"analyzer": "pp_english", "fields": {"raw": {"type": "keyword"}}, "type": "text"}
    assert fields["sku"] == {"normalizer": "pp_lowercase", "type": "keyword"}
    assert fields["status"] == {"type": "keyword"}
    assert fields["id"] == {"type": "keyword"}
    assert fields["price"] == {"scaling_factor": 100, "type": "scaled_float"}
    assert fields["attributes"] == {"enabled": False, "type": "object"}  # free-form JSON stays in _source
    assert fields["dimensions"]["properties"]["width_mm"] == {"type": "integer"}
    assert fields["tags"] == {"normalizer": "pp_lowercase", "type": "keyword"}  # arrays are implicit


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        (Attribute(type=TypeName.INTEGER, bits=16), {"type": "short"}),
        (Attribute(type=TypeName.INTEGER, bits=64), {"type": "long"}),
        (Attribute(type=TypeName.FLOAT), {"type": "double"}),
        (Attribute(type=TypeName.BOOLEAN), {"type": "boolean"}),
        (Attribute(type=TypeName.DATE), {"format": "strict_date", "type": "date"}),
        (Attribute(type=TypeName.TIMESTAMPTZ), {"format": "strict_date_optional_time||epoch_millis", "type": "date"}),
        (Attribute(type=TypeName.BINARY), {"type": "binary"}),
        (Attribute(type=TypeName.TEXT), {"analyzer": "pp_english", "type": "text"}),
        (
            Attribute(type=TypeName.STRING, max_length=20000),
            {"ignore_above": 8191, "normalizer": "pp_lowercase", "type": "keyword"},
        ),
    ],
)
def test_type_mapping(attribute: Attribute, expected: dict[str, Any]) -> None:
    assert field_mapping(attribute, FieldUse(), "english", "x", []) == expected


def test_a_decimal_too_wide_for_scaled_float_is_a_reported_substitution(events: SearchDesign) -> None:
    assert _index(events, "log_event").fields["cost"] == {"type": "double"}
    notes: list[Diagnostic] = []
    field_mapping(Attribute(type=TypeName.DECIMAL, precision=30, scale=4), FieldUse(), "english", "p", notes)
    assert [n.code for n in notes] == ["PP402"]


def test_exact_filters_and_sorts_use_the_keyword_field() -> None:
    text = {"type": "text", "fields": {"raw": {"type": "keyword"}}}
    assert exact_field("title", text) == "title.raw"
    assert exact_field("sku", {"type": "keyword"}) == "sku"


def test_template_is_strict_with_analyzers_and_normalizer(shop: SearchDesign) -> None:
    template = index_template(_index(shop, "product"), "shop")
    assert template["index_patterns"] == ["product-*"]
    assert template["template"]["mappings"]["dynamic"] == "strict"
    analysis = template["template"]["settings"]["analysis"]
    assert analysis["analyzer"]["pp_english"]["filter"] == [
        "lowercase",
        "asciifolding",
        "pp_english_stop",
        "pp_english_stemmer",
    ]
    assert analysis["normalizer"]["pp_lowercase"]["filter"] == ["lowercase", "asciifolding"]
    assert template["_meta"]["alias"] == "product" and template["_meta"]["first_index"] == "product-000001"


# --- sizing, refresh, lifecycle ------------------------------------------------------------------


def test_shard_count_keeps_primaries_under_50_gb() -> None:
    assert shard_count(0) == 1
    assert shard_count(5 * GB) == 1
    assert shard_count(MAX_SHARD_BYTES) == 1
    assert shard_count(60 * GB) == 2  # two shards of 30 GB
    assert shard_count(1000 * GB) == 20
    assert shard_count(10**18) == 1024  # Elasticsearch's ceiling


def test_refresh_interval_follows_staleness() -> None:
    assert refresh_seconds(30) == 15  # half the budget; the relay gets the other half
    assert refresh_seconds(0) == 1
    assert refresh_seconds(1) == 1
    assert refresh_seconds(3600) == 60
    for staleness in (2, 5, 10, 30, 59, 120):
        assert refresh_seconds(staleness) <= staleness


def test_shop_product_index(shop: SearchDesign) -> None:
    product = _index(shop, "product")
    assert product.patterns == ("search_products",)
    assert product.refresh_seconds == 15  # search_products accepts 30 s
    assert product.shards == 1  # under a gigabyte at the horizon
    assert not product.lifecycle.rollover  # stock updates change documents in place
    assert [e.name for e in product.events] == ["insert (implied by growth)", "update_stock"]
    assert not [d for d in shop.diagnostics if d.code == "PP405"]


def test_append_only_data_rolls_over_and_expires(events: SearchDesign) -> None:
    logs = _index(events, "log_event")
    life = logs.lifecycle
    assert life.rollover and life.max_primary_shard_size == "50gb"
    assert life.max_age_days == 1  # ~100 GB a day
    assert life.delete_after == "14d"
    assert logs.shards == 2  # about 100 GB a day: a day fits two primaries of 50 GB
    assert logs.settings["index"]["lifecycle"] == {"name": "log_event-lifecycle", "rollover_alias": "log_event"}
    assert logs.refresh_seconds == 30


def test_in_place_data_keeps_one_index_and_reports_retention(events: SearchDesign) -> None:
    article = _index(events, "article")
    assert not article.lifecycle.rollover and article.lifecycle.delete_after is None
    assert "rollover_alias" not in article.settings["index"]["lifecycle"]
    codes = {(d.code, d.path) for d in events.diagnostics}
    assert ("PP402", "entities.Article") in codes  # ILM cannot apply the retention
    assert ("PP405", "access_patterns.1") in codes  # strong, 0 s staleness: a search copy cannot promise it
    assert article.refresh_seconds == 1


# --- queries ---------------------------------------------------------------------------------------


def test_search_template_of_each_filter_kind(events: SearchDesign) -> None:
    query = _index(events, "log_event").queries[0]
    assert [(p.name, p.op) for p in query.params] == [
        ("message_query", "fulltext"),
        ("service", "eq"),
        ("level_values", "in"),
        ("at_from", "range_from"),
        ("at_to", "range_to"),
    ]
    source = template_source(query.body)
    assert (
        '"match":{"message":{"fuzziness":"AUTO","operator":"and","query":{{#toJson}}message_query{{/toJson}}}}'
        in source
    )
    assert '{"terms":{"level":{{#toJson}}level_values{{/toJson}}}}' in source
    assert '"range":{"at":{"gte":{{#toJson}}at_from{{/toJson}},"lt":{{#toJson}}at_to{{/toJson}}}}' in source
    assert '"size":{{size}}{{^size}}100{{/size}}' in source
    assert '"sort":[{"at":{"order":"desc"}}]' in source
    article = _index(events, "article").queries[0]
    text = template_source(article.body)
    assert '"prefix":{"title":{"case_insensitive":true,"value":{{#toJson}}title_prefix{{/toJson}}}}' in text
    assert '"_source":{"includes":["id","title","published"]}' in text


def test_filled_templates_are_json(shop: SearchDesign, events: SearchDesign) -> None:
    for design in (shop, events):
        for index in design.indexes:
            for query in index.queries:
                source = template_source(query.body)
                for param in query.params:
                    source = source.replace(
                        "{{#toJson}}" + param.name + "{{/toJson}}", json.dumps(["x"] if param.op == "in" else "x")
                    )
                source = re.sub(r"\{\{size\}\}\{\{\^size\}\}(\d+)\{\{/size\}\}", r"\1", source)
                body = json.loads(source)
                assert body["size"] == query.size
                assert "{{" not in json.dumps(body)


def test_constant_filters_are_literal_terms(shop: SearchDesign) -> None:
    query = _index(shop, "product").queries[0]
    assert {"term": {"status": "active"}} in query.body["query"]["bool"]["filter"]
    assert query.constants == (("status", ["active"]),)


# --- documents, setup script, sync, tests -------------------------------------------------------------


def test_documents_and_ids() -> None:
    import datetime as dt
    import uuid
    from decimal import Decimal

    attributes = {
        "id": Attribute(type=TypeName.UUID),
        "price": Attribute(type=TypeName.DECIMAL, precision=10, scale=2),
        "at": Attribute(type=TypeName.TIMESTAMPTZ),
        "day": Attribute(type=TypeName.DATE),
        "blob": Attribute(type=TypeName.BINARY),
    }
    record = {
        "id": uuid.UUID(int=1),
        "price": Decimal("9.99"),
        "at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        "day": dt.date(2024, 1, 2),
        "blob": b"\x00\x01",
    }
    assert to_document(record, attributes) == {
        "at": "2024-01-01T00:00:00+00:00",
        "blob": "AAE=",
        "day": "2024-01-02",
        "id": "00000000-0000-0000-0000-000000000001",
        "price": 9.99,
    }
    assert document_id(record, ("id",)) == "00000000-0000-0000-0000-000000000001"
    assert document_id(record, ("id", "day")) == "00000000-0000-0000-0000-000000000001|2024-01-02"


def test_setup_script_is_standalone_and_idempotent_by_construction() -> None:
    files = Target().emit(_plan(EVENTS)).files
    script = files["elasticsearch/setup.py"]
    tree = ast.parse(script)
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert "polyplan" not in imported and "elasticsearch" in imported
    assert "exists_alias" in script and "is_write_index" in script  # bootstraps only once
    assert set(files) == {
        "elasticsearch/article.ilm.json",
        "elasticsearch/article.template.json",
        "elasticsearch/log_event.ilm.json",
        "elasticsearch/log_event.template.json",
        "elasticsearch/queries.json",
        "elasticsearch/setup.py",
        "elasticsearch/sync.md",
    }


def test_sync_contract_names_events_id_and_version(shop: SearchDesign) -> None:
    files = Target().emit(planned(next(p for p in SCENARIOS if p.stem == "shop"))).files
    sync = files["elasticsearch/sync.md"]
    assert "`update_stock` (update) → `index`" in sync
    assert "external_gte" in sync and "Document id: `id`" in sync
    assert "postgresql" in sync


def test_generated_tests_and_data_are_deterministic() -> None:
    first = Target().emit(_plan(EVENTS))
    second = Target().emit(_plan(EVENTS))
    assert first.tests == second.tests and first.files == second.files
    assert set(first.tests) == {"test_elasticsearch.py", "data/model.json"}
    # The data is made when the generated test runs (polyplan.validate.store_data), by data_text.
    plan = _plan(EVENTS)
    text = data_text(plan, design_search(plan))
    assert text == data_text(_plan(EVENTS), design_search(_plan(EVENTS)))
    data = json.loads(text)
    logs = data["indexes"]["log_event"]
    case = logs["cases"]["search_logs"]
    assert case["expect"] in case["allowed"]
    assert set(case["params"]) == {"message_query", "service", "level_values", "at_from", "at_to"}
    # The data discriminates: a group beyond the size, ties on the sort key, documents beyond each
    # bound and failing each other filter (the seed's hot group added to the 40 random records).
    assert len(logs["docs"]) > 40
    assert case["matches"] > case["size"] == case["count"]
    assert set(case["properties"]) <= set(case["shows"]) | {"ties at"}
    for name in ("size", "sort at desc", "filter at_from", "filter at_to", "filter service", "filter level_values"):
        assert name in case["shows"], name
        if name.startswith("filter"):
            assert case["without"][name] > case["matches"], name
    # Full text: documents passing every other filter that no analyzer matches to the word.
    assert "filter message_query" in case["shows"] and case["unmatched"]
    sources = {d["_id"]: d["source"] for d in logs["docs"]}
    word = case["params"]["message_query"].casefold()
    assert all(word not in sources[i]["message"].casefold() for i in case["unmatched"])
    assert set(case["unmatched"]) <= set(case["allowed"])
    # Full text beside a prefix: the near records (texts no analyzer matches) keep the prefix the
    # test searches, and that prefix still cuts the group beyond the size. Before the hot group
    # shared the prefix value, the test's prefix left the near records out, and a template that
    # lost its `match` clause passed on OpenSearch.
    articles = data["indexes"]["article"]
    case = articles["cases"]["search_articles"]
    assert {"size", "filter body_query", "filter title_prefix"} <= set(case["shows"])
    assert case["matches"] > case["size"] == case["count"]
    titles = {d["_id"]: d["source"]["title"] for d in articles["docs"]}
    prefix = case["params"]["title_prefix"].casefold()
    assert case["unmatched"] and all(titles[i].casefold().startswith(prefix) for i in case["unmatched"])


def test_search_query_mutations_edit_only_the_template(tmp_path: Any) -> None:
    """Each search query operator changes one pattern's template and keeps the rest of it valid."""
    files = Target().emit(_plan(EVENTS)).files
    folder = tmp_path / "out"
    (folder / "elasticsearch").mkdir(parents=True)
    original = files["elasticsearch/queries.json"]
    (folder / "elasticsearch" / "queries.json").write_text(original, encoding="utf-8")
    mutations = search_query_mutations(folder, "elasticsearch")
    assert {m.operator for m in mutations} == {
        "remove-size",
        "change-size",
        "flip-sort",
        "drop-filter",
        "drop-range-bound",
    }
    for mutation in mutations:
        ((path, text),) = mutation.edits
        assert path == "elasticsearch/queries.json" and text != original, mutation.label
        before = json.loads(original)["indexes"]
        after = json.loads(text)["indexes"]
        changed = [
            (alias, name)
            for alias in before
            for name in before[alias]["patterns"]
            if before[alias]["patterns"][name] != after[alias]["patterns"][name]
        ]
        assert changed == [(next(a for a, _ in changed), mutation.target)], mutation.label
    bounds = sorted(m.detail for m in mutations if m.operator == "drop-range-bound")
    assert bounds == ["at gte", "at lt"]


def test_every_search_projection_of_every_scenario_gets_an_index() -> None:
    for scenario in SCENARIOS:
        plan = planned(scenario)
        wanted = {entity for entity, _ in plan.projections_in(Family.SEARCH)} | set(plan.records_in(Family.SEARCH))
        designed = {index.entity for index in design_search(plan).indexes}
        assert designed == wanted, scenario.stem


def test_full_text_over_a_list_of_strings_is_an_analysed_text_field() -> None:
    """The search index serves it (no PP419): every string of the list is analysed, and the
    `raw` keyword keeps each item whole for exact filters and facets."""
    plan = _plan(TAGGED)
    (index,) = design_search(plan).indexes
    assert index.fields["tags"] == {"type": "text", "analyzer": "pp_english", "fields": {"raw": {"type": "keyword"}}}
    _, diagnostics = render(plan)
    assert not [d for d in diagnostics if d.code == "PP419"]
