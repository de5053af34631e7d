#!/usr/bin/env bash
# The container engine and its CLI plugins, installed the way these machines allow (issue 11):
#   infra/docker/install.sh engine    Debian's docker.io (root only), dockerd started if it does not answer
#   infra/docker/install.sh plugins   docker compose and docker buildx, built from their Go modules (pinned in
#                                     infra/local/versions.env), cached in ~/.cache/binhchon/bin, linked into
#                                     ~/.docker/cli-plugins
#   infra/docker/install.sh all
# Idempotent: what is there is kept. No registry is needed: the plugins come from the Go module proxy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../local/versions.env
source "$here/../local/versions.env"
cache=${BINHCHON_CACHE:-$HOME/.cache/binhchon}
say() { echo "[docker] $*" >&2; }

engine() {
  if docker info >/dev/null 2>&1; then say "engine answers"; return; fi
  if ! command -v dockerd >/dev/null; then
    [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null \
      || { say "no engine, and installing one needs root on Debian (apt-get install docker.io)"; exit 1; }
    say "installing Debian's docker.io"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >> "$cache/docker-apt.log" 2>&1
  fi
  [[ $(id -u) == 0 ]] || { say "dockerd is installed but not running, and starting it needs root"; exit 1; }
  say "starting dockerd (log: $cache/dockerd.log)"
  nohup dockerd >> "$cache/dockerd.log" 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && { say "engine answers"; return; }; sleep 0.5; done
  say "dockerd did not answer within 30 s:"; tail -20 "$cache/dockerd.log" >&2; exit 1
}

# plugin NAME MODULE VERSION PACKAGE VERSION_VARIABLE (stamped with -X, as the projects' own builds do)
plugin() {
  local name=$1 module=$2 version=$3 package=$4 variable=$5
  local bin="$cache/bin/docker-$name-$version" link="$HOME/.docker/cli-plugins/docker-$name"
  if [[ ! -x $bin ]]; then
    command -v go >/dev/null || { say "go is needed to build docker $name"; exit 1; }
    say "docker $name $version: building from $module (a few minutes on 2 cores)"
    local dir
    # `go install` refuses compose's exclude directives: download the module and build inside it
    dir=$(go mod download -json "$module@v$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-X $variable=v$version" -o "$bin.tmp" "$package")
    mv "$bin.tmp" "$bin"
  fi
  mkdir -p "$(dirname "$link")"
  ln -sf "$bin" "$link"
  say "docker $name: $(docker "$name" version 2>/dev/null | head -1)"
}

plugins() {
  mkdir -p "$cache/bin"
  plugin compose github.com/docker/compose/v2 "$COMPOSE_VERSION" ./cmd github.com/docker/compose/v2/internal.Version
  plugin buildx github.com/docker/buildx "$BUILDX_VERSION" ./cmd/buildx github.com/docker/buildx/version.Version
}

mkdir -p "$cache"
case ${1:-all} in
  engine) engine ;;
  plugins) plugins ;;
  all) engine; plugins ;;
  *) echo "usage: $0 engine|plugins|all" >&2; exit 2 ;;
esac
