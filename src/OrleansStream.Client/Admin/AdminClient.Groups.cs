using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

internal sealed partial class AdminClient
{
    private IConsumerGroupGrain GroupGrain(string group)
    {
        if (string.IsNullOrWhiteSpace(group))
            throw new ConsumerGroupException(group ?? "", new Error(ErrorCode.InvalidGroupId, "a group id must not be empty"));
        return clusterClient.GetGrain<IConsumerGroupGrain>(group);
    }

    private TimeSpan GroupTimeout(TimeSpan? timeout) => timeout ?? TimeSpan.FromMilliseconds(_requestTimeoutMs);

    public Task<ListConsumerGroupsResult> ListConsumerGroupsAsync(TimeSpan? timeout = null) =>
        ListConsumerGroupsAsync(new ListConsumerGroupsOptions { RequestTimeout = timeout });

    public async Task<ListConsumerGroupsResult> ListConsumerGroupsAsync(ListConsumerGroupsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var timeout = options.RequestTimeout;
        HashSet<GroupState> states = options.MatchStates is { } s ? [.. s] : [];
        HashSet<ConsumerGroupType> types = options.MatchTypes is { } t ? [.. t] : [];
        var ids = await IdempotentCall(() => clusterClient.GetGrain<IConsumerGroupDirectoryGrain>(GroupKeys.Directory).List(), timeout).ConfigureAwait(false);
        var all = await IdempotentCall(() =>
        {
            var describes = new Task<GroupDescription>[ids.Count];
            for (var i = 0; i < ids.Count; i++) describes[i] = GroupGrain(ids[i]).Describe();
            return Task.WhenAll(describes);
        }, timeout).ConfigureAwait(false);
        var listings = new List<ConsumerGroupListing>(all.Length);
        foreach (var d in all)
            if (d.Error == ErrorCode.None && (states.Count == 0 || states.Contains(d.State)) && (types.Count == 0 || types.Contains(TypeOf(d))))
                listings.Add(new ConsumerGroupListing(d.GroupId, d.State, IsSimpleConsumerGroup: d.ProtocolType.Length == 0, TypeOf(d), d.StateText));
        return new ListConsumerGroupsResult(listings);
    }

    public async Task<DescribeConsumerGroupsResult> DescribeConsumerGroupsAsync(IEnumerable<string> groups, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var grains = new List<IConsumerGroupGrain>();
        foreach (var g in groups) grains.Add(GroupGrain(g));
        var all = await IdempotentCall(() => Task.WhenAll(grains.ConvertAll(static g => g.Describe())), timeout).ConfigureAwait(false);
        var result = new List<ConsumerGroupDescription>(all.Length);
        foreach (var d in all)
        {
            if (d.Error != ErrorCode.None)
                throw new ConsumerGroupException(d.GroupId, new Error(d.Error, $"group '{d.GroupId}': {d.Error}"));
            var members = new List<MemberDescription>(d.Members.Count);
            foreach (var m in d.Members)
                members.Add(new MemberDescription(m.MemberId, m.ClientId, [.. m.Topics], [.. m.Assignment.Partitions]));
            result.Add(new ConsumerGroupDescription(d.GroupId, d.State, d.Protocol ?? "", d.GenerationId, d.LeaderId, members, Error.NoError, TypeOf(d), d.StateText));
        }
        return new DescribeConsumerGroupsResult(result);
    }

    private static ConsumerGroupType TypeOf(GroupDescription d) =>
        d.Type == GroupKeys.ConsumerGroupType ? ConsumerGroupType.Consumer : ConsumerGroupType.Classic;

    public async Task<ListConsumerGroupOffsetsResult> ListConsumerGroupOffsetsAsync(
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
        return new ListConsumerGroupOffsetsResult(group, result);
    }

    public async Task AlterConsumerGroupOffsetsAsync(string group, IEnumerable<TopicPartitionOffset> offsets, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        var list = new List<OffsetToCommit>();
        foreach (var tpo in offsets) list.Add(new OffsetToCommit(tpo.TopicPartition, tpo.Offset));
        // Setting the same offsets again changes nothing: safe to give up and send again.
        var response = await IdempotentCall(() => GroupGrain(group).ResetOffsets(list), timeout).ConfigureAwait(false);
        if (response.Error != ErrorCode.None)
            throw new ConsumerGroupException(group, new Error(response.Error, response.ErrorMessage), response.Partitions);
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
        await AlterConsumerGroupOffsetsAsync(group, offsets, timeout).ConfigureAwait(false);
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

    public async Task DeleteConsumerGroupOffsetsAsync(string group, IEnumerable<TopicPartition> partitions, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var list = new List<TopicPartition>(partitions);
        // Deleting the last offsets of an empty group deletes the group: sent again, it would answer GroupIdNotFound.
        var response = await RetryingCall(() => GroupGrain(group).DeleteOffsets(list), GroupTimeout(timeout), idempotent: false).ConfigureAwait(false);
        if (response.Error != ErrorCode.None)
            throw new ConsumerGroupException(group, new Error(response.Error, response.ErrorMessage));
        List<PartitionError>? refused = null;
        foreach (var p in response.Partitions)
            if (p.Error != ErrorCode.None) (refused ??= []).Add(p);
        if (refused is not null)
            throw new ConsumerGroupException(group, new Error(refused[0].Error, refused[0].ErrorMessage), refused);
    }
}
