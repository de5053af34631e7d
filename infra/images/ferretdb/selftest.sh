#!/usr/bin/env bash
# Proves the local MongoDB-protocol image (FerretDB on PostgreSQL) does what compose's `mongo` service needs:
# healthy by ferretdb-ready; reachable by name from another container on a user network, PostgreSQL not;
# inserts, a unique index answering a violation as a duplicate key, queries (the project's pymongo, from the host
# through a published port); data kept across `docker restart`, across SIGKILL + start (crash recovery), and
# across PostgreSQL dying inside (the container exits non-zero, the restart policy brings it back); `docker
# stop` well within its grace with PostgreSQL's clean shutdown in the log; then the event store contract
# (libs/kit/tests/integration/test_eventstore_mongo.py) against it. Rerunnable; removes what it made.
#   infra/images/ferretdb/selftest.sh [--cold]   --cold also times a build without the layer cache
# Progress on stderr; measurements as JSON lines on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=../../local/versions.env
source "$repo/infra/local/versions.env"
export PATH=$HOME/.local/bin:$PATH
image=binhchon/ferretdb:$FERRETDB_VERSION-$FERRETDB_BUILD
name=hf-ferretdb-selftest
network=hf-ferretdb-selftest
volume=hf-ferretdb-selftest-data
say() { echo "[selftest] $*" >&2; }
fail() { say "FAIL: $*"; docker logs --tail 40 "$name" >&2 2>&1 || true; exit 1; }
# the whole log read first: `docker logs | grep -q` fails under pipefail when grep stops at its first match
logged() { local text=$1; shift; grep -qF -- "$text" <<< "$(docker logs "$@" "$name" 2>&1)"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

cleanup() {
  docker rm -f "$name" "$name-client" >/dev/null 2>&1 || true
  docker volume rm "$volume" >/dev/null 2>&1 || true
  docker network rm "$network" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

# ---------------------------------------------------------------------------------------------- build ---
if [[ ${1:-} == --cold ]]; then
  say "cold build (no layer cache) under a throwaway tag"
  BINHCHON_BUILD_NO_CACHE=1 "$here/build.sh" "$image-selftest-cold" | tail -1 | sed 's/^{/{"measure": "build_cold", /'
  docker rmi "$image-selftest-cold" >/dev/null
fi
"$here/build.sh" "$image" | tail -1 | sed 's/^{/{"measure": "build", /'

# a free port of the range this session may publish on
port=
for p in $(seq 39200 39299); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[[ -n $port ]] || fail "no free port in 39200-39299"
url="mongodb://127.0.0.1:$port/"

docker network create "$network" >/dev/null
docker volume create "$volume" >/dev/null

wait_healthy() {  # the engine's own health state, checked every second (the run's --health-interval)
  local t0=$1 status
  for _ in $(seq 1 240); do
    status=$(docker inspect --format '{{.State.Health.Status}}' "$name" 2>/dev/null || echo gone)
    [[ $status == healthy ]] && { ms_since "$t0"; return 0; }
    sleep 0.25
  done
  fail "not healthy after 60 s (last: $status)"
}
start_container() {
  docker run -d --name "$name" --network "$network" --network-alias mongo --restart unless-stopped \
    -p "127.0.0.1:$port:27017" -v "$volume:/data/db" \
    --health-interval 1s --health-timeout 5s --health-retries 60 "$image" >/dev/null
}
mongo() {  # CODE [ARG...]: python with the project's pymongo; sys.argv[1] is the URL, then the ARGs
  local code=$1; shift
  (cd "$repo" && uv run --no-sync python -c "$code" "$url" "$@")
}

# ------------------------------------------------------------------------------------ first start ---
say "first start on 127.0.0.1:$port (volume $volume, network $network)"
t0=$(date +%s%N)
start_container
ready_ms=
for _ in $(seq 1 300); do
  if docker exec "$name" ferretdb-ready 2>/dev/null; then ready_ms=$(ms_since "$t0"); break; fi
  sleep 0.2
done
[[ -n $ready_ms ]] || fail "ferretdb-ready never passed"
healthy_ms=$(wait_healthy "$t0")
echo "{\"measure\": \"first_start\", \"ready_ms\": $ready_ms, \"healthy_ms\": $healthy_ms, \"note\": \"initdb included; healthy polled at the 1 s health interval\"}"
logged "initialising a PostgreSQL" || fail "the first start did not initialise the cluster"

say "ferretdb-ready fails when FerretDB does not answer (a port nothing listens on)"
docker exec -e FERRETDB_READY_PORT=27018 "$name" ferretdb-ready 2>/dev/null && fail "ferretdb-ready passed with nothing listening"

say "another container on the network reaches mongo:27017 by name, and not PostgreSQL"
docker run --rm --name "$name-client" --network "$network" --entrypoint bash "$image" -c '
  exec 3<>/dev/tcp/mongo/27017 || { echo "mongo:27017 unreachable"; exit 1; }
  if (exec 4<>/dev/tcp/mongo/5432) 2>/dev/null; then echo "PostgreSQL is reachable from outside"; exit 1; fi' \
  || fail "network check"

say "inserts, a unique index, a duplicate key, queries (pymongo from the host)"
mongo '
import sys
from pymongo import MongoClient, errors
db = MongoClient(sys.argv[1], serverSelectionTimeoutMS=10000).selftest
db.dossiers.drop()
db.dossiers.create_index("receipt", unique=True)
db.dossiers.insert_many([{"_id": f"d{i:03}", "receipt": f"r{i:03}", "round": "2026-r1", "score": i} for i in range(200)])
try:
    db.dossiers.insert_one({"_id": "d999", "receipt": "r007"})
    sys.exit("a second r007 was accepted")
except errors.DuplicateKeyError as exc:
    assert exc.code == 11000, exc.code
assert db.dossiers.find_one({"_id": "d999"}) is None
assert db.dossiers.count_documents({"round": "2026-r1"}) == 200
page = list(db.dossiers.find({"round": "2026-r1", "receipt": {"$gt": "r150"}}).sort("receipt", 1).limit(5))
assert [d["_id"] for d in page] == ["d151", "d152", "d153", "d154", "d155"], page
assert db.dossiers.find_one({"_id": "d042"})["score"] == 42
print("ok")' >/dev/null || fail "the client round"

check_data() {  # every acknowledged write is there, and the server still takes writes
  mongo '
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1], serverSelectionTimeoutMS=20000).selftest
n = db.dossiers.count_documents({})
assert n == 200 + int(sys.argv[2]), n
assert db.marks.count_documents({}) == int(sys.argv[2]), db.marks.count_documents({})
assert "receipt_1" in db.dossiers.index_information()
' "$1" >/dev/null || fail "data lost after $2"
}
mark() {  # one more acknowledged write, just before a stop or a kill
  mongo '
import sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1]).selftest
db.marks.insert_one({"_id": sys.argv[2]})
db.dossiers.insert_one({"_id": "m" + sys.argv[2], "receipt": "m" + sys.argv[2]})' "$1" >/dev/null
}

