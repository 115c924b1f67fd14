using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Partitions;

namespace OrleansStream.Server.Replication;

/// <summary>
/// ZooKeeper's broker watch, by Orleans membership: every silo tells the controller when membership changes (the
/// controller works out what changed, so repeats are harmless), and on a graceful stop hands its leaderships over
/// before its grains deactivate (Kafka's controlled shutdown). Its calls to the controller are given up when a silo
/// leaves (<see cref="SiloDepartures"/>) and when this silo stops: one the controller leaves unanswered would otherwise
/// hold the watcher, every later report and the silo's own stop for Orleans' response timeout (30 s).
/// </summary>
internal sealed partial class MembershipWatcher(
    IClusterMembershipService membership,
    IGrainFactory grains,
    BrokerIdentity identity,
    BrokerRegistration registration,
    LocalPartitionDirectories directories,
    SiloDepartures departures,
    [FromKeyedServices(BrokerRegistration.TimeProviderKey)] TimeProvider time,
    ILogger<MembershipWatcher> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _watch;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(MembershipWatcher), ServiceLifecycleStage.Active, OnStart, OnStop);

    private Task OnStart(CancellationToken ct)
    {
        _watch = Task.WhenAll(Task.Run(WatchAsync), Task.Run(ServeAsync));
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
    /// stops here), then activates this broker's replicas, so followers resume fetching without waiting for a client.
    /// Registers again whenever a controller reports that it cannot serve, until one accepts the registration, and
    /// wakes the replicas again after it.
    /// </summary>
    private async Task ServeAsync()
    {
        var swept = false;
        while (!_stopping.IsCancellationRequested)
        {
            if (!await RegisterAsync()) return;
            var registrationNeeded = registration.WhenRegistrationNeededAsync(_stopping.Token);
            swept = await WakeReplicasAsync(swept, registrationNeeded);
            await registrationNeeded.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// Removes stray replicas (moved to other brokers while this one was away; once, before any replica of this start
    /// is woken) and activates every replica the controller assigns here, retrying with a backoff until that succeeds,
    /// the registration must be renewed, or the silo stops: a controller that cannot answer for minutes (its grain
    /// storage unreadable) must not leave followers asleep once it answers again, since its own pushes carry only
    /// changes. Returns whether the sweep is done.
    /// </summary>
    private async Task<bool> WakeReplicasAsync(bool swept, Task registrationNeeded)
    {
        var controller = grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        var woken = new HashSet<string>(StringComparer.Ordinal);
        var backoff = new RegistrationBackoff();
        while (!_stopping.IsCancellationRequested && !registrationNeeded.IsCompleted)
        {
            var departure = departures.Token;
            try
            {
                if (!swept)
                {
                    var local = directories.List();
                    if (local.Count > 0) directories.Remove(await Ask(controller.FindStrayPartitions(identity.BrokerId, local)));
                    swept = true;
                }
                var keys = await Ask(controller.GetBrokerReplicas(identity.BrokerId));
                var calls = new Dictionary<string, Task>(keys.Count, StringComparer.Ordinal);
                foreach (var key in keys)
                    if (!woken.Contains(key)) calls[key] = grains.GetGrain<IPartitionReplicaGrain>(key).GetStatus();
                try
                {
                    await Ask(Task.WhenAll(calls.Values));
                }
                finally
                {
                    // The replicas that did not answer are asked again after the backoff.
                    foreach (var (key, call) in calls)
                        if (call.IsCompletedSuccessfully) woken.Add(key);
                }
                LogWoke(identity.BrokerId, keys.Count);
                return swept;
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested)
            {
                LogWakeRetry(e, identity.BrokerId, woken.Count);
                await Task.WhenAny(BackOffAsync(backoff, departure), registrationNeeded);
            }
        }
        return swept;
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
            var departure = departures.Token;
            try
            {
                var meta = registration.Meta;
                var reply = await Ask(controller.RegisterBroker(identity.BrokerId, meta.ClusterId, meta.NodeId));
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
            await BackOffAsync(backoff, departure);
        }
        return false;
    }

    private async Task HandOverAsync(CancellationToken ct)
    {
        try
        {
            var moved = await departures.Call(grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller).ControlledShutdown(identity.BrokerId)).WaitAsync(ct);
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
            await foreach (var _ in membership.MembershipUpdates.WithCancellation(_stopping.Token)) await ReportAsync();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Tells the controller that membership changed, again with a backoff until it has taken the report: it may have
    /// failed to store what changed (grain storage failing for a while), not answered, or died with the report in
    /// flight (the report is given up when its silo leaves and reaches the next activation), and the next report would
    /// otherwise come only with the next membership update, leaving leaderships on dead brokers until then. Each
    /// attempt covers every update so far, since the controller reads membership itself.
    /// </summary>
    private async Task ReportAsync()
    {
        var controller = grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        var backoff = new RegistrationBackoff();
        for (var attempt = 1; !_stopping.IsCancellationRequested; attempt++)
        {
            var version = membership.CurrentSnapshot.Version.Value;
            var departure = departures.Token;
            try
            {
                await Ask(controller.BrokersChanged());
                LogReported(version, attempt);
                return;
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested)
            {
                LogReportFailed(e, version, backoff.Next);
                await BackOffAsync(backoff, departure);
            }
        }
    }

    /// <summary>
    /// Waits out the backoff before the next attempt to reach the controller, or less once a silo has left since
    /// <paramref name="departure"/> was taken (before the attempt that failed): that is when the controller's dead silo
    /// is declared dead and the next attempt reaches its next activation, which a backoff grown while the silo was
    /// undeclared (up to <see cref="RegistrationBackoff.Max"/>) would otherwise keep waiting for, holding back the
    /// dead broker's leadership moves, or this broker's registration after a restart.
    /// </summary>
    private async Task BackOffAsync(RegistrationBackoff backoff, CancellationToken departure)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, departure);
        await backoff.WaitAsync(time, either.Token);
    }

    /// <summary>
    /// A call the watcher waits for until it is answered, a silo leaves (<see cref="SiloDepartures"/>), or this silo
    /// stops: a stop must not wait for the response timeout of a call to a controller that cannot answer.
    /// </summary>
    private Task<T> Ask<T>(Task<T> call) => departures.Call(call).WaitAsync(_stopping.Token);

    private Task Ask(Task call) => departures.Call(call).WaitAsync(_stopping.Token);

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker {Broker} handed over {Moved} leaderships before stopping")]
    private partial void LogHandedOver(string broker, int moved);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker {Broker} could not hand over its leaderships")]
    private partial void LogHandOverFailed(Exception e, string broker);

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker {Broker} activated its {Count} replicas")]
    private partial void LogWoke(string broker, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Broker {Broker} will retry activating its replicas ({Woken} woken so far)")]
    private partial void LogWakeRetry(Exception e, string broker, int woken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker {Broker} will register again: the controller answered {Error}: {Reason}")]
    private partial void LogRegistrationRefused(string broker, ErrorCode error, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Broker {Broker} will register again: the controller did not answer")]
    private partial void LogRegistrationRetry(Exception e, string broker);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The controller took the report of membership version {Version} (attempt {Attempt})")]
    private partial void LogReported(long version, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reporting membership version {Version} to the controller failed; reporting again in {Backoff}")]
    private partial void LogReportFailed(Exception e, long version, TimeSpan backoff);
}
