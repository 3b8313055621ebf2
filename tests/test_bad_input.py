"""Bad input: every mistake ends with exit code 2, exact `FILE:LINE:COL: path: problem [CODE]`
lines on stderr, no traceback, and no output folder written or changed.

Each file in tests/bad_inputs/ is one bad model. Its leading `# expect:` comments are the exact
stderr lines `polyplan plan FILE` must print (run from that folder, so FILE is the bare name).
The comments are part of the file, so the line numbers in them count the comments too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from polyplan.cli import main
from polyplan.diagnostics import CODES

BAD_INPUTS = Path(__file__).resolve().parent / "bad_inputs"
FIXTURES = sorted(BAD_INPUTS.glob("*.yaml"))
ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LINE = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?:(?P<path>[^ ]+): )?(?P<text>.+) \[(?P<code>PP\d{3})\]$"
)


def expected_lines(fixture: Path) -> list[str]:
    """The `# expect:` comments at the top of a fixture."""
    prefix = "# expect: "
    return [line[len(prefix) :] for line in fixture.read_text(encoding="utf-8").splitlines() if line.startswith(prefix)]


def run_main(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """Run `polyplan.cli.main` in this process (fast); return exit code, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["polyplan", *args])
    monkeypatch.delenv("POLYPLAN_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main()
    code = stopped.value.code
    captured = capsys.readouterr()
    # Rich decides on colour when the console is created; a terminal run (-s) may add escapes.
    return (code if isinstance(code, int) else 1), ANSI.sub("", captured.out), ANSI.sub("", captured.err)


def run_polyplan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real entry point, `python -m polyplan`, in a child process."""
    env = {key: value for key, value in os.environ.items() if key not in ("POLYPLAN_DEBUG", "FORCE_COLOR")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "polyplan", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path → bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_there_are_enough_distinct_bad_inputs() -> None:
    assert len(FIXTURES) >= 30
    messages = {line for fixture in FIXTURES for line in expected_lines(fixture)}
    # Distinct inputs give distinct messages, not the same complaint thirty times.
    assert len({LINE.match(m).group("text") for m in messages if LINE.match(m)}) >= 60  # type: ignore[union-attr]


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_fixture_declares_well_formed_expectations(fixture: Path) -> None:
    lines = expected_lines(fixture)
    assert lines, f"{fixture.name} has no '# expect:' line"
    for line in lines:
        match = LINE.match(line)
        assert match, f"not in FILE:LINE:COL: path: problem [CODE] form: {line}"
        assert match.group("file") == fixture.name
        assert match.group("code") in CODES


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_bad_input_exits_2_with_exact_message(
    fixture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(BAD_INPUTS)
    out = tmp_path / "out"
    code, stdout, stderr = run_main(["plan", fixture.name, "--out", str(out)], monkeypatch, capsys)
    assert stderr.splitlines() == expected_lines(fixture)
    assert code == 2
    assert "Traceback" not in stdout + stderr
    assert "internal error" not in stderr
    # Nothing written: no output folder, and no staging folder left beside it.
    assert list(tmp_path.iterdir()) == []


def test_every_input_error_code_is_exercised() -> None:
    """Each error a user can cause is shown at least once.

    PP001 (unreadable file) cannot be a fixture and has its own tests below; PP311 is not raised
    by any check yet (ephemeral data is kept out of stores without expiry by scoring blockers).
    """
    seen = {LINE.match(line).group("code") for f in FIXTURES for line in expected_lines(f)}  # type: ignore[union-attr]
    input_errors = {code for code in CODES if code < "PP400"} - {"PP001", "PP311"}
    assert input_errors - seen == set()
    assert "PP401" in seen


def test_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_main(["plan", "nowhere.yaml", "--out", "out"], monkeypatch, capsys)
    assert (code, stderr) == (2, "nowhere.yaml:1:1: cannot read model file: No such file or directory [PP001]\n")
    assert list(tmp_path.iterdir()) == []


def test_directory_instead_of_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_main(["explain", "models"], monkeypatch, capsys)
    assert (code, stderr) == (2, "models:1:1: cannot read model file: Is a directory [PP001]\n")


def test_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "latin1.yaml").write_bytes("name: shop\ndescription: Caf\xe9 orders\n".encode("latin-1"))
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_main(["explain", "latin1.yaml"], monkeypatch, capsys)
    assert (code, stderr) == (2, "latin1.yaml:2:17: the file is not UTF-8 text (byte 0xe9); save it as UTF-8 [PP001]\n")


def test_empty_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_main(["plan", "empty.yaml", "--out", "out"], monkeypatch, capsys)
    assert (code, stderr) == (2, "empty.yaml:1:1: the file is empty [PP004]\n")


def test_explain_reports_bad_input_like_plan(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(BAD_INPUTS)
    fixture = BAD_INPUTS / "three_check_errors.yaml"
    code, stdout, stderr = run_main(["explain", fixture.name], monkeypatch, capsys)
    assert (code, stdout) == (2, "")
    assert stderr.splitlines() == expected_lines(fixture)


def test_errors_are_reported_in_file_order_every_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(BAD_INPUTS)
    runs = [run_main(["explain", "three_shape_errors.yaml"], monkeypatch, capsys)[2] for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    lines = runs[0].splitlines()
    assert len(lines) == 3
    positions = [tuple(int(part) for part in line.split(":")[1:3]) for line in lines]
    assert positions == sorted(positions)


# The real entry point, in a child process: same messages, exit code 2, and the output folder.


@pytest.mark.parametrize(
    "name",
    [
        "yaml_tab_indent",
        "unknown_key_attribute",
        "must_keep_with_ttl",
        "three_check_errors",
        "fulltext_at_scale_without_search",
    ],
)
def test_entry_point_prints_the_same_messages(name: str, tmp_path: Path) -> None:
    fixture = BAD_INPUTS / f"{name}.yaml"
    done = run_polyplan("plan", fixture.name, "--out", str(tmp_path / "out"), cwd=BAD_INPUTS)
    assert done.returncode == 2
    assert done.stderr.splitlines() == expected_lines(fixture)
    assert "Traceback" not in done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []


def test_entry_point_missing_file(tmp_path: Path) -> None:
    done = run_polyplan("plan", "missing.yaml", "--out", "out", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "missing.yaml:1:1: cannot read model file: No such file or directory [PP001]\n"
    assert list(tmp_path.iterdir()) == []


def test_existing_output_folder_is_left_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "relational").mkdir(parents=True)
    (out / "plan.json").write_text('{"previous": "plan"}\n', encoding="utf-8")
    (out / "relational" / "schema.sql").write_bytes(b"CREATE TABLE kept (id int);\n")
    before, siblings = snapshot(out), sorted(tmp_path.iterdir())
    fixture = BAD_INPUTS / "unknown_key_root_typo.yaml"
    done = run_polyplan("plan", fixture.name, "--out", str(out), cwd=BAD_INPUTS)
    assert done.returncode == 2
    assert done.stderr.splitlines() == expected_lines(fixture)
    assert snapshot(out) == before
    assert sorted(tmp_path.iterdir()) == siblings


def test_planning_error_leaves_output_folder_byte_identical(tmp_path: Path) -> None:
    """PP314 is found after the model validates, while planning: still nothing is written."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "sentinel.txt").write_text("keep me\n", encoding="utf-8")
    before = snapshot(out)
    done = run_polyplan("plan", "fulltext_at_scale_without_search.yaml", "--out", str(out), cwd=BAD_INPUTS)
    assert done.returncode == 2
    assert "[PP314]" in done.stderr
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_debug_switch_is_not_needed_for_bad_input(tmp_path: Path) -> None:
    """Bad input is never an internal error, so POLYPLAN_DEBUG changes nothing about it."""
    env_run = subprocess.run(
        [sys.executable, "-m", "polyplan", "explain", "invalid_type_name.yaml"],
        cwd=BAD_INPUTS,
        env={**os.environ, "POLYPLAN_DEBUG": "1", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert env_run.returncode == 2
    assert env_run.stderr.splitlines() == expected_lines(BAD_INPUTS / "invalid_type_name.yaml")


def test_bundled_scenarios_are_not_bad_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The other side of the coin: every bundled model passes `explain` with exit 0."""
    for scenario in sorted((ROOT / "scenarios").glob("*.yaml")):
        code, stdout, stderr = run_main(["explain", str(scenario)], monkeypatch, capsys)
        assert (code, stderr) == (0, ""), f"{scenario.name}: {stderr}"
        assert "total" in stdout
