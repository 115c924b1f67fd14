namespace OrleansStream;

/// <summary>
/// Kafka's InitProducerId without a transactional id, answered by any broker: a producer id no other producer ever had,
/// with epoch 0, for an idempotent producer. Call it with key 0; it runs on the silo that receives the call.
/// </summary>
public interface IProducerIdGrain : IGrainWithIntegerKey
{
    Task<InitProducerIdResponse> InitProducerId();
}

/// <summary>
/// Kafka's InitProducerIdResponse. <see cref="ErrorCode.CoordinatorLoadInProgress"/> (retriable) while the broker waits
/// for producer ids from the controller; ids are -1 on any error.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record InitProducerIdResponse(ErrorCode Error, long ProducerId, short ProducerEpoch, string? ErrorMessage = null);
