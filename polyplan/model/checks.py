"""Cross-field checks pydantic cannot express: references and contradictions.

Each finding carries the path of the field at fault so the loader can point at its line.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from typing import Any

from polyplan.diagnostics import CODES
from polyplan.model.bounded_loads import load_problems
from polyplan.model.caps import cap_problems
from polyplan.model.collection_checks import collection_problems, filter_problems, filter_target
from polyplan.model.derived import all_attributes, key_attributes, key_of, reference_of, related_entities
from polyplan.model.derived_attribute_checks import derived_attribute_problems
from polyplan.model.dialects import dialect_problems
from polyplan.model.erasure_checks import erasure_problems
from polyplan.model.geo_checks import GEO_OPS, geo_problems
from polyplan.model.history_checks import history_problems
from polyplan.model.key_checks import composite_reference_problems
from polyplan.model.keyless_checks import keyless_problems
from polyplan.model.paths import PathError, is_path, path_problems
from polyplan.model.paths import resolve as resolve_path
from polyplan.model.ranges import is_range
from polyplan.model.reference_checks import unenforced_reference_problems
from polyplan.model.schema import (
    COLLECTION_TYPES,
    ORDERABLE_TYPES,
    TEXTUAL_TYPES,
    Attribute,
    CompareOp,
    Entity,
    Filter,
    FilterOp,
    Isolation,
    OnDelete,
    RelationshipKind,
    RequirementsModel,
    TypeName,
)
from polyplan.model.workload_checks import aggregate_problems, increment_problems, predicate_problems, skew_problems
from polyplan.seed.regex import PatternGenerator

# Names must survive every target: no dots (MongoDB paths), no leading digit, and short enough
# that "<entity>_<attribute>_idx"-style names fit PostgreSQL's 63-byte limit after hashing.
# Always used with fullmatch: `$` would also match before a final newline ("Order\n").
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ $-]{0,47}")
NUMERIC = frozenset({TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT})
UNINDEXABLE = frozenset({TypeName.LIST, TypeName.SET, TypeName.OBJECT, TypeName.JSON})
# The shortest word every full-text index keeps: MariaDB's InnoDB drops words under 3
# characters (innodb_ft_min_token_size), so a value that short is never found by its words.
MIN_FULLTEXT_WORD = 3

Path = tuple[str | int, ...]


# What NAME allows, in words, for messages.
NAME_RULE = "start with a letter or _, then letters, digits, _, $, - or spaces, at most 48 characters"


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    path: Path
    at_key: bool = False  # the problem is the key at `path` (a name), not the value under it


def _named_attribute_problems(name: str, attribute: Attribute, path: Path) -> list[Problem]:
    """An attribute's name (the key at `path`) and the attribute itself, wherever attributes nest."""
    found: list[Problem] = []
    if not NAME.fullmatch(name):
        found.append(Problem("PP203", f"'{name}' is not a valid name ({NAME_RULE})", path, at_key=True))
    return found + _attribute_problems(attribute, path)


def _attribute_problems(attribute: Attribute, path: Path) -> list[Problem]:
    found: list[Problem] = []
    kind = attribute.type

    def bad(field: str, message: str) -> None:
        found.append(Problem("PP303", message, (*path, field)))

    if attribute.max_length is not None and kind is not TypeName.STRING:
        bad("max_length", f"max_length applies to string, not {kind.value}")
    if kind is TypeName.STRING and attribute.max_length is None:
        bad("type", "a string needs max_length (use type: text for unbounded text)")
    if (attribute.precision is not None or attribute.scale is not None) and kind is not TypeName.DECIMAL:
        bad("precision", f"precision and scale apply to decimal, not {kind.value}")
    if kind is TypeName.DECIMAL:
        if attribute.precision is None:
            bad("type", "a decimal needs precision")
        elif (attribute.scale or 0) > attribute.precision:
            bad("scale", "scale cannot exceed precision")
    if kind is TypeName.ENUM:
        if not attribute.values:
            bad("type", "an enum needs values")
        elif len(set(attribute.values)) != len(attribute.values):
            bad("values", "enum values repeat")
        if attribute.weights is not None and len(attribute.weights) != len(attribute.values or []):
            bad("weights", "weights must have one entry per enum value")
    elif attribute.values is not None:
        bad("values", f"values apply to enum, not {kind.value}")
    if kind in COLLECTION_TYPES and attribute.items is None:
        bad("type", f"a {kind.value} needs items")
    if kind not in COLLECTION_TYPES and attribute.items is not None:
        bad("items", f"items apply to list and set, not {kind.value}")
    if kind is TypeName.OBJECT and not attribute.fields:
        bad("type", "an object needs fields")
    if kind not in (TypeName.OBJECT, TypeName.JSON) and attribute.fields is not None:
        bad("fields", f"fields apply to object and json, not {kind.value}")
    found.extend(Problem(code, message, at) for code, message, at in collection_problems(attribute, path))
    if (attribute.min is not None or attribute.max is not None) and kind not in NUMERIC:
        bad("min", f"min and max apply to numbers, not {kind.value}")
    if attribute.min is not None and attribute.max is not None and attribute.min > attribute.max:
        bad("min", "min is greater than max")
    elif kind in NUMERIC:
        for at, message in _range_problems(attribute):
            bad(at, message)
    if attribute.pattern is not None:
        if kind not in TEXTUAL_TYPES:
            bad("pattern", f"pattern applies to string or text, not {kind.value}")
        else:
            try:
                re.compile(attribute.pattern)
            except re.error as exc:
                bad("pattern", f"invalid regular expression: {exc}")
            except (RecursionError, OverflowError):  # groups nested hundreds deep, huge repeats
                bad("pattern", "the regular expression is too complex")
            else:
                unseedable = _unseedable(attribute)
                if unseedable is not None:
                    bad("pattern", unseedable)
    if attribute.unique and kind in UNINDEXABLE:
        found.append(Problem("PP302", f"unique cannot apply to a {kind.value} attribute", (*path, "unique")))
    if attribute.default is not None:
        misfit = _misfit(attribute, attribute.default, allow_now=True)
        if misfit is not None:
            bad("default", f"default {attribute.default!r} does not fit type {kind.value}{misfit}")
    if attribute.items is not None:
        found.extend(_attribute_problems(attribute.items, (*path, "items")))
    for field_name, field in (attribute.fields or {}).items():
        found.extend(_named_attribute_problems(field_name, field, (*path, "fields", field_name)))
    return found


