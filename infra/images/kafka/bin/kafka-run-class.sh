#!/usr/bin/env bash
# Runs a class from /opt/kafka/libs with the variables of Kafka's own launcher (KAFKA_HEAP_OPTS, KAFKA_OPTS,
# KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG4J_OPTS, ...). The defaults suit a short-lived tool: a health check
# every 10 s on a small machine should cost little, so a small heap, the serial GC and the C1 compiler only.
# The broker's own defaults are set by /etc/kafka/docker/run.
#   kafka-run-class.sh CLASS [ARGS...]
set -euo pipefail
class=${1:?usage: kafka-run-class.sh CLASS [ARGS...]}; shift
heap=${KAFKA_HEAP_OPTS:--Xmx256m}
perf=${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true}
# tools say what went wrong on stderr and nothing else; the broker gets its own configuration file
log4j=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties}
# The classes of the broker and the tools, pre-parsed at build time (cds.sh): a faster start, less CPU. The
# JVM's own warnings go to stderr, so a tool's stdout stays its answer.
jvm=(-Xlog:disable -Xlog:all=warning:stderr)
[[ -f /opt/kafka/kafka.jsa ]] && jvm+=(-XX:SharedArchiveFile=/opt/kafka/kafka.jsa)
# shellcheck disable=SC2086  # option strings, split into words as Kafka's launcher does
exec java "${jvm[@]}" $heap $perf ${KAFKA_GC_LOG_OPTS:-} ${KAFKA_JMX_OPTS:-} $log4j ${KAFKA_OPTS:-} \
  -cp "/opt/kafka/libs/*" "$class" "$@"
