#!/usr/bin/env bash
# What one round trip costs on this machine, with and without Orleans: a raw TCP ping-pong between two .NET processes
# (rtt/TcpPingPong.cs), an Orleans client's call to a grain on its gateway silo (one round trip) and to a grain on the
# other silo (the gateway forwards it: one more round trip, silo to silo, the hop a follower's fetch makes), each
# back to back and with a 1 ms pause before every call (each call then starts from idle threads, as a follower's does
# at a tenth of peak), in the order TCP, Orleans, Orleans, TCP, ROUNDS times (default 2). Two silos from cluster.sh.
# Usage: PORT_OFFSET=70 tests/perf/rtt.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export SILOS=2 PORT_OFFSET=${PORT_OFFSET:-70}
source tests/perf/cluster.sh
dotnet build -c Release tests/perf/rtt/TcpPingPong.cs -v q -nologo | grep -E "rror\(s\)" || true
dotnet build -c Release tests/perf/rtt/GrainCallRoundTrip.cs -v q -nologo | grep -E "rror\(s\)" || true
work=$(mktemp -d)
trap 'stop_cluster; rm -rf "$work"' EXIT
start_cluster "$work"
cli topics create --topic rtt --partitions 2 --replication-factor 1 > /dev/null
# The partition whose only replica is on silo 0 (the gateway) and the one on silo 1.
leaders=$(kcat -b "127.0.0.1:$(port 19092)" -L -t rtt | sed -n 's/.*partition \([0-9]*\), leader \([0-9]*\),.*/\2 \1/p')
local_key="rtt/$(echo "$leaders" | awk '$1 == 0 { print $2 }')/0"
remote_key="rtt/$(echo "$leaders" | awk '$1 == 1 { print $2 }')/0"
tcp() {
  dotnet run -c Release --no-build tests/perf/rtt/TcpPingPong.cs -- server "$(port 45900)" &
  local server=$!
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$(port 45900)") 2>/dev/null && break; sleep 0.2; done
  dotnet run -c Release --no-build tests/perf/rtt/TcpPingPong.cs -- client "$(port 45900)" "$1" "$2"
  kill "$server"; wait "$server" 2>/dev/null || true
}
grain() { dotnet run -c Release --no-build tests/perf/rtt/GrainCallRoundTrip.cs -- "$(port 31000)" "$1" "$2" "$3"; }
for _ in $(seq 1 "${ROUNDS:-2}"); do
  tcp 20000 0; grain "$local_key" 20000 0; grain "$remote_key" 20000 0; tcp 20000 0
  tcp 3000 1; grain "$local_key" 3000 1; grain "$remote_key" 3000 1; tcp 3000 1
done
