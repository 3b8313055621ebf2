#!/usr/bin/env bash
# MariaDB from Debian's packages, started without systemd, utf8mb4, root without password on loopback.
set -euo pipefail
STORE=mariadb
. "$(dirname "$0")/../lib.sh"
probe() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping; }
if command -v mariadb-admin >/dev/null && probe >/dev/null 2>&1; then say "already running"; exit 0; fi
apt_install mariadb-server mariadb-client
install -d -o mysql -g root /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
  say "initialising the data directory"
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
fi
log="$POLYPLAN_STATE_DIR/mariadb/mariadb.log"
mkdir -p "$(dirname "$log")"; chown mysql "$(dirname "$log")"
say "starting on 127.0.0.1:3306"
start-stop-daemon --start --oknodo --background --chuid mysql --exec /usr/sbin/mariadbd -- \
  --user=mysql --bind-address=127.0.0.1 --port=3306 --log-error="$log" \
  --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
  --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --skip-log-bin --skip-name-resolve
socket_probe() { mariadb-admin -u root ping; }
wait_for "${POLYPLAN_START_TIMEOUT:-60}" "$log" socket_probe
# Debian's root authenticates by unix socket only: the tests connect over TCP as root@127.0.0.1.
mariadb -u root <<'SQL'
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS test CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
SQL
wait_for 10 "$log" probe
