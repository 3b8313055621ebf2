#!/usr/bin/env bash
# Starts a single-node Apache Cassandra 5.0 on 127.0.0.1:9042 without Docker: the server's jars
# come from Maven Central through pom.xml (cached in ~/.m2), the JVM is the machine's Java 17.
# Idempotent: exits 0 at once when something already answers CQL on 127.0.0.1:9042, and waits
# for a server this script started earlier that is still starting.
#
# Environment (all optional):
#   POLYPLAN_STATE_DIR                 root of the stores' state (default /var/tmp/polyplan-stores);
#                                      this server uses $POLYPLAN_STATE_DIR/cassandra
#   POLYPLAN_CASSANDRA_START_TIMEOUT   seconds to wait for CQL (default 240)
#   POLYPLAN_CASSANDRA_HEAP            maximum Java heap (default 768m)
#   POLYPLAN_CASSANDRA_JAVA            java binary to run the server (default: a Java 17, else 11)
#   POLYPLAN_CASSANDRA_JVM_OPTS        extra JVM options, space-separated
#
# Stop it with stop.sh beside this file. Its data stay in the state directory between runs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${POLYPLAN_STATE_DIR:-/var/tmp/polyplan-stores}/cassandra"
host=127.0.0.1
port=9042
timeout="${POLYPLAN_CASSANDRA_START_TIMEOUT:-240}"
heap="${POLYPLAN_CASSANDRA_HEAP:-768m}"
pidfile="$state/cassandra.pid"
syslog="$state/logs/system.log"
outlog="$state/logs/stdout.log"

say() { echo "local-stores: cassandra: $*"; }
err() { echo "local-stores: cassandra: $*" >&2; }

apt_updated=
apt_install() {
    say "installing Debian package(s): $*"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$apt_updated" ]; then
        apt-get update -qq >/dev/null
        apt_updated=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v python3 >/dev/null 2>&1 || apt_install python3

# True when a CQL server answers on host:port: sends a native-protocol v4 OPTIONS frame and
# expects a SUPPORTED frame back (an open port alone is not enough).
cql_answers() {
    python3 - "$host" "$port" <<'PY' 2>/dev/null
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    with socket.create_connection((host, port), timeout=2) as s:
        s.settimeout(5)
        s.sendall(bytes([0x04, 0, 0, 0, 0x05, 0, 0, 0, 0]))  # v4 request, stream 0, OPTIONS
        head = b""
        while len(head) < 9:
            chunk = s.recv(9 - len(head))
            if not chunk:
                sys.exit(1)
            head += chunk
    sys.exit(0 if head[0] == 0x84 and head[4] == 0x06 else 1)  # v4 response, SUPPORTED
except OSError:
    sys.exit(1)
PY
}

# The pid in the pid file, when that process is alive and is our Cassandra.
our_pid() {
    local pid
    [ -f "$pidfile" ] || return 1
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'org.apache.cassandra.service.CassandraDaemon' || return 1
    echo "$pid"
}

show_log_tail() {
    local f
    for f in "$outlog" "$syslog"; do
        if [ -s "$f" ]; then
            echo "----- last 50 lines of $f -----" >&2
            tail -n 50 "$f" >&2
        fi
    done
}

wait_for_cql() {
    local pid="$1" started="$2" now next_note=$(( $2 + 15 ))
    while :; do
        now="$(date +%s)"
        if cql_answers; then
            say "CQL answers on $host:$port after $(( now - started ))s (pid $pid, logs in $state/logs)"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            err "the server (pid $pid) exited before CQL answered"
            show_log_tail
            rm -f "$pidfile"
            return 1
        fi
        if (( now - started >= timeout )); then
            err "CQL did not answer on $host:$port within ${timeout}s (pid $pid still running; stop it with $here/stop.sh)"
            show_log_tail
            return 1
        fi
        if (( now >= next_note )); then
            say "waiting for CQL on $host:$port ($(( now - started ))s)"
            next_note=$(( now + 15 ))
        fi
        sleep 1
    done
}

if cql_answers; then
    say "already answering CQL on $host:$port"
    exit 0
fi

# One start at a time: a second start.sh waits here for the first, then finds CQL answering.
mkdir -p "$state"
exec 9>"$state/start.lock"
if ! flock -w "$timeout" 9; then
    err "another start.sh still holds $state/start.lock after ${timeout}s"
    exit 1
fi
if cql_answers; then
    say "already answering CQL on $host:$port"
    exit 0
fi

if pid="$(our_pid)"; then
    say "already starting (pid $pid); waiting up to ${timeout}s"
    wait_for_cql "$pid" "$(date +%s)"
    exit $?
fi

t0="$(date +%s)"

# --- Java: Cassandra 5.0 runs on Java 11 or 17 ------------------------------------------------
java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p'; }
java="${POLYPLAN_CASSANDRA_JAVA:-}"
if [ -z "$java" ]; then
    for cand in /usr/lib/jvm/java-17-openjdk-*/bin/java "${JAVA_HOME:+$JAVA_HOME/bin/java}" \
                "$(command -v java 2>/dev/null || true)" /usr/lib/jvm/java-11-openjdk-*/bin/java; do
        [ -n "$cand" ] && [ -x "$cand" ] || continue
        case "$(java_major "$cand")" in 17|11) java="$cand"; break ;; esac
    done
