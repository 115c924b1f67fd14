namespace OrleansStream.Client.Admin;

/// <summary>
/// Java's ListTransactionsOptions (KIP-664, KIP-994): empty filters match every transactional id. A listing is kept
/// when its state is among <see cref="FilterStates"/> (Kafka's state names: <c>Ongoing</c>, <c>PrepareCommit</c>, ...;
/// a filter of unknown names only matches nothing), its producer id among <see cref="FilterProducerIds"/>, and its
/// transaction started longer than <see cref="FilterOnDurationMs"/> ago (-1: no duration filter).
/// </summary>
public sealed class ListTransactionsOptions : AdminOptions
{
    public IReadOnlyList<string> FilterStates { get; set; } = [];

    public IReadOnlyList<long> FilterProducerIds { get; set; } = [];

    public long FilterOnDurationMs { get; set; } = -1;
}
