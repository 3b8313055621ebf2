"""Plan → Cassandra tables, query-first (pure: no I/O, no text).

For every entity whose system of record is wide-column:
- one table per access pattern (patterns served by a search projection excepted): the partition
  key is the pattern's equality filters, the clustering columns its range (or prefix) and its
  sort, then the rest of the entity key so that rows stay unique; constant filters
  (`status = 'active'`) are not key columns but *membership*: the table holds only matching rows;
- a table by key (the "base" table) when records are updated or deleted, because changing a
  denormalized row needs the current values of its key columns;
- identical tables are merged (a key lookup usually is the base table);
- the largest partition is estimated; a table with no equality filter, or one whose partition
  would pass ~100 MB / ~100k rows, gets a bucket column in its partition key (PP404 / PP502);
- TTL from retention, compaction from the write pattern (time-window for time series).
A pattern no table can serve without ALLOW FILTERING is an error (PP406) that says why and what
to change; it never becomes a query with ALLOW FILTERING.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.bounded_loads import bounded_loads
from polyplan.model.caps import cap_of
from polyplan.model.derived import (
    all_attributes,
    key_of,
    pattern_positions,
    patterns_of,
    relationships_of,
    snake,
    writes_of,
)
from polyplan.model.domains import effective_distinct
from polyplan.model.ranges import ONE_SIDED
from polyplan.model.schema import (
    AccessPattern,
    Attribute,
    Direction,
    Family,
    FilterOp,
    Growth,
    RequirementsModel,
    TypeName,
    WriteKind,
)
from polyplan.plan.geo import is_geo
from polyplan.plan.ir import Plan
from polyplan.seed.generate import seed_value
from polyplan.stores.search.design import daily_rows_at_horizon
from polyplan.stores.wide_column.cql import schema_name
from polyplan.stores.wide_column.estimate import (
    PARTITION_BYTES_LIMIT,
    PARTITION_ROWS_LIMIT,
    PREFIX_SHARE,
    TEMPORAL,
    UNIT_DAYS,
    Estimate,
    estimate,
    hash_count,
    prefix_length,
    time_unit,
    unique_sets,
)
from polyplan.stores.wide_column.spec import (
    Bucket,
    Column,
    Condition,
    EntityDesign,
    Param,
    Query,
    Restriction,
    Table,
    WideColumnDesign,
)
from polyplan.stores.wide_column.typemap import ROW_OVERHEAD_BYTES, CqlType, Udt, column_bytes, cql_type

MUTATING = (WriteKind.UPDATE, WriteKind.UPSERT, WriteKind.DELETE)
SECONDS_PER_DAY = 86400
# Cassandra refuses a TTL (and a default_time_to_live) above 20 years, on 4.1 and 5.0 alike
# (`Attributes.MAX_TTL`): "default_time_to_live must be less than or equal to 630720000".
MAX_TTL_SECONDS = 20 * 365 * SECONDS_PER_DAY


@dataclass
class _Shape:
    """A table as one pattern (or the base) needs it, before merging, naming and sizing."""

    partition: list[str]
    clustering: list[tuple[str, Direction]]
    conditions: list[Condition]
    columns: list[str]  # attributes
    patterns: list[str]
    role: str
    time_ordered: bool  # the first clustering column is the pattern's range or sort
    name_hint: str
    prefixed: str | None = None  # the attribute a prefix filter reads, with no equality filter beside it
    scan: bool = False  # the model declares the read a scan (access_patterns.scan)

    def identity(self) -> tuple[Any, ...]:
        return (
            tuple(self.partition),
            tuple(name for name, _ in self.clustering),
            frozenset(self.conditions),
            self.time_ordered,
            self.prefixed,
        )


class _Context:
    """What every step for one entity needs."""

    def __init__(self, plan: Plan, entity: str) -> None:
        self.plan = plan
        self.model: RequirementsModel = plan.model
        self.entity = entity
        self.keyspace = keyspace_name(plan.model)
        self.attributes: dict[str, Attribute] = all_attributes(plan.model, entity)
        self.key = list(key_of(plan.model.entities[entity]).attributes)
        self.profile = plan.entities[entity].profile
        self.growth = plan.model.entities[entity].growth
        self.notes: list[Diagnostic] = []
        self.errors: list[Diagnostic] = []
        self.pattern_index = pattern_positions(plan.model)
        self.ttl: int | None = None  # set once per entity by design_entity (it may add a note)

    def note(self, code: str, message: str, path: str, severity: Severity = Severity.WARNING) -> None:
        (self.errors if severity is Severity.ERROR else self.notes).append(Diagnostic(code, message, path, severity))

    def path(self, pattern: str) -> str:
        return f"access_patterns.{self.pattern_index[pattern]}"


def _search_served(plan: Plan, entity: str) -> set[str]:
    return {p for e, projection in plan.projections_in(Family.SEARCH) if e == entity for p in projection.patterns}


def _pattern_shape(ctx: _Context, pattern: AccessPattern) -> _Shape | None:
    """The table `pattern` needs, or None (with a PP406 error) when no table can serve it."""
    where = ctx.path(pattern.name)
    fulltext = [f.attribute for f in pattern.filters if f.op is FilterOp.FULLTEXT]
    if fulltext:
        ctx.note(
            "PP406",
            f"{pattern.name}: Cassandra has no full-text search on {', '.join(fulltext)}; set engines.search so the "
            "planner adds a search projection, or filter by equality",
            where,
            Severity.ERROR,
        )
        return None
    partition: list[str] = []
    conditions: list[Condition] = []
    ranges: list[tuple[str, FilterOp]] = []
    for flt in pattern.filters:
        if flt.value is not None:
            values = tuple(flt.value) if isinstance(flt.value, list) else (flt.value,)
            attribute = ctx.attributes.get(flt.attribute)
            # A constant as a seeded record holds it (a date, not its text: fuzz model 907).
            typed = tuple(v if attribute is None or (t := seed_value(attribute, v)) is None else t for v in values)
            conditions.append(Condition(flt.attribute, values, typed))
        elif flt.op in (FilterOp.EQ, FilterOp.IN):
            if flt.attribute not in partition:
                partition.append(flt.attribute)
        else:
            ranges.append((flt.attribute, flt.op))
    if len({a for a, _ in ranges}) > 1:
        names = " and ".join(sorted({a for a, _ in ranges}))
        ctx.note(
            "PP406",
            f"{pattern.name}: ranges on {names}: one Cassandra table slices a partition by one clustering column "
            "only, so the second range would need ALLOW FILTERING; keep one range (split the pattern, or make one "
            "an equality)",
            where,
            Severity.ERROR,
        )
        return None
    sort = [s for s in pattern.sort if s.attribute not in partition]
    range_attr = ranges[0][0] if ranges else None
    if range_attr is not None and sort and sort[0].attribute != range_attr:
        ctx.note(
            "PP406",
            f"{pattern.name}: a range on {range_attr} with a sort on {sort[0].attribute}: a partition is ordered by "
            f"its first clustering column, which must be {range_attr} for the range, so the sort cannot be served; "
            f"sort by {range_attr} first, or drop the range",
            where,
            Severity.ERROR,
        )
        return None
    clustering: list[tuple[str, Direction]] = []
    if range_attr is not None:
        direction = sort[0].direction if sort else Direction.ASC
        clustering.append((range_attr, direction))
    for s in sort:
        if s.attribute not in {c for c, _ in clustering}:
            clustering.append((s.attribute, s.direction))
    time_ordered = bool(clustering)
    identified = bool(partition) and any(u <= frozenset(partition) for u in unique_sets(ctx.model, ctx.entity))
    if identified and range_attr is None:
        clustering = []  # one row per partition: nothing to order
        time_ordered = False
    else:
        for key_attr in ctx.key:
            if key_attr not in partition and key_attr not in {c for c, _ in clustering}:
                clustering.append((key_attr, Direction.ASC))
    for name in [*partition, *(c for c, _ in clustering)]:
        if ctx.attributes[name].nullable:
            conditions.append(Condition(name, None))
    reads = list(pattern.reads) or list(ctx.attributes)
    columns = _ordered_columns([*partition, *(c for c, _ in clustering), *ctx.key, *reads])
    # A prefix read with nothing to partition by is partitioned by the value's first characters.
    prefixed = ranges[0][0] if ranges and ranges[0][1] is FilterOp.PREFIX and not partition else None
    return _Shape(
        partition,
        clustering,
        _unique(conditions),
        columns,
        [pattern.name],
        "pattern",
        time_ordered,
        pattern.name,
        prefixed,
        pattern.scan,
    )


def _unique(conditions: list[Condition]) -> list[Condition]:
    seen: dict[Condition, None] = {}
    for condition in conditions:
        seen.setdefault(condition, None)
    return list(seen)


def _ordered_columns(names: list[str]) -> list[str]:
    """Names in first-seen order, without repeats (key columns come first by construction)."""
    return list(dict.fromkeys(names))


def _base_shape(ctx: _Context) -> _Shape:
    return _Shape(
        list(ctx.key),
        [],
        [],
        list(ctx.attributes),
        [],
        "base",
        False,
        f"{snake(ctx.entity)}_by_{'_'.join(snake(k) for k in ctx.key)}",
    )


def _merge(shapes: list[_Shape]) -> list[_Shape]:
    """Merge shapes that need the same table (same keys, same membership; directions equal or reversed)."""
    merged: list[_Shape] = []
    for shape in shapes:
        for existing in merged:
            if existing.identity() != shape.identity():
                continue
            same = all(a[1] is b[1] for a, b in zip(existing.clustering, shape.clustering, strict=True))
            reversed_ = all(a[1] is not b[1] for a, b in zip(existing.clustering, shape.clustering, strict=True))
            if not (same or reversed_):
                continue
            existing.patterns += shape.patterns
            existing.columns = _ordered_columns(existing.columns + shape.columns)
            if shape.role == "base":
                existing.role, existing.name_hint = "base", shape.name_hint
            break
        else:
            merged.append(shape)
    return merged


def _selectivity(ctx: _Context, conditions: list[Condition]) -> tuple[float, list[str]]:
    fraction = 1.0
    notes: list[str] = []
    for condition in conditions:
        if condition.values is None:
            continue
        attribute = ctx.attributes[condition.attribute]
        if attribute.type is TypeName.ENUM and attribute.values:
            weights = attribute.weights or [1.0] * len(attribute.values)
            total = sum(weights) or 1.0
            share = sum(w for v, w in zip(attribute.values, weights, strict=True) if v in condition.values) / total
        elif attribute.type is TypeName.BOOLEAN:
            share = 0.5 * len(set(condition.values))
        else:
            share = min(1.0, len(condition.values) / (effective_distinct(attribute) or 1000))
        fraction *= share
        notes.append(f"membership {condition.describe()}: {share:.0%} of the rows")
    return fraction, notes


def _row_bytes(ctx: _Context, columns: list[str], bucket: bool) -> float:
    return (
        ROW_OVERHEAD_BYTES
        + sum(column_bytes(ctx.attributes[c]) for c in columns)
        + (column_bytes(None) if bucket else 0)
    )


def _bucket_name(ctx: _Context, base: str) -> str:
    name = base
    while name in ctx.attributes:
        name = f"{name}_bucket"
    return name


def _unbounded_note(ctx: _Context, shape: _Shape, worst: Estimate, time_ordered: bool) -> None:
    """PP459: nothing bounds a partition, and under a plausible skew it would outgrow the limits."""
    where = ctx.path(shape.patterns[0]) if shape.patterns else f"entities.{ctx.entity}"
    remedy = (
        "declare hot_share (or max_children) on the relationship and a time bucket is sized from it"
        if time_ordered
        else "its rows have no time order to bucket by and a hash bucket would make every read query every "
        "bucket: declare max_children or hot_share on the relationship, or sort the read by a time attribute"
    )
    ctx.note(
        "PP459",
        f"{', '.join(shape.patterns) or ctx.entity}: the partition by {', '.join(shape.partition)} is sized from the "
        f"average, but nothing bounds it: {'; '.join(a for a in worst.assumptions if 'unbounded' in a)}, so it could "
        f"hold {worst.rows_per_partition:,.0f} rows / {worst.bytes_per_partition / 1024**2:,.0f} MB at the horizon; "
        f"{remedy}, or give the entity a retention",
        where,
    )


def _size(ctx: _Context, shape: _Shape) -> tuple[Bucket | None, Estimate, Estimate | None, list[str]]:
    """Estimate the largest partition and add a bucket when the table needs one."""
    selectivity, notes = _selectivity(ctx, shape.conditions)
    daily = daily_rows_at_horizon(
        ctx.growth.rows_per_day, ctx.growth.monthly_growth_rate, ctx.model.options.horizon_years
    )
    row_bytes = _row_bytes(ctx, shape.columns, False)
    first = estimate(ctx.plan, ctx.entity, shape.partition, selectivity, row_bytes, daily * selectivity)
    time_attr = shape.clustering[0][0] if shape.time_ordered and shape.clustering else None
    temporal = ctx.attributes[time_attr].type if time_attr else None
    # The design rests on what the model states; an unbounded child set is only reported, since
    # bucketing every partition for an assumed heavy tail would make the typical read walk buckets.
    worst = estimate(ctx.plan, ctx.entity, shape.partition, selectivity, row_bytes, daily * selectivity, True)
    if shape.partition and worst.rows_per_partition > first.rows_per_partition and worst.too_big:
        _unbounded_note(ctx, shape, worst, temporal in TEMPORAL)
    first = replace(first, assumptions=(*notes, *first.assumptions))
    if shape.partition and not first.too_big:
        return None, first, None, []
    row_bytes = _row_bytes(ctx, shape.columns, True)
    if shape.prefixed is not None:
        return _prefix_bucket(ctx, shape.prefixed, first, row_bytes)
    share = first.rows_per_partition / first.rows if first.rows >= 1 else 1.0
    per_day = first.rows_per_day * share
    reasons: list[str] = []
    limits = f"half of {PARTITION_ROWS_LIMIT:,} rows / {PARTITION_BYTES_LIMIT // 1024**2} MB (headroom for growth)"
    if time_attr is not None and temporal in TEMPORAL and per_day > 0:
        unit, fits = time_unit(per_day, row_bytes, temporal)
        rows = min(first.rows_per_partition, per_day * UNIT_DAYS[unit])
        why = f"{per_day:,.0f} rows/day per partition at the horizon: one {unit} of {time_attr} stays within {limits}"
        bucket = Bucket(_bucket_name(ctx, f"{snake(time_attr)}_{unit}"), "time", (time_attr,), unit=unit, reason=why)
        if not fits:
            reasons.append(f"even a {unit} bucket holds {rows:,.0f} rows")
    else:
        write_rate = ctx.profile.insert_rate * selectivity if not shape.partition else 0.0
        count = hash_count(first.rows_per_partition, row_bytes, write_rate)
        rows = first.rows_per_partition / count
        why = (
            f"{count} hash bucket(s) of the key spread {first.rows_per_partition:,.0f} rows so each partition stays within "
            f"{limits}" + (f" and {write_rate:,.1f} writes/s" if write_rate else "")
        )
        bucket = Bucket(_bucket_name(ctx, "bucket"), "hash", tuple(ctx.key), count=count, reason=why)
    after = replace(
        first, rows_per_partition=rows, row_bytes=row_bytes, partitions=max(1.0, first.rows / max(rows, 1.0))
    )
    return bucket, after, first, reasons


def _prefix_bucket(
    ctx: _Context, attr: str, first: Estimate, row_bytes: float
) -> tuple[Bucket, Estimate, Estimate, list[str]]:
    """A prefix read with no equality filter: partition by the first k characters of the value, k the
    shortest length whose largest bucket stays within the limits, so a prefix of k or more
    characters reads one partition (never every bucket, as a hash bucket would)."""
    attribute = ctx.attributes[attr]
    declared = effective_distinct(attribute)
    if declared:
        distinct, said = float(declared), f"{declared:,} distinct values (distinct)"
    else:
        distinct, said = first.rows, "every value assumed distinct (declare `distinct`)"
    if attribute.hot_share:
        distinct = min(distinct, 1 / attribute.hot_share)
        said = f"the most frequent value holds {attribute.hot_share:.0%} (hot_share)"
    length, rows, fits = prefix_length(first.rows, distinct, row_bytes, attribute.max_length)
    limits = f"half of {PARTITION_ROWS_LIMIT:,} rows / {PARTITION_BYTES_LIMIT // 1024**2} MB (headroom for growth)"
    why = (
        f"the first {length} character(s) of {attr}: the largest such prefix holds about {rows:,.0f} of "
        f"{first.rows:,.0f} rows ({said}; the commonest first character taken as {PREFIX_SHARE:.0%} of the values, "
        f"each further one a tenth again), within {limits}; a prefix of {length}+ characters reads one partition"
    )
    bucket = Bucket(_bucket_name(ctx, f"{snake(attr)}_prefix{length}"), "prefix", (attr,), reason=why, length=length)
    after = replace(
        first,
        rows_per_partition=rows,
        row_bytes=row_bytes,
        partitions=max(1.0, first.rows / max(rows, 1.0)),
        assumptions=(f"the largest {length}-character prefix of {attr}: {said}",),
    )
    return bucket, after, first, [] if fits else [f"even {length} characters leave {rows:,.0f} rows in a bucket"]


def retention_seconds(growth: Growth) -> int | None:
    """How long the model keeps a record (retention, else its TTL); None when it must be kept."""
    if growth.must_keep:
        return None
    return growth.retention_days * SECONDS_PER_DAY if growth.retention_days else growth.ttl_seconds


def table_ttl(growth: Growth) -> int | None:
    """A table's default TTL: the retention, unless it is longer than any TTL can say."""
    ttl = retention_seconds(growth)
    return ttl if ttl is None or ttl <= MAX_TTL_SECONDS else None


