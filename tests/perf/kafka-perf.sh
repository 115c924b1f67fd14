# Sourced by the Kafka listener's perf scripts after they set KAFKA_PORT: cluster.sh (the silos and `cli`), the Release
# kafka-perf (Confluent.Kafka) as `kperf`, a work directory in $work, and the silos stopped and $work removed on exit.
. tests/perf/cluster.sh > /dev/null
dotnet build -c Release tests/OrleansStream.KafkaPerf -v q -nologo | grep -E "rror\(s\)"
kperf() { dotnet tests/OrleansStream.KafkaPerf/bin/Release/net10.0/OrleansStream.KafkaPerf.dll "$@"; }
work=$(mktemp -d)
trap 'stop_cluster; rm -rf "$work"' EXIT
