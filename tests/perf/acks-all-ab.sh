#!/usr/bin/env bash
# A/B of acks=all latency at 44,000 records/s (10 % of peak), RF 3, min.insync.replicas=2, linger.ms 0: each
# configuration gets a fresh three-silo cluster, the 200 k-record warm-up of acks-all.sh, two discarded runs of 400 k
# records, then RUNS measured runs of 700 k records (the first 150 k of each left out as the CLI's warm-up). Prints each
# run's steady-state line, then per configuration the p50s, the sorted p99s and their median. Run-to-run spread on a
# 2-vCPU VM is large (p99 5-25 ms between identical runs): compare medians of six or more, and alternate the order.
# Arguments: one per configuration, "name|SILO_ENV|CLI_ENV|producer props" (the last three may be empty):
#   tests/perf/acks-all-ab.sh "spin|DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=70|DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=70" \
#                             "nospin|DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0|DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0"
#   tests/perf/acks-all-ab.sh "inflight1|||" "inflight5|||max.in.flight.requests.per.connection=5"
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/perf/cluster.sh
. tests/perf/cluster.sh
work=$(mktemp -d)
trap 'stop_cluster; rm -rf "$work"' EXIT
results=$(mktemp)
for config in "$@"; do
  IFS='|' read -r name SILO_ENV CLI_ENV props <<< "$config"
  export SILO_ENV CLI_ENV
  rm -rf "${work:?}"/*
  start_cluster "$work"
  cli topics create --topic rep --partitions 3 --replication-factor 3 --config min.insync.replicas=2 > /dev/null
  cli perf produce --topic rep --num-records 200000 --record-size 100 --acks all --producer-props linger.ms=0 > /dev/null
  for _ in 1 2; do
    # shellcheck disable=SC2086 # props may hold several key=value pairs
    cli perf produce --topic rep --num-records 400000 --warmup-records 100000 --record-size 100 --acks all --throughput 44000 \
      --producer-props linger.ms=0 $props > /dev/null
  done
  for _ in $(seq 1 "${RUNS:-6}"); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    # shellcheck disable=SC2086
    line=$(cli perf produce --topic rep --num-records 700000 --warmup-records 150000 --record-size 100 --acks all --throughput 44000 \
      --producer-props linger.ms=0 $props | tail -1)
    echo "$name (load $load): $line"
    echo "$name ${line}" >> "$results"
  done
  stop_cluster
done
python3 - "$results" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.search(r'([\d.]+) ms 50th.* ([\d.]+) ms 99th', line)
    if m: runs.setdefault(line.split()[0], []).append((float(m.group(1)), float(m.group(2))))
for name, r in runs.items():
    print(f"{name}: p50 {[x[0] for x in r]}, p99 {sorted(x[1] for x in r)}, median p99 {statistics.median(x[1] for x in r):.2f} ms")
PY
rm -f "$results"
