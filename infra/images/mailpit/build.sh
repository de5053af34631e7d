#!/usr/bin/env bash
# The mail catcher image from mailpit's Go module: infra/images/mailpit/build.sh [TAG]
# The Go module proxy serves github.com/axllent/mailpit; its web UI is built by npm from packages the npm registry
# here does not all serve (rapidoc 12, sass-embedded 1.108), so this build serves SMTP and the HTTP API (what
# the compose round reads) and no web UI. Where a registry answers, axllent/mailpit has both.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../local/versions.env"
source "$here/../lib.sh"
tag=${1:-binhchon/mailpit:v$MAILPIT_VERSION}
bin="$images_cache/bin/mailpit-v$MAILPIT_VERSION"
if [[ ! -x "$bin" ]]; then
  command -v go >/dev/null || { echo "[images] go is needed to build mailpit" >&2; exit 1; }
  echo "[images] mailpit v$MAILPIT_VERSION: building from the Go module" >&2
  src=$(go mod download -json "github.com/axllent/mailpit@v$MAILPIT_VERSION" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  mkdir -p "$(dirname "$bin")"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
     -ldflags "-s -w -X github.com/axllent/mailpit/config.Version=v$MAILPIT_VERSION" -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
fi
context="$images_cache/image-context/mailpit"
rm -rf "$context"; mkdir -p "$context"
cp "$here/Dockerfile" "$context/"; cp "$bin" "$context/mailpit"
build_image "$tag" "$context" --build-arg "BASE_IMAGE=${BINHCHON_BASE_IMAGE:-binhchon/debian:bookworm}"
