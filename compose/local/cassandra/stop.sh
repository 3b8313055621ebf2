#!/usr/bin/env bash
# Stops the Cassandra that start.sh beside this file started (by its pid file). Idempotent: exits 0
# when it is not running. Data stay in the state directory; delete it to start from scratch.
#
# Environment (optional):
#   POLYPLAN_STATE_DIR                root of the stores' state (default /var/tmp/polyplan-stores)
#   POLYPLAN_CASSANDRA_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 60)
set -euo pipefail

state="${POLYPLAN_STATE_DIR:-/var/tmp/polyplan-stores}/cassandra"
pidfile="$state/cassandra.pid"
timeout="${POLYPLAN_CASSANDRA_STOP_TIMEOUT:-60}"

say() { echo "local-stores: cassandra: $*"; }

pid="$(cat "$pidfile" 2>/dev/null || true)"
if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! [ -r "/proc/$pid/cmdline" ] \
   || ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'org.apache.cassandra.service.CassandraDaemon'; then
    say "not running"
    rm -f "$pidfile"
    exit 0
fi

say "stopping pid $pid"
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 "$timeout"); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
done
if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid still running after ${timeout}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
fi
rm -f "$pidfile"
say "stopped"
