using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansStream.Client.Groups;

/// <summary>What the coordinator needs from the consumer that owns it. Called on the thread that calls Consume.</summary>
internal interface IGroupConsumerHost
{
    /// <summary>Start fetching these partitions; an offset of <see cref="Offset.Unset"/> means <c>auto.offset.reset</c>.</summary>
    void StartFetching(IReadOnlyList<TopicPartitionOffset> partitions);

    void StopFetching(IReadOnlyList<TopicPartition> partitions);

    /// <summary>The user's assigned handler; may return the offsets to start from (null: committed, else reset).</summary>
    IEnumerable<TopicPartitionOffset>? OnPartitionsAssigned(List<TopicPartition> partitions);

    void OnPartitionsRevoked(List<TopicPartitionOffset> partitions);

    void OnPartitionsLost(List<TopicPartitionOffset> partitions);

    /// <summary>Something changed for Consume to act on: stop waiting and poll the coordinator again.</summary>
    void Wakeup();
}

/// <summary>The group settings of a consumer, with Kafka's keys and defaults.</summary>
internal sealed record GroupSettings(
    string GroupId,
    string ClientId,
    int SessionTimeoutMs = 45000,
    int HeartbeatIntervalMs = 3000,
    int MaxPollIntervalMs = 300000,
    bool EnableAutoCommit = true,
    int AutoCommitIntervalMs = 5000,
    bool EnableAutoOffsetStore = true,
    int MetadataMaxAgeMs = 300000,
    int RetryBackoffMs = 100,
    string? PartitionAssignmentStrategy = null,
    int DefaultApiTimeoutMs = 60000,
    bool RequireStableOffsets = false,
    string? GroupInstanceId = null,
    bool ConsumerProtocol = false,
    string? RemoteAssignor = null)
{
    public static GroupSettings From(ConsumerConfig config, string clientId) => new(
        config.GroupId ?? "",
        config.ClientId ?? clientId,
        config.SessionTimeoutMs ?? 45000,
        config.HeartbeatIntervalMs ?? 3000,
        config.MaxPollIntervalMs ?? 300000,
        config.EnableAutoCommit ?? true,
        config.AutoCommitIntervalMs ?? 5000,
        config.EnableAutoOffsetStore ?? true,
        config.MetadataMaxAgeMs,
        config.RetryBackoffMs,
        config.PartitionAssignmentStrategy,
        config.DefaultApiTimeoutMs ?? 60000,
        (config.IsolationLevel ?? IsolationLevel.ReadCommitted) == IsolationLevel.ReadCommitted,
        string.IsNullOrEmpty(config.GroupInstanceId) ? null : config.GroupInstanceId,
        config.GroupProtocol == GroupProtocol.Consumer,
        string.IsNullOrEmpty(config.GroupRemoteAssignor) ? null : config.GroupRemoteAssignor);

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(GroupId)) throw new OrleansStreamException(ErrorCode.InvalidGroupId, "group.id must be set to subscribe or commit");
        if (SessionTimeoutMs <= 0) throw new OrleansStreamException(ErrorCode.InvalidConfig, "session.timeout.ms must be > 0");
        if (HeartbeatIntervalMs <= 0 || HeartbeatIntervalMs >= SessionTimeoutMs)
            throw new OrleansStreamException(ErrorCode.InvalidConfig, "heartbeat.interval.ms must be > 0 and below session.timeout.ms");
        if (MaxPollIntervalMs <= 0) throw new OrleansStreamException(ErrorCode.InvalidConfig, "max.poll.interval.ms must be > 0");
        if (AutoCommitIntervalMs < 0) throw new OrleansStreamException(ErrorCode.InvalidConfig, "auto.commit.interval.ms must be >= 0");
        if (DefaultApiTimeoutMs < 0) throw new OrleansStreamException(ErrorCode.InvalidConfig, "default.api.timeout.ms must be >= 0");
    }
}

/// <summary>
/// Kafka's ConsumerCoordinator: keeps one consumer in its group. Join and sync run in the background and the
/// heartbeat keeps the session alive; everything the user sees (rebalance handlers, assignment changes, auto commits)
/// happens inside <see cref="Poll"/>, on the thread that calls Consume, as in Kafka and Confluent. With
/// <see cref="GroupSettings.ConsumerProtocol"/> the member speaks Kafka's consumer group protocol (KIP-848,
/// <c>ConsumerCoordinator.ConsumerProtocol.cs</c>) instead: heartbeats carry the assignment, and Poll applies it.
/// </summary>
internal sealed partial class ConsumerCoordinator : IDisposable
{
    private readonly IConsumerGroupGrain _group;
    private readonly IClusterControllerGrain _controller;
    private readonly GroupSettings _settings;
    private readonly IGroupConsumerHost _host;
    private readonly TimeProvider _time;
    private readonly IReadOnlyList<IPartitionAssignor> _assignors;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly Dictionary<TopicPartition, long> _stored = [];
    private readonly Dictionary<TopicPartition, long> _committed = [];
    private readonly HashSet<TopicPartition> _owned = [];
    private readonly Dictionary<TopicPartition, long> _knownCommitted = [];

