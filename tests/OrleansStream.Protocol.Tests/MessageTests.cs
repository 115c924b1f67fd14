using System.Buffers;
using System.Buffers.Binary;
using OrleansStream.Protocol.Messages;
using OrleansStream.Records;

namespace OrleansStream.Protocol.Tests;

/// <summary>Request and response messages of the advertised versions, against bytes real clients send.</summary>
public class MessageTests
{
    // What kcat 1.7 (librdkafka 2.0.2) sends first on a new connection: ApiVersions v3, correlation id 1.
    private const string KcatApiVersionsV3 = "00000024 0012 0003 00000001 0007 72646b61666b61 00 0b 6c696272646b61666b61 06 322e302e32 00";

    [Fact]
    public void Librdkafka_ApiVersions_v3_request_reads_with_header_v2()
    {
        var frame = Hex.Parse(KcatApiVersionsV3);
        var r = new KafkaReader(frame.AsSpan(4));

        var header = RequestHeader.Read(ref r);
        var request = ApiVersionsRequest.Read(ref r, header.ApiVersion);

        Assert.Equal(new RequestHeader(ApiKey.ApiVersions, 3, 1, "rdkafka"), header);
        Assert.True(header.IsFlexible);
        Assert.Equal(new ApiVersionsRequest("librdkafka", "2.0.2"), request);
        Assert.Equal(0, r.Remaining);
        Assert.Equal(frame.Length - 4, BinaryPrimitives.ReadInt32BigEndian(frame));
    }

    [Fact]
    public void ApiVersions_v3_answers_with_response_header_v0_and_compact_arrays()
    {
        using var w = new KafkaWriter();
        var header = new RequestHeader(ApiKey.ApiVersions, 3, 7, "c");
        var frame = header.BeginResponse(w);
        ApiVersionsResponse.Write(w, 3, ErrorCode.None, [new SupportedApi(ApiKey.Fetch, 4, 11)]);
        w.EndFrame(frame);

        // size, correlation id (no header tags), error, compact array of 1 (+1), key 1, 4..11, entry tags, throttle, tags.
        Assert.Equal(Hex.Parse("00000013 00000007 0000 02 0001 0004 000b 00 00000000 00"), w.WrittenSpan.ToArray());
    }

    private const string TransactionVersionName = "14 7472616e73616374696f6e2e76657273696f6e"; // "transaction.version", compact

    private static readonly BrokerFeatures TransactionV2 = new(
        [new SupportedFeature("transaction.version", 0, 2)], 0, [new FinalizedFeature("transaction.version", 2)]);

    /// <summary>
    /// ApiVersions v4 answers the features in tagged fields 0 (supported: name, min, max), 1 (the finalized epoch) and 2
    /// (finalized: name, max level, min level); a supported min of 0 is answered from v4 only (KAFKA-17011).
    /// </summary>
    [Fact]
    public void ApiVersions_v4_answers_transaction_version_supported_from_0_and_finalized_at_2()
    {
        using var w = new KafkaWriter();
        ApiVersionsResponse.Write(w, 4, ErrorCode.None, [new SupportedApi(ApiKey.Fetch, 4, 11)], TransactionV2);

        var expected = Hex.Parse("0000 02 0001 0004 000b 00 00000000 03"
            + " 00 1a 02 " + TransactionVersionName + " 0000 0002 00"
            + " 01 08 0000000000000000"
            + " 02 1a 02 " + TransactionVersionName + " 0002 0002 00");
        Assert.Equal(expected, w.WrittenSpan.ToArray());
        var r = new KafkaReader(expected);
        var (error, apis, features) = ApiVersionsResponse.Read(ref r, 4);
        Assert.Equal(ErrorCode.None, error);
        Assert.Equal([new SupportedApi(ApiKey.Fetch, 4, 11)], apis);
        Assert.Equal(TransactionV2.Supported, features.Supported);
        Assert.Equal(0, features.FinalizedEpoch);
        Assert.Equal(TransactionV2.Finalized, features.Finalized);
        Assert.Equal(0, r.Remaining);
    }

    /// <summary>Before v4 a feature supported from 0 is left out (older clients fail to read it); the finalized level stays. Level 0 is never finalized.</summary>
    [Fact]
    public void ApiVersions_v3_leaves_out_a_feature_supported_from_0_and_no_answer_finalizes_level_0()
    {
        using var w = new KafkaWriter();
        ApiVersionsResponse.Write(w, 3, ErrorCode.None, [new SupportedApi(ApiKey.Fetch, 4, 11)], TransactionV2);
        Assert.Equal(Hex.Parse("0000 02 0001 0004 000b 00 00000000 02"
            + " 01 08 0000000000000000"
            + " 02 1a 02 " + TransactionVersionName + " 0002 0002 00"), w.WrittenSpan.ToArray());

        using var level0 = new KafkaWriter();
        ApiVersionsResponse.Write(level0, 4, ErrorCode.None, [], TransactionV2 with { Finalized = [new FinalizedFeature("transaction.version", 0)] });
        Assert.Equal(Hex.Parse("0000 01 00000000 02 00 1a 02 " + TransactionVersionName + " 0000 0002 00 01 08 0000000000000000"), level0.WrittenSpan.ToArray());
    }

    /// <summary>
    /// ApiVersions v4 (KAFKA-17011) changes no field: its request is v3's, and so is its answer without features.
    /// </summary>
    [Fact]
    public void ApiVersions_v4_reads_and_answers_as_v3()
    {
        var body = Hex.Parse("0b 6c696272646b61666b61 06 322e302e32 00");
        var r = new KafkaReader(body);
        Assert.Equal(new ApiVersionsRequest("librdkafka", "2.0.2"), ApiVersionsRequest.Read(ref r, 4));
        Assert.Equal(0, r.Remaining);
        using var written = new KafkaWriter();
        new ApiVersionsRequest("librdkafka", "2.0.2").Write(written, 4);
        Assert.Equal(body, written.WrittenSpan.ToArray());

        using var w = new KafkaWriter();
        var frame = new RequestHeader(ApiKey.ApiVersions, 4, 7, "c").BeginResponse(w);
        ApiVersionsResponse.Write(w, 4, ErrorCode.None, [new SupportedApi(ApiKey.Fetch, 4, 11)]);
        w.EndFrame(frame);
        Assert.Equal(Hex.Parse("00000013 00000007 0000 02 0001 0004 000b 00 00000000 00"), w.WrittenSpan.ToArray());
    }

    [Fact]
    public void ApiVersions_v0_layout_is_what_an_unsupported_version_gets()
    {
        using var w = new KafkaWriter();
        ApiVersionsResponse.Write(w, 0, ErrorCode.UnsupportedVersion, [new SupportedApi(ApiKey.ApiVersions, 0, 3)]);

        Assert.Equal(Hex.Parse("0023 00000001 0012 0000 0003"), w.WrittenSpan.ToArray());
    }

