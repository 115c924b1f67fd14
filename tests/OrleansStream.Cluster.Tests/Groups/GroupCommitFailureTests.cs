using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using OrleansStream.Server;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>
/// The fake-clock broker whose group state writes fail while <see cref="FailGroupWrites"/> is set, and wait for
/// <see cref="HoldGroupWrites"/> while it is set (<see cref="WriteHeld"/> says one is waiting).
/// </summary>
public sealed class FailingStorageGroupFixture : FakeTimeGroupFixture
{
    public volatile bool FailGroupWrites;
    public volatile TaskCompletionSource? HoldGroupWrites;
    public volatile TaskCompletionSource WriteHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override void ConfigureSilo(ISiloBuilder silo)
    {
        base.ConfigureSilo(silo);
        var registered = silo.Services.Last(d => d.IsKeyedService && d.ServiceType == typeof(IGrainStorage)
            && Equals(d.ServiceKey, OrleansStreamDefaults.GrainStorageName));
        var factory = registered.KeyedImplementationFactory ?? throw new InvalidOperationException("the grain storage has no factory");
        silo.Services.AddKeyedSingleton<IGrainStorage>(OrleansStreamDefaults.GrainStorageName,
            (sp, key) => new FailingStorage((IGrainStorage)factory(sp, key), this));
    }

    /// <summary>Fails writes of group grains (type <c>os-group</c>) on demand; everything else goes to the real storage.</summary>
    private sealed class FailingStorage(IGrainStorage inner, FailingStorageGroupFixture fixture) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
    {
        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

        public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            var group = grainId.Type.ToString() == "os-group";
            if (group && fixture.FailGroupWrites)
                throw new IOException("injected: the disk is gone");
            if (group && fixture.HoldGroupWrites is { } hold)
            {
                fixture.WriteHeld.TrySetResult();
                await hold.Task;
            }
            await inner.WriteStateAsync(stateName, grainId, grainState);
        }

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
            grainId.Type.ToString() == "os-group" && fixture.FailGroupWrites
                ? Task.FromException(new IOException("injected: the disk is gone"))
                : inner.ClearStateAsync(stateName, grainId, grainState);

        public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);
    }
}

/// <summary>Group commit when the write fails: every commit in it fails, and none of their offsets stays.</summary>
public sealed class GroupCommitFailureTests(FailingStorageGroupFixture fixture) : IClassFixture<FailingStorageGroupFixture>
{
    [Fact]
    public async Task Commits_queued_behind_a_delete_of_the_group_leave_no_empty_group_behind()
    {
        var (groupId, group, p0, p1) = await SimpleGroupAsync("del");
        var directory = fixture.Client.GetGrain<IConsumerGroupDirectoryGrain>(GroupKeys.Directory);
        Task<OffsetCommitResponse> Commit(TopicPartition tp) => SimpleCommit(group, tp, 0);
        Assert.Equal(ErrorCode.None, (await Commit(p0)).Error);
        Assert.Contains(groupId, await directory.List());

        // One commit's write is in storage, a second commit waits for the next write, and then the group is deleted.
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fixture.WriteHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fixture.HoldGroupWrites = hold;
        Task<OffsetCommitResponse> first, second;
        Task<GroupResponse> delete;
        try
        {
            first = Commit(p0);
            await fixture.WriteHeld.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            second = Commit(p1);
            await Eventually.WaitUntilAsync(async () => (await group.OffsetFetch(new OffsetFetchRequest([p1]))).Offsets[0].Offset == 0,
                "the second commit is applied and waits for the next write");
            delete = group.DeleteGroup();
            await Eventually.WaitUntilAsync(async () => (await group.OffsetFetch(new OffsetFetchRequest([p0, p1]))).Offsets.All(o => o.Offset == -1),
                "the delete has removed the offsets and waits for the write in flight");
        }
        finally
        {
            fixture.HoldGroupWrites = null;
            hold.TrySetResult();
        }

        // Both commits were acknowledged before the delete; the delete wins, and no empty group is registered again.
        Assert.Equal(ErrorCode.None, (await first).Error);
        Assert.Equal(ErrorCode.None, (await second).Error);
        Assert.Equal(ErrorCode.None, (await delete).Error);
        Assert.DoesNotContain(groupId, await directory.List());
        Assert.Equal(ErrorCode.GroupIdNotFound, (await group.Describe()).Error);
        await fixture.Cluster.DeactivateAsync(group);
        Assert.Equal(ErrorCode.GroupIdNotFound, (await group.Describe()).Error);
        Assert.DoesNotContain(groupId, await directory.List());

        // A commit after the delete creates the group again, as in Kafka.
        Assert.Equal(ErrorCode.None, (await Commit(p1)).Error);
        Assert.Equal(GroupState.Empty, (await group.Describe()).State);
        Assert.Contains(groupId, await directory.List());
    }

