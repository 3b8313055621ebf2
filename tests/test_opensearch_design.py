"""OpenSearch dialect of the search family: what differs from Elasticsearch, and only that.

Same index design (mappings, analyzers, shards, refresh, queries, sync); OpenSearch gets ISM
policies instead of ILM ones, its own folder, setup script, client and generated tests, and
scalar search-template parameters inside JSON strings (its `toJson` leaves a scalar unquoted).
"""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import re
import textwrap
from contextlib import redirect_stderr
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from polyplan.diagnostics import Diagnostic
from polyplan.model.loader import LoadedModel, load_file, load_text
from polyplan.model.schema import Attribute, Family, TypeName
from polyplan.pipeline import render
from polyplan.plan.assign import build_plan
from polyplan.plan.ir import Plan
from polyplan.stores.search import Target
from polyplan.stores.search.connect_opensearch import server_problem
from polyplan.stores.search.design import SearchDesign, SearchIndex, design_search
from polyplan.stores.search.engines import ELASTICSEARCH, OPENSEARCH, engine_named
from polyplan.stores.search.mapping import FieldUse, field_mapping
from polyplan.stores.search.queries import template_source
from polyplan.stores.search.runs import load_setup
from polyplan.stores.search.testgen import data_text
from tests.conftest import SCENARIOS, planned
from tests.test_search_design import EVENTS

# Every mapping type OpenSearch 2.19 has among those polyplan could emit (the core types plus
# scaled_float from the bundled mapper-extras module). Elasticsearch-only types such as
# `flattened` (OpenSearch: `flat_object`), `dense_vector` (`knn_vector`, a plugin), `wildcard` or
# `match_only_text` are absent on purpose: emitting one needs an OpenSearch override in
# polyplan/stores/search/engines.py that substitutes or reports it.
OPENSEARCH_TYPES = {
    "binary",
    "boolean",
    "date",
    "double",
    "geo_point",
    "integer",
    "keyword",
    "long",
    "object",
    "scaled_float",
    "short",
    "text",
}


def on_opensearch(loaded: LoadedModel) -> Plan:
    """Plan a loaded model as if it said `engines: {search: opensearch}` (positions stay those of its file)."""
    model = loaded.model
    engines = model.engines.model_copy(update={"search": "opensearch"})
    return build_plan(dataclasses.replace(loaded, model=model.model_copy(update={"engines": engines})))


def opensearch_text(text: str, source: str = "<test>") -> Plan:
    """The plan of model text with its search engine switched to OpenSearch."""
    return on_opensearch(load_text(text, source))


def opensearch_scenario(name: str) -> Plan:
    """The plan of a bundled scenario with its search engine switched to OpenSearch."""
    return on_opensearch(load_file(next(p for p in SCENARIOS if p.stem == name)))


@pytest.fixture(scope="module")
def events() -> SearchDesign:
    return design_search(opensearch_text(EVENTS))


@pytest.fixture(scope="module")
def events_files() -> dict[str, str]:
    return Target().emit(opensearch_text(EVENTS)).files


def _index(design: SearchDesign, alias: str) -> SearchIndex:
    return next(i for i in design.indexes if i.alias == alias)


def _json(files: dict[str, str], path: str) -> Any:
    return json.loads(files[path])


# --- the dialect choice ---------------------------------------------------------------------------


def test_the_model_picks_the_dialect() -> None:
    assert engine_named("opensearch") is OPENSEARCH
    assert engine_named("elasticsearch") is ELASTICSEARCH
    assert engine_named(None) is ELASTICSEARCH  # the schema's default
    assert design_search(opensearch_text(EVENTS)).engine is OPENSEARCH
    assert Target.engines == ("elasticsearch", "opensearch")


