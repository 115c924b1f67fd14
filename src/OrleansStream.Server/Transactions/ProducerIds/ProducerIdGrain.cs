using Orleans.Concurrency;

namespace OrleansStream.Server.Transactions.ProducerIds;

/// <summary>
/// Kafka's non-transactional InitProducerId on the silo that receives it: the silo's <see cref="IProducerIdAllocator"/>
/// holds the block, so this grain keeps nothing and any number of local activations may serve at once.
/// </summary>
[StatelessWorker]
[GrainType("os-producer-ids")]
internal sealed partial class ProducerIdGrain(IProducerIdAllocator allocator, TimeProvider time, ILogger<ProducerIdGrain> logger)
    : Grain, IProducerIdGrain
{
    /// <summary>How long a call waits for the controller's block before answering the retriable CoordinatorLoadInProgress.</summary>
    internal static readonly TimeSpan BlockWait = TimeSpan.FromSeconds(5);

    public async Task<InitProducerIdResponse> InitProducerId()
    {
        using var wait = new CancellationTokenSource(BlockWait, time);
        try
        {
            return new InitProducerIdResponse(ErrorCode.None, await allocator.NextProducerIdAsync(wait.Token), 0);
        }
        catch (OperationCanceledException) when (wait.IsCancellationRequested)
        {
            LogNoBlockYet(BlockWait);
            return new InitProducerIdResponse(ErrorCode.CoordinatorLoadInProgress, -1, -1,
                $"This broker has had no producer ids from the controller for {BlockWait.TotalSeconds:0} s. Retry.");
        }
        catch (OrleansStreamException e)
        {
            return new InitProducerIdResponse(e.Code, -1, -1, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "InitProducerId found no producer id block within {Wait}")]
    private partial void LogNoBlockYet(TimeSpan wait);
}
