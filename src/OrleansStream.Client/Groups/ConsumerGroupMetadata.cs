namespace OrleansStream.Client;

/// <summary>A consumer's place in its group, handed to <see cref="IProducer{TKey,TValue}.SendOffsetsToTransaction"/> (Confluent's IConsumerGroupMetadata).</summary>
public interface IConsumerGroupMetadata;

/// <summary>
/// The group, generation and member a consumer had when it read the records whose offsets a transaction commits
/// (KIP-447): the group refuses those offsets if the consumer has since left or the group has rebalanced.
/// </summary>
public sealed record ConsumerGroupMetadata(string GroupId, int GenerationId, string MemberId, string? GroupInstanceId = null) : IConsumerGroupMetadata;
