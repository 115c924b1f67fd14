using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Persistence.FileStorage;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace OrleansStream.Server.Persistence;

/// <summary>
/// File grain storage that several silo processes can share: the broker's embedded default for controller and group
/// state. It keeps the files of Orleans' <c>FileGrainStorage</c> (same names, same <c>ORLFS001</c> record), so a
/// directory written by either reads with the other, and fixes the two things that make that one unsafe to share:
/// a write replaces the file by rename, so a reader (another silo, or the next activation after a crash) never sees a
/// half-written record; and the ETag check and the write happen under an exclusive lock on a per-record lock file, so
/// of two writers holding the same ETag exactly one wins and the other gets <see cref="InconsistentStateException"/>.
/// </summary>
/// <remarks>
/// Nothing is fsynced, like Kafka's log by default: a killed process loses nothing, an operating-system crash may lose
/// the last writes. The lock is <c>flock</c> (what .NET's <see cref="FileShare.None"/> takes on Unix), so the
/// directory must be on a local file system or one that honours it.
/// </remarks>
public sealed partial class AtomicFileGrainStorage(
    string name,
    FileGrainStorageOptions options,
    IOptions<ClusterOptions> clusterOptions,
    IActivatorProvider activatorProvider,
    ILogger<AtomicFileGrainStorage> logger) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    private const int HeaderLength = 24;
    private static ReadOnlySpan<byte> Magic => "ORLFS001"u8;

    /// <summary>How long a write waits for another writer's lock before it fails; writers hold it for one file write.</summary>
    internal static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);

    private readonly string _serviceId = clusterOptions.Value.ServiceId;
    private readonly string _root = Path.GetFullPath(options.RootDirectory);

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var record = await ReadRecordAsync(RecordPath(stateName, grainId)).ConfigureAwait(false);
        if (record is not { } r)
        {
            Reset(grainState);
            return;
        }
        grainState.State = options.GrainStorageSerializer.Deserialize<T>(new BinaryData(r.Payload));
        grainState.ETag = r.ETag;
        grainState.RecordExists = true;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = RecordPath(stateName, grainId);
        var payload = options.GrainStorageSerializer.Serialize(grainState.State).ToMemory();
        var etag = Guid.NewGuid();
        var record = new byte[HeaderLength + payload.Length];
        Magic.CopyTo(record);
        etag.TryWriteBytes(record.AsSpan(Magic.Length, 16));
        payload.Span.CopyTo(record.AsSpan(HeaderLength));

        using (await LockAsync(path).ConfigureAwait(false))
        {
            Validate<T>("WriteState", grainId, grainState.ETag, StoredETag(path));
            var temp = $"{path}.{etag:N}.tmp";
            try
            {
                await File.WriteAllBytesAsync(temp, record).ConfigureAwait(false);
                File.Move(temp, path, overwrite: true);
            }
            catch
            {
                TryDelete(temp);
                throw;
            }
        }
        grainState.ETag = etag.ToString("N");
        grainState.RecordExists = true;
        LogWritten(name, grainId, grainState.ETag);
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = RecordPath(stateName, grainId);
        using (await LockAsync(path).ConfigureAwait(false))
        {
            if (StoredETag(path) is { } stored)
            {
                Validate<T>("ClearState", grainId, grainState.ETag, stored);
                File.Delete(path);
            }
        }
        Reset(grainState);
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe($"{nameof(AtomicFileGrainStorage)}-{name}", ServiceLifecycleStage.ApplicationServices, _ =>
        {
            Directory.CreateDirectory(_root);
            return Task.CompletedTask;
        });

    /// <summary>The path Orleans' FileGrainStorage uses: a SHA-256 over service id, grain type, key and state name.</summary>
    public string RecordPath(string stateName, GrainId grainId)
    {
        using var identity = new MemoryStream();
        WriteComponent(identity, Encoding.UTF8.GetBytes(_serviceId));
        WriteComponent(identity, grainId.Type.AsSpan());
        WriteComponent(identity, grainId.Key.AsSpan());
        WriteComponent(identity, Encoding.UTF8.GetBytes(stateName));
        var hash = SHA256.HashData(identity.GetBuffer().AsSpan(0, (int)identity.Length));
        return Path.Combine(_root, $"{Convert.ToHexString(hash)}.grain");

        static void WriteComponent(Stream to, ReadOnlySpan<byte> value)
        {
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteInt32BigEndian(length, value.Length);
            to.Write(length);
            to.Write(value);
        }
    }

    private static async Task<(string ETag, ReadOnlyMemory<byte> Payload)?> ReadRecordAsync(string path)
    {
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(path).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        if (bytes.Length < HeaderLength || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException($"The grain state record '{path}' has an invalid format.");
        return (new Guid(bytes.AsSpan(Magic.Length, 16)).ToString("N"), bytes.AsMemory(HeaderLength));
    }

    /// <summary>The ETag of the record on disk, or null when there is none; reads only the header.</summary>
    private static string? StoredETag(string path)
    {
        Span<byte> header = stackalloc byte[HeaderLength];
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (RandomAccess.Read(handle, header, 0) < HeaderLength || !header[..Magic.Length].SequenceEqual(Magic))
                throw new InvalidDataException($"The grain state record '{path}' has an invalid format.");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        return new Guid(header.Slice(Magic.Length, 16)).ToString("N");
    }

    /// <summary>An exclusive lock on <c>{path}.lock</c>, shared with every process that uses the directory.</summary>
    private async Task<FileStream> LockAsync(string path)
    {
        // Wall-clock on purpose: a test's fake TimeProvider must not stall file I/O.
        var deadline = Environment.TickCount64 + (long)LockTimeout.TotalMilliseconds;
        var delay = 1;
        while (true)
        {
            try
            {
                return new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (DirectoryNotFoundException)
            {
                Directory.CreateDirectory(_root);
            }
            catch (IOException) when (Environment.TickCount64 < deadline)
            {
                // Held by another writer for the length of one write: back off briefly.
                await Task.Delay(delay).ConfigureAwait(false);
                delay = Math.Min(delay * 2, 50);
            }
            catch (IOException e)
            {
                throw new OrleansException($"Grain storage '{name}' could not lock '{path}' within {LockTimeout.TotalSeconds} s.", e);
            }
        }
    }

    private void Validate<T>(string operation, GrainId grainId, string? expected, string? stored)
    {
        if (!string.Equals(expected, stored, StringComparison.Ordinal))
            throw new InconsistentStateException(
                $"Version conflict ({operation}): ServiceId={_serviceId} ProviderName={name} GrainType={typeof(T)} GrainId={grainId}.",
                stored ?? "None", expected ?? "None");
    }

    private void Reset<T>(IGrainState<T> grainState)
    {
        grainState.State = activatorProvider.GetActivator<T>().Create();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    [LoggerMessage(Level = LogLevel.Trace, Message = "Grain storage {Name} wrote {GrainId} (ETag {ETag})")]
    private partial void LogWritten(string name, GrainId grainId, string etag);

    internal static AtomicFileGrainStorage Create(IServiceProvider services, string name)
        => ActivatorUtilities.CreateInstance<AtomicFileGrainStorage>(
            services, name, services.GetRequiredService<IOptionsMonitor<FileGrainStorageOptions>>().Get(name));
}
