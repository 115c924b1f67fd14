using System.Globalization;
using System.Net;

namespace OrleansStream.Silo;

/// <summary>Settings of the host itself (not of the broker), from the <c>OrleansStream</c> section.</summary>
internal sealed record BrokerHostOptions(int HealthPort, string HealthAddress);

/// <summary>The embedded single-node defaults and the clustering choice.</summary>
internal static class BrokerHostDefaults
{
    public static readonly Dictionary<string, string?> Configuration = new()
    {
        ["Orleans:ClusterId"] = "orleansstream",
        ["Orleans:ServiceId"] = "orleansstream",
        ["Orleans:Endpoints:SiloPort"] = "11111",
        ["Orleans:Endpoints:GatewayPort"] = "30000",
        ["Orleans:Endpoints:AdvertisedIPAddress"] = "127.0.0.1",
        ["OrleansStream:DataDirectory"] = "data",
        ["OrleansStream:HealthPort"] = "8080",
        ["OrleansStream:HealthAddress"] = "0.0.0.0",
        // Kafka's listeners for the embedded single node: Kafka clients bootstrap from 127.0.0.1:9092.
        ["OrleansStream:Listeners"] = "PLAINTEXT://127.0.0.1:9092",
        // Probes hit the health endpoints every few seconds; their per-request logs would drown the broker's own.
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        // Kafka's broker session timeout is 9 s: declare a silent silo dead after ~6 s of missed probes instead of
        // Orleans' default ~30 s, so that leaders move quickly after a crash.
        ["Orleans:Membership:ProbeTimeout"] = "00:00:02",
        ["Orleans:Membership:NumMissedProbesLimit"] = "3",
        ["Orleans:Membership:NumVotesForDeathDeclaration"] = "1",
        ["Orleans:Membership:IAmAliveTablePublishTimeout"] = "00:00:10",
        ["Orleans:Membership:TableRefreshTimeout"] = "00:00:05",
    };

    public static BrokerHostOptions ReadBrokerHostOptions(IConfiguration configuration)
    {
        var section = configuration.GetSection("OrleansStream");
        var portText = section["HealthPort"];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 0 or > 65535)
            throw new ArgumentException($"OrleansStream:HealthPort must be a TCP port (0-65535), not '{portText}'.");
        var address = section["HealthAddress"] ?? "0.0.0.0";
        if (!IPAddress.TryParse(address, out _) && address is not ("localhost" or "*" or "+"))
            throw new ArgumentException($"OrleansStream:HealthAddress must be an IP address, not '{address}'.");
        return new BrokerHostOptions(port, address);
    }

    /// <summary>The health endpoints' address: an IP address, <c>localhost</c>, or <c>*</c> / <c>+</c> for every interface.</summary>
    public static void ListenHealth(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions kestrel, BrokerHostOptions options)
    {
        if (options.HealthAddress == "localhost") kestrel.ListenLocalhost(options.HealthPort);
        else if (options.HealthAddress is "*" or "+") kestrel.ListenAnyIP(options.HealthPort);
        else kestrel.Listen(IPAddress.Parse(options.HealthAddress), options.HealthPort);
    }

    /// <summary>
    /// Orleans' own <c>Orleans:Clustering:ProviderType</c> (Redis, Development, ...) wins; without one the silo uses
    /// Orleans' Development provider with <c>Orleans:Clustering:PrimarySiloEndPoint</c>, itself by default. Done in
    /// configuration, not on the silo builder, because Orleans reads any non-empty <c>Orleans:Clustering</c> section as
    /// a provider choice and would otherwise reject a lone PrimarySiloEndPoint.
    /// </summary>
    public static void ApplyClusteringDefaults(IConfiguration configuration)
    {
        var clustering = configuration.GetSection("Orleans:Clustering");
        if (!string.IsNullOrEmpty(clustering["ProviderType"])) return;
        var primaryText = clustering["PrimarySiloEndPoint"];
        if (string.IsNullOrEmpty(primaryText))
            primaryText = new IPEndPoint(AdvertisedAddress(configuration), SiloPort(configuration)).ToString();
        else if (!IPEndPoint.TryParse(primaryText, out _))
            throw new ArgumentException($"Orleans:Clustering:PrimarySiloEndPoint must be host:port, not '{primaryText}'.");
        clustering["ProviderType"] = "Development";
        clustering["PrimarySiloEndPoint"] = primaryText;
    }

    /// <summary>A stable id when none is configured: the host name and silo port, so a restart finds its replicas.</summary>
    public static string DefaultBrokerId(IConfiguration configuration) =>
        string.Create(CultureInfo.InvariantCulture, $"{Dns.GetHostName()}-{SiloPort(configuration)}");

    private static int SiloPort(IConfiguration configuration)
    {
        var text = configuration["Orleans:Endpoints:SiloPort"];
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
            ? port
            : throw new ArgumentException($"Orleans:Endpoints:SiloPort must be a TCP port, not '{text}'.");
    }

    private static IPAddress AdvertisedAddress(IConfiguration configuration)
    {
        var text = configuration["Orleans:Endpoints:AdvertisedIPAddress"];
        return IPAddress.TryParse(text, out var address)
            ? address
            : throw new ArgumentException($"Orleans:Endpoints:AdvertisedIPAddress must be an IP address, not '{text}'.");
    }
}
