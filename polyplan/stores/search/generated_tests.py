"""The text of the generated pytest files of the search family, one per engine (pure data).

`@MODEL@` is replaced by the model name. Each file is self-contained apart from
`polyplan.testkit` (how to reach the server) and the engine's connect module (the I/O helpers).
"""

from __future__ import annotations

# What both engines' files check alike: the templates test, the setup and acceptance tests,
_ACCEPTANCE_TESTS = r"""@pytest.mark.parametrize("alias", INDEXES)
def test_setup_is_idempotent(store: Any, alias: str) -> None:
    client, prefix, setup = store
    setup.apply(client, ARTIFACTS, prefix=prefix, replicas=0)
    index = DATA["indexes"][alias]
    assert list(client.indices.get_alias(name=prefix + alias)) == [prefix + index["first_index"]]
    assert client.count(index=prefix + alias)["count"] == len(index["docs"])


@pytest.mark.parametrize("alias", INDEXES)
def test_valid_documents_accepted(store: Any, alias: str) -> None:
    client, prefix, _ = store
    docs = DATA["indexes"][alias]["docs"]
    assert client.count(index=prefix + alias)["count"] == len(docs)
    stored = client.get(index=prefix + alias, id=docs[0]["_id"])
    assert stored["_version"] == docs[0]["version"]
    assert stored["_source"] == docs[0]["source"]


"""

# a search case's data and hits,
_CASE_CHECKS = r'''def _ordered(values: list[list[Any]], directions: list[str]) -> bool:
    for before, after in zip(values, values[1:]):
        for a, b, direction in zip(before, after, directions):
            if a is None or b is None or a == b:
                continue
            if (a > b) if direction == "asc" else (a < b):
                return False
            break
    return True


def _data_shows(pattern: str, case: dict[str, Any]) -> None:
    """The case's data has the properties it claims, before the server is asked anything; one
    it cannot have is stated as a warning with the reason (the warnings summary lists it)."""
    if "size" in case["shows"]:
        assert case["matches"] > case["size"] and case["count"] == case["size"], f"{pattern}: the size is not shown"
    for name, count in case["without"].items():
        assert name in case["shows"] and count > case["matches"], f"{pattern}: dropping its {name} changes nothing"
    for name, reason in sorted(case["properties"].items()):
        if name not in case["shows"]:
            why = reason or "no seeded document separates it"
            warnings.warn(f"{pattern}: the data does not show its {name}: {why}", UserWarning, stacklevel=1)


def _check_page(pattern: str, case: dict[str, Any], page: list[dict[str, Any]]) -> None:
    """The first page of hits: within the size and the filters, in the sort order, the model's answer."""
    ids = [hit["_id"] for hit in page]
    assert len(ids) <= case["size"], f"{pattern}: more hits than the size"
    assert set(ids) <= set(case["allowed"]), f"{pattern}: a hit fails the pattern's filters"
    if case["sort"]:
        assert _ordered([hit["sort"] for hit in page], case["sort"]), f"{pattern}: hits out of the sort order"
    if case["count"] is not None:
        assert len(ids) == case["count"], f"{pattern}: {len(ids)} hits, the model's answer has {case['count']}"
    if case["order"] is not None:
        assert ids == case["order"], f"{pattern}: the hits are not the model's answer in its order"


def _check_matches(pattern: str, case: dict[str, Any], everything: list[str]) -> None:
    """Every match, not one page: a filter or bound the page's sort and size hide still shows here."""
    assert case["expect"] in everything, f"{pattern}: the seeded document the parameters came from was not found"
    assert set(everything) <= set(case["allowed"]), f"{pattern}: a match fails the pattern's filters"
    assert not set(everything) & set(case["unmatched"]), f"{pattern}: a match lacks the searched words"
    if case["exact"]:
        assert sorted(everything) == case["allowed"]


'''


