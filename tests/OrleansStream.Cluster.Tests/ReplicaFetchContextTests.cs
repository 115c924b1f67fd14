using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Server.Replication;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// A follower's fetch loop is started by the controller's LeaderAndIsr, whose request context names the replica's
/// broker for placement. The loop's fetches must not carry that context: every fetch would ship and deserialize it
/// (a dictionary and four strings per fetch, on every acks=all produce), and the hint would reach whatever the leader
/// calls while serving the fetch.
/// </summary>
public sealed class ReplicaFetchContextTests(ReplicaFetchContextTests.Fixture fixture) : IClassFixture<ReplicaFetchContextTests.Fixture>
{
    public sealed class Fixture : ClusterFixture
    {
        public FetchContexts Seen { get; } = new();

        protected override void ConfigureSilo(ISiloBuilder silo) =>
            silo.Services.AddSingleton<IIncomingGrainCallFilter>(new FetchContexts.Filter(Seen));
    }

    /// <summary>The request context keys of every ReplicaFetch a leader served, by the fetching replica's partition.</summary>
    public sealed class FetchContexts
    {
        private readonly ConcurrentDictionary<string, int> _fetches = new(StringComparer.Ordinal);
        private readonly ConcurrentQueue<string> _withContext = new();

        public int FetchesOf(string topic) => _fetches.GetValueOrDefault(topic);

        public IReadOnlyCollection<string> WithContext => _withContext;

        internal sealed class Filter(FetchContexts seen) : IIncomingGrainCallFilter
        {
            public Task Invoke(IIncomingGrainCallContext context)
            {
                if (context.InterfaceMethod?.Name == nameof(IReplicaFetchGrain.ReplicaFetch))
                {
                    var key = context.TargetId.Key.ToString()!;
                    seen._fetches.AddOrUpdate(GrainKeys.ParseReplica(key).Topic, 1, static (_, n) => n + 1);
                    var keys = string.Join(", ", RequestContext.Keys);
                    if (keys.Length > 0) seen._withContext.Enqueue($"{key}: {keys}");
                }
                return context.Invoke();
            }
        }
    }

    [Fact]
    public async Task A_followers_fetches_carry_no_request_context_of_the_call_that_started_them()
    {
        var topic = UniqueTopic("fetch-context");
        await fixture.CreateTopic(topic, replicationFactor: 3);
        var leader = await fixture.Leader(topic, 0);
        for (var i = 0; i < 5; i++)
            Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch($"v{i}")))).Error);

        // Each acks=all produce was acknowledged after both followers fetched past it.
        Assert.True(fixture.Seen.FetchesOf(topic) >= 10, $"{fixture.Seen.FetchesOf(topic)} fetches seen");
        Assert.Empty(fixture.Seen.WithContext);
    }
}
