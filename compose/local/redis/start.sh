#!/usr/bin/env bash
# Redis from Debian's packages: loopback, no persistence (a test server).
set -euo pipefail
STORE=redis
. "$(dirname "$0")/../lib.sh"
probe() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping)" = PONG ]; }
if command -v redis-cli >/dev/null && probe >/dev/null 2>&1; then say "already running"; exit 0; fi
apt_install redis-server
state="$POLYPLAN_STATE_DIR/redis"; mkdir -p "$state"
say "starting on 127.0.0.1:6379"
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
  --dir "$state" --logfile "$state/redis.log" --pidfile "$state/redis.pid"
wait_for "${POLYPLAN_START_TIMEOUT:-30}" "$state/redis.log" probe
