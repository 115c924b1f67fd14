using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using OrleansStream.Client;

namespace OrleansStream.Cli.Connection;

/// <summary>Where and how to reach the cluster: gateway endpoints, the Orleans cluster identity, and TLS (<see cref="Config.SecurityProtocol"/> and the <c>ssl.*</c> keys).</summary>
internal sealed record ConnectionSettings(IReadOnlyList<IPEndPoint> Gateways, string ClusterId, string ServiceId, Config Security)
{
    public const string DefaultGateway = "127.0.0.1:30000";
    public const string GatewayVariable = "ORLEANSSTREAM_GATEWAY";
    public const string ClusterIdVariable = "ORLEANSSTREAM_CLUSTER_ID";
    public const string ServiceIdVariable = "ORLEANSSTREAM_SERVICE_ID";
    /// <summary>The silo's embedded default (Orleans:ClusterId and Orleans:ServiceId in OrleansStream.Silo).</summary>
    public const string DefaultClusterId = "orleansstream";

    /// <summary>
    /// Gateways from the command line, else from <see cref="GatewayVariable"/> (comma or space separated),
    /// else <see cref="DefaultGateway"/>. Host names are resolved here so that a typo fails before connecting.
    /// </summary>
    public static ConnectionSettings Resolve(IReadOnlyList<string>? gateways, string? clusterId, string? serviceId, Config? security = null)
    {
        IReadOnlyList<string> texts = gateways is { Count: > 0 }
            ? gateways
            : Environment.GetEnvironmentVariable(GatewayVariable) is { Length: > 0 } env
                ? env.Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                : [DefaultGateway];
        var endpoints = new List<IPEndPoint>(texts.Count);
        foreach (var text in texts)
            endpoints.Add(ParseEndpoint(text));
        return new ConnectionSettings(
            endpoints,
            clusterId ?? Environment.GetEnvironmentVariable(ClusterIdVariable) ?? DefaultClusterId,
            serviceId ?? Environment.GetEnvironmentVariable(ServiceIdVariable) ?? DefaultClusterId,
            security ?? new Config());
    }

    public static IPEndPoint ParseEndpoint(string text)
    {
        if (IPEndPoint.TryParse(text, out var endpoint) && endpoint.Port != 0 && text.Contains(':'))
            return endpoint;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), out int port) || port is <= 0 or > 65535)
            throw new CliException($"gateway '{text}' is not host:port", ExitCodes.Usage);
        string host = text[..colon];
        try
        {
            foreach (var address in Dns.GetHostAddresses(host))
                if (address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
                    return new IPEndPoint(address, port);
        }
        catch (SocketException e)
        {
            throw new CliException($"gateway host '{host}' does not resolve: {e.Message}", ExitCodes.Unavailable);
        }
        throw new CliException($"gateway host '{host}' has no address", ExitCodes.Unavailable);
    }

    public override string ToString() => string.Join(",", Gateways);
}

/// <summary>An Orleans external client connected to the cluster's gateways, for the life of one command.</summary>
internal sealed class ClusterConnection : IAsyncDisposable
{
    private readonly IHost _host;

    private ClusterConnection(IHost host)
    {
        _host = host;
        Client = host.Services.GetRequiredService<IClusterClient>();
    }

    public IClusterClient Client { get; }

    public const string ConnectTimeoutVariable = "ORLEANSSTREAM_CONNECT_TIMEOUT_MS";

    /// <summary>
    /// The Orleans client's log level (Trace ... Critical), written to stderr; unset, the client logs nothing. Entries
    /// <c>category=level</c>, comma separated, set one category and those below it
    /// (<c>Warning,OrleansStream.Client=Debug,Orleans.Messaging=Debug</c> traces the SDK's call layer and the gateways).
    /// </summary>
    public const string LogLevelVariable = "ORLEANSSTREAM_LOG_LEVEL";

    /// <summary>
    /// How long to wait for a gateway to accept and the client to join (Orleans alone would retry for minutes):
    /// 15 s, or <see cref="ConnectTimeoutVariable"/> milliseconds for a busy machine or a far cluster.
    /// </summary>
    public static TimeSpan ConnectTimeout { get; } =
        int.TryParse(Environment.GetEnvironmentVariable(ConnectTimeoutVariable), out var ms) && ms > 0
            ? TimeSpan.FromMilliseconds(ms)
            : TimeSpan.FromSeconds(15);

    /// <summary>
    /// Starts the client within <see cref="ConnectTimeout"/>; the SDK's <see cref="BootstrapStart"/> starts it again
    /// when a gateway that accepted dies during the start.
    /// </summary>
    public static async Task<ClusterConnection> ConnectAsync(ConnectionSettings settings, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            return new ClusterConnection(await BootstrapStart.StartAsync(() => Build(settings), timeout.Token));
        }
        catch (Exception e) when (e is not CliException && !cancellationToken.IsCancellationRequested)
        {
            string reason = e is OperationCanceledException ? $"no answer within {ConnectTimeout.TotalSeconds:F0} s" : e.GetBaseException().Message;
            throw new CliException($"cannot reach the cluster at {settings}: {reason}", ExitCodes.Unavailable, e);
        }
    }

    private static IHost Build(ConnectionSettings settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            EnvironmentName = Environments.Production,
        });
        // The CLI reports failures itself, one line each; Orleans' own logs would bury them, unless asked for on stderr.
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable(LogLevelVariable) is { Length: > 0 } levels)
        {
            builder.Logging.SetMinimumLevel(LogLevel.None);
            foreach (var entry in levels.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var equals = entry.IndexOf('=', StringComparison.Ordinal);
                if (!Enum.TryParse<LogLevel>(equals < 0 ? entry : entry[(equals + 1)..], ignoreCase: true, out var level))
                    throw new CliException($"{LogLevelVariable}: '{entry}' is not a level (Trace ... Critical) or category=level", ExitCodes.Usage);
                if (equals < 0) builder.Logging.SetMinimumLevel(level);
                else builder.Logging.AddFilter(entry[..equals], level);
            }
            builder.Logging.AddSimpleConsole(o => o.TimestampFormat = "HH:mm:ss.fff ");
            builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        }
        builder.UseOrleansClient(client =>
        {
            // Starts with the listed gateways that answer now, failing at once, each gateway's error named, when none does.
            client.UseBootstrapGateways(settings.Gateways);
            client.UseSecurityProtocol(settings.Security);
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = settings.ServiceId;
            });
        });
        return builder.Build();
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _host.StopAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
            // Leaving without a goodbye is fine for a client; the gateway drops the connection.
        }
        _host.Dispose();
    }
}
