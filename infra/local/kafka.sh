#!/usr/bin/env bash
# Runs a single-node Apache Kafka broker in KRaft mode on the JVM, from the jars install.sh cached.
#   infra/local/kafka.sh start DIR PORT [CONTROLLER_PORT]   format storage once, start, wait until ready
#   infra/local/kafka.sh stop DIR                            stop; data in DIR/data is kept
#   infra/local/kafka.sh status DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
cache=${BINHCHON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/binhchon}
home="$cache/kafka-$KAFKA_VERSION"
say() { echo "[kafka] $*" >&2; }
cmd=${1:?usage: kafka.sh start|stop|status DIR [PORT] [CONTROLLER_PORT]}
dir=${2:?DIR missing}
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
pidfile="$dir/kafka.pid"

running() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$cmd" in
start)
  port=${3:?PORT missing}; cport=${4:-$((port + 1))}
  if running; then say "already running (pid $(cat "$pidfile")) on 127.0.0.1:$(cat "$dir/port")"; exit 0; fi
  "$here/install.sh" kafka
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=false
num.partitions=6
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.ms=-1
PROPS
  cp=("$home/libs/*")
  java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
             "-Dlog4j2.configurationFile=$here/log4j2.properties" "-Dkafka.logs.dir=$dir")
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    say "formatting storage in $dir/data (KRaft, once)"
    cluster_id=$(java -cp "${cp[*]}" "${java_opts[@]}" kafka.tools.StorageTool random-uuid)
    java -cp "${cp[*]}" "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$dir/server.properties" --ignore-formatted >> "$dir/kafka.out" 2>&1
  fi
  say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$port (controller $cport), logs in $dir/server.log"
  echo "$port" > "$dir/port"
  nohup java -cp "${cp[*]}" "${java_opts[@]}" kafka.Kafka "$dir/server.properties" >> "$dir/kafka.out" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  for _ in $(seq 1 240); do
    if grep -q "Kafka Server started" "$dir/server.log" 2>/dev/null; then say "ready"; exit 0; fi
    running || { say "exited during start-up; last lines of $dir/kafka.out and server.log:"; tail -20 "$dir/kafka.out" "$dir/server.log" >&2; exit 1; }
    sleep 0.5
  done
  say "not ready after 120 s; see $dir/server.log"; exit 1 ;;
stop)
  if running; then
    pid=$(cat "$pidfile"); say "stopping pid $pid"; kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  # the next start waits for a fresh "started" line
  [[ -f "$dir/server.log" ]] && mv "$dir/server.log" "$dir/server.log.prev" || true ;;
status)
  if running; then echo "kafka: running (pid $(cat "$pidfile")) on 127.0.0.1:$(cat "$dir/port")"; else echo "kafka: stopped"; exit 3; fi ;;
*) echo "usage: kafka.sh start|stop|status DIR [PORT] [CONTROLLER_PORT]" >&2; exit 2 ;;
esac
