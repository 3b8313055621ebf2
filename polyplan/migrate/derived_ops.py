"""Migration operations of derived attributes: install (backfill, then triggers) and remove.

A derived attribute's column is added or dropped by the column operations; these install or
remove what keeps it in step (`relational/<engine>/derived.sql`), so a database built or
upgraded through the migrations has the same triggers as one built from `schema.sql` plus
`derived.sql`. Installing runs in the expand revision, after the columns exist (Order.TRIGGER);
removing runs in the contract, before they go. A changed definition is a removal and an install.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from polyplan.migrate.context import Context
from polyplan.migrate.ops import Operation, Order
from polyplan.migrate.sql import Step
from polyplan.model.schema import DerivedFunction, RequirementsModel
from polyplan.stores.relational.derived_sql import (
    KeptAggregate,
    install_statements,
    kept_aggregates,
    uninstall_statements,
)
from polyplan.stores.relational.spec import TableSpec


@dataclass(frozen=True)
class _DerivedOperation(Operation):
    """One derived attribute's triggers; `table` is the child table they live on."""

    table: str
    entity: str
    attribute: str
    function: str
    parent: str
    column: str
    key: tuple[str, ...]
    references: tuple[str, ...]
    source: str | None

    order: ClassVar[Order] = Order.TRIGGER

    @classmethod
    def of(cls, kept: KeptAggregate) -> _DerivedOperation:
        """The operation for one kept aggregate of a design."""
        return cls(
            kept.child,
            kept.entity,
            kept.attribute,
            kept.function.value,
            kept.parent,
            kept.column,
            kept.key,
            kept.references,
            kept.source,
        )

    @property
    def kept(self) -> KeptAggregate:
        """The kept aggregate this operation installs or removes."""
        return KeptAggregate(
            self.entity,
            self.attribute,
            DerivedFunction(self.function),
            self.parent,
            self.column,
            self.key,
            self.table,
            self.references,
            self.source,
        )

    def _fields(self) -> tuple[str, str, str, str, str, str, tuple[str, ...], tuple[str, ...], str | None]:
        return (
            self.table,
            self.entity,
            self.attribute,
            self.function,
            self.parent,
            self.column,
            self.key,
            self.references,
            self.source,
        )


@dataclass(frozen=True)
class KeepDerived(_DerivedOperation):
    kind: ClassVar[str] = "keep_derived"

    def reverse(self) -> Operation:
        return DropDerived(*self._fields())

    def describe(self) -> str:
        of = f"({self.source})" if self.source else "(children)"
        return f"+ derived {self.parent}.{self.column} = {self.function}{of} of {self.table}: backfill and triggers"

    def steps(self, ctx: Context) -> list[Step]:
        return [Step(sql) for sql in install_statements(self.kept, ctx.engine)]


@dataclass(frozen=True)
class DropDerived(_DerivedOperation):
    kind: ClassVar[str] = "drop_derived"

    removes: ClassVar[bool] = True

    def reverse(self) -> Operation:
        return KeepDerived(*self._fields())

    def describe(self) -> str:
        return f"- derived {self.parent}.{self.column}: its triggers on {self.table}"

    def steps(self, ctx: Context) -> list[Step]:
        return [Step(sql) for sql in uninstall_statements(self.kept, ctx.engine)]


def derived_operations(
    old: RequirementsModel | None,
    old_tables: Sequence[TableSpec],
    new: RequirementsModel,
    new_tables: Sequence[TableSpec],
) -> list[Operation]:
    """Drop the triggers of every derived attribute that goes or changes, install those of every
    one that comes or changes (by entity and attribute; a renamed table or column is a change)."""
    before = {(k.entity, k.attribute): k for k in (kept_aggregates(old, old_tables) if old is not None else [])}
    after = {(k.entity, k.attribute): k for k in kept_aggregates(new, new_tables)}
    found: list[Operation] = []
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        if was is not None:
            found.append(DropDerived.of(was))
        if now is not None:
            found.append(KeepDerived.of(now))
    return found
