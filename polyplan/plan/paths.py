"""What each store does with a filter or sort through a relationship (model/paths.py).

A relational store joins along the foreign keys (stores/relational/path_queries.py) when every
entity on the path is in it. Any other store (MongoDB, Cassandra, a search projection, Redis)
holds no join: it is designed for the pattern's local predicate (the planning model's), and
PP417 names the copy that would let it serve the path itself (PP443 says what an aggregate that
filters or groups through it costs there): the reached attribute copied into the pattern's entity as `<path with _>` (`item_end_date`), kept in step by every write of the
parent's attribute (and of a reference on the way), fanned out to each child. When that upkeep
costs more child writes a second than the copy saves (COPY_WRITES_PER_READ times the pattern's
rate, or COPY_WRITE_LIMIT), PP418 says so with both rates: a join in a relational store, or an
application-side lookup of the parents, is then the better design. Pure: no I/O.
"""

from __future__ import annotations

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.paths import Path, PathRead
from polyplan.model.schema import Family, RequirementsModel
from polyplan.plan.ir import Plan
from polyplan.plan.related_reads import copy_upkeep as related_upkeep

# A copy is worth keeping while its upkeep stays under this many child writes per read it serves…
COPY_WRITES_PER_READ = 10.0
# …and under this many child writes a second in all (a write amplification a store feels).
COPY_WRITE_LIMIT = 1_000.0


def copy_upkeep(model: RequirementsModel, path: Path) -> tuple[float, list[str]]:
    """Child writes a second that keep a copy of `path`'s attribute in the pattern's entity, and
    the writes that cause them (counted once, in plan/related_reads.py)."""
    upkeep = related_upkeep(model, path)
    return upkeep.writes, list(upkeep.causes)


def _serving(plan: Plan, read: PathRead) -> tuple[Family, str] | None:
    """The family and engine answering the pattern, unless a relational join does."""
    decided = plan.entities.get(read.pattern.entity)
    if decided is None:
        return None
    # A search projection answering the pattern holds the answer of its own filters only. A cache
    # projection is not judged here: whether a Redis read model serves the pattern is the cache
    # design's decision (a path pattern's local predicate has no limit, so the top-N and capped
    # list models never fit it; PP431 then keeps it on the system of record).
    served = [p for p in decided.projections if read.name in p.patterns and p.family is Family.SEARCH]
    if served:
        return served[0].family, served[0].engine
    if decided.family is Family.RELATIONAL:
        on_path = {hop.target for path in read.paths for hop in path.hops}
        elsewhere = [
            e for e in sorted(on_path) if (other := plan.entities.get(e)) is None or other.engine != decided.engine
        ]
        if not elsewhere:
            return None
    return decided.family, decided.engine


def _aggregate_warning(read: PathRead, family: Family, engine: str) -> list[Diagnostic]:
    """PP443 for an aggregate that filters or groups through a relationship its store cannot
    follow: the application fetches the rows, looks up each parent, and groups them itself."""
    aggregate = read.pattern.aggregate
    if aggregate is None:
        return []
    reached = ", ".join(f"{p.text} ({p.target}.{p.attribute})" for p in read.paths)
    return [
        Diagnostic(
            "PP443",
            f"{read.name}: the {family.value} store ({engine}) cannot join along {reached} to compute "
            f"{aggregate.function.value} per group: the application reads the rows of the pattern's own filters, "
            "looks up each row's parents, keeps the rows the path filters select and groups them itself; keep "
            "the entities on the path in one relational database (a GROUP BY over the join), or copy the "
            "reached attributes into the pattern's entity (PP417)",
            f"access_patterns.{read.position}.aggregate",
            Severity.WARNING,
        )
    ]


def path_warnings(plan: Plan) -> list[Diagnostic]:
    """PP417 for each pattern through a relationship that its store cannot follow, with the copy
    that would serve it; PP418 where that copy's upkeep outweighs the reads it serves."""
    model = plan.model
    found: list[Diagnostic] = []
    for read in plan.loaded.paths:
        serving = _serving(plan, read)
        if serving is None:
            continue
        family, engine = serving
        where = f"access_patterns.{read.position}"
        found += _aggregate_warning(read, family, engine)
        # A path the aggregate only groups by is PP443's: nothing is dropped or sorted by it.
        predicates = {p.text for _, p in (*read.filters, *read.sort) if p is not None}
        for path in (p for p in read.paths if p.text in predicates):
            upkeep, causes = copy_upkeep(model, path)
            copy = f"{read.pattern.entity}.{path.slug}"
            kept = (
                f"updated on every {', '.join(causes)} ({upkeep:,.1f} child writes/s)"
                if causes
                else "set when the row is written (no write pattern changes it afterwards)"
            )
            found.append(
                Diagnostic(
                    "PP417",
                    f"{read.name}: the {family.value} store ({engine}) cannot follow {path.text} to "
                    f"{path.target}.{path.attribute}; it returns the rows of the pattern's own filters and the "
                    f"application drops those whose {path.target} fails it (and sorts, then limits). To serve it in "
                    f"the store, copy {path.target}.{path.attribute} into {copy}, {kept}",
                    where,
                    Severity.WARNING,
                )
            )
            limit = min(COPY_WRITE_LIMIT, COPY_WRITES_PER_READ * read.pattern.rate)
            if causes and upkeep > limit:
                found.append(
                    Diagnostic(
                        "PP418",
                        f"{read.name}: a copy of {path.target}.{path.attribute} in {read.pattern.entity} would cost "
                        f"{upkeep:,.1f} child writes/s ({', '.join(causes)}) for {read.pattern.rate:g} reads/s, over "
                        f"the {limit:,.1f}/s a copy is worth; join in a relational store, or look the parents up "
                        "at read time",
                        where,
                        Severity.WARNING,
                    )
                )
    return found
