"""Optional dependencies: which pip extra brings which module, and one clear line when one is missing.

`pip install polyplan` plans and emits with no store driver and no test framework; the commands
that talk to a server (`seed`, `status`, `validate`) need the driver of that server, and
`validate` needs pytest. Those modules are imported only inside the code that uses them, and a
missing one surfaces as `MissingExtra`, which the CLI prints as one line naming the extra.
"""

from __future__ import annotations

from importlib.util import find_spec

# Top-level module → the extra of pyproject.toml that installs it.
EXTRA_OF_MODULE = {
    "psycopg": "postgresql",
    "pymysql": "mysql",
    "redis": "redis",
    "pymongo": "mongodb",
    "bson": "mongodb",
    "cassandra": "cassandra",
    "elasticsearch": "search",
    "opensearchpy": "search",
    "alembic": "migrate",
    "pytest": "validate",
    "testcontainers": "validate",
    "docker": "validate",
    # The envelope encryption of the generated encryption proofs (polyplan.security.envelope).
    "cryptography": "validate",
}

# Engine → the driver module its connections (SQLAlchemy dialect or client library) import.
DRIVER_OF_ENGINE = {
    "sqlite": None,  # in the standard library
    "postgresql": "psycopg",
    "mysql": "pymysql",
    "redis": "redis",
    "mongodb": "pymongo",
    "elasticsearch": "elasticsearch",
    "opensearch": "opensearchpy",
    "cassandra": "cassandra",
}


class MissingExtra(Exception):
    """A module of an optional extra is not installed; the message says what to install."""

    def __init__(self, module: str, purpose: str) -> None:
        self.module = module
        self.extra = EXTRA_OF_MODULE.get(module.split(".")[0], "all")
        super().__init__(
            f"{purpose} needs the Python package '{module}', which is not installed: "
            f"pip install 'polyplan[{self.extra}]'"
        )


def require(module: str, purpose: str) -> None:
    """Raise MissingExtra unless `module` can be imported (without importing it)."""
    try:
        found = find_spec(module.split(".")[0]) is not None
    except ImportError:  # an import hook that refuses the module says the same
        found = False
    if not found:
        raise MissingExtra(module, purpose)


def require_engine(engine: str, purpose: str) -> None:
    """Raise MissingExtra unless the driver `engine`'s connections use is installed."""
    driver = DRIVER_OF_ENGINE.get(engine)
    if driver is not None:
        require(driver, purpose)


def missing_extra(error: ModuleNotFoundError, purpose: str) -> MissingExtra | None:
    """The MissingExtra an import failure stands for, or None when the module belongs to no extra
    (then it is a broken installation or a bug, not a choice the user made at install time)."""
    name = error.name or ""
    if name.split(".")[0] not in EXTRA_OF_MODULE:
        return None
    return MissingExtra(name, purpose)
