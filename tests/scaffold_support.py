"""What the scaffold tests (tests/test_scaffold*.py) share: a model's package written to a folder
and imported (its modules forgotten afterwards, so the next test's package of the same name is read
afresh), the package checked by ruff and `mypy --strict`, a model seeded by `polyplan seed`, the
scratch stores a scaffolded application runs on (a Cassandra keyspace with the plan's schema, an
index prefix) and the application's commands run as subprocesses with its environment."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from polyplan.scaffold import write_scaffold
from polyplan.testkit import resolve_url
from tests.conftest import ROOT


def forget(*packages: str) -> None:
    """Drop the modules of the top-level `packages` from sys.modules."""
    for name in [n for n in sys.modules if n.split(".")[0] in packages]:
        del sys.modules[name]


@contextmanager
def on_path(folder: Path) -> Iterator[Path]:
    """`folder` first on sys.path while inside."""
    sys.path.insert(0, str(folder))
    try:
        yield folder
    finally:
        sys.path.remove(str(folder))


def _package(files: Iterable[str]) -> str:
    """The name of the package among a scaffold's files."""
    return next(path.split("/")[0] for path in files if path.endswith("/__init__.py"))


@contextmanager
def scaffolded(model: Path, folder: Path) -> Iterator[str]:
    """`model` scaffolded into `folder`, its package (the name yielded) importable while inside and
    forgotten after."""
    package = _package(write_scaffold(model, folder)[1])
    try:
        with on_path(folder):
            yield package
    finally:
        forget(package)


def import_scaffold(model: Path, folder: Path, module: str) -> ModuleType:
    """`model` scaffolded into `folder` and its package's `module` imported (the folder on sys.path
    only while importing; the caller forgets the package)."""
    write_scaffold(model, folder)
    with on_path(folder):
        return importlib.import_module(f"{model.stem}.{module}")


@contextmanager
def imported_scaffolds(root: Path, models: Iterable[Path], module: str) -> Iterator[dict[str, ModuleType]]:
    """Each of `models` scaffolded into `root/<stem>` and its package's `module` imported, by stem;
    the packages forgotten after (and modules of the same names loaded before, restored)."""
    stems = [model.stem for model in models]
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] in stems}
    forget(*stems)
    try:
        yield {model.stem: import_scaffold(model, root / model.stem, module) for model in models}
    finally:
        forget(*stems)
        sys.modules.update(saved)


