#!/usr/bin/env bash
# Starts a single-node OpenSearch 2.19 on http://127.0.0.1:9200 without Docker and without the
# opensearch.org tarball: the server and its modules come from Maven Central through pom.xml
# (cached in ~/.m2), and LocalNode.java starts them in one JVM on the machine's Java 17.
# Security is off (there is no security plugin), discovery is single-node, disk watermarks are off.
#
# Idempotent: exits 0 at once when something already answers HTTP on 127.0.0.1:9200, and waits
# for a server this script started earlier that is still starting. Progress goes to stderr.
#
# Environment (all optional):
#   POLYPLAN_STATE_DIR                  root of the stores' state (default /var/tmp/polyplan-stores);
#                                       this server uses $POLYPLAN_STATE_DIR/opensearch
#   POLYPLAN_OPENSEARCH_START_TIMEOUT   seconds to wait for yellow health (default 240)
#   POLYPLAN_OPENSEARCH_HEAP            Java heap, -Xms = -Xmx (default 512m)
#   POLYPLAN_OPENSEARCH_JAVA_OPTS       more JVM options, appended
#   POLYPLAN_OPENSEARCH_JAVA            java binary (default: a Java 17, else 21, else 11)
#   MAVEN_OPTS                          passed to Maven as usual (e.g. -Dmaven.repo.local=...)
#
# Stop it with stop.sh beside this file. Its indices stay in the state directory between runs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${POLYPLAN_STATE_DIR:-/var/tmp/polyplan-stores}/opensearch"
host=127.0.0.1
port=9200
url="http://$host:$port"
timeout="${POLYPLAN_OPENSEARCH_START_TIMEOUT:-240}"
heap="${POLYPLAN_OPENSEARCH_HEAP:-512m}"
pidfile="$state/opensearch.pid"
log="$state/logs/opensearch.log"
build="$state/build"
cpfile="$build/classpath.txt"
main=polyplan.local.opensearch.LocalNode

say() { echo "local-stores: opensearch: $*" >&2; }

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

command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates

answers() { curl -fsS -o /dev/null -m 3 "$url/" 2>/dev/null; }
healthy() { curl -fsS -o /dev/null -m 10 "$url/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null; }

if answers; then
    say "already answering on $url"
    exit 0
fi

mkdir -p "$state"
state="$(cd "$state" && pwd)"   # absolute: the node runs from inside it
pidfile="$state/opensearch.pid"; log="$state/logs/opensearch.log"; build="$state/build"; cpfile="$build/classpath.txt"
# One start at a time (two callers at once would both build and launch).
exec 9>"$state/.start.lock"
flock 9
if answers; then
    say "already answering on $url"
    exit 0
fi

# The pid in the pid file, when that process is alive and is our node.
our_pid() {
    local pid
    [ -f "$pidfile" ] || return 1
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *" $main $state " ]] || return 1
    echo "$pid"
}

show_log_tail() {
    if [ -s "$log" ]; then
        echo "----- last 50 lines of $log -----" >&2
        tail -n 50 "$log" >&2
    else
        echo "(no log at $log)" >&2
    fi
}

wait_for_health() {
    local pid="$1" started="$2" now next_note=$(( $2 + 15 ))
    while :; do
        now="$(date +%s)"
        if healthy; then
            say "ready on $url after $(( now - started ))s (pid $pid, log $log)"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            say "the server (pid $pid) exited before it answered"
            show_log_tail
            rm -f "$pidfile"
            return 1
        fi
        if (( now - started >= timeout )); then
            say "no yellow health on $url within ${timeout}s (pid $pid still running; stop it with $here/stop.sh)"
            show_log_tail
            return 1
        fi
        if (( now >= next_note )); then
            say "waiting for $url ($(( now - started ))s)"
            next_note=$(( now + 15 ))
        fi
        sleep 1
    done
}

if pid="$(our_pid)"; then
    say "already starting (pid $pid); waiting up to ${timeout}s"
    if wait_for_health "$pid" "$(date +%s)"; then exit 0; else exit 1; fi
fi

started="$(date +%s)"

