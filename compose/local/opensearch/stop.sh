#!/usr/bin/env bash
# Stops the OpenSearch node that start.sh beside this file started (SIGTERM, then SIGKILL after
# POLYPLAN_OPENSEARCH_STOP_TIMEOUT seconds, default 60). Idempotent: nothing running is fine.
# Its indices stay in $POLYPLAN_STATE_DIR/opensearch/data; delete that folder to forget them.
set -euo pipefail

state="${POLYPLAN_STATE_DIR:-/var/tmp/polyplan-stores}/opensearch"
[ -d "$state" ] && state="$(cd "$state" && pwd)"
pidfile="$state/opensearch.pid"
main=polyplan.local.opensearch.LocalNode
timeout="${POLYPLAN_OPENSEARCH_STOP_TIMEOUT:-60}"

say() { echo "local-stores: opensearch: $*" >&2; }

is_ours() {
    local cmdline
    [ -r "/proc/$1/cmdline" ] || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *" $main $state " ]]
}

pids=()
if [ -f "$pidfile" ]; then
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && is_ours "$pid"; then
        pids+=("$pid")
    fi
fi
if [ ${#pids[@]} -eq 0 ]; then
    # The pid file is gone or stale: look for a node of this state directory all the same.
    for dir in /proc/[0-9]*; do
        candidate="${dir#/proc/}"
        is_ours "$candidate" 2>/dev/null && pids+=("$candidate")
    done
fi
if [ ${#pids[@]} -eq 0 ]; then
    say "not running"
    rm -f "$pidfile"
    exit 0
fi

for pid in "${pids[@]}"; do
    say "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
done
for pid in "${pids[@]}"; do
    waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if (( waited >= timeout )); then
            say "pid $pid still running after ${timeout}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 1
        waited=$(( waited + 1 ))
    done
done
rm -f "$pidfile"
say "stopped"
