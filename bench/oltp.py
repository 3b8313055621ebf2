"""polyplan's relational schema against hand-written expert DDL on public OLTP workloads, with pgbench.

Each workload is modelled as a polyplan model from its public description (bench/oltp/*.yaml);
its expert schema is the DDL the workload's own tools write (bench/oltp/*_expert.sql). For each
workload and each variant (`polyplan`: relational/postgresql/schema.sql of `polyplan plan`,
indexes included; `expert`), the bench

1. creates a template database, applies the variant's schema, loads the same rows
   (bench/oltp/<workload>_data.sql, deterministic) and runs VACUUM ANALYZE;
2. for each of --rounds rounds, the variants in alternating order (so both see the same load on
   a shared host): clones the template (CREATE DATABASE … TEMPLATE), runs
   `pgbench -n -r -M PROTOCOL -c CLIENTS -j 2 -T SECONDS` with the workload's scripts and weights, and reads
   TPS, per-statement latency (`-r`), each updated table's HOT share
   (pg_stat_user_tables.n_tup_hot_upd / n_tup_upd) and the secondary-index bytes; then drops it.
   With --side-by-side both variants run at the same time, each in its own clone, so both see
   the same moments of a shared host's load;
3. keeps EXPLAIN (ANALYZE, BUFFERS) of the workload's reads in each variant (last round).

With --per-script N it runs no mix: each script alone, N transactions on one client in a fresh
clone per variant and script, and prints the shared buffers per transaction of each, in all and
by relation, and their sum weighted as the mix weighs them: which statement the buffer counts of
a mix come from (docs/benchmarks.md, "Where Epinions' extra buffers go").

    python bench/oltp.py                                   # both workloads, 3 rounds x 20 s
    python bench/oltp.py --workload tpcb --rounds 1 --seconds 5
    python bench/oltp.py --json bench/results/oltp.json    # keep the numbers
    python bench/oltp.py --render bench/results/oltp.json  # print the docs section
    python bench/oltp.py --workload epinions --per-script 1000 --protocol prepared

The server comes from POLYPLAN_POSTGRES_URL; pgbench from PATH or /usr/lib/postgresql/15/bin.
Databases are named ppoltp_<pid>_<hex>_… and dropped afterwards, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from polyplan.pipeline import write_plan
from polyplan.stores.relational.connect import apply_sql, create_engine

HERE = Path(__file__).resolve().parent / "oltp"
VARIANTS = ("polyplan", "expert")


@dataclass(frozen=True)
class Workload:
    """A workload: its model, expert DDL, data, pgbench scripts (file, weight) and reads to EXPLAIN."""

    name: str
    title: str
    scripts: tuple[tuple[str, int], ...]
    explain: tuple[tuple[str, str], ...]  # (label, SQL with literal parameters)


WORKLOADS = {
    "tpcb": Workload(
        "tpcb",
        "pgbench TPC-B-like (scale 5)",
        (("tpcb.pgbench", 1),),
        (("account_balance", "SELECT abalance FROM account WHERE aid = 4242"),),
    ),
    "order_entry": Workload(
        "order_entry",
        "order entry, TPC-C subset (4 warehouses)",
        (("new_order.pgbench", 45), ("payment.pgbench", 43), ("order_status.pgbench", 12)),
        (
            (
                "customer_by_last_name",
                "SELECT c_id, c_first, c_last, c_balance FROM customer WHERE c_w_id = 2 AND c_d_id = 3 "
                "AND c_last = 'LAST042' ORDER BY c_first",
            ),
            (
                "newest_order_of_customer",
                "SELECT o_id, o_entry_d, o_carrier_id FROM orders WHERE o_w_id = 2 AND o_d_id = 3 AND o_c_id = 1234 "
                "ORDER BY o_id DESC LIMIT 1",
            ),
        ),
    ),
    "epinions": Workload(
        "epinions",
        "Epinions, BenchBase (scale factor 10)",
        (
            ("ep_review_item.pgbench", 10),
            ("ep_reviews_user.pgbench", 10),
            ("ep_avg_trusted.pgbench", 10),
            ("ep_avg_item.pgbench", 10),
            ("ep_reviews_trusted.pgbench", 10),
            ("ep_user_name.pgbench", 10),
            ("ep_item_title.pgbench", 10),
            ("ep_review_rating.pgbench", 10),
            ("ep_trust_rating.pgbench", 20),
        ),
        (
            (
                "average_rating_by_trusted_user",
                "SELECT avg(rating) FROM review r, trust t WHERE r.u_id = t.target_u_id AND r.i_id = 7 "
                "AND t.source_u_id = 3",
            ),
            ("update_review_rating", "UPDATE review SET rating = 5 WHERE i_id = 7 AND u_id = 3"),
            ("update_trust_rating", "UPDATE trust SET trust = 1 WHERE source_u_id = 3 AND target_u_id = 4"),
        ),
    ),
    "seats": Workload(
        "seats",
        "SEATS, BenchBase (15 days of 1,500 flights)",
        (
            ("seats_find_flights.pgbench", 10),
            ("seats_find_open_seats.pgbench", 35),
            ("seats_new_reservation.pgbench", 20),
            ("seats_update_customer.pgbench", 10),
            ("seats_update_reservation.pgbench", 15),
            ("seats_delete_reservation.pgbench", 10),
        ),
        (
            (
                "find_flights",
                "SELECT f_id, f_al_id, f_seats_left, f_depart_ap_id, f_depart_time, f_arrive_ap_id, f_arrive_time, "
                "al_name, al_iattr00, al_iattr01 FROM flight, airline WHERE f_depart_ap_id = 3 "
                "AND f_depart_time >= timestamp '2026-12-08' AND f_depart_time <= timestamp '2026-12-09' "
                "AND f_al_id = al_id AND f_arrive_ap_id IN (7)",
            ),
            ("seats_of_flight", "SELECT r_id, r_f_id, r_seat FROM reservation WHERE r_f_id = 4242"),
            (
                "reservation_of_customer_on_flight",
                "SELECT r_id FROM reservation WHERE r_f_id = 4242 AND r_c_id = 1234",
            ),
        ),
    ),
}


@dataclass
class Run:
    """One pgbench run of one variant."""

    round: int
    variant: str
    tps: float
    transactions: int
    latency_ms: float
    load_before: str
    load_after: str
    statements: dict[str, float]  # script: statement → average latency in ms
    hot: dict[str, list[int]]  # table → [n_tup_upd, n_tup_hot_upd]
    index_bytes: dict[str, int]  # secondary index → bytes after the run
    failures: int = 0
    buffers: int = 0  # shared buffers hit or read in the run's database (pg_stat_database), 0 in old files
    # table or index → shared buffers hit or read (pg_statio_user_tables/_indexes); empty in old files
    relation_buffers: dict[str, int] = field(default_factory=dict)


@dataclass
class WorkloadResult:
    workload: str
    title: str
    schema_indexes: dict[str, dict[str, int]]  # variant → secondary index → bytes after loading
    runs: list[Run] = field(default_factory=list)
    explain: dict[str, dict[str, str]] = field(default_factory=dict)  # read → variant → plan text
    # variant → bytes of every index after loading, primary keys included (0 in old files): a
    # schema without a primary key (Epinions' expert review and trust) has only secondary indexes
    all_index_bytes: dict[str, int] = field(default_factory=dict)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def uptime() -> str:
    """The load averages (1, 5, 15 minutes) as /proc/loadavg states them."""
    return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])


def pgbench_binary() -> str:
    found = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    if not Path(found).exists():
        raise SystemExit("bench/oltp.py: no pgbench (Debian: postgresql-client-15)")
    return found


# --- schemas and databases ----------------------------------------------------------------------


def polyplan_schema(workload: str, folder: Path) -> str:
    """relational/postgresql/schema.sql that `polyplan plan` writes for the workload's model."""
    write_plan(HERE / f"{workload}.yaml", folder / workload)
    return (folder / workload / "relational" / "postgresql" / "schema.sql").read_text(encoding="utf-8")


