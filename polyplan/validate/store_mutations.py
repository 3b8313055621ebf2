"""Mutation testing of the non-relational artifacts: break a plan folder's Redis key design,
Cassandra tables, search mappings and MongoDB collections the way a generator bug could, and
require the generated tests of that store to fail and name what was broken.

A generator bug is usually consistent: a wrong TTL lands in `schema.cql` *and* `design.json`, a
wrong key template in the template *and* every command that uses it. So each mutation edits
every artifact that carries the value, and only the model-derived data of the generated tests
(`tests/data/*.json`, or for Cassandra and search made from `tests/data/model.json` when the
tests run: from the model, never from the artifacts) can tell. The relational
counterpart is `polyplan.validate.mutations`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyplan.validate.mutations import failures


@dataclass(frozen=True)
class StoreMutation:
    """Edits of one or more files of a plan folder, and what a failing run must name."""

    operator: str
    engine: str  # the engine whose generated tests must catch it
    target: str  # a key family, table, index alias or collection the failure must name
    edits: tuple[tuple[str, str], ...]  # (path relative to the folder, the file's new text)
    detail: str = ""
    # Other names a failure may use for the target: the patterns a key family or table serves
    # (a wrong answer is reported under the pattern that read it).
    also: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.operator} {self.target}" + (f" ({self.detail})" if self.detail else "")

    def apply(self, folder: Path) -> None:
        """Write the edited files into `folder` (a copy of the plan folder)."""
        for path, text in self.edits:
            (folder / path).write_text(text, encoding="utf-8")


def _json(text: str) -> Any:
    return json.loads(text)


def _dump(value: Any, like: str) -> str:
    """`value` as JSON in the layout of the file it came from (indent and key order kept, so the
    edit is the only difference)."""
    indent = 2
    match = re.search(r"\n( +)\S", like)
    if match:
        indent = len(match[1])
    return json.dumps(value, indent=indent, ensure_ascii=False) + ("\n" if like.endswith("\n") else "")


def _read(folder: Path, path: str) -> str:
    return (folder / path).read_text(encoding="utf-8")


# --- Redis ---------------------------------------------------------------------------------------


def _replace_strings(value: Any, old: str, new: str) -> Any:
    """`value` with `old` replaced by `new` inside every string it holds."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_strings(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_strings(v, old, new) for k, v in value.items()}
    return value