# --- Java: OpenSearch 2.19 runs on 11 to 21 (not 25); prefer the machine's 17. -------------
find_java() {
    local candidate
    if [ -n "${POLYPLAN_OPENSEARCH_JAVA:-}" ]; then
        echo "$POLYPLAN_OPENSEARCH_JAVA"
        return 0
    fi
    for candidate in /usr/lib/jvm/java-17-openjdk-*/bin/java /usr/lib/jvm/java-21-openjdk-*/bin/java \
                     /usr/lib/jvm/java-11-openjdk-*/bin/java; do
        if [ -x "$candidate" ] && [ -x "$(dirname "$candidate")/javac" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}
if ! java="$(find_java)"; then
    apt_install openjdk-17-jdk-headless || apt_install openjdk-21-jdk-headless
    java="$(find_java)" || { say "no Java 17/21/11 JDK found after installing one"; exit 1; }
fi
java_home="$(dirname "$(dirname "$(readlink -f "$java")")")"
command -v mvn >/dev/null 2>&1 || apt_install maven

# --- Build: compile LocalNode and resolve the classpath, only when the sources changed. -------
stamp="$( { cat "$here/pom.xml"; find "$here/src" -type f -print0 | sort -z | xargs -0 cat; echo "$java"; } | sha256sum | cut -d' ' -f1)"
build_ok() {
    [ -f "$build/stamp" ] && [ "$(cat "$build/stamp")" = "$stamp" ] || return 1
    [ -s "$cpfile" ] && [ -f "$build/classes/${main//.//}.class" ] || return 1
    local jar
    while IFS= read -r jar; do
        [ -f "$jar" ] || return 1
    done < <(tr ':' '\n' <"$cpfile")
}
if ! build_ok; then
    rm -rf "$build"
    mkdir -p "$build"
    mvn_args=(-B -q -f "$here/pom.xml" "-Dlocal.build.dir=$build" "-Dlocal.classpath.file=$cpfile" compile)
    say "building LocalNode (Maven, offline first)"
    if ! JAVA_HOME="$java_home" mvn -o "${mvn_args[@]}" >"$state/build.log" 2>&1; then
        say "fetching OpenSearch $(sed -n 's:.*<opensearch.version>\(.*\)</opensearch.version>.*:\1:p' "$here/pom.xml") and its modules from Maven Central"
        if ! JAVA_HOME="$java_home" mvn "${mvn_args[@]}" >>"$state/build.log" 2>&1; then
            say "Maven build failed; last lines of $state/build.log:"
            tail -n 50 "$state/build.log" >&2
            exit 1
        fi
    fi
    echo "$stamp" >"$build/stamp"
    say "built in $(( $(date +%s) - started ))s"
fi

# --- Configuration: regenerated on every start. -------------------------------------------------
mkdir -p "$state/config" "$state/data" "$state/logs" "$state/tmp"
cp "$here/config/log4j2.properties" "$state/config/log4j2.properties"
cat >"$state/config/opensearch.yml" <<EOF
# Written by $here/start.sh on each start: edit that script, not this file.
cluster.name: polyplan-local
node.name: polyplan-local
path.data: $state/data
path.logs: $state/logs
network.host: $host
http.port: $port
transport.port: 9300-9399
discovery.type: single-node
cluster.routing.allocation.disk.threshold_enabled: false
EOF

# --- Launch. ------------------------------------------------------------------------------------
jvm_opts=(
    "-Xms$heap" "-Xmx$heap" -Xss1m
    -XX:+UseG1GC -XX:G1ReservePercent=25 -XX:InitiatingHeapOccupancyPercent=30
    -XX:+ExitOnOutOfMemoryError "-XX:ErrorFile=$state/logs/hs_err_pid%p.log"
    -XX:-OmitStackTraceInFastThrow
    -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Djna.nosys=true
    "-Djava.locale.providers=SPI,COMPAT"
    -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true
    -Dio.netty.recycler.maxCapacityPerThread=0 -Dio.netty.allocator.numDirectArenas=0
    -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true
    "-Djava.io.tmpdir=$state/tmp"
)
# shellcheck disable=SC2206 # word splitting of the extra options is intended
[ -n "${POLYPLAN_OPENSEARCH_JAVA_OPTS:-}" ] && jvm_opts+=(${POLYPLAN_OPENSEARCH_JAVA_OPTS})

[ -f "$log" ] && mv -f "$log" "$log.1"
say "starting OpenSearch on $url (heap $heap, $("$java" -version 2>&1 | head -n1))"
cd "$state"
launched="$(date +%s)"   # the timeout counts from here: a cold build's download is not in it
setsid nohup "$java" "${jvm_opts[@]}" -cp "$build/classes:$(cat "$cpfile")" "$main" "$state" \
    >"$log" 2>&1 </dev/null 9>&- &
pid=$!
echo "$pid" >"$pidfile"
if wait_for_health "$pid" "$launched"; then
    say "total $(( $(date +%s) - started ))s"
    exit 0
fi
exit 1
