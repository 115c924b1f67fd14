using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

internal sealed partial class AdminClient
{
    public Task<List<TransactionListingResult>> ListTransactionsAsync(TimeSpan? timeout = null) =>
        ListTransactionsAsync([], [], -1, timeout);

    public Task<List<TransactionListingResult>> ListTransactionsAsync(ListTransactionsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.FilterStates);
        ArgumentNullException.ThrowIfNull(options.FilterProducerIds);
        return ListTransactionsAsync([.. options.FilterStates], [.. options.FilterProducerIds], options.FilterOnDurationMs, options.RequestTimeout);
    }

    private async Task<List<TransactionListingResult>> ListTransactionsAsync(string[] states, long[] producerIds, long durationMs, TimeSpan? timeout)
    {
        var shards = await IdempotentCall(() => clusterClient.GetGrain<ITransactionCoordinatorLookupGrain>(0).ShardCount(), timeout).ConfigureAwait(false);
        var all = new List<TransactionListingResult>();
        foreach (var list in await IdempotentCall(() => ListEveryShardAsync(shards, states, producerIds, durationMs), timeout).ConfigureAwait(false))
            all.AddRange(list);
        all.Sort(static (a, b) => string.CompareOrdinal(a.TransactionalId, b.TransactionalId));
        return all;
    }

    public async Task<List<TransactionDescription>> DescribeTransactionsAsync(IEnumerable<string> transactionalIds, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(transactionalIds);
        var lookup = clusterClient.GetGrain<ITransactionCoordinatorLookupGrain>(0);
        var ids = new List<string>(transactionalIds);
        var all = new List<TransactionDescription>(ids.Count);
        foreach (var described in await IdempotentCall(() => DescribeEachAsync(lookup, ids), timeout).ConfigureAwait(false))
            all.AddRange(described);
        return all;
    }

    public async Task<List<TransactionCoordinatorStats>> DescribeTransactionCoordinatorsAsync(TimeSpan? timeout = null)
    {
        var shards = await IdempotentCall(() => clusterClient.GetGrain<ITransactionCoordinatorLookupGrain>(0).ShardCount(), timeout).ConfigureAwait(false);
        return [.. await IdempotentCall(() => StatsOfEveryShardAsync(shards), timeout).ConfigureAwait(false)];
    }

    private Task<TransactionCoordinatorStats[]> StatsOfEveryShardAsync(int shards)
    {
        var stats = new Task<TransactionCoordinatorStats>[shards];
        for (var shard = 0; shard < shards; shard++)
            stats[shard] = clusterClient.GetGrain<ITransactionCoordinatorGrain>(shard).GetStats();
        return Task.WhenAll(stats);
    }

    private Task<IReadOnlyList<TransactionListingResult>[]> ListEveryShardAsync(int shards, string[] states, long[] producerIds, long durationMs)
    {
        var lists = new Task<IReadOnlyList<TransactionListingResult>>[shards];
        for (var shard = 0; shard < shards; shard++)
            lists[shard] = clusterClient.GetGrain<ITransactionCoordinatorGrain>(shard).ListTransactions(states, producerIds, durationMs);
        return Task.WhenAll(lists);
    }

    private Task<IReadOnlyList<TransactionDescription>[]> DescribeEachAsync(ITransactionCoordinatorLookupGrain lookup, List<string> ids)
    {
        var describes = new Task<IReadOnlyList<TransactionDescription>>[ids.Count];
        for (var i = 0; i < describes.Length; i++)
            describes[i] = DescribeOneAsync(lookup, ids[i]);
        return Task.WhenAll(describes);
    }

    private async Task<IReadOnlyList<TransactionDescription>> DescribeOneAsync(ITransactionCoordinatorLookupGrain lookup, string transactionalId)
    {
        var shard = await lookup.FindCoordinator(transactionalId).ConfigureAwait(false);
        return await clusterClient.GetGrain<ITransactionCoordinatorGrain>(shard).DescribeTransactions([transactionalId]).ConfigureAwait(false);
    }
}