def test_opensearch_plan_projects_the_same_entities_as_elasticsearch() -> None:
    for scenario in SCENARIOS:
        elastic = planned(scenario)
        opensearch = on_opensearch(load_file(scenario))
        assert [e for e, _ in opensearch.projections_in(Family.SEARCH)] == [
            e for e, _ in elastic.projections_in(Family.SEARCH)
        ], scenario.stem
        assert {p.engine for _, p in opensearch.projections_in(Family.SEARCH)} <= {"opensearch"}


def test_only_the_lifecycle_and_placeholders_differ(events: SearchDesign) -> None:
    elastic = design_search(load_text_plan(EVENTS))
    for ours, theirs in zip(events.indexes, elastic.indexes, strict=True):
        assert ours.fields == theirs.fields  # mappings and analyzers are shared
        assert ours.settings["analysis"] == theirs.settings["analysis"]
        assert (ours.shards, ours.refresh_seconds, ours.lifecycle) == (
            theirs.shards,
            theirs.refresh_seconds,
            theirs.lifecycle,
        )
        assert [q.params for q in ours.queries] == [q.params for q in theirs.queries]


def load_text_plan(text: str) -> Plan:
    return build_plan(load_text(text, "<test>"))


def test_every_mapping_type_polyplan_emits_exists_in_opensearch() -> None:
    emitted: set[str] = set()

    def collect(mapping: dict[str, Any]) -> None:
        emitted.add(mapping["type"])
        for sub in mapping.get("fields", {}).values():
            collect(sub)
        for sub in mapping.get("properties", {}).values():
            collect(sub)

    samples = [
        Attribute(type=TypeName.STRING, max_length=20),
        Attribute(type=TypeName.STRING, max_length=20000),
        Attribute(type=TypeName.TEXT),
        Attribute(type=TypeName.UUID),
        Attribute(type=TypeName.ENUM, values=["a", "b"]),
        Attribute(type=TypeName.INTEGER, bits=16),
        Attribute(type=TypeName.INTEGER, bits=32),
        Attribute(type=TypeName.INTEGER, bits=64),
        Attribute(type=TypeName.DECIMAL, precision=10, scale=2),
        Attribute(type=TypeName.DECIMAL, precision=30, scale=2),
        Attribute(type=TypeName.FLOAT),
        Attribute(type=TypeName.BOOLEAN),
        Attribute(type=TypeName.DATE),
        Attribute(type=TypeName.TIMESTAMP),
        Attribute(type=TypeName.TIMESTAMPTZ),
        Attribute(type=TypeName.BINARY),
        Attribute(type=TypeName.JSON),
        Attribute(type=TypeName.LIST, items=Attribute(type=TypeName.STRING, max_length=10)),
        Attribute(type=TypeName.OBJECT, fields={"x": Attribute(type=TypeName.INTEGER)}),
        Attribute(type=TypeName.SET, items=Attribute(type=TypeName.STRING, max_length=10)),
        Attribute(type=TypeName.GEO_POINT),
    ]
    assert {a.type for a in samples} == set(TypeName)
    notes: list[Diagnostic] = []
    for attribute in samples:
        for use in (FieldUse(), FieldUse(fulltext=True, exact=True)):
            if use.fulltext and attribute.type not in (TypeName.STRING, TypeName.TEXT):
                continue
            collect(field_mapping(attribute, use, "english", "x", notes))
    assert emitted <= OPENSEARCH_TYPES


# --- artifacts ------------------------------------------------------------------------------------------


def test_artifacts_live_in_the_opensearch_folder(events_files: dict[str, str]) -> None:
    assert set(events_files) == {
        "opensearch/article.ism.json",
        "opensearch/article.template.json",
        "opensearch/log_event.ism.json",
        "opensearch/log_event.template.json",
        "opensearch/queries.json",
        "opensearch/setup.py",
        "opensearch/sync.md",
    }


