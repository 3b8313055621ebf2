"""Security and access control (issue 10): roles and grants, tenant isolation, audit, encryption.

`design.py` is pure planning (model + assignment → SecurityDesign), `relational.py` renders it
as PostgreSQL and MariaDB SQL, `encryption.py` the encrypted PII columns (`encryption.sql`, with
`envelope.py` the application's side of it), `redis_acl.py` the tenant key prefix and ACL users
in Redis, `docs.py` writes `docs/security-plan.md`, `testgen.py` and `encryption_testgen.py` the
generated tests that prove it on real servers (run by `polyplan.validate.security` and
`polyplan.validate.encryption`).
"""
