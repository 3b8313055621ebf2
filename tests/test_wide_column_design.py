"""Cassandra design rules: keys from patterns, membership, bucketing, quoting, and no ALLOW FILTERING."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from polyplan.diagnostics import DiagnosticError, Severity
from polyplan.model.schema import Direction, TypeName
from polyplan.pipeline import plan_text, render
from polyplan.plan.ir import Plan
from polyplan.stores.wide_column import Target
from polyplan.stores.wide_column.connect import schema_keyspace, supported_release
from polyplan.stores.wide_column.cql import quote, retarget, schema_name, split_statements
from polyplan.stores.wide_column.design import design_wide_column
from polyplan.stores.wide_column.estimate import (
    PARTITION_BYTES_LIMIT,
    PARTITION_ROWS_LIMIT,
    hash_count,
    time_unit,
)
from polyplan.stores.wide_column.runtime import (
    buckets_between,
    hash_bucket,
    next_bucket,
    prefix_end,
    time_bucket,
)
from polyplan.stores.wide_column.spec import WideColumnDesign
from polyplan.stores.wide_column.statements import select
from polyplan.stores.wide_column.values import canonical, to_driver, to_json
from polyplan.stores.wide_column.writes import operations
from tests.conftest import SCENARIOS, planned

# Sensors and alerts: a time series, a table needing a time bucket, one needing a hash bucket.
TELEMETRY = textwrap.dedent(
    """
    name: wc_telemetry
    description: Sensors report readings; dashboards read recent readings per device.
    entities:
      Device:
        attributes:
          serial: {type: string, max_length: 32, unique: true}
          model: {type: string, max_length: 40, distinct: 50}
          site: {type: string, max_length: 40, distinct: 200}
          installed_at: {type: timestamptz}
        growth: {initial_rows: 50000, rows_per_day: 20}
        placement: {family: wide_column}
      Reading:
        key: {attributes: [device_id, recorded_at], kind: natural}
        attributes:
          device_id: {type: uuid}
          recorded_at: {type: timestamptz}
          temperature: {type: float}
          humidity: {type: float, nullable: true}
          quality: {type: enum, values: [good, suspect, bad], weights: [90, 8, 2]}
          location: {type: object, fields: {lat: {type: float}, lon: {type: float}}}
          tags: {type: list, items: {type: string, max_length: 20}, avg_items: 2}
        growth: {initial_rows: 0, rows_per_day: 50000000, retention_days: 365, time_attribute: recorded_at}
        placement: {family: wide_column}
      Alert:
        attributes:
          raised_at: {type: timestamptz}
          message: {type: text, avg_length: 200}
          severity: {type: enum, values: [info, warning, critical]}
        growth: {initial_rows: 100000, rows_per_day: 2000}
        placement: {family: wide_column}
    relationships:
      - {name: device_alerts, kind: one_to_many, from: Device, to: Alert, avg_children: 20}
    access_patterns:
      - {name: device_by_serial, entity: Device, filters: [{attribute: serial}], rate: 50}
      - {name: devices_of_site, entity: Device, filters: [{attribute: site}], sort: [{attribute: serial}], rate: 5}
      - name: readings_of_device
        entity: Reading
        filters: [{attribute: device_id}, {attribute: recorded_at, op: range}]
        sort: [{attribute: recorded_at, direction: desc}]
        limit: 500
        rate: 200
      - name: latest_readings
        entity: Reading
        filters: [{attribute: device_id}]
        sort: [{attribute: recorded_at, direction: asc}]
        limit: 10
      - name: bad_readings
        entity: Reading
        filters: [{attribute: quality, value: bad}, {attribute: recorded_at, op: range}]
        sort: [{attribute: recorded_at}]
        limit: 100
        consistency: eventual
      - name: alerts_of_device
        entity: Alert
        filters: [{attribute: device_id}]
        sort: [{attribute: raised_at, direction: desc}]
        limit: 50
      - {name: all_alerts, entity: Alert, limit: 100, scan: true}
    write_patterns:
      - {name: record_reading, entity: Reading, kind: insert, rate: 3000}
      - {name: move_device, entity: Device, kind: update, attributes: [site], rate: 1}
      - {name: retire_device, entity: Device, kind: delete, rate: 1}
    """
)

# Awkward names: a reserved-word entity and attributes, spaces, hyphens; IN, prefix, constants.
SOCIAL = textwrap.dedent(
    """
    name: wc_social
    description: Users and their orders kept in Cassandra, with names that need quoting.
    entities:
      User:
        attributes:
          handle: {type: string, max_length: 30, unique: true}
          Full Name: {type: string, max_length: 100}
          group: {type: enum, values: [free, pro], weights: [80, 20]}
          joined: {type: date}
        growth: {initial_rows: 1000000, rows_per_day: 5000}
        placement: {family: wide_column}
      Order:
        attributes:
          placed-at: {type: timestamptz}
          total: {type: decimal, precision: 10, scale: 2}
          status: {type: enum, values: [open, paid, shipped], weights: [10, 30, 60]}
          select: {type: string, max_length: 10, nullable: true}
          lines:
            type: list
            items: {type: object, fields: {sku: {type: string, max_length: 20}, qty: {type: integer, bits: 16}}}
            avg_items: 3
          meta: {type: json, nullable: true}
        growth: {initial_rows: 0, rows_per_day: 100000, monthly_growth_rate: 0.05}
        placement: {family: wide_column}
    relationships:
      - {name: user_orders, kind: one_to_many, from: User, to: Order}
    access_patterns:
      - {name: user_by_handle, entity: User, filters: [{attribute: handle}], rate: 100}
      - {name: users_in_group, entity: User, filters: [{attribute: group, op: in}], sort: [{attribute: handle}], limit: 30}
      - name: orders_of_user
        entity: Order
        filters: [{attribute: user_id}]
        sort: [{attribute: placed-at, direction: desc}]
        limit: 20
        reads: [id, placed-at, total, status]
      - name: open_orders
        entity: Order
        filters: [{attribute: status, value: open}]
        sort: [{attribute: placed-at}]
        limit: 50
      - name: orders_by_select
        entity: Order
        filters: [{attribute: user_id}, {attribute: select, op: prefix}]
    write_patterns:
      - {name: place_order, entity: Order, kind: insert, rate: 10}
      - {name: pay_order, entity: Order, kind: update, attributes: [status], rate: 5}
      - {name: rename_user, entity: User, kind: update, attributes: [handle], rate: 1}
    """
)

# A history bucketed from its declared skew (tests/test_skew.py has the reasoning).
CHAT = (Path(__file__).parent / "models" / "chat_history.yaml").read_text(encoding="utf-8")
# A prefix search with no equality filter, kept in Cassandra (tests/test_scatter.py).
DIRECTORY = (Path(__file__).parent / "models" / "user_directory.yaml").read_text(encoding="utf-8")
OWN_MODELS = {"wc_telemetry": TELEMETRY, "wc_social": SOCIAL, "wc_chat": CHAT, "wc_directory": DIRECTORY}


def _plan(text: str) -> Plan:
    return plan_text(text, "<test>")


def _design(text: str) -> WideColumnDesign:
    return design_wide_column(_plan(text))


@pytest.fixture(scope="module")
def telemetry() -> WideColumnDesign:
    return _design(TELEMETRY)


@pytest.fixture(scope="module")
def social() -> WideColumnDesign:
    return _design(SOCIAL)


def _all_designs() -> list[tuple[str, WideColumnDesign]]:
    found = [(name, _design(text)) for name, text in OWN_MODELS.items()]
    found += [(path.stem, design_wide_column(planned(path))) for path in SCENARIOS]
    return [(name, design) for name, design in found if design.entities]


# --- keys from patterns ----------------------------------------------------------------------


def test_partition_key_from_equality_and_clustering_from_range_and_sort(telemetry: WideColumnDesign) -> None:
    table = telemetry.table("readings_of_device")
    assert table.partition_key[0] == "device_id"
    assert table.clustering == (("recorded_at", Direction.DESC),)  # the key's rest is already there
    alerts = telemetry.table("alerts_of_device")
    assert alerts.partition_key == ("device_id",)
    assert alerts.clustering == (("raised_at", Direction.DESC), ("id", Direction.ASC))  # id keeps rows unique


def test_a_unique_equality_gives_single_row_partitions(telemetry: WideColumnDesign) -> None:
    table = telemetry.table("device_by_serial")
    assert table.partition_key == ("serial",)
    assert table.clustering == ()
    assert table.estimate.rows_per_partition == 1


def test_base_table_only_for_entities_changed_in_place(telemetry: WideColumnDesign) -> None:
    by_entity = {e.entity: e for e in telemetry.entities}
    assert by_entity["Device"].base_table == "device_by_id"  # move_device and retire_device need it
    assert by_entity["Reading"].base_table is None  # append-only
    assert by_entity["Alert"].base_table is None


def test_same_table_patterns_are_merged_with_reversed_order(telemetry: WideColumnDesign) -> None:
    # latest_readings needs (device_id | recorded_at) too, in the other direction: one table serves both.
    readings = [t for t in telemetry.entities[1].tables if "latest_readings" in t.patterns]
    assert len(readings) == 1
    query = next(q for q in telemetry.entities[1].queries if q.pattern == "latest_readings")
    assert query.order == (("recorded_at", Direction.ASC),)
    assert "ORDER BY recorded_at ASC" in select(query)


def test_constant_filters_become_membership_not_keys(telemetry: WideColumnDesign) -> None:
    table = telemetry.table("bad_readings")
    assert "quality" not in table.partition_key
    assert [(c.attribute, c.values) for c in table.conditions] == [("quality", ("bad",))]
    insert = operations(_plan(TELEMETRY).model, telemetry.entities[1])[0]
    statement = next(s for s in insert.batch if s.table == "bad_readings")
    assert statement.when == ({"attribute": "quality", "in": ["bad"]},)


def test_nullable_key_columns_restrict_membership(social: WideColumnDesign) -> None:
    table = social.table("orders_by_select")
    assert table.clustering[0] == ("select", Direction.ASC)
    assert any(c.attribute == "select" and c.values is None for c in table.conditions)


def test_in_and_prefix_restrictions(social: WideColumnDesign) -> None:
    users = next(q for q in social.entities[0].queries if q.pattern == "users_in_group")
    assert [p.op for p in users.params][:1] == ["in"]
    assert any("once per value" in step for step in users.read_plan)
    prefix = next(q for q in social.entities[1].queries if q.pattern == "orders_by_select")
    text = select(prefix)
    assert '"select" >= :select_prefix AND "select" < :select_prefix_end' in text
    assert any("prefix_end" in step for step in prefix.read_plan)


# --- no ALLOW FILTERING, ever ------------------------------------------------------------------


def test_no_query_allows_filtering_and_every_query_restricts_its_partition_key() -> None:
    checked = 0
    for _, design in _all_designs():
        for entity in design.entities:
            for query in entity.queries:
                table = design.table(query.table)
                text = select(query)
                assert "ALLOW FILTERING" not in text.upper()
                restricted = {r.column for r in query.restrictions if r.op == "="}
                assert set(table.partition_key) <= restricted, f"{query.pattern}: partition key not restricted"
                ranged = [r.column for r in query.restrictions if r.op != "="]
                assert not ranged or set(ranged) == {table.clustering[0][0]}, f"{query.pattern}: slices a later column"
                checked += 1
    assert checked >= 10


def test_no_written_statement_allows_filtering() -> None:
    for name, text in OWN_MODELS.items():
        files, _ = render(_plan(text))
        for path, content in files.items():
            if path.startswith("cassandra/"):
                statements = content if path.endswith(".json") else "\n".join(s for _, s in split_statements(content))
                assert "ALLOW FILTERING" not in statements.upper(), (name, path)


# --- design changes instead of filtering -------------------------------------------------------


def test_pattern_without_equality_gets_a_bucket_and_a_pp404_warning(telemetry: WideColumnDesign) -> None:
    bad = telemetry.table("bad_readings")
    assert bad.bucket is not None and bad.bucket.kind == "time"
    assert bad.partition_key == (bad.bucket.column,)
    every = telemetry.table("all_alerts")
    assert every.bucket is not None and every.bucket.kind == "hash" and (every.bucket.count or 0) > 1
    notes = [d for d in telemetry.diagnostics if d.code in ("PP404", "PP473")]
    assert {(d.code, d.message.split(":")[0]) for d in notes} >= {("PP404", "bad_readings"), ("PP473", "all_alerts")}
    assert all(d.severity is Severity.WARNING for d in notes)
    assert not telemetry.errors


def test_oversized_partition_gets_a_time_bucket_and_a_pp502_warning(telemetry: WideColumnDesign) -> None:
    table = telemetry.table("readings_of_device")
    assert table.unbucketed is not None and table.unbucketed.too_big
    assert table.bucket is not None and table.bucket.kind == "time" and table.bucket.source == ("recorded_at",)
    assert table.partition_key == ("device_id", table.bucket.column)
    assert not table.estimate.too_big
    assert any(d.code == "PP502" and "readings_of_device" in d.message for d in telemetry.diagnostics)


def _with_pattern(pattern: str) -> str:
    """TELEMETRY with one more access pattern (YAML list item text at column 0)."""
    assert "\nwrite_patterns:" in TELEMETRY
    return TELEMETRY.replace(
        "\nwrite_patterns:", "\n" + textwrap.indent(pattern.strip("\n"), "  ") + "\nwrite_patterns:"
    )


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        (
            """
              - name: two_ranges
                entity: Reading
                filters: [{attribute: device_id}, {attribute: recorded_at, op: range}, {attribute: temperature, op: range}]
            """,
            "ranges on recorded_at and temperature",
        ),
        (
            """
              - name: range_and_other_sort
                entity: Reading
                filters: [{attribute: device_id}, {attribute: recorded_at, op: range}]
                sort: [{attribute: temperature}]
            """,
            "a range on recorded_at with a sort on temperature",
        ),
    ],
)
def test_unservable_patterns_are_clear_errors(pattern: str, says: str) -> None:
    text = _with_pattern(textwrap.dedent(pattern))
    plan = _plan(text)
    with pytest.raises(DiagnosticError) as raised:
        Target().emit(plan)
    found = raised.value.diagnostics
    assert [d.code for d in found] == ["PP406"]
    assert says in found[0].message
    assert found[0].location is not None  # points at the pattern in the model file


WORDS_IN_MESSAGE = """
- name: words_in_message
  entity: Alert
  filters: [{attribute: message, op: fulltext}]
