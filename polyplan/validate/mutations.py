"""Mutation testing of a plan folder's relational tests: break the emitted artifacts on purpose
and require that the generated tests fail, naming what was broken.

Each `Mutation` is one textual edit of `relational/<engine>/schema.sql` or `queries.sql` that a
generator bug could plausibly produce: a dropped or reordered index, a changed partial-index
predicate, a dropped constraint of each kind, a dropped or loosened filter (a constant, an
equality, each bound of a range — from the SQL *and* its `-- param` comment), a flipped sort, a
removed or changed LIMIT, a dropped projected column. The generated tests must fail for each
one, and the failing test (or its message) must name the query, constraint or index.

Edits to different targets are independent (each generated check covers one query, one
constraint or, for indexes, reports each index by name), so `rounds` packs one edit per target
into each run: a folder is validated once per round instead of once per mutation.
"""

from __future__ import annotations

import ast
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

QUERIES = "test_{engine}.py"
INDEXES = "test_{engine}_indexes.py"
ISSUE_OPERATORS = ("drop-limit", "change-limit", "flip-sort", "drop-constant", "drop-bound", "reorder-index")


@dataclass(frozen=True)
class Mutation:
    """One edit of a file of the plan folder, and what a failing run must name."""

    operator: str  # drop-limit, change-limit, flip-sort, drop-constant, drop-filter, drop-bound, ...
    path: str  # relative to the plan folder
    old: str  # text present exactly once in the file
    new: str
    target: str  # the query, `table:constraint` or index the generated tests must name
    module: str  # QUERIES or INDEXES: the generated module whose checks cover it
    detail: str = ""

    @property
    def label(self) -> str:
        return f"{self.operator} {self.target}" + (f" ({self.detail})" if self.detail else "")

    def apply(self, folder: Path) -> None:
        """Edit the file in `folder` (a copy of the plan folder)."""
        path = folder / self.path
        text = path.read_text(encoding="utf-8")
        if text.count(self.old) != 1:
            raise ValueError(f"{self.label}: the text to edit is not in {self.path} exactly once")
        path.write_text(text.replace(self.old, self.new), encoding="utf-8")


# --- queries.sql -------------------------------------------------------------------------------


def _blocks(text: str) -> Iterator[tuple[str, str]]:
    """(query name, the block's text) for every `-- name:` block of a queries.sql."""
    for block in re.split(r"\n(?=-- name: )", text):
        if block.startswith("-- name: "):
            yield block.splitlines()[0][len("-- name: ") :], block.rstrip("\n")


def _drop_condition(block: str, where: str, conditions: list[str], index: int) -> str:
    """The block with condition `index` removed from its WHERE clause (and its `-- param` lines)."""
    kept = [c for i, c in enumerate(conditions) if i != index]
    clause = f"WHERE {' AND '.join(kept)}" if kept else ""
    edited = block.replace(where, clause, 1) if kept else block.replace(f"\n{where}", "", 1)
    for name in re.findall(r":(\w+)", conditions[index]):
        edited = re.sub(rf"\n-- param :{name}\s[^\n]*", "", edited)
    return edited


