using Orleans.Core.Internal;
using OrleansStream.Records;
using OrleansStream.Server.Groups;
using OrleansStream.Storage.Producers;
using static OrleansStream.TestKit.PartitionTestKit;
using static OrleansStream.Cluster.Tests.Transactions.TransactionTestKit;

namespace OrleansStream.Cluster.Tests.Transactions;

/// <summary>
/// Transactions through the grains, on real silos: the coordinator's requests, markers in every participant, the
/// group's pending offsets, fencing by producer epoch and coordinator epoch, timeouts, and KIP-890's verification.
/// </summary>
public sealed class TransactionCoordinatorTests(TransactionFixture fixture) : IClassFixture<TransactionFixture>
{
    [Fact]
    public async Task A_marker_reaches_a_group_whose_activation_is_deactivated_while_a_member_waits_in_JoinGroup()
    {
        var (topic, group, txnId) = (UniqueTopic("txn-rebalance"), UniqueTopic("txn-rebalance-group"), UniqueTopic("txn-rebalance-id"));
        await fixture.CreateTopic(topic, replicationFactor: 1);
        var tp = new TopicPartition(topic, 0);
        var groupGrain = fixture.Grains.GetGrain<IConsumerGroupGrain>(group);
        var first = await JoinAsync(groupGrain, topic);
        Assert.Equal(ErrorCode.None, (await groupGrain.SyncGroup(new SyncGroupRequest(first.MemberId, first.GenerationId,
            new Dictionary<string, ConsumerProtocolAssignment> { [first.MemberId] = new([tp]) }))).Error);
        var (coordinator, producer) = await fixture.BeginTransaction(txnId, [tp]);
        Assert.Equal(ErrorCode.None, (await coordinator.AddOffsetsToTxn(new AddOffsetsToTxnRequest(txnId, producer.ProducerId, producer.ProducerEpoch, group))).Error);
        Assert.Equal(ErrorCode.None, (await groupGrain.TxnOffsetCommit(new TxnOffsetCommitRequest(txnId, producer.ProducerId, producer.ProducerEpoch, [new OffsetToCommit(tp, 0)]))).Error);
        // A second member's JoinGroup long-polls until the first rejoins, which it does not do within its long session;
        // meanwhile the group's activation is told to deactivate (as Orleans does when the silo holding its directory entry dies).
        var second = JoinAsync(groupGrain, topic);
        await Eventually.WaitUntilAsync(async () => (await groupGrain.Describe()).State == GroupState.PreparingRebalance, "the group is rebalancing");
        await groupGrain.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);

        Assert.Equal(ErrorCode.None, (await coordinator.EndTxn(new EndTxnRequest(txnId, producer.ProducerId, producer.ProducerEpoch, Commit: true))).Error);
        await fixture.WaitForState(txnId, "CompleteCommit");

