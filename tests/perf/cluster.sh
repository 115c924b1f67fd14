# Sourced by the multi-silo perf scripts: builds the Release silo and CLI, starts three silo processes on loopback
# (development clustering, b0 the primary; gateways 31000-31002, health 18080-18082, Kafka listeners from KAFKA_PORT,
# 19092 unless given) under $work, and defines `cli`.
# SILO_ENV: environment for every silo ("K=V K=V"); CLI_ENV: the same for every CLI process; SILOS: how many silos
# (1-3, default 3); PORT_OFFSET: added to every port (default 0), for two clusters on one machine. silo_pid N is the
# process id of silo N.
port() { echo $(($1 + ${PORT_OFFSET:-0})); }
dotnet build -c Release src/OrleansStream.Silo -v q -nologo | grep -E "rror\(s\)"
dotnet build -c Release src/OrleansStream.Cli -v q -nologo | grep -E "rror\(s\)"

start_cluster() { # $1: work directory
  mkdir -p "$1/state"
  for i in $(seq 0 $((${SILOS:-3} - 1))); do
    primary=""; [ "$i" -gt 0 ] && primary="Orleans__Clustering__PrimarySiloEndPoint=127.0.0.1:$(port 12110)"
    # shellcheck disable=SC2086 # SILO_ENV holds several K=V words
    env ${SILO_ENV:-} OrleansStream__BrokerId=b$i OrleansStream__DataDirectory="$1/b$i" OrleansStream__GrainStateDirectory="$1/state" \
      OrleansStream__HealthPort="$(port $((18080 + i)))" Orleans__Endpoints__GatewayPort="$(port $((31000 + i)))" \
      Orleans__Endpoints__SiloPort="$(port $((12110 + i)))" OrleansStream__Listeners="PLAINTEXT://127.0.0.1:$(port $((${KAFKA_PORT:-19092} + i)))" $primary \
      Logging__LogLevel__Default=Warning dotnet src/OrleansStream.Silo/bin/Release/net10.0/OrleansStream.Silo.dll > "$1/silo$i.log" 2>&1 &
    eval "silo_pid_$i=$!"
    for _ in $(seq 1 180); do curl -sf "localhost:$(port $((18080 + i)))/ready" > /dev/null && break; sleep 1; done
  done
}

stop_cluster() {
  local pids
  pids=$(jobs -p)
  if [ -n "$pids" ]; then kill $pids 2>/dev/null || true; fi
  wait || true
}

silo_pid() { eval "echo \$silo_pid_$1"; }

cli() {
  local gateways=()
  for i in $(seq 0 $((${SILOS:-3} - 1))); do gateways+=(--gateway "127.0.0.1:$(port $((31000 + i)))"); done
  # shellcheck disable=SC2086 # CLI_ENV holds several K=V words
  env ${CLI_ENV:-} dotnet src/OrleansStream.Cli/bin/Release/net10.0/orleansstream.dll "${gateways[@]}" "$@"
}