fi
if [ -z "$java" ]; then
    apt_install openjdk-17-jre-headless
    java="$(ls /usr/lib/jvm/java-17-openjdk-*/bin/java | head -n 1)"
fi
say "java: $java (Java $(java_major "$java"))"

# --- Classpath: cassandra-all and its dependencies from Maven Central, cached in ~/.m2 --------
mkdir -p "$state"/{conf,data,commitlog,saved_caches,hints,cdc_raw,triggers,logs}
cpfile="$state/classpath.txt"
stamp="$(sha256sum "$here/pom.xml" | cut -d' ' -f1) ${MAVEN_OPTS:-}"
cp_is_fresh() {
    local jar
    [ -s "$cpfile" ] && [ -f "$cpfile.stamp" ] && [ "$(cat "$cpfile.stamp")" = "$stamp" ] || return 1
    while IFS= read -r -d: jar || [ -n "$jar" ]; do
        [ -f "$jar" ] || return 1
    done <"$cpfile"
}
if cp_is_fresh; then
    say "classpath: cached in $cpfile"
else
    command -v mvn >/dev/null 2>&1 || apt_install maven
    rm -f "$cpfile.stamp"
    mvn_args=(-B -q -f "$here/pom.xml" dependency:build-classpath "-Dmdep.outputFile=$cpfile")
    if mvn -o "${mvn_args[@]}" >/dev/null 2>&1; then
        say "classpath: resolved offline from the local Maven repository"
    else
        say "classpath: fetching cassandra-all and its dependencies from Maven Central (first run: about a minute)"
        if ! mvn "${mvn_args[@]}" >"$state/logs/maven.log" 2>&1; then
            err "Maven could not resolve the server's jars:"
            tail -n 50 "$state/logs/maven.log" >&2
            exit 1
        fi
    fi
    echo "$stamp" >"$cpfile.stamp"
fi
classpath="$(cat "$cpfile")"
jamm="$(tr ':' '\n' <"$cpfile" | grep '/jamm-[0-9.]*\.jar$' | head -n 1 || true)"
version="$(tr ':' '\n' <"$cpfile" | sed -n 's#.*/cassandra-all-\([^/]*\)\.jar$#\1#p' | head -n 1)"

# --- Configuration into the state directory ---------------------------------------------------
esc_state="$(printf '%s' "$state" | sed 's/[\\&|]/\\&/g')"
sed "s|@STATE_DIR@|$esc_state|g" "$here/cassandra.yaml.in" >"$state/conf/cassandra.yaml"
cp "$here/logback.xml" "$state/conf/logback.xml"

# --- JVM options --------------------------------------------------------------------------------
jvm_opts=(
    "-Xms256m" "-Xmx$heap" -Xss256k
    -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -XX:+PerfDisableSharedMem
    # C1 only: a third less CPU to start (measured 11 s instead of 17 s of CPU) and no C2
    # compilations later on a machine shared with other servers; fine for test-sized loads.
    -XX:TieredStopAtLevel=1
    -Djava.net.preferIPv4Stack=true
    # Java 17 module access that Cassandra needs (from Cassandra's conf/jvm17-server.options).
    -Djdk.attach.allowAttachSelf=true
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
    # Where things are.
    "-Dcassandra.config=file://$state/conf/cassandra.yaml"
    "-Dlogback.configurationFile=file://$state/conf/logback.xml"
    "-Dcassandra.logdir=$state/logs"
    "-Dcassandra.storagedir=$state"
    "-Dcassandra.triggers_dir=$state/triggers"
    # One node: do not wait for gossip or a ring that will never grow.
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=1000
    # Do not flush the schema tables after every CREATE/ALTER/DROP (Cassandra's own tests run
    # so): DDL takes tens of milliseconds instead of about a second. The commit log still has
    # the changes; only a crash within commitlog_sync_period could lose the last ones.
    -Dcassandra.test.flush_local_schema_changes=false
)
[ -n "$jamm" ] && jvm_opts+=("-javaagent:$jamm")
# Extra options, split on spaces (e.g. POLYPLAN_CASSANDRA_JVM_OPTS="-XX:+PrintFlagsFinal").
read -r -a extra_opts <<<"${POLYPLAN_CASSANDRA_JVM_OPTS:-}"
jvm_opts+=("${extra_opts[@]}")

# Cassandra mlockall()s the JVM at startup when it may (as root): that pins a few hundred MB
# more in RAM (measured RSS 690 MB instead of 470 MB when ready). Run it without CAP_IPC_LOCK
# so the lock fails softly (Cassandra logs a warning and goes on).
launcher=()
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    launcher=(setpriv --bounding-set -ipc_lock)
fi

say "starting Apache Cassandra ${version:-?} (heap $heap) on $host:$port, state in $state"
cd "$state"
# This start's own log, so that a failure shows this start's lines.
[ -f "$syslog" ] && mv -f "$syslog" "$syslog.previous"
: >"$outlog"
nohup setsid "${launcher[@]}" "$java" "${jvm_opts[@]}" -cp "$classpath" org.apache.cassandra.service.CassandraDaemon \
    >"$outlog" 2>&1 </dev/null 9>&- &
pid=$!
echo "$pid" >"$pidfile"
wait_for_cql "$pid" "$t0"
