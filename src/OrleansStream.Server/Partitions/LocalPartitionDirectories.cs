using System.Globalization;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace OrleansStream.Server.Partitions;

/// <summary>A partition directory on this broker's disk and the topic id it records.</summary>
[GenerateSerializer, Immutable]
public sealed record LocalPartition(string Topic, int Partition, Guid TopicId);

/// <summary>
/// This broker's partition directories, and the removal of stray ones: replicas the controller moved to other brokers
/// while this one was away (Kafka's stray logs). A directory any replica activation of this process has opened is
/// never removed: its data belongs to a current assignment even if the controller's earlier answer said otherwise.
/// </summary>
internal sealed partial class LocalPartitionDirectories(
    IOptions<BrokerOptions> options, Cluster.BrokerRegistration registration, ILogger<LocalPartitionDirectories> logger)
{
    private readonly Lock _lock = new();
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public string PathOf(string topic, int partition) =>
        Path.Combine(options.Value.ResolvedDataDirectory, string.Create(CultureInfo.InvariantCulture, $"{topic}-{partition}"));

    /// <summary>
    /// Awaited by a replica as it activates: a restarted broker opens no log before the controller has accepted its
    /// registration (see <see cref="Cluster.BrokerRegistration.WhenServingAsync"/>); a few seconds at most.
    /// </summary>
    public Task WhenServingAsync(CancellationToken cancellationToken) => registration.WhenServingAsync(RegistrationWait, cancellationToken);

    private static readonly TimeSpan RegistrationWait = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Called by a replica before it opens its log in <paramref name="directory"/>; throws on a broker the cluster
    /// refused or has not accepted yet (see <see cref="Cluster.BrokerRegistration.ThrowIfNotServing"/>).
    /// </summary>
    public void MarkUsed(string directory)
    {
        registration.ThrowIfNotServing();
        lock (_lock) _used.Add(directory);
    }

    /// <summary>Every directory named <c>{topic}-{partition}</c> that records a topic id.</summary>
    public List<LocalPartition> List()
    {
        var result = new List<LocalPartition>();
        var root = options.Value.ResolvedDataDirectory;
        if (!Directory.Exists(root)) return result;
        foreach (var directory in Directory.EnumerateDirectories(root))
        {
            var name = Path.GetFileName(directory);
            var dash = name.LastIndexOf('-');
            if (dash <= 0 || !int.TryParse(name.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var partition)) continue;
            if (!PartitionMetadataFile.TryReadTopicId(directory, out var topicId)) continue;
            result.Add(new LocalPartition(name[..dash], partition, topicId));
        }
        return result;
    }

    /// <summary>Removes the directories of <paramref name="strays"/> that no activation has used; returns how many.</summary>
    public int Remove(IReadOnlyList<LocalPartition> strays)
    {
        var removed = 0;
        foreach (var stray in strays)
        {
            var directory = PathOf(stray.Topic, stray.Partition);
            lock (_lock)
            {
                if (_used.Contains(directory)) continue;
                // Only the incarnation the controller judged stray: a directory rewritten since belongs to someone else.
                if (!PartitionMetadataFile.TryReadTopicId(directory, out var id) || id != stray.TopicId) continue;
                try
                {
                    Directory.Delete(directory, recursive: true);
                    removed++;
                    LogRemoved(stray.Topic, stray.Partition);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    LogRemoveFailed(e, directory);
                }
            }
        }
        return removed;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed the stray replica of {Topic}-{Partition}: the controller moved it to another broker")]
    private partial void LogRemoved(string topic, int partition);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not remove the stray partition directory {Directory}")]
    private partial void LogRemoveFailed(Exception e, string directory);
}
