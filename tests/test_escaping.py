"""Escaping by construction (issue 7): hostile model text survives every emitted language.

Free-text values (enum values, defaults, filter constants, patterns, descriptions) and the names
the loader allows (letters, digits, `_`, `$`, `-`, spaces) are filled with quotes, backslashes,
`%` and `%%`, braces, `$1`, `:name`, `?`, line breaks, comment openers and an injection attempt.
Every emitted artifact must then still be what its language says it is, holding exactly the
model's values:

- generated Python compiles, and its literals are the model's names;
- JSON parses and gives back the model's values (search templates after mustache's filling);
- the relational DDL, applied to SQLite and to real PostgreSQL and MariaDB, accepts exactly the
  model's enum values and default, and refuses near misses (the `%%` or `''` spelling);
- every emitted query runs and finds the row holding the constant;
- CQL splits into its statements, with every model value inside a comment line;
- Markdown tables keep their column count;
- `polyplan validate` passes on SQLite for a hostile model.

A Hypothesis suite (derandomized, bounded) draws the hostile text; explicit cases pin the
classics.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyplan.emit.writer import write_tree
from polyplan.model.loader import load_text
from polyplan.pipeline import render
from polyplan.plan.assign import build_plan
from polyplan.stores.relational.connect import apply_sql, scratch_database
from polyplan.stores.relational.sqltext import text_clause
from polyplan.stores.wide_column.cql import split_statements as split_cql
from polyplan.testkit import ENGINES as TESTKIT_ENGINES
from polyplan.testkit import resolve_url
from polyplan.validate.oracle import parse_queries

# The classics: each one broke (or could break) some language's quoting.
NASTY = [
    "a'b",
    'say "hi"',
    "back\\slash",
    "trailing\\",
    "50%",
    "50%%",
    "%s and %(name)s",
    "{}",
    "{0}",
    "{{mustache}}",
    "$1",
    "$$",
    ":name",
    "?",
    "line\nbreak",
    "blank\n\nline",
    "x\n-- note: not a header",
    "--",
    "/* c */",
    "');DROP TABLE x;--",
    "semi;\n\nnext",
    "ünïcødé ☃ 𝄞",
    "tab\there",
    "a|b",
    "`tick`",
    "\\u0000",
]
# Names the loader accepts that still need quoting everywhere.
NASTY_NAME = "name $1 -- x"
NASTY_ENTITY = "Odd-Thing $"
# (enum values, free text, the filters' constant, the enum default)
Case = tuple[list[str], str, str, str]
ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]


def hostile_model(
    values: list[str], text: str, constant: str, default: str, pattern: str | None = None
) -> dict[str, Any]:
    """A model using `values` as enum values, `text` as free text, `constant` in every filter.

    Relational (with a search projection), document, cache and wide-column entities, so that
    every emitter sees the same text.
    """
    enum = {"type": "enum", "values": values, "default": default}
    free = {"type": "string", "max_length": 80, "default": text}
    if pattern is not None:
        free["pattern"] = pattern
    return {
        "name": "hostile",
        "description": text,
        "engines": {"relational": "postgresql"},
        "options": {"relational_dialects": ["postgresql", "mysql", "sqlite"]},
        "entities": {
            NASTY_ENTITY: {
                "placement": {"family": "relational"},
                "description": text,
                "attributes": {NASTY_NAME: free, "kind": enum, "n": {"type": "integer", "min": 0, "max": 100}},
                # Enough rows and reads for a partial index on the constant (and its EXPLAIN proof).
                "growth": {"initial_rows": 200000, "rows_per_day": 100},
            },
            "Doc": {
                "placement": {"family": "document"},
                "description": text,
                "attributes": {"kind": enum, "label": {"type": "string", "max_length": 80, "default": text}},
            },
            "Hot": {
                "placement": {"family": "cache"},
                "key": {"attributes": ["code"], "kind": "natural"},
                "attributes": {"code": {"type": "string", "max_length": 20}, "kind": enum},
                "growth": {"initial_rows": 100, "ttl_seconds": 60},
            },
            "Found": {
                "description": text,
                "attributes": {"body": {"type": "text", "avg_length": 100}, "kind": enum},
                "growth": {"initial_rows": 250000, "rows_per_day": 150},
            },
            "Wide": {
                "placement": {"family": "wide_column"},
                "key": {"attributes": ["dev", "at"], "kind": "natural"},
                "attributes": {"dev": {"type": "uuid"}, "at": {"type": "timestamptz"}, "kind": enum},
                "growth": {"initial_rows": 0, "rows_per_day": 1000, "retention_days": 30, "time_attribute": "at"},
            },
        },
        "access_patterns": [
            {
                "name": "odd_by_kind",
                "entity": NASTY_ENTITY,
                "description": text,
                "filters": [
                    {"attribute": "kind", "op": "eq", "value": constant},
                    {"attribute": NASTY_NAME, "op": "eq"},
                ],
                "sort": [{"attribute": "n"}],
                "rate": 500,
            },
            {
                "name": "docs_by_kind",
                "entity": "Doc",
                "filters": [{"attribute": "kind", "op": "eq", "value": constant}],
            },
            {"name": "hot_by_code", "entity": "Hot", "filters": [{"attribute": "code", "op": "eq"}]},
            {
                "name": "found_text",
                "entity": "Found",
                "filters": [
                    {"attribute": "body", "op": "fulltext"},
                    {"attribute": "kind", "op": "eq", "value": constant},
                ],
                "limit": 24,
                "rate": 400,
                "latency_ms": 150,
                "consistency": "eventual",
                "staleness_seconds": 30,
            },
            {
                "name": "wide_by_dev",
                "entity": "Wide",
                "filters": [{"attribute": "dev", "op": "eq"}, {"attribute": "kind", "op": "eq", "value": constant}],
                "sort": [{"attribute": "at", "direction": "desc"}],
            },
        ],
    }


def emit(model: dict[str, Any]) -> dict[str, str]:
    """Every output file of `model`, loaded from YAML text as a user would write it."""
    text = yaml.safe_dump(model, allow_unicode=True, sort_keys=False)
    files, _ = render(build_plan(load_text(text, "hostile.yaml")))
    return files


# --- the checks every emitted tree must pass ------------------------------------------------


def check_python(files: dict[str, str]) -> None:
    """Every generated Python file compiles; the relational modules list the hostile column."""
    for path, text in files.items():
        if path.endswith(".py"):
            compile(text, path, "exec")
    for engine in ("postgresql", "mysql", "sqlite"):
        tree = ast.parse(files[f"tests/test_{engine}.py"])
        lists = {
            node.targets[0].id: ast.literal_eval(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper()
            if isinstance(node.value, ast.List)
        }
        table = "odd_thing"
        assert f"{table}:not_null:{NASTY_NAME}" in lists["CONSTRAINTS"], lists["CONSTRAINTS"]


def _fill_template(source: str, params: dict[str, Any]) -> Any:
    """An Elasticsearch mustache template filled in the way toJson fills it, parsed as JSON."""
    for name, value in params.items():
        source = source.replace("{{#toJson}}" + name + "{{/toJson}}", json.dumps(value))
    source = re.sub(r"\{\{size\}\}\{\{\^size\}\}(\d+)\{\{/size\}\}", r"\1", source)
    assert "{{" not in source, source  # nothing left for mustache but our own tags
    return json.loads(source)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def check_json(files: dict[str, str], values: list[str], text: str, constant: str) -> None:
    """Every JSON file parses; the model's values come back out of it exactly."""
    parsed = {path: json.loads(body) for path, body in files.items() if path.endswith(".json")}
    model = parsed["tests/data/relational.json"]["model"]
    assert model["entities"][NASTY_ENTITY]["attributes"]["kind"]["values"] == values
    assert model["entities"][NASTY_ENTITY]["attributes"][NASTY_NAME]["default"] == text
    validator = json.dumps(parsed["mongodb/collections/doc.json"], ensure_ascii=False)
    assert json.dumps(values, ensure_ascii=False)[1:-1] in validator
    strings = set(_strings(parsed["mongodb/queries.json"]))
    assert constant in strings
    assert constant in set(_strings(parsed["cassandra/writes.json"]))
    template = parsed["elasticsearch/queries.json"]["indexes"]["found"]["patterns"]["found_text"]
    body = _fill_template(template["source"], {"body_query": "words"})
    assert {"term": {"kind": constant}} in body["query"]["bool"]["filter"], body


