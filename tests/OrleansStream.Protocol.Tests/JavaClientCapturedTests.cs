using OrleansStream.Protocol.Messages;

namespace OrleansStream.Protocol.Tests;

/// <summary>
/// Frames written by the Apache Kafka Java client's own message classes (kafka-clients 4.0): each request reads
/// completely and writes back to the same bytes, each response this broker writes is byte for byte Kafka's.
/// </summary>
public class JavaClientCapturedTests
{
    // A read_committed consumer's (and Kafka Streams' exactly_once_v2) OffsetFetch: require_stable set.
    private const string OffsetFetchV7RequireStable = "0000002d0009000700000005000e636f6e73756d65722d6170702d3100046170700203696e030000000000000001000100";

    // The admin client's listConsumerGroupOffsets: null topics, every committed offset of the group.
    private const string OffsetFetchV6AllTopics = "0000001e0009000600000002000d61646d696e636c69656e742d3100046170700000";

    // Kafka's answer: partition 1 has an offset pending in an open transaction, partition 0 is committed at 42 (epoch 3).
    private const string OffsetFetchV7Response = "000000000203696e0300000001ffffffffffffffffffffffff0100580000000000000000000000002a000000030100000000000000";
    private const string OffsetFetchV5Response = "00000000000000010002696e0000000200000001ffffffffffffffffffffffff0000005800000000000000000000002a00000003000000000000";

    [Fact]
    public void OffsetFetch_v7_is_flexible_and_carries_require_stable()
    {
        var request = CapturedRequestTests.RoundTrip(OffsetFetchV7RequireStable, ApiKey.OffsetFetch, OffsetFetchRequest.Read, "consumer-app-1");

        var group = Assert.Single(request.Groups);
        Assert.Equal("app", group.GroupId);
        Assert.True(request.RequireStable);
        var topic = Assert.Single(group.Topics!);
        Assert.Equal("in", topic.Topic);
        Assert.Equal([0, 1], topic.Partitions);
    }

    [Fact]
    public void OffsetFetch_v6_with_null_topics_asks_for_every_offset()
    {
        var request = CapturedRequestTests.RoundTrip(OffsetFetchV6AllTopics, ApiKey.OffsetFetch, OffsetFetchRequest.Read, "adminclient-1");

        var group = Assert.Single(request.Groups);
        Assert.Equal(("app", (IReadOnlyList<TopicPartitions>?)null, false), (group.GroupId, group.Topics, request.RequireStable));
    }

    [Theory]
    [InlineData(7, OffsetFetchV7Response)]
    [InlineData(5, OffsetFetchV5Response)]
    public void OffsetFetch_response_is_written_as_Kafka_writes_it(short version, string expected)
    {
        var response = new OffsetFetchResponse(
            [new OffsetFetchTopic("in", [new OffsetFetchPartition(1, -1, -1, "", ErrorCode.UnstableOffsetCommit), new OffsetFetchPartition(0, 42, 3, "", ErrorCode.None)])],
            ErrorCode.None);

        using var w = new KafkaWriter();
        response.Write(w, version);

        Assert.Equal(expected, Convert.ToHexString(w.WrittenSpan), ignoreCase: true);
    }
}
