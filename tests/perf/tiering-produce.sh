#!/usr/bin/env bash
# Produce throughput through a whole silo with tiering off and on, alternating: one Release silo, two topics of
# 3 partitions and 16 MiB segments, `perf produce` of 1,000-byte records at full speed, acks=1. The tiered topic has
# remote.storage.enable=true and local.retention.bytes=0; the tiering task runs every second.
#   tests/perf/tiering-produce.sh                          # the embedded folder tier ({data}/tier)
#   KIND=AzureBlob CONNECTION_STRING="<Azurite's>" tests/perf/tiering-produce.sh
# Used for docs/performance.md ("Tiered storage, through a silo").
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build -c Release src/OrleansStream.Silo -v q -nologo | grep -E "rror\(s\)"
dotnet build -c Release src/OrleansStream.Cli -v q -nologo | grep -E "rror\(s\)"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$work"' EXIT
tier=""
if [ "${KIND:-Folder}" = AzureBlob ]; then
  tier="OrleansStream__TierStore__Kind=AzureBlob OrleansStream__TierStore__Container=perf$RANDOM OrleansStream__TierStore__ConnectionString=${CONNECTION_STRING:?}"
fi
env $tier OrleansStream__DataDirectory="$work/data" OrleansStream__TierStore__TaskIntervalMs=1000 Logging__LogLevel__Default=Warning \
  dotnet src/OrleansStream.Silo/bin/Release/net10.0/OrleansStream.Silo.dll > "$work/silo.log" 2>&1 &
for _ in $(seq 1 60); do curl -sf localhost:8080/ready > /dev/null && break; sleep 1; done
cli() { dotnet src/OrleansStream.Cli/bin/Release/net10.0/orleansstream.dll "$@"; }
cli topics create --topic off --partitions 3 --replication-factor 1 --config segment.bytes=16777216
cli topics create --topic on --partitions 3 --replication-factor 1 --config segment.bytes=16777216 \
  --config remote.storage.enable=true --config local.retention.bytes=0
echo "warm-up: $(cli perf produce --topic off --num-records 300000 --record-size 1000 --acks 1 | tail -1)"
# ABBA order (off on, on off, ...): both topics see the same drift as the disk and page cache fill.
for pair in $(seq 1 "${PAIRS:-4}"); do
  order="off on"; [ $((pair % 2)) = 0 ] && order="on off"
  for topic in $order; do
    echo "== tiering $topic (load $(cut -d' ' -f1 /proc/loadavg))"
    cli perf produce --topic $topic --num-records "${N:-1500000}" --record-size 1000 --acks 1 | tail -1
  done
done
echo "tiered: $(du -sm "$work/data/tier" 2>/dev/null | cut -f1) MiB in the folder tier; data directory $(du -sm "$work/data" | cut -f1) MiB"
