using System.Buffers.Binary;
using System.Net.Sockets;
using OrleansStream.Protocol;

namespace OrleansStream.Kafka.Tests;

/// <summary>A bare Kafka connection over the protocol codec, for what real clients never send (bad frames, other brokers).</summary>
internal sealed class KafkaWire : IAsyncDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(30);
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly string _clientId;
    private int _correlation;

    private KafkaWire(TcpClient tcp, string clientId)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _clientId = clientId;
    }

    /// <summary>
    /// A connection whose requests name <paramref name="clientId"/> (Kafka's <c>client.id</c>), from <paramref name="from"/>
    /// (another loopback address: the broker sees a client of its own IP) or 127.0.0.1.
    /// </summary>
    public static async Task<KafkaWire> ConnectAsync(int port, string clientId = "wire-test", System.Net.IPAddress? from = null)
    {
        var tcp = new TcpClient();
        if (from is not null) tcp.Client.Bind(new System.Net.IPEndPoint(from, 0));
        await tcp.ConnectAsync("127.0.0.1", port);
        return new KafkaWire(tcp, clientId);
    }

    /// <summary>Sends one request; returns its correlation id.</summary>
    public async Task<int> SendAsync(ApiKey key, short version, Action<KafkaWriter> body)
    {
        using var w = new KafkaWriter();
        var frame = w.BeginFrame();
        var header = new RequestHeader(key, version, ++_correlation, _clientId);
        header.Write(w);
        body(w);
        w.EndFrame(frame);
        await SendRawAsync(w.WrittenMemory);
        return header.CorrelationId;
    }

    /// <summary>Reads past a response's topic array, its first topic's name and partition array; returns that partition's index.</summary>
    public static int FirstPartition(ref KafkaReader r)
    {
        r.ReadArrayLength(flexible: false);
        r.ReadString(flexible: false);
        r.ReadArrayLength(flexible: false);
        return r.ReadInt32();
    }

    /// <summary>
    /// The topics of a flexible (v9-12) Metadata answer, read to its end: each topic's error, name, id and partition count.
    /// </summary>
    public static List<(ErrorCode Error, string? Name, Guid TopicId, int Partitions)> ReadMetadataTopics(byte[]? frame, short version)
    {
        Assert.NotNull(frame);
        var r = new KafkaReader(frame.AsSpan(4));
        r.SkipTaggedFields(); // response header v1
        r.ReadInt32(); // throttle
        for (var brokers = r.ReadArrayLength(true); brokers > 0; brokers--)
        {
            r.ReadInt32();
            r.ReadString(true);
            r.ReadInt32();
            r.ReadNullableString(true);
            r.SkipTaggedFields();
        }
        r.ReadNullableString(true); // cluster id
        r.ReadInt32(); // controller id
        var topics = new List<(ErrorCode, string?, Guid, int)>();
        for (var count = r.ReadArrayLength(true); count > 0; count--)
        {
            var error = (ErrorCode)r.ReadInt16();
            var name = r.ReadNullableString(true);
            var topicId = r.ReadUuid();
            r.ReadBoolean();
            var partitions = r.ReadArrayLength(true);
            for (var p = 0; p < partitions; p++)
            {
                r.ReadInt16();
                r.ReadInt32();
                r.ReadInt32();
                r.ReadInt32();
                r.ReadInt32Array(true);
                r.ReadInt32Array(true);
                r.ReadInt32Array(true);
                r.SkipTaggedFields();
            }
            r.ReadInt32(); // topic authorized operations
            r.SkipTaggedFields();
            topics.Add((error, name, topicId, partitions));
        }
        if (version <= 10) r.ReadInt32(); // cluster authorized operations
        r.SkipTaggedFields();
        Assert.Equal(0, r.Remaining);
        return topics;
    }

    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes) => await _stream.WriteAsync(bytes);

    /// <summary>The next response frame without its size, or null once the broker closed the connection.</summary>
    public async Task<byte[]?> ReadFrameAsync()
    {
        using var timeout = new CancellationTokenSource(ReadTimeout);
        var prefix = new byte[4];
        if (!await ReadExactlyAsync(prefix, timeout.Token)) return null;
        var frame = new byte[BinaryPrimitives.ReadInt32BigEndian(prefix)];
        return await ReadExactlyAsync(frame, timeout.Token) ? frame : null;
    }

    private async Task<bool> ReadExactlyAsync(byte[] buffer, CancellationToken ct)
    {
        try
        {
            await _stream.ReadExactlyAsync(buffer, ct);
            return true;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
