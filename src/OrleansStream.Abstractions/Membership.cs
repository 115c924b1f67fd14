using Orleans.Concurrency;

namespace OrleansStream;

/// <summary>
/// The cluster's membership as the silo that receives the call sees it (call it with key 0; it runs on that silo).
/// Clients watch it to learn that a silo died, as Kafka's clients learn it from a broker's connection closing: Orleans
/// 10.4.2 fails a call in flight to a dead silo only at the response timeout (dotnet/orleans#10165).
/// </summary>
public interface IMembershipViewGrain : IGrainWithIntegerKey
{
    /// <summary>The active silos, or only the version (<see cref="MembershipView.ActiveSilos"/> null) when it is still <paramref name="knownVersion"/>.</summary>
    Task<MembershipView> GetView(long knownVersion);
}

/// <summary>
/// Orleans' membership version and the silos active in it, and with them how long ago the answering silo last saw a
/// silo leave the cluster (null when none left since it started): a client's first view cannot show a departure that
/// came before it, while calls the client sent just before may still wait on the dead silo.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record MembershipView(long Version, IReadOnlyList<SiloAddress>? ActiveSilos, TimeSpan? SinceDeparture = null);
