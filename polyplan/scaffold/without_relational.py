"""A plan with no relational entity (pure): its package serves the stores the plan uses.

Before, `polyplan scaffold` refused such a plan (PP810) although the package has modules for the
document store, Cassandra, Redis records and the search index. Now settings.py connects only the
stores the plan uses (no `<APP>_DATABASE_URL`, no SQLAlchemy engine), the relational modules
(models.py, sql.py, reads.py, writes.py, projection.py, relay.py, sql/outbox.*.sql, load.py,
check.py) are not written, and compose.yml holds those stores and, when a document-store entity
feeds a search index, `doc_relay` as the relay service. PP810 stays when nothing can be scaffolded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyplan.scaffold.design import Scaffold


def relational_settings(prefix: str, engines: tuple[str, ...], relational: bool) -> dict[str, str]:
    """The pieces of settings.py that concern the relational system of record: its variable, the
    `database` field, the `engine` property, connect()'s URL check and engine (all empty without one)."""
    if not relational:
        return dict.fromkeys(("names", "engines", "field", "engine", "doc", "url", "arg", "check"), "") | {
            "what": "the stores the plan uses, each optional until a function needs it"
        }
    return {
        "names": f'DATABASE_URL = "{prefix}_DATABASE_URL"\n',
        "engines": f"ENGINES = {tuple(engines)!r}\n",
        "what": "the system of record and the cache (optional)",
        "field": "    database: sa.Engine\n",
        "engine": (
            "    @property\n"
            "    def engine(self) -> str:\n"
            '        """The relational engine\'s name, one of ENGINES."""\n'
            "        name = self.database.dialect.name\n"
            '        name = "mysql" if name == "mariadb" else name  # `mariadb+pymysql://` runs the mysql SQL\n'
            "        if name not in ENGINES:\n"
            "            raise SettingsError(f\"{name} is not one of {', '.join(ENGINES)}: this package has no SQL for it\")\n"
            "        return name\n\n"
        ),
        "doc": f"{prefix}_DATABASE_URL, ",
        "url": (
            "    url = environ.get(DATABASE_URL)\n"
            "    if not url:\n"
            '        raise SettingsError(f"set {DATABASE_URL} to the system of record\'s SQLAlchemy URL")\n'
        ),
        "arg": "sa.create_engine(url, pool_pre_ping=True), ",
        "check": "    stores.engine  # noqa: B018  (checks the engine now, not at the first query)\n",
    }


def compose_without_relational(
    scaffold: Scaffold, stores: list[tuple[str, str]], more_relays: Sequence[str] = ()
) -> str | None:
    """compose.yml of a package with no relational entity: the stores it uses, `doc_relay` as
    the relay service when the document store feeds a search index, and `more_relays` (`keyed_relay`)
    as services of their own names (None when no store has a compose service: nothing to start)."""
    from polyplan.emit.compose import render_app_compose

    if not stores:
        return None
    from polyplan.scaffold import doc_outbox

    relay = doc_outbox.RELAY if doc_outbox.relayed(scaffold) else None
    return render_app_compose(scaffold.model, scaffold.package, stores, relay, more_relays=more_relays)
