#!/usr/bin/env bash
# Runs FerretDB (MongoDB wire protocol) on its PostgreSQL backend, from the binary install.sh built, over the
# cluster postgres.sh runs in PGDIR (start that first).
#   infra/local/ferretdb.sh start DIR PORT PGDIR   start and wait until it accepts connections
#   infra/local/ferretdb.sh stop DIR                stop (the data is PostgreSQL's, in PGDIR)
#   infra/local/ferretdb.sh status DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${BINHCHON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/binhchon}
# BINHCHON_FERRETDB_BIN runs another build (a bench compares builds); BINHCHON_FERRETDB_FLAGS adds flags
# (the pushdown test runs a reference with --test-disable-pushdown)
bin=${BINHCHON_FERRETDB_BIN:-"$cache/bin/ferretdb-$FERRETDB_VERSION-$FERRETDB_BUILD"}
say() { echo "[ferretdb] $*" >&2; }
cmd=${1:?usage: ferretdb.sh start|stop|status DIR [PORT PGDIR]}
dir=${2:?DIR missing}
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
pidfile="$dir/ferretdb.pid"
# alive and ours: a pid left by a crash may since belong to another process
running() {
  [[ -f "$pidfile" ]] || return 1
  local pid; pid=$(cat "$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] && { tr '\0' '\n' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -qxF -- "--state-dir=$dir"
}

case "$cmd" in
start)
  port=${3:?PORT missing}
  pgdir=${4:?PGDIR missing: the directory of the cluster postgres.sh runs}
  if running; then say "already running (pid $(cat "$pidfile")) on 127.0.0.1:$(cat "$dir/port")"; exit 0; fi
  [[ -n ${BINHCHON_FERRETDB_BIN:-} ]] || "$here/install.sh" ferretdb
  echo "$port" > "$dir/port"
  say "starting FerretDB $FERRETDB_VERSION (PostgreSQL backend) on 127.0.0.1:$port, logs in $dir/ferretdb.log"
  # Filter pushdown (equality on top-level fields) is on by default; our build adds string ranges, and sort and
  # limit for keyset pages (docs/adr/0016). Dot-notation pushdown exists only as an experimental flag, left
  # off. No default user (docs/adr/0039): a client must sign in (authMechanism=PLAIN) as a PostgreSQL role, and
  # then reaches only what that role may; one that does not can do nothing.
  pg_url=$("$here/postgres.sh" url "$pgdir")
  FERRETDB_POSTGRESQL_URL="postgres://${pg_url#*@}" \
    nohup "$bin" --handler=postgresql --state-dir="$dir" \
    --listen-addr="127.0.0.1:$port" --debug-addr=- --telemetry=disable --log-level=warn ${BINHCHON_FERRETDB_FLAGS:-} \
    >> "$dir/ferretdb.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then say "ready"; exit 0; fi
    # kill -0, not running(): until the exec the child's command line is still this shell's
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { say "exited during start-up:"; tail -20 "$dir/ferretdb.log" >&2; exit 1; }
    sleep 0.25
  done
  say "not ready after 30 s; see $dir/ferretdb.log"; exit 1 ;;
stop)
  if running; then
    pid=$(cat "$pidfile"); say "stopping pid $pid"; kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile" ;;
status)
  if running; then echo "ferretdb: running (pid $(cat "$pidfile")) on 127.0.0.1:$(cat "$dir/port")"; else echo "ferretdb: stopped"; exit 3; fi ;;
*) echo "usage: ferretdb.sh start|stop|status DIR [PORT PGDIR]" >&2; exit 2 ;;
esac