        Assert.Equal(0, Assert.Single((await groupGrain.OffsetFetch(new OffsetFetchRequest([tp], RequireStable: true))).Offsets).Offset);
        // The waiting join was told to find the coordinator again, as Kafka answers a join when its coordinator moves.
        Assert.Equal(ErrorCode.NotCoordinator, (await second).Error);
    }

    /// <summary>A dynamic member's JoinGroup (rejoining with the issued member id) with a 60 s session and rebalance timeout.</summary>
    private static async Task<JoinGroupResponse> JoinAsync(IConsumerGroupGrain group, string topic)
    {
        var memberId = "";
        while (true)
        {
            var join = await group.JoinGroup(new JoinGroupRequest(memberId, "test", 60_000, 60_000, GroupKeys.ConsumerProtocolType,
                [new JoinGroupProtocol("range", new ConsumerProtocolSubscription([topic], []))]));
            if (join.Error != ErrorCode.MemberIdRequired) return join;
            memberId = join.MemberId;
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task EndTxn_writes_its_marker_to_every_partition_and_the_group_and_commits_or_drops_the_offsets(bool commit)
    {
        var (topic, group, txnId) = (UniqueTopic("txn"), UniqueTopic("txn-group"), UniqueTopic("txn-id"));
        await fixture.CreateTopic(topic, partitions: 2, replicationFactor: 2);
        var coordinator = await fixture.Coordinator(txnId);
        var producer = await fixture.InitTransactions(txnId);
        var (pid, epoch) = (producer.ProducerId, producer.ProducerEpoch);
        TopicPartition[] partitions = [new(topic, 0), new(topic, 1)];

        var added = await coordinator.AddPartitionsToTxn(new AddPartitionsToTxnRequest(txnId, pid, epoch, partitions));
        var produced = new List<ProduceResponse>();
        foreach (var tp in partitions)
            produced.Add(await (await fixture.Leader(topic, tp.Partition)).Produce(
                new ProduceRequest(Acks.All, 10_000, TransactionalBatch(pid, epoch, 0, $"v{tp.Partition}"), TransactionalId: txnId)));
        var addOffsets = await coordinator.AddOffsetsToTxn(new AddOffsetsToTxnRequest(txnId, pid, epoch, group));
        var groupGrain = fixture.Grains.GetGrain<IConsumerGroupGrain>(group);
        var txnCommit = await groupGrain.TxnOffsetCommit(new TxnOffsetCommitRequest(txnId, pid, epoch, [new OffsetToCommit(partitions[0], 1)]));
        // The pending offsets are durable with the group: a new activation still holds them.
        await groupGrain.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        var unstable = await groupGrain.OffsetFetch(new OffsetFetchRequest([partitions[0]], RequireStable: true));
        var beforeEnd = await groupGrain.OffsetFetch(new OffsetFetchRequest([partitions[0]]));
        var ended = await coordinator.EndTxn(new EndTxnRequest(txnId, pid, epoch, commit));
        await fixture.WaitForState(txnId, commit ? "CompleteCommit" : "CompleteAbort");

        Assert.All(added.Partitions, p => Assert.Equal(ErrorCode.None, p.Error));
        Assert.All(produced, p => Assert.Equal(ErrorCode.None, p.Error));
        Assert.Equal(ErrorCode.None, addOffsets.Error);
        Assert.Equal(ErrorCode.None, txnCommit.Error);
        Assert.Equal(ErrorCode.UnstableOffsetCommit, unstable.Error);
        Assert.Equal(-1, Assert.Single(beforeEnd.Offsets).Offset);
        Assert.Equal(ErrorCode.None, ended.Error);
        var coordinatorEpoch = await (await fixture.Shard(txnId)).Wake();
        foreach (var tp in partitions)
        {
            var leader = await fixture.Leader(topic, tp.Partition);
            await WaitForReplication(leader, 2);
            var batches = await ReadBatches(leader);
            Assert.Equal(2, batches.Count);
            Assert.Equal((pid, epoch, true, false, $"v{tp.Partition}"), (batches[0].ProducerId, batches[0].ProducerEpoch, batches[0].IsTransactional, batches[0].IsControl, Assert.Single(batches[0].Values)));
            Assert.Equal((1L, pid, epoch, true, true), (batches[1].BaseOffset, batches[1].ProducerId, batches[1].ProducerEpoch, batches[1].IsTransactional, batches[1].IsControl));
            Assert.Equal(commit ? ControlRecordType.Commit : ControlRecordType.Abort, batches[1].Marker);
            Assert.Equal(coordinatorEpoch, batches[1].CoordinatorEpoch);
        }
        var after = await groupGrain.OffsetFetch(new OffsetFetchRequest([partitions[0]], RequireStable: true));
        Assert.Equal(ErrorCode.None, after.Error);
        Assert.Equal(commit ? 1 : -1, Assert.Single(after.Offsets).Offset);
        Assert.Empty((await fixture.Describe(txnId)).Partitions);
    }

    [Fact]
    public async Task A_second_InitProducerId_fences_the_first_producer_and_aborts_its_open_transaction()
    {
        var (topic, group, txnId) = (UniqueTopic("txn-fence"), UniqueTopic("txn-fence-g"), UniqueTopic("txn-fence-id"));
        await fixture.CreateTopic(topic);
        var tp = new TopicPartition(topic, 0);
        var (coordinator, first) = await fixture.BeginTransaction(txnId, [tp]);
        Assert.Equal(ErrorCode.None, (await coordinator.AddOffsetsToTxn(new AddOffsetsToTxnRequest(txnId, first.ProducerId, first.ProducerEpoch, group))).Error);
        var leader = await fixture.Leader(topic, 0);
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, TransactionalBatch(first.ProducerId, first.ProducerEpoch, 0, "zombie"), TransactionalId: txnId))).Error);
        var groupGrain = fixture.Grains.GetGrain<IConsumerGroupGrain>(group);
        Assert.Equal(ErrorCode.None, (await groupGrain.TxnOffsetCommit(new TxnOffsetCommitRequest(txnId, first.ProducerId, first.ProducerEpoch, [new OffsetToCommit(tp, 1)]))).Error);

        var fencing = await coordinator.InitProducerId(new InitTransactionalProducerIdRequest(txnId, 60_000));
        var second = await fixture.InitTransactions(txnId);
        var oldEnd = await coordinator.EndTxn(new EndTxnRequest(txnId, first.ProducerId, first.ProducerEpoch, Commit: true));
        var oldAdd = await coordinator.AddPartitionsToTxn(new AddPartitionsToTxnRequest(txnId, first.ProducerId, first.ProducerEpoch, [tp]));
        var oldProduce = await leader.Produce(new ProduceRequest(Acks.All, 10_000, TransactionalBatch(first.ProducerId, first.ProducerEpoch, 1, "late"), TransactionalId: txnId));
        var oldOffsets = await groupGrain.TxnOffsetCommit(new TxnOffsetCommitRequest(txnId, first.ProducerId, first.ProducerEpoch, [new OffsetToCommit(tp, 1)]));

        Assert.Equal(ErrorCode.ConcurrentTransactions, fencing.Error);
        Assert.Equal((first.ProducerId, (short)(first.ProducerEpoch + 2)), (second.ProducerId, second.ProducerEpoch));
        Assert.Equal(ErrorCode.ProducerFenced, oldEnd.Error);
        Assert.Equal(ErrorCode.ProducerFenced, Assert.Single(oldAdd.Partitions).Error);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, oldProduce.Error);
        Assert.Equal(ErrorCode.ProducerFenced, oldOffsets.Error);
        await WaitForReplication(leader, 2);
        var batches = await ReadBatches(leader);
        Assert.Equal(["zombie"], batches[0].Values);
        Assert.Equal((ControlRecordType.Abort, (short)(first.ProducerEpoch + 1)), (batches[1].Marker, batches[1].ProducerEpoch));
        Assert.Equal(2, batches.Count);
        Assert.Equal(-1, Assert.Single((await groupGrain.OffsetFetch(new OffsetFetchRequest([tp], RequireStable: true))).Offsets).Offset);
        Assert.Equal("Empty", (await fixture.Describe(txnId)).State);
    }

    [Fact]
    public async Task A_transaction_open_past_its_timeout_is_aborted_with_a_bumped_epoch()
    {
        var (topic, txnId) = (UniqueTopic("txn-timeout"), UniqueTopic("txn-timeout-id"));
        await fixture.CreateTopic(topic);
        var (coordinator, producer) = await fixture.BeginTransaction(txnId, [new TopicPartition(topic, 0)], timeoutMs: 300);
        var leader = await fixture.Leader(topic, 0);
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, TransactionalBatch(producer.ProducerId, producer.ProducerEpoch, 0, "abandoned"), TransactionalId: txnId))).Error);

        await fixture.WaitForState(txnId, "CompleteAbort");
        var late = await coordinator.EndTxn(new EndTxnRequest(txnId, producer.ProducerId, producer.ProducerEpoch, Commit: true));

        Assert.Equal(ErrorCode.ProducerFenced, late.Error);
        var description = await fixture.Describe(txnId);
        Assert.Equal((producer.ProducerId, (short)(producer.ProducerEpoch + 1)), (description.ProducerId, description.ProducerEpoch));
        await WaitForReplication(leader, 2);
        var marker = (await ReadBatches(leader))[1];
        Assert.Equal((ControlRecordType.Abort, (short)(producer.ProducerEpoch + 1)), (marker.Marker, marker.ProducerEpoch));
        Assert.Equal(new TransactionListingResult(txnId, producer.ProducerId, "CompleteAbort"),
            Assert.Single(await coordinator.ListTransactions(["CompleteAbort", "Ongoing"], [producer.ProducerId])));
        Assert.Empty(await coordinator.ListTransactions(["Ongoing"], [producer.ProducerId]));
        Assert.Empty(await coordinator.ListTransactions(["NoSuchState"], []));
    }

    [Fact]
    public async Task A_partition_and_a_group_refuse_a_marker_of_an_older_coordinator_epoch()
    {
        var (topic, group, txnId) = (UniqueTopic("txn-stale"), UniqueTopic("txn-stale-g"), UniqueTopic("txn-stale-id"));
        await fixture.CreateTopic(topic);
        var (coordinator, producer) = await fixture.BeginTransaction(txnId, [new TopicPartition(topic, 0)]);
        var (pid, epoch) = (producer.ProducerId, producer.ProducerEpoch);
        Assert.Equal(ErrorCode.None, (await coordinator.AddOffsetsToTxn(new AddOffsetsToTxnRequest(txnId, pid, epoch, group))).Error);
        Assert.Equal(ErrorCode.None, (await coordinator.EndTxn(new EndTxnRequest(txnId, pid, epoch, Commit: false))).Error);
        await fixture.WaitForState(txnId, "CompleteAbort");
        var coordinatorEpoch = await (await fixture.Shard(txnId)).Wake();
        var leader = await fixture.Leader(topic, 0);

        var stale = await leader.WriteTxnMarker(new WriteTxnMarkerRequest(pid, epoch, coordinatorEpoch - 1, Commit: true));
        var staleGroup = await fixture.Grains.GetGrain<ITxnOffsetsGrain>(group).WriteTxnMarker(pid, epoch, coordinatorEpoch - 1, commit: true);
        var current = await leader.WriteTxnMarker(new WriteTxnMarkerRequest(pid, epoch, coordinatorEpoch, Commit: false));

        Assert.Equal(ErrorCode.TransactionCoordinatorFenced, stale);
        Assert.Equal(ErrorCode.TransactionCoordinatorFenced, staleGroup);
        Assert.Equal(ErrorCode.None, current);
        Assert.All(await ReadBatches(leader), b => Assert.Equal(ControlRecordType.Abort, b.Marker));
    }

    [Fact]
    public async Task A_partition_refuses_a_client_control_batch_and_a_transactional_batch_outside_the_transaction()
    {
        var (topic, txnId) = (UniqueTopic("txn-verify"), UniqueTopic("txn-verify-id"));
        await fixture.CreateTopic(topic);
        var producer = await fixture.InitTransactions(txnId);
        var leader = await fixture.Leader(topic, 0);
        using var builder = new RecordBatchBuilder();
        new EndTransactionMarker(ControlRecordType.Commit, 0).WriteBatch(builder, producer.ProducerId, producer.ProducerEpoch, 0);

        var control = await leader.Produce(new ProduceRequest(Acks.All, 10_000, builder.ToArray()));
        var notAdded = await leader.Produce(new ProduceRequest(Acks.All, 10_000, TransactionalBatch(producer.ProducerId, producer.ProducerEpoch, 0, "x"), TransactionalId: txnId));
        var otherProducer = await leader.Produce(new ProduceRequest(Acks.All, 10_000, TransactionalBatch(producer.ProducerId + 1, 0, 0, "y"), TransactionalId: txnId));

        Assert.Equal(ErrorCode.InvalidRecord, control.Error);
        Assert.Equal(ErrorCode.InvalidTxnState, notAdded.Error);
        Assert.Equal(ErrorCode.InvalidProducerIdMapping, otherProducer.Error);
        Assert.Equal(0, (await leader.GetStatus()).LogEndOffset);
    }
}
