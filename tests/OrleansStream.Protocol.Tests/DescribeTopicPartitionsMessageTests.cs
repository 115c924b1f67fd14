using OrleansStream.Protocol.Messages;

namespace OrleansStream.Protocol.Tests;

/// <summary>DescribeTopicPartitions v0 (KIP-966, flexible from v0), against the bytes of Kafka's DescribeTopicPartitionsRequest.json and Response.json.</summary>
public class DescribeTopicPartitionsMessageTests
{
    private static readonly Guid TopicId = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");

    [Fact]
    public void The_request_reads_topics_limit_and_cursor_and_writes_them_back()
    {
        // topics [a, b], each with its tagged fields; response_partition_limit 3; cursor present (1): topic b, partition 1.
        var bytes = Hex.Parse("03 0261 00 0262 00 00000003 01 0262 00000001 00 00");
        var read = TransactionMessageTests.Read(bytes, DescribeTopicPartitionsRequest.Read, 0);

        Assert.Equal(["a", "b"], read.Topics);
        Assert.Equal(3, read.ResponsePartitionLimit);
        Assert.Equal(new DescribeTopicPartitionsCursor("b", 1), read.Cursor);
        TransactionMessageTests.AssertWrites(bytes, read.Write, 0);
    }

    [Fact]
    public void A_null_cursor_is_the_byte_minus_one()
    {
        // No topics (every topic), limit 2000, a null cursor (-1).
        var bytes = Hex.Parse("01 000007d0 ff 00");
        var read = TransactionMessageTests.Read(bytes, DescribeTopicPartitionsRequest.Read, 0);

        Assert.Equal((0, 2000, (DescribeTopicPartitionsCursor?)null), (read.Topics.Count, read.ResponsePartitionLimit, read.Cursor));
        TransactionMessageTests.AssertWrites(bytes, read.Write, 0);
        // Kafka's reader takes any negative byte as null.
        Assert.Null(TransactionMessageTests.Read(Hex.Parse("01 000007d0 80 00"), DescribeTopicPartitionsRequest.Read, 0).Cursor);
    }

    [Fact]
    public void The_response_writes_each_partition_with_empty_ELR_fields_and_the_next_cursor_and_reads_back()
    {
        var response = new DescribeTopicPartitionsResponse(
        [
            new MetadataTopic(ErrorCode.None, "a", IsInternal: false, [new MetadataPartition(ErrorCode.None, 0, 1, 2, [1, 2], [1], [2])], TopicId, 0x0df8),
            new MetadataTopic(ErrorCode.TopicAuthorizationFailed, "b", IsInternal: false, []),
        ], new DescribeTopicPartitionsCursor("a", 1));
        var bytes = Hex.Parse(
            "00000000 03"
            // a: no error, its id, not internal, one partition: no error, index 0, leader 1, epoch 2, replicas [1, 2],
            // ISR [1], eligible leader replicas [], last known ELR [], offline [2]; authorized operations 0x0df8.
            + " 0000 0261 00112233445566778899aabbccddeeff 00 02 0000 00000000 00000001 00000002 03 00000001 00000002 02 00000001 01 01 02 00000002 00 00000df8 00"
            // b: TopicAuthorizationFailed (29), the zero id, no partitions, operations not given (int.MinValue).
            + " 001d 0262 00000000000000000000000000000000 00 01 80000000 00"
            // next cursor: present, topic a, partition 1; then the answer's tagged fields.
            + " 01 0261 00000001 00 00");

        TransactionMessageTests.AssertWrites(bytes, response.Write, 0);
        var read = TransactionMessageTests.Read(bytes, DescribeTopicPartitionsResponse.Read, 0);
        Assert.Equal(new DescribeTopicPartitionsCursor("a", 1), read.NextCursor);
        Assert.Equal([(ErrorCode.None, "a", TopicId, 0x0df8), (ErrorCode.TopicAuthorizationFailed, "b", Guid.Empty, int.MinValue)],
            read.Topics.Select(t => (t.Error, t.Name, t.TopicId, t.AuthorizedOperations)));
        var p = Assert.Single(read.Topics[0].Partitions);
        Assert.Equal((0, 1, 2), (p.PartitionIndex, p.LeaderId, p.LeaderEpoch));
        Assert.Equal([1, 2], p.ReplicaNodes);
        Assert.Equal([1], p.IsrNodes);
        Assert.Equal([2], p.OfflineReplicas);
    }

    [Fact]
    public void The_versions_table_advertises_v0_flexible()
    {
        Assert.True(ApiVersionsTable.IsSupported(ApiKey.DescribeTopicPartitions, 0));
        Assert.False(ApiVersionsTable.IsSupported(ApiKey.DescribeTopicPartitions, 1));
        Assert.True(ApiVersionsTable.IsFlexible(ApiKey.DescribeTopicPartitions, 0));
        Assert.Equal(75, (int)ApiKey.DescribeTopicPartitions);
    }
}
