using Microsoft.Extensions.Options;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Partitions;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// AlterReplicaLogDirs v1-2 (kafka-reassign-partitions.sh with <c>log_dirs</c>, the admin clients'
/// <c>alterReplicaLogDirs</c>), Kafka's <c>ReplicaManager.alterReplicaLogDirs</c> on a broker with one log directory
/// (<c>OrleansStream:DataDirectory</c>): a partition named for it that this broker holds is already there (None: no
/// future log, nothing moves, as Kafka answers a move to the directory a log is in); one the cluster has but this broker
/// does not hold is <see cref="ErrorCode.ReplicaNotAvailable"/> (Kafka's answer for a replica it does not host) and one
/// the cluster does not have <see cref="ErrorCode.UnknownTopicOrPartition"/>; any other path is
/// <see cref="ErrorCode.LogDirNotFound"/> ("not found in the config"), compared as Kafka compares it, with the absolute
/// path exactly. A partition named under two directories is answered for the last, as Kafka's map of them keeps it.
/// Needs ALTER on the cluster with the authorizer on, else every partition is ClusterAuthorizationFailed.
/// </summary>
internal sealed class AlterReplicaLogDirsHandler(
    LocalPartitionDirectories directories, MetadataCache metadata, IOptions<BrokerOptions> options, KafkaAuthorizer authorizer)
    : KafkaApiHandler<AlterReplicaLogDirsRequest>(ApiKey.AlterReplicaLogDirs, AlterReplicaLogDirsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(AlterReplicaLogDirsRequest body, KafkaRequest request, KafkaWriter response)
    {
        // Kafka's map of partition to directory: the last directory named wins; topics answer in the order first named.
        var destinations = new Dictionary<(string Topic, int Partition), string>();
        var byTopic = new Dictionary<string, List<(int, ErrorCode)>>(StringComparer.Ordinal);
        foreach (var dir in body.Dirs)
            foreach (var t in dir.Topics)
            {
                byTopic.TryAdd(t.Topic, []);
                foreach (var p in t.Partitions) destinations[(t.Topic, p)] = dir.Path;
            }
        var allowed = request.IsAllowedOnCluster(authorizer, AclOperation.Alter);
        var root = options.Value.ResolvedDataDirectory;
        var existing = new Dictionary<string, TopicMetadata>(StringComparer.Ordinal);
        var held = new HashSet<(string, int, Guid)>();
        if (allowed) await LoadAsync(destinations, root, existing, held);
        foreach (var ((topic, partition), path) in destinations)
            byTopic[topic].Add((partition,
                !allowed ? ErrorCode.ClusterAuthorizationFailed
                : path != root ? ErrorCode.LogDirNotFound
                : !existing.TryGetValue(topic, out var t) || !HasPartition(t, partition) ? ErrorCode.UnknownTopicOrPartition
                : held.Contains((topic, partition, t.TopicId)) ? ErrorCode.None
                : ErrorCode.ReplicaNotAvailable));

        var results = new List<PartitionErrors>(byTopic.Count);
        foreach (var (topic, partitions) in byTopic)
            if (partitions.Count > 0) results.Add(new PartitionErrors(topic, [.. partitions]));
        new AlterReplicaLogDirsResponse(results).Write(response, request.Version);
        return true;
    }

    /// <summary>The metadata of the topics named for this broker's directory, and the partitions it holds on disk.</summary>
    private async Task LoadAsync(Dictionary<(string Topic, int Partition), string> destinations, string root,
        Dictionary<string, TopicMetadata> existing, HashSet<(string, int, Guid)> held)
    {
        var here = new HashSet<string>(StringComparer.Ordinal);
        foreach (var ((topic, _), path) in destinations)
            if (path == root) here.Add(topic);
        if (here.Count == 0) return;
        foreach (var t in (await metadata.TopicsAsync([.. here], allowAutoTopicCreation: false)).Topics)
            if (t.Error == ErrorCode.None) existing[t.Name] = t;
        foreach (var local in directories.List()) held.Add((local.Topic, local.Partition, local.TopicId));
    }

    private static bool HasPartition(TopicMetadata topic, int partition)
    {
        foreach (var p in topic.Partitions)
            if (p.Partition == partition) return true;
        return false;
    }
}