    [Fact]
    public void Flexible_responses_of_other_apis_carry_response_header_v1()
    {
        using var w = new KafkaWriter();
        var frame = new RequestHeader(ApiKey.Metadata, 9, 5, null).BeginResponse(w);
        w.EndFrame(frame);

        Assert.Equal(Hex.Parse("00000005 00000005 00"), w.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(12)]
    public void Metadata_requests_round_trip_and_ask_for_every_topic_by_null_or_v0_empty(short version)
    {
        var some = new Messages.MetadataRequest(["a", "b"], AllowAutoTopicCreation: true);
        var every = new Messages.MetadataRequest(null, AllowAutoTopicCreation: false);

        Assert.Equal(["a", "b"], RoundTrip(some, version).Topics);
        var all = RoundTrip(every, version);
        Assert.Null(all.Topics);
        Assert.Equal(version < 4, all.AllowAutoTopicCreation);
    }

    private static Messages.MetadataRequest RoundTrip(Messages.MetadataRequest request, short version)
    {
        using var w = new KafkaWriter();
        request.Write(w, version);
        var r = new KafkaReader(w.WrittenSpan);
        var read = Messages.MetadataRequest.Read(ref r, version);
        Assert.Equal(0, r.Remaining);
        return read;
    }

    [Fact]
    public void Metadata_v8_response_has_every_field_of_its_version()
    {
        var response = new Messages.MetadataResponse(
            [new MetadataBroker(3, "h", 9092, null)], "cid", 3,
            [new MetadataTopic(ErrorCode.None, "t", false, [new MetadataPartition(ErrorCode.None, 0, 3, 5, [3], [3], [])])]);
        using var w = new KafkaWriter();
        response.Write(w, 8);

        Assert.Equal(Hex.Parse(
            "00000000" +                                          // throttle
            "00000001 00000003 0001 68 00002384 ffff" +           // brokers: id, host, port, rack null
            "0003 636964 00000003" +                              // cluster id, controller id
            "00000001 0000 0001 74 00" +                          // topic: error, name, internal
            "00000001 0000 00000000 00000003 00000005" +          // partition: error, index, leader, epoch
            "00000001 00000003 00000001 00000003 00000000" +      // replicas, isr, offline
            "80000000 80000000"), w.WrittenSpan.ToArray());       // topic and cluster authorized operations omitted
    }

    /// <summary>
    /// Metadata v9 is v8 made flexible (Kafka's MetadataRequest.json and MetadataResponse.json): compact strings and
    /// arrays, a tagged-field section after each broker, partition, topic and the whole. librdkafka takes leader epochs
    /// as reliable only from this version on.
    /// </summary>
    [Fact]
    public void Metadata_v9_is_flexible()
    {
        var request = Hex.Parse("02 0274 00 01 00 00 00");
        var r = new KafkaReader(request);
        var read = Messages.MetadataRequest.Read(ref r, 9);
        Assert.Equal((0, true), (r.Remaining, read.AllowAutoTopicCreation));
        Assert.Equal(["t"], read.Topics);
        var every = new KafkaReader(Hex.Parse("00 00 00 00 00"));
        Assert.Null(Messages.MetadataRequest.Read(ref every, 9).Topics);

        var response = new Messages.MetadataResponse(
            [new MetadataBroker(3, "h", 9092, null)], "cid", 3,
            [new MetadataTopic(ErrorCode.None, "t", false, [new MetadataPartition(ErrorCode.None, 0, 3, 5, [3], [3], [])])]);
        using var w = new KafkaWriter();
        response.Write(w, 9);

        Assert.Equal(Hex.Parse(
            "00000000" +                                          // throttle
            "02 00000003 0268 00002384 00 00" +                   // brokers: id, host, port, rack null, tags
            "04636964 00000003" +                                 // cluster id, controller id
            "02 0000 0274 00" +                                   // topic: error, name, internal
            "02 0000 00000000 00000003 00000005" +                // partition: error, index, leader, epoch
            "02 00000003 02 00000003 01 00" +                     // replicas, isr, offline, tags
            "80000000 00 80000000 00"), w.WrittenSpan.ToArray()); // authorized operations omitted, tags
    }

    /// <summary>
    /// Metadata v10-13 (KIP-516): each request topic and response topic carries its id (after the name in the answer,
    /// before it in the request); v11 drops the cluster's authorized operations from both; v12 lets a name be null
    /// (a request by id, an answer for an id no topic has); v13 answers a top-level error after the topics.
    /// </summary>
    [Fact]
    public void Metadata_v10_to_v13_carry_topic_ids_and_v11_drops_the_clusters_authorized_operations()
    {
        var id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        var request = Hex.Parse("03 00112233445566778899aabbccddeeff 00 00 00000000000000000000000000000000 0274 00 00 00 00");
        var r = new KafkaReader(request);
        var read = Messages.MetadataRequest.Read(ref r, 12);
        Assert.Equal(0, r.Remaining);
        Assert.Equal([new MetadataRequestTopic(id, null), new MetadataRequestTopic(Guid.Empty, "t")], read.Topics);
        Assert.False(read.AllowAutoTopicCreation);
        using (var rw = new KafkaWriter())
        {
            read.Write(rw, 12);
            Assert.Equal(request, rw.WrittenSpan.ToArray());
        }
        // v10 still asks whether to include the cluster's authorized operations.
        var v10 = new KafkaReader(Hex.Parse("02 00000000000000000000000000000000 0274 00 01 00 00 00"));
        Assert.Equal(["t"], Messages.MetadataRequest.Read(ref v10, 10).Topics);
        Assert.Equal(0, v10.Remaining);

        var response = new Messages.MetadataResponse([], "c", 3,
            [new MetadataTopic(ErrorCode.None, "t", false, [], id), new MetadataTopic(ErrorCode.UnknownTopicId, null, false, [], id)]);
        using var w10 = new KafkaWriter();
        response.Write(w10, 10);
        Assert.Equal(Hex.Parse(
            "00000000 01 0263 00000003" +                                        // throttle, no brokers, cluster id, controller
            "03 0000 0274 00112233445566778899aabbccddeeff 00 01 80000000 00" +  // topic: error, name, id, internal, partitions, operations, tags
            "0064 01 00112233445566778899aabbccddeeff 00 01 80000000 00" +       // a null name is written empty before v12
            "80000000 00"), w10.WrittenSpan.ToArray());                          // cluster authorized operations, tags
        using var w12 = new KafkaWriter();
        response.Write(w12, 12);
        Assert.Equal(Hex.Parse(
            "00000000 01 0263 00000003" +
            "03 0000 0274 00112233445566778899aabbccddeeff 00 01 80000000 00" +
            "0064 00 00112233445566778899aabbccddeeff 00 01 80000000 00" +      // null name
            "00"), w12.WrittenSpan.ToArray());                                   // no cluster authorized operations from v11
        using var w13 = new KafkaWriter();
        response.Write(w13, 13);
        Assert.Equal(Hex.Parse(
            "00000000 01 0263 00000003" +
            "03 0000 0274 00112233445566778899aabbccddeeff 00 01 80000000 00" +
            "0064 00 00112233445566778899aabbccddeeff 00 01 80000000 00" +
            "0000 00"), w13.WrittenSpan.ToArray());                              // v13 (KIP-1102): the top-level error, none
        var v13 = new KafkaReader(request);
        Assert.Equal(read.Topics, Messages.MetadataRequest.Read(ref v13, 13).Topics);
        Assert.Equal(0, v13.Remaining);
    }

    /// <summary>
    /// Fetch v12-16 as Kafka's FetchRequest.json and FetchResponse.json lay them out: v12 flexible with each partition's
    /// last fetched epoch and, in the answer, the tagged diverging epoch (tag 0) and current leader (tag 1); v13 topics
    /// by id; v15 without the replica id; v16's tagged node endpoints (tag 0) at the end of the answer.
    /// </summary>
    [Fact]
    public void Fetch_v12_to_v16_carry_epochs_topic_ids_and_leader_hints_in_tagged_fields()
    {
        var id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        var request = new Messages.FetchRequest(-1, 500, 1, 1000, 1, 0, -1, [new FetchTopic("", [new FetchPartition(2, 4, 10, -1, 100, 3)], id)], "r");
        using (var w = new KafkaWriter())
        {
            request.Write(w, 15);
            Assert.Equal(Hex.Parse(
                "000001f4 00000001 000003e8 01 00000000 ffffffff" +            // no replica id from v15: max wait, min bytes, max bytes, isolation, session
                "02 00112233445566778899aabbccddeeff 02" +                     // one topic by id, one partition
                "00000002 00000004 000000000000000a 00000003 ffffffffffffffff 00000064 00" + // index, leader epoch, offset, last fetched epoch, log start, max bytes
                "00 01 0272 00"), w.WrittenSpan.ToArray());                     // topic tags, no forgotten topics, rack, tags
            var r = new KafkaReader(w.WrittenSpan);
            var read = Messages.FetchRequest.Read(ref r, 15);
            Assert.Equal(0, r.Remaining);
            Assert.Equal((id, new FetchPartition(2, 4, 10, -1, 100, 3)), (read.Topics[0].TopicId, read.Topics[0].Partitions[0]));
        }

        var partition = new FetchPartitionResponse(0, ErrorCode.None, 5, 5, 0, null, ReadOnlyMemory<byte>.Empty, DivergingEpoch: 2, DivergingEndOffset: 3);
        using var v12 = new KafkaWriter();
        new Messages.FetchResponse(ErrorCode.None, [new FetchTopicResponse("t", [partition], id)]).Write(v12, 12);
        Assert.Equal(Hex.Parse(
            "00000000 0000 00000000 02 0274 02" +                                 // throttle, error, session, topic "t", one partition
            "00000000 0000 0000000000000005 0000000000000005 0000000000000000" +  // index, error, high watermark, last stable, log start
            "00 ffffffff 01" +                                                    // no aborted transactions, preferred read replica, no records
            "01 00 0d 00000002 0000000000000003 00" +                             // tag 0: diverging epoch 2 ending at 3
            "00 00"), v12.WrittenSpan.ToArray());

        var moved = new FetchPartitionResponse(0, ErrorCode.NotLeaderOrFollower, -1, -1, -1, null, ReadOnlyMemory<byte>.Empty, CurrentLeaderId: 1, CurrentLeaderEpoch: 7);
        using var v16 = new KafkaWriter();
        new Messages.FetchResponse(ErrorCode.None, [new FetchTopicResponse("t", [moved], id)], [new MetadataBroker(1, "h", 9092, null)]).Write(v16, 16);
        Assert.Equal(Hex.Parse(
            "00000000 0000 00000000 02 00112233445566778899aabbccddeeff 02" +    // the topic by id
            "00000000 0006 ffffffffffffffff ffffffffffffffff ffffffffffffffff 00 ffffffff 01" +
            "01 01 09 00000001 00000007 00" +                                     // tag 1: current leader 1 in epoch 7
            "00" +
            "01 00 0d 02 00000001 0268 00002384 00 00"), v16.WrittenSpan.ToArray()); // tag 0: node endpoints
        var back = new KafkaReader(v16.WrittenSpan);
        var answer = Messages.FetchResponse.Read(ref back, 16);
        Assert.Equal(0, back.Remaining);
        Assert.Equal((1, 7), (answer.Topics[0].Partitions[0].CurrentLeaderId, answer.Topics[0].Partitions[0].CurrentLeaderEpoch));
        Assert.Equal([new MetadataBroker(1, "h", 9092, null)], answer.NodeEndpoints);
    }

    /// <summary>
    /// Fetch v17 (KIP-853) as Kafka's FetchRequest.json lays it out: each partition may carry the follower's replica
    /// directory id as tagged field 0 (a uuid) after its max bytes, which a consumer never sends and this broker skips;
    /// everything else is v16's request, and the answer is v16's (FetchResponse.json: no change in v17).
    /// </summary>
    [Fact]
    public void Fetch_v17_skips_the_tagged_replica_directory_id_and_is_otherwise_v16()
    {
        var id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        var v17 = new KafkaReader(Hex.Parse(
            "000001f4 00000001 000003e8 01 00000000 ffffffff" +               // max wait, min bytes, max bytes, isolation, session
            "02 00112233445566778899aabbccddeeff 02" +                        // one topic by id, one partition
            "00000002 00000004 000000000000000a 00000003 ffffffffffffffff 00000064" + // index, leader epoch, offset, last fetched epoch, log start, max bytes
            "01 00 10 ffeeddccbbaa99887766554433221100" +                     // tag 0: replica directory id (16 bytes)
            "00 01 0272 00"));                                                // topic tags, no forgotten topics, rack, tags
        var read = Messages.FetchRequest.Read(ref v17, 17);
        Assert.Equal(0, v17.Remaining);
        Assert.Equal((id, new FetchPartition(2, 4, 10, -1, 100, 3), "r"), (read.Topics[0].TopicId, read.Topics[0].Partitions[0], read.RackId));

        var request = new Messages.FetchRequest(-1, 500, 1, 1000, 1, 0, -1, [new FetchTopic("", [new FetchPartition(2, 4, 10, -1, 100, 3)], id)], "r");
        using (var w16 = new KafkaWriter())
        using (var w17 = new KafkaWriter())
        {
            request.Write(w16, 16);
            request.Write(w17, 17);
            Assert.Equal(w16.WrittenSpan.ToArray(), w17.WrittenSpan.ToArray());  // no directory id written: a consumer's request
        }

        var moved = new FetchPartitionResponse(0, ErrorCode.NotLeaderOrFollower, -1, -1, -1, null, ReadOnlyMemory<byte>.Empty, CurrentLeaderId: 1, CurrentLeaderEpoch: 7);
        var response = new Messages.FetchResponse(ErrorCode.None, [new FetchTopicResponse("t", [moved], id)], [new MetadataBroker(1, "h", 9092, null)]);
        using var a16 = new KafkaWriter();
        using var a17 = new KafkaWriter();
        response.Write(a16, 16);
        response.Write(a17, 17);
        Assert.Equal(a16.WrittenSpan.ToArray(), a17.WrittenSpan.ToArray());
    }

    /// <summary>
    /// Produce v9 is v8 made flexible (compact strings, arrays and records, tagged fields); v10 (KIP-951) tags a moved
    /// partition's current leader (tag 0) and ends the answer with the leaders' endpoints (tag 0), as Kafka's
    /// ProduceRequest.json and ProduceResponse.json lay them out.
    /// </summary>
    [Fact]
    public void Produce_v9_is_flexible_and_v10_answers_the_current_leader_of_a_moved_partition()
    {
        var request = new Messages.ProduceRequest(null, -1, 1000, [new ProduceTopicData("t", [new ProducePartitionData(1, new byte[] { 7, 8 }, false)])]);
        using (var w = new KafkaWriter())
        {
            request.Write(w, 9);
            Assert.Equal(Hex.Parse("00 ffff 000003e8 02 0274 02 00000001 03 0708 00 00 00"), w.WrittenSpan.ToArray());
            var r = new KafkaReader(w.WrittenSpan);
            var read = Messages.ProduceRequest.Read(ref r, 9, w.WrittenMemory);
            Assert.Equal(0, r.Remaining);
            Assert.Equal([7, 8], read.Topics[0].Partitions[0].Records.ToArray());
        }

        var response = new Messages.ProduceResponse([new ProduceTopicResponse("t", [
            new ProducePartitionResponse(0, ErrorCode.None, 5, -1, 0, null),
            new ProducePartitionResponse(1, ErrorCode.NotLeaderOrFollower, -1, -1, -1, "m", CurrentLeaderId: 2, CurrentLeaderEpoch: 4)])],
            [new MetadataBroker(2, "h", 9092, null)]);
        using var v9 = new KafkaWriter();
        response.Write(v9, 9);
        Assert.Equal(Hex.Parse(
            "02 0274 03" +
            "00000000 0000 0000000000000005 ffffffffffffffff 0000000000000000 01 00 00" +  // no record errors, no message, no tags
            "00000001 0006 ffffffffffffffff ffffffffffffffff ffffffffffffffff 01 026d 00" + // v9 has no current leader
            "00 00000000 00"), v9.WrittenSpan.ToArray());                                   // topic tags, throttle, tags
        using var v10 = new KafkaWriter();
        response.Write(v10, 10);
        Assert.Equal(Hex.Parse(
            "02 0274 03" +
            "00000000 0000 0000000000000005 ffffffffffffffff 0000000000000000 01 00 00" +
            "00000001 0006 ffffffffffffffff ffffffffffffffff ffffffffffffffff 01 026d 01 00 09 00000002 00000004 00" + // tag 0: leader 2, epoch 4
            "00 00000000" +
            "01 00 0d 02 00000002 0268 00002384 00 00"), v10.WrittenSpan.ToArray());      // tag 0: node endpoints
        var back = new KafkaReader(v10.WrittenSpan);
        var answer = Messages.ProduceResponse.Read(ref back, 10);
        Assert.Equal(0, back.Remaining);
        Assert.Equal((2, 4, "m"), (answer.Topics[0].Partitions[1].CurrentLeaderId, answer.Topics[0].Partitions[1].CurrentLeaderEpoch, answer.Topics[0].Partitions[1].ErrorMessage));
        Assert.Equal([new MetadataBroker(2, "h", 9092, null)], answer.NodeEndpoints);
    }

    /// <summary>
    /// Produce v11 (KIP-890) adds no field to Kafka's ProduceRequest.json or ProduceResponse.json: the request is v10's
    /// (and v9's) bytes, and the answer v10's layout, where a partition's error may now be TransactionAbortable (120).
    /// </summary>
    [Fact]
    public void Produce_v11_is_v10s_layout_and_may_answer_TransactionAbortable()
    {
        var request = new Messages.ProduceRequest("tx", -1, 1000, [new ProduceTopicData("t", [new ProducePartitionData(1, new byte[] { 7, 8 }, false)])]);
        using (var w = new KafkaWriter())
        {
            request.Write(w, 11);
            Assert.Equal(Hex.Parse("03 7478 ffff 000003e8 02 0274 02 00000001 03 0708 00 00 00"), w.WrittenSpan.ToArray());
            var r = new KafkaReader(w.WrittenSpan);
            var read = Messages.ProduceRequest.Read(ref r, 11, w.WrittenMemory);
            Assert.Equal(0, r.Remaining);
            Assert.Equal(("tx", (short)-1, 1000), (read.TransactionalId, read.Acks, read.TimeoutMs));
            Assert.Equal([7, 8], read.Topics[0].Partitions[0].Records.ToArray());
        }

        var response = new Messages.ProduceResponse([new ProduceTopicResponse("t", [new ProducePartitionResponse(0, ErrorCode.TransactionAbortable, -1, -1, -1, "m")])]);
        using var v11 = new KafkaWriter();
        response.Write(v11, 11);
        Assert.Equal(Hex.Parse(
            "02 0274 02" +
            "00000000 0078 ffffffffffffffff ffffffffffffffff ffffffffffffffff 01 026d 00" + // error 120, no record errors, message "m", no tags
            "00 00000000 00"), v11.WrittenSpan.ToArray());                                  // topic tags, throttle, tags
        var back = new KafkaReader(v11.WrittenSpan);
        Assert.Equal(ErrorCode.TransactionAbortable, Messages.ProduceResponse.Read(ref back, 11).Topics[0].Partitions[0].Error);
        Assert.Equal(0, back.Remaining);
    }

    [Fact]
    public void Metadata_v0_response_has_no_rack_cluster_or_controller()
    {
        var response = new Messages.MetadataResponse([new MetadataBroker(1, "h", 1, "r")], "cid", 1, []);
        using var w = new KafkaWriter();
        response.Write(w, 0);

        Assert.Equal(Hex.Parse("00000001 00000001 0001 68 00000001 00000000"), w.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData(3)]
    [InlineData(8)]
    public void Produce_request_records_are_slices_of_the_frame_not_copies(short version)
    {
        var batch = OneRecordBatch();
        var request = new Messages.ProduceRequest(null, -1, 1500, [new ProduceTopicData("t", [new ProducePartitionData(2, batch, false)])]);
        using var w = new KafkaWriter();
        request.Write(w, version);
        var frame = w.WrittenMemory;

        var r = new KafkaReader(frame.Span);
        var read = Messages.ProduceRequest.Read(ref r, version, frame);

        Assert.Equal(0, r.Remaining);
        Assert.Equal((short)-1, read.Acks);
        var records = read.Topics[0].Partitions[0].Records;
        Assert.Equal(batch, records.ToArray());
        Assert.True(frame.Span.Overlaps(records.Span));
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(records.Span, out var header));
        Assert.Equal(1, header.RecordCount);
    }

    [Fact]
    public void Produce_response_v8_has_log_start_offset_record_errors_and_message()
    {
        var response = new Messages.ProduceResponse([new ProduceTopicResponse("t", [new ProducePartitionResponse(1, ErrorCode.NotLeaderOrFollower, -1, -1, 4, "moved")])]);
        using var w = new KafkaWriter();
        response.Write(w, 8);

        Assert.Equal(Hex.Parse(
            "00000001 0001 74 00000001 00000001 0006 ffffffffffffffff ffffffffffffffff 0000000000000004" +
            "00000000 0005 6d6f766564 00000000"), w.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(11)]
    public void Fetch_requests_round_trip(short version)
    {
        var request = new Messages.FetchRequest(-1, 500, 1, 52428800, 1, 0, -1,
            [new FetchTopic("t", [new FetchPartition(0, version >= 9 ? 4 : -1, 42, version >= 5 ? 0 : -1, 1048576)])],
            version >= 11 ? "rack" : null);
        var read = ReadBack(request.Write, Messages.FetchRequest.Read, version);

        Assert.Equal(request.Topics[0].Partitions[0], read.Topics[0].Partitions[0]);
        Assert.Equal(request with { Topics = read.Topics }, read);
    }

    [Fact]
    public void Fetch_response_carries_the_stored_batches_verbatim_with_LSO_and_aborted_transactions()
    {
        var batch = OneRecordBatch();
        var response = new Messages.FetchResponse(ErrorCode.None,
            [new FetchTopicResponse("t", [new FetchPartitionResponse(0, ErrorCode.None, 10, 8, 0, [new FetchAbortedTransaction(7, 3)], batch)])]);
        using var w = new KafkaWriter();
        response.Write(w, 11);

        var r = new KafkaReader(w.WrittenSpan);
        Assert.Equal(0, r.ReadInt32());                 // throttle
        Assert.Equal(0, r.ReadInt16());                 // error
        Assert.Equal(0, r.ReadInt32());                 // session id: none kept
        Assert.Equal(1, r.ReadArrayLength(false));
        Assert.Equal("t", r.ReadString(false));
        Assert.Equal(1, r.ReadArrayLength(false));
        Assert.Equal(0, r.ReadInt32());
        Assert.Equal(0, r.ReadInt16());
        Assert.Equal(10, r.ReadInt64());                // high watermark
        Assert.Equal(8, r.ReadInt64());                 // last stable offset
        Assert.Equal(0, r.ReadInt64());                 // log start offset
        Assert.Equal(1, r.ReadArrayLength(false));
        Assert.Equal(7, r.ReadInt64());
        Assert.Equal(3, r.ReadInt64());
        Assert.Equal(-1, r.ReadInt32());                // preferred read replica
        Assert.Equal(batch, r.ReadBytes(false).ToArray());
        Assert.Equal(0, r.Remaining);
    }

    [Fact]
    public void Fetch_response_of_several_large_partitions_carries_each_ones_batches_by_reference_and_verbatim()
    {
        var first = new byte[KafkaWriter.MinReferencedBytes * 4];
        var second = new byte[KafkaWriter.MinReferencedBytes + 1];
        Random.Shared.NextBytes(first);
        Random.Shared.NextBytes(second);
        var response = new Messages.FetchResponse(ErrorCode.None,
        [
            new FetchTopicResponse("a", [new FetchPartitionResponse(0, ErrorCode.None, 10, 8, 0, [new FetchAbortedTransaction(7, 3)], first),
                new FetchPartitionResponse(1, ErrorCode.NotLeaderOrFollower, -1, -1, -1, null, ReadOnlyMemory<byte>.Empty)]),
            new FetchTopicResponse("b", [new FetchPartitionResponse(2, ErrorCode.None, 20, 20, 5, null, second)]),
        ]);
        using var w = new KafkaWriter();
        var frame = w.BeginFrame();
        response.Write(w, 11);
        w.EndFrame(frame);

        Assert.True(w.Length < KafkaWriter.MinReferencedBytes, "the record sets were copied");
        var bytes = w.WrittenSequence.ToArray();
        var r = new KafkaReader(bytes);
        Assert.Equal(bytes.Length - 4, r.ReadInt32());  // frame size
        r.ReadInt32();
        r.ReadInt16();
        r.ReadInt32();
        Assert.Equal(2, r.ReadArrayLength(false));
        Assert.Equal("a", r.ReadString(false));
        Assert.Equal(2, r.ReadArrayLength(false));
        ReadPartition(ref r, 0, ErrorCode.None, 10, 8, 0, [(7, 3)], first);
        ReadPartition(ref r, 1, ErrorCode.NotLeaderOrFollower, -1, -1, -1, null, []);
        Assert.Equal("b", r.ReadString(false));
        Assert.Equal(1, r.ReadArrayLength(false));
        ReadPartition(ref r, 2, ErrorCode.None, 20, 20, 5, null, second);
        Assert.Equal(0, r.Remaining);
    }

    /// <summary>One partition of a FetchResponse v11, field by field.</summary>
    private static void ReadPartition(ref KafkaReader r, int index, ErrorCode error, long highWatermark, long lastStable, long logStart,
        (long ProducerId, long FirstOffset)[]? aborted, byte[] records)
    {
        Assert.Equal(index, r.ReadInt32());
        Assert.Equal((short)error, r.ReadInt16());
        Assert.Equal(highWatermark, r.ReadInt64());
        Assert.Equal(lastStable, r.ReadInt64());
        Assert.Equal(logStart, r.ReadInt64());
        Assert.Equal(aborted?.Length ?? -1, r.ReadArrayLength(false));
        foreach (var (producerId, firstOffset) in aborted ?? [])
        {
            Assert.Equal(producerId, r.ReadInt64());
            Assert.Equal(firstOffset, r.ReadInt64());
        }
        Assert.Equal(-1, r.ReadInt32());                // preferred read replica
        Assert.Equal(records, r.ReadBytes(false).ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(6)]
    public void ListOffsets_requests_round_trip(short version)
    {
        var request = new Messages.ListOffsetsRequest(-1, (sbyte)(version >= 2 ? 1 : 0),
            [new ListOffsetsTopic("t", [new ListOffsetsPartition(3, version >= 4 ? 2 : -1, 1_700_000_000_000)])]);
        var read = ReadBack(request.Write, Messages.ListOffsetsRequest.Read, version);

        Assert.Equal(request.Topics[0].Partitions[0], read.Topics[0].Partitions[0]);
        Assert.Equal(request.IsolationLevel, read.IsolationLevel);
    }

    /// <summary>
    /// v7 asking MAX_TIMESTAMP (-3, KIP-734), v8 EARLIEST_LOCAL (-4, KIP-405) and v9 LATEST_TIERED (-5, KIP-1005),
    /// flexible as Kafka's ListOffsetsRequest.json lays them out.
    /// </summary>
    [Theory]
    [InlineData(7, -3)]
    [InlineData(8, -4)]
    [InlineData(9, -5)]
    public void ListOffsets_flexible_requests_read_Kafka_bytes_and_write_them_back(short version, long timestamp)
    {
        // replica -1, read_uncommitted, topics [ "t" [ partition 0, leader epoch -1, timestamp ] ], each with empty tagged fields
        var bytes = Hex.Parse($"ffffffff 00 02 0274 02 00000000 ffffffff {timestamp:x16} 00 00 00");
        var r = new KafkaReader(bytes);
        var read = Messages.ListOffsetsRequest.Read(ref r, version);
        using var w = new KafkaWriter();
        read.Write(w, version);

        Assert.Equal(0, r.Remaining);
        Assert.Equal(new ListOffsetsPartition(0, -1, timestamp), Assert.Single(Assert.Single(read.Topics).Partitions));
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
    }

    [Fact]
    public void ListOffsets_v10_request_has_the_timeout_after_the_topics()
    {
        // replica -1, read_committed, topics [ "t" [ partition 0, leader epoch 7, timestamp 1_700_000_000_000 ] ], timeout 15000 ms
        var bytes = Hex.Parse("ffffffff 01 02 0274 02 00000000 00000007 0000018bcfe56800 00 00 00003a98 00");
        var r = new KafkaReader(bytes);
        var read = Messages.ListOffsetsRequest.Read(ref r, 10);
        using var w = new KafkaWriter();
        read.Write(w, 10);

        Assert.Equal(0, r.Remaining);
        Assert.Equal(15_000, read.TimeoutMs);
        Assert.Equal(new ListOffsetsPartition(0, 7, 1_700_000_000_000), Assert.Single(Assert.Single(read.Topics).Partitions));
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
        // v9 has no timeout: the same request is four bytes shorter.
        using var v9 = new KafkaWriter();
        read.Write(v9, 9);
        Assert.Equal(bytes.Length - 4, v9.WrittenSpan.Length);
    }

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(-2, 0)]
    [InlineData(1_700_000_000_000, 0)]
    [InlineData(-3, 7)]
    [InlineData(-4, 8)]
    [InlineData(-5, 9)]
    [InlineData(-6, -1)]
    public void ListOffsets_special_timestamps_need_the_version_that_introduced_them(long timestamp, short minVersion) =>
        Assert.Equal(minVersion, Messages.ListOffsetsRequest.MinVersionFor(timestamp));

    /// <summary>
    /// OffsetCommit v1 (what sarama 1.22 sends unless told a retention): generation and member id, and a commit timestamp
    /// per partition between the offset and the metadata (Kafka's OffsetCommitRequest.json); the response is v2's.
    /// </summary>
    [Fact]
    public void OffsetCommit_v1_request_reads_the_commit_timestamp_of_each_partition_and_writes_it_as_minus_one()
    {
        // group "g", generation 1, member "m", topics [ "t" [ partition 0, offset 5, commit timestamp -1, metadata "" ] ]
        var bytes = Hex.Parse("0001 67 00000001 0001 6d 00000001 0001 74 00000001 00000000 0000000000000005 ffffffffffffffff 0000");
        var r = new KafkaReader(bytes);
        var read = Messages.OffsetCommitRequest.Read(ref r, 1);
        using var w = new KafkaWriter();
        read.Write(w, 1);
        using var response = new KafkaWriter();
        new Messages.OffsetCommitResponse([new PartitionErrors("t", [(0, ErrorCode.None)])]).Write(response, 1);

        Assert.Equal(0, r.Remaining);
        Assert.Equal(("g", 1, "m"), (read.GroupId, read.GenerationId, read.MemberId));
        Assert.Equal(new OffsetCommitPartition(0, 5, -1, ""), Assert.Single(Assert.Single(read.Topics).Partitions));
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000001 0001 74 00000001 00000000 0000"), response.WrittenSpan.ToArray());
        Assert.True(ApiVersionsTable.IsSupported(ApiKey.OffsetCommit, 1));
        Assert.False(ApiVersionsTable.IsSupported(ApiKey.OffsetCommit, 0));
    }

    /// <summary>OffsetCommit v8 is flexible, and v9 lays out as v8 (Kafka's OffsetCommitRequest.json and OffsetCommitResponse.json).</summary>
    [Theory]
    [InlineData(8)]
    [InlineData(9)]
    public void OffsetCommit_flexible_request_reads_Kafka_bytes_and_writes_them_back_and_the_response_is_compact(short version)
    {
        // group "g", generation 1, member "m", instance null, topics [ "t" [ partition 0, offset 5, leader epoch -1, metadata null ] ]
        var bytes = Hex.Parse("0267 00000001 026d 00 02 0274 02 00000000 0000000000000005 ffffffff 00 00 00 00");
        var r = new KafkaReader(bytes);
        var read = Messages.OffsetCommitRequest.Read(ref r, version);
        using var w = new KafkaWriter();
        read.Write(w, version);
        using var response = new KafkaWriter();
        new Messages.OffsetCommitResponse([new PartitionErrors("t", [(0, ErrorCode.IllegalGeneration)])]).Write(response, version);

        Assert.Equal(0, r.Remaining);
        Assert.Equal(("g", 1, "m", (string?)null), (read.GroupId, read.GenerationId, read.MemberId, read.GroupInstanceId));
        Assert.Equal(new OffsetCommitPartition(0, 5, -1, null), Assert.Single(Assert.Single(read.Topics).Partitions));
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 02 0274 02 00000000 0016 00 00 00"), response.WrittenSpan.ToArray());
    }

    /// <summary>OffsetFetch v8 (KIP-709) asks for several groups, each with its topics or null for all; v9 adds each group's member id and epoch.</summary>
    [Fact]
    public void OffsetFetch_v8_and_v9_requests_carry_groups_and_v8_responses_answer_each_group()
    {
        // v8: groups [ "g" topics [ "t" [0] ], "h" topics null ], require_stable true
        var v8 = Hex.Parse("03 0267 02 0274 02 00000000 00 00 0268 00 00 01 00");
        // v9: groups [ "g" member null epoch -1 topics [ "t" [0, 1] ] ], require_stable false
        var v9 = Hex.Parse("02 0267 00 ffffffff 02 0274 03 00000000 00000001 00 00 00 00");
        var r8 = new KafkaReader(v8);
        var r9 = new KafkaReader(v9);
        var read8 = Messages.OffsetFetchRequest.Read(ref r8, 8);
        var read9 = Messages.OffsetFetchRequest.Read(ref r9, 9);
        using var w8 = new KafkaWriter();
        read8.Write(w8, 8);
        using var w9 = new KafkaWriter();
        read9.Write(w9, 9);
        using var response = new KafkaWriter();
        new Messages.OffsetFetchResponse([
            new OffsetFetchResponseGroup("g", [new OffsetFetchTopic("t", [new OffsetFetchPartition(0, 5, -1, "", ErrorCode.None)])], ErrorCode.None),
            new OffsetFetchResponseGroup("h", [], ErrorCode.CoordinatorNotAvailable),
        ]).Write(response, 8);

        Assert.Equal((0, 0), (r8.Remaining, r9.Remaining));
        Assert.Equal(["g", "h"], read8.Groups.Select(g => g.GroupId));
        Assert.Equal([0], Assert.Single(read8.Groups[0].Topics!).Partitions);
        Assert.Null(read8.Groups[1].Topics);
        Assert.True(read8.RequireStable);
        Assert.Equal(((string?)null, -1), (read9.Groups[0].MemberId, read9.Groups[0].MemberEpoch));
        Assert.Equal([0, 1], Assert.Single(read9.Groups[0].Topics!).Partitions);
        Assert.Equal(v8, w8.WrittenSpan.ToArray());
        Assert.Equal(v9, w9.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 03 0267 02 0274 02 00000000 0000000000000005 ffffffff 01 0000 00 00 0000 00 0268 01 000f 00 00"),
            response.WrittenSpan.ToArray());
    }

    [Fact]
    public void ListOffsets_v7_response_is_compact_with_tagged_fields()
    {
        var response = new Messages.ListOffsetsResponse([new ListOffsetsTopicResponse("t", [new ListOffsetsPartitionResponse(0, ErrorCode.None, 1_700_000_000_000, 5, 3)])]);
        using var w = new KafkaWriter();
        response.Write(w, 7);

        Assert.Equal(Hex.Parse("00000000 02 0274 02 00000000 0000 0000018bcfe56800 0000000000000005 00000003 00 00 00"), w.WrittenSpan.ToArray());
    }

    /// <summary>
    /// OffsetForLeaderEpoch as Kafka's OffsetForLeaderEpochRequest.json lays it out: v2 has each partition's current
    /// leader epoch before the epoch asked, v3 the replica id first, v4 is flexible; the response has the throttle time,
    /// then per partition error, partition, leader epoch and end offset.
    /// </summary>
    [Fact]
    public void OffsetForLeaderEpoch_requests_and_responses_have_Kafkas_layout()
    {
        var v2 = Hex.Parse("00000001 0001 74 00000001 00000003 00000007 00000005");
        var v3 = Hex.Parse("ffffffff 00000001 0001 74 00000001 00000003 00000007 00000005");
        var v4 = Hex.Parse("ffffffff 02 0274 02 00000003 00000007 00000005 00 00 00");
        var expected = new OffsetForLeaderPartition(3, 7, 5);
        foreach (var (bytes, version, replicaId) in new[] { (v2, (short)2, -2), (v3, (short)3, -1), (v4, (short)4, -1) })
        {
            var r = new KafkaReader(bytes);
            var read = OffsetForLeaderEpochRequest.Read(ref r, version);
            Assert.Equal(0, r.Remaining);
            Assert.Equal(replicaId, read.ReplicaId);
            Assert.Equal("t", Assert.Single(read.Topics).Topic);
            Assert.Equal(expected, Assert.Single(Assert.Single(read.Topics).Partitions));
            using var w = new KafkaWriter();
            read.Write(w, version);
            Assert.Equal(bytes, w.WrittenSpan.ToArray());
        }

        var response = new OffsetForLeaderEpochResponse([new OffsetForLeaderTopicResult("t",
            [new EpochEndOffset(ErrorCode.None, 3, 5, 42), new EpochEndOffset(ErrorCode.FencedLeaderEpoch, 4, -1, -1)])]);
        using var w3 = new KafkaWriter();
        using var w4 = new KafkaWriter();
        response.Write(w3, 3);
        response.Write(w4, 4);
        Assert.Equal(Hex.Parse("00000000 00000001 0001 74 00000002 0000 00000003 00000005 000000000000002a 004a 00000004 ffffffff ffffffffffffffff"),
            w3.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 02 0274 03 0000 00000003 00000005 000000000000002a 00 004a 00000004 ffffffff ffffffffffffffff 00 00 00"),
            w4.WrittenSpan.ToArray());
        var back = new KafkaReader(w4.WrittenSpan);
        Assert.Equal(response.Topics[0].Partitions, OffsetForLeaderEpochResponse.Read(ref back, 4).Topics[0].Partitions);
    }

    /// <summary>
    /// ElectLeaders as Kafka's ElectLeadersRequest.json and ElectLeadersResponse.json lay it out: v0 has no election type
    /// (preferred), v1 puts it first, v2 is flexible; topics may be null (every partition); the response has a top-level
    /// error from v1, and each partition's id, error and nullable message.
    /// </summary>
    [Fact]
    public void ElectLeaders_requests_and_responses_have_Kafkas_layout()
    {
        var v0 = Hex.Parse("00000001 0001 74 00000002 00000000 00000003 0000ea60");
        var v1 = Hex.Parse("01 00000001 0001 74 00000002 00000000 00000003 0000ea60");
        var v2 = Hex.Parse("01 02 0274 03 00000000 00000003 00 0000ea60 00");
        foreach (var (bytes, version, type) in new[] { (v0, (short)0, (sbyte)0), (v1, (short)1, (sbyte)1), (v2, (short)2, (sbyte)1) })
        {
            var r = new KafkaReader(bytes);
            var read = ElectLeadersRequest.Read(ref r, version);
            Assert.Equal(0, r.Remaining);
            Assert.Equal(type, read.ElectionType);
            Assert.Equal(60_000, read.TimeoutMs);
            var topic = Assert.Single(read.Topics!);
            Assert.Equal("t", topic.Topic);
            Assert.Equal([0, 3], topic.Partitions);
            using var w = new KafkaWriter();
            read.Write(w, version);
            Assert.Equal(bytes, w.WrittenSpan.ToArray());
        }
        var every = new KafkaReader(Hex.Parse("00 00 0000ea60 00"));
        Assert.Null(ElectLeadersRequest.Read(ref every, 2).Topics);
        var everyV1 = new KafkaReader(Hex.Parse("00 ffffffff 0000ea60"));
        Assert.Null(ElectLeadersRequest.Read(ref everyV1, 1).Topics);

        var response = new ElectLeadersResponse(ErrorCode.None, [new ElectLeadersTopicResult("t",
            [new ElectLeadersPartitionResult(0, ErrorCode.None, null), new ElectLeadersPartitionResult(3, ErrorCode.ElectionNotNeeded, "n")])]);
        using var w0 = new KafkaWriter();
        using var w1 = new KafkaWriter();
        using var w2 = new KafkaWriter();
        response.Write(w0, 0);
        response.Write(w1, 1);
        response.Write(w2, 2);
        Assert.Equal(Hex.Parse("00000000 00000001 0001 74 00000002 00000000 0000 ffff 00000003 0054 0001 6e"), w0.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 0000 00000001 0001 74 00000002 00000000 0000 ffff 00000003 0054 0001 6e"), w1.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 0000 02 0274 03 00000000 0000 00 00 00000003 0054 026e 00 00 00"), w2.WrittenSpan.ToArray());
        var back = new KafkaReader(w2.WrittenSpan);
        Assert.Equal(response.Topics[0].Partitions, ElectLeadersResponse.Read(ref back, 2).Topics[0].Partitions);

        // A message quoting a topic name of 32,767 bytes ("No such topic as ...") is cut to fit v0-1's string, not thrown on.
        var longName = new string('n', short.MaxValue);
        using var wLong = new KafkaWriter();
        new ElectLeadersResponse(ErrorCode.None, [new ElectLeadersTopicResult(longName,
            [new ElectLeadersPartitionResult(0, ErrorCode.UnknownTopicOrPartition, $"No such topic as {longName}")])]).Write(wLong, 0);
        var cut = new KafkaReader(wLong.WrittenSpan);
        var message = ElectLeadersResponse.Read(ref cut, 0).Topics[0].Partitions[0].ErrorMessage;
        Assert.StartsWith("No such topic as nnn", message);
        Assert.True(message!.Length <= short.MaxValue);
    }

    /// <summary>
    /// AlterPartitionReassignments and ListPartitionReassignments v0 as Kafka's schemas lay them out (flexible from v0):
    /// a partition's replicas may be null (cancel), the list request's topics may be null (every partition), and each
    /// response has a top-level error and message before its topics.
    /// </summary>
    [Fact]
    public void Partition_reassignment_requests_and_responses_have_Kafkas_layout()
    {
        var alter = Hex.Parse("0000ea60 02 0274 03 00000000 03 00000001 00000002 00 00000003 00 00 00 00");
        var r = new KafkaReader(alter);
        var read = AlterPartitionReassignmentsRequest.Read(ref r, 0);
        Assert.Equal(0, r.Remaining);
        Assert.Equal(60_000, read.TimeoutMs);
        var topic = Assert.Single(read.Topics);
        Assert.Equal("t", topic.Name);
        Assert.Equal([0, 3], topic.Partitions.Select(p => p.PartitionIndex));
        Assert.Equal([1, 2], topic.Partitions[0].Replicas!);
        Assert.Null(topic.Partitions[1].Replicas);
        using var w = new KafkaWriter();
        read.Write(w, 0);
        Assert.Equal(alter, w.WrittenSpan.ToArray());

        var altered = new AlterPartitionReassignmentsResponse(ErrorCode.None, null, [new ReassignableTopicResponse("t",
            [new ReassignablePartitionResponse(0, ErrorCode.None, null), new ReassignablePartitionResponse(3, ErrorCode.InvalidReplicaAssignment, "m")])]);
        using var wa = new KafkaWriter();
        altered.Write(wa, 0);
        Assert.Equal(Hex.Parse("00000000 0000 00 02 0274 03 00000000 0000 00 00 00000003 0027 026d 00 00 00"), wa.WrittenSpan.ToArray());
        var back = new KafkaReader(wa.WrittenSpan);
        Assert.Equal(altered.Responses[0].Partitions, AlterPartitionReassignmentsResponse.Read(ref back, 0).Responses[0].Partitions);

        foreach (var list in new[] { Hex.Parse("0000ea60 00 00"), Hex.Parse("0000ea60 02 0274 02 00000001 00 00") })
        {
            var lr = new KafkaReader(list);
            var request = ListPartitionReassignmentsRequest.Read(ref lr, 0);
            Assert.Equal(0, lr.Remaining);
            Assert.Equal(list.Length == 6, request.Topics is null);
            using var wl = new KafkaWriter();
            request.Write(wl, 0);
            Assert.Equal(list, wl.WrittenSpan.ToArray());
        }
        var ongoing = new ListPartitionReassignmentsResponse(ErrorCode.None, null, [new OngoingTopicReassignment("t", [new OngoingPartitionReassignment(0, [1, 2], [2], [1])])]);
        using var wo = new KafkaWriter();
        ongoing.Write(wo, 0);
        Assert.Equal(Hex.Parse("00000000 0000 00 02 0274 02 00000000 03 00000001 00000002 02 00000002 02 00000001 00 00 00"), wo.WrittenSpan.ToArray());
        var again = new KafkaReader(wo.WrittenSpan);
        var partition = ListPartitionReassignmentsResponse.Read(ref again, 0).Topics[0].Partitions[0];
        Assert.Equal([1, 2], partition.Replicas);
        Assert.Equal([2], partition.AddingReplicas);
        Assert.Equal([1], partition.RemovingReplicas);
    }

    /// <summary>
    /// DescribeLogDirs as Kafka's schemas lay it out: the request's topics (null: every partition) with their partition
    /// indexes, v2 flexible; the response's throttle time, a top-level error from v3, each directory's error, path and
    /// partitions (index, size, offset lag, future flag), and from v4 the volume's total and usable bytes.
    /// </summary>
    [Fact]
    public void DescribeLogDirs_requests_and_responses_have_Kafkas_layout()
    {
        var v1 = Hex.Parse("00000001 0001 74 00000002 00000000 00000003");
        var v2 = Hex.Parse("02 0274 03 00000000 00000003 00 00");
        foreach (var (bytes, version) in new[] { (v1, (short)1), (v2, (short)2) })
        {
            var r = new KafkaReader(bytes);
            var read = DescribeLogDirsRequest.Read(ref r, version);
            Assert.Equal(0, r.Remaining);
            var topic = Assert.Single(read.Topics!);
            Assert.Equal("t", topic.Topic);
            Assert.Equal([0, 3], topic.Partitions);
            using var w = new KafkaWriter();
            read.Write(w, version);
            Assert.Equal(bytes, w.WrittenSpan.ToArray());
        }
        var every = new KafkaReader(Hex.Parse("00 00"));
        Assert.Null(DescribeLogDirsRequest.Read(ref every, 3).Topics);

        var response = new DescribeLogDirsResponse(ErrorCode.None,
            [new LogDirResult(ErrorCode.None, "/d", [new LogDirTopic("t", [new LogDirPartition(1, 300, 0, false)])], 1000, 400)]);
        using var w1 = new KafkaWriter();
        using var w3 = new KafkaWriter();
        using var w4 = new KafkaWriter();
        response.Write(w1, 1);
        response.Write(w3, 3);
        response.Write(w4, 4);
        Assert.Equal(Hex.Parse("00000000 00000001 0000 0002 2f64 00000001 0001 74 00000001 00000001 000000000000012c 0000000000000000 00"),
            w1.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 0000 02 0000 03 2f64 02 0274 02 00000001 000000000000012c 0000000000000000 00 00 00 00 00"),
            w3.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 0000 02 0000 03 2f64 02 0274 02 00000001 000000000000012c 0000000000000000 00 00 00 00000000000003e8 0000000000000190 00 00"),
            w4.WrittenSpan.ToArray());
        var back = new KafkaReader(w4.WrittenSpan);
        var read4 = DescribeLogDirsResponse.Read(ref back, 4);
        Assert.Equal(0, back.Remaining);
        Assert.Equal((1000L, 400L), (read4.Results[0].TotalBytes, read4.Results[0].UsableBytes));
        Assert.Equal(response.Results[0].Topics[0].Partitions, read4.Results[0].Topics[0].Partitions);
    }

    /// <summary>
    /// AlterReplicaLogDirs as Kafka's schema lays it out: each directory's path and topics with partition indexes (v1 is
    /// v0's layout, v2 flexible); the response's throttle time and an error per partition by topic.
    /// </summary>
    [Fact]
    public void AlterReplicaLogDirs_requests_and_responses_have_Kafkas_layout()
    {
        var v1 = Hex.Parse("00000001 0002 2f64 00000001 0001 74 00000002 00000000 00000003");
        var v2 = Hex.Parse("02 03 2f64 02 0274 03 00000000 00000003 00 00 00");
        foreach (var (bytes, version) in new[] { (v1, (short)1), (v2, (short)2) })
        {
            var r = new KafkaReader(bytes);
            var read = AlterReplicaLogDirsRequest.Read(ref r, version);
            Assert.Equal(0, r.Remaining);
            var dir = Assert.Single(read.Dirs);
            Assert.Equal("/d", dir.Path);
            var topic = Assert.Single(dir.Topics);
            Assert.Equal("t", topic.Topic);
            Assert.Equal([0, 3], topic.Partitions);
            using var w = new KafkaWriter();
            read.Write(w, version);
            Assert.Equal(bytes, w.WrittenSpan.ToArray());
        }

        var response = new AlterReplicaLogDirsResponse([new PartitionErrors("t", [(0, ErrorCode.None), (3, ErrorCode.LogDirNotFound)])]);
        var r1 = Hex.Parse("00000000 00000001 0001 74 00000002 00000000 0000 00000003 0039");
        var r2 = Hex.Parse("00000000 02 0274 03 00000000 0000 00 00000003 0039 00 00 00");
        foreach (var (bytes, version) in new[] { (r1, (short)1), (r2, (short)2) })
        {
            using var w = new KafkaWriter();
            response.Write(w, version);
            Assert.Equal(bytes, w.WrittenSpan.ToArray());
            var back = new KafkaReader(bytes);
            var read = AlterReplicaLogDirsResponse.Read(ref back, version);
            Assert.Equal(0, back.Remaining);
            Assert.Equal(response.Results[0].Partitions, Assert.Single(read.Results).Partitions);
        }
    }

    /// <summary>
    /// The ACL messages as Kafka's DescribeAcls, CreateAcls and DeleteAcls schemas lay them out (v1 with the pattern
    /// type, v2 flexible); a filter's name, principal and host may be null.
    /// </summary>
    [Fact]
    public void Acl_messages_have_Kafkas_layout()
    {
        var topicRead = new AclSpec(2, "t", 3, "User:a", "*", 3, 3);
        var v1 = Hex.Parse("02 0001 74 03 0006 557365723a61 0001 2a 03 03");
        var v2 = Hex.Parse("02 0274 03 07557365723a61 022a 03 03 00");
        foreach (var (bytes, version) in new[] { (v1, (short)1), (v2, (short)2) })
        {
            var r = new KafkaReader(bytes);
            Assert.Equal(topicRead, DescribeAclsRequest.Read(ref r, version).Filter);
            Assert.Equal(0, r.Remaining);
        }
        var create = new KafkaReader(Hex.Parse("02 02 0274 03 07557365723a61 022a 03 03 00 00"));
        Assert.Equal([topicRead], CreateAclsRequest.Read(ref create, 2).Creations);
        var delete = new KafkaReader(Hex.Parse("02 02 00 03 00 00 03 03 00 00"));
        Assert.Equal([new AclSpec(2, null, 3, null, null, 3, 3)], DeleteAclsRequest.Read(ref delete, 3).Filters);

        using var d1 = new KafkaWriter();
        using var d2 = new KafkaWriter();
        using var c2 = new KafkaWriter();
        using var x3 = new KafkaWriter();
        new DescribeAclsResponse(ErrorCode.SecurityDisabled, "m").Write(d1, 1);
        new DescribeAclsResponse(ErrorCode.SecurityDisabled, "m").Write(d2, 2);
        new CreateAclsResponse(1, ErrorCode.SecurityDisabled, "m").Write(c2, 2);
        new DeleteAclsResponse(1, ErrorCode.SecurityDisabled, "m").Write(x3, 3);
        Assert.Equal(Hex.Parse("00000000 0036 0001 6d 00000000"), d1.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 0036 026d 01 00"), d2.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 02 0036 026d 00 00"), c2.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 02 0036 026d 01 00 00"), x3.WrittenSpan.ToArray());
    }

    /// <summary>
    /// DescribeAcls' answer groups the bindings by resource pattern, in the order first met; DeleteAcls' lists each
    /// filter's removed bindings, each with its own error (none) and message (null). Written from Kafka's schemas.
    /// </summary>
    [Fact]
    public void Acl_answers_with_bindings_have_Kafkas_layout()
    {
        AclSpec[] bindings = [new(2, "t", 3, "User:a", "*", 3, 3), new(3, "g", 4, "User:a", "h", 8, 3), new(2, "t", 3, "User:b", "*", 4, 2)];
        using var d1 = new KafkaWriter();
        using var x1 = new KafkaWriter();
        using var x2 = new KafkaWriter();
        new DescribeAclsResponse(ErrorCode.None, null, bindings).Write(d1, 1);
        new DeleteAclsResponse([new AclResult(ErrorCode.None, null, [bindings[0]])]).Write(x1, 1);
        new DeleteAclsResponse([new AclResult(ErrorCode.None, null, [bindings[0]])]).Write(x2, 2);

        Assert.Equal(Hex.Parse("00000000 0000 ffff 00000002" +
            " 02 0001 74 03 00000002 0006 557365723a61 0001 2a 03 03 0006 557365723a62 0001 2a 04 02" +
            " 03 0001 67 04 00000001 0006 557365723a61 0001 68 08 03"), d1.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 00000001 0000 ffff 00000001 0000 ffff 02 0001 74 03 0006 557365723a61 0001 2a 03 03"), x1.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 02 0000 00 02 0000 00 02 0274 03 07557365723a61 022a 03 03 00 00 00"), x2.WrittenSpan.ToArray());
    }

