#!/usr/bin/env bash
# Consume through the Kafka listener against our SDK in one run, 100-byte records, one silo, 6 partitions (RF 1):
# our CLI's `perf consume`, Confluent.Kafka (kafka-perf consume) with librdkafka's defaults and with throughput
# settings, and kcat (librdkafka in C, no .NET), in ABBA order, each reading the whole topic from the beginning.
# Each line gives the rate, the consumer process's CPU time and the silo's CPU time over the run.
#   tests/perf/kafka-consume.sh        (RECORDS=2000000 ROUNDS=1 KAFKA_PORT=19092 PORT_OFFSET=0 by default)
# TUNED: the librdkafka/Confluent.Kafka properties of the tuned runs (KEY=VALUE words).
# GROUP_CONSUMERS=N adds "group" runs: N Confluent.Kafka consumers, each its own process (kafka-perf consume-group),
# subscribed with one group.id and the tuned settings; the line gives the group's total over its whole wall time, first
# record (of any member) to last, and each member's records and CPU time.
# RUNS: the runs of a round, in order (default: sdk defaults tuned kcat kcat tuned defaults sdk, with group after each
# tuned when GROUP_CONSUMERS is set); e.g. RUNS="group group" GROUP_CONSUMERS=2 measures only the group.
set -euo pipefail
TIMEFORMAT="%R %U %S"
records=${RECORDS:-2000000}; rounds=${ROUNDS:-1}
tuned=${TUNED:-queued.min.messages=1000000 fetch.queue.backoff.ms=10 max.partition.fetch.bytes=4194304 dotnet.consumer.consume.result.fields=none}
group_consumers=${GROUP_CONSUMERS:-0}
if [ "$group_consumers" -gt 0 ]; then default_runs="sdk defaults tuned group kcat kcat group tuned defaults sdk"
else default_runs="sdk defaults tuned kcat kcat tuned defaults sdk"; fi
runs=${RUNS:-$default_runs}
export KAFKA_PORT=${KAFKA_PORT:-19092}
bootstrap=127.0.0.1:$((KAFKA_PORT + ${PORT_OFFSET:-0}))
. tests/perf/kafka-perf.sh
silo_cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$(silo_pid 0)/stat"; }

SILOS=1 start_cluster "$work/one"
cli topics create --topic one --partitions 6 --replication-factor 1 > /dev/null
cli topics create --topic sdk --partitions 6 --replication-factor 1 > /dev/null
kperf produce "$bootstrap" one "$records" 100 1 > /dev/null
cli perf produce --topic sdk --num-records "$records" --record-size 100 --acks 1 > /dev/null

consume_group() { # N members of one new group, started together; each reports once at the end of its partitions
  local group="kafka-consume-$RANDOM$RANDOM" stop="$work/stop" i pids=() deadline=$((SECONDS + 300))
  rm -f "$stop" "$work"/member-*
  for i in $(seq 1 "$group_consumers"); do
    # shellcheck disable=SC2086 # TUNED holds several K=V words
    kperf consume-group "$bootstrap" one "$group" "$stop" $tuned > "$work/member-$i" 2>&1 &
    pids+=($!)
  done
  # Every member stays in the group until all have read their partitions, so none leaves and rebalances the others.
  while [ "$(cat "$work"/member-* | grep -c '^member:')" -lt "$group_consumers" ] && [ $SECONDS -lt $deadline ]; do
    for i in "${pids[@]}"; do kill -0 "$i" 2> /dev/null || break 2; done
    sleep 0.2
  done
  touch "$stop"
  for i in "${pids[@]}"; do wait "$i" || true; done
  cat "$work"/member-* | awk -v members="$group_consumers" -v expected="$records" '
    /^member:/ {
      n++; total += $2
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      if (first == "" || v["first_us"] < first) first = v["first_us"]
      if (v["last_us"] > last) last = v["last_us"]
      if (v["assignments"] > 1) rebalanced = 1
      each = each sprintf("%s%d records, %.2f CPU-s (%.2f in all)", n > 1 ? "; " : "", $2, v["cpu_s"], v["process_cpu_s"])
    }
    END {
      printf "%d consumers, %d records received, %.1f records/sec (first record to last, %.2f s)", members, total, total / ((last - first) / 1e6), (last - first) / 1e6
      if (n < members) printf ", ONLY %d MEMBERS REPORTED", n
      if (total != expected) printf ", NOT THE %d RECORDS PRODUCED", expected
      if (rebalanced) printf ", A MEMBER WAS ASSIGNED TWICE (the group rebalanced)"
      printf "; members: %s", each
    }'
}

run() { # $1: who
  local before after out start
  before=$(silo_cpu); start=$(date +%s.%N)
  case $1 in
    sdk) { time cli perf consume --topic sdk --messages "$records" 2> /dev/null | tail -1 > "$work/out"; } 2> "$work/time"
         out="$(cat "$work/out"), $(awk '{ printf "%.2f", $2 + $3 }' "$work/time") CPU-s (process)" ;;
    defaults) out=$(kperf consume "$bootstrap" one "$records" statistics.interval.ms=1000) ;;
    # shellcheck disable=SC2086 # TUNED holds several K=V words
    tuned) out=$(kperf consume "$bootstrap" one "$records" statistics.interval.ms=1000 $tuned) ;;
    group) out=$(consume_group) ;;
    kcat) { time kcat -C -b "$bootstrap" -t one -o beginning -e -q -f '%o\n' -X queued.min.messages=1000000 > "$work/kcat.out"; } 2> "$work/time"
          out=$(awk -v n="$(wc -l < "$work/kcat.out")" '{ printf "%d records received, %.1f records/sec (wall time, connecting included), %.2f CPU-s", n, n / $1, $2 + $3 }' "$work/time") ;;
  esac
  after=$(silo_cpu)
  echo "$1: $out; silo $(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }') CPU-s over $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s; load $(cut -d' ' -f1 /proc/loadavg)"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); tuned: $tuned"
for _ in $(seq 1 "$rounds"); do
  for who in $runs; do run "$who"; done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
