"""Related fields a read returns (`reads: [amount, item.title]`): joined or copied (issue 12).

One decision per (pattern, path), in the manner of cost-based NoSQL schema recommenders: each
candidate is costed in row operations a second and the cheapest one wins; the runner-up and
both costs are kept, so plan.md can say why.

- **join** at read time (a relational JOIN along the foreign keys): `rate × rows × hops` index
  probes (rows: the pattern's limit, else 1; each row's parent is found by its primary key).
  Offered only where the store follows relationships: the pattern's store is relational and
  every entity on the path is in it; or the pattern's store is MongoDB and a `$lookup` stage
  reaches every entity on the path by its `_id` (plan/lookups.py), one indexed probe per
  returned document and hop, costed the same. Cassandra query tables, search documents and
  Redis read models must copy (PP470 states the write fan-out).
- **copy** maintained on write (a column or field of the pattern's entity, `item_title`):
  `WRITE_COST` per child row rewritten, i.e. for each hop the rate of the writes that change the
  parent's attribute (or the reference the next hop follows) times the children per parent
  (`avg_children`, else the growth ratio). A read that allows `staleness_seconds` lets the
  upkeep coalesce the changes of one parent within that window (at most `parents / staleness`
  parent changes a second). The bytes added (child rows × the attribute's size) count
  `COST_PER_GB` a second each GB, so a wide copy over many rows needs a reason to win.

A pattern a cache serves reads the copy like any other. Where the join wins, the cached answer
holds the joined field too (the refill after a miss runs the joining query), and each parent
write that changes the field reaches the cached answers of its children, listed by the reference
in the system of record (`entry_upkeep`), one of two ways, whichever costs less:

- **invalidate** them: `DEL` per cached child answer, and each answer read again is a miss that
  runs the joining query and writes the entry: `W·f × 1 + min(W·f, R) × (2 + hops)`;
- **update** them in place: a guarded `HSET` of the field per cached child answer (a script: only
  while the answer is cached), no misses: `W·f × 2`.

(W: the parent changes a second, f: children per parent, R: the pattern's cached reads a second.)
Invalidating wins when the answers change more often than they are read. PP471 stays where
neither can be done: a path of more than one hop (one query cannot list the answers a change
two hops up reaches) or a record outside the relational store.

Pure: no I/O. `decide_related_reads` runs once the families are chosen (plan/assign.py);
`with_copies` puts each chosen copy into the planning model as an attribute of the pattern's
entity, so every store designs, sizes and seeds it like any other attribute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from polyplan.analyse.sizing import attribute_bytes
from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import writes_of
from polyplan.model.loader import LoadedModel
from polyplan.model.paths import Hop, Path, PathRead
from polyplan.model.schema import Attribute, Family, RequirementsModel, WriteKind
from polyplan.plan.lookups import lookup_blocked

# A row written (log, every index on it, the page made dirty) against one index probe of a join.
WRITE_COST = 4.0
# Storage is paid for all the time: one row operation a second per GB added keeps a wide copy
# over millions of rows from winning on a tie.
COST_PER_GB = 1.0
GB = 1024**3


# Cache entries holding a joined field: a DEL, a guarded HSET (EXISTS + HSET in one script), and a
# miss after an invalidation (the joining query's probes plus writing the entry back).
DEL_COST = 1.0
UPDATE_COST = 2.0


class EntryUpkeep(StrEnum):
    """How the cached answers holding a joined field follow the parent's writes."""

    INVALIDATE = "invalidate"
    UPDATE = "update"


class Choice(StrEnum):
    """How a related field reaches the answer."""

    JOIN = "join"
    COPY = "copy"


@dataclass(frozen=True)
class Candidate:
    """One way to serve the related field, its cost (row operations a second) and how it was counted."""

    choice: Choice
    cost: float
    detail: str


