# Shared by infra/images/*/build.sh: build an image only when its inputs changed, and say what it cost.
#   source "$here/../lib.sh"; build_image TAG CONTEXT_DIR [docker build arguments...]
# The inputs are every file of the context, the build arguments and the id of every image a `*_IMAGE=` argument
# names (a rebuilt base rebuilds what stands on it); their sha256 is kept in the image's label
# org.binhchon.inputs, so a second run with nothing changed builds nothing (idempotent, cheap in CI).
# BINHCHON_BUILD_NO_CACHE=1 builds anew without the layer cache (to time a cold build). The last line on stdout
# is one JSON object: {"image", "built", "seconds", "bytes"} (infra/images/build.sh collects them).

images_cache=${BINHCHON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/binhchon}

# IMAGE_INPUTS: the paths (relative to the context) the Dockerfile copies, when the context holds more (the
# services are built from the repository root); the whole context otherwise. Caches and bytecode never count.
inputs_digest() {  # CONTEXT_DIR ARGS... -> sha256 of the files (names and contents) and the arguments
  local dir=$1; shift
  local -a paths
  read -r -a paths <<< "${IMAGE_INPUTS:-.}"
  { (cd "$dir" && find "${paths[@]}" -type f -not -path '*/__pycache__/*' -not -name '*.pyc' \
       -not -path '*/.*_cache/*' -not -path '*/.venv/*' -printf '%p %m\0' | LC_ALL=C sort -z \
       | while IFS= read -r -d '' entry; do echo "$entry $(sha256sum < "${entry% *}" | cut -c1-64)"; done)
    printf '%s\n' "$@"
    local arg
    for arg in "$@"; do
      if [[ $arg =~ ^[A-Z_]*_IMAGE=(.+)$ ]]; then
        docker image inspect --format '{{.Id}}' "${BASH_REMATCH[1]}" 2>/dev/null || echo "absent ${BASH_REMATCH[1]}"
      fi
    done; } | sha256sum | cut -c1-64
}

build_image() {
  local tag=$1 dir=$2; shift 2
  local digest start built=false
  digest=$(inputs_digest "$dir" "$@")
  start=$(date +%s%3N)
  local -a no_cache=()
  [[ ${BINHCHON_BUILD_NO_CACHE:-} == 1 ]] && no_cache=(--no-cache)
  if [[ ${#no_cache[@]} == 0 && $(docker image inspect "$tag" --format '{{ index .Config.Labels "org.binhchon.inputs" }}' 2>/dev/null) == "$digest" ]]; then
    echo "[images] $tag is up to date" >&2
  else
    echo "[images] building $tag" >&2
    local log="$images_cache/image-build-${tag//[\/:]/_}.log"
    if ! DOCKER_BUILDKIT=1 docker build "${no_cache[@]}" --label "org.binhchon.inputs=$digest" -t "$tag" "$@" "$dir" > "$log" 2>&1; then
      echo "[images] building $tag failed; the end of $log:" >&2; tail -30 "$log" >&2; return 1
    fi
    built=true
  fi
  local ms=$(( $(date +%s%3N) - start ))
  printf '{"image": "%s", "built": %s, "seconds": %d.%01d, "bytes": %s}\n' "$tag" "$built" \
    $((ms / 1000)) $((ms % 1000 / 100)) "$(docker image inspect "$tag" --format '{{.Size}}')"
}
