"""docs/diagnostics.md and docs/model.md stay true to the code.

- every code in `polyplan.diagnostics.CODES` has a section in docs/diagnostics.md, titled with its
  meaning, and every section names a code that exists;
- every example line taken from a bad model in tests/bad_inputs/ is exactly what polyplan prints;
- docs/model.md names every key of the model, and its complete example plans without a finding.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from polyplan.diagnostics import CODES, DiagnosticError
from polyplan.model import schema
from polyplan.model.loader import load_file, load_text
from polyplan.pipeline import render
from polyplan.plan.assign import build_plan

ROOT = Path(__file__).resolve().parent.parent
DIAGNOSTICS = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
MODEL_DOC = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
BAD_INPUTS = Path(__file__).resolve().parent / "bad_inputs"
SECTION = re.compile(r"^## (PP\d{3}) — (.+)$", re.MULTILINE)
EXAMPLE = re.compile(r"^(?P<file>[\w.-]+\.yaml):\d+:\d+: .+ \[(?P<code>PP\d{3})\]$")


def sections() -> dict[str, str]:
    """Code → the text of its section (up to the next heading)."""
    found: dict[str, str] = {}
    matches = list(SECTION.finditer(DIAGNOSTICS))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(DIAGNOSTICS)
        found[match.group(1)] = DIAGNOSTICS[match.end() : end]
    return found


def example_lines() -> list[str]:
    """Every line inside ```text blocks of docs/diagnostics.md."""
    return [line for block in re.findall(r"```text\n(.*?)```", DIAGNOSTICS, re.DOTALL) for line in block.splitlines()]


def test_every_code_is_documented_and_every_documented_code_exists() -> None:
    documented = [match.group(1) for match in SECTION.finditer(DIAGNOSTICS)]
    assert set(CODES) - set(documented) == set(), "codes without a section in docs/diagnostics.md"
    assert set(documented) - set(CODES) == set(), "sections for codes that polyplan.diagnostics.CODES does not have"
    assert len(documented) == len(set(documented)), "a code has two sections"
    assert documented == sorted(documented)


def test_section_titles_are_the_meanings_in_codes() -> None:
    titles = {match.group(1): match.group(2) for match in SECTION.finditer(DIAGNOSTICS)}
    assert titles == {code: CODES[code] for code in titles}


def test_every_section_says_how_to_fix_or_suppress() -> None:
    for code, text in sections().items():
        assert re.search(r"\*\*(Fix|Suppress|Fix or suppress):\*\*|\*\*Reserved\*\*", text), code
        if "**Warning" in text:
            assert "options.suppress" in text, f"{code} can be a warning: say how to suppress it"


def test_every_error_section_shows_an_example_with_its_code() -> None:
    for code, text in sections().items():
        if code >= "PP402" or "**Reserved**" in text:
            continue
        blocks = re.findall(r"```text\n(.*?)```", text, re.DOTALL)
        lines = [line for block in blocks for line in block.splitlines()]
        assert lines, f"{code} has no example"
        assert all(line.endswith(f"[{code}]") for line in lines), code


@pytest.mark.parametrize("line", [line for line in example_lines() if (BAD_INPUTS / line.split(":")[0]).is_file()])
def test_examples_from_bad_inputs_are_what_polyplan_prints(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    file = line.split(":")[0]
    monkeypatch.chdir(BAD_INPUTS)
    with pytest.raises(DiagnosticError) as raised:
        # Rendering too: some errors (PP318) need the chosen stores and are found when emitting.
        render(build_plan(load_file(file)))
    assert line in [d.render() for d in raised.value.diagnostics]


def test_examples_of_unreadable_files_are_what_polyplan_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "latin1.yaml").write_bytes("name: shop\ndescription: Caf\xe9 orders\n".encode("latin-1"))
    printed = []
    for file in ("nowhere.yaml", "latin1.yaml"):
        with pytest.raises(DiagnosticError) as raised:
            load_file(file)
        printed += [d.render() for d in raised.value.diagnostics]
    assert [line for line in example_lines() if "[PP001]" in line] == printed


def test_most_examples_come_from_the_tested_bad_inputs() -> None:
    lines = [line for line in example_lines() if EXAMPLE.match(line)]
    from_fixtures = [line for line in lines if (BAD_INPUTS / line.split(":")[0]).is_file()]
    assert len(from_fixtures) >= 40
    # The rest are PP001 (there is no file to read); warnings carry no position.
    others = {line.split(":")[0] for line in lines} - {line.split(":")[0] for line in from_fixtures}
    assert others == {"nowhere.yaml", "latin1.yaml"}


def model_keys() -> dict[str, set[str]]:
    """Every key of every class of the model, as written in YAML."""
    classes = [value for value in vars(schema).values() if isinstance(value, type) and issubclass(value, BaseModel)]
    return {
        cls.__name__: {info.alias or name for name, info in cls.model_fields.items()}
        for cls in classes
        if cls.__module__ == schema.__name__ and cls is not schema.Strict
    }


def test_model_reference_names_every_key() -> None:
    missing = {f"{owner}.{key}" for owner, keys in model_keys().items() for key in keys if f"`{key}`" not in MODEL_DOC}
    assert missing == set()


def test_model_reference_lists_every_enumerated_value() -> None:
    for enum in (
        schema.TypeName,
        schema.Sensitivity,
        schema.ObjectStorage,
        schema.KeyKind,
        schema.CompareOp,
        schema.SchemaVariability,
        schema.RelationshipKind,
        schema.OnDelete,
        schema.FilterOp,
        schema.Direction,
        schema.Consistency,
        schema.WriteKind,
        schema.Isolation,
        schema.Grant,
    ):
        missing = [member.value for member in enum if f"`{member.value}`" not in MODEL_DOC]
        assert missing == [], f"{enum.__name__}: {missing}"


def test_model_reference_example_is_complete_and_plans_cleanly() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", MODEL_DOC, re.DOTALL)
    example = next(block for block in blocks if block.startswith("name: "))
    loaded = load_text(example, "docs/model.md")
    plan = build_plan(loaded)
    assert plan.diagnostics == ()
    model = loaded.model
    # "Complete": it uses every top-level section.
    used = {key for key in model_keys()["RequirementsModel"] if f"\n{key}:" in f"\n{example}"}
    assert used == model_keys()["RequirementsModel"] - {"tenancy"}
    assert {e.family.value for e in plan.entities.values()} == {"relational", "cache"}
    assert [p.family.value for p in plan.entities["Book"].projections] == ["search"]
    assert model.entities["Loan"].growth.must_keep