"""


def test_full_text_on_cassandra_without_a_search_engine_is_refused_at_planning() -> None:
    # A relational fallback says nothing for an entity Cassandra holds: planning refuses it with
    # the remedies this model can take (PP314), before Cassandra is asked (PP406).
    text = _with_pattern(WORDS_IN_MESSAGE).replace(
        "name: wc_telemetry\n",
        "name: wc_telemetry\nengines: {search: null}\noptions: {fulltext_fallback: relational}\n",
    )
    with pytest.raises(DiagnosticError) as raised:
        _plan(text)
    assert [d.code for d in raised.value.diagnostics] == ["PP314"]
    assert "needs a search engine (engines.search)" in raised.value.diagnostics[0].message


def test_small_full_text_on_cassandra_is_a_clear_design_error() -> None:
    # Below the scale that needs a search engine, Cassandra is asked, and says it cannot (PP406).
    text = _with_pattern(WORDS_IN_MESSAGE).replace(
        "name: wc_telemetry\n", "name: wc_telemetry\nengines: {search: null}\n"
    )
    text = text.replace("initial_rows: 100000, rows_per_day: 2000}", "initial_rows: 1000}")
    plan = _plan(text)
    with pytest.raises(DiagnosticError) as raised:
        Target().emit(plan)
    assert [d.code for d in raised.value.diagnostics] == ["PP406"]
    assert "no full-text search" in raised.value.diagnostics[0].message


def test_cli_reports_an_unservable_pattern_without_a_traceback(tmp_path: Path) -> None:
    model = tmp_path / "bad.yaml"
    model.write_text(
        _with_pattern(
            textwrap.dedent(
                """
                - name: two_ranges
                  entity: Reading
                  filters: [{attribute: device_id}, {attribute: recorded_at, op: range}, {attribute: humidity, op: range}]
                """
            )
        ),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "polyplan", "plan", str(model), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "PP406" in output and "two_ranges" in output
    assert "Traceback" not in output


# --- sizing arithmetic -------------------------------------------------------------------------


def test_time_unit_is_the_coarsest_within_half_the_bounds() -> None:
    assert time_unit(1000, 100, TypeName.TIMESTAMPTZ) == ("month", True)  # 30k rows, 3 MB
    assert time_unit(10_000, 100, TypeName.TIMESTAMPTZ) == ("day", True)  # a month would be 300k rows
    assert time_unit(10_000, 10_000, TypeName.TIMESTAMPTZ) == ("hour", True)  # a day would be 100 MB
    assert time_unit(10_000_000, 100, TypeName.DATE) == ("day", False)  # dates cannot go finer
    assert time_unit(10**12, 100, TypeName.TIMESTAMP) == ("minute", False)


def test_hash_count_keeps_each_bucket_within_half_the_bounds() -> None:
    assert hash_count(10, 100) == 1
    assert hash_count(PARTITION_ROWS_LIMIT, 100) == 2
    assert hash_count(1_000_000, 100) == 20
    assert hash_count(1000, PARTITION_BYTES_LIMIT / 100) == 20  # by bytes
    assert hash_count(100, 100, write_rate=5000) == 5  # a single partition cannot take 5000 writes/s


def test_estimates_use_enum_weights_children_and_names(telemetry: WideColumnDesign, social: WideColumnDesign) -> None:
    alerts = telemetry.table("alerts_of_device").estimate
    assert round(alerts.rows_per_partition) == 20  # avg_children
    users = social.table("users_in_group").unbucketed
    assert users is not None
    assert round(users.rows_per_partition / users.rows, 2) == 0.8  # the 'free' group holds 80 %
    iot = design_wide_column(planned(next(p for p in SCENARIOS if p.stem == "iot")))
    window = iot.table("device_window")
    assert window.unbucketed is not None
    assert any("Device" in note for note in window.unbucketed.assumptions)  # device_id names Device


def test_a_retention_beyond_the_longest_ttl_keeps_rows_and_says_so() -> None:
    # Cassandra (4.1 and 5.0) refuses default_time_to_live above 630,720,000 s (20 years).
    text = TELEMETRY.replace("retention_days: 365,", "retention_days: 36500,")
    assert text != TELEMETRY
    design = _design(text)
    assert design.table("readings_of_device").ttl_seconds is None
    notes = [d for d in design.diagnostics if d.code == "PP402" and "longest TTL" in d.message]
    assert len(notes) == 1 and notes[0].path == "entities.Reading.growth"  # once per entity, not per table
    files, _ = render(_plan(text))
    assert "default_time_to_live" not in files["cassandra/schema.cql"]


def test_ttl_and_compaction(telemetry: WideColumnDesign) -> None:
    readings = telemetry.table("readings_of_device")
    assert readings.ttl_seconds == 365 * 86400
    assert dict(readings.compaction)["class"] == "TimeWindowCompactionStrategy"
    assert dict(readings.compaction)["compaction_window_size"] == 13  # about 30 windows over a year
    assert dict(telemetry.table("device_by_id").compaction)["class"] == "LeveledCompactionStrategy"
    assert telemetry.table("device_by_id").ttl_seconds is None


# --- writes ------------------------------------------------------------------------------------


def test_writes_keep_every_table_in_step(telemetry: WideColumnDesign) -> None:
    model = _plan(TELEMETRY).model
    device = telemetry.entities[0]
    ops = {op.name: op for op in operations(model, device)}
    insert = ops["insert"]
    assert [s.table for s in insert.before] == ["device_by_serial"]  # the uniqueness claim
    assert insert.before[0].cql.endswith("IF NOT EXISTS")
    assert {s.table for s in insert.batch} == {"device_by_id", "devices_of_site"}
    move = ops["move_device"]
    assert move.read_first is not None and move.read_first.startswith("SELECT")
    actions = [(s.table, s.action) for s in move.batch]
    assert ("devices_of_site", "delete") in actions and ("devices_of_site", "insert") in actions  # site is its key
    assert ("device_by_id", "update") in actions
    # The claim row that stays is checked by a lightweight transaction that writes nothing new (still
    # this device's serial); its changed columns go in the batch, at the batch's timestamp.
    (check,) = move.before
    assert check.table == "device_by_serial" and check.cql.endswith("IF id = :id"), check.cql
    assert check.cql.startswith("UPDATE wc_telemetry.device_by_serial SET id = :id WHERE serial = :serial"), check.cql
    assert ("device_by_serial", "update") in actions
    delete = ops["retire_device"]
    assert [s.table for s in delete.after] == ["device_by_serial"]


def test_an_update_of_a_unique_attribute_claims_the_new_value(social: WideColumnDesign) -> None:
    model = _plan(SOCIAL).model
    ops = {op.name: op for op in operations(model, social.entities[0])}
    rename = ops["rename_user"]
    assert [(s.table, s.action) for s in rename.before] == [("user_by_handle", "insert")]
    assert [(s.table, s.action) for s in rename.after] == [("user_by_handle", "delete")]
    # Claiming the handle the user already has would find itself: only when the handle changes.
    assert [s.only_if for s in rename.before + rename.after] == ["moved", "moved"]


def test_an_update_deletes_a_row_only_when_it_moved(telemetry: WideColumnDesign, social: WideColumnDesign) -> None:
    # A delete and an insert of one key in one batch share a timestamp and the tombstone wins:
    # re-writing a device's site unchanged must not delete its devices_of_site row.
    move = {op.name: op for op in operations(_plan(TELEMETRY).model, telemetry.entities[0])}["move_device"]
    assert [(s.table, s.action, s.only_if) for s in move.batch if s.table == "devices_of_site"] == [
        ("devices_of_site", "delete", "moved"),
        ("devices_of_site", "insert", None),
    ]
    assert all(s.only_if is None for s in move.batch if s.table == "device_by_id")
    pay = {op.name: op for op in operations(_plan(SOCIAL).model, social.entities[1])}["pay_order"]
    assert [(s.action, s.only_if) for s in pay.batch if s.table == "open_orders"] == [
        ("delete", "moved"),
        ("insert", None),
    ]
    files, _ = render(_plan(SOCIAL))
    writes = json.loads(files["cassandra/writes.json"])
    assert writes["entities"]["Order"]["row_keys"]["open_orders"] == ["placed_at_hour", "placed-at", "id"]
    for entity in writes["entities"].values():
        for operation in entity["operations"].values():
            for step in ("before_batch", "statements", "after_batch"):
                assert all(s["only_if"] in (None, "moved", "stayed") for s in operation[step])


# --- names and text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("device_id", "device_id"),
        ("Order", '"Order"'),
        ("select", '"select"'),
        ("group", '"group"'),
        ("key", '"key"'),
        ("Full Name", '"Full Name"'),
        ("placed-at", '"placed-at"'),
        ('say "hi"', '"say ""hi"""'),
    ],
)
def test_identifier_quoting(name: str, quoted: str) -> None:
    assert quote(name) == quoted


