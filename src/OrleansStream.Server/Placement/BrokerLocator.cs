using Orleans.Runtime;

namespace OrleansStream.Server.Placement;

/// <summary>Maps broker ids (silo names) to the live silo incarnation through cluster membership.</summary>
public sealed class BrokerLocator(IClusterMembershipService membership)
{
    public SiloAddress? FindSilo(string brokerId)
    {
        SiloAddress? best = null;
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status != SiloStatus.Active || !string.Equals(member.Name, brokerId, StringComparison.Ordinal)) continue;
            // A restarted broker may briefly appear twice; the newest incarnation wins.
            if (best is null || member.SiloAddress.Generation > best.Generation) best = member.SiloAddress;
        }
        return best;
    }

    /// <summary>Live brokers, sorted by id, one entry per broker id.</summary>
    public List<(string BrokerId, SiloAddress Silo)> LiveBrokers()
    {
        var result = new List<(string, SiloAddress)>();
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status != SiloStatus.Active || string.IsNullOrEmpty(member.Name)) continue;
            var i = result.FindIndex(b => b.Item1 == member.Name);
            if (i < 0) result.Add((member.Name, member.SiloAddress));
            else if (member.SiloAddress.Generation > result[i].Item2.Generation) result[i] = (member.Name, member.SiloAddress);
        }
        result.Sort(static (a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return result;
    }

    public bool IsAlive(string brokerId) => FindSilo(brokerId) is not null;
}
