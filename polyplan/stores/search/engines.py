"""The engines of the search family, one small dialect class each (the way sqlglot does dialects).

`SearchEngine` is Elasticsearch 8, the reference. Every other engine subclasses it and overrides
only what differs; everything that does not appear in a subclass (mappings, analyzers, search
templates, document form, sizing) is shared. `OpenSearch` (2.x) differs in:

- the artifact folder (`opensearch/`) and the names in prose (sync.md, diagnostics, plan.json);
- the lifecycle: an Index State Management (ISM) policy `<index>.ism.json` instead of an ILM policy
  `<index>.ilm.json`, attached through its `ism_template` rather than an index setting, and rolled
  over through the `plugins.index_state_management.rollover_alias` index setting;
- the client library of the generated setup.py and tests (`opensearch-py`);
- how a scalar parameter goes into a mustache search template: OpenSearch's `toJson` writes a
  scalar as bare text, so its scalars sit in a JSON string (lists still use `toJson`).

Every mapping type, analyzer, normalizer and query clause polyplan emits (text, keyword with a
normalizer, short/integer/long, scaled_float, double, boolean, date, binary, object, the custom
language analyzer with stop and stemmer filters, match/term/terms/range/prefix with
`case_insensitive`) exists unchanged in OpenSearch 2.19, so the dialect has no mapping overrides;
a type that one engine lacks belongs here as an override that reports a diagnostic instead of
emitting it (tests/test_opensearch_design.py lists the types OpenSearch has).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from polyplan.stores.search import generated_tests

if TYPE_CHECKING:
    from polyplan.stores.search.design import SearchIndex

HOT_PRIORITY = 100  # index priority of live indexes: recovered first after a restart
ISM_TEMPLATE_PRIORITY = 100  # ISM refuses two policies whose ism_template patterns overlap at one priority
ISM_PLUGIN = "opensearch-index-management"


class Placeholder(str):
    """A mustache tag polyplan put into a search template body (every other string is data).

    `queries.template_source` leaves these as they are and escapes the braces of all other
    strings, so that a model value such as `{{x}}` reaches the engine as text, not as a tag.
    """

    __slots__ = ()


class SearchEngine:
    """Elasticsearch 8: the reference engine of the search family; subclasses override what differs."""

    name: ClassVar[str] = "elasticsearch"
    product: ClassVar[str] = "Elasticsearch"  # the name in prose
    lifecycle_feature: ClassVar[str] = "ILM"  # the lifecycle mechanism, in prose and diagnostics
    policy_suffix: ClassVar[str] = "ilm"  # <index>.<suffix>.json
    setup_resource: ClassVar[str] = "setup_script.py"  # the standalone setup.py, in this package
    test_template: ClassVar[str] = generated_tests.ELASTICSEARCH
    search_usage: ClassVar[str] = (
        "setup.py stores each source as a mustache search template; run one with "
        "client.search_template(index=<alias>, id=<template_id>, params={...}). Ranges are half-open: "
        "<attr>_from inclusive, <attr>_to exclusive. Pass size to page past the default."
    )

    def placeholder(self, name: str) -> str:
        """Where a scalar parameter goes in a search template (a JSON string value of the body).

        Elasticsearch's `toJson` writes a string with its quotes and a number without: the
        parameter keeps its JSON type, and the template source unquotes the placeholder.
        """
        return Placeholder("{{#toJson}}" + name + "{{/toJson}}")

    def list_placeholder(self, name: str) -> str:
        """Where a list parameter (`in`) goes: `toJson` writes it as a JSON array on every engine."""
        return Placeholder("{{#toJson}}" + name + "{{/toJson}}")

    @property
    def folder(self) -> str:
        """The artifact folder under the plan output."""
        return self.name

    def policy_file(self, alias: str) -> str:
        """Output-relative path of the lifecycle policy of one index."""
        return f"{self.folder}/{alias}.{self.policy_suffix}.json"

    def lifecycle_settings(self, index: SearchIndex) -> dict[str, Any]:
        """The lifecycle part of the template's `index` settings: ILM names the policy there."""
        lifecycle: dict[str, Any] = {"name": index.lifecycle.name}
        if index.lifecycle.rollover:
            lifecycle["rollover_alias"] = index.alias
        return {"lifecycle": lifecycle}

    def lifecycle_policy(self, index: SearchIndex, model: str) -> dict[str, Any]:
        """The ILM policy (body of PUT _ilm/policy/<name>)."""
        life = index.lifecycle
        hot: dict[str, Any] = {"set_priority": {"priority": HOT_PRIORITY}}
        if life.rollover:
            hot["rollover"] = {
                "max_age": f"{life.max_age_days}d",
                "max_primary_shard_size": life.max_primary_shard_size,
            }
        phases: dict[str, Any] = {"hot": {"actions": hot, "min_age": "0ms"}}
        if life.delete_after:
            phases["delete"] = {"actions": {"delete": {}}, "min_age": life.delete_after}
        return {
            "policy": {
                "_meta": {
                    "entity": index.entity,
                    "generated_by": "polyplan",
                    "model": model,
                    "reasons": list(life.reasons),
                },
                "phases": phases,
            }
        }

    def test_index_data(self, index: SearchIndex) -> dict[str, Any]:
        """Extra per-index facts the engine's generated test reads from its data file."""
        return {}

    def lifecycle_fallback(self, indexes: tuple[SearchIndex, ...]) -> list[str]:
        """sync.md lines that say how to run the lifecycle where the server cannot (none: ILM is built in)."""
        return []


