using Orleans.Concurrency;

namespace OrleansStream.Server.Transactions.ProducerIds;

/// <summary>
/// Kafka's <c>ProducerIdsBlock</c> (KIP-730): <paramref name="Size"/> consecutive producer ids from
/// <paramref name="FirstProducerId"/>, handed by the controller to <paramref name="AssignedBroker"/> alone.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ProducerIdsBlock(string AssignedBroker, long FirstProducerId, int Size)
{
    /// <summary>Kafka's <c>PRODUCER_ID_BLOCK_SIZE</c>.</summary>
    public const int DefaultSize = 1000;

    public long LastProducerId => FirstProducerId + Size - 1;

    /// <summary>The first id of the block after this one.</summary>
    public long NextBlockFirstId => FirstProducerId + Size;
}

/// <summary>The controller's answer to AllocateProducerIds: a block, or an error and no block.</summary>
[GenerateSerializer, Immutable]
public sealed record AllocateProducerIdsResult(ErrorCode Error, ProducerIdsBlock? Block, string? ErrorMessage = null);
