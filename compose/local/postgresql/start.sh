#!/usr/bin/env bash
# PostgreSQL from Debian's packages, started without systemd; trust auth on loopback for tests.
set -euo pipefail
STORE=postgresql
. "$(dirname "$0")/../lib.sh"
probe() { pg_isready -q -h 127.0.0.1 -p 5432; }
if command -v pg_isready >/dev/null && probe >/dev/null 2>&1; then say "already running"; exit 0; fi
# postgresql-15-postgis-3: geo points (geography columns, GiST, ST_DWithin); CREATE EXTENSION needs no restart.
apt_install postgresql postgresql-contrib postgresql-15-hypopg postgresql-15-postgis-3
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$version main"; then pg_createcluster "$version" main >/dev/null; fi
conf=/etc/postgresql/$version/main
# Throw-away test server: no password from loopback. The marker keeps re-runs from appending twice.
if ! grep -q "polyplan-local" "$conf/pg_hba.conf"; then
  sed -i '1i host all all 127.0.0.1/32 trust # polyplan-local\nhost all all ::1/128 trust # polyplan-local' "$conf/pg_hba.conf"
fi
log=/var/log/postgresql/postgresql-$version-main.log
say "starting cluster $version/main on 127.0.0.1:5432"
pg_ctlcluster --skip-systemctl-redirect "$version" main start -o "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" || true
wait_for "${POLYPLAN_START_TIMEOUT:-60}" "$log" probe
