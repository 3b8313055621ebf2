"""Full-text at scale with no search engine run: the record store's own text index where it has
one (MongoDB, PP461), else PP314 naming only the remedies the model can take. Pure: no server."""

from __future__ import annotations

import json

import pytest

from polyplan.diagnostics import DiagnosticError
from polyplan.pipeline import plan_text, render

MONGO_ONLY = """
name: notes
engines: {document: mongodb, relational: null, search: null, cache: null, wide_column: null}
entities:
  Note:
    attributes:
      title: {type: string, max_length: 200}
      body: {type: text, avg_length: 2000}
    growth: {initial_rows: 5000000}
access_patterns:
  - {name: search_notes, entity: Note, filters: [{attribute: body, op: fulltext}], limit: 20, rate: 100}
"""


def test_a_mongodb_only_model_with_text_search_uses_the_text_index() -> None:
    # Issue 12: it was refused (PP314) and sent the user to a relational fallback no engine ran.
    plan = plan_text(MONGO_ONLY, "<test>")
    assert plan.entities["Note"].family.value == "document"
    notes = [d for d in plan.diagnostics if d.code == "PP461"]
    assert len(notes) == 1 and "text index" in notes[0].message and "relational" not in notes[0].message
    files, _ = render(plan)
    queries = json.loads(files["mongodb/queries.json"])
    assert '"$text"' in json.dumps(queries)


def test_full_text_at_scale_in_cassandra_names_only_remedies_the_model_can_take() -> None:
    text = MONGO_ONLY.replace("wide_column: null", "wide_column: cassandra").replace(
        "    growth:", "    placement: {family: wide_column}\n    growth:"
    )
    with pytest.raises(DiagnosticError) as raised:
        plan_text(text, "<test>")
    (refused,) = [d for d in raised.value.diagnostics if d.code == "PP314"]
    assert "engines.search" in refused.message and "document store" in refused.message
    assert "fulltext_fallback" not in refused.message
