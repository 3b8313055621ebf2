"""Reads with no equality filter never scatter silently (issue 12: "a prefix search with no
equality column got a hash-bucketed Cassandra table with 2,152 buckets; every keystroke would run
2,152 queries"). Pure: no server (tests/test_opensearch_integration.py runs the projection's
generated tests on the real OpenSearch)."""

from __future__ import annotations

import json

from polyplan.model.schema import Family
from polyplan.pipeline import plan_text, render
from polyplan.stores.wide_column.design import design_wide_column
from polyplan.stores.wide_column.runtime import prefix_bucket
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


def test_without_a_search_engine_the_prefix_reads_one_prefix_bucket() -> None:
    """The issue's defect, reproduced with no search engine: the table is partitioned by the
    term's first k characters (k from the rows and the partition limits), so a keystroke past k
    characters reads one partition; nothing scatters."""
    text = AUTOCOMPLETE.replace("name: search_autocomplete", "name: words\nengines: {search: null}")
    files, diagnostics = render(plan_text(text, "autocomplete.yaml"))
    assert not [d for d in diagnostics if d.code in ("PP404", "PP406", "PP473")]
    design = json.loads(files["cassandra/design.json"])
    table = design["tables"]["autocomplete"]
    assert table["bucket"]["kind"] == "prefix" and table["partition_key"] == [table["bucket"]["column"]]
    length = table["bucket"]["length"]
    # 100,000,000 words: 3 characters leave ~100,000 in the largest bucket, over half the limit.
    assert length == 4 and table["estimate"]["rows_per_partition"] <= 50_000
    query = design["queries"]["autocomplete"]
    assert f"term_prefix{length} = :term_prefix{length}" in query["cql"]
    assert not any("once per" in step for step in query["read_plan"])
    (note,) = [d for d in diagnostics if d.code == "PP474"]
    assert f"a prefix of {length} or more characters reads one partition" in note.message
    assert prefix_bucket("zebra crossing", length) == "zebr"


def test_a_read_with_nothing_to_partition_by_scatters_only_when_declared_a_scan() -> None:
    every = "\n  - {name: every_word, entity: Word, limit: 100, rate: 1}\nwrite_patterns:"
    text = AUTOCOMPLETE.replace("\nwrite_patterns:", every)
    design = design_wide_column(plan_text(text, "autocomplete.yaml"))
    (refused,) = design.errors
    assert refused.code == "PP406" and "declare the read a scan (scan: true)" in refused.message
    declared = design_wide_column(plan_text(text.replace("rate: 1}", "rate: 1, scan: true}"), "autocomplete.yaml"))
    assert not declared.errors
    (scan,) = [d for d in declared.diagnostics if d.code == "PP473"]
    table = declared.table("every_word")
    assert table.bucket is not None and table.bucket.kind == "hash"
    assert f"({table.bucket.count} queries)" in scan.message


def test_no_prefix_length_fits_when_one_value_overfills_a_partition() -> None:
    # 500 distinct terms over 100,000,000 rows: one term alone holds 200,000 rows, so no prefix
    # length keeps the bucket under the limit, and the longest is taken with a PP502 note.
    text = AUTOCOMPLETE.replace(
        "term: {type: string, max_length: 60}", "term: {type: string, max_length: 6, distinct: 500}"
    )
    design = design_wide_column(
        plan_text(text.replace("name: search_autocomplete", "name: w\nengines: {search: null}"), "a.yaml")
    )
    table = design.table("autocomplete")
    assert table.bucket is not None and table.bucket.length == 6
    assert any(d.code == "PP502" and "even bucketed" in d.message for d in design.diagnostics)
