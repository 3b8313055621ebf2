#!/usr/bin/env bash
# Stop every store that up.sh started (data under $POLYPLAN_STATE_DIR stays; remove it to wipe).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
stores=("$@")
[ ${#stores[@]} -eq 0 ] && stores=(cassandra opensearch ferretdb redis mariadb postgresql)
for store in "${stores[@]}"; do
  [ -x "$here/$store/stop.sh" ] && bash "$here/$store/stop.sh"
done
