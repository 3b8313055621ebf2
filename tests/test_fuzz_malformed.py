"""Fuzzing with malformed models: whatever the text, polyplan answers with exit 0 or 2, never more.

Every example is a mutation of a bundled scenario (scenarios/*.yaml), made either on its data
(a key deleted, a value of the wrong type, an extreme number, an unknown or duplicated name,
unicode, a control character) or on its text (anchors, aliases and merge keys, tags, deep
nesting, alias bombs, control characters, random byte flips). Properties:

* planning it in-process ends in success or a DiagnosticError: never another exception;
* every error line is `FILE:LINE:COL: ... [PPxxx]` with a known code;
* through the CLI (`plan MODEL --out DIR`), the exit code is 0 or 2, and on 2 nothing is written;
* no example takes more than MAX_SECONDS (a watchdog turns a hang into a failure).

Examples are derandomised and bounded, so CI runs the same ones every time: the default profile
runs well over 2,000 examples in about two minutes; `POLYPLAN_FUZZ=long` runs over 20,000.
"""

from __future__ import annotations

import atexit
import copy
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from polyplan.cli import app
from polyplan.diagnostics import CODES, DiagnosticError
from polyplan.model.loader import MAX_DEPTH
from polyplan.pipeline import plan_file, plan_text, render

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {path.name: path.read_text(encoding="utf-8") for path in sorted((ROOT / "scenarios").glob("*.yaml"))}
DATA = {name: yaml.safe_load(text) for name, text in SCENARIOS.items()}
LINE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): .+ \[(?P<code>PP\d{3})\]$")
MAX_SECONDS = 10

# Examples per test function; the default keeps the whole module near two minutes on 2 cores.
PROFILES = {"default": (1_000, 1_000, 60), "long": (10_000, 10_000, 600)}
TEXT_EXAMPLES, DATA_EXAMPLES, CLI_EXAMPLES = PROFILES[os.environ.get("POLYPLAN_FUZZ", "default")]
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,  # the watchdog below bounds each example; hypothesis' deadline is flaky under load
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


@dataclass
class Tally:
    """What the fuzzing saw, printed at the end of the module (pytest -s) for the record."""

    examples: int = 0
    planned: int = 0
    refused: int = 0
    slowest: float = 0.0
    codes: dict[str, int] | None = None

    def add(self, outcome: str, seconds: float, codes: set[str]) -> None:
        self.examples += 1
        self.slowest = max(self.slowest, seconds)
        if outcome == "planned":
            self.planned += 1
        else:
            self.refused += 1
        self.codes = self.codes or {}
        for code in codes:
            self.codes[code] = self.codes.get(code, 0) + 1


TALLY = Tally()
SCRATCH = Path(tempfile.mkdtemp(prefix="polyplan-fuzz-"))  # where byte-level mutants are written
atexit.register(shutil.rmtree, SCRATCH, True)


class Hang(Exception):
    """An example ran past MAX_SECONDS."""


