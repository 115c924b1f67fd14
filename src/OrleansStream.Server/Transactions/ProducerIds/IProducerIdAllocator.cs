namespace OrleansStream.Server.Transactions.ProducerIds;

/// <summary>
/// Hands out producer ids no other producer in the cluster ever had (Kafka's <c>ProducerIdManager</c> as the
/// transaction coordinator sees it). One per silo.
/// </summary>
public interface IProducerIdAllocator
{
    /// <summary>
    /// The next unused producer id. Waits while this broker has no block; throws <see cref="OrleansStreamException"/>
    /// when the controller refuses to give one (e.g. <see cref="ErrorCode.InconsistentClusterId"/>), and
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> ends the wait first.
    /// </summary>
    ValueTask<long> NextProducerIdAsync(CancellationToken cancellationToken);
}