def assert_clean(packages: Iterable[str | Path], timeout: float = 600) -> str:
    """Assert the packages pass `ruff check` and `mypy --strict` (run from the repository, with its
    configuration); mypy's output."""
    names = [str(p) for p in packages]
    for command in (["ruff", "check", "--isolated", "--no-cache"], ["mypy", "--strict", "--no-incremental"]):
        done = subprocess.run(
            [sys.executable, "-m", *command, *names], capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def scaffold_clean(model: Path, folder: Path) -> Path:
    """`model` scaffolded into `folder`, its package asserted ruff and `mypy --strict` clean; the
    package's folder."""
    package = folder / _package(write_scaffold(model, folder)[1])
    assert_clean([package])
    return package


def seed_model(model: Path, engine_name: str, url: str, rows: int, timeout: float = 300) -> None:
    """`polyplan seed` of `model`'s tables on `url` (`rows` a table)."""
    command = [sys.executable, "-m", "polyplan", "seed", str(model), "--engine", engine_name, "--url", url]
    done = subprocess.run([*command, "--rows", str(rows)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def app_env(package: str, folder: Path, **settings: str) -> dict[str, str]:
    """The environment of a scaffolded application's commands: this process's without any of the
    package's own settings, the package importable, output unbuffered, and `settings` (DATABASE_URL=…)
    under the package's prefix."""
    prefix = f"{package.upper()}_"
    return {k: v for k, v in os.environ.items() if not k.startswith(prefix)} | {
        "PYTHONPATH": str(folder),
        "PYTHONUNBUFFERED": "1",
        **{prefix + name: value for name, value in settings.items()},
    }


def database_url(url: str, name: str) -> str:
    """A MongoDB URL naming the database `name` (its query kept)."""
    base, _, query = url.partition("?")
    return f"{base.rstrip('/')}/{name}" + (f"?{query}" if query else "")


@dataclass
class ScaffoldApp:
    """A scaffolded application on this run's stores."""

    package: str
    folder: Path
    env: dict[str, str]

    def command(self, module: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`python -m <package>.<module> args`, its output captured."""
        return subprocess.run(
            [sys.executable, "-m", f"{self.package}.{module}", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, module: str, *args: str) -> subprocess.Popen[str]:
        """`python -m <package>.<module> args` started, its output (stderr with it) piped."""
        return subprocess.Popen(
            [sys.executable, "-m", f"{self.package}.{module}", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


@contextmanager
def scratch_index_prefix() -> Iterator[tuple[Any, str]]:
    """An OpenSearch client and an index prefix unique to this run; its indexes dropped after."""
    from polyplan.stores.search.connect_opensearch import connect, drop_prefix, run_prefix

    client = connect(resolve_url("opensearch"))
    prefix = run_prefix()
    try:
        yield client, prefix
    finally:
        drop_prefix(client, prefix)
        client.close()


@contextmanager
def scratch_keyspace(model: Path) -> Iterator[tuple[Any, str]]:
    """A Cassandra session and a keyspace unique to this run holding `model`'s planned schema.cql;
    dropped after."""
    from polyplan.pipeline import plan_file
    from polyplan.stores.wide_column.connect import apply_schema, connect, drop_keyspace, run_keyspace
    from polyplan.stores.wide_column.design import design_wide_column
    from polyplan.stores.wide_column.render import schema_cql

    plan = plan_file(model)
    cluster, session = connect(resolve_url("cassandra"))
    keyspace = run_keyspace()
    try:
        apply_schema(session, schema_cql(design_wide_column(plan), plan.model), keyspace)
        try:
            yield session, keyspace
        finally:
            drop_keyspace(session, keyspace)
    finally:
        cluster.shutdown()


def scaffold_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`polyplan scaffold args` from the repository, plain output (no colour, wide lines, no debug)."""
    env = {k: v for k, v in os.environ.items() if k != "POLYPLAN_DEBUG"} | {"NO_COLOR": "1", "COLUMNS": "300"}
    command = [sys.executable, "-m", "polyplan", "scaffold", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


@contextmanager
def keyed_stores(model: Path, package: str, modules: dict[str, Any]) -> Iterator[tuple[Any, str, str, str]]:
    """The Stores of `package` (scaffolded from `model`, its `settings`, `wide_column_runtime`,
    `search` and `keyed_relay` in `modules`) on a scratch Redis key prefix, Cassandra keyspace (the
    plan's schema.cql applied) and index prefix, its indexes and Cassandra outbox installed; with the
    key prefix, the index prefix and the keyspace. Its relational database is an empty SQLite."""
    import sqlalchemy as sa

    from polyplan.stores.cache.connect import connect as redis_connect
    from polyplan.stores.cache.connect import scratch_prefix

    cache = redis_connect(resolve_url("redis"))
    with (
        scratch_keyspace(model) as (session, keyspace),
        scratch_index_prefix() as (search, index_prefix),
        scratch_prefix(cache) as key_prefix,
    ):
        wide = modules["wide_column_runtime"].WideColumnStore(
            resolve_url("cassandra"), package, keyspace, session=session
        )
        made = modules["settings"].Stores(
            sa.create_engine("sqlite://"),
            cache,
            key_prefix,
            search=search,
            index_prefix=index_prefix,
            wide_column=wide,
        )
        modules["search"].install_search(made)
        modules["keyed_relay"].install_outbox(made)
        yield made, key_prefix, index_prefix, keyspace
