using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Records;
using OrleansStream.Server.Kafka.Quotas;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// Produce v3-12: each partition's record batches go to its leader replica grain as the client sent them (the grain
/// stamps offsets and epoch). Only RecordBatch v2 is accepted. acks=0 gets no response, as in Kafka. v9 is flexible;
/// from v10 a partition answered NotLeaderOrFollower or FencedLeaderEpoch carries its current leader (KIP-951,
/// <see cref="LeaderHints"/>). v11 (KIP-890) says the producer takes TransactionAbortable: as Kafka's handleProduceRequest
/// (genericError for a version above 10, defaultError otherwise), a transactional batch that the partition's
/// verification finds outside the producer's transaction is TransactionAbortable from v11 and InvalidTxnState before;
/// the coordinator's retriable answers are NotEnoughReplicas at every version (<c>TransactionVerifier.VerifyAsync</c>).
/// v12 comes from a producer of transactions v2 (KIP-890 part 2): a transaction's first batch at a partition adds the
/// partition to the transaction at its coordinator, where an older version only verifies that it was added.
/// With the authorizer on, as Kafka's handleProduceRequest: transactional records need WRITE on the transactional id
/// (else every partition is TransactionalIdAuthorizationFailed), and each topic WRITE, checked before it is looked up
/// (TopicAuthorizationFailed, for a topic that does not exist too). A client over its <c>producer_byte_rate</c> quota
/// is throttled (<see cref="ClientQuotaManager"/>).
/// </summary>
internal sealed partial class ProduceHandler(PartitionLeaders leaders, LeaderHints hints, KafkaAuthorizer authorizer, ClientQuotaManager quotas,
    ILogger<ProduceHandler> logger) : IKafkaApiHandler
{
    /// <summary>The first version whose answer carries the current leader of a partition that moved (KIP-951).</summary>
    private const short LeaderHintsVersion = 10;

    public ApiKey ApiKey => ApiKey.Produce;

    // The async methods here pool their state machines: each request waits on its grain calls, and an unpooled builder
    // allocates a state machine for every method that waits.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> HandleAsync(KafkaRequest request, KafkaWriter response)
    {
        var reader = request.Reader();
        var body = Protocol.Messages.ProduceRequest.Read(ref reader, request.Version, request.Body);
        ErrorCode refused = default;
        bool[]? denied = null;
        if (authorizer.IsEnabled)
        {
            if (HasTransactionalRecords(body) && (body.TransactionalId is null
                || !request.IsAllowed(authorizer, AclOperation.Write, AclResourceType.TransactionalId, body.TransactionalId)))
                refused = ErrorCode.TransactionalIdAuthorizationFailed;
            else denied = request.Denied(authorizer, AclOperation.Write, body.Topics, static t => t.Name);
        }
        if (refused == ErrorCode.None)
            await leaders.EnsureAsync(denied is null ? body.Topics : TopicAuthorization.Allowed(body.Topics, denied), static t => t.Name);

        var partitionCount = 0;
        foreach (var topic in body.Topics) partitionCount += topic.Partitions.Length;
        var calls = new (ErrorCode, Task<OrleansStream.ProduceResponse>?)[partitionCount];
        var sent = 0;
        var takesTransactionAbortable = TxnErrorVersions.TakesTransactionAbortable(ApiKey.Produce, request.Version);
        var addsPartitionToTxn = TxnErrorVersions.AddsToTransaction(ApiKey.Produce, request.Version);
        for (var t = 0; t < body.Topics.Length; t++)
        {
            var topic = body.Topics[t];
            var topicRefused = refused != ErrorCode.None ? refused : denied.IsDenied(t) ? ErrorCode.TopicAuthorizationFailed : ErrorCode.None;
            foreach (var p in topic.Partitions)
                calls[sent++] = topicRefused != ErrorCode.None ? (topicRefused, null) : Send(topic.Name, p, body, takesTransactionAbortable, addsPartitionToTxn);
        }

        var results = new ProduceTopicResponse[body.Topics.Length];
        var call = 0;
        for (var t = 0; t < body.Topics.Length; t++)
        {
            var topic = body.Topics[t];
            var partitions = new ProducePartitionResponse[topic.Partitions.Length];
            for (var i = 0; i < partitions.Length; i++)
                partitions[i] = await Complete(topic.Name, topic.Partitions[i], calls[call++], request.Connection);
            results[t] = new ProduceTopicResponse(topic.Name, partitions);
        }
        // Kafka's producer_byte_rate: the request's bytes count against the client's quota; over it, the answer says how
        // long to wait and the connection is not read meanwhile (an acks=0 client is only not read).
        var throttle = quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Produce, request, request.Body.Length);
        request.Connection.ThrottleTimeMs = throttle;
        if (body.Acks == 0) return false;
        var nodes = request.Version >= LeaderHintsVersion ? await AddLeaderHintsAsync(results, request.Connection.ListenerName) : null;
        new Protocol.Messages.ProduceResponse(results, nodes, throttle).Write(response, request.Version);
        return true;
    }

    /// <summary>The current leader of each partition that moved; the leaders' endpoints, null when none moved (the usual answer, which this costs one pass).</summary>
    private async ValueTask<List<MetadataBroker>?> AddLeaderHintsAsync(ProduceTopicResponse[] topics, string listenerName)
    {
        List<string>? moved = null;
        foreach (var t in topics)
            foreach (var p in t.Partitions)
                if (LeaderHints.Needed(p.Error) && (moved is null || !moved.Contains(t.Name))) (moved ??= []).Add(t.Name);
        if (moved is null) return null;
        var found = await hints.LookUpAsync(moved, listenerName);
        foreach (var t in topics)
            for (var i = 0; i < t.Partitions.Length; i++)
                if (LeaderHints.Needed(t.Partitions[i].Error) && found.TryGet(t.Name, t.Partitions[i].Index, out var leaderId, out var leaderEpoch))
                    t.Partitions[i] = t.Partitions[i] with { CurrentLeaderId = leaderId, CurrentLeaderEpoch = leaderEpoch };
        return found.Nodes;
    }

    // A partition refused before any call carries its error and no call.
    private (ErrorCode Error, Task<OrleansStream.ProduceResponse>? Call) Send(
        string topic, ProducePartitionData p, Protocol.Messages.ProduceRequest body, bool takesTransactionAbortable, bool addsPartitionToTxn)
    {
        if (p.IsNull || !IsRecordBatchV2(p.Records.Span)) return (ErrorCode.InvalidRecord, null);
        var leader = leaders.Find(topic, p.Index);
        // The records lie in the connection's own rented frame, read no more once the call is answered: the leader may
        // stamp them there rather than copy them (a leader on another silo gets its own copy anyway).
        var records = PooledRecords.Lend(MemoryMarshal.AsMemory(p.Records));
        return (leader.Error, leader.Replica?.Produce(new OrleansStream.ProduceRequest((Acks)body.Acks, body.TimeoutMs, records,
            TransactionalId: body.TransactionalId, TakesTransactionAbortable: takesTransactionAbortable, AddsPartitionToTxn: addsPartitionToTxn)));
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ProducePartitionResponse> Complete(
        string topic, ProducePartitionData p, (ErrorCode Error, Task<OrleansStream.ProduceResponse>? Call) sent, KafkaConnection connection)
    {
        if (sent.Call is null)
            return Failed(p.Index, sent.Error, sent.Error switch
            {
                ErrorCode.InvalidRecord => "Produce v3+ takes RecordBatch v2 (magic 2) only.",
                ErrorCode.TopicAuthorizationFailed => AuthorizationMessages.Topic,
                ErrorCode.TransactionalIdAuthorizationFailed => AuthorizationMessages.TransactionalId,
                _ => null,
            });
        try
        {
            var r = await sent.Call;
            if (KafkaErrors.IsStaleLeader(r.Error)) leaders.Invalidate(topic);
            return new ProducePartitionResponse(p.Index, r.Error, r.Error == ErrorCode.None ? r.BaseOffset : -1, r.LogAppendTimeMs, r.LogStartOffset, r.ErrorMessage);
        }
        catch (Exception e)
        {
            // The grain may still read the records (a call that timed out while queued): the frame must outlive it.
            connection.RetainFrame = true;
            var error = KafkaErrors.FromException(e);
            if (error == ErrorCode.UnknownServerError) LogProduceFailed(e, topic, p.Index);
            if (KafkaErrors.IsStaleLeader(error)) leaders.Invalidate(topic);
            return Failed(p.Index, error, e.Message);
        }
    }

    /// <summary>Kafka's <c>RequestUtils.hasTransactionalRecords</c>: whether the first batch of any partition is transactional.</summary>
    private static bool HasTransactionalRecords(Protocol.Messages.ProduceRequest body)
    {
        foreach (var topic in body.Topics)
            foreach (var p in topic.Partitions)
            {
                var records = p.Records.Span;
                if (records.Length >= RecordBatchHeader.AttributesOffset + 2 && IsRecordBatchV2(records)
                    && (BinaryPrimitives.ReadInt16BigEndian(records[RecordBatchHeader.AttributesOffset..]) & RecordBatchHeader.TransactionalFlagMask) != 0)
                    return true;
            }
        return false;
    }

    private static ProducePartitionResponse Failed(int partition, ErrorCode error, string? message) => new(partition, error, -1, -1, -1, message);

    // A v2 batch has its magic byte after baseOffset, batchLength and partitionLeaderEpoch.
    private static bool IsRecordBatchV2(ReadOnlySpan<byte> records) =>
        records.Length > RecordBatchHeader.MagicOffset && records[RecordBatchHeader.MagicOffset] == RecordBatchHeader.CurrentMagic;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Produce to {Topic}-{Partition} failed")]
    private partial void LogProduceFailed(Exception e, string topic, int partition);
}
