#!/usr/bin/env bash
# Installs Apache Kafka and its command-line tools (from Maven Central, run on the JVM) and FerretDB (built from
# the Go module proxy) into ~/.cache/binhchon, and PostgreSQL (FerretDB's storage) from Debian's packages when
# missing and root. Idempotent: a warm cache downloads, installs and builds nothing.
#   infra/local/install.sh [kafka|kafka-tools|postgresql|ferretdb|fonts|all]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${BINHCHON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/binhchon}
say() { echo "[infra] $*" >&2; }

install_kafka() {
  local dest="$cache/kafka-$KAFKA_VERSION"
  if [[ -f "$dest/.complete" ]]; then say "kafka $KAFKA_VERSION: cached in $dest"; return; fi
  command -v java >/dev/null || { say "java (17+) is needed to run Kafka: apt-get install openjdk-17-jre-headless"; exit 1; }
  command -v mvn >/dev/null || { say "maven is needed to resolve Kafka from Maven Central: apt-get install maven"; exit 1; }
  say "kafka $KAFKA_VERSION: resolving org.apache.kafka:kafka_2.13 and its runtime dependencies from Maven Central"
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp/libs"
  mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$dest.tmp/libs"
  rm -rf "$dest" && mv "$dest.tmp" "$dest" && touch "$dest/.complete"
  say "kafka $KAFKA_VERSION: installed in $dest ($(ls "$dest/libs" | wc -l) jars)"
}

install_kafka_tools() {
  # The console consumer and producer, kafka-topics, kafka-consumer-groups... are in kafka-tools, which the broker
  # does not depend on; the broker's jars cover its dependencies but Kafka Connect's (for the connect tools
  # alone). infra/local/kafka-tool.sh runs them; infra/images/kafka/build.sh copies the same jar into the image.
  local dest="$cache/kafka-tools-$KAFKA_VERSION"
  if [[ -f "$dest/kafka-tools-$KAFKA_VERSION.jar" ]]; then say "kafka-tools $KAFKA_VERSION: cached in $dest"; return; fi
  command -v mvn >/dev/null || { say "maven is needed to resolve kafka-tools from Maven Central: apt-get install maven"; exit 1; }
  say "kafka-tools $KAFKA_VERSION: downloading org.apache.kafka:kafka-tools from Maven Central"
  rm -rf "$dest.tmp"
  mvn -q -B dependency:copy "-Dartifact=org.apache.kafka:kafka-tools:$KAFKA_VERSION" "-DoutputDirectory=$dest.tmp" >&2
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  say "kafka-tools $KAFKA_VERSION: installed in $dest"
}

install_postgresql() {
  local bindir=/usr/lib/postgresql/$POSTGRESQL_MAJOR/bin
  if [[ -x "$bindir/postgres" && -x "$bindir/initdb" ]]; then say "postgresql $POSTGRESQL_MAJOR: $bindir"; return; fi
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    # the server binaries only: postgres.sh runs a cluster of its own, the package's default one is not used
    say "postgresql $POSTGRESQL_MAJOR: installing postgresql-$POSTGRESQL_MAJOR from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "postgresql-$POSTGRESQL_MAJOR" >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "postgresql-$POSTGRESQL_MAJOR" >/dev/null; }
    [[ -x "$bindir/postgres" ]] || { say "postgresql-$POSTGRESQL_MAJOR installed no $bindir/postgres"; exit 1; }
  else
    say "PostgreSQL $POSTGRESQL_MAJOR is needed (FerretDB's storage): apt-get install postgresql-$POSTGRESQL_MAJOR" \
      "(Debian 12's postgresql), or set BINHCHON_PG_BINDIR to its bin directory"
    exit 1
  fi
}

install_ferretdb() {
  local bin="$cache/bin/ferretdb-$FERRETDB_VERSION-$FERRETDB_BUILD"
  if [[ -x "$bin" ]]; then say "ferretdb $FERRETDB_VERSION: cached at $bin"; return; fi
  command -v go >/dev/null || { say "go is needed to build FerretDB: https://go.dev/doc/install"; exit 1; }
  mkdir -p "$cache/bin" "$cache/src"
  # two installs at once (two test sessions on a fresh machine): one builds, the other waits and finds it
  exec 9> "$cache/.ferretdb.lock"; flock 9
  if [[ -x "$bin" ]]; then say "ferretdb $FERRETDB_VERSION: cached at $bin"; return; fi
  say "ferretdb $FERRETDB_VERSION: downloading github.com/FerretDB/FerretDB@v$FERRETDB_VERSION from the Go module proxy"
  # `go install …@version` would do, except that the module zip lacks build/version/version.txt and the
  # binary then panics at start-up; so build from a copy of the module with that file written.
  local dir src="$cache/src/ferretdb-$FERRETDB_VERSION-$FERRETDB_BUILD"
  dir=$(go mod download -json "github.com/FerretDB/FerretDB@v$FERRETDB_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  echo "v$FERRETDB_VERSION" > "$src/build/version/version.txt"
  # its PostgreSQL backend looks up `_id` with @>, which its own _id index cannot serve (docs/adr/0012), and
  # pushes down no range, no sort and no limit with a filter, so every page read the whole list, and wraps each
  # one-document insert in BEGIN/COMMIT: three round trips to PostgreSQL where one statement is atomic (docs/adr/0016);
  # and tracks every iterator's lifetime (a profile entry and a finalizer each), a leak check for its own tests
  python3 "$here/patch_ferretdb.py" "$src"
  say "ferretdb $FERRETDB_VERSION: building (pure Go, _id lookups, _id lists and keyset pages by index, single inserts and updates in one statement, no lifetime tracking; --handler=postgresql)"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -o "$bin.tmp" ./cmd/ferretdb)
  mv "$bin.tmp" "$bin"
  rm -rf "$src"
  say "ferretdb $FERRETDB_VERSION: installed at $bin"
}

install_fonts() {
  # certificates are PDFs in Vietnamese: DejaVu Sans (Debian's fonts-dejavu-core) has every diacritic
  local font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
  if [[ -f "$font" ]]; then say "fonts: $font present"; return; fi
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "fonts: installing fonts-dejavu-core from Debian"
    apt-get install -y -qq fonts-dejavu-core >/dev/null || { apt-get update -qq && apt-get install -y -qq fonts-dejavu-core >/dev/null; }
  else
    say "fonts: $font is missing; install fonts-dejavu-core (or set CERT_FONT_FILE to a TTF with Vietnamese)"
  fi
}

case "${1:-all}" in
  kafka) install_kafka ;;
  kafka-tools) install_kafka_tools ;;
  postgresql) install_postgresql ;;
  ferretdb) install_ferretdb ;;
  fonts) install_fonts ;;
  all) install_kafka; install_kafka_tools; install_postgresql; install_ferretdb; install_fonts ;;
  *) echo "usage: $0 [kafka|kafka-tools|postgresql|ferretdb|fonts|all]" >&2; exit 2 ;;
esac