    [Fact]
    public void ListOffsets_v4_response_has_the_leader_epoch()
    {
        var response = new Messages.ListOffsetsResponse([new ListOffsetsTopicResponse("t", [new ListOffsetsPartitionResponse(0, ErrorCode.None, -1, 12, 3)])]);
        using var w = new KafkaWriter();
        response.Write(w, 4);

        Assert.Equal(Hex.Parse("00000000 00000001 0001 74 00000001 00000000 0000 ffffffffffffffff 000000000000000c 00000003"), w.WrittenSpan.ToArray());
    }

    [Fact]
    public void The_versions_table_advertises_ApiVersions_0_to_4_and_knows_flexible_versions()
    {
        Assert.True(ApiVersionsTable.IsSupported(ApiKey.ApiVersions, 4));
        Assert.False(ApiVersionsTable.IsSupported(ApiKey.ApiVersions, 5));
        Assert.False(ApiVersionsTable.IsSupported(ApiKey.Produce, 2));
        Assert.True(ApiVersionsTable.IsSupported(ApiKey.Produce, 12));
        Assert.False(ApiVersionsTable.IsSupported(ApiKey.Produce, 13));
        Assert.True(ApiVersionsTable.IsSupported(ApiKey.Fetch, 17));
        Assert.False(ApiVersionsTable.IsSupported(ApiKey.Fetch, 18));
        Assert.True(ApiVersionsTable.IsSupported(ApiKey.Metadata, 13));
        Assert.False(ApiVersionsTable.IsSupported(ApiKey.Metadata, 14));
        Assert.True(ApiVersionsTable.IsFlexible(ApiKey.Fetch, 12));
        Assert.False(ApiVersionsTable.IsFlexible(ApiKey.Fetch, 11));
        foreach (var api in ApiVersionsTable.Advertised)
            Assert.True(api.MinVersion <= api.MaxVersion);
    }