def schema_of(workload: str, variant: str, folder: Path) -> str:
    if variant == "polyplan":
        return polyplan_schema(workload, folder)
    return (HERE / f"{workload}_expert.sql").read_text(encoding="utf-8")


class Server:
    """The PostgreSQL server of POLYPLAN_POSTGRES_URL: create, clone and drop databases."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.prefix = f"ppoltp_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []

    def engine(self, database: str, **kwargs: Any) -> sa.Engine:
        return create_engine(self.url.set(database=database), **kwargs)

    def libpq(self, database: str) -> str:
        """A libpq connection string for pgbench."""
        return self.url.set(drivername="postgresql", database=database).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        full = f"{self.prefix}_{name}"
        with self.admin.connect() as connection:
            source = f"TEMPLATE {template}" if template else "TEMPLATE template0 ENCODING 'UTF8'"
            connection.exec_driver_sql(f"CREATE DATABASE {full} {source}")
        self.created.append(full)
        return full

    def drop(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            self.drop(name)
        self.admin.dispose()


def load_template(server: Server, workload: str, variant: str, folder: Path) -> str:
    name = server.create(f"{workload}_{variant}")
    engine = server.engine(name, isolation_level="AUTOCOMMIT")
    try:
        apply_sql(engine, schema_of(workload, variant, folder))
        with engine.connect() as connection:
            # One session, so that setseed governs every random() of the load; the driver's own
            # cursor without parameters, so `%` is the modulo operator and not a placeholder.
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            for statement in _statements((HERE / f"{workload}_data.sql").read_text(encoding="utf-8")):
                cursor.execute(statement)
            cursor.execute("VACUUM ANALYZE")
    finally:
        engine.dispose()
    return name


def _statements(sql: str) -> list[str]:
    """The statements of a data file (no semicolons inside literals there)."""
    text = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


SECONDARY = """
SELECT c.relname, pg_relation_size(c.oid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND NOT i.indisprimary ORDER BY c.relname
"""


def all_index_bytes(engine: sa.Engine) -> int:
    """Bytes of every index of the public schema, primary keys included."""
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT sum(pg_relation_size(c.oid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = 'public'"
        ).scalar_one()
        return int(found or 0)


def secondary_indexes(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {str(name): int(size) for name, size in connection.exec_driver_sql(SECONDARY)}


def hot_shares(engine: sa.Engine) -> dict[str, list[int]]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE n_tup_upd > 0 ORDER BY relname"
        )
        return {str(name): [int(upd), int(hot)] for name, upd, hot in rows}


def buffer_accesses(engine: sa.Engine) -> int:
    """Shared buffers hit or read in this database since it was created: a count of the work done,
    which a shared host's scheduling does not change (a clone's counters start at zero)."""
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT blks_hit + blks_read FROM pg_stat_database WHERE datname = current_database()"
        ).scalar_one()
        return int(found or 0)


def relation_buffers(engine: sa.Engine) -> dict[str, int]:
    """Shared buffers hit or read per table heap (`table`) and per index (`table.index`) in this
    database: where `buffer_accesses` goes, the catalogs' share excepted."""
    with engine.connect() as connection:
        heaps = connection.exec_driver_sql(
            "SELECT relname, coalesce(heap_blks_hit, 0) + coalesce(heap_blks_read, 0) FROM pg_statio_user_tables"
        )
        found = {str(table): int(blocks) for table, blocks in heaps}
        indexes = connection.exec_driver_sql(
            "SELECT relname, indexrelname, coalesce(idx_blks_hit, 0) + coalesce(idx_blks_read, 0) "
            "FROM pg_statio_user_indexes"
        )
        found |= {f"{table}.{index}": int(blocks) for table, index, blocks in indexes}
    return {name: blocks for name, blocks in sorted(found.items()) if blocks}