def query_mutations(folder: Path, engine: str) -> list[Mutation]:
    """Every query operator applied to every query of `relational/<engine>/queries.sql`."""
    path = f"relational/{engine}/queries.sql"
    text = (folder / path).read_text(encoding="utf-8")
    module = QUERIES.format(engine=engine)
    found: list[Mutation] = []

    def add(operator: str, name: str, block: str, edited: str, detail: str = "") -> None:
        if edited != block:
            found.append(Mutation(operator, path, block, edited, name, module, detail))

    for name, block in _blocks(text):
        limit = re.search(r"\n LIMIT (\d+);$", block)
        if limit:
            add("drop-limit", name, block, block[: limit.start()] + ";", f"LIMIT {limit[1]}")
            smaller = 5 if int(limit[1]) > 5 else 1
            add("change-limit", name, block, block.replace(limit[0], f"\n LIMIT {smaller};"), f"{limit[1]} → {smaller}")
        order = re.search(r" ORDER BY (.+?)(?=\n LIMIT|;$)", block, re.S)
        if order:
            items = order[1].split(", ")
            for position, item in enumerate(items):
                flipped = re.sub(r" (ASC|DESC)$", lambda m: " DESC" if m[1] == "ASC" else " ASC", item)
                changed = [*items[:position], flipped, *items[position + 1 :]]
                add("flip-sort", name, block, block.replace(order[0], f" ORDER BY {', '.join(changed)}"), item)
        where = re.search(r"WHERE (.+?)(?= ORDER BY|\n LIMIT|;$)", block, re.S)
        if where:
            conditions = where[1].split(" AND ")
            for index, condition in enumerate(conditions):
                params = re.findall(r":(\w+)", condition)
                bound = re.search(r" (>=|<) :\w+$", condition)
                operator = "drop-bound" if bound else ("drop-filter" if params else "drop-constant")
                add(operator, name, block, _drop_condition(block, where[0], conditions, index), condition)
                if bound:
                    looser = condition.replace(f" {bound[1]} :", " > :" if bound[1] == ">=" else " <= :")
                    changed = [*conditions[:index], looser, *conditions[index + 1 :]]
                    add("loosen-bound", name, block, block.replace(where[0], f"WHERE {' AND '.join(changed)}"), looser)
        select = re.search(r"SELECT (.+?)\nFROM", block, re.S)
        columns = re.search(r"\n-- columns: ([^\n]+)", block)
        if select and columns and ", " in select[1]:
            kept = ", ".join(select[1].split(", ")[:-1])
            edited = block.replace(select[0], f"SELECT {kept}\nFROM")
            listed = columns[1].split(", ")
            edited = edited.replace(columns[0], f"\n-- columns: {', '.join(listed[:-1])}")
            add("drop-column", name, block, edited, listed[-1])
    return found


def defeat_index_mutations(folder: Path, engine: str) -> list[Mutation]:
    """Each query's first filter wrapped as COALESCE(col, col): the same rows, but no index can
    serve it, so only the EXPLAIN checks (`test_<engine>_indexes.py`) can tell."""
    path = f"relational/{engine}/queries.sql"
    text = (folder / path).read_text(encoding="utf-8")
    found: list[Mutation] = []
    for name, block in _blocks(text):
        where = re.search(r"WHERE ((?:[`\"]?\w+[`\"]?\.)?[`\"]?\w+[`\"]?) (=|>=|LIKE) ", block)
        if where:
            wrapped = f"WHERE COALESCE({where[1]}, {where[1]}) {where[2]} "
            edited = block.replace(where[0], wrapped, 1)
            found.append(Mutation("defeat-index", path, block, edited, name, INDEXES.format(engine=engine), where[1]))
    return found


# --- schema.sql --------------------------------------------------------------------------------

_INDEX = re.compile(r"^CREATE (?:UNIQUE )?INDEX (\w+) ON (\S+) \((.*?)\)( INCLUDE \(.*?\))?( WHERE .*)?;$", re.M)
_CONSTRAINT = re.compile(r"^\tCONSTRAINT (\w+) (PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK)\b.*$", re.M)
_KINDS = {"PRIMARY KEY": "primary-key", "UNIQUE": "unique", "FOREIGN KEY": "foreign-key", "CHECK": "check"}


