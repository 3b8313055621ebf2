"""Index design inputs that cannot be indexed are refused by `polyplan plan` itself: a filter on
an attribute that does not exist, a sort on a JSON blob, full-text on a non-text attribute.
Each ends with exit code 2, one `FILE:LINE:COL: path: problem [CODE]` line, and no output."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

from polyplan.cli import main

MODEL = """\
name: catalog
entities:
  Item:
    attributes:
      title: {{type: string, max_length: 100}}
      specs: {{type: json, nullable: true}}
      price: {{type: decimal, precision: 10, scale: 2}}
    growth: {{initial_rows: 100000}}
access_patterns:
  - name: broken
    entity: Item
{pattern}
"""

CASES = {
    "filter_on_missing_attribute": (
        "    filters: [{attribute: colour, op: eq}]",
        "model.yaml:12:27: access_patterns.0.filters.0.attribute: 'colour' is not an attribute of Item [PP202]",
    ),
    "sort_on_json_blob": (
        "    filters: [{attribute: title, op: eq}]\n    sort: [{attribute: specs, direction: desc}]",
        "model.yaml:13:24: access_patterns.0.sort.0.attribute: cannot sort on the json attribute 'specs' [PP304]",
    ),
    "fulltext_on_a_number": (
        "    filters: [{attribute: price, op: fulltext}]",
        "model.yaml:12:38: access_patterns.0.filters.0.op: full-text needs a string or text attribute; 'price' is decimal [PP305]",
    ),
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("case", sorted(CASES))
def test_unindexable_pattern_is_a_clear_error_with_exit_code_2(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pattern, expected = CASES[case]
    (tmp_path / "model.yaml").write_text(MODEL.format(pattern=pattern), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["polyplan", "plan", "model.yaml", "--out", "out"])
    monkeypatch.delenv("POLYPLAN_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main()
    captured = capsys.readouterr()
    assert stopped.value.code == 2
    assert ANSI.sub("", captured.err).splitlines() == [expected]
    assert "Traceback" not in captured.out + captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.yaml"]  # no output folder


def test_the_same_model_with_a_valid_pattern_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Control: the model around the bad patterns is itself fine."""
    text = MODEL.format(pattern=textwrap.indent("filters: [{attribute: title, op: eq}]", "    "))
    (tmp_path / "model.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["polyplan", "plan", "model.yaml", "--out", "out"])
    with pytest.raises(SystemExit) as stopped:
        main()
    capsys.readouterr()
    assert stopped.value.code in (0, None)
    assert (tmp_path / "out" / "plan.json").exists()