def explain(engine: sa.Engine, sql: str) -> str:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}")
        return "\n".join(str(r[0]) for r in rows)


# --- pgbench ---------------------------------------------------------------------------------------

_TPS = re.compile(r"^tps = ([\d.]+) \(without initial connection time\)", re.M)
_PROCESSED = re.compile(r"^number of transactions actually processed: (\d+)", re.M)
_LATENCY = re.compile(r"^latency average = ([\d.]+) ms", re.M)
_FAILED = re.compile(r"^number of failed transactions: (\d+)", re.M)
_SCRIPT = re.compile(r"^SQL script \d+: (.+)$")
_STATEMENT = re.compile(r"^\s+([\d.]+)\s+\d+\s+(.+)$")


def parse_pgbench(output: str) -> tuple[float, int, float, int, dict[str, float]]:
    """(tps, transactions, average latency ms, failed transactions, script: statement → ms)."""
    found = _TPS.search(output)
    if found is None:
        raise RuntimeError(f"pgbench printed no tps:\n{output}")
    processed = _PROCESSED.search(output)
    latency = _LATENCY.search(output)
    failed = _FAILED.search(output)
    statements: dict[str, float] = {}
    script = ""
    for line in output.splitlines():
        named = _SCRIPT.match(line)
        if named:
            script = Path(named[1].strip()).stem
            continue
        row = _STATEMENT.match(line)
        if row and not row[2].lstrip().startswith("\\"):
            statements[f"{script}: {' '.join(row[2].split())[:90]}"] = float(row[1])
    return (
        float(found[1]),
        int(processed[1]) if processed else 0,
        float(latency[1]) if latency else 0.0,
        int(failed[1]) if failed else 0,
        statements,
    )


