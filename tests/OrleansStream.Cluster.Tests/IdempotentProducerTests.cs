using System.Collections.Concurrent;
using OrleansStream.Client;
using OrleansStream.Records;
using OrleansStream.Cluster.Tests.Transactions;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// Disorder on the way to the broker, for the produce calls to topics named <c>chaos-*</c>: Orleans delivers concurrent
/// calls to the reentrant replica grain in any order, and a call can fail after its append or run again late. Each call
/// is, by a seeded roll, delayed (so later calls overtake it), refused before the append, answered with an error after
/// the append (a lost answer: the client retries what was written), or copied to arrive again later.
/// </summary>
public sealed class ProduceChaosFilter(IGrainFactory grains) : IIncomingGrainCallFilter
{
    private static readonly Lock Sync = new();
    private static readonly Random Rolls = new(15);
    private static readonly ConcurrentDictionary<GrainId, int> InFlight = new();
    public static int Delayed, Refused, AnswersLost, LateCopies, MaxConcurrent;

    public static int MarkersDelayed, MarkerAnswersLost;

    // The first calls take each kind of disorder once, in turn, before the seeded rolls decide: a short run (a few dozen
    // produce calls) could otherwise roll none of an 8 % kind and leave a test's "the calls were disordered" check
    // failing by chance. The values are the rolls that select each kind below.
    private static readonly int[] FirstProduceRolls = [0, 30, 38, 46];
    private static readonly int[] FirstMarkerRolls = [0, 30];
    private static int _produceCalls, _markerCalls;

    private static (int Roll, int DelayMs) Roll(ref int calls, int[] first)
    {
        lock (Sync)
        {
            var n = calls++;
            return (n < first.Length ? first[n] : Rolls.Next(100), Rolls.Next(1, 25));
        }
    }

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.MethodName == nameof(IPartitionReplicaGrain.WriteTxnMarker) && context.TargetId.Key.ToString()!.StartsWith("chaos-", StringComparison.Ordinal))
        {
            await DisorderMarker(context);
            return;
        }
        if (context.MethodName != nameof(IPartitionReplicaGrain.Produce)
            || context.Request.GetArgument(0) is not ProduceRequest request
            || !context.TargetId.Key.ToString()!.StartsWith("chaos-", StringComparison.Ordinal))
        {
            await context.Invoke();
            return;
        }
        var (roll, delayMs) = Roll(ref _produceCalls, FirstProduceRolls);
        var concurrent = InFlight.AddOrUpdate(context.TargetId, 1, static (_, n) => n + 1);
        lock (Sync) MaxConcurrent = Math.Max(MaxConcurrent, concurrent);
        try
        {
            if (roll < 30)
            {
                Interlocked.Increment(ref Delayed);
                await Task.Delay(delayMs);
            }
            else if (roll < 38)
            {
                Interlocked.Increment(ref Refused);
                context.Result = new ProduceResponse(ErrorCode.NotLeaderOrFollower, -1, -1, -1, "chaos: refused before the append");
                return;
            }
            await context.Invoke();
            if (roll is >= 38 and < 46 && context.Result is ProduceResponse { Error: ErrorCode.None })
            {
                Interlocked.Increment(ref AnswersLost);
                context.Result = new ProduceResponse(ErrorCode.RequestTimedOut, -1, -1, -1, "chaos: the answer was lost");
            }
            else if (roll is >= 46 and < 54)
            {
                Interlocked.Increment(ref LateCopies);
                var target = grains.GetGrain<IPartitionReplicaGrain>(context.TargetId);
                _ = Task.Run(async () =>
                {
                    await Task.Delay(delayMs);
                    await target.Produce(request); // its answer goes nowhere, as a call the client gave up on
                });
            }
        }
        finally
        {
            InFlight.AddOrUpdate(context.TargetId, 0, static (_, n) => n - 1);
        }
    }

    /// <summary>
    /// A COMMIT/ABORT marker is delayed or its answer is lost (the coordinator writes it again). Not copied to arrive
    /// late: the coordinator keeps one marker call per partition outstanding and Orleans drops a call that reaches its
    /// target after the caller's timeout, so a marker never lands after its transaction's successor began.
    /// </summary>
    private static async Task DisorderMarker(IIncomingGrainCallContext context)
    {
        var (roll, delayMs) = Roll(ref _markerCalls, FirstMarkerRolls);
        if (roll < 30)
        {
            Interlocked.Increment(ref MarkersDelayed);
            await Task.Delay(delayMs);
        }
        await context.Invoke();
        if (roll is >= 30 and < 45 && context.Result is ErrorCode.None)
        {
            Interlocked.Increment(ref MarkerAnswersLost);
            context.Result = ErrorCode.RequestTimedOut;
        }
    }
}

