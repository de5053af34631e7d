#!/usr/bin/env bash
# Builds the Kafka image from the jars infra/local/install.sh caches (Maven Central) and Debian's JRE: no image
# registry is asked for anything. The context is staged under ~/.cache/binhchon/image-context/kafka; lib.sh
# labels the image with a digest of that context and of the base image, and keeps an image of the tag with the
# same label as it is (nothing is built).
#   infra/images/kafka/build.sh [TAG]      default binhchon/kafka:$KAFKA_VERSION (infra/local/versions.env)
#   BINHCHON_BASE_IMAGE                     default binhchon/debian:bookworm (infra/docker/base-image.sh)
#   BINHCHON_BUILD_NO_CACHE=1               rebuild every layer (to time a cold build; apt's downloads stay)
# Progress goes to stderr; the last line on stdout is {"image", "built", "seconds", "bytes"}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../../local/versions.env
source "$repo/infra/local/versions.env"
source "$here/../lib.sh"
tag=${1:-binhchon/kafka:$KAFKA_VERSION}
base=${BINHCHON_BASE_IMAGE:-binhchon/debian:bookworm}
cache=$images_cache
context=$cache/image-context/kafka
say() { echo "[kafka-image] $*" >&2; }
mkdir -p "$cache/image-context"
# two builds at once (make images twice) would stage into one directory: the second waits
exec 9> "$cache/image-context/.kafka.lock"; flock 9

docker image inspect "$base" >/dev/null 2>&1 \
  || { say "base image $base is missing: infra/docker/base-image.sh builds it"; exit 1; }

# The broker's jars and the command-line tools (kafka-tools: the health check's kafka-broker-api-versions.sh,
# kafka-topics.sh, the console producer and consumer), shared with the native stack.
"$repo/infra/local/install.sh" kafka >&2
"$repo/infra/local/install.sh" kafka-tools >&2
broker_libs=$cache/kafka-$KAFKA_VERSION/libs
tools_jar=$cache/kafka-tools-$KAFKA_VERSION/kafka-tools-$KAFKA_VERSION.jar

say "staging the build context in $context"
rm -rf "$context.tmp" && mkdir -p "$context.tmp/libs"
cp "$broker_libs"/*.jar "$tools_jar" "$context.tmp/libs/"
cp -r "$here/Dockerfile" "$here/run" "$here/cds.sh" "$here/bin" "$here/config" "$context.tmp/"
rm -rf "$context" && mv "$context.tmp" "$context"

build_image "$tag" "$context" --progress=plain \
  --build-arg "BASE_IMAGE=$base" --build-arg "KAFKA_VERSION=$KAFKA_VERSION"
