"""MongoDB roles from the security design: `mongodb/roles.py`, a script that creates them (pure).

The same roles as the relational stores, as MongoDB privileges on the model's collections:

* the owner may create, change and drop collections and indexes, and read and write documents
  (it runs `setup.py` and migrations);
* the application may find, insert, update and remove documents of the model's collections, and
  nothing else: no createCollection (so not even an insert can create one), no index, no drop;
* the read-only role may find only;
* each model role gets, per collection of an entity it was granted, find (read), insert, update
  and remove (write), or those with the collection's index and drop actions (admin).

What MongoDB roles cannot say is a coded warning: they have no field-level permissions, so a role
that reads an entity with PII reads those fields (PP456); and an embedded entity has no collection
of its own, so a grant on it is a grant on its root's whole documents (PP457). Roles are created
without users; `--user ROLE=LOGIN` adds a login with the role, its password read from the
environment, so no password is ever written here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.emit.embed import module_code, standalone
from polyplan.model.derived import all_attributes
from polyplan.model.schema import RequirementsModel, Sensitivity
from polyplan.security.design import OWNER, READONLY, EntityAccess, builtin_roles, role_access, role_name

if TYPE_CHECKING:  # the document target imports this module: no import back at run time
    from polyplan.stores.document.spec import DocumentDesign

ROLES_FILE = "mongodb/roles.py"
READ = ("find",)
WRITE = ("insert", "update", "remove")
ADMIN = ("createIndex", "dropIndex", "collMod", "dropCollection", "listIndexes")
# The owner's privileges on the whole database (collections it creates included).
OWNER_ACTIONS = (*READ, *WRITE, "createCollection", *ADMIN, "listCollections")
# Every action in one fixed order: a role's actions are listed in it (deterministic output).
_ORDER = (*READ, *WRITE, "createCollection", *ADMIN, "listCollections")


# What the built-in roles are in MongoDB, where it differs from the relational wording.
_ABOUT = {
    OWNER: "creates, changes and drops collections and indexes; runs setup.py and migrations; never used by "
    "the application",
    READONLY: "reporting and support: finds documents only (every field: MongoDB roles cannot withhold PII, PP456)",
}


def _holders(document: DocumentDesign) -> dict[str, tuple[str, str]]:
    """Entity → (its collection, the entity whose documents hold it: itself unless embedded)."""
    found = {c.entity: (c.name, c.entity) for c in document.collections}
    embedded = [e for e in document.embeddings if e.embedded]
    changed = True
    while changed:  # an entity embedded in an embedded one: follow the chain to its root
        changed = False
        for embedding in embedded:
            if embedding.child not in found and embedding.parent in found:
                found[embedding.child] = found[embedding.parent]
                changed = True
    return found


def _actions(access: EntityAccess) -> tuple[str, ...]:
    granted = (*READ,) * access.read + WRITE * access.write + (*READ, *WRITE, *ADMIN) * access.admin
    return tuple(a for a in _ORDER if a in granted)


def _privileges(grants: Iterable[tuple[str, tuple[str, ...]]]) -> list[dict[str, object]]:
    """Per collection (in name order) the union of its actions."""
    merged: dict[str, set[str]] = {}
    for collection, actions in grants:
        merged.setdefault(collection, set()).update(actions)
    return [
        {"resource": {"collection": name}, "actions": [a for a in _ORDER if a in actions]}
        for name, actions in sorted(merged.items())
        if actions
    ]


def mongodb_roles(
    model: RequirementsModel, document: DocumentDesign, prefix: str | None = None
) -> tuple[list[dict[str, object]], list[Diagnostic]]:
    """The role definitions (name, privileges without the database, what the role is for), and
    PP456/PP457 for what MongoDB roles cannot express."""
    holders = _holders(document)
    pii = {
        entity
        for entity in holders
        if any(a.pii is not Sensitivity.NONE for a in all_attributes(model, entity).values())
    }
    found: list[Diagnostic] = []
    roles: list[dict[str, object]] = []
    for builtin in builtin_roles(model):
        if builtin.name == OWNER:
            privileges: list[dict[str, object]] = [{"resource": {"collection": ""}, "actions": list(OWNER_ACTIONS)}]
        else:
            privileges = _privileges((holders[a.entity][0], _actions(a)) for a in builtin.access if a.entity in holders)
        about = _ABOUT.get(builtin.name, builtin.purpose)
        roles.append({"role": role_name(model, builtin.name, prefix), "about": about, "privileges": privileges})
    readers = sorted(pii)
    if readers:
        found.append(_pii_warning(READONLY, readers, "security"))
    for index, role in enumerate(model.security.roles):
        accesses = [a for a in role_access(model, role) if a.entity in holders]
        by_entity = {a.entity: a for a in accesses}
        path = f"security.roles.{index}"
        for access in accesses:
            collection, root = holders[access.entity]
            held = by_entity.get(root)
            if root != access.entity and (held is None or not set(_actions(access)) <= set(_actions(held))):
                found.append(
                    Diagnostic(
                        "PP457",
                        f"role {role.name} is granted {access.entity}, which MongoDB stores inside {root}'s "
                        f"documents (collection {collection}): a MongoDB role grants whole collections, so it "
                        f"gets {root}'s documents too",
                        path,
                        Severity.WARNING,
                    )
                )
        seen = sorted({a.entity for a in accesses if a.read and not a.sees_pii and a.entity in pii})
        if seen:
            found.append(_pii_warning(role.name, seen, path))
        privileges = _privileges((holders[a.entity][0], _actions(a)) for a in accesses)
        roles.append(
            {"role": role_name(model, role.name, prefix), "about": f"model role {role.name}", "privileges": privileges}
        )
    return roles, found


def _pii_warning(role: str, entities: list[str], path: str) -> Diagnostic:
    return Diagnostic(
        "PP456",
        f"role {role} reads {', '.join(entities)} in mongodb, whose roles have no field-level permissions: "
        "it sees their PII fields, which the relational stores withhold from a read-only role",
        path,
        Severity.WARNING,
    )


_SCRIPT = '''"""Create the MongoDB roles of model %(model)s (least privilege), and logins that hold them.

