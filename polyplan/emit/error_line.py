"""A driver's error in one line, for the scripts polyplan generates.

Setup, migration, verify and erasure scripts carry this code (`polyplan.emit.embed`), so a server
that is down or refuses reads the same in all of them: one line on stderr, never a traceback or
the driver's topology dump. It imports nothing, so any script can carry it.
"""


def one_line(error: BaseException) -> str:
    """The error's class and first sentence, without the driver's timeout settings and topology dump."""
    text = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    first = (text.strip().splitlines() or [""])[0].split(" (configured")[0].split(", Timeout:")[0]
    return f"{error.__class__.__name__}: {first[:300]}"
