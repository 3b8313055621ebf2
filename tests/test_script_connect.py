"""The connect code every generated script carries: one source per store, importable and embedded.

`polyplan/stores/{wide_column/cluster,document/client,cache/client}.py` are ordinary modules (the
Cassandra validation runtime imports the first); `polyplan.emit.embed.module_code` gives their code
to the scripts polyplan writes, so setup, migration, move-verify and erasure scripts connect alike.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from polyplan.emit.embed import module_code, standalone
from polyplan.migrate.store_runtimes import MOVE, RUNTIMES
from polyplan.stores.search.engines import ELASTICSEARCH, OPENSEARCH, SearchEngine
from polyplan.stores.search.render import setup_script
from polyplan.stores.wide_column.cluster import cassandra_address, cassandra_cluster

GOLDEN = Path(__file__).resolve().parent / "golden"
CASSANDRA = module_code("polyplan.stores.wide_column", "cluster.py")
MONGODB = module_code("polyplan.stores.document", "client.py")
REDIS = module_code("polyplan.stores.cache", "client.py")
ERROR_LINE = module_code("polyplan.emit", "error_line.py")  # every other script carries only this
REPORT = standalone(module_code("polyplan.emit", "script_report.py"))  # erasure scripts carry it whole
# What only the shared code may call: a script that calls it itself has its own copy again.
CONNECTS = ("Cluster(", "MongoClient(", "Redis.from_url(")


def test_module_code_is_the_module_without_docstring_and_future_import() -> None:
    assert CASSANDRA.startswith("\nfrom typing import TYPE_CHECKING\n") and CASSANDRA.endswith(")\n\n")
    assert '"""Reach Cassandra' not in CASSANDRA and "__future__" not in CASSANDRA
    namespace: dict[str, object] = {}
    exec(compile(CASSANDRA, "cluster.py", "exec"), namespace)  # runs without polyplan or the driver imported
    assert callable(namespace["cassandra_cluster"]) and callable(namespace["cassandra_address"])


def test_a_cassandra_url_gives_host_port_and_data_center() -> None:
    assert cassandra_address("cassandra://") == ("127.0.0.1", 9042, "datacenter1")
    assert cassandra_address("cassandra://db.example:9142/eu-west") == ("db.example", 9142, "eu-west")
    with pytest.raises(ValueError, match=r"^mongodb://h is not a cassandra:// URL \(expected cassandra://"):
        cassandra_address("mongodb://h")


def test_the_cluster_speaks_protocol_v5_to_the_urls_data_center() -> None:
    cluster = cassandra_cluster("cassandra://10.1.2.3:9999/dc2", request_timeout=7)  # not connected: no server needed
    profile = cluster.profile_manager.default
    assert cluster.protocol_version == 5 and cluster.port == 9999 and list(cluster.contact_points) == ["10.1.2.3"]
    assert profile.request_timeout == 7 and profile.load_balancing_policy.local_dc == "dc2"
    assert cluster.connect_timeout == 10


@pytest.mark.parametrize(
    ("name", "text", "shared"),
    [
        ("cassandra migration step", RUNTIMES["cassandra"], [CASSANDRA]),
        ("mongodb migration step", RUNTIMES["mongodb"], [MONGODB]),
        ("redis migration step", RUNTIMES["redis"], [REDIS]),
        ("move verify step", MOVE, [MONGODB, CASSANDRA, REDIS, ERROR_LINE]),
        ("mongodb setup.py", (GOLDEN / "saas/document/mongodb/setup.py").read_text(encoding="utf-8"), [MONGODB]),
        ("redis setup.py", (GOLDEN / "shop/cache/redis/setup.py").read_text(encoding="utf-8"), [REDIS]),
    ],
)
def test_every_script_connects_through_the_shared_code_only(name: str, text: str, shared: list[str]) -> None:
    for code in shared:
        assert code in text, f"{name} lacks the shared connect code"
        text = text.replace(code, "")
    assert not [call for call in CONNECTS if call in text], f"{name} connects by itself"


@pytest.mark.parametrize(
    ("family", "path", "code"),
    [("document", "mongodb/erasure.py", MONGODB), ("wide_column", "cassandra/erasure.py", CASSANDRA)],
)
def test_erasure_scripts_connect_through_the_shared_code_only(family: str, path: str, code: str) -> None:
    from polyplan.pipeline import plan_text, render
    from tests.test_erasure import MONGO_MODEL

    files, _ = render(plan_text(MONGO_MODEL.replace("family: document", f"family: {family}")))
    text = files[path]
    assert code in text and REPORT in text
    assert not [call for call in CONNECTS if call in text.replace(code, "")], f"{path} connects by itself"


def test_a_drivers_error_is_one_line_without_its_topology_dump() -> None:
    from polyplan.emit.error_line import one_line

    error = TimeoutError("db:27017: timed out (configured timeouts: connectTimeoutMS: 20000.0ms), Timeout: 0.5s, ...")
    assert one_line(error) == "TimeoutError: db:27017: timed out"
    assert one_line(ValueError("first\nsecond")) == "ValueError: first"
    assert one_line(KeyError()) == "KeyError: "


def test_an_erasure_prints_its_counts_or_its_error(capsys: pytest.CaptureFixture[str]) -> None:
    from polyplan.emit.script_report import report_counts

    assert report_counts("redis://h", lambda: {"a": 2, "b": 0}, (OSError,), "deleted") == 0
    assert capsys.readouterr().out == "a: 2 deleted\nb: 0 deleted\n"

    def refused() -> dict[str, int]:
        raise ConnectionRefusedError("Error 111 connecting to h:6379. Connection refused.")

    assert report_counts("redis://h", refused, (OSError,), "deleted") == 1
    assert (
        capsys.readouterr().err
        == "erasure: redis://h: ConnectionRefusedError: Error 111 connecting to h:6379. Connection refused.\n"
    )


def test_standalone_inlines_polyplan_imports_and_refuses_what_it_cannot() -> None:
    script = "import sys\nfrom polyplan.emit.error_line import one_line\nprint(one_line(ValueError('x')))\n"
    carried = standalone(script)
    assert "polyplan" not in carried and "def one_line(" in carried
    namespace: dict[str, object] = {}
    exec(compile(carried, "<setup>", "exec"), namespace)  # runs without importing polyplan's module
    with pytest.raises(ValueError, match="polyplan import"):
        standalone("def f():\n    from polyplan.emit.error_line import one_line\n")


@pytest.mark.parametrize("engine", [ELASTICSEARCH, OPENSEARCH], ids=lambda engine: engine.name)
def test_search_setup_scripts_import_no_polyplan(engine: SearchEngine) -> None:
    tree = ast.parse(setup_script(engine))
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert "polyplan" not in imported
    assert "def one_line(" in setup_script(engine)


def test_the_erasure_report_carries_one_line_and_only_erasure_scripts_carry_the_report() -> None:
    assert "def one_line(" in REPORT and "def report_counts(" in REPORT and "polyplan" not in REPORT
    setup_scripts = [
        (GOLDEN / "saas/document/mongodb/setup.py").read_text(encoding="utf-8"),
        (GOLDEN / "shop/cache/redis/setup.py").read_text(encoding="utf-8"),
        setup_script(OPENSEARCH),
        setup_script(ELASTICSEARCH),
        MOVE,
    ]
    for text in setup_scripts:
        assert "def one_line(" in text and "report_counts" not in text
