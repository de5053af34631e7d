#!/usr/bin/env bash
# Runs PostgreSQL (Debian's packages, see install.sh) as FerretDB's storage: a cluster of our own, initialised
# into DIR/data on first start, listening on 127.0.0.1:PORT with its unix socket inside DIR/data (not
# /var/run/postgresql). PostgreSQL refuses to run as root: started as root, the server runs as the system user
# $BINHCHON_PG_USER (default binhchon, created if missing), which owns DIR.
#   infra/local/postgres.sh start DIR PORT   initialise if needed, start, wait until ready, create the database
#   infra/local/postgres.sh stop DIR          fast shutdown; data in DIR/data is kept
#   infra/local/postgres.sh status DIR
#   infra/local/postgres.sh url DIR           the owner's URL (it holds the password; FerretDB gets it without)
#   infra/local/postgres.sh psql DIR < SQL    run SQL as the owner (the store's roles and grants)
# BINHCHON_PG_SETTINGS (optional): more lines for the server's configuration at start, e.g. the pipeline bench's
# "shared_preload_libraries = 'pg_stat_statements'" (a preloaded library needs a start, not a reload).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
bindir=${BINHCHON_PG_BINDIR:-/usr/lib/postgresql/$POSTGRESQL_MAJOR/bin}
os_user=${BINHCHON_PG_USER:-binhchon}
db_user=binhchon
database=ferretdb
say() { echo "[postgres] $*" >&2; }
cmd=${1:?usage: postgres.sh start|stop|status|url DIR [PORT]}
dir=${2:?DIR missing}
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
data="$dir/data"
root() { [[ $(id -u) -eq 0 ]]; }

# Run a PostgreSQL program as the cluster's owner, from / (root's working directory may be closed to it).
as_owner() {
  if root; then
    (cd / && runuser -u "$os_user" -- "$@")
  else
    (cd / && "$@")
  fi
}

# Processes of this cluster: a PostgreSQL server process's working directory is its data directory. Reading
# that (rather than trusting the pid in postmaster.pid) cannot be fooled by a pid reused after a crash.
server_pids() {
  local p
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/cwd" 2>/dev/null) == "$data" ]] && echo "${p#/proc/}"
  done
  return 0
}
running() {
  [[ -f "$data/postmaster.pid" ]] || return 1
  local pid; pid=$(head -1 "$data/postmaster.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$data" ]]
}

ensure_owner() {
  root || return 0
  if ! id -u "$os_user" >/dev/null 2>&1; then
    say "creating system user $os_user to run PostgreSQL (it refuses to run as root)"
    # two starts at once may race here: losing the race is fine if the user now exists
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      "$os_user" 2>/dev/null || id -u "$os_user" >/dev/null
  fi
  chown "$os_user:" "$dir"
  # a data directory copied, or made by an earlier user of that name, must belong to the server's user
  if [[ -d $data && $(stat -c %U "$data") != "$os_user" ]]; then chown -R "$os_user:" "$data"; fi
  if ! runuser -u "$os_user" -- test -w "$dir" 2>/dev/null; then
    local closed=() p="$dir"
    while [[ $p != / ]]; do
      p=$(dirname "$p")
      runuser -u "$os_user" -- test -x "$p" 2>/dev/null || closed+=("$p")
    done
    if command -v setfacl >/dev/null; then
      say "letting $os_user through ${closed[*]} (search permission only, ACL)"
      setfacl -m "u:$os_user:x" "${closed[@]}"
    else
      say "user $os_user cannot reach $dir: ${closed[*]} closed to it. Put the checkout where others may pass" \
        "(or BINHCHON_RUN_DIR for make up), or: chmod o+x ${closed[*]}  (or install acl, then retry)"
      exit 1
    fi
  fi
}

