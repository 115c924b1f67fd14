using System.Text;
using OrleansStream.Client;
using OrleansStream.Client.Admin;
using static OrleansStream.TestKit.PartitionTestKit;
using static OrleansStream.Cluster.Tests.Transactions.TransactionTestKit;

namespace OrleansStream.Cluster.Tests.Transactions;

/// <summary>
/// The SDK's transactional producer against real coordinators and partitions: commit and abort as read_committed
/// consumers see them, consume-transform-produce with the input offsets in the transaction, fencing by a newer
/// producer with the same transactional.id, and a transaction the coordinator aborts at transaction.timeout.ms.
/// </summary>
public sealed class TransactionalProducerTests(TransactionFixture fixture) : IClassFixture<TransactionFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Read_committed_consumers_see_committed_transactions_only()
    {
        var topic = UniqueTopic("txp");
        await fixture.CreateTopic(topic, partitions: 1, replicationFactor: 2);
        var tp = new TopicPartition(topic, 0);
        using var producer = Transactional(UniqueTopic("txp-id"));

        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        await Produce(producer, tp, "c1", "c2");
        producer.CommitTransaction(Timeout);
        producer.BeginTransaction();
        await Produce(producer, tp, "a1");
        producer.AbortTransaction(Timeout);
        producer.BeginTransaction();
        await Produce(producer, tp, "c3");
        producer.CommitTransaction(Timeout);

        // Three data batches and three markers: c1 c2 COMMIT a1 ABORT c3 COMMIT.
        Assert.Equal(["c1", "c2", "c3", "@7"], fixture.ReadUntilEof(tp, IsolationLevel.ReadCommitted));
        Assert.Equal(["c1", "c2", "a1", "c3", "@7"], fixture.ReadUntilEof(tp, IsolationLevel.ReadUncommitted));
    }

    [Fact]
    public async Task Produce_outside_a_transaction_and_out_of_order_calls_are_refused()
    {
        var topic = UniqueTopic("txp-rules");
        await fixture.CreateTopic(topic, partitions: 1, replicationFactor: 2);
        using var producer = Transactional(UniqueTopic("txp-rules-id"));

        Assert.Equal(ErrorCode.InvalidTxnState, Assert.Throws<KafkaException>(producer.BeginTransaction).Error.Code);
        producer.InitTransactions(Timeout);
        var outside = await Assert.ThrowsAsync<ProduceException<string, string>>(() =>
            producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "v" }, TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCode.InvalidTxnState, outside.Error.Code);
        Assert.Equal(ErrorCode.InvalidTxnState, Assert.Throws<KafkaException>(() => producer.CommitTransaction(Timeout)).Error.Code);
        producer.BeginTransaction();
        Assert.Equal(ErrorCode.InvalidTxnState, Assert.Throws<KafkaException>(producer.BeginTransaction).Error.Code);
        // A transaction without records or offsets commits without the coordinator.
        producer.CommitTransaction(Timeout);
        producer.BeginTransaction();
    }

    [Fact]
    public async Task Consume_transform_produce_commits_the_input_offsets_with_the_output()
    {
        var (input, output, group) = (UniqueTopic("ctp-in"), UniqueTopic("ctp-out"), UniqueTopic("ctp-group"));
        await fixture.CreateTopic(input, partitions: 1, replicationFactor: 2);
        await fixture.CreateTopic(output, partitions: 1, replicationFactor: 2);
        var inTp = new TopicPartition(input, 0);
        var outTp = new TopicPartition(output, 0);
        using (var seed = new ProducerBuilder<string, string>(fixture.Client, new ProducerConfig()).Build())
        {
            for (var i = 0; i < 6; i++)
                await seed.ProduceAsync(inTp, new Message<string, string> { Key = "k", Value = $"v{i}" }, TestContext.Current.CancellationToken);
        }

        var config = new ConsumerConfig { GroupId = group, EnableAutoCommit = false, AutoOffsetReset = AutoOffsetReset.Earliest, FetchWaitMaxMs = 100 };
        using var consumer = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
        consumer.Subscribe(input);
        using var producer = Transactional(UniqueTopic("ctp-id"));
        producer.InitTransactions(Timeout);

        // The first three records go through a committed transaction, the next three through an aborted one.
        CopyInTransaction(consumer, producer, outTp, count: 3);
        producer.CommitTransaction(Timeout);
        CopyInTransaction(consumer, producer, outTp, count: 3);
        Assert.Equal(0, producer.Flush(Timeout)); // written, so that only the abort keeps them from read_committed readers
        producer.AbortTransaction(Timeout);

        Assert.Equal(["V0", "V1", "V2", "@8"], fixture.ReadUntilEof(outTp, IsolationLevel.ReadCommitted));
        Assert.Equal(["V0", "V1", "V2", "V3", "V4", "V5", "@8"], fixture.ReadUntilEof(outTp, IsolationLevel.ReadUncommitted));
        var committed = Assert.Single(consumer.Committed([inTp], Timeout));
        Assert.Equal(3, committed.Offset);
    }

    [Fact]
    public async Task A_failed_batch_makes_the_transaction_abortable_and_the_abort_lets_the_next_one_commit()
    {
        var topic = UniqueTopic("txp-abortable");
        await fixture.CreateTopic(topic, partitions: 1, replicationFactor: 2, configs: new() { ["max.message.bytes"] = "2000" });
        var tp = new TopicPartition(topic, 0);
        using var producer = Transactional(UniqueTopic("txp-abortable-id"));
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        await Produce(producer, tp, "a1");
        var tooLarge = await Assert.ThrowsAsync<ProduceException<string, string>>(() => Produce(producer, tp, new string('x', 5000)));
        Assert.Equal(ErrorCode.RecordTooLarge, tooLarge.Error.Code);

        var commit = Assert.Throws<KafkaTxnRequiresAbortException>(() => producer.CommitTransaction(Timeout));
        Assert.False(commit.Error.IsFatal);
        producer.AbortTransaction(Timeout);
        // The abort took a bumped epoch, so the partition's sequence starts again at 0 and is accepted.
        producer.BeginTransaction();
        await Produce(producer, tp, "c1");
        producer.CommitTransaction(Timeout);

        Assert.Contains("c1", fixture.ReadUntilEof(tp, IsolationLevel.ReadCommitted));
        Assert.DoesNotContain("a1", fixture.ReadUntilEof(tp, IsolationLevel.ReadCommitted));
    }

    [Fact]
    public async Task A_second_producer_with_the_same_transactional_id_fences_the_first()
    {
        var (zombie, tp, transactionalId) = await OpenTransaction("fence", 60_000, "zombie");
        using var _ = zombie;

        using var successor = Transactional(transactionalId);
        successor.InitTransactions(Timeout);
        successor.BeginTransaction();
        await Produce(successor, tp, "successor");
        successor.CommitTransaction(Timeout);

        var fenced = Assert.Throws<KafkaException>(() => zombie.CommitTransaction(Timeout));
        Assert.True(fenced.Error.IsFatal, fenced.Error.ToString());
        Assert.True(Assert.Throws<KafkaException>(zombie.BeginTransaction).Error.IsFatal);
        Assert.Equal(["successor", "@4"], fixture.ReadUntilEof(tp, IsolationLevel.ReadCommitted));
    }

    [Fact]
    public async Task A_transaction_past_its_timeout_is_aborted_and_cannot_commit()
    {
        var (producer, tp, transactionalId) = await OpenTransaction("txn-timeout", 1000, "late");
        using var _ = producer;
        await TimedOut(transactionalId);

        var failed = Assert.ThrowsAny<KafkaException>(() => producer.CommitTransaction(Timeout));
        Assert.True(failed is KafkaTxnRequiresAbortException || failed.Error.IsFatal, failed.ToString());
        Assert.Equal(["@2"], fixture.ReadUntilEof(tp, IsolationLevel.ReadCommitted));
    }

    [Fact]
    public async Task A_produce_refused_for_an_old_epoch_makes_the_transaction_abortable_and_the_abort_finds_the_producer_fenced()
    {
        var (producer, tp, transactionalId) = await OpenTransaction("kip588", 1000, "first");
        using var _ = producer;
        await TimedOut(transactionalId);

        var refused = await Assert.ThrowsAsync<ProduceException<string, string>>(() => Produce(producer, tp, "after the timeout"));
        Assert.Equal(ErrorCode.InvalidProducerEpoch, refused.Error.Code);
        // KIP-588: abortable, not fatal; the abort then learns from the coordinator that the epoch was taken.
        var commit = Assert.Throws<KafkaTxnRequiresAbortException>(() => producer.CommitTransaction(Timeout));
        Assert.False(commit.Error.IsFatal);
        var abort = Assert.ThrowsAny<KafkaException>(() => producer.AbortTransaction(Timeout));
        Assert.Equal(ErrorCode.ProducerFenced, abort.Error.Code);
        Assert.True(abort.Error.IsFatal);
        Assert.Equal(["@2"], fixture.ReadUntilEof(tp, IsolationLevel.ReadCommitted));
    }

    [Fact]
    public async Task Many_batches_refused_for_an_old_epoch_fail_and_the_abort_ends_with_the_producer_fenced()
    {
        var tp = new TopicPartition(UniqueTopic("kip588-many"), 0);
        await fixture.CreateTopic(tp.Topic, partitions: 1, replicationFactor: 2);
        var transactionalId = UniqueTopic("kip588-many-id");
        // One record per batch (message.max.bytes caps how far a busy partition's batch grows), so more batches wait
        // than the five a partition may have unresolved.
        using var producer = new ProducerBuilder<string, string>(fixture.Client, new ProducerConfig
        {
            TransactionalId = transactionalId, TransactionTimeoutMs = 1000, LingerMs = 0, BatchSize = 1, MessageMaxBytes = 1000,
            MessageTimeoutMs = 60_000,
        }).Build();
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        await Produce(producer, tp, "first");
        await TimedOut(transactionalId);

        var reports = new List<Task<ErrorCode>>();
        var value = new string('v', 600);
        for (var i = 0; i < 20; i++)
        {
            var report = new TaskCompletionSource<ErrorCode>(TaskCreationOptions.RunContinuationsAsynchronously);
            try
            {
                producer.Produce(tp, new Message<string, string> { Key = "k", Value = value }, r => report.TrySetResult(r.Error.Code));
            }
            catch (KafkaException refused)
            {
                report.TrySetResult(refused.Error.Code);
            }
            reports.Add(report.Task);
        }
        Assert.Throws<KafkaTxnRequiresAbortException>(() => producer.CommitTransaction(Timeout));
        // Kafka's abort: batches not yet sent fail at once, those out fail by their answers; then EndTxn finds the epoch taken.
        var abort = Assert.ThrowsAny<KafkaException>(() => producer.AbortTransaction(Timeout));
        Assert.Equal(ErrorCode.ProducerFenced, abort.Error.Code);
        Assert.True(abort.Error.IsFatal);
        Assert.All(await Task.WhenAll(reports), code => Assert.NotEqual(ErrorCode.None, code));
        Assert.Equal(["@2"], fixture.ReadUntilEof(tp, IsolationLevel.ReadCommitted));
    }

    [Fact]
    public async Task The_later_written_of_a_transactional_and_a_plain_offset_commit_wins()
    {
        var input = UniqueTopic("order-in");
        await fixture.CreateTopic(input, partitions: 2, replicationFactor: 2);
        var (before, after) = (new TopicPartition(input, 0), new TopicPartition(input, 1));
        using (var seed = Transactional(UniqueTopic("order-seed")))
        {
            seed.InitTransactions(Timeout);
            seed.BeginTransaction();
            for (var i = 0; i < 8; i++)
            {
                seed.Produce(before, new Message<string, string> { Key = "k", Value = $"v{i}" });
                seed.Produce(after, new Message<string, string> { Key = "k", Value = $"v{i}" });
            }
            seed.CommitTransaction(Timeout);
        }
        var group = fixture.Grains.GetGrain<IConsumerGroupGrain>(UniqueTopic("order-group"));
        var outsider = new ConsumerGroupMetadata(group.GetPrimaryKeyString(), -1, "");
        using var producer = Transactional(UniqueTopic("order-id"));
        producer.InitTransactions(Timeout);

        Assert.Equal(ErrorCode.None, (await group.OffsetCommit(new OffsetCommitRequest("", -1, [new OffsetToCommit(before, 3)]))).Error);
        producer.BeginTransaction();
        producer.SendOffsetsToTransaction([new TopicPartitionOffset(before, 5), new TopicPartitionOffset(after, 5)], outsider, Timeout);
        Assert.Equal(ErrorCode.None, (await group.OffsetCommit(new OffsetCommitRequest("", -1, [new OffsetToCommit(after, 7)]))).Error);
        producer.CommitTransaction(Timeout);

        OffsetFetchResponse fetched = null!;
        await Eventually.WaitUntilAsync(async () => (fetched = await group.OffsetFetch(new OffsetFetchRequest([before, after], RequireStable: true))).Error == ErrorCode.None,
            "the COMMIT marker reaches the group");
        // Kafka keeps the later record of __consumer_offsets: the transaction's offset over the one committed before it,
        // the plain commit over the transaction's when it came after the TxnOffsetCommit.
        Assert.Equal([5L, 7L], fetched.Offsets.Select(o => o.Offset));
    }

    /// <summary>
    /// Confluent.Kafka's ListConsumerGroupOffsets with RequireStableOffsets (KIP-447): a partition with an offset pending
    /// in an open transaction is UnstableOffsetCommit and the others have theirs; without the option, the committed
    /// offsets; once the transaction commits, its offset.
    /// </summary>
    [Fact]
    public async Task ListConsumerGroupOffsets_with_RequireStableOffsets_reports_the_partitions_pending_in_an_open_transaction()
    {
        var input = UniqueTopic("stable-in");
        await fixture.CreateTopic(input, partitions: 2, replicationFactor: 2);
        var (pending, settled) = (new TopicPartition(input, 0), new TopicPartition(input, 1));
        var group = UniqueTopic("stable-group");
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        await admin.AlterConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitionOffsets(group, [new TopicPartitionOffset(pending, 1), new TopicPartitionOffset(settled, 2)])]);
        using var producer = Transactional(UniqueTopic("stable-id"));
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        producer.SendOffsetsToTransaction([new TopicPartitionOffset(pending, 5)], new ConsumerGroupMetadata(group, -1, ""), Timeout);

        var stable = new ListConsumerGroupOffsetsOptions { RequireStableOffsets = true };
        var named = await Assert.ThrowsAsync<ListConsumerGroupOffsetsException>(() =>
            admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, [pending, settled])], stable));
        var all = await Assert.ThrowsAsync<ListConsumerGroupOffsetsException>(() =>
            admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, null)], stable));
        var plain = Assert.Single(await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, [pending, settled])]));
        producer.CommitTransaction(Timeout);
        ListConsumerGroupOffsetsResult committed = null!;
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                committed = Assert.Single(await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, [pending, settled])], stable));
                return true;
            }
            catch (ListConsumerGroupOffsetsException)
            {
                return false;
            }
        }, "the COMMIT marker reaches the group");

        List<(TopicPartition, long, ErrorCode)> expected = [(pending, Offset.Unset, ErrorCode.UnstableOffsetCommit), (settled, 2, ErrorCode.None)];
        Assert.Equal(expected, Assert.Single(named.Results).Partitions.Select(static p => (p.TopicPartition, p.Offset, p.Error.Code)));
        Assert.Equal(expected, Assert.Single(all.Results).Partitions.Select(static p => (p.TopicPartition, p.Offset, p.Error.Code)));
        Assert.Equal(ErrorCode.UnstableOffsetCommit, named.Error.Code);
        Assert.Equal([1L, 2L], plain.Partitions.Select(static p => p.Offset));
        Assert.Equal([5L, 2L], committed.Partitions.Select(static p => p.Offset));
    }

    /// <summary>Waits until the coordinator aborted the open transaction at its timeout, bumping the epoch.</summary>
    private async Task TimedOut(string transactionalId)
    {
        var epoch = (await fixture.Describe(transactionalId)).ProducerEpoch;
        await Eventually.WaitUntilAsync(async () => (await fixture.Describe(transactionalId)) is { State: "CompleteAbort" } d && d.ProducerEpoch > epoch,
            "the coordinator aborts the timed-out transaction with a bumped epoch");
    }

    private IProducer<string, string> Transactional(string transactionalId, int transactionTimeoutMs = 60_000) =>
        new ProducerBuilder<string, string>(fixture.Client,
            new ProducerConfig { TransactionalId = transactionalId, TransactionTimeoutMs = transactionTimeoutMs, LingerMs = 0 }).Build();

    /// <summary>A new topic and a transactional producer with a transaction open in which <paramref name="value"/> was delivered.</summary>
    private async Task<(IProducer<string, string> Producer, TopicPartition Tp, string TransactionalId)> OpenTransaction(string name, int transactionTimeoutMs, string value)
    {
        var tp = new TopicPartition(UniqueTopic(name), 0);
        await fixture.CreateTopic(tp.Topic, partitions: 1, replicationFactor: 2);
        var transactionalId = UniqueTopic(name + "-id");
        var producer = Transactional(transactionalId, transactionTimeoutMs);
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        await Produce(producer, tp, value);
        return (producer, tp, transactionalId);
    }

    private static async Task Produce(IProducer<string, string> producer, TopicPartition tp, params string[] values)
    {
        foreach (var value in values)
            await producer.ProduceAsync(tp, new Message<string, string> { Key = "k", Value = value }, TestContext.Current.CancellationToken);
    }

    /// <summary>Begins a transaction, copies <paramref name="count"/> records upper-cased and sends the next input offset with it.</summary>
    private static void CopyInTransaction(IConsumer<string, string> consumer, IProducer<string, string> producer, TopicPartition outTp, int count)
    {
        producer.BeginTransaction();
        using var cts = new CancellationTokenSource(Timeout);
        ConsumeResult<string, string>? last = null;
        for (var i = 0; i < count; i++)
        {
            last = consumer.Consume(cts.Token);
            producer.Produce(outTp, new Message<string, string> { Key = last.Message!.Key, Value = last.Message.Value.ToUpperInvariant() });
        }
        producer.SendOffsetsToTransaction([new TopicPartitionOffset(last!.TopicPartition, last.Offset + 1)], consumer.ConsumerGroupMetadata!, Timeout);
    }
}
