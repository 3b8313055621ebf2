"""Which SQL dialects a plan emits: `options.relational_dialects`, or the chosen engine plus SQLite.

A model that runs MariaDB has no use for PostgreSQL DDL: by default polyplan writes the schema,
queries and tests of the engine in `engines.relational` and of SQLite, whose generated tests run
in-process with no server (so `polyplan validate --engine sqlite` can check any plan at once, and CI
needs no database). A model lists the dialects it wants to get others, or to drop SQLite.
"""

from __future__ import annotations

from collections import Counter

from polyplan.model.schema import RequirementsModel

# Every dialect polyplan can emit, in the order its files and tests are written.
RELATIONAL_DIALECTS = ("postgresql", "mysql", "sqlite")
# The dialect whose tests need no server: part of the default set.
SERVERLESS_DIALECT = "sqlite"

Path = tuple[str | int, ...]
Finding = tuple[str, str, Path]  # code, message, path (model.checks turns them into Problems)


def relational_dialects(model: RequirementsModel) -> tuple[str, ...]:
    """The dialects to emit, in RELATIONAL_DIALECTS order (whatever order the model lists them in)."""
    listed = model.options.relational_dialects
    chosen = model.engines.relational or RELATIONAL_DIALECTS[0]
    wanted = set(listed) if listed is not None else {chosen, SERVERLESS_DIALECT}
    return tuple(d for d in RELATIONAL_DIALECTS if d in wanted)


def dialect_problems(model: RequirementsModel) -> list[Finding]:
    """PP615 when the list leaves out the engine the model runs; PP616 for a dialect listed twice;
    PP617 when the model runs no relational engine, so the list would change nothing."""
    listed = model.options.relational_dialects
    if listed is None:
        return []
    path: Path = ("options", "relational_dialects")
    chosen = model.engines.relational
    if chosen is None:
        return [("PP617", "engines.relational is null: no relational store, so no dialect is emitted", path)]
    found: list[Finding] = []
    counts = Counter(listed)
    for index, dialect in enumerate(listed):
        if counts[dialect] > 1 and listed.index(dialect) != index:
            found.append(("PP616", f"{dialect} is listed twice", (*path, index)))
    if chosen not in listed:
        found.append(
            (
                "PP615",
                f"leaves out {chosen}, the engine in engines.relational: its schema and tests are the ones "
                f"the plan is for; add {chosen} to the list",
                path,
            )
        )
    return found