@dataclass(frozen=True)
class RelatedRead:
    """The decision for one related field of one pattern.

    `store` names the store answering the pattern; `fan_out` is the average children per parent
    along the path and `worst_fan_out` the rows one parent change rewrites at most (max_children,
    else the busiest parent's hot_share of the children, else the average); `copy` is the
    attribute of `entity` that holds the copy, whichever candidate wins (its name is the one a
    copy gets)."""

    pattern: str
    position: int
    path: Path
    entity: str
    copy: str
    store: str
    chosen: Candidate
    runner_up: Candidate | None
    reason: str
    fan_out: float
    worst_fan_out: float
    upkeep_writes: float
    causes: tuple[str, ...]
    bytes_added: float
    upkeep: str = ""
    cached: bool = False  # a cache projection serves the pattern too
    lookup_blocked: str = ""  # MongoDB: why no $lookup reaches the field (plan/lookups.py)
    # A cached pattern whose field is joined: how the cached answers holding it follow the
    # parent's writes (None: the entry cannot hold it, PP471), and why (costs, or why not).
    entry: EntryUpkeep | None = None
    entry_reason: str = ""

    @property
    def copied(self) -> bool:
        return self.chosen.choice is Choice.COPY

    def as_data(self) -> dict[str, object]:
        """plan.json's `related_reads` item."""

        def candidate(c: Candidate | None) -> dict[str, object] | None:
            return None if c is None else {"choice": c.choice.value, "cost": round(c.cost, 3), "detail": c.detail}

        return {
            "pattern": self.pattern,
            "path": self.path.text,
            "entity": self.entity,
            "store": self.store,
            "chosen": candidate(self.chosen),
            "runner_up": candidate(self.runner_up),
            "reason": self.reason,
            "copy": f"{self.entity}.{self.copy}" if self.copied else None,
            "fan_out": {"average": round(self.fan_out, 3), "worst": round(self.worst_fan_out, 3)},
            "upkeep_rows_per_second": round(self.upkeep_writes, 3),
            "kept_by": list(self.causes),
            "upkeep": self.upkeep if self.copied else None,
            "bytes_added": round(self.bytes_added),
            **(
                {"cache_entry": {"upkeep": self.entry.value if self.entry else None, "reason": self.entry_reason}}
                if self.cached and not self.copied
                else {}
            ),
        }

    def line(self) -> str:
        """`item.title: copied (cost 12.0) over join (cost 40.0) because …` (plan.md)."""
        verb = {Choice.JOIN: "joined", Choice.COPY: "copied"}[self.chosen.choice]
        text = f"{self.path.text}: {verb} (cost {self.chosen.cost:,.1f})"
        if self.runner_up is not None:
            text += f" over {self.runner_up.choice.value} (cost {self.runner_up.cost:,.1f})"
        return f"{text} because {self.reason}"


def _relationship_numbers(model: RequirementsModel, hop: Hop) -> tuple[float, float]:
    """(average, worst) rows of `hop.source` per row of `hop.target`."""
    relationship = next(r for r in model.relationships if r.name == hop.relationship)
    if hop.source != relationship.to:
        return 1.0, 1.0  # the parent side of a one-to-one
    parents = model.entities[hop.target].growth.initial_rows
    children = model.entities[hop.source].growth.initial_rows
    if relationship.avg_children is not None:
        average = float(relationship.avg_children)
    else:
        average = max(1.0, children / parents) if parents else 1.0
    worst = average
    if relationship.max_children is not None:
        worst = float(relationship.max_children)
    elif relationship.hot_share is not None and children:
        worst = max(average, relationship.hot_share * children)
    return average, worst


def changing_writes(model: RequirementsModel, entity: str, attributes: set[str]) -> list[tuple[str, float]]:
    """(name, rate) of the writes of `entity` that change one of `attributes` after the insert."""
    found: list[tuple[str, float]] = []
    for write in writes_of(model, entity):
        changes = write.kind is WriteKind.UPSERT or (
            write.kind in (WriteKind.UPDATE, WriteKind.INCREMENT)
            and (not write.attributes or bool(attributes & set(write.attributes)))
        )
        if changes:
            found.append((write.name, write.rate))
    return found


@dataclass(frozen=True)
class Upkeep:
    """What keeping a copy of a path in step costs: child rows rewritten a second, the writes
    causing them, and the average and worst fan-out of one parent change."""

    writes: float
    causes: tuple[str, ...]
    fan_out: float
    worst: float


def copy_upkeep(model: RequirementsModel, path: Path, staleness_seconds: float = 0.0) -> Upkeep:
    """The child rows a second rewritten to keep a copy of `path`'s attribute in the pattern's
    entity: each hop's changing writes times the rows below it; with staleness allowed, one
    parent's changes within the window are written once."""
    total, causes = 0.0, []
    fan = worst = 1.0
    for index, hop in enumerate(path.hops):
        average, most = _relationship_numbers(model, hop)
        fan, worst = fan * average, worst * most
        last = index == len(path.hops) - 1
        changed = {path.attribute} if last else {a for a, _ in path.hops[index + 1].pairs}
        writes = changing_writes(model, hop.target, changed)
        rate = sum(r for _, r in writes)
        parents = model.entities[hop.target].growth.initial_rows
        if staleness_seconds > 0 and parents:
            rate = min(rate, parents / staleness_seconds)
        total += rate * fan
        causes += [f"{hop.target}.{name}" for name, _ in writes]
    return Upkeep(total, tuple(causes), fan, worst)


