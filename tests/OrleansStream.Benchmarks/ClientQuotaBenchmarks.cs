using BenchmarkDotNet.Attributes;
using OrleansStream.Protocol;
using OrleansStream.Server.Kafka;
using OrleansStream.Server.Kafka.Quotas;

namespace OrleansStream.Benchmarks;

/// <summary>
/// What a produce request pays for client quotas (<see cref="ClientQuotaManager.RecordAndGetThrottleTimeMs"/>), against
/// 1,000 quotas of users and client ids: none of the produce type (quotas off for produce: the usual case), the
/// request's user and client id named exactly (the first of Kafka's eight entities), and a client-id quota (the
/// seventh, after six misses). The rate stays under the quota, so nothing is throttled.
/// </summary>
[MemoryDiagnoser]
public class ClientQuotaBenchmarks
{
    private ClientQuotaManager _off = null!;
    private ClientQuotaManager _on = null!;
    private KafkaRequest _exact;
    private KafkaRequest _client;

    [GlobalSetup]
    public void Setup()
    {
        var fetchOnly = new List<StoredClientQuota>();
        var quotas = new List<StoredClientQuota>();
        for (var i = 0; i < 1000; i++)
        {
            var entity = i % 2 == 0 ? new ClientQuotaEntity(true, $"user-{i}", true, $"app-{i}") : new ClientQuotaEntity(false, null, true, $"app-{i}");
            fetchOnly.Add(new StoredClientQuota(entity, ClientQuotaManager.ConsumerByteRate, 1e12));
            quotas.Add(new StoredClientQuota(entity, ClientQuotaManager.ProducerByteRate, 1e12));
        }
        _off = new ClientQuotaManager(TimeProvider.System);
        _off.Apply(new ClientQuotaSnapshot(1, fetchOnly));
        _on = new ClientQuotaManager(TimeProvider.System);
        _on.Apply(new ClientQuotaSnapshot(1, quotas));
        var listener = new KafkaListener(new KafkaListenerEndpoint("PLAINTEXT", "127.0.0.1", 9092), KafkaSecurityProtocol.Plaintext);
        // On a PLAINTEXT listener the user is ANONYMOUS: the exact entity names it.
        _on.Apply(new ClientQuotaSnapshot(2, [.. quotas, new StoredClientQuota(new ClientQuotaEntity(true, "ANONYMOUS", true, "app-0"), ClientQuotaManager.ProducerByteRate, 1e12)]));
        _exact = new KafkaRequest(new RequestHeader(ApiKey.Produce, 9, 1, "app-0"), ReadOnlyMemory<byte>.Empty, new KafkaConnection(listener, null));
        _client = new KafkaRequest(new RequestHeader(ApiKey.Produce, 9, 1, "app-1"), ReadOnlyMemory<byte>.Empty, new KafkaConnection(listener, null));
    }

    [Benchmark(Description = "no produce quota")]
    public int Off() => _off.RecordAndGetThrottleTimeMs(ClientQuotaType.Produce, _exact, 16_384);

    [Benchmark(Description = "user and client id quota")]
    public int Exact() => _on.RecordAndGetThrottleTimeMs(ClientQuotaType.Produce, _exact, 16_384);

    [Benchmark(Description = "client id quota")]
    public int ClientId() => _on.RecordAndGetThrottleTimeMs(ClientQuotaType.Produce, _client, 16_384);
}