# Decimal arithmetic with room for 38 digits plus any exponent a model can write: the default
# context keeps 28 digits and would round a decimal(38) limit.
_EXACT = Context(prec=400)


def integer_range(attribute: Attribute) -> tuple[int, int]:
    """The values an integer of the attribute's `bits` can hold."""
    half = 2 ** (attribute.bits - 1)
    return -half, half - 1


def decimal_limit(attribute: Attribute) -> Decimal:
    """The largest magnitude a decimal(precision, scale) can hold, e.g. 999.99 for (5, 2)."""
    scale = attribute.scale or 0
    return Decimal(10 ** (attribute.precision or 18) - 1).scaleb(-scale, _EXACT)


def _exact(number: float) -> Decimal:
    """A YAML number as written: `0.1` is 0.1, not the binary float nearest to it."""
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def _shown(number: float | Decimal) -> str:
    """A number as a person writes it: 100 rather than 100.0 or 1E+2."""
    if isinstance(number, Decimal):
        return str(int(number)) if number == number.to_integral_value() else f"{number.normalize():f}"
    if number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return str(number)


def _range_problems(attribute: Attribute) -> list[tuple[str, str]]:
    """min/max that no value of the type can meet: beyond what it holds, or between two of its steps.

    Without this a model is accepted that no row can satisfy (a decimal(4,2) with min 500), and
    test data generation fails on it later.
    """
    kind, low, high = attribute.type, attribute.min, attribute.max
    if kind is TypeName.INTEGER:
        smallest, largest = (Decimal(bound) for bound in integer_range(attribute))
        what = f"a {attribute.bits}-bit integer"
        scale = 0
    elif kind is TypeName.DECIMAL and attribute.precision is not None and (attribute.scale or 0) <= attribute.precision:
        largest = decimal_limit(attribute)
        smallest = -largest
        what = f"a decimal({attribute.precision},{attribute.scale or 0})"
        scale = attribute.scale or 0
    else:
        return []
    found: list[tuple[str, str]] = []
    if low is not None and _exact(low) > largest:
        found.append(("min", f"min {_shown(low)} is more than {what} can hold ({largest})"))
    if high is not None and _exact(high) < smallest:
        found.append(("max", f"max {_shown(high)} is less than {what} can hold ({smallest})"))
    if not found and low is not None and high is not None:
        # The first and last multiples of the step (1, or 0.01 for scale 2) inside [min, max].
        first = _exact(low).scaleb(scale, _EXACT).to_integral_value(rounding=ROUND_CEILING)
        last = _exact(high).scaleb(scale, _EXACT).to_integral_value(rounding=ROUND_FLOOR)
        if first > last:
            found.append(("min", f"no value of {what} lies between min {_shown(low)} and max {_shown(high)}"))
    return found


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _parses(parse: Any, text: str) -> bool:
    try:
        parse(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _number_misfit(attribute: Attribute, value: Any) -> str | None:
    """Why a number cannot be a value of a numeric attribute ("" for the wrong kind of value)."""
    kind = attribute.type
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    if kind is TypeName.INTEGER and not isinstance(value, int):
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ": not a finite number"
    exact = _exact(value)
    if kind is TypeName.INTEGER:
        smallest, largest = integer_range(attribute)
        if not smallest <= value <= largest:
            return f": a {attribute.bits}-bit integer holds {smallest} to {largest}"
    if kind is TypeName.DECIMAL and attribute.precision is not None:
        scale = attribute.scale or 0
        if abs(exact) > decimal_limit(attribute):
            return f": decimal({attribute.precision},{scale}) holds at most {decimal_limit(attribute)}"
        if exact != exact.quantize(Decimal(1).scaleb(-scale), context=_EXACT):
            return f": more than {scale} decimal places"
    if attribute.min is not None and exact < _exact(attribute.min):
        return f": less than min {_shown(attribute.min)}"
    if attribute.max is not None and exact > _exact(attribute.max):
        return f": more than max {_shown(attribute.max)}"
    return None


def _misfit(attribute: Attribute, value: Any, allow_now: bool = False) -> str | None:
    """None when `value` is a value the attribute can hold; else why not ("" when the kind of
    value is plainly wrong, e.g. text for a number, where the type name says it all).

    Constants and defaults reach DDL, queries and generated tests as literals: a value the
    engine would reject, round or read differently than the model says is refused here.
    """
    kind = attribute.type
    if kind in NUMERIC:
        return _number_misfit(attribute, value)
    if kind is TypeName.ENUM:
        return None if value in (attribute.values or []) else ""
    if kind is TypeName.BOOLEAN:
        return None if isinstance(value, bool) else ""
    if not isinstance(value, str):
        return None if kind in UNINDEXABLE or kind is TypeName.BINARY else ""
    if kind in TEXTUAL_TYPES:
        # Not matched against `pattern`: a pattern with nested quantifiers can take exponential
        # time on a text it does not match, and loading must stay fast whatever the model says.
        return "" if kind is TypeName.STRING and len(value) > (attribute.max_length or 0) else None
    if kind is TypeName.DATE:
        if allow_now and value == "now":
            return None
        return None if _DATE.fullmatch(value) and _parses(date.fromisoformat, value) else ": not a date (YYYY-MM-DD)"
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
        if allow_now and value == "now":
            return None
        valid = (_TIMESTAMP.fullmatch(value) or _DATE.fullmatch(value)) and _parses(datetime.fromisoformat, value)
        return None if valid else ": not a timestamp (YYYY-MM-DD HH:MM:SS, optionally with a UTC offset)"
    if kind is TypeName.UUID:
        return None if _UUID.fullmatch(value) else ": not a UUID (8-4-4-4-12 lower-case hexadecimal digits)"
    return None


def _unseedable(attribute: Attribute) -> str | None:
    """Why no test value matching the attribute's pattern can be generated, or None.

    The generated tests load rows that satisfy every rule, so a pattern polyplan cannot write a
    value for (a lookahead that contradicts the text, more digits than max_length) is refused
    here, naming the rule, rather than failing while the tests are generated.
    """
    assert attribute.pattern is not None
    limit = attribute.max_length if attribute.type is TypeName.STRING else None
    try:
        PatternGenerator(attribute.pattern, limit, "pattern").draw(random.Random(0))
    except ValueError as exc:
        reason = str(exc).removeprefix("pattern: ")
        return f"no test value can be generated for this pattern: {reason}"
    except (RecursionError, OverflowError):
        return "the regular expression is too complex"
    return None


def _entity_problems(model: RequirementsModel, name: str, entity: Entity) -> list[Problem]:
    path: Path = ("entities", name)
    found: list[Problem] = []
    if not NAME.fullmatch(name):
        found.append(Problem("PP203", f"entity name '{name}' is not a valid name ({NAME_RULE})", path, at_key=True))
    for attr_name, attribute in entity.attributes.items():
        found.extend(_named_attribute_problems(attr_name, attribute, (*path, "attributes", attr_name)))
    known = all_attributes(model, name)
    key = key_of(entity)
    for index, key_attr in enumerate(key.attributes):
        if entity.key is not None and key_attr not in entity.attributes:
            found.append(
                Problem(
                    "PP202",
                    f"key attribute '{key_attr}' is not an attribute of {name}",
                    (*path, "key", "attributes", index),
                )
            )
        elif key_attr in entity.attributes:
            attribute = entity.attributes[key_attr]
            if attribute.nullable:
                found.append(
                    Problem("PP303", "a key attribute cannot be nullable", (*path, "attributes", key_attr, "nullable"))
                )
            if attribute.type in UNINDEXABLE:
                found.append(
                    Problem(
                        "PP302",
                        f"a key cannot be a {attribute.type.value} attribute",
                        (*path, "attributes", key_attr, "type"),
                    )
                )
    for index, group in enumerate(entity.unique):
        for position, attr_name in enumerate(group):
            member = known.get(attr_name)
            if member is None:
                found.append(
                    Problem("PP202", f"'{attr_name}' is not an attribute of {name}", (*path, "unique", index, position))
                )
            elif member.type in UNINDEXABLE:
                found.append(
                    Problem(
                        "PP302",
                        f"unique cannot include the {member.type.value} attribute '{attr_name}'",
                        (*path, "unique", index, position),
                    )
                )
    for index, check in enumerate(entity.checks):
        for side in ("left", "right"):
            attr_name = getattr(check, side)
            compared = known.get(attr_name)
            if compared is None:
                found.append(
                    Problem("PP202", f"'{attr_name}' is not an attribute of {name}", (*path, "checks", index, side))
                )
            elif compared.type not in ORDERABLE_TYPES:
                found.append(
                    Problem(
                        "PP304",
                        f"'{attr_name}' ({compared.type.value}) cannot be compared",
                        (*path, "checks", index, side),
                    )
                )
        left, right = known.get(check.left), known.get(check.right)
        if left is None or right is None or left.type not in ORDERABLE_TYPES or right.type not in ORDERABLE_TYPES:
            continue
        if not _comparable(left, right):
            found.append(
                Problem(
                    "PP304",
                    f"'{check.left}' ({left.type.value}) and '{check.right}' ({right.type.value}) cannot be compared: "
                    "a check compares numbers with numbers, a date with a date or timestamp, text with text, or two "
                    "attributes of the same type",
                    (*path, "checks", index, "right"),
                )
            )
    found.extend(_check_contradictions(name, entity, known, path))
    found.extend(_unique_room_problems(name, entity, path))
    growth = entity.growth
    if growth.must_keep and growth.ttl_seconds is not None:
        found.append(
            Problem("PP301", f"{name} must be kept, so it cannot have a TTL", (*path, "growth", "ttl_seconds"))
        )
    if growth.must_keep and growth.retention_days is not None:
        found.append(
            Problem(
                "PP301",
                f"{name} must be kept, so it cannot have a retention period",
                (*path, "growth", "retention_days"),
            )
        )
    if growth.retention_days and growth.archive_after_days and growth.archive_after_days >= growth.retention_days:
        found.append(
            Problem(
                "PP308",
                "archive_after_days must be shorter than retention_days",
                (*path, "growth", "archive_after_days"),
            )
        )
    if growth.time_attribute is not None:
        ager = known.get(growth.time_attribute)
        if ager is None:
            found.append(
                Problem(
                    "PP202",
                    f"'{growth.time_attribute}' is not an attribute of {name}",
                    (*path, "growth", "time_attribute"),
                )
            )
        elif ager.type not in (TypeName.DATE, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
            found.append(
                Problem("PP303", "time_attribute must be a date or timestamp", (*path, "growth", "time_attribute"))
            )
    if (growth.retention_days or growth.archive_after_days) and growth.time_attribute is None:
        found.append(
            Problem(
                "PP102",
                "retention and archiving need a time_attribute that ages rows",
                (*path, "growth", "time_attribute"),
            )
        )
    if entity.placement is not None:
        family = entity.placement.family
        if model.engines.engine_for(family) is None:
            found.append(
                Problem(
                    "PP307",
                    f"{name} is placed in {family.value}, but engines.{family.value} is null (the organisation runs none)",
                    (*path, "placement", "family"),
                )
            )
        # A capped, loss-tolerable entity is bounded and disposable, as TTL data is (model/caps.py).
        transient = growth.cap is not None and entity.loss_tolerable
        if family.value == "cache" and growth.ttl_seconds is None and not transient:
            found.append(
                Problem(
                    "PP310",
                    f"{name} is placed in the cache as its only store, so it needs growth.ttl_seconds",
                    (*path, "placement", "family"),
                )
            )
        if family.value == "search":
            found.append(
                Problem(
                    "PP307",
                    "a search engine cannot be a system of record; it is planned as a projection",
                    (*path, "placement", "family"),
                )
            )
    return found


def _relationship_problems(model: RequirementsModel) -> list[Problem]:
    found: list[Problem] = []
    seen: set[str] = set()
    for index, relationship in enumerate(model.relationships):
        path: Path = ("relationships", index)
        if relationship.name in seen:
            found.append(Problem("PP204", f"relationship '{relationship.name}' is defined twice", (*path, "name")))
        seen.add(relationship.name)
        for side, entity_name in (("from", relationship.from_), ("to", relationship.to)):
            if entity_name not in model.entities:
                found.append(Problem("PP201", f"unknown entity '{entity_name}'", (*path, side)))
        if relationship.on_delete is OnDelete.SET_NULL and relationship.required:
            found.append(Problem("PP306", "on_delete set_null needs required: false", (*path, "on_delete")))
        if relationship.attributes and relationship.kind is not RelationshipKind.MANY_TO_MANY:
            found.append(
                Problem("PP312", "only a many_to_many relationship has attributes of its own", (*path, "attributes"))
            )
        for attr_name, attribute in relationship.attributes.items():
            found.extend(_named_attribute_problems(attr_name, attribute, (*path, "attributes", attr_name)))
        if isinstance(relationship.foreign_key, list):
            found.extend(Problem(*finding) for finding in composite_reference_problems(model, index, NAME, NAME_RULE))
            continue
        if relationship.foreign_key is not None and not NAME.fullmatch(relationship.foreign_key):
            found.append(
                Problem(
                    "PP203",
                    f"foreign key name '{relationship.foreign_key}' is not a valid name ({NAME_RULE})",
                    (*path, "foreign_key"),
                )
            )
        if relationship.foreign_key and relationship.to in model.entities and relationship.from_ in model.entities:
            # Naming a declared attribute reuses it (e.g. when it is part of a natural key), so its
            # type must be the type of the parent's key.
            declared = model.entities[relationship.to].attributes.get(relationship.foreign_key)
            parent_keys = list(key_attributes(model.entities[relationship.from_]).values())
            if declared is not None and (len(parent_keys) != 1 or declared.type is not parent_keys[0].type):
                expected = parent_keys[0].type.value if len(parent_keys) == 1 else "a composite key"
                found.append(
                    Problem(
                        "PP303",
                        f"'{relationship.foreign_key}' is a {declared.type.value} but {relationship.from_}'s key is {expected}",
                        (*path, "foreign_key"),
                    )
                )
    return found


def _reference_clashes(model: RequirementsModel) -> list[Problem]:
    """Two relationships into one child that imply the same reference column would share it silently."""
    found: list[Problem] = []
    claimed: dict[tuple[str, str], str] = {}
    for index, relationship in enumerate(model.relationships):
        if relationship.from_ not in model.entities or relationship.to not in model.entities:
            continue
        reference = reference_of(model, relationship)
        for column in reference.columns if reference else {}:
            first = claimed.setdefault((relationship.to, column), relationship.name)
            if first != relationship.name:
                found.append(
                    Problem(
                        "PP204",
                        f"relationships '{first}' and '{relationship.name}' both imply the column '{column}' on "
                        f"{relationship.to}; give one of them a foreign_key name",
                        ("relationships", index, "name"),
                    )
                )
    return found


def _filter_problems(model: RequirementsModel, entity: str, filters: list[Filter], path: Path) -> list[Problem]:
    """Problems of a list of filters on `entity` at `path`: the access patterns' `filters` and the
    write patterns' `where` share one filter language, so they share these checks."""
    found: list[Problem] = []
    known = all_attributes(model, entity)
    for f_index, flt in enumerate(filters):
        f_path = (*path, f_index)
        if is_path(flt.attribute):
            # A path's own problems are paths.py's; its op against the reached type: PP327.
            found.extend(_path_filter_problems(model, entity, flt, f_path))
            continue
        attribute = known.get(flt.attribute)
        if attribute is None:
            found.append(Problem("PP202", f"'{flt.attribute}' is not an attribute of {entity}", (*f_path, "attribute")))
            continue
        if attribute.type is TypeName.GEO_POINT or flt.op in GEO_OPS:
            continue  # geo filters have their own checks (geo_checks.py)
        own = filter_problems(flt.attribute, attribute, flt, f_path)
        if own or flt.op is FilterOp.CONTAINS or (flt.op is FilterOp.FULLTEXT and attribute.type in COLLECTION_TYPES):
            # contains and full text over a list are checked there; a bad path leaves no type to check.
            found.extend(Problem(code, message, at) for code, message, at in own)
            continue
        attribute = filter_target(attribute, flt)
        shown = flt.attribute if flt.path is None else ".".join([flt.attribute, *flt.path])
        if flt.op is FilterOp.FULLTEXT and attribute.type not in TEXTUAL_TYPES:
            found.append(
                Problem(
                    "PP305",
                    f"full-text needs a string or text attribute; '{shown}' is {attribute.type.value}",
                    (*f_path, "op"),
                )
            )
        if flt.op is FilterOp.FULLTEXT and (attribute.max_length or MIN_FULLTEXT_WORD) < MIN_FULLTEXT_WORD:
            found.append(
                Problem(
                    "PP355",
                    f"full-text on '{shown}' can find no word: it holds at most {attribute.max_length} "
                    f"character(s), and a full-text index keeps words of {MIN_FULLTEXT_WORD} or more "
                    "(MariaDB's minimum); filter it with eq, in or prefix instead",
                    (*f_path, "op"),
                )
            )
        if flt.op is FilterOp.PREFIX and attribute.type is not TypeName.STRING:
            found.append(
                Problem(
                    "PP305",
                    f"prefix needs a string attribute; '{shown}' is {attribute.type.value}",
                    (*f_path, "op"),
                )
            )
        if is_range(flt.op) and attribute.type not in ORDERABLE_TYPES:
            found.append(
                Problem(
                    "PP304",
                    f"{flt.op.value} needs an ordered type; '{shown}' is {attribute.type.value}",
                    (*f_path, "op"),
                )
            )
        if flt.op in (FilterOp.EQ, FilterOp.IN) and attribute.type in UNINDEXABLE:
            found.append(
                Problem(
                    "PP304",
                    f"cannot filter by equality on the {attribute.type.value} attribute '{shown}'",
                    (*f_path, "op"),
                )
            )
        if flt.value is None and "value" in flt.model_fields_set:
            found.append(
                Problem(
                    "PP309",
                    "value: null is not supported (IS NULL filters are not modelled); omit value to make the filter a "
                    "parameter, or filter on an enum state",
                    (*f_path, "value"),
                )
            )
        if flt.value is not None:
            values = flt.value if flt.op is FilterOp.IN and isinstance(flt.value, list) else [flt.value]
            if flt.op not in (FilterOp.EQ, FilterOp.IN):
                found.append(
                    Problem("PP309", f"a constant value needs op eq or in, not {flt.op.value}", (*f_path, "value"))
                )
            elif not values:
                found.append(Problem("PP309", "an empty list matches nothing (IN ())", (*f_path, "value")))
            else:
                misfit = next((m for m in (_misfit(attribute, v) for v in values) if m is not None), None)
                if misfit is not None:
                    found.append(
                        Problem(
                            "PP309",
                            f"constant {flt.value!r} does not fit '{shown}' "
                            f"({attribute.type.value}, op {flt.op.value}){misfit}",
                            (*f_path, "value"),
                        )
                    )
    return found


def _path_filter_problems(model: RequirementsModel, entity: str, flt: Filter, f_path: Path) -> list[Problem]:
    """The op and value checks of a filter through a relationship, on the attribute it reaches,
    coded PP327 (a path that does not resolve is reported by paths.path_problems)."""
    if f_path[0] == "write_patterns":
        return []  # PP326: a write predicate takes the entity's own attributes
    try:
        reached = resolve_path(model, entity, flt.attribute)
    except PathError:
        return []
    if flt.op is FilterOp.FULLTEXT:
        return [
            Problem("PP327", f"full-text through a relationship ('{flt.attribute}') is not supported", (*f_path, "op"))
        ]
    local = flt.model_copy(update={"attribute": reached.attribute})
    checked = _filter_problems(model, reached.target, [local], f_path[:-1])
    return [
        Problem(
            "PP327",
            p.message.replace(f"'{reached.attribute}'", f"'{flt.attribute}'"),
            (*f_path, *p.path[len(f_path) :]),
        )
        for p in checked
    ]


def _pattern_problems(model: RequirementsModel) -> list[Problem]:
    found: list[Problem] = []
    seen: set[str] = set()
    for index, pattern in enumerate(model.access_patterns):
        path: Path = ("access_patterns", index)
        if pattern.name in seen:
            found.append(Problem("PP204", f"access pattern '{pattern.name}' is defined twice", (*path, "name")))
        seen.add(pattern.name)
        if pattern.entity not in model.entities:
            found.append(Problem("PP201", f"unknown entity '{pattern.entity}'", (*path, "entity")))
            continue
        known = all_attributes(model, pattern.entity)
        found.extend(_filter_problems(model, pattern.entity, pattern.filters, (*path, "filters")))
        for s_index, sort in enumerate(pattern.sort):
            attribute = known.get(sort.attribute)
            if is_path(sort.attribute):
                attribute = _reached(model, pattern.entity, sort.attribute)
                if attribute is not None and attribute.type not in ORDERABLE_TYPES:
                    found.append(
                        Problem(
                            "PP327",
                            f"cannot sort on the {attribute.type.value} attribute '{sort.attribute}'",
                            (*path, "sort", s_index, "attribute"),
                        )
                    )
            elif attribute is None:
                found.append(
                    Problem(
                        "PP202",
                        f"'{sort.attribute}' is not an attribute of {pattern.entity}",
                        (*path, "sort", s_index, "attribute"),
                    )
                )
            elif attribute.type not in ORDERABLE_TYPES and attribute.type is not TypeName.GEO_POINT:
                found.append(
                    Problem(
                        "PP304",
                        f"cannot sort on the {attribute.type.value} attribute '{sort.attribute}'",
                        (*path, "sort", s_index, "attribute"),
                    )
                )
        for r_index, attr_name in enumerate(pattern.reads):
            if attr_name not in known and not is_path(attr_name):
                found.append(
                    Problem(
                        "PP202", f"'{attr_name}' is not an attribute of {pattern.entity}", (*path, "reads", r_index)
                    )
                )
        related = related_entities(model, pattern.entity)
        for l_index, other in enumerate(pattern.loaded):
            at = (
                (*path, "loads", l_index)
                if isinstance(pattern.loads[l_index], str)
                else (*path, "loads", l_index, "entity")
            )
            if other not in model.entities:
                found.append(Problem("PP201", f"unknown entity '{other}'", at))
            elif other not in related:
                found.append(Problem("PP201", f"{pattern.entity} has no relationship with {other}", at))
    for index, write in enumerate(model.write_patterns):
        path = ("write_patterns", index)
        if write.name in seen:
            found.append(Problem("PP204", f"pattern '{write.name}' is defined twice", (*path, "name")))
        seen.add(write.name)
        if write.entity not in model.entities:
            found.append(Problem("PP201", f"unknown entity '{write.entity}'", (*path, "entity")))
            continue
        known = all_attributes(model, write.entity)
        for a_index, attr_name in enumerate(write.attributes):
            if attr_name not in known and not is_path(attr_name):
                found.append(
                    Problem(
                        "PP202", f"'{attr_name}' is not an attribute of {write.entity}", (*path, "attributes", a_index)
                    )
                )
        found.extend(_filter_problems(model, write.entity, write.where, (*path, "where")))
    for index, transaction in enumerate(model.transactions):
        for e_index, entity_name in enumerate(transaction.entities):
            if entity_name not in model.entities:
                found.append(
                    Problem("PP201", f"unknown entity '{entity_name}'", ("transactions", index, "entities", e_index))
                )
    return found


def _reached(model: RequirementsModel, entity: str, text: str) -> Attribute | None:
    """The attribute a path reaches, or None when it does not resolve (reported elsewhere)."""
    try:
        return resolve_path(model, entity, text).kind
    except PathError:
        return None


def _governance_problems(model: RequirementsModel) -> list[Problem]:
    found: list[Problem] = []
    tenancy = model.tenancy
    if tenancy.isolation is not Isolation.NONE and tenancy.tenant_key is None:
        found.append(
            Problem("PP313", f"isolation '{tenancy.isolation.value}' needs a tenant_key", ("tenancy", "tenant_key"))
        )
    scoped = tenancy.entities or (list(model.entities) if tenancy.isolation is Isolation.ROW else [])
    for index, entity_name in enumerate(tenancy.entities):
        if entity_name not in model.entities:
            found.append(Problem("PP201", f"unknown entity '{entity_name}'", ("tenancy", "entities", index)))
    if tenancy.tenant_key:
        for entity_name in scoped:
            if entity_name in model.entities and tenancy.tenant_key not in all_attributes(model, entity_name):
                found.append(
                    Problem(
                        "PP202",
                        f"tenant key '{tenancy.tenant_key}' is not an attribute of {entity_name}",
                        ("tenancy", "tenant_key"),
                    )
                )
    for r_index, role in enumerate(model.security.roles):
        for entity_name in role.grants:
            if entity_name != "*" and entity_name not in model.entities:
                found.append(
                    Problem(
                        "PP201",
                        f"unknown entity '{entity_name}'",
                        ("security", "roles", r_index, "grants", entity_name),
                        at_key=True,
                    )
                )
    for index, entity_name in enumerate(model.security.audit):
        if entity_name not in model.entities:
            found.append(Problem("PP201", f"unknown entity '{entity_name}'", ("security", "audit", index)))
    for index, code in enumerate(model.options.suppress):
        if code not in CODES:
            found.append(Problem("PP103", f"unknown diagnostic code '{code}'", ("options", "suppress", index)))
    return found


# Types a check may compare with each other: numbers; a date with a (naive) timestamp, which
# every engine compares as the instants they are; text with text (an enum is stored as text).
# A timestamptz only with a timestamptz: against a naive one, PostgreSQL would bring in the
# session's time zone.
_COMPARABLE_GROUPS = (
    NUMERIC,
    frozenset({TypeName.DATE, TypeName.TIMESTAMP}),
    frozenset({TypeName.STRING, TypeName.ENUM}),
)


def _comparable(left: Attribute, right: Attribute) -> bool:
    """Whether every engine compares the two the same way: SQLite compares a date with text as
    text, PostgreSQL refuses to, and a uuid with a number means nothing anywhere."""
    return left.type is right.type or any(left.type in group and right.type in group for group in _COMPARABLE_GROUPS)


# A check as an order between two attributes: (smaller, larger, strict).
_Order = tuple[str, str, bool]


def _orders(entity: Entity) -> list[tuple[int, _Order]]:
    found = []
    for index, check in enumerate(entity.checks):
        if check.op in (CompareOp.LT, CompareOp.LE):
            found.append((index, (check.left, check.right, check.op is CompareOp.LT)))
        elif check.op in (CompareOp.GT, CompareOp.GE):
            found.append((index, (check.right, check.left, check.op is CompareOp.GT)))
    return found


def _bounds(attribute: Attribute) -> tuple[Decimal | None, Decimal | None]:
    """The declared (or, for integers, the storable) range of a number; None for others."""
    if attribute.type not in NUMERIC:
        return None, None
    low = _exact(attribute.min) if attribute.min is not None else None
    high = _exact(attribute.max) if attribute.max is not None else None
    if attribute.type is TypeName.INTEGER:
        smallest, largest = integer_range(attribute)
        low = max(low, Decimal(smallest)) if low is not None else Decimal(smallest)
        high = min(high, Decimal(largest)) if high is not None else Decimal(largest)
    if attribute.type is TypeName.DECIMAL:
        # A decimal(3, 2) holds at most 9.99, whatever min and max say (a check `a < b` with
        # a at least 1000 can never hold, as with an integer's bits).
        limit = decimal_limit(attribute)
        low = max(low, -limit) if low is not None else -limit
        high = min(high, limit) if high is not None else limit
    return low, high


def _check_contradictions(name: str, entity: Entity, known: dict[str, Attribute], path: Path) -> list[Problem]:
    """Checks that no record with both sides set can satisfy: an attribute compared with itself
    (lt, gt, ne), ranges that exclude the order asked for, or a cycle of orders (a < b < a).

    Test data for such an entity cannot be generated (and real rows could only hold NULLs), so
    the model is refused here with the check named, instead of failing later.
    """
    found: list[Problem] = []
    for index, check in enumerate(entity.checks):
        if check.left == check.right and check.op in (CompareOp.LT, CompareOp.GT, CompareOp.NE):
            found.append(
                Problem(
                    "PP315",
                    f"check '{check.name}' compares '{check.left}' with itself ({check.op.value}): it can never hold",
                    (*path, "checks", index, "op"),
                )
            )
    orders = [(i, o) for i, o in _orders(entity) if o[0] != o[1] and o[0] in known and o[1] in known]
    for index, (smaller, larger, strict) in orders:
        low, _ = _bounds(known[smaller])
        _, high = _bounds(known[larger])
        if low is not None and high is not None and (low > high or (strict and low >= high)):
            found.append(
                Problem(
                    "PP315",
                    f"check '{entity.checks[index].name}' can never hold: '{smaller}' is at least {_shown(low)} and "
                    f"'{larger}' at most {_shown(high)}",
                    (*path, "checks", index, "op"),
                )
            )
    # Transitive closure over the few attributes in checks: reach[a][b] is True when a < b is
    # implied, False when only a <= b is.
    reach: dict[str, dict[str, bool]] = {}
    for _, (smaller, larger, strict) in orders:
        edges = reach.setdefault(smaller, {})
        edges[larger] = edges.get(larger, False) or strict
    names = sorted({n for _, order in orders for n in order[:2]})
    for middle in names:
        for start in names:
            if middle not in reach.get(start, {}):
                continue
            for end, strict in list(reach.get(middle, {}).items()):
                combined = reach[start][middle] or strict
                edges = reach.setdefault(start, {})
                edges[end] = edges.get(end, False) or combined
    reported: set[str] = set()
    for index, (smaller, larger, _) in orders:
        back = reach.get(larger, {}).get(smaller)
        if back is None or smaller in reported:
            continue
        reported.update((smaller, larger))
        strict = reach.get(smaller, {}).get(larger, False) or back
        outcome = "can never all hold" if strict else f"force '{smaller}' and '{larger}' to be equal"
        found.append(
            Problem(
                "PP315",
                f"the checks on {name} order '{smaller}' and '{larger}' both ways: they {outcome}",
                (*path, "checks", index, "op"),
            )
        )
    return found


# The fewest records a unique rule must leave room for: a store is not a home for two records,
# and polyplan's generated tests load some and insert known-good ones besides.
MIN_RECORDS = 3


def value_space(attribute: Attribute) -> int | None:
    """How many distinct values the attribute's type and settings allow, when that is a known
    number: a boolean, an enum, an integer or decimal between min and max, text of a pattern that
    lists its few strings (`^(yes|no)$`). None for the rest (text, dates, uuids, floats), whose
    values a unique rule never runs out of."""
    kind = attribute.type
    if kind is TypeName.BOOLEAN:
        return 2
    if kind is TypeName.ENUM:
        return len(set(attribute.values or []))
    if kind is TypeName.INTEGER:
        smallest, largest = integer_range(attribute)
        low = max(smallest, math.ceil(attribute.min)) if attribute.min is not None else smallest
        high = min(largest, math.floor(attribute.max)) if attribute.max is not None else largest
        return max(0, high - low + 1)
    if kind is TypeName.DECIMAL and attribute.precision is not None and (attribute.scale or 0) <= attribute.precision:
        # Counted in steps of the scale (0.01 for scale 2), between the bounds and the precision.
        scale = attribute.scale or 0
        limit = decimal_limit(attribute).scaleb(scale, _EXACT)
        first, last = -limit, limit
        if attribute.min is not None:
            first = max(first, _exact(attribute.min).scaleb(scale, _EXACT).to_integral_value(ROUND_CEILING))
        if attribute.max is not None:
            last = min(last, _exact(attribute.max).scaleb(scale, _EXACT).to_integral_value(ROUND_FLOOR))
        return max(0, int(last - first) + 1)
    if kind in TEXTUAL_TYPES and attribute.pattern is not None:
        try:
            length = attribute.max_length if kind is TypeName.STRING else None
            return PatternGenerator(attribute.pattern, length, "pattern").exact_count()
        except (ValueError, re.error, RecursionError, OverflowError):
            return None  # reported as PP303
    return None


def _unique_room_problems(name: str, entity: Entity, path: Path) -> list[Problem]:
    """Unique rules (an attribute, a composite rule, the key) over so few values that the entity
    could hold fewer than MIN_RECORDS records, or fewer than its `growth.initial_rows`: a unique
    boolean, a unique enum of two values, a unique integer between 1 and 2. Nullable members
    are left out: NULLs never collide, so such a rule limits nothing."""
    found: list[Problem] = []
    rows = entity.growth.initial_rows
    key = key_of(entity).attributes if entity.key is not None else []
    groups: list[tuple[list[str], Path]] = [
        ([a], (*path, "attributes", a, "unique")) for a, spec in entity.attributes.items() if spec.unique
    ]
    groups += [(list(g), (*path, "unique", i)) for i, g in enumerate(entity.unique)]
    if key:
        groups.append((list(key), (*path, "key", "attributes")))
    for members, at in groups:
        specs = [entity.attributes.get(m) for m in members]
        spaces = [value_space(spec) if spec is not None and not spec.nullable else None for spec in specs]
        if any(space is None for space in spaces):
            continue  # a member with room to spare, an implied reference, or a nullable one
        space = math.prod(space for space in spaces if space is not None)
        what = f"'{members[0]}' is unique" if len(members) == 1 else f"the unique rule ({', '.join(members)})"
        if space < MIN_RECORDS:
            values, records = ("value", "record") if space == 1 else ("values", "records")
            message = (
                f"{what} but has only {space} distinct {values}: {name} could never hold more than {space} {records}"
            )
        elif space < rows:
            message = (
                f"{what} but has only {space:,} distinct values, fewer than the {rows:,} records {name} starts "
                "with (growth.initial_rows)"
            )
        else:
            continue
        found.append(Problem("PP315", message, at))
    return found


def _reference_cycles(model: RequirementsModel) -> list[Problem]:
    """Required references that form a cycle (A needs a B, B needs an A): no record of either
    can be inserted first, so no store can be loaded and no test data generated.

    One finding per strongly connected group of entities (Kosaraju's algorithm, iteratively:
    a model may have thousands of entities), at the first relationship inside it.
    """
    edges: dict[str, list[tuple[int, str]]] = {name: [] for name in model.entities}
    for index, relationship in enumerate(model.relationships):
        child, parent = relationship.to, relationship.from_
        if (
            relationship.required
            and relationship.kind is not RelationshipKind.MANY_TO_MANY
            and child != parent
            and child in edges
            and parent in edges
        ):
            edges[child].append((index, parent))
    finished: list[str] = []
    visited: set[str] = set()
    for root in edges:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(edges[root]))]
        while stack:
            node, children = stack[-1]
            following = next(children, None)
            if following is None:
                stack.pop()
                finished.append(node)
            elif following[1] not in visited:
                visited.add(following[1])
                stack.append((following[1], iter(edges[following[1]])))
    reverse: dict[str, list[str]] = {name: [] for name in edges}
    for child, targets in edges.items():
        for _, parent in targets:
            reverse[parent].append(child)
    component: dict[str, int] = {}
    for root in reversed(finished):
        if root in component:
            continue
        component[root] = len(component)
        pending = [root]
        while pending:
            node = pending.pop()
            for other in reverse[node]:
                if other not in component:
                    component[other] = component[root]
                    pending.append(other)
    groups: dict[int, list[str]] = {}
    for name in model.entities:
        groups.setdefault(component[name], []).append(name)
    found: list[Problem] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        inside = sorted(i for m in members for i, p in edges[m] if component[p] == component[m])
        found.append(
            Problem(
                "PP315",
                f"required relationships form a cycle between {', '.join(members)}: no record could be inserted "
                "first; make one of them required: false",
                ("relationships", inside[0], "required"),
            )
        )
    return found


