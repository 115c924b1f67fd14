using Microsoft.Extensions.Time.Testing;
using OrleansStream.Server.Groups;
using OrleansStream.Server.Groups.Consumer;

namespace OrleansStream.Server.Tests.Groups;

/// <summary>
/// Kafka's consumer group protocol (KIP-848) on a fake clock: joins, the revoke-before-assign reconciliation, epochs and
/// fencing, leaves, static members, session and rebalance timeouts, the offset fences and what is stored. Each step
/// checks that no partition is ever held by two members at once, the protocol's promise.
/// </summary>
public class ConsumerGroupTests
{
    private static readonly Guid T = Guid.Parse("00000000-0000-0000-0000-0000000000aa");
    private static readonly Guid U = Guid.Parse("00000000-0000-0000-0000-0000000000bb");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly ConsumerGroupOptions _options = new() { ConsumerSessionTimeoutMs = 45_000, ConsumerHeartbeatIntervalMs = 5_000 };
    private readonly Dictionary<string, SubscribedTopic> _cluster = new(StringComparer.Ordinal) { ["t"] = new(T, 4) };
    private readonly ConsumerGroup _group;

    // What the broker's authorizer lets each principal DESCRIBE (null: no authorizer); only members with a principal are checked.
    private HashSet<(string Principal, string Topic)>? _describable;

    public ConsumerGroupTests() =>
        _group = new ConsumerGroup("g", _options, _time, (principal, host, topic) => _describable is null || _describable.Contains((principal, topic)));

    private static ConsumerGroupHeartbeatRequest Join(string memberId, string[]? topics = null, string? instanceId = null, int rebalanceTimeoutMs = 30_000, string? assignor = null) =>
        new(memberId, 0, instanceId, null, rebalanceTimeoutMs, topics ?? ["t"], null, assignor, [], "client", "/127.0.0.1");

    private static ConsumerGroupHeartbeatRequest Beat(string memberId, int epoch, params int[]? owned) =>
        new(memberId, epoch, null, null, -1, null, null, null, owned is null ? null : [new TopicIdPartitions(T, owned)]);

    /// <summary>One heartbeat as the grain makes it: the subscribed topics looked up first when the group asks.</summary>
    private ConsumerGroupHeartbeatResponse Send(ConsumerGroupHeartbeatRequest request)
    {
        Dictionary<string, SubscribedTopic>? refreshed = null;
        if (_group.TopicsToRefresh(request) is { } refresh)
        {
            refreshed = new Dictionary<string, SubscribedTopic>(StringComparer.Ordinal);
            foreach (var t in refresh.Names ?? [.. _cluster.Keys])
                if (_cluster.TryGetValue(t, out var found)) refreshed[t] = found;
        }
        var (response, _) = _group.Heartbeat(request, refreshed);
        AssertNoPartitionHasTwoOwners();
        return response;
    }

    private void AssertNoPartitionHasTwoOwners()
    {
        var held = new HashSet<(Guid, int)>();
        foreach (var m in _group.Describe().Members)
            foreach (var t in m.Assignment)
                foreach (var p in t.Partitions)
                    Assert.True(held.Add((t.TopicId, p)), $"partition {t.TopicName}-{p} is held by two members");
    }

    private static int[] Partitions(ConsumerGroupHeartbeatResponse response)
    {
        Assert.NotNull(response.Assignment);
        var list = new List<int>();
        foreach (var t in response.Assignment!) list.AddRange(t.Partitions);
        list.Sort();
        return [.. list];
    }

    private void Advance(int ms)
    {
        _time.Advance(TimeSpan.FromMilliseconds(ms));
        _group.CheckExpirations();
    }

