#!/usr/bin/env bash
# `make images`: every image the compose deployment runs, then infra/compose/images.env naming them.
#
#   infra/images/build.sh            BINHCHON_IMAGES=auto (default) | local | registry
#
# auto: each infrastructure image is pulled where a registry answers (python:3.11-slim, mongo:8.0,
# axllent/mailpit, pinned in infra/local/versions.env) and built here where none does (an air-gapped data
# centre, these machines): a Python base from Debian's packages, Kafka from the Maven artifacts infra/local
# uses, FerretDB on PostgreSQL as the MongoDB-protocol server, mailpit from its Go module, all on a Debian base
# made by debootstrap. local: build them all here. registry: pull them all, fail if one cannot be had. Kafka is
# always built here (below: the locked broker needs our run script).
# The four services are always built here, from the one template infra/images/service/Dockerfile.
#
# Idempotent: an image whose inputs did not change is not rebuilt (lib.sh). Prints one JSON line per image
# (build seconds, bytes), kept in ~/.cache/binhchon/images.jsonl, and writes infra/compose/images.env, which
# compose reads with `--env-file` (make compose-test does): the images chosen, and how to check the store.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/infra/local/versions.env"
source "$here/lib.sh"
mode=${BINHCHON_IMAGES:-auto}
[[ $mode =~ ^(auto|local|registry)$ ]] || { echo "[images] BINHCHON_IMAGES must be auto, local or registry, not $mode" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "[images] no Docker engine answers (make container-tools installs and starts one)" >&2; exit 1; }
mkdir -p "$images_cache"
results="$images_cache/images.jsonl"
: > "$results"

# A registry image is used when it is on the engine already or a pull succeeds in time.
from_registry() {
  [[ $mode == local ]] && return 1
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  echo "[images] pulling $1" >&2
  timeout "${BINHCHON_PULL_SECONDS:-60}" docker pull -q "$1" >/dev/null 2>&1
}

# NAME REGISTRY_IMAGE BUILD_SCRIPT -> prints the tag chosen; records what it cost
choose() {
  local name=$1 registry=$2 script=$3 line
  if from_registry "$registry"; then
    line=$(printf '{"image": "%s", "built": false, "source": "registry", "seconds": 0, "bytes": %s}' \
           "$registry" "$(docker image inspect "$registry" --format '{{.Size}}')")
  elif [[ $mode == registry ]]; then
    echo "[images] $registry could not be pulled (BINHCHON_IMAGES=registry)" >&2; return 1
  else
    echo "[images] $name: no registry gave $registry; building the local equivalent" >&2
    "$root/infra/docker/base-image.sh" >&2
    line=$("$script" | tail -1)
    line="${line%\}}, \"source\": \"local\"}"
  fi
  echo "$line" >> "$results"
  python3 -c 'import json,sys; print(json.loads(sys.argv[1])["image"])' "$line"
}

python_image=$(choose python "$PYTHON_REGISTRY_IMAGE" "$here/python/build.sh")
# Kafka is always ours, whatever the mode: the deployment's broker is locked (SASL/SCRAM, ACLs; ADR 0044), and only
# our image's run script reads the mounted credentials and writes the listeners' JAAS lines. The registry's
# apache/kafka has no such step: with it the broker would not start, so no mode ever picks it.
kafka_image=$(mode=local choose kafka "$KAFKA_REGISTRY_IMAGE" "$here/kafka/build.sh")
mongo_image=$(choose mongo "$MONGO_REGISTRY_IMAGE" "$here/ferretdb/build.sh")
mailpit_image=$(choose mailpit "$MAILPIT_REGISTRY_IMAGE" "$here/mailpit/build.sh")

# The services, from the repository root. Behind a TLS-inspecting proxy the build's pip and uv need the
# machine's CA bundle: it goes in as a build secret (never into a layer).
ca_bundle=${BINHCHON_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
secret=(); [[ -s $ca_bundle ]] && secret=(--secret "id=ca-bundle,src=$ca_bundle")
cd "$root"
for entry in intake:8001: scoring:8002: certification:8003:fonts-dejavu-core notify:8004: portal:8000:; do
  IFS=: read -r service port packages <<< "$entry"
  IMAGE_INPUTS="pyproject.toml uv.lock libs services/$service docs/contract infra/images/service/Dockerfile" \
    build_image "binhchon-$service:local" . -f infra/images/service/Dockerfile "${secret[@]}" \
      --build-arg "SERVICE=$service" --build-arg "HTTP_PORT=$port" --build-arg "APT_PACKAGES=$packages" \
      --build-arg "PYTHON_IMAGE=$python_image" | tail -1 | sed 's/}$/, "source": "local"}/' >> "$results"
done

# FerretDB answers the MongoDB protocol but has no mongosh: the image brings its own readiness check. Its users are
# PostgreSQL's roles, signed in with PLAIN (the mechanism's own source, $external), where MongoDB's are SCRAM users of
# its admin database (docs/adr/0039, 0044).
mongo_check="mongosh --quiet --eval \"db.adminCommand('ping').ok\""
mongo_auth=("BINHCHON_MONGODB_AUTH_MECHANISM=SCRAM-SHA-256" "BINHCHON_MONGODB_AUTH_SOURCE=admin")
if [[ $mongo_image != "$MONGO_REGISTRY_IMAGE" ]]; then
  mongo_check=/usr/local/bin/ferretdb-ready
  mongo_auth=("BINHCHON_MONGODB_AUTH_MECHANISM=PLAIN" "BINHCHON_MONGODB_AUTH_SOURCE=")
fi
cat > "$root/infra/compose/images.env" <<ENV
# Written by \`make images\` on $(date -u +%FT%TZ): the images this engine has. Use it with
#   docker compose --env-file infra/compose/images.env up -d --wait
BINHCHON_PYTHON_IMAGE=$python_image
BINHCHON_KAFKA_IMAGE=$kafka_image
BINHCHON_MONGO_IMAGE=$mongo_image
BINHCHON_MONGO_HEALTHCHECK=$mongo_check
$(printf '%s\n' "${mongo_auth[@]}")
BINHCHON_MAILPIT_IMAGE=$mailpit_image
ENV
cat "$results"
python3 - "$results" >&2 <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print(f"\n{'image':40} {'source':9} {'built':6} {'seconds':>8} {'MB':>7}")
for r in rows:
    print(f"{r['image']:40} {r['source']:9} {str(r['built']).lower():6} {r['seconds']:8.1f} {r['bytes'] / 1e6:7.0f}")
PY
echo "[images] infra/compose/images.env names them" >&2
