#!/usr/bin/env bash
# FerretDB 1.24.2 (MongoDB wire protocol, NOT MongoDB) on 127.0.0.1:27017, built from the Go module
# proxy into $POLYPLAN_CACHE_DIR/bin, state under $POLYPLAN_STATE_DIR/ferretdb. See README.md here.
# Idempotent: exits 0 at once when something already answers MongoDB's `ping` on the port.
# Progress goes to stderr only (compose/local/up.sh prints its exports on stdout).
#
# Environment (all optional):
#   POLYPLAN_CACHE_DIR            default ~/.cache/polyplan        (binary: bin/ferretdb, source: src/)
#   POLYPLAN_STATE_DIR            default /var/tmp/polyplan-stores (this store: ferretdb/)
#   POLYPLAN_FERRETDB_BACKEND     sqlite (default) | postgresql (alias pg)
#   POLYPLAN_FERRETDB_POSTGRESQL_URL  default postgres://postgres@127.0.0.1:5432/ferretdb
#   POLYPLAN_FERRETDB_PORT        default 27017 (always on 127.0.0.1)
#   POLYPLAN_FERRETDB_DEBUG_ADDR  default 127.0.0.1:28088 (/debug/readyz, /debug/metrics)
#   POLYPLAN_FERRETDB_TIMEOUT     seconds for build + start, default 900 (a cold build takes ~6 min on 2 cores)
#   GO                            the go command, default: `go` on PATH, else /usr/local/go/bin/go
set -euo pipefail

version="v1.24.2"
module="github.com/FerretDB/FerretDB"
host="127.0.0.1"
port="${POLYPLAN_FERRETDB_PORT:-27017}"
debug_addr="${POLYPLAN_FERRETDB_DEBUG_ADDR:-127.0.0.1:28088}"
backend="${POLYPLAN_FERRETDB_BACKEND:-sqlite}"
pg_url="${POLYPLAN_FERRETDB_POSTGRESQL_URL:-postgres://postgres@127.0.0.1:5432/ferretdb}"
timeout="${POLYPLAN_FERRETDB_TIMEOUT:-900}"
cache="${POLYPLAN_CACHE_DIR:-$HOME/.cache/polyplan}"
state="${POLYPLAN_STATE_DIR:-/var/tmp/polyplan-stores}/ferretdb"
bin_dir="$cache/bin"
bin="$bin_dir/ferretdb"
log="$state/ferretdb.log"
build_log="$state/build.log"
pidfile="$state/ferretdb.pid"
start=$SECONDS

say() { echo "local-stores: ferretdb: $*" >&2; }
die() { say "$*"; exit 1; }
tail_log() { # FILE: its last 50 lines on stderr
  if [ -s "$1" ]; then say "last lines of $1:"; tail -n 50 "$1" >&2; fi
}
remaining() { local r=$((timeout - (SECONDS - start))); [ "$r" -gt 0 ] && echo "$r" || echo 0; }

case "$backend" in
  sqlite) ;;
  postgresql|pg) backend=postgresql ;;
  *) die "POLYPLAN_FERRETDB_BACKEND must be sqlite or postgresql, not '$backend'" ;;
esac

# apt_install PACKAGE...: install the Debian packages that are missing.
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}
command -v python3 >/dev/null || apt_install python3
if ! command -v flock >/dev/null || ! command -v setsid >/dev/null || ! command -v timeout >/dev/null; then
  apt_install util-linux coreutils
fi