    [Fact]
    public void The_first_member_gets_every_partition_in_the_first_epoch()
    {
        var joined = Send(Join("a"));

        Assert.Equal(ErrorCode.None, joined.Error);
        Assert.Equal("a", joined.MemberId);
        Assert.Equal(1, joined.MemberEpoch);
        Assert.Equal(5_000, joined.HeartbeatIntervalMs);
        Assert.Equal([0, 1, 2, 3], Partitions(joined));
        Assert.Equal("Stable", _group.StateName);
        Assert.Equal("uniform", _group.AssignorName);

        // A heartbeat that changes nothing is answered with the epoch alone.
        var beat = Send(Beat("a", 1, 0, 1, 2, 3));
        Assert.Equal(1, beat.MemberEpoch);
        Assert.Null(beat.Assignment);
    }

    [Fact]
    public void A_v0_join_without_a_member_id_is_given_one()
    {
        var joined = Send(Join("") with { ApiVersion = 0 });

        Assert.Equal(ErrorCode.None, joined.Error);
        Assert.False(string.IsNullOrEmpty(joined.MemberId));
        Assert.Equal(ErrorCode.InvalidRequest, Send(Join("") with { ApiVersion = 1 }).Error);
    }

    [Fact]
    public void A_second_member_gets_its_partitions_only_after_the_first_revoked_them()
    {
        Send(Join("a"));
        var b = Send(Join("b"));
        // The target gives b half, but a still holds them: b moves to the new epoch and waits.
        Assert.Equal(2, b.MemberEpoch);
        Assert.Empty(Partitions(b));
        Assert.Equal("Reconciling", _group.StateName);

        // a is asked to revoke: it keeps its half and stays in its epoch until it reports the rest gone.
        var revoke = Send(Beat("a", 1, 0, 1, 2, 3));
        Assert.Equal(1, revoke.MemberEpoch);
        var kept = Partitions(revoke);
        Assert.Equal(2, kept.Length);

        // Still reporting them: nothing moves, and b still waits.
        Assert.Null(Send(Beat("a", 1, 0, 1, 2, 3)).Assignment);
        Assert.Null(Send(Beat("b", 2)).Assignment);

        var revoked = Send(Beat("a", 1, kept));
        Assert.Equal(2, revoked.MemberEpoch);

        var taken = Send(Beat("b", 2, []));
        Assert.Equal(2, taken.MemberEpoch);
        var given = Partitions(taken);
        Assert.Equal(2, given.Length);
        Assert.Empty(kept.Intersect(given));
        Assert.Equal("Stable", _group.StateName);
    }

    [Fact]
    public void Epochs_ahead_or_behind_are_fenced_except_a_lost_answer()
    {
        Send(Join("a"));
        Send(Join("b"));
        var revoke = Send(Beat("a", 1, 0, 1, 2, 3));
        var kept = Partitions(revoke);
        Send(Beat("a", 1, kept));   // now epoch 2; suppose this answer was lost

        Assert.Equal(ErrorCode.FencedMemberEpoch, Send(Beat("a", 3, kept)).Error);
        // The previous epoch with partitions of its assignment: the member missed the answer, and is told again.
        var again = Send(Beat("a", 1, kept));
        Assert.Equal(ErrorCode.None, again.Error);
        Assert.Equal(2, again.MemberEpoch);
        // The previous epoch still holding what it had to give up is fenced.
        Assert.Equal(ErrorCode.FencedMemberEpoch, Send(Beat("a", 1, 0, 1, 2, 3)).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, Send(Beat("nobody", 1)).Error);
    }

    [Fact]
    public void A_member_that_leaves_hands_its_partitions_to_the_others()
    {
        Send(Join("a"));
        var b = Send(Join("b"));
        var kept = Partitions(Send(Beat("a", 1, 0, 1, 2, 3)));
        Send(Beat("a", 1, kept));
        Send(Beat("b", b.MemberEpoch, []));

        var left = Send(new ConsumerGroupHeartbeatRequest("b", ConsumerGroup.LeaveEpoch, null, null, -1, null, null, null, null));
        Assert.Equal(ErrorCode.None, left.Error);
        Assert.Equal(ConsumerGroup.LeaveEpoch, left.MemberEpoch);
        Assert.Equal(1, _group.MemberCount);

        var all = Send(Beat("a", 2, kept));
        Assert.Equal([0, 1, 2, 3], Partitions(all));
        Assert.True(all.MemberEpoch > 2);
    }

