using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Diagnostics;
using OrleansStream.Server.Groups.Consumer;
using OrleansStream.Server.Transactions;

namespace OrleansStream.Server.Groups;

/// <summary>
/// Kafka's group coordinator for one group: the Orleans side of a <see cref="ClassicGroup"/> (membership and rebalances
/// of the classic protocol), of a <see cref="ConsumerGroup"/> (the consumer protocol, KIP-848: the coordinator assigns)
/// and of its <see cref="OffsetMetadataManager"/> (committed offsets). A group with members is of one kind: the other
/// protocol's calls are refused until it is empty, as Kafka refuses them without its online migration. It holds grain
/// storage, the expiration timer, the partition checks and the group directory. The group's metadata (generation, leader, members and their assignment)
/// and its committed offsets are persisted, so the activation that takes over after a failover keeps the members in
/// their generation, as a Kafka coordinator that loads the group from <c>__consumer_offsets</c> does.
/// The group's configs (KIP-848, <see cref="GroupConfigs"/>) are a second record of its own (<see cref="GroupConfigState"/>),
/// which the group's removal leaves in place.
/// Join and Sync long-poll and interleave; every state change happens between awaits, so the turns stay consistent.
/// A deactivation answers the parked Join and Sync calls at once (<see cref="IDeactivationListener"/>): Orleans waits
/// for running requests before it deactivates, and every call to the group waits behind them.
/// </summary>
[GrainType("os-group")]
internal sealed partial class ConsumerGroupGrain : Grain, IConsumerGroupGrain, ITxnOffsetsGrain, IDeactivationListener
{
    private readonly IPersistentState<ConsumerGroupState> _state;
    private readonly IPersistentState<GroupConfigState> _configs;
    private readonly ConsumerGroupOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ConsumerGroupGrain> _logger;
    private readonly SiloDepartures _departures;
    private readonly PartitionExistence _partitions;
    private readonly TransactionVerifier _verifications;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private ClassicGroup _group = null!;
    private ConsumerGroup _consumer = null!;
    private OffsetMetadataManager _offsets = null!;
    private IGrainTimer? _expirationTimer;
    private ConsumerLagProbe? _lag;

    public ConsumerGroupGrain(
        [PersistentState("group", OrleansStreamDefaults.GrainStorageName)] IPersistentState<ConsumerGroupState> state,
        [PersistentState("groupconfig", OrleansStreamDefaults.GrainStorageName)] IPersistentState<GroupConfigState> configs,
        IOptions<ConsumerGroupOptions> options,
        IServiceProvider services,
        IGrainFactory grains,
        ILogger<ConsumerGroupGrain> logger)
    {
        _state = state;
        _configs = configs;
        _options = options.Value;
        _time = services.GetKeyedService<TimeProvider>(ConsumerGroupOptions.TimeProviderKey) ?? services.GetService<TimeProvider>() ?? TimeProvider.System;
        _logger = logger;
        _departures = services.GetRequiredService<SiloDepartures>();
        _authorizer = services.GetService<Security.Authorization.KafkaAuthorizer>();
        _partitions = new PartitionExistence(grains, _departures);
        _verifications = new TransactionVerifier(grains, _departures, services.GetRequiredService<IOptions<TransactionCoordinatorOptions>>());
    }

    // The broker's authorizer, when the Kafka listener is there: a consumer group member's regex matches only topics its
    // principal may DESCRIBE.
    private readonly Security.Authorization.KafkaAuthorizer? _authorizer;

    private static Func<string, string, string, bool>? DescribeCheck(Security.Authorization.KafkaAuthorizer? authorizer) =>
        authorizer is { IsEnabled: true }
            ? (principal, host, topic) => authorizer.IsAllowed(principal, host, Security.Authorization.AclOperation.Describe, Security.Authorization.AclResourceType.Topic, topic)
            : null;

    private string GroupId => this.GetPrimaryKeyString();

