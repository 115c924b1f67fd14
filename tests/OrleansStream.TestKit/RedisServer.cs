using System.Globalization;
using Garnet;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansStream.TestKit;

/// <summary>
/// A Redis-protocol server for Orleans' Redis clustering, hosted in the test process on 127.0.0.1 and a free port:
/// Microsoft Garnet from NuGet, so no redis-server needs installing. Nothing is persisted; disposing stops it.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly GarnetServer _server;

    private RedisServer(int port)
    {
        Port = port;
        var p = port.ToString(CultureInfo.InvariantCulture);
        // Small memory and index sizes: a membership table is a few keys, and several clusters may run at once.
        _server = new GarnetServer(["--bind", "127.0.0.1", "--port", p, "--memory", "64m", "--page", "1m", "--index", "1m", "--lua", "-q"],
            NullLoggerFactory.Instance);
    }

    public int Port { get; }

    /// <summary>A StackExchange.Redis connection string (what Orleans' Redis clustering takes).</summary>
    public string ConnectionString => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)},abortConnect=False";

    public static RedisServer Start()
    {
        var server = new RedisServer(ExternalProcess.FreeTcpPort());
        server._server.Start();
        return server;
    }

    public void Dispose() => _server.Dispose();
}
