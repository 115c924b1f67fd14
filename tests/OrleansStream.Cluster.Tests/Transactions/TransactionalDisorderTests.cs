using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Client;
using OrleansStream.Server.Diagnostics;
using static OrleansStream.TestKit.PartitionTestKit;
using static OrleansStream.Cluster.Tests.Transactions.TransactionTestKit;

namespace OrleansStream.Cluster.Tests.Transactions;

/// <summary>Counts the OffsetFetch calls each group answered, so a test knows a consumer has asked for its start offsets.</summary>
public sealed class OffsetFetchWatch : IIncomingGrainCallFilter
{
    private static readonly ConcurrentDictionary<string, int> Answered = new();

    public static int AnsweredFor(string groupId) => Answered.GetValueOrDefault(groupId);

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        await context.Invoke();
        if (context.MethodName == nameof(IConsumerGroupGrain.OffsetFetch))
            Answered.AddOrUpdate(context.TargetId.Key.ToString()!, 1, static (_, n) => n + 1);
    }
}

/// <summary>
/// Transactions under the disorder of <see cref="ProduceChaosFilter"/> (produce calls delayed, refused, answered with
/// errors after the append, copied to arrive late; markers delayed and their answers lost), and the consumer's wait for
/// offsets a transaction holds pending (KIP-447's require_stable).
/// </summary>
public sealed class TransactionalDisorderTests(ProduceChaosFixture fixture) : IClassFixture<ProduceChaosFixture>
{
    private const int Producers = 2;
    private const int Transactions = 8;
    private const int RecordsPerTransaction = 40;
    private const int Partitions = 2;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Transactional_producers_with_5_in_flight_commit_each_record_once_in_order_and_abort_the_rest()
    {
        var topic = UniqueTopic("chaos-txn");
        await fixture.CreateTopic(topic, Partitions, replicationFactor: 3);
        using var markerRetries = MarkerRetries(out var retried);
        var runs = new Task<TransactionsRun>[Producers];
        for (var p = 0; p < Producers; p++)
        {
            var producer = p;
            runs[p] = Task.Factory.StartNew(() => Run(topic, producer), TaskCreationOptions.LongRunning);
        }
        var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);
        // Every transaction is complete (all its markers written) before the logs are read.
        foreach (var result in results)
            await Eventually.WaitUntilAsync(async () => (await fixture.Describe(result.TransactionalId)).State is "CompleteCommit" or "CompleteAbort" or "Empty",
                $"{result.TransactionalId}'s last transaction completes");

        var abortedSeen = 0;
        for (var partition = 0; partition < Partitions; partition++)
        {
            var tp = new TopicPartition(topic, partition);
            var leader = await fixture.Leader(topic, partition);
            await WaitForReplication(leader, (await leader.GetStatus()).LogEndOffset);
            var committedView = fixture.ReadUntilEof(tp, IsolationLevel.ReadCommitted);
            var uncommittedView = fixture.ReadUntilEof(tp, IsolationLevel.ReadUncommitted);
            var batches = await ReadBatches(leader);
            var byOffset = new Dictionary<long, string>();
            foreach (var batch in batches)
                for (var i = 0; i < batch.Values.Count; i++) byOffset[batch.BaseOffset + i] = batch.Values[i];
            Assert.All(batches, b => Assert.True(b.IsTransactional, $"batch at {b.BaseOffset} is transactional"));

            var values = committedView.Take(committedView.Count - 1).ToList();
            Assert.Equal(values.Count, values.Distinct().Count());
            foreach (var result in results)
            {
                var prefix = $"p{result.Producer}-";
                var mine = result.Committed.Where(c => c.Partition == partition).ToList();
                // Exactly once and in order: the committed records of this producer and partition, as sent.
                Assert.Equal(mine.Select(c => c.Value), values.Where(v => v.StartsWith(prefix, StringComparison.Ordinal)));
                // At the offsets the producer was told.
                foreach (var (value, _, delivery) in mine)
                    Assert.Equal(value, byOffset[(await delivery).Offset]);
                Assert.DoesNotContain(values, v => result.Aborted.Contains(v));
                abortedSeen += uncommittedView.Count(v => result.Aborted.Contains(v));
            }
        }