    [Fact]
    public void A_member_without_heartbeats_is_removed_after_its_session()
    {
        Send(Join("a"));
        Send(Join("b"));
        Advance(30_000);
        Send(Beat("a", 1, 0, 1, 2, 3));
        Advance(16_000);   // b's session (45 s) has passed; a heartbeated 16 s ago

        Assert.Equal(1, _group.MemberCount);
        Assert.Equal(ErrorCode.UnknownMemberId, Send(Beat("b", 2)).Error);
    }

    [Fact]
    public void The_groups_own_session_timeout_and_heartbeat_interval_replace_the_brokers()
    {
        _group.Settings = GroupConfigs.Effective(new Dictionary<string, string>
        {
            [GroupConfigs.ConsumerSessionTimeoutMs] = "60000",
            [GroupConfigs.ConsumerHeartbeatIntervalMs] = "7000",
        }, _options);

        Assert.Equal(7_000, Send(Join("a")).HeartbeatIntervalMs);
        Advance(50_000);   // past the broker's 45 s session, within the group's 60 s
        Assert.Equal(1, _group.MemberCount);
        Assert.Equal(7_000, Send(Beat("a", 1, 0, 1, 2, 3)).HeartbeatIntervalMs);

        Advance(59_999);
        Assert.Equal(1, _group.MemberCount);
        Advance(2);
        Assert.Equal(0, _group.MemberCount);
    }

    [Fact]
    public void A_member_that_does_not_revoke_within_its_rebalance_timeout_is_fenced()
    {
        Send(Join("a", rebalanceTimeoutMs: 10_000));
        Send(Join("b"));
        Send(Beat("a", 1, 0, 1, 2, 3));   // asked to revoke
        Advance(5_000);
        Send(Beat("a", 1, 0, 1, 2, 3));   // still holds them
        Advance(5_001);

        Assert.Equal(1, _group.MemberCount);
        var b = Send(Beat("b", 2, []));
        Assert.Equal([0, 1, 2, 3], Partitions(b));
    }

    [Fact]
    public void A_member_rejoining_with_its_id_starts_over_and_its_old_partitions_are_released()
    {
        Send(Join("a"));
        var again = Send(Join("a"));

        Assert.Equal(ErrorCode.None, again.Error);
        Assert.Equal([0, 1, 2, 3], Partitions(again));
        Assert.Equal(1, _group.MemberCount);
    }

    [Fact]
    public void A_static_member_that_leaves_for_a_while_keeps_its_partitions_and_gets_them_back()
    {
        Send(Join("a", instanceId: "i1"));
        var b = Send(Join("b", instanceId: "i2"));
        var kept = Partitions(Send(new ConsumerGroupHeartbeatRequest("a", 1, "i1", null, -1, null, null, null, [new TopicIdPartitions(T, [0, 1, 2, 3])])));
        Send(new ConsumerGroupHeartbeatRequest("a", 1, "i1", null, -1, null, null, null, [new TopicIdPartitions(T, kept)]));
        var bParts = Partitions(Send(new ConsumerGroupHeartbeatRequest("b", b.MemberEpoch, "i2", null, -1, null, null, null, [])));
        var epoch = _group.GroupEpoch;

        var away = Send(new ConsumerGroupHeartbeatRequest("b", ConsumerGroup.LeaveStaticEpoch, "i2", null, -1, null, null, null, null));
        Assert.Equal(ConsumerGroup.LeaveStaticEpoch, away.MemberEpoch);
        // Another process may not take the instance id while b holds it... but b left for now, so its successor may.
        var back = Send(Join("b2", instanceId: "i2"));

        Assert.Equal(ErrorCode.None, back.Error);
        Assert.Equal(bParts, Partitions(back));
        Assert.Equal(epoch, _group.GroupEpoch);
        // While b2 holds it, a third is refused.
        Assert.Equal(ErrorCode.UnreleasedInstanceId, Send(Join("b3", instanceId: "i2")).Error);
        // And b, the old process, is fenced.
        Assert.Equal(ErrorCode.FencedInstanceId,
            Send(new ConsumerGroupHeartbeatRequest("b", 2, "i2", null, -1, null, null, null, null)).Error);
    }

