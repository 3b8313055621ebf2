"""Migration operations of the non-relational stores, each with its reverse.

They are `Operation`s like the relational ones (`polyplan.migrate.ops`): the same `reverse()`,
`describe()` and `to_json()` feed `polyplan diff`, the generated scripts and their execution. A
store operation renders no SQL (`steps` is empty): each becomes one runnable Python script per
step (`polyplan.migrate.store_scripts`), whose upgrade runs the operation's data and whose
downgrade runs its reverse's, so upgrade and downgrade cannot drift apart.

`table` names the store object the operation changes: a collection, a search alias, a CQL table,
a Redis key family, or the moved entity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from polyplan.migrate.ops import Operation, Order


class StoreOperation(Operation):
    """An operation on a non-relational store, run by a generated script (not by Alembic)."""

    # The store whose runbook and scripts hold the operation: mongodb, search, cassandra, redis, move.
    store: ClassVar[str]
    order: ClassVar[Order] = Order.TABLE

    def slug(self) -> str:
        """The script's file name stem (without its number)."""
        # The changed part too (index, field, column), so that a store's scripts read as a list of changes.
        detail = next((str(getattr(self, a)) for a in ("name", "field", "new", "column") if hasattr(self, a)), "")
        what = f"{self.table}_{detail}" if detail and not isinstance(getattr(self, "new", ""), dict) else self.table
        return "".join(c if c.isalnum() or c in "_-" else "_" for c in f"{self.kind}_{what}")

    @property
    def phase(self) -> str:
        """expand (the old application version survives it) or contract (only the new one runs)."""
        return "contract" if self.removes else "expand"


# --- MongoDB (the document store) ------------------------------------------------------------


@dataclass(frozen=True)
class SetValidator(StoreOperation):
    """collMod with the new validator; the reverse sets the old one back.

    A change runs in two of them: expand accepts either version's documents (`$or` of both), and
    contract, once every document is migrated and only the new version writes, the new one alone.
    """

    table: str
    old: dict[str, Any]
    new: dict[str, Any]
    final: bool = False
    kind: ClassVar[str] = "set_validator"
    store: ClassVar[str] = "mongodb"

    def reverse(self) -> Operation:
        return SetValidator(self.table, self.new, self.old, self.final)

    def describe(self) -> str:
        which = "the new version's documents only" if self.final else "either version's documents"
        return f"~ validator of collection {self.table} (accepts {which})"

    @property
    def phase(self) -> str:
        return "contract" if self.final else "expand"


@dataclass(frozen=True)
class AddDocumentIndex(StoreOperation):
    """Build an index (in the background: MongoDB 4.2+ builds hold an exclusive lock only briefly)."""

    table: str
    name: str
    spec: dict[str, Any]
    kind: ClassVar[str] = "add_document_index"
    store: ClassVar[str] = "mongodb"

    def reverse(self) -> Operation:
        return DropDocumentIndex(self.table, self.name, self.spec)

    def describe(self) -> str:
        return f"+ index {self.name} on collection {self.table}"


@dataclass(frozen=True)
class DropDocumentIndex(StoreOperation):
    table: str
    name: str
    spec: dict[str, Any]
    kind: ClassVar[str] = "drop_document_index"
    store: ClassVar[str] = "mongodb"
    removes: ClassVar[bool] = True

    def reverse(self) -> Operation:
        return AddDocumentIndex(self.table, self.name, self.spec)

    def describe(self) -> str:
        return f"- index {self.name} on collection {self.table}"


@dataclass(frozen=True)
class BackfillField(StoreOperation):
    """Give every document lacking `field` its default, in batches; the reverse unsets it."""

    table: str
    field: str
    default: Any
    kind: ClassVar[str] = "backfill_field"
    store: ClassVar[str] = "mongodb"

    def reverse(self) -> Operation:
        return UnsetField(self.table, self.field, self.default)

    def describe(self) -> str:
        return f"+ field {self.table}.{self.field} (backfilled with {self.default!r})"


@dataclass(frozen=True)
class UnsetField(StoreOperation):
    table: str
    field: str
    default: Any
    kind: ClassVar[str] = "unset_field"
    store: ClassVar[str] = "mongodb"
    removes: ClassVar[bool] = True

    def reverse(self) -> Operation:
        return BackfillField(self.table, self.field, self.default)

    def describe(self) -> str:
        return f"- field {self.table}.{self.field} (unset)"


