"""MongoDB roles (issue 10): `mongodb/roles.py` from the security design, and what a server enforces.

The roles are checked as data (least privilege: the application and read-only roles have no DDL
action, each model role only its entities' collections), the coded warnings where MongoDB roles
cannot say what the model asks (PP456: no field-level permissions; PP457: an embedded entity has
no collection of its own), and the script is run against the MongoDB-wire server of
POLYPLAN_MONGODB_URL. Here that is FerretDB 1.24, which has no role or user commands
(createRole, createUser, rolesInfo, usersInfo: "no such command") and so enforces none of this:
the test records that refusal, and the enforcement checks skip, saying they need a real MongoDB.
A pass on FerretDB is never reported as a MongoDB result.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from polyplan.pipeline import plan_text, render, write_plan
from polyplan.security.mongodb_roles import ROLES_FILE
from polyplan.stores.document import runtime
from polyplan.testkit import resolve_url

MODEL = """
name: ppmrole
entities:
  Person:
    attributes:
      email: {type: string, max_length: 100, pii: contact}
    placement: {family: document}
    growth: {initial_rows: 50}
  Activity:
    attributes:
      kind: {type: string, max_length: 20}
      note: {type: string, max_length: 100, pii: contact}
    placement: {family: document}
    growth: {initial_rows: 200}
  Tag:
    attributes:
      label: {type: string, max_length: 20}
    placement: {family: document}
    growth: {initial_rows: 200}
relationships:
  - {name: person_activity, kind: one_to_many, from: Person, to: Activity, owned: true}
access_patterns:
  - {name: activity_of_person, entity: Activity, filters: [{attribute: person_id, op: eq}]}
  - {name: tag_by_label, entity: Tag, filters: [{attribute: label, op: eq}]}
security:
  roles:
    - {name: analyst, grants: {Activity: [read]}}
    - {name: tagger, grants: {Tag: [read, write]}}
"""

DDL = {"createCollection", "dropCollection", "createIndex", "dropIndex", "collMod"}


def roles_of(text: str) -> tuple[dict[str, Any], list[Any]]:
    """The ROLES of the emitted roles.py by name, and the plan's diagnostics."""
    files, diagnostics = render(plan_text(text, "m.yaml"))
    namespace: dict[str, Any] = {}
    script = files[ROLES_FILE]
    exec(script[script.index("ROLES = ") :].split("\n\n")[0], {"json": __import__("json")}, namespace)
    return {r["role"]: r for r in namespace["ROLES"]}, diagnostics


def test_roles_are_least_privilege() -> None:
    roles, _ = roles_of(MODEL)
    assert list(roles) == [f"ppmrole_{n}" for n in ("owner", "application", "readonly", "analyst", "tagger")]

    def actions(role: str) -> dict[str, set[str]]:
        return {p["resource"]["collection"]: set(p["actions"]) for p in roles[f"ppmrole_{role}"]["privileges"]}

    assert actions("owner")[""] >= DDL  # the owner runs setup.py on the whole database
    assert actions("application") == {c: {"find", "insert", "update", "remove"} for c in ("activity", "person", "tag")}
    assert actions("readonly") == {c: {"find"} for c in ("activity", "person", "tag")}
    assert actions("analyst") == {"activity": {"find"}}
    assert actions("tagger") == {"tag": {"find", "insert", "update", "remove"}}


def test_what_mongodb_roles_cannot_express_is_a_coded_warning() -> None:
    """PII fields cannot be withheld (PP456); a grant on an embedded entity covers its root's documents (PP457)."""
    _, diagnostics = roles_of(MODEL)
    pii = sorted(d.message.split(" reads")[0] for d in diagnostics if d.code == "PP456")
    assert pii == ["role analyst", "role readonly"]
    # Activity read only with its person, and bounded: the design embeds it in the person's documents.
    embedded = MODEL.replace(
        "  - {name: activity_of_person, entity: Activity, filters: [{attribute: person_id, op: eq}]}",
        "  - {name: person_with_activities, entity: Person, filters: [{attribute: id, op: eq}], loads: [Activity]}",
    ).replace("owned: true}", "owned: true, max_children: 5}")
    roles, diagnostics = roles_of(embedded)
    held = {p["resource"]["collection"] for p in roles["ppmrole_analyst"]["privileges"]}
    assert held == {"person"}
    assert [d.code for d in diagnostics if d.code == "PP457"] == ["PP457"]