def test_template_carries_the_ism_rollover_alias_not_ilm_settings(events_files: dict[str, str]) -> None:
    logs = _json(events_files, "opensearch/log_event.template.json")["template"]["settings"]["index"]
    assert "lifecycle" not in logs  # OpenSearch refuses ILM's index.lifecycle.* settings
    assert logs["plugins"] == {"index_state_management": {"rollover_alias": "log_event"}}
    article = _json(events_files, "opensearch/article.template.json")
    assert "plugins" not in article["template"]["settings"]["index"]  # no rollover: nothing to name
    assert article["_meta"]["policy"] == "article-lifecycle"


# --- ISM policies -----------------------------------------------------------------------------------------


def _states(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {state["name"]: state for state in policy["states"]}


def test_append_only_data_rolls_over_and_is_deleted_after_its_retention(events_files: dict[str, str]) -> None:
    document = _json(events_files, "opensearch/log_event.ism.json")
    policy = document["policy"]
    assert set(policy) == {"default_state", "description", "ism_template", "states"}  # ISM refuses unknown fields
    assert policy["ism_template"] == [{"index_patterns": ["log_event-*"], "priority": 100}]
    states = _states(policy)
    assert policy["default_state"] == "hot"
    assert states["hot"]["actions"] == [
        {"index_priority": {"priority": 100}},
        {"rollover": {"min_index_age": "1d", "min_primary_shard_size": "50gb"}},
    ]
    # Deleted 14 days after rollover (like ILM's delete phase), not 14 days after creation.
    assert states["hot"]["transitions"] == [{"conditions": {"min_rollover_age": "14d"}, "state_name": "delete"}]
    assert states["delete"] == {"actions": [{"delete": {}}], "name": "delete", "transitions": []}
    assert document["_meta"]["reasons"][-1] == "delete each index 14d after rollover (retention)"
    assert "delete each index 14d after rollover" in policy["description"]


def test_in_place_data_has_one_state_and_no_expiry(events_files: dict[str, str], events: SearchDesign) -> None:
    policy = _json(events_files, "opensearch/article.ism.json")["policy"]
    assert policy["states"] == [{"actions": [{"index_priority": {"priority": 100}}], "name": "hot", "transitions": []}]
    retention = [d for d in events.diagnostics if d.code == "PP402" and d.path == "entities.Article"]
    assert len(retention) == 1 and retention[0].message.startswith("Article: ISM cannot expire documents")


RETENTION = textwrap.dedent(
    """
    name: retention
    entities:
      Click:
        attributes:
          url: {type: string, max_length: 300}
          referrer: {type: text, avg_length: 80}
          at: {type: timestamptz}
        growth: {initial_rows: 0, rows_per_day: 2000000, retention_days: 90, time_attribute: at}
        placement: {family: relational}
      Ping:
        attributes:
          host: {type: text, avg_length: 40}
          at: {type: timestamptz}
        growth: {initial_rows: 0, rows_per_day: 5000000, must_keep: true, time_attribute: at}
        placement: {family: relational}
    access_patterns:
      - {name: clicks, entity: Click, filters: [{attribute: referrer, op: fulltext}], rate: 60}
      - {name: pings, entity: Ping, filters: [{attribute: host, op: fulltext}], rate: 60}
    """
)


def test_ism_phases_follow_the_models_retention() -> None:
    files = Target().emit(opensearch_text(RETENTION)).files
    clicks = _states(_json(files, "opensearch/click.ism.json")["policy"])
    rollover = clicks["hot"]["actions"][1]["rollover"]
    assert rollover["min_primary_shard_size"] == "50gb"
    assert int(rollover["min_index_age"].removesuffix("d")) <= 90 // 4  # a small part of the retention
    assert clicks["hot"]["transitions"][0]["conditions"] == {"min_rollover_age": "90d"}
    assert "delete" in clicks
    # must_keep: rolled over for size, never deleted.
    pings = _states(_json(files, "opensearch/ping.ism.json")["policy"])
    assert set(pings) == {"hot"} and pings["hot"]["transitions"] == []
    assert "rollover" in pings["hot"]["actions"][1]


def test_ism_and_ilm_say_the_same_thing(events: SearchDesign) -> None:
    for index in events.indexes:
        ilm = ELASTICSEARCH.lifecycle_policy(index, "m")["policy"]["phases"]
        ism = _states(OPENSEARCH.lifecycle_policy(index, "m")["policy"])
        if "rollover" in ilm["hot"]["actions"]:
            ilm_rollover = ilm["hot"]["actions"]["rollover"]
            ism_rollover = ism["hot"]["actions"][1]["rollover"]
            assert ism_rollover["min_index_age"] == ilm_rollover["max_age"]
            assert ism_rollover["min_primary_shard_size"] == ilm_rollover["max_primary_shard_size"]
        assert ("delete" in ilm) == ("delete" in ism)
        if "delete" in ilm:
            assert ism["hot"]["transitions"][0]["conditions"]["min_rollover_age"] == ilm["delete"]["min_age"]


# --- queries ------------------------------------------------------------------------------------------------


def test_scalar_parameters_sit_in_json_strings_and_lists_use_to_json(events: SearchDesign) -> None:
    source = template_source(_index(events, "log_event").queries[0].body)
    assert '"query":"{{message_query}}"' in source
    assert '{"term":{"service":"{{service}}"}}' in source
    assert '{"terms":{"level":{{#toJson}}level_values{{/toJson}}}}' in source
    assert '"range":{"at":{"gte":"{{at_from}}","lt":"{{at_to}}"}}' in source
    assert '"size":{{size}}{{^size}}100{{/size}}' in source


def test_filled_templates_are_json(events: SearchDesign) -> None:
    for index in events.indexes:
        for query in index.queries:
            source = template_source(query.body)
            for param in query.params:
                source = source.replace("{{#toJson}}" + param.name + "{{/toJson}}", json.dumps(["x"]))
                source = source.replace("{{" + param.name + "}}", 'a \\"quoted\\" x')
            source = re.sub(r"\{\{size\}\}\{\{\^size\}\}(\d+)\{\{/size\}\}", r"\1", source)
            body = json.loads(source)
            assert body["size"] == query.size and "{{" not in json.dumps(body)


def test_queries_json_shows_the_opensearch_client_call(events_files: dict[str, str]) -> None:
    usage = _json(events_files, "opensearch/queries.json")["usage"]
    assert 'body={"id": <template_id>, "params": {...}}' in usage


# --- sync contract, summary, setup, tests ---------------------------------------------------------------


def test_sync_names_opensearch_and_the_lifecycle_without_ism(events_files: dict[str, str]) -> None:
    sync = events_files["opensearch/sync.md"]
    assert "applies them to OpenSearch" in sync and "Elasticsearch" not in sync
    fallback = sync.split("## Without the ISM plugin (opensearch-index-management)", 1)[1]
    # log_event: 2 primaries of at most 50gb, so the rollover API's whole-index bound is 100gb.
    assert '`POST log_event/_rollover` and `{"conditions": {"max_age": "1d", "max_size": "100gb"}}`' in fallback
    assert "whose successor is older than 14d" in fallback
    assert "`article`: no rollover and no expiry" in fallback


def test_plan_json_names_the_engine() -> None:
    files, _ = render(opensearch_scenario("shop"))
    plan = json.loads(files["plan.json"])
    assert plan["stores"]["search"]["engine"] == "opensearch"
    assert plan["engines"]["search"] == "opensearch"
    product = next(e for e in plan["entities"] if e["name"] == "Product")
    assert product["projections"][0]["engine"] == "opensearch"
    assert not any(path.startswith("elasticsearch/") for path in files)


def test_setup_script_is_standalone(events_files: dict[str, str]) -> None:
    script = events_files["opensearch/setup.py"]
    tree = ast.parse(script)
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert "polyplan" not in imported and "elasticsearch" not in imported and "opensearchpy" in imported
    assert "_plugins/_ism" in script and "if_seq_no" in script and "exists_alias" in script


def test_generated_tests_are_named_for_validate(events: SearchDesign) -> None:
    artifacts = Target().emit(opensearch_text(EVENTS))
    assert set(artifacts.tests) == {"test_opensearch.py", "data/model.json"}
    text = artifacts.tests["test_opensearch.py"]
    assert "import opensearchpy" in text and "import elasticsearch" not in text
    assert 'resolve_url("opensearch")' in text and "ISM policy check skipped" in text
    plan = opensearch_text(EVENTS)
    data = json.loads(data_text(plan, design_search(plan)))  # what the generated test makes when it runs
    assert {alias: index["rollover"] for alias, index in data["indexes"].items()} == {
        "article": False,
        "log_event": True,
    }
    assert Target().emit(opensearch_text(EVENTS)).tests == artifacts.tests  # deterministic


def test_a_server_that_is_not_opensearch_is_named() -> None:
    elastic = {"version": {"number": "8.15.3"}, "tagline": "You Know, for Search"}
    problem = server_problem("http://h:9200", elastic)
    assert problem is not None and "it is Elasticsearch 8.15.3, not OpenSearch" in problem
    old = {"version": {"distribution": "opensearch", "number": "1.3.19"}}
    assert "runs OpenSearch 1.3.19" in (server_problem("http://h", old) or "")
    assert server_problem("http://h", {"version": {"distribution": "opensearch", "number": "2.19.6"}}) is None


# --- the generated setup.py, against a recording client (no server needed) --------------------------------


NO_HANDLER = "no handler found for uri [/_plugins/_ism/policies] and method [GET]"  # a server without ISM


class _Recorder:
    """Just enough of an OpenSearch client to watch setup.apply, with or without the ISM plugin."""

    def __init__(self, setup: ModuleType, ism: bool) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.ism = ism
        self.policies: dict[str, int] = {}
        self.aliases: set[str] = set()
        self.created: set[str] = set()
        self.setup = setup
        self.transport = self
        self.indices = _Indices(self)

    def perform_request(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> dict[str, Any]:
        if not self.ism:
            assert (params or {}).get("ignore") == 400  # the expected answer is not logged as a failure
            return {"error": NO_HANDLER}
        self.calls.append((f"{method} {path}", {"params": params or {}, "body": body}))
        policy_id = path.rsplit("/", 1)[-1]
        if method == "GET" and path.startswith("/_plugins/_ism/explain/"):
            # Indexes created here were attached through the policy's ism_template.
            managed = policy_id in self.created
            return {policy_id: {"policy_id": policy_id.rsplit("-", 1)[0] + "-lifecycle" if managed else None}}
        if method == "GET" and path.startswith("/_plugins/_ism/policies/"):
            if policy_id not in self.policies:
                raise self.setup.NotFoundError(404, "not found", {})
            return {"_seq_no": self.policies[policy_id], "_primary_term": 1}
        if method == "PUT":
            self.policies[policy_id] = self.policies.get(policy_id, 0) + 1
        return {}

    def put_script(self, id: str, body: dict[str, Any]) -> None:
        self.calls.append(("put_script", {"id": id, **body}))


class _Indices:
    def __init__(self, client: _Recorder) -> None:
        self.client = client

    def put_index_template(self, name: str, body: dict[str, Any]) -> None:
        self.client.calls.append(("put_index_template", {"name": name, **body}))

    def exists_alias(self, name: str) -> bool:
        return name in self.client.aliases

    def exists(self, index: str) -> bool:
        return False

    def create(self, index: str, body: dict[str, Any]) -> None:
        self.client.aliases |= set(body["aliases"])
        self.client.created.add(index)
        self.client.calls.append(("create", {"index": index, **body}))

    def get_alias(self, name: str) -> dict[str, Any]:
        return {name + "-000001": {}}

    def put_settings(self, index: str, body: dict[str, Any]) -> None:
        self.client.calls.append(("put_settings", {"target": index, "body": body}))


@pytest.fixture
def artifacts(tmp_path: Path, events_files: dict[str, str]) -> Path:
    for path, text in events_files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    return tmp_path / "opensearch"


def test_setup_without_ism_warns_and_applies_everything_else(artifacts: Path) -> None:
    setup = load_setup(artifacts / "setup.py")
    client = _Recorder(setup, ism=False)
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        aliases = setup.apply(client, artifacts, prefix="pp_t_", replicas=0)
    assert aliases == ["pp_t_article", "pp_t_log_event"]
    templates = {body["name"]: body for kind, body in client.calls if kind == "put_index_template"}
    assert "plugins" not in templates["pp_t_log_event"]["template"]["settings"]["index"]  # refused without ISM
    assert templates["pp_t_log_event"]["index_patterns"] == ["pp_t_log_event-*"]
    assert {kind for kind, _ in client.calls} == {"put_index_template", "put_script", "create"}
    warning = stderr.getvalue()
    assert "opensearch-index-management" in warning and "not installed" in warning
    assert "pp_t_article-lifecycle, pp_t_log_event-lifecycle" in warning and "sync.md" in warning


def test_setup_with_ism_puts_prefixed_policies_and_replaces_them_on_rerun(artifacts: Path) -> None:
    setup = load_setup(artifacts / "setup.py")
    client = _Recorder(setup, ism=True)
    setup.apply(client, artifacts, prefix="pp_t_", replicas=0)
    puts = [body for kind, body in client.calls if kind == "PUT /_plugins/_ism/policies/pp_t_log_event-lifecycle"]
    assert puts[0]["params"] == {}  # created
    assert puts[0]["body"]["policy"]["ism_template"] == [{"index_patterns": ["pp_t_log_event-*"], "priority": 100}]
    templates = {body["name"]: body for kind, body in client.calls if kind == "put_index_template"}
    settings = templates["pp_t_log_event"]["template"]["settings"]["index"]
    assert settings["plugins"]["index_state_management"]["rollover_alias"] == "pp_t_log_event"
    # The policy goes in before the template and the index, so the first index matches its ism_template.
    kinds = [kind if kind != "create" else f"create {body['index']}" for kind, body in client.calls]
    assert kinds.index("PUT /_plugins/_ism/policies/pp_t_log_event-lifecycle") < kinds.index(
        "create pp_t_log_event-000001"
    )
    client.calls.clear()
    setup.apply(client, artifacts, prefix="pp_t_", replicas=0)
    again = [body for kind, body in client.calls if kind == "PUT /_plugins/_ism/policies/pp_t_log_event-lifecycle"]
    assert again[0]["params"] == {"if_seq_no": 1, "if_primary_term": 1}  # ISM replaces only with these
    kinds = [kind for kind, _ in client.calls]
    assert "create" not in kinds  # the alias exists: bootstrapped once
    assert "POST /_plugins/_ism/add/pp_t_log_event-000001" not in kinds  # already managed: left alone


def test_setup_attaches_indexes_created_before_ism(artifacts: Path) -> None:
    setup = load_setup(artifacts / "setup.py")
    client = _Recorder(setup, ism=True)
    client.aliases = {"pp_t_article", "pp_t_log_event"}  # bootstrapped by an earlier run without ISM
    setup.apply(client, artifacts, prefix="pp_t_", replicas=0)
    calls = dict(client.calls)
    assert calls["POST /_plugins/_ism/add/pp_t_log_event-000001"]["body"] == {"policy_id": "pp_t_log_event-lifecycle"}
    assert calls["POST /_plugins/_ism/add/pp_t_article-000001"]["body"] == {"policy_id": "pp_t_article-lifecycle"}
    # Only the index that rolls over needs the rollover alias setting.
    assert [body for kind, body in client.calls if kind == "put_settings"] == [
        {
            "target": "pp_t_log_event-000001",
            "body": {"index": {"plugins": {"index_state_management": {"rollover_alias": "pp_t_log_event"}}}},
        }
    ]
