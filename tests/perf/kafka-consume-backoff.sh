#!/usr/bin/env bash
# What bounds Confluent.Kafka's consume rate at librdkafka's defaults: one silo, 6 partitions (RF 1), 100-byte records
# produced once by kafka-perf, then the same Confluent consumer (kafka-perf consume, whole topic from the beginning)
# with librdkafka's defaults and with one setting of its local queue changed at a time, in ABBA order, and once more
# at the defaults with debug=fetch, counting the fetches librdkafka held back because its queue was full.
#   tests/perf/kafka-consume-backoff.sh        (RECORDS=2000000 KAFKA_PORT=19092 PORT_OFFSET=0 by default)
set -euo pipefail
records=${RECORDS:-2000000}
export KAFKA_PORT=${KAFKA_PORT:-19092}
bootstrap=127.0.0.1:$((KAFKA_PORT + ${PORT_OFFSET:-0}))
. tests/perf/kafka-perf.sh

SILOS=1 start_cluster "$work/one"
cli topics create --topic one --partitions 6 --replication-factor 1 > /dev/null
kperf produce "$bootstrap" one "$records" 100 1 > /dev/null

# Each setting is a documented librdkafka consumer property; "defaults" sets none.
settings=("defaults" "fetch.queue.backoff.ms=500" "fetch.queue.backoff.ms=250" "queued.min.messages=200000")
run() { # $1: setting
  local props=(statistics.interval.ms=1000)
  [ "$1" != defaults ] && props+=("$1")
  echo "$1: $(kperf consume "$bootstrap" one "$records" "${props[@]}"); load $(cut -d' ' -f1 /proc/loadavg)"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for s in "${settings[@]}"; do run "$s"; done
for ((i = ${#settings[@]} - 1; i >= 0; i--)); do run "${settings[$i]}"; done

# librdkafka logs "... is not fetchable: queued.min.messages exceeded" each time it stops fetching a partition because
# the records it holds for the application reach queued.min.messages, then waits fetch.queue.backoff.ms.
start=$(date +%s.%N)
kperf consume "$bootstrap" one "$records" debug=fetch > "$work/debug.out" 2> "$work/debug.log" || true
echo "defaults with debug=fetch: $(tail -1 "$work/debug.out" | cut -d, -f1-2); $(grep -c 'queued.min.messages exceeded' "$work/debug.log" || true) partition holds for queued.min.messages, $(grep -c 'Fetch backoff for 1000ms' "$work/debug.log" || true) backoffs of 1000 ms, $(grep -cE 'Fetch [0-9]+/[0-9]+/[0-9]+ toppar' "$work/debug.log" || true) fetch requests over $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