_TEMPLATES_TEST = r"""def test_templates_are_complete() -> None:
    queries = json.loads((ARTIFACTS / "queries.json").read_text(encoding="utf-8"))["indexes"]
    for alias in INDEXES:
        template = json.loads((ARTIFACTS / f"{alias}.template.json").read_text(encoding="utf-8"))
        assert template["template"]["mappings"]["dynamic"] == "strict"
        fields = template["template"]["mappings"]["properties"]
        for pattern, case in DATA["indexes"][alias]["cases"].items():
            query = queries[alias]["patterns"][pattern]
            assert sorted(query["params"]) == sorted(case["params"])
            body = _fill(query["source"], case["params"])
            assert body.get("size") == case["size"], f"{pattern}: the template's size is not the model's"
            for param in query["params"].values():
                assert param["attribute"] in fields, f"{pattern}: {param['attribute']} is not mapped"


"""

# and the parts whose text differs only in the engine's names (@ENGINE@, @CLIENT@, ...: see _names).
_STORE_AND_ARTIFACTS_TEST = r"""@pytest.fixture(scope="module")
def store() -> Iterator[tuple[@CLIENT@, str, Any]]:
    client = connect.connect(resolve_url("@ENGINE@"))
    prefix = connect.run_prefix()
    setup = connect.load_setup(ARTIFACTS / "setup.py")
    try:
        setup.apply(client, ARTIFACTS, prefix=prefix, replicas=0)
        for alias in INDEXES:
            connect.index_documents(client, prefix + alias, DATA["indexes"][alias]["docs"])
        yield client, prefix, setup
    finally:
        connect.drop_prefix(client, prefix)
        client.close()


@pytest.mark.parametrize("alias", INDEXES)
def test_artifacts_applied(store: Any, alias: str) -> None:
    client, prefix, _ = store
    index = DATA["indexes"][alias]
    first = prefix + index["first_index"]
    assert list(client.indices.get_alias(name=prefix + alias)) == [first]
    mapping = client.indices.get_mapping(index=first)[first]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert sorted(mapping["properties"]) == index["fields"]
    assert mapping_problems(alias, mapping["properties"], index["field_types"]) == []  # the model's needs
    settings = client.indices.get_settings(index=first)[first]["settings"]["index"]
    assert settings["number_of_shards"] == str(index["shards"])
    assert settings["refresh_interval"] == index["refresh_interval"]


"""

_WRITE_TESTS = r"""@pytest.mark.parametrize("alias", INDEXES)
def test_unknown_field_rejected(store: Any, alias: str) -> None:
    client, prefix, _ = store
    document = dict(DATA["indexes"][alias]["docs"][0]["source"], pp_not_in_the_mapping="x")
    with pytest.raises(@BAD_REQUEST@) as refused:
        client.index(index=prefix + alias, id="pp-strict-check", @BODY@=document)
    assert "pp_not_in_the_mapping" in str(refused.value)  # refused because of the unknown field (strict mapping)


@pytest.mark.parametrize("alias", INDEXES)
def test_replay_is_idempotent_and_older_versions_are_refused(store: Any, alias: str) -> None:
    client, prefix, _ = store
    doc = DATA["indexes"][alias]["docs"][-1]
    options = {"index": prefix + alias, "id": doc["_id"], "@BODY@": doc["source"], "version_type": "external_gte"}
    client.index(version=doc["version"], **options)
    with pytest.raises(@CONFLICT@):
        client.index(version=doc["version"] - 1, **options)
    assert client.get(index=prefix + alias, id=doc["_id"])["_version"] == doc["version"]


"""


def _names(part: str, names: dict[str, str]) -> str:
    """`part` with each @NAME@ replaced by the engine's name for it."""
    for placeholder, name in names.items():
        part = part.replace(f"@{placeholder}@", name)
    return part


_ELASTICSEARCH_NAMES = {
    "ENGINE": "elasticsearch",
    "CLIENT": "elasticsearch.Elasticsearch",
    "BAD_REQUEST": "elasticsearch.BadRequestError",
    "CONFLICT": "elasticsearch.ConflictError",
    "BODY": "document",
}
_OPENSEARCH_NAMES = {
    "ENGINE": "opensearch",
    "CLIENT": "opensearchpy.OpenSearch",
    "BAD_REQUEST": "opensearchpy.RequestError",
    "CONFLICT": "opensearchpy.ConflictError",
    "BODY": "body",
}

