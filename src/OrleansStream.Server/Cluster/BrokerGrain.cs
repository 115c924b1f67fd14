using Microsoft.Extensions.Options;
using OrleansStream.Server.Kafka;
using OrleansStream.Server.Partitions;
using OrleansStream.Server.Placement;

namespace OrleansStream.Server.Cluster;

/// <summary>One per broker, keyed by broker id and placed on that broker's silo: the controller's view of its disk.</summary>
public interface IBrokerGrain : IGrainWithStringKey
{
    /// <summary>The broker's <c>meta.properties</c>, how many partition directories it holds and its advertised Kafka listeners.</summary>
    Task<BrokerDescription> Describe();
}

[GrainType(GrainType)]
[BrokerPlacement]
internal sealed class BrokerGrain(
    BrokerIdentity identity, BrokerRegistration registration, LocalPartitionDirectories directories, IOptions<BrokerOptions> options)
    : Grain, IBrokerGrain
{
    public const string GrainType = "os-broker";

    public Task<BrokerDescription> Describe()
    {
        // Placement puts this grain on the broker its key names; anything else (a name shared by two silos) must not answer for it.
        var key = this.GetPrimaryKeyString();
        if (key != identity.BrokerId)
            throw new InvalidOperationException($"The grain of broker '{key}' activated on broker '{identity.BrokerId}'.");
        var meta = registration.Meta;
        return Task.FromResult(new BrokerDescription(key, meta.ClusterId, meta.NodeId, directories.List().Count, KafkaListeners.Advertised(options.Value)));
    }
}
