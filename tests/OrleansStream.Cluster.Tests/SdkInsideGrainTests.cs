using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// The SDK's blocking calls made from a grain's turn. The grain's scheduler runs one turn at a time, so a blocking
/// call that needs that scheduler to go on (an await resuming there, or Orleans addressing a grain call made there)
/// waits for itself.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SdkInsideGrainTests(ClusterFixture fixture)
{
    /// <summary>Each call finishes in milliseconds; a deadlock is reported at this deadline instead of hanging the run.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    private async Task<T> WithinDeadline<T>(Task<T> call, string what)
    {
        try
        {
            return await call.WaitAsync(Deadline, TestContext.Current.CancellationToken);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{what}, called from a grain, did not return within {Deadline.TotalSeconds:F0} s: it deadlocked on the grain's scheduler.");
        }
    }

    private async Task<string> CreateTopicAsync(int partitions)
    {
        var topic = Unique("in-grain");
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = 1 }]);
        return topic;
    }

    [Fact]
    public async Task AdminClient_GetMetadata_returns_inside_a_grain()
    {
        var topic = await CreateTopicAsync(partitions: 3);
        var grain = fixture.Grains.GetGrain<ISdkCallerGrain>(Guid.NewGuid());

        var partitions = await WithinDeadline(grain.PartitionCount(topic), "IAdminClient.GetMetadata");

        Assert.Equal(3, partitions);
    }

    [Fact]
    public async Task Producer_Produce_and_Flush_return_inside_a_grain()
    {
        var topic = await CreateTopicAsync(partitions: 2);
        var grain = fixture.Grains.GetGrain<ISdkCallerGrain>(Guid.NewGuid());

        var outstanding = await WithinDeadline(grain.ProduceAndFlush(topic, 10), "IProducer.Produce and Flush");

        Assert.Equal(0, outstanding);
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        var described = await admin.DescribeTopicsAsync([topic], new DescribeTopicsOptions());
        long total = 0;
        foreach (var p in described.TopicDescriptions[0].Partitions) total += p.LogEndOffset;
        Assert.Equal(10, total);
    }

    [Fact]
    public async Task Consumer_QueryWatermarkOffsets_Commit_and_Committed_return_inside_a_grain()
    {
        var topic = await CreateTopicAsync(partitions: 1);
        await using (var producer = new ProducerBuilder<string?, string>(fixture.Client, new ProducerConfig { Acks = Acks.Leader }).Build())
            for (var i = 0; i < 3; i++)
                await producer.ProduceAsync(topic, new Message<string?, string> { Key = null, Value = $"v{i}" }, TestContext.Current.CancellationToken);
        var grain = fixture.Grains.GetGrain<ISdkCallerGrain>(Guid.NewGuid());

        var (highWatermark, committed) = await WithinDeadline(grain.CommitHighWatermark(Unique("grp"), topic), "IConsumer.QueryWatermarkOffsets, Commit and Committed");

        Assert.Equal(3, highWatermark);
        Assert.Equal(3, committed);
    }
}

public interface ISdkCallerGrain : IGrainWithGuidKey
{
    /// <summary>The topic's partition count, through the blocking <see cref="IAdminClient.GetMetadata(string, TimeSpan)"/>.</summary>
    Task<int> PartitionCount(string topic);

    /// <summary>Produces <paramref name="count"/> records with the blocking Produce, then Flush; returns what is still outstanding.</summary>
    Task<int> ProduceAndFlush(string topic, int count);

    /// <summary>Partition 0's high watermark, committed as a simple consumer and read back, all blocking calls.</summary>
    Task<(long HighWatermark, long Committed)> CommitHighWatermark(string group, string topic);
}

internal sealed class SdkCallerGrain(IClusterClient client) : Grain, ISdkCallerGrain
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public Task<int> PartitionCount(string topic)
    {
        using var admin = new AdminClientBuilder(client).Build();
        return Task.FromResult(admin.GetMetadata(topic, Timeout).Topics[0].Partitions.Count);
    }

    public Task<int> ProduceAndFlush(string topic, int count)
    {
        using var producer = new ProducerBuilder<string?, string>(client, new ProducerConfig { Acks = Acks.Leader, LingerMs = 1 }).Build();
        for (var i = 0; i < count; i++)
            producer.Produce(topic, new Message<string?, string> { Key = $"k{i}", Value = $"v{i}" });
        return Task.FromResult(producer.Flush(Timeout));
    }

    public Task<(long HighWatermark, long Committed)> CommitHighWatermark(string group, string topic)
    {
        var tp = new TopicPartition(topic, 0);
        using var consumer = new ConsumerBuilder<string?, string>(client, new ConsumerConfig { GroupId = group }).Build();
        long high = consumer.QueryWatermarkOffsets(tp, Timeout).High;
        consumer.Commit([new TopicPartitionOffset(tp, high)]);
        return Task.FromResult((high, consumer.Committed([tp], Timeout)[0].Offset));
    }
}
