#!/usr/bin/env bash
# acks=all, replication factor 3, three silo processes of the Release build on loopback, driven by `perf produce`.
# Prints kafka-producer-perf-test's final line per run. Used for docs/performance.md ("acks=all").
#   tests/perf/acks-all.sh                       # 3 runs at 44,000 records/s (10 % of peak) with linger.ms=0, then the peak
#   RUNS=skip PEAK=3 tests/perf/acks-all.sh      # three peak runs (PEAK = how many; 0 for none)
#   RUNS="linger.ms=0@44000|linger.ms=5@44000" PEAK=0 ACKS=1 RF=1 tests/perf/acks-all.sh
# RUNS: '|'-separated "producer-props@records-per-second" (props space-separated); N records of 100 bytes per run, of
# which the first WARMUP are left out of the printed steady-state line (--warmup-records: the CLI is a fresh process per
# run and JIT-compiles its hot path during its first seconds).
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build -c Release src/OrleansStream.Silo -v q -nologo | grep -E "rror\(s\)"
dotnet build -c Release src/OrleansStream.Cli -v q -nologo | grep -E "rror\(s\)"
work=$(mktemp -d); mkdir -p "$work/state"
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$work"' EXIT
for i in 0 1 2; do
  primary=""; [ $i -gt 0 ] && primary="Orleans__Clustering__PrimarySiloEndPoint=127.0.0.1:12110"
  env ${SILO_ENV:-} OrleansStream__BrokerId=b$i OrleansStream__DataDirectory=$work/b$i OrleansStream__GrainStateDirectory=$work/state \
    OrleansStream__HealthPort=1808$i Orleans__Endpoints__GatewayPort=3100$i Orleans__Endpoints__SiloPort=1211$i $primary \
    Logging__LogLevel__Default=Warning dotnet src/OrleansStream.Silo/bin/Release/net10.0/OrleansStream.Silo.dll > "$work/silo$i.log" 2>&1 &
  for _ in $(seq 1 60); do curl -sf localhost:1808$i/ready > /dev/null && break; sleep 1; done
done
cli() { dotnet src/OrleansStream.Cli/bin/Release/net10.0/orleansstream.dll --gateway 127.0.0.1:31000 --gateway 127.0.0.1:31001 --gateway 127.0.0.1:31002 "$@"; }
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
