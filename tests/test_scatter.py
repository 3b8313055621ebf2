"""Reads with no equality filter never scatter silently (issue 12: "a prefix search with no
equality column got a hash-bucketed Cassandra table with 2,152 buckets; every keystroke would run
2,152 queries"). Pure: no server (tests/test_opensearch_integration.py runs the projection's
generated tests on the real OpenSearch)."""

from __future__ import annotations

import json

from polyplan.model.schema import Family
from polyplan.pipeline import plan_text, render
from tests.test_search_design import AUTOCOMPLETE


def test_a_prefix_read_with_no_equality_filter_goes_to_a_search_projection() -> None:
    plan = plan_text(AUTOCOMPLETE, "autocomplete.yaml")
    word = plan.entities["Word"]
    assert word.family is Family.WIDE_COLUMN
    (projection,) = [p for p in word.projections if p.family is Family.SEARCH]
    assert projection.patterns == ("autocomplete",)
    assert "every bucket" in projection.reason
    files, diagnostics = render(plan)
    tables = json.loads(files["cassandra/design.json"])["tables"]
    # Cassandra keeps the record and the lookup with an equality filter; no bucketed scan table.
    assert all(table["bucket"] is None for table in tables.values())
    assert "autocomplete" not in json.dumps(tables)
    assert not [d for d in diagnostics if d.code == "PP404"]
    search = json.loads(files["elasticsearch/queries.json"])
    assert '"prefix"' in json.dumps(search)


def test_without_a_search_engine_the_scatter_is_warned() -> None:
    text = AUTOCOMPLETE.replace("name: search_autocomplete", "name: words\nengines: {search: null}")
    files, diagnostics = render(plan_text(text, "autocomplete.yaml"))
    (scatter,) = [d for d in diagnostics if d.code == "PP404"]
    assert "runs once per bucket" in scatter.message
    bucket = json.loads(files["cassandra/design.json"])["tables"]["autocomplete"]["bucket"]
    assert bucket["kind"] == "hash" and bucket["count"] > 1