def _archive(ctx: _Context) -> None:
    """Cassandra has no archive tier: an archive rule becomes a documented export job (PP413)."""
    days = ctx.growth.archive_after_days
    if not days:
        return
    column = ctx.growth.time_attribute or "its time attribute"
    ctx.note(
        "PP413",
        f"{ctx.entity}: archive_after_days ({days}) has no Cassandra mechanism; rows are not moved: a scheduled "
        f"export (DSBulk unload of the rows with {column} older than {days} days, per time bucket) copies them to "
        "cold storage"
        + (" before the TTL removes them" if ctx.growth.retention_days else ", and they stay in the table"),
        f"entities.{ctx.entity}.growth.archive_after_days",
    )


def _ttl(ctx: _Context) -> int | None:
    """The default TTL from retention; None when records are kept, or kept longer than a TTL can say."""
    _archive(ctx)
    ttl = retention_seconds(ctx.growth)
    if ttl is not None and ttl > MAX_TTL_SECONDS:
        # Capping would delete rows before the retention says; keeping them longer only costs space.
        ctx.note(
            "PP402",
            f"{ctx.entity}: a retention of {ttl:,} s is beyond Cassandra's longest TTL ({MAX_TTL_SECONDS:,} s, "
            "20 years); its tables get no default TTL, so a scheduled job deletes records past the retention",
            f"entities.{ctx.entity}.growth",
        )
        return None
    return ttl