    private List<string>? _topics;
    private string _memberId = "";
    private int _generation = -1;
    private bool _rejoinNeeded;
    private bool _lost;
    private Task<JoinOutcome>? _joining;
    private Task? _heartbeat;
    private Task? _autoCommit;
    // One commit in flight at a time: two concurrent grain calls are not ordered, so an auto commit sent before a later
    // commit could otherwise reach the group after it and move the committed offset back.
    private readonly SemaphoreSlim _commitGate = new(1, 1);
    private long _lastPollMs;
    private long _nextAutoCommitMs;
    private Dictionary<string, int>? _leaderPartitionCounts;
    private long _nextMetadataCheckMs;
    private Exception? _fatal;
    private bool _closed;
    private bool _joinInFlight;
    private readonly ITimer? _autoCommitTimer;
    private readonly SiloFailureWatch _calls;
    private readonly ILogger _logger;
    private int _autoCommitWakeup;

    public ConsumerCoordinator(IClusterClient client, GroupSettings settings, IGroupConsumerHost host, TimeProvider? time = null)
    {
        settings.Validate();
        _settings = settings;
        _host = host;
        _time = time ?? TimeProvider.System;
        _assignors = PartitionAssignors.Parse(settings.PartitionAssignmentStrategy);
        _group = client.GetGrain<IConsumerGroupGrain>(settings.GroupId);
        _controller = client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
        _calls = SiloFailureWatch.For(client);
        _logger = client.ServiceProvider.GetService<ILogger<ConsumerCoordinator>>() ?? NullLogger<ConsumerCoordinator>.Instance;
        _lastPollMs = NowMs;
        if (settings.EnableAutoCommit && settings.AutoCommitIntervalMs > 0)
        {
            var interval = TimeSpan.FromMilliseconds(settings.AutoCommitIntervalMs);
            _autoCommitTimer = _time.CreateTimer(static s => ((ConsumerCoordinator)s!).OnAutoCommitDue(), this, interval, interval);
        }
    }

    public string GroupId => _settings.GroupId;

    /// <summary>How long JoinGroup and SyncGroup may wait on the coordinator: Kafka's rebalance timeout is max.poll.interval.ms.</summary>
    private TimeSpan RebalanceWait => TimeSpan.FromMilliseconds(_settings.MaxPollIntervalMs);

    public string MemberId { get { lock (_lock) return _memberId; } }

    /// <summary>KIP-345's <c>group.instance.id</c>: a static member keeps its place (and assignment) across restarts within the session timeout.</summary>
    public string? GroupInstanceId => _settings.GroupInstanceId;

    public int GenerationId { get { lock (_lock) return _generation; } }

    /// <summary>Whether Close or Dispose has begun (the member may still be leaving).</summary>
    internal bool IsClosed { get { lock (_lock) return _closed; } }

    public RebalanceProtocol Protocol => _assignors[0].Protocol;

    public List<string> Subscription { get { lock (_lock) return _topics is null ? [] : [.. _topics]; } }

    /// <summary>A JoinGroup/SyncGroup round runs in the background (set before it starts, cleared before its wakeup).</summary>
    internal bool JoinInFlight { get { lock (_lock) return _joinInFlight; } }

