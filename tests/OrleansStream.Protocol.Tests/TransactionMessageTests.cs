using OrleansStream.Protocol.Messages;

namespace OrleansStream.Protocol.Tests;

/// <summary>The transactional APIs' messages against Kafka's layouts, byte for byte, both ways.</summary>
public class TransactionMessageTests
{
    // transactional_id "tx", producer_id 7, producer_epoch 2.
    private const string TxnProducer = "0002 7478 0000000000000007 0002";

    [Fact]
    public void FindCoordinator_v1_request_for_a_transactional_id_has_key_type_1()
    {
        var bytes = Hex.Parse("0002 7478 01");
        var read = Read(bytes, FindCoordinatorRequest.Read, 1);

        Assert.Equal(new FindCoordinatorRequest("tx", FindCoordinatorRequest.Transaction), read);
        AssertWrites(bytes, read.Write, 1);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void AddPartitionsToTxn_request_names_each_topic_and_its_partitions(short version)
    {
        var bytes = Hex.Parse(TxnProducer + " 00000002 0001 61 00000002 00000000 00000003 0001 62 00000001 00000001");
        var read = Read(bytes, Messages.AddPartitionsToTxnRequest.Read, version);

        Assert.Equal(("tx", 7L, (short)2), (read.TransactionalId, read.ProducerId, read.ProducerEpoch));
        Assert.Equal(["a", "b"], [read.Topics[0].Topic, read.Topics[1].Topic]);
        Assert.Equal([0, 3], read.Topics[0].Partitions);
        Assert.Equal([1], read.Topics[1].Partitions);
        AssertWrites(bytes, read.Write, version);
    }

    [Fact]
    public void AddPartitionsToTxn_response_has_throttle_time_then_an_error_per_partition()
    {
        var response = new TxnPartitionErrorsResponse([new PartitionErrors("a", [(0, ErrorCode.None), (3, ErrorCode.OperationNotAttempted)])]);

        AssertWrites(Hex.Parse("00000000 00000001 0001 61 00000002 00000000 0000 00000003 0037"), (w, _) => response.Write(w, flexible: false), 0);
    }

    /// <summary>
    /// AddPartitionsToTxn v3 is v2 made flexible (Kafka's AddPartitionsToTxnRequest.json, the V3AndBelow fields):
    /// compact strings and arrays, tagged fields after each topic and the request; the answer as TxnOffsetCommit v3's.
    /// </summary>
    [Fact]
    public void AddPartitionsToTxn_v3_is_flexible()
    {
        var bytes = Hex.Parse("03 7478 0000000000000007 0002 03 02 61 03 00000000 00000003 00 02 62 02 00000001 00 00");
        var read = Read(bytes, Messages.AddPartitionsToTxnRequest.Read, 3);

        Assert.Equal(("tx", 7L, (short)2), (read.TransactionalId, read.ProducerId, read.ProducerEpoch));
        Assert.Equal(["a", "b"], [read.Topics[0].Topic, read.Topics[1].Topic]);
        Assert.Equal([0, 3], read.Topics[0].Partitions);
        Assert.Equal([1], read.Topics[1].Partitions);
        AssertWrites(bytes, read.Write, 3);
        var response = new TxnPartitionErrorsResponse([new PartitionErrors("a", [(0, ErrorCode.None), (3, ErrorCode.OperationNotAttempted)])]);
        AssertWrites(Hex.Parse("00000000 02 02 61 03 00000000 0000 00 00000003 0037 00 00 00"), (w, _) => response.Write(w, flexible: true), 3);
    }

    /// <summary>AddOffsetsToTxn and EndTxn v3 are flexible, and v4 (KIP-890: TransactionAbortable allowed) lays out as v3.</summary>
    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void AddOffsetsToTxn_and_EndTxn_v3_and_v4_are_flexible(short version)
    {
        var addOffsets = Hex.Parse("03 7478 0000000000000007 0002 02 67 00");
        var added = Read(addOffsets, Messages.AddOffsetsToTxnRequest.Read, version);
        Assert.Equal(new Messages.AddOffsetsToTxnRequest("tx", 7, 2, "g"), added);
        AssertWrites(addOffsets, added.Write, version);

        var endTxn = Hex.Parse("03 7478 0000000000000007 0002 01 00");
        var ended = Read(endTxn, Messages.EndTxnRequest.Read, version);
        Assert.Equal(new Messages.EndTxnRequest("tx", 7, 2, true), ended);
        AssertWrites(endTxn, ended.Write, version);

        // throttle time, error (120, TransactionAbortable), no tagged fields.
        AssertWrites(Hex.Parse("00000000 0078 00"), new TxnErrorResponse(ErrorCode.TransactionAbortable).Write, version);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void AddOffsetsToTxn_request_ends_with_the_group_id(short version)
    {
        var bytes = Hex.Parse(TxnProducer + " 0001 67");
        var read = Read(bytes, Messages.AddOffsetsToTxnRequest.Read, version);

        Assert.Equal(new Messages.AddOffsetsToTxnRequest("tx", 7, 2, "g"), read);
        AssertWrites(bytes, read.Write, version);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(2, true)]
    public void EndTxn_request_ends_with_committed(short version, bool committed)
    {
        var bytes = Hex.Parse(TxnProducer + (committed ? " 01" : " 00"));
        var read = Read(bytes, Messages.EndTxnRequest.Read, version);

        Assert.Equal(new Messages.EndTxnRequest("tx", 7, 2, committed), read);
        AssertWrites(bytes, read.Write, version);
    }

    [Fact]
    public void AddOffsetsToTxn_and_EndTxn_responses_are_throttle_time_and_error()
    {
        AssertWrites(Hex.Parse("00000000 0033"), new TxnErrorResponse(ErrorCode.ConcurrentTransactions).Write, 1);
    }

    /// <summary>EndTxn v5 (KIP-890 part 2) answers the producer id and epoch after the error; v4 and AddOffsetsToTxn do not.</summary>
    [Fact]
    public void EndTxn_v5_response_carries_the_producer_id_and_epoch_for_the_next_transaction()
    {
        var answer = new TxnErrorResponse(ErrorCode.None, 7, 3);
        var v5 = Hex.Parse("00000000 0000 0000000000000007 0003 00");
        AssertWrites(v5, answer.WriteEndTxn, 5);
        AssertWrites(Hex.Parse("00000000 0000 00"), answer.WriteEndTxn, 4);
        AssertWrites(Hex.Parse("00000000 0000 00"), answer.Write, 5);
        var r = new KafkaReader(v5);
        Assert.Equal(answer, TxnErrorResponse.Read(ref r, 5, endTxn: true));
        Assert.Equal(0, r.Remaining);

        var v5Request = Hex.Parse("03 7478 0000000000000007 0003 01 00");
        var ended = Read(v5Request, Messages.EndTxnRequest.Read, 5);
        Assert.Equal(new Messages.EndTxnRequest("tx", 7, 3, true), ended);
        AssertWrites(v5Request, ended.Write, 5);
    }

    [Fact]
    public void TxnOffsetCommit_v0_request_has_no_leader_epoch()
    {
        var bytes = Hex.Parse("0002 7478 0001 67 0000000000000007 0002 00000001 0001 61 00000001 00000000 000000000000002a ffff");
        var read = Read(bytes, Messages.TxnOffsetCommitRequest.Read, 0);

        Assert.Equal(("tx", "g", 7L, (short)2), (read.TransactionalId, read.GroupId, read.ProducerId, read.ProducerEpoch));
        Assert.Equal(new OffsetCommitPartition(0, 42, -1, null), read.Topics[0].Partitions[0]);
        AssertWrites(bytes, read.Write, 0);
    }

    [Fact]
    public void TxnOffsetCommit_v2_request_carries_the_committed_leader_epoch()
    {
        var bytes = Hex.Parse("0002 7478 0001 67 0000000000000007 0002 00000001 0001 61 00000001 00000004 000000000000002a 00000005 0002 6d64");
        var read = Read(bytes, Messages.TxnOffsetCommitRequest.Read, 2);

        Assert.Equal(new OffsetCommitPartition(4, 42, 5, "md"), read.Topics[0].Partitions[0]);
        AssertWrites(bytes, read.Write, 2);
    }

    [Fact]
    public void InitProducerId_v1_request_with_a_transactional_id_and_response()
    {
        var bytes = Hex.Parse("0002 7478 0000ea60");
        var read = Read(bytes, Messages.InitProducerIdRequest.Read, 1);

        Assert.Equal(new Messages.InitProducerIdRequest("tx", 60_000), read);
        AssertWrites(bytes, read.Write, 1);
        AssertWrites(Hex.Parse("00000000 002f ffffffffffffffff ffff"), new Messages.InitProducerIdResponse(ErrorCode.InvalidProducerEpoch, -1, -1).Write, 1);
    }

    [Fact]
    public void InitProducerId_v2_is_flexible_and_v3_to_v5_carry_the_producers_id_and_epoch()
    {
        // v2: a null compact string (0), the timeout, no tagged fields.
        var idempotent = Hex.Parse("00 0000ea60 00");
        Assert.Equal(new Messages.InitProducerIdRequest(null, 60_000), Read(idempotent, Messages.InitProducerIdRequest.Read, 2));
        AssertWrites(idempotent, new Messages.InitProducerIdRequest(null, 60_000).Write, 2);

        // v3 to v5 (KIP-360; v4 and v5 add errors, no fields): "tx", producer id 42 at epoch 3, asking for a bump.
        var bump = Hex.Parse("03 7478 0000ea60 000000000000002a 0003 00");
        foreach (short version in new short[] { 3, 4, 5 })
        {
            var read = Read(bump, Messages.InitProducerIdRequest.Read, version);
            Assert.Equal(new Messages.InitProducerIdRequest("tx", 60_000, 42, 3), read);
            AssertWrites(bump, read.Write, version);
        }

        AssertWrites(Hex.Parse("00000000 0000 000000000000002a 0004 00"), new Messages.InitProducerIdResponse(ErrorCode.None, 42, 4).Write, 3);
        AssertWrites(Hex.Parse("00000000 005a ffffffffffffffff ffff 00"), new Messages.InitProducerIdResponse(ErrorCode.ProducerFenced, -1, -1).Write, 4);
        AssertWrites(Hex.Parse("00000000 005a ffffffffffffffff ffff 00"), new Messages.InitProducerIdResponse(ErrorCode.ProducerFenced, -1, -1).Write, 5);
    }

    /// <summary>TxnOffsetCommit v3 is flexible with KIP-447's member fields; v4 (KIP-890: TransactionAbortable allowed) lays out as v3.</summary>
    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void TxnOffsetCommit_v3_and_v4_are_flexible_and_carry_the_consumer_generation_and_member(short version)
    {
        var bytes = Hex.Parse("03 7478 02 67 0000000000000007 0002 00000004 02 6d 00 02 02 61 02 00000000 000000000000002a 00000005 00 00 00 00");
        var read = Read(bytes, Messages.TxnOffsetCommitRequest.Read, version);

        Assert.Equal((4, "m", (string?)null), (read.GenerationId, read.MemberId, read.GroupInstanceId));
        Assert.Equal(new OffsetCommitPartition(0, 42, 5, null), read.Topics[0].Partitions[0]);
        AssertWrites(bytes, read.Write, version);
        var response = new TxnPartitionErrorsResponse([new PartitionErrors("a", [(0, ErrorCode.IllegalGeneration)])]);
        AssertWrites(Hex.Parse("00000000 02 02 61 02 00000000 0016 00 00 00"), (w, _) => response.Write(w, flexible: true), version);
    }

    /// <summary>
    /// Kafka 4's client versions, without transactions v2 (EndTxn v5, Produce v12, TxnOffsetCommit v5) and without the
    /// brokers' AddPartitionsToTxn v4+; flexible from v3.
    /// </summary>
    [Fact]
    public void The_transactional_APIs_are_advertised_in_the_versions_implemented()
    {
        foreach (var (key, max) in new[] { (ApiKey.AddPartitionsToTxn, 3), (ApiKey.AddOffsetsToTxn, 4), (ApiKey.EndTxn, 5), (ApiKey.TxnOffsetCommit, 5) })
        {
            Assert.True(ApiVersionsTable.IsSupported(key, 0));
            Assert.True(ApiVersionsTable.IsSupported(key, (short)max));
            Assert.False(ApiVersionsTable.IsSupported(key, (short)(max + 1)));
            Assert.False(ApiVersionsTable.IsFlexible(key, 2));
            Assert.True(ApiVersionsTable.IsFlexible(key, 3));
        }
        Assert.True(ApiVersionsTable.IsSupported(ApiKey.Produce, 12));
        Assert.False(ApiVersionsTable.IsSupported(ApiKey.Produce, 13));
        Assert.True(ApiVersionsTable.IsSupported(ApiKey.InitProducerId, 5));
        Assert.True(ApiVersionsTable.IsFlexible(ApiKey.InitProducerId, 2));
        Assert.False(ApiVersionsTable.IsSupported(ApiKey.InitProducerId, 6));
    }

    [Fact]
    public void DescribeTransactions_v0_is_flexible_with_compact_arrays_and_tagged_fields()
    {
        var bytes = Hex.Parse("02 03 7478 00");
        var read = Read(bytes, DescribeTransactionsRequest.Read, 0);
        Assert.Equal(["tx"], read.TransactionalIds);
        AssertWrites(bytes, read.Write, 0);

        var response = new DescribeTransactionsResponse(
            [new DescribedTransaction(ErrorCode.None, "tx", "Ongoing", 60_000, 5, 7, 2, [new TopicPartitions("a", [0])])]);
        AssertWrites(Hex.Parse(
            "00000000 02 0000 03 7478 08 4f6e676f696e67 0000ea60 0000000000000005 0000000000000007 0002" +
            " 02 02 61 02 00000000 00 00 00"), response.Write, 0);
    }

    [Fact]
    public void ListTransactions_v0_filters_by_state_and_producer_id_and_reports_unknown_states()
    {
        var bytes = Hex.Parse("02 08 4f6e676f696e67 02 0000000000000007 00");
        var read = Read(bytes, ListTransactionsRequest.Read, 0);
        Assert.Equal(["Ongoing"], read.StateFilters);
        Assert.Equal([7L], read.ProducerIdFilters);
        AssertWrites(bytes, read.Write, 0);

        var response = new ListTransactionsResponse(ErrorCode.None, ["x"], [new ListedTransaction("tx", 7, "Ongoing")]);
        AssertWrites(Hex.Parse("00000000 0000 02 02 78 02 03 7478 0000000000000007 08 4f6e676f696e67 00 00"), response.Write, 0);
    }

    [Fact]
    public void ListTransactions_v1_adds_the_duration_filter_after_the_producer_ids()
    {
        var bytes = Hex.Parse("01 01 00000000000003e8 00");
        var read = Read(bytes, ListTransactionsRequest.Read, 1);
        Assert.Empty(read.StateFilters);
        Assert.Empty(read.ProducerIdFilters);
        Assert.Equal(1000, read.DurationFilterMs);
        AssertWrites(bytes, read.Write, 1);
        Assert.Equal(-1, Read(Hex.Parse("01 01 00"), ListTransactionsRequest.Read, 0).DurationFilterMs);
    }

    [Fact]
    public void DescribeProducers_v0_reads_and_writes_Kafkas_bytes()
    {
        // topics [ "t" [0, 1] ]: compact arrays and strings, a tagged-field section per struct and at the end.
        var request = Hex.Parse("02 0274 03 00000000 00000001 00 00");
        var read = Read(request, Messages.DescribeProducersRequest.Read, 0);
        Assert.Equal("t", Assert.Single(read.Topics).Topic);
        Assert.Equal([0, 1], read.Topics[0].Partitions);
        AssertWrites(request, read.Write, 0);

        // t-0: producer 42 at epoch 3, last sequence 9 at 1000 ms, coordinator epoch 2, no open transaction;
        // t-1: NotLeaderOrFollower with a message and no producers.
        var response = new Messages.DescribeProducersResponse([new DescribedProducersTopic("t",
        [
            new DescribedProducersPartition(0, ErrorCode.None, null, [new DescribedProducer(42, 3, 9, 1000, 2, -1)]),
            new DescribedProducersPartition(1, ErrorCode.NotLeaderOrFollower, "m", []),
        ])]);
        AssertWrites(Hex.Parse(
            "00000000 02 0274 03" +
            " 00000000 0000 00 02 000000000000002a 00000003 00000009 00000000000003e8 00000002 ffffffffffffffff 00 00" +
            " 00000001 0006 026d 01 00" +
            " 00 00"), response.Write, 0);
    }

    [Theory]
    [InlineData(0, "00000001 0000000000000007 0002 00 00000001 0001 61 00000002 00000000 00000003 00000005")]
    [InlineData(1, "02 0000000000000007 0002 00 02 0261 03 00000000 00000003 00 00000005 00 00")]
    public void WriteTxnMarkers_request_names_the_producer_its_result_partitions_and_coordinator_epoch(short version, string hex)
    {
        var bytes = Hex.Parse(hex);
        var read = Read(bytes, WriteTxnMarkersRequest.Read, version);

        var marker = Assert.Single(read.Markers);
        Assert.Equal((7L, (short)2, false, 5), (marker.ProducerId, marker.ProducerEpoch, marker.Commit, marker.CoordinatorEpoch));
        Assert.Equal("a", marker.Topics.Single().Topic);
        Assert.Equal([0, 3], marker.Topics.Single().Partitions);
        AssertWrites(bytes, read.Write, version);
    }

    [Theory]
    [InlineData(0, "00000001 0000000000000007 00000001 0001 61 00000002 00000000 0000 00000003 0006")]
    [InlineData(1, "02 0000000000000007 02 0261 03 00000000 0000 00 00000003 0006 00 00 00 00")]
    public void WriteTxnMarkers_response_has_no_throttle_time_and_an_error_per_partition(short version, string hex)
    {
        var bytes = Hex.Parse(hex);
        var response = new WriteTxnMarkersResponse([(7L, new[] { new PartitionErrors("a", [(0, ErrorCode.None), (3, ErrorCode.NotLeaderOrFollower)]) })]);

        AssertWrites(bytes, response.Write, version);
        var read = Read(bytes, WriteTxnMarkersResponse.Read, version);
        Assert.Equal(response.Markers.Single().Topics.Single().Partitions, read.Markers.Single().Topics.Single().Partitions);
    }

    internal static T Read<T>(byte[] bytes, PartitionReader<T> read, short version)
    {
        var r = new KafkaReader(bytes);
        var message = read(ref r, version);
        Assert.Equal(0, r.Remaining);
        return message;
    }

    internal static void AssertWrites(byte[] expected, Action<KafkaWriter, short> write, short version)
    {
        using var w = new KafkaWriter();
        write(w, version);
        Assert.Equal(expected, w.WrittenSpan.ToArray());
    }
}