def test_schema_names_are_legal_and_stable() -> None:
    assert schema_name("Order Line") == "order_line"
    long = schema_name("x" * 80)
    assert len(long) <= 48 and long == schema_name("x" * 80)
    assert schema_name("9lives") == "t_9lives"


def test_quoted_names_in_generated_schema(social: WideColumnDesign) -> None:
    files, _ = render(_plan(SOCIAL))
    schema = files["cassandra/schema.cql"]
    assert '"Full Name" text,' in schema and '"select" text,' in schema and '"group" text,' in schema
    assert 'PRIMARY KEY (("group", bucket), handle, id)' in schema
    assert "lines list<frozen<order_lines>>" in schema
    statements = [s for _, s in split_statements(schema)]
    assert statements[0].startswith("CREATE KEYSPACE IF NOT EXISTS wc_social")
    assert statements[1].startswith("CREATE TYPE IF NOT EXISTS wc_social.order_lines (")
    assert sum(s.startswith("CREATE TABLE IF NOT EXISTS wc_social.") for s in statements) == sum(
        len(e.tables) for e in social.entities
    )


def test_every_statement_names_its_keyspace() -> None:
    # Cassandra 4.0.2+ warns when a prepared statement relies on USE: no artifact needs one.
    for name, design in _all_designs():
        for entity in design.entities:
            for query in entity.queries:
                assert f"FROM {quote(design.keyspace)}.{query.table}" in select(query), name
    files, _ = render(_plan(SOCIAL))
    statements = [s for _, s in split_statements(files["cassandra/schema.cql"])]
    statements += [s for _, s in split_statements(files["cassandra/queries.cql"])]
    assert not any(s.upper().startswith("USE ") for s in statements)
    assert all(retarget(s, "wc_social", "pp_run") != s for s in statements[1:])
    writes = files["cassandra/writes.json"]
    assert '"INSERT INTO wc_social.' in writes and "FROM wc_social." in writes


