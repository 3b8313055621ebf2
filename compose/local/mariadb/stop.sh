#!/usr/bin/env bash
set -euo pipefail
mariadb-admin -u root shutdown 2>/dev/null || start-stop-daemon --stop --oknodo --retry 30 --exec /usr/sbin/mariadbd >/dev/null || true