def run_script(script: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.mongodb
def test_roles_script_on_the_mongodb_wire_server(tmp_path: Path) -> None:
    """On FerretDB: the script reports the server's refusal in one line (exit 1) and the enforcement
    checks skip. On a real MongoDB with authorization: each login can do what its role allows only."""
    from pymongo import MongoClient
    from pymongo.errors import OperationFailure

    (tmp_path / "m.yaml").write_text(MODEL, encoding="utf-8")
    write_plan(tmp_path / "m.yaml", tmp_path / "plan")
    script = tmp_path / "plan" / ROLES_FILE
    helped = run_script(script, "--help")  # never connects
    assert helped.returncode == 0 and "ROLE=LOGIN" in helped.stdout
    url = resolve_url("mongodb")
    client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=10000)
    server = runtime.identify(client.admin.command("buildInfo"))
    name = f"pproles_{uuid.uuid4().hex[:10]}"
    prefix = f"{name}_"
    if not server.is_mongodb:
        done = run_script(script, url, name, "--prefix", prefix)
        client.drop_database(name)
        assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith(f"roles: {url}: OperationFailure: no such command: 'rolesInfo'"), done.stderr
        pytest.skip(
            f"{server.describe()} has no role or user commands (createRole, createUser, rolesInfo: no such command), "
            "so it enforces no MongoDB role: the enforcement checks need a real MongoDB with authorization enabled "
            "(set POLYPLAN_MONGODB_URL to one, as a user administrator)"
        )
    logins = {"application": f"{name}_app", "readonly": f"{name}_ro", "analyst": f"{name}_an"}
    passwords = {f"{login.upper()}_PASSWORD": uuid.uuid4().hex for login in logins.values()}
    users = [arg for role, login in logins.items() for arg in ("--user", f"{role}={login}")]
    try:
        client[name]["activity"].insert_one({"_id": 1, "kind": "a"})
        client[name]["person"].insert_one({"_id": 1, "email": "a@b.c"})
        done = run_script(script, url, name, "--prefix", prefix, *users, env=passwords)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ["roles: 5 created or updated", "users: 3 created or updated"]

        def as_login(role: str) -> Any:
            login = logins[role]
            other: MongoClient[dict[str, Any]] = MongoClient(
                url, username=login, password=passwords[f"{login.upper()}_PASSWORD"], authSource=name
            )
            return other[name]

        def refused(action: Any) -> bool:
            try:
                action()
            except OperationFailure as error:
                return error.code == 13  # Unauthorized
            return False

        app, readonly, analyst = as_login("application"), as_login("readonly"), as_login("analyst")
        if not refused(lambda: readonly["activity"].insert_one({"_id": 2})):
            pytest.skip(f"{server.describe()} runs without authorization: it enforces no role")
        app["activity"].insert_one({"_id": 3, "kind": "b"})
        assert app["activity"].count_documents({}) == 2  # the admin's and its own; the read-only insert was refused
        assert refused(lambda: app.create_collection("made_by_app"))  # no DDL
        assert refused(lambda: app["activity"].create_index("kind"))
        assert refused(lambda: app["activity"].drop())
        assert readonly["person"].find_one({"_id": 1}) is not None
        assert analyst["activity"].find_one({"_id": 1}) is not None
        assert refused(lambda: analyst["person"].find_one({"_id": 1}))  # not granted
        assert refused(lambda: analyst["activity"].insert_one({"_id": 4}))
    finally:
        run_script(script, url, name, "--prefix", prefix, "--drop", *users)
        client.drop_database(name)
