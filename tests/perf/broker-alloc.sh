#!/usr/bin/env bash
# The broker's allocations and garbage collections under a steady produce load through one silo, then under a consumer
# reading it all back: allocated bytes per produced and per fetched batch, gen0/1/2 collections and GC pause time.
# dotnet-counters (the repository's tool manifest) reads the silo's System.Runtime meter (dotnet.gc.heap.total_allocated,
# dotnet.gc.collections, dotnet.gc.pause.time) and the broker's own (orleansstream.produce.batches and .requests,
# orleansstream.fetch.batches and .requests) once a second; only the seconds in which the broker served batches are
# summed, and divided by the batches and by the requests (a request carries one or more of a partition's batches).
#   tests/perf/broker-alloc.sh                          # 10, 100 and 1000 records per batch, 20,000 records/s, 60 s each
#   RECORDS_PER_BATCH="100" SECONDS_PER_RUN=30 tests/perf/broker-alloc.sh
#   CLIENT=kafka KAFKA_PORT=19092 tests/perf/broker-alloc.sh   # Confluent.Kafka through the silo's Kafka listener
# RATE: records/s; ACKS: the producer's acks (default 1); SILO_ENV, PORT_OFFSET: as cluster.sh.
# CLIENT=sdk (default): `perf produce`; a batch of N 100-byte records is N * 110 + 61 bytes, so batch.size holds N of
# them and linger.ms=1000 lets it fill; the SDK may send several of a partition's batches in one request.
# CLIENT=kafka: tests/OrleansStream.KafkaPerf (librdkafka) with batch.num.messages=N linger.ms=1000, one batch per
# partition and request as in Kafka; the listener calls the partition's grain on its own silo.
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet tool restore > /dev/null
export SILOS=1
client=${CLIENT:-sdk}
if [ "$client" = kafka ]; then
  export KAFKA_PORT=${KAFKA_PORT:-19092}
  bootstrap=127.0.0.1:$((KAFKA_PORT + ${PORT_OFFSET:-0}))
  # shellcheck source=tests/perf/kafka-perf.sh
  . tests/perf/kafka-perf.sh
else
  # shellcheck source=tests/perf/cluster.sh
  . tests/perf/cluster.sh
  work=$(mktemp -d)
  trap 'stop_cluster; rm -rf "$work"' EXIT
fi
start_cluster "$work"
pid=$(silo_pid 0)
rate=${RATE:-20000}; seconds=${SECONDS_PER_RUN:-60}

# $1: output csv, $2: seconds to collect for (longer than the command takes); the rest: the command to measure.
measure() {
  local csv=$1 duration=$2; shift 2
  dotnet dotnet-counters collect -p "$pid" --counters System.Runtime,OrleansStream --refresh-interval 1 --format csv -o "$csv" \
    --duration "00:00:$(printf %02d $((duration / 60))):$(printf %02d $((duration % 60)))" > /dev/null &
  counters=$!
  sleep 2
  "$@"
  wait "$counters" || true
  counters=""
}

summarize() { # $1: csv, $2: what (produce|fetch), $3: label
  python3 - "$@" <<'PY'
import csv, collections, sys
path, what, label = sys.argv[1:4]
seconds = collections.defaultdict(collections.Counter)
for row in csv.reader(open(path)):
    if len(row) < 5 or row[3] != 'Rate': continue
    name = row[2].split(' (')[0]
    tags = row[2].split(')', 1)[1] if ')[' in row[2] else ''
    key = name + tags if name == 'dotnet.gc.collections' else name
    if name.startswith('orleansstream.fetch.') and 'fetcher=consumer' not in tags: key = 'follower.' + name
    seconds[row[0]][key] += float(row[4])
batches_key = f'orleansstream.{what}.batches'
requests_key = f'orleansstream.{what}.requests'
busy = [s for s in seconds.values() if s[batches_key] > 0]
idle = [s for s in seconds.values() if s[batches_key] == 0 and s['orleansstream.produce.batches'] == 0 and s['orleansstream.fetch.batches'] == 0]
if len(busy) > 4: busy = busy[1:-1]  # the first and last second are partly idle
total = sum((s for s in busy), collections.Counter())
n = max(total[batches_key], 1)
requests = max(total[requests_key], 1)
records_key = f'orleansstream.{what}.records'
bytes_key = f'orleansstream.{what}.bytes'
idle_rate = sum(s['dotnet.gc.heap.total_allocated'] for s in idle) / max(len(idle), 1)
gen = lambda g: int(total[f'dotnet.gc.collections[gc.heap.generation={g}]'])
pauses = [s['dotnet.gc.pause.time'] for s in busy]
print(f"{label}: {len(busy)} s, {int(total[batches_key])} batches ({total[records_key] / n:.0f} records, "
      f"{total[bytes_key] / n:,.0f} B each), {total['dotnet.gc.heap.total_allocated'] / n:,.0f} B allocated per batch "
      f"({(total['dotnet.gc.heap.total_allocated'] - idle_rate * len(busy)) / n:,.0f} B less the idle silo's {idle_rate:,.0f} B/s); "
      f"{int(total[requests_key])} requests ({n / requests:.2f} batches each), {total['dotnet.gc.heap.total_allocated'] / requests:,.0f} B "
      f"per request ({(total['dotnet.gc.heap.total_allocated'] - idle_rate * len(busy)) / requests:,.0f} B less the idle silo's); "
      f"GCs gen0 {gen('gen0')} gen1 {gen('gen1')} gen2 {gen('gen2')}, pause {sum(pauses) * 1000:.1f} ms in all, "
      f"at most {max(pauses, default=0) * 1000:.1f} ms in one second")
PY
}

produce() { # $1: topic, $2: records per batch, $3: records
  if [ "$client" = kafka ]; then
    kperf produce "$bootstrap" "$1" "$3" 100 "${ACKS:-1}" "batch.num.messages=$2" linger.ms=1000 "throughput=$rate"
  else
    cli perf produce --topic "$1" --num-records "$3" --record-size 100 --acks "${ACKS:-1}" --throughput "$rate" \
      --producer-props "batch.size=$(($2 * 110 + 61))" linger.ms=1000
  fi
}

consume() { # $1: topic, $2: records
  if [ "$client" = kafka ]; then kperf consume "$bootstrap" "$1" "$2"; else cli perf consume --topic "$1" --messages "$2"; fi
}

for n in ${RECORDS_PER_BATCH:-10 100 1000}; do
  topic="alloc$n"
  cli topics create --topic "$topic" --partitions 1 --replication-factor 1 > /dev/null
  produce "$topic" "$n" $((rate * 10)) > /dev/null   # warm-up: the silo compiles its hot path
  echo "== $client, $n records per batch, $rate records/s for $seconds s (load $(cut -d' ' -f1 /proc/loadavg))"
  measure "$work/produce$n.csv" $((seconds + 6)) produce "$topic" "$n" $((rate * seconds)) | tail -1
  summarize "$work/produce$n.csv" produce "produce, $n records per batch"
  measure "$work/fetch$n.csv" 20 consume "$topic" $((rate * (seconds + 10))) | tail -1
  summarize "$work/fetch$n.csv" fetch "fetch of the same, $n records per batch"
done