def _split_columns(text: str) -> list[str]:
    """Index key parts split at top-level commas (an expression may hold its own)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()]


def index_mutations(folder: Path, engine: str) -> list[Mutation]:
    """Drop, reorder and change the predicate of each designed index of `schema.sql`."""
    path = f"relational/{engine}/schema.sql"
    text = (folder / path).read_text(encoding="utf-8")
    module = INDEXES.format(engine=engine)
    found: list[Mutation] = []
    for match in _INDEX.finditer(text):
        line, name = match[0], match[1]
        found.append(Mutation("drop-index", path, f"\n{line}\n", "\n", name, module))
        parts = _split_columns(match[3])
        if len(parts) > 1:
            swapped = ", ".join([parts[1], parts[0], *parts[2:]])
            edited = line.replace(f"({match[3]})", f"({swapped})", 1)
            found.append(Mutation("reorder-index", path, line, edited, name, module, swapped))
        if match[5]:
            predicate = match[5]
            changed = re.sub(
                r"= ('(?:[^']|'')*'|true|false|0|1)$",
                lambda m: "= " + {"true": "false", "false": "true", "0": "1", "1": "0"}.get(m[1], m[1][:-1] + "x'"),
                predicate,
            )
            if changed != predicate:
                found.append(
                    Mutation("change-predicate", path, line, line.replace(predicate, changed), name, module, changed)
                )
    return found


def _in_primary_key(body: str, line: str) -> bool:
    column = line.strip().split(" ", 1)[0]
    key = re.search(r"PRIMARY KEY \((.*?)\)", body)
    return key is not None and column in [c.strip() for c in key[1].split(",")]


def _referenced(text: str, table: str, columns: str) -> bool:
    return re.search(rf"REFERENCES [`\"]?{re.escape(table)}[`\"]? \({re.escape(columns)}\)", text) is not None


def _module_list(source: str, name: str) -> list[str]:
    """The literal list assigned to `name` in a generated test module (read as Python, so the
    quoting the generator chose does not matter)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return [str(item) for item in ast.literal_eval(node.value)]
    raise ValueError(f"the generated module assigns no {name}")


def constraint_mutations(folder: Path, engine: str, per_kind: int = 2) -> list[Mutation]:
    """Drop up to `per_kind` constraints of each kind (primary key, unique, foreign key, check,
    NOT NULL) from `schema.sql`; the targets are the ids the generated tests use."""
    path = f"relational/{engine}/schema.sql"
    text = (folder / path).read_text(encoding="utf-8")
    module = QUERIES.format(engine=engine)
    listed = (folder / "tests" / module).read_text(encoding="utf-8")
    checked = set(_module_list(listed, "CONSTRAINTS"))
    found: list[Mutation] = []
    taken: dict[str, int] = {}
    # A table may end with its storage parameters on a line of their own (`) WITH (fillfactor = 90);`).
    for table_match in re.finditer(
        r"^CREATE TABLE (\S+) \(\n(.*?)\n\)(?:\n WITH \([^)\n]*\))?[^\n]*;$", text, re.M | re.S
    ):
        table = table_match[1].strip('`"')
        body = table_match[2]
        lines = body.split("\n")
        for position, line in enumerate(lines):
            constraint = _CONSTRAINT.match(line)
            kind = _KINDS[constraint[2]] if constraint else ("not-null" if " NOT NULL" in line else "")
            if not kind or taken.get(kind, 0) >= per_kind:
                continue
            columns = re.search(r"(?:PRIMARY KEY|UNIQUE) \((.*?)\)", line)
            if columns and _referenced(text, table, columns[1]):
                continue  # a foreign key needs it: the schema would not even apply
            if kind == "not-null" and _in_primary_key(body, line):
                continue  # the primary key rejects NULL anyway: an equivalent mutant
            if constraint:
                ident = f"{table}:{constraint[1]}"
                rest = [*lines[:position], *lines[position + 1 :]]
                if position == len(lines) - 1:
                    rest[-1] = rest[-1].rstrip(",")
                edited = "\n".join(rest)
            else:
                column = line.strip().split(" ", 1)[0].strip('`"')
                ident = f"{table}:not_null:{column}"
                edited = body.replace(line, line.replace(" NOT NULL", "", 1), 1)
            if ident not in checked:
                continue
            taken[kind] = taken.get(kind, 0) + 1
            found.append(Mutation(f"drop-{kind}", path, body, edited, ident, module))
    return found


