#!/usr/bin/env bash
# Kafka's command-line tools on the JVM, from the jars install.sh caches: what kafka-topics.sh and its siblings
# of the Kafka distribution run, without the distribution.
#   infra/local/kafka-tool.sh TOOL [ARGS...]
#   infra/local/kafka-tool.sh kafka-topics --bootstrap-server 127.0.0.1:9092 --list
# TOOL is a distribution script's name, with or without .sh: kafka-topics, kafka-console-consumer,
# kafka-console-producer, kafka-consumer-groups, kafka-get-offsets, kafka-configs, kafka-broker-api-versions,
# kafka-metadata-quorum. KAFKA_HEAP_OPTS and KAFKA_OPTS are honoured as by Kafka's own launcher.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=versions.env
source "$here/versions.env"
cache=${BINHCHON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/binhchon}
usage="usage: $0 TOOL [ARGS...] (kafka-topics, kafka-console-consumer, kafka-console-producer, kafka-consumer-groups, kafka-get-offsets, kafka-configs, kafka-broker-api-versions, kafka-metadata-quorum)"
tool=${1:?$usage}; shift
case "${tool%.sh}" in
  kafka-topics) class=org.apache.kafka.tools.TopicCommand ;;
  kafka-console-consumer) class=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  kafka-console-producer) class=org.apache.kafka.tools.ConsoleProducer ;;
  kafka-consumer-groups) class=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  kafka-get-offsets) class=org.apache.kafka.tools.GetOffsetShell ;;
  kafka-configs) class=kafka.admin.ConfigCommand ;;
  kafka-broker-api-versions) class=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
  kafka-metadata-quorum) class=org.apache.kafka.tools.MetadataQuorumCommand ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
libs=$cache/kafka-$KAFKA_VERSION/libs
tools_jar=$cache/kafka-tools-$KAFKA_VERSION/kafka-tools-$KAFKA_VERSION.jar
if [[ ! -f $cache/kafka-$KAFKA_VERSION/.complete || ! -f $tools_jar ]]; then
  "$here/install.sh" kafka >&2 && "$here/install.sh" kafka-tools >&2
fi
# a short-lived client: a small heap, the serial GC, the C1 compiler only (Kafka's launcher defaults are a broker's)
# shellcheck disable=SC2086  # option strings, split into words as Kafka's launcher does
exec java -Xlog:disable -Xlog:all=warning:stderr ${KAFKA_HEAP_OPTS:--Xmx256m} \
  -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
  "-Dlog4j2.configurationFile=$here/tools-log4j2.properties" ${KAFKA_OPTS:-} \
  -cp "$libs/*:$tools_jar" "$class" "$@"
