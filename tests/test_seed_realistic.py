"""Seeded rows look real and stay valid (issue 13): emails, ISO country codes, names, phone numbers,
a child created after its parent, text lengths near `avg_length`; the same bytes on every run."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from statistics import mean

import pytest

from polyplan.model.loader import load_text
from polyplan.seed.generate import generate
from polyplan.seed.realistic import EMAIL_DOMAINS

ROOT = Path(__file__).resolve().parent.parent

# ISO 3166-1 alpha-2, all 249 officially assigned codes (written out here, not taken from the
# library under test).
ISO_3166_ALPHA2 = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG
    EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR
    HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR
    LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG
    NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE
    SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA
    UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split()  # noqa: SIM905  (a table to read)
)
# An address as RFC 5322's dot-atom form (what a sign-up form accepts), on a reserved domain.
EMAIL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@example\.(com|org|net)")
PERSON = re.compile(r"[A-Z][A-Za-z'.-]*( [A-Za-z][A-Za-z'.-]*)+")

MODEL = """
name: crm
engines: {document: null, cache: null, search: null, wide_column: null}
entities:
  Customer:
    attributes:
      email: {type: string, max_length: 120, unique: true, pii: contact}
      backup_email: {type: string, max_length: 60, nullable: true, pii: contact}
      full_name: {type: string, max_length: 80, pii: contact}
      country: {type: string, max_length: 2}
      phone: {type: string, max_length: 20, pii: contact}
      city: {type: string, max_length: 40, distinct: 7}
      nickname: {type: string, max_length: 120, avg_length: 40}
      bio: {type: text, avg_length: 300}
      created_at: {type: timestamptz}
    growth: {initial_rows: 1000, time_attribute: created_at}
  Order:
    attributes:
      placed_at: {type: timestamptz}
      ship_country: {type: string, max_length: 2}
      note: {type: text, avg_length: 120}
    growth: {initial_rows: 5000, time_attribute: placed_at}
  Shipment:
    attributes:
      created_at: {type: date}
    growth: {initial_rows: 5000}
relationships:
  - {name: customer_orders, kind: one_to_many, from: Customer, to: Order}
  - {name: order_shipments, kind: one_to_many, from: Order, to: Shipment}
"""
ROWS = {"Customer": 300, "Order": 900, "Shipment": 900}


@pytest.fixture(scope="module")
def records() -> dict[str, list[dict[str, object]]]:
    return generate(load_text(MODEL, "crm.yaml").model, ROWS, seed=7)


def test_emails_are_valid_addresses_on_reserved_domains_and_unique(records: dict[str, list[dict[str, object]]]) -> None:
    emails = [str(r["email"]) for r in records["Customer"]]
    assert all(EMAIL.fullmatch(e) for e in emails), [e for e in emails if not EMAIL.fullmatch(e)][:5]
    assert len({e.casefold() for e in emails}) == len(emails)
    backups = [r["backup_email"] for r in records["Customer"] if r["backup_email"] is not None]
    assert backups and all(isinstance(e, str) and EMAIL.fullmatch(e) and len(e) <= 60 for e in backups)
    assert {e.rsplit("@", 1)[1] for e in emails} <= set(EMAIL_DOMAINS)


def test_countries_are_iso_3166_codes(records: dict[str, list[dict[str, object]]]) -> None:
    codes = [r["country"] for r in records["Customer"]] + [r["ship_country"] for r in records["Order"]]
    assert set(codes) <= ISO_3166_ALPHA2, sorted(set(codes) - ISO_3166_ALPHA2)
    assert len(set(codes)) > 50  # spread over the world, not one code


def test_names_phones_and_cities_look_real(records: dict[str, list[dict[str, object]]]) -> None:
    customers = records["Customer"]
    names = [str(r["full_name"]) for r in customers]
    assert all(PERSON.fullmatch(n) and len(n) <= 80 for n in names), [n for n in names if not PERSON.fullmatch(n)]
    assert len(set(names)) > len(names) * 0.9
    assert all(re.fullmatch(r"\+1[2-9]\d{9}", str(r["phone"])) for r in customers)
    cities = Counter(r["city"] for r in customers)
    assert 1 < len(cities) <= 7  # `distinct: 7` bounds the values
    assert all(isinstance(c, str) and c[0].isupper() and " " not in c[-1:] for c in cities)


def test_a_child_is_created_after_its_parent(records: dict[str, list[dict[str, object]]]) -> None:
    customers = {r["id"]: r for r in records["Customer"]}
    orders = {r["id"]: r for r in records["Order"]}
    assert all(o["placed_at"] >= customers[o["customer_id"]]["created_at"] for o in orders.values())  # type: ignore[operator]
    for shipment in records["Shipment"]:
        placed = orders[shipment["order_id"]]["placed_at"]
        assert shipment["created_at"] >= placed.date()  # type: ignore[attr-defined,operator]


def test_lengths_stay_within_a_fifth_of_avg_length(records: dict[str, list[dict[str, object]]]) -> None:
    for entity, attribute, average in (("Customer", "bio", 300), ("Order", "note", 120), ("Customer", "nickname", 40)):
        lengths = [len(str(r[attribute])) for r in records[entity]]
        assert 0.8 * average <= mean(lengths) <= 1.2 * average, (attribute, mean(lengths))
        if average >= 100:  # one word more or less moves a short value by more than a fifth
            assert all(0.8 * average <= n <= 1.2 * average for n in lengths), (attribute, min(lengths), max(lengths))


def test_the_same_seed_gives_the_same_bytes_in_another_process(records: dict[str, list[dict[str, object]]]) -> None:
    probe = (
        "import hashlib, sys\n"
        "from polyplan.model.loader import load_text\n"
        "from polyplan.seed.generate import generate\n"
        f"data = generate(load_text({MODEL!r}, 'crm.yaml').model, {ROWS!r}, seed=7)\n"
        "print(hashlib.sha256(repr(data).encode()).hexdigest())\n"
    )
    here = hashlib.sha256(repr(records).encode()).hexdigest()
    for hash_seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            cwd=ROOT,
            env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
        )
        assert done.stdout.strip() == here
