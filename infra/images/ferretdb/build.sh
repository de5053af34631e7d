#!/usr/bin/env bash
# Builds the local MongoDB-protocol server image (FerretDB on PostgreSQL, one container) without any registry:
# the FerretDB binary from infra/local/install.sh, PostgreSQL from Debian's packages, on the Debian base image.
#   infra/images/ferretdb/build.sh [TAG]   default binhchon/ferretdb:$FERRETDB_VERSION-$FERRETDB_BUILD
#   BINHCHON_BASE_IMAGE                     default binhchon/debian:bookworm (infra/docker/base-image.sh)
#   BINHCHON_BUILD_NO_CACHE=1               build anew, without the layer cache (to time a cold build)
# Idempotent: the image carries org.binhchon.inputs, a sha256 of everything it is built from (these files, the
# binary, the base image's id, the versions); an image of TAG with the same label is kept. Progress on stderr;
# the last stdout line is {"image": TAG, "built": true|false, "seconds": float, "bytes": int}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=../../local/versions.env
source "$repo/infra/local/versions.env"
cache=${BINHCHON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/binhchon}
tag=${1:-binhchon/ferretdb:$FERRETDB_VERSION-$FERRETDB_BUILD}
base=${BINHCHON_BASE_IMAGE:-binhchon/debian:bookworm}
say() { echo "[image ferretdb] $*" >&2; }
started=$(date +%s%N)

report() {  # built: true|false
  local bytes tenths
  bytes=$(docker image inspect --format '{{.Size}}' "$tag")
  tenths=$(( ($(date +%s%N) - started) / 100000000 ))
  printf '{"image": "%s", "built": %s, "seconds": %d.%d, "bytes": %d}\n' "$tag" "$1" $((tenths / 10)) $((tenths % 10)) "$bytes"
}

"$repo/infra/local/install.sh" ferretdb
binary="$cache/bin/ferretdb-$FERRETDB_VERSION-$FERRETDB_BUILD"
base_id=$(docker image inspect --format '{{.Id}}' "$base" 2>/dev/null) \
  || { say "base image $base is missing: infra/docker/base-image.sh makes it"; exit 1; }

inputs=$( {
  echo "base $base_id"
  echo "versions FERRETDB_VERSION=$FERRETDB_VERSION FERRETDB_BUILD=$FERRETDB_BUILD POSTGRESQL_MAJOR=$POSTGRESQL_MAJOR"
  sha256sum "$binary" | cut -d' ' -f1
  (cd "$here" && sha256sum Dockerfile entrypoint ferretdb-ready)
} | sha256sum | cut -d' ' -f1)

have=$(docker image inspect --format '{{index .Config.Labels "org.binhchon.inputs"}}' "$tag" 2>/dev/null || true)
no_cache=()
[[ ${BINHCHON_BUILD_NO_CACHE:-} == 1 ]] && no_cache=(--no-cache)
if [[ $have == "$inputs" && ${#no_cache[@]} == 0 ]]; then
  say "$tag is up to date (inputs ${inputs:0:12})"
  report false
  exit 0
fi

context="$cache/image-context/ferretdb"
say "staging the build context in $context"
rm -rf "$context" && mkdir -p "$context"
cp "$here/Dockerfile" "$here/entrypoint" "$here/ferretdb-ready" "$context/"
# a hard link when the cache and the context share a file system: 45 MB not copied
ln -f "$binary" "$context/ferretdb" 2>/dev/null || cp "$binary" "$context/ferretdb"
chmod 0755 "$context/entrypoint" "$context/ferretdb-ready"

say "building $tag on $base (FerretDB $FERRETDB_VERSION-$FERRETDB_BUILD, PostgreSQL $POSTGRESQL_MAJOR from Debian)"
docker build "$context" --tag "$tag" "${no_cache[@]}" \
  --build-arg "BASE_IMAGE=$base" \
  --build-arg "POSTGRESQL_MAJOR=$POSTGRESQL_MAJOR" \
  --build-arg "FERRETDB_VERSION=$FERRETDB_VERSION" \
  --build-arg "FERRETDB_BUILD=$FERRETDB_BUILD" \
  --label "org.binhchon.inputs=$inputs" \
  --label "org.binhchon.ferretdb=$FERRETDB_VERSION-$FERRETDB_BUILD" \
  --label "org.binhchon.postgresql=$POSTGRESQL_MAJOR" >&2
say "built $tag ($(docker image inspect --format '{{.Size}}' "$tag") bytes)"
report true
