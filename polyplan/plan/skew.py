"""PP460: a declared skew (`hot_share`) on an entity whose store does not size by the largest group.

Wide-column partitions and MongoDB shard keys are sized from the largest group
(`polyplan.analyse.skew`); a relational table, a search index or a Redis keyspace has no
partition that a hot value could overflow. The skew still matters there, to the reads: a read by
the hot value selects that share of the rows. The note says so with the figures, so a declared
skew is never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import reference_of
from polyplan.model.schema import Family, FilterOp, RequirementsModel
from polyplan.plan.ir import EntityPlan

# Families whose design reads the largest group (partition sizes, shard-key frequency).
SIZED_BY_SKEW = frozenset({Family.WIDE_COLUMN, Family.DOCUMENT})


def _reads(model: RequirementsModel, entity: str, columns: tuple[str, ...], hot_rows: float) -> list[str]:
    """What each equality read on `columns` selects for the hot value."""
    found = []
    for pattern in model.access_patterns:
        if pattern.entity != entity:
            continue
        eq = {f.attribute for f in pattern.filters if f.op in (FilterOp.EQ, FilterOp.IN) and f.value is None}
        if eq and set(columns) <= eq:
            shown = min(hot_rows, pattern.limit) if pattern.limit else hot_rows
            extra = f" (limit {pattern.limit})" if pattern.limit else ""
            found.append(f"{pattern.name} returns up to {shown:,.0f} rows for it{extra}")
    return found


def _note(
    plan: EntityPlan, what: str, share: float, columns: tuple[str, ...], model: RequirementsModel, path: str
) -> Diagnostic:
    rows = plan.profile.rows_at_horizon
    hot_rows = rows * share
    reads = _reads(model, plan.name, columns, hot_rows)
    return Diagnostic(
        "PP460",
        f"{what}: the most frequent value holds {share:.1%} of {rows:,.0f} rows at the horizon ({hot_rows:,.0f}); "
        f"the {plan.family.value} design has no partition or shard a hot value could overflow, so the skew "
        "changes no structure"
        + (f"; {'; '.join(reads)}" if reads else "; no read selects by it")
        + (
            f"; {plan.engine or plan.family.value} serves a hot key's reads from one node: read replicas or a "
            "client-side cache share them"
            if plan.family is Family.CACHE
            else ""
        ),
        path,
        Severity.WARNING,
    )


def skew_notes(model: RequirementsModel, entities: Mapping[str, EntityPlan]) -> list[Diagnostic]:
    """PP460 for every declared `hot_share` whose entity's store does not size by the largest group."""
    found: list[Diagnostic] = []
    for name, entity in model.entities.items():
        plan = entities[name]
        if plan.family in SIZED_BY_SKEW:
            continue
        for attribute_name, attribute in entity.attributes.items():
            if attribute.hot_share is not None:
                found.append(
                    _note(
                        plan,
                        f"{name}.{attribute_name}",
                        attribute.hot_share,
                        (attribute_name,),
                        model,
                        f"entities.{name}.attributes.{attribute_name}.hot_share",
                    )
                )
    for index, relationship in enumerate(model.relationships):
        child = entities.get(relationship.to)
        if relationship.hot_share is None or child is None or child.family in SIZED_BY_SKEW:
            continue
        reference = reference_of(model, relationship)
        columns = tuple(reference.columns) if reference else ()
        found.append(
            _note(
                child,
                f"{relationship.to}.{', '.join(columns)} ({relationship.name})",
                relationship.hot_share,
                columns,
                model,
                f"relationships.{index}.hot_share",
            )
        )
    return found