def _ttl_commands(value: Any, template: str, old: int, new: int) -> Any:
    """Commands on `template` with their expiry (`EX <old>`, `EXPIRE key <old>`) set to `new`."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value) and template in value:
        return [str(new) if v == str(old) else v for v in value]
    if isinstance(value, list):
        return [_ttl_commands(v, template, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _ttl_commands(v, template, old, new) for k, v in value.items()}
    return value


def redis_mutations(folder: Path) -> list[StoreMutation]:
    """Per key family: its TTL halved everywhere it is written, and its key template made to
    collide (the record key's placeholders replaced by a constant)."""
    path = "redis/keys.json"
    if not (folder / path).is_file():
        return []
    text = _read(folder, path)
    design = _json(text)
    found: list[StoreMutation] = []

    def readers(family: str) -> tuple[str, ...]:
        return tuple(sorted({read["pattern"] for read in design.get("reads", []) if family in read["keys"]}))

    for index, family in enumerate(design["keys"]):
        name, template = family["name"], family["template"]
        ttl = family.get("ttl_seconds")
        if ttl:
            shorter = max(1, int(ttl) // 2)
            edited = _ttl_commands(design, template, int(ttl), shorter)
            edited["keys"][index]["ttl_seconds"] = shorter
            found.append(
                StoreMutation("change-ttl", "redis", name, ((path, _dump(edited, text)),), f"{ttl} → {shorter} s")
            )  # a TTL is checked per family: only the family's own name counts
        placeholders = re.findall(r"<[^<>]+>", template)
        if placeholders:
            collided = template
            for placeholder in placeholders:
                collided = collided.replace(placeholder, "x")
            edited = _replace_strings(design, template, collided)
            found.append(
                StoreMutation(
                    "collide-key",
                    "redis",
                    name,
                    ((path, _dump(edited, text)),),
                    f"{template} → {collided}",
                    readers(name),
                )
            )
    return found


# --- Cassandra -----------------------------------------------------------------------------------

_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\S+)\.(\S+) \(\n.*?;$", re.M | re.S)


def cassandra_mutations(folder: Path) -> list[StoreMutation]:
    """Per table: the clustering order flipped, the partition key changed (its last column moved
    into the clustering key, or the first clustering column moved into it), and the default TTL
    halved — each in `schema.cql` and `design.json` alike."""
    schema_path, design_path = "cassandra/schema.cql", "cassandra/design.json"
    if not (folder / schema_path).is_file():
        return []
    schema, design_text = _read(folder, schema_path), _read(folder, design_path)
    design = _json(design_text)
    found: list[StoreMutation] = []

    def add(operator: str, table: str, statement: str, edited: str, spec: dict[str, Any], detail: str) -> None:
        if edited == statement:
            return
        changed = json.loads(json.dumps(design))
        changed["tables"][table] = spec
        edits = ((schema_path, schema.replace(statement, edited, 1)), (design_path, _dump(changed, design_text)))
        found.append(StoreMutation(operator, "cassandra", table, edits, detail, tuple(spec.get("patterns", ()))))

    for match in _TABLE.finditer(schema):
        statement, table = match[0], match[2].strip('"')
        spec = design["tables"].get(table)
        if spec is None:
            continue
        order = re.search(r"CLUSTERING ORDER BY \((.*?)\)", statement)
        # Flipping a clustering order no query sorts by (a uniqueness tie-breaker such as `id`)
        # changes no answer and no read path: an equivalent mutant, not generated.
        sorted_by = any(q.get("table") == table and q.get("order") for q in design.get("queries", {}).values())
        if order and sorted_by:
            flipped = re.sub(r"\b(ASC|DESC)\b", lambda m: "DESC" if m[1] == "ASC" else "ASC", order[1])
            new_spec = dict(spec, clustering=[[c, "asc" if d == "desc" else "desc"] for c, d in spec["clustering"]])
            add("flip-clustering", table, statement, statement.replace(order[1], flipped), new_spec, flipped)
        key = re.search(r"PRIMARY KEY \((?:\((.*?)\)(.*?)|(\w+|\"[^\"]+\")(.*?))\)\n", statement)
        if key:
            # `((a, b), c)` or `(a, c)`: a single partition column may go without parentheses.
            partition = [c.strip() for c in (key[1] or key[3]).split(",")]
            clustering = [c.strip() for c in (key[2] if key[1] else key[4]).split(",") if c.strip()]
            if len(partition) > 1:
                partition, clustering = partition[:-1], [partition[-1], *clustering]
            elif clustering:
                partition, clustering = [*partition, clustering[0]], clustering[1:]
            else:
                continue
            rest = "".join(f", {c}" for c in clustering)
            new_key = f"PRIMARY KEY (({', '.join(partition)}){rest})\n"
            edited = statement.replace(key[0], new_key, 1)
            if not clustering:
                edited = re.sub(r"\) WITH CLUSTERING ORDER BY \(.*?\)\n  AND ", ") WITH ", edited)
            new_spec = dict(spec, partition_key=[c.strip('"') for c in partition])
            add("change-partition-key", table, statement, edited, new_spec, new_key.strip())
        ttl = re.search(r"default_time_to_live = (\d+)", statement)
        if ttl and int(ttl[1]) > 1:
            shorter = int(ttl[1]) // 2
            edited = statement.replace(ttl[0], f"default_time_to_live = {shorter}", 1)
            add("change-ttl", table, statement, edited, dict(spec, ttl_seconds=shorter), f"{ttl[1]} → {shorter} s")
    return found


def _query_edits(
    folder: Path, pattern: str, old: str, new: str, changes: dict[str, Any]
) -> tuple[tuple[str, str], ...]:
    """A pattern's query changed in `cassandra/queries.cql` and in `design.json` alike (its CQL,
    and the `changes` to the description of it there, such as its limit or order)."""
    queries_path, design_path = "cassandra/queries.cql", "cassandra/design.json"
    queries, design_text = _read(folder, queries_path), _read(folder, design_path)
    design = _json(design_text)
    design["queries"][pattern].update(changes, cql=new)
    return (queries_path, queries.replace(f"{old};", f"{new};", 1)), (design_path, _dump(design, design_text))


_RANGE_RESTRICTION = re.compile(r" AND (\w+|\"[^\"]+\") (>=|>|<=|<) :(\w+)")


def cassandra_query_mutations(folder: Path) -> list[StoreMutation]:
    """Per pattern query of `cassandra/queries.cql`: its LIMIT removed or cut to a quarter, its
    ORDER BY flipped, and each bound of a range on a clustering column dropped — in the CQL and in
    design.json alike. Only the test data can catch these: the catalog reads the tables, not the
    queries."""
    design_path = "cassandra/design.json"
    if not (folder / design_path).is_file():
        return []
    queries = _json(_read(folder, design_path)).get("queries", {})
    found: list[StoreMutation] = []
    for pattern, query in sorted(queries.items()):
        cql = query["cql"]

        def add(
            operator: str, new: str, changes: dict[str, Any], detail: str, pattern: str = pattern, cql: str = cql
        ) -> None:
            if new != cql:
                edits = _query_edits(folder, pattern, cql, new, changes)
                found.append(StoreMutation(operator, "cassandra", pattern, edits, detail, (queries[pattern]["table"],)))

        limit = re.search(r"\n\s*LIMIT (\d+)$", cql)
        if limit:
            add("remove-limit", cql[: limit.start()], {"limit": None}, f"LIMIT {limit[1]}")
            fewer = max(1, int(limit[1]) // 4)
            if fewer != int(limit[1]):
                changed = cql[: limit.start()] + limit[0].replace(limit[1], str(fewer))
                add("change-limit", changed, {"limit": fewer}, f"LIMIT {limit[1]} → {fewer}")
        order = re.search(r"ORDER BY (.*?)(\n|$)", cql)
        if order:
            flipped = re.sub(r"\b(ASC|DESC)\b", lambda m: "DESC" if m[1] == "ASC" else "ASC", order[1])
            new_order = [[c, "asc" if d == "desc" else "desc"] for c, d in query["order"]]
            add("flip-sort", cql.replace(order[1], flipped, 1), {"order": new_order}, flipped)
        for bound in _RANGE_RESTRICTION.finditer(cql):
            add("drop-range-bound", cql.replace(bound[0], "", 1), {}, bound[0].removeprefix(" AND "))
    return found


# --- search (Elasticsearch, OpenSearch) ----------------------------------------------------------

# A mapping type a generator could plausibly confuse with the designed one.
_CONFUSED = {"keyword": "text", "text": "keyword", "integer": "keyword", "long": "keyword", "date": "keyword"}


def search_mutations(folder: Path, engine: str) -> list[StoreMutation]:
    """Per index template: the first field whose type a bug could confuse gets that type."""
    found: list[StoreMutation] = []
    for path in sorted((folder / engine).glob("*.template.json")) if (folder / engine).is_dir() else []:
        relative = f"{engine}/{path.name}"
        text = path.read_text(encoding="utf-8")
        template = _json(text)
        alias = template["_meta"]["alias"]
        properties = template["template"]["mappings"]["properties"]
        for field, mapping in properties.items():
            wrong = _CONFUSED.get(mapping.get("type", ""))
            if wrong is None or set(mapping) - {"type"}:
                continue  # analyzers, normalizers, formats would not fit the other type
            edited = json.loads(text)
            edited["template"]["mappings"]["properties"][field] = {"type": wrong}
            found.append(
                StoreMutation(
                    "change-mapping-type",
                    engine,
                    alias,
                    ((relative, _dump(edited, text)),),
                    f"{field}: {mapping['type']} → {wrong}",
                )
            )
    return found


# A search template's mustache parts that are not JSON, stood in for by JSON strings while a
# mutation edits the body: `{{#toJson}}name{{/toJson}}` and the size with its default.
_TO_JSON = re.compile(r"\{\{#toJson\}\}(\w+)\{\{/toJson\}\}")
_SIZE = re.compile(r"\{\{size\}\}\{\{\^size\}\}(\d+)\{\{/size\}\}")
_STAND_IN = re.compile(r'"@pp-(json|size):(\w+)@"')
_SEARCH_BOUNDS = ("gt", "gte", "lt", "lte")


def _template_body(source: str) -> Any:
    """A search template's source parsed as JSON, its mustache parts as stand-in strings."""
    return _json(_SIZE.sub(r'"@pp-size:\1@"', _TO_JSON.sub(r'"@pp-json:\1@"', source)))


def _template_source(body: Any) -> str:
    """`body` back as template source, in the generator's compact layout."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return _STAND_IN.sub(
        lambda m: "{{#toJson}}" + m[2] + "{{/toJson}}" if m[1] == "json" else "{{size}}{{^size}}" + m[2] + "{{/size}}",
        text,
    )


def search_query_mutations(folder: Path, engine: str) -> list[StoreMutation]:
    """Per pattern template of `<engine>/queries.json`: its size removed or cut to a quarter, its
    sort flipped, each filter of its bool query dropped (full-text `must` clauses too) and each
    bound of a range dropped. The
    generated test runs these templates as stored, so only its model-derived data can tell."""
    path = f"{engine}/queries.json"
    if not (folder / path).is_file():
        return []
    text = _read(folder, path)
    found: list[StoreMutation] = []
    for alias, index in sorted(_json(text)["indexes"].items()):
        for pattern, query in sorted(index["patterns"].items()):

            def add(
                operator: str,
                change: Callable[[dict[str, Any]], Any],
                detail: str,
                alias: str = alias,
                pattern: str = pattern,
            ) -> None:
                edited = _json(text)
                entry = edited["indexes"][alias]["patterns"][pattern]
                body = _template_body(entry["source"])
                change(body)
                entry["source"] = _template_source(body)
                found.append(StoreMutation(operator, engine, pattern, ((path, _dump(edited, text)),), detail, (alias,)))

            body = _template_body(query["source"])
            size = _SIZE.search(query["source"])
            if size:
                add("remove-size", lambda b: b.pop("size"), f"size {size[1]}")
                fewer = max(1, int(size[1]) // 4)
                if fewer != int(size[1]):

                    def cut(b: dict[str, Any], fewer: int = fewer) -> None:
                        b["size"] = f"@pp-size:{fewer}@"

                    add("change-size", cut, f"size {size[1]} → {fewer}")
            if body.get("sort"):

                def flip(b: dict[str, Any]) -> None:
                    for key in b["sort"]:
                        for spec in key.values():
                            spec["order"] = "asc" if spec["order"] == "desc" else "desc"

                add("flip-sort", flip, "every sort key")
            filters = body.get("query", {}).get("bool", {}).get("filter", [])
            for position, clause in enumerate(filters):
                kind, spec = next(iter(clause.items()))
                field = next(iter(spec))
                if kind == "range":
                    for bound in [b for b in spec[field] if b in _SEARCH_BOUNDS]:

                        def drop_bound(
                            b: dict[str, Any], position: int = position, field: str = field, bound: str = bound
                        ) -> None:
                            del b["query"]["bool"]["filter"][position]["range"][field][bound]
                            if not set(b["query"]["bool"]["filter"][position]["range"][field]) & set(_SEARCH_BOUNDS):
                                del b["query"]["bool"]["filter"][position]

                        add("drop-range-bound", drop_bound, f"{field} {bound}")
                else:

                    def drop_filter(b: dict[str, Any], position: int = position) -> None:
                        del b["query"]["bool"]["filter"][position]

                    add("drop-filter", drop_filter, f"{kind} {field}")
            for position, clause in enumerate(body.get("query", {}).get("bool", {}).get("must", [])):
                kind, spec = next(iter(clause.items()))

                def drop_search(b: dict[str, Any], position: int = position) -> None:
                    del b["query"]["bool"]["must"][position]
                    if not b["query"]["bool"]["must"]:
                        del b["query"]["bool"]["must"]

                add("drop-filter", drop_search, f"{kind} {next(iter(spec))}")
    return found


# --- MongoDB (or FerretDB) -----------------------------------------------------------------------


def mongodb_mutations(folder: Path) -> list[StoreMutation]:
    """Per collection: each designed index dropped or its first two keys swapped, and the first
    required field made optional in the validator."""
    found: list[StoreMutation] = []
    directory = folder / "mongodb" / "collections"
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        relative = f"mongodb/collections/{path.name}"
        text = path.read_text(encoding="utf-8")
        spec = _json(text)
        collection = spec["collection"]
        for position, index in enumerate(spec.get("indexes", [])):
            dropped = json.loads(text)
            del dropped["indexes"][position]
            target = f"{collection}.{index['name']}"
            # A failure may name what the index serves: `collection.pattern`, or the collection's shard key.
            serves = tuple(collection if s == "shard" else f"{collection}.{s}" for s in index.get("serves", []))
            found.append(
                StoreMutation("drop-index", "mongodb", target, ((relative, _dump(dropped, text)),), also=serves)
            )
            if len(index["key"]) > 1:
                # The last key first: a sort or range key before the equality keys (swapping two
                # equality keys would serve the same queries: an equivalent mutant).
                moved = json.loads(text)
                keys = moved["indexes"][position]["key"]
                keys.insert(0, keys.pop())
                found.append(
                    StoreMutation(
                        "reorder-index", "mongodb", target, ((relative, _dump(moved, text)),), str(keys), serves
                    )
                )
        required = spec["validator"]["$jsonSchema"].get("required", [])
        optional = next((name for name in required if name != "_id"), None)
        if optional is not None:
            loosened = json.loads(text)
            loosened["validator"]["$jsonSchema"]["required"].remove(optional)
            found.append(
                StoreMutation("drop-required", "mongodb", collection, ((relative, _dump(loosened, text)),), optional)
            )
    return found


_BOUNDS = ("$gt", "$gte", "$lt", "$lte")


def mongodb_query_mutations(folder: Path) -> list[StoreMutation]:
    """Per pattern query of `mongodb/queries.json`: its limit removed or cut to a quarter, its
    sort flipped, each range bound dropped and each other filter dropped. The generated test
    runs these queries as written, so only its model-derived data can tell."""
    path = "mongodb/queries.json"
    if not (folder / path).is_file():
        return []
    text = _read(folder, path)
    found: list[StoreMutation] = []
    for position, query in enumerate(_json(text)["queries"]):

        def add(operator: str, change: Callable[[dict[str, Any]], None], detail: str, position: int = position) -> None:
            edited = _json(text)
            change(edited["queries"][position])
            found.append(
                StoreMutation(
                    operator, "mongodb", edited["queries"][position]["pattern"], ((path, _dump(edited, text)),), detail
                )
            )

        limit = query.get("limit")
        if limit:
            add("remove-limit", lambda q: q.update(limit=None), f"limit {limit}")
            if limit // 4 != limit:
                add(
                    "change-limit",
                    lambda q: q.update(limit=max(1, q["limit"] // 4)),
                    f"limit {limit} → {max(1, limit // 4)}",
                )
        if query.get("sort"):
            add(
                "flip-sort",
                lambda q: q.update(sort=[[f, -d] for f, d in q["sort"]]),
                str([[f, -d] for f, d in query["sort"]]),
            )
        for field, condition in query["filter"].items():
            if field.startswith("$"):
                continue  # $text, $or: not one field's filter
            bounds = [op for op in condition if op in _BOUNDS] if isinstance(condition, dict) else []
            for op in bounds:

                def drop_bound(q: dict[str, Any], field: str = field, op: str = op) -> None:
                    del q["filter"][field][op]
                    if not q["filter"][field]:
                        del q["filter"][field]

                add("drop-range-bound", drop_bound, f"{field} {op}")
            if not bounds:

                def drop_filter(q: dict[str, Any], field: str = field) -> None:
                    del q["filter"][field]

                add("drop-filter", drop_filter, field)
    return found


GENERATORS: dict[str, Callable[[Path], list[StoreMutation]]] = {
    "redis": redis_mutations,
    "cassandra": lambda folder: [*cassandra_mutations(folder), *cassandra_query_mutations(folder)],
    "elasticsearch": lambda folder: [
        *search_mutations(folder, "elasticsearch"),
        *search_query_mutations(folder, "elasticsearch"),
    ],
    "opensearch": lambda folder: [
        *search_mutations(folder, "opensearch"),
        *search_query_mutations(folder, "opensearch"),
    ],
    "mongodb": lambda folder: [*mongodb_mutations(folder), *mongodb_query_mutations(folder)],
}


def store_mutations(folder: Path, engine: str) -> list[StoreMutation]:
    """Every mutation of `engine`'s artifacts in a plan folder (none for an engine it lacks)."""
    return GENERATORS[engine](folder)


def names_target(mutation: StoreMutation, output: str) -> bool:
    """Whether a failing run's summary or assertion messages name the mutation's target."""
    lines = [*failures(output), *(line for line in output.splitlines() if line.startswith("E "))]
    names = "|".join(re.escape(name) for name in (mutation.target, *mutation.also))
    pattern = re.compile(rf"(?<![\w.])(?:{names})(?![\w])")
    return any(pattern.search(line) for line in lines)


def judged(
    mutations: list[StoreMutation], run: Callable[[StoreMutation], tuple[int, str]]
) -> Iterator[tuple[StoreMutation, bool, str]]:
    """(mutation, caught, what the run said) per mutation: `run` validates a mutated copy and
    returns its exit code and pytest's output."""
    for mutation in mutations:
        code, output = run(mutation)
        caught = code != 0 and names_target(mutation, output)
        yield mutation, caught, "" if caught else ("; ".join(failures(output))[:500] or "all tests passed")