def all_mutations(folder: Path, engine: str) -> list[Mutation]:
    """Every mutation of the relational artifacts of `engine` in a plan folder."""
    return [
        *query_mutations(folder, engine),
        *constraint_mutations(folder, engine),
        *index_mutations(folder, engine),
        *defeat_index_mutations(folder, engine),
    ]


def rounds(mutations: Iterable[Mutation]) -> list[list[Mutation]]:
    """Mutations packed into runs: one per target, file and module in each (edits of different
    targets do not interfere; each check names its own target)."""
    packed: list[list[Mutation]] = []
    for mutation in mutations:
        for batch in packed:
            # An index-defeating query edit and an index edit both fail the pattern's EXPLAIN
            # check: in one run, either would be credited with the other's catch.
            same_kind = mutation.module != INDEXES.format(engine=_engine(mutation)) or all(
                m.path == mutation.path for m in batch
            )
            if (
                same_kind
                and all(
                    m.target != mutation.target and m.module == mutation.module and m.old != mutation.old for m in batch
                )
                and not any(m.path == mutation.path and _overlaps(m, mutation) for m in batch)
            ):
                batch.append(mutation)
                break
        else:
            packed.append([mutation])
    return packed


def _engine(mutation: Mutation) -> str:
    return mutation.path.split("/")[1]


def _overlaps(left: Mutation, right: Mutation) -> bool:
    return left.old in right.old or right.old in left.old


# --- running -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    mutation: Mutation
    caught: bool  # the run failed and named the target
    why: str  # for a survivor: what the run said instead


def failures(output: str) -> list[str]:
    """The FAILED/ERROR summary lines of a pytest run's output."""
    return [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))]


def judge(batch: Sequence[Mutation], returncode: int, output: str) -> list[Outcome]:
    """Which mutations of a run were caught: the run failed and a failure names the target."""
    lines = failures(output)
    outcomes: list[Outcome] = []
    for mutation in batch:
        if mutation.module.endswith("_indexes.py"):
            # Index checks are per pattern, and the catalog check reports each index by name.
            named = any(mutation.target in line for line in lines) or bool(
                re.search(rf"(^E .*|^FAILED .*){re.escape(mutation.target)}\b", output, re.M)
            )
        else:
            named = any(f"[{mutation.target}]" in line for line in lines)
        caught = returncode != 0 and bool(named)
        outcomes.append(Outcome(mutation, caught, "" if caught else ("; ".join(lines)[:500] or "all tests passed")))
    return outcomes


def mutated_copy(folder: Path, batch: Sequence[Mutation], into: Path) -> Path:
    """A copy of the plan folder under `into` with the batch's edits applied."""
    # mkdtemp reserves a unique name; copytree fills the empty folder it made.
    target = Path(tempfile.mkdtemp(prefix="mutant-", dir=into))
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    edits: dict[str, list[Mutation]] = {}
    for mutation in batch:
        edits.setdefault(mutation.path, []).append(mutation)
    for mutations in edits.values():
        for mutation in mutations:
            mutation.apply(target)
    return target


def run_mutations(
    folder: Path, engine: str, url: str | None, run: Callable[[Path, list[Mutation], IO[str]], int]
) -> Iterator[Outcome]:
    """Every mutation of the folder's `engine` output, round by round: `run(copy, batch, output)`
    validates a mutated copy (writing pytest's output) and returns its exit code."""
    with tempfile.TemporaryDirectory(prefix="polyplan-mutants-") as work:
        for batch in rounds(all_mutations(folder, engine)):
            copy = mutated_copy(folder, batch, Path(work))
            with tempfile.TemporaryFile("w+", encoding="utf-8") as output:
                code = run(copy, batch, output)
                output.seek(0)
                yield from judge(batch, code, output.read())
            shutil.rmtree(copy, ignore_errors=True)