    [Fact]
    public void Invalid_requests_are_refused_as_Kafka_refuses_them()
    {
        Assert.Equal(ErrorCode.InvalidRequest, Send(Join("a") with { RebalanceTimeoutMs = -1 }).Error);
        Assert.Equal(ErrorCode.InvalidRequest, Send(Join("a") with { SubscribedTopicNames = [] }).Error);
        Assert.Equal(ErrorCode.InvalidRequest, Send(Join("a") with { OwnedPartitions = [new TopicIdPartitions(T, [0])] }).Error);
        Assert.Equal(ErrorCode.InvalidRequest, Send(Join("a") with { InstanceId = "" }).Error);
        Assert.Equal(ErrorCode.InvalidRequest, Send(Join("a") with { MemberEpoch = -3 }).Error);
        Assert.Equal(ErrorCode.InvalidRegularExpression, Send(Join("a") with { SubscribedTopicRegex = "t(" }).Error);
        Assert.Equal(ErrorCode.InvalidRegularExpression, Send(Join("a") with { SubscribedTopicRegex = "(t)\\1" }).Error);   // no backreferences, as RE2
        Assert.Equal(ErrorCode.UnsupportedAssignor, Send(Join("a", assignor: "sticky")).Error);
        Assert.Equal(0, _group.MemberCount);
    }

    /// <summary>
    /// Kafka 4's regex subscriptions: the pattern is matched whole against every topic, and a topic created to match is
    /// subscribed at the group's next look; "" is no regex, as librdkafka sends with a subscription of names.
    /// </summary>
    [Fact]
    public void A_regex_subscription_takes_every_matching_topic_and_those_created_later()
    {
        _cluster["tx"] = new SubscribedTopic(U, 2);
        _cluster["other"] = new SubscribedTopic(Guid.NewGuid(), 3);
        var joined = Send(Join("a", []) with { SubscribedTopicRegex = "t.*" });
        Assert.Equal(ErrorCode.None, joined.Error);
        Assert.Equal(6, joined.Assignment!.Sum(t => t.Partitions.Count));   // t (4) and tx (2), not "other"
        Assert.Equal("t.*", _group.Describe().Members[0].SubscribedTopicRegex);
        Assert.True(_group.IsSubscribedToTopic("tx"));
        Assert.False(_group.IsSubscribedToTopic("other"));

        var later = Guid.NewGuid();
        _cluster["t-later"] = new SubscribedTopic(later, 1);
        _time.Advance(TimeSpan.FromMilliseconds(_options.ConsumerMetadataRefreshIntervalMs));
        var grown = Send(Beat("a", joined.MemberEpoch, 0, 1, 2, 3));
        Assert.Contains(grown.Assignment!, t => t.TopicId == later);

        // "" clears the regex: only the names stay (none here), so the member has nothing.
        var cleared = Send(new ConsumerGroupHeartbeatRequest("a", grown.MemberEpoch, null, null, -1, ["t"], "", null, [new TopicIdPartitions(T, [0, 1, 2, 3])]));
        Assert.Null(_group.Describe().Members[0].SubscribedTopicRegex);
        Assert.Equal(ErrorCode.None, cleared.Error);
    }