    [Fact]
    public async Task A_group_whose_removal_is_being_written_refuses_commits_and_joins_with_CoordinatorNotAvailable()
    {
        var (groupId, group, p0, p1) = await SimpleGroupAsync("dead");
        var directory = fixture.Client.GetGrain<IConsumerGroupDirectoryGrain>(GroupKeys.Directory);
        Task<OffsetCommitResponse> Commit(TopicPartition tp) => SimpleCommit(group, tp, 7);
        Assert.Equal(ErrorCode.None, (await Commit(p0)).Error);

        // A commit's write is held in storage; the delete marks the group Dead and waits behind that write.
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fixture.WriteHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fixture.HoldGroupWrites = hold;
        Task<OffsetCommitResponse> held;
        Task<GroupResponse> delete;
        OffsetCommitResponse commitWhileDead, txnCommitWhileDead;
        JoinGroupResponse joinWhileDead;
        OffsetFetchResponse fetchWhileDead;
        try
        {
            held = Commit(p0);
            await fixture.WriteHeld.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            delete = group.DeleteGroup();
            await Eventually.WaitUntilAsync(async () => (await group.Describe()).State == GroupState.Dead, "the delete marked the group Dead");

            commitWhileDead = await Commit(p1);
            txnCommitWhileDead = await group.TxnOffsetCommit(new TxnOffsetCommitRequest("txn-dead", 1000, 0, [new OffsetToCommit(p1, 7)]));
            joinWhileDead = await group.JoinGroup(new JoinGroupRequest("", "test", 6000, 10_000, GroupKeys.ConsumerProtocolType,
                [new JoinGroupProtocol("range", new ConsumerProtocolSubscription([p0.Topic], []))]));
            fetchWhileDead = await group.OffsetFetch(new OffsetFetchRequest());
        }
        finally
        {
            fixture.HoldGroupWrites = null;
            hold.TrySetResult();
        }

        // Kafka's answers to a Dead classic group: the client finds the coordinator again and retries.
        Assert.Equal(ErrorCode.CoordinatorNotAvailable, commitWhileDead.Error);
        Assert.Equal(ErrorCode.CoordinatorNotAvailable, txnCommitWhileDead.Error);
        Assert.Equal(ErrorCode.CoordinatorNotAvailable, joinWhileDead.Error);
        Assert.Equal(ErrorCode.GroupIdNotFound, fetchWhileDead.Error);
        Assert.Equal(ErrorCode.None, (await held).Error);
        Assert.Equal(ErrorCode.None, (await delete).Error);
        Assert.DoesNotContain(groupId, await directory.List());
        Assert.Equal(ErrorCode.GroupIdNotFound, (await group.Describe()).Error);
        Assert.Equal(-1, (await group.OffsetFetch(new OffsetFetchRequest([p1]))).Offsets[0].Offset);

        // The retried commit, once the removal is stored, makes a new group with just that offset.
        Assert.Equal(ErrorCode.None, (await Commit(p1)).Error);
        Assert.Equal(GroupState.Empty, (await group.Describe()).State);
        Assert.Equal([-1L, 7L], (await group.OffsetFetch(new OffsetFetchRequest([p0, p1]))).Offsets.Select(o => o.Offset));
        Assert.Contains(groupId, await directory.List());
    }