    /// <summary>Writes a message and reads it back, all of it.</summary>
    private static T ReadBack<T>(Action<KafkaWriter, short> write, PartitionReader<T> read, short version)
    {
        using var w = new KafkaWriter();
        write(w, version);
        var r = new KafkaReader(w.WrittenSpan);
        var message = read(ref r, version);
        Assert.Equal(0, r.Remaining);
        return message;
    }

    private static byte[] OneRecordBatch()
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset();
        builder.Append(1_700_000_000_000, "k"u8.ToArray(), "v"u8.ToArray());
        return builder.ToArray();
    }
}

/// <summary>The admin and producer-id messages of the advertised versions.</summary>
public class AdminMessageTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void CreateTopics_requests_round_trip_with_configs_and_validate_only(short version)
    {
        var request = new CreateTopicsRequest([new CreatableTopic("t", -1, 3, false, [new("retention.ms", "1000"), new("cleanup.policy", null)])], 5000, version >= 1);
        using var w = new KafkaWriter();
        request.Write(w, version);
        var r = new KafkaReader(w.WrittenSpan);
        var read = CreateTopicsRequest.Read(ref r, version);

        Assert.Equal(0, r.Remaining);
        var topic = Assert.Single(read.Topics);
        Assert.Equal(("t", -1, (short)3, false), (topic.Name, topic.NumPartitions, topic.ReplicationFactor, topic.HasAssignments));
        Assert.Equal(request.Topics[0].Configs, topic.Configs);
        Assert.Equal(request.ValidateOnly, read.ValidateOnly);
    }

    [Fact]
    public void Topic_error_responses_differ_by_api_and_version()
    {
        var response = new TopicErrorsResponse([new TopicError("t", ErrorCode.TopicAlreadyExists, "x")]);
        var created = new CreateTopicsResponse([new CreatableTopicResult("t", Guid.Empty, ErrorCode.TopicAlreadyExists, "x")]);
        using var create0 = new KafkaWriter();
        using var create2 = new KafkaWriter();
        using var delete1 = new KafkaWriter();
        created.Write(create0, 0);
        created.Write(create2, 2);
        response.WriteDeleteTopics(delete1, 1);

        Assert.Equal(Hex.Parse("00000001 0001 74 0024"), create0.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 00000001 0001 74 0024 0001 78"), create2.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 00000001 0001 74 0024"), delete1.WrittenSpan.ToArray());
    }

    [Fact]
    public void DeleteTopics_CreatePartitions_and_InitProducerId_requests_round_trip()
    {
        using var w = new KafkaWriter();
        new DeleteTopicsRequest(["a", "b"], 100).Write(w, 3);
        new CreatePartitionsRequest([new CreatePartitionsTopic("a", 4, false)], 100, true).Write(w, 1);
        new Messages.InitProducerIdRequest(null, 60000).Write(w, 1);
        var r = new KafkaReader(w.WrittenSpan);

        Assert.Equal([new DeleteTopicState("a", Guid.Empty), new DeleteTopicState("b", Guid.Empty)], DeleteTopicsRequest.Read(ref r, 3).Topics);
        var grow = CreatePartitionsRequest.Read(ref r, 1);
        Assert.Equal((new CreatePartitionsTopic("a", 4, false), true), (Assert.Single(grow.Topics), grow.ValidateOnly));
        Assert.Equal(new Messages.InitProducerIdRequest(null, 60000), Messages.InitProducerIdRequest.Read(ref r, 1));
        Assert.Equal(0, r.Remaining);
    }
}

