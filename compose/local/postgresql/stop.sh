#!/usr/bin/env bash
set -euo pipefail
for version in $(ls /etc/postgresql 2>/dev/null); do
  pg_ctlcluster --skip-systemctl-redirect "$version" main stop -m fast 2>/dev/null || true
done
