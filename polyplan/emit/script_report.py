"""How a generated erasure script reports: its counts, or its error in one line.

The erasure scripts carry this code (`polyplan.emit.embed.standalone`, which also inlines
`one_line`); it imports only the standard library.
"""

import sys
from collections.abc import Callable

from polyplan.emit.error_line import one_line


def report_counts(
    url: str,
    erase: Callable[[], dict[str, int]],
    errors: tuple[type[Exception], ...],
    verb: str,
    label: str = "erasure",
) -> int:
    """Run `erase`: print `NAME: COUNT VERB` per count (exit status 0), or its error in one line
    starting with `label` (1)."""
    try:
        counts = erase()
    except errors as error:
        print(f"{label}: {url}: {one_line(error)}", file=sys.stderr)
        return 1
    for name, count in counts.items():
        print(f"{name}: {count} {verb}")
    return 0
