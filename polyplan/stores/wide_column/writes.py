"""Which tables each logical write must change, and how (pure).

Denormalized tables are kept in step by the application: every logical write becomes the
statements below, sent together as one LOGGED batch (the batch log makes a multi-table write
all-or-nothing, eventually). A table keyed by a unique attribute other than the key (e.g.
`device_by_serial`) doubles as the uniqueness claim: it is written only with lightweight
transactions (IF NOT EXISTS / IF EXISTS), each run alone, because a conditional statement cannot
share a multi-table batch and mixing plain and conditional writes on one row is unsafe.

An update that may change a table's key (or membership) carries a delete of the current row and
an insert of the new one. The delete runs only when the row really *moved*: the statements of one
batch share a timestamp, and Cassandra lets a tombstone win a tie, so deleting and re-inserting
the same primary key in one batch loses the row (seen on a real server). When the row *stayed*,
the insert alone overwrites it.

An update of a record that a projection (a search index, a cache) copies from its change events
inserts the whole row rather than updating the changed columns: each event carries the whole
record, and Cassandra resolves cells, not rows, by timestamp. An UPDATE racing a delete of the
same row (the update's timestamp the later) left a row of the updated columns alone, its other
columns null, while the index held the whole record from the event (seen under load on a real
server); and two updates of different columns would merge in the table but not in the index. The
cost: concurrent updates of one record resolve by row, the last one whole (as the index does).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from polyplan.model.derived import key_of, writes_of
from polyplan.model.schema import RequirementsModel, WriteKind
from polyplan.plan.increments import Increment, increments_of
from polyplan.plan.predicates import all_predicates
from polyplan.stores.wide_column import statements
from polyplan.stores.wide_column.counters import COUNTER, is_counter_table, native_counters
from polyplan.stores.wide_column.derived import derived_counters
from polyplan.stores.wide_column.estimate import unique_sets
from polyplan.stores.wide_column.predicates import predicate_read
from polyplan.stores.wide_column.spec import EntityDesign, Table

DELTA_SUFFIX = "_delta"  # an increment's bind marker: :views_delta adds to views

# Cassandra warns above 5 KiB per batch (batch_size_warn_threshold) and fails above 50 KiB.
BATCH_WARN_BYTES = 5 * 1024


@dataclass(frozen=True)
class Statement:
    """One statement of a write; `when` lists the membership conditions the record must meet."""

    table: str
    action: str  # insert, delete, update
    cql: str
    when: tuple[dict[str, Any], ...] = ()
    computed: tuple[dict[str, Any], ...] = ()  # bucket columns the application computes
    only_if: str | None = None  # "moved" or "stayed": runs only when the row moved (or did not)

    def describe(self) -> dict[str, Any]:
        """The JSON form in writes.json."""
        return {
            "action": self.action,
            "computed": list(self.computed),
            "cql": self.cql,
            "only_if": self.only_if,
            "table": self.table,
            "when": list(self.when),
        }


@dataclass(frozen=True)
class Operation:
    """A logical write: read the current row if needed, conditional steps, one logged batch, conditional steps."""

    name: str
    kind: str
    rate: float | None
    read_first: str | None
    before: tuple[Statement, ...]  # lightweight transactions run alone before the batch
    batch: tuple[Statement, ...]
    after: tuple[Statement, ...]  # lightweight transactions run alone after the batch
    notes: tuple[str, ...]
    step: float | None = None  # an increment's step (what every :*_delta binds)

    def describe(self) -> dict[str, Any]:
        described = {
            "after_batch": [s.describe() for s in self.after],
            "batch": "LOGGED" if len(self.batch) > 1 else "none (one statement)",
            "before_batch": [s.describe() for s in self.before],
            "kind": self.kind,
            "notes": list(self.notes),
            "rate": self.rate,
            "read_first": self.read_first,
            "statements": [s.describe() for s in self.batch],
        }
        if self.step is not None:
            described["step"] = self.step
        return described


def _statement(table: Table, action: str, cql: str, only_if: str | None = None) -> Statement:
    computed = (table.bucket.describe(),) if table.bucket else ()
    return Statement(table.name, action, cql, tuple(c.structured() for c in table.conditions), computed, only_if)


def claim_tables(model: RequirementsModel, design: EntityDesign) -> list[Table]:
    """Tables with one row per value of a unique attribute set other than the key: uniqueness claims."""
    key, *others = unique_sets(model, design.entity)
    uniques = [u for u in others if u != key]
    return [
        t
        for t in design.tables
        if t.role != "base" and not t.clustering and t.bucket is None and frozenset(t.partition_key) in uniques
    ]


_WHOLE_ROW_NOTE = (
    "a projection copies this record from its change events, each carrying the whole record: the update "
    "inserts the whole row (the current one read first, with the new values), so the row holds what its event "
    "says; an UPDATE of the changed columns alone, written after a delete of an earlier timestamp, would leave a row of those columns alone"
)
_READ_TIMESTAMP_NOTE = (
    "write the batch at a timestamp taken before the read (the driver's client-side timestamp, or USING TIMESTAMP): "
    "a delete that lands after the read then has the later timestamp and wins, so the update never brings a deleted "
    "record back without its other rows; of two updates racing, the one that read last wins"
)
_CLAIM_CHECK_NOTE = (
    "a claim row that stays is checked by a lightweight transaction applied only while the row is still the "
    "record's, rewriting a column as it is (not applied: the record was deleted, or its value moved or was claimed "
    "again, since the read: read again); its changed columns go in the "
    "batch, at the batch's timestamp like the other tables': a transaction writing them would stamp them with "
    "its own later time, and of two updates racing, the claim row could keep one and the base row the other"
)
_LWT_NOTE = (
    "run each before_batch/after_batch statement alone; it is a lightweight transaction: if an insert is not "
    "[applied] the unique value is taken, so stop and report a duplicate"
)


def _insert(model: RequirementsModel, design: EntityDesign, name: str, kind: str, rate: float | None) -> Operation:
    claims = claim_tables(model, design)
    before = tuple(_statement(t, "insert", statements.insert(t, if_not_exists=True)) for t in claims)
    plain = [t for t in design.tables if t not in claims and not is_counter_table(t)]
    batch = tuple(_statement(t, "insert", statements.insert(t)) for t in plain)
    # A counter cannot be inserted, nor share a logged batch: it starts at 0 and gets the value added.
    # A derived counter starts at 0 and moves only by its children's adds (derived.py): the insert
    # adds 0 to it (making the counter row), and the record's own value to the other counters.
    derived = derived_counters(model, design.entity)
    after = tuple(
        _statement(t, "add", statements.add(t, _counter_columns(t), zero=derived)) for t in _counter_tables(design)
    )
    notes = [_LWT_NOTE] if claims else []
    if after:
        notes.append(_COUNTER_NOTE)
    notes.append(
        "skip a statement whose `when` does not hold for the record; compute bucket columns as `computed` says"
    )
    return Operation(name, kind, rate, None, before, batch, after, tuple(notes))


_COUNTER_NOTE = (
    "run each after_batch statement alone: a counter update cannot share a logged batch with other writes; "
    "it is not idempotent, so a timed-out counter update is not retried blindly (it may have been applied)"
)


def _counter_tables(design: EntityDesign) -> list[Table]:
    return [t for t in design.tables if is_counter_table(t)]


def _counter_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.type == COUNTER]


def _increment(model: RequirementsModel, design: EntityDesign, increment: Increment) -> Operation:
    """Adds `step` to each counter: `c = c + :c_delta` on every counter table holding it."""
    after: list[Statement] = []
    before: list[Statement] = []
    for table in _counter_tables(design):
        held = [c for c in _counter_columns(table) if c in increment.attributes]
        if held:
            after.append(_statement(table, "add", statements.add(table, held, DELTA_SUFFIX)))
    regular = [a for a in increment.attributes if a not in native_counters(model, design.entity)]
    for table in design.tables:
        for column in (c.name for c in table.columns if c.attribute in regular and c.name not in table.primary_key):
            before.append(_statement(table, "update", statements.compare_and_set(table, column)))
    notes = [f"bind every :*{DELTA_SUFFIX} to the step, {increment.step_literal()}", _COUNTER_NOTE]
    if before:
        notes.append(
            "before_batch: a column that is not a counter is added to by compare-and-set: read it, bind :*_old to "
            "the value read and :*_new to it plus the step, and retry from the read while the update is not [applied]"
        )
    return Operation(
        increment.write,
        "increment",
        increment.rate,
        None,
        tuple(before),
        (),
        tuple(after),
        tuple(notes),
        increment.step,
    )


def _delete(model: RequirementsModel, design: EntityDesign, name: str, rate: float | None) -> Operation:
    base = next((t for t in design.tables if t.name == design.base_table), None)
    claims = claim_tables(model, design)
    plain = [t for t in design.tables if t not in claims and not is_counter_table(t)]
    batch = tuple(_statement(t, "delete", statements.delete(t)) for t in plain)
    after = tuple(_statement(t, "delete", statements.delete(t, if_exists=True)) for t in claims) + tuple(
        _statement(t, "delete", statements.delete(t)) for t in _counter_tables(design)
    )
    notes = [
        "read the current row from the base table first: the other tables are addressed by its values"
        if base
        else "the caller supplies the whole current record (there is no base table: the entity is never changed in place)",
        "skip a statement whose `when` did not hold for the current record",
    ]
    if claims:
        notes.append("release unique values (after_batch) only once the batch has succeeded")
    return Operation(
        name, "delete", rate, statements.select_row(base) if base else None, (), batch, after, tuple(notes)
    )


def _moves(table: Table, changed: set[str]) -> bool:
    keyed = set(table.primary_key) | {c.attribute for c in table.conditions}
    if table.bucket is not None:
        keyed |= set(table.bucket.source)
    return bool(keyed & changed)


def _changed_row(table: Table, columns: list[str], kind: str, projected: bool, only_if: str | None = None) -> Statement:
    """The batch's write of a row that stays: the whole row for an upsert or a projected record
    (see _WHOLE_ROW_NOTE), else its changed columns."""
    if kind == WriteKind.UPSERT.value or projected:
        return _statement(table, "insert", statements.insert(table), only_if)
    return _statement(table, "update", statements.update(table, columns), only_if)


def _claim_check(model: RequirementsModel, design: EntityDesign, table: Table, changed: set[str]) -> str | None:
    """The lightweight transaction that proves a claim row that stays is still the record's, writing
    nothing new (_CLAIM_CHECK_NOTE): `… IF id = :id` where the claim holds the record's key outside
    its own, else (the key is in the claim's: existence is ownership) `… IF EXISTS` rewriting an
    unchanged column as it is. None when neither can be said."""
    key = key_of(model.entities[design.entity]).attributes
    owner = [c.name for c in table.columns if c.attribute in key and c.name not in table.primary_key]
    if owner and len(owner) == len(key):
        return statements.owner_check(table, owner)
    unchanged = [c.name for c in table.columns if c.name not in table.primary_key and c.attribute not in changed]
    if unchanged and {c.attribute for c in table.columns if c.name in table.primary_key} >= set(key):
        return statements.update(table, unchanged[:1], if_exists=True)
    return None


def _update(
    model: RequirementsModel, design: EntityDesign, name: str, kind: str, rate: float | None, written: list[str]
) -> Operation:
    base = next((t for t in design.tables if t.name == design.base_table), None)
    every = [c.attribute for t in design.tables for c in t.columns if c.attribute]
    # A record's key is its identity: an update never changes it.
    changed = set(written or every) - set(key_of(model.entities[design.entity]).attributes)
    claims = claim_tables(model, design)
    before: list[Statement] = []
    batch: list[Statement] = []
    after: list[Statement] = []
    for table in design.tables:
        if is_counter_table(table):
            continue  # counters change only by increments (writes of kind increment)
        columns = [c.name for c in table.columns if c.attribute in changed and c.name not in table.primary_key]
        if table in claims:
            moves = _moves(table, changed)
            if moves:
                # Claiming the value the row already holds would fail (IF NOT EXISTS finds itself).
                before.append(_statement(table, "insert", statements.insert(table, if_not_exists=True), "moved"))
                after.append(_statement(table, "delete", statements.delete(table, if_exists=True), "moved"))
            if columns:
                stayed = "stayed" if moves else None
                check = _claim_check(model, design, table, changed)
                if check is None:  # the transaction carries the changed columns (the race _CLAIM_CHECK_NOTE says)
                    before.append(_statement(table, "update", statements.update(table, columns, True), stayed))
                else:
                    before.append(_statement(table, "update", check, stayed))
                    batch.append(_changed_row(table, columns, kind, design.projected, stayed))
        elif _moves(table, changed):
            # A delete and an insert of the same key in one batch tie, and the tombstone wins.
            batch.append(_statement(table, "delete", statements.delete(table), "moved"))
            batch.append(_statement(table, "insert", statements.insert(table)))
        elif columns:
            batch.append(_changed_row(table, columns, kind, design.projected))
    notes = [
        "read the current row from the base table first; bind `delete` statements with the current values and "
        "`insert`/`update` statements with the new ones",
        "a `delete` runs if the current record meets `when`, an `insert`/`update` if the new one does",
        "only_if: the row *moved* when its primary key values (bucket columns included) or its membership differ "
        "between the current and the new record; `moved` statements run only then, `stayed` ones only otherwise "
        "(a delete and an insert of one key in one batch share a timestamp, and the delete would win)",
        _READ_TIMESTAMP_NOTE,
    ]
    if design.projected and kind != WriteKind.UPSERT.value:
        notes.append(_WHOLE_ROW_NOTE)
    if before or after:
        notes.append(_LWT_NOTE)
    if any(statement.table in {t.name for t in claims} for statement in batch):
        notes.append(_CLAIM_CHECK_NOTE)
    read = statements.select_row(base) if base else None
    return Operation(name, kind, rate, read, tuple(before), tuple(batch), tuple(after), tuple(notes))


def operations(model: RequirementsModel, design: EntityDesign) -> list[Operation]:
    """The canonical insert and delete, then one operation per declared write pattern."""
    found = [_insert(model, design, "insert", "insert", None), _delete(model, design, "delete", None)]
    for write in writes_of(model, design.entity):
        if write.kind is WriteKind.INSERT:
            found.append(_insert(model, design, write.name, write.kind.value, write.rate))
        elif write.kind is WriteKind.DELETE:
            found.append(_delete(model, design, write.name, write.rate))
        elif write.kind is WriteKind.INCREMENT:
            increment = next(i for i in increments_of(model, design.entity) if i.write == write.name)
            found.append(_increment(model, design, increment))
        else:
            found.append(_update(model, design, write.name, write.kind.value, write.rate, list(write.attributes)))
        if write.where and write.kind in (WriteKind.UPDATE, WriteKind.DELETE):
            found[-1] = _by_predicate(model, design, found[-1])
    return found


def _by_predicate(model: RequirementsModel, design: EntityDesign, operation: Operation) -> Operation:
    """A predicated write: its rows' keys come from the table whose partition the predicate fixes
    (predicates.predicate_read), then each row is written as the by-key operation; else PP414."""
    predicate = next(p for p in all_predicates(model) if p.write == operation.name)
    found = predicate_read(design, predicate)
    if found is None:
        note = "no table's partition key is fixed by the predicate (PP414): the application names each row's key"
    else:
        note = (
            f"find the rows first with `{found}` (one partition per query), then run the statements below for each row"
        )
    return replace(operation, notes=(note, *operation.notes))


def batch_bytes(design: EntityDesign) -> float:
    """The payload of the insert batch (every table gets the row)."""
    return sum(t.estimate.row_bytes for t in design.tables)