def _bytes_added(model: RequirementsModel, entity: str, kind: Attribute) -> float:
    return model.entities[entity].growth.initial_rows * attribute_bytes(kind)


def copy_name(model: RequirementsModel, entity: str, path: Path) -> str:
    """The attribute that holds the copy: the path's slug (`item_title`), `_copy` added when the
    entity already has an attribute of that name."""
    name = path.slug
    return f"{name}_copy" if name in model.entities[entity].attributes else name


def candidates(
    model: RequirementsModel, read: PathRead, path: Path, join_blocked: str | None, lookup: bool = False
) -> tuple[list[Candidate], Upkeep, float]:
    """The candidates for one related field (cheapest first, ties in Choice order), the copy's
    upkeep and the bytes it adds. `join_blocked` says why the store cannot join (None: it can);
    `lookup`: the join is a MongoDB `$lookup` stage."""
    pattern = read.pattern
    rows = float(pattern.limit or 1)
    hops = len(path.hops)
    join_cost = pattern.rate * rows * hops
    upkeep = copy_upkeep(model, path, pattern.staleness_seconds)
    added = _bytes_added(model, pattern.entity, path.kind)
    found: list[Candidate] = []
    if join_blocked is None:
        probes = "indexed $lookup probes/s" if lookup else "probes/s"
        found.append(
            Candidate(
                Choice.JOIN,
                join_cost,
                f"{pattern.rate:g} reads/s × {rows:g} rows × {hops} hop(s) = {join_cost:,.1f} {probes}",
            )
        )
    copy_cost = upkeep.writes * WRITE_COST + added / GB * COST_PER_GB
    found.append(
        Candidate(
            Choice.COPY,
            copy_cost,
            f"{upkeep.writes:,.1f} child rows rewritten/s × {WRITE_COST:g} + {added / GB:,.3f} GB added",
        )
    )
    order = list(Choice)
    found.sort(key=lambda c: (c.cost, order.index(c.choice)))
    return found, upkeep, added


def _reason(chosen: Candidate, runner_up: Candidate | None, join_blocked: str | None, upkeep: Upkeep) -> str:
    if runner_up is None:
        return f"{join_blocked}; the copy is the only candidate ({chosen.detail})"
    cause = {
        Choice.JOIN: f"the copy's upkeep ({upkeep.writes:,.1f} child rows/s) outweighs the probes the join costs",
        Choice.COPY: "the parent's attribute changes rarely enough that rewriting its children costs less than "
        "joining on every read",
    }[chosen.choice]
    return f"{cause} ({chosen.detail}; {runner_up.choice.value}: {runner_up.detail})"


class _ProjectionLike(Protocol):
    """What is read of plan.ir.Projection (structural: plan.ir is built from this module's output)."""

    @property
    def family(self) -> Family: ...
    @property
    def engine(self) -> str: ...
    @property
    def patterns(self) -> tuple[str, ...]: ...


class _EntityLike(Protocol):
    """What is read of plan.ir.EntityPlan."""

    @property
    def family(self) -> Family: ...
    @property
    def engine(self) -> str: ...
    @property
    def projections(self) -> Sequence[_ProjectionLike]: ...


def _serving(plan_entities: Mapping[str, _EntityLike], read: PathRead) -> tuple[Family, str] | None:
    """The family and engine answering the pattern: a search or wide-column projection listing
    it, else the entity's store (a cache serving it reads the record's fields, copies included)."""
    decided = plan_entities.get(read.pattern.entity)
    if decided is None:
        return None
    served = [p for p in decided.projections if read.name in p.patterns and p.family is not Family.CACHE]
    if served:
        return served[0].family, served[0].engine
    return decided.family, decided.engine


def _join_blocked(
    model: RequirementsModel, plan_entities: Mapping[str, _EntityLike], family: Family, engine: str, path: Path
) -> str | None:
    if family is Family.DOCUMENT:
        why = lookup_blocked(model, plan_entities, engine, path)
        return None if why is None else f"the {family.value} store ({engine}) cannot $lookup along {path.text} ({why})"
    if family is not Family.RELATIONAL:
        what = {
            Family.WIDE_COLUMN: "a Cassandra query table holds no join",
            Family.SEARCH: "a search document holds no join",
            Family.CACHE: "a Redis read model holds no join",
        }[family]
        return f"the {family.value} store ({engine}) cannot join: {what}"
    outside = [
        hop.target
        for hop in path.hops
        if (other := plan_entities.get(hop.target)) is None or other.family is not Family.RELATIONAL
    ]
    if outside:
        return f"{', '.join(outside)} is not in the relational store ({engine}), so it cannot be joined there"
    return None