    [Fact]
    public async Task A_removal_that_cannot_be_stored_is_CoordinatorNotAvailable_and_the_group_comes_back_as_stored()
    {
        var topic = $"rmf-{Guid.NewGuid():N}"[..20];
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 1, 1)])).Error);
        var group = fixture.Client.GetGrain<IConsumerGroupGrain>($"g-rmf-{Guid.NewGuid():N}"[..20]);
        var p0 = new TopicPartition(topic, 0);
        Assert.Equal(ErrorCode.None, (await group.OffsetCommit(new OffsetCommitRequest("", -1, [new OffsetToCommit(p0, 5)]))).Error);

        GroupResponse deleted;
        fixture.FailGroupWrites = true;
        try
        {
            deleted = await group.DeleteGroup();
        }
        finally
        {
            fixture.FailGroupWrites = false;
        }

        Assert.Equal(ErrorCode.CoordinatorNotAvailable, deleted.Error);
        // The activation that was removing it gives way; the next one loads the group and its offset from storage.
        await Eventually.WaitUntilAsync(async () => (await group.OffsetFetch(new OffsetFetchRequest([p0]))).Offsets[0].Offset == 5,
            "the group is back with its stored offset");
        Assert.Equal(ErrorCode.None, (await group.Describe()).Error);
        Assert.Equal(ErrorCode.None, (await group.DeleteGroup()).Error);
    }

    /// <summary>A two-partition topic and a group of that name prefix (neither exists before).</summary>
    private async Task<(string GroupId, IConsumerGroupGrain Group, TopicPartition P0, TopicPartition P1)> SimpleGroupAsync(string prefix)
    {
        var topic = $"{prefix}-{Guid.NewGuid():N}"[..20];
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 2, 1)])).Error);
        var groupId = $"g-{prefix}-{Guid.NewGuid():N}"[..20];
        return (groupId, fixture.Client.GetGrain<IConsumerGroupGrain>(groupId), new TopicPartition(topic, 0), new TopicPartition(topic, 1));
    }

    /// <summary>A simple consumer's commit: no member id, generation -1.</summary>
    private static Task<OffsetCommitResponse> SimpleCommit(IConsumerGroupGrain group, TopicPartition tp, long offset) =>
        group.OffsetCommit(new OffsetCommitRequest("", -1, [new OffsetToCommit(tp, offset)]));

    [Fact]
    public async Task A_failed_write_fails_every_commit_in_it_and_leaves_the_stored_offsets()
    {
        var topic = $"fail-{Guid.NewGuid():N}"[..20];
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 4, 1)])).Error);
        var group = fixture.Client.GetGrain<IConsumerGroupGrain>($"g-fail-{Guid.NewGuid():N}"[..20]);
        var all = Enumerable.Range(0, 4).Select(p => new TopicPartition(topic, p)).ToList();
        var a = await GroupProtocolTests.JoinNew(group, new JoinGroupRequest("", "test", 6000, 10_000, GroupKeys.ConsumerProtocolType,
            [new JoinGroupProtocol("range", new ConsumerProtocolSubscription([topic], []))]));
        await group.SyncGroup(new SyncGroupRequest(a.MemberId, a.GenerationId, new Dictionary<string, ConsumerProtocolAssignment> { [a.MemberId] = new(all) }));
        Task<OffsetCommitResponse> Commit(int partition, string metadata) =>
            group.OffsetCommit(new OffsetCommitRequest(a.MemberId, a.GenerationId, [new OffsetToCommit(all[partition], 0, metadata)]));
        Assert.Equal(ErrorCode.None, (await Commit(0, "stored")).Error);

        fixture.FailGroupWrites = true;
        try
        {
            var failed = await Task.WhenAll(Commit(0, "lost"), Commit(1, "lost"), Commit(2, "lost"));
            Assert.All(failed, r => Assert.Equal(ErrorCode.CoordinatorNotAvailable, r.Error));
        }
        finally
        {
            fixture.FailGroupWrites = false;
        }

        var after = (await group.OffsetFetch(new OffsetFetchRequest(all))).Offsets;
        Assert.Equal("stored", after[0].Metadata);
        Assert.All(after.Skip(1), o => Assert.Equal(-1, o.Offset));

        // Storage is back: the next commit is written, and a new activation reads exactly what was acknowledged.
        Assert.Equal(ErrorCode.None, (await Commit(1, "stored")).Error);
        await fixture.Cluster.DeactivateAsync(group);
        var reread = (await group.OffsetFetch(new OffsetFetchRequest(all))).Offsets;
        Assert.Equal(["stored", "stored", null, null], reread.Select(o => o.Metadata));
        Assert.Equal([0L, 0L, -1L, -1L], reread.Select(o => o.Offset));
    }

    [Fact]
    public async Task A_failed_write_puts_deleted_offsets_back()
    {
        var topic = $"fdel-{Guid.NewGuid():N}"[..20];
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 2, 1)])).Error);
        var group = fixture.Client.GetGrain<IConsumerGroupGrain>($"g-fdel-{Guid.NewGuid():N}"[..20]);
        List<TopicPartition> both = [new(topic, 0), new(topic, 1)];
        Assert.Equal(ErrorCode.None, (await group.OffsetCommit(new OffsetCommitRequest("", -1, [new OffsetToCommit(both[0], 0, "kept"), new OffsetToCommit(both[1], 0, "kept")]))).Error);

        DeleteOffsetsResponse failed;
        fixture.FailGroupWrites = true;
        try
        {
            failed = await group.DeleteOffsets([both[0]]);
        }
        finally
        {
            fixture.FailGroupWrites = false;
        }
        var afterFailure = await group.OffsetFetch(new OffsetFetchRequest(both));
        var deleted = await group.DeleteOffsets([both[0]]);
        await fixture.Cluster.DeactivateAsync(group);
        var reread = await group.OffsetFetch(new OffsetFetchRequest(both));

        Assert.Equal(ErrorCode.CoordinatorNotAvailable, failed.Error);
        Assert.Equal(["kept", "kept"], afterFailure.Offsets.Select(o => o.Metadata));
        Assert.Equal(ErrorCode.None, deleted.Error);
        Assert.Equal([null, "kept"], reread.Offsets.Select(o => o.Metadata));
        Assert.Equal([-1L, 0L], reread.Offsets.Select(o => o.Offset));
    }
}
