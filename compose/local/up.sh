#!/usr/bin/env bash
# Bring up every store polyplan's tests can use on this machine, without Docker:
#   PostgreSQL, MariaDB, Redis   from Debian's packages
#   Cassandra 5.0, OpenSearch 2.19  from Maven Central (cached in ~/.m2)
#   FerretDB 1.24 (MongoDB wire protocol; NOT MongoDB)  built from the Go module proxy
# Idempotent: a store that already answers is left alone. Prints the POLYPLAN_*_URL exports on
# stdout (everything else goes to stderr), so `eval "$(compose/local/up.sh)"` sets them.
# Usage: up.sh [STORE...]   (default: all; names: postgresql mariadb redis cassandra opensearch ferretdb)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
stores=("$@")
[ ${#stores[@]} -eq 0 ] && stores=(postgresql mariadb redis ferretdb opensearch cassandra)

declare -A url=(
  [postgresql]="POLYPLAN_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
  [mariadb]="POLYPLAN_MYSQL_URL=mysql+pymysql://root@127.0.0.1:3306/test"
  [redis]="POLYPLAN_REDIS_URL=redis://127.0.0.1:6379/0"
  [cassandra]="POLYPLAN_CASSANDRA_URL=cassandra://127.0.0.1:9042/datacenter1"
  [opensearch]="POLYPLAN_OPENSEARCH_URL=http://127.0.0.1:9200"
  [ferretdb]="POLYPLAN_MONGODB_URL=mongodb://127.0.0.1:27017"
)
failed=()
for store in "${stores[@]}"; do
  [ -n "${url[$store]:-}" ] || { echo "local-stores: unknown store '$store'" >&2; exit 2; }
  begin=$SECONDS
  # Only the exports below go to stdout: whatever a start script prints is progress (stderr).
  if bash "$here/$store/start.sh" >&2; then
    echo "local-stores: $store: up ($((SECONDS - begin))s)" >&2
    echo "export ${url[$store]}"
  else
    echo "local-stores: $store: FAILED after $((SECONDS - begin))s" >&2
    failed+=("$store")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "local-stores: could not start: ${failed[*]}" >&2
  exit 1
fi
