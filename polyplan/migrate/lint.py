"""Lint of schema changes: what blocks or breaks a live application, with a stable code, the
reason, and the safe alternative (PP8xx). It reads SQL text (`polyplan lint FILE.sql`) and the
steps `polyplan migrate` emits, statement by statement, remembering what earlier statements of
the same script set (timeouts, validated NOT NULL checks, tables created in the script).

A statement may carry `-- polyplan-lint: ignore PP8xx[, PP8xx] (why)` on a line before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from polyplan.diagnostics import CODES, Diagnostic, Location, Severity

ADVICE: dict[str, tuple[str, str]] = {
    # code: (why it hurts, what to do instead)
    "PP801": (
        "the table is rewritten under a lock that blocks reads or writes for as long as the copy takes",
        "add a new column, backfill it in batches and keep both in step with a trigger, then swap (expand/contract)",
    ),
    "PP802": (
        "building the index blocks every write to the table until it is done",
        "PostgreSQL: CREATE INDEX CONCURRENTLY outside a transaction; MariaDB: ALGORITHM=INPLACE, LOCK=NONE",
    ),
    "PP803": (
        "existing rows have no value, or the whole table is scanned under an ACCESS EXCLUSIVE lock",
        "add the column with a DEFAULT, or add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL",
    ),
    "PP804": (
        "a volatile default is computed for every existing row: the table is rewritten under an exclusive lock",
        "add the column without a default (or a constant one), backfill in batches, then set the default",
    ),
    "PP805": (
        "values that do not fit the narrower type make the change fail, or are cut",
        "check that every value fits first, or keep the wider type",
    ),
    "PP806": (
        "a DDL statement waiting for a lock queues every later query of the application behind it",
        "PostgreSQL: SET lock_timeout and statement_timeout first; MariaDB: SET SESSION lock_wait_timeout",
    ),
    "PP807": (
        "the running application version may still read it; the data is gone",
        "stop reading and writing it in a released version first, then drop it in a later (contract) step",
    ),
    "PP808": (
        "the running application version still uses the old name and fails on every query that does",
        "add the new name alongside (new column kept in step, or a view), switch the application, drop the old later",
    ),
    "PP809": (
        "existing rows are checked while a lock blocks writes to the table",
        "PostgreSQL: ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT; a unique rule: a unique index built "
        "CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX",
    ),
    "PP813": (
        "the table is copied into a new file under an ACCESS EXCLUSIVE lock (SET LOGGED also writes all of it to "
        "the WAL), so every read and write waits for the copy",
        "run it in a quiet window, or create the table anew with the wanted persistence, copy the rows in batches "
        "and swap the names",
    ),
}

_IGNORE = re.compile(r"--\s*polyplan-lint:\s*ignore\s+((?:PP8\d\d[\s,]*)+)", re.I)
_VOLATILE = re.compile(
    r"DEFAULT\s*\(?\s*(RANDOM|CLOCK_TIMESTAMP|TIMEOFDAY|GEN_RANDOM_UUID|UUID_GENERATE_V[14]|UUID|NEXTVAL|RAND)\s*\(",
    re.I,
)


@dataclass(frozen=True)
class Statement:
    text: str
    line: int
    column: int
    ignored: frozenset[str] = frozenset()


def statements(sql: str) -> Iterator[Statement]:
    """SQL statements with the position of their first character; `;` inside quotes, dollar-quoted
    bodies and comments does not split."""
    i, n = 0, len(sql)
    start: int | None = None
    ignored: set[str] = set()
    line, col = 1, 1
    start_pos = (1, 1)

    def flush(end: int) -> Statement | None:
        if start is None:
            return None
        return Statement(sql[start:end].strip(), start_pos[0], start_pos[1], frozenset(ignored))

    while i < n:
        char = sql[i]
        if char == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            match = _IGNORE.search(sql[i:end])
            if match:
                ignored.update(re.findall(r"PP8\d\d", match.group(1).upper()))
            col += end - i
            i = end
            continue
        if char == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
            chunk = sql[i:end]
            line, col = (
                line + chunk.count("\n"),
                (col + len(chunk) if "\n" not in chunk else len(chunk) - chunk.rfind("\n")),
            )
            i = end
            continue
        if start is None and not char.isspace() and char != ";":
            start, start_pos = i, (line, col)
        if char in ("'", '"'):
            end = i + 1
            while end < n and not (sql[end] == char and not sql.startswith(char * 2, end)):
                end += 2 if sql.startswith(char * 2, end) else 1
            end = min(end + 1, n)
        elif char == "$" and (tag := re.match(r"\$[A-Za-z_]*\$", sql[i:])):
            close = sql.find(tag.group(), i + len(tag.group()))
            end = n if close == -1 else close + len(tag.group())
        elif char == ";":
            found = flush(i)
            if found is not None and found.text:
                yield found
            start, ignored = None, set()
            end = i + 1
        else:
            end = i + 1
        chunk = sql[i:end]
        newlines = chunk.count("\n")
        line, col = (line + newlines, len(chunk) - chunk.rfind("\n")) if newlines else (line, col + len(chunk))
        i = end
    found = flush(n)
    if found is not None and found.text:
        yield found


@dataclass
class _State:
    """What earlier statements of the script did."""

    timeouts: bool = False
    created: set[str] = field(default_factory=set)  # tables created in this script: empty, no one waits
    not_null_checks: dict[str, str] = field(default_factory=dict)  # constraint → column, added NOT VALID
    validated: set[str] = field(default_factory=set)  # columns with a validated IS NOT NULL check


@dataclass(frozen=True)
class Finding:
    """One lint finding."""

    code: str
    line: int
    column: int
    statement: str

    def diagnostic(self, source: str) -> Diagnostic:
        """As a warning at the statement's position: problem, reason, safe alternative."""
        reason, instead = ADVICE[self.code]
        first = self.statement.splitlines()[0][:80]
        message = f"{CODES[self.code]}: `{first}`: {reason}; instead: {instead}"
        return Diagnostic(
            self.code, message, severity=Severity.WARNING, location=Location(source, self.line, self.column)
        )