init_cluster() {
  [[ -f "$data/PG_VERSION" ]] && return 0
  say "initialising a PostgreSQL $POSTGRESQL_MAJOR cluster in $data"
  # initdb into a side directory, renamed when complete: a crash half-way leaves nothing that looks usable
  rm -rf "$data.tmp"
  (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/password")
  root && chown "$os_user:" "$dir/password"
  # the socket is reachable only through the 0700 data directory, so it may trust; TCP asks the password
  as_owner "$bindir/initdb" -D "$data.tmp" -U "$db_user" --pwfile="$dir/password" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >> "$dir/initdb.log" 2>&1 \
    || { say "initdb failed:"; tail -20 "$dir/initdb.log" >&2; exit 1; }
  echo "include_if_exists = 'binhchon.conf'" >> "$data.tmp/postgresql.conf"
  mv "$data.tmp" "$data"
}

clear_stale_lock() {
  [[ -f "$data/postmaster.pid" ]] || return 0
  # The server is gone (crash, killed container) but its lock file stayed. PostgreSQL itself ignores a lock
  # whose pid is dead, but not one whose pid was reused by a live process after a restart, and then would
  # never start again. Leftover server processes still attached to the shared memory must end first.
  local left
  for _ in $(seq 1 40); do
    left=$(server_pids)
    [[ -z $left ]] && break
    sleep 0.25
  done
  if [[ -n $left ]]; then say "server processes of $data still alive without their postmaster: $left"; exit 1; fi
  say "removing the lock left by a server that is gone (pid $(head -1 "$data/postmaster.pid"))"
  rm -f "$data/postmaster.pid" "$data"/.s.PGSQL.*
}

case "$cmd" in
start)
  port=${3:?PORT missing}
  [[ -x "$bindir/postgres" ]] || "$here/install.sh" postgresql
  if running; then
    say "already running (pid $(head -1 "$data/postmaster.pid")) on 127.0.0.1:$(cat "$dir/port")"; exit 0
  fi
  ensure_owner
  init_cluster
  clear_stale_lock
  echo "$port" > "$dir/port"
  # written at every start: the port may change between runs of the same data
  as_owner tee "$data/binhchon.conf" > /dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
${BINHCHON_PG_SETTINGS:-}
EOF
  say "starting PostgreSQL $POSTGRESQL_MAJOR on 127.0.0.1:$port, logs in $dir/postgres.log"
  as_owner "$bindir/pg_ctl" start -D "$data" -l "$dir/postgres.log" -w -t 120 -s \
    || { say "did not start:"; tail -20 "$dir/postgres.log" >&2; exit 1; }
  if [[ -z $(as_owner "$bindir/psql" -X -h "$data" -p "$port" -U "$db_user" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$database'") ]]; then
    as_owner "$bindir/createdb" -h "$data" -p "$port" -U "$db_user" "$database"
  fi
  say "ready" ;;
stop)
  if running; then
    say "stopping pid $(head -1 "$data/postmaster.pid")"
    as_owner "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 60 -s \
      || as_owner "$bindir/pg_ctl" stop -D "$data" -m immediate -w -t 30 -s
  fi ;;
status)
  if running; then
    echo "postgresql: running (pid $(head -1 "$data/postmaster.pid")) on 127.0.0.1:$(cat "$dir/port")"
  else
    echo "postgresql: stopped"; exit 3
  fi ;;
url)
  [[ -f "$dir/password" && -f "$dir/port" ]] || { say "no cluster started in $dir"; exit 1; }
  echo "postgres://$db_user:$(cat "$dir/password")@127.0.0.1:$(cat "$dir/port")/$database" ;;
psql)
  # SQL on stdin, as the cluster's owner over its socket (the store's grants: binhchon_kit.store_principals)
  running || { say "not running in $dir"; exit 1; }
  as_owner "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$data" -p "$(cat "$dir/port")" -U "$db_user" -d "$database" ;;
*) echo "usage: postgres.sh start|stop|status|url|psql DIR [PORT]" >&2; exit 2 ;;
esac