class OpenSearch(SearchEngine):
    """OpenSearch 2: ISM instead of ILM, opensearch-py instead of the Elasticsearch client."""

    name = "opensearch"
    product = "OpenSearch"
    lifecycle_feature = "ISM"
    policy_suffix = "ism"
    setup_resource = "setup_script_opensearch.py"
    test_template = generated_tests.OPENSEARCH
    search_usage = (
        "setup.py stores each source as a mustache search template; run one with opensearch-py as "
        'client.search_template(index=<alias>, body={"id": <template_id>, "params": {...}}). Ranges are '
        "half-open: <attr>_from inclusive, <attr>_to exclusive. Pass size to page past the default."
    )

    def placeholder(self, name: str) -> str:
        """A scalar parameter as the text of a JSON string, where mustache escapes it for JSON.

        OpenSearch's `toJson` writes a scalar as its bare text (`crystal`, not `"crystal"`), which
        is not JSON; only lists and maps come out as JSON. OpenSearch reads a number, date or
        boolean given as a string as that type, so a quoted placeholder serves every filter.
        """
        return Placeholder("{{" + name + "}}")

    def lifecycle_settings(self, index: SearchIndex) -> dict[str, Any]:
        """ISM attaches the policy through its ism_template; only a rollover needs an index setting."""
        if not index.lifecycle.rollover:
            return {}
        return {"plugins": {"index_state_management": {"rollover_alias": index.alias}}}

    def lifecycle_policy(self, index: SearchIndex, model: str) -> dict[str, Any]:
        """The ISM policy: `policy` is the body of PUT _plugins/_ism/policies/<id>; `_meta` stays local.

        ISM refuses unknown fields in a policy, so the reasons go into `description` as well as
        into the file's own `_meta` (which setup.py does not send).
        """
        life = index.lifecycle
        hot_actions: list[dict[str, Any]] = [{"index_priority": {"priority": HOT_PRIORITY}}]
        if life.rollover:
            # ISM rolls over when any condition is met, like ILM's max_* conditions.
            hot_actions.append(
                {
                    "rollover": {
                        "min_index_age": f"{life.max_age_days}d",
                        "min_primary_shard_size": life.max_primary_shard_size,
                    }
                }
            )
        hot: dict[str, Any] = {"actions": hot_actions, "name": "hot", "transitions": []}
        states = [hot]
        if life.delete_after:
            # ILM counts the delete phase from the rollover; ISM's min_rollover_age does the same,
            # while min_index_age would count from creation and delete the newest documents early.
            age = "min_rollover_age" if life.rollover else "min_index_age"
            hot["transitions"] = [{"conditions": {age: life.delete_after}, "state_name": "delete"}]
            states.append({"actions": [{"delete": {}}], "name": "delete", "transitions": []})
        return {
            "_meta": {
                "entity": index.entity,
                "generated_by": "polyplan",
                "model": model,
                "reasons": list(life.reasons),
            },
            "policy": {
                "default_state": "hot",
                "description": f"polyplan: lifecycle of {index.entity} (model {model}): " + "; ".join(life.reasons),
                "ism_template": [{"index_patterns": index.index_patterns, "priority": ISM_TEMPLATE_PRIORITY}],
                "states": states,
            },
        }

    def test_index_data(self, index: SearchIndex) -> dict[str, Any]:
        """Whether the index rolls over: then its ISM check also expects the rollover alias setting."""
        return {"rollover": index.lifecycle.rollover}

    def lifecycle_fallback(self, indexes: tuple[SearchIndex, ...]) -> list[str]:
        """What to schedule when the server has no ISM plugin, so no rollover or expiry is silently lost."""
        lines = [
            f"## Without the ISM plugin ({ISM_PLUGIN})",
            "",
            "Index State Management is an OpenSearch plugin. When the server does not have it, setup.py applies",
            "everything except the `*.ism.json` policies and prints a warning; nothing then rolls over or expires",
            "by itself. Run the same lifecycle from a scheduler (for example hourly) instead:",
            "",
        ]
        for index in indexes:
            life = index.lifecycle
            if life.rollover:
                # OpenSearch's rollover API has no max_primary_shard_size (ISM has its own): bound
                # the whole index by shards × the per-shard bound instead.
                per_shard = _gigabytes(life.max_primary_shard_size or "50gb")
                conditions = {"max_age": f"{life.max_age_days}d", "max_size": f"{index.shards * per_shard}gb"}
                lines.append(
                    f"- `{index.alias}`: roll over with `POST {index.alias}/_rollover` and "
                    f"`{_compact({'conditions': conditions})}` ({index.shards} primary shard(s) × "
                    f"{life.max_primary_shard_size})."
                )
                if life.delete_after:
                    lines.append(
                        f"  Delete by alias and age: list `GET _cat/indices/{index.alias}-*?h=index,creation.date"
                        f"&s=index&format=json`; an index rolled over when its successor was created, so `DELETE` "
                        f"by name every `{index.alias}-NNNNNN` that is not the write index of `{index.alias}` "
                        f"and whose successor is older than {life.delete_after}."
                    )
            else:
                lines.append(
                    f"- `{index.alias}`: no rollover and no expiry; the policy only sets the index priority "
                    f"({HOT_PRIORITY}), which orders recovery after a restart: `PUT {index.alias}/_settings` with "
                    f'`{{"index.priority": {HOT_PRIORITY}}}` keeps it.'
                )
        lines.append("")
        return lines


def _compact(data: Any) -> str:
    """One-line JSON for prose."""
    return json.dumps(data, sort_keys=True, separators=(", ", ": "))


def _gigabytes(size: str) -> int:
    """The number in a size the design writes in gigabytes, e.g. "50gb" → 50."""
    if not size.endswith("gb"):
        raise ValueError(f"expected a size in gb, got {size!r}")
    return int(size.removesuffix("gb"))


ELASTICSEARCH = SearchEngine()
OPENSEARCH = OpenSearch()
ENGINES: dict[str, SearchEngine] = {engine.name: engine for engine in (ELASTICSEARCH, OPENSEARCH)}


def engine_named(name: str | None) -> SearchEngine:
    """The dialect of `engines.search` (Elasticsearch when the model names none: the schema's default)."""
    return ENGINES[name or ELASTICSEARCH.name]
