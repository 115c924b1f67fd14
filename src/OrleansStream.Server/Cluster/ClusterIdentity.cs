using OrleansStream.Server.Controller;

namespace OrleansStream.Server.Cluster;

/// <summary>
/// What a live broker reports of its data directory (its <c>meta.properties</c> and its partition directories) and
/// where Kafka clients reach it (its advertised listeners).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record BrokerDescription(
    string BrokerId, string? ClusterId, int? NodeId, int PartitionDirectories, IReadOnlyList<Kafka.KafkaListenerEndpoint>? Listeners = null);

/// <summary>
/// Every registered broker's int32 node id (Kafka's <c>node.id</c>), the broker the controller runs on, and the
/// controller's metadata version (a broker's metadata cache reloads the topics when it moved), ACL version (its
/// authorizer reloads the ACL bindings when that moved), SCRAM version (its credential store reloads the SCRAM
/// credentials changed at run time), client quota version (its quota manager reloads the quotas), finalized features epoch
/// and client metrics version (its <c>ClientMetricsManager</c> reloads the stored subscriptions).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record BrokerNodes(string ControllerBrokerId, IReadOnlyDictionary<string, int> NodeIds, long MetadataVersion = 0, long AclVersion = 0, long ScramVersion = 0,
    long ClientQuotaVersion = 0, long FinalizedFeaturesEpoch = 0, long ClientMetricsVersion = 0);

/// <summary>A broker's registration with the controller (Kafka's BrokerRegistration): the cluster and node id to record.</summary>
[GenerateSerializer, Immutable]
public sealed record BrokerRegistrationReply(ErrorCode Error, string? ClusterId, int NodeId, string? ErrorMessage);

/// <summary>
/// Kafka's cluster id rules, without Orleans: a controller without state creates a cluster only when no live broker
/// holds data of one; a broker joins only the cluster its data directory names (or any, when it names none).
/// </summary>
internal static class ClusterIdentity
{
    public enum Verdict
    {
        /// <summary>No live broker has a cluster id or a partition: a truly new cluster.</summary>
        NewCluster,

        /// <summary>Live brokers belong to a cluster this controller has no state of: its grain storage is not shared.</summary>
        StateLost,

        /// <summary>Nothing names a cluster, but some live broker did not answer: decide later.</summary>
        Undecided,
    }

    /// <summary>
    /// Judges an empty controller state against what the live brokers answered (null for one that did not answer).
    /// <paramref name="evidence"/> names the brokers and cluster id behind <see cref="Verdict.StateLost"/>.
    /// </summary>
    public static Verdict JudgeEmptyState(IReadOnlyList<BrokerDescription?> answers, out string evidence)
    {
        var holders = new List<string>();
        string? clusterId = null;
        var unanswered = false;
        foreach (var a in answers)
        {
            if (a is null)
            {
                unanswered = true;
                continue;
            }
            if (a.ClusterId is null && a.PartitionDirectories == 0) continue;
            holders.Add(a.BrokerId);
            clusterId ??= a.ClusterId;
        }
        if (holders.Count > 0)
        {
            evidence = $"broker(s) {string.Join(", ", holders)} hold data of cluster {clusterId ?? "(id not recorded)"}";
            return Verdict.StateLost;
        }
        evidence = "";
        return unanswered ? Verdict.Undecided : Verdict.NewCluster;
    }

    /// <summary>
    /// Registers <paramref name="brokerId"/> in <paramref name="state"/> (which has a cluster id): refuses a broker whose
    /// data names another cluster; otherwise gives it its node id, keeping the one it recorded when no other broker
    /// holds it. <paramref name="changed"/> says whether the state must be written.
    /// </summary>
    public static BrokerRegistrationReply Register(ControllerState state, string brokerId, string? brokerClusterId, int? recordedNodeId, out bool changed)
    {
        changed = false;
        var clusterId = state.ClusterId ?? throw new InvalidOperationException("The controller has no cluster id.");
        if (brokerClusterId is not null && brokerClusterId != clusterId)
            return new BrokerRegistrationReply(ErrorCode.InconsistentClusterId, clusterId, -1,
                $"The data directory of broker '{brokerId}' belongs to cluster {brokerClusterId}, not to this cluster ({clusterId}); " +
                "the broker serves no partition of this cluster until its data directory is its own.");
        if (!state.NodeIds.TryGetValue(brokerId, out var nodeId))
        {
            nodeId = recordedNodeId is { } wanted && wanted >= 0 && !IsTaken(state, wanted) ? wanted : NextNodeId(state);
            state.NodeIds[brokerId] = nodeId;
            changed = true;
        }
        return new BrokerRegistrationReply(ErrorCode.None, clusterId, nodeId, null);
    }

    private static bool IsTaken(ControllerState state, int nodeId)
    {
        foreach (var id in state.NodeIds.Values)
            if (id == nodeId) return true;
        return false;
    }

    private static int NextNodeId(ControllerState state)
    {
        var next = 0;
        foreach (var id in state.NodeIds.Values)
            if (id >= next) next = id + 1;
        return next;
    }

    /// <summary>What every refused admin or metadata call says while <see cref="Verdict.StateLost"/> holds.</summary>
    public static string StateLostMessage(string evidence) =>
        "The controller activated with no state, but " + evidence + ": its grain storage is not shared by the silos " +
        "(each has its own OrleansStream:GrainStateDirectory, or a grain storage that is not the cluster's). It creates, " +
        "elects, reassigns and deletes nothing until every silo uses the same grain storage.";

    public const string StateVanishedMessage =
        "The controller's state vanished from grain storage while it was active (it reloaded no cluster id). It creates, " +
        "elects, reassigns, deletes and hands out producer ids no more until its state is restored.";
}
