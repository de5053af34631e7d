#!/usr/bin/env bash
# axe-core, the accessibility engine the portal's audit (services/portal/tests/integration/test_accessibility.py)
# injects into each page: the pinned version from the npm registry, through npm itself, into
# ~/.cache/binhchon/axe-core-<version> (never into the repository). Prints the path of axe.min.js.
# Idempotent: a warm cache downloads nothing. Installs Debian's nodejs and npm when npm is missing and root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${BINHCHON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/binhchon}
dest="$cache/axe-core-$AXE_CORE_VERSION"
script="$dest/node_modules/axe-core/axe.min.js"
say() { echo "[axe] $*" >&2; }

if [[ -f "$dest/.complete" && -f "$script" ]]; then
  echo "$script"
  exit 0
fi
if ! command -v npm >/dev/null; then
  [[ $(id -u) -eq 0 ]] || { say "npm is needed to install axe-core: apt-get install nodejs npm"; exit 1; }
  say "installing Debian's nodejs and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >&2
fi
say "axe-core $AXE_CORE_VERSION: installing from the npm registry into $dest"
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
# a lock file naming the tarball and its integrity: npm ci refuses a tarball whose hash differs
cat > "$dest.tmp/package.json" <<JSON
{"name": "binhchon-axe", "private": true, "dependencies": {"axe-core": "$AXE_CORE_VERSION"}}
JSON
cat > "$dest.tmp/package-lock.json" <<JSON
{"name": "binhchon-axe", "lockfileVersion": 3, "requires": true, "packages": {
  "": {"name": "binhchon-axe", "dependencies": {"axe-core": "$AXE_CORE_VERSION"}},
  "node_modules/axe-core": {"version": "$AXE_CORE_VERSION",
    "resolved": "https://registry.npmjs.org/axe-core/-/axe-core-$AXE_CORE_VERSION.tgz",
    "integrity": "$AXE_CORE_INTEGRITY", "license": "MPL-2.0", "engines": {"node": ">=4"}}}}
JSON
(cd "$dest.tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
[[ -f "$dest.tmp/node_modules/axe-core/axe.min.js" ]] || { say "axe.min.js missing after npm ci"; exit 1; }
rm -rf "$dest" && mv "$dest.tmp" "$dest" && touch "$dest/.complete"
say "axe-core $AXE_CORE_VERSION: installed in $dest"
echo "$script"
