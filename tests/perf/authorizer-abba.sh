#!/usr/bin/env bash
# The authorizer's cost on the Kafka listener's hot paths: one silo, Confluent.Kafka (kafka-perf) produce acks=1 of
# RECORDS 100-byte records to a topic of 6 partitions, then a consume of them with throughput settings, with the
# authorizer off and on, in the order off on on off, ROUNDS times, a fresh silo each run. "on" is
# OrleansStream:Authorizer:Enabled with AllowEveryoneIfNoAclFound, so the PLAINTEXT client (User:ANONYMOUS) goes
# through every check of each request (the topic's literal bindings, the wildcard's, the prefixed ones) and is allowed.
#   tests/perf/authorizer-abba.sh          (RECORDS=2000000 ROUNDS=1 KAFKA_PORT=19092 PORT_OFFSET=0 by default)
set -euo pipefail
records=${RECORDS:-2000000}; rounds=${ROUNDS:-1}
export KAFKA_PORT=${KAFKA_PORT:-19092}
one=127.0.0.1:$((KAFKA_PORT + ${PORT_OFFSET:-0}))
. tests/perf/kafka-perf.sh
results=$(mktemp)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq 1 "$rounds"); do
  for mode in off on on off; do
    env=""; [ $mode = on ] && env="OrleansStream__Authorizer__Enabled=true OrleansStream__Authorizer__AllowEveryoneIfNoAclFound=true"
    SILOS=1 SILO_ENV="$env" start_cluster "$work/$mode"
    cli topics create --topic one --partitions 6 --replication-factor 1 > /dev/null
    kperf produce "$one" one 300000 100 1 > /dev/null    # warm-up
    echo "$mode produce: $(kperf produce "$one" one "$records" 100 1)" | tee -a "$results"
    echo "$mode consume: $(kperf consume "$one" one $((records + 300000)) queued.min.messages=1000000 fetch.queue.backoff.ms=10 max.partition.fetch.bytes=4194304 dotnet.consumer.consume.result.fields=none)" | tee -a "$results"
    stop_cluster
    rm -rf "${work:?}/$mode"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\w+) (produce|consume): \d+ records \w+, ([\d.]+) records/sec', line)
    if m: rows.setdefault((m.group(2), m.group(1)), []).append(float(m.group(3)))
for (what, mode), v in sorted(rows.items()):
    print(f"{what} authorizer {mode}: {[int(x) for x in v]} median {int(statistics.median(v))} records/s")
PY
rm -f "$results"
