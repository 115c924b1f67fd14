using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using OrleansStream.Server.Transactions;
using static OrleansStream.Server.Tests.Transactions.TransactionCoordinatorHarness;

namespace OrleansStream.Server.Tests.Transactions;

/// <summary>The stored record survives Orleans' serializer and loads back to the same transactions.</summary>
public sealed class TransactionCoordinatorStateTests
{
    [Fact]
    public void The_stored_record_round_trips_through_Orleans_serialization_and_loads_back_the_same_transaction()
    {
        var h = new TransactionCoordinatorHarness();
        var producer = h.BeginTransaction(0, 1);
        h.Run(h.Coordinator.AddOffsetsToTxn(TxnId, producer.ProducerId, producer.Epoch, "g"));
        h.Run(h.Coordinator.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit));
        var before = h.Describe();
        using var services = new ServiceCollection().AddSerializer().BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();

        var copy = serializer.Deserialize<TransactionCoordinatorState>(serializer.SerializeToArray(h.Stored!));
        Assert.NotNull(copy);
        var manager = new TransactionStateManager(h.Options, h.Time);
        manager.Load(TransactionStateManager.NextEpoch(copy));
        var loaded = manager.Get(TxnId)!.Current();

        Assert.Equal(h.Stored!.CoordinatorEpoch, copy.CoordinatorEpoch);
        Assert.Equal(before with { Participants = [] }, loaded with { Participants = [] });
        Assert.True(before.Participants.SetEquals(loaded.Participants));
        Assert.Equal(3, before.Participants.Count);
        Assert.Equal(TransactionState.PrepareCommit, loaded.TxnState);
    }

    [Theory]
    [InlineData("my-txn", 50, 45)]
    [InlineData("copier-0", 50, 33)]
    [InlineData("", 50, 0)]
    [InlineData("polygenelubricants", 50, 0)] // Java hashCode int.MinValue
    public void PartitionFor_is_Kafkas_abs_of_Java_hashCode_modulo_the_shard_count(string transactionalId, int shards, int expected) =>
        Assert.Equal(expected, TransactionStateManager.PartitionFor(transactionalId, shards));

    [Fact]
    public void A_shard_stores_the_writes_of_several_ids_in_one_record_and_each_completes_after()
    {
        var h = new TransactionCoordinatorHarness();
        var a = h.Coordinator.InitProducerId("a", TimeoutMs).Write!;
        var b = h.Coordinator.InitProducerId("b", TimeoutMs).Write!;
        Assert.Empty(h.Coordinator.StateWith([]).Transactions);

        var record = h.Coordinator.StateWith([a, b]);
        var first = h.Coordinator.CompleteWrite(a);
        var second = h.Coordinator.CompleteWrite(b);

        Assert.Equal(["a", "b"], record.Transactions.ConvertAll(t => t.TransactionalId).Order(StringComparer.Ordinal));
        Assert.NotEqual(first.ProducerId, second.ProducerId);
        Assert.Equal(h.Coordinator.StateWith([]).Transactions.Count, record.Transactions.Count);
    }

    [Fact]
    public void ListTransactions_lists_stored_ids_filtered_by_producer_id_and_state()
    {
        var h = new TransactionCoordinatorHarness();
        var producer = h.BeginTransaction(0);
        var other = h.Run(h.Coordinator.InitProducerId("other", TimeoutMs));
        _ = h.Coordinator.InitProducerId("unstored", TimeoutMs);

        var all = h.Coordinator.ListTransactions();
        var ongoing = h.Coordinator.ListTransactions(states: [TransactionState.Ongoing]);
        var byProducer = h.Coordinator.ListTransactions(producerIds: [other.ProducerId]);

        Assert.Equal(["other", TxnId], all.ConvertAll(l => l.TransactionalId).Order(StringComparer.Ordinal));
        Assert.Equal(new TransactionListing(TxnId, producer.ProducerId, TransactionState.Ongoing), Assert.Single(ongoing));
        Assert.Equal(new TransactionListing("other", other.ProducerId, TransactionState.Empty), Assert.Single(byProducer));
    }
}