    /// <summary>The partitions the group gave this member.</summary>
    public List<TopicPartition> Assignment { get { lock (_lock) return [.. _owned]; } }

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    public void Subscribe(IEnumerable<string> topics)
    {
        var list = new List<string>();
        foreach (var t in topics)
        {
            if (string.IsNullOrWhiteSpace(t)) throw new OrleansStreamException(ErrorCode.InvalidTopic, "topic names must not be empty");
            if (!list.Contains(t)) list.Add(t);
        }
        if (list.Count == 0) throw new ArgumentException("subscribe to at least one topic", nameof(topics));
        list.Sort(StringComparer.Ordinal);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            _topics = list;
            _rejoinNeeded = true;
            _heartbeat ??= Task.Run(_settings.ConsumerProtocol ? ConsumerHeartbeatLoopAsync : HeartbeatLoopAsync);
        }
        HeartbeatNow();
        _host.Wakeup();
    }

    /// <summary>Gives up every partition and leaves the group.</summary>
    public void Unsubscribe()
    {
        lock (_lock)
        {
            if (_topics is null) return;
            _topics = null;
        }
        RevokeAll(commit: true);
        LeaveGroup("unsubscribed");
    }

    /// <summary>Called at the start of every Consume: applies rebalances, runs handlers and auto commits.</summary>
    public void Poll()
    {
        _lastPollMs = NowMs;
        if (Interlocked.Exchange(ref _fatal, null) is { } fatal)
        {
            throw fatal as OrleansStreamException ?? new OrleansStreamException(ErrorCode.UnknownServerError, fatal.Message, fatal);
        }
        bool lost;
        lock (_lock)
        {
            if (_topics is null) { MaybeAutoCommit(); return; }
            lost = _lost;
            _lost = false;
        }
        if (lost) LoseAll();
        if (_settings.ConsumerProtocol)
        {
            ApplyHeartbeatAssignment();
            MaybeAutoCommit();
            return;
        }

        var joining = _joining;
        if (joining is not null)
        {
            if (!joining.IsCompleted) { MaybeAutoCommit(); return; }
            _joining = null;
            var outcome = joining.GetAwaiter().GetResult();
            if (outcome.Error is { } error)
            {
                if (outcome.Fatal) throw error;
                lock (_lock) _rejoinNeeded = true;
            }
            else
            {
                ApplyAssignment(outcome);
            }
        }

        bool rejoin;
        lock (_lock)
        {
            rejoin = _rejoinNeeded && _topics is not null;
            _rejoinNeeded = false;
        }
        if (rejoin && _joining is null)
        {
            // Eager: give everything back (committing first) before joining; cooperative: keep consuming meanwhile.
            if (Protocol == RebalanceProtocol.Eager) RevokeAll(commit: true);
            else if (_settings.EnableAutoCommit) TryCommitStored();
            var snapshot = SnapshotForJoin();
            lock (_lock) _joinInFlight = true;
            var join = Task.Run(() => JoinAndSyncAsync(snapshot));
            _joining = join;
            // The wakeup comes after the task completed, so the Poll it wakes sees the outcome; sent from the join's own
            // finally it could wake a Poll that still finds the task running, and nothing would wake Consume again.
            join.ContinueWith(static (_, host) => ((IGroupConsumerHost)host!).Wakeup(), _host, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        MaybeAutoCommit();
    }

    private void ApplyAssignment(JoinOutcome outcome)
    {
        var assigned = new HashSet<TopicPartition>(outcome.Partitions);
        var revoked = new List<TopicPartition>();
        var added = new List<TopicPartition>();
        lock (_lock)
        {
            foreach (var tp in _owned) if (!assigned.Contains(tp)) revoked.Add(tp);
            foreach (var tp in assigned) if (!_owned.Contains(tp)) added.Add(tp);
        }
        if (revoked.Count > 0)
        {
            // Only the cooperative protocol gets here with something to revoke; it rejoins so the partitions can move on.
            // A consumer protocol member tells the coordinator at its next heartbeat, which comes at once.
            Revoke(revoked, commit: true);
            if (!_settings.ConsumerProtocol) lock (_lock) _rejoinNeeded = true;
        }
        added.Sort(PartitionAssignors.Compare);
        lock (_lock) foreach (var tp in added) _owned.Add(tp);
        if (added.Count == 0 && revoked.Count == 0 && outcome.Partitions.Count > 0) return;

        var explicitOffsets = added.Count > 0 || outcome.Partitions.Count == 0 ? _host.OnPartitionsAssigned([.. added]) : null;
        var start = new Dictionary<TopicPartition, long>();
        if (explicitOffsets is not null)
            foreach (var tpo in explicitOffsets) start[tpo.TopicPartition] = tpo.Offset;
        var needCommitted = new List<TopicPartition>();
        foreach (var tp in added)
            if (!start.TryGetValue(tp, out var o) || o == Offset.Unset || o == Offset.Stored) needCommitted.Add(tp);
        if (needCommitted.Count > 0)
        {
            foreach (var c in Blocking.Wait(() => FetchCommittedAsync(needCommitted, _closing.Token)))
                start[c.TopicPartition] = c.Offset >= 0 ? c.Offset : Offset.Unset;
        }
        var fetch = new List<TopicPartitionOffset>(added.Count);
        foreach (var tp in added)
        {
            var offset = start.GetValueOrDefault(tp, Offset.Unset);
            fetch.Add(new TopicPartitionOffset(tp, offset));
            lock (_lock)
            {
                if (offset >= 0) _committed[tp] = offset;
                else _knownCommitted[tp] = -1; // the fetcher asks again for Unset; spare it the call
            }
        }
        if (fetch.Count > 0) _host.StartFetching(fetch);
    }

    private void RevokeAll(bool commit)
    {
        List<TopicPartition> all;
        lock (_lock) all = [.. _owned];
        if (all.Count > 0) Revoke(all, commit);
    }

    private void Revoke(List<TopicPartition> partitions, bool commit)
    {
        partitions.Sort(PartitionAssignors.Compare);
        if (commit && _settings.EnableAutoCommit) TryCommitStored();
        _host.OnPartitionsRevoked(WithStored(partitions));
        _host.StopFetching(partitions);
        lock (_lock)
        {
            foreach (var tp in partitions)
            {
                _owned.Remove(tp);
                _stored.Remove(tp);
                _committed.Remove(tp);
            }
        }
    }

    /// <summary>The member was thrown out: its partitions may already be someone else's, so nothing is committed.</summary>
    private void LoseAll()
    {
        List<TopicPartition> all;
        lock (_lock) all = [.. _owned];
        if (all.Count == 0) return;
        all.Sort(PartitionAssignors.Compare);
        _host.OnPartitionsLost(WithStored(all));
        _host.StopFetching(all);
        lock (_lock)
        {
            _owned.Clear();
            _stored.Clear();
            _committed.Clear();
        }
    }

    private List<TopicPartitionOffset> WithStored(List<TopicPartition> partitions)
    {
        var list = new List<TopicPartitionOffset>(partitions.Count);
        lock (_lock)
            foreach (var tp in partitions)
                list.Add(new TopicPartitionOffset(tp, _stored.TryGetValue(tp, out var o) ? o : Offset.Unset));
        return list;
    }

    // ---- offsets ------------------------------------------------------------------------------------------------

    /// <summary>With <c>enable.auto.offset.store</c>, Consume stores each returned message's offset + 1 here.</summary>
    public void OnConsumed(TopicPartition tp, long offset)
    {
        if (!_settings.EnableAutoOffsetStore) return;
        lock (_lock) _stored[tp] = offset + 1;
    }

    /// <summary>Confluent's StoreOffset: <paramref name="offset"/> is the next offset to consume.</summary>
    public void StoreOffset(TopicPartition tp, long offset)
    {
        lock (_lock)
        {
            if (_topics is not null && !_owned.Contains(tp))
                throw GroupError(ErrorCode.UnknownTopicOrPartition, $"{tp} is not assigned to this consumer");
            _stored[tp] = offset;
        }
    }

    /// <summary>Commits the stored offsets of the assigned partitions; returns what was committed.</summary>
    public List<TopicPartitionOffset> Commit()
    {
        var offsets = Blocking.Wait(CommitStoredAsync);
        var result = new List<TopicPartitionOffset>(offsets.Count);
        foreach (var o in offsets) result.Add(new TopicPartitionOffset(o.TopicPartition, o.Offset));
        return result;
    }

    public void Commit(IEnumerable<TopicPartitionOffset> offsets)
    {
        var list = new List<OffsetToCommit>();
        foreach (var tpo in offsets) list.Add(new OffsetToCommit(tpo.TopicPartition, tpo.Offset));
        if (list.Count > 0) Blocking.Wait(() => CommitAsync(list));
    }

    /// <summary>
    /// Kafka's commitSync: a coordinator that is moving (its silo died, it is loading, the call was given up) is tried
    /// again after retry.backoff.ms until default.api.timeout.ms, then the commit fails with a retriable KafkaException.
    /// </summary>
    public async Task CommitAsync(IReadOnlyList<OffsetToCommit> offsets)
    {
        await _commitGate.WaitAsync().ConfigureAwait(false);
        try
        {
            await SendCommitAsync(offsets).ConfigureAwait(false);
        }
        finally
        {
            _commitGate.Release();
        }
    }

    /// <summary>
    /// Commits the stored offsets not yet committed, read once the commits before it are done, so a commit never sends
    /// an older offset than one already sent; returns what it committed.
    /// </summary>
    private async Task<List<OffsetToCommit>> CommitStoredAsync()
    {
        await _commitGate.WaitAsync().ConfigureAwait(false);
        try
        {
            List<OffsetToCommit> offsets;
            lock (_lock) offsets = PendingCommits();
            if (offsets.Count > 0) await SendCommitAsync(offsets).ConfigureAwait(false);
            return offsets;
        }
        finally
        {
            _commitGate.Release();
        }
    }

    private async Task SendCommitAsync(IReadOnlyList<OffsetToCommit> offsets)
    {
        string memberId;
        int generation;
        string? instanceId;
        lock (_lock)
        {
            // A consumer that only assigns partitions by hand commits as a simple consumer (Kafka's generation -1).
            memberId = _topics is null ? "" : _memberId;
            generation = _topics is null ? -1 : _generation;
            instanceId = _topics is null ? null : _settings.GroupInstanceId;
        }
        // A consumer protocol member commits with its member epoch, as OffsetCommit v9 carries it.
        var request = new OffsetCommitRequest(memberId, generation, offsets, instanceId, Version9OrLater: _settings.ConsumerProtocol);
        var started = _time.GetTimestamp();
        OffsetCommitResponse response;
        while (true)
        {
            string reason;
            try
            {
                response = await _calls.Call(_group.OffsetCommit(request)).ConfigureAwait(false);
                if (response.Error is not (ErrorCode.CoordinatorNotAvailable or ErrorCode.NotCoordinator or ErrorCode.CoordinatorLoadInProgress or ErrorCode.RequestTimedOut))
                    break;
                reason = response.ErrorMessage ?? response.Error.ToString();
            }
            catch (Exception ex) when (LeaderCalls.IsTransient(ex))
            {
                reason = $"{ex.GetType().Name}: {ex.Message}";
            }
            if (_time.GetElapsedTime(started).TotalMilliseconds >= _settings.DefaultApiTimeoutMs)
                throw new KafkaRetriableException(new Error(ErrorCode.RequestTimedOut,
                    $"commit timed out after {_settings.DefaultApiTimeoutMs} ms (default.api.timeout.ms); last error: {reason}"));
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, _settings.RetryBackoffMs)), _time).ConfigureAwait(false);
        }
        if (response.Error != ErrorCode.None)
        {
            if (response.Error is ErrorCode.UnknownMemberId or ErrorCode.IllegalGeneration && memberId.Length > 0 && !_settings.ConsumerProtocol)
                lock (_lock) _rejoinNeeded = true;
            throw GroupError(response.Error, response.ErrorMessage ?? $"commit failed: {response.Error}");
        }
        lock (_lock)
            foreach (var o in offsets) _committed[o.TopicPartition] = o.Offset;
    }

    /// <summary>The group's committed offsets (<see cref="Offset.Unset"/> when none) for these partitions.</summary>
    public List<TopicPartitionOffset> Committed(IEnumerable<TopicPartition> partitions, TimeSpan timeout)
    {
        var list = new List<TopicPartition>(partitions);
        var result = new List<TopicPartitionOffset>(list.Count);
        IReadOnlyList<CommittedOffset> committed;
        try
        {
            using var deadline = new CancellationTokenSource(timeout, _time);
            committed = Blocking.Wait(() => FetchCommittedAsync(list, deadline.Token).WaitAsync(timeout));
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            throw GroupError(ErrorCode.RequestTimedOut, $"the committed offsets did not arrive within {timeout}");
        }
        foreach (var c in committed)
            result.Add(new TopicPartitionOffset(c.TopicPartition, c.Offset >= 0 ? c.Offset : Offset.Unset));
        return result;
    }

    /// <summary>The consumer's resolver for a partition without a start offset: the group's committed offset or -1.</summary>
    public async Task<long> CommittedOffsetAsync(TopicPartition tp, CancellationToken cancellationToken)
    {
        lock (_lock)
            if (_knownCommitted.Remove(tp, out var known)) return known;
        var offsets = await FetchCommittedAsync([tp], cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
        return offsets.Count > 0 ? offsets[0].Offset : -1;
    }

    /// <summary>
    /// A read_committed consumer asks for stable offsets (KIP-447's require_stable) and waits while a transaction holds
    /// offsets of these partitions pending: starting from the offset committed before it would copy again what that
    /// transaction is about to commit.
    /// </summary>
    private async Task<IReadOnlyList<CommittedOffset>> FetchCommittedAsync(List<TopicPartition> partitions, CancellationToken cancellationToken)
    {
        var request = new OffsetFetchRequest(partitions, _settings.RequireStableOffsets);
        while (true)
        {
            var response = await _calls.Call(_group.OffsetFetch(request)).ConfigureAwait(false);
            if (response.Error == ErrorCode.None) return response.Offsets;
            if (response.Error != ErrorCode.UnstableOffsetCommit)
                throw GroupError(response.Error, response.ErrorMessage);
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, _settings.RetryBackoffMs)), _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private List<OffsetToCommit> PendingCommits()
    {
        var list = new List<OffsetToCommit>();
        foreach (var (tp, offset) in _stored)
            if (IsPending(tp, offset)) list.Add(new OffsetToCommit(tp, offset));
        return list;
    }

    /// <summary>Whether any stored offset awaits a commit (<see cref="PendingCommits"/> without building the list).</summary>
    private bool HasPendingCommits()
    {
        foreach (var (tp, offset) in _stored)
            if (IsPending(tp, offset)) return true;
        return false;
    }

    private bool IsPending(TopicPartition tp, long offset) =>
        (_topics is null || _owned.Contains(tp)) && (!_committed.TryGetValue(tp, out var c) || c != offset);

    private void TryCommitStored()
    {
        try
        {
            Commit();
        }
        catch (OrleansStreamException)
        {
            // A rebalance fenced the commit; the new owner starts from the last commit (at-least-once).
        }
        catch (ObjectDisposedException ex)
        {
            // As after a fenced commit, the next owner starts from the last commit.
            LogClientDisposed(_settings.GroupId, "the stored offsets are not committed", ex.ObjectName);
        }
    }

    /// <summary>
    /// A consumer blocked in Consume on an idle topic never polls, yet what it returned must still be committed:
    /// when a commit is due, wake Consume so it commits on the application's thread.
    /// </summary>
    private void OnAutoCommitDue()
    {
        bool pending;
        lock (_lock) pending = !_closed && HasPendingCommits();
        if (pending && Interlocked.Exchange(ref _autoCommitWakeup, 1) == 0) _host.Wakeup();
    }

    private void MaybeAutoCommit()
    {
        if (!_settings.EnableAutoCommit) return;
        Volatile.Write(ref _autoCommitWakeup, 0);
        var now = NowMs;
        if (now < _nextAutoCommitMs) return;
        if (_autoCommit is { IsCompleted: false }) return;
        _nextAutoCommitMs = now + _settings.AutoCommitIntervalMs;
        lock (_lock)
            if (!HasPendingCommits()) return;
        _autoCommit = Task.Run(async () =>
        {
            try
            {
                await CommitStoredAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OrleansStreamException or ObjectDisposedException)
            {
                // Retried at the next interval or before a revocation (a disposed client: the consumer is closing).
            }
        });
    }

    // ---- join, sync, heartbeat -------------------------------------------------------------------------------------

    private sealed record JoinSnapshot(string MemberId, List<string> Topics, List<TopicPartition> Owned, int Generation);

    private sealed record JoinOutcome(int Generation, IReadOnlyList<TopicPartition> Partitions, Exception? Error = null, bool Fatal = false);

    private JoinSnapshot SnapshotForJoin()
    {
        lock (_lock)
        {
            var owned = new List<TopicPartition>(_owned);
            owned.Sort(PartitionAssignors.Compare);
            return new JoinSnapshot(_memberId, [.. _topics!], owned, _generation);
        }
    }

    private async Task<JoinOutcome> JoinAndSyncAsync(JoinSnapshot snapshot)
    {
        var memberId = snapshot.MemberId;
        var protocols = new List<JoinGroupProtocol>(_assignors.Count);
        var subscription = new ConsumerProtocolSubscription(snapshot.Topics, snapshot.Owned, snapshot.Generation);
        foreach (var a in _assignors) protocols.Add(new JoinGroupProtocol(a.Name, subscription));
        try
        {
            while (!_closing.IsCancellationRequested)
            {
                var join = await _calls.Call(_group.JoinGroup(new JoinGroupRequest(memberId, _settings.ClientId, _settings.SessionTimeoutMs,
                    _settings.MaxPollIntervalMs, GroupKeys.ConsumerProtocolType, protocols, GroupInstanceId: _settings.GroupInstanceId)), RebalanceWait).ConfigureAwait(false);
                switch (join.Error)
                {
                    case ErrorCode.None:
                        break;
                    case ErrorCode.MemberIdRequired:
                        // KIP-394: the coordinator issued our id; we become a member by rejoining with it.
                        memberId = join.MemberId;
                        continue;
                    case ErrorCode.UnknownMemberId:
                        memberId = "";
                        SetMember("", -1);
                        continue;
                    case ErrorCode.RebalanceInProgress or ErrorCode.NotCoordinator or ErrorCode.CoordinatorNotAvailable:
                        await Task.Delay(_settings.RetryBackoffMs, _closing.Token).ConfigureAwait(false);
                        continue;
                    default:
                        return new JoinOutcome(-1, [], GroupError(join.Error, join.ErrorMessage), Fatal: true);
                }
                memberId = join.MemberId;
                SetMember(memberId, join.GenerationId);

                IReadOnlyDictionary<string, ConsumerProtocolAssignment>? assignments = null;
                if (join.IsLeader) assignments = await AssignAsync(join).ConfigureAwait(false);

                var sync = await _calls.Call(_group.SyncGroup(new SyncGroupRequest(memberId, join.GenerationId, assignments, _settings.GroupInstanceId)), RebalanceWait).ConfigureAwait(false);
                switch (sync.Error)
                {
                    case ErrorCode.None:
                        return new JoinOutcome(join.GenerationId, sync.Assignment?.Partitions ?? []);
                    case ErrorCode.UnknownMemberId:
                        memberId = "";
                        SetMember("", -1);
                        continue;
                    // CoordinatorNotAvailable: the group was being removed (Kafka's Dead group); the join again finds the next one.
                    case ErrorCode.RebalanceInProgress or ErrorCode.IllegalGeneration or ErrorCode.NotCoordinator or ErrorCode.CoordinatorNotAvailable:
                        continue;
                    default:
                        return new JoinOutcome(-1, [], GroupError(sync.Error, sync.ErrorMessage), Fatal: true);
                }
            }
            return new JoinOutcome(-1, [], new OperationCanceledException("the consumer is closing"));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A transient failure (the coordinator's silo died, a timeout): Poll rejoins.
            return new JoinOutcome(-1, [], ex);
        }
        finally
        {
            lock (_lock) _joinInFlight = false;
        }
    }

    private void SetMember(string memberId, int generation)
    {
        lock (_lock)
        {
            _memberId = memberId;
            _generation = generation;
        }
    }

    /// <summary>The leader's job: partition counts of every subscribed topic, then the agreed assignor.</summary>
    private async Task<IReadOnlyDictionary<string, ConsumerProtocolAssignment>> AssignAsync(JoinGroupResponse join)
    {
        var assignor = _assignors[0];
        foreach (var a in _assignors)
            if (a.Name == join.ProtocolName) { assignor = a; break; }
        var subscriptions = new Dictionary<string, ConsumerProtocolSubscription>(StringComparer.Ordinal);
        var topics = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var m in join.Members)
        {
            subscriptions[m.MemberId] = m.Metadata;
            foreach (var t in m.Metadata.Topics) topics.Add(t);
        }
        var counts = await PartitionCountsAsync(topics).ConfigureAwait(false);
        lock (_lock)
        {
            _leaderPartitionCounts = counts;
            _nextMetadataCheckMs = NowMs + _settings.MetadataMaxAgeMs;
        }
        var result = assignor.Assign(counts, subscriptions);
        var assignments = new Dictionary<string, ConsumerProtocolAssignment>(result.Count, StringComparer.Ordinal);
        foreach (var (member, partitions) in result) assignments[member] = new ConsumerProtocolAssignment(partitions);
        return assignments;
    }

    private async Task<Dictionary<string, int>> PartitionCountsAsync(IEnumerable<string> topics)
    {
        var metadata = await _calls.Call(_controller.GetMetadata(new MetadataRequest([.. topics]))).ConfigureAwait(false);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in metadata.Topics)
            if (t.Error == ErrorCode.None && t.Partitions.Count > 0) counts[t.Name] = t.Partitions.Count;
        return counts;
    }

    private async Task HeartbeatLoopAsync()
    {
        var token = _closing.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(_settings.HeartbeatIntervalMs), _time, token).ConfigureAwait(false);
                string memberId;
                int generation;
                bool checkMetadata;
                lock (_lock)
                {
                    memberId = _memberId;
                    generation = _generation;
                    checkMetadata = _leaderPartitionCounts is not null && NowMs >= _nextMetadataCheckMs;
                }
                if (memberId.Length == 0 || generation < 0) continue;

                if (NowMs - Volatile.Read(ref _lastPollMs) > _settings.MaxPollIntervalMs)
                {
                    // Kafka's max.poll.interval.ms: a consumer that stopped polling leaves, so its partitions move on; a static
                    // member only forgets its membership (KIP-345), and the session timeout moves its partitions.
                    if (_settings.GroupInstanceId is null)
                        await _calls.Call(_group.LeaveGroup(new LeaveGroupRequest(memberId, "consumer poll timeout has expired"))).ConfigureAwait(false);
                    MarkLost();
                    continue;
                }

                var response = await _calls.Call(_group.Heartbeat(new HeartbeatRequest(memberId, generation, _settings.GroupInstanceId))).ConfigureAwait(false);
                switch (response.Error)
                {
                    case ErrorCode.None:
                        break;
                    case ErrorCode.RebalanceInProgress:
                    case ErrorCode.IllegalGeneration:
                        RequestRejoin(lost: response.Error == ErrorCode.IllegalGeneration);
                        break;
                    case ErrorCode.UnknownMemberId:
                        MarkLost();
                        break;
                    case ErrorCode.FencedInstanceId:
                        // KIP-345: another consumer joined with our group.instance.id; fatal, as in Kafka.
                        Volatile.Write(ref _fatal, GroupError(response.Error, response.ErrorMessage));
                        MarkLost();
                        break;
                }
                if (checkMetadata) await CheckPartitionCountsAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                if (HeartbeatLoopEnds(ex, token)) return;
            }
        }
    }

    /// <summary>What a heartbeat loop (either protocol's) does with a failed heartbeat: true when the loop ends.</summary>
    private bool HeartbeatLoopEnds(Exception ex, CancellationToken token)
    {
        switch (ex)
        {
            case OperationCanceledException when token.IsCancellationRequested:
                return true;
            case ObjectDisposedException disposed:
                // The application disposed the Orleans client under the consumer: the consumer is closing, and no
                // heartbeat can reach the group any more.
                LogClientDisposed(_settings.GroupId, "the heartbeat stops", disposed.ObjectName);
                return true;
            default:
                // The coordinator may be moving to another silo; the next heartbeat finds it.
                LogHeartbeatFailed(ex, _settings.GroupId);
                return false;
        }
    }

    /// <summary>The leader rejoins when a subscribed topic gained partitions, which makes the group rebalance.</summary>
    private async Task CheckPartitionCountsAsync()
    {
        Dictionary<string, int>? known;
        lock (_lock)
        {
            known = _leaderPartitionCounts;
            _nextMetadataCheckMs = NowMs + _settings.MetadataMaxAgeMs;
        }
        if (known is null) return;
        var now = await PartitionCountsAsync(known.Keys).ConfigureAwait(false);
        foreach (var (topic, count) in now)
        {
            if (known.TryGetValue(topic, out var before) && before == count) continue;
            RequestRejoin(lost: false);
            return;
        }
    }

    private void RequestRejoin(bool lost)
    {
        lock (_lock)
        {
            // A heartbeat answered during our own join only reports the rebalance we are already in.
            if (_joinInFlight && !lost) return;
            _rejoinNeeded = true;
            if (lost) _lost = true;
            _leaderPartitionCounts = null;
        }
        _host.Wakeup();
    }

    private void MarkLost()
    {
        lock (_lock)
        {
            _memberId = "";
            _generation = -1;
            _lost = true;
            _rejoinNeeded = true;
            _leaderPartitionCounts = null;
        }
        _host.Wakeup();
    }

    private void LeaveGroup(string reason)
    {
        if (_settings.ConsumerProtocol)
        {
            LeaveConsumerGroup();
            return;
        }
        string memberId;
        lock (_lock)
        {
            memberId = _memberId;
            _memberId = "";
            _generation = -1;
            _leaderPartitionCounts = null;
        }
        // KIP-345: a static member never sends LeaveGroup; its place waits for its restart until the session timeout.
        if (memberId.Length == 0 || _settings.GroupInstanceId is not null) return;
        try
        {
            Blocking.Wait(() => _calls.Call(_group.LeaveGroup(new LeaveGroupRequest(memberId, reason))));
        }
        catch (ObjectDisposedException ex)
        {
            LogClientDisposed(_settings.GroupId, "the member does not leave; its session expires", ex.ObjectName);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Leaving is a courtesy: the session timeout removes the member anyway.
            LogLeaveFailed(ex, _settings.GroupId);
        }
    }

    /// <summary>Kafka's close: commit (with auto commit), revoke, leave the group, stop the heartbeat.</summary>
    public void Close()
    {
        lock (_lock)
        {
            if (_closed) return;
            _closed = true;
        }
        try
        {
            RevokeAll(commit: true);
            _autoCommit?.Wait(TimeSpan.FromMilliseconds(_settings.SessionTimeoutMs));
        }
        finally
        {
            _closing.Cancel();
            _autoCommitTimer?.Dispose();
            LeaveGroup("the consumer is being closed");
        }
    }

    private static KafkaException GroupError(ErrorCode code, string? message) =>
        new(new Error(code, string.IsNullOrEmpty(message) ? code.ToString() : message));

    public void Dispose()
    {
        lock (_lock)
        {
            if (_closed) return;
            _closed = true;
        }
        _closing.Cancel();
        _autoCommitTimer?.Dispose();
        LeaveGroup("the consumer was disposed");
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId}: the Orleans client ({ObjectName}) was disposed; {Consequence}")]
    private partial void LogClientDisposed(string groupId, string consequence, string objectName);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId}: a heartbeat failed; the next one tries again")]
    private partial void LogHeartbeatFailed(Exception exception, string groupId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId}: LeaveGroup failed; the session timeout removes the member")]
    private partial void LogLeaveFailed(Exception exception, string groupId);
}