def check_model(model: RequirementsModel) -> list[Problem]:
    """Every reference and contradiction problem in the model, in file order of their sections."""
    found: list[Problem] = []
    for name, entity in model.entities.items():
        found.extend(_entity_problems(model, name, entity))
    found.extend(_relationship_problems(model))
    found.extend(_reference_clashes(model))
    found.extend(_reference_cycles(model))
    found.extend(Problem(code, message, path) for code, message, path in keyless_problems(model))
    found.extend(Problem(code, message, path) for code, message, path in unenforced_reference_problems(model))
    found.extend(Problem(code, message, path) for code, message, path in history_problems(model))
    found.extend(Problem(code, message, path) for code, message, path in erasure_problems(model))
    found.extend(Problem(code, message, path) for code, message, path in dialect_problems(model))
    found.extend(Problem(code, message, path) for code, message, path in cap_problems(model))
    # Patterns resolve attributes through relationships: skip them if those are broken.
    if not any(p.code == "PP201" and p.path[0] == "relationships" for p in found):
        found.extend(_pattern_problems(model))
        found.extend(Problem(code, message, path) for code, message, path in path_problems(model))
        found.extend(Problem(code, message, path) for code, message, path in increment_problems(model))
        found.extend(Problem(code, message, path) for code, message, path in predicate_problems(model))
        found.extend(Problem(code, message, path) for code, message, path in aggregate_problems(model))
        found.extend(Problem(code, message, path) for code, message, path in skew_problems(model))
        found.extend(Problem(code, message, path) for code, message, path in geo_problems(model))
        found.extend(Problem(code, message, path) for code, message, path in load_problems(model))
        found.extend(Problem(code, message, path) for code, message, path in derived_attribute_problems(model))
        found.extend(_governance_problems(model))
    return found
