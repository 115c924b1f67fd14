#!/usr/bin/env bash
# Transactional produce against idempotent on one cluster, same run, and the exactly-once copier's rate: a fresh
# three-silo cluster (cluster.sh), RF 3 topics of 3 partitions with min.insync.replicas=2, a warm-up, then
# `perf produce --acks all` of 100-byte records in the order idempotent, transactional, transactional, idempotent,
# ROUNDS times (transactional: --transactional-id with --transaction-duration-ms 100, which also reports commit
# latency); then COPY_RECORDS records copied by one `transactions copy` (consume read_committed, produce, send offsets,
# commit every 500 records). Prints every run, the medians and their ratio.
#   tests/perf/transactions-abba.sh            (ROUNDS=2 NUM_RECORDS=500000 COPY_RECORDS=200000 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/perf/cluster.sh
. tests/perf/cluster.sh
work=$(mktemp -d)
results=$(mktemp)
trap 'stop_cluster; rm -rf "$work" "$results"' EXIT
start_cluster "$work"
for t in rep in out; do
  cli topics create --topic $t --partitions 3 --replication-factor 3 --config min.insync.replicas=2 > /dev/null
done
cli perf produce --topic rep --num-records 200000 --record-size 100 --acks all > /dev/null
cli perf produce --topic rep --num-records 200000 --record-size 100 --transactional-id warm --transaction-duration-ms 100 > /dev/null
run() { # $1 name, then the extra flags
  local name=$1; shift
  local out
  out=$(cli perf produce --topic rep --num-records "${NUM_RECORDS:-500000}" --record-size 100 --acks all "$@")
  echo "$name (load $(cut -d' ' -f1 /proc/loadavg)): $(echo "$out" | grep 'records sent' | tail -1) $(echo "$out" | grep 'transactions committed' || true)" \
    | tee -a "$results"
}
for r in $(seq 1 "${ROUNDS:-2}"); do
  run idempotent; run transactional --transactional-id "perf-tx-$r" --transaction-duration-ms 100
  run transactional --transactional-id "perf-tx-$r" --transaction-duration-ms 100; run idempotent
done
copy=${COPY_RECORDS:-200000}
cli perf produce --topic in --num-records "$copy" --record-size 100 --acks all > /dev/null
echo "copier (load $(cut -d' ' -f1 /proc/loadavg)): $(cli transactions copy --input-topic in --output-topic out --group-id perf-copy \
  --transactional-id perf-copier --transaction-size 500 --max-messages "$copy" | tail -1)"
python3 - "$results" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\w+) \(load [\d.]+\): \d+ records sent, ([\d.]+) records/sec', line)
    if m: rows.setdefault(m.group(1), []).append(float(m.group(2)))
for name, v in rows.items():
    print(f"{name}: {[int(x) for x in v]} median {int(statistics.median(v))} records/s")
if len(rows) == 2:
    print(f"transactional / idempotent: {statistics.median(rows['transactional']) / statistics.median(rows['idempotent']):.0%}")
PY