def check_sql_text(files: dict[str, str], constant: str) -> None:
    """queries.sql reads back as the same queries, the constant intact; schemas split right."""
    for engine in ("postgresql", "mysql", "sqlite"):
        queries = parse_queries(files[f"relational/{engine}/queries.sql"])
        assert set(queries) == {"odd_by_kind", "found_text"}, set(queries)
        assert queries["odd_by_kind"].columns == ("id", NASTY_NAME, "kind", "n")


def check_cql(files: dict[str, str]) -> None:
    """The CQL scripts are statements and comments only: no model text escaped a comment."""
    schema = split_cql(files["cassandra/schema.cql"])
    assert [s.split()[:2] for _, s in schema] == [["CREATE", "KEYSPACE"], ["CREATE", "TABLE"]], schema
    queries = split_cql(files["cassandra/queries.cql"])
    assert [s.split()[0] for _, s in queries] == ["SELECT"], queries
    for script in ("cassandra/schema.cql", "cassandra/queries.cql"):
        for line in files[script].splitlines():
            assert not line or line.startswith(("--", " ", "CREATE", "SELECT", ")")), line


_UNESCAPED_PIPE = re.compile(r"(?<!\\)((?:\\\\)*)\|")


def _cells(row: str) -> int:
    return len(_UNESCAPED_PIPE.findall(row)) - 1


