using Confluent.Kafka;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Records;

namespace OrleansStream.Kafka.Tests;

using ErrorCode = OrleansStream.ErrorCode;
using IsolationLevel = Confluent.Kafka.IsolationLevel;
using TopicPartition = Confluent.Kafka.TopicPartition;
using TopicPartitionOffset = Confluent.Kafka.TopicPartitionOffset;

/// <summary>Confluent.Kafka's transactional producer and read_committed consumers against the brokers' Kafka listeners.</summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class TransactionTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private ProducerConfig Transactional(string transactionalId) => new()
    {
        BootstrapServers = cluster.BootstrapServers,
        TransactionalId = transactionalId,
        LingerMs = 5,
        MessageTimeoutMs = 30_000,
    };

    /// <summary>A transactional producer whose transaction is open with <paramref name="values"/> written to <paramref name="topic"/>.</summary>
    private IProducer<Null, string> OpenTransaction(string transactionalId, string topic, params string[] values)
    {
        var producer = new ProducerBuilder<Null, string>(Transactional(transactionalId)).Build();
        producer.InitTransactions(Wait);
        producer.BeginTransaction();
        foreach (var value in values) producer.Produce(topic, new Message<Null, string> { Value = value });
        Assert.Equal(0, producer.Flush(Wait));
        return producer;
    }

    /// <summary>A consumer of the brokers' listeners that commits nothing itself, reads from the earliest and reports each partition's end.</summary>
    internal static ConsumerConfig ConsumerOf(string bootstrapServers, IsolationLevel isolation, string? groupId = null) => new()
    {
        BootstrapServers = bootstrapServers,
        GroupId = groupId ?? "unused-" + Guid.NewGuid().ToString("N"),
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        IsolationLevel = isolation,
        EnablePartitionEof = true,
    };

    private ConsumerConfig Consumer(IsolationLevel isolation, string? groupId = null) => ConsumerOf(cluster.BootstrapServers, isolation, groupId);

    [Theory]
    [InlineData(0)]
    [InlineData(4096)] // each partition's fetch past the size the listener sends by reference
    public async Task Read_committed_sees_the_committed_transactions_only_and_read_uncommitted_sees_the_aborted_one_too(int padding)
    {
        var pad = new string('x', padding);
        var topic = await cluster.CreateTopicAsync("txn", partitions: 2);
        using (var producer = new ProducerBuilder<Null, string>(Transactional("tx-" + Guid.NewGuid().ToString("N"))).Build())
        {
            producer.InitTransactions(Wait);
            // A committed, an aborted and a committed transaction over both partitions: reading the last one proves the
            // aborted one is decided in each partition, not merely above the last stable offset.
            foreach (var (prefix, commit) in new[] { ("c", true), ("a", false), ("z", true) })
            {
                producer.BeginTransaction();
                for (var i = 0; i < 10; i++) producer.Produce(new TopicPartition(topic, i % 2), new Message<Null, string> { Value = $"{prefix}{i}{pad}" });
                if (commit) producer.CommitTransaction(Wait);
                else
                {
                    Assert.Equal(0, producer.Flush(Wait));
                    producer.AbortTransaction(Wait);
                }
            }
        }

        var committed = ReadToEnd(topic, 2, IsolationLevel.ReadCommitted, 20).ConvertAll(v => v.TrimEnd('x'));
        var everything = ReadToEnd(topic, 2, IsolationLevel.ReadUncommitted, 30).ConvertAll(v => v.TrimEnd('x'));

        Assert.Equal(Values("c", "z"), committed);
        Assert.Equal(Values("c", "a", "z"), everything);
    }

    [Fact]
    public async Task A_transactional_copy_writes_its_input_once_and_commits_the_group_offsets_with_it()
    {
        var input = await cluster.CreateTopicAsync("copy-in", partitions: 2);
        var output = await cluster.CreateTopicAsync("copy-out", partitions: 2);
        var group = "copy-" + Guid.NewGuid().ToString("N");
        var sent = new List<(string, string)>();
        using (var plain = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            for (var i = 0; i < 20; i++)
            {
                sent.Add(($"k{i}", $"v{i}"));
                plain.Produce(input, new Message<string, string> { Key = $"k{i}", Value = $"v{i}" });
            }
            Assert.Equal(0, plain.Flush(Wait));
        }

        using var consumer = new ConsumerBuilder<string, string>(Consumer(IsolationLevel.ReadCommitted, group)).Build();
        using var producer = new ProducerBuilder<string, string>(Transactional("copy-" + Guid.NewGuid().ToString("N"))).Build();
        producer.InitTransactions(Wait);
        consumer.Subscribe(input);
        producer.BeginTransaction();
        var next = new Dictionary<TopicPartition, long>();
        var deadline = DateTime.UtcNow + Wait;
        while (next.Values.Sum(o => o) < sent.Count && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is not { IsPartitionEOF: false } r) continue;
            producer.Produce(output, new Message<string, string> { Key = r.Message.Key, Value = r.Message.Value });
            next[r.TopicPartition] = r.Offset.Value + 1;
        }
        var offsets = next.Select(kv => new TopicPartitionOffset(kv.Key, kv.Value)).ToList();
        producer.SendOffsetsToTransaction(offsets, consumer.ConsumerGroupMetadata, Wait);
        producer.CommitTransaction(Wait);

        var copied = new List<(string, string)>();
        using (var reader = new ConsumerBuilder<string, string>(Consumer(IsolationLevel.ReadCommitted)).Build())
        {
            reader.Assign([new TopicPartitionOffset(output, 0, Offset.Beginning), new TopicPartitionOffset(output, 1, Offset.Beginning)]);
            foreach (var r in Consuming.ToEnd(reader, 2, sent.Count)) copied.Add((r.Message.Key, r.Message.Value));
        }
        Assert.Equal(sent.Order(), copied.Order());

        // The offsets become the group's when the commit marker reaches the group coordinator.
        await Eventually.WaitUntilAsync(
            () => consumer.Committed(next.Keys, Wait).All(c => c.Offset.Value == next[c.TopicPartition]),
            $"group {group} has the transaction's offsets committed");

        // KIP-447: a zombie's commit names a generation the group has left behind, and is refused.
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(ApiKey.TxnOffsetCommit, 3, w => new Protocol.Messages.TxnOffsetCommitRequest(
            "zombie", group, 1, 0, [new OffsetCommitTopic(input, [new OffsetCommitPartition(0, 0, -1, null)])], GenerationId: 1_000, MemberId: consumer.MemberId).Write(w, 3));
        var answer = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(5) : []);
        answer.ReadInt32();
        Assert.Equal(1, answer.ReadArrayLength(true));
        Assert.Equal(input, answer.ReadString(true));
        Assert.Equal(1, answer.ReadArrayLength(true));
        Assert.Equal(0, answer.ReadInt32());
        Assert.Equal((short)ErrorCode.IllegalGeneration, answer.ReadInt16());
    }

    [Fact]
    public async Task OffsetFetch_v7_with_require_stable_answers_UnstableOffsetCommit_per_partition_while_a_transactions_offsets_are_pending()
    {
        var topic = await cluster.CreateTopicAsync("stable", partitions: 2);
        var group = "stable-" + Guid.NewGuid().ToString("N");
        using var consumer = new ConsumerBuilder<string, string>(Consumer(IsolationLevel.ReadCommitted, group)).Build();
        using var producer = new ProducerBuilder<string, string>(Transactional("stable-" + Guid.NewGuid().ToString("N"))).Build();
        producer.InitTransactions(Wait);
        producer.BeginTransaction();
        producer.SendOffsetsToTransaction([new TopicPartitionOffset(topic, 0, 0)], consumer.ConsumerGroupMetadata, Wait);

        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        async Task<List<(int Partition, long Offset, short Error)>> FetchAsync(short version, bool requireStable)
        {
            await wire.SendAsync(ApiKey.OffsetFetch, version, w => new Protocol.Messages.OffsetFetchRequest(group, [new TopicPartitions(topic, [0, 1])], requireStable).Write(w, version));
            var flexible = version >= 6;
            var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(flexible ? 5 : 4) : []);
            r.ReadInt32();
            Assert.Equal(1, r.ReadArrayLength(flexible));
            Assert.Equal(topic, r.ReadString(flexible));
            var partitions = new List<(int, long, short)>();
            for (var count = r.ReadArrayLength(flexible); count > 0; count--)
            {
                var partition = r.ReadInt32();
                var offset = r.ReadInt64();
                r.ReadInt32();
                r.ReadNullableString(flexible);
                partitions.Add((partition, offset, r.ReadInt16()));
                if (flexible) r.SkipTaggedFields();
            }
            if (flexible) r.SkipTaggedFields();
            Assert.Equal((short)ErrorCode.None, r.ReadInt16());
            return partitions;
        }

        // Kafka's group coordinator marks each partition asked, and the request's error stays None: a Java consumer
        // (and Kafka Streams with exactly_once_v2) retries UnstableOffsetCommit on a partition but fails on it as the
        // request's error.
        Assert.Equal([(0, -1L, (short)ErrorCode.UnstableOffsetCommit), (1, -1L, (short)ErrorCode.UnstableOffsetCommit)], await FetchAsync(7, requireStable: true));
        Assert.Equal([(0, -1L, (short)ErrorCode.None), (1, -1L, (short)ErrorCode.None)], await FetchAsync(7, requireStable: false));
        Assert.Equal([(0, -1L, (short)ErrorCode.None), (1, -1L, (short)ErrorCode.None)], await FetchAsync(5, requireStable: false));

        producer.CommitTransaction(Wait);
        await Eventually.WaitUntilAsync(async () => (await FetchAsync(7, requireStable: true))[0] == (0, 0L, (short)ErrorCode.None),
            $"group {group} has the transaction's offset committed");
    }

    [Fact]
    public async Task A_transactions_offset_beyond_the_log_end_is_committed_as_given()
    {
        var topic = await cluster.CreateTopicAsync("txnpastend", partitions: 1);
        var group = "pastend-" + Guid.NewGuid().ToString("N");
        var tp = new TopicPartition(topic, 0);
        using var consumer = new ConsumerBuilder<string, string>(Consumer(IsolationLevel.ReadCommitted, group)).Build();
        using var producer = new ProducerBuilder<string, string>(Transactional("pastend-" + Guid.NewGuid().ToString("N"))).Build();
        producer.InitTransactions(Wait);
        producer.BeginTransaction();
        producer.SendOffsetsToTransaction([new TopicPartitionOffset(tp, 700)], consumer.ConsumerGroupMetadata, Wait);
        producer.CommitTransaction(Wait);

        await Eventually.WaitUntilAsync(() => consumer.Committed([tp], Wait).Single().Offset.Value == 700,
            $"group {group} has the transaction's offset 700 committed");
    }

    [Fact]
    public async Task A_transactional_producer_recovers_from_an_abortable_error_by_aborting_and_continues_with_its_epoch_bumped()
    {
        var topic = $"txnbump-{Guid.NewGuid():N}"[..20];
        Assert.Equal(ErrorCode.None, Assert.Single(await cluster.Controller.CreateTopics(
            [new NewTopic(topic, 1, 1, new Dictionary<string, string> { ["max.message.bytes"] = "2000" })])).Error);
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var config = Transactional("bump-" + Guid.NewGuid().ToString("N"));
        config.Debug = "eos,protocol";
        var aborts = new List<string>();
        using (var producer = new ProducerBuilder<Null, string>(config).SetLogHandler((_, m) => log.Enqueue(m.Message)).Build())
        {
            producer.InitTransactions(Wait);
            producer.BeginTransaction();
            // The broker refuses the batch (MESSAGE_TOO_LARGE): an abortable error. The next transaction's batch then
            // skips the refused sequence numbers (OUT_OF_ORDER_SEQUENCE_NUMBER), an abortable error that needs an epoch
            // bump (KIP-360): after its abort the producer asks InitProducerId v3+ to bump its epoch, and goes on.
            producer.Produce(topic, new Message<Null, string> { Value = new string('x', 4000) });
            for (var round = 0; round < 4; round++)
            {
                try
                {
                    producer.CommitTransaction(Wait);
                    break;
                }
                catch (KafkaTxnRequiresAbortException e)
                {
                    aborts.Add(e.Error.Reason);
                    producer.AbortTransaction(Wait);
                }
                producer.BeginTransaction();
                producer.Produce(topic, new Message<Null, string> { Value = $"ok-{round}" });
            }
        }

        Assert.Equal(2, aborts.Count);
        Assert.Contains("Message size too large", aborts[0], StringComparison.Ordinal);
        Assert.Contains("skipped sequence numbers", aborts[1], StringComparison.Ordinal);
        Assert.Contains(log, m => m.Contains("Sent InitProducerIdRequest (v4", StringComparison.Ordinal));
        Assert.Contains(log, m => System.Text.RegularExpressions.Regex.IsMatch(m, @"Acquired PID\{Id:(\d+),Epoch:1\} \(previous PID\{Id:\1,Epoch:0\}\)"));
        Assert.Equal(["ok-1"], ReadToEnd(topic, 1, IsolationLevel.ReadCommitted, 1));
    }

    [Fact]
    public async Task InitProducerId_v3_to_v5_bump_the_named_epoch_answer_a_retry_alike_and_fence_a_stale_one()
    {
        var transactionalId = "kip360-" + Guid.NewGuid().ToString("N");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        async Task<(ErrorCode Error, long ProducerId, short Epoch)> InitAsync(short version, string? id, long producerId, short epoch)
        {
            await wire.SendAsync(ApiKey.InitProducerId, version, w => new Protocol.Messages.InitProducerIdRequest(id, 60_000, producerId, epoch).Write(w, version));
            var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(5) : []);
            r.ReadInt32();
            var answer = ((ErrorCode)r.ReadInt16(), r.ReadInt64(), r.ReadInt16());
            r.SkipTaggedFields();
            Assert.Equal(0, r.Remaining);
            return answer;
        }

        var first = await InitAsync(4, transactionalId, -1, -1);
        var bumped = await InitAsync(4, transactionalId, first.ProducerId, 0);
        var retried = await InitAsync(3, transactionalId, first.ProducerId, 0);
        var staleV4 = await InitAsync(4, transactionalId, first.ProducerId, 7);
        var staleV3 = await InitAsync(3, transactionalId, first.ProducerId, 7);
        // v5 (KIP-890) is v4's exchange: the client also takes TransactionAbortable, which InitProducerId never answers.
        var bumpedV5 = await InitAsync(5, transactionalId, first.ProducerId, 1);
        var staleV5 = await InitAsync(5, transactionalId, first.ProducerId, 0);
        var half = await InitAsync(4, transactionalId, first.ProducerId, -1);
        var idempotent = await InitAsync(4, null, first.ProducerId, 1);

        Assert.Equal((ErrorCode.None, (short)0), (first.Error, first.Epoch));
        Assert.Equal((ErrorCode.None, first.ProducerId, (short)1), bumped);
        // The answer lost to a retry: the epoch named is the one before, so the bump is not made twice.
        Assert.Equal((ErrorCode.None, first.ProducerId, (short)1), retried);
        Assert.Equal(ErrorCode.ProducerFenced, staleV4.Error);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, staleV3.Error);
        Assert.Equal((ErrorCode.None, first.ProducerId, (short)2), bumpedV5);
        Assert.Equal(ErrorCode.ProducerFenced, staleV5.Error);
        Assert.Equal(ErrorCode.InvalidRequest, half.Error);
        // Kafka hands an idempotent producer a new producer id, whatever it names.
        Assert.Equal(ErrorCode.None, idempotent.Error);
        Assert.NotEqual(first.ProducerId, idempotent.ProducerId);
        Assert.Equal(0, idempotent.Epoch);
    }

    [Fact]
    public async Task A_transaction_its_producer_left_open_is_aborted_when_its_timeout_passes()
    {
        var topic = await cluster.CreateTopicAsync("timeout", partitions: 1);
        var config = Transactional("timeout-" + Guid.NewGuid().ToString("N"));
        config.TransactionTimeoutMs = 3000;
        config.MessageTimeoutMs = 3000;
        using (var abandoned = new ProducerBuilder<Null, string>(config).Build())
        {
            abandoned.InitTransactions(Wait);
            abandoned.BeginTransaction();
            abandoned.Produce(topic, new Message<Null, string> { Value = "abandoned" });
            Assert.Equal(0, abandoned.Flush(Wait));
        }
        using (var plain = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            plain.Produce(topic, new Message<Null, string> { Value = "after" });
            Assert.Equal(0, plain.Flush(Wait));
        }

        // The last stable offset stays below the open transaction until the coordinator aborts it.
        Assert.Equal(["after"], ReadToEnd(topic, 1, IsolationLevel.ReadCommitted, 1));
    }

    [Fact]
    public async Task A_second_producer_with_the_same_transactional_id_fences_the_first()
    {
        var topic = await cluster.CreateTopicAsync("fence", partitions: 1);
        var transactionalId = "fence-" + Guid.NewGuid().ToString("N");
        using var first = new ProducerBuilder<Null, string>(Transactional(transactionalId)).Build();
        first.InitTransactions(Wait);
        first.BeginTransaction();
        first.Produce(topic, new Message<Null, string> { Value = "zombie" });
        Assert.Equal(0, first.Flush(Wait));

        using (var second = new ProducerBuilder<Null, string>(Transactional(transactionalId)).Build())
        {
            second.InitTransactions(Wait);
            second.BeginTransaction();
            second.Produce(topic, new Message<Null, string> { Value = "successor" });
            second.CommitTransaction(Wait);
        }

        var fenced = Assert.ThrowsAny<KafkaException>(() => first.CommitTransaction(Wait));
        Assert.True(fenced.Error.IsFatal, $"{fenced.Error.Code}: {fenced.Error.Reason}");
        Assert.Equal(["successor"], ReadToEnd(topic, 1, IsolationLevel.ReadCommitted, 1));
    }

    /// <summary>ListTransactions v1's duration filter (KIP-994, <c>kafka-transactions.sh list --duration-filter</c>): only transactions running longer than it.</summary>
    [Fact]
    public async Task ListTransactions_v1_lists_only_the_transactions_running_longer_than_its_duration_filter()
    {
        var topic = await cluster.CreateTopicAsync("duration", partitions: 1);
        var transactionalId = "duration-" + Guid.NewGuid().ToString("N");
        using var producer = OpenTransaction(transactionalId, topic, "open");
        // The RF 1 partition lives on either broker; the other answers NotLeaderOrFollower.
        var describe = new DescribeProducersRequest([new TopicPartitions(topic, [0])]);
        var answers = new[] { await DescribeProducersAsync(cluster.Silos.KafkaPort(0), describe), await DescribeProducersAsync(cluster.Silos.KafkaPort(1), describe) };
        var producerId = answers.SelectMany(a => a.Values).Single(p => p.Error == ErrorCode.None).Producers.Single().ProducerId;

        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        async Task<bool> ListedAsync(long durationFilterMs)
        {
            await wire.SendAsync(ApiKey.ListTransactions, 1, w => new ListTransactionsRequest([], [producerId], durationFilterMs).Write(w, 1));
            var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(5) : []);
            r.ReadInt32();
            Assert.Equal((short)ErrorCode.None, r.ReadInt16());
            Assert.Equal(0, r.ReadArrayLength(true));
            var found = false;
            for (var count = r.ReadArrayLength(true); count > 0; count--)
            {
                found |= r.ReadString(true) == transactionalId;
                r.ReadInt64();
                r.ReadString(true);
                r.SkipTaggedFields();
            }
            return found;
        }

        var withinAnHour = await ListedAsync(3_600_000);
        // Running longer than 0 ms: some milliseconds have passed since the transaction began.
        await Eventually.WaitUntilAsync(() => ListedAsync(0), "the open transaction is listed once it has run longer than 0 ms");
        var unfiltered = await ListedAsync(-1);
        producer.AbortTransaction(Wait);

        Assert.False(withinAnHour);
        Assert.True(unfiltered);
    }

    [Fact]
    public async Task DescribeTransactions_and_ListTransactions_show_an_open_transaction_on_any_broker()
    {
        var topic = await cluster.CreateTopicAsync("describe", partitions: 1);
        var transactionalId = "describe-" + Guid.NewGuid().ToString("N");
        using var producer = OpenTransaction(transactionalId, topic, "open");

        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(1));
        await wire.SendAsync(ApiKey.DescribeTransactions, 0, w => new DescribeTransactionsRequest([transactionalId, "never-used"]).Write(w, 0));
        var described = await wire.ReadFrameAsync();
        await wire.SendAsync(ApiKey.ListTransactions, 0, w => new ListTransactionsRequest(["Ongoing", "Bogus"], []).Write(w, 0));
        var listed = await wire.ReadFrameAsync();
        producer.AbortTransaction(Wait);

        // Flexible responses: correlation id, then the header's tagged fields.
        Assert.NotNull(described);
        var r = new KafkaReader(described.AsSpan(5));
        r.ReadInt32();
        Assert.Equal(2, r.ReadArrayLength(true));
        Assert.Equal((short)ErrorCode.None, r.ReadInt16());
        Assert.Equal(transactionalId, r.ReadString(true));
        Assert.Equal("Ongoing", r.ReadString(true));
        Assert.Equal(60_000, r.ReadInt32());
        Assert.True(r.ReadInt64() > 0);
        var producerId = r.ReadInt64();
        Assert.Equal(0, r.ReadInt16());
        Assert.Equal(1, r.ReadArrayLength(true));
        Assert.Equal(topic, r.ReadString(true));
        Assert.Equal([0], r.ReadInt32Array(true));
        r.SkipTaggedFields();
        r.SkipTaggedFields();
        Assert.Equal((short)ErrorCode.TransactionalIdNotFound, r.ReadInt16());
        Assert.Equal("never-used", r.ReadString(true));

        Assert.NotNull(listed);
        r = new KafkaReader(listed.AsSpan(5));
        r.ReadInt32();
        Assert.Equal((short)ErrorCode.None, r.ReadInt16());
        Assert.Equal(1, r.ReadArrayLength(true));
        Assert.Equal("Bogus", r.ReadString(true));
        var found = false;
        for (var count = r.ReadArrayLength(true); count > 0; count--)
        {
            var (id, pid, state) = (r.ReadString(true), r.ReadInt64(), r.ReadString(true));
            r.SkipTaggedFields();
            Assert.Equal("Ongoing", state);
            found |= id == transactionalId && pid == producerId;
        }
        Assert.True(found, $"{transactionalId} is listed as Ongoing");
    }

    [Fact]
    public async Task DescribeProducers_shows_each_replicas_producers_their_last_sequence_and_open_transaction()
    {
        var topic = await cluster.CreateTopicAsync("producers", partitions: 1, replicationFactor: 2);
        var single = await cluster.CreateTopicAsync("producers1", partitions: 1);
        using (var idempotent = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true }).Build())
            for (var i = 0; i < 5; i++)
                await idempotent.ProduceAsync(topic, new Message<Null, string> { Value = $"i{i}" }, TestContext.Current.CancellationToken);
        using var transactional = new ProducerBuilder<Null, string>(Transactional("producers-" + Guid.NewGuid().ToString("N"))).Build();
        transactional.InitTransactions(Wait);
        transactional.BeginTransaction();
        transactional.Produce(topic, new Message<Null, string> { Value = "t0" });
        transactional.Produce(topic, new Message<Null, string> { Value = "t1" });
        Assert.Equal(0, transactional.Flush(Wait));

        var request = new DescribeProducersRequest([new TopicPartitions(topic, [0, 3]), new TopicPartitions(single, [0]), new TopicPartitions("no-such-" + topic, [0])]);
        var first = await DescribeProducersAsync(cluster.Silos.KafkaPort(0), request);
        var second = await DescribeProducersAsync(cluster.Silos.KafkaPort(1), request);
        transactional.CommitTransaction(Wait);

        // Both replicas of the RF 2 partition, leader and follower, hold the same state: the idempotent producer's five records (last sequence
        // 4), the transactional one's two, its transaction open at offset 5 until the commit marker.
        foreach (var answer in new[] { first, second })
        {
            var partition = answer[(topic, 0)];
            Assert.Equal(ErrorCode.None, partition.Error);
            Assert.Equal([(0, 4, -1L, -1), (0, 1, 5L, -1)], partition.Producers.Select(p => (p.ProducerEpoch, p.LastSequence, p.CurrentTxnStartOffset, p.CoordinatorEpoch)).OrderBy(p => p.CurrentTxnStartOffset));
            Assert.All(partition.Producers, p => Assert.True(p.LastTimestamp > 0));
            Assert.Equal(ErrorCode.UnknownTopicOrPartition, answer[(topic, 3)].Error);
            Assert.Equal(ErrorCode.UnknownTopicOrPartition, answer[("no-such-" + topic, 0)].Error);
        }
        // The RF 1 topic has a replica on one broker only: the other answers NotLeaderOrFollower.
        Assert.Equal([ErrorCode.None, ErrorCode.NotLeaderOrFollower], new[] { first[(single, 0)].Error, second[(single, 0)].Error }.Order());
        // EndTxn is answered once the decision is durable; the commit marker follows, and with it the open transaction ends.
        DescribedProducer afterCommit = default;
        await Eventually.WaitUntilAsync(async () =>
        {
            var committed = await DescribeProducersAsync(cluster.Silos.KafkaPort(0), request);
            afterCommit = committed[(topic, 0)].Producers.Single(p => p.LastSequence == 1);
            return afterCommit.CurrentTxnStartOffset == -1;
        }, "the commit marker ends the transactional producer's open transaction");
        Assert.True(afterCommit.CoordinatorEpoch >= 0);
    }

    /// <summary>
    /// Kafka's admin abort of a hanging transaction (KIP-664, <c>kafka-transactions.sh abort</c>): the producer and its
    /// epoch from DescribeProducers, then WriteTxnMarkers ABORT to the partition's leader. The last stable offset moves
    /// past the transaction, so a read_committed consumer reads what follows it, and never the aborted records.
    /// </summary>
    [Fact]
    public async Task A_hanging_transaction_is_aborted_with_WriteTxnMarkers_as_kafka_transactions_abort_does()
    {
        var topic = await cluster.CreateTopicAsync("hanging", partitions: 1, replicationFactor: 2);
        // A producer whose transaction stays open: it never commits, and its coordinator would wait a minute to abort it.
        using var hanging = OpenTransaction("hanging-" + Guid.NewGuid().ToString("N"), topic, "aborted-0", "aborted-1");
        using (var plain = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build())
            await plain.ProduceAsync(topic, new Message<Null, string> { Value = "after" }, TestContext.Current.CancellationToken);

        var open = (await DescribeProducersAsync(cluster.Silos.KafkaPort(0), new DescribeProducersRequest([new TopicPartitions(topic, [0])])))[(topic, 0)]
            .Producers.Single(p => p.CurrentTxnStartOffset >= 0);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var metadata = admin.GetMetadata(topic, Wait);
        var leaderPort = metadata.Brokers.Single(b => b.BrokerId == metadata.Topics.Single().Partitions.Single().Leader).Port;
        var followerPort = cluster.Silos.KafkaPort(cluster.Silos.KafkaPort(0) == leaderPort ? 1 : 0);
        var abort = new WriteTxnMarkersRequest([new WritableTxnMarker(open.ProducerId, (short)open.ProducerEpoch, false, [new TopicPartitions(topic, [0, 7])], open.CoordinatorEpoch)]);
        var atFollower = await WriteTxnMarkersAsync(followerPort, abort);
        var atLeader = await WriteTxnMarkersAsync(leaderPort, abort);

        using var consumer = new ConsumerBuilder<Ignore, string>(Consumer(IsolationLevel.ReadCommitted)).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var read = new List<string>();
        await Eventually.WaitUntilAsync(() =>
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { IsPartitionEOF: false } r) read.Add(r.Message.Value);
            return Task.FromResult(read.Contains("after"));
        }, "a read_committed consumer reads past the aborted transaction");

        Assert.Equal([(0, ErrorCode.NotLeaderOrFollower), (7, ErrorCode.UnknownTopicOrPartition)], atFollower.Markers.Single().Topics.Single().Partitions);
        Assert.Equal((open.ProducerId, ErrorCode.None), (atLeader.Markers.Single().ProducerId, atLeader.Markers.Single().Topics.Single().Partitions[0].Error));
        Assert.Equal(["after"], read);
        var after = (await DescribeProducersAsync(leaderPort, new DescribeProducersRequest([new TopicPartitions(topic, [0])])))[(topic, 0)];
        Assert.Equal(-1, after.Producers.Single(p => p.ProducerId == open.ProducerId).CurrentTxnStartOffset);
    }

    internal static async Task<WriteTxnMarkersResponse> WriteTxnMarkersAsync(int port, WriteTxnMarkersRequest request)
    {
        await using var wire = await KafkaWire.ConnectAsync(port);
        await wire.SendAsync(ApiKey.WriteTxnMarkers, 1, w => request.Write(w, 1));
        // The response header's correlation id and tagged fields; WriteTxnMarkers has no throttle time.
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(5) : []);
        var response = WriteTxnMarkersResponse.Read(ref r, 1);
        Assert.Equal(0, r.Remaining);
        return response;
    }

    private static async Task<Dictionary<(string, int), (ErrorCode Error, List<DescribedProducer> Producers)>> DescribeProducersAsync(int port, DescribeProducersRequest request)
    {
        await using var wire = await KafkaWire.ConnectAsync(port);
        await wire.SendAsync(ApiKey.DescribeProducers, 0, w => request.Write(w, 0));
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(5) : []);
        r.ReadInt32();
        var partitions = new Dictionary<(string, int), (ErrorCode, List<DescribedProducer>)>();
        for (var topics = r.ReadArrayLength(true); topics > 0; topics--)
        {
            var name = r.ReadString(true);
            for (var count = r.ReadArrayLength(true); count > 0; count--)
            {
                var (index, error) = (r.ReadInt32(), (ErrorCode)r.ReadInt16());
                r.ReadNullableString(true);
                var producers = new List<DescribedProducer>();
                for (var p = r.ReadArrayLength(true); p > 0; p--)
                {
                    producers.Add(new DescribedProducer(r.ReadInt64(), r.ReadInt32(), r.ReadInt32(), r.ReadInt64(), r.ReadInt32(), r.ReadInt64()));
                    r.SkipTaggedFields();
                }
                r.SkipTaggedFields();
                partitions[(name, index)] = (error, producers);
            }
            r.SkipTaggedFields();
        }
        r.SkipTaggedFields();
        Assert.Equal(0, r.Remaining);
        return partitions;
    }

    /// <summary>
    /// KIP-890's verification refuses the batch: InvalidTxnState before Produce v11, TransactionAbortable from v11 (the
    /// version that says the producer takes it), as Kafka answers by version.
    /// </summary>
    [Theory]
    [InlineData(7, ErrorCode.InvalidTxnState)]
    [InlineData(11, ErrorCode.TransactionAbortable)]
    public async Task A_transactional_batch_for_a_partition_not_in_the_transaction_is_refused_until_AddPartitionsToTxn(short produceVersion, ErrorCode refusal)
    {
        var topic = await cluster.CreateTopicAsync("verify", partitions: 1);
        var transactionalId = "verify-" + Guid.NewGuid().ToString("N");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(await cluster.LeaderIndexAsync(topic, 0)));

        var (producerId, epoch) = await InitProducerIdAsync(wire, transactionalId);

        var unverified = await ProduceTransactionalAsync(wire, topic, transactionalId, producerId, epoch, produceVersion);
        await wire.SendAsync(ApiKey.AddPartitionsToTxn, 0,
            w => new Protocol.Messages.AddPartitionsToTxnRequest(transactionalId, producerId, epoch, [new TopicPartitions(topic, [0])]).Write(w, 0));
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } added ? added.AsSpan(8) : []);
        Assert.Equal(0, KafkaWire.FirstPartition(ref r));
        Assert.Equal((short)ErrorCode.None, r.ReadInt16());
        var verified = await ProduceTransactionalAsync(wire, topic, transactionalId, producerId, epoch, produceVersion);
        await wire.SendAsync(ApiKey.EndTxn, 1, w => new Protocol.Messages.EndTxnRequest(transactionalId, producerId, epoch, Committed: false).Write(w, 1));
        r = new KafkaReader(await wire.ReadFrameAsync() is { } ended ? ended.AsSpan(8) : []);

        Assert.Equal(refusal, unverified);
        Assert.Equal(ErrorCode.None, verified);
        Assert.Equal((short)ErrorCode.None, r.ReadInt16());
    }

    /// <summary>
    /// The flexible versions Kafka 4's clients send, on the wire: AddPartitionsToTxn v3 adds the partition, whose batch
    /// Produce v11 then takes; a TxnOffsetCommit for a group the transaction does not hold (no AddOffsetsToTxn) is refused
    /// by the group's KIP-890 verification, InvalidTxnState at v3 and TransactionAbortable at v4 (Kafka's defaultError and
    /// genericError); AddOffsetsToTxn v4 adds the group, TxnOffsetCommit v4 is taken, EndTxn v4 commits, and the offset
    /// becomes the group's.
    /// </summary>
    [Fact]
    public async Task The_flexible_transaction_versions_commit_and_TxnOffsetCommit_v4_answers_TransactionAbortable_where_v3_answers_InvalidTxnState()
    {
        var topic = await cluster.CreateTopicAsync("txn-v4", partitions: 1);
        var transactionalId = "txn-v4-" + Guid.NewGuid().ToString("N");
        var group = "txn-v4-" + Guid.NewGuid().ToString("N");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(await cluster.LeaderIndexAsync(topic, 0)));

        var (producerId, epoch) = await InitProducerIdAsync(wire, transactionalId);

        await wire.SendAsync(ApiKey.AddPartitionsToTxn, 3,
            w => new Protocol.Messages.AddPartitionsToTxnRequest(transactionalId, producerId, epoch, [new TopicPartitions(topic, [0])]).Write(w, 3));
        var added = await FlexiblePartitionErrorsAsync(wire);
        var produced = await ProduceTransactionalAsync(wire, topic, transactionalId, producerId, epoch, 11);

        async Task<List<(string, int, ErrorCode)>> TxnOffsetCommitAsync(short version)
        {
            await wire.SendAsync(ApiKey.TxnOffsetCommit, version, w => new Protocol.Messages.TxnOffsetCommitRequest(
                transactionalId, group, producerId, epoch, [new OffsetCommitTopic(topic, [new OffsetCommitPartition(0, 1, -1, null)])]).Write(w, version));
            return await FlexiblePartitionErrorsAsync(wire);
        }
        var outsideV3 = await TxnOffsetCommitAsync(3);
        var outsideV4 = await TxnOffsetCommitAsync(4);
        await wire.SendAsync(ApiKey.AddOffsetsToTxn, 4, w => new Protocol.Messages.AddOffsetsToTxnRequest(transactionalId, producerId, epoch, group).Write(w, 4));
        var offsetsAdded = await FlexibleErrorAsync(wire);
        var inside = await TxnOffsetCommitAsync(4);
        await wire.SendAsync(ApiKey.EndTxn, 4, w => new Protocol.Messages.EndTxnRequest(transactionalId, producerId, epoch, Committed: true).Write(w, 4));
        var ended = await FlexibleErrorAsync(wire);

        Assert.Equal([(topic, 0, ErrorCode.None)], added);
        Assert.Equal(ErrorCode.None, produced);
        Assert.Equal([(topic, 0, ErrorCode.InvalidTxnState)], outsideV3);
        Assert.Equal([(topic, 0, ErrorCode.TransactionAbortable)], outsideV4);
        Assert.Equal(ErrorCode.None, offsetsAdded);
        Assert.Equal([(topic, 0, ErrorCode.None)], inside);
        Assert.Equal(ErrorCode.None, ended);
        using var consumer = new ConsumerBuilder<Null, string>(Consumer(IsolationLevel.ReadCommitted, group)).Build();
        var partition = new TopicPartition(topic, 0);
        await Eventually.WaitUntilAsync(() => consumer.Committed([partition], Wait)[0].Offset.Value == 1, $"group {group} has the transaction's offset committed");
    }

    /// <summary>A flexible answer of an error per partition (AddPartitionsToTxn v3, TxnOffsetCommit v3+), read to its end.</summary>
    internal static async Task<List<(string, int, ErrorCode)>> FlexiblePartitionErrorsAsync(KafkaWire wire)
    {
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(4) : []);
        r.SkipTaggedFields(); // response header v1
        r.ReadInt32();
        var errors = new List<(string, int, ErrorCode)>();
        for (var topics = r.ReadArrayLength(true); topics > 0; topics--)
        {
            var name = r.ReadString(true);
            for (var partitions = r.ReadArrayLength(true); partitions > 0; partitions--)
            {
                errors.Add((name, r.ReadInt32(), (ErrorCode)r.ReadInt16()));
                r.SkipTaggedFields();
            }
            r.SkipTaggedFields();
        }
        r.SkipTaggedFields();
        Assert.Equal(0, r.Remaining);
        return errors;
    }

    /// <summary>A flexible answer of one error (AddOffsetsToTxn and EndTxn v3+), read to its end.</summary>
    private static async Task<ErrorCode> FlexibleErrorAsync(KafkaWire wire)
    {
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(4) : []);
        r.SkipTaggedFields();
        r.ReadInt32();
        var error = (ErrorCode)r.ReadInt16();
        r.SkipTaggedFields();
        Assert.Equal(0, r.Remaining);
        return error;
    }

    /// <summary>InitProducerId v1 for <paramref name="transactionalId"/> on the wire: its producer id and epoch.</summary>
    internal static async Task<(long ProducerId, short Epoch)> InitProducerIdAsync(KafkaWire wire, string transactionalId)
    {
        await wire.SendAsync(ApiKey.InitProducerId, 1, w => new Protocol.Messages.InitProducerIdRequest(transactionalId, 60_000).Write(w, 1));
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } init ? init.AsSpan(4) : []);
        r.ReadInt32();
        Assert.Equal((short)ErrorCode.None, r.ReadInt16());
        return (r.ReadInt64(), r.ReadInt16());
    }

    private static async Task<ErrorCode> ProduceTransactionalAsync(KafkaWire wire, string topic, string transactionalId, long producerId, short epoch, short version)
    {
        using var batch = new RecordBatchBuilder();
        batch.Reset(producerId, epoch, baseSequence: 0, isTransactional: true);
        batch.Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "k"u8.ToArray(), "v"u8.ToArray());
        var request = new Protocol.Messages.ProduceRequest(transactionalId, -1, 10_000, [new ProduceTopicData(topic, [new ProducePartitionData(0, batch.ToArray(), false)])]);
        await wire.SendAsync(ApiKey.Produce, version, w => request.Write(w, version));
        // The correlation id, and from v9 (flexible) the response header's empty tagged fields.
        var headerSize = ApiVersionsTable.IsFlexible(ApiKey.Produce, version) ? 5 : 4;
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(headerSize) : []);
        var partition = Protocol.Messages.ProduceResponse.Read(ref r, version).Topics[0].Partitions[0];
        Assert.Equal(0, partition.Index);
        return partition.Error;
    }

    private static List<string> Values(params string[] prefixes)
    {
        var values = new List<string>();
        foreach (var prefix in prefixes)
            for (var i = 0; i < 10; i++) values.Add($"{prefix}{i}");
        values.Sort(StringComparer.Ordinal);
        return values;
    }

    private List<string> ReadToEnd(string topic, int partitions, IsolationLevel isolation, int expected)
    {
        using var consumer = new ConsumerBuilder<Null, string>(Consumer(isolation)).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var values = Consuming.ToEnd(consumer, partitions, expected).Select(r => r.Message.Value).ToList();
        values.Sort(StringComparer.Ordinal);
        return values;
    }
}
