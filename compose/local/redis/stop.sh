#!/usr/bin/env bash
set -euo pipefail
redis-cli -h 127.0.0.1 -p 6379 shutdown nosave 2>/dev/null || true
