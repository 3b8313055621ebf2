# Shared helpers for compose/local/*/start.sh (sourced, not run).
# Every store script: idempotent, loopback only, state under $POLYPLAN_STATE_DIR/<store>,
# a health probe with a timeout, and the log's tail on failure.
POLYPLAN_STATE_DIR="${POLYPLAN_STATE_DIR:-/var/tmp/polyplan-stores}"
POLYPLAN_CACHE_DIR="${POLYPLAN_CACHE_DIR:-$HOME/.cache/polyplan}"

say() { echo "local-stores: $STORE: $*" >&2; }

# apt_install PACKAGE... : install the Debian packages that are missing (apt-get update once).
apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} from Debian's packages"
  local stamp="$POLYPLAN_STATE_DIR/.apt-updated"
  mkdir -p "$POLYPLAN_STATE_DIR"
  if [ ! -e "$stamp" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && touch "$stamp"
  fi
  # policy-rc.d keeps the packages' own init scripts from starting anything: we start servers ourselves.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# wait_for SECONDS LOGFILE PROBE... : poll PROBE once a second until it succeeds; on timeout show the log.
wait_for() {
  local timeout=$1 log=$2; shift 2
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start >= timeout )); then
      say "not ready after ${timeout}s; last lines of $log:"
      [ -f "$log" ] && tail -n 50 "$log" >&2
      return 1
    fi
    sleep 1
  done
  say "ready in $((SECONDS - start))s"
}
