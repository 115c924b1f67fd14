using System.Net;
using OrleansStream.Client;

namespace OrleansStream.Failover.Tests;

/// <summary>
/// Kafka's cluster id with real processes: silos that do not share grain storage (each its own
/// <c>OrleansStream:GrainStateDirectory</c>) lose the controller's state when its silo dies. The controller that
/// re-activates on an empty store must see from the brokers' <c>meta.properties</c> that the cluster exists, and
/// create, elect and delete nothing.
/// </summary>
/// <remarks>
/// Each silo's grain state directory is a link to one shared directory until the cluster is set up, and to a directory
/// of its own from then on. With unshared storage from the first start, the controller may already activate a second
/// time while the silos join (Orleans' grain directory hands its ranges over as members arrive), on a silo whose store
/// is empty: that silo rightly refuses and is never ready, and the test would not get to the kill.
/// </remarks>
[Trait("Category", "Slow")]
public sealed class ClusterIdentityProcessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Controller_reactivated_on_an_empty_store_does_not_recreate_the_topic()
    {
        await using var cluster = await SiloProcesses.StartAsync(3, static (i, env) =>
        {
            var shared = Directory.CreateDirectory(env["OrleansStream__GrainStateDirectory"]!).FullName;
            var own = OwnGrainStateDirectory(env["OrleansStream__DataDirectory"]!);
            if (!Directory.Exists(own)) Directory.CreateSymbolicLink(own, shared);
            env["OrleansStream__GrainStateDirectory"] = own;
        });
        var client = cluster.Client;
        var controller = client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
        var topic = PartitionTestKit.UniqueTopic("rep");
        Assert.Equal(ErrorCode.None, Assert.Single(await controller.CreateTopics([new NewTopic(topic, 3, 3)])).Error);

        // Every broker recorded the same cluster id (and its own node id) in Kafka's meta.properties.
        string[] metas = [];
        await Eventually.WaitUntilAsync(() =>
        {
            metas = [.. Enumerable.Range(0, 3).Select(i => Path.Combine(cluster.DataDirectory(i), "meta.properties"))
                .Select(f => File.Exists(f) ? File.ReadAllText(f) : "")];
            return Task.FromResult(metas.All(m => m.Contains("cluster.id=", StringComparison.Ordinal)));
        }, "every broker records the cluster id", TimeSpan.FromSeconds(30));
        var clusterIds = metas.Select(m => Line(m, "cluster.id")).Distinct().ToList();
        Assert.Single(clusterIds);
        Assert.Equal(3, metas.Select(m => Line(m, "node.id")).Distinct().Count());

        using var stop = new CancellationTokenSource();
        var errors = new List<string>();
        var producing = Task.Run(() => ProduceUntilStopped(client, topic, errors, stop.Token), TestContext.Current.CancellationToken);
        await Eventually.WaitUntilAsync(() => Task.FromResult(Volatile.Read(ref _acked) >= 50), "the producer writes", TimeSpan.FromSeconds(30));

        var host = await client.GetGrain<IManagementGrain>(0).GetActivationAddress(controller, TestContext.Current.CancellationToken);
        Assert.NotNull(host);
        var killed = cluster.IndexOfSiloPort(host.Endpoint.Port);
        for (var i = 0; i < 3; i++)
            if (i != killed) Unshare(OwnGrainStateDirectory(cluster.DataDirectory(i)));
        cluster.Kill(killed);
        output.WriteLine($"killed silo {killed}, which hosted the controller");

        // The controller re-activates on a survivor's empty store: it refuses, saying why, instead of creating the topic anew.
        TopicMetadata? seen = null;
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                var metadata = await controller.GetMetadata(new MetadataRequest([topic], AllowAutoTopicCreation: true)).WaitAsync(TimeSpan.FromSeconds(5));
                seen = Assert.Single(metadata.Topics);
                // Calls fail until membership declares the killed silo dead; the topic as created came from the old activation.
                return seen.Error != ErrorCode.None || seen.Partitions.Count != 3;
            }
            catch (Exception e) when (e is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException or InvalidOperationException)
            {
                return false;
            }
        }, "the controller answers again after the kill", TimeSpan.FromSeconds(90));
        await stop.CancelAsync();
        await producing;

        Assert.Equal(ErrorCode.InconsistentClusterId, seen!.Error);
        Assert.Contains("grain storage is not shared", seen.ErrorMessage, StringComparison.Ordinal);
        var create = Assert.Single(await controller.CreateTopics([new NewTopic(PartitionTestKit.UniqueTopic("other"), 1, 1)]));
        Assert.Equal(ErrorCode.InconsistentClusterId, create.Error);
        Assert.Equal(ErrorCode.InconsistentClusterId, Assert.Single(await controller.DeleteTopics([topic])).Error);

        // The silo now hosting the controller is not ready, and says why.
        var newHost = await client.GetGrain<IManagementGrain>(0).GetActivationAddress(controller, TestContext.Current.CancellationToken);
        Assert.NotNull(newHost);
        using var http = new HttpClient();
        var ready = await http.GetAsync(cluster.HealthUri(cluster.IndexOfSiloPort(newHost.Endpoint.Port), "ready"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("grain storage is not shared", await ready.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);

        // Nothing was deleted, and no producer was told the topic has fewer partitions.
        for (var i = 0; i < 3; i++)
            if (i != killed)
                for (var p = 0; p < 3; p++) Assert.True(Directory.Exists(Path.Combine(cluster.DataDirectory(i), $"{topic}-{p}")));
        lock (errors) Assert.DoesNotContain(errors, e => e.Contains(nameof(ErrorCode.UnknownTopicOrPartition), StringComparison.Ordinal));
    }

    private int _acked;

    private async Task ProduceUntilStopped(IClusterClient client, string topic, List<string> errors, CancellationToken stop)
    {
        await using var producer = new ProducerBuilder<Null, string>(client,
            new ProducerConfig { Acks = Acks.All, LingerMs = 0, MessageTimeoutMs = 10_000 }).Build();
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            try
            {
                await producer.ProduceAsync(topic, new Message<Null, string> { Value = $"v{i}" }, stop);
                Interlocked.Increment(ref _acked);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                lock (errors) errors.Add(e is ProduceException<Null, string> p ? p.Error.ToString() : e.Message);
            }
        }
    }

    private static string OwnGrainStateDirectory(string dataDirectory) => dataDirectory + "-grain-state";

    /// <summary>Points the link at an empty directory of its own: the silo's grain storage is no longer shared.</summary>
    private static void Unshare(string link)
    {
        var own = Directory.CreateDirectory(link + "-own").FullName;
        Directory.Delete(link);
        Directory.CreateSymbolicLink(link, own);
    }

    private static string Line(string properties, string key) =>
        properties.Split('\n').Single(l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];
}
