using Orleans.Concurrency;
using Orleans.Runtime;

namespace OrleansStream.Server.Cluster;

/// <summary>
/// The receiving silo's membership snapshot, for clients that watch for a silo's death (<see cref="IMembershipViewGrain"/>).
/// A stateless worker, so it answers on whichever gateway the client reaches, from memory.
/// </summary>
[StatelessWorker]
[GrainType("os-membership-view")]
internal sealed class MembershipViewGrain(IClusterMembershipService membership, SiloDepartures departures) : Grain, IMembershipViewGrain
{
    public Task<MembershipView> GetView(long knownVersion)
    {
        var snapshot = membership.CurrentSnapshot;
        var version = snapshot.Version.Value;
        if (version == knownVersion) return Task.FromResult(new MembershipView(version, null));
        var active = new List<SiloAddress>(snapshot.Members.Count);
        foreach (var member in snapshot.Members.Values)
            if (member.Status == SiloStatus.Active) active.Add(member.SiloAddress);
        return Task.FromResult(new MembershipView(version, active, departures.SinceLastDeparture));
    }
}
