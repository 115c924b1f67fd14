using System.Collections.Concurrent;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Placement;

namespace OrleansStream.Server.Kafka;

/// <summary>The brokers Metadata lists: node ids, the live brokers' advertised address on one listener, the controller's node.</summary>
public sealed record KafkaBrokerView(IReadOnlyList<MetadataBroker> Brokers, IReadOnlyDictionary<string, int> NodeIds, ISet<string> Listed, int ControllerId)
{
    public int NodeId(string? brokerId) => brokerId is not null && NodeIds.TryGetValue(brokerId, out var id) ? id : -1;
}

/// <summary>
/// Kafka's brokers are the live silos. Node ids come from the controller (kept in its state and each broker's
/// <c>meta.properties</c>; from the <see cref="MetadataCache"/> while the controller cannot answer); advertised
/// listeners from each broker's own <see cref="IBrokerGrain"/>, asked once per silo incarnation.
/// </summary>
public sealed partial class KafkaBrokers(IGrainFactory grains, BrokerLocator locator, MetadataCache metadata, ILogger<KafkaBrokers> logger)
{
    private readonly ConcurrentDictionary<SiloAddress, BrokerDescription> _described = new();

    public async Task<KafkaBrokerView> DescribeAsync(string listenerName)
    {
        var nodesCall = metadata.BrokerNodesAsync();
        var live = locator.LiveBrokers();
        foreach (var silo in _described.Keys)
            if (!live.Exists(l => l.Silo.Equals(silo))) _described.TryRemove(silo, out _);
        var descriptions = new Task<BrokerDescription>[live.Count];
        for (var i = 0; i < live.Count; i++)
            descriptions[i] = _described.TryGetValue(live[i].Silo, out var known) ? Task.FromResult(known) : DescribeAsync(live[i].BrokerId, live[i].Silo);
        var nodes = await nodesCall;
        var brokers = new List<MetadataBroker>(live.Count);
        var listed = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < live.Count; i++)
        {
            BrokerDescription description;
            try
            {
                description = await descriptions[i];
            }
            catch (Exception e)
            {
                LogDescribeFailed(e, live[i].BrokerId);
                continue;
            }
            if (!nodes.NodeIds.TryGetValue(live[i].BrokerId, out var nodeId)) continue;
            foreach (var l in description.Listeners ?? [])
                if (l.Name == listenerName)
                {
                    brokers.Add(new MetadataBroker(nodeId, l.Host, l.Port, null));
                    listed.Add(live[i].BrokerId);
                    break;
                }
        }
        var controllerId = nodes.NodeIds.TryGetValue(nodes.ControllerBrokerId, out var c) ? c : -1;
        return new KafkaBrokerView(brokers, nodes.NodeIds, listed, controllerId);
    }

    private async Task<BrokerDescription> DescribeAsync(string brokerId, SiloAddress silo)
    {
        var description = await grains.GetGrain<IBrokerGrain>(brokerId).Describe();
        _described[silo] = description;
        return description;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker {Broker} did not describe its listeners; Metadata leaves it out")]
    private partial void LogDescribeFailed(Exception e, string broker);
}