def entry_upkeep(
    model: RequirementsModel, read: PathRead, path: Path, record: _EntityLike
) -> tuple[EntryUpkeep | None, str]:
    """How a cached answer holding the joined `path` follows the parent's writes, and why; None
    with the reason where the entry cannot hold it."""
    if record.family is not Family.RELATIONAL:
        return None, (
            f"{read.pattern.entity} lives in {record.family.value} ({record.engine}), where the cache design "
            "has no query listing the cached answers a parent change reaches"
        )
    if len(path.hops) != 1:
        return None, (
            f"{path.text} is {len(path.hops)} hops away: a change of {path.target}.{path.attribute} reaches the "
            "cached answers through more than one reference, which one query by key cannot list"
        )
    upkeep = copy_upkeep(model, path)
    changes, rate = upkeep.writes, read.pattern.rate
    hops = len(path.hops)
    invalidate = changes * DEL_COST + min(changes, rate) * (2 + hops)
    update = changes * UPDATE_COST
    costs = (
        f"{changes:,.1f} cached answers changed/s against {rate:g} cached reads/s: "
        f"invalidate {changes:,.1f} × {DEL_COST:g} + {min(changes, rate):,.1f} misses × {2 + hops:g} = "
        f"{invalidate:,.1f}; update in place {changes:,.1f} × {UPDATE_COST:g} = {update:,.1f}"
    )
    if invalidate < update:
        return EntryUpkeep.INVALIDATE, (
            f"the cached answers change more often than they are read, so dropping them costs less than "
            f"rewriting them ({costs})"
        )
    return EntryUpkeep.UPDATE, (
        f"the cached answers are read more often than they change, so each invalidation would cost a "
        f"miss; rewriting the field in place costs less ({costs})"
    )


def _upkeep_text(record: _EntityLike, family: Family) -> str:
    """How the copy is kept: the relational record's copies.sql, else the application itself."""
    if record.family is Family.RELATIONAL:
        text = (
            f"relational/{record.engine}/copies.sql rewrites them in the transaction of the parent's write "
            "(the application's write set)"
        )
        if family is not Family.RELATIONAL:
            text += f", and the {family.value} projection follows the rewritten rows through its sync"
        return text
    return "the application rewrites them in the same unit of work (the store has no trigger)"


def decide_related_reads(
    model: RequirementsModel, reads: Sequence[PathRead], plan_entities: Mapping[str, _EntityLike]
) -> tuple[RelatedRead, ...]:
    """One decision per related field of every pattern, in model order."""
    decided: list[RelatedRead] = []
    for read in reads:
        serving = _serving(plan_entities, read)
        if serving is None:
            continue
        family, engine = serving
        record = plan_entities[read.pattern.entity]
        keeper = _upkeep_text(record, family)
        cached = any(read.name in p.patterns and p.family is Family.CACHE for p in record.projections)
        for path in read.reads:
            blocked = _join_blocked(model, plan_entities, family, engine, path)
            found, upkeep, added = candidates(model, read, path, blocked, family is Family.DOCUMENT)
            chosen, runner_up = found[0], (found[1] if len(found) > 1 else None)
            entry, entry_reason = (None, "")
            if cached and chosen.choice is Choice.JOIN:
                entry, entry_reason = entry_upkeep(model, read, path, record)
            decided.append(
                RelatedRead(
                    pattern=read.name,
                    position=read.position,
                    path=path,
                    entity=read.pattern.entity,
                    copy=copy_name(model, read.pattern.entity, path),
                    store=f"{family.value} ({engine})",
                    chosen=chosen,
                    runner_up=runner_up,
                    reason=_reason(chosen, runner_up, blocked, upkeep),
                    fan_out=upkeep.fan_out,
                    worst_fan_out=upkeep.worst,
                    upkeep_writes=upkeep.writes,
                    causes=upkeep.causes,
                    bytes_added=added,
                    upkeep=keeper,
                    cached=cached,
                    lookup_blocked=(blocked or "") if family is Family.DOCUMENT else "",
                    entry=entry,
                    entry_reason=entry_reason,
                )
            )
    return tuple(decided)