@dataclass(frozen=True)
class Load:
    """How each pgbench run drives a variant: clients, seconds, and pgbench's query protocol.

    `prepared` (`-M prepared`) parses and plans each statement once per connection, as BenchBase's
    JDBC drivers do; `simple` sends the text of every statement, which adds the same parse and
    plan cost to both variants and so dilutes the difference their indexes make.
    """

    clients: int
    seconds: int
    protocol: str = "simple"


def start_pgbench(server: Server, database: str, workload: Workload, load: Load) -> subprocess.Popen[str]:
    """Start one pgbench run; `finish_pgbench` waits for it and returns its report."""
    command = [pgbench_binary(), "-n", "-r", "-M", load.protocol, "-c", str(load.clients), "-j", "2"]
    command += ["-T", str(load.seconds)]
    for script, weight in workload.scripts:
        command += ["-f", f"{HERE / script}@{weight}"]
    command.append(server.libpq(database))
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_pgbench(process: subprocess.Popen[str]) -> str:
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"pgbench failed ({process.returncode}):\n{stderr[-2000:]}")
    return stdout


def _run_round(
    server: Server,
    workload: Workload,
    templates: dict[str, str],
    number: int,
    variants: tuple[str, ...],
    rounds: int,
    load: Load,
    result: WorkloadResult,
) -> None:
    """One round of the given variants, started together (one variant: alone)."""
    databases = {v: server.create(f"{workload.name}_{v}_r{number}", templates[v]) for v in variants}
    engines = {v: server.engine(d) for v, d in databases.items()}
    try:
        before = uptime()
        running = {v: start_pgbench(server, databases[v], workload, load) for v in variants}
        outputs = {v: finish_pgbench(p) for v, p in running.items()}
        after = uptime()
        time.sleep(1.0)  # the backends' statistics reach pg_stat_user_tables when they exit
        for variant in variants:
            tps, count, latency, failed, statements = parse_pgbench(outputs[variant])
            engine = engines[variant]
            run = Run(
                number,
                variant,
                tps,
                count,
                latency,
                before,
                after,
                statements,
                hot_shares(engine),
                secondary_indexes(engine),
                failed,
                buffer_accesses(engine),
                relation_buffers(engine),
            )
            result.runs.append(run)
            log(f"{workload.name} round {number} {variant}: {tps:.1f} tps (load {before} -> {after})")
            if number == rounds:
                for label, sql in workload.explain:
                    result.explain.setdefault(label, {})[variant] = explain(engine, sql)
    finally:
        for variant, engine in engines.items():
            engine.dispose()
            server.drop(databases[variant])