ELASTICSEARCH = (
    r'''"""Generated by polyplan for model "@MODEL@": Elasticsearch 8 checks of the search artifacts.

Applies elasticsearch/setup.py under a name prefix unique to the run, indexes the seeded documents
the way the outbox relay does, runs every search pattern, and deletes everything it created.
Run with `polyplan validate OUT --engine elasticsearch`, or set POLYPLAN_ELASTICSEARCH_URL and run
pytest on this file; `docker compose -f compose/docker-compose.yml up -d --wait elasticsearch`
starts a server (see docs/running-stores.md).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import elasticsearch
import pytest

from polyplan.stores.search import connect
from polyplan.stores.search.field_oracle import mapping_problems
from polyplan.testkit import resolve_url
from polyplan.validate.store_data import store_data

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parent / "elasticsearch"
DATA = store_data(HERE, "elasticsearch")  # made from data/model.json by the generator that planned it
INDEXES = sorted(DATA["indexes"])
CASES = [(alias, pattern) for alias in INDEXES for pattern in sorted(DATA["indexes"][alias]["cases"])]


def _fill(source: str, params: dict[str, Any]) -> Any:
    """The template with parameters filled in as Elasticsearch's toJson does, parsed as JSON."""
    for name, value in params.items():
        source = source.replace("{{#toJson}}" + name + "{{/toJson}}", json.dumps(value))
    source = re.sub(r"\{\{size\}\}\{\{\^size\}\}(\d+)\{\{/size\}\}", r"\1", source)
    return json.loads(source)


'''
    + _TEMPLATES_TEST
    + _names(_STORE_AND_ARTIFACTS_TEST, _ELASTICSEARCH_NAMES)
    + r"""@pytest.mark.parametrize("alias", INDEXES)
def test_ilm_policy_applied(store: Any, alias: str) -> None:
    client, prefix, _ = store
    index = DATA["indexes"][alias]
    first = prefix + index["first_index"]
    settings = client.indices.get_settings(index=first)[first]["settings"]["index"]
    assert settings["lifecycle"]["name"] == prefix + index["policy"]
    assert prefix + index["policy"] in client.ilm.get_lifecycle(name=prefix + index["policy"])


"""
    + _ACCEPTANCE_TESTS
    + _names(_WRITE_TESTS, _ELASTICSEARCH_NAMES)
    + _CASE_CHECKS
    + r"""@pytest.mark.parametrize(("alias", "pattern"), CASES)
def test_pattern(store: Any, alias: str, pattern: str) -> None:
    client, prefix, _ = store
    index = DATA["indexes"][alias]
    case = index["cases"][pattern]
    _data_shows(pattern, case)
    template = prefix + case["template_id"]
    rendered = client.render_search_template(id=template, params=case["params"])["template_output"]
    valid = client.indices.validate_query(index=prefix + alias, query=rendered["query"], explain=True)
    assert valid["valid"], valid
    page = client.search_template(index=prefix + alias, id=template, params=case["params"])["hits"]["hits"]
    _check_page(pattern, case, page)
    params = dict(case["params"], size=len(index["docs"]))
    everything = [hit["_id"] for hit in client.search_template(index=prefix + alias, id=template, params=params)["hits"]["hits"]]
    _check_matches(pattern, case, everything)
"""
)

