"""How long a restore takes, against the recovery time objective (`recovery.rto`) (pure).

A store of record is restored whole, so its restore time grows with its size. The estimate takes
the store's payload bytes at the planning horizon from the capacity model (`emit.capacity.
store_bytes`, what capacity.md reports: rows at the horizon × record bytes, projections into the
store included) and divides them by a restore throughput per engine, plus a fixed start-up time
(stopping the server, preparing the backup, replaying the log to the target time). The
throughputs are conservative payload rates for one node on SSD storage: they already allow for
what a store adds on disk (row headers, indexes, replicas' copies) and for index rebuilds, which
is why they sit well below the disk's sequential rate. An estimate over the `rto` is a warning
(PP453): the backup design cannot meet it, however the restore is run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.emit.capacity import human, store_bytes
from polyplan.plan.ir import Plan
from polyplan.security.backup import StoreBackup, objectives, seconds

MB = 1_000_000


@dataclass(frozen=True)
class Throughput:
    """The documented restore rate of one engine."""

    payload_mb_per_s: float  # payload megabytes restored per second
    startup_seconds: int  # fixed cost before and after the copy
    basis: str  # what the rate covers (stated in docs/backup.md)


THROUGHPUT: dict[str, Throughput] = {
    "postgresql": Throughput(
        40, 300, "base backup extracted (~200 MB/s of disk, ~2.5× payload on disk with indexes), then WAL replay"
    ),
    "mysql": Throughput(
        40, 300, "`mariabackup --prepare` and `--copy-back` (~200 MB/s of disk, ~2.5× payload), then binlog replay"
    ),
    "sqlite": Throughput(100, 10, "a file copy of the `.backup` snapshot"),
    "redis": Throughput(100, 10, "RDB load and AOF replay at start-up, in memory"),
    "cassandra": Throughput(
        20, 600, "snapshot SSTables copied back and `nodetool refresh` per node, with compaction after"
    ),
    "mongodb": Throughput(15, 120, "`mongorestore` (documents inserted, every index rebuilt) and the oplog replayed"),
    "elasticsearch": Throughput(30, 120, "snapshot restore of the shards, then replicas recovered"),
    "opensearch": Throughput(30, 120, "snapshot restore of the shards, then replicas recovered"),
}


@dataclass(frozen=True)
class RestoreEstimate:
    """The estimated restore of one store of record at the horizon."""

    engine: str
    payload_bytes: float
    seconds: int
    rto_seconds: int
    horizon_years: float

    @property
    def over(self) -> bool:
        """Whether the estimate exceeds the store's strictest rto."""
        return self.seconds > self.rto_seconds


def estimate_restore(plan: Plan, store: StoreBackup) -> RestoreEstimate:
    """The restore time of `store` with its payload at the planning horizon."""
    decision = plan.entities[store.entities[0]]
    payload = store_bytes(plan).get(f"{decision.family.value} ({store.engine})", [0.0])[-1]
    rate = THROUGHPUT[store.engine]
    total = rate.startup_seconds + round(payload / (rate.payload_mb_per_s * MB))
    return RestoreEstimate(store.engine, payload, total, store.rto_seconds, plan.model.options.horizon_years)


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
                f"{store.engine}: restoring {human(estimate.payload_bytes, byte_units=True)} (its payload at the "
                f"{estimate.horizon_years:g}-year horizon) takes about {shown(estimate.seconds)} at "
                f"{rate.payload_mb_per_s:g} MB/s plus {shown(rate.startup_seconds)} to start, over the rto of "
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
        "Estimated from the capacity model: the store's payload at the horizon (as capacity.md computes it) at "
        "the engine's documented restore throughput, plus a fixed start-up time. A store whose estimate exceeds "
        "its rto is reported (PP453).",
        "",
        "| store | payload at horizon | throughput | start-up | estimate | rto | meets rto |",
        "|---|---|---|---|---|---|---|",
    ]
    for estimate in estimates:
        rate = THROUGHPUT[estimate.engine]
        lines.append(
            f"| {estimate.engine} | {human(estimate.payload_bytes, byte_units=True)} | "
            f"{rate.payload_mb_per_s:g} MB/s ({rate.basis}) | {shown(rate.startup_seconds)} | "
            f"{shown(estimate.seconds)} | {shown(estimate.rto_seconds)} | {'no (PP453)' if estimate.over else 'yes'} |"
        )
    return lines
