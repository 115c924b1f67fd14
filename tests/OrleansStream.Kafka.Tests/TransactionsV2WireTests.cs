using Confluent.Kafka;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Records;

namespace OrleansStream.Kafka.Tests;

using ErrorCode = OrleansStream.ErrorCode;
using IsolationLevel = Confluent.Kafka.IsolationLevel;
using TopicPartition = Confluent.Kafka.TopicPartition;
using TopicPartitionOffset = Confluent.Kafka.TopicPartitionOffset;

/// <summary>
/// Transactions v2 (KIP-890 part 2) on the wire, as a Kafka 4 producer runs them once ApiVersions finalizes
/// <c>transaction.version</c> 2: no AddPartitionsToTxn or AddOffsetsToTxn (Produce v12 and TxnOffsetCommit v5 add the
/// partition and the group themselves), and EndTxn v5, whose answer is the epoch of the next transaction. No client
/// served here runs transactions v2 (librdkafka and kafkajs do not; the Java client that does is newer than the one the
/// Java tests build), so these send the requests that client sends, and real consumers read the outcome.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class TransactionsV2WireTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ApiVersions_v4_finalizes_transaction_version_2_and_advertises_the_v2_request_versions()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));

        await wire.SendAsync(ApiKey.ApiVersions, 4, w => new ApiVersionsRequest("orleansstream-tests", "1.0").Write(w, 4));
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(4) : []);
        var (error, apis, features) = ApiVersionsResponse.Read(ref r, 4);

        Assert.Equal(ErrorCode.None, error);
        Assert.Equal([new SupportedFeature("transaction.version", 0, 2)], features.Supported);
        Assert.Equal([new FinalizedFeature("transaction.version", 2)], features.Finalized);
        Assert.True(features.FinalizedEpoch >= 0);
        Assert.Contains(new SupportedApi(ApiKey.Produce, 3, 12), apis);
        Assert.Contains(new SupportedApi(ApiKey.EndTxn, 0, 5), apis);
        Assert.Contains(new SupportedApi(ApiKey.TxnOffsetCommit, 0, 5), apis);
    }

    /// <summary>
    /// A v2 producer's two transactions on one partition and its group: the first commits a record and the group's
    /// offset with no AddPartitionsToTxn or AddOffsetsToTxn, and EndTxn answers the epoch bumped; a retry of that EndTxn
    /// answers the same epoch; the second transaction writes at the new epoch and aborts; a late batch of the first
    /// transaction (its old epoch) is refused and never written. read_committed sees the first transaction's record
    /// only, read_uncommitted both transactions', and the group has the first transaction's offset.
    /// </summary>
    [Fact]
    public async Task A_v2_producer_commits_with_implicit_adds_then_aborts_at_the_bumped_epoch_and_its_late_batch_is_fenced()
    {
        var topic = await cluster.CreateTopicAsync("txn-v2", partitions: 1);
        var transactionalId = "txn-v2-" + Guid.NewGuid().ToString("N");
        var group = "txn-v2-" + Guid.NewGuid().ToString("N");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(await cluster.LeaderIndexAsync(topic, 0)));

        var (producerId, epoch) = await TransactionTests.InitProducerIdAsync(wire, transactionalId);

        var first = await ProduceAsync(wire, topic, transactionalId, producerId, epoch, sequence: 0, "first");
        await wire.SendAsync(ApiKey.TxnOffsetCommit, 5, w => new Protocol.Messages.TxnOffsetCommitRequest(
            transactionalId, group, producerId, epoch, [new OffsetCommitTopic(topic, [new OffsetCommitPartition(0, 1, -1, null)])]).Write(w, 5));
        var offsets = await TransactionTests.FlexiblePartitionErrorsAsync(wire);
        var committed = await EndTxnAsync(wire, transactionalId, producerId, epoch, commit: true);
        var retried = await EndTxnUntilMarkersWrittenAsync(wire, transactionalId, producerId, epoch, commit: true);

        var next = committed.Epoch;
        var second = await ProduceAsync(wire, topic, transactionalId, producerId, next, sequence: 0, "second");
        var late = await ProduceAsync(wire, topic, transactionalId, producerId, epoch, sequence: 1, "late");
        var aborted = await EndTxnAsync(wire, transactionalId, producerId, next, commit: false);

        Assert.Equal(ErrorCode.None, first);
        Assert.Equal([(topic, 0, ErrorCode.None)], offsets);
        Assert.Equal((ErrorCode.None, producerId, (short)(epoch + 1)), committed);
        Assert.Equal((ErrorCode.None, producerId, (short)(epoch + 1)), retried);
        Assert.Equal(ErrorCode.None, second);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, late);
        Assert.Equal((ErrorCode.None, producerId, (short)(next + 1)), aborted);
        Assert.Equal(["first"], Read(topic, IsolationLevel.ReadCommitted, expected: 1));
        Assert.Equal(["first", "second"], Read(topic, IsolationLevel.ReadUncommitted, expected: 2));
        using var consumer = new ConsumerBuilder<Null, string>(Config(IsolationLevel.ReadCommitted, group)).Build();
        Assert.Equal(1, consumer.Committed([new TopicPartition(topic, 0)], Wait)[0].Offset.Value);
    }

    /// <summary>
    /// Produce v12 of a transactional batch whose partition the transaction does not hold, at an epoch the coordinator
    /// does not have: the implicit add is refused with the producer's fencing error, and nothing is written.
    /// </summary>
    [Fact]
    public async Task A_v2_first_batch_at_a_stale_epoch_is_refused_and_adds_nothing()
    {
        var topic = await cluster.CreateTopicAsync("txn-v2-stale", partitions: 1);
        var transactionalId = "txn-v2-stale-" + Guid.NewGuid().ToString("N");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(await cluster.LeaderIndexAsync(topic, 0)));
        var (producerId, epoch) = await TransactionTests.InitProducerIdAsync(wire, transactionalId);

        var stale = await ProduceAsync(wire, topic, transactionalId, producerId, (short)(epoch + 1), sequence: 0, "stale");
        var ended = await EndTxnAsync(wire, transactionalId, producerId, epoch, commit: true);

        Assert.Equal(ErrorCode.InvalidProducerEpoch, stale);
        // No transaction was opened by the refused batch: EndTxn finds none.
        Assert.Equal(ErrorCode.InvalidTxnState, ended.Error);
        Assert.Empty(Read(topic, IsolationLevel.ReadUncommitted, expected: 0));
    }

    /// <summary>
    /// Produce v12 of one transactional record. The coordinator answers NotEnoughReplicas (retriable) while the previous
    /// transaction's markers are being written, so the producer retries, as Kafka's does.
    /// </summary>
    private static async Task<ErrorCode> ProduceAsync(KafkaWire wire, string topic, string transactionalId, long producerId, short epoch, int sequence, string value)
    {
        using var batch = new RecordBatchBuilder();
        batch.Reset(producerId, epoch, baseSequence: sequence, isTransactional: true);
        batch.Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), null, System.Text.Encoding.UTF8.GetBytes(value));
        var request = new Protocol.Messages.ProduceRequest(transactionalId, -1, 10_000, [new ProduceTopicData(topic, [new ProducePartitionData(0, batch.ToArray(), false)])]);
        var error = ErrorCode.NotEnoughReplicas;
        await Eventually.WaitUntilAsync(async () =>
        {
            await wire.SendAsync(ApiKey.Produce, 12, w => request.Write(w, 12));
            var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(5) : []);
            error = Protocol.Messages.ProduceResponse.Read(ref r, 12).Topics[0].Partitions[0].Error;
            return error != ErrorCode.NotEnoughReplicas;
        }, $"a produce of '{value}' not answered NotEnoughReplicas");
        return error;
    }

    private static async Task<(ErrorCode Error, long ProducerId, short Epoch)> EndTxnAsync(KafkaWire wire, string transactionalId, long producerId, short epoch, bool commit)
    {
        await wire.SendAsync(ApiKey.EndTxn, 5, w => new Protocol.Messages.EndTxnRequest(transactionalId, producerId, epoch, commit).Write(w, 5));
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(5) : []);
        var answer = TxnErrorResponse.Read(ref r, 5, endTxn: true);
        Assert.Equal(0, r.Remaining);
        return (answer.Error, answer.ProducerId, answer.ProducerEpoch);
    }

    /// <summary>A retried EndTxn: ConcurrentTransactions while the markers are written, then the decided answer.</summary>
    private static async Task<(ErrorCode Error, long ProducerId, short Epoch)> EndTxnUntilMarkersWrittenAsync(
        KafkaWire wire, string transactionalId, long producerId, short epoch, bool commit)
    {
        (ErrorCode Error, long ProducerId, short Epoch) answer = default;
        await Eventually.WaitUntilAsync(async () =>
        {
            answer = await EndTxnAsync(wire, transactionalId, producerId, epoch, commit);
            return answer.Error != ErrorCode.ConcurrentTransactions;
        }, "the retried EndTxn answered after the markers");
        return answer;
    }

    private ConsumerConfig Config(IsolationLevel isolation, string? groupId = null) => TransactionTests.ConsumerOf(cluster.BootstrapServers, isolation, groupId);

    private List<string> Read(string topic, IsolationLevel isolation, int expected)
    {
        using var consumer = new ConsumerBuilder<Null, string>(Config(isolation)).Build();
        consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning)]);
        var values = new List<string>();
        foreach (var record in Consuming.ToEnd(consumer, 1, expected)) values.Add(record.Message.Value);
        return values;
    }
}