OPENSEARCH = (
    r'''"""Generated by polyplan for model "@MODEL@": OpenSearch 2 checks of the search artifacts.

Applies opensearch/setup.py under a name prefix unique to the run, indexes the seeded documents
the way the outbox relay does, runs every search pattern, and deletes everything it created.
Run with `polyplan validate OUT --engine opensearch`, or set POLYPLAN_OPENSEARCH_URL and run
pytest on this file; `docker compose -f compose/docker-compose.yml up -d --wait opensearch`
starts a server (see docs/running-stores.md). The ISM policy checks are skipped, with the reason,
on a server without the Index State Management plugin.
"""

from __future__ import annotations

import json
import re
import warnings
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import opensearchpy
import pytest

from polyplan.stores.search import connect_opensearch as connect
from polyplan.stores.search.field_oracle import mapping_problems
from polyplan.testkit import resolve_url
from polyplan.validate.store_data import store_data

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parent / "opensearch"
DATA = store_data(HERE, "opensearch")  # made from data/model.json by the generator that planned it
INDEXES = sorted(DATA["indexes"])
CASES = [(alias, pattern) for alias in INDEXES for pattern in sorted(DATA["indexes"][alias]["cases"])]
ISM = "/_plugins/_ism"
ATTACH_SECONDS = 120  # ISM attaches a policy to a new index asynchronously


def _fill(source: str, params: dict[str, Any]) -> Any:
    """The template with parameters filled in as OpenSearch's mustache does, parsed as JSON.

    Lists go through toJson; a scalar sits inside a JSON string, escaped for JSON.
    """
    for name, value in params.items():
        source = source.replace("{{#toJson}}" + name + "{{/toJson}}", json.dumps(value))
        text = value if isinstance(value, str) else json.dumps(value)
        source = source.replace('"{{' + name + '}}"', json.dumps(text))
    source = re.sub(r"\{\{size\}\}\{\{\^size\}\}(\d+)\{\{/size\}\}", r"\1", source)
    return json.loads(source)


'''
    + _TEMPLATES_TEST
    + r"""def test_policies_are_complete() -> None:
    for alias in INDEXES:
        policy = json.loads((ARTIFACTS / f"{alias}.ism.json").read_text(encoding="utf-8"))["policy"]
        states = {state["name"]: state for state in policy["states"]}
        assert policy["default_state"] in states
        assert policy["ism_template"][0]["index_patterns"] == [f"{alias}-*"]
        for state in states.values():
            assert all(transition["state_name"] in states for transition in state["transitions"])
        rolls = any("rollover" in action for action in states[policy["default_state"]]["actions"])
        assert rolls == DATA["indexes"][alias]["rollover"]


"""
    + _names(_STORE_AND_ARTIFACTS_TEST, _OPENSEARCH_NAMES)
    + r"""@pytest.mark.parametrize("alias", INDEXES)
def test_ism_policy_applied(store: Any, alias: str) -> None:
    client, prefix, setup = store
    missing = setup.ism_missing(client)
    if missing:
        pytest.skip(f"ISM policy check skipped: {missing}; setup.py warned and applied everything else")
    index = DATA["indexes"][alias]
    first = prefix + index["first_index"]
    policy_id = prefix + index["policy"]
    stored = client.transport.perform_request("GET", f"{ISM}/policies/{policy_id}")["policy"]
    assert stored["ism_template"][0]["index_patterns"] == [f"{prefix}{alias}-*"]
    settings = client.indices.get_settings(index=first)[first]["settings"]["index"]
    rollover_alias = settings.get("plugins", {}).get("index_state_management", {}).get("rollover_alias")
    assert rollover_alias == (prefix + alias if index["rollover"] else None)
    deadline = time.monotonic() + ATTACH_SECONDS
    while True:
        explained = client.transport.perform_request("GET", f"{ISM}/explain/{first}").get(first, {})
        managed_by = explained.get("index.plugins.index_state_management.policy_id") or explained.get("policy_id")
        if managed_by == policy_id:
            break
        assert time.monotonic() < deadline, f"{first} is not managed by {policy_id} after {ATTACH_SECONDS}s: {explained}"
        time.sleep(2)


"""
    + _ACCEPTANCE_TESTS
    + _names(_WRITE_TESTS, _OPENSEARCH_NAMES)
    + _CASE_CHECKS
    + r"""@pytest.mark.parametrize(("alias", "pattern"), CASES)
def test_pattern(store: Any, alias: str, pattern: str) -> None:
    client, prefix, _ = store
    index = DATA["indexes"][alias]
    case = index["cases"][pattern]
    _data_shows(pattern, case)
    template = prefix + case["template_id"]
    rendered = client.render_search_template(id=template, body={"params": case["params"]})["template_output"]
    valid = client.indices.validate_query(index=prefix + alias, body={"query": rendered["query"]}, explain=True)
    assert valid["valid"], valid
    run = {"id": template, "params": case["params"]}
    page = client.search_template(index=prefix + alias, body=run)["hits"]["hits"]
    _check_page(pattern, case, page)
    everything_run = {"id": template, "params": dict(case["params"], size=len(index["docs"]))}
    everything = [hit["_id"] for hit in client.search_template(index=prefix + alias, body=everything_run)["hits"]["hits"]]
    _check_matches(pattern, case, everything)
"""
)