Roles, on the database given (default: the URL's, else %(default_db)r):

%(listing)s

Each role is created, or updated to exactly these privileges when it exists (run it again after
the model changes). `--user ROLE=LOGIN` creates (or updates) a login with that role; its password
is read from the environment variable LOGIN_PASSWORD (the login upper-cased, `-` as `_`), never
from the command line. `--drop` removes the roles and the listed logins. Run as a user
administrator (userAdmin on the database) of a server with authorization enabled: without it
MongoDB enforces none of this. MongoDB roles have no field-level permissions: every role that may
find a collection reads all of its fields.
Usage:

    python roles.py MONGODB_URL [DBNAME] [--prefix PREFIX] [--user ROLE=LOGIN ...] [--drop]

Exit status 0 when done, 1 when the server refused or could not be reached, 2 on bad usage.
Generated by polyplan from the requirements model; change the model, not this file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from pymongo.errors import PyMongoError
%(database)s%(report)s
# Role name, purpose, and privileges per collection ("" is every collection of the database).
ROLES = json.loads(%(roles)r)


def named(role: dict[str, Any], prefix: str | None) -> str:
    """The role's name, its model prefix replaced by `prefix` (a test's own roles)."""
    if prefix is None:
        return str(role["role"])
    return prefix + str(role["role"])[len(%(model_prefix)r) :]


def apply(database: Any, prefix: str | None, users: list[tuple[str, str]], drop: bool) -> dict[str, int]:
    """Roles (and logins) created, updated or dropped."""
    existing = {r["role"] for r in database.command("rolesInfo", 1)["roles"]}
    counts = {"roles": 0, "users": 0}
    if drop:
        for login, _ in users:
            if database.command("usersInfo", login)["users"]:
                database.command("dropUser", login)
                counts["users"] += 1
        for role in ROLES:
            if named(role, prefix) in existing:
                database.command("dropRole", named(role, prefix))
                counts["roles"] += 1
        return counts
    for role in ROLES:
        privileges = [
            {"resource": {"db": database.name, **p["resource"]}, "actions": p["actions"]} for p in role["privileges"]
        ]
        verb = "updateRole" if named(role, prefix) in existing else "createRole"
        database.command(verb, named(role, prefix), privileges=privileges, roles=[])
        counts["roles"] += 1
    for login, role_name in users:
        password = os.environ[login.upper().replace("-", "_") + "_PASSWORD"]
        verb = "updateUser" if database.command("usersInfo", login)["users"] else "createUser"
        database.command(verb, login, pwd=password, roles=[{"role": role_name, "db": database.name}])
        counts["users"] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="mongodb://host:port")
    parser.add_argument("dbname", nargs="?", default=None, help="the database (default: the URL's)")
    parser.add_argument("--prefix", default=None, help="role names start with this instead of %(model_prefix)r")
    parser.add_argument("--user", action="append", default=[], metavar="ROLE=LOGIN", help="a login holding ROLE")
    parser.add_argument("--drop", action="store_true", help="drop the roles and the listed logins")
    args = parser.parse_args()
    known = {named(r, args.prefix) for r in ROLES}
    users: list[tuple[str, str]] = []
    for item in args.user:
        role, _, login = item.partition("=")
        role = role if role in known else named({"role": %(model_prefix)r + role}, args.prefix)
        if not login or role not in known:
            parser.error(f"--user {item}: expected ROLE=LOGIN with ROLE one of {sorted(known)}")
        if not args.drop and login.upper().replace("-", "_") + "_PASSWORD" not in os.environ:
            parser.error(f"--user {item}: set {login.upper().replace('-', '_')}_PASSWORD")
        users.append((login, role))
    return report_counts(
        args.url,
        lambda: apply(mongodb_database(args.url, args.dbname, %(default_db)r), args.prefix, users, args.drop),
        (PyMongoError,),
        "dropped" if args.drop else "created or updated",
        "roles",
    )


if __name__ == "__main__":
    sys.exit(main())
'''


def render_roles_script(model: RequirementsModel, roles: list[dict[str, object]]) -> str:
    """`mongodb/roles.py`: the roles as data and the code that creates them."""
    listing = "\n".join(f"- {r['role']}: {r['about']}" for r in roles)
    return _SCRIPT % {
        "model": model.name,
        "default_db": model.name,
        "model_prefix": role_name(model, "", None),
        "listing": listing,
        "roles": json.dumps(roles, sort_keys=True),
        "database": module_code("polyplan.stores.document", "client.py"),
        "report": standalone(module_code("polyplan.emit", "script_report.py")),
    }
