#!/usr/bin/env bash
# The browser the portal's tests drive (Playwright pointed at it; it cannot download its own here): Debian's
# chromium, installed when /usr/bin/chromium is missing. Idempotent; fails (never skips) when it cannot install.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
echo "[chromium] installing Debian's chromium for the browser tests" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
[[ -x /usr/bin/chromium ]] || { echo "[chromium] /usr/bin/chromium is still missing" >&2; exit 1; }
