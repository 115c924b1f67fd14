# Sourced by the multi-silo perf scripts: builds the Release silo and CLI, starts three silo processes on loopback
# (development clustering, b0 the primary; gateways 31000-31002, health 18080-18082, Kafka listeners from KAFKA_PORT,
# 9092 unless given) under $work, and defines `cli`. SILOS: how many of them to start (3 unless given).
# SILO_ENV: environment for every silo ("K=V K=V"); CLI_ENV: the same for every CLI process;
# PORT_OFFSET: added to every port, for a second cluster on the same machine.
dotnet build -c Release src/OrleansStream.Silo -v q -nologo | grep -E "rror\(s\)"
dotnet build -c Release src/OrleansStream.Cli -v q -nologo | grep -E "rror\(s\)"

o=${PORT_OFFSET:-0}

start_cluster() { # $1: work directory
  mkdir -p "$1/state"
  for i in $(seq 0 $((${SILOS:-3} - 1))); do
    primary=""; [ "$i" -gt 0 ] && primary="Orleans__Clustering__PrimarySiloEndPoint=127.0.0.1:$((12110 + o))"
    # shellcheck disable=SC2086 # SILO_ENV holds several K=V words
    env ${SILO_ENV:-} OrleansStream__BrokerId=b$i OrleansStream__DataDirectory="$1/b$i" OrleansStream__GrainStateDirectory="$1/state" \
      OrleansStream__HealthPort=$((18080 + o + i)) Orleans__Endpoints__GatewayPort=$((31000 + o + i)) \
      Orleans__Endpoints__SiloPort=$((12110 + o + i)) OrleansStream__Listeners=PLAINTEXT://127.0.0.1:$((${KAFKA_PORT:-9092} + o + i)) $primary \
      Logging__LogLevel__Default=Warning dotnet src/OrleansStream.Silo/bin/Release/net10.0/OrleansStream.Silo.dll > "$1/silo$i.log" 2>&1 &
    for _ in $(seq 1 180); do curl -sf "localhost:$((18080 + o + i))/ready" > /dev/null && break; sleep 1; done
  done
}

stop_cluster() {
  local pids
  pids=$(jobs -p)
  if [ -n "$pids" ]; then kill $pids 2>/dev/null || true; fi
  wait || true
}

cli() {
  # shellcheck disable=SC2086 # CLI_ENV holds several K=V words
  env ${CLI_ENV:-} dotnet src/OrleansStream.Cli/bin/Release/net10.0/orleansstream.dll \
    --gateway 127.0.0.1:$((31000 + o)) --gateway 127.0.0.1:$((31001 + o)) --gateway 127.0.0.1:$((31002 + o)) "$@"
}