@contextmanager
def watchdog(seconds: int = MAX_SECONDS) -> Iterator[None]:
    """Raise Hang in this (main) thread if the block runs longer than `seconds`."""

    def expire(signum: int, frame: object) -> None:
        raise Hang(f"example ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_in_process(text: str | bytes, source: str = "model.yaml") -> str:
    """Plan and render `text` (bytes: a file's content, read by the loader as a file would be);
    'planned' or 'refused'. Any other exception fails the example."""
    started = time.perf_counter()
    codes: set[str] = set()
    if isinstance(text, bytes):
        source = str(SCRATCH / "model.yaml")
        Path(source).write_bytes(text)
    with watchdog():
        try:
            plan = plan_file(source) if isinstance(text, bytes) else plan_text(text, source)
            files, _ = render(plan)
            outcome = "planned"
            assert "plan.json" in files
        except DiagnosticError as error:
            outcome = "refused"
            assert error.diagnostics, "a DiagnosticError without diagnostics"
            for diagnostic in error.diagnostics:
                line = diagnostic.render()
                match = LINE.match(line)
                assert match, f"not FILE:LINE:COL: ... [PPxxx]: {line!r}"
                assert match["file"] == source and match["code"] in CODES, line
                assert "\n" not in line, f"an error must be one line: {line!r}"
                codes.add(match["code"])
    elapsed = time.perf_counter() - started
    TALLY.add(outcome, elapsed, codes)
    assert elapsed < MAX_SECONDS
    return outcome


# --- mutations of the data -------------------------------------------------------------------

Path_ = tuple[str | int, ...]


def paths(data: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every path to a value in nested dicts and lists (the root excluded)."""
    found: list[Path_] = []
    if isinstance(data, dict):
        for key, value in data.items():
            found.append((*prefix, key))
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.append((*prefix, index))
            found.extend(paths(value, (*prefix, index)))
    return found


def parent_of(data: Any, path: Path_) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


EXTREME_NUMBERS = [0, -1, 1, 2**31, 2**63, 2**64, 10**18, 10**30, -(10**30), 1e308, -1e308, 1e-308, 0.5, 1e15]
UNICODE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
    min_size=0,
    max_size=30,
)
WRONG_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(EXTREME_NUMBERS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    UNICODE,
    st.sampled_from(
        [
            "",
            "x" * 300,
            "2024-13-45",
            "2024-02-30T25:61:00Z",
            "not-a-uuid",
            "00000000-0000-0000-0000-000000000000",
            "Order\n",
            "a.b",
            "%s %d {0} {}",
            "'; DROP TABLE x; --",
            "\u202eevil",
            "\x00",
            "\x07bell",
            "\\",
            "now",
            "[a-",
            "^(a+)+$",
            "^[0-9]{40}$",
            "(?=a)b",
        ]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["type", "x", "values", "attributes"]), st.integers(), max_size=2),
)


TYPES = ["string", "text", "integer", "decimal", "float", "boolean", "date", "timestamp", "timestamptz", "uuid",
         "enum", "json", "binary", "list", "object"]  # fmt: skip
PATTERNS = [
    "^[a-z]+$",
    "^[0-9]{30}$",
    "(?=a)b",
    "^(a+)+$",
    "[^\\x00-\\uffff]",
    "a{100000}",
    "(" * 200 + "a" + ")" * 200,
    "^(yes|no)$",
    "\\bword\\b",
    "(a)\\1",
]
CONSTANTS = [
    "3f2a9c4e-7b1d-4e8a-9c3f-2a1b0c9d8e7f",
    "3F2A9C4E-7B1D-4E8A-9C3F-2A1B0C9D8E7F",
    "{3f2a9c4e-7b1d-4e8a-9c3f-2a1b0c9d8e7f}",
    "2024-01-31",
    "2024-01-31 10:00:00",
    "2024-01-31T10:00:00+02:00",
    "2024-13-45",
    [],
    [1, 2],
    ["a", None],
    1.005,
    10**20,
    -1,
    True,
    "open",
    "",
]


def _attributes(data: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(entity, attribute, spec) of every declared attribute."""
    found = []
    entities = data.get("entities")
    for entity, spec in (entities if isinstance(entities, dict) else {}).items():
        if isinstance(spec, dict) and isinstance(spec.get("attributes"), dict):
            for name, attribute in spec["attributes"].items():
                if isinstance(attribute, dict):
                    found.append((entity, name, attribute))
    return found


def semantic_mutation(draw: st.DrawFn, data: dict[str, Any]) -> None:
    """A change that keeps the model well-shaped but may contradict itself: the kind of model
    that passes the shape checks and used to crash a later stage."""
    attributes = _attributes(data)
    if not attributes:
        return
    entity, name, spec = draw(st.sampled_from(attributes))
    kind = draw(
        st.sampled_from(["constant", "pattern", "check", "unique", "retype", "bounds", "relationship", "distinct"])
    )
    # An earlier mutation may have made the list or its filters a scalar: mutate only lists.
    if kind == "constant" and isinstance(data.get("access_patterns"), list) and data["access_patterns"]:
        pattern = draw(st.sampled_from(data["access_patterns"]))
        if isinstance(pattern, dict) and isinstance(pattern.get("filters"), list) and pattern["filters"]:
            flt = draw(st.sampled_from(pattern["filters"]))
            if isinstance(flt, dict):
                # A copy: a later mutation may change it in place, and CONSTANTS must stay as written.
                flt["value"] = copy.deepcopy(draw(st.sampled_from(CONSTANTS)))
                flt["op"] = draw(st.sampled_from(["eq", "in"]))
    elif kind == "pattern":
        spec["pattern"] = draw(st.sampled_from(PATTERNS))
    elif kind == "check":
        others = [n for e, n, _ in attributes if e == entity]
        checks = data["entities"][entity].setdefault("checks", [])
        if isinstance(checks, list):
            checks.append(
                {
                    "name": f"fuzz_{len(checks)}",
                    "left": name,
                    "op": draw(st.sampled_from(["lt", "le", "gt", "ge", "ne"])),
                    "right": draw(st.sampled_from(others)),
                }
            )
    elif kind == "unique":
        spec["unique"] = True
        spec.pop("nullable", None)
    elif kind == "retype":
        spec["type"] = draw(st.sampled_from(TYPES))
    elif kind == "bounds":
        spec[draw(st.sampled_from(["min", "max", "precision", "scale", "max_length", "bits", "default"]))] = draw(
            st.sampled_from([*EXTREME_NUMBERS, 0.001, 5, 38, 16])
        )
    elif kind == "relationship" and isinstance(data.get("relationships"), list) and data["relationships"]:
        relationship = draw(st.sampled_from(data["relationships"]))
        if isinstance(relationship, dict):
            relationship[draw(st.sampled_from(["kind", "required", "from", "to", "max_children"]))] = draw(
                st.sampled_from(["one_to_one", "many_to_many", True, False, entity, 1, 10**15])
            )
    elif kind == "distinct":
        spec["distinct"] = draw(st.sampled_from([1, 10**12, 10**13]))


@st.composite
def data_mutation(draw: st.DrawFn) -> tuple[str, str]:
    """(scenario name, YAML text) of a scenario whose data was changed one to three times."""
    name = draw(st.sampled_from(sorted(DATA)))
    data = copy.deepcopy(DATA[name])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        candidates = paths(data)
        target = draw(st.sampled_from(candidates))
        parent = parent_of(data, target)
        key = target[-1]
        kind = draw(
            st.sampled_from(
                ["delete", "wrong", "extreme", "rename", "duplicate", "unicode", "extra", "semantic", "semantic"]
            )
        )
        if kind == "semantic":
            semantic_mutation(draw, data)
        elif kind == "delete":
            del parent[key]
        elif kind == "wrong":
            parent[key] = draw(WRONG_VALUES)
        elif kind == "extreme":
            parent[key] = draw(st.sampled_from(EXTREME_NUMBERS))
        elif kind == "unicode":
            parent[key] = draw(UNICODE)
        elif kind == "rename" and isinstance(parent, dict):
            new_key = draw(st.one_of(UNICODE, st.sampled_from(["Order", "id", "type", "x" * 60, "Order\n", "a.b"])))
            parent[new_key] = parent.pop(key)
        elif kind == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))  # e.g. two patterns with one name
        elif kind == "duplicate" and isinstance(parent, dict):
            parent[f"{key}2"] = copy.deepcopy(parent[key])  # e.g. a second entity with the same shape
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "filter", "maxlength", "<<"]))] = draw(WRONG_VALUES)
        if not isinstance(data, dict) or not data:
            break
    return name, yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans()))