/// <summary>
/// A leader that lost a producer's state in a failover, for topics named <c>gap-*</c>: the third produce call of each
/// partition is answered OutOfOrderSequenceNumber before the append, although the batch before it was acknowledged.
/// </summary>
public sealed class SequenceGapFilter : IIncomingGrainCallFilter
{
    private static readonly ConcurrentDictionary<GrainId, int> Calls = new();
    public static int Refused;

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.MethodName == nameof(IPartitionReplicaGrain.Produce)
            && context.TargetId.Key.ToString()!.StartsWith("gap-", StringComparison.Ordinal)
            && Calls.AddOrUpdate(context.TargetId, 1, static (_, n) => n + 1) == 3)
        {
            Interlocked.Increment(ref Refused);
            context.Result = new ProduceResponse(ErrorCode.OutOfOrderSequenceNumber, -1, -1, -1, "gap: the leader does not continue this sequence");
            return;
        }
        await context.Invoke();
    }
}

/// <summary>
/// Three silos whose replica grains get <see cref="ProduceChaosFilter"/> and <see cref="SequenceGapFilter"/>, and whose
/// groups count their offset fetches.
/// </summary>
public sealed class ProduceChaosFixture : ClusterFixture
{
    protected override void ConfigureSilo(ISiloBuilder silo) =>
        silo.AddIncomingGrainCallFilter<ProduceChaosFilter>().AddIncomingGrainCallFilter<SequenceGapFilter>()
            .AddIncomingGrainCallFilter<OffsetFetchWatch>();
}

/// <summary>The SDK's idempotent producer (Kafka's enable.idempotence) against reordered, refused, lost and repeated calls.</summary>
public sealed class IdempotentProducerTests(ProduceChaosFixture fixture) : IClassFixture<ProduceChaosFixture>
{
    private const int Producers = 3;
    private const int RecordsPerProducer = 400;
    private const int Partitions = 2;

    [Fact]
    public async Task Producers_with_5_in_flight_write_each_record_once_in_order_at_the_offset_they_were_told()
    {
        var topic = UniqueTopic("chaos");
        await fixture.CreateTopic(topic, Partitions, replicationFactor: 3);
        var producers = new List<IProducer<Null, string>>();
        var deliveries = new List<(int Producer, int Index, Task<DeliveryResult<Null, string>> Delivery)>();
        try
        {
            for (var p = 0; p < Producers; p++)
            {
                // Small batches that grow to 1000 bytes at most while requests are out, no linger: many requests, up to 5
                // in flight per partition. Idempotent by default.
                var config = new ProducerConfig { LingerMs = 0, BatchSize = 150, MessageMaxBytes = 1000, RetryBackoffMs = 5 };
                producers.Add(new ProducerBuilder<Null, string>(fixture.Client, config).Build());
            }
            for (var i = 0; i < RecordsPerProducer; i++)
                for (var p = 0; p < Producers; p++)
                {
                    var tp = new TopicPartition(topic, i % Partitions);
                    deliveries.Add((p, i, producers[p].ProduceAsync(tp, new Message<Null, string> { Value = $"p{p}-{i:D4}" }, TestContext.Current.CancellationToken)));
                }
            await Task.WhenAll(deliveries.Select(d => d.Delivery)).WaitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);
        }
        finally
        {
            foreach (var producer in producers) producer.Dispose();
        }

