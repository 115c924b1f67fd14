using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using OrleansStream.Client;
using OrleansStream.Server.Diagnostics;
using static OrleansStream.TestKit.PartitionTestKit;
using static OrleansStream.Cluster.Tests.Transactions.TransactionTestKit;

namespace OrleansStream.Cluster.Tests.Transactions;

/// <summary>
/// A commit, a client abort, a producer fenced by a new instance and a timeout, on real silos: each moves its count in
/// the coordinator shards' stored stats (which the admin sums and a new activation keeps) and its
/// <c>orleansstream.transaction.*</c> instrument on the silos' meters.
/// </summary>
public sealed class TransactionMetricsTests(TransactionFixture fixture) : IClassFixture<TransactionFixture>, IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)> _samples = [];

    [Fact]
    public async Task Commits_aborts_by_cause_fencings_and_markers_are_counted_on_the_meter_and_in_the_stored_stats()
    {
        Listen();
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        var before = Total(await admin.DescribeTransactionCoordinatorsAsync());
        var topic = UniqueTopic("txn-metrics");
        await fixture.CreateTopic(topic);
        var tp = new TopicPartition(topic, 0);
        var (committed, aborted, fenced, timedOut) = (UniqueTopic("m-commit"), UniqueTopic("m-abort"), UniqueTopic("m-fenced"), UniqueTopic("m-timeout"));

        await EndAsync(committed, commit: true);
        await EndAsync(aborted, commit: false);
        await BeginWithOutputAsync(fenced);
        await fixture.InitTransactions(fenced);
        // Nothing produced: a batch could arrive after the short timeout already aborted the transaction.
        await fixture.BeginTransaction(timedOut, [tp], timeoutMs: 300);
        await fixture.WaitForState(timedOut, "CompleteAbort");
        await fixture.WaitForState(fenced, "Empty");

        var expected = new TransactionCoordinatorStats(Commits: 1, ClientAborts: 1, TimeoutAborts: 1, FencedAborts: 1, InitProducerIdFencings: 1, TimeoutFencings: 1);
        Assert.Equal(before + expected, Total(await admin.DescribeTransactionCoordinatorsAsync()));
        Assert.Equal(1, Sum("orleansstream.transaction.commits"));
        Assert.Equal((1d, 1d, 1d), (Sum("orleansstream.transaction.aborts", "cause", "client"), Sum("orleansstream.transaction.aborts", "cause", "timeout"),
            Sum("orleansstream.transaction.aborts", "cause", "fenced")));
        Assert.Equal((1d, 1d), (Sum("orleansstream.transaction.fencings", "reason", "init_producer_id"), Sum("orleansstream.transaction.fencings", "reason", "timeout")));
        Assert.Equal((1d, 3d), (Sum("orleansstream.transaction.markers.written", "transaction.result", "commit"),
            Sum("orleansstream.transaction.markers.written", "transaction.result", "abort")));
        Assert.Single(Samples("orleansstream.transaction.commit.duration"));

        // Stored with the shard's state: a new activation of each shard answers the same counts.
        var shards = await fixture.Grains.GetGrain<ITransactionCoordinatorLookupGrain>(0).ShardCount();
        for (var shard = 0; shard < shards; shard++)
            await fixture.Grains.GetGrain<ITransactionCoordinatorGrain>(shard).Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        Assert.Equal(before + expected, Total(await admin.DescribeTransactionCoordinatorsAsync()));

        async Task<(ITransactionCoordinatorGrain Coordinator, InitProducerIdResponse Producer)> BeginWithOutputAsync(string txnId)
        {
            var (coordinator, producer) = await fixture.BeginTransaction(txnId, [tp]);
            var produced = await (await fixture.Leader(topic, 0)).Produce(
                new ProduceRequest(Acks.All, 10_000, TransactionalBatch(producer.ProducerId, producer.ProducerEpoch, 0, txnId), TransactionalId: txnId));
            Assert.Equal(ErrorCode.None, produced.Error);
            return (coordinator, producer);
        }

        async Task EndAsync(string txnId, bool commit)
        {
            var (coordinator, producer) = await BeginWithOutputAsync(txnId);
            Assert.Equal(ErrorCode.None, (await coordinator.EndTxn(new EndTxnRequest(txnId, producer.ProducerId, producer.ProducerEpoch, commit))).Error);
            await fixture.WaitForState(txnId, commit ? "CompleteCommit" : "CompleteAbort");
        }
    }

    public void Dispose() => _listener.Dispose();

    private static TransactionCoordinatorStats Total(List<TransactionCoordinatorStats> shards)
    {
        var total = TransactionCoordinatorStats.None;
        foreach (var shard in shards) total += shard;
        return total;
    }

    private void Listen()
    {
        var meters = fixture.Silos.Values.Select(s => s.ServiceProvider.GetRequiredService<OrleansStreamMetrics>().Meter).ToHashSet();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (meters.Contains(instrument.Meter)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i.Name, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i.Name, v, tags));
        _listener.Start();
    }

    private void Add(string instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (!instrument.StartsWith("orleansstream.transaction.", StringComparison.Ordinal)) return;
        lock (_samples) _samples.Add((instrument, value, tags.ToArray()));
    }

    private List<(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)> Samples(string instrument)
    {
        lock (_samples) return [.. _samples.Where(s => s.Instrument == instrument)];
    }

    private double Sum(string instrument, string? tag = null, string? value = null) =>
        Samples(instrument).Where(s => tag is null || s.Tags.Any(t => t.Key == tag && Equals(t.Value, value))).Sum(s => s.Value);
}
