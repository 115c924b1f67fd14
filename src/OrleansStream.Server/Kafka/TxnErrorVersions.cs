using OrleansStream.Protocol;

namespace OrleansStream.Server.Kafka;

/// <summary>
/// The one place that says which transaction errors a request's version lets its client take, and what an older client
/// gets instead, as Kafka answers by version. KIP-588: ProducerFenced from InitProducerId v4 and AddPartitionsToTxn,
/// AddOffsetsToTxn and EndTxn v2, InvalidProducerEpoch (the same fatal fencing to a client) before and in every
/// TxnOffsetCommit and Produce. KIP-890 part 1: TransactionAbortable from Produce v11, TxnOffsetCommit v4,
/// AddPartitionsToTxn v5, AddOffsetsToTxn v4, EndTxn v4 and InitProducerId v5, InvalidTxnState before. Kafka answers
/// TransactionAbortable only where a transaction's verification finds a partition or group outside it (Produce,
/// TxnOffsetCommit: <c>AddPartitionsToTxnManager</c> with <c>genericError</c> or <c>defaultError</c>); its coordinator
/// never answers it to InitProducerId, AddOffsetsToTxn or EndTxn, whose new versions change nothing in their answers.
/// KIP-890 part 2: Produce v12, TxnOffsetCommit v5 and EndTxn v5 come from a producer of transactions v2
/// (<see cref="ClientTransactionVersion"/>).
/// </summary>
internal static class TxnErrorVersions
{
    /// <summary>
    /// The transaction protocol a request of <paramref name="api"/> at <paramref name="version"/> speaks, as Kafka reads
    /// it off the version: 2 (transactions v2) from Produce v12, TxnOffsetCommit v5 and EndTxn v5, else 0.
    /// </summary>
    public static short ClientTransactionVersion(ApiKey api, short version) => version >= FirstTransactionV2(api) ? (short)2 : (short)0;

    /// <summary>Whether a Produce or TxnOffsetCommit of <paramref name="version"/> adds its partition or group to the transaction (transactions v2).</summary>
    public static bool AddsToTransaction(ApiKey api, short version) => version >= FirstTransactionV2(api);

    private static short FirstTransactionV2(ApiKey api) => api switch
    {
        ApiKey.Produce => 12,
        ApiKey.TxnOffsetCommit or ApiKey.EndTxn => 5,
        _ => short.MaxValue,
    };

    /// <summary>Whether a request of <paramref name="api"/> at <paramref name="version"/> takes TransactionAbortable (Kafka's genericError).</summary>
    public static bool TakesTransactionAbortable(ApiKey api, short version) => version >= FirstTransactionAbortable(api);

    /// <summary><paramref name="error"/> as a client of <paramref name="api"/> at <paramref name="version"/> is answered it.</summary>
    public static ErrorCode ForVersion(ApiKey api, short version, ErrorCode error) => error switch
    {
        ErrorCode.ProducerFenced when version < FirstProducerFenced(api) => ErrorCode.InvalidProducerEpoch,
        ErrorCode.TransactionAbortable when version < FirstTransactionAbortable(api) => ErrorCode.InvalidTxnState,
        _ => error,
    };

    private static short FirstProducerFenced(ApiKey api) => api switch
    {
        ApiKey.InitProducerId => 4,
        ApiKey.AddPartitionsToTxn or ApiKey.AddOffsetsToTxn or ApiKey.EndTxn => 2,
        _ => short.MaxValue,
    };

    private static short FirstTransactionAbortable(ApiKey api) => api switch
    {
        ApiKey.Produce => 11,
        ApiKey.AddPartitionsToTxn => 5,
        ApiKey.TxnOffsetCommit or ApiKey.AddOffsetsToTxn or ApiKey.EndTxn => 4,
        ApiKey.InitProducerId => 5,
        _ => short.MaxValue,
    };
}