/// <summary>DescribeCluster v0-2 (flexible from v0), against the bytes of Kafka's DescribeClusterRequest.json and DescribeClusterResponse.json.</summary>
public class DescribeClusterMessageTests
{
    [Fact]
    public void The_request_reads_Kafka_bytes_and_writes_them_back()
    {
        var bytes = Hex.Parse("01 00");
        var read = TransactionMessageTests.Read(bytes, DescribeClusterRequest.Read, 0);
        Assert.True(read.IncludeClusterAuthorizedOperations);
        TransactionMessageTests.AssertWrites(bytes, read.Write, 0);
    }

    [Fact]
    public void The_response_is_written_as_Kafka_writes_it()
    {
        // No error, a null message, cluster "c1", controller 1, broker 1 at h:9092 without a rack, operations not asked.
        var response = new DescribeClusterResponse(ErrorCode.None, null, "c1", 1, [new MetadataBroker(1, "h", 9092, null)], int.MinValue);
        TransactionMessageTests.AssertWrites(Hex.Parse("00000000 0000 00 036331 00000001 02 00000001 0268 00002384 00 00 80000000 00"), response.Write, 0);
    }

    [Fact]
    public void V1_carries_the_endpoint_type_after_the_operations_flag_and_answers_it_after_the_error_message()
    {
        // KIP-919: include_cluster_authorized_operations false, endpoint_type 2 (controllers).
        var bytes = Hex.Parse("00 02 00");
        var read = TransactionMessageTests.Read(bytes, DescribeClusterRequest.Read, 1);
        Assert.Equal(new DescribeClusterRequest(false, DescribeClusterRequest.Controllers), read);
        TransactionMessageTests.AssertWrites(bytes, read.Write, 1);
        // v0 has no endpoint type: brokers.
        Assert.Equal(DescribeClusterRequest.Brokers, TransactionMessageTests.Read(Hex.Parse("00 00"), DescribeClusterRequest.Read, 0).EndpointType);

        var response = new DescribeClusterResponse(ErrorCode.None, null, "c1", 1, [new MetadataBroker(1, "h", 9092, null)], int.MinValue);
        TransactionMessageTests.AssertWrites(Hex.Parse("00000000 0000 00 01 036331 00000001 02 00000001 0268 00002384 00 00 80000000 00"), response.Write, 1);
        // Kafka's refusal: the error and its message, the schema's defaults elsewhere (endpoint type 1, no cluster id, controller -1).
        var refused = new DescribeClusterResponse(ErrorCode.MismatchedEndpointType, "m", "", -1, [], int.MinValue);
        TransactionMessageTests.AssertWrites(Hex.Parse("00000000 0072 026d 01 01 ffffffff 01 80000000 00"), refused.Write, 1);
    }

