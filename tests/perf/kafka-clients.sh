#!/usr/bin/env bash
# The Kafka listener under Confluent.Kafka (librdkafka) load beside our SDK's CLI perf, 100-byte records, in one run:
#  1. one silo: acks=1 produce to an RF 1 topic of 6 partitions, ABBA (SDK, Confluent, Confluent, SDK), then consume it:
#     SDK, Confluent with librdkafka's defaults, Confluent with CONSUMER_PROPS, the same back (ABBA around the middle);
#  2. three silos: acks=all to an RF 3 topic of 3 partitions (min.insync.replicas=2), ABBA the same way;
#  3. 1,000 idle Kafka connections (ApiVersions each) against the single silo: its resident memory before and after.
#   tests/perf/kafka-clients.sh          (RECORDS=2000000 ACKS_ALL_RECORDS=1000000 IDLE=1000 KAFKA_PORT=9092 PORT_OFFSET=0 by default)
# CONSUMER_PROPS: the Confluent consumer's throughput settings, librdkafka/Confluent.Kafka KEY=VALUE words (below).
set -euo pipefail
records=${RECORDS:-2000000}; all_records=${ACKS_ALL_RECORDS:-1000000}; idle=${IDLE:-1000}
consumer_props=${CONSUMER_PROPS:-queued.min.messages=1000000 fetch.queue.backoff.ms=10 max.partition.fetch.bytes=4194304 dotnet.consumer.consume.result.fields=none}
export KAFKA_PORT=${KAFKA_PORT:-9092}
kafka=$((KAFKA_PORT + ${PORT_OFFSET:-0}))   # cluster.sh's PORT_OFFSET moves every port, the Kafka listeners' too
one=127.0.0.1:$kafka; three=127.0.0.1:$kafka,127.0.0.1:$((kafka + 1)),127.0.0.1:$((kafka + 2))
. tests/perf/kafka-perf.sh
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

SILOS=1 start_cluster "$work/one"
cli topics create --topic one --partitions 6 --replication-factor 1 > /dev/null
cli topics create --topic sdk --partitions 6 --replication-factor 1 > /dev/null
kperf produce "$one" one 300000 100 1 > /dev/null    # warm-up
cli perf produce --topic sdk --num-records 300000 --record-size 100 --acks 1 > /dev/null
for who in sdk confluent confluent sdk; do
  if [ $who = sdk ]; then echo "sdk acks=1: $(cli perf produce --topic sdk --num-records "$records" --record-size 100 --acks 1 | tail -1)"
  else echo "confluent acks=1: $(kperf produce "$one" one "$records" 100 1)"; fi
done
total=$((records * 2 + 300000))
echo "confluent consumer throughput settings: $consumer_props"
for who in sdk defaults tuned tuned defaults sdk; do
  case $who in
    sdk) echo "sdk consume: $(cli perf consume --topic sdk --messages "$total" | tail -1)" ;;
    defaults) echo "confluent consume, defaults: $(kperf consume "$one" one "$total")" ;;
    # shellcheck disable=SC2086 # CONSUMER_PROPS holds several K=V words
    tuned) echo "confluent consume, throughput settings: $(kperf consume "$one" one "$total" $consumer_props)" ;;
  esac
done
echo "idle: $(kperf idle 127.0.0.1 "$kafka" "$idle" "$(jobs -p | head -1)")"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
stop_cluster

start_cluster "$work/three"
cli topics create --topic rep --partitions 3 --replication-factor 3 --config min.insync.replicas=2 > /dev/null
cli topics create --topic sdkrep --partitions 3 --replication-factor 3 --config min.insync.replicas=2 > /dev/null
kperf produce "$three" rep 200000 100 all > /dev/null   # warm-up
cli perf produce --topic sdkrep --num-records 200000 --record-size 100 --acks all > /dev/null
for who in sdk confluent confluent sdk; do
  if [ $who = sdk ]; then echo "sdk acks=all: $(cli perf produce --topic sdkrep --num-records "$all_records" --record-size 100 --acks all | tail -1)"
  else echo "confluent acks=all: $(kperf produce "$three" rep "$all_records" 100 all)"; fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