# probe: send OP_MSG {ping: 1, $db: "admin"} and expect {ok: 1.0}, standard library only.
# Exit status: 0 answers MongoDB's wire protocol, 2 nothing listens, 3 something else listens.
probe() {
  python3 - "$host" "$port" <<'PY'
import socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
def el_int32(name, v): return b"\x10" + name.encode() + b"\0" + struct.pack("<i", v)
def el_str(name, v): return b"\x02" + name.encode() + b"\0" + struct.pack("<i", len(v) + 1) + v.encode() + b"\0"
body = el_int32("ping", 1) + el_str("$db", "admin")
doc = struct.pack("<i", len(body) + 5) + body + b"\0"
msg = struct.pack("<I", 0) + b"\0" + doc                       # flagBits, section kind 0, body
packet = struct.pack("<iiii", 16 + len(msg), 7, 0, 2013) + msg  # header: length, requestID, responseTo, OP_MSG
try:
    s = socket.create_connection((host, port), timeout=2)
except OSError:
    sys.exit(2)
try:
    s.settimeout(5)
    s.sendall(packet)
    data = b""
    while len(data) < 4 or len(data) < struct.unpack("<i", data[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit(3)
        data += chunk
    length, _, response_to, opcode = struct.unpack("<iiii", data[:16])
    reply = data[21:length]  # after the header, flagBits and the section kind
    ok = reply.find(b"\x01ok\x00")
    if opcode == 2013 and response_to == 7 and ok >= 0 and struct.unpack("<d", reply[ok + 4:ok + 12])[0] == 1.0:
        sys.exit(0)
    sys.exit(3)
except (OSError, struct.error):
    sys.exit(3)
PY
}

running_pid() { # prints the pid of our FerretDB when it is alive
  local pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q ferretdb &&
    echo "$pid"
}

rc=0; probe || rc=$?
if [ "$rc" -eq 0 ]; then say "already running on $host:$port"; exit 0; fi

mkdir -p "$state"
# One start at a time: a second caller waits here, then finds the server up.
exec 9>"$state/start.lock"
flock -w "$timeout" 9 || die "another start.sh still holds $state/start.lock after ${timeout}s"
rc=0; probe || rc=$?
if [ "$rc" -eq 0 ]; then say "already running on $host:$port"; exit 0; fi
if [ "$rc" -eq 3 ] && ! running_pid >/dev/null; then
  die "$host:$port is taken by something that does not answer MongoDB's ping (not our FerretDB)"
fi

# --- build (skipped when the binary is there at the right version) -------------------------------
installed_version() { "$bin" --version 2>/dev/null | sed -n 's/^version: //p'; }
if [ ! -x "$bin" ] || [ "$(installed_version)" != "$version" ]; then
  go="${GO:-}"
  if [ -z "$go" ]; then
    if command -v go >/dev/null; then go=go
    elif [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go
    else die "no Go toolchain (go on PATH or /usr/local/go/bin/go); FerretDB $version needs Go >= 1.21 (it fetches go1.24 itself)"
    fi
  fi
  src="$cache/src/ferretdb-$version"
  say "building FerretDB $version with $("$go" version | cut -d' ' -f3) into $bin_dir (a cold build takes ~6 min; log: $build_log)"
  : >"$build_log"
  build() {
    set -euo pipefail
    export GOWORK=off
    cd /
    # 1. The module's source from the Go module proxy (kept in GOMODCACHE, default ~/go/pkg/mod).
    dir="$("$go" mod download -json "$module@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    # 2. A writable copy with build/version/version.txt: the module zip does not carry that generated
    #    file, and a binary built straight from it (`go install $module/cmd/ferretdb@$version`)
    #    panics at start ("Invalid build/version/version.txt file content").
    rm -rf "$src.tmp" && mkdir -p "$(dirname "$src")"
    cp -R "$dir" "$src.tmp" && chmod -R u+w "$src.tmp"
    printf '%s\n' "$version" >"$src.tmp/build/version/version.txt"
    rm -rf "$src" && mv "$src.tmp" "$src"
    # 3. Build with the module's own go.mod/go.sum. The SQLite (modernc.org/sqlite, pure Go) and
    #    PostgreSQL backends are both in by default: no build tags. CGO_ENABLED=0: a static binary,
    #    and the same build-cache keys whether or not a C compiler is installed.
    cd "$src"
    CGO_ENABLED=0 GOBIN="$bin_dir" "$go" install -trimpath -buildvcs=false ./cmd/ferretdb
  }
  mkdir -p "$bin_dir"
  export go src bin_dir module version
  export -f build
  [ "$(remaining)" -gt 0 ] || die "no time left to build (POLYPLAN_FERRETDB_TIMEOUT=$timeout)"
  rc=0; timeout "$(remaining)" bash -c build >>"$build_log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail_log "$build_log"
    [ "$rc" -eq 124 ] && die "build timed out after $((SECONDS - start))s (POLYPLAN_FERRETDB_TIMEOUT=$timeout)"
    die "build failed after $((SECONDS - start))s"
  fi
  [ "$(installed_version)" = "$version" ] || { tail_log "$build_log"; die "built binary does not report version $version"; }
  say "built in $((SECONDS - start))s"
fi

# --- start ---------------------------------------------------------------------------------------
if pid="$(running_pid)"; then
  say "FerretDB (pid $pid) is running but does not answer yet; waiting for it"
else
  backend_flags=()
  if [ "$backend" = sqlite ]; then
    mkdir -p "$state/sqlite"
    backend_flags=(--handler=sqlite "--sqlite-url=file:$state/sqlite/")
  else
    # The PostgreSQL database must exist: create it when psql can reach the server.
    if command -v psql >/dev/null; then
      db="$(python3 -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).path.lstrip("/"))' "$pg_url")"
      admin_url="$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/postgres")))' "$pg_url")"
      if [ -n "$db" ] && [ "$(psql "$admin_url" -XtAc "select 1 from pg_database where datname = '$db'" 2>/dev/null)" != 1 ]; then
        say "creating PostgreSQL database $db"
        psql "$admin_url" -Xqc "create database \"$db\"" >&2 || say "could not create database $db (FerretDB will say why)"
      fi
    fi
    backend_flags=(--handler=postgresql "--postgresql-url=$pg_url")
  fi
  say "starting on $host:$port (backend $backend, state $state)"
  echo "=== $(date -u +%FT%TZ) start.sh: $bin ${backend_flags[*]}" >>"$log"
  # setsid: its own session, so it outlives the shell (and the process group) that started it.
  # The inner bash records its own pid, then becomes FerretDB (exec keeps the pid).
  # shellcheck disable=SC2016  # $$ and $@ belong to the inner bash
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" \
    "$bin" run \
    "--listen-addr=$host:$port" \
    "--debug-addr=$debug_addr" \
    "--state-dir=$state" \
    --telemetry=disable \
    --log-level=info \
    "${backend_flags[@]}" \
    </dev/null >>"$log" 2>&1 9>&- &   # 9>&-: the server must not keep holding start.lock
fi

# --- wait until it answers MongoDB's ping ---------------------------------------------------------
launched=$SECONDS
sleep 0.2
until probe; do
  if ! running_pid >/dev/null && [ $((SECONDS - launched)) -ge 2 ]; then
    tail_log "$log"
    die "FerretDB exited during start"
  fi
  if [ "$(remaining)" -le 0 ]; then
    tail_log "$log"
    if pid="$(running_pid)"; then # do not leave a half-started server for the next start.sh to wait on
      say "stopping pid $pid"
      kill -TERM "$pid" 2>/dev/null || true
    fi
    die "not ready after ${timeout}s"
  fi
  sleep 0.5
done
say "ready on $host:$port in $((SECONDS - start))s (pid $(running_pid || echo '?'), log $log)"
