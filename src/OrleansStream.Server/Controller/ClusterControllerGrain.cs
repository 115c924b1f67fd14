using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Groups;
using OrleansStream.Server.Kafka.Security;
using OrleansStream.Server.Kafka.Security.OAuthBearer;
using OrleansStream.Server.Partitions;
using OrleansStream.Server.Placement;
using OrleansStream.Server.Security.Authorization;
using OrleansStream.Server.Transactions;
using OrleansStream.Server.Transactions.ProducerIds;

namespace OrleansStream.Server.Controller;

[GrainType("os-controller")]
internal sealed partial class ClusterControllerGrain(
    [PersistentState("controller", OrleansStreamDefaults.GrainStorageName)] IPersistentState<ControllerState> state,
    BrokerLocator brokers,
    BrokerRegistration localBroker,
    BrokerIdentity localIdentity,
    IOptions<BrokerOptions> options,
    IOptions<TransactionCoordinatorOptions> transactionOptions,
    TimeProvider time,
    DeepCopier<ControllerState> copier,
    ILogger<ClusterControllerGrain> logger)
    : Grain, IClusterControllerGrain, IControllerInternalGrain
{
    // Metadata reads interleave with changes, and auto-creation changes state from such a read: changes queue here.
    private readonly SemaphoreSlim _changes = new(1, 1);
    private readonly BrokerOptions _options = options.Value;
    private HashSet<string> _knownAlive = new(StringComparer.Ordinal);

    // When each broker holding replicas was last seen leaving membership (this activation's clock: a new controller
    // activation starts the reassignment delay again), and the replicas moved to other brokers (on activation: every
    // replica outside its ISR) that have not caught up.
    private readonly Dictionary<string, long> _notLiveSince = new(StringComparer.Ordinal);
    private readonly HashSet<(string Topic, int Partition, int ReplicaId)> _moved = [];

    // Set on activation until a reconcile pushes every partition: the previous activation may have died between
    // committing a change and pushing it (Kafka's controller failover sends LeaderAndIsr for every partition).
    private bool _pushAll;
    private IGrainTimer? _reconcileTimer;

    // Live replicas whose LeaderAndIsr failed or went unanswered within PushWait: sent their partition's state again
    // until one is answered, as Kafka's controller channel resends a request until its broker leaves. An elected leader
    // that missed its push would otherwise answer NotLeaderOrFollower until the partition's next change.
    private readonly HashSet<(string Topic, int Partition, int ReplicaId)> _unacknowledged = [];
    private IGrainTimer? _pushRetryTimer;
    private static readonly TimeSpan PushRetry = TimeSpan.FromSeconds(1);

    // Set when this activation found no state while live brokers hold a cluster's data: it then changes nothing.
    private string? _stateLost;

    // Brokers whose data directory names another cluster: never assigned replicas (this activation's memory).
    private readonly HashSet<string> _refused = new(StringComparer.Ordinal);

    // Brokers that asked for a controlled shutdown and have not registered again since (Kafka's brokers "in controlled
    // shutdown", this activation's memory): no election hands them leadership (a leader rebalance, an election off a
    // dead leader, another broker's controlled shutdown), and their replicas do not rejoin an ISR (KIP-841's
    // IneligibleReplica): a broker in the seconds before it stops would take the partition down with it.
    private readonly HashSet<string> _shuttingDown = new(StringComparer.Ordinal);

    private ControllerState State => state.State;

    // Kafka's MetadataImage: what reads answer from, the state as last stored. Changes work on State and publish it here
    // once their write succeeded, so a read that interleaves with a write never sees a change the write may still lose.
    private ControllerState _image = new();

    /// <summary>
    /// Makes sure the state belongs to this cluster (Kafka's <c>cluster.id</c>): an empty state is a new cluster only
    /// when no live broker holds data of one; otherwise grain storage is not shared and this activation serves nothing.
    /// </summary>
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var outcome = await ControllerStateCheck.JudgeAsync(state, DescribeLiveBrokersAsync);
        PublishImage();
        switch (outcome)
        {
            case (ControllerStateCheck.Outcome.StateLost, var reason):
                MarkStateLost(reason!);
                return;
            case (ControllerStateCheck.Outcome.NeedsClusterId, _):
                State.ClusterId = MetaProperties.NewClusterId();
                await CommitAsync();
                LogClusterIdCreated(State.ClusterId);
                break;
        }
        await ReconcileOnActivationAsync();
        if (_options.AutoLeaderRebalanceEnable)
        {
            var interval = TimeSpan.FromSeconds(_options.LeaderImbalanceCheckIntervalSeconds);
            this.RegisterGrainTimer(static (self, _) => self.BalanceLeadersAsync(), this, new GrainTimerCreationOptions(interval, interval));
        }
    }

    /// <summary>
    /// Brings the state in line with membership before the first answer: the reports of a broker's death may all have
    /// gone to the previous activation (which died with it) or failed, and the next comes only with the next membership
    /// update. Every partition's state is pushed once, and the replicas outside their ISR are woken until in sync: the
    /// previous activation may have elected a leader or moved a replica and died before its push arrived.
    /// </summary>
    private Task ReconcileOnActivationAsync()
    {
        _knownAlive = LiveBrokerSet();
        _pushAll = true;
        foreach (var t in State.Topics.Values)
            foreach (var p in t.Partitions)
                for (var r = 0; r < p.Replicas.Count && p.Leader >= 0; r++)
                    if (!p.Isr.Contains(r) && _knownAlive.Contains(p.Replicas[r])) _moved.Add((t.Name, p.Partition, p.ReplicaIdAt(r)));
        return ReconcileOrRetryAsync();
    }

    /// <summary>
    /// A reconcile nobody waits for (on activation, on the timer): when it fails the state was reloaded (see
    /// <see cref="CommitAsync"/>) and the timer tries again, so a pending election or reassignment is not dropped.
    /// </summary>
    private async Task ReconcileOrRetryAsync()
    {
        if (_stateLost is not null) return;
        try
        {
            await Serialized(ReconcileAsync);
        }
        catch (Exception e)
        {
            LogReconcileFailed(e);
            ScheduleReconcile(MovedReplicaCheck);
        }
    }

    /// <summary>What each live broker's data directory holds; null for one that did not answer within <see cref="PushWait"/>.</summary>
    private async Task<IReadOnlyList<BrokerDescription?>> DescribeLiveBrokersAsync()
    {
        var live = brokers.LiveBrokers();
        var calls = new Task<BrokerDescription>[live.Count];
        for (var i = 0; i < calls.Length; i++) calls[i] = GrainFactory.GetGrain<IBrokerGrain>(live[i].BrokerId).Describe();
        await WhenAllWithin(calls, PushWait);
        var answers = new BrokerDescription?[calls.Length];
        for (var i = 0; i < calls.Length; i++) answers[i] = calls[i].IsCompletedSuccessfully ? calls[i].Result : null;
        return answers;
    }

    public Task<IReadOnlyList<TopicResult>> CreateTopics(IReadOnlyList<NewTopic> topics, bool validateOnly = false)
    {
        ArgumentNullException.ThrowIfNull(topics);
        return ChangeAsync(topics, static t => t?.Name, async () =>
        {
            var results = new List<TopicResult>(topics.Count);
            if (PartitionsToCreate(topics) > TopicRules.MaxPartitionsPerRequest)
            {
                // Kafka's validateTotalNumberOfPartitions: the whole request, before any topic is looked at.
                foreach (var topic in topics) results.Add(new TopicResult(topic?.Name ?? "", ErrorCode.PolicyViolation, TopicRules.TooManyPartitionsToCreate));
                return results;
            }
            var created = new List<TopicState>();
            var live = LiveBrokerIds();
            var assigner = new ReplicaAssigner(live, State);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var topic in topics)
            {
                var (error, message, newTopic) = PrepareTopic(topic, live, assigner, seen);
                results.Add(newTopic is null ? new TopicResult(topic?.Name ?? "", error, message)
                    : new TopicResult(newTopic.Name, error, message, validateOnly ? Guid.Empty : newTopic.TopicId,
                        new CreatedTopic(newTopic.Partitions.Count, (short)newTopic.Partitions[0].Replicas.Count, new Dictionary<string, string>(newTopic.Configs))));
                if (newTopic is not null && !validateOnly) created.Add(newTopic);
            }
            if (created.Count > 0)
            {
                foreach (var t in created) State.Topics.Add(t.Name, t);
                if (!await TryCommitAsync()) return StaleWrite(results, created.Select(static t => t.Name));
                foreach (var t in created) LogTopicCreated(t.Name, t.Partitions.Count, t.Partitions[0].Replicas.Count);
                await PushStatesAsync(created, null);
            }
            return results;
        });
    }

    public Task<IReadOnlyList<TopicResult>> DeleteTopics(IReadOnlyList<string> topics, IReadOnlyList<Guid>? topicIds = null)
    {
        ArgumentNullException.ThrowIfNull(topics);
        if (topicIds is not null && topicIds.Count != topics.Count) throw new ArgumentException("One topic id per topic name.", nameof(topicIds));
        return ChangeAsync(topics, static t => t, async () =>
        {
            var results = new List<TopicResult>(topics.Count);
            var deleted = new List<TopicState>();
            for (var i = 0; i < topics.Count; i++)
            {
                var name = topics[i];
                if (!_options.DeleteTopicEnable)
                    results.Add(new TopicResult(name, ErrorCode.TopicDeletionDisabled, "Topic deletion is disabled (DeleteTopicEnable=false)."));
                else if (topicIds is not null && (name is null || !State.Topics.TryGetValue(name, out var current) || current.TopicId != topicIds[i]))
                    results.Add(new TopicResult(name ?? "", ErrorCode.UnknownTopicId, $"No topic has the id {topicIds[i]}.", topicIds[i]));
                else if (name is null || !State.Topics.Remove(name, out var topic))
                    results.Add(new TopicResult(name ?? "", ErrorCode.UnknownTopicOrPartition, $"Topic '{name}' does not exist."));
                else
                {
                    deleted.Add(topic);
                    results.Add(new TopicResult(name, ErrorCode.None, null, topic.TopicId));
                }
            }
            if (deleted.Count > 0)
            {
                if (!await TryCommitAsync()) return StaleWrite(results, deleted.Select(static t => t.Name));
                foreach (var t in deleted)
                {
                    LogTopicDeleted(t.Name);
                    await DeleteReplicasAsync(t);
                }
            }
            return results;
        });
    }

    public Task<IReadOnlyList<TopicResult>> CreatePartitions(IReadOnlyList<PartitionsIncrease> increases, bool validateOnly = false)
    {
        ArgumentNullException.ThrowIfNull(increases);
        return ChangeAsync(increases, static i => i?.Topic, async () =>
        {
            var results = new List<TopicResult>(increases.Count);
            if (PartitionsToAdd(increases) > TopicRules.MaxPartitionsPerRequest)
            {
                foreach (var inc in increases) results.Add(new TopicResult(inc?.Topic ?? "", ErrorCode.PolicyViolation, TopicRules.TooManyPartitionsToAdd));
                return results;
            }
            var changed = new List<(TopicState Topic, int From)>();
            var live = LiveBrokerIds();
            var assigner = new ReplicaAssigner(live, State);
            foreach (var inc in increases)
            {
                if (inc is null || !State.Topics.TryGetValue(inc.Topic, out var topic))
                {
                    results.Add(new TopicResult(inc?.Topic ?? "", ErrorCode.UnknownTopicOrPartition, $"Topic '{inc?.Topic}' does not exist."));
                    continue;
                }
                var current = topic.Partitions.Count;
                if (inc.TotalCount <= current)
                {
                    results.Add(new TopicResult(inc.Topic, ErrorCode.InvalidPartitions,
                        $"Topic '{inc.Topic}' has {current} partitions; the new count {inc.TotalCount} must be larger."));
                    continue;
                }
                // The topic's replication factor: partition 0's target, not the target and the replicas a
                // reassignment in progress still removes.
                var first = topic.Partitions[0];
                var rf = first.Replicas.Count - (first.RemovingReplicas?.Count ?? 0);
                if (rf > live.Count)
                {
                    results.Add(new TopicResult(inc.Topic, ErrorCode.InvalidReplicationFactor,
                        $"Replication factor {rf} is larger than the {live.Count} live brokers."));
                    continue;
                }
                results.Add(new TopicResult(inc.Topic, ErrorCode.None));
                if (validateOnly) continue;
                assigner.NextTopic();
                for (var p = current; p < inc.TotalCount; p++) topic.Partitions.Add(NewPartition(p, assigner.Assign(rf)));
                changed.Add((topic, current));
            }
            if (changed.Count > 0)
            {
                if (!await TryCommitAsync()) return StaleWrite(results, changed.Select(static c => c.Topic.Name));
                foreach (var (topic, from) in changed) await PushStatesAsync([topic], from);
            }
            return results;
        });
    }

    public Task<IReadOnlyList<TopicResult>> AlterConfigs(IReadOnlyList<TopicConfigsChange> changes, bool validateOnly = false)
    {
        ArgumentNullException.ThrowIfNull(changes);
        return ChangeAsync(changes, static c => c?.Topic, async () =>
        {
            var results = new List<TopicResult>(changes.Count);
            var changed = new List<(TopicState Topic, Dictionary<string, string> Configs)>();
            foreach (var change in changes)
            {
                if (change is null || !State.Topics.TryGetValue(change.Topic, out var topic))
                {
                    results.Add(new TopicResult(change?.Topic ?? "", ErrorCode.UnknownTopicOrPartition, $"Topic '{change?.Topic}' does not exist."));
                    continue;
                }
                var (configs, error, message) = TopicConfigs.Alter(topic.Configs, change);
                if (configs is not null && TopicConfigs.Validate(configs, _options) is { } invalid) (configs, error, message) = (null, ErrorCode.InvalidConfig, invalid);
                results.Add(new TopicResult(change.Topic, error, message));
                if (configs is not null && !validateOnly) changed.Add((topic, configs));
            }
            if (changed.Count > 0)
            {
                foreach (var (topic, configs) in changed) topic.Configs = configs;
                if (!await TryCommitAsync()) return StaleWrite(results, changed.Select(static c => c.Topic.Name));
                var topics = new List<TopicState>(changed.Count);
                foreach (var (topic, _) in changed)
                {
                    LogConfigsAltered(topic.Name, string.Join(", ", topic.Configs.Select(static c => $"{c.Key}={c.Value}")));
                    topics.Add(topic);
                }
                await PushStatesAsync(topics, null);
            }
            return results;
        });
    }

    /// <summary>
    /// Kafka's DescribeConfigs for the SDK, described by <see cref="ConfigsDescription"/> as the Kafka listener does:
    /// topics from this controller's metadata (the overrides it stores), over the broker defaults of this silo, as a
    /// Kafka admin client asks any one broker; broker resources for this silo's broker only (Kafka asks each broker for
    /// its own, and no grain here is one broker's); groups' configs from their grains, over this silo's group settings.
    /// The Kafka listener's services are there only where it runs.
    /// </summary>
    public async Task<IReadOnlyList<ResourceConfigs>> DescribeConfigs(IReadOnlyList<DescribeConfigsQuery> resources, bool includeSynonyms)
    {
        ArgumentNullException.ThrowIfNull(resources);
        var requests = new List<DescribeConfigsResource>(resources.Count);
        List<string>? topicNames = null;
        List<string>? groupNames = null;
        foreach (var r in resources)
        {
            requests.Add(new DescribeConfigsResource((ConfigResourceType)r.Kind, r.Name ?? "", r.ConfigNames));
            if (r.Kind == ConfigResourceKind.Topic) (topicNames ??= []).Add(r.Name ?? "");
            else if (r.Kind == ConfigResourceKind.Group) (groupNames ??= []).Add(r.Name ?? "");
        }
        var topics = new Dictionary<string, TopicMetadata>(StringComparer.Ordinal);
        if (topicNames is not null)
            foreach (var t in (await GetMetadata(new MetadataRequest(topicNames))).Topics)
                topics[t.Name] = t;
        var groups = groupNames is null ? [] : await ConfigsDescription.LookUpGroupsAsync(GrainFactory, groupNames);
        var broker = new BrokerConfigsSource(_options, localBroker.Meta.NodeId,
            ServiceProvider.GetService<SaslCredentialStore>()?.EnabledMechanisms ?? [],
            ServiceProvider.GetService<KafkaAuthorizer>()?.IsEnabled ?? false,
            ServiceProvider.GetRequiredService<IOptions<ConsumerGroupOptions>>().Value,
            ServiceProvider.GetService<IOptions<OAuthBearerOptions>>()?.Value ?? new OAuthBearerOptions());
        var results = new List<ResourceConfigs>(requests.Count);
        foreach (var request in requests)
            results.Add(ConfigsDescription.ToResourceConfigs(ConfigsDescription.Describe(request, topics, groups, broker, includeSynonyms)));
        return results;
    }

    public async Task<ClusterMetadata> GetMetadata(MetadataRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_stateLost is { } lost)
        {
            // Metadata has no error of its own: a request for every topic cannot be answered truthfully at all.
            if (request.Topics is null) throw new InvalidOperationException($"{ErrorCode.InconsistentClusterId}: {lost}");
            var refused = new List<TopicMetadata>(request.Topics.Count);
            foreach (var name in request.Topics)
                refused.Add(new TopicMetadata(name ?? "", Guid.Empty, ErrorCode.InconsistentClusterId, [], EmptyConfigs, lost));
            return new ClusterMetadata(_image.MetadataVersion, DescribeBrokers(_image), refused);
        }
        if (request.Topics is { } wanted && request.AllowAutoTopicCreation && _options.AutoCreateTopicsEnable)
        {
            List<NewTopic>? missing = null;
            foreach (var name in wanted)
                if (!_image.Topics.ContainsKey(name) && TopicRules.ValidateName(name) is null && !TopicRules.IsReservedName(name))
                    (missing ??= []).Add(new NewTopic(name));
            if (missing is not null)
            {
                var results = await CreateTopics(missing);
                foreach (var r in results)
                    if (r.Error is not (ErrorCode.None or ErrorCode.TopicAlreadyExists)) LogAutoCreateFailed(r.Topic, r.Error, r.ErrorMessage);
            }
        }

        var image = _image;
        var topics = new List<TopicMetadata>();
        if (request.Topics is null)
        {
            foreach (var t in image.Topics.Values) topics.Add(Describe(t));
            topics.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        }
        else
        {
            foreach (var name in request.Topics)
            {
                if (name is not null && image.Topics.TryGetValue(name, out var t)) topics.Add(Describe(t));
                else if (TopicRules.ValidateName(name) is { } invalid)
                    topics.Add(new TopicMetadata(name ?? "", Guid.Empty, ErrorCode.InvalidTopic, [], EmptyConfigs, invalid));
                else
                    topics.Add(new TopicMetadata(name!, Guid.Empty, ErrorCode.UnknownTopicOrPartition, [], EmptyConfigs, $"Topic '{name}' does not exist."));
            }
        }
        return new ClusterMetadata(image.MetadataVersion, DescribeBrokers(image), topics);
    }

    public Task<string?> GetReplicaBroker(string topic, int partition, int replicaId)
    {
        ThrowIfStateLost();
        string? broker = null;
        if (TryGetPartition(_image, topic, partition, out _, out var p) && p.PositionOf(replicaId) is var at and >= 0) broker = p.Replicas[at];
        return Task.FromResult(broker);
    }

    public Task<IReadOnlyList<string>> GetBrokerReplicas(string brokerId)
    {
        ThrowIfStateLost();
        var keys = new List<string>();
        foreach (var t in _image.Topics.Values)
            foreach (var p in t.Partitions)
                for (var r = 0; r < p.Replicas.Count; r++)
                    if (p.Replicas[r] == brokerId) keys.Add(GrainKeys.Replica(t.Name, p.Partition, p.ReplicaIdAt(r)));
        return Task.FromResult<IReadOnlyList<string>>(keys);
    }

    public Task<PartitionState?> GetPartitionState(string topic, int partition)
    {
        ThrowIfStateLost();
        return Task.FromResult(TryGetPartition(_image, topic, partition, out var t, out var p) ? ToState(t, p) : null);
    }

    public Task<AlterPartitionResult> AlterPartition(string topic, int partition, int leaderReplicaId, int leaderEpoch, int partitionEpoch, IReadOnlyList<int> isr)
    {
        ArgumentNullException.ThrowIfNull(isr);
        if (_stateLost is not null) return Task.FromResult(new AlterPartitionResult(ErrorCode.InconsistentClusterId, null));
        return Serialized(async () =>
        {
            if (!TryGetPartition(State, topic, partition, out var t, out var p)) return new AlterPartitionResult(ErrorCode.UnknownTopicOrPartition, null);
            // Replicas ask by replica id; the rules work on positions (an id the partition no longer has is none: -1).
            var positions = new List<int>(isr.Count);
            foreach (var id in isr) positions.Add(p.PositionOf(id));
            var (error, change) = PartitionChangeBuilder.AlterIsr(p, p.PositionOf(leaderReplicaId), leaderEpoch, partitionEpoch, positions, LiveBrokerSet(), _shuttingDown);
            if (change is null) return new AlterPartitionResult(error, ToState(t, p));
            LogIsrChanged(t.Name, p.Partition, string.Join(",", p.Isr), string.Join(",", change.Isr), p.LeaderEpoch);
            change.ApplyTo(p);
            var completed = CompleteReassignment(t, p);
            await CommitAsync();
            _ = PushPartitions([(t, p)]);
            if (completed is not null) StopRemovedReplicas(t, p, completed);
            return new AlterPartitionResult(ErrorCode.None, ToState(t, p));
        });
    }

    public Task BrokersChanged() => _stateLost is null ? Serialized(ReconcileAsync) : Task.CompletedTask;

    public Task<IReadOnlyList<LocalPartition>> FindStrayPartitions(string brokerId, IReadOnlyList<LocalPartition> local)
    {
        ArgumentNullException.ThrowIfNull(local);
        ThrowIfStateLost();
        var strays = new List<LocalPartition>();
        foreach (var l in local)
            // Only a partition the controller knows under the same topic id and has assigned elsewhere: an unknown
            // topic (or a controller with empty state) never makes a broker remove data.
            if (l is not null && TryGetPartition(_image, l.Topic, l.Partition, out var t, out var p) && t.TopicId == l.TopicId && !p.Replicas.Contains(brokerId))
                strays.Add(l);
        return Task.FromResult<IReadOnlyList<LocalPartition>>(strays);
    }

    public Task<BrokerRegistrationReply> RegisterBroker(string brokerId, string? clusterId, int? nodeId)
    {
        ArgumentNullException.ThrowIfNull(brokerId);
        _shuttingDown.Remove(brokerId);
        // A broker the stored state knows (a restart) changes nothing: it is answered at once rather than behind a change
        // in progress, which may be a LeaderAndIsr to this broker's own replicas, whose activations wait for this answer.
        if (_stateLost is null && _image.ClusterId is { } id && (clusterId is null || clusterId == id) && _image.NodeIds.TryGetValue(brokerId, out var known))
        {
            _refused.Remove(brokerId);
            return Task.FromResult(new BrokerRegistrationReply(ErrorCode.None, id, known, null));
        }
        return Serialized(async () =>
        {
            if (_stateLost is { } lost) return await RecheckLostStateAsync(lost);
            var reply = ClusterIdentity.Register(State, brokerId, clusterId, nodeId, out var changed);
            if (reply.Error != ErrorCode.None)
            {
                _refused.Add(brokerId);
                LogBrokerRefused(brokerId, reply.ErrorMessage);
                return reply;
            }
            _refused.Remove(brokerId);
            if (changed) await CommitAsync();
            return reply;
        });
    }

    /// <summary>
    /// Registrations keep coming while the state is lost (each broker told so asks again, this silo's own included), and
    /// each reads the record again: once it names a cluster (restored, or storage shared again), this activation
    /// deactivates, and the next one judges the state afresh. Until then the registration is refused.
    /// </summary>
    private async Task<BrokerRegistrationReply> RecheckLostStateAsync(string lost)
    {
        await state.ReadStateAsync();
        if (State.ClusterId is null && State.Topics.Count == 0) return new BrokerRegistrationReply(ErrorCode.InconsistentClusterId, null, -1, lost);
        LogStateReadable();
        DeactivateOnIdle();
        return new BrokerRegistrationReply(ErrorCode.NotController, null, -1,
            "The controller's state is readable again; the controller restarts to load it. Retry.");
    }

    public Task<BrokerNodes> GetBrokerNodes() =>
        Task.FromResult(new BrokerNodes(localIdentity.BrokerId, new Dictionary<string, int>(_image.NodeIds, StringComparer.Ordinal), _image.MetadataVersion, _image.AclVersion, _image.ScramVersion, _image.ClientQuotaVersion, _image.FinalizedFeaturesEpoch, _image.ClientMetricsVersion));

    public Task<AllocateProducerIdsResult> AllocateProducerIds(string brokerId)
    {
        ArgumentNullException.ThrowIfNull(brokerId);
        // Without its state the controller does not know which ids were handed out: it must not hand out any.
        if (_stateLost is { } lost) return Task.FromResult(new AllocateProducerIdsResult(ErrorCode.InconsistentClusterId, null, lost));
        return Serialized(async () =>
        {
            if (_refused.Contains(brokerId))
                return new AllocateProducerIdsResult(ErrorCode.InconsistentClusterId, null, $"Broker '{brokerId}' holds another cluster's data.");
            if (ProducerIdControlManager.Allocate(State, brokerId) is not { } block)
                return new AllocateProducerIdsResult(ErrorCode.UnknownServerError, null, "Producer ids are exhausted.");
            // Durable before it is handed out; a write with a stale ETag (another activation wrote first) hands out nothing.
            if (!await TryCommitAsync(metadataChanged: false))
                return new AllocateProducerIdsResult(ErrorCode.NotController, null,
                    "The controller's state was changed by another activation first; no producer ids were handed out. Retry.");
            LogProducerIdsAllocated(brokerId, block.FirstProducerId, block.LastProducerId);
            return new AllocateProducerIdsResult(ErrorCode.None, block);
        });
    }

    /// <summary>
    /// Brings assignments in line with membership (callers hold <see cref="_changes"/>): elections off brokers that
    /// left, reassignment of the replicas of brokers out for longer than <c>ReplicaReassignmentDelayMs</c>, and
    /// LeaderAndIsr to brokers that came back and to moved replicas that have not caught up yet.
    /// </summary>
    private async Task ReconcileAsync()
    {
        var liveIds = LiveBrokerIds();
        var live = new HashSet<string>(liveIds, StringComparer.Ordinal);
        var returned = new HashSet<string>(live, StringComparer.Ordinal);
        returned.ExceptWith(_knownAlive);
        _knownAlive = live;
        var now = time.GetTimestamp();
        _moved.RemoveWhere(m => !TryGetPartition(State, m.Topic, m.Partition, out _, out var p) || p.PositionOf(m.ReplicaId) is var at && (at < 0 || p.Isr.Contains(at)));
        foreach (var b in live) _notLiveSince.Remove(b);
        _shuttingDown.IntersectWith(live);
        foreach (var t in State.Topics.Values)
            foreach (var p in t.Partitions)
                foreach (var b in p.Replicas)
                    if (!live.Contains(b)) _notLiveSince.TryAdd(b, now);

        var delay = TimeSpan.FromMilliseconds(_options.ReplicaReassignmentDelayMs);
        var overdue = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (b, since) in _notLiveSince)
            if (time.GetElapsedTime(since, now) >= delay) overdue.Add(b);
        var waiting = new HashSet<string>(StringComparer.Ordinal);

        var assigner = new ReplicaAssigner(liveIds, State);
        var changed = new List<(TopicState, PartitionAssignment)>();
        var woken = new List<(TopicState, PartitionAssignment)>();
        List<(TopicState, PartitionAssignment, ReassignmentStep)>? completed = null;
        foreach (var t in State.Topics.Values)
            foreach (var p in t.Partitions)
            {
                var c = Elect(t, p, live, controlledShutdown: false);
                if (PartitionChangeBuilder.Reassign(p, live, overdue, assigner, waiting) is { } moves)
                {
                    foreach (var m in moves)
                    {
                        _moved.Add((t.Name, p.Partition, m.ReplicaId));
                        LogReplicaMoved(t.Name, p.Partition, m.ReplicaId, m.From, m.To);
                    }
                    c = true;
                }
                // A reassignment whose in-sync target had no broker able to lead completes once one can.
                if (CompleteReassignment(t, p) is { } step)
                {
                    (completed ??= []).Add((t, p, step));
                    c = true;
                }
                if (c) changed.Add((t, p));
                else if (_pushAll || NeedsWaking(t, p, returned)) woken.Add((t, p));
            }
        if (changed.Count > 0) await CommitAsync();
        changed.AddRange(woken);
        _ = PushPartitions(changed);
        foreach (var (t, p, step) in completed ?? []) StopRemovedReplicas(t, p, step);
        _pushAll = false;

        TimeSpan? nextCheck = null;
        foreach (var b in waiting)
        {
            var left = delay - time.GetElapsedTime(_notLiveSince[b], now);
            if (nextCheck is not { } n || left < n) nextCheck = left;
        }
        // A moved replica that missed its LeaderAndIsr (or whose old activation answered it) is woken again until it is in sync.
        if (_moved.Count > 0) nextCheck = nextCheck is { } n2 && n2 < MovedReplicaCheck ? n2 : MovedReplicaCheck;
        ScheduleReconcile(nextCheck);
    }

    private bool NeedsWaking(TopicState t, PartitionAssignment p, HashSet<string> returned)
    {
        foreach (var b in p.Replicas)
            if (returned.Contains(b)) return true;
        for (var r = 0; r < p.Replicas.Count; r++)
            if (_moved.Contains((t.Name, p.Partition, p.ReplicaIdAt(r)))) return true;
        return false;
    }

    private void ScheduleReconcile(TimeSpan? due)
    {
        if (due is not { } d)
        {
            _reconcileTimer?.Dispose();
            _reconcileTimer = null;
            return;
        }
        if (d < TimeSpan.Zero) d = TimeSpan.Zero;
        if (_reconcileTimer is { } timer) timer.Change(d, Timeout.InfiniteTimeSpan);
        else
            // KeepAlive: a pending reassignment must not be lost to idle collection of the controller.
            _reconcileTimer = this.RegisterGrainTimer(static (self, _) => self.ReconcileOrRetryAsync(), this,
                new GrainTimerCreationOptions(d, Timeout.InfiniteTimeSpan) { KeepAlive = true });
    }

    private static readonly TimeSpan MovedReplicaCheck = TimeSpan.FromSeconds(5);

    public Task<int> ControlledShutdown(string brokerId)
    {
        if (_stateLost is not null) return Task.FromResult(0);
        return Serialized(async () =>
        {
            _shuttingDown.Add(brokerId);
            var live = LiveBrokerSet();
            live.Remove(brokerId);
            var changed = new List<(TopicState, PartitionAssignment)>();
            var moved = 0;
            foreach (var t in State.Topics.Values)
                foreach (var p in t.Partitions)
                {
                    var led = p.Leader >= 0 && p.Replicas[p.Leader] == brokerId;
                    if (!p.Replicas.Contains(brokerId)) continue;
                    if (Elect(t, p, live, controlledShutdown: true))
                    {
                        changed.Add((t, p));
                        if (led && p.Leader >= 0 && p.Replicas[p.Leader] != brokerId) moved++;
                    }
                }
            if (changed.Count > 0)
            {
                await CommitAsync();
                _ = PushPartitions(changed);
            }
            LogControlledShutdown(brokerId, moved);
            return moved;
        });
    }

    public Task<IReadOnlyList<ElectionResult>> ElectLeaders(ElectionType type, IReadOnlyList<ElectionPartitions>? partitions)
    {
        if (_stateLost is { } lost)
        {
            var refused = new List<ElectionResult>();
            foreach (var t in partitions ?? [])
                foreach (var p in t.Partitions) refused.Add(new ElectionResult(t.Topic, p, ErrorCode.InconsistentClusterId, lost));
            return Task.FromResult<IReadOnlyList<ElectionResult>>(refused);
        }
        return Serialized(async () =>
        {
            var live = LiveBrokerSet();
            live.ExceptWith(_shuttingDown);
            var results = new List<ElectionResult>();
            var changed = new List<(TopicState, PartitionAssignment)>();
            if (partitions is null)
            {
                foreach (var t in State.Topics.Values)
                    foreach (var p in t.Partitions)
                        if (ElectOne(t.Name, p.Partition, type, live, changed) is { Error: not ErrorCode.ElectionNotNeeded } r) results.Add(r);
            }
            else
            {
                foreach (var t in partitions)
                    foreach (var p in t.Partitions) results.Add(ElectOne(t.Topic, p, type, live, changed));
            }
            if (changed.Count == 0) return (IReadOnlyList<ElectionResult>)results;
            if (!await TryCommitAsync())
            {
                for (var i = 0; i < results.Count; i++)
                    if (results[i].Error == ErrorCode.None)
                        results[i] = results[i] with { Error = ErrorCode.NotController, ErrorMessage = StaleWriteMessage };
                return results;
            }
            LogLeadersElected(type, changed.Count);
            _ = PushPartitions(changed);
            return results;
        });
    }

    /// <summary>One partition's election as Kafka's <c>ReplicationControlManager.electLeader</c> answers it; applied to the state when it changes the leader.</summary>
    private ElectionResult ElectOne(string topic, int partition, ElectionType type, HashSet<string> live, List<(TopicState, PartitionAssignment)> changed)
    {
        if (!State.Topics.TryGetValue(topic, out var t)) return new ElectionResult(topic, partition, ErrorCode.UnknownTopicOrPartition, $"No such topic as {topic}");
        if ((uint)partition >= (uint)t.Partitions.Count)
            return new ElectionResult(topic, partition, ErrorCode.UnknownTopicOrPartition, $"No such partition as {topic}-{partition}");
        var p = t.Partitions[partition];
        PartitionChange? change;
        if (type == ElectionType.Preferred)
        {
            if (p.Leader == PartitionChangeBuilder.PreferredReplica)
                return new ElectionResult(topic, partition, ErrorCode.ElectionNotNeeded, "Leader election not needed for topic partition.");
            change = PartitionChangeBuilder.ElectPreferred(p, live);
            if (change is null) return new ElectionResult(topic, partition, ErrorCode.PreferredLeaderNotAvailable, "The preferred leader was not available.");
        }
        else
        {
            if (p.Leader >= 0 && live.Contains(p.Replicas[p.Leader]))
                return new ElectionResult(topic, partition, ErrorCode.ElectionNotNeeded, "Leader election not needed for topic partition.");
            change = PartitionChangeBuilder.Elect(p, live, uncleanLeaderElection: true, controlledShutdown: false);
            if (change is not { Leader: >= 0 })
                return new ElectionResult(topic, partition, ErrorCode.EligibleLeadersNotAvailable, "Eligible topic partition leaders are not available.");
            if (change.Unclean) LogUncleanElection(topic, partition, change.Leader);
        }
        LogLeaderElected(topic, partition, change.Leader, change.LeaderEpoch, change.OldLeader);
        change.ApplyTo(p);
        changed.Add((t, p));
        return new ElectionResult(topic, partition, ErrorCode.None);
    }

    /// <summary>
    /// Kafka's <c>auto.leader.rebalance.enable</c> (KRaft's <c>maybeBalancePartitionLeaders</c>): every partition whose
    /// preferred replica is live and in the ISR but does not lead is given back to it.
    /// </summary>
    private async Task BalanceLeadersAsync()
    {
        if (_stateLost is not null) return;
        try
        {
            // What moved is logged by the election; partitions whose preferred replica cannot lead wait for the next check.
            await ElectLeaders(ElectionType.Preferred, null);
        }
        catch (Exception e)
        {
            // The state was reloaded (see CommitAsync); the next check tries again.
            LogLeaderRebalanceFailed(e);
        }
    }

    /// <summary>
    /// Applies <see cref="PartitionChangeBuilder.Elect"/> to the partition; true when it changed. Brokers in controlled
    /// shutdown are elected by no election, as in Kafka, whatever asked for it.
    /// </summary>
    private bool Elect(TopicState t, PartitionAssignment p, HashSet<string> live, bool controlledShutdown)
    {
        if (PartitionChangeBuilder.Elect(p, live, TopicRules.UncleanLeaderElection(t.Configs), controlledShutdown, _shuttingDown) is not { } change) return false;
        if (change.Unclean) LogUncleanElection(t.Name, p.Partition, change.Leader);
        if (change.LeaderEpoch != p.LeaderEpoch) LogLeaderElected(t.Name, p.Partition, change.Leader, change.LeaderEpoch, change.OldLeader);
        change.ApplyTo(p);
        return true;
    }

    /// <summary>Runs a change of state alone: changes never interleave with each other (reads do).</summary>
    private async Task<T> Serialized<T>(Func<Task<T>> change)
    {
        await _changes.WaitAsync();
        try
        {
            return await change();
        }
        finally
        {
            _changes.Release();
        }
    }

    private Task Serialized(Func<Task> change) => Serialized(async () => { await change(); return true; });

    /// <summary>An admin change: refused whole while the state is lost, else run alone.</summary>
    private Task<IReadOnlyList<TopicResult>> ChangeAsync<T>(IReadOnlyList<T> items, Func<T, string?> name, Func<Task<List<TopicResult>>> change)
    {
        if (_stateLost is { } lost)
        {
            var refused = new List<TopicResult>(items.Count);
            foreach (var item in items) refused.Add(new TopicResult(name(item) ?? "", ErrorCode.InconsistentClusterId, lost));
            return Task.FromResult<IReadOnlyList<TopicResult>>(refused);
        }
        return Serialized(async () => (IReadOnlyList<TopicResult>)await change());
    }

    private void MarkStateLost(string reason)
    {
        _stateLost = reason;
        localBroker.ReportClusterProblem(reason);
        LogStateLost(reason);
    }

    private void ThrowIfStateLost()
    {
        if (_stateLost is { } lost) throw new InvalidOperationException($"{ErrorCode.InconsistentClusterId}: {lost}");
    }

    /// <summary>
    /// Sends LeaderAndIsr to every live replica of the partitions (or to those in <paramref name="only"/>) and returns at
    /// once with a task that ends when every replica answered or <see cref="PushWait"/> passed; a replica that did not
    /// take its push by then gets it again (<see cref="_unacknowledged"/>). Kafka's controller sends LeaderAndIsr without
    /// waiting for the answers on its event loop, and so must this grain: a replica whose activation Orleans ended (its
    /// directory registration was on a silo that died) asks this controller for its state (and its placement for its
    /// broker) as it activates again, and a request or an activation of the controller that awaited its push would
    /// hold those questions until <see cref="PushWait"/> ran out (2 s added to about half the failovers of a soak).
    /// Admin changes await the task, so that a created topic's replicas have their state when CreateTopics answers.
    /// </summary>
    private Task PushPartitions(List<(TopicState Topic, PartitionAssignment Partition)> partitions,
        HashSet<(string Topic, int Partition, int ReplicaId)>? only = null)
    {
        var calls = CallReplicas(partitions, (t, p, replica) => replica.LeaderAndIsr(ToState(t, p)), only);
        return calls.Count == 0 ? Task.CompletedTask : AcknowledgePushesAsync(calls);
    }

    /// <summary>Books the answers of a push on this grain's scheduler, outside the request or activation that sent it.</summary>
    private async Task AcknowledgePushesAsync(List<(string Key, (string Topic, int Partition, int ReplicaId) Replica, Task<ErrorCode> Call)> calls)
    {
        await AnsweredWithinAsync(calls);
        foreach (var (key, replica, call) in calls)
        {
            if (!call.IsCompleted) LogLeaderAndIsrSlow(key);
            else if (call.IsFaulted) LogLeaderAndIsrFailed(call.Exception!.GetBaseException(), key);
            else
            {
                _unacknowledged.Remove(replica);
                if (call.Result != ErrorCode.None) LogLeaderAndIsrRejected(key, call.Result);
                continue;
            }
            _unacknowledged.Add(replica);
        }
        if (_unacknowledged.Count > 0 && _pushRetryTimer is null)
        {
            try
            {
                _pushRetryTimer = this.RegisterGrainTimer(static (self, _) => self.RetryUnacknowledgedPushesAsync(), this,
                    new GrainTimerCreationOptions(PushRetry, Timeout.InfiniteTimeSpan) { KeepAlive = true });
            }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
            {
                // This activation ended meanwhile: the next one pushes every partition's state as it activates.
                LogPushRetryDropped(e);
            }
        }
    }

    /// <summary>Sends the replicas that did not take their LeaderAndIsr their partition's state as it is now.</summary>
    private async Task RetryUnacknowledgedPushesAsync()
    {
        _pushRetryTimer?.Dispose();
        _pushRetryTimer = null;
        if (_stateLost is not null) return;
        await Serialized(() =>
        {
            var retried = new HashSet<(string Topic, int Partition, int ReplicaId)>(_unacknowledged);
            _unacknowledged.Clear();
            var partitions = new List<(TopicState, PartitionAssignment)>();
            var seen = new HashSet<(string, int)>();
            foreach (var (topic, partition, _) in retried)
                if (seen.Add((topic, partition)) && TryGetPartition(State, topic, partition, out var t, out var p)) partitions.Add((t, p));
            // A replica of a deleted partition, or of a broker that left, is dropped here: CallReplicas skips it.
            _ = PushPartitions(partitions, retried);
            return Task.CompletedTask;
        });
    }

    /// <summary>A new topic's partition count, -1 meaning the broker's default (Kafka's num.partitions).</summary>
    private int PartitionCount(NewTopic topic) => topic.NumPartitions == -1 ? _options.NumPartitions : topic.NumPartitions;

    /// <summary>The partitions a CreateTopics request asks for, counted as Kafka counts them (none for a bad count).</summary>
    private long PartitionsToCreate(IReadOnlyList<NewTopic> topics)
    {
        long total = 0;
        foreach (var topic in topics)
            if (topic is not null) total += Math.Max(PartitionCount(topic), 0);
        return total;
    }

    /// <summary>The partitions a CreatePartitions request would add to the topics that exist.</summary>
    private long PartitionsToAdd(IReadOnlyList<PartitionsIncrease> increases)
    {
        long total = 0;
        foreach (var inc in increases)
            if (inc?.Topic is { } name && State.Topics.TryGetValue(name, out var topic))
                total += Math.Max(inc.TotalCount - (long)topic.Partitions.Count, 0);
        return total;
    }

    /// <summary>How long a push, a fan-out to replicas or a question to the live brokers waits for their answers.</summary>
    private TimeSpan PushWait => TimeSpan.FromMilliseconds(_options.LeaderAndIsrRetryMs);

    private (ErrorCode, string?, TopicState?) PrepareTopic(NewTopic? topic, List<string> live, ReplicaAssigner assigner, HashSet<string> seen)
    {
        if (topic is null) return (ErrorCode.InvalidRequest, "Topic is null.", null);
        if (TopicRules.ValidateName(topic.Name) is { } badName) return (ErrorCode.InvalidTopic, badName, null);
        if (TopicRules.IsReservedName(topic.Name)) return (ErrorCode.InvalidRequest, TopicRules.ReservedNameMessage(topic.Name), null);
        if (!seen.Add(topic.Name)) return (ErrorCode.InvalidRequest, $"Topic '{topic.Name}' appears more than once in the request.", null);
        if (State.Topics.ContainsKey(topic.Name)) return (ErrorCode.TopicAlreadyExists, $"Topic '{topic.Name}' already exists.", null);

        var partitions = PartitionCount(topic);
        if (partitions < 1) return (ErrorCode.InvalidPartitions, $"Number of partitions must be at least 1, not {topic.NumPartitions}.", null);
        var rf = topic.ReplicationFactor == -1 ? _options.DefaultReplicationFactor : topic.ReplicationFactor;
        if (rf < 1) return (ErrorCode.InvalidReplicationFactor, $"Replication factor must be at least 1, not {topic.ReplicationFactor}.", null);
        if (rf > live.Count) return (ErrorCode.InvalidReplicationFactor, $"Replication factor {rf} is larger than the {live.Count} live brokers.", null);

        var configs = new Dictionary<string, string>(StringComparer.Ordinal);
        if (topic.Configs is not null)
        {
            foreach (var (key, value) in topic.Configs)
            {
                if (key is null || value is null) return (ErrorCode.InvalidConfig, "Config keys and values must not be null.", null);
                configs[key] = value;
            }
        }
        if (TopicConfigs.Validate(configs, _options) is { } badConfig) return (ErrorCode.InvalidConfig, badConfig, null);

        var state = new TopicState { Name = topic.Name, TopicId = Guid.NewGuid(), Configs = configs };
        assigner.NextTopic();
        for (var p = 0; p < partitions; p++) state.Partitions.Add(NewPartition(p, assigner.Assign(rf)));
        return (ErrorCode.None, null, state);
    }

    private static PartitionAssignment NewPartition(int partition, List<string> replicas)
    {
        var isr = new List<int>(replicas.Count);
        for (var i = 0; i < replicas.Count; i++) isr.Add(i);
        return new PartitionAssignment { Partition = partition, Replicas = replicas, Leader = 0, LeaderEpoch = 0, Isr = isr };
    }

    /// <summary>Writes the state; <paramref name="metadataChanged"/> false for state no client sees (producer ids).</summary>
    private async Task CommitAsync(bool metadataChanged = true)
    {
        if (metadataChanged) State.MetadataVersion++;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            await ForgetUnwrittenChangeAsync();
            throw;
        }
        PublishImage();
    }

    /// <summary>Makes the state as stored now what reads answer from (a copy: changes keep working on the state).</summary>
    private void PublishImage() => _image = copier.Copy(State);

    /// <summary>
    /// After a failed write, which may not have happened: reloads the stored state rather than serve what is not
    /// durable. When the reload fails too, this activation cannot know what is stored: it ends (Kafka's controller
    /// renounces when a write to its metadata log fails), Orleans sends every later call to the next activation, which
    /// loads the stored state, and the caller's retry reaches that one.
    /// </summary>
    private async Task ForgetUnwrittenChangeAsync()
    {
        try
        {
            await state.ReadStateAsync();
        }
        catch (Exception e)
        {
            LogRenounced(e);
            DeactivateOnIdle();
            return;
        }
        PublishImage();
        // A record that vanished reloads as an empty state: serving from it would hand out producer ids again.
        if (State.ClusterId is null) MarkStateLost(ClusterIdentity.StateVanishedMessage);
    }

    /// <summary>
    /// Commits an admin change; false when another activation wrote the state first (its ETag moved). The state is then
    /// reloaded, so nothing of this request was applied, and the caller answers Kafka's retriable NotController.
    /// </summary>
    private async Task<bool> TryCommitAsync(bool metadataChanged = true)
    {
        try
        {
            await CommitAsync(metadataChanged);
            return true;
        }
        catch (InconsistentStateException e)
        {
            LogStaleWrite(e);
            return false;
        }
    }

    private const string StaleWriteMessage = "The controller's state was changed by another activation first; nothing was applied. Retry.";

    private static List<TopicResult> StaleWrite(List<TopicResult> results, IEnumerable<string> changed)
    {
        var refused = new HashSet<string>(changed, StringComparer.Ordinal);
        for (var i = 0; i < results.Count; i++)
            if (results[i].Error == ErrorCode.None && refused.Contains(results[i].Topic))
                results[i] = new TopicResult(results[i].Topic, ErrorCode.NotController, StaleWriteMessage, results[i].TopicId);
        return results;
    }

    /// <summary>Sends LeaderAndIsr to every replica of the topics (from partition <paramref name="fromPartition"/> on).</summary>
    private Task PushStatesAsync(List<TopicState> topics, int? fromPartition)
    {
        var partitions = new List<(TopicState, PartitionAssignment)>();
        foreach (var topic in topics)
            for (var p = fromPartition ?? 0; p < topic.Partitions.Count; p++) partitions.Add((topic, topic.Partitions[p]));
        return PushPartitions(partitions);
    }

    private async Task DeleteReplicasAsync(TopicState topic)
    {
        var partitions = new List<(TopicState, PartitionAssignment)>(topic.Partitions.Count);
        foreach (var p in topic.Partitions) partitions.Add((topic, p));
        var calls = await FanOutAsync(partitions, static async (_, _, replica) => { await replica.DeleteReplica(); return true; });
        foreach (var (key, _, call) in calls)
            // A replica left behind is recognised by its topic id and wiped if the name is reused.
            if (call.IsFaulted) LogDeleteReplicaFailed(call.Exception!.GetBaseException(), key);
    }

    /// <summary>
    /// Makes <paramref name="call"/> on every replica of the partitions whose broker is alive, concurrently, and waits
    /// at most <see cref="PushWait"/>; returns the calls, some perhaps still running.
    /// </summary>
    private async Task<List<(string Key, (string Topic, int Partition, int ReplicaId) Replica, Task<T> Call)>> FanOutAsync<T>(
        List<(TopicState Topic, PartitionAssignment Partition)> partitions,
        Func<TopicState, PartitionAssignment, IPartitionReplicaGrain, Task<T>> call,
        HashSet<(string Topic, int Partition, int ReplicaId)>? only = null)
    {
        var calls = CallReplicas(partitions, call, only);
        await AnsweredWithinAsync(calls);
        return calls;
    }

    /// <summary>Waits until every call answered or <see cref="PushWait"/> passed.</summary>
    private Task AnsweredWithinAsync<T>(List<(string Key, (string Topic, int Partition, int ReplicaId) Replica, Task<T> Call)> calls)
    {
        var all = new Task[calls.Count];
        for (var i = 0; i < calls.Count; i++) all[i] = calls[i].Call;
        return WhenAllWithin(all, PushWait);
    }

    /// <summary>Makes <paramref name="call"/> on every replica of the partitions whose broker is alive, concurrently.</summary>
    private List<(string Key, (string Topic, int Partition, int ReplicaId) Replica, Task<T> Call)> CallReplicas<T>(
        List<(TopicState Topic, PartitionAssignment Partition)> partitions,
        Func<TopicState, PartitionAssignment, IPartitionReplicaGrain, Task<T>> call,
        HashSet<(string Topic, int Partition, int ReplicaId)>? only)
    {
        var calls = new List<(string Key, (string Topic, int Partition, int ReplicaId) Replica, Task<T> Call)>();
        foreach (var (t, p) in partitions)
            for (var r = 0; r < p.Replicas.Count; r++)
            {
                var id = p.ReplicaIdAt(r);
                if (!brokers.IsAlive(p.Replicas[r]) || only?.Contains((t.Name, p.Partition, id)) == false) continue;
                var key = GrainKeys.Replica(t.Name, p.Partition, id);
                calls.Add((key, (t.Name, p.Partition, id), CallReplica(key, p.Replicas[r], g => call(t, p, g))));
            }
        return calls;
    }

    private static async Task WhenAllWithin(Task[] calls, TimeSpan wait)
    {
        if (calls.Length == 0) return;
        await Task.WhenAll(calls).WaitAsync(wait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
    }

    /// <summary>Calls a replica, telling placement its broker so an activation needs no round trip back here.</summary>
    private async Task<T> CallReplica<T>(string key, string broker, Func<IPartitionReplicaGrain, Task<T>> call)
    {
        // Request context set inside this async method flows into the call but not back to the caller.
        RequestContext.Set(BrokerPlacementDirector.BrokerHintKey, broker);
        RequestContext.Set(BrokerPlacementDirector.BrokerHintReplicaKey, key);
        return await call(GrainFactory.GetGrain<IPartitionReplicaGrain>(key));
    }

    private static bool TryGetPartition(ControllerState from, string topic, int partition, out TopicState t, out PartitionAssignment p)
    {
        if (topic is not null && from.Topics.TryGetValue(topic, out t!) && (uint)partition < (uint)t.Partitions.Count)
        {
            p = t.Partitions[partition];
            return true;
        }
        t = null!;
        p = null!;
        return false;
    }

    /// <summary>Live brokers that may hold replicas: in membership and not refused for another cluster's data.</summary>
    private List<string> LiveBrokerIds()
    {
        var live = brokers.LiveBrokers();
        var ids = new List<string>(live.Count);
        foreach (var (id, _) in live)
            if (!_refused.Contains(id)) ids.Add(id);
        return ids;
    }

    private HashSet<string> LiveBrokerSet() => new(LiveBrokerIds(), StringComparer.Ordinal);

    /// <summary>
    /// DescribeCluster for the SDK: the live brokers with a node id, each with the first Kafka listener it advertises
    /// (asked of its <see cref="IBrokerGrain"/>; one that does not answer is left out, as the Kafka listener's Metadata
    /// leaves it out). Kafka answers with the endpoints of the listener the request came on; a grain call has none.
    /// </summary>
    public async Task<ClusterDescription> DescribeCluster()
    {
        ThrowIfStateLost();
        var image = _image;
        var live = brokers.LiveBrokers();
        var described = new List<(int NodeId, string BrokerId, Task<BrokerDescription> Call)>(live.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (id, _) in live)
            if (seen.Add(id) && image.NodeIds.TryGetValue(id, out var nodeId))
                described.Add((nodeId, id, GrainFactory.GetGrain<IBrokerGrain>(id).Describe()));
        var nodes = new List<ClusterNode>(described.Count);
        foreach (var (nodeId, id, call) in described)
        {
            try
            {
                if ((await call).Listeners is [var first, ..]) nodes.Add(new ClusterNode(nodeId, id, first.Host, first.Port));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogBrokerNotDescribed(e, id);
            }
        }
        nodes.Sort(static (a, b) => a.NodeId.CompareTo(b.NodeId));
        var controllerId = image.NodeIds.TryGetValue(localIdentity.BrokerId, out var c) ? c : -1;
        return new ClusterDescription(localBroker.Meta.ClusterId, controllerId, nodes);
    }

    private List<BrokerInfo> DescribeBrokers(ControllerState image)
    {
        var result = new List<BrokerInfo>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (id, silo) in brokers.LiveBrokers())
            if (seen.Add(id)) result.Add(new BrokerInfo(id, silo.ToString(), true));
        foreach (var topic in image.Topics.Values)
            foreach (var p in topic.Partitions)
                foreach (var b in p.Replicas)
                    if (seen.Add(b)) result.Add(new BrokerInfo(b, null, false));
        result.Sort(static (a, b) => string.CompareOrdinal(a.BrokerId, b.BrokerId));
        return result;
    }

    private static TopicMetadata Describe(TopicState t)
    {
        var partitions = new List<PartitionMetadata>(t.Partitions.Count);
        foreach (var p in t.Partitions)
            partitions.Add(new PartitionMetadata(p.Partition, LeaderId(p), p.LeaderEpoch, Replicas(p), IsrIds(p),
                p.Leader < 0 ? ErrorCode.LeaderNotAvailable : ErrorCode.None));
        return new TopicMetadata(t.Name, t.TopicId, ErrorCode.None, partitions, new Dictionary<string, string>(t.Configs));
    }

    // Replicas get the effective configs (broker defaults under the topic's overrides); metadata shows only the overrides.
    private PartitionState ToState(TopicState t, PartitionAssignment p) =>
        new(t.Name, t.TopicId, p.Partition, LeaderId(p), p.LeaderEpoch, p.PartitionEpoch, Replicas(p), IsrIds(p),
            TopicDefaults.Apply(_options.TopicConfigDefaults, t.Configs));

    private static ReplicaInfo[] Replicas(PartitionAssignment p)
    {
        var replicas = new ReplicaInfo[p.Replicas.Count];
        for (var i = 0; i < replicas.Length; i++) replicas[i] = new ReplicaInfo(p.ReplicaIdAt(i), p.Replicas[i]);
        return replicas;
    }

    // Replicas and clients name the leader and the ISR by replica id; the state keeps positions.
    private static int LeaderId(PartitionAssignment p) => p.Leader >= 0 ? p.ReplicaIdAt(p.Leader) : -1;

    private static int[] IsrIds(PartitionAssignment p)
    {
        var isr = new int[p.Isr.Count];
        for (var i = 0; i < isr.Length; i++) isr[i] = p.ReplicaIdAt(p.Isr[i]);
        return isr;
    }

    private static readonly IReadOnlyDictionary<string, string> EmptyConfigs = new Dictionary<string, string>();

    [LoggerMessage(Level = LogLevel.Information, Message = "Created topic {Topic} with {Partitions} partitions, replication factor {ReplicationFactor}")]
    private partial void LogTopicCreated(string topic, int partitions, int replicationFactor);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker {Broker} did not describe its listeners; DescribeCluster leaves it out")]
    private partial void LogBrokerNotDescribed(Exception e, string broker);

    [LoggerMessage(Level = LogLevel.Information, Message = "ISR of {Topic}-{Partition} changed from [{Old}] to [{New}] in epoch {Epoch}")]
    private partial void LogIsrChanged(string topic, int partition, string old, string @new, int epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A controller state write was refused: another activation wrote first; the state was reloaded")]
    private partial void LogStaleWrite(Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Leader of {Topic}-{Partition} is now replica {Leader} in epoch {Epoch} (was {OldLeader})")]
    private partial void LogLeaderElected(string topic, int partition, int leader, int epoch, int oldLeader);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Unclean election: replica {Replica} of {Topic}-{Partition} leads without being in sync")]
    private partial void LogUncleanElection(string topic, int partition, int replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {Replica} of {Topic}-{Partition} moves from broker {From}, out of membership, to {To}")]
    private partial void LogReplicaMoved(string topic, int partition, int replica, string from, string to);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Type} leader election changed the leaders of {Count} partitions")]
    private partial void LogLeadersElected(ElectionType type, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Leader rebalance failed; the next check tries again")]
    private partial void LogLeaderRebalanceFailed(Exception e);

    [LoggerMessage(Level = LogLevel.Information, Message = "Controlled shutdown of broker {Broker} moved {Moved} leaderships")]
    private partial void LogControlledShutdown(string broker, int moved);

    [LoggerMessage(Level = LogLevel.Information, Message = "Configs of topic {Topic} are now: {Configs}")]
    private partial void LogConfigsAltered(string topic, string configs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted topic {Topic}")]
    private partial void LogTopicDeleted(string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Auto-creating topic {Topic} failed: {Error} {Message}")]
    private partial void LogAutoCreateFailed(string topic, ErrorCode error, string? message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {Replica} rejected LeaderAndIsr: {Error}")]
    private partial void LogLeaderAndIsrRejected(string replica, ErrorCode error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A LeaderAndIsr retry was not scheduled: this controller activation has ended; the next one pushes every partition")]
    private partial void LogPushRetryDropped(Exception e);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} has not answered LeaderAndIsr yet; it is sent again")]
    private partial void LogLeaderAndIsrSlow(string replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sending LeaderAndIsr to replica {Replica} failed")]
    private partial void LogLeaderAndIsrFailed(Exception e, string replica);

    [LoggerMessage(Level = LogLevel.Information, Message = "The controller's state now belongs to cluster {ClusterId}")]
    private partial void LogClusterIdCreated(string clusterId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Controller refuses to serve: {Reason}")]
    private partial void LogStateLost(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bringing the controller's state in line with membership failed; it tries again")]
    private partial void LogReconcileFailed(Exception e);

    [LoggerMessage(Level = LogLevel.Error, Message = "A controller state write failed and the stored state could not be read back: this activation ends, the next one loads the stored state")]
    private partial void LogRenounced(Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The controller's state is readable again: the activation that found it lost ends")]
    private partial void LogStateReadable();

    [LoggerMessage(Level = LogLevel.Error, Message = "Broker {Broker} refused: {Reason}")]
    private partial void LogBrokerRefused(string broker, string? reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Producer ids {First}..{Last} allocated to broker {Broker}")]
    private partial void LogProducerIdsAllocated(string broker, long first, long last);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting replica {Replica} failed")]
    private partial void LogDeleteReplicaFailed(Exception e, string replica);
}
