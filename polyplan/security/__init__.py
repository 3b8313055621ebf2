"""Security and access control (issue 10): roles and grants, tenant isolation, audit, encryption.

`design.py` is pure planning (model + assignment → SecurityDesign), `relational.py` renders it
as PostgreSQL and MariaDB SQL, `docs.py` writes `docs/security-plan.md`, `testgen.py` the
generated tests that prove it on real servers (run by `polyplan.validate.security`).
"""