_NAME = r'(?:"[^"]+"|`[^`]+`|[\w$]+)'


def _unquote(name: str) -> str:
    return name.strip('"`').lower()


def _check(statement: str, engine: str, state: _State) -> list[str]:
    upper = " ".join(statement.upper().split())
    codes: list[str] = []
    if upper.startswith("SET "):
        if re.search(r"LOCK_TIMEOUT|LOCK_WAIT_TIMEOUT", upper):
            state.timeouts = True
        return codes
    if upper.startswith("CREATE TABLE"):
        match = re.match(rf"CREATE TABLE (?:IF NOT EXISTS )?({_NAME})", statement.strip(), re.I)
        if match:
            state.created.add(_unquote(match.group(1)))
        return codes
    ddl = re.match(r"(ALTER TABLE|CREATE (UNIQUE )?INDEX|DROP INDEX|DROP TABLE|RENAME TABLE)", upper)
    if ddl is None:
        return codes
    target = re.search(
        rf"(?:ALTER TABLE|\bON|DROP TABLE|RENAME TABLE)\s+(?:IF EXISTS\s+|ONLY\s+)?({_NAME})", statement, re.I
    )
    table = _unquote(target.group(1)) if target else ""
    fresh = table in state.created
    if not state.timeouts and not fresh and engine != "sqlite":
        codes.append("PP806")
        state.timeouts = True  # said once per script: the rest would repeat it
    if upper.startswith("CREATE") and not fresh:
        blocking = "CONCURRENTLY" not in upper if engine == "postgresql" else "LOCK=NONE" not in upper.replace(" ", "")
        if engine != "sqlite" and blocking:
            codes.append("PP802")
    mysql_index = engine == "mysql" and re.search(r"^ALTER TABLE .*\bADD (UNIQUE |FULLTEXT )?(INDEX|KEY)\b", upper)
    if mysql_index and "LOCK=NONE" not in upper.replace(" ", "") and not fresh:
        codes.append("PP802")
    if re.search(r"\bALTER COLUMN \S+ (SET DATA )?TYPE\b", upper) or re.search(
        r"\bGENERATED ALWAYS AS .* STORED\b", upper
    ):
        codes.append("PP801")
    if engine == "postgresql" and re.search(r"\bSET (UN)?LOGGED\b", upper):
        codes.append("PP813")
    if engine == "mysql" and re.search(r"\b(MODIFY|CHANGE)\b", upper):
        compact = upper.replace(" ", "")
        if "ALGORITHM=COPY" in compact or "ALGORITHM=" not in compact:
            codes.append("PP801")
    if re.search(r"\bADD (COLUMN )?(?!CONSTRAINT\b)\S+ .*\bNOT NULL\b", upper) and "DEFAULT" not in upper and not fresh:
        codes.append("PP803")
    set_not_null = re.search(rf"ALTER COLUMN ({_NAME}) SET NOT NULL", statement, re.I)
    if set_not_null and _unquote(set_not_null.group(1)) not in state.validated:
        codes.append("PP803")
    if re.search(r"\bADD (COLUMN )?(?!CONSTRAINT\b)", upper) and _VOLATILE.search(statement):
        codes.append("PP804")
    nn = re.search(rf"ADD CONSTRAINT ({_NAME}) CHECK \(\s*({_NAME}) IS NOT NULL\s*\) NOT VALID", statement, re.I)
    if nn:
        state.not_null_checks[_unquote(nn.group(1))] = _unquote(nn.group(2))
    validate = re.search(rf"VALIDATE CONSTRAINT ({_NAME})", statement, re.I)
    if validate and _unquote(validate.group(1)) in state.not_null_checks:
        state.validated.add(state.not_null_checks[_unquote(validate.group(1))])
    if re.search(r"\bDROP (COLUMN|TABLE)\b", upper) or upper.startswith("DROP TABLE"):
        codes.append("PP807")
    if re.search(r"\bRENAME (COLUMN|TO)\b", upper) or upper.startswith("RENAME TABLE"):
        codes.append("PP808")
    change = re.search(rf"\bCHANGE COLUMN ({_NAME}) ({_NAME})", statement, re.I)
    if engine == "mysql" and change and _unquote(change.group(1)) != _unquote(change.group(2)):
        codes.append("PP808")
    live = engine == "postgresql" and not fresh
    if live and re.search(r"\bADD CONSTRAINT \S+ (CHECK|FOREIGN KEY)\b", upper) and "NOT VALID" not in upper:
        codes.append("PP809")
    if live and re.search(r"\bADD (CONSTRAINT \S+ )?(UNIQUE|PRIMARY KEY)\b", upper) and "USING INDEX" not in upper:
        codes.append("PP809")
    return codes


def lint_sql(sql: str, engine: str = "postgresql") -> list[Finding]:
    """Every finding in a script for `engine` (postgresql, mysql or sqlite), in order."""
    state = _State()
    found: list[Finding] = []
    for statement in statements(sql):
        for code in _check(statement.text, engine, state):
            if code not in statement.ignored:
                found.append(Finding(code, statement.line, statement.column, statement.text))
    return found