    private bool Exists => _group.MemberCount > 0 || _consumer.MemberCount > 0 || !_offsets.IsEmpty || _state.State.Registered || _state.RecordExists;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _group = new ClassicGroup(GroupId, _options, _time, _logger, PersistAsync);
        _group.Load(_state.State.GenerationId, _state.State.EmptySinceMs, _state.State.ProtocolName, _state.RecordExists, _state.State.Membership,
            _state.State.ProtocolType);
        _consumer = new ConsumerGroup(GroupId, _options, _time, DescribeCheck(_authorizer));
        // Before the load, which starts the stored members' sessions with the group's timeout.
        _consumer.Settings = GroupConfigs.Effective(_configs.State.Configs, _options);
        _consumer.Load(_state.State.ConsumerGroup);
        _offsets = new OffsetMetadataManager(_group, _consumer, _options, _time, PersistAsync);
        _offsets.Load(_state.State.Offsets, _state.State.TxnOffsets);
        var interval = TimeSpan.FromMilliseconds(_options.ExpirationCheckIntervalMs);
        // Interleaved: Join and Sync wait across turns for exactly what this timer completes.
        _expirationTimer = this.RegisterGrainTimer(static (self, _) => self.CheckExpirationsAsync(), this,
            new GrainTimerCreationOptions(interval, interval) { Interleave = true });
        _lag = new ConsumerLagProbe(this, GrainFactory, ServiceProvider.GetRequiredService<OrleansStreamMetrics>(), _offsets.Offsets);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Kafka's coordinator unloading the group: waiting joins and syncs are answered <see cref="ErrorCode.NotCoordinator"/>,
    /// so the members find the next activation, which loads what was stored. The timer stops first: with no member
    /// waiting any more, a rebalance deadline that passed would remove them all and store that.
    /// </summary>
    public void OnDeactivating()
    {
        _expirationTimer?.Dispose();
        _group?.Unload();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _lag?.Dispose();
        OnDeactivating();
        // A write still on its way (the group stored after a join completed) lands before the next activation loads.
        await _writeLock.WaitAsync(cancellationToken);
        _writeLock.Release();
    }

    // ---- membership ---------------------------------------------------------------------------------------------

    // A consumer group with members serves classic members too (Kafka 4, whatever group.consumer.migration.policy says).

    public Task<JoinGroupResponse> JoinGroup(JoinGroupRequest request) =>
        _consumer.MemberCount > 0 ? JoinConsumerGroupAsync(request) : _group.Join(request);

    public Task<SyncGroupResponse> SyncGroup(SyncGroupRequest request) =>
        _consumer.MemberCount > 0 ? Task.FromResult(_consumer.ClassicSync(request)) : _group.Sync(request);

    public Task<GroupResponse> Heartbeat(HeartbeatRequest request) =>
        Task.FromResult(_consumer.MemberCount > 0 ? _consumer.ClassicHeartbeat(request) : _group.Heartbeat(request));

    public async Task<GroupResponse> LeaveGroup(LeaveGroupRequest request)
    {
        if (_consumer.MemberCount == 0) return _group.Leave(request);
        var answer = await LeaveConsumerGroupAsync([request]);
        return answer.Error != ErrorCode.None ? new GroupResponse(answer.Error, answer.ErrorMessage) : answer.Members[0];
    }

    public async Task<LeaveGroupMembersResponse> LeaveGroupMembers(IReadOnlyList<LeaveGroupRequest> members) =>
        _consumer.MemberCount > 0 ? await LeaveConsumerGroupAsync(members) : _group.Leave(members);

    /// <summary>
    /// Kafka's <c>classicGroupJoinToConsumerGroup</c>: the member is made or updated in the consumer group and
    /// reconciled, and the group is stored before the answer, which comes at once (no barrier: the coordinator assigns).
    /// </summary>
    private async Task<JoinGroupResponse> JoinConsumerGroupAsync(JoinGroupRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var memberId = string.IsNullOrEmpty(request.MemberId) ? Guid.NewGuid().ToString() : request.MemberId;
        if (!_group.IdFitsKafka) return ClassicGroup.JoinError(ErrorCode.InvalidGroupId, request.MemberId ?? "", ClassicGroup.GroupIdTooLong);
        if (request.SessionTimeoutMs < _options.GroupMinSessionTimeoutMs || request.SessionTimeoutMs > _options.GroupMaxSessionTimeoutMs)
            return ClassicGroup.JoinError(ErrorCode.InvalidSessionTimeout, request.MemberId ?? "",
                $"session.timeout.ms {request.SessionTimeoutMs} is outside [{_options.GroupMinSessionTimeoutMs}, {_options.GroupMaxSessionTimeoutMs}]");
        if (_consumer.ValidateClassicJoin(request, memberId) is { } refused) return refused;
        IReadOnlyDictionary<string, SubscribedTopic>? refreshed = null;
        if (_consumer.TopicsToRefresh(request, memberId) is { } refresh)
        {
            try
            {
                refreshed = await LookUpTopicsAsync(refresh.Names);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogTopicLookupFailed(ex, GroupId);
                return ClassicGroup.JoinError(ErrorCode.CoordinatorNotAvailable, request.MemberId ?? "", $"the subscribed topics could not be looked up: {ex.Message}");
            }
            // The lookup awaited: the consumer group may have lost its members (a classic group takes the join then), or changed.
            if (_consumer.MemberCount == 0) return await _group.Join(request);
            if (_consumer.ValidateClassicJoin(request, memberId) is { } late) return late;
        }
        var response = _consumer.ClassicJoin(request, memberId, refreshed);
        TakeDowngrade();
        _group.Revive();
        return await StoreBeforeAnswerAsync() is { } failed ? ClassicGroup.JoinError(ErrorCode.CoordinatorNotAvailable, response.MemberId, failed) : response;
    }

