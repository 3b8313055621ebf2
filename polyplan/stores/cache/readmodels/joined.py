"""Related fields a cached answer holds (`reads: [item.end_date]` joined at read time, issue 12).

plan/related_reads.py decides, for a cached pattern whose related field is joined, whether the
cached answers follow the parent's writes by invalidation or by an update in place (by the rates;
None keeps PP471). This module turns that decision into the key cache's extra field and the
parent's write paths: after the parent's write commits, the children are listed by their
reference on the system of record, and each child's cached answer is dropped (`DEL`) or has the
field rewritten (a guarded `HSET`: only while the answer is cached, so an evicted answer is not
recreated holding one field). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from polyplan.model.derived import key_of, snake
from polyplan.model.schema import AccessPattern
from polyplan.plan.related_reads import Choice, EntryUpkeep, RelatedRead, changing_writes
from polyplan.stores.cache import codec
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.spec import Children, FieldSpec, KeySpec, WritePath, value_token

# KEYS[1] the cached answer, ARGV[1] the field, ARGV[2] its new text: set only while the answer is
# cached (a hash created here would hold one field, which a later read would take for the answer).
GUARDED_HSET = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return nil"
)


@dataclass(frozen=True)
class Held:
    """One joined field a cached answer holds, and the decision that put it there."""

    decision: RelatedRead
    spec: FieldSpec


def held_fields(ctx: DesignContext, pattern: AccessPattern) -> list[Held]:
    """The joined fields of `pattern` its cached answer holds (the plan chose how they follow)."""
    found = []
    for decision in ctx.plan.related_reads:
        if decision.pattern != pattern.name or decision.entry is None:
            continue
        path = decision.path
        # Nullable when the reference is optional: the answer then holds no value for it.
        attribute = path.kind.model_copy(update={"nullable": True, "unique": False, "default": None, "derived": None})
        found.append(Held(decision, FieldSpec(decision.copy, attribute, codec.text_length(attribute, decision.copy))))
    return found


def children_query(ctx: DesignContext, decision: RelatedRead) -> str:
    """SQL listing the children's key attributes by the parent's key (the relational target names
    tables after their entities and columns after their attributes; the foreign key's index serves it)."""
    hop = decision.path.hops[0]
    child_key = list(key_of(ctx.model.entities[hop.source]).attributes)
    columns = list(dict.fromkeys([*child_key, *(a for a, _ in hop.pairs)]))
    table = sa.table(snake(hop.source), *(sa.column(c) for c in columns))
    where = sa.and_(*(table.c[a] == sa.bindparam(b) for a, b in hop.pairs))
    # One line: SQLAlchemy breaks clauses onto new lines.
    return " ".join(str(sa.select(*(table.c[c] for c in child_key)).where(where).compile()).split())


def parent_writes(ctx: DesignContext, spec: KeySpec, joined: list[Held], engine: str) -> list[WritePath]:
    """One write path per parent write that changes a held field: list the children, then drop or
    rewrite each one's cached answer."""
    found = []
    key = spec.template.render()
    for held in joined:
        decision = held.decision
        path, upkeep = decision.path, decision.entry
        hop = path.hops[0]
        query = children_query(ctx, decision)
        children = Children(hop.source, hop.pairs, held.spec.name, path.attribute, query, str(upkeep))
        for name, _ in changing_writes(ctx.model, hop.target, {path.attribute}):
            write = next(w for w in ctx.model.write_patterns if w.name == name)
            listed = f"then list the {hop.source} children on {engine}: {query} (the {hop.target}'s key)"
            if upkeep is EntryUpkeep.UPDATE:
                commands: tuple[tuple[str, ...], ...] = (
                    ("EVAL", GUARDED_HSET, "1", key, held.spec.name, value_token(held.spec.name)),
                )
                then = (
                    f"for each child: set {held.spec.name} in {key} to the committed {hop.target}.{path.attribute} "
                    "only while the answer is cached (one script)"
                )
            else:
                commands = (("DEL", key),)
                then = f"for each child: DEL {key}, after the commit; the next read refills it with the join"
            steps = (
                f"commit {name} in {engine} first",
                listed,
                then,
                f"why {upkeep}: {decision.entry_reason}",
            )
            found.append(
                WritePath(name, hop.target, write.kind, (spec.name,), commands, steps, False, children=children)
            )
    return found


def copied_fields(ctx: DesignContext, pattern: AccessPattern) -> list[Held]:
    """The related fields of `pattern` kept as copies on its own rows (one hop) that its cached
    answer holds: the parent's writes rewrite the rows (copies.sql), and the answers must go too."""
    found = []
    for decision in ctx.plan.related_reads:
        if decision.pattern != pattern.name or not decision.cached or decision.chosen.choice is not Choice.COPY:
            continue
        if len(decision.path.hops) != 1:
            continue  # the children of a parent two hops away are not listed by one reference
        attribute = decision.path.kind.model_copy(update={"nullable": True, "unique": False, "default": None})
        found.append(Held(decision, FieldSpec(decision.copy, attribute, codec.text_length(attribute, decision.copy))))
    return found


def copy_writes(ctx: DesignContext, spec: KeySpec, copied: list[Held], engine: str) -> list[WritePath]:
    """One write path per parent write that changes a copied field a cached answer holds: after the
    commit (which rewrote the children's copies), list the children and drop each one's answer."""
    found = []
    key = spec.template.render()
    for held in copied:
        decision = held.decision
        path = decision.path
        hop = path.hops[0]
        query = children_query(ctx, decision)
        children = Children(hop.source, hop.pairs, held.spec.name, path.attribute, query, str(EntryUpkeep.INVALIDATE))
        for name, _ in changing_writes(ctx.model, hop.target, {path.attribute}):
            write = next(w for w in ctx.model.write_patterns if w.name == name)
            steps = (
                f"commit {name} in {engine} first, then its copies.sql block (it rewrites the {hop.source} rows' "
                f"{decision.copy})",
                f"then list the {hop.source} children on {engine}: {query} (the {hop.target}'s key)",
                f"for each child: DEL {key}, after the commit; the next read refills it from the rewritten row",
            )
            found.append(
                WritePath(name, hop.target, write.kind, (spec.name,), (("DEL", key),), steps, False, children=children)
            )
    return found
