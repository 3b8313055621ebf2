"""`polyplan tune`, the server half: ask PostgreSQL's optimizer about the planned index design.

The model is planned and the relational target emitted (in memory, then into a temporary
folder that `Harness` reads as `polyplan validate` does). In a scratch database
(`scratch_database`, dropped on exit, error, Ctrl-C or SIGTERM) the PostgreSQL schema is
applied and the index proofs' seed rows loaded — the rows `polyplan validate` loads, in the
model's proportions between tables — then `VACUUM ANALYZE` gives the optimizer their statistics.

Each pattern (`polyplan.stores.relational.tuning.tune_cases`) is EXPLAINed with parameters
taken from the loaded rows under each index set of its table. A set is made with real indexes:
the designed indexes outside it are dropped inside a transaction that is then rolled back, so
the optimizer costs exactly the indexes that exist and nothing is rebuilt. (HypoPG cannot hide
real indexes before 1.4.) Where the server offers HypoPG and the scratch database may create it,
a pattern routed to the primary key or a unique constraint is also EXPLAINed with its own index
(`tuning.own_index`) added hypothetically, to ask whether the key really is enough; `hypopg` in
the report says whether that ran. `tuning.verdict` then compares the optimizer's choice with
polyplan's.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from polyplan.diagnostics import Diagnostic, DiagnosticError, Severity
from polyplan.pipeline import plan_file
from polyplan.seed.relational import Row
from polyplan.stores.relational import Target
from polyplan.stores.relational.connect import engine_name, scratch_database
from polyplan.stores.relational.designed import RelationalDesign
from polyplan.stores.relational.index_testgen import DATA_FILE
from polyplan.stores.relational.tuning import (
    ENGINE,
    Finding,
    Measured,
    TuneCase,
    failed,
    measured,
    own_index_sql,
    own_label,
    tune_cases,
    verdict,
)
from polyplan.validate import plan_probe
from polyplan.validate.relational import Harness

NOT_INSTALLED = "not installed"
METHOD = "real indexes; each set by DROP INDEX inside a transaction that is rolled back"


@dataclass(frozen=True)
class TuneReport:
    """What `polyplan tune` found for one model."""

    model: str
    method: str
    hypopg: str  # whether the server offers HypoPG, and which version
    seeded: dict[str, int]
    findings: tuple[Finding, ...]

    def as_data(self) -> dict[str, Any]:
        """The JSON form (`polyplan tune --json`)."""
        from polyplan.stores.relational.tuning import summary

        return {
            "model": self.model,
            "method": self.method,
            "hypopg": self.hypopg,
            "seeded_rows": dict(sorted(self.seeded.items())),
            "summary": summary(self.findings),
            "patterns": [f.as_data() for f in self.findings],
        }


def _bad_input(message: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic("PP429", message, severity=Severity.ERROR)])


def _write(folder: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _hypopg(connection: sa.Connection) -> str:
    version = connection.exec_driver_sql(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'hypopg'"
    ).scalar()
    return f"available ({version})" if version else NOT_INSTALLED


def _with_hypopg(engine: sa.Engine) -> bool:
    """Whether HypoPG could be created in the scratch database (needs the package and the right)."""
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS hypopg")
    except sa.exc.DBAPIError:
        return False
    return True


def _explain_own(connection: sa.Connection, case: TuneCase, params: dict[str, Any]) -> Measured:
    """The optimizer's answer with the pattern's own index added hypothetically (planned set kept)."""
    try:
        connection.execute(
            sa.text("SELECT indexrelid FROM hypopg_create_index(:ddl)"), {"ddl": own_index_sql(case.table, case.own)}
        )
        rows = plan_probe.explain(connection, ENGINE, case.sql, params, plan_probe.list_params(dict(case.check)))
    finally:
        connection.exec_driver_sql("SELECT hypopg_reset()")  # hypothetical indexes live in the session
        connection.rollback()
    return measured(own_label(case.own), ("hypothetical",), rows[0][0])


def _explain_under(connection: sa.Connection, case: TuneCase, params: dict[str, Any]) -> list[Measured]:
    """The optimizer's answer for `case` under each of its index sets."""
    lists = plan_probe.list_params(dict(case.check))
    results = []
    for index_set in case.sets:
        transaction = connection.begin()
        try:
            for name in case.designed:
                if name not in index_set.kept:
                    connection.exec_driver_sql(f"DROP INDEX {plan_probe.quote(connection, name)}")
            rows = plan_probe.explain(connection, ENGINE, case.sql, params, lists)
        finally:
            transaction.rollback()  # the dropped indexes come back
        results.append(measured(index_set.label, index_set.kept, rows[0][0]))
    return results


