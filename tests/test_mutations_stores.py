"""The mutation suite for the non-relational stores: break a bundled scenario's Redis key design
or Cassandra tables the way a generator bug would — consistently, in every artifact that carries
the value — and require the generated tests of that store, run on the real server, to fail and
name the broken key family or table.

Operators (polyplan.validate.store_mutations): Redis `change-ttl` (a family's TTL halved in the
family and every command that sets it) and `collide-key` (the template's placeholders replaced by
a constant); Cassandra `flip-clustering`, `change-partition-key` and `change-ttl` (in schema.cql
and design.json alike), and on each pattern's query (queries.cql and design.json alike)
`remove-limit`, `change-limit` (to a quarter), `flip-sort` and `drop-range-bound`; OpenSearch
`change-mapping-type` (a field mapped as a type a generator could confuse it with), and on each
pattern's template in queries.json `remove-size`, `change-size`, `flip-sort`, `drop-filter` and
`drop-range-bound` (on the bundled scenarios and the search design's own models, whose patterns
sort and filter on ranges; every `drop-filter` of an IN filter, and of a full-text clause whose
data holds documents the search cannot match, runs, not just the first). Only the
model-derived test data can tell these apart from the design: the query operators are caught by
the discriminating data of the generated tests (a partition beyond the limit, rows outside each
bound), which no catalog check reads.

By default the first mutation of each operator per engine runs (one generated-test run each);
POLYPLAN_MUTATIONS=all runs every mutation of every scenario. The score is printed.

MongoDB (here FerretDB): `drop-index`, `reorder-index` (the last key moved first),
`drop-required`, and on each pattern's query in queries.json `remove-limit`, `change-limit`,
`flip-sort`, `drop-range-bound` and `drop-filter`. FerretDB has no $jsonSchema validators, so a loosened validator survives there,
explained by the run's own skip message; on MongoDB every required field has a rejection case.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from polyplan.emit.writer import write_tree
from polyplan.pipeline import render
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from polyplan.validate.store_data import store_data
from polyplan.validate.store_mutations import StoreMutation, judged, store_mutations
from tests.conftest import SCENARIOS, planned
from tests.test_opensearch_design import opensearch_scenario, opensearch_text
from tests.test_search_design import OWN_MODELS

ENGINES = [
    pytest.param("redis", marks=pytest.mark.redis, id="redis"),
    pytest.param("cassandra", marks=pytest.mark.cassandra, id="cassandra"),
    pytest.param("opensearch", marks=pytest.mark.opensearch, id="opensearch"),
    pytest.param("mongodb", marks=pytest.mark.mongodb, id="mongodb"),
]
EXPECTED_OPERATORS = {
    "redis": {"change-ttl", "collide-key"},
    "cassandra": {
        "flip-clustering",
        "change-partition-key",
        "change-ttl",
        "remove-limit",
        "change-limit",
        "flip-sort",
        "drop-range-bound",
    },
    "opensearch": {
        "change-mapping-type",
        "remove-size",
        "change-size",
        "flip-sort",
        "drop-filter",
        "drop-range-bound",
    },
    "mongodb": {
        "drop-index",
        "reorder-index",
        "drop-required",
        "remove-limit",
        "change-limit",
        "flip-sort",
        "drop-range-bound",
        "drop-filter",
    },
}
# A survivor is explained only by a server that lacks the feature the check needs, as its own
# skip message says: FerretDB has no $jsonSchema validators, so a loosened validator cannot fail.
EXPLAINED = {("mongodb", "drop-required"): "rejects a document (missing required field"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """ "bundled" and "opensearch" (the scenarios with their search engine switched, and the search
    design's own models) → scenario stem → its full plan folder (written once for the module)."""
    found: dict[str, dict[str, Path]] = {"bundled": {}, "opensearch": {}}
    for scenario in SCENARIOS:
        for variant, plan in (("bundled", planned(scenario)), ("opensearch", opensearch_scenario(scenario.stem))):
            folder = tmp_path_factory.mktemp(f"{variant}-{scenario.stem}") / "out"
            write_tree(render(plan)[0], folder)
            found[variant][scenario.stem] = folder
    # The search design's own models: their patterns sort and filter on ranges.
    for name, text in sorted(OWN_MODELS.items()):
        folder = tmp_path_factory.mktemp(f"opensearch-{name}") / "out"
        write_tree(render(opensearch_text(text, f"{name}.yaml"))[0], folder)
        found["opensearch"][name] = folder
    return found


def selected(folders: dict[str, Path], engine: str) -> list[tuple[str, StoreMutation]]:
    """(scenario, mutation) pairs to run: all with POLYPLAN_MUTATIONS=all, else one per operator."""
    every = [(name, m) for name, folder in sorted(folders.items()) for m in store_mutations(folder, engine)]
    if os.environ.get("POLYPLAN_MUTATIONS") == "all":
        return every
    first: dict[str, tuple[str, StoreMutation]] = {}
    for name, mutation in every:
        first.setdefault(mutation.operator, (name, mutation))
    chosen = list(first.values())
    # And every dropped IN filter (a `terms` clause) and full-text clause (`match`) whose case has
    # unmatched documents: only the seed's near records (the answer's group with another value,
    # or a text no analyzer matches) make them visible, so they get no sampling.
    picked = {id(m) for _, m in chosen}
    chosen += [
        (name, m)
        for name, m in every
        if m.operator == "drop-filter"
        and id(m) not in picked
        and (m.detail.startswith("terms ") or (m.detail.startswith("match ") and _unmatched(folders[name], m)))
    ]
    return chosen


def _unmatched(folder: Path, mutation: StoreMutation) -> bool:
    """Whether the generated data of the mutated pattern holds documents its full text cannot match."""
    data = store_data(folder / "tests", mutation.engine)
    return any(bool(index["cases"].get(mutation.target, {}).get("unmatched")) for index in data["indexes"].values())


@pytest.mark.parametrize("engine", ENGINES)
def test_store_mutations_are_caught(folders: dict[str, dict[str, Path]], engine: str) -> None:
    url = resolve_url(engine)
    variant = folders["opensearch" if engine == "opensearch" else "bundled"]
    chosen = selected(variant, engine)
    operators = {m.operator for _, m in chosen}
    expected = EXPECTED_OPERATORS[engine]
    assert operators == expected, f"the bundled scenarios no longer exercise {expected - operators}"
    scenario_of = {id(m): name for name, m in chosen}
    said: dict[int, str] = {}
    started = time.monotonic()

    def run(mutation: StoreMutation) -> tuple[int, str]:
        with tempfile.TemporaryDirectory(prefix="polyplan-store-mutant-") as work:
            copy = Path(work) / "out"
            shutil.copytree(variant[scenario_of[id(mutation)]], copy)
            mutation.apply(copy)
            with tempfile.TemporaryFile("w+", encoding="utf-8") as output:
                code = run_validation(copy, engine, url, trust_edits=True, modules=[f"test_{engine}.py"], output=output)
                output.seek(0)
                said[id(mutation)] = output.read()
                return code, said[id(mutation)]

    outcomes = list(judged([m for _, m in chosen], run))
    caught = sum(1 for _, ok, _ in outcomes if ok)
    print(f"\nmutation score {engine}: {caught}/{len(outcomes)} caught in {time.monotonic() - started:.0f}s")
    survivors = []
    for mutation, ok, why in outcomes:
        gap = EXPLAINED.get((engine, mutation.operator))
        # The run's summary lists each check the server could not make, with the feature it lacks.
        skipped = [line for line in said[id(mutation)].splitlines() if line.startswith("  - ") and gap and gap in line]
        if not ok and skipped and all("$jsonSchema" in line for line in skipped):
            print(
                f"  survivor explained: the server skipped the check that catches it (no $jsonSchema): {mutation.label}"
            )
        elif not ok:
            survivors.append(f"{mutation.label}: {why}")
    assert not survivors, "\n".join(survivors)


def test_every_mutation_changes_a_file(folders: dict[str, dict[str, Path]]) -> None:
    """Each mutated run starts from an output whose own tests pass (tests/test_cache_redis.py,
    tests/test_wide_column_integration.py and tests/test_opensearch_integration.py run them);
    here: every mutation really changes what it edits, or a survivor would mean nothing."""
    for variant, engines in (("bundled", ("redis", "cassandra", "mongodb")), ("opensearch", ("opensearch",))):
        for folder in folders[variant].values():
            for engine in engines:
                for mutation in store_mutations(folder, engine):
                    for path, text in mutation.edits:
                        assert (folder / path).read_text(encoding="utf-8") != text, mutation.label
