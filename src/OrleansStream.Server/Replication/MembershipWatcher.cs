using Orleans.Runtime;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Partitions;

namespace OrleansStream.Server.Replication;

/// <summary>
/// ZooKeeper's broker watch, by Orleans membership: every silo tells the controller when membership changes (the
/// controller works out what changed, so repeats are harmless), and on a graceful stop hands its leaderships over
/// before its grains deactivate (Kafka's controlled shutdown).
/// </summary>
internal sealed partial class MembershipWatcher(
    IClusterMembershipService membership,
    IGrainFactory grains,
    BrokerIdentity identity,
    BrokerRegistration registration,
    LocalPartitionDirectories directories,
    TimeProvider time,
    ILogger<MembershipWatcher> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _watch;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(MembershipWatcher), ServiceLifecycleStage.Active, OnStart, OnStop);

    private Task OnStart(CancellationToken ct)
    {
        _watch = Task.WhenAll(Task.Run(WatchAsync), Task.Run(WakeReplicasAsync));
        return Task.CompletedTask;
    }

    private async Task OnStop(CancellationToken ct)
    {
        // A stop without grace (the host gave up waiting) is a crash as far as the cluster is concerned.
        if (!ct.IsCancellationRequested) await HandOverAsync(ct);
        _stopping.Cancel();
        if (_watch is { } watch) await watch.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>
    /// Registers with the controller (recording the cluster id in <c>meta.properties</c>; a broker of another cluster
    /// stops here), removes stray replicas (moved to other brokers while this one was away), then activates this
    /// broker's replicas, so followers resume fetching without waiting for a client. Then registers again whenever a
    /// controller reports that it cannot serve, until one accepts the registration.
    /// </summary>
    private async Task WakeReplicasAsync()
    {
        if (!await RegisterAsync()) return;
        var controller = grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        var swept = false;
        var backoff = new RegistrationBackoff();
        for (var attempt = 0; !_stopping.IsCancellationRequested; attempt++)
        {
            try
            {
                if (!swept)
                {
                    var local = directories.List();
                    if (local.Count > 0) directories.Remove(await controller.FindStrayPartitions(identity.BrokerId, local));
                    swept = true;
                }
                var keys = await controller.GetBrokerReplicas(identity.BrokerId);
                var calls = new List<Task>(keys.Count);
                foreach (var key in keys) calls.Add(grains.GetGrain<IPartitionReplicaGrain>(key).GetStatus());
                await Task.WhenAll(calls);
                LogWoke(identity.BrokerId, keys.Count);
                break;
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested && attempt < 20)
            {
                // Replicas the controller reaches later activate on its LeaderAndIsr or a client's call.
                LogWakeRetry(e, identity.BrokerId);
                await backoff.WaitAsync(time, _stopping.Token);
            }
        }
        while (!_stopping.IsCancellationRequested)
        {
            await registration.WhenRegistrationNeededAsync(_stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!await RegisterAsync()) return;
        }
    }

    /// <summary>
    /// Kafka's BrokerRegistration, retried with a backoff until the controller answers: true once it accepted this
    /// broker, false when it refused its data directory (another cluster's) or the silo stops. A controller that cannot
    /// serve (its state lost) is asked again, as is one that did not answer: it may recover, or move to another silo.
    /// </summary>
    private async Task<bool> RegisterAsync()
    {
        var controller = grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        var backoff = new RegistrationBackoff();
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                var meta = registration.Meta;
                var reply = await controller.RegisterBroker(identity.BrokerId, meta.ClusterId, meta.NodeId);
                if (reply.Error == ErrorCode.None)
                {
                    registration.Accept(reply.ClusterId!, reply.NodeId);
                    return true;
                }
                var reason = reply.ErrorMessage ?? reply.Error.ToString();
                // A cluster id in the reply: ours differs, which no retry changes. None: the controller itself cannot serve.
                if (reply.Error == ErrorCode.InconsistentClusterId && reply.ClusterId is not null)
                {
                    registration.Refuse(reason);
                    return false;
                }
                if (reply.Error == ErrorCode.InconsistentClusterId) registration.ReportClusterProblem(reason);
                LogRegistrationRefused(identity.BrokerId, reply.Error, reason);
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested)
            {
                LogRegistrationRetry(e, identity.BrokerId);
            }
            await backoff.WaitAsync(time, _stopping.Token);
        }
        return false;
    }

    private async Task HandOverAsync(CancellationToken ct)
    {
        try
        {
            var moved = await grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller).ControlledShutdown(identity.BrokerId).WaitAsync(ct);
            LogHandedOver(identity.BrokerId, moved);
        }
        catch (Exception e)
        {
            LogHandOverFailed(e, identity.BrokerId);
        }
    }

    private async Task WatchAsync()
    {
        try
        {
            await foreach (var _ in membership.MembershipUpdates.WithCancellation(_stopping.Token))
            {
                try
                {
                    await grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller).BrokersChanged();
                }
                catch (Exception e) when (!_stopping.IsCancellationRequested)
                {
                    // The next membership change reports again; the controller also reconciles on its own activation.
                    LogReportFailed(e);
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker {Broker} handed over {Moved} leaderships before stopping")]
    private partial void LogHandedOver(string broker, int moved);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker {Broker} could not hand over its leaderships")]
    private partial void LogHandOverFailed(Exception e, string broker);

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker {Broker} activated its {Count} replicas")]
    private partial void LogWoke(string broker, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Broker {Broker} will retry activating its replicas")]
    private partial void LogWakeRetry(Exception e, string broker);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker {Broker} will register again: the controller answered {Error}: {Reason}")]
    private partial void LogRegistrationRefused(string broker, ErrorCode error, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Broker {Broker} will register again: the controller did not answer")]
    private partial void LogRegistrationRetry(Exception e, string broker);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reporting a membership change to the controller failed")]
    private partial void LogReportFailed(Exception e);
}
