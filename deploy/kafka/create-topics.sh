#!/bin/sh
# Create the topics listed in topics.txt (beside this script) on the broker at $KAFKA_BOOTSTRAP.
# Idempotent (--if-not-exists), so the kafka-init one-shot can run on every `docker compose up`.
# POSIX sh: the apache/kafka image is Alpine-based.
set -eu

bootstrap="${KAFKA_BOOTSTRAP:-kafka:9092}"
topics_file="${TOPICS_FILE:-$(dirname "$0")/topics.txt}"
kafka_topics="${KAFKA_TOPICS_BIN:-/opt/kafka/bin/kafka-topics.sh}"

# Comments and blank lines are skipped; the rest is "<topic> <partitions> [key=value ...]".
grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$topics_file" |
while read -r topic partitions configs; do
    set -- --bootstrap-server "$bootstrap" --create --if-not-exists \
        --topic "$topic" --partitions "$partitions" --replication-factor "${REPLICATION_FACTOR:-1}"
    for config in $configs; do
        set -- "$@" --config "$config"
    done
    echo "kafka-init: $topic ($partitions partitions${configs:+, $configs})"
    # </dev/null: the JVM must not read the rest of the topic list from this loop's stdin.
    "$kafka_topics" "$@" </dev/null
done

echo "kafka-init: topics now on $bootstrap:"
"$kafka_topics" --bootstrap-server "$bootstrap" --list
