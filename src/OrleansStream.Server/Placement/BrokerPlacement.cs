using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;

namespace OrleansStream.Server.Placement;

/// <summary>
/// Activates a replica grain on the silo of the broker the controller assigned the replica to, and a broker grain
/// (keyed by broker id) on that broker's silo.
/// </summary>
public sealed class BrokerPlacementStrategy : PlacementStrategy
{
    internal static readonly BrokerPlacementStrategy Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class BrokerPlacementAttribute() : PlacementAttribute(BrokerPlacementStrategy.Instance);

internal sealed partial class BrokerPlacementDirector(
    BrokerLocator locator, IGrainFactory grains, SiloDepartures departures, ILogger<BrokerPlacementDirector> logger) : IPlacementDirector
{
    /// <summary>The controller names the broker in the request context of its own calls, sparing a round trip.</summary>
    public const string BrokerHintKey = "os-broker";

    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString()!;
        string? broker = target.GrainIdentity.Type.ToString() == Cluster.BrokerGrain.GrainType ? key : null;
        if (broker is null && target.RequestContextData is { } data && data.TryGetValue(BrokerHintKey, out var hint) && hint is string h
            && (data.TryGetValue(BrokerHintReplicaKey, out var forKey) && forKey is string k && k == key))
            broker = h;
        if (broker is null)
        {
            var (topic, partition, replicaId) = GrainKeys.ParseReplica(key);
            broker = await departures.Call(grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller).GetReplicaBroker(topic, partition, replicaId));
        }
        // An unknown replica activates here only to answer UnknownTopicOrPartition; it opens no log.
        if (broker is null) return context.LocalSilo;

        // Membership, not the cluster manifest, decides: a restarted broker is Active before every silo's manifest
        // lists it, and every silo of this cluster hosts replicas.
        var silo = locator.FindSilo(broker);
        if (silo is null)
        {
            LogBrokerUnavailable(key, broker);
            // Orleans sends this back as the call's rejection: it must be a type Orleans serializes (ours is not, and
            // the caller got CodecNotFoundException), and one clients treat as transient, so they refresh and retry.
            throw new SiloUnavailableException($"{ErrorCode.ReplicaNotAvailable}: broker '{broker}' of replica '{key}' is not alive.");
        }
        return silo;
    }

    /// <summary>The replica key the hint is for: a hint must not leak into activations the call triggers further down.</summary>
    public const string BrokerHintReplicaKey = "os-broker-replica";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot place replica {Replica}: broker {Broker} is not alive")]
    private partial void LogBrokerUnavailable(string replica, string broker);
}
