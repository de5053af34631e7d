#!/usr/bin/env bash
# The whole stack, natively: Kafka, PostgreSQL and FerretDB on it from infra/local, the topics, and each
# service as a process.
#   infra/local/stack.sh up|down|status|clean
#   infra/local/stack.sh rotate PRINCIPAL     a new Kafka password for admin, auditor or a service (README)
#   infra/local/stack.sh rotate-store PRINCIPAL   a new store password for auditor or a service (README)
# A KAFKA_BOOTSTRAP_SERVERS or MONGODB_URL already set wins: that part is then not started here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
run=${BINHCHON_RUN_DIR:-$repo/.run/local}
kafka_port=${BINHCHON_KAFKA_PORT:-9092}
mongo_port=${BINHCHON_MONGO_PORT:-27017}
# not 5432: on Debian that is the system's own cluster, if its package created one
pg_port=${BINHCHON_PG_PORT:-5433}
# name:port of every service that runs as a process
services=(${BINHCHON_SERVICES:-intake:8001 scoring:8002 certification:8003 notify:8004})
# the portal (ADR 0049), started after the four, in front of them; BINHCHON_PORTAL_PORT=0 leaves it out
portal_port=${BINHCHON_PORTAL_PORT:-8000}
say() { echo "[stack] $*" >&2; }