    /// <summary>Kafka's <c>classicGroupLeaveToConsumerGroup</c>: the group is stored before the answer when a member left.</summary>
    private async Task<LeaveGroupMembersResponse> LeaveConsumerGroupAsync(IReadOnlyList<LeaveGroupRequest> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        var (response, changed) = _consumer.ClassicLeave(members);
        if (!changed) return response;
        return await StoreBeforeAnswerAsync() is { } failed ? new LeaveGroupMembersResponse(ErrorCode.CoordinatorNotAvailable, [], failed) : response;
    }

    /// <summary>
    /// Stores the group before a membership answer, as Kafka writes its records first; null when stored, else why not.
    /// A failed write deactivates the grain, so the next activation holds what was stored.
    /// </summary>
    private async Task<string?> StoreBeforeAnswerAsync()
    {
        try
        {
            await PersistAsync();
            return null;
        }
        catch (Exception ex)
        {
            LogConsumerGroupStoreFailed(ex, GroupId);
            DeactivateOnIdle();
            return $"the group could not be stored: {ex.Message}";
        }
    }

    /// <summary>A consumer group whose last consumer protocol member went is a classic group of the members left (Kafka's downgrade).</summary>
    private void TakeDowngrade()
    {
        if (_consumer.TakeDowngrade() is { } downgrade) _group.TakeOver(downgrade);
    }

    // ---- the consumer protocol (KIP-848) ------------------------------------------------------------------------