        for (var partition = 0; partition < Partitions; partition++)
        {
            var leader = await fixture.Leader(topic, partition);
            var expectedCount = deliveries.Count(d => d.Index % Partitions == partition);
            await Eventually.WaitUntilAsync(async () => (await leader.GetStatus()).HighWatermark >= expectedCount,
                $"partition {partition}'s high watermark reaches {expectedCount}");
            var log = await ReadAll(leader);
            // Exactly once: every value once, nothing more.
            Assert.Equal(expectedCount, log.Count);
            Assert.Equal(expectedCount, log.Select(r => r.Value).Distinct().Count());
            var byOffset = log.ToDictionary(r => r.Offset, r => r.Value);
            for (var p = 0; p < Producers; p++)
            {
                var mine = deliveries.Where(d => d.Producer == p && d.Index % Partitions == partition).ToList();
                // In order: the producer's records of this partition appear in the order it produced them...
                Assert.Equal(mine.Select(d => $"p{p}-{d.Index:D4}"), log.Select(r => r.Value).Where(v => v.StartsWith($"p{p}-", StringComparison.Ordinal)));
                // ...at the offsets its delivery reports named.
                foreach (var (_, index, delivery) in mine)
                {
                    var result = await delivery;
                    Assert.Equal(PersistenceStatus.Persisted, result.Status);
                    Assert.Equal($"p{p}-{index:D4}", byOffset[result.Offset]);
                }
            }
        }

        // Not vacuous: calls overlapped and every kind of disorder happened.
        Assert.True(ProduceChaosFilter.MaxConcurrent > 1, "requests of one partition were in flight together");
        Assert.True(ProduceChaosFilter.Delayed > 0 && ProduceChaosFilter.Refused > 0 && ProduceChaosFilter.AnswersLost > 0
            && ProduceChaosFilter.LateCopies > 0, "the filter delayed, refused, lost answers and sent late copies");
    }

    /// <summary>
    /// Kafka's Sender with KIP-360: OutOfOrderSequenceNumber on a batch whose predecessor was acknowledged means the
    /// broker lost the producer's sequence; the idempotent producer bumps its epoch and sends the batch again, rather than
    /// failing it.
    /// </summary>
    [Fact]
    public async Task A_batch_next_in_line_refused_out_of_order_goes_again_under_a_bumped_epoch()
    {
        var topic = UniqueTopic("gap");
        await fixture.CreateTopic(topic, partitions: 1, replicationFactor: 3);
        var results = new List<DeliveryResult<Null, string>>();
        using (var producer = new ProducerBuilder<Null, string>(fixture.Client, new ProducerConfig { LingerMs = 0 }).Build())
            for (var i = 0; i < 5; i++)
                results.Add(await producer.ProduceAsync(topic, new Message<Null, string> { Value = $"g{i}" }, TestContext.Current.CancellationToken));

        Assert.True(SequenceGapFilter.Refused > 0, "a batch was refused out of order");
        var log = await ReadAll(await fixture.Leader(topic, 0));
        Assert.Equal(["g0", "g1", "g2", "g3", "g4"], log.Select(r => r.Value));
        Assert.Equal(log.Select(r => r.Offset), results.Select(r => r.Offset));
    }

    [Fact]
    public async Task A_batch_that_fails_for_good_bumps_the_epoch_and_the_next_batch_starts_again_at_sequence_0()
    {
        var topic = UniqueTopic("bump");
        await fixture.CreateTopic(topic, 1, replicationFactor: 2, configs: new() { ["max.message.bytes"] = "2000" });
        var tp = new TopicPartition(topic, 0);
        await using var producer = new ProducerBuilder<Null, string>(fixture.Client, new ProducerConfig { LingerMs = 0 }).Build();
        var ct = TestContext.Current.CancellationToken;

        await producer.ProduceAsync(tp, new Message<Null, string> { Value = "before" }, ct);
        var tooLarge = await Assert.ThrowsAsync<ProduceException<Null, string>>(() =>
            producer.ProduceAsync(tp, new Message<Null, string> { Value = new string('x', 5000) }, ct));
        Assert.Equal(ErrorCode.RecordTooLarge, tooLarge.Error.Code);
        await producer.ProduceAsync(tp, new Message<Null, string> { Value = "after" }, ct);

        // KIP-360: the gap the refused batch left is closed by the producer's own epoch bump, not by a new producer id.
        var response = await (await fixture.Leader(topic, 0)).Fetch(new FetchRequest(0, 1 << 20, MinBytes: 0, MaxWaitMs: 0));
        var headers = new List<RecordBatchHeader>();
        foreach (var batch in RecordBatchReader.Batches(response.Records.Span)) headers.Add(batch.Header);
        Assert.Equal(2, headers.Count);
        Assert.Equal(headers[0].ProducerId, headers[1].ProducerId);
        Assert.Equal(headers[0].ProducerEpoch + 1, headers[1].ProducerEpoch);
        Assert.Equal((0, 0), (headers[0].BaseSequence, headers[1].BaseSequence));
    }
}
