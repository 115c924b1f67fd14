using System.Text;
using OrleansStream.Records;
using OrleansStream.Server;
using OrleansStream.Server.Transactions;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Cluster.Tests.Transactions;

/// <summary>
/// Brokers whose coordinators use 4 shards and look for timed-out transactions every 100 ms, with the fast ISR of
/// <see cref="ReplicationFixture"/>.
/// </summary>
public class TransactionFixture : ClusterFixture
{
    protected override void ConfigureBroker(BrokerOptions options) => ReplicationFixture.FastIsr(options);

    protected override void ConfigureSilo(ISiloBuilder silo) => silo.AddOrleansStreamTransactions(o =>
    {
        o.TransactionStateLogNumPartitions = 4;
        o.TransactionAbortTimedOutTransactionCleanupIntervalMs = 100;
    });
}

/// <summary>A control batch or a data batch as read back from a partition.</summary>
public sealed record ReadBatch(long BaseOffset, long ProducerId, short ProducerEpoch, bool IsTransactional, bool IsControl,
    ControlRecordType? Marker, int CoordinatorEpoch, List<string> Values);

/// <summary>Calls the transaction coordinator and the partitions through the grain API, as a transactional producer does.</summary>
public static class TransactionTestKit
{
    public static async Task<ITransactionCoordinatorGrain> Coordinator(this ClusterFixture fixture, string transactionalId) =>
        fixture.Grains.GetGrain<ITransactionCoordinatorGrain>(await fixture.Grains.GetGrain<ITransactionCoordinatorLookupGrain>(0).FindCoordinator(transactionalId));

    public static async Task<ITransactionCoordinatorShardGrain> Shard(this ClusterFixture fixture, string transactionalId) =>
        fixture.Grains.GetGrain<ITransactionCoordinatorShardGrain>(await fixture.Grains.GetGrain<ITransactionCoordinatorLookupGrain>(0).FindCoordinator(transactionalId));

    /// <summary>InitProducerId with the transactional id, retried while the coordinator answers ConcurrentTransactions (it is fencing).</summary>
    public static async Task<InitProducerIdResponse> InitTransactions(this ClusterFixture fixture, string transactionalId, int timeoutMs = 60_000)
    {
        var coordinator = await fixture.Coordinator(transactionalId);
        InitProducerIdResponse response = null!;
        await Eventually.WaitUntilAsync(async () =>
        {
            response = await coordinator.InitProducerId(new InitTransactionalProducerIdRequest(transactionalId, timeoutMs));
            return response.Error is not (ErrorCode.ConcurrentTransactions or ErrorCode.CoordinatorLoadInProgress or ErrorCode.CoordinatorNotAvailable);
        }, $"InitProducerId({transactionalId}) is answered", state: () => response?.ToString() ?? "");
        Assert.Equal(ErrorCode.None, response.Error);
        return response;
    }

    /// <summary>InitProducerId, then AddPartitionsToTxn of <paramref name="partitions"/>: a transaction open on them.</summary>
    public static async Task<(ITransactionCoordinatorGrain Coordinator, InitProducerIdResponse Producer)> BeginTransaction(
        this ClusterFixture fixture, string transactionalId, TopicPartition[] partitions, int timeoutMs = 60_000)
    {
        var coordinator = await fixture.Coordinator(transactionalId);
        var producer = await fixture.InitTransactions(transactionalId, timeoutMs);
        var added = await coordinator.AddPartitionsToTxn(new AddPartitionsToTxnRequest(transactionalId, producer.ProducerId, producer.ProducerEpoch, partitions));
        Assert.All(added.Partitions, p => Assert.Equal(ErrorCode.None, p.Error));
        return (coordinator, producer);
    }

    public static async Task<TransactionDescription> Describe(this ClusterFixture fixture, string transactionalId) =>
        Assert.Single(await (await fixture.Coordinator(transactionalId)).DescribeTransactions([transactionalId]));

    /// <summary>The values an SDK consumer reads from the beginning up to its first end-of-partition event ("@offset").</summary>
    public static List<string> ReadUntilEof(this ClusterFixture fixture, TopicPartition tp, IsolationLevel isolation)
    {
        var config = new Client.ConsumerConfig { EnablePartitionEof = true, FetchWaitMaxMs = 100, IsolationLevel = isolation };
        using var consumer = new Client.ConsumerBuilder<byte[], byte[]>(fixture.Client, config).Build();
        consumer.Assign(new TopicPartitionOffset(tp, Client.Offset.Beginning));
        return UntilEof(consumer);
    }

    /// <summary>The values consumed up to the first end-of-partition event, which is written as "@offset".</summary>
    public static List<string> UntilEof(Client.IConsumer<byte[], byte[]> consumer)
    {
        var seen = new List<string>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var result = consumer.Consume(cts.Token);
            if (result.IsPartitionEOF)
            {
                seen.Add("@" + result.Offset);
                return seen;
            }
            seen.Add(Encoding.UTF8.GetString(result.Message!.Value));
        }
    }

    public static Task WaitForState(this ClusterFixture fixture, string transactionalId, string state) =>
        Eventually.WaitUntilAsync(async () => (await fixture.Describe(transactionalId)).State == state, $"{transactionalId} reaches {state}");

    /// <summary>A transactional producer's batch of <paramref name="values"/>.</summary>
    public static byte[] TransactionalBatch(long producerId, short epoch, int baseSequence, params string[] values)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(producerId, epoch, baseSequence, isTransactional: true);
        var timestampMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < values.Length; i++)
            builder.Append(timestampMs, Encoding.UTF8.GetBytes($"k{i}"), Encoding.UTF8.GetBytes(values[i]));
        return builder.ToArray();
    }

    /// <summary>Every batch below the high watermark (read_uncommitted), control batches included.</summary>
    public static async Task<List<ReadBatch>> ReadBatches(IPartitionReplicaGrain leader)
    {
        var response = await leader.Fetch(new FetchRequest(0, 1 << 20, MinBytes: 0, MaxWaitMs: 0));
        Assert.Equal(ErrorCode.None, response.Error);
        var result = new List<ReadBatch>();
        foreach (var batch in RecordBatchReader.Batches(response.Records.Span))
        {
            var values = new List<string>();
            ControlRecordType? marker = null;
            var coordinatorEpoch = -1;
            foreach (var record in batch.Records())
            {
                if (batch.IsControl && EndTransactionMarker.TryRead(record.Key, record.Value, out var m))
                    (marker, coordinatorEpoch) = (m.Type, m.CoordinatorEpoch);
                else values.Add(Encoding.UTF8.GetString(record.Value));
            }
            result.Add(new ReadBatch(batch.BaseOffset, batch.Header.ProducerId, batch.Header.ProducerEpoch, batch.IsTransactional,
                batch.IsControl, marker, coordinatorEpoch, values));
        }
        return result;
    }

    /// <summary>Waits until the leader's high watermark covers its log end (the ISR has every batch, markers included).</summary>
    public static Task WaitForReplication(IPartitionReplicaGrain leader, long logEnd) =>
        Eventually.WaitUntilAsync(async () => (await leader.GetStatus()).HighWatermark >= logEnd, $"the high watermark reaches {logEnd}");
}