def _accepted_names(connection: sa.Connection, case: TuneCase) -> frozenset[str]:
    """The index names that count as the pattern's route (as the generated index proofs count them)."""
    if case.expect.get("via") == "index":
        names = {str(case.expect["index"])}
        return frozenset(names | plan_probe.partition_indexes(connection, ENGINE, names))
    return frozenset(plan_probe.serving_index_names(connection, ENGINE, case.table, case.expect.get("columns", [])))


def _time_key(column: str, row: Row) -> tuple[bool, str]:
    return (row[column] is None, str(row[column]))


def _findings(engine: sa.Engine, cases: Sequence[TuneCase], seeded: dict[str, int], hypopg: bool) -> list[Finding]:
    findings = []
    with engine.connect() as connection:
        for case in cases:
            try:
                params = plan_probe.pattern_params(connection, case.table, dict(case.check))
                connection.rollback()
                results = _explain_under(connection, case, params)
                names = _accepted_names(connection, case)
                connection.rollback()
                own = _explain_own(connection, case, params) if hypopg and case.own else None
            except (LookupError, sa.exc.DBAPIError) as error:
                connection.rollback()
                text = str(error.orig if isinstance(error, sa.exc.DBAPIError) else error).strip().splitlines()[0]
                findings.append(failed(case, text))
                continue
            findings.append(verdict(case, results, names, seeded, own))
    return findings


def tune(model_path: str | Path, url: str, targets: str | Path | None = None) -> TuneReport:
    """Plan `model_path` (against the target profiles in `targets` and the bundled ones), build its PostgreSQL schema and seed rows in a scratch database on the
    server at `url`, and compare the optimizer's index choice with the plan's for every pattern.

    Raises DiagnosticError (PP429) when `url` is not PostgreSQL or the model has no relational
    pattern for it, and the model's own errors as planning does.
    """
    try:
        backend = engine_name(url)
    except sa.exc.ArgumentError as error:
        raise _bad_input(f"polyplan tune: bad --url: {error}") from None
    if backend != ENGINE:
        raise _bad_input(f"polyplan tune asks PostgreSQL's optimizer: --url must be postgresql://…, not {backend}")
    plan = plan_file(model_path, targets)
    artifacts = Target().emit(plan)
    tests = artifacts.tests
    if DATA_FILE not in tests or f"relational/{ENGINE}/schema.sql" not in artifacts.files:
        raise _bad_input(
            f"model {plan.model.name} has no relational access pattern planned for PostgreSQL: nothing to tune"
        )
    data = json.loads(tests[DATA_FILE])
    design = artifacts.design
    tables = list(design.tables) if isinstance(design, RelationalDesign) else []
    with tempfile.TemporaryDirectory(prefix="polyplan_tune_") as folder:
        root = Path(folder)
        _write(root, {**artifacts.files, **{f"tests/{p}": t for p, t in tests.items()}})
        harness = dataclasses.replace(Harness.from_plan_folder(root / "tests", ENGINE), rows=data["rows"])
    cases = tune_cases(tables, data, {name: query.sql for name, query in harness.queries.items()}, plan.model)
    with scratch_database(url) as engine:
        for table, column in data["time_ordered"].items():
            # Rows arrive in time order (the planner's correlation statistics depend on it).
            harness.loaded[table].sort(key=partial(_time_key, column))
        seeded = harness.load(engine)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            plan_probe.vacuum_until_all_visible(connection)
            offered = _hypopg(connection)
        hypopg = offered != NOT_INSTALLED and _with_hypopg(engine)
        findings = _findings(engine, cases, seeded, hypopg)
    state = f"{offered}; used for each key-routed pattern's own index" if hypopg else f"{offered}, not used"
    return TuneReport(plan.model.name, METHOD, state, seeded, tuple(findings))
