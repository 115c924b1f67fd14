#!/usr/bin/env bash
# The idempotent producer against the plain one on one cluster, same run: a fresh three-silo cluster (cluster.sh), an RF 3
# topic of 3 partitions with min.insync.replicas=2, a warm-up, then `perf produce --acks all` of 100-byte records in the
# order idempotent, plain, plain, idempotent, ROUNDS times. Idempotent is the producer's default (5 in flight); plain
# is enable.idempotence=false (1 in flight, up to 1 MiB of batches per request). Prints every run and the medians.
#   tests/perf/idempotence-abba.sh            (ROUNDS=3 NUM_RECORDS=1000000 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/perf/cluster.sh
. tests/perf/cluster.sh
work=$(mktemp -d)
results=$(mktemp)
trap 'stop_cluster; rm -rf "$work" "$results"' EXIT
start_cluster "$work"
cli topics create --topic rep --partitions 3 --replication-factor 3 --config min.insync.replicas=2 > /dev/null
cli perf produce --topic rep --num-records 300000 --record-size 100 --acks all > /dev/null
cli perf produce --topic rep --num-records 300000 --record-size 100 --acks all --producer-props enable.idempotence=false > /dev/null
run() { # $1 name, $2 producer props
  # shellcheck disable=SC2086 # $2 may hold several key=value pairs
  echo "$1 (load $(cut -d' ' -f1 /proc/loadavg)): $(cli perf produce --topic rep --num-records "${NUM_RECORDS:-1000000}" --record-size 100 --acks all $2 | tail -1)" \
    | tee -a "$results"
}
for _ in $(seq 1 "${ROUNDS:-3}"); do
  run idempotent ""; run plain "--producer-props enable.idempotence=false"
  run plain "--producer-props enable.idempotence=false"; run idempotent ""
done
python3 - "$results" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\w+) \(load [\d.]+\): \d+ records sent, ([\d.]+) records/sec', line)
    if m: rows.setdefault(m.group(1), []).append(float(m.group(2)))
for name, v in rows.items():
    print(f"{name}: {[int(x) for x in v]} median {int(statistics.median(v))} records/s")
PY
