#!/usr/bin/env bash
# The Python 3.11 base image from Debian's packages (the stand-in for python:3.11-slim): build.sh [TAG]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
build_image "${1:-binhchon/python:3.11}" "$here" --build-arg "BASE_IMAGE=${BINHCHON_BASE_IMAGE:-binhchon/debian:bookworm}"
