"""Diagnostics with stable codes, so users can grep for them and suppress warnings.

Code ranges:
  PP0xx  reading the file (missing file, YAML syntax, duplicate keys, size and nesting limits)
  PP1xx  shape of the model (unknown keys, missing fields, wrong types)
  PP2xx  references (unknown entities, attributes, relationships)
  PP3xx  contradictions between settings
  PP4xx  planning warnings (a choice was forced, a target lacks a feature)
  PP5xx  capacity and latency warnings
  PP6xx  the output folder (refused before anything is written), and what a command needs to run
  PP7xx  migrations between two versions of a model (nothing is written)
  PP8xx  migration lint: a schema change that blocks or breaks a live application
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# One place that names every code: docs/diagnostics.md is checked against it by a test.
CODES: dict[str, str] = {
    "PP001": "file cannot be read",
    "PP002": "YAML syntax error",
    "PP003": "duplicate key",
    "PP004": "document is not a mapping",
    "PP005": "input exceeds a limit",
    "PP101": "unknown key",
    "PP102": "required field missing",
    "PP103": "invalid value",
    "PP201": "unknown entity",
    "PP202": "unknown attribute",
    "PP203": "invalid identifier",
    "PP204": "name defined twice",
    "PP301": "TTL on an entity that must be kept",
    "PP302": "uniqueness on a list, object or JSON attribute",
    "PP303": "type settings do not fit the type",
    "PP304": "sort or range on an attribute that has no order",
    "PP305": "full-text on a non-text attribute",
    "PP306": "set_null on a required relationship",
    "PP307": "placement on a family the organisation does not run",
    "PP308": "retention shorter than archiving",
    "PP309": "constant filter value does not fit the attribute",
    "PP310": "cache entity with no expiry or invalidation source",
    "PP311": "ephemeral data needs a store with expiry",
    "PP312": "relationship attributes on a one-to-* relationship",
    "PP313": "tenancy without a tenant key",
    "PP314": "full-text at scale without a search engine or relational fallback",
    "PP315": "rules that no record can satisfy",
    "PP316": "rename or drop contradicts the model",
    "PP317": "role name reserved for a built-in role",
    "PP318": "audit of an entity in a store that cannot audit",
    "PP319": "where or lock on a write kind that cannot have it",
    "PP320": "full-text in a write predicate",
    "PP321": "update with a predicate sets no attribute",
    "PP322": "aggregate of an attribute that does not fit the function",
    "PP323": "aggregate with keys it gives no meaning to",
    "PP324": "unknown relationship or attribute on a path",
    "PP325": "composite foreign key does not match the parent's key",
    "PP326": "path through a to-many relationship, or where a plain attribute is required",
    "PP327": "filter or sort op that does not fit the attribute a path reaches",
    "PP328": "filter op that does not fit a list, set or its items",
    "PP329": "JSON sub-field path that names no declared sub-field",
    "PP330": "increment names no attribute",
    "PP331": "increment of an attribute that is not a number",
    "PP332": "increment of a key, reference or unique attribute",
    "PP333": "increment step does not fit",
    "PP334": "collection of items that are not scalar",
    "PP335": "geo filter or sort that does not fit its attribute",
    "PP336": "geo point where a scalar is needed",
    "PP337": "facet that cannot be counted",
    "PP338": "bounded load of an entity that is not a one-to-many child",
    "PP339": "bounded load sorted on what the loaded entity cannot sort by",
    "PP340": "bounded load with a limit but no sort",
    "PP341": "skew (hot_share) that cannot hold",
    "PP342": "key kind and key attributes that contradict, or a unique rule on a keyless entity",
    "PP343": "relationship, write or erasure that needs the key of a keyless entity",
    "PP344": "keyless entity placed in a store that holds every record under its key",
    "PP345": "derived attribute over a relationship that does not lead from the entity to its children",
    "PP346": "derived function and attribute do not go together",
    "PP347": "derived attribute whose type does not fit its function",
    "PP348": "derived attribute written by something else",
    "PP349": "related field read that is not one value",
    "PP352": "cap with no attribute that orders the records",
    "PP353": "cap or loss tolerance on an entity that must be kept",
    "PP354": "cap whose trim would fail or could keep no record",
    "PP355": "full-text filter on a string too short to hold a word",
    "PP356": "unenforced reference that asks the database to act on a delete",
    "PP401": "no store can hold an entity or a transaction",
    "PP402": "target lacks a feature; substitution applied",
    "PP403": "pattern not served by an index",
    "PP404": "design change to avoid filtering",
    "PP405": "a projection cannot be as fresh as the pattern asks",
    "PP406": "pattern cannot be served by the store without filtering",
    "PP407": "reference across stores is not enforced",
    "PP408": "security setting the chosen store cannot enforce",
    "PP409": "encrypted attribute used by a range, prefix or sort",
    "PP410": "retention by time partitions: the primary key gains the time column",
    "PP411": "retention by batched deletes: the table cannot be partitioned",
    "PP412": "a TTL index would delete too many documents a second",
    "PP413": "retention or archive rule the store cannot carry out",
    "PP414": "write predicate a store cannot apply as one statement",
    "PP415": "row lock a store cannot take",
    "PP416": "aggregate a store leaves to the application",
    "PP417": "path through a relationship a store cannot follow",
    "PP418": "copy for a path costs more writes than its reads are worth",
    "PP419": "membership or JSON sub-field filter a store cannot serve",
    "PP421": "membership filter read row by row without an index",
    "PP430": "increment a store cannot apply natively",
    "PP431": "hot read pattern gets no cache",
    "PP432": "store outgrows the largest machine and its engine cannot scale out",
    "PP433": "unique key cannot include the distribution column",
    "PP434": "read patterns that must read the primary while the load needs replicas",
    "PP435": "no distribution column for a store that must scale out",
    "PP436": "target profile has no node capacity",
    "PP437": "store needs more nodes than its profile's max_nodes",
    "PP438": "PNG capacity charts not written: matplotlib is not installed",
    "PP441": "keyless table has no replica identity on PostgreSQL",
    "PP442": "keyless table gets the engine's hidden row key",
    "PP443": "aggregate through a relationship that the store cannot join",
    "PP444": "keyless entity gets no cache read model or search projection",
    "PP445": "PII in a key column cannot be encrypted",
    "PP446": "encryption not generated for the chosen relational engine",
    "PP447": "data subject is not an entity",
    "PP448": "erasure declared without a data subject",
    "PP449": "PII attribute that erasure cannot anonymize in place",
    "PP450": "data of the subject in a store the erasure procedure does not reach",
    "PP451": "erasure procedure contradicts the model",
    "PP452": "recovery point objective shorter than the store's backup can give",
    "PP453": "estimated restore time exceeds the recovery time objective",
    "PP454": "schema or database isolation a store cannot give per tenant",
    "PP455": "role reads PII that the store cannot withhold column by column",
    "PP456": "MongoDB role reads PII it cannot be denied",
    "PP457": "MongoDB role granted an embedded entity gets its root's documents",
    "PP458": "tenant-scoped search projection without a tenant key to filter on",
    "PP459": "partition nothing bounds",
    "PP460": "declared skew on a store that does not size by the largest group",
    "PP461": "full-text at scale served by the document store's text index",
    "PP462": "hot key lookup not cached: its record changes more often than it is read",
    "PP463": "bounded load whose order Redis cannot keep",
    "PP464": "bounded load not kept in search documents",
    "PP467": "access pattern its store reads with no structure made for it",
    "PP468": "derived attribute no store keeps in step",
    "PP469": "projection that does not follow a derived attribute's changes",
    "PP470": "related field copied because the store cannot join",
    "PP471": "cached read whose related field is joined, not in the cached entry",
    "PP473": "declared scan that runs once per hash bucket",
    "PP474": "prefix read served from prefix buckets: shorter prefixes are not sent",
    "PP475": "cap a store cannot keep by itself",
    "PP476": "loss tolerance: the durability a store gives up, or cannot give up",
    "PP477": "index proof on a table the model caps at a few rows: not asserted",
    "PP478": "capped MongoDB collection whose expiry no TTL index can keep",
    "PP479": "query property no valid data can show: said, not asked of the seed",
    "PP480": "declared distinct beyond the values the type allows",
    "PP483": "checked reference whose child inserts and parent updates are both hot",
    "PP484": "key longer than MariaDB/MySQL can index",
    "PP420": "index decision hinges on an assumed distinct count",
    "PP422": "geo query served by a fallback without a spatial index",
    "PP423": "geo query a store cannot serve",
    "PP424": "facets a store cannot count",
    "PP425": "the optimizer does not use the index or key the plan routes a pattern to",
    "PP426": "the optimizer costs a pattern no higher without its designed index",
    "PP427": "the optimizer costs a pattern lower with another index",
    "PP428": "polyplan tune could not EXPLAIN a pattern",
    "PP429": "polyplan tune has nothing to tune or no PostgreSQL URL",
    "PP501": "latency target at risk",
    "PP502": "partition or document size bound exceeded; bucketing applied",
    "PP601": "output folder holds files polyplan did not write",
    "PP602": "output path is unsafe to replace",
    "PP603": "output folder cannot be written",
    "PP604": "the command needs an optional extra that is not installed",
    "PP605": "the database to seed already holds rows",
    "PP606": "the database to seed holds part of the planned schema, or none of it with --no-create-schema",
    "PP610": "an SVG diagram needs Graphviz, which is not installed",
    "PP611": "no entity is stored in the store named for the diagram",
    "PP612": "Graphviz failed to render the diagram",
    "PP615": "options.relational_dialects leaves out the engine in engines.relational",
    "PP616": "options.relational_dialects lists a dialect twice",
    "PP617": "options.relational_dialects given but the model runs no relational engine",
    "PP618": "a target profile folder or file cannot be read",
    "PP619": "a target profile is not valid",
    "PP701": "entity or attribute vanished without being declared dropped",
    "PP702": "rename whose source the old version does not have",
    "PP703": "type change with no safe conversion",
    "PP704": "versions out of order",
    "PP705": "new required attribute without a default",
    "PP706": "migration folder does not continue from the old version",
    "PP707": "change a migration cannot make",
    "PP708": "new required document field without a default to backfill",
    "PP709": "Cassandra change that needs a new table",
    "PP710": "Redis key family that changes its key or structure",
    "PP711": "search or document change a migration cannot make",
    "PP712": "column keeps its name and changes its result type: prepared statements must be prepared again",
    "PP801": "statement rewrites the table",
    "PP802": "index built while blocking writes",
    "PP803": "NOT NULL added without a default or a validated check",
    "PP804": "volatile default on a new column",
    "PP805": "type narrowing",
    "PP806": "DDL without a lock or statement timeout",
    "PP807": "drop of a column or table",
    "PP808": "rename the running application breaks on",
    "PP809": "constraint validated while blocking writes",
    "PP810": "nothing to scaffold",
    "PP811": "pattern not scaffolded",
    "PP812": "a parent's write path not run by the package",
    "PP813": "table made logged or unlogged by a rewrite under lock",
}


# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: anything a terminal
# or an editor could take for the end of a line or an instruction.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(text: str) -> str:
    return _UNPRINTABLE.sub(lambda match: repr(match.group())[1:-1], text)


# Slotted: the loader keeps one for every key and value of the model (~380,000 for a
# 1,000-entity model), and a __dict__ each was ~30 MB of the planner's peak.
@dataclass(frozen=True, slots=True)
class Location:
    """Where in the model file a problem is."""

    file: str
    line: int
    column: int


@dataclass(frozen=True)
class Diagnostic:
    """One finding. `path` is the dotted path of the field, e.g. entities.Order.attributes.total."""

    code: str
    message: str
    path: str = ""
    severity: Severity = Severity.ERROR
    location: Location | None = None

    def render(self) -> str:
        """`FILE:LINE:COL: path.to.field: problem [CODE]`, the form editors and grep understand.

        Always one line: a name or value from the model that holds a line break or another
        control character (a key written as "Order\\n") is shown with escapes.
        """
        where = f"{self.location.file}:{self.location.line}:{self.location.column}: " if self.location else ""
        path = f"{self.path}: " if self.path else ""
        level = "" if self.severity is Severity.ERROR else "warning: "
        return _one_line(f"{where}{path}{level}{self.message} [{self.code}]")


@dataclass
class DiagnosticError(Exception):
    """Raised when input is bad; carries every error found, not just the first."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)
