using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace OrleansStream.Server.Cluster;

/// <summary>
/// This broker's place in the cluster (Kafka's broker lifecycle): its <c>meta.properties</c>, recorded once the
/// controller accepts its registration, and the reason it is not serving, if any, which the silo's readiness reports.
/// A refused broker opens no partition log, so data of another cluster is neither served nor overwritten; nor does a
/// broker whose data names a cluster before the controller has confirmed it is this one (Kafka fences a broker until
/// its registration is accepted).
/// </summary>
public sealed partial class BrokerRegistration(IOptions<BrokerOptions> options, BrokerIdentity identity, ILogger<BrokerRegistration> logger)
{
    /// <summary>
    /// A <see cref="TimeProvider"/> registered under this key drives the broker's retries with the controller
    /// (registration, membership reports, the wake-up of its replicas) instead of the silo's, so tests can fake their
    /// backoff alone.
    /// </summary>
    public const string TimeProviderKey = "OrleansStream.Brokers";

    private readonly Lock _lock = new();
    private MetaProperties? _meta;
    private string? _refusal;
    private string? _clusterProblem;
    private bool _accepted;
    private readonly TaskCompletionSource _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _problemReported = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private string DataDirectory => options.Value.ResolvedDataDirectory;

    /// <summary>What the data directory records (read once; written only through <see cref="Accept"/>).</summary>
    public MetaProperties Meta
    {
        get
        {
            lock (_lock) return _meta ??= MetaProperties.Read(DataDirectory);
        }
    }

    /// <summary>
    /// Why this silo is not ready for the cluster, null when it is: refused, its controller cannot serve, or its data
    /// names a cluster and the controller has not accepted its registration yet (it opens no partition log until then).
    /// </summary>
    public string? Problem
    {
        get
        {
            lock (_lock)
                return _refusal ?? _clusterProblem ?? (!_accepted && (_meta ??= MetaProperties.Read(DataDirectory)).ClusterId is { } clusterId
                    ? NotRegisteredMessage(clusterId)
                    : null);
        }
    }

    /// <summary>The controller accepted the registration: records its cluster id and node id (the cluster id only once).</summary>
    public void Accept(string clusterId, int nodeId)
    {
        lock (_lock)
        {
            var current = _meta ??= MetaProperties.Read(DataDirectory);
            if (current.ClusterId is { } recorded && recorded != clusterId)
                throw new InvalidOperationException($"The data directory belongs to cluster {recorded}, not {clusterId}.");
            _refusal = null;
            _clusterProblem = null;
            _accepted = true;
            if (current.ClusterId != clusterId || current.NodeId != nodeId)
            {
                var next = new MetaProperties(clusterId, nodeId);
                next.Write(DataDirectory, identity.BrokerId);
                _meta = next;
            }
        }
        _answered.TrySetResult();
        LogRegistered(identity.BrokerId, clusterId, nodeId);
    }

    /// <summary>The controller refused this broker: it serves no partition until restarted with its own data directory.</summary>
    public void Refuse(string reason)
    {
        lock (_lock) _refusal = reason;
        _answered.TrySetResult();
        LogRefused(identity.BrokerId, reason);
    }

    /// <summary>
    /// The controller cannot serve (its state was lost): said by the controller of this silo, or in answer to this
    /// broker's registration. Cleared when a registration succeeds, which <see cref="WhenRegistrationNeededAsync"/> asks for.
    /// </summary>
    public void ReportClusterProblem(string problem)
    {
        TaskCompletionSource reported;
        lock (_lock)
        {
            _clusterProblem = problem;
            reported = _problemReported;
        }
        reported.TrySetResult();
    }

    /// <summary>Completes when this broker must register (again): a cluster problem is reported and not yet cleared.</summary>
    public Task WhenRegistrationNeededAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_clusterProblem is not null) return Task.CompletedTask;
            if (_problemReported.Task.IsCompleted) _problemReported = new(TaskCreationOptions.RunContinuationsAsynchronously);
            return _problemReported.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Waits (at most <paramref name="wait"/>) until this broker may open partition logs: at once for a data directory
    /// that names no cluster, else once the controller has accepted the registration; then as <see cref="ThrowIfNotServing"/>.
    /// </summary>
    public async Task WhenServingAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        if (Meta.ClusterId is not null)
            await _answered.Task.WaitAsync(wait, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        ThrowIfNotServing();
    }

    /// <summary>
    /// Called before a partition log opens here. Throws Orleans' <see cref="SiloUnavailableException"/>, which clients
    /// treat as transient (they refresh metadata and retry), as they would for a broker that is down.
    /// </summary>
    public void ThrowIfNotServing()
    {
        lock (_lock)
        {
            if (_refusal is { } reason) throw new SiloUnavailableException($"{ErrorCode.InconsistentClusterId}: {reason}");
            if (!_accepted && (_meta ??= MetaProperties.Read(DataDirectory)).ClusterId is { } clusterId)
                throw new SiloUnavailableException($"{ErrorCode.BrokerNotAvailable}: {NotRegisteredMessage(clusterId)}");
        }
    }

    private string NotRegisteredMessage(string clusterId) =>
        $"broker '{identity.BrokerId}' (data of cluster {clusterId}) has not registered with the controller yet.";

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker {Broker} is node {NodeId} of cluster {ClusterId}")]
    private partial void LogRegistered(string broker, string clusterId, int nodeId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Broker {Broker} was refused by the cluster and serves no partition: {Reason}")]
    private partial void LogRefused(string broker, string reason);
}