    [Fact]
    public void V2_carries_include_fenced_brokers_after_the_endpoint_type_and_answers_each_broker_unfenced()
    {
        // KIP-1073: include_cluster_authorized_operations false, endpoint_type 1, include_fenced_brokers true.
        var bytes = Hex.Parse("00 01 01 00");
        var read = TransactionMessageTests.Read(bytes, DescribeClusterRequest.Read, 2);
        Assert.Equal(new DescribeClusterRequest(false, DescribeClusterRequest.Brokers, IncludeFencedBrokers: true), read);
        TransactionMessageTests.AssertWrites(bytes, read.Write, 2);
        // Before v2 there is no such field: false.
        Assert.False(TransactionMessageTests.Read(Hex.Parse("00 01 00"), DescribeClusterRequest.Read, 1).IncludeFencedBrokers);

        // Each broker ends with is_fenced (false: only live brokers are listed) before its tagged fields.
        var response = new DescribeClusterResponse(ErrorCode.None, null, "c1", 1, [new MetadataBroker(1, "h", 9092, null)], int.MinValue);
        TransactionMessageTests.AssertWrites(Hex.Parse("00000000 0000 00 01 036331 00000001 02 00000001 0268 00002384 00 00 00 80000000 00"), response.Write, 2);
        Assert.True(ApiVersionsTable.IsSupported(ApiKey.DescribeCluster, 2));
        Assert.False(ApiVersionsTable.IsSupported(ApiKey.DescribeCluster, 3));
    }
}

