using OrleansStream.Server.Transactions;

namespace OrleansStream.Server.Tests.Transactions;

/// <summary>Kafka's legal-transition table and TransactionMetadata's prepare/complete discipline.</summary>
public sealed class TransactionMetadataTests
{
    private static TransactionMetadata At(TransactionState state, short epoch = 3) =>
        new("txn", 7, 7, epoch, -1, 60_000, state, [TxnParticipant.Of(new TopicPartition("t", 0))], state == TransactionState.Empty ? -1 : 100, 100);

    public static TheoryData<TransactionState, TransactionState, bool> Transitions()
    {
        var legal = new HashSet<(TransactionState, TransactionState)>
        {
            (TransactionState.Empty, TransactionState.Empty), (TransactionState.CompleteCommit, TransactionState.Empty), (TransactionState.CompleteAbort, TransactionState.Empty),
            (TransactionState.Ongoing, TransactionState.Ongoing), (TransactionState.Empty, TransactionState.Ongoing),
            (TransactionState.CompleteCommit, TransactionState.Ongoing), (TransactionState.CompleteAbort, TransactionState.Ongoing),
            (TransactionState.Ongoing, TransactionState.PrepareCommit),
            (TransactionState.Ongoing, TransactionState.PrepareAbort), (TransactionState.PrepareEpochFence, TransactionState.PrepareAbort),
            (TransactionState.PrepareCommit, TransactionState.CompleteCommit), (TransactionState.PrepareAbort, TransactionState.CompleteAbort),
            (TransactionState.Empty, TransactionState.Dead), (TransactionState.CompleteAbort, TransactionState.Dead), (TransactionState.CompleteCommit, TransactionState.Dead),
            (TransactionState.Ongoing, TransactionState.PrepareEpochFence),
        };
        var data = new TheoryData<TransactionState, TransactionState, bool>();
        foreach (var from in Enum.GetValues<TransactionState>())
            foreach (var to in Enum.GetValues<TransactionState>())
                data.Add(from, to, legal.Contains((from, to)));
        return data;
    }

    [Theory]
    [MemberData(nameof(Transitions))]
    public void The_transition_table_is_Kafkas(TransactionState from, TransactionState to, bool legal) =>
        Assert.Equal(legal, TransactionStates.IsValidTransition(from, to));

    [Fact]
    public void An_illegal_transition_cannot_be_prepared()
    {
        Assert.Throws<InvalidOperationException>(() => At(TransactionState.Empty).PrepareAbortOrCommit(TransactionState.PrepareCommit, 0, -1, 200));
        Assert.Throws<InvalidOperationException>(() => At(TransactionState.CompleteCommit).PrepareFenceProducerEpoch(200));
        Assert.Throws<InvalidOperationException>(() => At(TransactionState.Ongoing).PrepareDead());
    }

    [Fact]
    public void One_transition_at_a_time_and_only_the_prepared_one_completes()
    {
        var metadata = At(TransactionState.Ongoing);
        var commit = metadata.PrepareAbortOrCommit(TransactionState.PrepareCommit, 0, -1, 200);

        Assert.Throws<InvalidOperationException>(() => metadata.PrepareAbortOrCommit(TransactionState.PrepareAbort, 0, -1, 200));
        Assert.Throws<InvalidOperationException>(() => metadata.CompleteTransitionTo(commit with { }));
        Assert.Equal(TransactionState.Ongoing, metadata.State);

        metadata.CompleteTransitionTo(commit);
        Assert.Equal((TransactionState.PrepareCommit, 200L, false), (metadata.State, metadata.TxnLastUpdateTimestamp, metadata.PendingTransitionInProgress));
        Assert.Throws<InvalidOperationException>(() => metadata.CompleteTransitionTo(commit));
    }

    [Fact]
    public void A_fence_is_pending_as_PrepareEpochFence_and_completes_as_PrepareAbort_one_epoch_up()
    {
        var metadata = At(TransactionState.Ongoing);

        var fence = metadata.PrepareFenceProducerEpoch(200);

        Assert.Equal(TransactionState.PrepareEpochFence, metadata.PendingState);
        Assert.Equal((TransactionState.PrepareAbort, (short)4, (short)-1), (fence.TxnState, fence.ProducerEpoch, fence.LastProducerEpoch));
        metadata.CompleteTransitionTo(fence);
        Assert.Equal((TransactionState.PrepareAbort, (short)4, (TransactionState?)null), (metadata.State, metadata.ProducerEpoch, metadata.PendingState));
    }

    [Fact]
    public void An_abandoned_transition_leaves_the_state_in_force()
    {
        var metadata = At(TransactionState.Ongoing);
        metadata.PrepareFenceProducerEpoch(200);

        metadata.AbandonPendingTransition();

        Assert.Equal((TransactionState.Ongoing, (short)3, false), (metadata.State, metadata.ProducerEpoch, metadata.PendingTransitionInProgress));
        Assert.Equal(4, metadata.PrepareFenceProducerEpoch(300).ProducerEpoch);
    }

    [Fact]
    public void Epochs_from_short_MaxValue_minus_1_are_exhausted()
    {
        Assert.False(TransactionMetadata.IsEpochExhausted(short.MaxValue - 2));
        Assert.True(TransactionMetadata.IsEpochExhausted(short.MaxValue - 1));
        Assert.Throws<InvalidOperationException>(() => At(TransactionState.Empty, short.MaxValue - 1).PrepareIncrementProducerEpoch(1000, null, 200, out _));
        Assert.Throws<InvalidOperationException>(() => At(TransactionState.Ongoing, short.MaxValue).PrepareFenceProducerEpoch(200));
    }
}