    /// <summary>
    /// With an authorizer, a member's regex is resolved for its principal: it matches only the topics that principal may
    /// DESCRIBE, another principal's member with the same pattern gets its own matches, and a grant counts from the
    /// group's next look.
    /// </summary>
    [Fact]
    public void A_regex_matches_only_the_topics_the_members_principal_may_describe()
    {
        _cluster["tx"] = new SubscribedTopic(U, 2);
        _describable = [("User:alice", "tx")];
        ConsumerGroupHeartbeatRequest JoinAs(string member, string principal) =>
            Join(member, []) with { SubscribedTopicRegex = "t.*", Principal = principal, PrincipalHost = "127.0.0.1" };

        var alice = Send(JoinAs("a", "User:alice"));
        Assert.Equal([U], alice.Assignment!.Where(t => t.Partitions.Count > 0).Select(t => t.TopicId));
        Assert.False(_group.IsSubscribedToTopic("t"));

        var bob = Send(JoinAs("b", "User:bob"));
        Assert.Equal(0, bob.Assignment?.Sum(t => t.Partitions.Count) ?? 0);

        _describable.Add(("User:alice", "t"));
        _time.Advance(TimeSpan.FromMilliseconds(_options.ConsumerMetadataRefreshIntervalMs));
        var granted = Send(new ConsumerGroupHeartbeatRequest("a", alice.MemberEpoch, null, null, -1, null, null, null, [new TopicIdPartitions(U, [0, 1])]));
        Assert.Contains(granted.Assignment!, t => t.TopicId == T && t.Partitions.Count == 4);
        Assert.True(_group.IsSubscribedToTopic("t"));
    }

    [Fact]
    public void The_range_assignor_is_used_when_the_members_ask_for_it()
    {
        Send(Join("a", assignor: "range"));
        Assert.Equal("range", _group.AssignorName);
    }

    [Fact]
    public void Offsets_are_fenced_by_member_and_epoch()
    {
        Assert.Null(_group.ValidateOffsetCommit("", -1, transactional: false, version9OrLater: true));   // empty group: an admin's commit
        Send(Join("a"));

        Assert.Null(_group.ValidateOffsetCommit("a", 1, transactional: false, version9OrLater: true));
        Assert.Equal(ErrorCode.StaleMemberEpoch, _group.ValidateOffsetCommit("a", 0, transactional: false, version9OrLater: true)!.Error);
        Assert.Equal(ErrorCode.IllegalGeneration, _group.ValidateOffsetCommit("a", 0, transactional: true, version9OrLater: true)!.Error);
        Assert.Equal(ErrorCode.UnknownMemberId, _group.ValidateOffsetCommit("", -1, transactional: false, version9OrLater: true)!.Error);
        Assert.Equal(ErrorCode.UnsupportedVersion, _group.ValidateOffsetCommit("a", 1, transactional: false, version9OrLater: false)!.Error);

        Assert.Null(_group.ValidateOffsetFetch(null, -1));
        Assert.Null(_group.ValidateOffsetFetch("a", 1));
        Assert.Equal(ErrorCode.StaleMemberEpoch, _group.ValidateOffsetFetch("a", 3)!.Error);
        Assert.Equal(ErrorCode.UnknownMemberId, _group.ValidateOffsetFetch("x", 1)!.Error);
    }

    [Fact]
    public void New_partitions_and_topics_are_assigned_once_the_group_looks_again()
    {
        Send(Join("a", ["t", "u"]));
        Assert.Single(_group.Describe().Members[0].Assignment);   // u does not exist yet

        _cluster["t"] = new SubscribedTopic(T, 6);
        _cluster["u"] = new SubscribedTopic(U, 2);
        Assert.Null(Send(Beat("a", 1, 0, 1, 2, 3)).Assignment);   // the view is fresh: not looked at again yet
        _time.Advance(TimeSpan.FromMilliseconds(_options.ConsumerMetadataRefreshIntervalMs));

        var grown = Send(Beat("a", 1, 0, 1, 2, 3));
        Assert.Equal(2, grown.MemberEpoch);
        Assert.Equal(2, grown.Assignment!.Count);
        Assert.Equal(8, grown.Assignment.Sum(t => t.Partitions.Count));
    }

