"""The runtime of a parent's write paths in a scaffolded package (redis.md, "related fields").

A cached answer that holds a related field (a joined `item.end_date`, or a copied `item_title`)
changes when the parent's field changes. keys.json gives each parent write that changes such a
field a write path with `children`: after the commit, list the children on the system of record
by the parent's key, then, per child, drop its cached answer (`DEL`) or set the field in it only
while it is cached (the guarded `HSET`). A copied field is first rewritten in the write's own
transaction by its copies.sql `__after_<write>` block.

This module is copied into every package with such paths (the package's runtime imported in
place of polyplan's); polyplan's tests import it from here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
import sqlalchemy as sa

from polyplan.scaffold.runtime import encode, fill, key_part, statement


@dataclass(frozen=True)
class CopyStep:
    """One copies.sql `__after_<write>` statement: it rewrites the children's copies below the
    written parent, in the write's transaction."""

    name: str  # the statement's name in copies.sql
    sql: Mapping[str, str]  # engine → its text
    params: tuple[tuple[str, str, str], ...]  # (parameter, the parent row's column, kind)


@dataclass(frozen=True)
class ParentPath:
    """One keys.json write path with `children`, for one cached pattern's answers."""

    key: str  # the key family keys.json names (`cache.bid.bid_by_id`)
    query: str  # keys.json's children query, exactly
    params: tuple[tuple[str, str, str], ...]  # (query parameter, the parent row's column, kind)
    listed: tuple[tuple[str, str], ...]  # (child column the query returns, kind)
    template: str  # the cached answer's key template
    parts: tuple[tuple[str, str, str], ...]  # (template attribute, listed column, kind)
    upkeep: str  # "invalidate" (DEL) or "update" (set the field only while cached)
    field: str  # the answer's field holding the parent's value
    value: tuple[str, str]  # (the parent row's column, the field's kind)


def run_copies(connection: sa.Connection, engine: str, steps: Sequence[CopyStep], row: Mapping[str, Any]) -> None:
    """Run each copies.sql block of the write on `connection` (inside the write's transaction),
    bound by the written parent row's key."""
    for step in steps:
        kinds = {name: kind for name, _, kind in step.params}
        connection.execute(
            statement(step.sql[engine], kinds, {}), {name: row[column] for name, column, _ in step.params}
        )


# KEYS[1] the answer, ARGV[1] its text as read, ARGV[2] the new text: written (TTL kept) only if the
# answer is still the one read, so a concurrent change or drop is never overwritten.
SWAP_ANSWER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
"""


def set_field(client: redis.Redis, key: str, field: str, value: Any) -> bool:
    """Set one field of a cached answer only while the answer is cached (keys.json's guarded HSET,
    on the package's answer format `<version>|<json object>`): read it, change the field, and swap
    it in with its TTL by compare-and-set, again from the read if another client changed it
    meanwhile. An answer that is not cached is not created (a later read would take one field for
    the whole answer). Returns whether it was set."""
    while True:
        raw = client.get(key)
        if raw is None:
            return False
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        version, answer = text.split("|", 1)
        body = json.loads(answer)
        if not isinstance(body, dict):  # a list answer has no field of its own: drop it
            client.delete(key)
            return False
        body[field] = value
        changed = f"{version}|{json.dumps(body, separators=(',', ':'), ensure_ascii=False)}"
        if client.eval(SWAP_ANSWER, 1, key, text, changed):
            return True


def child_keys(connection: sa.Connection, path: ParentPath, row: Mapping[str, Any]) -> list[str]:
    """The key names (without the deployment's prefix) of the children's cached answers: the
    children query bound by the parent row's key, each listed child filling the template."""
    query = statement(path.query, {name: kind for name, _, kind in path.params}, dict(path.listed))
    listed = connection.execute(query, {name: row[column] for name, column, _ in path.params}).mappings().all()
    keys = {
        fill(path.template, {attribute: key_part(kind, child[column]) for attribute, column, kind in path.parts})
        for child in listed
        if all(child[column] is not None for _, column, _ in path.parts)
    }
    return sorted(keys)


def follow_parent(
    database: sa.Engine,
    cache: redis.Redis | None,
    prefixed: Callable[[str], str],
    paths: Sequence[ParentPath],
    row: Mapping[str, Any] | None,
) -> int:
    """After the parent's write committed: run each of its write paths (list the children, then
    DEL or set the field of each one's cached answer). `row` is the parent as committed; returns
    the number of answers dropped or changed."""
    if cache is None or row is None or not paths:
        return 0
    done = 0
    with database.connect() as connection:
        listed = [(path, child_keys(connection, path, row)) for path in paths]
    for path, keys in listed:
        names = [prefixed(key) for key in keys]
        if not names:
            continue
        if path.upkeep == "update":
            column, kind = path.value
            value = encode(kind, row[column])
            done += sum(set_field(cache, name, path.field, value) for name in names)
        else:
            done += int(cache.delete(*names))
    return done