def test_retarget_replaces_only_the_keyspace_qualifier() -> None:
    cql = 'SELECT "iot", x FROM iot.t WHERE "iot.y" = :a AND y = 1'
    assert retarget(cql, "iot", "pp_1") == 'SELECT "iot", x FROM pp_1.t WHERE "iot.y" = :a AND y = 1'
    assert retarget('INSERT INTO "select"."Order" (a) VALUES (:a)', "select", "pp_1") == (
        'INSERT INTO pp_1."Order" (a) VALUES (:a)'
    )
    assert retarget("SELECT a FROM xiot.t", "iot", "pp_1") == "SELECT a FROM xiot.t"


def test_schema_keyspace_and_supported_releases() -> None:
    files, _ = render(_plan(SOCIAL))
    assert schema_keyspace(files["cassandra/schema.cql"]) == "wc_social"
    assert schema_keyspace('CREATE KEYSPACE IF NOT EXISTS "select"\n  WITH x;') == "select"
    assert [supported_release(r) for r in ("4.1.5", "5.0.9", "5.0-rc1", "4.0.13", "3.11.17", "5.1.0")] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


# --- runtime helpers and values ------------------------------------------------------------------


def test_time_buckets() -> None:
    moment = dt.datetime(2024, 12, 31, 23, 59, 30, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert time_bucket(moment, "day") == dt.datetime(2024, 12, 31)
    assert time_bucket(moment, "hour") == dt.datetime(2024, 12, 31, 21)
    assert time_bucket(moment, "month") == dt.datetime(2024, 12, 1)
    assert next_bucket(dt.datetime(2024, 12, 1), "month") == dt.datetime(2025, 1, 1)
    assert time_bucket(dt.date(2024, 5, 17), "month") == dt.date(2024, 5, 1)
    days = list(buckets_between(dt.datetime(2024, 1, 1, 12), dt.datetime(2024, 1, 3, 1), "day", newest_first=True))
    assert days == [dt.datetime(2024, 1, 3), dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 1)]


