using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;
using OrleansStream.Client;
using OrleansStream.Client.Admin;
using OrleansStream.Security;

namespace OrleansStream.EndToEnd.Tests;

/// <summary>
/// Two broker processes configured as the deployment is (<c>OrleansStream:Tls</c> with a certificate, the authority
/// and <c>ClientAuth=Required</c>), certificates made at test time: the silos form a cluster over mutual TLS, and only
/// clients holding a certificate of that authority reach a gateway.
/// </summary>
public sealed class TlsCluster : IAsyncLifetime
{
    public TestCertificates Certificates { get; } = new();

    public SiloProcesses Silos { get; private set; } = null!;

    public string CliDll { get; } = Repository.BuiltDll("OrleansStream.Cli", "orleansstream");

    public IPEndPoint[] Gateways => [Silos.GatewayEndpoint(0), Silos.GatewayEndpoint(1)];

    /// <summary>The SDK configuration of a client holding the right certificate.</summary>
    public Config TrustedClient() => new()
    {
        SecurityProtocol = SecurityProtocol.Ssl,
        SslCaLocation = Certificates.CaPath,
        SslCertificateLocation = Certificates.ClientPath,
    };

    public async ValueTask InitializeAsync() =>
        Silos = await SiloProcesses.StartAsync(2, (_, env) =>
        {
            env["OrleansStream__Tls__CertificatePath"] = Certificates.ServerPath;
            env["OrleansStream__Tls__CaPath"] = Certificates.CaPath;
            env["OrleansStream__Tls__ClientAuth"] = "Required";
        }, client => client.UseSecurityProtocol(TrustedClient()));

    /// <summary>Runs the built CLI with exactly <paramref name="args"/>.</summary>
    public Task<ProcessResult> RunCliAsync(string? stdin, params string[] args) =>
        ExternalProcess.RunAsync("dotnet", [CliDll, .. args], environment: new Dictionary<string, string?>
        {
            ["ORLEANSSTREAM_GATEWAY"] = null,
            ["ORLEANSSTREAM_CONNECT_TIMEOUT_MS"] = "60000",
        }, stdin: stdin, timeout: TimeSpan.FromSeconds(90));

    public async ValueTask DisposeAsync()
    {
        if (Silos is not null) await Silos.DisposeAsync();
        Certificates.Dispose();
    }
}

[Trait("Category", "Slow")]
public sealed class TlsTests(TlsCluster tls) : IClassFixture<TlsCluster>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Silos_form_a_cluster_over_mutual_TLS_and_a_client_with_its_certificate_produces_and_consumes()
    {
        // Each silo port speaks TLS and takes a certificate of the authority: a plaintext Orleans silo could not answer.
        using var siloCertificate = TlsCertificates.LoadCertificate(tls.Certificates.ServerPath);
        foreach (var silo in new[] { 0, 1 })
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(tls.Silos.SiloEndpoint(silo), Ct);
            await using var ssl = new SslStream(tcp.GetStream());
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "127.0.0.1",
                ClientCertificates = [siloCertificate],
                RemoteCertificateValidationCallback = (_, presented, _, _) =>
                    presented is not null && presented.GetCertHashString() == tls.Certificates.ServerThumbprint,
            }, Ct);
            Assert.True(ssl.IsMutuallyAuthenticated);
        }

        var client = tls.Silos.Client;
        using var admin = new AdminClientBuilder(client).Build();
        var metadata = await admin.GetMetadataAsync();
        Assert.Equal(2, metadata.Brokers.Count);
        const string topic = "tls-sdk";
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 2, ReplicationFactor = 2 }]);

        await using (var producer = new ProducerBuilder<string?, string>(client, new ProducerConfig { Acks = Acks.All }).Build())
            for (var i = 0; i < 20; i++)
                await producer.ProduceAsync(topic, new Message<string?, string> { Key = $"k{i}", Value = $"v{i}" }, Ct);

        using var consumer = new ConsumerBuilder<string?, string>(client, new ConsumerConfig { FetchWaitMaxMs = 100 }).Build();
        consumer.Assign([new TopicPartitionOffset(new TopicPartition(topic, 0), Offset.Beginning), new TopicPartitionOffset(new TopicPartition(topic, 1), Offset.Beginning)]);
        var values = new HashSet<string>();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        while (values.Count < 20) values.Add(consumer.Consume(deadline.Token).Message!.Value);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"v{i}").ToHashSet(), values);
    }

    public static TheoryData<string> RefusedClients => ["no certificate", "certificate of another authority", "gateway not trusted"];

    [Theory]
    [MemberData(nameof(RefusedClients))]
    public async Task A_client_without_the_right_certificate_is_refused_at_once(string client)
    {
        var config = tls.TrustedClient();
        switch (client)
        {
            case "no certificate": config.SslCertificateLocation = null; break;
            case "certificate of another authority": config.SslCertificateLocation = tls.Certificates.WrongClientPath; break;
            default: config.SslCaLocation = tls.Certificates.OtherCaPath; break;
        }

        var e = await Assert.ThrowsAsync<KafkaException>(() => StartClientAsync(config, Ct));

        Assert.Contains("SSL handshake failed", e.Message, StringComparison.Ordinal);
        if (client == "gateway not trusted") Assert.Contains("not issued by a trusted authority", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_plaintext_client_never_joins()
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAnyAsync<Exception>(() => StartClientAsync(new Config(), deadline.Token));
    }

    [Fact]
    public async Task The_cli_with_tls_options_produces_and_consumes_and_without_a_certificate_is_refused()
    {
        const string topic = "tls-cli";
        string[] gateway = ["--gateway", tls.Silos.Gateway(0), "--gateway", tls.Silos.Gateway(1)];
        string[] pem = ["--tls", "--ca", tls.Certificates.CaPath, "--client-cert", tls.Certificates.ClientPath];
        string[] pfx = ["--ca", tls.Certificates.CaPath, "--client-cert", tls.Certificates.ClientPfxPath, "--client-key-password", TestCertificates.PfxPassword];

        var create = await tls.RunCliAsync(null, ["topics", "create", "--topic", topic, "--partitions", "1", "--replication-factor", "2", .. gateway, .. pem]);
        Assert.True(create.ExitCode == 0, create.ToString());
        var produce = await tls.RunCliAsync("one\ntwo\nthree\n", ["produce", "--topic", topic, "--acks", "all", .. gateway, .. pem]);
        Assert.True(produce.ExitCode == 0, produce.ToString());
        var consume = await tls.RunCliAsync(null, ["consume", "--topic", topic, "--from-beginning", "--max-messages", "3", .. gateway, .. pfx]);
        Assert.True(consume.ExitCode == 0, consume.ToString());
        Assert.Equal(["one", "two", "three"], consume.StdoutLines);

        var refused = await tls.RunCliAsync(null, ["topics", "list", .. gateway, "--tls", "--ca", tls.Certificates.CaPath]);
        Assert.Equal(3, refused.ExitCode);
        Assert.Contains("SSL handshake failed", refused.Stderr, StringComparison.Ordinal);
    }

    private async Task StartClientAsync(Config security, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client =>
        {
            client.UseBootstrapGateways(tls.Gateways);
            client.UseSecurityProtocol(security);
            client.Configure<ClusterOptions>(o => { o.ClusterId = "orleansstream"; o.ServiceId = "orleansstream"; });
        });
        using var host = builder.Build();
        await host.StartAsync(cancellationToken);
        await host.StopAsync(Ct);
    }
}
