"""The outbox relays' text (pure): the relational relay (`relay.py`), and the command part every
relay shares (`relay.py`, `doc_relay.py`, `keyed_relay.py`): a `start` that connects and installs
what the relay needs, and a `main` that hands both, with the relay's `run`, to the package's
`relay_metrics.relay_main` (its flags, its one-line failures, its exit codes). Each relay template
keeps only what differs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from polyplan.scaffold.design import OUTBOX_TABLE, Scaffold
from polyplan.scaffold.module_text import _from_import, _module


def _relay(scaffold: Scaffold) -> str:
    """The text of `<package>/relay.py`: the relational outbox's relay to the cache (and the search
    indexes, with any), `python -m <package>.relay [--once] [--batch N] [--metrics-port P]`."""
    search = bool(scaffold.indexes)
    targets = "cache and the search indexes" if search else "cache"
    if search:
        run_body = (
            '    search_client(stores, "the relay")  # never relay without the index: its events would be lost\n'
            "    return relay_forever(\n"
            "        stores.database,\n"
            "        OUTBOX[stores.engine],\n"
            "        lambda event: apply(stores, event),\n"
            "        batch,\n"
            "        once,\n"
            "        apply_all=lambda events: apply_events(stores, events),\n"
            "        transient=TRANSIENT,\n"
            "        metrics=metrics,\n"
            "    )\n"
        )
    else:
        run_body = (
            "    return relay_forever(\n"
            "        stores.database, OUTBOX[stores.engine], lambda event: apply(stores, event), batch, once, metrics=metrics\n"
            "    )\n"
        )
    errors = ", *TRANSIENT" if search else ""
    body = f'''def install_outbox(stores: Stores) -> None:
    """Create the outbox table and its index if missing (next to the planned schema). Looked up
    first: even a CREATE INDEX IF NOT EXISTS takes a lock that waits for, and holds up, the writers.
    Two processes starting at once (a relay and the load generator) may both find it missing; the
    one whose CREATE fails on the other's table (PostgreSQL's IF NOT EXISTS is not atomic) goes on."""
    try:
        with stores.database.begin() as connection:
            if sa.inspect(connection).has_table({OUTBOX_TABLE!r}):
                return
            for ddl in OUTBOX_DDL[stores.engine]:
                connection.exec_driver_sql(ddl)
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
        with stores.database.connect() as connection:
            if not sa.inspect(connection).has_table({OUTBOX_TABLE!r}):
                raise


def run(stores: Stores, batch: int = 100, once: bool = False, metrics: Metrics | None = None) -> int:
    """Relay outbox events to the {targets} until stopped (or until none is pending, with `once`)."""
{run_body}

# What stops the command with one line (a store that never answered, a missing setting).
FAILURES: tuple[type[Exception], ...] = (SettingsError, sa.exc.OperationalError, redis.RedisError{errors})


'''
    body += relay_command(
        f"{scaffold.package}.relay",
        f"Relay outbox events to the {targets}.",
        "events per transaction",
        ["install_outbox", *(["install_search"] if search else [])],
    )
    imports = [
        "import sys",
        "",
        "import redis",
        "import sqlalchemy as sa",
        "",
        _from_import(f"{scaffold.package}.projection", ["apply"]),
        _from_import(f"{scaffold.package}.relay_metrics", ["Metrics", "relay_main"]),
        _from_import(f"{scaffold.package}.runtime", ["relay_forever"]),
        *(
            [
                _from_import(
                    f"{scaffold.package}.search", ["TRANSIENT", "apply_events", "install_search", "search_client"]
                )
            ]
            if search
            else []
        ),
        _from_import(f"{scaffold.package}.settings", ["SettingsError", "Stores", "connect"]),
        _from_import(f"{scaffold.package}.sql", ["OUTBOX", "OUTBOX_DDL"]),
    ]
    return _module(scaffold, "The outbox relay: `python -m <package>.relay`.", imports, body)


def relay_command(prog: str, description: str, batch_help: str, installs: Sequence[str]) -> str:
    """The end of a relay module: `start()` (`connect()`, then each of `installs`, a function
    taking the stores) and `main(argv)` for `python -m <prog>`; the module defines `run` and
    `FAILURES` and imports `connect`, `Stores`, `relay_main` and `sys`."""
    quoted = [json.dumps(text, ensure_ascii=False) for text in (prog, description, batch_help)]
    calls = "".join(f"    {install}(stores)\n" for install in installs)
    what = " and ".join(installs)
    return f'''def start() -> Stores:
    """The stores from the settings, {what} run first (before any batch)."""
    stores = connect()
{calls}    return stores


def main(argv: list[str] | None = None) -> int:
    """`python -m {prog} [--once] [--batch N] [--metrics-port P]`."""
    return relay_main(
        {quoted[0]},
        {quoted[1]},
        {quoted[2]},
        argv,
        start,
        run,
        FAILURES,
    )


if __name__ == "__main__":
    sys.exit(main())
'''
