#!/usr/bin/env bash
# Stop the FerretDB that start.sh started (idempotent). Data stays under
# $POLYPLAN_STATE_DIR/ferretdb unless --wipe is given.
# Usage: stop.sh [--wipe]
set -euo pipefail

state="${POLYPLAN_STATE_DIR:-/var/tmp/polyplan-stores}/ferretdb"
pidfile="$state/ferretdb.pid"
wipe=false
case "${1:-}" in
  "") ;;
  --wipe) wipe=true ;;
  *) echo "usage: $0 [--wipe]" >&2; exit 2 ;;
esac

say() { echo "local-stores: ferretdb: $*" >&2; }

is_ours() { # PID: alive and a ferretdb process
  kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q ferretdb
}

pid="$(cat "$pidfile" 2>/dev/null || true)"
if [ -n "$pid" ] && is_ours "$pid"; then
  say "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do      # up to 20 s for a clean shutdown
    is_ours "$pid" || break
    sleep 0.2
  done
  if is_ours "$pid"; then
    say "pid $pid still running after 20s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  say "stopped"
else
  say "not running"
fi
rm -f "$pidfile"
if $wipe; then
  say "wiping $state/sqlite"
  rm -rf "$state/sqlite"
fi
