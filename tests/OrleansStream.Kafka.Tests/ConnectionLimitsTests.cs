using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// Two brokers with small limits: broker 0 closes idle connections (connections.max.idle.ms) and takes one new
/// connection a second (max.connection.creation.rate), broker 1 allows two per address (max.connections.per.ip) and
/// three in all (max.connections).
/// </summary>
public sealed class ConnectionLimitsCluster : IAsyncLifetime
{
    public const int IdleMs = 1000;
    public const int PerIp = 2;
    public const int CreationRate = 1;
    public const int MaxConnections = 3;

    public SiloProcesses Silos { get; private set; } = null!;

    public async ValueTask InitializeAsync() =>
        Silos = await SiloProcesses.StartAsync(2, static (i, env) =>
        {
            if (i == 0)
            {
                env["OrleansStream__ConnectionsMaxIdleMs"] = IdleMs.ToString(System.Globalization.CultureInfo.InvariantCulture);
                env["OrleansStream__MaxConnectionCreationRate"] = CreationRate.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            else
            {
                env["OrleansStream__MaxConnectionsPerIp"] = PerIp.ToString(System.Globalization.CultureInfo.InvariantCulture);
                env["OrleansStream__MaxConnections"] = MaxConnections.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        });

    public async ValueTask DisposeAsync()
    {
        if (Silos is not null) await Silos.DisposeAsync();
    }
}

public sealed class ConnectionLimitsTests(ConnectionLimitsCluster cluster) : IClassFixture<ConnectionLimitsCluster>
{
    [Fact]
    public async Task A_connection_that_sends_nothing_for_connections_max_idle_ms_is_closed()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));

        var answered = await ApiVersionsAsync(wire);
        var afterIdle = await wire.ReadFrameAsync();

        Assert.True(answered);
        Assert.Null(afterIdle);
    }

    [Fact]
    public async Task A_connection_beyond_max_connections_per_ip_is_closed_and_a_freed_slot_is_served()
    {
        // An address of this test's own: a Kafka client of another test (librdkafka connects to every broker) may still
        // be counted against 127.0.0.1 while the broker sees its connection close.
        var port = cluster.Silos.KafkaPort(1);
        var from = System.Net.IPAddress.Parse("127.0.0.61");
        var first = await KafkaWire.ConnectAsync(port, from: from);
        await using var second = await KafkaWire.ConnectAsync(port, from: from);
        Assert.True(await ApiVersionsAsync(first));
        Assert.True(await ApiVersionsAsync(second));

        await using (var third = await KafkaWire.ConnectAsync(port, from: from))
            Assert.Null(await third.ReadFrameAsync());
        await first.DisposeAsync();

        await Eventually.WaitUntilAsync(async () =>
        {
            await using var again = await KafkaWire.ConnectAsync(port, from: from);
            return await ApiVersionsAsync(again);
        }, "a connection is served once one of the two is closed");
        Assert.True(await ApiVersionsAsync(second));
    }

    [Fact]
    public async Task Connections_over_max_connection_creation_rate_wait_and_are_then_served_none_closed()
    {
        var port = cluster.Silos.KafkaPort(0);
        using var admin = new Confluent.Kafka.AdminClientBuilder(new Confluent.Kafka.AdminClientConfig { BootstrapServers = $"127.0.0.1:{port}" }).Build();
        var nodeId = admin.GetMetadata(TimeSpan.FromSeconds(30)).Brokers.Single(b => b.Port == port).BrokerId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var broker = new Confluent.Kafka.Admin.ConfigResource { Type = Confluent.Kafka.Admin.ResourceType.Broker, Name = nodeId };
        var described = (await admin.DescribeConfigsAsync([broker])).Single().Entries["max.connection.creation.rate"];

        // Kafka's rate lets a first burst of ten one-second windows' worth in at once (ten at 1/s, the admin client's
        // two among them); the ones after it wait unread, one at a time (ConnectionQuotasTests measures the waits).
        var answered = await Task.WhenAll(Enumerable.Range(0, 10 * ConnectionLimitsCluster.CreationRate).Select(async _ =>
        {
            await using var wire = await KafkaWire.ConnectAsync(port);
            return await ApiVersionsAsync(wire);
        }));

        Assert.Equal(("1", Confluent.Kafka.Admin.ConfigSource.StaticBrokerConfig), (described.Value, described.Source));
        Assert.All(answered, Assert.True);
    }

    [Fact]
    public async Task A_connection_beyond_max_connections_waits_unread_and_is_served_once_another_closes()
    {
        // Three addresses, so that max.connections.per.ip (2) does not refuse any of them first.
        var port = cluster.Silos.KafkaPort(1);
        var first = await KafkaWire.ConnectAsync(port, from: System.Net.IPAddress.Parse("127.0.0.51"));
        await using var second = await KafkaWire.ConnectAsync(port, from: System.Net.IPAddress.Parse("127.0.0.52"));
        await using var third = await KafkaWire.ConnectAsync(port, from: System.Net.IPAddress.Parse("127.0.0.53"));
        Assert.True(await ApiVersionsAsync(first));
        Assert.True(await ApiVersionsAsync(second));
        Assert.True(await ApiVersionsAsync(third));

        // The fourth is accepted by the socket but not read: its request is answered once the first closes.
        await using var fourth = await KafkaWire.ConnectAsync(port, from: System.Net.IPAddress.Parse("127.0.0.54"));
        await fourth.SendAsync(ApiKey.ApiVersions, 3, w => new ApiVersionsRequest("wire", "1").Write(w, 3));
        await first.DisposeAsync();
        var answered = await fourth.ReadFrameAsync();

        Assert.NotNull(answered);
        Assert.True(await ApiVersionsAsync(second));
    }

    private static async Task<bool> ApiVersionsAsync(KafkaWire wire)
    {
        await wire.SendAsync(ApiKey.ApiVersions, 3, w => new ApiVersionsRequest("wire", "1").Write(w, 3));
        return await wire.ReadFrameAsync() is not null;
    }
}
