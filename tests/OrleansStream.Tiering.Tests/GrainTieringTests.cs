using OrleansStream.Client;
using OrleansStream.Client.Admin;
using OrleansStream.Records;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Tiering.Tests;

/// <summary>
/// Tiering through the whole broker: partition grains on three in-process silos, the client SDK, and Azurite as the
/// tier. The leader's timer copies closed segments and applies local retention; consumers read across the boundary.
/// </summary>
[Trait("Category", "Slow")]
public sealed class GrainTieringTests(TieringCluster cluster) : IClassFixture<TieringCluster>, IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    /// <summary>Brokers a failed test left stopped come back before the class's next test.</summary>
    public async ValueTask DisposeAsync() => await cluster.StartStoppedSilosAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Record timestamps start here and grow by one second per record, so time lookups have known answers.</summary>
    private static readonly long T0 = DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeMilliseconds();

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    private static string ValueOf(long i) => $"value-{i:D6}-" + new string((char)('a' + i % 26), 80);

    private static Dictionary<string, string> Tiered(int segmentBytes = 8192, long localRetentionBytes = 16384) => new()
    {
        ["remote.storage.enable"] = "true",
        ["segment.bytes"] = segmentBytes.ToString(),
        ["index.interval.bytes"] = "512",
        ["local.retention.bytes"] = localRetentionBytes.ToString(),
        ["retention.ms"] = "-1",
    };

    private async Task<string> CreateTopicAsync(string prefix, short replicationFactor, Dictionary<string, string> configs)
    {
        var name = Unique(prefix);
        using var admin = new AdminClientBuilder(cluster.Client).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = name, NumPartitions = 1, ReplicationFactor = replicationFactor, Configs = configs }]);
        return name;
    }

    private async Task<TopicPartitionInfo> DescribeAsync(string topic)
    {
        using var admin = new AdminClientBuilder(cluster.Client).Build();
        var result = await admin.DescribeTopicsAsync([topic]);
        return result.TopicDescriptions.Single().Partitions.Single();
    }

    /// <summary>
    /// Produces records <paramref name="from"/>..<paramref name="from"/>+<paramref name="count"/>-1 with acks=all, in
    /// flushed waves of <paramref name="wave"/> records: a produce request lands in one segment (as in Kafka), so waves
    /// larger than segment.bytes roll a segment each. Record i is stamped T0 + i seconds unless <paramref name="timestampOf"/> says otherwise.
    /// </summary>
    private async Task ProduceAsync(string topic, int from, int count, int wave = 100, Func<int, string?>? keyOf = null, Func<int, string?>? valueOf = null,
        Func<int, long>? timestampOf = null)
    {
        var config = new ProducerConfig { Acks = Acks.All, LingerMs = 1, BatchSize = 2048, MessageTimeoutMs = 30000 };
        await using var producer = new ProducerBuilder<string?, string?>(cluster.Client, config).Build();
        var deliveries = new List<Task<DeliveryResult<string?, string?>>>(count);
        for (var i = from; i < from + count; i++)
        {
            deliveries.Add(producer.ProduceAsync(topic, new Message<string?, string?>
            {
                Key = keyOf is null ? $"k{i}" : keyOf(i),
                Value = valueOf is null ? ValueOf(i) : valueOf(i),
                Timestamp = new Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(timestampOf is null ? T0 + i * 1000L : timestampOf(i))),
            }, Ct));
            if ((i - from + 1) % wave == 0) await producer.FlushAsync(Ct);
        }
        await producer.FlushAsync(Ct);
        var results = await Task.WhenAll(deliveries);
        for (var i = 0; i < count; i++) Assert.Equal(PersistenceStatus.Persisted, results[i].Status);
    }

    /// <summary>Reads <paramref name="count"/> records from <paramref name="from"/> through the SDK (low-level consumer).</summary>
    private List<ConsumeResult<string?, string?>> Consume(string topic, long from, int count)
    {
        var config = new ConsumerConfig { AutoOffsetReset = AutoOffsetReset.Error, FetchWaitMaxMs = 100, EnablePartitionEof = true };
        using var consumer = new ConsumerBuilder<string?, string?>(cluster.Client, config).Build();
        consumer.Assign(new TopicPartitionOffset(new TopicPartition(topic, 0), from));
        var results = new List<ConsumeResult<string?, string?>>(count);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(Deadline);
        while (results.Count < count)
        {
            ConsumeResult<string?, string?> r;
            try
            {
                r = consumer.Consume(cts.Token);
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                throw new TimeoutException($"Consumed {results.Count} of {count} records of {topic} from {from} before the deadline.");
            }
            if (r.IsPartitionEOF) break;
            results.Add(r);
        }
        return results;
    }

    /// <summary>Waits until the leader's closed segments are in the tier and local retention removed the older local copies.</summary>
    private async Task<string> WaitForTieringAsync(string topic, long minLocalStart, int maxLocalSegments)
    {
        var leader = (await DescribeAsync(topic)).LeaderBroker!;
        var seen = "";
        await Eventually.WaitUntilAsync(async () =>
        {
            var local = cluster.LocalSegments(leader, topic, 0);
            var manifest = await cluster.ManifestAsync(topic, 0);
            seen = $"local segments [{string.Join(", ", local)}], tier [{manifest.RemoteLogStartOffset()}, {manifest.CopiedNextOffset()}) in {manifest.Segments.Count} entries";
            return local.Count > 0 && local[0] >= minLocalStart && local.Count <= maxLocalSegments
                && manifest.RemoteLogStartOffset() == 0 && manifest.CopiedNextOffset() >= local[0];
        }, $"{topic}'s closed segments are tiered and its local log starts at {minLocalStart} or later", Deadline, () => $"on {leader}: {seen}");
        return leader;
    }

    /// <summary>
    /// KIP-734's MAX_TIMESTAMP when the record with the largest timestamp is only in the tier: the manifest's max
    /// timestamps and the tier's time index find it; KIP-405's EARLIEST_LOCAL_TIMESTAMP is the local log start.
    /// </summary>
    [Fact]
    public async Task ListOffsets_max_timestamp_finds_a_tiered_record_and_earliest_local_the_local_log_start()
    {
        const int records = 2000;
        const int stampedLast = 3;
        var latest = T0 + 5_000_000;
        var topic = await CreateTopicAsync("maxts", replicationFactor: 1, Tiered());
        await ProduceAsync(topic, 0, records, timestampOf: i => i == stampedLast ? latest : T0 + i * 1000L);
        var leader = await WaitForTieringAsync(topic, minLocalStart: records / 2, maxLocalSegments: 4);
        var localStart = cluster.LocalSegments(leader, topic, 0)[0];
        var replica = cluster.Client.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, (await DescribeAsync(topic)).Leader));

        var max = await replica.ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.MaxTimestamp));
        var earliestLocal = await replica.ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.EarliestLocal));
        var earliest = await replica.ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.Earliest));

        Assert.True(localStart > stampedLast, $"local log start {localStart}");
        Assert.Equal((ErrorCode.None, (long)stampedLast, latest), (max.Error, max.Offset, max.Timestamp));
        Assert.Equal((ErrorCode.None, localStart), (earliestLocal.Error, earliestLocal.Offset));
        Assert.Equal(0, earliest.Offset);
    }

    [Fact]
    public async Task Segments_tier_local_copies_go_and_a_consumer_from_zero_reads_every_record_once_in_order()
    {
        const int records = 2000;
        var topic = await CreateTopicAsync("tiered", replicationFactor: 1, Tiered());
        await ProduceAsync(topic, 0, records);

        var leader = await WaitForTieringAsync(topic, minLocalStart: records / 2, maxLocalSegments: 4);
        var localStart = cluster.LocalSegments(leader, topic, 0)[0];
        var manifest = await cluster.ManifestAsync(topic, 0);
        Assert.True(manifest.Segments.Count(s => s.State == RemoteLogSegmentState.CopySegmentFinished) >= 10);

        // The log start is the tier's start, not the local one.
        var described = await DescribeAsync(topic);
        Assert.Equal(0, described.LogStartOffset);
        Assert.Equal(records, described.LogEndOffset);
        using (var probe = new ConsumerBuilder<string?, string?>(cluster.Client, new ConsumerConfig()).Build())
            Assert.Equal(new WatermarkOffsets(0, records), probe.QueryWatermarkOffsets(new TopicPartition(topic, 0), Deadline));

        // From 0: the tier first, then the local log, every record once and in order.
        var consumed = Consume(topic, 0, records);
        Assert.Equal(records, consumed.Count);
        for (var i = 0; i < records; i++)
        {
            Assert.Equal(i, consumed[i].Offset);
            Assert.Equal(ValueOf(i), consumed[i].Message!.Value);
        }
        Assert.True(localStart > 0);

        // OffsetsForTimes: below the local log start the tier's time indexes answer, above it the local log; to the record.
        using (var probe = new ConsumerBuilder<string?, string?>(cluster.Client, new ConsumerConfig()).Build())
        {
            long[] wanted = [0, 17, localStart / 2, localStart - 1, localStart + 5, records - 1];
            var found = probe.OffsetsForTimes(
                wanted.Select(k => new TopicPartitionTimestamp(topic, 0, new Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(T0 + k * 1000)))), Deadline);
            for (var i = 0; i < wanted.Length; i++)
                Assert.Equal(wanted[i], found[i].Offset);
            var edges = probe.OffsetsForTimes(
            [
                new TopicPartitionTimestamp(topic, 0, new Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(T0 - 60_000))),
                new TopicPartitionTimestamp(topic, 0, new Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(T0 + records * 1000L))),
            ], Deadline);
            Assert.Equal([0L, Offset.End], edges.Select(e => e.Offset));
        }

        // Starting just below the boundary crosses it too.
        var across = Consume(topic, localStart - 3, 6);
        Assert.Equal([localStart - 3, localStart - 2, localStart - 1, localStart, localStart + 1, localStart + 2], across.Select(r => r.Offset));
    }

    [Fact]
    public async Task A_wiped_follower_rebuilds_from_the_leader_local_log_start_without_history_and_rejoins_the_isr()
    {
        const int records = 2000;
        var topic = await CreateTopicAsync("rebuilt", replicationFactor: 2, Tiered());
        // Record 0 comes from an idempotent producer: its state reaches the rebuilt replica only through the tier's snapshot.
        var idempotent = IdempotentBatch(producerId: 9001, key: "k0", ValueOf(0));
        var first = await cluster.Client.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, (await DescribeAsync(topic)).Leader))
            .Produce(new ProduceRequest(Acks.All, 10_000, idempotent));
        Assert.Equal((ErrorCode.None, 0L), (first.Error, first.BaseOffset));
        await ProduceAsync(topic, 1, records - 1);
        var leader = await WaitForTieringAsync(topic, minLocalStart: records / 2, maxLocalSegments: 4);
        var partition = await DescribeAsync(topic);
        var follower = partition.Replicas.Single(r => r.ReplicaId != partition.Leader);

        // Followers keep only what local retention allows too, once the tier holds it.
        await Eventually.WaitUntilAsync(() => cluster.LocalSegments(follower.BrokerId, topic, 0) is [var first, ..] && first >= records / 2,
            "the follower's tiered local segments are deleted", Deadline);

        // Replace the follower's disk: stop its broker, wipe the replica's directory, start the broker again.
        var leaderLocalStart = cluster.LocalSegments(leader, topic, 0)[0];
        await cluster.StopSiloAsync(follower.BrokerId);
        Directory.Delete(cluster.PartitionDirectory(follower.BrokerId, topic, 0), recursive: true);
        await ProduceAsync(topic, records, 200);
        await cluster.StartSiloAsync(follower.BrokerId);

        var replica = cluster.Client.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, follower.ReplicaId));
        await Eventually.WaitUntilAsync(async () =>
        {
            var described = await DescribeAsync(topic);
            var status = await replica.GetStatus();
            return described.Isr.Contains(follower.ReplicaId) && status.LogEndOffset == records + 200;
        }, "the rebuilt follower caught up and is in the ISR again", Deadline);

        // It holds the leader's local tail only: nothing below the leader's local log start came back, from the
        // leader or from the tier, and its log start is still the partition's.
        var rebuilt = cluster.LocalSegments(follower.BrokerId, topic, 0);
        Assert.True(rebuilt[0] >= leaderLocalStart, $"the rebuilt replica starts at {rebuilt[0]}, below the leader's local log start {leaderLocalStart}");
        var status = await replica.GetStatus();
        Assert.Equal(0, status.LogStartOffset);

        // Led by the rebuilt replica, the partition still serves its whole history: the tier below, its local tail above.
        await cluster.StopSiloAsync(leader);
        try
        {
            await Eventually.WaitUntilAsync(async () => (await DescribeAsync(topic)).Leader == follower.ReplicaId,
                "the rebuilt replica leads", Deadline);
            var consumed = Consume(topic, 0, records + 200);
            Assert.Equal(records + 200, consumed.Count);
            for (var i = 0; i < consumed.Count; i++)
            {
                Assert.Equal(i, consumed[i].Offset);
                Assert.Equal(ValueOf(i), consumed[i].Message!.Value);
            }
            // The producer's retry of record 0 is known for a duplicate: answered with its offset, not written again.
            var retry = await replica.Produce(new ProduceRequest(Acks.All, 10_000, idempotent));
            Assert.Equal((ErrorCode.None, 0L), (retry.Error, retry.BaseOffset));
            Assert.Equal(records + 200, (await replica.GetStatus()).LogEndOffset);
        }
        finally
        {
            await cluster.StartSiloAsync(leader);
        }
    }

    private static byte[] IdempotentBatch(long producerId, string key, string value)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(producerId, producerEpoch: 0, baseSequence: 0);
        builder.Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), System.Text.Encoding.UTF8.GetBytes(key), System.Text.Encoding.UTF8.GetBytes(value));
        return builder.ToArray();
    }

    [Fact]
    public async Task A_compacted_topic_tiers_its_compacted_view_and_deleted_keys_leave_the_tier()
    {
        var configs = Tiered(segmentBytes: 4096, localRetentionBytes: 1024);
        configs["cleanup.policy"] = "compact";
        configs["delete.retention.ms"] = "1000";
        var topic = await CreateTopicAsync("compacted", replicationFactor: 1, configs);
        // Rounds 0-5 write keys 0-19, round 6 deletes keys 0-4, rounds 7-11 update keys 5-14 (15-19 keep round 5's
        // values, in old segments), then unique filler keys close the last round's segment. Each round is one produce
        // request, so one segment or part of one.
        var next = 0;
        for (var round = 0; round < 12; round++)
        {
            var keys = round < 6 ? Enumerable.Range(0, 20).ToArray() : round == 6 ? Enumerable.Range(0, 5).ToArray() : Enumerable.Range(5, 10).ToArray();
            var r = round;
            await ProduceAsync(topic, next, keys.Length, wave: keys.Length, keyOf: i => $"key-{keys[i - next]}",
                valueOf: i => r == 6 ? null : $"r{r}-key-{keys[i - next]}");
            next += keys.Length;
        }
        await ProduceAsync(topic, next, 40, wave: 40, keyOf: i => $"filler-{i}");
        var total = next + 40;

        // Eventually the log, read from 0 across tier and local disk, is the compacted view: each live key once with
        // its newest value, the deleted keys gone (their tombstones too, after delete.retention.ms), then the tail;
        // and the keys last written long ago are read from the tier.
        var leader = (await DescribeAsync(topic)).LeaderBroker!;
        List<ConsumeResult<string?, string?>> view = [];
        var seen = "";
        await Eventually.WaitUntilAsync(() =>
        {
            view = Consume(topic, 0, total);
            seen = string.Join(", ", view.Select(c => $"{c.Offset}:{c.Message!.Key}"));
            return view.Count == 15 + 40 && view.All(c => !c.Message!.Key!.StartsWith("key-", StringComparison.Ordinal)
                    || c.Message.Value!.StartsWith(int.Parse(c.Message.Key.AsSpan(4)) < 15 ? "r11-" : "r5-", StringComparison.Ordinal))
                && cluster.LocalSegments(leader, topic, 0) is [var first, ..] && view.Take(5).All(c => c.Offset < first);
        }, $"{topic} read from 0 is its compacted view and its history is tiered", Deadline,
            () => $"{seen}; local segments [{string.Join(", ", cluster.LocalSegments(leader, topic, 0))}]");
        for (var k = 5; k < 20; k++) Assert.Single(view, c => c.Message!.Key == $"key-{k}");
        Assert.DoesNotContain(view, c => c.Message!.Key is "key-0" or "key-1" or "key-2" or "key-3" or "key-4");
        Assert.Equal(Enumerable.Range(next, 40).Select(i => $"filler-{i}"), view.Skip(15).Select(c => c.Message!.Key));

        Assert.Equal(Enumerable.Range(15, 5).Select(k => $"key-{k}"), view.Take(5).Select(c => c.Message!.Key));
        var manifest = await cluster.ManifestAsync(topic, 0);
        Assert.Contains(manifest.Segments, s => s.Compacted);
        Assert.Equal(0, (await DescribeAsync(topic)).LogStartOffset);
    }
}