def _time_series(ctx: _Context) -> bool:
    deletes = any(w.kind is WriteKind.DELETE for w in writes_of(ctx.model, ctx.entity))
    return ctx.profile.append_only and not deletes


def _compaction(ctx: _Context, ttl: int | None) -> tuple[tuple[tuple[str, str | int], ...], str]:
    if _time_series(ctx) and ttl:
        # About 30 windows over the retention: few SSTables per read, whole windows expire at once.
        days = max(1, -(-ttl // SECONDS_PER_DAY // 30))
        options: tuple[tuple[str, str | int], ...] = (
            ("class", "TimeWindowCompactionStrategy"),
            ("compaction_window_unit", "DAYS"),
            ("compaction_window_size", days),
        )
        return options, f"time-window compaction ({days}-day windows): append-only time series with TTL"
    if _time_series(ctx):
        # Kept for ever, no window is ever dropped whole: windows would only pile up SSTables.
        return (
            ("class", "SizeTieredCompactionStrategy"),
        ), "size-tiered compaction: append-only but kept for ever (no TTL), so time windows would never expire whole"
    if ctx.profile.update_rate > 0 and ctx.profile.read_rate >= ctx.profile.write_rate:
        return (("class", "LeveledCompactionStrategy"),), "leveled compaction: rows are updated and reads dominate"
    return (
        ("class", "SizeTieredCompactionStrategy"),
    ), "size-tiered compaction: write-heavy or insert-only without a time order"


def _table(ctx: _Context, shape: _Shape, name: str, udts: dict[str, Udt]) -> Table:
    bucket, size, before, extra = _size(ctx, shape)
    ttl = ctx.ttl
    compaction, compaction_reason = _compaction(ctx, ttl)
    columns = [
        Column(
            attr,
            cql_type(ctx.attributes[attr], f"{snake(ctx.entity)}_{snake(attr)}", udts, f"{ctx.entity}.{attr}"),
            attr,
        )
        for attr in shape.columns
    ]
    partition = list(shape.partition)
    if bucket is not None:
        if bucket.kind == "hash":
            kind = CqlType("int")
        elif bucket.kind == "prefix":
            kind = CqlType("text")
        else:
            kind = CqlType("date" if ctx.attributes[bucket.source[0]].type is TypeName.DATE else "timestamp")
        columns.insert(len(partition), Column(bucket.column, kind, None))
        partition.append(bucket.column)
    reasons = [
        "system of record by key: updates and deletes read the current row here first"
        if shape.role == "base"
        else f"serves {', '.join(shape.patterns)}",
        f"largest partition at the horizon: {size.rows_per_partition:,.0f} rows, {size.bytes_per_partition / 1024**2:,.2f} MB",
        compaction_reason,
    ]
    if shape.role == "base" and shape.patterns:
        reasons[0] += f"; also serves {', '.join(shape.patterns)}"
    if ttl:
        reasons.append(
            f"default TTL {ttl:,} s from retention (counted from each write; rows written late, e.g. a backfill, "
            "should be written USING TTL computed from their age)"
        )
    if bucket is not None:
        reasons.append(bucket.reason)
    reasons += extra
    return Table(
        name=name,
        keyspace=ctx.keyspace,
        entity=ctx.entity,
        role=shape.role,
        patterns=tuple(shape.patterns),
        partition_key=tuple(partition),
        clustering=tuple(shape.clustering),
        columns=tuple(columns),
        conditions=tuple(shape.conditions),
        bucket=bucket,
        estimate=size,
        unbucketed=before,
        ttl_seconds=ttl,
        compaction=compaction,
        reasons=tuple(reasons),
    )


def _bucket_notes(ctx: _Context, table: Table) -> None:
    if table.bucket is None:
        return
    where = ctx.path(table.patterns[0]) if table.patterns else f"entities.{ctx.entity}"
    before = table.unbucketed
    if table.bucket.kind == "prefix":
        ctx.note(
            "PP474",
            f"{', '.join(table.patterns)}: table {table.name} is partitioned by the first {table.bucket.length} "
            f"character(s) of {table.bucket.source[0]} ({table.bucket.column}), so a prefix of "
            f"{table.bucket.length} or more characters reads one partition; the application sends no shorter "
            "prefix (it would need every partition)",
            where,
        )
    elif table.bucket.kind == "hash" and table.partition_key == (table.bucket.column,):
        _scatter_note(ctx, table, where)
    elif before is not None and table.partition_key == (table.bucket.column,):
        ctx.note(
            "PP404",
            f"{', '.join(table.patterns) or table.name}: no equality filter to partition by; table {table.name} is "
            f"partitioned by a {table.bucket.kind} bucket column {table.bucket.column} instead "
            f"({table.bucket.reason}), and the query runs once per bucket",
            where,
        )
    elif before is not None:
        assumed = [a for a in before.assumptions if "assumed" in a]
        ctx.note(
            "PP502",
            f"{table.name}: the largest partition would hold {before.rows_per_partition:,.0f} rows / "
            f"{before.bytes_per_partition / 1024**2:,.0f} MB at the horizon; bucketed by {table.bucket.column} "
            f"({table.bucket.reason})" + (f"; estimate {'; '.join(assumed)}" if assumed else ""),
            where,
        )
    if table.estimate.too_big:
        ctx.note(
            "PP502",
            f"{table.name}: even bucketed, a partition holds {table.estimate.rows_per_partition:,.0f} rows; "
            "add an equality filter or shorten the retention",
            where,
        )


def _scatter_note(ctx: _Context, table: Table, where: str) -> None:
    """A table every read of which visits every hash bucket: allowed for a declared scan (PP473),
    refused otherwise (PP406), since each execution would run once per bucket. A single bucket
    scatters nothing: the whole table fits one partition at the horizon, and every read is one
    query of it (PP404), declared a scan or not."""
    assert table.bucket is not None
    if table.bucket.count == 1:
        ctx.note(
            "PP404",
            f"{', '.join(table.patterns)}: no equality filter to partition by; table {table.name} is one partition "
            f"under a single hash bucket column {table.bucket.column} ({table.bucket.reason}), so each execution "
            "reads that one partition",
            where,
        )
        return
    scans = [p for p in table.patterns if _declared_scan(ctx, p)]
    others = [p for p in table.patterns if p not in scans]
    if others:
        ctx.note(
            "PP406",
            f"{', '.join(others)}: no equality filter to partition by and no time or prefix order, so table "
            f"{table.name} would be spread over {table.bucket.count} hash bucket(s) and every execution would run "
            f"once per bucket; add an equality filter, or declare the read a scan (scan: true) if it really reads "
            "everything",
            where,
            Severity.ERROR,
        )
    if scans:
        ctx.note(
            "PP473",
            f"{', '.join(scans)}: a declared scan: table {table.name} is partitioned by a hash bucket column "
            f"{table.bucket.column} ({table.bucket.reason}), and each execution runs once per bucket "
            f"({table.bucket.count} queries)",
            where,
        )


def _declared_scan(ctx: _Context, pattern: str) -> bool:
    return any(p.name == pattern and p.scan for p in ctx.model.access_patterns)


def _consistency(pattern: AccessPattern) -> str:
    # Writes use LOCAL_QUORUM, so LOCAL_QUORUM reads see them (R + W > RF); eventual reads take one replica.
    return "LOCAL_ONE" if pattern.consistency.value == "eventual" else "LOCAL_QUORUM"


def _query(ctx: _Context, pattern: AccessPattern, table: Table) -> Query:
    params: list[Param] = []
    restrictions: list[Restriction] = []
    plan: list[str] = []
    used: set[str] = set()

    def name_for(base: str) -> str:
        candidate, n = snake(base) or "p", 2
        while candidate in used:
            candidate, n = f"{snake(base)}_{n}", n + 1
        used.add(candidate)
        return candidate

    ops = {f.attribute: f.op for f in pattern.filters if f.value is None}
    for column in table.partition_key:
        if table.bucket is not None and column == table.bucket.column:
            name = name_for(column)
            params.append(Param(name, None, "bucket"))
        else:
            op = ops[column]
            name = name_for(column)
            params.append(Param(name, column, "in" if op is FilterOp.IN else "eq"))
            if op is FilterOp.IN:
                plan.append(f"run once per value of :{name} (in parallel) and merge the results")
        restrictions.append(Restriction(column, "=", name))
    ranged = next(((a, op) for a, op in ops.items() if op in (FilterOp.RANGE, FilterOp.PREFIX)), None)
    for attr, op in ops.items():
        if op in ONE_SIDED:
            # A one-sided slice of the clustering column: one bound, the other end open.
            kind, symbol = ONE_SIDED[op]
            name = name_for(f"{attr}_{kind}")
            params.append(Param(name, attr, f"range_{kind}"))
            restrictions.append(Restriction(attr, symbol, name))
    if ranged is not None:
        attr, op = ranged
        low, high = (f"{attr}_from", f"{attr}_to") if op is FilterOp.RANGE else (f"{attr}_prefix", f"{attr}_prefix_end")
        low_name, high_name = name_for(low), name_for(high)
        kinds = ("range_from", "range_to") if op is FilterOp.RANGE else ("prefix", "prefix_end")
        params += [Param(low_name, attr, kinds[0]), Param(high_name, attr, kinds[1])]
        restrictions += [Restriction(attr, ">=", low_name), Restriction(attr, "<", high_name)]
        if op is FilterOp.PREFIX:
            plan.append(f":{high_name} = prefix_end(:{low_name}) (the prefix with its last character incremented)")
            if table.bucket is not None and table.bucket.kind == "prefix":
                plan.append(
                    f":{table.bucket.column} = prefix_bucket(:{low_name}, {table.bucket.length}) (its first "
                    f"{table.bucket.length} characters); a shorter prefix is not sent"
                )
    sort = [s for s in pattern.sort if s.attribute not in table.partition_key]
    order = tuple((s.attribute, s.direction) for s in sort) if table.clustering else ()
    limit = pattern.limit
    if table.bucket is not None and table.bucket.kind != "prefix":
        plan.append(_bucket_plan(table, pattern, ranged, limit))
    chosen = list(pattern.reads) or [c.attribute for c in table.columns if c.attribute]
    # The sort columns are always read: merging buckets or IN values needs them.
    select = tuple(dict.fromkeys([*(a for a in chosen if a), *(c for c, _ in order)]))
    bounded = {b.load.entity: b for b in bounded_loads(ctx.plan.model) if b.pattern.name == pattern.name}
    for other in pattern.loaded:
        if other in bounded:
            # A bounded load is a read of its own: a table clustered by the load's sort, read with LIMIT.
            plan.append(f"then read {bounded[other].describe()} with {bounded[other].name}, once per row")
            continue
        ctx.note(
            "PP404",
            f"{pattern.name}: Cassandra has no joins; {other} is read by the application with its own pattern "
            f"after this query (or embedded if it is owned and small)",
            f"{ctx.path(pattern.name)}.loads",
        )
        plan.append(f"then load {other} for each row with {other}'s own access pattern")
    return Query(
        pattern=pattern.name,
        entity=ctx.entity,
        keyspace=ctx.keyspace,
        table=table.name,
        select=select,
        restrictions=tuple(restrictions),
        order=order,
        limit=limit,
        consistency=_consistency(pattern),
        params=tuple(params),
        read_plan=tuple(plan),
        description=pattern.description,
    )


def _bucket_plan(table: Table, pattern: AccessPattern, ranged: tuple[str, FilterOp] | None, limit: int | None) -> str:
    bucket = table.bucket
    assert bucket is not None
    if bucket.kind == "time":
        attr = bucket.source[0]
        newest_first = bool(table.clustering) and table.clustering[0][1] is Direction.DESC
        sort = next((s for s in pattern.sort if s.attribute == attr), None)
        if sort is not None:
            newest_first = sort.direction is Direction.DESC
        if ranged is not None and ranged[0] == attr:
            span = f"each {bucket.unit} bucket between :{attr}_from and :{attr}_to, " + (
                "newest first" if newest_first else "oldest first"
            )
        elif newest_first:
            span = f"each {bucket.unit} bucket from the current one back to older ones"
        else:
            span = (
                f"each {bucket.unit} bucket from the oldest one kept (now minus the retention, or the first one the "
                "application recorded) forward"
            )
        stop = f"; stop once {limit} rows are collected" if limit else ""
        return f"bind :{bucket.column} to {span}, computed with time_bucket(value, '{bucket.unit}'){stop}"
    last = (bucket.count or 1) - 1
    keep = f" and keep the first {limit}" if limit else ""
    if table.clustering and pattern.sort:
        merge = "merge the rows by " + ", ".join(f"{s.attribute} {s.direction.value}" for s in pattern.sort) + keep
    else:
        merge = "concatenate the rows" + keep
    return f"run once per :{bucket.column} in 0..{last} (in parallel), then {merge}"


def _names(ctx: _Context, shapes: list[_Shape], taken: set[str]) -> list[str]:
    names = []
    for shape in shapes:
        base = schema_name(shape.name_hint if shape.role == "base" or not shape.patterns else shape.patterns[0])
        name, n = base, 2
        while name in taken:
            name, n = schema_name(f"{base}_{n}"), n + 1
        taken.add(name)
        names.append(name)
    return names


def design_entity(
    plan: Plan, entity: str, taken: set[str]
) -> tuple[EntityDesign | None, list[Diagnostic], list[Diagnostic]]:
    """The tables and queries of one wide-column entity, with its warnings and errors."""
    ctx = _Context(plan, entity)
    served_elsewhere = _search_served(plan, entity)
    # Geo reads get no table here (PP423 names the store that would serve them).
    patterns = [p for p in patterns_of(ctx.model, entity) if p.name not in served_elsewhere and not is_geo(p)]
    shapes: list[_Shape] = []
    for pattern in patterns:
        shape = _pattern_shape(ctx, pattern)
        if shape is not None:
            shapes.append(shape)
    mutated = any(w.kind in MUTATING for w in writes_of(ctx.model, entity))
    if mutated or not shapes:
        shapes.insert(0, _base_shape(ctx))
    shapes = _merge(shapes)
    if ctx.errors:
        return None, ctx.notes, ctx.errors
    udts: dict[str, Udt] = {}
    ctx.ttl = _ttl(ctx)
    _cap_notes(ctx)
    tables = [_table(ctx, shape, name, udts) for shape, name in zip(shapes, _names(ctx, shapes, taken), strict=True)]
    for table in tables:
        _bucket_notes(ctx, table)
    # Imported here: the counters module builds on this one's Table and Query.
    from polyplan.stores.wide_column.counters import apply_counters, counter_reads

    tables, counted = apply_counters(ctx.model, entity, tables, taken)
    ctx.notes += counted
    by_pattern = {p: t for t in tables for p in t.patterns}
    queries = tuple(
        counter_reads(_query(ctx, p, by_pattern[p.name]), tables, list(p.reads or ctx.attributes)) for p in patterns
    )
    enforced = _unenforced(ctx)
    if enforced:
        ctx.note(
            "PP402",
            f"{entity}: Cassandra enforces no {', '.join(enforced)}; the application validates them before writing",
            f"entities.{entity}",
        )
    base = next((t.name for t in tables if t.role == "base"), None)
    return (
        EntityDesign(
            entity,
            tuple(tables),
            base,
            tuple(udts.values()),
            queries,
            _time_series(ctx),
            bool(plan.entities[entity].projections),
        ),
        ctx.notes,
        ctx.errors,
    )


def _cap_notes(ctx: _Context) -> None:
    """PP475: Cassandra has no capped table; PP476: a loss-tolerable entity is written at LOCAL_ONE."""
    rule = cap_of(ctx.model, ctx.entity)
    if rule is not None:
        per_second = ctx.growth.rows_per_day / SECONDS_PER_DAY
        ttl = (
            f"a TTL of about {rule.max_records / per_second:,.0f} s (the cap at {per_second:,.2f} inserts/s)"
            if per_second
            else "a TTL"
        )
        ctx.note(
            "PP475",
            f"{ctx.entity}: Cassandra has no capped table, so {rule.describe()} is not kept by the store: give the "
            f"rows {ttl}, which keeps about the cap while the insert rate holds, or run a trim job that reads the "
            f"newest {rule.max_records:,} by {rule.order} and deletes older rows (each delete leaves a tombstone)",
            f"entities.{ctx.entity}.growth.cap",
        )
    if ctx.model.entities[ctx.entity].loss_tolerable:
        ctx.note(
            "PP476",
            f"{ctx.entity}: loss_tolerable: its writes use LOCAL_ONE (writes.json), acknowledged by one replica: "
            "a write is lost if that replica fails before hinted handoff or repair copies it, and a LOCAL_QUORUM "
            "read may not see it yet",
            f"entities.{ctx.entity}.loss_tolerable",
        )


def _unenforced(ctx: _Context) -> list[str]:
    found = []
    attributes = ctx.attributes.values()
    if any(a.unique for a in attributes) or ctx.model.entities[ctx.entity].unique:
        found.append("uniqueness")
    if any(a.type is TypeName.ENUM for a in attributes):
        found.append("enum values")
    if (
        any(a.min is not None or a.max is not None or a.pattern for a in attributes)
        or ctx.model.entities[ctx.entity].checks
    ):
        found.append("CHECK rules")
    if any(not a.nullable for name, a in ctx.attributes.items() if name not in ctx.key):
        found.append("NOT NULL")
    if any(r.to == ctx.entity for r in relationships_of(ctx.model, ctx.entity)):
        found.append("references")
    return found


def keyspace_name(model: RequirementsModel) -> str:
    """The keyspace: the model's name (already a legal, lower-case identifier)."""
    return schema_name(model.name)


def design_wide_column(plan: Plan) -> WideColumnDesign:
    """Every table, type and query for the plan's wide-column entities."""
    entities: list[EntityDesign] = []
    notes: list[Diagnostic] = []
    errors: list[Diagnostic] = []
    taken: set[str] = set()
    for name in plan.records_in(Family.WIDE_COLUMN):
        designed, found, failed = design_entity(plan, name, taken)
        notes += found
        errors += failed
        if designed is not None:
            entities.append(designed)
    return WideColumnDesign(keyspace_name(plan.model), tuple(entities), tuple(notes), tuple(errors))
