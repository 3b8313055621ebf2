"""Values that look like what an attribute holds: names, emails, phone numbers, countries, cities.

An attribute's name (`email`, `first_name`, `country_code`, `phone`, …) and its `pii` class choose
a kind; a kind draws from the data tables of mimesis (English locale). The tables are read once
per process through mimesis' public API with a fixed seed, and every value is then drawn with
the seed generator's own `random.Random`: the same model, rows and seed give the same bytes on
every run, and drawing costs an index into a list (a provider call costs ~50 µs; `seed` makes
hundreds of thousands of values). pyproject.toml pins mimesis to one minor release because its
tables are part of the output: a new release may change them, and with them every seeded value.

Emails use the reserved example.com/.org/.net domains (RFC 2606), never a real mail provider:
seeded rows end up in test databases, where nothing must be able to mail a real address.
Every value is plain ASCII (so each engine's binary collation orders it as Python does) and fits
the attribute's max_length, or the kind is not used for it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import cache

from polyplan.model.schema import Attribute, Sensitivity, TypeName

# Provider draws read into each table: enough to hold nearly all of a mimesis list's entries.
_TABLE_DRAWS = 3000
_TABLE_SEED = 2024
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

Maker = Callable[[], str]


def _ascii(values: list[str]) -> tuple[str, ...]:
    """Distinct ASCII values, in first-seen order (deterministic for a seeded provider)."""
    return tuple(dict.fromkeys(v for v in values if v.isascii() and v.strip()))


@cache
def _tables() -> dict[str, tuple[str, ...]]:
    # Imported here: mimesis loads its locale's JSON on first use, which only seeding needs.
    from mimesis import Address, Finance, Person
    from mimesis.datasets import COUNTRY_CODES
    from mimesis.locales import Locale

    person = Person(Locale.EN, seed=_TABLE_SEED)
    address = Address(Locale.EN, seed=_TABLE_SEED)
    finance = Finance(Locale.EN, seed=_TABLE_SEED)
    draws = range(_TABLE_DRAWS)
    return {
        "first": _ascii([person.first_name() for _ in draws]),
        "last": _ascii([person.last_name() for _ in draws]),
        "city": _ascii([address.city() for _ in draws]),
        "street": _ascii([f"{address.street_name()} {address.street_suffix()}" for _ in draws]),
        "country": _ascii([address.country() for _ in draws]),
        "company": _ascii([finance.company() for _ in draws]),
        "a2": tuple(COUNTRY_CODES["a2"]),
        "a3": tuple(COUNTRY_CODES["a3"]),
    }


def _words(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", name.lower()))


def kind_of(name: str, attribute: Attribute) -> str | None:
    """The kind of value an attribute holds, from its name and pii class; None for anything else.

    Only strings without a `pattern` get one: a pattern says what to generate. (Real-looking
    values filtered by the pattern were tried: on the shop scenario's unique, prefix-searched
    email they changed PostgreSQL's statistics enough that it served the prefix search with the
    unique constraint's B-tree instead of the designed `varchar_pattern_ops` index, which the
    generated index proofs require.)
    """
    if attribute.type is not TypeName.STRING or attribute.pattern is not None:
        return None
    words = _words(name)
    leaf = name.lower()
    limit = attribute.max_length
    if "email" in words or leaf.endswith("email"):
        return "email"
    if words & {"phone", "mobile", "telephone", "tel", "msisdn"}:
        return "phone"
    if "country" in words:
        if limit is not None and limit < 2:
            return None
        if "code" in words or "iso" in words or (limit is not None and limit <= 3):
            return "a3" if limit is not None and limit == 3 and "a2" not in words else "a2"
        return "country"
    if words & {"first", "given", "forename", "firstname"}:
        return "first"
    if words & {"last", "surname", "family", "lastname"}:
        return "last"
    if "city" in words or "town" in words:
        return "city"
    if "street" in words or ("address" in words and "ip" not in words):
        return "street"
    if words & {"company", "organisation", "organization", "employer", "vendor", "supplier"}:
        return "company"
    person_pii = attribute.pii in (Sensitivity.CONTACT, Sensitivity.IDENTIFIER)
    if "name" in words and (person_pii or words & {"full", "display", "customer", "author", "user", "contact"}):
        return "name"
    return None


CODES = frozenset({"a2", "a3"})


def codes(kind: str) -> tuple[str, ...]:
    """The ISO 3166 country codes of a code kind (alpha-2 or alpha-3)."""
    return _tables()[kind]


def space(kind: str) -> int:
    """How many different values a kind draws from (country codes: one per ISO 3166 country)."""
    if kind in ("a2", "a3", "country", "first", "last", "city", "company"):
        return len(_tables()[kind])
    return 10**12


def maker(kind: str, rng: random.Random, max_length: int | None) -> Maker | None:
    """A closure drawing one value of `kind` no longer than `max_length`; None when the kind's
    values do not fit (the caller falls back to its generic strings)."""
    tables = _tables()
    rand = rng.random
    limit = max_length if max_length is not None else 10**6

    def pick(table: tuple[str, ...]) -> str:
        return table[int(rand() * len(table))]

    if kind in ("a2", "a3"):
        codes = tables[kind]
        return (lambda: pick(codes)) if len(codes[0]) <= limit else None
    if kind == "phone":
        # E.164-style North American numbers (mimesis' English format): +1 and ten digits.
        if limit < 12:
            return None
        return lambda: "+1" + str(2 + int(rand() * 8)) + "".join(str(int(rand() * 10)) for _ in range(9))
    if kind == "email":
        if limit < 16:
            return None

        def email() -> str:
            local = f"{pick(tables['first'])}.{pick(tables['last'])}".lower().replace(" ", "").replace("'", "")
            domain = EMAIL_DOMAINS[int(rand() * len(EMAIL_DOMAINS))]
            return f"{local[: limit - len(domain) - 1]}@{domain}"

        return email
    if kind == "name":
        return _fitted(lambda: f"{pick(tables['first'])} {pick(tables['last'])}", limit)
    if kind == "street":
        return _fitted(lambda: f"{1 + int(rand() * 9999)} {pick(tables['street'])}", limit)
    return _fitted(lambda: pick(tables[kind]), limit)


def _fitted(draw: Maker, limit: int) -> Maker | None:
    """`draw`, its values cut to `limit` at a word boundary; None when the limit is too short for
    values to stay recognisable (fewer than 4 characters)."""
    if limit < 4:
        return None

    def make() -> str:
        value = draw()
        if len(value) <= limit:
            return value
        cut = value[:limit].rsplit(" ", 1)[0] if " " in value[:limit] else value[:limit]
        return cut.rstrip(" ")

    return make


def unique_variant(kind: str, value: str, token: str, max_length: int | None) -> str | None:
    """`value` made unique by `token` (a record's number in base 36) in the kind's own syntax:
    `ann.lee.1f@example.com`, `Ann Lee 1f`; None when it does not fit in max_length."""
    limit = max_length if max_length is not None else 10**6
    if kind == "email":
        local, _, domain = value.partition("@")
        room = limit - len(domain) - len(token) - 2
        if room < 1:
            return None
        return f"{local[:room].rstrip('.')}.{token}@{domain}"
    room = limit - len(token) - 1
    if room < 1:
        return None
    return f"{value[:room].rstrip(' ')} {token}"


__all__ = ["CODES", "EMAIL_DOMAINS", "codes", "kind_of", "maker", "space", "unique_variant"]
