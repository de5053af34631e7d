#!/usr/bin/env bash
# The alert rules checked and unit-tested with promtool: `promtool check rules`, `promtool test rules` (each
# alert fires on a synthetic series), and the example configuration that loads them.
#   infra/prometheus/check.sh          (make alerts-check; .ci/run)
#   infra/prometheus/check.sh --path   prints the promtool it uses (fetched first if missing), nothing else
# promtool is the one on PATH, else the one unpacked from Debian's `prometheus` package into the cache: fetched
# with `apt-get download` and unpacked with `dpkg-deb -x` (no root, no Prometheus server installed or started).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${BINHCHON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/binhchon}/prometheus

promtool_path() {
  if command -v promtool >/dev/null; then command -v promtool; return; fi
  if [ ! -x "$cache/usr/bin/promtool" ]; then
    echo "[alerts] fetching promtool: Debian's prometheus package, unpacked into $cache" >&2
    local work
    work=$(mktemp -d)
    (cd "$work" && { apt-get download prometheus >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 || true; apt-get download prometheus >/dev/null; }; })
    mkdir -p "$cache"
    dpkg-deb -x "$work"/prometheus_*.deb "$cache"
    rm -rf "$work"
  fi
  echo "$cache/usr/bin/promtool"
}

promtool=$(promtool_path)
if [ "${1:-}" = --path ]; then echo "$promtool"; exit 0; fi
cd "$here"
"$promtool" check rules alerts.yml
"$promtool" test rules alerts.test.yml
"$promtool" check config prometheus.yml
