using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cluster.Tests;

/// <summary>The producer's buffer limits (queue.buffering.max.messages, queue.buffering.max.kbytes) on the three-silo cluster.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ProducerBufferTests(ClusterFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static BufferPool Pool(int maxMessages, int maxKbytes = 1048576) =>
        new(new ProducerConfig { QueueBufferingMaxMessages = maxMessages, QueueBufferingMaxKbytes = maxKbytes }.Resolve(), TimeProvider.System);

    [Fact]
    public async Task A_full_message_buffer_holds_the_next_record_until_a_delivery_releases_one()
    {
        var pool = Pool(maxMessages: 3);
        Assert.True(pool.TryReserve(100));
        Assert.True(pool.TryReserve(100));
        Assert.True(pool.TryReserve(100));
        Assert.False(pool.TryReserve(100));
        Assert.Equal(3, pool.BufferedMessages);

        var waiting = pool.ReserveAsync(100, Ct).AsTask();
        Assert.False(waiting.IsCompleted);
        pool.Release(200, 2);   // a batch of two records was reported
        await waiting.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(2, pool.BufferedMessages);
        Assert.True(pool.TryReserve(100));
        Assert.False(pool.TryReserve(100));
    }

    [Fact]
    public async Task Zero_messages_means_no_message_limit_and_the_byte_limit_still_holds()
    {
        var pool = Pool(maxMessages: 0, maxKbytes: 1);
        for (var i = 0; i < 10; i++) Assert.True(pool.TryReserve(100));
        Assert.False(pool.TryReserve(100));   // 1,000 of 1,024 bytes taken
        Assert.Equal(10, pool.BufferedMessages);   // a refused byte reservation keeps no message slot

        var unlimited = Pool(maxMessages: 0);
        for (var i = 0; i < 200_000; i++) Assert.True(unlimited.TryReserve(1));
    }

    [Fact]
    public void A_negative_message_limit_is_refused()
    {
        var e = Assert.Throws<OrleansStreamException>(() => new ProducerConfig { QueueBufferingMaxMessages = -1 }.Resolve());
        Assert.Contains("queue.buffering.max.messages", e.Message);
    }

    [Fact]
    public async Task A_producer_limited_to_a_few_messages_delivers_many_in_order()
    {
        var topic = $"buffer-{Guid.NewGuid():N}"[..24];
        using (var admin = new AdminClientBuilder(fixture.Client).Build())
            await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicationFactor = 1 }]);

        var reports = new List<DeliveryReport<string?, string>>();
        using (var producer = new ProducerBuilder<string?, string>(fixture.Client,
                   new ProducerConfig { Acks = Acks.Leader, LingerMs = 1, QueueBufferingMaxMessages = 5, MessageTimeoutMs = 30000 }).Build())
        {
            for (var i = 0; i < 500; i++)
                producer.Produce(topic, new Message<string?, string> { Value = $"v{i}" }, r => { lock (reports) reports.Add(r); });
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        Assert.Equal(500, reports.Count);
        Assert.All(reports, r => Assert.False(r.Error.IsError, r.Error.Reason));
        var byOffset = reports.OrderBy(r => r.Offset).Select(r => r.Message.Value).ToList();
        Assert.Equal(Enumerable.Range(0, 500).Select(i => $"v{i}"), byOffset);
    }
}
