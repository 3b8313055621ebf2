"""OpenSearch artifacts fixed byte for byte: the search test model (rollover, retention, in-place) on OpenSearch.

Stored beside the Elasticsearch ones, under tests/golden/<name>/search/opensearch/;
`pytest --update-golden` rewrites them.
"""

from __future__ import annotations

from polyplan.stores.search import Target
from tests.conftest import Golden
from tests.test_opensearch_design import opensearch_text
from tests.test_search_design import EVENTS


def test_search_events_on_opensearch(golden: Golden) -> None:
    artifacts = Target().emit(opensearch_text(EVENTS, "search_events.yaml"))
    for path, text in sorted(artifacts.files.items()):
        golden.check(f"search_events/search/{path}", text)
    # Stored as .txt: a golden test_*.py would be collected by pytest.
    golden.check("search_events/search/tests/test_opensearch.py.txt", artifacts.tests["test_opensearch.py"])
