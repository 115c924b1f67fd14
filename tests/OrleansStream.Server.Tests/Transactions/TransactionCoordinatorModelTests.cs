using OrleansStream.Server.Transactions;
using static OrleansStream.Server.Tests.Transactions.TransactionCoordinatorHarness;

namespace OrleansStream.Server.Tests.Transactions;

/// <summary>
/// Random interleavings of what Orleans allows: requests from current and fenced producers, writes that fail, writes
/// stored whose caller gave up (the activation then reloads), late and repeated marker reports, timeouts, expiry.
/// After every step the coordinator must hold exactly what is stored, stored states must follow Kafka's table with
/// epochs never going back, only the producer answered last may add partitions or end a transaction, and the stored
/// counts move by one commit or abort exactly when a PrepareCommit or PrepareAbort is stored.
/// </summary>
public sealed class TransactionCoordinatorModelTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Random_interleavings_keep_the_coordinators_invariants(int seed)
    {
        var random = new Random(seed);
        var h = new TransactionCoordinatorHarness(o => o.TransactionalIdExpirationMs = 3 * TimeoutMs);
        var answered = new List<ProducerIdAndEpoch>();
        var markerPhases = new List<TxnMarkerRequest>();
        var counts = new Dictionary<string, int>();

        for (var step = 0; step < 3000; step++)
        {
            var producer = answered.Count == 0 || random.Next(10) == 0 ? RandomProducer(random, answered) : answered[^1];
            var before = Find(h.Stored);
            var statsBefore = h.Stored?.Stats ?? TransactionCoordinatorStats.None;
            switch (random.Next(7))
            {
                case 0:
                    var expected = random.Next(3) == 0 && answered.Count > 0 ? answered[random.Next(answered.Count)] : (ProducerIdAndEpoch?)null;
                    var init = Drive(h, random, h.Coordinator.InitProducerId(TxnId, TimeoutMs, expected), counts);
                    if (init.Error == ErrorCode.None)
                    {
                        Assert.DoesNotContain(answered, p => p.ProducerId == init.ProducerId && p.Epoch > init.ProducerEpoch);
                        answered.Add(new ProducerIdAndEpoch(init.ProducerId, init.ProducerEpoch));
                    }
                    break;
                case 1:
                    AssertOnlyLatest(Drive(h, random, h.Coordinator.AddPartitionsToTxn(TxnId, producer.ProducerId, producer.Epoch, [P(random.Next(3))]), counts), producer, answered);
                    break;
                case 2:
                    AssertOnlyLatest(Drive(h, random, h.Coordinator.AddOffsetsToTxn(TxnId, producer.ProducerId, producer.Epoch, "g"), counts), producer, answered);
                    break;
                case 3:
                    var result = random.Next(2) == 0 ? TransactionResult.Commit : TransactionResult.Abort;
                    var end = h.Coordinator.EndTxn(TxnId, producer.ProducerId, producer.Epoch, result);
                    if (end.Write is null && end.Error == ErrorCode.None)
                        Assert.Equal(producer, answered[^1]);
                    AssertOnlyLatest(Drive(h, random, end, counts), producer, answered);
                    break;
                case 4:
                    h.Time.Advance(TimeSpan.FromMilliseconds(random.Next(10) == 0 ? 2 * TimeoutMs : TimeoutMs / 20));
                    foreach (var write in h.Coordinator.AbortTimedOutTransactions()) Drive(h, random, TxnOperation.Persist(write), counts);
                    foreach (var write in h.Coordinator.RemoveExpiredTransactionalIds()) Drive(h, random, TxnOperation.Persist(write), counts);
                    break;
                case 5:
                    foreach (var pending in h.Coordinator.PendingMarkers())
                        if (!markerPhases.Contains(pending)) markerPhases.Add(pending);
                    if (markerPhases.Count == 0) break;
                    var phase = random.Next(4) == 0 ? markerPhases[random.Next(markerPhases.Count)] : markerPhases[^1];
                    var written = new List<TxnParticipant>();
                    foreach (var marker in phase.Markers)
                        if (random.Next(3) > 0) written.Add(marker.Participant);
                    if (h.Coordinator.OnMarkersWritten(phase, written) is { } complete)
                    {
                        Assert.Contains(phase, h.Coordinator.PendingMarkers());
                        Drive(h, random, TxnOperation.Persist(complete), counts);
                    }
                    break;
                default:
                    h.Activate();
                    break;
            }

            var after = Find(h.Stored);
            AssertLegalStoredTransition(before, after);
            Assert.Equal(Project(h.Stored!), Project(h.Coordinator.StateManager.ToState([])));
            AssertCounted(statsBefore, before, h.Stored!, after);
            Assert.Equal(h.Stored!.Stats ?? TransactionCoordinatorStats.None, h.Coordinator.StateManager.Stats);
        }

        // Not vacuous: every kind of outcome happened.
        foreach (var kind in new[] { "completed", "failed", "unknown", "fenced", "PrepareCommit", "CompleteCommit", "CompleteAbort" })
            Assert.True(counts.GetValueOrDefault(kind) > 0, $"{kind} never happened: {string.Join(", ", counts)}");
    }

    /// <summary>The grain's step with a random storage outcome: stored and completed, not stored, or stored but given up on.</summary>
    private static TxnOperation Drive(TransactionCoordinatorHarness h, Random random, TxnOperation operation, Dictionary<string, int> counts)
    {
        if (operation.Error == ErrorCode.ProducerFenced) Count(counts, "fenced");
        if (operation.Write is not { } write) return operation;
        var roll = random.Next(10);
        if (roll < 7)
        {
            var done = h.Store(write);
            Count(counts, "completed");
            Count(counts, Find(h.Stored)?.State.ToString() ?? "removed");
            return done;
        }
        if (roll < 9)
        {
            Count(counts, "failed");
            return h.Coordinator.FailWrite(write, ErrorCode.CoordinatorNotAvailable);
        }
        Count(counts, "unknown");
        return h.StoreGivingUp(write);
    }

    private static void Count(Dictionary<string, int> counts, string kind) => counts[kind] = counts.GetValueOrDefault(kind) + 1;

    private static ProducerIdAndEpoch RandomProducer(Random random, List<ProducerIdAndEpoch> answered) =>
        answered.Count > 0 && random.Next(2) == 0 ? answered[random.Next(answered.Count)] : new ProducerIdAndEpoch(random.Next(4), (short)random.Next(4));

    private static void AssertOnlyLatest(TxnOperation operation, ProducerIdAndEpoch producer, List<ProducerIdAndEpoch> answered)
    {
        if (operation.Error == ErrorCode.None)
            Assert.Equal(answered[^1], producer);
    }

    /// <summary>The stored counts move exactly when a stored transition decides: a PrepareCommit is one commit, a PrepareAbort one abort.</summary>
    private static void AssertCounted(TransactionCoordinatorStats statsBefore, StoredTransaction? before, TransactionCoordinatorState stored, StoredTransaction? after)
    {
        var stats = stored.Stats ?? TransactionCoordinatorStats.None;
        bool Entered(TransactionState state) => after?.State == state && before?.State != state;
        Assert.Equal(Entered(TransactionState.PrepareCommit) ? 1 : 0, stats.Commits - statsBefore.Commits);
        Assert.Equal(Entered(TransactionState.PrepareAbort) ? 1 : 0,
            stats.ClientAborts + stats.TimeoutAborts + stats.FencedAborts - statsBefore.ClientAborts - statsBefore.TimeoutAborts - statsBefore.FencedAborts);
        Assert.Equal(stats.TimeoutAborts, stats.TimeoutFencings);
        if (after is not null && before is not null && (after.ProducerId != before.ProducerId || after.ProducerEpoch != before.ProducerEpoch))
            Assert.True(stats.InitProducerIdFencings - statsBefore.InitProducerIdFencings <= 1, "at most one fencing per stored bump");
    }

    private static StoredTransaction? Find(TransactionCoordinatorState? state) =>
        state?.Transactions.Find(t => t.TransactionalId == TxnId);

    private static void AssertLegalStoredTransition(StoredTransaction? before, StoredTransaction? after)
    {
        if (before is null || after is null || before == after) return;
        if (after.State != before.State)
            Assert.True(TransactionStates.IsValidTransition(before.State, after.State), $"stored {before.State} -> {after.State}");
        if (after.ProducerId == before.ProducerId)
            Assert.True(after.ProducerEpoch >= before.ProducerEpoch, $"epoch went back from {before.ProducerEpoch} to {after.ProducerEpoch}");
    }

    private static List<string> Project(TransactionCoordinatorState state)
    {
        var list = new List<string>();
        foreach (var t in state.Transactions)
        {
            var participants = new List<string>();
            foreach (var p in t.Partitions) participants.Add(p.ToString());
            foreach (var g in t.Groups) participants.Add("group:" + g);
            participants.Sort(StringComparer.Ordinal);
            list.Add($"{t.TransactionalId} {t.ProducerId}/{t.ProducerEpoch} last {t.LastProducerId}/{t.LastProducerEpoch} {t.State} {t.TxnTimeoutMs} " +
                $"[{string.Join(',', participants)}] {t.TxnStartTimestamp} {t.TxnLastUpdateTimestamp}");
        }
        return list;
    }
}
