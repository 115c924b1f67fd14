using System.Buffers.Binary;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Records;

namespace OrleansStream.Kafka.Tests;

/// <summary>What Kafka's rules say of requests real clients rarely send: unknown versions, other brokers' partitions, bad frames.</summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class WireTests(KafkaCluster cluster)
{
    [Fact]
    public async Task An_unknown_ApiVersions_version_gets_the_v0_layout_with_UnsupportedVersion_and_the_connection_stays_open()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));

        var unknown = await wire.SendAsync(ApiKey.ApiVersions, 99, _ => { });
        var first = await wire.ReadFrameAsync();
        var known = await wire.SendAsync(ApiKey.ApiVersions, 3, w => new ApiVersionsRequest("wire", "1").Write(w, 3));
        var second = await wire.ReadFrameAsync();

        Assert.NotNull(first);
        var r = new KafkaReader(first);
        Assert.Equal(unknown, r.ReadInt32());
        Assert.Equal((short)ErrorCode.UnsupportedVersion, r.ReadInt16());
        var count = r.ReadArrayLength(flexible: false);
        var apis = new List<SupportedApi>();
        for (var i = 0; i < count; i++) apis.Add(new SupportedApi((ApiKey)r.ReadInt16(), r.ReadInt16(), r.ReadInt16()));
        // This cluster has no telemetry receiver (no OTLP endpoint): the telemetry APIs are left out, as Kafka does.
        Assert.Equal(ApiVersionsTable.Advertised.Where(a => a.Key is not (ApiKey.GetTelemetrySubscriptions or ApiKey.PushTelemetry)), apis);
        Assert.Equal(0, r.Remaining);

        Assert.NotNull(second);
        Assert.Equal(known, BinaryPrimitives.ReadInt32BigEndian(second));
        Assert.Equal(0, BinaryPrimitives.ReadInt16BigEndian(second.AsSpan(4)));
    }

    /// <summary>
    /// KIP-714 without a receiver for the metrics (Kafka's broker without a ClientTelemetry reporter): ApiVersions leaves
    /// GetTelemetrySubscriptions and PushTelemetry out, so librdkafka never asks, and a client that sends one anyway has
    /// its connection closed, as for any API not advertised.
    /// </summary>
    [Fact]
    public async Task Without_a_telemetry_receiver_the_telemetry_APIs_are_not_advertised_and_a_request_for_one_closes_the_connection()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(ApiKey.ApiVersions, 3, w => new ApiVersionsRequest("wire", "1").Write(w, 3));
        var r = new KafkaReader((await wire.ReadFrameAsync())!.AsSpan(4));
        var (error, apis, _) = ApiVersionsResponse.Read(ref r, 3);

        await wire.SendAsync(ApiKey.GetTelemetrySubscriptions, 0, w => new GetTelemetrySubscriptionsRequest(Guid.Empty).Write(w, 0));
        var answer = await wire.ReadFrameAsync();

        Assert.Equal(ErrorCode.None, error);
        Assert.DoesNotContain(apis, a => a.Key is ApiKey.GetTelemetrySubscriptions or ApiKey.PushTelemetry);
        Assert.Contains(new SupportedApi(ApiKey.ListClientMetricsResources, 0, 0), apis);
        Assert.Null(answer);
        await Eventually.WaitUntilAsync(() => cluster.Silos.Output(0).Contains("GetTelemetrySubscriptions v0, which this broker does not advertise", StringComparison.Ordinal),
            "the broker logs why it closed the connection");
    }

    [Theory]
    [InlineData("my client", "1.0")]
    [InlineData("client", "")]
    [InlineData("-client", "1")]
    [InlineData("client", "1.0-")]
    public async Task ApiVersions_v3_with_a_software_name_or_version_Kafka_refuses_is_InvalidRequest_and_the_connection_stays_open(string name, string version)
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));

        await wire.SendAsync(ApiKey.ApiVersions, 3, w => new ApiVersionsRequest(name, version).Write(w, 3));
        var refused = await wire.ReadFrameAsync();
        await wire.SendAsync(ApiKey.ApiVersions, 3, w => new ApiVersionsRequest("confluent-kafka-dotnet", "2.16.0").Write(w, 3));
        var answered = await wire.ReadFrameAsync();

        // KIP-511's pattern, as Kafka's ApiVersionsRequest.isValid applies it: the answer carries the error and no APIs.
        // (ApiVersions answers with response header v0 at every version.)
        Assert.Equal((ErrorCode.InvalidRequest, 0), ErrorAndApiCount(refused!));
        Assert.Equal((ErrorCode.None, ApiVersionsTable.Advertised.Length - 2), ErrorAndApiCount(answered!)); // no telemetry receiver here

        static (ErrorCode, int) ErrorAndApiCount(byte[] frame)
        {
            var r = new KafkaReader(frame.AsSpan(4));
            return ((ErrorCode)r.ReadInt16(), r.ReadArrayLength(flexible: true));
        }
    }

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    public async Task OffsetFetch_of_every_offset_of_a_group_that_does_not_exist_answers_none_and_no_error(short version)
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(ApiKey.OffsetFetch, version, w => new Protocol.Messages.OffsetFetchRequest("no-such-group-" + Guid.NewGuid().ToString("N"), null).Write(w, version));

        var flexible = version >= 6;
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(flexible ? 5 : 4) : []);
        r.ReadInt32();
        Assert.Equal(0, r.ReadArrayLength(flexible));
        // Kafka's answer (the Java admin client's listConsumerGroupOffsets fails on GroupIdNotFound).
        Assert.Equal((short)ErrorCode.None, r.ReadInt16());
    }

    [Fact]
    public async Task LeaveGroup_v3_with_no_group_id_is_answered_InvalidGroupId_for_the_request_with_no_member()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(ApiKey.LeaveGroup, 3, w => new Protocol.Messages.LeaveGroupRequest("",
            [new LeaveGroupMember("m1", null), new LeaveGroupMember("", "i2")]).Write(w, 3));

        // Kafka's GroupCoordinatorService answers the request, as it answers a Dead group's (COORDINATOR_NOT_AVAILABLE).
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(4) : []);
        r.ReadInt32();
        Assert.Equal((short)ErrorCode.InvalidGroupId, r.ReadInt16());
        Assert.Equal(0, r.ReadArrayLength(flexible: false));
        Assert.Equal(0, r.Remaining);
    }

    [Fact]
    public async Task OffsetCommit_refuses_only_the_partitions_that_do_not_exist_or_carry_too_much_metadata_and_commits_the_others()
    {
        var topic = await cluster.CreateTopicAsync("commitparts", partitions: 2);
        var group = "parts-" + Guid.NewGuid().ToString("N");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(ApiKey.OffsetCommit, 7, w => new Protocol.Messages.OffsetCommitRequest(group, -1, "", null,
        [
            new OffsetCommitTopic(topic, [new(0, 500, -1, "m"), new(1, 3, -1, new string('x', 5_000)), new(7, 1, -1, null)]),
            new OffsetCommitTopic("no-such-topic-" + group, [new(0, 1, -1, null)]),
        ]).Write(w, 7));
        var errors = await ReadOffsetCommitErrorsAsync(wire);
        var committed = await OffsetFetchAsync(wire, group, topic, 0, 1);

        // Kafka's handleOffsetCommit and group coordinator refuse a partition alone; 500 is past the log end, and stored.
        Assert.Equal(
        [
            (topic, 0, ErrorCode.None), (topic, 1, ErrorCode.OffsetMetadataTooLarge), (topic, 7, ErrorCode.UnknownTopicOrPartition),
            ("no-such-topic-" + group, 0, ErrorCode.UnknownTopicOrPartition),
        ], errors);
        Assert.Equal([(0, 500L, "m"), (1, -1L, "")], committed);
    }

    [Fact]
    public async Task OffsetCommit_measures_metadata_in_UTF16_code_units_against_offset_metadata_max_bytes_as_Kafka_does()
    {
        var topic = await cluster.CreateTopicAsync("commitmeta", partitions: 2);
        var group = "meta-" + Guid.NewGuid().ToString("N");
        // Kafka compares Java's String.length() with offset.metadata.max.bytes (4096): 4096 euro signs (12,288 UTF-8 bytes)
        // are within it, 2049 emoji (4098 UTF-16 code units, surrogate pairs) beyond.
        var within = new string('\u20AC', 4096);
        var beyond = string.Concat(Enumerable.Repeat("\U0001F600", 2049));
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(ApiKey.OffsetCommit, 7, w => new Protocol.Messages.OffsetCommitRequest(group, -1, "", null,
            [new OffsetCommitTopic(topic, [new(0, 10, -1, within), new(1, 20, -1, beyond)])]).Write(w, 7));

        var errors = await ReadOffsetCommitErrorsAsync(wire);
        var committed = await OffsetFetchAsync(wire, group, topic, 0, 1);

        Assert.Equal([(topic, 0, ErrorCode.None), (topic, 1, ErrorCode.OffsetMetadataTooLarge)], errors);
        Assert.Equal([(0, 10L, within), (1, -1L, "")], committed);
    }

    /// <summary>OffsetFetch v8 (KIP-709) answers several groups in one request, each its own offsets; one that does not exist has none and no error.</summary>
    [Fact]
    public async Task OffsetFetch_v8_answers_each_group_asked()
    {
        var topic = await cluster.CreateTopicAsync("fetchv8", partitions: 1);
        var group = "v8-" + Guid.NewGuid().ToString("N");
        var absent = "v8-absent-" + Guid.NewGuid().ToString("N");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(ApiKey.OffsetCommit, 9, w => new Protocol.Messages.OffsetCommitRequest(group, -1, "", null,
            [new OffsetCommitTopic(topic, [new(0, 17, -1, "meta")])]).Write(w, 9));
        Assert.Equal([(topic, 0, ErrorCode.None)], await ReadOffsetCommitErrorsAsync(wire, flexible: true));

        await wire.SendAsync(ApiKey.OffsetFetch, 8, w => new Protocol.Messages.OffsetFetchRequest(
            [new OffsetFetchRequestGroup(group, [new TopicPartitions(topic, [0])]), new OffsetFetchRequestGroup(absent, null), new OffsetFetchRequestGroup("", null), new OffsetFetchRequestGroup(" \t", null)]).Write(w, 8));
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(5) : []);
        r.ReadInt32();
        var answered = new List<(string Group, string Topic, int Partition, long Offset, string? Metadata)>();
        var errors = new List<(string Group, ErrorCode Error)>();
        for (var groups = r.ReadArrayLength(true); groups > 0; groups--)
        {
            var id = r.ReadString(true);
            for (var topics = r.ReadArrayLength(true); topics > 0; topics--)
            {
                var name = r.ReadString(true);
                for (var partitions = r.ReadArrayLength(true); partitions > 0; partitions--)
                {
                    var partition = r.ReadInt32();
                    var offset = r.ReadInt64();
                    r.ReadInt32();
                    answered.Add((id, name, partition, offset, r.ReadNullableString(true)));
                    Assert.Equal((short)ErrorCode.None, r.ReadInt16());
                    r.SkipTaggedFields();
                }
                r.SkipTaggedFields();
            }
            errors.Add((id, (ErrorCode)r.ReadInt16()));
            r.SkipTaggedFields();
        }

        Assert.Equal([(group, topic, 0, 17L, "meta")], answered);
        // No grain has an empty or whitespace key: such a group id is refused for its group alone (docs/kafka-protocol.md).
        Assert.Equal([(group, ErrorCode.None), (absent, ErrorCode.None), ("", ErrorCode.InvalidGroupId), (" \t", ErrorCode.InvalidGroupId)], errors);
    }

    /// <summary>
    /// Kafka stores a group id in a non-flexible string (32,767 bytes of UTF-8), and ListGroups v0-2 answers it the same
    /// way: a group id longer than that, sent in a flexible OffsetCommit or as invalid UTF-8 (read as U+FFFD, three bytes
    /// each), makes no group, or every ListGroups v0-2 of the cluster would fail on it.
    /// </summary>
    [Fact]
    public async Task A_group_id_longer_than_Kafka_stores_is_InvalidGroupId_and_ListGroups_goes_on_answering()
    {
        var topic = await cluster.CreateTopicAsync("long-group", partitions: 1);
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(ApiKey.OffsetCommit, 8, w => new Protocol.Messages.OffsetCommitRequest(new string('€', 11_000), -1, "", null,
            [new OffsetCommitTopic(topic, [new(0, 5, -1, null)])]).Write(w, 8));
        Assert.Equal([(topic, 0, ErrorCode.InvalidGroupId)], await ReadOffsetCommitErrorsAsync(wire, flexible: true));

        await wire.SendAsync(ApiKey.JoinGroup, 5, w =>
        {
            w.WriteInt16(20_000);
            System.Buffers.BuffersExtensions.Write(w, Enumerable.Repeat((byte)0xff, 20_000).ToArray().AsSpan());
            w.WriteInt32(30_000);
            w.WriteInt32(30_000);
            w.WriteString("", false);
            w.WriteNullableString(null, false);
            w.WriteString("consumer", false);
            w.WriteArrayLength(1, false);
            w.WriteString("range", false);
            w.WriteBytes(new ConsumerSubscription([topic], null, [], -1, null).ToBytes(), false);
        });
        var joined = new KafkaReader((await wire.ReadFrameAsync())!.AsSpan(4));
        joined.ReadInt32();
        Assert.Equal(ErrorCode.InvalidGroupId, (ErrorCode)joined.ReadInt16());

        await wire.SendAsync(ApiKey.ListGroups, 0, w => new ListGroupsRequest([], []).Write(w, 0));
        var listed = new KafkaReader((await wire.ReadFrameAsync())!.AsSpan(4));
        Assert.Equal(ErrorCode.None, (ErrorCode)listed.ReadInt16());
    }

    [Fact]
    public async Task DescribeGroups_DeleteGroups_and_FindCoordinator_answer_an_empty_or_whitespace_group_id_InvalidGroupId()
    {
        var absent = "absent-" + Guid.NewGuid().ToString("N");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(ApiKey.DescribeGroups, 0, w => new GroupsRequest(["", absent, "  "]).WriteDescribeGroups(w, 0));
        var r = new KafkaReader((await wire.ReadFrameAsync())!.AsSpan(4));
        var described = new List<(ErrorCode, string, string)>();
        for (var groups = r.ReadArrayLength(false); groups > 0; groups--)
        {
            var error = (ErrorCode)r.ReadInt16();
            var id = r.ReadString(false);
            described.Add((error, id, r.ReadString(false)));
            r.ReadString(false);
            r.ReadString(false);
            Assert.Equal(0, r.ReadArrayLength(false));
        }
        Assert.Equal([(ErrorCode.InvalidGroupId, "", ""), (ErrorCode.None, absent, "Dead"), (ErrorCode.InvalidGroupId, "  ", "")], described);

        await wire.SendAsync(ApiKey.DeleteGroups, 0, w => new GroupsRequest(["", absent, "  "]).WriteDeleteGroups(w, 0));
        r = new KafkaReader((await wire.ReadFrameAsync())!.AsSpan(4));
        r.ReadInt32();
        var deleted = new List<(string, ErrorCode)>();
        for (var groups = r.ReadArrayLength(false); groups > 0; groups--) deleted.Add((r.ReadString(false), (ErrorCode)r.ReadInt16()));
        Assert.Equal([("", ErrorCode.InvalidGroupId), (absent, ErrorCode.GroupIdNotFound), ("  ", ErrorCode.InvalidGroupId)], deleted);

        await wire.SendAsync(ApiKey.FindCoordinator, 1, w => new FindCoordinatorRequest(" ", FindCoordinatorRequest.Group).Write(w, 1));
        r = new KafkaReader((await wire.ReadFrameAsync())!.AsSpan(4));
        r.ReadInt32();
        Assert.Equal(ErrorCode.InvalidGroupId, (ErrorCode)r.ReadInt16());
    }

    /// <summary>
    /// OffsetCommit v8 (flexible) and v9 (KIP-848's version, the same layout): a simple commit is taken, and a generation
    /// named to a group that does not exist is GroupIdNotFound from v9, IllegalGeneration before, as Kafka answers.
    /// </summary>
    [Fact]
    public async Task OffsetCommit_v8_and_v9_are_flexible_and_v9_answers_GroupIdNotFound_for_a_group_that_does_not_exist()
    {
        var topic = await cluster.CreateTopicAsync("commitv9", partitions: 1);
        var group = "v9-" + Guid.NewGuid().ToString("N");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        Task Commit(short version, int generation, string member, long offset) => wire.SendAsync(ApiKey.OffsetCommit, version, w =>
            new Protocol.Messages.OffsetCommitRequest(group, generation, member, null, [new OffsetCommitTopic(topic, [new(0, offset, -1, "v" + version)])]).Write(w, version));

        await Commit(9, 1, "ghost", 1);
        var v9Absent = await ReadOffsetCommitErrorsAsync(wire, flexible: true);
        await Commit(8, 1, "ghost", 1);
        var v8Absent = await ReadOffsetCommitErrorsAsync(wire, flexible: true);
        await Commit(9, -1, "", 42);
        var v9Simple = await ReadOffsetCommitErrorsAsync(wire, flexible: true);
        var committed = await OffsetFetchAsync(wire, group, topic, 0);

        Assert.Equal([(topic, 0, ErrorCode.GroupIdNotFound)], v9Absent);
        Assert.Equal([(topic, 0, ErrorCode.IllegalGeneration)], v8Absent);
        Assert.Equal([(topic, 0, ErrorCode.None)], v9Simple);
        Assert.Equal([(0, 42L, "v9")], committed);
    }

    private static async Task<List<(string, int, ErrorCode)>> ReadOffsetCommitErrorsAsync(KafkaWire wire, bool flexible = false)
    {
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(flexible ? 5 : 4) : []);
        r.ReadInt32();
        var errors = new List<(string, int, ErrorCode)>();
        for (var topics = r.ReadArrayLength(flexible); topics > 0; topics--)
        {
            var name = r.ReadString(flexible);
            for (var partitions = r.ReadArrayLength(flexible); partitions > 0; partitions--)
            {
                errors.Add((name, r.ReadInt32(), (ErrorCode)r.ReadInt16()));
                if (flexible) r.SkipTaggedFields();
            }
            if (flexible) r.SkipTaggedFields();
        }
        return errors;
    }

    /// <summary>OffsetFetch v5 of one topic's partitions: each partition's committed offset and metadata.</summary>
    private static async Task<List<(int, long, string?)>> OffsetFetchAsync(KafkaWire wire, string group, string topic, params int[] partitions)
    {
        await wire.SendAsync(ApiKey.OffsetFetch, 5, w => new Protocol.Messages.OffsetFetchRequest(group, [new TopicPartitions(topic, partitions)]).Write(w, 5));
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } fetched ? fetched.AsSpan(4) : []);
        r.ReadInt32();
        var committed = new List<(int, long, string?)>();
        Assert.Equal(1, r.ReadArrayLength(false));
        r.ReadString(false);
        for (var count = r.ReadArrayLength(false); count > 0; count--)
        {
            var partition = r.ReadInt32();
            var offset = r.ReadInt64();
            r.ReadInt32();
            committed.Add((partition, offset, r.ReadNullableString(false)));
            r.ReadInt16();
        }
        return committed;
    }

    [Fact]
    public async Task Every_broker_names_the_same_coordinator_for_a_group_or_transactional_id_and_keys_spread_over_both()
    {
        await using var first = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await using var second = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(1));
        async Task<int> CoordinatorAsync(KafkaWire wire, string key, sbyte type)
        {
            await wire.SendAsync(ApiKey.FindCoordinator, 2, w => new FindCoordinatorRequest(key, type).Write(w, 2));
            var frame = await wire.ReadFrameAsync();
            Assert.NotNull(frame);
            var r = new KafkaReader(frame.AsSpan(4));
            r.ReadInt32();
            Assert.Equal(0, r.ReadInt16());
            r.ReadNullableString(false);
            return r.ReadInt32();
        }

        var nodes = new HashSet<int>();
        for (var i = 0; i < 16; i++)
            foreach (var type in new[] { FindCoordinatorRequest.Group, FindCoordinatorRequest.Transaction })
            {
                var key = $"key-{i}";
                var node = await CoordinatorAsync(first, key, type);
                Assert.Equal(node, await CoordinatorAsync(second, key, type));
                nodes.Add(node);
            }

        Assert.Equal(2, nodes.Count);
    }

    [Fact]
    public async Task Metadata_lists_both_brokers_the_controller_the_cluster_id_and_each_leaders_node()
    {
        var topic = await cluster.CreateTopicAsync("meta", partitions: 2);
        int[] leaderPorts = [cluster.Silos.KafkaPort(await cluster.LeaderIndexAsync(topic, 0)), cluster.Silos.KafkaPort(await cluster.LeaderIndexAsync(topic, 1))];
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(1));

        await wire.SendAsync(ApiKey.Metadata, 8, w => new Protocol.Messages.MetadataRequest([topic], false).Write(w, 8));
        var frame = await wire.ReadFrameAsync();

        Assert.NotNull(frame);
        var r = new KafkaReader(frame.AsSpan(4));
        r.ReadInt32();
        var brokers = new Dictionary<int, int>();
        var brokerCount = r.ReadArrayLength(false);
        for (var i = 0; i < brokerCount; i++)
        {
            var node = r.ReadInt32();
            Assert.Equal("127.0.0.1", r.ReadString(false));
            brokers[node] = r.ReadInt32();
            r.ReadNullableString(false);
        }
        Assert.Equal(new[] { cluster.Silos.KafkaPort(0), cluster.Silos.KafkaPort(1) }.Order(), brokers.Values.Order());
        Assert.False(string.IsNullOrEmpty(r.ReadNullableString(false)));
        Assert.Contains(r.ReadInt32(), brokers.Keys);
        Assert.Equal(1, r.ReadArrayLength(false));
        Assert.Equal(0, r.ReadInt16());
        Assert.Equal(topic, r.ReadString(false));
        r.ReadBoolean();
        Assert.Equal(2, r.ReadArrayLength(false));
        for (var p = 0; p < 2; p++)
        {
            Assert.Equal(0, r.ReadInt16());
            Assert.Equal(p, r.ReadInt32());
            var leader = r.ReadInt32();
            Assert.Equal(leaderPorts[p], brokers[leader]);
            r.ReadInt32();
            Assert.Equal([leader], r.ReadInt32Array(false));
            Assert.Equal([leader], r.ReadInt32Array(false));
            Assert.Empty(r.ReadInt32Array(false));
        }
    }

    /// <summary>
    /// Metadata v10+ gives each topic its id, and v12 asks by id (KIP-516; the Java admin client's
    /// <c>describeTopics(TopicCollection.ofTopicIds(...))</c>), as Kafka's <c>handleTopicMetadataRequest</c> answers:
    /// an id no topic has, or no longer has, is UnknownTopicId with a null name; an id before v12 is InvalidRequest.
    /// </summary>
    [Fact]
    public async Task Metadata_v12_answers_topics_by_id_and_an_unknown_or_deleted_id_is_UnknownTopicId()
    {
        var topic = await cluster.CreateTopicAsync("by-id", partitions: 2);
        var id = Assert.Single((await cluster.Controller.GetMetadata(new MetadataRequest([topic]))).Topics).TopicId;
        Assert.NotEqual(Guid.Empty, id);
        var unknown = Guid.NewGuid();
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(1));

        var byName = await MetadataV12Async(wire, 12, [topic]);
        Assert.Equal((ErrorCode.None, topic, 2), (byName[id].Error, byName[id].Name, byName[id].Partitions));
        var byId = await MetadataV12Async(wire, 12, [new Protocol.Messages.MetadataRequestTopic(id, null), new Protocol.Messages.MetadataRequestTopic(unknown, null)]);
        Assert.Equal(2, byId.Count);
        Assert.Equal((ErrorCode.None, topic, 2), (byId[id].Error, byId[id].Name, byId[id].Partitions));
        Assert.Equal((ErrorCode.UnknownTopicId, null, 0), (byId[unknown].Error, byId[unknown].Name, byId[unknown].Partitions));
        var tooOld = await MetadataV12Async(wire, 11, [new Protocol.Messages.MetadataRequestTopic(id, null)]);
        Assert.Equal(ErrorCode.InvalidRequest, tooOld[id].Error);

        Assert.Equal(ErrorCode.None, Assert.Single(await cluster.Controller.DeleteTopics([topic])).Error);
        var deleted = await MetadataV12Async(wire, 12, [new Protocol.Messages.MetadataRequestTopic(id, null)]);
        Assert.Equal((ErrorCode.UnknownTopicId, null), (deleted[id].Error, deleted[id].Name));
    }

    /// <summary>
    /// CreateTopics v7 answers what each topic was made with (KIP-525: partitions, replication factor, every config with
    /// its source) and its id, as the Java admin client's <c>CreateTopicsResult.numPartitions</c>, <c>config</c> and
    /// <c>topicId</c> read them; DeleteTopics v6 deletes by id (KIP-516), with Kafka's answers for an unknown id and for
    /// a topic named both ways.
    /// </summary>
    [Fact]
    public async Task CreateTopics_v7_answers_what_each_topic_was_made_with_and_DeleteTopics_v6_deletes_by_id()
    {
        var name = $"made-{Guid.NewGuid():N}"[..24];
        var topic = new CreatableTopic(name, 3, 2, false, [new("cleanup.policy", "compact")]);
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));

        var validated = Assert.Single(await CreateTopicsAsync(wire, topic, validateOnly: true));
        Assert.Equal((ErrorCode.None, Guid.Empty, 3, (short)2), (validated.Error, validated.TopicId, validated.NumPartitions, validated.ReplicationFactor));
        var made = Assert.Single(await CreateTopicsAsync(wire, topic, validateOnly: false));
        var id = Assert.Single((await cluster.Controller.GetMetadata(new MetadataRequest([name]))).Topics).TopicId;
        Assert.Equal((ErrorCode.None, id, 3, (short)2), (made.Error, made.TopicId, made.NumPartitions, made.ReplicationFactor));
        Assert.NotEqual(Guid.Empty, id);
        Assert.Contains(new CreatableTopicConfig("cleanup.policy", "compact", false, ConfigSource.DynamicTopicConfig, false), made.Configs!);
        Assert.Contains(made.Configs!, c => c.Name == "retention.ms" && c.Source is ConfigSource.DefaultConfig or ConfigSource.StaticBrokerConfig);
        var again = Assert.Single(await CreateTopicsAsync(wire, topic, validateOnly: false));
        Assert.Equal((ErrorCode.TopicAlreadyExists, -1, (short)-1, (IReadOnlyList<CreatableTopicConfig>?)null), (again.Error, again.NumPartitions, again.ReplicationFactor, again.Configs));

        var unknown = Guid.NewGuid();
        await wire.SendAsync(ApiKey.DeleteTopics, 6, w => new DeleteTopicsRequest(
            [new DeleteTopicState(null, unknown), new DeleteTopicState(name, id), new DeleteTopicState(null, id)], 30_000).Write(w, 6));
        var frame = await wire.ReadFrameAsync();
        Assert.NotNull(frame);
        var r = new KafkaReader(frame.AsSpan(4));
        r.SkipTaggedFields();
        r.ReadInt32();
        var deleted = new List<(string? Name, Guid Id, ErrorCode Error)>();
        for (var n = r.ReadArrayLength(true); n > 0; n--)
        {
            deleted.Add((r.ReadNullableString(true), r.ReadUuid(), (ErrorCode)r.ReadInt16()));
            r.ReadNullableString(true);
            r.SkipTaggedFields();
        }
        Assert.Equal(
            [(name, id, ErrorCode.InvalidRequest), (null, unknown, ErrorCode.UnknownTopicId), (name, id, ErrorCode.None)],
            deleted.OrderBy(d => d.Error == ErrorCode.None).ThenBy(d => d.Error == ErrorCode.UnknownTopicId));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, Assert.Single((await cluster.Controller.GetMetadata(new MetadataRequest([name], AllowAutoTopicCreation: false))).Topics).Error);
    }

    private static async Task<IReadOnlyList<CreatableTopicResult>> CreateTopicsAsync(KafkaWire wire, CreatableTopic topic, bool validateOnly)
    {
        await wire.SendAsync(ApiKey.CreateTopics, 7, w => new CreateTopicsRequest([topic], 30_000, validateOnly).Write(w, 7));
        var frame = await wire.ReadFrameAsync();
        Assert.NotNull(frame);
        var r = new KafkaReader(frame.AsSpan(4));
        r.SkipTaggedFields();
        var topics = CreateTopicsResponse.Read(ref r, 7).Topics;
        Assert.Equal(0, r.Remaining);
        return topics;
    }

    /// <summary>A flexible (v9+) Metadata request and its topics by id: error, name, partition count.</summary>
    private static async Task<Dictionary<Guid, (ErrorCode Error, string? Name, int Partitions)>> MetadataV12Async(
        KafkaWire wire, short version, Protocol.Messages.MetadataRequestTopic[] topics)
    {
        await wire.SendAsync(ApiKey.Metadata, version, w => new Protocol.Messages.MetadataRequest(topics, false).Write(w, version));
        var answered = new Dictionary<Guid, (ErrorCode, string?, int)>();
        foreach (var (error, name, topicId, partitions) in KafkaWire.ReadMetadataTopics(await wire.ReadFrameAsync(), version))
            answered[topicId] = (error, name, partitions);
        return answered;
    }

    [Fact]
    public async Task Produce_to_a_broker_that_does_not_lead_the_partition_gets_NotLeaderOrFollower_and_appends_nothing()
    {
        var topic = await cluster.CreateTopicAsync("notleader", partitions: 1);
        var other = 1 - await cluster.LeaderIndexAsync(topic, 0);
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(other));

        await wire.SendAsync(ApiKey.Produce, 7, w => ProduceOne(topic, acks: 1).Write(w, 7));
        var frame = await wire.ReadFrameAsync();

        Assert.NotNull(frame);
        var r = new KafkaReader(frame.AsSpan(4));
        Assert.Equal(0, KafkaWire.FirstPartition(ref r));
        Assert.Equal((short)ErrorCode.NotLeaderOrFollower, r.ReadInt16());
        var status = await cluster.Silos.Client.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, 0)).GetStatus();
        Assert.Equal(0, status.LogEndOffset);
    }

    [Fact]
    public async Task An_acks_0_produce_gets_no_response_and_the_next_request_is_answered_in_order()
    {
        var topic = await cluster.CreateTopicAsync("acks0", partitions: 1);
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(await cluster.LeaderIndexAsync(topic, 0)));

        await wire.SendAsync(ApiKey.Produce, 8, w => ProduceOne(topic, acks: 0).Write(w, 8));
        var listOffsets = await wire.SendAsync(ApiKey.ListOffsets, 5, w =>
            new Protocol.Messages.ListOffsetsRequest(-1, 0, [new ListOffsetsTopic(topic, [new ListOffsetsPartition(0, -1, ListOffsetsTimestamp.Latest)])]).Write(w, 5));
        var frame = await wire.ReadFrameAsync();

        Assert.NotNull(frame);
        var r = new KafkaReader(frame);
        Assert.Equal(listOffsets, r.ReadInt32());
        r.ReadInt32();
        Assert.Equal(0, KafkaWire.FirstPartition(ref r));
        Assert.Equal(0, r.ReadInt16());
        r.ReadInt64();
        Assert.Equal(1, r.ReadInt64());
    }

    /// <summary>
    /// KIP-1005's LATEST_TIERED_TIMESTAMP (-5, v9): the highest offset in the tier, as the leader's manifest records it,
    /// and -1 with epoch -1 for a topic that does not tier; asked at v8 it is UnsupportedVersion, as a special timestamp
    /// before its version is in Kafka. v10 (KIP-1075) carries a timeout for lookups in the tier.
    /// </summary>
    [Fact]
    public async Task ListOffsets_v9_latest_tiered_is_the_tiers_highest_offset_and_v10_carries_a_timeout()
    {
        var tiered = $"lt-{Guid.NewGuid():N}"[..20];
        Assert.Equal(ErrorCode.None, Assert.Single(await cluster.Controller.CreateTopics([new NewTopic(tiered, 1, 1, new Dictionary<string, string>
        {
            ["remote.storage.enable"] = "true",
            ["segment.bytes"] = "1024",
            ["retention.ms"] = "-1",
        })])).Error);
        var plain = await cluster.CreateTopicAsync("ltplain", partitions: 1);
        var leader = await cluster.LeaderIndexAsync(tiered, 0);
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(leader));
        // Each request's batch fills a 1 KiB segment, so the next one rolls it: five closed segments to tier.
        for (var i = 0; i < 6; i++)
        {
            await wire.SendAsync(ApiKey.Produce, 8, w => ProduceMany(tiered, 12, 100).Write(w, 8));
            Assert.NotNull(await wire.ReadFrameAsync());
        }

        (ErrorCode Error, long Timestamp, long Offset, int Epoch) tieredAnswer = default;
        long highestInManifest = -1;
        await Eventually.WaitUntilAsync(async () =>
        {
            tieredAnswer = await ListOffsetsAsync(wire, 9, tiered, ListOffsetsTimestamp.LatestTiered);
            highestInManifest = (await cluster.ManifestAsync(leader, tiered, 0)).CopiedNextOffset() - 1;
            return highestInManifest >= 4 * 12 - 1 && tieredAnswer.Offset == highestInManifest;
        }, "the closed segments are tiered and ListOffsets -5 answers the manifest's highest offset", TimeSpan.FromSeconds(30),
            () => $"answered {tieredAnswer}, manifest's highest offset {highestInManifest}");
        var latest = await ListOffsetsAsync(wire, 9, tiered, ListOffsetsTimestamp.Latest);

        Assert.Equal((ErrorCode.None, -1L, latest.Epoch), (tieredAnswer.Error, tieredAnswer.Timestamp, tieredAnswer.Epoch));
        Assert.Equal(6 * 12, latest.Offset);
        await using var plainWire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(await cluster.LeaderIndexAsync(plain, 0)));
        Assert.Equal((ErrorCode.None, -1L, -1L, -1), await ListOffsetsAsync(plainWire, 9, plain, ListOffsetsTimestamp.LatestTiered));
        Assert.Equal(ErrorCode.UnsupportedVersion, (await ListOffsetsAsync(plainWire, 8, plain, ListOffsetsTimestamp.LatestTiered)).Error);
        Assert.Equal(ErrorCode.UnsupportedVersion, (await ListOffsetsAsync(plainWire, 6, plain, ListOffsetsTimestamp.MaxTimestamp)).Error);
        Assert.Equal(ErrorCode.UnsupportedVersion, (await ListOffsetsAsync(plainWire, 10, plain, -6)).Error);
        // v10: by timestamp, read from the tier's time index within the request's timeout.
        var byTime = await ListOffsetsAsync(wire, 10, tiered, 0, timeoutMs: 30_000);
        Assert.Equal((ErrorCode.None, 0L), (byTime.Error, byTime.Offset));
        Assert.True(byTime.Timestamp > 0);
    }

    private static async Task<(ErrorCode Error, long Timestamp, long Offset, int Epoch)> ListOffsetsAsync(
        KafkaWire wire, short version, string topic, long timestamp, int timeoutMs = 0)
    {
        var correlation = await wire.SendAsync(ApiKey.ListOffsets, version, w =>
            new Protocol.Messages.ListOffsetsRequest(-1, 0, [new ListOffsetsTopic(topic, [new ListOffsetsPartition(0, -1, timestamp)])], timeoutMs).Write(w, version));
        var frame = await wire.ReadFrameAsync();
        Assert.NotNull(frame);
        var flexible = version >= 6;
        var r = new KafkaReader(frame);
        Assert.Equal(correlation, r.ReadInt32());
        if (flexible) r.SkipTaggedFields();
        r.ReadInt32();
        Assert.Equal(1, r.ReadArrayLength(flexible));
        Assert.Equal(topic, r.ReadString(flexible));
        Assert.Equal(1, r.ReadArrayLength(flexible));
        Assert.Equal(0, r.ReadInt32());
        return ((ErrorCode)r.ReadInt16(), r.ReadInt64(), r.ReadInt64(), r.ReadInt32());
    }

    [Fact]
    public async Task A_frame_over_socket_request_max_bytes_closes_its_connection_before_it_is_sent_and_others_go_on()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        var prefix = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(prefix, 104_857_601);

        await wire.SendRawAsync(prefix);

        Assert.Null(await wire.ReadFrameAsync());
        await using var next = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await next.SendAsync(ApiKey.ApiVersions, 0, _ => { });
        Assert.NotNull(await next.ReadFrameAsync());
    }

    [Fact]
    public async Task A_request_of_a_version_not_advertised_closes_the_connection()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));

        await wire.SendAsync(ApiKey.Produce, 2, w => ProduceOne("t", acks: 1).Write(w, 2));

        Assert.Null(await wire.ReadFrameAsync());
    }

    /// <summary>
    /// Random mutations of a valid produce request, each on the connection left open by the last: the broker answers
    /// or closes, never crashes, and what it stored reads back as whole valid batches.
    /// </summary>
    [Fact]
    public async Task Mutated_frames_never_crash_the_broker_or_corrupt_the_log()
    {
        var topic = await cluster.CreateTopicAsync("fuzz", partitions: 1);
        var port = cluster.Silos.KafkaPort(await cluster.LeaderIndexAsync(topic, 0));
        using var valid = new KafkaWriter();
        var start = valid.BeginFrame();
        new RequestHeader(ApiKey.Produce, 7, 1, "fuzz").Write(valid);
        ProduceOne(topic, acks: 1).Write(valid, 7);
        valid.EndFrame(start);
        var random = new Random(16);
        var wire = await KafkaWire.ConnectAsync(port);
        var closed = 0;
        try
        {
            for (var i = 0; i < 300; i++)
            {
                var frame = valid.WrittenSpan.ToArray();
                for (var m = random.Next(1, 4); m > 0; m--) frame[random.Next(4, frame.Length)] = (byte)random.Next(256);
                await wire.SendRawAsync(frame);
                // The broker answers the request or closes the connection; either way the next send starts clean.
                if (await wire.ReadFrameAsync() is null)
                {
                    closed++;
                    await wire.DisposeAsync();
                    wire = await KafkaWire.ConnectAsync(port);
                }
            }
        }
        finally
        {
            await wire.DisposeAsync();
        }

        Assert.True(closed > 0, "no mutation closed a connection");
        await using var check = await KafkaWire.ConnectAsync(port);
        var (error, highWatermark, fetched) = (await FetchAsync(check, topic, [0], maxBytes: 50_000_000, partitionMaxBytes: 50_000_000))[0];
        Assert.Equal(ErrorCode.None, error);
        ReadOnlySpan<byte> records = fetched;
        long next = 0;
        while (!records.IsEmpty)
        {
            var size = RecordBatchHeader.Read(records).TotalSize;
            Assert.InRange(size, RecordBatchHeader.Size, records.Length);
            Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(records[..size], out var header));
            Assert.Equal(next, header.BaseOffset);
            next = header.NextOffset;
            records = records[header.TotalSize..];
        }
        Assert.Equal(highWatermark, next);
    }

    [Fact]
    public async Task A_fetch_of_two_large_partitions_answers_each_whole_and_max_bytes_leaves_out_the_second()
    {
        // Two partitions led by one broker (of four over two brokers, two share a leader), each holding records well
        // past the size the listener sends by reference and past one socket flush.
        var topic = await cluster.CreateTopicAsync("bigfetch", partitions: 4);
        var leaders = new int[4];
        for (var p = 0; p < 4; p++) leaders[p] = await cluster.LeaderIndexAsync(topic, p);
        var shared = Enumerable.Range(0, 4).GroupBy(p => leaders[p]).First(g => g.Count() >= 2);
        var leader = shared.Key;
        var partitions = shared.Take(2).ToList();
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(leader));
        const int batches = 6, perBatch = 60, valueBytes = 1000;
        for (var b = 0; b < batches; b++)
        {
            await wire.SendAsync(ApiKey.Produce, 7, w => new Protocol.Messages.ProduceRequest(null, 1, 10_000, [new ProduceTopicData(topic,
                [.. partitions.Select(p => new ProducePartitionData(p, Batch(p, b * perBatch, perBatch, valueBytes), false))])]).Write(w, 7));
            Assert.NotNull(await wire.ReadFrameAsync());
        }

        var whole = await FetchAsync(wire, topic, partitions, maxBytes: 50_000_000);
        var limited = await FetchAsync(wire, topic, partitions, maxBytes: 1);

        foreach (var p in partitions)
        {
            var (error, highWatermark, records) = whole[p];
            Assert.Equal(ErrorCode.None, error);
            Assert.Equal(batches * perBatch, highWatermark);
            Assert.Equal(Values(p, 0, batches * perBatch, valueBytes), RecordValues(records));
        }
        // Kafka's rule: the first partition with records is whole even past max_bytes; the next gets none.
        Assert.Equal(whole[partitions[0]].Records, limited[partitions[0]].Records);
        Assert.Equal(ErrorCode.None, limited[partitions[1]].Error);
        Assert.Empty(limited[partitions[1]].Records);
    }

    private static async Task<Dictionary<int, (ErrorCode Error, long HighWatermark, byte[] Records)>> FetchAsync(
        KafkaWire wire, string topic, List<int> partitions, int maxBytes, int partitionMaxBytes = 1_048_576)
    {
        await wire.SendAsync(ApiKey.Fetch, 11, w => new Protocol.Messages.FetchRequest(-1, 0, 1, maxBytes, 0, 0, -1,
            [new FetchTopic(topic, [.. partitions.Select(p => new FetchPartition(p, -1, 0, -1, partitionMaxBytes))])], "").Write(w, 11));
        var frame = await wire.ReadFrameAsync();
        Assert.NotNull(frame);
        var r = new KafkaReader(frame.AsSpan(4));
        r.ReadInt32();
        Assert.Equal(0, r.ReadInt16());
        r.ReadInt32();
        Assert.Equal(1, r.ReadArrayLength(false));
        Assert.Equal(topic, r.ReadString(false));
        var answers = new Dictionary<int, (ErrorCode, long, byte[])>();
        for (var count = r.ReadArrayLength(false); count > 0; count--)
        {
            var partition = r.ReadInt32();
            var error = (ErrorCode)r.ReadInt16();
            var highWatermark = r.ReadInt64();
            r.ReadInt64();
            r.ReadInt64();
            Assert.Equal(-1, r.ReadArrayLength(false));
            r.ReadInt32();
            answers[partition] = (error, highWatermark, r.ReadBytes(false).ToArray());
        }
        Assert.Equal(0, r.Remaining);
        return answers;
    }

    private static byte[] Batch(int partition, int first, int count, int valueBytes)
    {
        using var batch = new RecordBatchBuilder();
        batch.Reset();
        for (var i = first; i < first + count; i++) batch.Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), null, Value(partition, i, valueBytes));
        return batch.ToArray();
    }

    private static byte[] Value(int partition, int index, int valueBytes)
    {
        var value = new byte[valueBytes];
        for (var i = 0; i < value.Length; i++) value[i] = (byte)(partition * 31 + index + i);
        return value;
    }

    private static List<byte[]> Values(int partition, int first, int count, int valueBytes) =>
        [.. Enumerable.Range(first, count).Select(i => Value(partition, i, valueBytes))];

    private static List<byte[]> RecordValues(byte[] records)
    {
        var values = new List<byte[]>();
        foreach (var batch in RecordBatchReader.Batches(records))
        {
            Assert.True(batch.IsCrcValid);
            foreach (var record in batch.Records()) values.Add(record.Value.ToArray());
        }
        return values;
    }

    /// <summary>
    /// OffsetForLeaderEpoch (KIP-320), as librdkafka (v2) and the Java consumer (v3-4) send it after a leader change:
    /// the leader answers where the asked epoch ends (the log end offset for the current one), -1 and -1 for an epoch
    /// its log does not know, and the current leader epoch fences it as Fetch is fenced; a topic or partition that does
    /// not exist is UnknownTopicOrPartition.
    /// </summary>
    [Theory]
    [InlineData((short)2)]
    [InlineData((short)3)]
    [InlineData((short)4)]
    public async Task OffsetForLeaderEpoch_answers_where_an_epoch_ends_on_the_leader(short version)
    {
        var topic = await cluster.CreateTopicAsync("epochend", partitions: 1);
        var epoch = Assert.Single(Assert.Single((await cluster.Controller.GetMetadata(new MetadataRequest([topic]))).Topics).Partitions).LeaderEpoch;
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(await cluster.LeaderIndexAsync(topic, 0)));
        await wire.SendAsync(ApiKey.Produce, 8, w => ProduceMany(topic, 5, 10).Write(w, 8));
        Assert.NotNull(await wire.ReadFrameAsync());

        await wire.SendAsync(ApiKey.OffsetForLeaderEpoch, version, w => new OffsetForLeaderEpochRequest(-1,
        [
            new OffsetForLeaderTopic(topic,
            [
                new OffsetForLeaderPartition(0, -1, epoch),
                new OffsetForLeaderPartition(0, epoch, epoch + 3),
                new OffsetForLeaderPartition(0, epoch + 1, epoch),
                new OffsetForLeaderPartition(7, -1, epoch),
            ]),
            new OffsetForLeaderTopic("no-such-topic-" + Guid.NewGuid().ToString("N")[..8], [new OffsetForLeaderPartition(0, -1, 0)]),
        ]).Write(w, version));
        var frame = await wire.ReadFrameAsync();

        Assert.NotNull(frame);
        var r = new KafkaReader(frame.AsSpan(version >= 4 ? 5 : 4));
        var answer = OffsetForLeaderEpochResponse.Read(ref r, version);
        Assert.Equal(0, r.Remaining);
        Assert.Equal(
        [
            new EpochEndOffset(ErrorCode.None, 0, epoch, 5),
            new EpochEndOffset(ErrorCode.None, 0, -1, -1),
            new EpochEndOffset(ErrorCode.UnknownLeaderEpoch, 0, -1, -1),
            new EpochEndOffset(ErrorCode.UnknownTopicOrPartition, 7, -1, -1),
        ], answer.Topics[0].Partitions);
        Assert.Equal(new EpochEndOffset(ErrorCode.UnknownTopicOrPartition, 0, -1, -1), Assert.Single(answer.Topics[1].Partitions));
    }

    /// <summary>
    /// DescribeLogDirs, as kafka-log-dirs.sh and the admin clients send it to each broker: the broker's one log
    /// directory, absolute, with the partitions it holds and their local segment bytes (the leader's 10 records, the
    /// other broker nothing of this RF 1 topic), the offset lag 0 of current logs; the volume's sizes from v4. Asked for
    /// a partition it does not hold, a broker leaves it out, as Kafka does.
    /// </summary>
    [Theory]
    [InlineData((short)1)]
    [InlineData((short)2)]
    [InlineData((short)4)]
    public async Task DescribeLogDirs_lists_the_partitions_each_broker_holds_with_their_local_bytes(short version)
    {
        var topic = await cluster.CreateTopicAsync("logdirs", partitions: 1);
        var leader = await cluster.LeaderIndexAsync(topic, 0);
        await using (var produce = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(leader)))
        {
            await produce.SendAsync(ApiKey.Produce, 8, w => ProduceMany(topic, 10, 10).Write(w, 8));
            Assert.NotNull(await produce.ReadFrameAsync());
        }

        for (var index = 0; index < 2; index++)
        {
            await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(index));
            await wire.SendAsync(ApiKey.DescribeLogDirs, version, w => new DescribeLogDirsRequest([new TopicPartitions(topic, [0, 5])]).Write(w, version));
            var frame = await wire.ReadFrameAsync();
            Assert.NotNull(frame);
            var r = new KafkaReader(frame.AsSpan(version >= 2 ? 5 : 4));
            var answer = DescribeLogDirsResponse.Read(ref r, version);
            Assert.Equal(0, r.Remaining);

            var dir = Assert.Single(answer.Results);
            Assert.Equal(ErrorCode.None, dir.Error);
            Assert.Equal(Path.GetFullPath(cluster.Silos.DataDirectory(index)), dir.LogDir);
            if (index == leader)
            {
                var partition = Assert.Single(Assert.Single(dir.Topics, t => t.Name == topic).Partitions);
                Assert.Equal((0, 0L, false), (partition.Partition, partition.OffsetLag, partition.IsFutureKey));
                Assert.Equal(SegmentBytes(cluster.Silos.DataDirectory(index), topic), partition.Size);
                Assert.True(partition.Size > 10 * 10);
            }
            else Assert.Empty(dir.Topics);
            if (version >= 4) Assert.True(dir.TotalBytes > 0 && dir.UsableBytes > 0 && dir.UsableBytes <= dir.TotalBytes);
            else Assert.Equal((-1L, -1L), (dir.TotalBytes, dir.UsableBytes));
        }

        // Every partition (null): the leader's answer has this topic among the others it holds.
        await using var all = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(leader));
        await all.SendAsync(ApiKey.DescribeLogDirs, version, w => new DescribeLogDirsRequest(null).Write(w, version));
        var allFrame = await all.ReadFrameAsync();
        var ar = new KafkaReader(allFrame.AsSpan(version >= 2 ? 5 : 4));
        Assert.Contains(Assert.Single(DescribeLogDirsResponse.Read(ref ar, version).Results).Topics, t => t.Name == topic);
    }

    /// <summary>
    /// AlterReplicaLogDirs, as kafka-reassign-partitions.sh sends it with <c>log_dirs</c>: each broker has one directory,
    /// so a partition it holds is already in it (None), one it does not hold is ReplicaNotAvailable, one the cluster does
    /// not have UnknownTopicOrPartition, and any other path LogDirNotFound; nothing on disk changes.
    /// </summary>
    [Theory]
    [InlineData((short)1)]
    [InlineData((short)2)]
    public async Task AlterReplicaLogDirs_keeps_each_partition_in_the_broker_s_one_directory_and_refuses_any_other(short version)
    {
        var topic = await cluster.CreateTopicAsync("alterdirs", partitions: 1);
        var leader = await cluster.LeaderIndexAsync(topic, 0);
        var missing = "alterdirs-missing-" + Guid.NewGuid().ToString("N")[..6];
        for (var index = 0; index < 2; index++)
        {
            var root = Path.GetFullPath(cluster.Silos.DataDirectory(index));
            var before = Directory.GetDirectories(root, topic + "*").Order().ToArray();
            await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(index));
            await wire.SendAsync(ApiKey.AlterReplicaLogDirs, version, w => new AlterReplicaLogDirsRequest(
            [
                new AlterReplicaLogDir(root, [new TopicPartitions(topic, [0, 7]), new TopicPartitions(missing, [0])]),
                new AlterReplicaLogDir(root + "-other", [new TopicPartitions(topic, [1])]),
            ]).Write(w, version));
            var frame = await wire.ReadFrameAsync();
            Assert.NotNull(frame);
            var r = new KafkaReader(frame.AsSpan(version >= 2 ? 5 : 4));
            var answer = AlterReplicaLogDirsResponse.Read(ref r, version);
            Assert.Equal(0, r.Remaining);

            Assert.Equal([topic, missing], answer.Results.Select(t => t.Name));
            Assert.Equal([(0, index == leader ? ErrorCode.None : ErrorCode.ReplicaNotAvailable), (7, ErrorCode.UnknownTopicOrPartition), (1, ErrorCode.LogDirNotFound)],
                answer.Results[0].Partitions);
            Assert.Equal([(0, ErrorCode.UnknownTopicOrPartition)], answer.Results[1].Partitions);
            Assert.Equal(before, Directory.GetDirectories(root, topic + "*").Order().ToArray());
        }
    }

    private static long SegmentBytes(string dataDirectory, string topic) =>
        new DirectoryInfo(Path.Combine(dataDirectory, topic + "-0")).EnumerateFiles("*.log").Sum(f => f.Length);

    /// <summary>DescribeAcls without an authorizer: SecurityDisabled with Kafka's message and no resources, at v1 and v2.</summary>
    [Theory]
    [InlineData((short)1)]
    [InlineData((short)2)]
    public async Task DescribeAcls_is_SecurityDisabled_as_in_Kafka_without_an_authorizer(short version)
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(ApiKey.DescribeAcls, version, w => new DescribeAclsRequest(new AclSpec(1, null, 1, null, null, 1, 1)).Write(w, version));

        var flexible = version >= 2;
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(flexible ? 5 : 4) : []);
        Assert.Equal(0, r.ReadInt32());
        Assert.Equal((short)ErrorCode.SecurityDisabled, r.ReadInt16());
        Assert.Equal("No Authorizer is configured on the broker", r.ReadNullableString(flexible));
        Assert.Equal(0, r.ReadArrayLength(flexible));
    }

    private static Protocol.Messages.ProduceRequest ProduceMany(string topic, int records, int valueBytes)
    {
        using var batch = new RecordBatchBuilder();
        batch.Reset();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < records; i++) batch.Append(now, "k"u8.ToArray(), new byte[valueBytes]);
        return new Protocol.Messages.ProduceRequest(null, 1, 10_000, [new ProduceTopicData(topic, [new ProducePartitionData(0, batch.ToArray(), false)])]);
    }

    /// <summary>
    /// Fetch v16 as librdkafka 2.16 and the Java client send it: topics by id (v13, KIP-516); the last fetched epoch
    /// checked against the leader's log (v12: a client whose epoch ended earlier here gets the diverging epoch and no
    /// records, Kafka's Partition.readRecords); and, from a broker that does not lead the partition, the current leader
    /// and its endpoint (v16, KIP-951), so the client moves without asking for metadata.
    /// </summary>
    [Fact]
    public async Task Fetch_v16_reads_by_topic_id_checks_the_last_fetched_epoch_and_names_the_leader_to_a_client_at_another_broker()
    {
        var topic = await cluster.CreateTopicAsync("fetch16", partitions: 1);
        var leaderIndex = await cluster.LeaderIndexAsync(topic, 0);
        var id = Assert.Single((await cluster.Controller.GetMetadata(new MetadataRequest([topic]))).Topics).TopicId;
        await using var leader = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(leaderIndex));
        await leader.SendAsync(ApiKey.Produce, 7, w => ProduceOne(topic, acks: 1).Write(w, 7));
        Assert.NotNull(await leader.ReadFrameAsync());

        var read = await Fetch16Async(leader, id, fetchOffset: 0, lastFetchedEpoch: -1);
        Assert.Equal(id, read.Topic.TopicId);
        Assert.Equal((ErrorCode.None, 1L, -1), (read.Partition.Error, read.Partition.HighWatermark, read.Partition.DivergingEpoch));
        Assert.Equal(["v"], RecordValues(read.Partition.Records.ToArray()).Select(v => System.Text.Encoding.UTF8.GetString(v)));
        var agrees = await Fetch16Async(leader, id, fetchOffset: 1, lastFetchedEpoch: 0);
        Assert.Equal((ErrorCode.None, -1, -1L), (agrees.Partition.Error, agrees.Partition.DivergingEpoch, agrees.Partition.DivergingEndOffset));
        // An epoch later than any this log has cannot be placed: Kafka's OffsetOutOfRange ("Could not determine the end
        // offset of the last fetched epoch"). A diverging epoch is answered in LeaderElectionTests, after a leader change.
        var unplaced = await Fetch16Async(leader, id, fetchOffset: 1, lastFetchedEpoch: 5);
        Assert.Equal((ErrorCode.OffsetOutOfRange, -1), (unplaced.Partition.Error, unplaced.Partition.DivergingEpoch));
        var unknown = await Fetch16Async(leader, Guid.NewGuid(), fetchOffset: 0, lastFetchedEpoch: -1);
        Assert.Equal(ErrorCode.UnknownTopicId, unknown.Partition.Error);

        await using var other = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(1 - leaderIndex));
        var moved = await Fetch16Async(other, id, fetchOffset: 0, lastFetchedEpoch: -1);
        Assert.Equal(ErrorCode.NotLeaderOrFollower, moved.Partition.Error);
        Assert.Equal(0, moved.Partition.CurrentLeaderEpoch);
        var endpoint = Assert.Single(moved.Nodes!);
        Assert.Equal((moved.Partition.CurrentLeaderId, cluster.Silos.KafkaPort(leaderIndex)), (endpoint.NodeId, endpoint.Port));
    }

    private static async Task<(FetchTopicResponse Topic, FetchPartitionResponse Partition, IReadOnlyList<MetadataBroker>? Nodes)> Fetch16Async(
        KafkaWire wire, Guid topicId, long fetchOffset, int lastFetchedEpoch)
    {
        await wire.SendAsync(ApiKey.Fetch, 16, w => new Protocol.Messages.FetchRequest(-1, 0, 1, 1_048_576, 0, 0, -1,
            [new FetchTopic("", [new FetchPartition(0, -1, fetchOffset, -1, 1_048_576, lastFetchedEpoch)], topicId)], "").Write(w, 16));
        var frame = await wire.ReadFrameAsync();
        Assert.NotNull(frame);
        var r = new KafkaReader(frame.AsSpan(4));
        r.SkipTaggedFields();
        var response = Protocol.Messages.FetchResponse.Read(ref r, 16);
        Assert.Equal(0, r.Remaining);
        var topic = Assert.Single(response.Topics);
        return (topic, Assert.Single(topic.Partitions), response.NodeEndpoints);
    }

    /// <summary>
    /// Produce v10 (librdkafka 2.16's version here): to the leader it appends as before; to a broker that does not lead
    /// the partition it is NotLeaderOrFollower with the current leader and its endpoint (KIP-951), and appends nothing.
    /// </summary>
    [Fact]
    public async Task Produce_v10_to_a_broker_that_does_not_lead_names_the_current_leader_and_its_endpoint()
    {
        var topic = await cluster.CreateTopicAsync("produce10", partitions: 1);
        var leaderIndex = await cluster.LeaderIndexAsync(topic, 0);
        await using var leader = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(leaderIndex));
        await using var other = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(1 - leaderIndex));

        var appended = await Produce10Async(leader, topic);
        Assert.Equal((ErrorCode.None, 0L, -1), (appended.Partition.Error, appended.Partition.BaseOffset, appended.Partition.CurrentLeaderId));
        Assert.Null(appended.Nodes);
        var moved = await Produce10Async(other, topic);
        Assert.Equal((ErrorCode.NotLeaderOrFollower, 0), (moved.Partition.Error, moved.Partition.CurrentLeaderEpoch));
        var endpoint = Assert.Single(moved.Nodes!);
        Assert.Equal((moved.Partition.CurrentLeaderId, cluster.Silos.KafkaPort(leaderIndex)), (endpoint.NodeId, endpoint.Port));
        // The refused batch was not appended: the next one is offset 1.
        var next = await Produce10Async(leader, topic);
        Assert.Equal((ErrorCode.None, 1L), (next.Partition.Error, next.Partition.BaseOffset));
    }

    private static async Task<(ProducePartitionResponse Partition, IReadOnlyList<MetadataBroker>? Nodes)> Produce10Async(KafkaWire wire, string topic)
    {
        await wire.SendAsync(ApiKey.Produce, 10, w => ProduceOne(topic, acks: 1).Write(w, 10));
        var frame = await wire.ReadFrameAsync();
        Assert.NotNull(frame);
        var r = new KafkaReader(frame.AsSpan(4));
        r.SkipTaggedFields();
        var response = Protocol.Messages.ProduceResponse.Read(ref r, 10);
        Assert.Equal(0, r.Remaining);
        return (Assert.Single(Assert.Single(response.Topics).Partitions), response.NodeEndpoints);
    }

    private static Protocol.Messages.ProduceRequest ProduceOne(string topic, short acks)
    {
        using var batch = new RecordBatchBuilder();
        batch.Reset();
        batch.Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "k"u8.ToArray(), "v"u8.ToArray());
        return new Protocol.Messages.ProduceRequest(null, acks, 10_000, [new ProduceTopicData(topic, [new ProducePartitionData(0, batch.ToArray(), false)])]);
    }
}