    /// <summary>
    /// Kafka's ConsumerGroupHeartbeat. The partitions of the subscribed topics are asked of the controller when the
    /// group's view of them is due (a new subscription, or <see cref="ConsumerGroupOptions.ConsumerMetadataRefreshIntervalMs"/>);
    /// the group then changes in one turn, and a change is stored before the member is answered, as Kafka writes its
    /// records first. A failed write answers CoordinatorNotAvailable and deactivates, so the next activation holds what
    /// was stored.
    /// </summary>
    public async Task<ConsumerGroupHeartbeatResponse> ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!_group.IdFitsKafka) return ConsumerGroupHeartbeatResponse.Failed(ErrorCode.InvalidGroupId, ClassicGroup.GroupIdTooLong);
        if (ConsumerGroup.Validate(request) is { } invalid) return invalid;
        if (Refusal() is { } refused) return refused;
        IReadOnlyDictionary<string, SubscribedTopic>? refreshed = null;
        // An upgrade looks at every topic: the classic members' subscriptions and assignments name theirs.
        var upgrading = _group.MemberCount > 0;
        if ((upgrading ? new TopicRefresh(null) : _consumer.TopicsToRefresh(request)) is { } refresh)
        {
            try
            {
                refreshed = await LookUpTopicsAsync(refresh.Names);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogTopicLookupFailed(ex, GroupId);
                return ConsumerGroupHeartbeatResponse.Failed(ErrorCode.CoordinatorNotAvailable, $"the subscribed topics could not be looked up: {ex.Message}", request.MemberId);
            }
            // The lookup awaited: a classic member may have joined, or the group's removal begun.
            if (Refusal() is { } late) return late;
            if (_group.MemberCount > 0 && !upgrading)
                return ConsumerGroupHeartbeatResponse.Failed(ErrorCode.CoordinatorNotAvailable, "classic members joined the group meanwhile", request.MemberId);
        }
        var converted = _group.MemberCount > 0;
        if (converted)
        {
            // Kafka's convertToConsumerGroup: the classic members go on in the consumer group, and this member joins it.
            _consumer.LoadFromClassic(_group.HandOver(), refreshed!);
        }
        var (response, changed) = _consumer.Heartbeat(request, refreshed);
        TakeDowngrade();
        // A conversion is stored even when the member itself is refused (the group is full): the classic members go on in it.
        if (!changed && !converted) return response;
        _group.Revive();
        return await StoreBeforeAnswerAsync() is { } failed
            ? ConsumerGroupHeartbeatResponse.Failed(ErrorCode.CoordinatorNotAvailable, failed, request.MemberId)
            : response;

        // Kafka's getOrMaybeCreateConsumerGroup: a classic group with members is upgraded by a member's first heartbeat
        // when validateOnlineUpgrade allows it, and is otherwise not a consumer group.
        ConsumerGroupHeartbeatResponse? Refusal() =>
            _group.IsBeingRemoved ? ConsumerGroupHeartbeatResponse.Failed(ErrorCode.CoordinatorNotAvailable, "the group is being removed", request.MemberId)
            : _group.MemberCount > 0 && !(request.MemberEpoch == 0 && ConsumerGroup.CanUpgrade(_options, _group.ProtocolType, _group.MemberCount))
            ? ConsumerGroupHeartbeatResponse.Failed(ErrorCode.GroupIdNotFound, $"Group {GroupId} is not a consumer group.", request.MemberId)
            : null;
    }

    /// <summary>Each topic named (every topic for null) that exists, with its id and partition count, from the controller's metadata.</summary>
    private async Task<Dictionary<string, SubscribedTopic>> LookUpTopicsAsync(List<string>? topics)
    {
        var found = new Dictionary<string, SubscribedTopic>(StringComparer.Ordinal);
        if (topics is { Count: 0 }) return found;
        var metadata = await _departures.Call(GrainFactory.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).GetMetadata(new MetadataRequest(topics)));
        foreach (var t in metadata.Topics)
            if (t.Error == ErrorCode.None) found[t.Name] = new SubscribedTopic(t.TopicId, t.Partitions.Count);
        return found;
    }

    /// <summary>
    /// Kafka's ConsumerGroupDescribe: a consumer group with members, or one without that was last a consumer group;
    /// GroupIdNotFound for a classic group or none.
    /// </summary>
    public Task<ConsumerGroupDescribeResult> DescribeConsumerGroup()
    {
        if (_consumer.MemberCount > 0 || Exists && _group.MemberCount == 0 && _consumer.GroupEpoch > 0 && !_group.IsBeingRemoved)
            return Task.FromResult(_consumer.Describe());
        var message = Exists && !_group.IsBeingRemoved ? $"Group {GroupId} is not a consumer group." : $"Group {GroupId} not found.";
        return Task.FromResult(new ConsumerGroupDescribeResult(GroupId, ErrorCode.GroupIdNotFound, message, "Dead", -1, -1, "", []));
    }

    /// <summary>Evicts members whose session expired, completes rebalances whose deadline passed, expires offsets.</summary>
    private async Task CheckExpirationsAsync()
    {
        try
        {
            _group.CheckExpirations();
            if (_consumer.CheckExpirations())
            {
                TakeDowngrade();
                await PersistAsync();
            }
            var expired = _offsets.RemoveExpiredOffsets();
            if (expired == 0) return;
            LogOffsetsExpired(GroupId, expired);
            if (_offsets.IsEmpty)
                await RemoveGroupAsync();
            else
                await PersistAsync();
        }
        catch (Exception ex)
        {
            LogExpirationFailed(ex, GroupId);
        }
    }

    // ---- offsets ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Kafka's TxnOffsetCommit: the offsets wait, pending for the producer, for its transaction's marker. KIP-447 member
    /// and generation checks; the producer's epoch is fenced; a transaction's first TxnOffsetCommit here is verified
    /// with its coordinator (KIP-890 part 1), so a late one of a completed transaction is not held for the next.
    /// </summary>
    public async Task<OffsetCommitResponse> TxnOffsetCommit(TxnOffsetCommitRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!_group.IdFitsKafka) return new OffsetCommitResponse(ErrorCode.InvalidGroupId, [], ClassicGroup.GroupIdTooLong);
        if (string.IsNullOrEmpty(request.TransactionalId) || request.ProducerId < 0 || request.ProducerEpoch < 0)
            return new OffsetCommitResponse(ErrorCode.InvalidRequest, [], "TxnOffsetCommit needs a transactional id, a producer id and an epoch");
        var offsets = request.Offsets ?? [];
        if (ValidateTxnCommit(request) is { } fenced) return fenced;
        var (valid, refused) = await CheckOffsetsAsync(offsets);
        if (refused is not null && valid.Count == 0) return PartlyRefused(offsets, refused);
        if (!_offsets.HasPendingTxnOffsets(request.ProducerId, request.ProducerEpoch))
        {
            // Kafka's genericError for TxnOffsetCommit v4+, defaultError before: a group not in the transaction is
            // TransactionAbortable or InvalidTxnState.
            var (error, guard) = await _verifications.VerifyAsync(request.TransactionalId, request.ProducerId, request.ProducerEpoch, TxnParticipant.OfGroup(GroupId),
                request.TakesTransactionAbortable, request.AddsGroupToTxn);
            // The partition's retriable NotEnoughReplicas is no group answer; Kafka's TxnOffsetCommit retries on this one.
            if (error == ErrorCode.NotEnoughReplicas) error = ErrorCode.CoordinatorLoadInProgress;
            if (error != ErrorCode.None)
                return new OffsetCommitResponse(error, [], $"group '{GroupId}' is not in the open transaction of '{request.TransactionalId}': {error}");
            if (!_verifications.IsStillValid(request.ProducerId, guard!))
                return new OffsetCommitResponse(ErrorCode.InvalidTxnState, [], $"the transaction of producer {request.ProducerId} ended while it was verified");
        }
        // The checks above awaited: the group or the producer may have moved on meanwhile.
        if (ValidateTxnCommit(request) is { } late) return late;
        if (valid.Count == 0) return new OffsetCommitResponse(ErrorCode.None, []);
        _group.Revive();
        try
        {
            await _offsets.TxnCommitAsync(request.ProducerId, request.ProducerEpoch, valid);
        }
        catch (Exception ex)
        {
            LogCommitFailed(ex, GroupId);
            return new OffsetCommitResponse(ErrorCode.CoordinatorNotAvailable, [], $"the group's offsets could not be stored: {ex.Message}");
        }
        return refused is null ? new OffsetCommitResponse(ErrorCode.None, []) : PartlyRefused(offsets, refused);
    }

    private OffsetCommitResponse? ValidateTxnCommit(TxnOffsetCommitRequest request)
    {
        if (_offsets.ValidateTxnCommitter(request, Exists) is { } refused) return refused;
        return _offsets.CheckTxnProducer(request.ProducerId, request.ProducerEpoch) is var fenced && fenced != ErrorCode.None
            ? new OffsetCommitResponse(fenced, [], $"producer {request.ProducerId} epoch {request.ProducerEpoch} is fenced by a newer epoch")
            : null;
    }

    public async Task<ErrorCode> WriteTxnMarker(long producerId, short producerEpoch, int coordinatorEpoch, bool commit)
    {
        var error = _offsets.CheckTxnMarker(producerId, producerEpoch, coordinatorEpoch);
        if (error != ErrorCode.None) return error;
        _verifications.OnMarker(producerId);
        _group.Revive();
        try
        {
            await _offsets.CompleteTxnAsync(producerId, producerEpoch, coordinatorEpoch, commit);
        }
        catch (Exception ex)
        {
            LogCommitFailed(ex, GroupId);
            return ErrorCode.CoordinatorNotAvailable;
        }
        LogTxnCompleted(GroupId, producerId, commit ? "committed" : "aborted");
        return ErrorCode.None;
    }

    public async Task<OffsetCommitResponse> OffsetCommit(OffsetCommitRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!_group.IdFitsKafka) return new OffsetCommitResponse(ErrorCode.InvalidGroupId, [], ClassicGroup.GroupIdTooLong);
        var offsets = request.Offsets ?? [];
        var error = _offsets.ValidateCommitter(request, Exists);
        if (error is not null) return error;

        var (valid, refused) = await CheckOffsetsAsync(offsets);

        // The checks above awaited: the group may have moved on meanwhile.
        error = _offsets.ValidateCommitter(request, Exists);
        if (error is not null) return error;
        return await StoreAsync(offsets, valid, refused);
    }

    public async Task<OffsetCommitResponse> ResetOffsets(IReadOnlyList<OffsetToCommit> offsets)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        // Members of either protocol: a consumer group's (KIP-848) commit with their member epochs as classic members do.
        if (_group.MemberCount + _consumer.MemberCount is > 0 and var members)
            return new OffsetCommitResponse(ErrorCode.NonEmptyGroup, [],
                $"group '{GroupId}' has {members} active members; offsets can only be reset while it is empty");
        var (valid, refused) = await CheckOffsetsAsync(offsets);
        if (_group.MemberCount + _consumer.MemberCount > 0)
            return new OffsetCommitResponse(ErrorCode.NonEmptyGroup, [], $"group '{GroupId}' gained members during the reset");
        return await StoreAsync(offsets, valid, refused);
    }

    /// <summary>
    /// Kafka's checks of each partition of a commit, which refuse that partition alone: one that does not exist
    /// (UnknownTopicOrPartition, from the controller's metadata) or metadata over <c>offset.metadata.max.bytes</c>
    /// (OffsetMetadataTooLarge). The offset itself is not checked against the log. Controller unreachable:
    /// CoordinatorNotAvailable for every partition and the request, so the client retries.
    /// </summary>
    private async Task<(List<OffsetToCommit> Valid, List<PartitionError>? Refused)> CheckOffsetsAsync(IReadOnlyList<OffsetToCommit> offsets)
    {
        var refused = _offsets.ValidateOffsets(offsets);
        var valid = new List<OffsetToCommit>(offsets.Count);
        foreach (var o in offsets)
            if (refused is null || !IsRefused(refused, o)) valid.Add(o);
        HashSet<TopicPartition>? unknown;
        try
        {
            unknown = await _partitions.FindUnknownAsync(valid);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogPartitionCheckFailed(ex, GroupId);
            refused = new List<PartitionError>(offsets.Count);
            foreach (var o in offsets)
                refused.Add(new PartitionError(o?.TopicPartition ?? default, ErrorCode.CoordinatorNotAvailable, $"the partitions could not be checked: {ex.Message}"));
            return ([], refused);
        }
        if (unknown is null) return (valid, refused);
        for (var i = valid.Count - 1; i >= 0; i--)
        {
            if (!unknown.Contains(valid[i].TopicPartition)) continue;
            (refused ??= []).Add(new PartitionError(valid[i].TopicPartition, ErrorCode.UnknownTopicOrPartition, $"{valid[i].TopicPartition} does not exist"));
            valid.RemoveAt(i);
        }
        return (valid, refused);
    }

    private static bool IsRefused(List<PartitionError> refused, OffsetToCommit o)
    {
        foreach (var e in refused)
            if (o is null || e.TopicPartition == o.TopicPartition) return true;
        return false;
    }

    /// <summary>Every partition asked with its own error: the refused ones theirs, the committed ones None.</summary>
    private static OffsetCommitResponse PartlyRefused(IReadOnlyList<OffsetToCommit> offsets, List<PartitionError> refused)
    {
        var all = new List<PartitionError>(offsets.Count);
        foreach (var o in offsets)
        {
            var error = ErrorCode.None;
            string? message = null;
            foreach (var e in refused)
                if (o is null || e.TopicPartition == o.TopicPartition) (error, message) = (e.Error, e.ErrorMessage);
            all.Add(new PartitionError(o?.TopicPartition ?? default, error, message));
        }
        return new OffsetCommitResponse(refused[0].Error, all, refused[0].ErrorMessage);
    }

    private async Task<OffsetCommitResponse> StoreAsync(IReadOnlyList<OffsetToCommit> asked, List<OffsetToCommit> offsets, List<PartitionError>? refused)
    {
        var done = refused is null ? new OffsetCommitResponse(ErrorCode.None, []) : PartlyRefused(asked, refused);
        if (offsets.Count == 0) return done;
        _group.Revive();   // a commit creates the group again, as in Kafka
        try
        {
            await _offsets.CommitAsync(offsets);
        }
        catch (Exception ex)
        {
            LogCommitFailed(ex, GroupId);
            return new OffsetCommitResponse(ErrorCode.CoordinatorNotAvailable, [], $"the group's offsets could not be stored: {ex.Message}");
        }
        _lag?.Committed(offsets);
        return done;
    }

    public Task<OffsetFetchResponse> OffsetFetch(OffsetFetchRequest request)
    {
        if (request is { RequireStable: true } && _offsets.HasPendingOffsets(request.Partitions))
            return Task.FromResult(new OffsetFetchResponse(ErrorCode.UnstableOffsetCommit, [],
                $"group '{GroupId}' has offsets pending in an open transaction for the partitions asked"));
        if (_consumer.MemberCount > 0 && _consumer.ValidateOffsetFetch(request?.MemberId, request?.MemberEpoch ?? -1) is { } stale)
            return Task.FromResult(stale);
        var list = _offsets.Fetch(request?.Partitions);
        var error = request?.Partitions is null && (!Exists || _group.IsBeingRemoved) ? ErrorCode.GroupIdNotFound : ErrorCode.None;
        return Task.FromResult(new OffsetFetchResponse(error, list, error == ErrorCode.None ? null : $"group '{GroupId}' does not exist"));
    }

    // ---- admin --------------------------------------------------------------------------------------------------

    public Task<GroupDescription> Describe() =>
        Task.FromResult(_consumer.MemberCount > 0 ? _consumer.DescribeAsClassic()
            : Exists
            ? _group.Describe()
            : new GroupDescription(GroupId, ErrorCode.GroupIdNotFound, GroupState.Dead, "", null, -1, null, []));

    public async Task<GroupResponse> DeleteGroup()
    {
        if (_group.MemberCount + _consumer.MemberCount > 0)
            return new GroupResponse(ErrorCode.NonEmptyGroup, $"group '{GroupId}' has {_group.MemberCount + _consumer.MemberCount} active members");
        if (!Exists || _group.IsBeingRemoved)
            return new GroupResponse(ErrorCode.GroupIdNotFound, $"group '{GroupId}' does not exist");
        try
        {
            await RemoveGroupAsync();
        }
        catch (Exception ex)
        {
            LogRemoveFailed(ex, GroupId);
            return new GroupResponse(ErrorCode.CoordinatorNotAvailable, $"the group's removal could not be stored: {ex.Message}");
        }
        return GroupResponse.Ok;
    }

    public async Task<DeleteOffsetsResponse> DeleteOffsets(IReadOnlyList<TopicPartition> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        if (!Exists || _group.State == GroupState.Dead)
            return new DeleteOffsetsResponse(ErrorCode.GroupIdNotFound, [], $"group '{GroupId}' does not exist");
        // Kafka's handleDeleteOffsets: a group with members that is not a consumer group has no subscriptions to check.
        if (_group.MemberCount > 0 && !_group.IsConsumerGroup)
            return new DeleteOffsetsResponse(ErrorCode.NonEmptyGroup, [], $"group '{GroupId}' has members of protocol type '{_group.ProtocolType}'");
        var results = new List<PartitionError>(partitions.Count);
        var deleted = new List<TopicPartition>(partitions.Count);
        foreach (var tp in partitions)
        {
            if (_group.IsSubscribedToTopic(tp.Topic) || _consumer.IsSubscribedToTopic(tp.Topic))
            {
                results.Add(new PartitionError(tp, ErrorCode.GroupSubscribedToTopic, $"members of group '{GroupId}' subscribe to topic '{tp.Topic}'"));
                continue;
            }
            results.Add(new PartitionError(tp, ErrorCode.None));
            deleted.Add(tp);
        }
        try
        {
            await _offsets.DeleteAsync(deleted);
            // Kafka's cleanupGroupMetadata: an empty group without offsets is dead.
            if (_group.MemberCount + _consumer.MemberCount == 0 && _offsets.IsEmpty) await RemoveGroupAsync();
        }
        catch (Exception ex)
        {
            LogCommitFailed(ex, GroupId);
            return new DeleteOffsetsResponse(ErrorCode.CoordinatorNotAvailable, [], $"the group's offsets could not be stored: {ex.Message}");
        }
        return new DeleteOffsetsResponse(ErrorCode.None, results);
    }

    // ---- configs (KIP-848) -------------------------------------------------------------------------------------------

    // The stored dictionary is replaced, never changed, by AlterConfigs, and Orleans copies what a call returns.
    public Task<IReadOnlyDictionary<string, string>> GetConfigs() => Task.FromResult<IReadOnlyDictionary<string, string>>(_configs.State.Configs);

    /// <summary>
    /// Checked and stored before the group runs with them; a failed write answers CoordinatorNotAvailable and
    /// deactivates, so the next activation holds what storage does.
    /// </summary>
    public async Task<GroupResponse> AlterConfigs(IReadOnlyList<AlterableConfig> configs, bool incremental, bool validateOnly)
    {
        ArgumentNullException.ThrowIfNull(configs);
        var (altered, error, message) = GroupConfigs.Alter(GroupId, _configs.State.Configs, configs, incremental, _options);
        if (altered is null) return new GroupResponse(error, message);
        if (validateOnly) return GroupResponse.Ok;
        var previous = _configs.State.Configs;
        try
        {
            _configs.State.Configs = altered;
            if (altered.Count == 0) await _configs.ClearStateAsync();
            else await _configs.WriteStateAsync();
        }
        catch (Exception ex)
        {
            _configs.State.Configs = previous;
            LogConfigsStoreFailed(ex, GroupId);
            DeactivateOnIdle();
            return new GroupResponse(ErrorCode.CoordinatorNotAvailable, $"the group's configs could not be stored: {ex.Message}");
        }
        _consumer.Settings = GroupConfigs.Effective(altered, _options);
        LogConfigsAltered(GroupId, _consumer.Settings.SessionTimeoutMs, _consumer.Settings.HeartbeatIntervalMs);
        return GroupResponse.Ok;
    }

    // ---- persistence --------------------------------------------------------------------------------------------

    /// <summary>Writes are serialized: Join and Sync interleave with commits, and grain storage takes one write at a time.</summary>
    private async Task PersistAsync()
    {
        await _writeLock.WaitAsync();
        try
        {
            // Commits whose write queued behind the group's removal were removed with it: writing now would register
            // an empty group again that nothing ever expires.
            if (_group.State == GroupState.Dead && _offsets.IsEmpty && _group.MemberCount + _consumer.MemberCount == 0) return;
            await PersistLockedAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task PersistLockedAsync()
    {
        if (!_state.State.Registered)
        {
            await _departures.Call(GrainFactory.GetGrain<IConsumerGroupDirectoryGrain>(GroupKeys.Directory).Register(GroupId));
            _state.State.Registered = true;
        }
        var state = _state.State;
        state.GenerationId = _group.GenerationId;
        state.EmptySinceMs = _group.EmptySinceMs;
        state.ProtocolName = _group.LastProtocolName;
        state.ProtocolType = _group.ProtocolType;
        state.Membership = _group.Membership();
        state.ConsumerGroup = _consumer.ToStored();
        _offsets.CopyTo(state.Offsets);
        _offsets.CopyTxnTo(state.TxnOffsets);
        await _state.WriteStateAsync();
        _offsets.Written(state.Offsets);
        _offsets.TxnWritten(state.TxnOffsets);
    }

    private async Task RemoveGroupAsync()
    {
        _group.MarkDead();
        _offsets.Clear();
        await _writeLock.WaitAsync();
        try
        {
            // A commit or a join while this waited came after the removal: the group lives on with just that.
            if (_group.State != GroupState.Dead)
            {
                await PersistLockedAsync();
                return;
            }
            try
            {
                if (_state.State.Registered)
                    await GrainFactory.GetGrain<IConsumerGroupDirectoryGrain>(GroupKeys.Directory).Unregister(GroupId);
                await _state.ClearStateAsync();
            }
            catch
            {
                // A group being removed refuses every call: the next activation loads what storage holds.
                DeactivateOnIdle();
                throw;
            }
            _offsets.Removed();
            _group.Removed();
            _consumer.Clear();
            _state.State = new ConsumerGroupState { GenerationId = _group.GenerationId };
        }
        finally
        {
            _writeLock.Release();
        }
        LogGroupRemoved(GroupId);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: {Count} committed offsets expired (offsets.retention.minutes)")]
    private partial void LogOffsetsExpired(string groupId, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId}: the transaction of producer {ProducerId} {Outcome} its offsets")]
    private partial void LogTxnCompleted(string groupId, long producerId, string outcome);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: configs altered; it runs with consumer.session.timeout.ms {SessionTimeoutMs} and consumer.heartbeat.interval.ms {HeartbeatIntervalMs}")]
    private partial void LogConfigsAltered(string groupId, int sessionTimeoutMs, int heartbeatIntervalMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group {GroupId}: storing its configs failed; the next activation loads what was stored")]
    private partial void LogConfigsStoreFailed(Exception ex, string groupId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: removed")]
    private partial void LogGroupRemoved(string groupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group {GroupId}: storing its removal failed")]
    private partial void LogRemoveFailed(Exception ex, string groupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group {GroupId}: storing offsets failed")]
    private partial void LogCommitFailed(Exception ex, string groupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group {GroupId}: the committed partitions could not be checked with the controller")]
    private partial void LogPartitionCheckFailed(Exception ex, string groupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group {GroupId}: the subscribed topics could not be looked up with the controller")]
    private partial void LogTopicLookupFailed(Exception ex, string groupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group {GroupId}: storing the consumer group failed; the next activation loads what was stored")]
    private partial void LogConsumerGroupStoreFailed(Exception ex, string groupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group {GroupId}: expiration check failed")]
    private partial void LogExpirationFailed(Exception ex, string groupId);
}
