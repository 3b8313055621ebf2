"""How a generated script reports: a driver's error in one line, and an erasure's counts.

Migration steps, the verify step of a move and the erasure scripts carry this code
(`polyplan.emit.embed`), so a server that is down or refuses reads the same in all of them: one
line on stderr, never a traceback or the driver's topology dump. It imports only the standard library.
"""

import sys
from collections.abc import Callable


def one_line(error: BaseException) -> str:
    """The error's class and first sentence, without the driver's timeout settings and topology dump."""
    text = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    first = (text.strip().splitlines() or [""])[0].split(" (configured")[0].split(", Timeout:")[0]
    return f"{error.__class__.__name__}: {first[:300]}"


def report_counts(url: str, erase: Callable[[], dict[str, int]], errors: tuple[type[Exception], ...], verb: str) -> int:
    """Run `erase`: print `NAME: COUNT VERB` per count (exit status 0), or its error in one line (1)."""
    try:
        counts = erase()
    except errors as error:
        print(f"erasure: {url}: {one_line(error)}", file=sys.stderr)
        return 1
    for name, count in counts.items():
        print(f"{name}: {count} {verb}")
    return 0
