using System.Buffers.Binary;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// <see cref="IConsumer{TKey,TValue}.Poll(TimeSpan)"/>: records read in place from the pooled fetch buffer, handed out
/// once each and in order with Consume's position semantics, and no allocation per record on the consuming thread.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ConsumerPollTests(ClusterFixture fixture)
{
    private const int Partitions = 3;
    private const int Records = 20_000;

    [Fact]
    public async Task Poll_hands_out_every_record_once_in_order_and_allocates_nothing_per_record_in_the_steady_state()
    {
        var topic = await CreateTopicAsync();
        await ProduceAsync(topic, 2 * Records);
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(fixture.Client, new ConsumerConfig()).Build();
        consumer.Assign(AllPartitions(topic, Offset.Beginning));
        var check = new OrderCheck();

        // The warm-up: compiled code, the fetchers' first answers, the pools.
        PollUntil(consumer, check, Records);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var processBefore = GC.GetTotalAllocatedBytes(precise: true);
        PollUntil(consumer, check, 2 * Records);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var process = GC.GetTotalAllocatedBytes(precise: true) - processBefore;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{allocated} bytes allocated on the consuming thread, {process} in the process ({(double)process / Records:F1} per record), for {Records} records");

        Assert.Null(check.Failure);
        Assert.Equal(2 * Records, check.Total);
        for (var p = 0; p < Partitions; p++)
            Assert.Equal(check.NextOffsets[p], consumer.Position(new TopicPartition(topic, p)));
        // Consume makes a ConsumeResult and a Message per record (90 bytes and more); Poll nothing but per fetch answer.
        Assert.True(allocated < Records, $"{allocated} bytes allocated for {Records} records on the consuming thread");
    }

    [Fact]
    public async Task Poll_resumes_where_an_enumeration_stopped_and_follows_a_seek_made_during_one()
    {
        var topic = await CreateTopicAsync();
        await ProduceAsync(topic, 3000);
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(fixture.Client, new ConsumerConfig()).Build();
        var p0 = new TopicPartition(topic, 0);
        consumer.Assign(new TopicPartitionOffset(p0, Offset.Beginning));

        // Stop after 10 records: the position is past them and the next Poll goes on with the 11th.
        var taken = 0;
        await Eventually.WaitUntilAsync(() =>
        {
            foreach (var record in consumer.Poll(100))
            {
                Assert.Equal(taken, record.Offset);
                if (++taken == 10) break;
            }
            return taken == 10;
        }, "10 records of partition 0");
        Assert.Equal(10, consumer.Position(p0));
        Assert.Equal(10, FirstOffsetPolled(consumer));
        Assert.Equal(11, consumer.Position(p0));

        // A seek in the middle of an enumeration ends it; the next records start at the sought offset.
        var afterSeek = 0;
        foreach (var record in consumer.Poll(100))
        {
            if (record.Offset == 20) consumer.Seek(new TopicPartitionOffset(p0, 500));
            afterSeek++;
        }
        Assert.Equal(10, afterSeek); // offsets 11..20
        Assert.Equal(500, consumer.Position(p0));
        Assert.Equal(500, FirstOffsetPolled(consumer));

        // A seek back re-reads, with the record's bytes as produced: value = its index, key = its partition.
        consumer.Seek(new TopicPartitionOffset(p0, 0));
        var expected = 0L;
        await Eventually.WaitUntilAsync(() =>
        {
            foreach (var record in consumer.Poll(100))
            {
                Assert.Equal(expected, record.Offset);
                Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(record.Key));
                Assert.Equal(Partitions * expected, BinaryPrimitives.ReadInt64LittleEndian(record.Value));
                Assert.Equal(TimestampType.CreateTime, record.Timestamp.Type);
                Assert.Equal(1, record.HeaderCount);
                foreach (var header in record.Headers)
                {
                    Assert.Equal("n", header.GetKey());
                    Assert.Equal(Partitions * expected, BinaryPrimitives.ReadInt64LittleEndian(header.Value));
                }
                expected++;
            }
            return expected == 1000;
        }, "partition 0's 1000 records again");
    }

    /// <summary>Polls until one record comes and hands out only that one.</summary>
    private static long FirstOffsetPolled(IConsumer<Ignore, Ignore> consumer)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
            foreach (var record in consumer.Poll(100))
                return record.Offset;
        throw new TimeoutException("no record within 30 s");
    }

    /// <summary>Polls until <paramref name="total"/> records were handed out in all, checking each without allocating.</summary>
    private static void PollUntil(IConsumer<Ignore, Ignore> consumer, OrderCheck check, long total)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (check.Total < total && check.Failure is null)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{check.Total} of {total} records within 60 s");
            foreach (var record in consumer.Poll(100))
            {
                check.Add(record);
                if (check.Total == total) break;
            }
        }
    }

    private sealed class OrderCheck
    {
        public readonly long[] NextOffsets = new long[Partitions];
        public long Total;
        public string? Failure;

        public void Add(in ConsumerRecord record)
        {
            var p = record.TopicPartition.Partition;
            if (record.Offset != NextOffsets[p]) Failure ??= $"{record.TopicPartitionOffset}: expected offset {NextOffsets[p]}";
            else if (BinaryPrimitives.ReadInt64LittleEndian(record.Value) != Partitions * record.Offset + p) Failure ??= $"{record.TopicPartitionOffset}: wrong value";
            NextOffsets[p]++;
            Total++;
        }
    }

    private async Task<string> CreateTopicAsync()
    {
        var topic = $"poll-{Guid.NewGuid():N}"[..24];
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = Partitions, ReplicationFactor = 1 }]);
        return topic;
    }

    private static List<TopicPartitionOffset> AllPartitions(string topic, long offset)
    {
        var all = new List<TopicPartitionOffset>();
        for (var p = 0; p < Partitions; p++) all.Add(new TopicPartitionOffset(new TopicPartition(topic, p), offset));
        return all;
    }

    /// <summary>Record i goes to partition i % 3 with value i and a header "n" = i, so its offset there is i / 3.</summary>
    private async Task ProduceAsync(string topic, int count)
    {
        using var producer = new ProducerBuilder<byte[], byte[]>(fixture.Client, new ProducerConfig { Acks = Acks.Leader, LingerMs = 5 }).Build();
        for (var i = 0; i < count; i++)
        {
            var value = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(value, i);
            var key = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(key, i % Partitions);
            var headers = new Headers { { "n", value } };
            producer.Produce(new TopicPartition(topic, i % Partitions), new Message<byte[], byte[]> { Key = key, Value = value, Headers = headers });
        }
        await producer.FlushAsync(TestContext.Current.CancellationToken);
    }
}
