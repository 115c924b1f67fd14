using System.Buffers.Binary;
using System.Text.RegularExpressions;
using OrleansStream.Protocol;
using M = OrleansStream.Protocol.Messages;
using OrleansStream.Records;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// Every advertised API at every advertised version, with well-formed requests full of odd values (empty, overlong and
/// illegal names, names of nothing, negative, zero and extreme numbers, nulls where the schema allows them, random
/// bytes where bytes go) and with random byte mutations of the same frames: a broker answers each request with Kafka's
/// errors or closes the connection, no handler fails (the listener's "failed; closing the connection" log line, which
/// only an unexpected exception writes), and both brokers serve a client normally afterwards. ODD_SEED and ODD_N (requests
/// per version, 8) run other or longer sequences.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed partial class OddRequestTests(KafkaCluster cluster)
{
    private static readonly int RequestsPerVersion = int.Parse(Environment.GetEnvironmentVariable("ODD_N") ?? "8");

    [Fact]
    public async Task Every_advertised_request_with_odd_values_or_mutated_bytes_is_answered_or_refused_and_no_handler_fails()
    {
        var topic = await cluster.CreateTopicAsync("odd", partitions: 2);
        await RunAsync(cluster.Silos, topic, async () =>
        {
            // Both brokers still serve: a record produced to a new topic through each reads back.
            var check = await cluster.CreateTopicAsync("odd-after", partitions: 1);
            var leader = cluster.Silos.KafkaPort(await cluster.LeaderIndexAsync(check, 0));
            await using var wire = await KafkaWire.ConnectAsync(leader);
            await wire.SendAsync(ApiKey.Produce, 8, w => new M.ProduceRequest(null, -1, 10_000,
                [new M.ProduceTopicData(check, [new M.ProducePartitionData(0, OddValues.OneRecordBatch(), false)])]).Write(w, 8));
            var produced = new KafkaReader((await wire.ReadFrameAsync())!.AsSpan(4));
            Assert.Equal(0, KafkaWire.FirstPartition(ref produced));
            Assert.Equal((short)ErrorCode.None, produced.ReadInt16());
            foreach (var port in new[] { cluster.Silos.KafkaPort(0), cluster.Silos.KafkaPort(1) })
            {
                await using var other = await KafkaWire.ConnectAsync(port);
                var correlation = await other.SendAsync(ApiKey.Metadata, 8, w => new M.MetadataRequest([check], false).Write(w, 8));
                Assert.Equal(correlation, BinaryPrimitives.ReadInt32BigEndian((await other.ReadFrameAsync())!));
            }
            // A mutated UpdateFeatures may have moved transaction.version, which the other tests of the cluster take as 2.
            await wire.SendAsync(ApiKey.UpdateFeatures, 1, w => new M.UpdateFeaturesRequest(60_000,
                [new M.FeatureUpdate("transaction.version", 2, M.FeatureUpgradeType.Upgrade)], false).Write(w, 1));
            var restored = new KafkaReader((await wire.ReadFrameAsync())!.AsSpan(5));
            Assert.Equal(ErrorCode.None, M.UpdateFeaturesResponse.Read(ref restored, 1).Error);
        });
    }

    /// <summary>
    /// Sends every request the brokers advertise (those <paramref name="only"/> keeps), at every version, odd and
    /// mutated, to the two brokers' first Kafka listeners, naming <paramref name="topic"/> among odd names; then
    /// <paramref name="stillServes"/> checks that the brokers serve, and no silo may have logged a handler failure meanwhile.
    /// </summary>
    internal static async Task RunAsync(SiloProcesses silos, string topic, Func<Task> stillServes, Func<ApiKey, bool>? only = null)
    {
        var outputBefore = OutputLengths(silos);
        var random = new Random(int.Parse(Environment.GetEnvironmentVariable("ODD_SEED") ?? "20261206"));
        var odd = new OddValues(random, topic);
        var ports = new[] { silos.KafkaPort(0), silos.KafkaPort(1) };
        var (answered, mutatedClosed) = (0, 0);
        var closed = new List<string>();

        var advertised = await AdvertisedAsync(ports[0]);
        Assert.Equal(advertised, await AdvertisedAsync(ports[1]));
        foreach (var api in advertised)
        {
            if (only is not null && !only(api.Key)) continue;
            for (var version = api.MinVersion; version <= api.MaxVersion; version++)
                for (var i = 0; i < RequestsPerVersion; i++)
                {
                    var (frame, headerLength) = Frame(api.Key, version, Request(api.Key, version, odd));
                    var port = ports[random.Next(ports.Length)];
                    if (await AnsweredAsync(port, frame, $"{api.Key} v{version} #{i}")) answered++;
                    else closed.Add($"{api.Key} v{version} #{i}");

                    // A long poll is no odd input: a fetch whose mutated max wait ran to days would wait that long, as
                    // Kafka's would.
                    if (api.Key == ApiKey.Fetch) continue;
                    if (frame.Length <= headerLength) continue;
                    for (var m = random.Next(1, 4); m > 0; m--) frame[random.Next(headerLength, frame.Length)] = (byte)random.Next(256);
                    if (!await AnsweredAsync(port, frame, $"mutated {api.Key} v{version} #{i}")) mutatedClosed++;
                }
        }

        // A well-formed request, however odd its values, gets Kafka's errors; only broken framing closes a connection
        // (which some of the mutations of a whole run make; a run of a few small requests may not).
        Assert.True(closed.Count == 0 && (mutatedClosed > 0 || only is not null),
            $"answered {answered}, closed {string.Join(", ", closed)}, mutated and closed {mutatedClosed}\n{OutputSince(silos, outputBefore)}");

        await stillServes();
        var failures = FailureLines(OutputSince(silos, outputBefore));
        Assert.True(failures.Count == 0, $"handlers failed on {failures.Count} requests:\n{string.Join('\n', failures)}");
    }

    /// <summary>What the broker at <paramref name="port"/> advertises in ApiVersions v0.</summary>
    private static async Task<List<SupportedApi>> AdvertisedAsync(int port)
    {
        await using var wire = await KafkaWire.ConnectAsync(port);
        await wire.SendAsync(ApiKey.ApiVersions, 0, static _ => { });
        var r = new KafkaReader((await wire.ReadFrameAsync())!.AsSpan(4));
        var (error, apis, _) = M.ApiVersionsResponse.Read(ref r, 0);
        Assert.Equal(ErrorCode.None, error);
        return apis;
    }

    /// <summary>
    /// Sends the frame, then an ApiVersions v0 probe on the same connection: the broker answers the frame (or not, for
    /// acks=0) and then the probe, in order, or closes the connection. True when the probe was answered.
    /// </summary>
    private static async Task<bool> AnsweredAsync(int port, byte[] frame, string what)
    {
        await using var wire = await KafkaWire.ConnectAsync(port);
        await wire.SendRawAsync(frame);
        var probe = await wire.SendAsync(ApiKey.ApiVersions, 0, static _ => { });
        var responses = 0;
        while (true)
        {
            var response = await wire.ReadFrameAsync();
            if (response is null) return false;
            var id = BinaryPrimitives.ReadInt32BigEndian(response);
            if (id == probe) return true;
            Assert.True(id == Correlation && ++responses == 1, $"{what}: a response with correlation id {id}, expected {Correlation} once, then {probe}");
        }
    }

    /// <summary>Every request's correlation id; the probe's (KafkaWire's first, 1) differs.</summary>
    private const int Correlation = 1_000_000;

    /// <summary>The frame and the length of its size prefix and request header, which mutations leave intact.</summary>
    private static (byte[] Frame, int HeaderLength) Frame(ApiKey key, short version, Action<KafkaWriter, short> body)
    {
        using var w = new KafkaWriter();
        var start = w.BeginFrame();
        new RequestHeader(key, version, Correlation, "odd").Write(w);
        var headerLength = w.Length;
        body(w, version);
        w.EndFrame(start);
        return (w.WrittenSpan.ToArray(), headerLength);
    }

    private static int[] OutputLengths(SiloProcesses silos) => [silos.Output(0).Length, silos.Output(1).Length];

    /// <summary>What each silo wrote since <paramref name="before"/>.</summary>
    private static string OutputSince(SiloProcesses silos, int[] before) => silos.Output(0)[before[0]..] + "\n" + silos.Output(1)[before[1]..];

    private static List<string> FailureLines(string output)
    {
        var lines = new List<string>();
        foreach (Match m in FailureLine().Matches(output)) lines.Add(m.Value);
        return lines;
    }

    [GeneratedRegex(@"[^\n]*failed; closing the connection[^\n]*(\n[^\n]*Exception[^\n]*)?")]
    private static partial Regex FailureLine();

    /// <summary>One request of the API with odd values, written for the version asked.</summary>
    private static Action<KafkaWriter, short> Request(ApiKey key, short version, OddValues o) => key switch
    {
        ApiKey.Produce => new M.ProduceRequest(o.NullableName(), o.Pick<short>(-1, 1, 2, -2, 5), o.Pick(0, 1, 1000),
            o.ArrayOf(() => new M.ProduceTopicData(o.Name(), o.ArrayOf(() => new M.ProducePartitionData(o.PartitionIndex(), o.Records(), o.Chance(8)))))).Write,
        ApiKey.Fetch => new M.FetchRequest(o.Int32(), o.Pick(-1, 0, 1), o.Int32(), o.Int32(), o.Int8(), o.Int32(), o.Int32(),
            o.ArrayOf(() => new M.FetchTopic(o.Name(), o.ArrayOf(() => new M.FetchPartition(o.PartitionIndex(), o.Int32(), o.Int64(), o.Int64(), o.Int32(), o.Int32())),
                o.Chance(2) ? Guid.NewGuid() : Guid.Empty)),
            o.NullableName()).Write,
        ApiKey.ListOffsets => new M.ListOffsetsRequest(o.Int32(), o.Int8(),
            o.ArrayOf(() => new M.ListOffsetsTopic(o.Name(), o.ArrayOf(() => new M.ListOffsetsPartition(o.PartitionIndex(), o.Int32(), o.Int64())))), o.Int32()).Write,
        ApiKey.OffsetForLeaderEpoch => new M.OffsetForLeaderEpochRequest(o.Int32(),
            o.ArrayOf(() => new M.OffsetForLeaderTopic(o.Name(), o.ArrayOf(() => new M.OffsetForLeaderPartition(o.PartitionIndex(), o.Int32(), o.Int32()))))).Write,
        ApiKey.Metadata => new M.MetadataRequest(o.Chance(4) ? null
            : o.Array(() => new M.MetadataRequestTopic(version >= 10 && o.Chance(3) ? Guid.NewGuid() : Guid.Empty, version >= 10 && o.Chance(5) ? null : o.Name())), o.Chance(2)).Write,
        ApiKey.OffsetCommit => new M.OffsetCommitRequest(o.Name(), o.Int32(), o.Name(), o.NullableName(), o.ArrayOf(o.CommitTopic)).Write,
        ApiKey.OffsetFetch => new M.OffsetFetchRequest(
            version >= 8 ? o.Array(() => new M.OffsetFetchRequestGroup(o.Name(), o.Chance(3) ? null : o.Array(o.Partitions), version >= 9 ? o.NullableName() : null, version >= 9 ? o.Int32() : -1))
                : [new M.OffsetFetchRequestGroup(o.Name(), o.Chance(3) && version >= 2 ? null : o.Array(o.Partitions))],
            o.Chance(2)).Write,
        ApiKey.FindCoordinator => new M.FindCoordinatorRequest(o.Name(), o.Int8(), version >= 4 ? o.Array(o.Name) : null).Write,
        // A group of its own for each join: a join into a group whose other member never rejoins waits for that
        // member's rebalance timeout, as in Kafka.
        ApiKey.JoinGroup => new M.JoinGroupRequest(o.FreshName(), o.Int32(), o.Int32(), o.Name(), o.NullableName(), o.Name(),
            o.Array(() => new M.JoinGroupRequestProtocol(o.Name(), o.Bytes())), o.NullableName()).Write,
        ApiKey.Heartbeat => new M.HeartbeatRequest(o.Name(), o.Int32(), o.Name(), o.NullableName()).Write,
        ApiKey.LeaveGroup => new M.LeaveGroupRequest(o.Name(), version >= 3 ? o.Array(() => new M.LeaveGroupMember(o.Name(), o.NullableName(), o.NullableName())) : [new M.LeaveGroupMember(o.Name(), null)]).Write,
        ApiKey.SyncGroup => new M.SyncGroupRequest(o.Name(), o.Int32(), o.Name(), o.NullableName(), o.Array(() => new M.SyncGroupRequestAssignment(o.Name(), o.Bytes())),
            o.NullableName(), o.NullableName()).Write,
        ApiKey.DescribeGroups => new M.GroupsRequest(o.Array(o.Name), o.Chance(2)).WriteDescribeGroups,
        ApiKey.ListGroups => new M.ListGroupsRequest(o.Array(o.Name), o.Array(o.Name)).Write,
        ApiKey.SaslHandshake => new M.SaslHandshakeRequest(o.Name()).Write,
        ApiKey.ApiVersions => new M.ApiVersionsRequest(o.NullableName(), o.NullableName()).Write,
        ApiKey.CreateTopics => new M.CreateTopicsRequest(
            o.Array(() => new M.CreatableTopic(o.Chance(2) ? o.FreshName() : o.Name(), o.Pick(-1, 0, 1, 2, 10_001, int.MaxValue, int.MinValue), o.Pick<short>(-1, 0, 1, 2, 3, short.MaxValue),
                o.Chance(6), o.Array(() => new KeyValuePair<string, string?>(o.ConfigName(), o.NullableName())))),
            o.Int32(), o.Chance(2)).Write,
        ApiKey.DeleteTopics => new M.DeleteTopicsRequest(
            o.Array(() => new M.DeleteTopicState(version >= 6 && o.Chance(4) ? null : o.Name(), version >= 6 && o.Chance(3) ? Guid.NewGuid() : Guid.Empty)), o.Int32()).Write,
        ApiKey.InitProducerId => new M.InitProducerIdRequest(o.NullableName(), o.Int32(), o.Int64(), o.Int16()).Write,
        ApiKey.AddPartitionsToTxn => new M.AddPartitionsToTxnRequest(o.Name(), o.Int64(), o.Int16(), o.ArrayOf(o.Partitions)).Write,
        ApiKey.AddOffsetsToTxn => new M.AddOffsetsToTxnRequest(o.Name(), o.Int64(), o.Int16(), o.Name()).Write,
        ApiKey.EndTxn => new M.EndTxnRequest(o.Name(), o.Int64(), o.Int16(), o.Chance(2)).Write,
        ApiKey.WriteTxnMarkers => new M.WriteTxnMarkersRequest(
            o.ArrayOf(() => new M.WritableTxnMarker(o.Int64(), o.Int16(), o.Chance(2), o.ArrayOf(o.Partitions), o.Int32()))).Write,
        ApiKey.TxnOffsetCommit => new M.TxnOffsetCommitRequest(o.Name(), o.Name(), o.Int64(), o.Int16(), o.ArrayOf(o.CommitTopic), o.Int32(), o.Name(), o.NullableName()).Write,
        ApiKey.DescribeTransactions => new M.DescribeTransactionsRequest(o.ArrayOf(o.Name)).Write,
        ApiKey.ListTransactions => new M.ListTransactionsRequest(o.ArrayOf(o.Name), o.ArrayOf(o.Int64), o.Int64()).Write,
        ApiKey.CreatePartitions => new M.CreatePartitionsRequest(
            o.Array(() => new M.CreatePartitionsTopic(o.Name(), o.Pick(-1, 0, 1, 2, 3, 10_001, int.MaxValue), o.Chance(6))), o.Int32(), o.Chance(2)).Write,
        ApiKey.DeleteGroups => new M.GroupsRequest(o.Array(o.Name)).WriteDeleteGroups,
        ApiKey.ElectLeaders => new M.ElectLeadersRequest(o.Int8(), o.Chance(4) ? null : o.ArrayOf(o.Partitions), o.Int32()).Write,
        ApiKey.AlterPartitionReassignments => new M.AlterPartitionReassignmentsRequest(o.Int32(), o.ArrayOf(() => new M.ReassignableTopic(o.ReassignableName(),
            o.ArrayOf(() => new M.ReassignablePartition(o.PartitionIndex(), o.Chance(3) ? null : o.ArrayOf(() => o.Pick(-1, 0, 1, 2, 3, 99_999, int.MaxValue))))))).Write,
        ApiKey.ListPartitionReassignments => new M.ListPartitionReassignmentsRequest(o.Int32(), o.Chance(3) ? null : o.ArrayOf(o.Partitions)).Write,
        ApiKey.DescribeConfigs => new M.DescribeConfigsRequest(
            o.Array(() => new M.DescribeConfigsResource(o.ResourceType(), o.Name(), o.Chance(3) ? null : o.Array(o.ConfigName))), o.Chance(2), o.Chance(2)).Write,
        ApiKey.SaslAuthenticate => new M.SaslAuthenticateRequest(o.Bytes()).Write,
        ApiKey.AlterConfigs => (w, v) => o.AlterConfigs(incremental: false).Write(w, incremental: false, flexible: v >= 2),
        ApiKey.IncrementalAlterConfigs => (w, v) => o.AlterConfigs(incremental: true).Write(w, incremental: true, flexible: v >= 1),
        ApiKey.DeleteRecords => new M.DeleteRecordsRequest(o.ArrayOf(() => new M.DeleteRecordsTopic(o.Name(), o.ArrayOf(() => new M.DeleteRecordsPartition(o.PartitionIndex(), o.Int64())))), o.Int32()).Write,
        ApiKey.OffsetDelete => new M.OffsetDeleteRequest(o.Name(), o.Array(o.Partitions)).Write,
        ApiKey.DescribeAcls => new M.DescribeAclsRequest(o.Acl()).Write,
        ApiKey.CreateAcls => new M.CreateAclsRequest(o.ArrayOf(() => o.Acl() with { ResourceName = o.Name(), Principal = o.Name(), Host = o.Name() })).Write,
        ApiKey.DeleteAcls => new M.DeleteAclsRequest(o.ArrayOf(o.Acl)).Write,
        ApiKey.DescribeUserScramCredentials => new M.DescribeUserScramCredentialsRequest(o.Chance(3) ? null : o.ArrayOf(o.Name)).Write,
        ApiKey.AlterUserScramCredentials => new M.AlterUserScramCredentialsRequest(
            o.ArrayOf(() => new M.ScramCredentialDeletion(o.Name(), o.Int8())),
            o.ArrayOf(() => new M.ScramCredentialUpsertion(o.Name(), o.Int8(), o.Pick(-1, 0, 4095, 4096, 16384, 16385, int.MaxValue), o.Bytes(), o.Bytes()))).Write,
        ApiKey.DescribeClientQuotas => new M.DescribeClientQuotasRequest(
            o.ArrayOf(() => new M.ClientQuotaFilterComponent(o.QuotaEntityType(), o.Int8(), o.NullableName())), o.Chance(2)).Write,
        ApiKey.AlterClientQuotas => o.AlterClientQuotas().Write,
        ApiKey.UpdateFeatures => o.UpdateFeatures(version).Write,
        ApiKey.DescribeCluster => new M.DescribeClusterRequest(o.Chance(2), o.Int8(), o.Chance(2)).Write,
        ApiKey.DescribeTopicPartitions => new M.DescribeTopicPartitionsRequest(o.Chance(3) ? [] : o.Array(o.Name), o.Pick(-1, 0, 1, 2, 2000, int.MaxValue, int.MinValue),
            o.Chance(2) ? null : new M.DescribeTopicPartitionsCursor(o.Name(), o.Pick(-1, 0, 1, int.MaxValue, int.MinValue))).Write,
        ApiKey.DescribeLogDirs => new M.DescribeLogDirsRequest(o.Chance(3) ? null : o.ArrayOf(o.Partitions)).Write,
        ApiKey.AlterReplicaLogDirs => new M.AlterReplicaLogDirsRequest(o.ArrayOf(() => new M.AlterReplicaLogDir(o.Name(), o.ArrayOf(o.Partitions)))).Write,
        ApiKey.DescribeProducers => new M.DescribeProducersRequest(o.ArrayOf(o.Partitions)).Write,
        // A consumer group of its own for each heartbeat, as for JoinGroup: odd members would otherwise share one.
        ApiKey.ConsumerGroupHeartbeat => new M.ConsumerGroupHeartbeatRequest(o.FreshName(), o.Name(), o.Pick(-3, -2, -1, 0, 0, 1, 2, int.MaxValue), o.NullableName(),
            o.NullableName(), o.Int32(), o.Chance(3) ? null : o.Array(o.Name), version >= 1 && o.Chance(3) ? o.NullableName() : null, o.NullableName(),
            o.Chance(3) ? null : o.Array(() => new M.ConsumerGroupTopicPartitions(o.Chance(2) ? Guid.NewGuid() : Guid.Empty, o.ArrayOf(o.PartitionIndex)))).Write,
        ApiKey.ConsumerGroupDescribe => new M.ConsumerGroupDescribeRequest(o.Array(o.Name), o.Chance(2)).Write,
        // Telemetry state is each broker's cache of client instances, which nothing else reads: odd instances expire.
        ApiKey.GetTelemetrySubscriptions => new M.GetTelemetrySubscriptionsRequest(o.Chance(2) ? Guid.Empty : o.Pick(Guid.NewGuid(), new Guid("00000000-0000-0000-0000-000000000001"))).Write,
        ApiKey.PushTelemetry => new M.PushTelemetryRequest(o.Pick(Guid.Empty, Guid.NewGuid(), new Guid("00000000-0000-0000-0000-000000000001")), o.Int32(), o.Chance(2),
            o.Int8(), o.Bytes()).Write,
        ApiKey.ListClientMetricsResources => new M.ListClientMetricsResourcesRequest().Write,
        _ => throw new InvalidOperationException($"{key} is advertised and has no odd request here: add one."),
    };

    /// <summary>Odd values, each drawn from what Kafka's schema allows for its field.</summary>
    internal sealed class OddValues(Random random, string topic)
    {
        private static readonly byte[] s_batch = OneRecordBatch();
        private int _fresh;

        public static byte[] OneRecordBatch()
        {
            using var batch = new RecordBatchBuilder();
            batch.Reset();
            batch.Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "k"u8.ToArray(), "v"u8.ToArray());
            return batch.ToArray();
        }

        public T Pick<T>(params T[] values) => values[random.Next(values.Length)];

        public bool Chance(int oneIn) => random.Next(oneIn) == 0;

        /// <summary>Names of nothing, of the test's topic, empty, whitespace, too long, illegal, reserved.</summary>
        public string Name() => random.Next(11) switch
        {
            0 => "",
            1 => topic,
            2 => "x",
            // Past Kafka's 249 characters; and near the 32,767 bytes a non-flexible string holds, which an answer
            // that repeats the name inside a longer message must not overflow.
            3 => new string('n', Chance(2) ? 300 : short.MaxValue),
            4 => "a b/..",
            5 => "é☃\u0000",
            6 => "..",
            7 => "__consumer_offsets",
            8 => " \t",
            _ => FreshName(),
        };

        public string FreshName() => $"odd-{random.Next():x}-{++_fresh}";

        /// <summary>
        /// The test's topic or names of nothing: the cluster is shared, so a reassignment may move only the test's own
        /// partitions (never __consumer_offsets or another test's topic).
        /// </summary>
        public string ReassignableName() => random.Next(4) switch
        {
            0 or 1 => topic,
            2 => "",
            _ => FreshName(),
        };

        public string? NullableName() => Chance(4) ? null : Name();

        /// <summary>An ACL binding or filter of odd types, names, operations and permissions.</summary>
        public M.AclSpec Acl() => new(Int8(), NullableName(), Int8(), NullableName(), NullableName(), Int8(), Int8());

        public string ConfigName() => Pick("", "x", "retention.ms", "cleanup.policy", "min.insync.replicas", "compression.type", "segment.bytes");

        public int Int32() => Pick(-1, 0, 1, 3, 1000, int.MaxValue, int.MinValue);

        public int PartitionIndex() => Pick(-1, 0, 1, 2, 7, int.MaxValue, int.MinValue);

        public long Int64() => Pick(-5L, -4L, -3L, -2L, -1L, 0L, 1L, 42L, long.MaxValue, long.MinValue);

        public short Int16() => Pick<short>(-1, 0, 1, 3, short.MaxValue, short.MinValue);

        public sbyte Int8() => Pick<sbyte>(-1, 0, 1, 2, 3, 127, -128);

        public byte[] Bytes()
        {
            var bytes = new byte[Pick(0, 1, 4, 17)];
            random.NextBytes(bytes);
            return bytes;
        }

        public ReadOnlyMemory<byte> Records() => random.Next(4) switch
        {
            0 => s_batch,
            1 => System.Array.Empty<byte>(),
            2 => Bytes(),
            _ => Mutated(s_batch),
        };

        private byte[] Mutated(byte[] valid)
        {
            var copy = valid.ToArray();
            copy[random.Next(copy.Length)] = (byte)random.Next(256);
            return copy;
        }

        public M.ConfigResourceType ResourceType() => Pick(M.ConfigResourceType.Topic, M.ConfigResourceType.Topic, M.ConfigResourceType.Broker,
            M.ConfigResourceType.BrokerLogger, M.ConfigResourceType.Unknown, (M.ConfigResourceType)99, (M.ConfigResourceType)(-1));

        public M.TopicPartitions Partitions() => new(Name(), ArrayOf(PartitionIndex));

        public M.OffsetCommitTopic CommitTopic() =>
            new(Name(), ArrayOf(() => new M.OffsetCommitPartition(PartitionIndex(), Int64(), Int32(), Chance(3) ? null : new string('m', Pick(0, 1, 5000)))));

        /// <summary>
        /// Broker and logger resources are validated only: a change to a broker's configuration would outlive the test
        /// and reach the other tests on this cluster.
        /// </summary>
        public M.AlterConfigsRequest AlterConfigs(bool incremental)
        {
            var resources = Array(() => new M.AlterConfigsResource(ResourceType(), Name(),
                Array(() => new M.AlterConfigsEntry(ConfigName(), incremental ? Int8() : (sbyte)0, NullableName()))));
            var onlyTopics = true;
            foreach (var r in resources) onlyTopics &= r.Type == M.ConfigResourceType.Topic;
            return new M.AlterConfigsRequest(resources, ValidateOnly: !onlyTopics || Chance(2));
        }

        public string QuotaEntityType() => Pick("user", "client-id", "ip", "", "x");

        public M.ClientQuotaEntity[] QuotaEntity() => ArrayOf(() => new M.ClientQuotaEntity(QuotaEntityType(), NullableName()));

        /// <summary>
        /// Quotas change for real only on entities every part of which has a fresh name: a quota on a default entity
        /// (a null name) or on a name other tests' clients use would outlive the test and throttle those clients.
        /// </summary>
        public M.UpdateFeaturesRequest UpdateFeatures(short version)
        {
            // The cluster is shared: transaction.version moves only where the request only validates (v1+); what the
            // mutated bytes may still move, the test puts back after.
            var validateOnly = version >= 1 && Chance(2);
            return new M.UpdateFeaturesRequest(Pick(-1, 0, 60_000), ArrayOf(() => new M.FeatureUpdate(Chance(2) ? "transaction.version" : Name(),
                validateOnly ? Pick<short>(-1, 0, 1, 2, 3, short.MaxValue) : Pick<short>(-1, 2, 3, short.MaxValue, short.MinValue), (M.FeatureUpgradeType)Int8())),
                validateOnly);
        }

        public M.AlterClientQuotasRequest AlterClientQuotas()
        {
            var entries = ArrayOf(() => new M.ClientQuotaAlteration(QuotaEntity(), ArrayOf(() => new M.ClientQuotaOp(
                Pick("producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate", "connection_creation_rate", "", "x"),
                Pick(-1.0, 0.0, 1.0, 1024.0, double.NaN, double.PositiveInfinity, 1e300), Chance(3)))));
            var onlyFresh = true;
            foreach (var entry in entries)
            {
                onlyFresh &= entry.Entity.Length > 0;
                foreach (var part in entry.Entity)
                    onlyFresh &= part.EntityName?.StartsWith("odd-", StringComparison.Ordinal) == true && part.EntityName != topic;
            }
            return new M.AlterClientQuotasRequest(entries, ValidateOnly: !onlyFresh || Chance(2));
        }

        public List<T> Array<T>(Func<T> item)
        {
            var list = new List<T>();
            for (var n = Pick(0, 1, 1, 2, 3); n > 0; n--) list.Add(item());
            return list;
        }

        public T[] ArrayOf<T>(Func<T> item) => Array(item).ToArray();
    }
}