@dataclass(frozen=True)
class RenameField(StoreOperation):
    """$rename in batches; the reverse renames back."""

    table: str
    old: str
    new: str
    kind: ClassVar[str] = "rename_field"
    store: ClassVar[str] = "mongodb"

    def reverse(self) -> Operation:
        return RenameField(self.table, self.new, self.old)

    def describe(self) -> str:
        return f"~ field {self.table}.{self.old} → {self.new} (renamed)"


# --- search (OpenSearch / Elasticsearch) -----------------------------------------------------


@dataclass(frozen=True)
class CreateSearchIndex(StoreOperation):
    """The next index version of an alias, created empty with the new mapping (expand).

    It records the index the alias points to at that moment in its mapping's `_meta`, which the
    copy and the way back read. The reverse deletes it (never while the alias points to it).
    """

    table: str  # the alias
    target: str
    body: dict[str, Any]  # settings and mappings
    kind: ClassVar[str] = "create_search_index"
    store: ClassVar[str] = "search"

    def reverse(self) -> Operation:
        return DeleteSearchIndex(self.table, self.target, self.body)

    def describe(self) -> str:
        return f"+ index {self.target} for alias {self.table} (the new mapping)"


@dataclass(frozen=True)
class DeleteSearchIndex(StoreOperation):
    table: str
    target: str
    body: dict[str, Any]
    kind: ClassVar[str] = "delete_search_index"
    store: ClassVar[str] = "search"
    removes: ClassVar[bool] = True

    def reverse(self) -> Operation:
        return CreateSearchIndex(self.table, self.target, self.body)

    def describe(self) -> str:
        return f"- index {self.target} of alias {self.table}"


@dataclass(frozen=True)
class Reindex(StoreOperation):
    """Copy the documents into the new index version and swap the alias onto it.

    The source is the index `target` recorded when it was created. `drop_fields` are removed
    from each copied document (the new mapping is strict). The reverse (`back`) copies what only
    `target` holds back into the source and swaps the alias back.
    """

    table: str  # the alias the application reads and writes through
    target: str
    drop_fields: tuple[str, ...]
    back: bool = False
    kind: ClassVar[str] = "reindex"
    store: ClassVar[str] = "search"

    def reverse(self) -> Operation:
        return Reindex(self.table, self.target, self.drop_fields, not self.back)

    def describe(self) -> str:
        if self.back:
            return f"~ alias {self.table} back from {self.target} to the index before it"
        dropped = f", without {', '.join(self.drop_fields)}" if self.drop_fields else ""
        return f"~ alias {self.table} → {self.target} (reindex{dropped}, alias swap)"


# --- Cassandra ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddCqlColumn(StoreOperation):
    """ALTER TABLE ... ADD: instant, no data rewritten."""

    table: str
    keyspace: str
    column: str
    type: str
    kind: ClassVar[str] = "add_cql_column"
    store: ClassVar[str] = "cassandra"

    def reverse(self) -> Operation:
        return DropCqlColumn(self.table, self.keyspace, self.column, self.type)

    def describe(self) -> str:
        return f"+ column {self.table}.{self.column} {self.type}"


@dataclass(frozen=True)
class DropCqlColumn(StoreOperation):
    table: str
    keyspace: str
    column: str
    type: str
    kind: ClassVar[str] = "drop_cql_column"
    store: ClassVar[str] = "cassandra"
    removes: ClassVar[bool] = True

    def reverse(self) -> Operation:
        return AddCqlColumn(self.table, self.keyspace, self.column, self.type)

    def describe(self) -> str:
        return f"- column {self.table}.{self.column}"


