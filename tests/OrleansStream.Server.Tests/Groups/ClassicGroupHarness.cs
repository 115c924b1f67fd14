using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Server.Groups;

namespace OrleansStream.Server.Tests.Groups;

/// <summary>A <see cref="ClassicGroup"/> on a fake clock with the requests its members send; a tick is the grain's expiration timer.</summary>
internal sealed class ClassicGroupHarness
{
    public const int SessionMs = 10_000;
    public const int RebalanceMs = 30_000;
    public const string Topic = "t";

    public ClassicGroupHarness(Action<ConsumerGroupOptions>? configure = null)
    {
        Options = new ConsumerGroupOptions { GroupInitialRebalanceDelayMs = 0, OffsetsRetentionMinutes = 60 };
        configure?.Invoke(Options);
        Group = new ClassicGroup("g", Options, Time, NullLogger.Instance, Store);
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public ConsumerGroupOptions Options { get; }

    public ClassicGroup Group { get; }

    /// <summary>What the group stored, in order: its <see cref="ClassicGroup.Membership"/> at each write.</summary>
    public List<StoredGroupMembership?> Stored { get; } = [];

    /// <summary>When set, the group's writes fail with it.</summary>
    public Exception? StoreFailure { get; set; }

    private Task Store()
    {
        if (StoreFailure is not null) return Task.FromException(StoreFailure);
        Stored.Add(Group.Membership());
        return Task.CompletedTask;
    }

    public long NowMs => Time.GetUtcNow().ToUnixTimeMilliseconds();

    public static TopicPartition P(int partition) => new(Topic, partition);

    public static JoinGroupRequest Join(string memberId, int sessionMs = SessionMs, int rebalanceMs = RebalanceMs, params string[] protocols)
    {
        var subscription = new ConsumerProtocolSubscription([Topic], []);
        var list = new List<JoinGroupProtocol>();
        foreach (var p in protocols.Length == 0 ? new[] { "range" } : protocols) list.Add(new JoinGroupProtocol(p, subscription));
        return new JoinGroupRequest(memberId, "client", sessionMs, rebalanceMs, GroupKeys.ConsumerProtocolType, list);
    }

    public static SyncGroupRequest Sync(JoinGroupResponse joined, params (string MemberId, int[] Partitions)[] assignments)
    {
        var map = new Dictionary<string, ConsumerProtocolAssignment>();
        foreach (var (member, partitions) in assignments)
            map[member] = new ConsumerProtocolAssignment([.. partitions.Select(P)]);
        return new SyncGroupRequest(joined.MemberId, joined.GenerationId, map);
    }

    /// <summary>Advances the clock and runs the expiration check, as the grain's timer does.</summary>
    public void Advance(int ms)
    {
        Time.Advance(TimeSpan.FromMilliseconds(ms));
        Group.CheckExpirations();
    }

    /// <summary>KIP-394's round trip: the first join gets MemberIdRequired with an id; the returned task is the rejoin with it.</summary>
    public async Task<(string MemberId, Task<JoinGroupResponse> Join)> JoinNewAsync(JoinGroupRequest? request = null)
    {
        request ??= Join("");
        var issued = await Group.Join(request);
        Assert.Equal(ErrorCode.MemberIdRequired, issued.Error);
        return (issued.MemberId, Group.Join(request with { MemberId = issued.MemberId }));
    }

    /// <summary>A alone, generation 1, stable with every partition in <paramref name="partitions"/>.</summary>
    public async Task<JoinGroupResponse> StableAloneAsync(params int[] partitions)
    {
        var (a, join) = await JoinNewAsync();
        var joined = await Completed(join);
        Assert.Equal(ErrorCode.None, (await Completed(Group.Sync(Sync(joined, (a, partitions))))).Error);
        Assert.Equal(GroupState.Stable, Group.State);
        return joined;
    }

    /// <summary>A stable alone in generation 1, then B joins and A rejoins: generation 2, completing (A leads, nothing synced yet).</summary>
    public async Task<(JoinGroupResponse A1, JoinGroupResponse A2, string B)> SecondMemberJoinedAsync()
    {
        var a1 = await StableAloneAsync(0, 1);
        var (b, bJoin) = await JoinNewAsync();
        var a2 = await Completed(Group.Join(Join(a1.MemberId)));
        Assert.Equal(2, (await Completed(bJoin)).GenerationId);
        return (a1, a2, b);
    }

    /// <summary><see cref="SecondMemberJoinedAsync"/>, then stable in generation 2 with partition 0 at A and 1 at B.</summary>
    public async Task<(string A, string B)> StableTwoAsync()
    {
        var (_, a2, b) = await SecondMemberJoinedAsync();
        Assert.Equal(ErrorCode.None, (await Completed(Group.Sync(Sync(a2, (a2.MemberId, [0]), (b, [1]))))).Error);
        return (a2.MemberId, b);
    }

    /// <summary>The task has its answer now (the group answered in this call, nothing waits on real time).</summary>
    public static async Task<T> Completed<T>(Task<T> task)
    {
        Assert.True(task.IsCompleted, "the group has not answered yet");
        return await task;
    }
}