kafka_url=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$kafka_port}
mongo_url=${MONGODB_URL:-mongodb://127.0.0.1:$mongo_port/}

# The broker's principals (docs/adr/0031): a password file each, made once here, 0600, never committed (.run/).
credentials=${BINHCHON_KAFKA_CREDENTIALS:-$run/credentials/kafka}
# The store's (docs/adr/0039): each service a PostgreSQL role owning its database, the auditor reading them all.
store_credentials=$run/credentials/store

svc_running() { [[ -f "$run/$1.pid" ]] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

up() {
  mkdir -p "$run/logs"
  (cd "$repo" && uv sync --frozen --quiet)
  # sign-in for every client below: the services as themselves, binhchon-topics as the admin
  local kafka_env=() store_env=()
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    say "using Kafka at $kafka_url (KAFKA_BOOTSTRAP_SERVERS; KAFKA_SASL_* or KAFKA_CREDENTIALS_DIR sign in, if set)"
  else
    "$repo/.venv/bin/python" -m binhchon_kit.principals credentials "$credentials"
    BINHCHON_KAFKA_CREDENTIALS="$credentials" "$here/kafka.sh" start "$run/kafka" "$kafka_port"
    kafka_env=(KAFKA_CREDENTIALS_DIR="$credentials")
  fi
  if [[ -n "${MONGODB_URL:-}" ]]; then
    say "using MongoDB at $mongo_url (MONGODB_URL)"
  else
    "$here/postgres.sh" start "$run/postgres" "$pg_port"
    say "locking the store: each service signs in as itself and reaches its own database only"
    "$repo/.venv/bin/python" -m binhchon_kit.store_principals credentials "$store_credentials" > /dev/null
    "$repo/.venv/bin/python" -m binhchon_kit.store_principals sql "$store_credentials" \
      | "$here/postgres.sh" psql "$run/postgres"
    "$here/ferretdb.sh" start "$run/ferretdb" "$mongo_port" "$run/postgres"
    store_env=(MONGODB_CREDENTIALS_DIR="$store_credentials")
  fi
  say "creating topics and granting each principal its access"
  (cd "$repo" && env "${kafka_env[@]}" uv run --no-sync binhchon-topics --bootstrap-servers "$kafka_url")
  public_key=$(cd "$repo" && uv run --no-sync binhchon-devtoken keys)
  # a local mail catcher for notify: every message lands as a file in .run/local/mail (a Maildir)
  if ! svc_running mail; then
    mkdir -p "$run/mail/new" "$run/mail/cur" "$run/mail/tmp"
    say "mail catcher (SMTP) on 127.0.0.1:1025, mail in $run/mail/new"
    nohup "$repo/.venv/bin/python" -m aiosmtpd -n -l 127.0.0.1:1025 -c aiosmtpd.handlers.Mailbox "$run/mail" \
      >> "$run/logs/mail.log" 2>&1 < /dev/null &
    echo $! > "$run/mail.pid"
  fi
  # personal data (docs/adr/0035): intake's master key, made once and kept (replacing it erases everyone), and
  # notify's token (role "service") to ask intake for a producer's key; neither is ever committed
  personal_key="$run/credentials/personal-data-master.key"
  "$repo/.venv/bin/python" -m binhchon_kit.personal master-key "$personal_key" > /dev/null
  notify_token="$run/credentials/notify-service.token"
  # and scoring's and certification's, to open a household's sealed name and number (docs/adr/0048). Each lives
  # 23 h (under AUTH_MAX_TOKEN_LIFETIME): a keeper renews each file once a third of its life is left, and the
  # services read the file at each use, so a stack left running for days keeps asking intake with a live token
  kept=()
  for reader in notify scoring certification; do kept+=("$run/credentials/$reader-service.token=$reader:service"); done
  (cd "$repo" && .venv/bin/binhchon-devtoken keep --once "${kept[@]}")
  if ! svc_running tokens; then
    say "token keeper: renews the services' tokens in $run/credentials before they expire"
    nohup "$repo/.venv/bin/binhchon-devtoken" keep "${kept[@]}" >> "$run/logs/tokens.log" 2>&1 < /dev/null &
    echo $! > "$run/tokens.pid"
  fi
  intake_url=http://127.0.0.1:8001
  for entry in "${services[@]}"; do [[ ${entry%%:*} == intake ]] && intake_url=http://127.0.0.1:${entry##*:}; done
  for entry in "${services[@]}"; do
    name=${entry%%:*}; port=${entry##*:}
    if svc_running "$name"; then say "$name already running (pid $(cat "$run/$name.pid"))"; continue; fi
    own=()
    case $name in
      intake) own=(PERSONAL_DATA_MASTER_KEY_FILE="$personal_key") ;;
      notify) own=(INTAKE_SERVICE_TOKEN_FILE="$notify_token" INTAKE_URL="$intake_url") ;;
      scoring|certification)
        own=(INTAKE_SERVICE_TOKEN_FILE="$run/credentials/$name-service.token" INTAKE_URL="$intake_url") ;;
    esac
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      say "port $port is taken by another process; stop it (fuser -k $port/tcp) or set BINHCHON_SERVICES"; exit 1
    fi
    say "starting $name on http://127.0.0.1:$port (logs: $run/logs/$name.log)"
    # a simple command in the background, its output in the log: nothing keeps this shell's stdout open
    env "${kafka_env[@]}" "${store_env[@]}" "${own[@]}" MONGODB_URL="$mongo_url" KAFKA_BOOTSTRAP_SERVERS="$kafka_url" HTTP_PORT="$port" \
      AUTH_PUBLIC_KEYS_FILE="${AUTH_PUBLIC_KEYS_FILE:-$public_key}" \
      nohup "$repo/.venv/bin/binhchon-$name" >> "$run/logs/$name.log" 2>&1 < /dev/null &
    echo $! > "$run/$name.pid"
  done
  for entry in "${services[@]}"; do
    name=${entry%%:*}; port=${entry##*:}
    for _ in $(seq 1 120); do
      if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then
        say "$name is up"; break
      fi
      svc_running "$name" || { say "$name exited; last lines of its log:"; tail -20 "$run/logs/$name.log" >&2; exit 1; }
      sleep 0.5
    done
  done
  start_portal
  say "up. Mint a token: uv run binhchon-devtoken mint --sub me --role secretariat"
  [[ ${#kafka_env[@]} -eq 0 ]] || say "Kafka signs in with SASL/SCRAM: export ${kafka_env[0]} for binhchon-audit and binhchon-events"
  [[ ${#store_env[@]} -eq 0 ]] || say "the store signs in per service: export ${store_env[0]} for binhchon-audit compare and rebuild"
}

# The portal calls the four services where they listen here, and offers the development sign-in (it mints
# tokens with the dev key the services trust); the cookie goes over plain http on loopback (PORTAL_LOCAL).
start_portal() {
  [[ $portal_port != 0 ]] || return 0
  if svc_running portal; then say "portal already running (pid $(cat "$run/portal.pid"))"; return 0; fi
  local urls=() entry name
  for entry in "${services[@]}"; do
    name=${entry%%:*}
    urls+=("${name^^}_URL=http://127.0.0.1:${entry##*:}")
  done
  say "starting portal on http://127.0.0.1:$portal_port (logs: $run/logs/portal.log)"
  env "${urls[@]}" HTTP_PORT="$portal_port" PORTAL_DEV_SIGN_IN=true PORTAL_LOCAL=true \
    PORTAL_PUBLIC_URL="http://127.0.0.1:$portal_port" \
    nohup "$repo/.venv/bin/binhchon-portal" >> "$run/logs/portal.log" 2>&1 < /dev/null &
  echo $! > "$run/portal.pid"
  for _ in $(seq 1 60); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$portal_port/healthz', timeout=1)" 2>/dev/null; then
      say "portal is up: http://127.0.0.1:$portal_port (development sign-in on)"; return 0
    fi
    svc_running portal || { say "portal exited; last lines of its log:"; tail -20 "$run/logs/portal.log" >&2; exit 1; }
    sleep 0.5
  done
}

down() {
  if svc_running portal; then say "stopping portal"; kill "$(cat "$run/portal.pid")"; fi
  rm -f "$run/portal.pid"
  for entry in "${services[@]}"; do
    name=${entry%%:*}
    if svc_running "$name"; then say "stopping $name"; kill "$(cat "$run/$name.pid")"; fi
    rm -f "$run/$name.pid"
  done
  if svc_running mail; then kill "$(cat "$run/mail.pid")"; fi
  rm -f "$run/mail.pid"
  if svc_running tokens; then kill "$(cat "$run/tokens.pid")"; fi
  rm -f "$run/tokens.pid"
  [[ -d "$run/kafka" ]] && "$here/kafka.sh" stop "$run/kafka" || true
  [[ -d "$run/ferretdb" ]] && "$here/ferretdb.sh" stop "$run/ferretdb" || true
  [[ -d "$run/postgres" ]] && "$here/postgres.sh" stop "$run/postgres" || true
  say "down (data kept in $run; make clean removes it)"
}

status() {
  local part
  for part in kafka postgres ferretdb; do
    if [[ -d "$run/$part" ]]; then "$here/$part.sh" status "$run/$part" || true; else echo "$part: not started here"; fi
  done
  for entry in "${services[@]}"; do
    name=${entry%%:*}; port=${entry##*:}
    if svc_running "$name"; then
      ready=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$port/readyz', timeout=2).read().decode())" 2>/dev/null || echo "not ready")
      echo "$name: running (pid $(cat "$run/$name.pid")) on http://127.0.0.1:$port — $ready"
    else
      echo "$name: stopped"
    fi
  done
  if svc_running portal; then
    echo "portal: running (pid $(cat "$run/portal.pid")) on http://127.0.0.1:$portal_port"
  else
    echo "portal: stopped"
  fi
}

# A new password for one principal (docs/adr/0031): set on the broker first (as the admin), then written where the
# clients read it. Connections signed in already stay; restart that principal's clients (or the broker, for admin,
# whose password is also the broker's own sign-in) so that none reconnects with the old one.
rotate() {
  local name=${1:?usage: stack.sh rotate PRINCIPAL} password new
  [[ -f "$credentials/$name.password" ]] || { say "no principal $name in $credentials"; exit 1; }
  password=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  "$here/kafka-tool.sh" kafka-configs --bootstrap-server "$kafka_url" --command-config "$credentials/admin.properties" \
    --alter --entity-type users --entity-name "$name" --add-config "SCRAM-SHA-512=[password=$password]" >&2
  new=$(mktemp "$credentials/.$name.XXXXXX")
  printf '%s' "$password" > "$new" && mv "$new" "$credentials/$name.password"
  rm -f "$credentials/$name.properties"
  "$repo/.venv/bin/python" -m binhchon_kit.principals credentials "$credentials"
  say "$name has a new password in $credentials/$name.password; restart what signs in as $name"
}

# A new store password for one principal (docs/adr/0039): written, set in PostgreSQL, and the role's open sessions
# ended (FerretDB pools them per password, and PostgreSQL checks a password only when a session starts).
rotate_store() {
  local name=${1:?usage: stack.sh rotate-store PRINCIPAL}
  [[ -f "$store_credentials/$name.password" ]] || { say "no store principal $name in $store_credentials"; exit 1; }
  rm -f "$store_credentials/$name.password"
  "$repo/.venv/bin/python" -m binhchon_kit.store_principals credentials "$store_credentials" > /dev/null
  "$repo/.venv/bin/python" -m binhchon_kit.store_principals sql "$store_credentials" --rotated "$name" \
    | "$here/postgres.sh" psql "$run/postgres" > /dev/null
  say "$name has a new store password in $store_credentials/$name.password; restart what signs in as $name"
}

case "${1:-}" in
  up) up ;;
  rotate) rotate "${2:-}" ;;
  rotate-store) rotate_store "${2:-}" ;;
  down) down ;;
  status) status ;;
  clean) down; rm -rf "$run"; say "removed $run" ;;
  *) echo "usage: $0 up|down|status|clean|rotate PRINCIPAL|rotate-store PRINCIPAL" >&2; exit 2 ;;
esac
