namespace OrleansStream;

/// <summary>How grains of the broker are keyed. Topic names cannot contain '/', so the replica key is unambiguous.</summary>
public static class GrainKeys
{
    /// <summary>The single cluster controller's key.</summary>
    public const string Controller = "controller";

    public static string Replica(string topic, int partition, int replicaId) => $"{topic}/{partition}/{replicaId}";

    public static (string Topic, int Partition, int ReplicaId) ParseReplica(string key)
    {
        var last = key.LastIndexOf('/');
        var mid = key.LastIndexOf('/', last - 1);
        if (mid <= 0 || last <= mid)
            throw new ArgumentException($"'{key}' is not a replica key 'topic/partition/replica'.", nameof(key));
        return (key[..mid], int.Parse(key.AsSpan(mid + 1, last - mid - 1)), int.Parse(key.AsSpan(last + 1)));
    }
}
