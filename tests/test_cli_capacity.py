"""`polyplan capacity` through the real entry point: table, --json, --years and bad input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli_planning import ROOT, run_polyplan

IOT = ROOT / "scenarios" / "iot.yaml"


def test_capacity_prints_each_store_its_thresholds_and_steps() -> None:
    done = run_polyplan("capacity", str(IOT))
    assert done.returncode == 0, done.stderr
    for store in ("cache (redis)", "relational (postgresql)", "wide_column (cassandra)"):
        assert store in done.stdout
    assert "storage: crossed year 0.08: 11,208.4 GB at the horizon vs one node's 2,000.0 GB" in done.stdout
    assert "partitioning Alert (relational (postgresql)): from year 1:" in done.stdout


def test_capacity_json_has_every_year_store_and_threshold() -> None:
    done = run_polyplan("capacity", str(IOT), "--json", "--years", "3")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["model"] == "iot" and data["years"] == [0.0, 1.0, 2.0, 3.0]
    cassandra = next(s for s in data["stores"] if s["store"] == "wide_column (cassandra)")
    assert [y["year"] for y in cassandra["years"]] == [0.0, 1.0, 2.0, 3.0]
    assert {"rows", "data_bytes", "index_bytes", "stored_bytes", "reads_per_second", "writes_per_second"} <= set(
        cassandra["years"][-1]
    )
    assert cassandra["thresholds"][0]["resource"] == "storage"
    assert any(step["action"].startswith("scale out") for step in cassandra["steps"])
    reading = next(e for e in data["entities"] if e["entity"] == "Reading")
    assert reading["years"][-1]["rows"] == 311040000000
    assert data["diagnostics"] == []


def test_capacity_bad_years_and_bad_model_exit_2_with_one_line(tmp_path: Path) -> None:
    for years in ("0", "-1", "1000"):
        done = run_polyplan("capacity", str(IOT), "--years", years)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.strip().splitlines() == [
            f"polyplan capacity: --years must be above 0 and at most 100 (got {float(years):g})"
        ]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nentities:\n  A:\n    attributes: {x: {type: nonsense}}\n", encoding="utf-8")
    done = run_polyplan("capacity", str(bad))
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{bad}:4:") and lines[0].endswith("]")
    missing = run_polyplan("capacity", str(tmp_path / "nowhere.yaml"))
    assert missing.returncode == 2 and "[PP001]" in missing.stderr