# ------------------------------------------------------------------------------------- restart ---
mark 1
say "docker restart"
t0=$(date +%s%N)
docker restart "$name" >/dev/null
echo "{\"measure\": \"restart\", \"healthy_ms\": $(wait_healthy "$t0")}"
check_data 1 "docker restart"
logged "database system is shut down" || fail "no clean PostgreSQL shutdown on restart"

# ----------------------------------------------------------------------------------- SIGKILL ---
mark 2
say "docker kill (SIGKILL) right after an acknowledged write, then docker start"
docker kill "$name" >/dev/null
t0=$(date +%s%N)
docker start "$name" >/dev/null
echo "{\"measure\": \"start_after_sigkill\", \"healthy_ms\": $(wait_healthy "$t0")}"
check_data 2 "SIGKILL"
logged "automatic recovery in progress" || fail "no crash recovery after SIGKILL?"

# ------------------------------------------------------------- PostgreSQL dies: the policy acts ---
mark 3
say "PostgreSQL killed inside: the container exits non-zero and the restart policy brings it back"
restarts=$(docker inspect --format '{{.RestartCount}}' "$name")
docker exec "$name" bash -c 'kill -KILL "$(head -1 /data/db/postgresql/postmaster.pid)"'
for _ in $(seq 1 120); do
  [[ $(docker inspect --format '{{.RestartCount}}' "$name") -gt $restarts ]] && break
  sleep 0.25
