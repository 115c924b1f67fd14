using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

internal sealed partial class AdminClient
{
    /// <summary>Every operation Kafka defines on a group, in code order: an Orleans client is trusted with all of them.</summary>
    private static readonly AclOperation[] GroupOperations =
        [AclOperation.Read, AclOperation.Delete, AclOperation.Describe, AclOperation.DescribeConfigs, AclOperation.AlterConfigs];

    private IConsumerGroupGrain GroupGrain(string group)
    {
        if (string.IsNullOrWhiteSpace(group))
            throw new ConsumerGroupException(group ?? "", new Error(ErrorCode.InvalidGroupId, "a group id must not be empty"));
        return clusterClient.GetGrain<IConsumerGroupGrain>(group);
    }

    /// <summary>The group's grain for Confluent.Kafka's calls, whose refusal of a group id fails the whole call.</summary>
    private IConsumerGroupGrain AddressedGroup(string group) => GroupKeys.IsAddressable(group)
        ? clusterClient.GetGrain<IConsumerGroupGrain>(group)
        : throw new KafkaException(new Error(ErrorCode.InvalidGroupId, "The group id is empty or whitespace."));

    private TimeSpan GroupTimeout(TimeSpan? timeout) => timeout ?? TimeSpan.FromMilliseconds(_requestTimeoutMs);

    public async Task<ListConsumerGroupsResult> ListConsumerGroupsAsync(ListConsumerGroupsOptions? options = null)
    {
        var timeout = GroupTimeout(options?.RequestTimeout);
        HashSet<ConsumerGroupState> states = options?.MatchStates is { } s ? [.. s] : [];
        HashSet<ConsumerGroupType> types = options?.MatchTypes is { } t ? [.. t] : [];
        var ids = await RetryingCall(() => clusterClient.GetGrain<IConsumerGroupDirectoryGrain>(GroupKeys.Directory).List(), timeout, idempotent: true)
            .ConfigureAwait(false);
        var describes = new Task<(GroupDescription? Description, Error Error)>[ids.Count];
        for (var i = 0; i < ids.Count; i++) describes[i] = TryDescribeAsync(ids[i], timeout);
        var listings = new List<ConsumerGroupListing>(ids.Count);
        List<Error>? errors = null;
        foreach (var (d, error) in await Task.WhenAll(describes).ConfigureAwait(false))
        {
            if (d is null)
            {
                (errors ??= []).Add(error);
                continue;
            }
            // A group removed since the directory listed it is left out.
            if (d.Error != ErrorCode.None) continue;
            var state = StateOf(d.State);
            if ((states.Count == 0 || states.Contains(state)) && (types.Count == 0 || types.Contains(TypeOf(d))))
                listings.Add(new ConsumerGroupListing(d.GroupId, state, TypeOf(d), IsSimple(d), d.StateText));
        }
        if (errors is not null) throw new ListConsumerGroupsException(new ListConsumerGroupsReport(listings, errors));
        return new ListConsumerGroupsResult(listings);
    }

    /// <summary>A group's description, or why it could not be asked (each group is asked on its own, as Kafka's brokers are).</summary>
    private async Task<(GroupDescription? Description, Error Error)> TryDescribeAsync(string group, TimeSpan timeout)
    {
        try
        {
            return (await RetryingCall(clusterClient.GetGrain<IConsumerGroupGrain>(group).Describe, timeout, idempotent: true).ConfigureAwait(false), Error.NoError);
        }
        catch (KafkaException ex)
        {
            return (null, new Error(ex.Error.Code, $"group '{group}': {ex.Error.Reason}"));
        }
    }

