#!/usr/bin/env bash
# Runs a single-node Apache Kafka broker in KRaft mode on the JVM, from the jars install.sh cached.
#   infra/local/kafka.sh start DIR PORT [CONTROLLER_PORT]   format storage once, start, wait until ready
#   infra/local/kafka.sh stop DIR                            stop; data in DIR/data is kept
#   infra/local/kafka.sh status DIR
# BINHCHON_KAFKA_CREDENTIALS=CREDS (a directory of NAME.password files, binhchon_kit.principals writes them): clients
# must authenticate with SASL/SCRAM-SHA-512 as one of those NAMEs (each file a SCRAM user, created when the storage
# is formatted, or added on a later start) and the ACLs decide what each may do; admin is the super user. Unset: one
# PLAINTEXT listener and no authorizer, a developer's broker as before (docs/adr/0031). With CREDS/broker.pem and
# CREDS/ca.crt there (binhchon_kit.broker_tls writes them beside the passwords) the client listener is SASL_SSL: the
# broker presents broker.pem (a PEM keystore) and trusts ca.crt for its own inter-broker connection (docs/adr/0055).
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
  creds=${BINHCHON_KAFKA_CREDENTIALS:-}
  if [[ -n $creds ]]; then
    [[ -f $creds/admin.password ]] || { say "no admin.password in $creds"; exit 1; }
    # the controller listener authenticates the broker to the controller: SCRAM cannot (its users live in the
    # metadata the controller serves), so a static PLAIN user known to this file only, never a client's
    [[ -f $dir/controller.password ]] || (umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > "$dir/controller.password")
    controller_password=$(cat "$dir/controller.password")
    admin_password=$(cat "$creds/admin.password")
    client_protocol=SASL_PLAINTEXT tls=""
    if [[ -f $creds/broker.pem && -f $creds/ca.crt ]]; then
      client_protocol=SASL_SSL
      tls="
ssl.keystore.type=PEM
ssl.keystore.location=$creds/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$creds/ca.crt
ssl.endpoint.identification.algorithm=https
ssl.client.auth=none"
    fi
    security="listeners=BROKER://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=BROKER://127.0.0.1:$port
inter.broker.listener.name=BROKER
listener.security.protocol.map=BROKER:$client_protocol,CONTROLLER:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.broker.sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.broker.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$admin_password\";
listener.name.controller.sasl.enabled.mechanisms=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"controller\" password=\"$controller_password\" user_controller=\"$controller_password\";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:controller$tls"
  else
    security="listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  fi
  # the passwords above are in it: readable by this user only
  (umask 077; cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
controller.listener.names=CONTROLLER
$security
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
  )
  cp=("$home/libs/*")
  java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
             "-Dlog4j2.configurationFile=$here/log4j2.properties" "-Dkafka.logs.dir=$dir")
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    say "formatting storage in $dir/data (KRaft, once)"
    cluster_id=$(java -cp "${cp[*]}" "${java_opts[@]}" kafka.tools.StorageTool random-uuid)
    scram=()
    if [[ -n $creds ]]; then
      for file in "$creds"/*.password; do
        name=$(basename "$file" .password)
        scram+=(--add-scram "SCRAM-SHA-512=[name=$name,password=$(cat "$file")]")
      done
    fi
    java -cp "${cp[*]}" "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$dir/server.properties" --ignore-formatted "${scram[@]}" >> "$dir/kafka.out" 2>&1
    [[ -n $creds ]] && touch "$dir/data/.scram"
  elif [[ -n $creds && ! -f $dir/data/.scram ]]; then
    say "$dir/data was formatted without SCRAM users: no client could sign in. Remove it (make clean) to start afresh"
    exit 1
  fi
  say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$port (controller $cport), logs in $dir/server.log"
  echo "$port" > "$dir/port"
  nohup java -cp "${cp[*]}" "${java_opts[@]}" kafka.Kafka "$dir/server.properties" >> "$dir/kafka.out" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  for _ in $(seq 1 240); do
    if grep -q "Kafka Server started" "$dir/server.log" 2>/dev/null; then say "ready"; exit 0; fi
    running || { say "exited during start-up; last lines of $dir/kafka.out and server.log:"; tail -n 20 "$dir/kafka.out" "$dir/server.log" >&2; exit 1; }
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
