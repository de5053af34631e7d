#!/usr/bin/env bash
# kafka-console-consumer.sh as in the Kafka 4.1 distribution: the class it runs, from /opt/kafka/libs
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