/// <summary>OffsetDelete v0, against the bytes of Kafka's OffsetDeleteRequest.json and OffsetDeleteResponse.json.</summary>
public class OffsetDeleteMessageTests
{
    // group "g"; topics [ "t" [0, 1] ]
    private const string Request = "0001 67 00000001 0001 74 00000002 00000000 00000001";

    [Fact]
    public void The_request_reads_Kafka_bytes_and_writes_them_back()
    {
        var bytes = Hex.Parse(Request);
        var r = new KafkaReader(bytes);
        var read = OffsetDeleteRequest.Read(ref r, 0);
        using var w = new KafkaWriter();
        read.Write(w, 0);

        Assert.Equal(0, r.Remaining);
        Assert.Equal("g", read.GroupId);
        var topic = Assert.Single(read.Topics);
        Assert.Equal("t", topic.Topic);
        Assert.Equal([0, 1], topic.Partitions);
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
    }

    [Fact]
    public void The_response_puts_the_group_error_before_the_throttle_time_and_each_partition_error()
    {
        using var ok = new KafkaWriter();
        using var missing = new KafkaWriter();
        new OffsetDeleteResponse(ErrorCode.None, [new PartitionErrors("t", [(0, ErrorCode.None), (1, ErrorCode.GroupSubscribedToTopic)])]).Write(ok, 0);
        new OffsetDeleteResponse(ErrorCode.GroupIdNotFound, []).Write(missing, 0);

        Assert.Equal(Hex.Parse("0000 00000000 00000001 0001 74 00000002 00000000 0000 00000001 0056"), ok.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("0045 00000000 00000000"), missing.WrittenSpan.ToArray());
    }
}