done
[[ $(docker inspect --format '{{.RestartCount}}' "$name") -gt $restarts ]] || fail "the container was not restarted"
logged "PostgreSQL exited (status 137)" || fail "the entrypoint did not say PostgreSQL died"
t0=$(date +%s%N)
wait_healthy "$t0" >/dev/null
check_data 3 "PostgreSQL was killed"

# ------------------------------------------------------------------------------------------ stop ---
mark 4
say "docker stop: FerretDB, then PostgreSQL's fast shutdown, well within the 10 s grace"
# with a client's pool still connected, as the services' are when compose stops the stack
mongo '
import sys, time
from pymongo import MongoClient
c = MongoClient(sys.argv[1], maxPoolSize=4)
c.selftest.dossiers.find_one({"_id": "d001"})
print("connected", flush=True)
time.sleep(60)' > "$HOME/.cache/binhchon/hf-selftest-client.out" 2>&1 &
client=$!
for _ in $(seq 1 100); do grep -q connected "$HOME/.cache/binhchon/hf-selftest-client.out" && break; sleep 0.1; done
since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$(date +%s%N)
docker stop "$name" >/dev/null
stop_ms=$(ms_since "$t0")
kill "$client" 2>/dev/null || true; wait "$client" 2>/dev/null || true
rm -f "$HOME/.cache/binhchon/hf-selftest-client.out"
code=$(docker inspect --format '{{.State.ExitCode}}' "$name")
echo "{\"measure\": \"stop\", \"ms\": $stop_ms, \"exit_code\": $code, \"note\": \"a client pool connected\"}"
# FerretDB lets open connections finish for up to 3 s after SIGTERM (ctxutil.WithDelay), then PostgreSQL
# checkpoints: a few seconds at most, against the 10 s grace
(( stop_ms < 6000 )) || fail "docker stop took $stop_ms ms"
[[ $code == 0 ]] || fail "exit code $code after docker stop"
logs=$(docker logs --since "$since" "$name" 2>&1)
for line in "stopping FerretDB" "received fast shutdown request" "checkpoint starting: shutdown" \
    "database system is shut down" "[entrypoint] stopped"; do
  grep -qF -- "$line" <<< "$logs" || fail "'$line' missing from the stop's log"
done
docker start "$name" >/dev/null
wait_healthy "$(date +%s%N)" >/dev/null
check_data 4 "docker stop"
logged "automatic recovery" --since "$since" && fail "recovery after a clean stop"

# ---------------------------------------------------------------------- the event store contract ---
# The fixtures take KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL together or neither (binhchon_kit.testing.infra);
# this file uses no Kafka, so the broker given is the discard port: any use of it would fail, not pass.
say "the event store contract (test_eventstore_mongo.py) against $url"
contract=$(cd "$repo" && MONGODB_URL=$url KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9 \
  uv run --no-sync pytest libs/kit/tests/integration/test_eventstore_mongo.py -q -s -p no:cacheprovider 2>&1) \
  || { echo "$contract" >&2; fail "the event store contract"; }
echo "$contract" | grep -E "^\[infra\]|passed|failed" >&2
# the fixture says where its server came from: this container, not a native stack of its own
grep -qF "MongoDB $url (environment)" <<< "$contract" || fail "the contract did not run against $url"

bytes=$(docker image inspect --format '{{.Size}}' "$image")
echo "{\"measure\": \"image\", \"image\": \"$image\", \"bytes\": $bytes}"
say "passed"
