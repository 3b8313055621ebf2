"""How long a restore takes, against the recovery time objective (`recovery.rto`) (pure).

A store of record is restored whole, so its restore time grows with its size. The estimate takes
the store's bytes at the planning horizon from the capacity plan (`polyplan.capacity`, the figures
capacity.md and plan.json show: each engine's sizing model, data and indexes of one copy; every
replica recovers its own copy in parallel) and divides them by a restore throughput per engine,
plus a fixed start-up time (stopping the server, preparing the backup, replaying the log to the
target time). The throughputs are conservative rates of those bytes for one node on SSD storage:
they allow for index rebuilds and log replay, which is why they sit below the disk's sequential
rate. An estimate over the `rto` is a warning (PP453): the backup design cannot meet it, however
the restore is run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from polyplan.capacity.spec import CapacityPlan
from polyplan.diagnostics import Diagnostic, Severity
from polyplan.emit.capacity import human
from polyplan.plan.ir import Plan
from polyplan.security.backup import StoreBackup, objectives, seconds

MB = 1_000_000


@dataclass(frozen=True)
class Throughput:
    """The documented restore rate of one engine."""

    mb_per_s: float  # megabytes of the store (data and indexes, one copy) restored per second
    startup_seconds: int  # fixed cost before and after the copy
    basis: str  # what the rate covers (stated in docs/backup.md)


# Rates of the sized bytes (what the sizing models count on disk or in memory), which were payload
# rates before: the relational rates are the same restores as the former 40 MB/s of payload at
# ~2.5x payload on disk.
THROUGHPUT: dict[str, Throughput] = {
    "postgresql": Throughput(100, 300, "base backup extracted (~200 MB/s of disk), indexes included, then WAL replay"),
    "mysql": Throughput(100, 300, "`mariabackup --prepare` and `--copy-back` (~200 MB/s of disk), then binlog replay"),
    "sqlite": Throughput(100, 10, "a file copy of the `.backup` snapshot"),
    "redis": Throughput(100, 10, "RDB load and AOF replay at start-up, in memory"),
    "cassandra": Throughput(
        40, 600, "snapshot SSTables copied back and `nodetool refresh` per node, with compaction after"
    ),
    "mongodb": Throughput(25, 120, "`mongorestore` (documents inserted, every index rebuilt) and the oplog replayed"),
    "elasticsearch": Throughput(40, 120, "snapshot restore of the shards, then replicas recovered"),
    "opensearch": Throughput(40, 120, "snapshot restore of the shards, then replicas recovered"),
}


@dataclass(frozen=True)
class RestoreEstimate:
    """The estimated restore of one store of record at the horizon."""

    engine: str
    bytes: float  # data and indexes of one copy at the horizon (the capacity plan's)
    seconds: int
    rto_seconds: int
    horizon_years: float

    @property
    def over(self) -> bool:
        """Whether the estimate exceeds the store's strictest rto."""
        return self.seconds > self.rto_seconds


def estimate_restore(plan: Plan, store: StoreBackup, capacity: CapacityPlan) -> RestoreEstimate:
    """The restore time of `store` with its bytes at the planning horizon (`capacity`'s last year)."""
    decision = plan.entities[store.entities[0]]
    name = f"{decision.family.value} ({store.engine})"
    found = [s for s in capacity.stores if s.store == name]
    size = found[0].years[-1].data_bytes + found[0].years[-1].index_bytes if found else 0.0
    rate = THROUGHPUT[store.engine]
    total = rate.startup_seconds + round(size / (rate.mb_per_s * MB))
    return RestoreEstimate(store.engine, size, total, store.rto_seconds, plan.model.options.horizon_years)


def shown(total: int) -> str:
    """A duration for people: `2h 05m`, `14m`, `40s`."""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{secs}s"


def restore_warnings(
    plan: Plan, estimates: Sequence[RestoreEstimate], stores: Sequence[StoreBackup]
) -> list[Diagnostic]:
    """PP453 for every store whose estimated restore exceeds its strictest rto, at that rto."""
    found: list[Diagnostic] = []
    model = plan.model
    for estimate, store in zip(estimates, stores, strict=True):
        if not estimate.over:
            continue
        strictest = [
            (name, path)
            for name in store.entities
            if (recovery := objectives(model, name)[0]) is not None
            for path in [objectives(model, name)[1]]
            if seconds(recovery.rto) == store.rto_seconds
        ]
        name, path = strictest[0]
        rate = THROUGHPUT[store.engine]
        found.append(
            Diagnostic(
                "PP453",
                f"{store.engine}: restoring {human(estimate.bytes, byte_units=True)} (its data and indexes at the "
                f"{estimate.horizon_years:g}-year horizon) takes about {shown(estimate.seconds)} at "
                f"{rate.mb_per_s:g} MB/s plus {shown(rate.startup_seconds)} to start, over the rto of "
                f"{name} ({shown(store.rto_seconds)}): raise the rto, keep a standby replica to fail over to "
                "instead of restoring, or split the store",
                f"{path}.rto",
                Severity.WARNING,
            )
        )
    return found


def estimate_lines(estimates: Sequence[RestoreEstimate]) -> list[str]:
    """docs/backup.md's section on restore time: the estimate per store and how it is computed."""
    lines = [
        "## Restore time",
        "",
        "Estimated from the capacity plan: the store's data and indexes at the horizon (one copy, as capacity.md "
        "and plan.json give them) at the engine's restore throughput, plus a fixed start-up time. A store whose "
        "estimate exceeds its rto is reported (PP453).",
        "",
        "| store | size at horizon | throughput | start-up | estimate | rto | meets rto |",
        "|---|---|---|---|---|---|---|",
    ]
    for estimate in estimates:
        rate = THROUGHPUT[estimate.engine]
        lines.append(
            f"| {estimate.engine} | {human(estimate.bytes, byte_units=True)} | "
            f"{rate.mb_per_s:g} MB/s ({rate.basis}) | {shown(rate.startup_seconds)} | "
            f"{shown(estimate.seconds)} | {shown(estimate.rto_seconds)} | {'no (PP453)' if estimate.over else 'yes'} |"
        )
    return lines
