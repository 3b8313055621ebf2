"""CQL's keywords, as cassandra-driver lists them (`cassandra.metadata.cql_keywords`).

Kept here rather than imported so that planning needs no store driver: cassandra-driver is an
optional extra (`polyplan[cassandra]`), and its keyword list is data, not behaviour. The list is
derived from Cassandra's grammar (`cql3/Cql.g`, plus DataStax Enterprise words) by the driver
(Apache-2.0); tests/test_cli_install.py checks it still equals the installed driver's.
"""

from __future__ import annotations

# Every keyword, reserved or not (the driver's `cql_keywords`).
_ALL = """
    active add aggregate all allow alter and any application applications apply as asc ascii authentication
    authorize batch begin bigint blob boolean by call called calls cluster clustering columnfamily columns
    commit compact config contains count counter create custom date decimal default delegation delete desc
    describe deterministic distinct double drop entries execute executor executors exists field filtering
    finalfunc float from frozen full function functions grant if in index indices inet infinity initcond input
    insert int internal into is java json kerberos key keys keyspace keyspaces language ldap limit list login
    lowercasestring map materialized mbean mbeans method modify monotonic nan no node nodes nologin norecursive
    nosuperuser not null object of on options or order password permission permissions plan primary profiles
    rebuild redact reload remote rename renew replace restrict returns revoke role roles rows schema scheme
    schemes search select set sfunc smallint static std_err std_out storage stype submission superuser table
    text time timestamp timeuuid tinyint to token trigger truncate ttl tuple type unlogged unrestrict unset
    update use user users using uuid values varchar varint view where with workpool writetime
"""

# Keywords that may stay bare as identifiers (the driver's `cql_keywords_unreserved`).
_UNRESERVED = """
    aggregate all as ascii bigint blob boolean called clustering compact contains count counter custom date
    decimal deterministic distinct double exists filtering finalfunc float frozen function functions inet
    initcond input int json key keys keyspaces language list login map monotonic nologin nosuperuser options
    password permission permissions returns role roles sfunc smallint static storage stype superuser text time
    timestamp timeuuid tinyint trigger ttl tuple type user users uuid values varchar varint writetime
"""

CQL_KEYWORDS = frozenset(_ALL.split())
CQL_KEYWORDS_UNRESERVED = frozenset(_UNRESERVED.split())
CQL_KEYWORDS_RESERVED = CQL_KEYWORDS - CQL_KEYWORDS_UNRESERVED
