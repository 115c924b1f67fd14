using Confluent.Kafka;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// Watches librdkafka's <c>security</c> debug log for KIP-368 re-authentication: a producer built with
/// <see cref="Configure"/> logs each connection's first exchange ("Auth in state APIVERSION_QUERY"), each
/// re-authentication it starts ("Auth in state REAUTH") and each exchange it completes (<c>authenticated</c>, the
/// mechanism's own line).
/// </summary>
/// <param name="authenticated">The mechanism's line for a completed exchange.</param>
/// <param name="broker">When given, only lines of connections to this address (<c>127.0.0.1:9093</c>) count.</param>
internal sealed class LibrdkafkaReauthentication(string authenticated, string? broker = null)
{
    private readonly List<string> _logs = [];
    private readonly List<Error> _errors = [];

    public IReadOnlyList<Error> Errors
    {
        get
        {
            lock (_errors) return [.. _errors];
        }
    }

    public ProducerBuilder<string, string> Configure(ProducerBuilder<string, string> builder) => builder
        .SetLogHandler((_, m) => { lock (_logs) _logs.Add(m.Message); })
        .SetErrorHandler((_, e) => { lock (_errors) _errors.Add(e); });

    /// <summary>
    /// Produces to <paramref name="topic"/> until two re-authentications have completed on their connections: two more
    /// exchanges completed than connections made (a refused re-authentication makes the client connect again instead,
    /// and report an error), counted once they are complete rather than while one may be in flight.
    /// </summary>
    public Task ProduceUntilReauthenticatedTwiceAsync(IProducer<string, string> producer, string topic, CancellationToken ct) =>
        ProduceUntilReauthenticatedTwiceAsync(producer, new Confluent.Kafka.TopicPartition(topic, Confluent.Kafka.Partition.Any), ct);

    /// <summary>As above, to one partition (so that the producer connects only to its leader besides its bootstrap broker).</summary>
    public Task ProduceUntilReauthenticatedTwiceAsync(IProducer<string, string> producer, Confluent.Kafka.TopicPartition target, CancellationToken ct)
    {
        var delivered = 0;
        return Eventually.WaitUntilAsync(async () =>
        {
            await producer.ProduceAsync(target, new Message<string, string> { Key = $"k{delivered}", Value = "v" }, ct);
            delivered++;
            return Count("Auth in state REAUTH") >= 2 && Count(authenticated) >= Count("Auth in state APIVERSION_QUERY") + 2;
        }, "librdkafka re-authenticates on its connection twice", TimeSpan.FromSeconds(60), () =>
        {
            lock (_logs) return string.Join('\n', _logs.TakeLast(40));
        });
    }

    private int Count(string text)
    {
        lock (_logs) return _logs.Count(l => l.Contains(text, StringComparison.Ordinal) && (broker is null || l.Contains(broker + "/", StringComparison.Ordinal)));
    }
}
