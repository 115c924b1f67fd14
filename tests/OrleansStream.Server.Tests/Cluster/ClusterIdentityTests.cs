using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;

namespace OrleansStream.Server.Tests.Cluster;

public sealed class ClusterIdentityTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "os-meta-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void An_empty_state_is_a_new_cluster_only_when_every_live_broker_answered_with_no_data()
    {
        BrokerDescription Fresh(string id) => new(id, null, null, 0);

        Assert.Equal(ClusterIdentity.Verdict.NewCluster, ClusterIdentity.JudgeEmptyState([Fresh("b0"), Fresh("b1")], out _));
        Assert.Equal(ClusterIdentity.Verdict.NewCluster, ClusterIdentity.JudgeEmptyState([], out _));
        Assert.Equal(ClusterIdentity.Verdict.Undecided, ClusterIdentity.JudgeEmptyState([Fresh("b0"), null], out _));
    }

    [Fact]
    public void An_empty_state_facing_a_broker_with_a_cluster_id_or_partitions_is_lost_state()
    {
        Assert.Equal(ClusterIdentity.Verdict.StateLost,
            ClusterIdentity.JudgeEmptyState([new("b0", null, null, 0), new("b1", "abc", 1, 3), null], out var evidence));
        Assert.Contains("b1", evidence, StringComparison.Ordinal);
        Assert.Contains("abc", evidence, StringComparison.Ordinal);
        Assert.Contains("grain storage is not shared", ClusterIdentity.StateLostMessage(evidence), StringComparison.Ordinal);

        // Partitions from before cluster ids existed count as a cluster's data too.
        Assert.Equal(ClusterIdentity.Verdict.StateLost, ClusterIdentity.JudgeEmptyState([new("b0", null, null, 2)], out _));
    }

    [Fact]
    public void A_broker_of_another_cluster_is_refused_and_the_reply_names_this_cluster()
    {
        var state = new ControllerState { ClusterId = "ours" };

        var reply = ClusterIdentity.Register(state, "b0", "theirs", 4, out var changed);

        Assert.Equal(ErrorCode.InconsistentClusterId, reply.Error);
        Assert.Equal("ours", reply.ClusterId);
        Assert.Contains("theirs", reply.ErrorMessage, StringComparison.Ordinal);
        Assert.False(changed);
        Assert.Empty(state.NodeIds);
    }

    [Fact]
    public void Node_ids_are_stable_unique_and_keep_what_the_broker_recorded_when_free()
    {
        var state = new ControllerState { ClusterId = "ours" };

        var b0 = ClusterIdentity.Register(state, "b0", null, null, out var changed0);
        var b1 = ClusterIdentity.Register(state, "b1", "ours", 7, out _);
        var b2 = ClusterIdentity.Register(state, "b2", null, 7, out _);
        var again = ClusterIdentity.Register(state, "b0", "ours", 5, out var changedAgain);

        Assert.True(changed0);
        Assert.Equal((ErrorCode.None, "ours", 0), (b0.Error, b0.ClusterId, b0.NodeId));
        Assert.Equal(7, b1.NodeId);
        Assert.Equal(8, b2.NodeId);
        Assert.Equal(0, again.NodeId);
        Assert.False(changedAgain);
    }

    [Fact]
    public void Meta_properties_round_trip_in_kafkas_format()
    {
        var id = MetaProperties.NewClusterId();
        Assert.Equal(22, id.Length);

        new MetaProperties(id, 3).Write(_dir, "mp0");

        var text = File.ReadAllText(Path.Combine(_dir, MetaProperties.FileName));
        Assert.Contains("version=1\n", text, StringComparison.Ordinal);
        Assert.Contains($"cluster.id={id}\n", text, StringComparison.Ordinal);
        Assert.Contains("node.id=3\n", text, StringComparison.Ordinal);
        Assert.Equal(new MetaProperties(id, 3), MetaProperties.Read(_dir));
        Assert.Equal(MetaProperties.Empty, MetaProperties.Read(Path.Combine(_dir, "missing")));
        // A file Kafka itself wrote (ZooKeeper era: version 0, broker.id) reads too.
        Assert.Equal(new MetaProperties("x", null), MetaProperties.Parse("#\nversion=0\nbroker.id=1\ncluster.id=x\n", "f"));
        Assert.Throws<InvalidDataException>(() => MetaProperties.Parse("version=2\n", "f"));
    }

    [Fact]
    public async Task A_registered_broker_records_the_cluster_id_once_and_a_refused_one_opens_no_partition()
    {
        var registration = Registration();
        registration.ThrowIfNotServing();

        registration.Accept("c1", 2);
        registration.ThrowIfNotServing();

        Assert.Equal(new MetaProperties("c1", 2), MetaProperties.Read(_dir));
        Assert.Null(registration.Problem);
        Assert.Throws<InvalidOperationException>(() => registration.Accept("c2", 2));
        // After a restart the recorded cluster id serves nothing until the controller confirms it.
        var restarted = Registration();
        Assert.Equal(new MetaProperties("c1", 2), restarted.Meta);
        Assert.Contains(nameof(ErrorCode.BrokerNotAvailable), Assert.Throws<SiloUnavailableException>(restarted.ThrowIfNotServing).Message, StringComparison.Ordinal);
        Assert.Contains("has not registered", restarted.Problem, StringComparison.Ordinal);
        var waiting = restarted.WhenServingAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);
        Assert.False(waiting.IsCompleted);
        restarted.Accept("c1", 2);
        await waiting;

        registration.Refuse("another cluster");
        Assert.Equal("another cluster", registration.Problem);
        var refused = Assert.Throws<SiloUnavailableException>(registration.ThrowIfNotServing);
        Assert.Contains(nameof(ErrorCode.InconsistentClusterId), refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reported_cluster_problem_asks_for_a_registration_and_the_next_accepted_one_clears_it()
    {
        var registration = Registration();
        registration.Accept("c1", 0);
        var needed = registration.WhenRegistrationNeededAsync(TestContext.Current.CancellationToken);
        Assert.False(needed.IsCompleted);

        registration.ReportClusterProblem("the controller lost its state");

        await needed;
        Assert.Equal("the controller lost its state", registration.Problem);
        Assert.True(registration.WhenRegistrationNeededAsync(TestContext.Current.CancellationToken).IsCompleted);
        registration.Accept("c1", 0);
        Assert.Null(registration.Problem);
        Assert.False(registration.WhenRegistrationNeededAsync(TestContext.Current.CancellationToken).IsCompleted);
    }

    private BrokerRegistration Registration() => new(
        Options.Create(new BrokerOptions { DataDirectory = _dir }),
        new BrokerIdentity(Options.Create(new BrokerOptions { BrokerId = "mp0" }), Options.Create(new SiloOptions())),
        NullLogger<BrokerRegistration>.Instance);
}
