#!/usr/bin/env bash
# acks=all, replication factor 3, three silo processes of the Release build on loopback, driven by `perf produce`.
# Prints kafka-producer-perf-test's final line per run. Used for docs/performance.md ("acks=all").
#   tests/perf/acks-all.sh                       # 3 runs at 44,000 records/s (10 % of peak) with linger.ms=0, then the peak
#   RUNS=skip PEAK=3 tests/perf/acks-all.sh      # three peak runs (PEAK = how many; 0 for none)
#   RUNS="linger.ms=0@44000|linger.ms=5@44000" PEAK=0 ACKS=1 RF=1 tests/perf/acks-all.sh
# RUNS: '|'-separated "producer-props@records-per-second" (props space-separated); N records of 100 bytes per run, of
# which the first WARMUP are left out of the printed steady-state line (--warmup-records: the CLI is a fresh process per
# run and JIT-compiles its hot path during its first seconds). SILO_ENV / CLI_ENV: environment for the silos / the CLI.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/perf/cluster.sh
. tests/perf/cluster.sh
work=$(mktemp -d)
trap 'stop_cluster; rm -rf "$work"' EXIT
start_cluster "$work"
cli topics create --topic rep --partitions 3 --replication-factor "${RF:-3}" --config "min.insync.replicas=${MINISR:-2}"
echo "warm-up: $(cli perf produce --topic rep --num-records 200000 --record-size 100 --acks "${ACKS:-all}" --producer-props linger.ms=0 | tail -1)"
IFS='|' read -ra runs <<< "${RUNS:-linger.ms=0@44000|linger.ms=0@44000|linger.ms=0@44000}"
for run in "${runs[@]}"; do
  [ "$run" = skip ] && continue
  props=${run%@*}; rate=${run##*@}
  echo "== $props at $rate records/s (load $(cut -d' ' -f1 /proc/loadavg))"
  # shellcheck disable=SC2086 # props may hold several key=value pairs
  cli perf produce --topic rep --num-records "${N:-900000}" --warmup-records "${WARMUP:-200000}" --record-size 100 --acks "${ACKS:-all}" \
    --throughput "$rate" --producer-props $props | tail -2
done
for _ in $(seq 1 "${PEAK:-1}"); do
  echo "== peak (load $(cut -d' ' -f1 /proc/loadavg))"
  # shellcheck disable=SC2086 # PEAK_PROPS may hold several key=value pairs
  cli perf produce --topic rep --num-records 2000000 --warmup-records 500000 --record-size 100 --acks "${ACKS:-all}" ${PEAK_PROPS:+--producer-props $PEAK_PROPS} | tail -2
done