    /// <summary>
    /// A subscribed topic deleted (or made again under a new id) changes the group's view at its next look: the group
    /// epoch moves, the target drops the old topic's partitions, and the member is asked to revoke them before it
    /// moves on.
    /// </summary>
    [Fact]
    public void A_deleted_topic_leaves_the_target_and_its_partitions_are_revoked()
    {
        _cluster["u"] = new SubscribedTopic(U, 2);
        var joined = Send(Join("a", ["t", "u"]));
        Assert.Equal(6, joined.Assignment!.Sum(t => t.Partitions.Count));

        _cluster.Remove("u");
        _time.Advance(TimeSpan.FromMilliseconds(_options.ConsumerMetadataRefreshIntervalMs));
        var owned = new List<TopicIdPartitions> { new(T, [0, 1, 2, 3]), new(U, [0, 1]) };
        var revoke = Send(new ConsumerGroupHeartbeatRequest("a", joined.MemberEpoch, null, null, -1, null, null, null, owned));
        Assert.Equal(joined.MemberEpoch, revoke.MemberEpoch);
        Assert.Equal([T], revoke.Assignment!.Select(t => t.TopicId));
        Assert.Equal("Reconciling", _group.StateName);

        var moved = Send(Beat("a", joined.MemberEpoch, 0, 1, 2, 3));
        Assert.Equal(joined.MemberEpoch + 1, moved.MemberEpoch);
        Assert.Equal("Stable", _group.StateName);
    }

    [Fact]
    public void A_stored_group_loads_with_its_members_epochs_and_partitions()
    {
        Send(Join("a"));
        Send(Join("b"));
        var kept = Partitions(Send(Beat("a", 1, 0, 1, 2, 3)));
        var stored = _group.ToStored();

        var loaded = new ConsumerGroup("g", _options, _time);
        loaded.Load(stored);

        Assert.Equal(_group.Describe(), loaded.Describe(), new DescriptionComparer());
        // a, still revoking, goes on where it was; b still waits for what a holds.
        var (revoked, _) = loaded.Heartbeat(Beat("a", 1, kept), null);
        Assert.Equal(2, revoked.MemberEpoch);
        var (b, _) = loaded.Heartbeat(Beat("b", 2, []), null);
        Assert.Equal(2, Partitions(b).Length);
    }

    /// <summary>The grain sets the group's configs before it loads the stored group: the loaded members' sessions start with them.</summary>
    [Fact]
    public void A_stored_groups_members_start_their_sessions_with_the_groups_timeout()
    {
        Send(Join("a"));
        var loaded = new ConsumerGroup("g", _options, _time)
        {
            Settings = GroupConfigs.Effective(new Dictionary<string, string> { [GroupConfigs.ConsumerSessionTimeoutMs] = "60000" }, _options),
        };
        loaded.Load(_group.ToStored());

        _time.Advance(TimeSpan.FromMilliseconds(50_000));   // past the broker's 45 s
        loaded.CheckExpirations();
        Assert.Equal(1, loaded.MemberCount);
        _time.Advance(TimeSpan.FromMilliseconds(10_001));
        loaded.CheckExpirations();
        Assert.Equal(0, loaded.MemberCount);
    }

    private sealed class DescriptionComparer : IEqualityComparer<ConsumerGroupDescribeResult>
    {
        public bool Equals(ConsumerGroupDescribeResult? x, ConsumerGroupDescribeResult? y) =>
            x is not null && y is not null && Text(x) == Text(y);

        public int GetHashCode(ConsumerGroupDescribeResult obj) => Text(obj).GetHashCode(StringComparison.Ordinal);

        private static string Text(ConsumerGroupDescribeResult d) =>
            $"{d.GroupState} {d.GroupEpoch} {d.AssignmentEpoch} {d.AssignorName} " + string.Join(";", d.Members.Select(m =>
                $"{m.MemberId}@{m.MemberEpoch}:{string.Join(",", m.Assignment.SelectMany(t => t.Partitions))}/{string.Join(",", m.TargetAssignment.SelectMany(t => t.Partitions))}"));
    }
}
