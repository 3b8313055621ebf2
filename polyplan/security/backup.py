"""Backup and recovery: `recovery` objectives → a method, schedule and restore procedure per store (pure).

Each store of record gets the method that gives the smallest recovery point polyplan knows how
to run there; a projection (cache, search index) is not restored from a backup of its own but
rebuilt from its system of record. A recovery point objective shorter than the method can give is
an error (PP452) at the `rpo` that asks for it: no schedule would meet it. Restores are written
as shell steps with `$VARIABLES` an operator sets; `docs/backup.md` holds them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from polyplan.capacity.spec import CapacityPlan
from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import Recovery, RequirementsModel
from polyplan.plan.ir import Plan

BACKUP_DOC = "docs/backup.md"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# The logical dump and restore the PostgreSQL procedure states; the tests run exactly these lines.
PG_DUMP = 'pg_dump --format=custom --no-owner --file="$BACKUP_DIR/$DB.dump" "$DB_URL"'
PG_RESTORE = [
    'createdb --host="$HOST" --port="$PORT" --username="$DB_USER" "$NEW_DB"',
    'pg_restore --no-owner --exit-on-error --host="$HOST" --port="$PORT" --username="$DB_USER" '
    '--dbname="$NEW_DB" "$BACKUP_DIR/$DB.dump"',
]
# Continuous WAL archiving, turned on once (archive_mode needs a restart); the test runs these
# lines, the base backup and the point-in-time restore below on a cluster of its own.
PG_ARCHIVING = (
    'mkdir -p "$WAL_ARCHIVE"',
    'psql "$ADMIN_URL" -c "ALTER SYSTEM SET wal_level = \'replica\'"',
    'psql "$ADMIN_URL" -c "ALTER SYSTEM SET archive_mode = \'on\'"',
    'psql "$ADMIN_URL" -c "ALTER SYSTEM SET archive_command = \'test ! -f $WAL_ARCHIVE/%f && cp %p $WAL_ARCHIVE/%f\'"',
    'psql "$ADMIN_URL" -c "ALTER SYSTEM SET archive_timeout = \'60s\'"',
    'pg_ctl restart -D "$PGDATA" -m fast -w -l "$PGDATA/../postgresql.log"',
)
# A tar-format base backup with the WAL it needs streamed beside it (base.tar, pg_wal.tar).
PG_BASE_BACKUP = (
    'rm -rf "$BACKUP_DIR/base" && pg_basebackup --dbname="$ADMIN_URL" --pgdata="$BACKUP_DIR/base" '
    "--format=tar --wal-method=stream --checkpoint=fast",
)
# Back to TARGET_TIME: the base backup, then the archived WAL replayed up to the target, then promoted.
PG_POINT_IN_TIME = (
    'pg_ctl stop -D "$PGDATA" -m fast',
    'rm -rf "$PGDATA" && mkdir -m 700 "$PGDATA" && tar -xf "$BACKUP_DIR/base/base.tar" -C "$PGDATA"',
    'tar -xf "$BACKUP_DIR/base/pg_wal.tar" -C "$PGDATA/pg_wal"',
    'echo "restore_command = \'cp $WAL_ARCHIVE/%f %p\'" >> "$PGDATA/postgresql.auto.conf"',
    'echo "recovery_target_time = \'$TARGET_TIME\'" >> "$PGDATA/postgresql.auto.conf"',
    'echo "recovery_target_action = \'promote\'" >> "$PGDATA/postgresql.auto.conf"',
    'touch "$PGDATA/recovery.signal" && pg_ctl start -D "$PGDATA" -w -t 300 -l "$PGDATA/../postgresql.log"',
    'until [ "$(psql "$ADMIN_URL" -Atc "SELECT pg_is_in_recovery()")" = f ]; do sleep 1; done',
)


def seconds(duration: str) -> int:
    """A model duration (`15m`, `1h`, `30s`, `7d`) in seconds."""
    match = re.fullmatch(r"([0-9]+)([smhd])", duration)
    if match is None:
        raise ValueError(f"not a duration: {duration!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class Method:
    """How one engine is backed up, the best recovery point that gives, and how it is restored."""

    engine: str
    method: str
    schedule: str
    best_rpo_seconds: int  # the shortest recovery point the method can give
    why: str
    restores: tuple[tuple[str, tuple[str, ...]], ...]  # (kind of restore, its shell steps)
    backup: tuple[str, ...] = ()  # shell steps of an on-demand backup, where one is worth stating
    setup: tuple[str, ...] = ()  # shell steps that turn the method on, once per server
    base_backup: tuple[str, ...] = ()  # shell steps of the physical backup the point-in-time restore starts from


METHODS: dict[str, Method] = {
    "postgresql": Method(
        "postgresql",
        "base backup (`pg_basebackup`) + continuous WAL archiving (`archive_mode = on`, "
        "`archive_timeout = 60`): point-in-time recovery; a daily logical `pg_dump` besides",
        "base backup daily; WAL segments archived as they fill and at least every 60 s; `pg_dump` daily",
        60,
        "archive_timeout switches WAL segments at most every 60 s: a shorter timeout fills the archive "
        "with nearly empty 16 MB segments",
        (
            ("point-in-time", PG_POINT_IN_TIME),
            ("dump", tuple(PG_RESTORE)),
        ),
        (PG_DUMP,),
        PG_ARCHIVING,
        PG_BASE_BACKUP,
    ),
    "mysql": Method(
        "mysql",
        "physical backup (`mariabackup --backup`) + binary log streamed off the server "
        "(`mysqlbinlog --read-from-remote-server --raw --stop-never`): point-in-time recovery",
        "full backup daily; binary log streamed continuously, rotated every 60 s at most",
        60,
        "the streamed binlog is flushed to the backup host with each rotation (`FLUSH BINARY LOGS` every 60 s)",
        (
            (
                "full",
                (
                    'mariabackup --prepare --target-dir="$BACKUP_DIR/full"',
                    'systemctl stop mariadb && rm -rf "$DATADIR"/*',
                    'mariabackup --copy-back --target-dir="$BACKUP_DIR/full" && chown -R mysql:mysql "$DATADIR"',
                    "systemctl start mariadb",
                    'mysqlbinlog --start-position="$(cut -f2 "$BACKUP_DIR/full/xtrabackup_binlog_info")" '
                    '--stop-datetime="$TARGET_TIME" "$BINLOG_DIR"/* | mariadb',
                ),
            ),
        ),
    ),
    "sqlite": Method(
        "sqlite",
        'online copy with the backup API (`sqlite3 DB ".backup FILE"`), consistent while the application writes',
        "a copy every 15 minutes",
        900,
        "a copy is a whole file: more often than every 15 minutes costs a full read of the database each time",
        (
            (
                "full",
                (
                    'cp "$BACKUP_DIR/latest.sqlite" "$DB_FILE.restored"',
                    'mv "$DB_FILE.restored" "$DB_FILE"',
                ),
            ),
        ),
    ),
    "redis": Method(
        "redis",
        "append-only file (`appendonly yes`, `appendfsync everysec`) + RDB snapshots copied off the host",
        "AOF fsync every second; RDB snapshot hourly, copied off the host",
        1,
        "appendfsync everysec loses at most the last second of writes",
        (
            (
                "full",
                (
                    "redis-cli SHUTDOWN NOSAVE",
                    'cp -r "$BACKUP_DIR/appendonlydir" "$REDIS_DIR/" && cp "$BACKUP_DIR/dump.rdb" "$REDIS_DIR/"',
                    'redis-server "$REDIS_CONF"',
                ),
            ),
        ),
    ),
    "cassandra": Method(
        "cassandra",
        "`nodetool snapshot` per node + commitlog archiving (`commitlog_archiving.properties`, "
        "`archive_command`), `commitlog_sync: periodic` every 10 s",
        "snapshot daily per node; commitlog segments archived as they close",
        60,
        "archived commitlog segments close at least every 60 s under the generated settings; "
        "replication across nodes covers the gap",
        (
            (
                "full",
                (
                    'nodetool drain && systemctl stop cassandra && rm -rf "$DATA_DIR/$KEYSPACE"/*/*.db',
                    'cp -r "$BACKUP_DIR/snapshots/$SNAPSHOT"/* "$DATA_DIR/$KEYSPACE"/',
                    'echo "restore_directories=$BACKUP_DIR/commitlog" >> commitlog_archiving.properties',
                    "systemctl start cassandra && nodetool refresh",
                ),
            ),
        ),
    ),
    "mongodb": Method(
        "mongodb",
        "`mongodump --oplog` daily + the oplog copied continuously: point-in-time recovery",
        "dump daily; oplog copied every 60 s",
        60,
        "the oplog is copied off the server every 60 s",
        (
            (
                "full",
                ('mongorestore --oplogReplay --oplogLimit="$TARGET_TS" --drop --uri="$MONGO_URL" "$BACKUP_DIR/dump"',),
            ),
        ),
    ),
    "elasticsearch": Method(
        "elasticsearch",
        "snapshot lifecycle policy (SLM) to a snapshot repository",
        "snapshot every 30 minutes",
        1800,
        "snapshots are incremental but each is a cluster task: every 30 minutes at most",
        (("full", ('curl -X POST "$SEARCH_URL/_snapshot/$REPO/$SNAPSHOT/_restore?wait_for_completion=true"',)),),
    ),
    "opensearch": Method(
        "opensearch",
        "snapshot management policy to a snapshot repository",
        "snapshot every 30 minutes",
        1800,
        "snapshots are incremental but each is a cluster task: every 30 minutes at most",
        (("full", ('curl -X POST "$SEARCH_URL/_snapshot/$REPO/$SNAPSHOT/_restore?wait_for_completion=true"',)),),
    ),
}


@dataclass(frozen=True)
class StoreBackup:
    """One store of record: its method, the entities it holds and the objectives it must meet."""

    engine: str
    method: Method
    entities: tuple[str, ...]
    rpo_seconds: int
    rto_seconds: int
    retention_days: int


def objectives(model: RequirementsModel, entity: str) -> tuple[Recovery | None, str]:
    """The recovery objectives of an entity and the model path that states them."""
    own = model.entities[entity].recovery
    if own is not None:
        return own, f"entities.{entity}.recovery"
    return model.recovery, "recovery"


def design_backup(plan: Plan) -> tuple[list[StoreBackup], list[Diagnostic]]:
    """The backup of every store of record that has objectives, and PP452 for an RPO no method meets."""
    model = plan.model
    found: list[Diagnostic] = []
    by_engine: dict[str, list[tuple[str, Recovery]]] = {}
    for name, decision in plan.entities.items():
        recovery, path = objectives(model, name)
        if recovery is None:
            continue
        method = METHODS[decision.engine]
        if seconds(recovery.rpo) < method.best_rpo_seconds:
            found.append(
                Diagnostic(
                    "PP452",
                    f"{name}: rpo {recovery.rpo} is shorter than {decision.engine}'s backup can give "
                    f"({method.best_rpo_seconds} s: {method.why}); raise the rpo, or place {name} in a store "
                    "whose backup meets it",
                    f"{path}.rpo",
                    Severity.ERROR,
                )
            )
        by_engine.setdefault(decision.engine, []).append((name, recovery))
    stores = [
        StoreBackup(
            engine,
            METHODS[engine],
            tuple(n for n, _ in items),
            min(seconds(r.rpo) for _, r in items),
            min(seconds(r.rto) for _, r in items),
            max(r.retention_days for _, r in items),
        )
        for engine, items in sorted(by_engine.items())
    ]
    return stores, found


def _shown(total: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if total % size == 0:
            return f"{total // size}{unit}"
    return f"{total}s"


def render_backup_doc(plan: Plan, stores: list[StoreBackup], restore: Sequence[str] = ()) -> str:
    """`docs/backup.md`: method, schedule, retention and the restore steps of every store of record;
    `restore`: the restore-time section (`restore_time.estimate_lines`)."""
    model = plan.model
    lines = [
        f"# Backup and recovery: {model.name} (version {model.version})",
        "",
        "Generated by polyplan from the model's `recovery` objectives. Each store of record is backed up by the "
        "method below; projections (cache entries, search indexes) are rebuilt from their system of record "
        "after a restore rather than restored from backups of their own.",
        "",
        "| store | entities | rpo | rto | method | schedule | best rpo | backups kept |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for store in stores:
        lines.append(
            f"| {store.engine} | {', '.join(store.entities)} | {_shown(store.rpo_seconds)} | "
            f"{_shown(store.rto_seconds)} | {store.method.method} | {store.method.schedule} | "
            f"{_shown(store.method.best_rpo_seconds)} | {store.retention_days} days |"
        )
    projected = sorted(
        {
            f"{p.engine} ({name})"
            for name, d in plan.entities.items()
            for p in d.projections
            if objectives(model, name)[0]
        }
    )
    if projected:
        lines += ["", f"Rebuilt from the system of record after a restore: {', '.join(projected)}."]
    if restore:
        lines += ["", *restore]
    for store in stores:
        lines += [
            "",
            f"## {store.engine}",
            "",
            f"Backups older than {store.retention_days} days are deleted (the point-in-time window). "
            "Each block runs as it stands once its `$VARIABLES` are set.",
        ]
        if store.method.setup:
            lines += [
                "",
                "Turn the method on (once per server; `$ADMIN_URL` connects as a superuser, `$PGDATA` is the data "
                "directory, `$WAL_ARCHIVE` a directory off the host's disks in production):",
                "",
                f"```sh setup-{store.engine}-archiving",
                *store.method.setup,
                "```",
            ]
        if store.method.base_backup:
            lines += [
                "",
                "Base backup (on the schedule above; the point-in-time restore starts from the latest one before "
                "`$TARGET_TIME`; `$ADMIN_URL` needs the REPLICATION privilege):",
                "",
                f"```sh backup-{store.engine}-base",
                *store.method.base_backup,
                "```",
            ]
        if store.method.backup:
            lines += ["", "Backup on demand:", "", f"```sh backup-{store.engine}", *store.method.backup, "```"]
        for kind, steps in store.method.restores:
            lines += ["", f"Restore ({kind}):", "", f"```sh restore-{store.engine}-{kind}", *steps, "```"]
    return "\n".join(lines) + "\n"


def backup_files(plan: Plan, capacity: CapacityPlan) -> tuple[dict[str, str], list[Diagnostic]]:
    """`docs/backup.md` when the model states recovery objectives (restore times from `capacity`,
    the plan's capacity figures), and PP452 errors."""
    model = plan.model
    if model.recovery is None and all(e.recovery is None for e in model.entities.values()):
        return {}, []
    from polyplan.security.restore_time import estimate_lines, estimate_restore, restore_warnings

    stores, found = design_backup(plan)
    estimates = [estimate_restore(plan, store, capacity) for store in stores]
    found += restore_warnings(plan, estimates, stores)
    return {BACKUP_DOC: render_backup_doc(plan, stores, estimate_lines(estimates))}, found


def doc_steps(doc: str, block: str) -> list[str]:
    """The shell lines of one block of `docs/backup.md` (`backup-postgresql`, `restore-postgresql-dump`)."""
    found = re.search(rf"```sh {re.escape(block)}\n(.*?)```", doc, re.DOTALL)
    if found is None:
        return []
    return [line for line in found.group(1).splitlines() if line and not line.startswith("#")]
