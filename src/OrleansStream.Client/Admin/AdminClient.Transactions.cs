namespace OrleansStream.Client;

internal sealed partial class AdminClient
{
    public async Task<List<TransactionListingResult>> ListTransactionsAsync(TimeSpan? timeout = null)
    {
        var shards = await GroupCall(clusterClient.GetGrain<ITransactionCoordinatorLookupGrain>(0).ShardCount(), timeout).ConfigureAwait(false);
        var lists = new Task<IReadOnlyList<TransactionListingResult>>[shards];
        for (var shard = 0; shard < shards; shard++)
            lists[shard] = clusterClient.GetGrain<ITransactionCoordinatorGrain>(shard).ListTransactions([], []);
        var all = new List<TransactionListingResult>();
        foreach (var list in await GroupCall(Task.WhenAll(lists), timeout).ConfigureAwait(false))
            all.AddRange(list);
        all.Sort(static (a, b) => string.CompareOrdinal(a.TransactionalId, b.TransactionalId));
        return all;
    }

    public async Task<List<TransactionDescription>> DescribeTransactionsAsync(IEnumerable<string> transactionalIds, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(transactionalIds);
        var lookup = clusterClient.GetGrain<ITransactionCoordinatorLookupGrain>(0);
        var describes = new List<Task<IReadOnlyList<TransactionDescription>>>();
        foreach (var id in transactionalIds)
            describes.Add(DescribeOneAsync(lookup, id));
        var all = new List<TransactionDescription>(describes.Count);
        foreach (var described in await GroupCall(Task.WhenAll(describes), timeout).ConfigureAwait(false))
            all.AddRange(described);
        return all;
    }

    private async Task<IReadOnlyList<TransactionDescription>> DescribeOneAsync(ITransactionCoordinatorLookupGrain lookup, string transactionalId)
    {
        var shard = await lookup.FindCoordinator(transactionalId).ConfigureAwait(false);
        return await clusterClient.GetGrain<ITransactionCoordinatorGrain>(shard).DescribeTransactions([transactionalId]).ConfigureAwait(false);
    }
}
