"""Append-only histories without a key (`key: {kind: none}`) as the stores see them.

The model checks (model/keyless_checks.py) refuse what needs a key: a relationship to such an
entity, an update or delete of one record by its key, an upsert, and a placement in a store that
addresses records by key. Here the consequences that remain are stated:

- scoring rules out the families that address every record by its key (Cassandra's primary key
  is its partition and clustering key; Redis stores values under keys), so such an entity is never
  placed there; MongoDB generates `_id`, and a relational table needs no primary key;
- PP441 (PostgreSQL): a table without a primary key has no replica identity, so a publication
  that replicates updates or deletes refuses them on it;
- PP442 (MariaDB, SQLite): the engine keeps a hidden row key itself, with its costs;
- PP444: hot reads get no Redis read model (each holds records under their key), and full-text
  reads no search projection (kept in step by document id). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import replace

from polyplan.analyse.capabilities import Capability
from polyplan.analyse.profile import PatternShape
from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import is_keyless, writes_of
from polyplan.model.schema import Family, RequirementsModel, WriteKind
from polyplan.plan.ir import FamilyScore, Plan

# Families whose every record is addressed by its key, and why a keyless entity cannot live there.
KEYED_FAMILIES = {
    Family.WIDE_COLUMN: "Cassandra stores every row under its primary key (partition and clustering columns); "
    "a history without a key has none to give it",
    Family.CACHE: "Redis stores every value under a key; a history without a key has none",
}

HIDDEN_KEYS = {
    "mysql": "InnoDB clusters it on a hidden 6-byte DB_ROW_ID taken from one counter that every keyless table of the "
    "server shares (a mutex at high insert rates), and every secondary index entry carries that row id; servers "
    "with innodb_force_primary_key (MariaDB) or sql_require_primary_key (MySQL), Galera and group replication "
    "refuse or cannot certify such a table",
    "sqlite": "SQLite keeps it as a rowid table: each row gets a hidden 64-bit rowid, which every index entry "
    "carries and which VACUUM may renumber",
}


def keyless_blockers(model: RequirementsModel, name: str, scores: tuple[FamilyScore, ...]) -> tuple[FamilyScore, ...]:
    """`scores` with the families that address records by key ruled out for a keyless entity."""
    entity = model.entities[name]
    if not is_keyless(entity):
        return scores
    return tuple(
        replace(s, blockers=(*s.blockers, KEYED_FAMILIES[s.family])) if s.family in KEYED_FAMILIES else s
        for s in scores
    )


def keyless_cache(
    model: RequirementsModel, name: str, hot: list[PatternShape]
) -> tuple[list[PatternShape], list[Diagnostic]]:
    """The hot patterns of entity `name` that a Redis read model may serve, and PP444 for those of a
    keyless entity: every read model holds records, or lists of them, by the record's key."""
    if not is_keyless(model.entities[name]):
        return hot, []
    names = ", ".join(p.name for p in hot)
    return [], [
        Diagnostic(
            "PP444",
            f"{name} has no key (kind: none), so no Redis read model can hold it (each keeps records, or lists of "
            f"them, under the record's key): the hot reads {names} stay on the system of record; size it for "
            "their rate",
            f"entities.{name}.key",
            Severity.WARNING,
        )
    ]


def keyless_search(
    model: RequirementsModel, name: str, search: Capability | None, fulltext: list[PatternShape]
) -> tuple[Capability | None, list[Diagnostic]]:
    """The search engine entity `name` may be projected to, and PP444 when it is keyless: a search
    projection is kept in step by document id (a replayed outbox event rewrites the same document),
    which a history without a key does not have; its full-text reads are planned as with no search
    engine."""
    if search is None or not is_keyless(model.entities[name]):
        return search, []
    if not fulltext:
        return None, []
    names = ", ".join(p.name for p in fulltext)
    return None, [
        Diagnostic(
            "PP444",
            f"{name} has no key (kind: none), so no {search.title} projection can hold it: a projection is kept in "
            f"step by document id, and a replayed change would index a duplicate; the full-text reads {names} are "
            "planned as with no search engine",
            f"entities.{name}.key",
            Severity.WARNING,
        )
    ]


def keyless_warnings(plan: Plan) -> list[Diagnostic]:
    """PP441 and PP442 for each keyless entity stored in the model's relational engine."""
    model = plan.model
    found: list[Diagnostic] = []
    chosen = model.engines.relational  # the engine the plan is for (as retention's PP410 says)
    for name, entity in model.entities.items():
        decided = plan.entities.get(name)
        if not is_keyless(entity) or decided is None or decided.family is not Family.RELATIONAL:
            continue
        where = f"entities.{name}.key"
        if chosen == "postgresql":
            changing = [w.name for w in writes_of(model, name) if w.kind in (WriteKind.UPDATE, WriteKind.DELETE)]
            if entity.growth.retention_days:
                changing.append("the retention purge")
            writes = f" ({', '.join(changing)})" if changing else ""
            found.append(
                Diagnostic(
                    "PP441",
                    f"{name} has no primary key, so on PostgreSQL it has no replica identity: a publication that "
                    f"replicates UPDATE or DELETE makes those statements fail on it{writes}. Publish it for inserts "
                    f"only (publish = 'insert'), or set REPLICA IDENTITY FULL (each change then logs the whole old "
                    "row and the subscriber scans for it)",
                    where,
                    Severity.WARNING,
                )
            )
        if chosen in HIDDEN_KEYS:
            found.append(
                Diagnostic(
                    "PP442",
                    f"{name} has no primary key: {HIDDEN_KEYS[chosen]}; the capacity plan sizes it so",
                    where,
                    Severity.WARNING,
                )
            )
    return found