def check_markdown(files: dict[str, str]) -> None:
    """Every Markdown table keeps its header's column count on every row."""
    for path, text in files.items():
        if not path.endswith(".md"):
            continue
        lines = text.splitlines()
        for index, line in enumerate(lines):
            if line.startswith("|") and index + 1 < len(lines) and re.fullmatch(r"\|(?:-+\|)+", lines[index + 1]):
                width = _cells(line)
                row = index + 2
                while row < len(lines) and lines[row].startswith("|"):
                    assert _cells(lines[row]) == width and lines[row].endswith("|"), f"{path}: {lines[row]}"
                    row += 1
                if row < len(lines):
                    assert lines[row] == "", f"{path}: a table row broke: {lines[row]!r}"


def check_all(files: dict[str, str], case: Case) -> None:
    values, text, constant, _ = case
    check_python(files)
    check_json(files, values, text, constant)
    check_sql_text(files, constant)
    check_cql(files)
    check_markdown(files)


# --- applying the DDL ------------------------------------------------------------------------


def near_misses(value: str, values: list[str]) -> list[str]:
    """Spellings a broken escaper would turn `value` into (that are not allowed values)."""
    found = [value.replace("%", "%%"), value.replace("'", "''"), value.replace("\\", "\\\\"), value + "x"]
    return [m for m in dict.fromkeys(found) if m != value and m not in values]


def check_database(files: dict[str, str], engine: sa.Engine, name: str, case: Case) -> None:
    """The schema accepts exactly the model's values and defaults; the query finds the constant."""
    values, text, constant, default = case
    apply_sql(engine, files[f"relational/{name}/schema.sql"])
    table = sa.Table("odd_thing", sa.MetaData(), autoload_with=engine)
    insert = sa.insert(table)

    def key(number: int) -> Any:
        return uuid.UUID(int=number) if isinstance(table.c.id.type, sa.Uuid) else f"{number:032x}"

    with engine.begin() as connection:
        for number, value in enumerate(values):
            connection.execute(insert, {"id": key(number), "kind": value, "n": number + 2, NASTY_NAME: "z"})
        # The column defaults are the model's defaults, character for character.
        connection.execute(sa.insert(table).values(id=key(99), n=1))
        stored = connection.execute(sa.select(table.c[NASTY_NAME], table.c.kind).where(table.c.n == 1)).one()
    assert tuple(stored) == (text, default)
    with engine.connect() as connection:
        assert sorted(connection.execute(sa.select(table.c.kind).where(table.c.n != 1)).scalars()) == sorted(values)
    for value in values:
        for miss in near_misses(value, values):
            with pytest.raises(sa.exc.DBAPIError), engine.begin() as connection:
                connection.execute(insert, {"id": key(1000), "kind": miss, "n": 5, NASTY_NAME: "z"})
    query = parse_queries(files[f"relational/{name}/queries.sql"])["odd_by_kind"]
    param = next(p.name for p in query.params)
    with engine.connect() as connection:
        rows = connection.execute(text_clause(query.sql), {param: "z"}).all()
    assert [row.kind for row in rows] == [constant], rows


# --- explicit cases ----------------------------------------------------------------------------

