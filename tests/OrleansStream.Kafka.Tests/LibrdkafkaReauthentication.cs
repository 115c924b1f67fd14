using Confluent.Kafka;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// Watches librdkafka's <c>security</c> debug log for KIP-368 re-authentication: a producer built with
/// <see cref="Configure"/> logs each connection's first exchange ("Auth in state APIVERSION_QUERY"), each
/// re-authentication it starts ("Auth in state REAUTH") and each exchange it completes (<c>authenticated</c>, the
/// mechanism's own line).
/// </summary>
internal sealed class LibrdkafkaReauthentication(string authenticated)
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
    public Task ProduceUntilReauthenticatedTwiceAsync(IProducer<string, string> producer, string topic, CancellationToken ct)
    {
        var delivered = 0;
        return Eventually.WaitUntilAsync(async () =>
        {
            await producer.ProduceAsync(topic, new Message<string, string> { Key = $"k{delivered}", Value = "v" }, ct);
            delivered++;
            return Count("Auth in state REAUTH") >= 2 && Count(authenticated) >= Count("Auth in state APIVERSION_QUERY") + 2;
        }, "librdkafka re-authenticates on its connection twice", TimeSpan.FromSeconds(60), () =>
        {
            lock (_logs) return string.Join('\n', _logs.TakeLast(40));
        });
    }

    private int Count(string text)
    {
        lock (_logs) return _logs.Count(l => l.Contains(text, StringComparison.Ordinal));
    }
}
