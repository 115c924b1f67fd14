#!/usr/bin/env bash
# ABBA comparison of peak produce throughput between two checkouts (each with Release builds made by cluster.sh):
# per round a fresh three-silo cluster from that checkout, then acks=1 on an RF 1 topic of 6 partitions and acks=all on an
# RF 3 topic of 3 partitions (min.insync.replicas=2), 100-byte records, producer defaults. Order A B B A, ROUNDS times.
#   tests/perf/abba-produce.sh /path/to/before /path/to/after      (ONLY=all: the acks=all runs only)
set -euo pipefail
a=$1; b=$2; rounds=${ROUNDS:-1}
results=$(mktemp)
run_round() { # $1 name, $2 checkout
  ( cd "$2"
    . tests/perf/cluster.sh > /dev/null
    work=$(mktemp -d)
    trap 'stop_cluster; rm -rf "$work"' EXIT
    start_cluster "$work"
    cli topics create --topic one --partitions 6 --replication-factor 1 > /dev/null
    cli topics create --topic rep --partitions 3 --replication-factor 3 --config min.insync.replicas=2 > /dev/null
    if [ "${ONLY:-}" = all ]; then
      cli perf produce --topic rep --num-records 300000 --record-size 100 --acks all > /dev/null   # warm-up
    else
      cli perf produce --topic one --num-records 300000 --record-size 100 --acks 1 > /dev/null   # warm-up
      echo "$1 acks=1: $(cli perf produce --topic one --num-records 2000000 --record-size 100 --acks 1 | tail -1)"
    fi
    echo "$1 acks=all: $(cli perf produce --topic rep --num-records 1000000 --record-size 100 --acks all | tail -1)"
  ) | tee -a "$results"
}
for _ in $(seq 1 "$rounds"); do run_round A "$a"; run_round B "$b"; run_round B "$b"; run_round A "$a"; done
python3 - "$results" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\w) (acks=\w+): \d+ records sent, ([\d.]+) records/sec', line)
    if m: rows.setdefault((m.group(1), m.group(2)), []).append(float(m.group(3)))
for (n, k), v in sorted(rows.items(), key=lambda x: (x[0][1], x[0][0])):
    print(f"{n} {k}: {[int(x) for x in v]} median {int(statistics.median(v))} records/s")
PY
rm -f "$results"