    public async Task<DescribeConsumerGroupsResult> DescribeConsumerGroupsAsync(IEnumerable<string> groups, DescribeConsumerGroupsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var ids = new List<string>(groups);
        if (ids.Count == 0) throw new ArgumentException("at least one group should be provided to DescribeConsumerGroups", nameof(groups));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in ids)
            if (!seen.Add(g ?? "")) throw new ArgumentException($"group '{g}' is named more than once", nameof(groups));
        var timeout = GroupTimeout(options?.RequestTimeout);
        var operations = options?.IncludeAuthorizedOperations ?? false;
        var describes = new Task<ConsumerGroupDescription>[ids.Count];
        for (var i = 0; i < describes.Length; i++) describes[i] = DescribeGroupAsync(ids[i] ?? "", operations, timeout);
        var descriptions = new List<ConsumerGroupDescription>(await Task.WhenAll(describes).ConfigureAwait(false));
        foreach (var d in descriptions)
            if (d.Error.IsError) throw new DescribeConsumerGroupsException(new DescribeConsumerGroupsReport(descriptions));
        return new DescribeConsumerGroupsResult(descriptions);
    }

    private async Task<ConsumerGroupDescription> DescribeGroupAsync(string group, bool operations, TimeSpan timeout)
    {
        if (!GroupKeys.IsAddressable(group)) return Undescribed(group, new Error(ErrorCode.InvalidGroupId, "The group id is empty or whitespace."));
        try
        {
            var grain = clusterClient.GetGrain<IConsumerGroupGrain>(group);
            var d = await RetryingCall(grain.Describe, timeout, idempotent: true).ConfigureAwait(false);
            if (d.Error == ErrorCode.GroupIdNotFound) return Undescribed(group, new Error(d.Error, $"group '{group}' does not exist"));
            if (d.Error != ErrorCode.None) return Undescribed(group, new Error(d.Error));
            // A consumer group (KIP-848) also has each member's target assignment and host, which ConsumerGroupDescribe answers.
            Dictionary<string, ConsumerGroupDescribedMember>? targets = null;
            if (TypeOf(d) == ConsumerGroupType.Consumer)
            {
                var c = await RetryingCall(grain.DescribeConsumerGroup, timeout, idempotent: true).ConfigureAwait(false);
                if (c.Error == ErrorCode.None)
                {
                    targets = new Dictionary<string, ConsumerGroupDescribedMember>(StringComparer.Ordinal);
                    foreach (var m in c.Members) targets[m.MemberId] = m;
                }
            }
            var members = new List<MemberDescription>(d.Members.Count);
            foreach (var m in d.Members)
            {
                var target = targets?.GetValueOrDefault(m.MemberId);
                members.Add(new MemberDescription(m.ClientId, m.GroupInstanceId, m.MemberId, target?.ClientHost ?? "",
                    new MemberAssignment([.. m.Assignment.Partitions]), target is null ? null : new MemberAssignment(Named(target.TargetAssignment)), [.. m.Topics]));
            }
            return new ConsumerGroupDescription(group, Error.NoError, IsSimple(d), d.Protocol ?? "", StateOf(d.State), TypeOf(d), null, members,
                operations ? [.. GroupOperations] : null, d.GenerationId, d.LeaderId, d.StateText);
        }
        catch (KafkaException ex)
        {
            return Undescribed(group, ex.Error);
        }
    }

    private static ConsumerGroupDescription Undescribed(string group, Error error) =>
        new(group, error, false, "", ConsumerGroupState.Unknown, ConsumerGroupType.Unknown, null, [], null);

    private static List<TopicPartition> Named(IReadOnlyList<NamedTopicIdPartitions> assignment)
    {
        var partitions = new List<TopicPartition>();
        foreach (var t in assignment)
            foreach (var p in t.Partitions) partitions.Add(new TopicPartition(t.TopicName, p));
        return partitions;
    }

    private static ConsumerGroupType TypeOf(GroupDescription d) =>
        d.Type == GroupKeys.ConsumerGroupType ? ConsumerGroupType.Consumer : ConsumerGroupType.Classic;

    /// <summary>Kafka's simple consumer group: one only committed to, with no protocol type.</summary>
    private static bool IsSimple(GroupDescription d) => d.ProtocolType.Length == 0;

    private static ConsumerGroupState StateOf(GroupState state) => state switch
    {
        GroupState.Empty => ConsumerGroupState.Empty,
        GroupState.PreparingRebalance => ConsumerGroupState.PreparingRebalance,
        GroupState.CompletingRebalance => ConsumerGroupState.CompletingRebalance,
        GroupState.Stable => ConsumerGroupState.Stable,
        GroupState.Dead => ConsumerGroupState.Dead,
        _ => ConsumerGroupState.Unknown,
    };

    /// <summary>Confluent.Kafka's calls on a group's offsets take exactly one group, as librdkafka does.</summary>
    private static T OneGroup<T>(IEnumerable<T> groupPartitions, string what) where T : class
    {
        ArgumentNullException.ThrowIfNull(groupPartitions);
        T? one = null;
        var count = 0;
        foreach (var g in groupPartitions)
        {
            one = g;
            count++;
        }
        if (count != 1) throw new ArgumentException($"Can only {what} offsets for one group at a time", nameof(groupPartitions));
        return one ?? throw new ArgumentException($"Cannot {what} consumer group offsets for null group", nameof(groupPartitions));
    }

    public async Task<List<ListConsumerGroupOffsetsResult>> ListConsumerGroupOffsetsAsync(
        IEnumerable<ConsumerGroupTopicPartitions> groupPartitions, ListConsumerGroupOffsetsOptions? options = null)
    {
        var request = OneGroup(groupPartitions, "list");
        List<TopicPartition>? asked = request.TopicPartitions is null ? null : [.. request.TopicPartitions];
        if (asked is { Count: 0 }) throw new ArgumentException("NULL or non-empty topic partition list must be passed", nameof(groupPartitions));
        if (asked is not null) ThrowIfDuplicate(asked, nameof(groupPartitions));
        var grain = AddressedGroup(request.Group);
        var timeout = GroupTimeout(options?.RequestTimeout);
        var stable = options?.RequireStableOffsets ?? false;

        var response = await RetryingCall(() => grain.OffsetFetch(new OffsetFetchRequest(asked, stable)), timeout, idempotent: true).ConfigureAwait(false);
        var partitions = response.Error switch
        {
            ErrorCode.None => Committed(response.Offsets),
            // Kafka answers a group that does not exist with no offsets and no error.
            ErrorCode.GroupIdNotFound when asked is null => [],
            ErrorCode.UnstableOffsetCommit => await StableOffsetsAsync(grain, asked, timeout).ConfigureAwait(false),
            _ => throw new KafkaException(new Error(response.Error, response.ErrorMessage)),
        };
        foreach (var p in partitions)
            if (p.Error.IsError) throw new ListConsumerGroupOffsetsException([new ListConsumerGroupOffsetsReport(request.Group, partitions, Error.NoError)]);
        return [new ListConsumerGroupOffsetsResult(request.Group, partitions)];
    }

    /// <summary>
    /// The grain answers require_stable for the request as a whole: each partition is asked on its own, so those with
    /// offsets pending in an open transaction are UnstableOffsetCommit and the others have their offsets, as Kafka answers.
    /// </summary>
    private async Task<List<TopicPartitionOffsetError>> StableOffsetsAsync(IConsumerGroupGrain grain, List<TopicPartition>? asked, TimeSpan timeout)
    {
        if (asked is null)
        {
            var all = await RetryingCall(() => grain.OffsetFetch(new OffsetFetchRequest()), timeout, idempotent: true).ConfigureAwait(false);
            asked = new List<TopicPartition>(all.Offsets.Count);
            foreach (var c in all.Offsets) asked.Add(c.TopicPartition);
        }
        var fetches = new Task<OffsetFetchResponse>[asked.Count];
        for (var i = 0; i < fetches.Length; i++)
        {
            var tp = asked[i];
            fetches[i] = RetryingCall(() => grain.OffsetFetch(new OffsetFetchRequest([tp], RequireStable: true)), timeout, idempotent: true);
        }
        var responses = await Task.WhenAll(fetches).ConfigureAwait(false);
        var partitions = new List<TopicPartitionOffsetError>(asked.Count);
        for (var i = 0; i < responses.Length; i++)
            partitions.Add(responses[i] is { Error: ErrorCode.None, Offsets: [var c] }
                ? Committed(c)
                : new TopicPartitionOffsetError(asked[i], Offset.Unset, new Error(responses[i].Error, responses[i].ErrorMessage)));
        return partitions;
    }

    private static List<TopicPartitionOffsetError> Committed(IReadOnlyList<CommittedOffset> offsets)
    {
        var partitions = new List<TopicPartitionOffsetError>(offsets.Count);
        foreach (var c in offsets) partitions.Add(Committed(c));
        return partitions;
    }

    private static TopicPartitionOffsetError Committed(CommittedOffset c) =>
        new(c.TopicPartition, c.Offset < 0 ? Offset.Unset : c.Offset, Error.NoError, c.LeaderEpoch < 0 ? null : c.LeaderEpoch);

    public async Task<List<AlterConsumerGroupOffsetsResult>> AlterConsumerGroupOffsetsAsync(
        IEnumerable<ConsumerGroupTopicPartitionOffsets> groupPartitions, AlterConsumerGroupOffsetsOptions? options = null)
    {
        var request = OneGroup(groupPartitions, "alter");
        if (request.TopicPartitionOffsets is not { Count: > 0 } offsets)
            throw new ArgumentException("Non-empty topic partition list must be present", nameof(groupPartitions));
        var asked = new List<TopicPartition>(offsets.Count);
        var commits = new List<OffsetToCommit>(offsets.Count);
        foreach (var o in offsets)
        {
            if (o.Offset < 0) throw new ArgumentException($"All topic-partition offsets must be >= 0 ({o})", nameof(groupPartitions));
            asked.Add(o.TopicPartition);
            commits.Add(new OffsetToCommit(o.TopicPartition, o.Offset));
        }
        ThrowIfDuplicate(asked, nameof(groupPartitions));
        var grain = AddressedGroup(request.Group);

        // Setting the same offsets again changes nothing: safe to give up and send again.
        var response = await RetryingCall(() => grain.ResetOffsets(commits), GroupTimeout(options?.RequestTimeout), idempotent: true).ConfigureAwait(false);
        // Kafka's OffsetCommit answers per partition: a refusal of the request (NonEmptyGroup) is every partition's.
        var refusals = new Dictionary<TopicPartition, PartitionError>();
        foreach (var p in response.Partitions) refusals[p.TopicPartition] = p;
        var partitions = new List<TopicPartitionOffsetError>(offsets.Count);
        var failed = false;
        foreach (var o in offsets)
        {
            var (code, message) = refusals.TryGetValue(o.TopicPartition, out var p) ? (p.Error, p.ErrorMessage) : (response.Error, response.ErrorMessage);
            partitions.Add(new TopicPartitionOffsetError(o.TopicPartition, o.Offset, code == ErrorCode.None ? Error.NoError : new Error(code, message)));
            failed |= code != ErrorCode.None;
        }
        if (failed) throw new AlterConsumerGroupOffsetsException([new AlterConsumerGroupOffsetsReport(request.Group, partitions, Error.NoError)]);
        return [new AlterConsumerGroupOffsetsResult(request.Group, partitions)];
    }

    public async Task<DeleteConsumerGroupOffsetsResult> DeleteConsumerGroupOffsetsAsync(
        string group, IEnumerable<TopicPartition> partitions, DeleteConsumerGroupOffsetsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var list = new List<TopicPartition>(partitions);
        foreach (var tp in list)
            if (tp.Topic is null) throw new ArgumentException("Cannot delete offsets because one or more topics or partitions were specified as null.", nameof(partitions));
        var grain = AddressedGroup(group);
        // Deleting the last offsets of an empty group deletes the group: sent again, it would answer GroupIdNotFound.
        var response = await RetryingCall(() => grain.DeleteOffsets(list), GroupTimeout(options?.RequestTimeout), idempotent: false).ConfigureAwait(false);
        if (response.Error != ErrorCode.None) throw new KafkaException(new Error(response.Error, response.ErrorMessage));
        var outcomes = new List<TopicPartitionOffsetError>(response.Partitions.Count);
        var failed = false;
        foreach (var p in response.Partitions)
        {
            outcomes.Add(new TopicPartitionOffsetError(p.TopicPartition, Offset.Unset, p.Error == ErrorCode.None ? Error.NoError : new Error(p.Error, p.ErrorMessage)));
            failed |= p.Error != ErrorCode.None;
        }
        if (failed) throw new DeleteConsumerGroupOffsetsException(new DeleteConsumerGroupOffsetsReport(group, outcomes, Error.NoError));
        return new DeleteConsumerGroupOffsetsResult(group, outcomes.ConvertAll(static o => o.TopicPartition));
    }

    public async Task<ConsumerGroupLag> ListConsumerGroupOffsetsAsync(
        string group, IEnumerable<TopicPartition>? partitions = null, TimeSpan? timeout = null)
    {
        var grain = GroupGrain(group);
        var request = new OffsetFetchRequest(partitions is null ? null : new List<TopicPartition>(partitions));
        var describe = IdempotentCall(grain.Describe, timeout);
        var fetch = IdempotentCall(() => grain.OffsetFetch(request), timeout);
        var (d, offsets) = (await describe.ConfigureAwait(false), await fetch.ConfigureAwait(false));
        if (d.Error != ErrorCode.None)
            throw new ConsumerGroupException(group, new Error(d.Error, $"group '{group}': {d.Error}"));

        var owners = new Dictionary<TopicPartition, string>();
        foreach (var m in d.Members)
            foreach (var tp in m.Assignment.Partitions) owners[tp] = m.MemberId;
        var rows = new Dictionary<TopicPartition, CommittedOffset>();
        foreach (var c in offsets.Offsets) rows[c.TopicPartition] = c;
        if (partitions is null)
            foreach (var tp in owners.Keys)
                rows.TryAdd(tp, new CommittedOffset(tp, -1, null, -1, -1));

        var keys = new List<TopicPartition>(rows.Keys);
        keys.Sort(static (a, b) => string.CompareOrdinal(a.Topic, b.Topic) is var c && c != 0 ? c : a.Partition.CompareTo(b.Partition));
        var ends = new Task<ListOffsetsResponse>[keys.Count];
        for (var i = 0; i < keys.Count; i++) ends[i] = ListOffsetsAsync(keys[i], ListOffsetsTimestamp.Latest, GroupTimeout(timeout));
        var result = new List<ConsumerGroupPartitionOffset>(keys.Count);
        for (var i = 0; i < keys.Count; i++)
        {
            var c = rows[keys[i]];
            long end = -1;
            var error = Error.NoError;
            try
            {
                var r = await ends[i].ConfigureAwait(false);
                if (r.Error == ErrorCode.None) end = r.Offset;
                else error = new Error(r.Error, r.ErrorMessage);
            }
            catch (KafkaException ex)
            {
                error = ex.Error;
            }
            var lag = c.Offset >= 0 && end >= 0 ? Math.Max(0, end - c.Offset) : -1;
            result.Add(new ConsumerGroupPartitionOffset(keys[i], c.Offset, c.Metadata, end, lag, owners.GetValueOrDefault(keys[i]), error));
        }
        return new ConsumerGroupLag(group, result);
    }

    public async Task<List<TopicPartitionOffset>> ResetConsumerGroupOffsetsAsync(string group, string topic, long to, TimeSpan? timeout = null)
    {
        var metadata = await IdempotentCall(() => _cache.FetchAsync([topic]), timeout).ConfigureAwait(false);
        TopicMetadata? found = null;
        foreach (var t in metadata.Topics)
            if (t.Name == topic) found = t;
        if (found is null || found.Error != ErrorCode.None)
            throw new ConsumerGroupException(group, new Error(found?.Error ?? ErrorCode.UnknownTopicOrPartition, $"topic '{topic}' does not exist"));
        if (to < 0 && to is not (Offset.Beginning or Offset.End))
            throw new ConsumerGroupException(group, new Error(ErrorCode.OffsetOutOfRange, $"reset to {to}: use an offset >= 0, earliest or latest"));

        var offsets = new List<TopicPartitionOffset>(found.Partitions.Count);
        foreach (var p in found.Partitions)
        {
            var tp = new TopicPartition(topic, p.Partition);
            var earliest = (await ListOffsetsAsync(tp, ListOffsetsTimestamp.Earliest, GroupTimeout(timeout)).ConfigureAwait(false)).Offset;
            var latest = (await ListOffsetsAsync(tp, ListOffsetsTimestamp.Latest, GroupTimeout(timeout)).ConfigureAwait(false)).Offset;
            var offset = to switch
            {
                Offset.Beginning => earliest,
                Offset.End => latest,
                _ => Math.Clamp(to, earliest, latest), // as kafka-consumer-groups.sh: out-of-range offsets are clamped
            };
            offsets.Add(new TopicPartitionOffset(tp, offset));
        }
        offsets.Sort(static (a, b) => a.TopicPartition.Partition.CompareTo(b.TopicPartition.Partition));
        var commits = offsets.ConvertAll(static o => new OffsetToCommit(o.TopicPartition, o.Offset));
        // Setting the same offsets again changes nothing: safe to give up and send again.
        var response = await IdempotentCall(() => GroupGrain(group).ResetOffsets(commits), timeout).ConfigureAwait(false);
        if (response.Error != ErrorCode.None)
            throw new ConsumerGroupException(group, new Error(response.Error, response.ErrorMessage), response.Partitions);
        return offsets;
    }

    public async Task DeleteConsumerGroupsAsync(IEnumerable<string> groups, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(groups);
        foreach (var g in groups)
        {
            // Sent again after it was applied, a DeleteGroups would answer GroupIdNotFound.
            var response = await RetryingCall(() => GroupGrain(g).DeleteGroup(), GroupTimeout(timeout), idempotent: false).ConfigureAwait(false);
            if (response.Error != ErrorCode.None)
                throw new ConsumerGroupException(g, new Error(response.Error, response.ErrorMessage));
        }
    }

    public async Task DeleteGroupsAsync(IList<string> group, DeleteGroupsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(group);
        var timeout = GroupTimeout(options?.RequestTimeout);
        var deletions = new Task<DeleteGroupReport>[group.Count];
        for (var i = 0; i < deletions.Length; i++) deletions[i] = DeleteGroupAsync(group[i], timeout);
        var reports = new List<DeleteGroupReport>(await Task.WhenAll(deletions).ConfigureAwait(false));
        foreach (var r in reports)
            if (r.Error.IsError) throw new DeleteGroupsException(reports);
    }

    private async Task<DeleteGroupReport> DeleteGroupAsync(string group, TimeSpan timeout)
    {
        try
        {
            // Sent again after it was applied, a DeleteGroups would answer GroupIdNotFound.
            var response = await RetryingCall(() => GroupGrain(group).DeleteGroup(), timeout, idempotent: false).ConfigureAwait(false);
            return new DeleteGroupReport(group, response.Error == ErrorCode.None ? Error.NoError : new Error(response.Error, response.ErrorMessage));
        }
        catch (KafkaException ex)
        {
            return new DeleteGroupReport(group, ex.Error);
        }
    }
}