def bench_workload(
    server: Server,
    workload: Workload,
    rounds: int,
    load: Load,
    folder: Path,
    side_by_side: bool = False,
) -> WorkloadResult:
    templates = {}
    result = WorkloadResult(workload.name, workload.title, {})
    for variant in VARIANTS:
        started = time.perf_counter()
        templates[variant] = load_template(server, workload.name, variant, folder)
        engine = server.engine(templates[variant])
        result.schema_indexes[variant] = secondary_indexes(engine)
        result.all_index_bytes[variant] = all_index_bytes(engine)
        engine.dispose()
        log(f"{workload.name}/{variant}: loaded in {time.perf_counter() - started:.1f} s")
    for number in range(1, rounds + 1):
        order = VARIANTS if number % 2 else tuple(reversed(VARIANTS))
        if side_by_side:
            # Both variants at once, each in its own database: they share every moment of the
            # host's load, so the ratio of their rates does not follow the neighbours the way
            # two runs one after the other do.
            _run_round(server, workload, templates, number, order, rounds, load, result)
        else:
            for variant in order:
                _run_round(server, workload, templates, number, (variant,), rounds, load, result)
    for name in templates.values():
        server.drop(name)
    return result


def per_script(server: Server, workload: Workload, transactions: int, protocol: str, folder: Path) -> str:
    """Each script of `workload` alone, `transactions` times on one client, in a fresh clone of
    each variant's template: a markdown table of shared buffers per transaction, in all (catalogs
    included, `buffer_accesses`) and by relation (`relation_buffers`, at least 0.05), then the
    sum weighted as the mix weighs the scripts."""
    templates = {variant: load_template(server, workload.name, variant, folder) for variant in VARIANTS}
    weights = sum(weight for _, weight in workload.scripts)
    lines = [
        f"| script (weight) | {' | '.join(VARIANTS)} | by relation, {' / '.join(VARIANTS)} |",
        "|---|" + "---:|" * len(VARIANTS) + "---|",
    ]
    mix = dict.fromkeys(VARIANTS, 0.0)
    try:
        for number, (script, weight) in enumerate(workload.scripts):
            totals: dict[str, float] = {}
            parts: list[str] = []
            for variant in VARIANTS:
                database = server.create(f"{workload.name}_{variant}_s{number}", templates[variant])
                engine = server.engine(database)
                try:
                    command = [pgbench_binary(), "-n", "-M", protocol, "-c", "1", "-t", str(transactions)]
                    subprocess.run(
                        [*command, "-f", str(HERE / script), server.libpq(database)],
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    time.sleep(1.0)  # the backend's statistics arrive when it exits
                    totals[variant] = buffer_accesses(engine) / transactions
                    shares = {n: b / transactions for n, b in relation_buffers(engine).items()}
                finally:
                    engine.dispose()
                    server.drop(database)
                parts.append(", ".join(f"`{n}` {v:.2f}" for n, v in shares.items() if v >= 0.05) or "none")
                mix[variant] += totals[variant] * weight / weights
            cells = " | ".join(f"{totals[v]:.2f}" for v in VARIANTS)
            lines.append(f"| `{script.removesuffix('.pgbench')}` ({weight}) | {cells} | {' / '.join(parts)} |")
    finally:
        for name in templates.values():
            server.drop(name)
    lines.append(f"| the mix, weighted | {' | '.join(f'**{mix[v]:.2f}**' for v in VARIANTS)} | |")
    return "\n".join(lines) + "\n"


# --- rendering -----------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _hot(runs: list[Run]) -> dict[str, float]:
    totals: dict[str, list[int]] = {}
    for run in runs:
        for table, (updated, hot) in run.hot.items():
            total = totals.setdefault(table, [0, 0])
            total[0] += updated
            total[1] += hot
    return {table: (hot / updated if updated else 0.0) for table, (updated, hot) in sorted(totals.items())}


def _with_keys(result: WorkloadResult, variant: str) -> str:
    found = result.all_index_bytes.get(variant)
    return f"; every index, primary keys included: {found / 2**20:.1f} MiB" if found else ""


def _begin(run: Run) -> float:
    """The run's mean latency of `BEGIN;` over its scripts (ms)."""
    found = [ms for statement, ms in run.statements.items() if statement.endswith(": BEGIN;")]
    return statistics.mean(found) if found else 0.0


def _from_json(data: dict[str, Any]) -> WorkloadResult:
    runs = [Run(**r) for r in data["runs"]]
    return WorkloadResult(
        data["workload"],
        data["title"],
        data["schema_indexes"],
        runs,
        data.get("explain", {}),
        data.get("all_index_bytes", {}),
    )


def render_saved(saved: dict[str, Any]) -> str:
    """The docs section of a results file written by --json (bench/render_docs.py calls this)."""
    return markdown([_from_json(r) for r in saved["results"]], saved["command"], saved.get("host", ""))


def _relation_lines(by: dict[str, list[Run]]) -> list[str]:
    """Buffers per transaction by table heap and index, each variant's median over its rounds."""
    per: dict[str, dict[str, list[float]]] = {v: {} for v in VARIANTS}
    for variant in VARIANTS:
        for run in by[variant]:
            for relation, blocks in run.relation_buffers.items():
                if run.transactions:
                    per[variant].setdefault(relation, []).append(blocks / run.transactions)
    if not all(per.values()):
        return []
    lines = [
        "",
        "| shared buffers per transaction, by relation (median of rounds) | polyplan | expert |",
        "|---|---|---|",
    ]
    for relation in sorted(set(per["polyplan"]) | set(per["expert"])):
        cells = [f"{_median(per[v][relation]):.2f}" if relation in per[v] else "—" for v in VARIANTS]
        lines.append(f"| `{relation}` | {' | '.join(cells)} |")
    return lines


def markdown(results: list[WorkloadResult], command: str, host: str) -> str:
    lines = [f"Command: `{command}`. {host}".rstrip(), ""]
    for result in results:
        by = {v: [r for r in result.runs if r.variant == v] for v in VARIANTS}
        tps = {v: [r.tps for r in by[v]] for v in VARIANTS}
        ratio = _median(tps["polyplan"]) / _median(tps["expert"]) if tps["expert"] and tps["polyplan"] else 0.0
        pairs = [(p, e) for p in by["polyplan"] for e in by["expert"] if p.round == e.round and e.tps > 0]
        per_round = [p.tps / e.tps for p, e in pairs]
        control = [_begin(e) / _begin(p) if _begin(p) else 0.0 for p, e in pairs]
        lines += [f"### {result.title}", ""]
        lines += [
            f"TPS polyplan ÷ expert, median of rounds: **{ratio:.2f}** (per round "
            f"{', '.join(f'{x:.2f}' for x in per_round)}; spread {min(per_round, default=0):.2f}–"
            f"{max(per_round, default=0):.2f}; median of the per-round ratios {_median(per_round):.2f}). Noise control, the same rounds: expert ÷ polyplan latency of "
            f"`BEGIN;`, a statement that does no work and so measures only the host's scheduling delay: "
            f"{', '.join(f'{x:.2f}' for x in control)} (1.00 = both variants saw the same load).",
            "",
            "| variant | TPS per round | median | secondary indexes after loading | HOT share of updates |",
            "|---|---|---|---|---|",
        ]
        for variant in VARIANTS:
            indexes = result.schema_indexes.get(variant, {})
            index_text = ", ".join(f"{n} {b / 2**20:.1f} MiB" for n, b in indexes.items()) or "none"
            hot = ", ".join(f"{t} {s:.0%}" for t, s in _hot(by[variant]).items())
            lines.append(
                f"| {variant} | {', '.join(f'{x:.0f}' for x in tps[variant])} | {_median(tps[variant]):.0f} | "
                f"{index_text} (total {sum(indexes.values()) / 2**20:.1f} MiB{_with_keys(result, variant)}) | {hot} |"
            )
        per_transaction = {
            v: [r.buffers / r.transactions for r in by[v] if r.buffers and r.transactions] for v in VARIANTS
        }
        if all(per_transaction.values()):
            p, e = (_median(per_transaction[v]) for v in VARIANTS)
            lines += [
                "",
                f"Shared buffers hit or read per transaction (pg_stat_database of each round's database, "
                f"median of rounds): polyplan {p:.1f}, expert {e:.1f} (ratio {p / e:.2f}).",
            ]
        lines += _relation_lines(by)
        loads = [f"{r.load_before} → {r.load_after}" for r in result.runs]
        lines += ["", f"Load averages (1/5/15 min) before → after each run, in run order: {'; '.join(loads)}.", ""]
        statements = sorted({s for r in result.runs for s in r.statements})
        lines += ["| statement (pgbench -r, ms, median of rounds) | polyplan | expert | ratio |", "|---|---|---|---|"]
        for statement in statements:
            p = _median([r.statements[statement] for r in by["polyplan"] if statement in r.statements])
            e = _median([r.statements[statement] for r in by["expert"] if statement in r.statements])
            shown = statement.replace("|", "\\|")
            lines.append(f"| `{shown}` | {p:.3f} | {e:.3f} | {p / e if e else 0:.2f} |")
        for label, plans in result.explain.items():
            lines += ["", f"EXPLAIN (ANALYZE, BUFFERS) of {label}, last round:", ""]
            for variant in VARIANTS:
                if variant in plans:
                    lines += [f"{variant}:", "", "```", plans[variant], "```", ""]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=sorted(WORKLOADS), action="append", help="default: every workload")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--protocol",
        choices=("simple", "extended", "prepared"),
        default="simple",
        help="pgbench's -M: how statements reach the server (default simple)",
    )
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="run the two variants at the same time in each round (each with --clients), not one after the other",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--render", type=Path, help="print the docs section of a saved results file and exit")
    parser.add_argument(
        "--per-script",
        type=int,
        metavar="N",
        help="run each script alone N times on one client and print buffers per transaction by relation",
    )
    args = parser.parse_args()
    if args.render:
        print(render_saved(json.loads(args.render.read_text(encoding="utf-8"))), end="")
        return 0
    url = os.environ.get("POLYPLAN_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    server = Server(url)
    names = args.workload or sorted(WORKLOADS, reverse=True)
    results: list[WorkloadResult] = []
    folder = Path(tempfile.mkdtemp(prefix="ppoltp_"))
    if args.per_script:
        try:
            for name in names:
                print(f"{WORKLOADS[name].title}, each script alone, -M {args.protocol}:\n")
                print(per_script(server, WORKLOADS[name], args.per_script, args.protocol, folder))
        finally:
            server.close()
            shutil.rmtree(folder, ignore_errors=True)
        return 0
    try:
        for name in names:
            results.append(
                bench_workload(
                    server,
                    WORKLOADS[name],
                    args.rounds,
                    Load(args.clients, args.seconds, args.protocol),
                    folder,
                    args.side_by_side,
                )
            )
    finally:
        server.close()
        shutil.rmtree(folder, ignore_errors=True)
    with server.engine("postgres").connect() as connection:
        version = str(connection.exec_driver_sql("SHOW server_version").scalar_one())
    mode = "both variants at once, each with" if args.side_by_side else "one variant at a time,"
    host = f"PostgreSQL {version}, {os.cpu_count()} cores shared with other work, {mode} {args.clients} clients, pgbench -M {args.protocol}."
    parts = [f"--workload {n}" for n in args.workload or []]
    parts += [f"--rounds {args.rounds}", f"--seconds {args.seconds}", f"--clients {args.clients}"]
    parts += ["--side-by-side"] if args.side_by_side else []
    parts += [f"--protocol {args.protocol}"] if args.protocol != "simple" else []
    command = " ".join(["python bench/oltp.py", *parts, *([f"--json {args.json}"] if args.json else [])])
    if args.json:
        saved = {"command": command, "host": host, "results": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(saved, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(markdown(results, command, host), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
