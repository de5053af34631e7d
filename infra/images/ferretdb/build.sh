#!/usr/bin/env bash
# Builds the local MongoDB-protocol server image (FerretDB on PostgreSQL, one container) without any registry:
# the FerretDB binary from infra/local/install.sh, PostgreSQL from Debian's packages, on the Debian base image.
#   infra/images/ferretdb/build.sh [TAG]   default binhchon/ferretdb:$FERRETDB_VERSION-$FERRETDB_BUILD
#   BINHCHON_BASE_IMAGE                     default binhchon/debian:bookworm (infra/docker/base-image.sh)
#   BINHCHON_BUILD_NO_CACHE=1               build anew, without the layer cache (to time a cold build)
# Idempotent (infra/images/lib.sh): the image carries org.binhchon.inputs, a sha256 of everything it is built
# from (these files, the binary, the base image's id, the versions); an image of TAG with the same label is
# kept. Progress on stderr; the last stdout line is {"image": TAG, "built": true|false, "seconds", "bytes"}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=../../local/versions.env
source "$repo/infra/local/versions.env"
source "$here/../lib.sh"
tag=${1:-binhchon/ferretdb:$FERRETDB_VERSION-$FERRETDB_BUILD}
base=${BINHCHON_BASE_IMAGE:-binhchon/debian:bookworm}
say() { echo "[image ferretdb] $*" >&2; }

"$repo/infra/local/install.sh" ferretdb >&2
binary="$images_cache/bin/ferretdb-$FERRETDB_VERSION-$FERRETDB_BUILD"
docker image inspect "$base" >/dev/null 2>&1 || { say "base image $base is missing: infra/docker/base-image.sh makes it"; exit 1; }

context="$images_cache/image-context/ferretdb"
rm -rf "$context" && mkdir -p "$context"
cp "$here/Dockerfile" "$here/entrypoint" "$here/ferretdb-ready" "$here/ferretdb-principals" "$context/"
# The store principals' grants (docs/adr/0039, 0044) from the one place that says them, a placeholder for each
# password: the image fills them in from the mounted password files (ferretdb-principals)
python=${BINHCHON_PYTHON:-$repo/.venv/bin/python}
[[ -x $python ]] || { say "$python is missing: run make bootstrap first"; exit 1; }
"$python" -c 'from binhchon_kit.store_principals import STORE_PRINCIPALS, grants_sql
print(grants_sql({p: f"@@{p}@@" for p in STORE_PRINCIPALS}), end="")' > "$context/principals.sql"
# a hard link when the cache and the context share a file system: 45 MB not copied
ln -f "$binary" "$context/ferretdb" 2>/dev/null || cp "$binary" "$context/ferretdb"
chmod 0755 "$context/entrypoint" "$context/ferretdb-ready" "$context/ferretdb-principals"
build_image "$tag" "$context" \
  --build-arg "BASE_IMAGE=$base" \
  --build-arg "POSTGRESQL_MAJOR=$POSTGRESQL_MAJOR" \
  --build-arg "FERRETDB_VERSION=$FERRETDB_VERSION" \
  --build-arg "FERRETDB_BUILD=$FERRETDB_BUILD" \
  --label "org.binhchon.ferretdb=$FERRETDB_VERSION-$FERRETDB_BUILD" \
  --label "org.binhchon.postgresql=$POSTGRESQL_MAJOR"
