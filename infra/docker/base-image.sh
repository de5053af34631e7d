#!/usr/bin/env bash
# A Debian bookworm base image made from Debian's own packages, for engines that no image registry answers
# (these machines, an air-gapped data centre): debootstrap --variant=minbase into a directory, then
# `docker import`. Idempotent: an existing image of that tag is kept. Usage: base-image.sh [TAG]
set -euo pipefail
tag=${1:-binhchon/debian:bookworm}
cache=${BINHCHON_CACHE:-$HOME/.cache/binhchon}
say() { echo "[base-image] $*" >&2; }
if docker image inspect "$tag" >/dev/null 2>&1; then say "$tag is there"; exit 0; fi
command -v debootstrap >/dev/null || {
  [[ $(id -u) == 0 ]] || { say "debootstrap is missing and installing it needs root"; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root="$cache/debootstrap-bookworm"
rm -rf "$root.tmp"
say "debootstrap --variant=minbase bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root.tmp" "$mirror" > "$cache/debootstrap.log" 2>&1 \
  || { say "debootstrap failed:"; tail -20 "$cache/debootstrap.log" >&2; exit 1; }
rm -rf "$root.tmp/var/cache/apt/archives/"*.deb "$root.tmp/var/lib/apt/lists/"*
say "importing as $tag"
tar -C "$root.tmp" -c . | docker import - "$tag" >/dev/null
rm -rf "$root.tmp"
docker image inspect "$tag" --format '[base-image] {{.RepoTags}} {{.Size}} bytes' >&2
