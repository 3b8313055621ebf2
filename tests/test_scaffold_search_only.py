"""`polyplan scaffold` (issue 15): a pattern only the search projection serves (full text over the
items of a list: marketplace's `search_tags`, which has no relational form) gets its function in
`search.py`, running the plan's template, and no PP811 line. Checked on the real OpenSearch (the
marketplace with `engines.search: opensearch`), fed through the package's own outbox and relay
from rows `polyplan seed` wrote to SQLite; the hits are compared with the rows whose tags hold the
word. Never skipped under POLYPLAN_REQUIRE=opensearch."""

from __future__ import annotations

import importlib
import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.stores.relational.connect import scratch_database
from tests.conftest import ROOT
from tests.scaffold_support import scaffold_cli, scaffolded, scratch_index_prefix, seed_model

APP = "marketos"


def _model(folder: Path) -> Path:
    text = (ROOT / "scenarios" / "marketplace.yaml").read_text(encoding="utf-8")
    text = text.replace("name: marketplace\n", f"name: {APP}\n", 1)
    model = folder / f"{APP}.yaml"
    model.write_text(text.replace("options:\n", "engines: {search: opensearch}\noptions:\n", 1), encoding="utf-8")
    return model


@pytest.mark.opensearch
def test_a_search_only_read_runs_the_plans_template(tmp_path: Path) -> None:
    model = _model(tmp_path)
    with scaffolded(model, tmp_path / "out"), scratch_index_prefix() as (client, prefix):
        settings = importlib.import_module(f"{APP}.settings")
        relay = importlib.import_module(f"{APP}.relay")
        search = importlib.import_module(f"{APP}.search")
        load = importlib.import_module(f"{APP}.load")
        with scratch_database("sqlite://") as engine:
            seed_model(model, "sqlite", engine.url.render_as_string(hide_password=False), 40)
            stores = settings.Stores(engine, None, "", client, prefix)
            relay.install_outbox(stores)
            search.install_search(stores)
            added = load.backfill(stores)
            assert relay.run(stores, batch=100, once=True) == added > 0
            client.indices.refresh(index=f"{prefix}*")
            with engine.connect() as connection:
                rows = connection.execute(sa.text("SELECT id, tags FROM item")).all()
            tagged = {str(uuid.UUID(str(r.id))): [str(t).lower() for t in _list(r.tags)] for r in rows}
            words = sorted({w for tags in tagged.values() for t in tags for w in re.findall(r"[a-z0-9]{3,}", t)})
            assert words, "the seeded items have no tags to search"
            checked = 0
            for word in words[:5]:
                expected = {i for i, tags in tagged.items() if any(word in re.findall(r"[a-z0-9]+", t) for t in tags)}
                page = search.search_tags(stores, word, size=100)
                assert {hit.doc_id for hit in page.hits} == expected, word
                assert page.total == len(expected)
                checked += len(expected)
            assert checked > 0


def _list(value: object) -> list[object]:
    import json

    found = json.loads(value) if isinstance(value, str) else value
    return list(found) if isinstance(found, list) else []


def test_no_pp811_for_a_pattern_the_search_index_serves(tmp_path: Path) -> None:
    done = scaffold_cli("scenarios/marketplace.yaml", "--out", str(tmp_path / "m"))
    assert done.returncode == 0, done.stderr
    assert "search_tags" not in done.stderr and "access_patterns.1:" not in done.stderr, done.stderr
