"""The text of a scaffolded package (pure): one file per concern, deterministic.

`polyplan.scaffold.runtime` is carried verbatim as `<package>/runtime.py`; everything else is
written from the `Scaffold` design.
"""

from __future__ import annotations

from polyplan.emit.embed import module_code
from polyplan.scaffold.cache_record import render_records
from polyplan.scaffold.cache_record import runtime_code as records_runtime
from polyplan.scaffold.design import Column, Scaffold
from polyplan.scaffold.doc_outbox import relay_metrics_import
from polyplan.scaffold.document import render_documents, runtime_code

# The module rules were imported from here before module_text.py: the `X as X` ones re-exported.
from polyplan.scaffold.module_text import _CLIENTS as _CLIENTS
from polyplan.scaffold.module_text import _HEADER, _annotation, _copied, record_imports
from polyplan.scaffold.module_text import _from_import as _from_import
from polyplan.scaffold.module_text import _literal as _literal
from polyplan.scaffold.module_text import _module as _module
from polyplan.scaffold.package_files import _compose, _init, _requirements, _settings
from polyplan.scaffold.relational_render import _models, _projection, _reads, _sql, _writes
from polyplan.scaffold.relational_writes import runtime_code as writes_runtime
from polyplan.scaffold.relay_render import _relay
from polyplan.scaffold.search_render import _search
from polyplan.scaffold.wide_column import render_wide_column
from polyplan.scaffold.wide_column import runtime_code as wide_runtime


def render_scaffold(scaffold: Scaffold) -> dict[str, str]:
    """Relative path → text of every file of the package."""
    package = scaffold.package
    runtime = relay_metrics_import(module_code("polyplan.scaffold", "runtime.py"), package)
    files = {
        f"{package}/__init__.py": _init(scaffold),
        f"{package}/py.typed": "",
        f"{package}/runtime.py": '"""Runtime helpers: codec, cache-aside, relay loop (copied from polyplan)."""\n\n'
        + _HEADER.format(model=scaffold.model)
        + "\nfrom __future__ import annotations\n"
        + runtime,
        f"{package}/settings.py": _settings(scaffold),
        f"{package}/relay_metrics.py": _copied(
            scaffold, "every outbox relay (loop, metrics)", module_code("polyplan.scaffold", "relay_metrics.py")
        ),
    }
    if scaffold.engines:  # the relational record's modules (none for a plan without one)
        files[f"{package}/models.py"] = _models(scaffold)
        files[f"{package}/sql.py"] = _sql(scaffold)
        files[f"{package}/reads.py"] = _reads(scaffold)
        files[f"{package}/writes.py"] = _writes(scaffold)
        files[f"{package}/projection.py"] = _projection(scaffold)
        files[f"{package}/relay.py"] = _relay(scaffold)
    if scaffold.parents:
        from polyplan.scaffold import cache_parents

        header = _HEADER.format(model=scaffold.model)
        files[f"{package}/parents.py"] = cache_parents.render_parents(package, scaffold.model, header, scaffold.parents)
        files[f"{package}/{cache_parents.RUNTIME}.py"] = _copied(
            scaffold, "a parent's write paths", cache_parents.runtime_code(package)
        )
    if scaffold.planned_writes:
        files[f"{package}/write_runtime.py"] = _copied(scaffold, "the writes.sql writes", writes_runtime(package))
    if scaffold.documents:
        files[f"{package}/documents.py"] = render_documents(scaffold, scaffold.documents, _annotation)
        files[f"{package}/document_runtime.py"] = _copied(scaffold, "the document store", runtime_code())
        from polyplan.scaffold import doc_outbox

        if doc_outbox.relayed(scaffold):  # the document store's outbox
            files[f"{package}/{doc_outbox.RELAY}.py"] = doc_outbox.render_doc_relay(scaffold, scaffold.documents)
            files[f"{package}/doc_outbox_runtime.py"] = _copied(
                scaffold, "the document store's outbox", doc_outbox.runtime_code(package)
            )
    if scaffold.records:
        files[f"{package}/records.py"] = render_records(scaffold, scaffold.records, _annotation)
        files[f"{package}/cache_record_runtime.py"] = _copied(scaffold, "the Redis records", records_runtime())
    if scaffold.wide_column:
        files[f"{package}/wide_column.py"] = render_wide_column(scaffold, scaffold.wide_column, _annotation)
        files[f"{package}/wide_column_runtime.py"] = _copied(scaffold, "Cassandra", wide_runtime())
    from polyplan.scaffold.keyed_outbox import keyed_files  # Redis and Cassandra records' outboxes

    files |= keyed_files(scaffold, lambda what, code: _copied(scaffold, what, code))
    if scaffold.indexes:
        files[f"{package}/search.py"] = _search(scaffold)
        files[f"{package}/search_runtime.py"] = (
            '"""Runtime helpers of the search projection (copied from polyplan)."""\n\n'
            + _HEADER.format(model=scaffold.model)
            + "\nfrom __future__ import annotations\n"
            + module_code("polyplan.scaffold", "search_runtime.py").replace(
                "from polyplan.scaffold.runtime import", f"from {package}.runtime import"
            )
        )
    files["requirements.txt"] = _requirements(scaffold)
    compose = _compose(scaffold)
    if compose is not None:
        files["compose.yml"] = compose
    for engine, statements in scaffold.outbox_ddl.items():
        files[f"sql/outbox.{engine}.sql"] = "".join(f"{s};\n\n" for s in statements).rstrip("\n") + "\n"
    return files


__all__ = ["Column", "record_imports", "render_scaffold"]
