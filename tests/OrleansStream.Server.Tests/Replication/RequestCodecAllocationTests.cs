using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.Session;
using OrleansStream.Server.Replication;

namespace OrleansStream.Server.Tests.Replication;

/// <summary>The enums that every produce and fetch call carries cross Orleans' serializer without a box per call.</summary>
public sealed class RequestCodecAllocationTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection()
        .AddSerializer(b => b.AddAssembly(typeof(ProduceRequest).Assembly).AddAssembly(typeof(ReplicaFetchResponse).Assembly))
        .BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    [Fact]
    public void Acks_isolation_level_and_error_code_round_trip_without_allocating()
    {
        var allocated = (AllocatedPerRoundTrip(Acks.All), AllocatedPerRoundTrip(IsolationLevel.ReadCommitted), AllocatedPerRoundTrip(ErrorCode.NotLeaderOrFollower));

        Assert.Equal((0L, 0L, 0L), allocated);
    }

    /// <summary>Bytes this thread allocates per write and read of <paramref name="value"/>, which must come back equal.</summary>
    private long AllocatedPerRoundTrip<T>(T value) where T : struct, Enum
    {
        var serializer = _services.GetRequiredService<Serializer<T>>();
        var sessions = _services.GetRequiredService<SerializerSessionPool>();
        var wire = new byte[64];
        RoundTrips(serializer, sessions, value, wire, 20);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var same = RoundTrips(serializer, sessions, value, wire, 200);
        var perRoundTrip = (GC.GetAllocatedBytesForCurrentThread() - before) / 200;
        Assert.Equal(200, same);
        return perRoundTrip;
    }

    private static int RoundTrips<T>(Serializer<T> serializer, SerializerSessionPool sessions, T value, byte[] wire, int count) where T : struct, Enum
    {
        var same = 0;
        for (var i = 0; i < count; i++)
        {
            int written;
            using (var session = sessions.GetSession())
                written = serializer.Serialize(value, wire, session);
            using (var session = sessions.GetSession())
                if (EqualityComparer<T>.Default.Equals(serializer.Deserialize(wire.AsSpan(0, written), session), value)) same++;
        }
        return same;
    }
}
