#!/usr/bin/env bash
# Runs FerretDB (MongoDB wire protocol) with its SQLite backend, from the binary install.sh built.
#   infra/local/ferretdb.sh start DIR PORT    start and wait until it accepts connections
#   infra/local/ferretdb.sh stop DIR           stop; data in DIR/data is kept
#   infra/local/ferretdb.sh status DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
cache=${BINHCHON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/binhchon}
bin="$cache/bin/ferretdb-$FERRETDB_VERSION-$FERRETDB_PATCH"
say() { echo "[ferretdb] $*" >&2; }
cmd=${1:?usage: ferretdb.sh start|stop|status DIR [PORT]}
dir=${2:?DIR missing}
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
pidfile="$dir/ferretdb.pid"
running() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$cmd" in
start)
  port=${3:?PORT missing}
  if running; then say "already running (pid $(cat "$pidfile")) on 127.0.0.1:$(cat "$dir/port")"; exit 0; fi
  "$here/install.sh" ferretdb
  mkdir -p "$dir/data"; echo "$port" > "$dir/port"
  say "starting FerretDB $FERRETDB_VERSION (SQLite) on 127.0.0.1:$port, logs in $dir/ferretdb.log"
  # WAL with synchronous=normal: durable across process crashes (what tests and make up need); only an OS
  # crash or power loss may drop the last commits. Production runs MongoDB (docker-compose.yml).
  nohup "$bin" --handler=sqlite --sqlite-url="file:$dir/data/?_pragma=synchronous(normal)" --state-dir="$dir" \
    --listen-addr="127.0.0.1:$port" --debug-addr=- --telemetry=disable --log-level=warn \
    >> "$dir/ferretdb.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then say "ready"; exit 0; fi
    running || { say "exited during start-up:"; tail -20 "$dir/ferretdb.log" >&2; exit 1; }
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
*) echo "usage: ferretdb.sh start|stop|status DIR [PORT]" >&2; exit 2 ;;
esac
