using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// The producer's hot path makes no object per record: a record lives in its batch's pooled buffer and a value entry
/// of the batch, a sealed batch goes out in the builder's pooled buffer, and done batches are reused with their
/// builders; with an <see cref="IDeliveryHandler{TKey,TValue}"/> delivering makes none either. Allocation counts are not timing: with
/// fixed-size records and a linger that never ends a batch, the calling thread's allocations are the same every run.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ProducerAllocationTests(ClusterFixture fixture)
{
    private const int Records = 20_000;

    [Fact]
    public async Task Produce_with_a_handler_allocates_nothing_per_record_on_the_calling_thread_in_the_steady_state()
    {
        var topic = await CreateTopicAsync();
        using var producer = BuildProducer();
        var message = new Message<byte[]?, byte[]> { Value = new byte[100] }; // reused: the producer does not change it
        long delivered = 0, failed = 0;
        Action<DeliveryReport<byte[]?, byte[]>> handler = r =>
        {
            if (r.Error.IsError) Interlocked.Increment(ref failed);
            else Interlocked.Increment(ref delivered);
        };

        var allocated = await LeastAllocatedAsync(producer, () => { for (var i = 0; i < Records; i++) producer.Produce(topic, message, handler); });

        Assert.Equal(0L, Interlocked.Read(ref failed));
        Assert.Equal(0L, Interlocked.Read(ref delivered) % Records);
        // About 150 records per 16 KiB batch; the batches and their builders are pooled, so a batch costs nothing either.
        // A copy of each sealed batch would be ~115 bytes per record, an object per record 32 or more, a batch object 1.
        Assert.True(allocated < Records, $"{allocated} bytes allocated for {Records} records on the calling thread");
    }

    [Fact]
    public async Task Produce_with_an_IDeliveryHandler_reports_every_record_once_in_order_and_allocates_nothing_per_record_in_the_process()
    {
        var topic = await CreateTopicAsync();
        using var producer = BuildProducer();
        var message = new Message<byte[]?, byte[]> { Value = new byte[100] };
        var handler = new CountingHandler(message);

        // The whole process, the sender and the delivery threads included, over one round after the warm-up.
        var processBefore = 0L;
        var allocated = await LeastAllocatedAsync(producer, () =>
        {
            processBefore = GC.GetTotalAllocatedBytes(precise: true);
            for (var i = 0; i < Records; i++) producer.Produce(topic, message, handler);
        });
        var process = GC.GetTotalAllocatedBytes(precise: true) - processBefore;
        TestContext.Current.TestOutputHelper?.WriteLine($"last round: {process} bytes allocated in the process ({(double)process / Records:F1} per record)");

        Assert.True(allocated < Records, $"{allocated} bytes allocated for {Records} records on the calling thread");
        Assert.Null(handler.Failure);
        // Every record reported once, at the next offset of its partition: the partitions' offsets are 0..n-1.
        var reported = 0L;
        for (var p = 0; p < Partitions; p++)
        {
            Assert.Equal(handler.Counts[p], handler.NextOffsets[p]);
            reported += handler.Counts[p];
        }
        Assert.Equal(handler.Produced, reported);
        Assert.Equal(0L, reported % Records);
    }

    [Fact]
    public async Task Produce_without_a_handler_allocates_nothing_per_record_on_the_calling_thread_and_every_record_lands()
    {
        var topic = await CreateTopicAsync();
        using var producer = BuildProducer();
        var message = new Message<byte[]?, byte[]> { Value = new byte[100] };
        var produced = 0L;

        var allocated = await LeastAllocatedAsync(producer, () =>
        {
            for (var i = 0; i < Records; i++) producer.Produce(topic, message);
            produced += Records;
        });

        Assert.True(allocated < Records, $"{allocated} bytes allocated for {Records} records on the calling thread");
        using var consumer = new ConsumerBuilder<Null, Ignore>(fixture.Client, new ConsumerConfig()).Build();
        var landed = 0L;
        for (var p = 0; p < Partitions; p++)
            landed += consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(30)).High;
        Assert.Equal(produced, landed);
    }

    private const int Partitions = 3;

    private async Task<string> CreateTopicAsync()
    {
        var topic = $"alloc-{Guid.NewGuid():N}"[..24];
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = Partitions, ReplicationFactor = 1 }]);
        return topic;
    }

    /// <summary>
    /// acks=1 without idempotence: every batch is sealed at batch.size on the calling thread, so the count of batches,
    /// and what they cost, does not depend on how fast the broker answers.
    /// </summary>
    private IProducer<byte[]?, byte[]> BuildProducer() =>
        new ProducerBuilder<byte[]?, byte[]>(fixture.Client, new ProducerConfig { Acks = Acks.Leader, LingerMs = 600_000, BatchSize = 16384 }).Build();

    /// <summary>
    /// Runs <paramref name="produceRound"/> (<see cref="Records"/> records) once to warm up (metadata, compiled code, the
    /// producer's pools), then up to ten times, each flushed, and returns the least the calling thread allocated in a
    /// round. A round may still meet a one-off growth: the batch pool keeps as many batches as were ever waiting at once,
    /// so a round in which the broker answered more slowly than before (a busy machine) adds a batch buffer (17 KB) for
    /// each batch beyond that high; records queued while the topic's metadata is looked up again after a change elsewhere
    /// in the cluster. The pool only grows, so such rounds run out, while an allocation per record shows in every round.
    /// </summary>
    private static async Task<long> LeastAllocatedAsync(IProducer<byte[]?, byte[]> producer, Action produceRound)
    {
        produceRound();
        await producer.FlushAsync(TestContext.Current.CancellationToken);
        var allocated = long.MaxValue;
        for (var round = 0; round < 10 && allocated >= Records; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            produceRound();
            var roundBytes = GC.GetAllocatedBytesForCurrentThread() - before;
            await producer.FlushAsync(TestContext.Current.CancellationToken);
            TestContext.Current.TestOutputHelper?.WriteLine($"round {round}: {roundBytes} bytes allocated for {Records} records on the calling thread");
            allocated = Math.Min(allocated, roundBytes);
        }
        return allocated;
    }

    /// <summary>Checks each outcome without allocating: per partition, offsets must come in order, each the next one.</summary>
    private sealed class CountingHandler(Message<byte[]?, byte[]> produced) : IDeliveryHandler<byte[]?, byte[]>
    {
        public readonly long[] Counts = new long[Partitions];
        public readonly long[] NextOffsets = new long[Partitions];
        private long _produced;
        public volatile string? Failure;

        public long Produced => Interlocked.Read(ref _produced);

        public void OnDelivered(Message<byte[]?, byte[]> message, TopicPartitionOffset topicPartitionOffset, Timestamp timestamp, PersistenceStatus status,
            Error error)
        {
            Interlocked.Increment(ref _produced);
            var p = topicPartitionOffset.TopicPartition.Partition;
            if (error.IsError || status != PersistenceStatus.Persisted) Failure ??= error.ToString();
            else if (!ReferenceEquals(message, produced)) Failure ??= "the handler got another message than the one produced";
            else if (timestamp.Type != TimestampType.CreateTime || timestamp.UnixTimestampMs <= 0) Failure ??= $"timestamp {timestamp}";
            else if ((uint)p >= Partitions || topicPartitionOffset.Offset != NextOffsets[p]) Failure ??= $"{topicPartitionOffset} out of order";
            else
            {
                // A partition's deliveries come one at a time, in order.
                NextOffsets[p]++;
                Counts[p]++;
            }
        }
    }
}