def test_hash_buckets_are_stable_crc32() -> None:
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert hash_bucket([key], 46) == hash_bucket([str(key)], 46)
    assert hash_bucket([key], 46) == __import__("zlib").crc32(str(key).encode()) % 46
    assert 0 <= hash_bucket(["a", 1], 7) < 7


def test_prefix_end() -> None:
    assert prefix_end("abc") == "abd"
    assert prefix_end("az") == "a{"
    assert all(s.startswith("ab") for s in ["ab", "abz", "ab\uffff"] if "ab" <= s < prefix_end("ab"))
    with pytest.raises(ValueError, match="empty prefix"):
        prefix_end("")


def test_values_round_trip() -> None:
    udt = {"type": "udt", "name": "t", "fields": [["lat", {"type": "double"}], ["lon", {"type": "double"}]]}
    assert to_driver(to_json({"lat": 1.5, "lon": 2.0}, udt), udt) == (1.5, 2.0)
    stamp = dt.datetime(2024, 1, 1, 10, 0, 0, 987654, tzinfo=dt.UTC)
    assert to_json(stamp, {"type": "timestamp"}) == "2024-01-01T10:00:00.987"
    assert canonical(to_driver("2024-01-01T10:00:00.987", {"type": "timestamp"})) == "2024-01-01T10:00:00.987"
    assert to_driver(to_json(Decimal("12.50"), {"type": "decimal"}), {"type": "decimal"}) == Decimal("12.50")
    assert to_json({"b": 1, "a": [2]}, {"type": "text", "json": True}) == '{"a": [2], "b": 1}'


def test_emit_is_deterministic() -> None:
    first = Target().emit(_plan(SOCIAL))
    second = Target().emit(_plan(SOCIAL))
    assert first.files == second.files and first.tests == second.tests
    assert set(first.files) == {
        "cassandra/schema.cql",
        "cassandra/queries.cql",
        "cassandra/writes.json",
        "cassandra/design.json",
    }
    assert set(first.tests) == {"test_cassandra.py", "data/model.json"}
    assert first.summary["keyspace"] == "wc_social"
