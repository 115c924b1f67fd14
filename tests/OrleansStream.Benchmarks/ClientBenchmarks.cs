using BenchmarkDotNet.Attributes;
using OrleansStream.Client;

namespace OrleansStream.Benchmarks;

/// <summary>
/// The SDK's steady state per record against the in-process broker: <c>Produce</c> with a delivery handler, with an
/// <see cref="IDeliveryHandler{TKey,TValue}"/> and <c>ProduceAsync</c> (the producer's defaults: idempotent, acks=all),
/// <c>Consume</c> and <c>Poll</c>, 100-byte values without
/// keys, 50,000 records per operation, reported per record. The consumer reads the values' lengths (a deserializer
/// that copies would add its copy). Allocated counts the whole process, so it holds the broker's share per batch too;
/// <c>perf produce</c> and <c>perf consume</c> print the client's alone.
/// Run: dotnet run -c Release --project tests/OrleansStream.Benchmarks -- --filter '*ClientBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class ClientBenchmarks : InProcessBrokerBenchmark
{
    private const int Records = 50_000;
    private readonly Message<Null, byte[]> _message = new() { Value = new byte[100] };
    private readonly Task<DeliveryResult<Null, byte[]>>[] _deliveries = new Task<DeliveryResult<Null, byte[]>>[Records];
    private IProducer<Null, byte[]> _producer = null!;
    private IConsumer<Ignore, int> _consumer = null!;
    private Action<DeliveryReport<Null, byte[]>> _handler = null!;
    private readonly FailureCounter _deliveryHandler = new();
    private long _failed;

    protected override void Started()
    {
        _producer = new ProducerBuilder<Null, byte[]>(Cluster.Client, new ProducerConfig()).Build();
        _handler = r =>
        {
            if (r.Error.IsError) Interlocked.Increment(ref _failed);
        };
        // Enough for every Consume invocation (pilot, warm-up and measured), whatever order the benchmarks run in.
        for (var i = 0; i < 40 * Records; i++) _producer.Produce(Topic, _message, _handler);
        _producer.Flush();
        _consumer = new ConsumerBuilder<Ignore, int>(Cluster.Client, new ConsumerConfig())
            .SetValueDeserializer(LengthDeserializer.Instance)
            .Build();
        var assignment = new List<TopicPartitionOffset>(Partitions);
        for (var p = 0; p < Partitions; p++) assignment.Add(new TopicPartitionOffset(new TopicPartition(Topic, p), Offset.Beginning));
        _consumer.Assign(assignment);
    }

    protected override void Stopping()
    {
        _consumer.Dispose();
        _producer.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public void ProduceWithHandler()
    {
        for (var i = 0; i < Records; i++) _producer.Produce(Topic, _message, _handler);
        _producer.Flush();
        if (Interlocked.Read(ref _failed) > 0) throw new InvalidOperationException($"{_failed} records failed");
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public void ProduceWithDeliveryHandler()
    {
        for (var i = 0; i < Records; i++) _producer.Produce(Topic, _message, _deliveryHandler);
        _producer.Flush();
        if (_deliveryHandler.Failed > 0) throw new InvalidOperationException($"{_deliveryHandler.Failed} records failed");
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public async Task ProduceAsync()
    {
        for (var i = 0; i < Records; i++) _deliveries[i] = _producer.ProduceAsync(Topic, _message);
        foreach (var delivery in _deliveries) await delivery.ConfigureAwait(false);
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long Consume()
    {
        long bytes = 0;
        for (var i = 0; i < Records; i++)
        {
            var result = _consumer.Consume(TimeSpan.FromSeconds(10)) ?? throw new InvalidOperationException($"nothing to consume after {i} records");
            bytes += result.Message!.Value;
        }
        return bytes;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long Poll()
    {
        long bytes = 0;
        var handedOut = 0;
        while (handedOut < Records)
        {
            var records = _consumer.Poll(TimeSpan.FromSeconds(10));
            if (records.IsEmpty) throw new InvalidOperationException($"nothing to poll after {handedOut} records");
            foreach (var record in records)
            {
                bytes += record.Value.Length;
                if (++handedOut == Records) break;
            }
        }
        return bytes;
    }

    private sealed class FailureCounter : IDeliveryHandler<Null, byte[]>
    {
        private long _failed;

        public long Failed => Interlocked.Read(ref _failed);

        public void OnDelivered(Message<Null, byte[]> message, TopicPartitionOffset topicPartitionOffset, Timestamp timestamp, PersistenceStatus status, Error error)
        {
            if (error.IsError) Interlocked.Increment(ref _failed);
        }
    }

    private sealed class LengthDeserializer : IDeserializer<int>
    {
        public static readonly LengthDeserializer Instance = new();

        public int Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) => isNull ? -1 : data.Length;
    }
}