def _copy_attribute(model: RequirementsModel, path: Path) -> Attribute:
    """The copy's attribute: the reached attribute's type and PII class, never unique nor
    defaulted nor derived; nullable when the attribute is or a hop is optional."""
    optional = any(not next(r for r in model.relationships if r.name == hop.relationship).required for hop in path.hops)
    return path.kind.model_copy(
        update={
            "nullable": path.kind.nullable or optional,
            "unique": False,
            "default": None,
            "derived": None,
            "renamed_from": None,
            "description": f"copy of {path.target}.{path.attribute} ({path.text}), kept on write",
        }
    )


def with_copies(loaded: LoadedModel, decided: Sequence[RelatedRead]) -> LoadedModel:
    """`loaded` with every chosen copy added to its entity and read by its pattern; each path read
    keeps only its joined fields (a pattern left with no path at all is planned as a plain read)."""
    copies = [d for d in decided if d.copied]
    if not copies:
        return loaded
    model = loaded.model
    added: dict[str, dict[str, Attribute]] = {}
    copied: dict[tuple[str, str], Path] = dict(model._copies)
    by_pattern: dict[str, list[str]] = {}
    for decision in copies:
        if decision.copy not in added.setdefault(decision.entity, {}):
            added[decision.entity][decision.copy] = _copy_attribute(model, decision.path)
            copied[(decision.entity, decision.copy)] = decision.path
        by_pattern.setdefault(decision.pattern, []).append(decision.copy)
    entities = {
        name: entity.model_copy(update={"attributes": {**entity.attributes, **added[name]}})
        if name in added
        else entity
        for name, entity in model.entities.items()
    }
    patterns = [
        p.model_copy(update={"reads": list(dict.fromkeys([*p.reads, *by_pattern[p.name]]))})
        if p.name in by_pattern and p.reads
        else p
        for p in model.access_patterns
    ]
    planned = model.model_copy(update={"entities": entities, "access_patterns": patterns})
    planned._derived = {}  # the memo describes the model before the copies
    planned._copies = copied
    done = {(d.pattern, d.path.text): d.copy for d in copies}
    paths: list[PathRead] = []
    for read in loaded.paths:
        kept = tuple(p for p in read.reads if (read.name, p.text) not in done)
        if kept or read.predicate_paths:
            # As written, with each copied field read from its copy (the generated tests' oracle
            # reads the pattern back from plan data).
            reads = list(dict.fromkeys(done.get((read.name, name), name) for name in read.pattern.reads))
            paths.append(replace(read, reads=kept, pattern=read.pattern.model_copy(update={"reads": reads})))
    return LoadedModel(planned, loaded.source, loaded.positions, loaded.values, tuple(paths))


def related_read_warnings(decided: Sequence[RelatedRead]) -> list[Diagnostic]:
    """PP470 where the store cannot join, so the copy is forced: the write fan-out it costs; PP471
    where a cache serves the pattern but the field is joined and the cached entry cannot hold it."""
    found: list[Diagnostic] = []
    for decision in decided:
        if decision.cached and not decision.copied and decision.entry is None:
            found.append(
                Diagnostic(
                    "PP471",
                    f"{decision.pattern}: the cache projection serving it holds {decision.entity}'s own fields, but "
                    f"{decision.path.text} is joined at read time ({decision.line()}) and the cached answer cannot "
                    f"hold it: {decision.entry_reason}; a cache hit lacks it, so the application reads "
                    f"{decision.path.target}.{decision.path.attribute} from the system of record "
                    f"(or its own cache of {decision.path.target}); a copy would put it in the entry",
                    f"access_patterns.{decision.position}.reads",
                    Severity.WARNING,
                )
            )
        if decision.runner_up is not None or not decision.copied:
            continue
        causes = ", ".join(decision.causes) or "no write pattern (set when the row is written)"
        # MongoDB says why its $lookup cannot serve (plan/lookups.py); the other stores never join.
        cannot = decision.lookup_blocked or f"the {decision.store} store cannot join along {decision.path.text}"
        found.append(
            Diagnostic(
                "PP470",
                f"{decision.pattern}: {cannot}, so "
                f"{decision.path.target}.{decision.path.attribute} is copied into {decision.entity}.{decision.copy}: "
                f"each change of it ({causes}) rewrites {decision.fan_out:,.1f} {decision.entity} rows on average "
                f"and up to {decision.worst_fan_out:,.0f} ({decision.upkeep_writes:,.1f} rows/s in all); "
                f"{decision.upkeep}",
                f"access_patterns.{decision.position}.reads",
                Severity.WARNING,
            )
        )
    return found
