using OrleansStream.Client;
using OrleansStream.Client.Admin;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests.Transactions;

/// <summary>
/// The admin client's DescribeProducers and AbortTransaction (Java's Admin.describeProducers and abortTransaction,
/// KIP-664): a transaction an SDK producer left open is found by its start offset and ended at the partition.
/// </summary>
public sealed class AdminProducersTests(TransactionFixture fixture) : IClassFixture<TransactionFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_transaction_left_open_is_described_and_aborted_at_the_partition_so_read_committed_reads_past_it()
    {
        var tp = new TopicPartition(UniqueTopic("hang"), 0);
        await fixture.CreateTopic(tp.Topic, partitions: 1, replicationFactor: 2);
        var transactionalId = UniqueTopic("hang-id");
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        // A committed transaction first: the producer then has a marker's coordinator epoch, and the next producer with
        // its transactional id a higher epoch, so an older one can be refused.
        using (var first = Transactional(transactionalId))
        {
            first.InitTransactions(Timeout);
            first.BeginTransaction();
            await Produce(first, tp, "c1");
            first.CommitTransaction(Timeout);
        }
        using var hanging = Transactional(transactionalId);
        hanging.InitTransactions(Timeout);
        hanging.BeginTransaction();
        await Produce(hanging, tp, "h1", "h2"); // c1 COMMIT h1 h2: the open transaction starts at 2

        var open = Assert.Single(Assert.Single(await admin.DescribeProducersAsync([tp])).ActiveProducers);
        Assert.Equal((1, 2L), (open.LastSequence, open.CurrentTransactionStartOffset));
        Assert.True(open.ProducerEpoch > 0 && open.CoordinatorEpoch >= 0 && open.LastTimestamp > 0, open.ToString());

        var older = await Assert.ThrowsAsync<KafkaException>(() => admin.AbortTransactionAsync(
            new AbortTransactionSpec(tp, open.ProducerId, (short)(open.ProducerEpoch - 1), open.CoordinatorEpoch!.Value)));
        Assert.Equal(ErrorCode.InvalidProducerEpoch, older.Error.Code);
        Assert.Equal(2, Assert.Single(Assert.Single(await admin.DescribeProducersAsync([tp])).ActiveProducers).CurrentTransactionStartOffset);

        await admin.AbortTransactionAsync(new AbortTransactionSpec(tp, open.ProducerId, (short)open.ProducerEpoch, open.CoordinatorEpoch.Value));
        var aborted = Assert.Single(Assert.Single(await admin.DescribeProducersAsync([tp])).ActiveProducers);
        Assert.Equal((open.ProducerId, open.ProducerEpoch, open.CoordinatorEpoch, (long?)null),
            (aborted.ProducerId, aborted.ProducerEpoch, aborted.CoordinatorEpoch, aborted.CurrentTransactionStartOffset));

        // The ABORT marker is at 4; a record after it is stable at once, the aborted ones never are.
        using (var plain = new ProducerBuilder<string, string>(fixture.Client, new ProducerConfig { LingerMs = 0 }).Build())
            await Produce(plain, tp, "after");
        Assert.Equal(["c1", "after", "@6"], fixture.ReadUntilEof(tp, IsolationLevel.ReadCommitted));
        Assert.Equal(["c1", "h1", "h2", "after", "@6"], fixture.ReadUntilEof(tp, IsolationLevel.ReadUncommitted));
    }

    [Fact]
    public async Task A_missing_partition_fails_alone_and_a_partition_named_twice_is_refused()
    {
        var tp = new TopicPartition(UniqueTopic("dp"), 0);
        await fixture.CreateTopic(tp.Topic, partitions: 1, replicationFactor: 2);
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        using (var idempotent = new ProducerBuilder<string, string>(fixture.Client, new ProducerConfig { EnableIdempotence = true, LingerMs = 0 }).Build())
            await Produce(idempotent, tp, "i1", "i2", "i3");

        var missing = new TopicPartition(tp.Topic, 7);
        var ex = await Assert.ThrowsAsync<DescribeProducersException>(() => admin.DescribeProducersAsync([tp, missing]));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, ex.Error.Code);
        Assert.Equal([tp, missing], ex.Results.Select(r => r.TopicPartition));
        var idempotentState = Assert.Single(ex.Results[0].ActiveProducers);
        Assert.Equal((2, (int?)null, (long?)null), (idempotentState.LastSequence, idempotentState.CoordinatorEpoch, idempotentState.CurrentTransactionStartOffset));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, ex.Results[1].Error.Code);

        await Assert.ThrowsAsync<ArgumentException>(() => admin.DescribeProducersAsync([tp, tp]));
        var abortMissing = await Assert.ThrowsAsync<KafkaException>(() => admin.AbortTransactionAsync(new AbortTransactionSpec(missing, 1, 0, 0)));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, abortMissing.Error.Code);
    }

    [Fact]
    public async Task ListTransactions_keeps_the_producer_ids_states_and_ages_its_options_name()
    {
        var tp = new TopicPartition(UniqueTopic("lt"), 0);
        await fixture.CreateTopic(tp.Topic, partitions: 1, replicationFactor: 2);
        var (committedId, ongoingId) = (UniqueTopic("lt-committed"), UniqueTopic("lt-ongoing"));
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        using var committed = Transactional(committedId);
        committed.InitTransactions(Timeout);
        committed.BeginTransaction();
        await Produce(committed, tp, "c1");
        committed.CommitTransaction(Timeout);
        using var ongoing = Transactional(ongoingId);
        ongoing.InitTransactions(Timeout);
        ongoing.BeginTransaction();
        await Produce(ongoing, tp, "o1");
        var producers = Assert.Single(await admin.DescribeProducersAsync([tp])).ActiveProducers;
        var ongoingPid = Assert.Single(producers, p => p.CurrentTransactionStartOffset is not null).ProducerId;
        var committedPid = Assert.Single(producers, p => p.CurrentTransactionStartOffset is null).ProducerId;

        var byProducer = await admin.ListTransactionsAsync(new ListTransactionsOptions { FilterProducerIds = [committedPid] });
        var byState = await admin.ListTransactionsAsync(new ListTransactionsOptions { FilterStates = ["Ongoing"] });
        var unknownState = await admin.ListTransactionsAsync(new ListTransactionsOptions { FilterStates = ["Sleeping"] });
        var olderThanADay = await admin.ListTransactionsAsync(new ListTransactionsOptions { FilterProducerIds = [ongoingPid], FilterOnDurationMs = 86_400_000 });
        var startedAlready = await admin.ListTransactionsAsync(new ListTransactionsOptions { FilterProducerIds = [ongoingPid], FilterOnDurationMs = 0 });

        Assert.Equal(new TransactionListingResult(committedId, committedPid, "CompleteCommit"), Assert.Single(byProducer));
        Assert.Contains(new TransactionListingResult(ongoingId, ongoingPid, "Ongoing"), byState);
        Assert.DoesNotContain(byState, t => t.TransactionalId == committedId || t.State != "Ongoing");
        Assert.Empty(unknownState);
        Assert.Empty(olderThanADay);
        Assert.Equal(ongoingId, Assert.Single(startedAlready).TransactionalId);
        ongoing.AbortTransaction(Timeout);
    }

    private IProducer<string, string> Transactional(string transactionalId) =>
        new ProducerBuilder<string, string>(fixture.Client, new ProducerConfig { TransactionalId = transactionalId, LingerMs = 0 }).Build();

    private static async Task Produce(IProducer<string, string> producer, TopicPartition tp, params string[] values)
    {
        foreach (var value in values)
            await producer.ProduceAsync(tp, new Message<string, string> { Key = "k", Value = value }, Ct);
    }
}
