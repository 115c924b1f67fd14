using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace OrleansStream.Server.Cluster;

/// <summary>
/// Kafka's <c>meta.properties</c> in a broker's data directory (version 1, as KRaft writes it): the cluster the data
/// belongs to and the broker's int32 node id. A broker whose directory names another cluster must not serve that
/// cluster's partitions, and a controller that lost its state sees from these files that the cluster is not new.
/// </summary>
public sealed record MetaProperties(string? ClusterId, int? NodeId)
{
    public const string FileName = "meta.properties";
    public const int Version = 1;

    private const string VersionKey = "version";
    private const string ClusterIdKey = "cluster.id";
    private const string NodeIdKey = "node.id";
    // Ours beside Kafka's keys: the broker's name (the silo name), which is what replicas are assigned to.
    private const string BrokerIdKey = "orleansstream.broker.id";

    public static readonly MetaProperties Empty = new(null, null);

    /// <summary>A new cluster id, printed as Kafka prints a Uuid (URL-safe base64 of 16 bytes, no padding).</summary>
    public static string NewClusterId()
    {
        Span<byte> bytes = stackalloc byte[16];
        Guid.NewGuid().TryWriteBytes(bytes, bigEndian: true, out _);
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>The file in <paramref name="dataDirectory"/>; <see cref="Empty"/> when there is none.</summary>
    public static MetaProperties Read(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path)) return Empty;
        return Parse(File.ReadAllText(path), path);
    }

    public static MetaProperties Parse(string text, string source)
    {
        string? clusterId = null;
        int? nodeId = null;
        int? version = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or '!') continue;
            var eq = line.IndexOf('=');
            if (eq <= 0) continue;
            var key = line[..eq].Trim();
            var value = line[(eq + 1)..].Trim();
            switch (key)
            {
                case VersionKey: version = ParseInt(key, value, source); break;
                case ClusterIdKey: clusterId = value.Length == 0 ? null : value; break;
                case NodeIdKey: nodeId = ParseInt(key, value, source); break;
            }
        }
        if (version is { } v && v is not (0 or 1)) throw new InvalidDataException($"{source}: unsupported version {v}.");
        return new MetaProperties(clusterId, nodeId);
    }

    private static int ParseInt(string key, string value, string source) =>
        int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
            ? n : throw new InvalidDataException($"{source}: {key}={value} is not an integer.");

    public string Format(string brokerId)
    {
        var text = new StringBuilder();
        text.Append("#\n#Written by OrleansStream; Kafka's format\n");
        text.Append(CultureInfo.InvariantCulture, $"{VersionKey}={Version}\n");
        if (ClusterId is not null) text.Append(CultureInfo.InvariantCulture, $"{ClusterIdKey}={ClusterId}\n");
        if (NodeId is { } id) text.Append(CultureInfo.InvariantCulture, $"{NodeIdKey}={id}\n");
        text.Append(CultureInfo.InvariantCulture, $"{BrokerIdKey}={brokerId}\n");
        return text.ToString();
    }

    /// <summary>Writes the file atomically (a temporary file renamed over it).</summary>
    public void Write(string dataDirectory, string brokerId)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, FileName);
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            file.Write(Encoding.UTF8.GetBytes(Format(brokerId)));
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}
