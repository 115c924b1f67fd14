using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// Two brokers with Kafka's ACL authorizer on (<c>OrleansStream:Authorizer:Enabled</c>), each with a PLAINTEXT listener
/// (whose clients are <c>User:ANONYMOUS</c>) and a SASL_PLAINTEXT one (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512). Users: <c>admin</c>, a super user, and
/// <c>alice</c>, <c>bob</c>, <c>carol</c>, who may do nothing until a test grants it (no
/// <c>allow.everyone.if.no.acl.found</c>). Tests share the brokers and their ACLs, so each names its own topics, groups and
/// transactional ids (<see cref="Unique"/>).
/// </summary>
public sealed class AuthorizedKafkaCluster : IAsyncLifetime
{
    public const string AdminPassword = "admin-secret";

    private readonly int[] _saslPorts = [ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort()];

    public SiloProcesses Silos { get; private set; } = null!;

    public int SaslPort(int silo) => _saslPorts[silo];

    /// <summary>Both brokers' PLAINTEXT listeners: a client there is <c>User:ANONYMOUS</c>.</summary>
    public string PlaintextBootstrap => Silos.BootstrapServers;

    public static string PasswordOf(string user) => user + "-secret";

    public async ValueTask InitializeAsync() =>
        Silos = await SiloProcesses.StartAsync(2, (i, env) =>
        {
            env["OrleansStream__Listeners"] += string.Create(CultureInfo.InvariantCulture, $",SASL_PLAINTEXT://127.0.0.1:{SaslPort(i)}");
            env["OrleansStream__ListenerSecurityProtocolMap"] = "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT";
            env["OrleansStream__Sasl__EnabledMechanisms"] = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512";
            foreach (var user in new[] { "admin", "alice", "bob", "carol" }) env[$"OrleansStream__Sasl__Users__{user}__Password"] = PasswordOf(user);
            env["OrleansStream__Authorizer__Enabled"] = "true";
            env["OrleansStream__Authorizer__SuperUsers"] = "User:admin";
            // A telemetry receiver, so that the telemetry APIs are advertised and their authorization is tested (they
            // need none, as Kafka's); no subscription matches any client, so nothing is ever posted to it.
            env["OrleansStream__ClientMetrics__OtlpEndpoint"] = "http://127.0.0.1:9";
            env["OrleansStream__Groups__GroupInitialRebalanceDelayMs"] = "0";
            env["OrleansStream__Groups__ConsumerMinHeartbeatIntervalMs"] = "500";
            env["OrleansStream__Groups__ConsumerHeartbeatIntervalMs"] = "500";
        });

    public async ValueTask DisposeAsync()
    {
        if (Silos is not null) await Silos.DisposeAsync();
    }

    /// <summary>A name no other test uses.</summary>
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    /// <summary>A client of <paramref name="user"/> over SASL_PLAINTEXT (PLAIN), bootstrapped from both brokers.</summary>
    public ClientConfig Client(string user) => new()
    {
        BootstrapServers = $"127.0.0.1:{SaslPort(0)},127.0.0.1:{SaslPort(1)}",
        SecurityProtocol = SecurityProtocol.SaslPlaintext,
        SaslMechanism = SaslMechanism.Plain,
        SaslUsername = user,
        SaslPassword = PasswordOf(user),
    };

    public IAdminClient Admin() => new AdminClientBuilder(Client("admin")).Build();

    /// <summary>Allows <paramref name="operations"/> on the resource to <c>User:</c><paramref name="user"/> from any host.</summary>
    public Task AllowAsync(string user, ResourceType type, string name, params AclOperation[] operations) =>
        CreateAsync(AclPermissionType.Allow, user, type, name, ResourcePatternType.Literal, operations);

    /// <summary>Allows <paramref name="operations"/> on every resource whose name starts with <paramref name="prefix"/>.</summary>
    public Task AllowPrefixedAsync(string user, ResourceType type, string prefix, params AclOperation[] operations) =>
        CreateAsync(AclPermissionType.Allow, user, type, prefix, ResourcePatternType.Prefixed, operations);

    public Task DenyAsync(string user, ResourceType type, string name, params AclOperation[] operations) =>
        CreateAsync(AclPermissionType.Deny, user, type, name, ResourcePatternType.Literal, operations);

    /// <summary>Creates the bindings as the super user, then waits until both brokers hold them (<see cref="SyncAsync"/>).</summary>
    public async Task CreateAsync(AclPermissionType permission, string user, ResourceType type, string name, ResourcePatternType pattern, params AclOperation[] operations)
    {
        using var admin = Admin();
        var bindings = new List<AclBinding>();
        foreach (var operation in operations)
            bindings.Add(new AclBinding
            {
                Pattern = new ResourcePattern { Type = type, Name = name, ResourcePatternType = pattern },
                Entry = new AccessControlEntry { Principal = "User:" + user, Host = "*", Operation = operation, PermissionType = permission },
            });
        await admin.CreateAclsAsync(bindings);
        await SyncAsync();
    }

    /// <summary>Deletes what <paramref name="filter"/> matches as the super user, then waits until both brokers follow.</summary>
    public async Task DeleteAsync(AclBindingFilter filter)
    {
        using var admin = Admin();
        await admin.DeleteAclsAsync([filter]);
        await SyncAsync();
    }

    /// <summary>A bare connection to a broker's SASL listener, authenticated as <paramref name="user"/> (PLAIN).</summary>
    internal async Task<KafkaWire> ConnectAsync(string user, int silo = 0)
    {
        var (wire, error) = await AuthenticateAsync(user, PasswordOf(user), silo);
        Assert.Equal(ErrorCode.None, error);
        return wire;
    }

    /// <summary>
    /// A bare connection to a broker's SASL listener and the answer to <paramref name="user"/>'s PLAIN authentication
    /// with <paramref name="password"/> (after a failure the broker closes the connection).
    /// </summary>
    internal async Task<(KafkaWire Wire, ErrorCode Error)> AuthenticateAsync(string user, string password, int silo = 0)
    {
        var wire = await KafkaWire.ConnectAsync(SaslPort(silo));
        await wire.SendAsync(ApiKey.SaslHandshake, 1, w => new SaslHandshakeRequest("PLAIN").Write(w, 1));
        Assert.NotNull(await wire.ReadFrameAsync());
        await wire.SendAsync(ApiKey.SaslAuthenticate, 1, w =>
            new SaslAuthenticateRequest(Encoding.UTF8.GetBytes($"\0{user}\0{password}")).Write(w, 1));
        var authenticated = await wire.ReadFrameAsync();
        Assert.NotNull(authenticated);
        return (wire, (ErrorCode)((authenticated[4] << 8) | authenticated[5]));
    }

    /// <summary>
    /// Brings each broker's ACLs up to the controller's, as Kafka's own tests wait for each broker's authorizer: a
    /// DescribeAcls to a broker makes it catch up before it answers. Sent on a bare connection of the super user to
    /// each broker's SASL listener, since a Kafka client picks which broker it asks.
    /// </summary>
    public async Task SyncAsync()
    {
        for (var silo = 0; silo < _saslPorts.Length; silo++)
        {
            await using var wire = await ConnectAsync("admin", silo);
            await wire.SendAsync(ApiKey.DescribeAcls, 1, w =>
                new DescribeAclsRequest(new AclSpec(1, null, 1, null, null, 1, 1)).Write(w, 1));
            var described = await wire.ReadFrameAsync();
            Assert.NotNull(described);
            // correlation id (4), throttle (4), then the error code.
            Assert.Equal(0, (described[8] << 8) | described[9]);
        }
    }
}
