"""The command part of every generated outbox relay (`relay.py`, `doc_relay.py`, `keyed_relay.py`):
a `start` that connects and installs what the relay needs, and a `main` that hands both, with the
relay's `run`, to the package's shared `relay_metrics.relay_main` (its flags, its one-line
failures, its exit codes). Each relay template keeps only what differs. Pure text."""

from __future__ import annotations

import json
from collections.abc import Sequence


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