@dataclass(frozen=True)
class CopyCqlTable(StoreOperation):
    """A table whose key or clustering changes: a new table, a backfill, a cut-over.

    Cassandra changes neither a primary key nor a clustering order in place, and cannot rename a
    table: the new version's table is `table` (the design's name with `_v<NEW>`). Upgrade creates
    it and copies every row of `source` with its write time (`USING TIMESTAMP`), so a row the
    application's dual write put there since is never overwritten by an older copy; then compares
    the counts. The reverse drops the new table (`source` is complete throughout: the dual write
    keeps it so until the contract step).
    """

    table: str
    keyspace: str
    source: str
    columns: tuple[tuple[str, str], ...]  # (name, CQL type) of the new table
    partition_key: tuple[str, ...]
    clustering: tuple[tuple[str, str], ...]  # (column, ASC|DESC)
    options: tuple[str, ...]  # the WITH clauses besides the clustering order
    copied: tuple[str, ...]  # the columns both tables have
    drop: bool = False
    kind: ClassVar[str] = "copy_cql_table"
    store: ClassVar[str] = "cassandra"

    def reverse(self) -> Operation:
        return CopyCqlTable(
            self.table,
            self.keyspace,
            self.source,
            self.columns,
            self.partition_key,
            self.clustering,
            self.options,
            self.copied,
            not self.drop,
        )

    def describe(self) -> str:
        if self.drop:
            return f"- table {self.table} (reads back on {self.source})"
        key = ", ".join(self.partition_key)
        order = ", ".join(f"{c} {d}" for c, d in self.clustering)
        return f"+ table {self.table} copied from {self.source} (key ({key}), clustering {order or 'none'})"


# --- Redis ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BumpKeyVersion(StoreOperation):
    """Cached values change shape: new keys under a version prefix, read through to the old ones.

    `old_pattern`/`new_pattern` are SCAN patterns; `renames` maps old field names to new ones,
    `drops` are fields the new version no longer stores, `adds` new fields with their defaults.
    Upgrade warms the new keys from the old ones (same TTL); the reverse deletes the new keys (the
    old ones are left alone until the contract step).
    """

    table: str  # the key family
    structure: str  # string (JSON) or hash
    old_pattern: str
    new_pattern: str
    renames: tuple[tuple[str, str], ...]
    drops: tuple[str, ...]
    adds: tuple[tuple[str, Any], ...]
    kind: ClassVar[str] = "bump_key_version"
    store: ClassVar[str] = "redis"

    def reverse(self) -> Operation:
        return RetireKeyVersion(
            self.table, self.structure, self.old_pattern, self.new_pattern, self.renames, self.drops, self.adds
        )

    def describe(self) -> str:
        return f"~ keys {self.table}: {self.old_pattern} → {self.new_pattern} (version bump, read-through)"


@dataclass(frozen=True)
class RetireKeyVersion(StoreOperation):
    """Delete the keys of a version bump (the old keys are still there)."""

    table: str
    structure: str
    old_pattern: str
    new_pattern: str
    renames: tuple[tuple[str, str], ...]
    drops: tuple[str, ...]
    adds: tuple[tuple[str, Any], ...]
    kind: ClassVar[str] = "retire_key_version"
    store: ClassVar[str] = "redis"
    removes: ClassVar[bool] = True

    def reverse(self) -> Operation:
        return BumpKeyVersion(
            self.table, self.structure, self.old_pattern, self.new_pattern, self.renames, self.drops, self.adds
        )

    def describe(self) -> str:
        return f"- keys {self.new_pattern} (back to {self.old_pattern})"


# --- an entity moving to another store ---------------------------------------------------------


@dataclass(frozen=True)
class MoveEntity(StoreOperation):
    """The plan changed an entity's system of record: dual write, backfill, verify, switch, retire."""

    table: str  # the entity
    source: str  # family/engine
    target: str
    source_homes: tuple[str, ...]  # where the old version keeps it (collection, tables, …)
    target_homes: tuple[str, ...]
    # What the verify step counts on each side: (store kind, object), e.g. ("mongodb", "note").
    source_count: tuple[str, str] | None = None
    target_count: tuple[str, str] | None = None
    kind: ClassVar[str] = "move_entity"
    store: ClassVar[str] = "move"

    def reverse(self) -> Operation:
        return MoveEntity(
            self.table,
            self.target,
            self.source,
            self.target_homes,
            self.source_homes,
            self.target_count,
            self.source_count,
        )

    def describe(self) -> str:
        return f"~ entity {self.table}: system of record {self.source} → {self.target} (moved)"


STORES = ("mongodb", "search", "cassandra", "redis", "move")