        // Not vacuous: aborted records were written (read_uncommitted saw them), and the calls were disordered.
        Assert.True(abortedSeen > 0, "read_uncommitted readers saw aborted records");
        Assert.True(ProduceChaosFilter.Delayed > 0 && ProduceChaosFilter.AnswersLost > 0 && ProduceChaosFilter.LateCopies > 0,
            "produce calls were delayed, lost their answers and arrived again late");
        Assert.True(ProduceChaosFilter.MarkersDelayed > 0 && ProduceChaosFilter.MarkerAnswersLost > 0, "markers were delayed and written again");
        Assert.True(Volatile.Read(ref retried.Value) > 0, "the coordinators counted the markers they wrote again (orleansstream.transaction.marker.retries)");
    }

    /// <summary>Listens to <c>orleansstream.transaction.marker.retries</c> on every silo of the fixture.</summary>
    private MeterListener MarkerRetries(out StrongBox<long> retried)
    {
        var meters = fixture.Silos.Values.Select(s => s.ServiceProvider.GetRequiredService<OrleansStreamMetrics>().Meter).ToHashSet();
        var count = retried = new StrongBox<long>();
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (meters.Contains(instrument.Meter) && instrument.Name == "orleansstream.transaction.marker.retries") l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((_, v, _, _) => Interlocked.Add(ref count.Value, v));
        listener.Start();
        return listener;
    }

    [Fact]
    public async Task A_read_committed_consumer_starts_from_the_offsets_a_pending_transaction_commits()
    {
        var input = new TopicPartition(UniqueTopic("stable-in"), 0);
        var output = new TopicPartition(UniqueTopic("stable-out"), 0);
        var group = UniqueTopic("stable-group");
        await fixture.CreateTopic(input.Topic, partitions: 1, replicationFactor: 2);
        await fixture.CreateTopic(output.Topic, partitions: 1, replicationFactor: 2);
        using (var seed = new ProducerBuilder<Null, string>(fixture.Client, new ProducerConfig()).Build())
        {
            for (var i = 0; i < 8; i++)
                await seed.ProduceAsync(input, new Message<Null, string> { Value = $"v{i}" }, TestContext.Current.CancellationToken);
        }
        // A transactional id without a consumer of the group: KIP-447's checks apply only to a member that names itself.
        var outsider = new ConsumerGroupMetadata(group, -1, "");
        using var producer = new ProducerBuilder<Null, string>(fixture.Client,
            new ProducerConfig { TransactionalId = UniqueTopic("stable-id"), LingerMs = 0 }).Build();
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        producer.SendOffsetsToTransaction([new TopicPartitionOffset(input, 2)], outsider, Timeout);
        producer.CommitTransaction(Timeout);
        producer.BeginTransaction();
        producer.Produce(output, new Message<Null, string> { Value = "copied v2..v4" });
        producer.SendOffsetsToTransaction([new TopicPartitionOffset(input, 5)], outsider, Timeout);

        using var consumer = new ConsumerBuilder<Null, string>(fixture.Client,
            new ConsumerConfig { GroupId = group, EnableAutoCommit = false, FetchWaitMaxMs = 100 }).Build();
        consumer.Subscribe(input.Topic);
        using var deadline = new CancellationTokenSource(Timeout);
        var first = Task.Factory.StartNew(() => consumer.Consume(deadline.Token), TaskCreationOptions.LongRunning);
        await Eventually.WaitUntilAsync(() => Task.FromResult(OffsetFetchWatch.AnsweredFor(group) > 0 || first.IsCompleted),
            "the consumer asked the group for its committed offsets");
        producer.CommitTransaction(Timeout);

        // Starting from offset 2, committed before, would copy v2..v4 a second time.
        Assert.Equal(5, (await first).Offset);
    }

    private TransactionsRun Run(string topic, int producer)
    {
        var run = new TransactionsRun(producer, $"{topic}-p{producer}");
        var config = new ProducerConfig { TransactionalId = run.TransactionalId, LingerMs = 0, BatchSize = 150, MessageMaxBytes = 1000, RetryBackoffMs = 5 };
        using var client = new ProducerBuilder<Null, string>(fixture.Client, config).Build();
        client.InitTransactions(Timeout);
        for (var t = 0; t < Transactions; t++)
        {
            client.BeginTransaction();
            var sent = new List<(string Value, int Partition, Task<DeliveryResult<Null, string>> Delivery)>();
            for (var i = 0; i < RecordsPerTransaction; i++)
            {
                var value = $"p{producer}-t{t}-{i:D3}";
                var partition = i % Partitions;
                sent.Add((value, partition, client.ProduceAsync(new TopicPartition(topic, partition), new Message<Null, string> { Value = value })));
            }
            var commit = t % 3 != 2;
            if (commit)
            {
                try
                {
                    client.CommitTransaction(Timeout);
                }
                catch (KafkaTxnRequiresAbortException)
                {
                    commit = false;
                }
            }
            else Assert.Equal(0, client.Flush(Timeout)); // written, so that only the abort keeps them from read_committed readers
            if (!commit) client.AbortTransaction(Timeout);
            foreach (var s in sent)
            {
                if (commit) run.Committed.Add(s);
                else
                {
                    run.Aborted.Add(s.Value);
                    _ = s.Delivery.ContinueWith(static d => d.Exception, TaskScheduler.Default);
                }
            }
        }
        return run;
    }

    private sealed record TransactionsRun(int Producer, string TransactionalId)
    {
        public List<(string Value, int Partition, Task<DeliveryResult<Null, string>> Delivery)> Committed { get; } = [];

        public HashSet<string> Aborted { get; } = [];
    }
}