CASES: dict[str, Case] = {
    "classics": (NASTY[:13], NASTY[13], NASTY[4], NASTY[0]),
    "line_breaks": (NASTY[13:], "two\nlines -- and a ';", "x\n-- note: not a header", "blank\n\nline"),
    "percent": (["50%", "50%%", "100% {x}", "%"], 'it\'s 100% {x} \\ "q"', "50%", "50%"),
    "braces": (["{{mustache}}", "{0}", "{}", "${x}"], "{{x}} {0} ${y}", "{{mustache}}", "{}"),
    "placeholders": ([":name", "?", "$1", "%s", "%(name)s"], ":name ? $1 %s", ":name", "%(name)s"),
    "injection": (
        ["');DROP TABLE x;--", "/* c */", "--", "semi;\n\nnext"],
        "'); DROP TABLE x; --",
        "semi;\n\nnext",
        "--",
    ),
}


@pytest.fixture(scope="module")
def emitted() -> dict[str, dict[str, str]]:
    return {name: emit(hostile_model(*case)) for name, case in CASES.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_text_survives_every_language(emitted: dict[str, dict[str, str]], case: str) -> None:
    check_all(emitted[case], CASES[case])


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_ddl_enforces_exactly_the_models_values(
    emitted: dict[str, dict[str, str]], case: str, engine_name: str
) -> None:
    with scratch_database(resolve_url(engine_name)) as engine:
        check_database(emitted[case], engine, engine_name, CASES[case])


def test_percent_is_single_in_every_dialect(emitted: dict[str, dict[str, str]]) -> None:
    files = emitted["percent"]
    for engine in ("postgresql", "mysql", "sqlite"):
        schema = files[f"relational/{engine}/schema.sql"]
        assert "'50%'" in schema and "'50%%'" in schema and "'50%%%%'" not in schema, engine


def test_patterns_with_quotes_and_percent_are_enforced_as_written() -> None:
    pattern = "^[a-z%']+\\\\?$"  # letters, % or ', then an optional backslash
    files = emit(hostile_model(["a"], "it's%", "a", "a", pattern=pattern))
    assert "'^[a-z%'']+\\\\?$'" in files["relational/postgresql/schema.sql"]
    assert "'^[a-z%'']+\\\\\\\\?$'" in files["relational/mysql/schema.sql"]  # MySQL doubles backslashes


# The generated tests of a hostile model pass: on SQLite always; on OpenSearch (mustache templates
# holding `{{…}}` constants) and Cassandra (CQL with model text in comments) where they run.
VALIDATED = [
    pytest.param("classics", "sqlite", id="classics-sqlite"),
    pytest.param("placeholders", "sqlite", id="placeholders-sqlite"),
    pytest.param("braces", "opensearch", id="braces-opensearch", marks=pytest.mark.opensearch),
    pytest.param("line_breaks", "cassandra", id="line_breaks-cassandra", marks=pytest.mark.cassandra),
]


@pytest.mark.parametrize(("case", "engine"), VALIDATED)
def test_polyplan_validate_passes_on_a_hostile_model(tmp_path: Path, case: str, engine: str) -> None:
    access = TESTKIT_ENGINES[engine]
    env = {**os.environ, access.env_var: resolve_url(engine)}  # skips (or fails if required) when absent
    model = hostile_model(*CASES[case])
    if engine == "opensearch":
        model["engines"]["search"] = "opensearch"
    write_tree(emit(model), tmp_path / "out")
    done = subprocess.run(
        [sys.executable, "-m", "polyplan", "validate", str(tmp_path / "out"), "--engine", engine],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


# --- drawn cases -----------------------------------------------------------------------------

# Every character that means something to one of the emitted languages, and a few plain ones.
ALPHABET = [*"ab Z09'\"\\%{}$:?;\n-/*|`#<_~()[]\t", "ü", "☃", "𝄞", "\u2028"]
hostile_text = st.text(alphabet=st.sampled_from(ALPHABET), min_size=1, max_size=10).filter(lambda s: s.strip() != "")


@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(values=st.lists(hostile_text, min_size=1, max_size=4, unique=True), text=hostile_text, data=st.data())
def test_drawn_hostile_text_survives(values: list[str], text: str, data: st.DataObject) -> None:
    case = (values, text, data.draw(st.sampled_from(values), label="constant"), values[-1])
    files = emit(hostile_model(*case))
    check_all(files, case)
    with scratch_database(resolve_url("sqlite")) as engine:
        check_database(files, engine, "sqlite", case)