# --- mutations of the text -------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _value_lines(lines: list[str]) -> list[int]:
    """Indices of `key: value` lines (block style) whose value can be replaced."""
    return [i for i, line in enumerate(lines) if re.match(r"^\s*[A-Za-z_][\w ]*: \S", line)]


def _replace_value(line: str, value: str) -> str:
    key, _, _ = line.partition(": ")
    return f"{key}: {value}"


def deep(depth: int, closed: bool, flow: bool) -> str:
    if flow:
        return "[" * depth + ("]" * depth if closed else "")
    # Block nesting indents every level, so its text grows with the square of the depth: 1,500
    # levels (2 MB) are past libyaml's own limit of 1,000 already.
    depth = min(depth, 1_500)
    return "\n" + "".join(" " * (2 * i + 4) + "- \n" for i in range(depth))


def bomb(levels: int, width: int) -> str:
    rows = ["[" + ", ".join(["lol"] * width) + "]"]
    anchors = ["&l0 " + rows[0]]
    for level in range(1, levels):
        anchors.append(f"&l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "[" + ", ".join(anchors) + "]"


TEXT_KINDS = [
    "control",
    "bytes",
    "tag",
    "deep",
    "bomb",
    "anchor",
    "merge",
    "number",
    "date",
    "duplicate_line",
    "delete_line",
    "tab",
    "truncate",
    "unicode",
    "quote",
]


@st.composite
def text_mutation(draw: st.DrawFn) -> tuple[str, bytes]:
    """(scenario name, file bytes) of a scenario whose text was changed once or twice."""
    name = draw(st.sampled_from(sorted(SCENARIOS)))
    text = SCENARIOS[name]
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        lines = _lines(text)
        values = _value_lines(lines) or [0]
        at = draw(st.sampled_from(values))
        kind = draw(st.sampled_from(TEXT_KINDS))
        if kind == "control":
            char = chr(draw(st.sampled_from([0, 1, 7, 8, 11, 12, 27, 127, 0x85, 0x9F, 0xFFFE])))
            position = draw(st.integers(min_value=0, max_value=len(text)))
            text = text[:position] + char + text[position:]
        elif kind == "bytes":
            raw = bytearray(text.encode("utf-8"))
            # An earlier step may have emptied the text: nothing to overwrite then.
            for _ in range(draw(st.integers(min_value=1, max_value=4)) if raw else 0):
                position = draw(st.integers(min_value=0, max_value=len(raw) - 1))
                raw[position] = draw(st.integers(min_value=0, max_value=255))
            return name, bytes(raw)
        elif kind == "tag":
            tag = draw(
                st.sampled_from(
                    ["!!int", "!!float", "!!bool", "!!null", "!!timestamp", "!!str", "!!binary", "!!set", "!!map",
                     "!!seq", "!!python/object/apply:os.system", "!custom", "!"]
                )
            )  # fmt: skip
            key, _, value = lines[at].partition(": ")
            lines[at] = f"{key}: {tag} {value}"
            text = "\n".join(lines)
        elif kind == "deep":
            depth = draw(st.sampled_from([MAX_DEPTH - 8, MAX_DEPTH, MAX_DEPTH + 1, 200, 999, 1001, 5000, 20_000]))
            lines[at] = _replace_value(lines[at], deep(depth, draw(st.booleans()), draw(st.booleans())))
            text = "\n".join(lines)
        elif kind == "bomb":
            levels = draw(st.integers(min_value=2, max_value=12))
            lines[at] = _replace_value(lines[at], bomb(levels, draw(st.integers(min_value=2, max_value=12))))
            text = "\n".join(lines)
        elif kind == "anchor":
            # Anchor one value and refer to it from another line (possibly inside itself: a cycle).
            source_line = draw(st.sampled_from(values))
            key, _, value = lines[source_line].partition(": ")
            lines[source_line] = f"{key}: &a {value}"
            lines[at] = _replace_value(lines[at], "*a")
            text = "\n".join(lines)
        elif kind == "merge":
            indent = re.match(r"^\s*", lines[at])
            pad = indent.group() if indent else ""
            lines.insert(at, f"{pad}<<: {draw(st.sampled_from(['*a', '{type: integer}', '[*a]', '1']))}")
            text = "\n".join(lines)
        elif kind == "number":
            number = draw(
                st.sampled_from(
                    ["1e308", "1.0e308", "-1.0e308", ".inf", "-.inf", ".nan", "1" * 5000, "0x7fffffffffffffffff",
                     "1_000_000_000_000_000_000", "190:20:30", "0b1111", "-0", "1.5", "1.0e-400", "99999999999999999999"]
                )
            )  # fmt: skip
            lines[at] = _replace_value(lines[at], number)
            text = "\n".join(lines)
        elif kind == "date":
            stamp = draw(
                st.sampled_from(
                    ["2024-13-45", "2024-02-30", "0000-01-01", "9999-12-31T23:59:60Z", "2024-01-01 25:00:00",
                     "2024-01-01T00:00:00+99:00", "2024-1-1", "2024-01-01t00:00:00.123456789z"]
                )
            )  # fmt: skip
            lines[at] = _replace_value(lines[at], stamp)
            text = "\n".join(lines)
        elif kind == "duplicate_line":
            lines.insert(at, lines[at])
            text = "\n".join(lines)
        elif kind == "delete_line":
            del lines[at]
            text = "\n".join(lines)
        elif kind == "tab":
            lines[at] = "\t" + lines[at].lstrip(" ")
            text = "\n".join(lines)
        elif kind == "truncate":
            text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
        elif kind == "unicode":
            lines[at] = _replace_value(lines[at], repr(draw(UNICODE)))
            text = "\n".join(lines)
        else:  # quote: unbalanced or escaped quoting, including escapes of control characters
            lines[at] = _replace_value(
                lines[at], draw(st.sampled_from(['"abc', "'abc", '"a\\0b"', '"\\x07"', '"\\e"']))
            )
            text = "\n".join(lines)
    return name, text.encode("utf-8")


# --- properties ------------------------------------------------------------------------------


@settings(FUZZ, max_examples=TEXT_EXAMPLES)
@given(text_mutation())
def test_text_mutations_plan_or_are_refused(mutated: tuple[str, bytes]) -> None:
    _, raw = mutated
    try:
        text: str | bytes = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw  # not UTF-8 after a byte flip: read from a file, as the CLI would (PP001)
    check_in_process(text)


@settings(FUZZ, max_examples=DATA_EXAMPLES)
@given(data_mutation())
def test_data_mutations_plan_or_are_refused(mutated: tuple[str, str]) -> None:
    _, text = mutated
    check_in_process(text)


RUNNER = CliRunner()


def run_cli(model: Path, out: Path) -> tuple[int, str]:
    """`polyplan plan MODEL --out OUT` in this process; (exit code, stderr)."""
    with watchdog():
        result = RUNNER.invoke(app, ["plan", str(model), "--out", str(out)], env={"NO_COLOR": "1"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr


@settings(FUZZ, max_examples=CLI_EXAMPLES)
@given(mutated=st.one_of(text_mutation(), data_mutation().map(lambda pair: (pair[0], pair[1].encode("utf-8")))))
def test_cli_exits_0_or_2_and_writes_nothing_on_error(
    tmp_path_factory: pytest.TempPathFactory, mutated: tuple[str, bytes]
) -> None:
    _, raw = mutated
    folder = tmp_path_factory.mktemp("cli")
    model = folder / "model.yaml"
    model.write_bytes(raw)
    out = folder / "out"
    code, stderr = run_cli(model, out)
    assert code in (0, 2), stderr
    if code == 2:
        lines = stderr.splitlines()
        assert lines and all(LINE.match(line) for line in lines), stderr
        assert sorted(p.name for p in folder.iterdir()) == ["model.yaml"], "something was written on error"
    else:
        assert (out / "plan.json").is_file()


HOSTILE: dict[str, Callable[[], bytes]] = {
    "alias_bomb": lambda: (
        ("name: shop\nentities:\n  A:\n    attributes: {a: {type: text}}\ndescription: ").__add__(bomb(9, 9)).encode()
    ),
    "closed_nesting": lambda: ("name: shop\ndescription: " + "[" * 10_000 + "]" * 10_000 + "\n").encode(),
    "nul": lambda: b"name: shop\x00\nentities: {}\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_real_process_refuses_hostile_input_quickly(case: str, tmp_path: Path) -> None:
    """A handful of real `python -m polyplan` runs: exit 2, one coded line, fast, nothing written."""
    model = tmp_path / "model.yaml"
    model.write_bytes(HOSTILE[case]())
    env = {key: value for key, value in os.environ.items() if key not in ("POLYPLAN_DEBUG", "FORCE_COLOR")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "polyplan", "plan", "model.yaml", "--out", "out"],
        cwd=tmp_path,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.perf_counter() - started < MAX_SECONDS
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and LINE.match(lines[0]), done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.yaml"]


def test_report_tally() -> None:
    """Runs last in this module: print what the properties saw (visible with -s) and sanity-check it."""
    print(
        f"\nfuzz (malformed): {TALLY.examples} in-process examples, {TALLY.planned} planned, "
        f"{TALLY.refused} refused, slowest {TALLY.slowest:.2f} s, codes {dict(sorted((TALLY.codes or {}).items()))}"
    )
    if TALLY.examples >= 100:
        # Both outcomes occur: the mutations neither all break the model nor all leave it intact.
        assert TALLY.refused > 0 and TALLY.planned > 0
