#!/usr/bin/env bash
# The replication tail as a ratio, on one three-silo cluster in one run: acks=all on an RF 3 topic
# (min.insync.replicas=2) at 10 % of its peak against acks=1 on an RF 1 topic at the same rate, both of 3 partitions,
# 100-byte records, linger.ms=0, in A B B A order ROUNDS times, after one unrecorded run per topic at that rate. Prints
# each run's steady-state percentiles with the load average and the machine's CPU use during the run (busy share of all
# its CPUs, from /proc/stat), then the medians of p50, p99 and p99.9 and their ratios (acks=all over acks=1).
#   tests/perf/tail-ratio.sh                      # measures the acks=all peak first (one 2 M-record run), then 2 rounds
#   RATE=40000 ROUNDS=3 tests/perf/tail-ratio.sh  # a given rate
# SECONDS_PER_RUN: measured seconds per run after 5 s of warm-up records; SILO_ENV, CLI_ENV, PORT_OFFSET: as cluster.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/perf/cluster.sh
. tests/perf/cluster.sh
work=$(mktemp -d)
results="$work/results"
trap 'stop_cluster; rm -rf "$work"' EXIT
start_cluster "$work"
cli topics create --topic rep --partitions 3 --replication-factor 3 --config min.insync.replicas=2 > /dev/null
cli topics create --topic one --partitions 3 --replication-factor 1 > /dev/null
cli perf produce --topic rep --num-records 300000 --record-size 100 --acks all > /dev/null   # warm-up
cli perf produce --topic one --num-records 300000 --record-size 100 --acks 1 > /dev/null
rate=${RATE:-}
if [ -z "$rate" ]; then
  peak=$(cli perf produce --topic rep --num-records 2000000 --warmup-records 500000 --record-size 100 --acks all | tail -1)
  echo "acks=all peak (load $(cut -d' ' -f1 /proc/loadavg)): $peak"
  rate=$(echo "$peak" | sed -E 's/.*, ([0-9.]+) records\/sec.*/\1/' | awk '{ printf "%d", $1 / 10 }')
fi
seconds=${SECONDS_PER_RUN:-20}
at_rate() { # $1: topic, $2: acks, the rest: perf produce's record counts
  cli perf produce --topic "$1" --acks "$2" "${@:3}" --record-size 100 --throughput "$rate" --producer-props linger.ms=0
}
# One unrecorded run per topic at the measured rate and batching (linger.ms=0): the first run at this rate was the
# slowest acks=1 run of every earlier invocation (p99 2.8-3.9 ms against 0.9-1.9 ms after it), so without this the first
# A of the rounds measured the warm-up, not acks=1.
at_rate one 1 --num-records $((rate * 10)) > /dev/null
at_rate rep all --num-records $((rate * 10)) > /dev/null
cpu_ticks() { awk '/^cpu /{ print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6 }' /proc/stat; } # all ticks, idle + iowait ticks
run() { # $1: label, $2: topic, $3: acks
  local load line before after busy
  load=$(cut -d' ' -f1 /proc/loadavg)
  before=$(cpu_ticks)
  line=$(at_rate "$2" "$3" --num-records $((rate * (seconds + 5))) --warmup-records $((rate * 5)) | tail -1)
  after=$(cpu_ticks)
  busy=$(echo "$before $after" | awk '{ printf "%.0f", 100 * (1 - ($4 - $2) / ($3 - $1)) }')
  echo "$1 (load $load, CPU $busy % busy): $line" | tee -a "$results"
}
echo "== $rate records/s, $seconds s per run"
for _ in $(seq 1 "${ROUNDS:-2}"); do
  run "acks=1 RF 1" one 1; run "acks=all RF 3" rep all; run "acks=all RF 3" rep all; run "acks=1 RF 1" one 1
done
python3 - "$results" <<'PY'
import re, statistics, sys
runs, cpu = {}, {}
for line in open(sys.argv[1]):
    m = re.match(r'(acks=\S+ RF \d) .*?([\d.]+) ms 50th, [\d.]+ ms 95th, ([\d.]+) ms 99th, ([\d.]+) ms 99.9th', line)
    if m: runs.setdefault(m.group(1), []).append([float(m.group(i)) for i in (2, 3, 4)])
    c = re.search(r'CPU (\d+) % busy', line)
    if m and c: cpu.setdefault(m.group(1), []).append(int(c.group(1)))
med = {k: [statistics.median(r[i] for r in v) for i in range(3)] for k, v in runs.items()}
for k, v in med.items():
    busy = f", CPU {statistics.median(cpu[k]):.0f} % busy" if k in cpu else ""
    print(f"{k}: median p50 {v[0]:.2f} ms, p99 {v[1]:.2f} ms, p99.9 {v[2]:.2f} ms ({len(runs[k])} runs{busy})")
a, b = med.get('acks=1 RF 1'), med.get('acks=all RF 3')
if a and b:
    print(f"ratio acks=all RF 3 / acks=1 RF 1: p50 {b[0] / a[0]:.2f}, p99 {b[1] / a[1]:.2f}, p99.9 {b[2] / a[2]:.2f}")
PY
