using OrleansStream.Server.Groups;
using static OrleansStream.Server.Tests.Groups.ClassicGroupHarness;

namespace OrleansStream.Server.Tests.Groups;

/// <summary>Committed offsets, their checks, group commit against a storage whose writes the test completes, and expiry.</summary>
public sealed class OffsetMetadataManagerTests
{
    private readonly ClassicGroupHarness _h = new(o => o.OffsetMetadataMaxBytes = 4);
    private readonly OffsetMetadataManager _offsets;
    private readonly List<StoredOffset> _stored = [];
    private readonly List<TaskCompletionSource> _writes = [];
    private bool _holdWrites;

    public OffsetMetadataManagerTests() =>
        _offsets = new OffsetMetadataManager(_h.Group, new OrleansStream.Server.Groups.Consumer.ConsumerGroup(_h.Group.GroupId, _h.Options, _h.Time), _h.Options, _h.Time, WriteAsync);

    /// <summary>The grain's write: snapshot, store (held until the test lets it finish, or failed), report.</summary>
    private async Task WriteAsync()
    {
        var snapshot = new List<StoredOffset>();
        _offsets.CopyTo(snapshot);
        if (_holdWrites)
        {
            // Synchronous continuations: completing a write runs the rest of the flush (and the next write's start) on
            // the test's thread before SetResult returns, so every step below is deterministic.
            var write = new TaskCompletionSource();
            _writes.Add(write);
            await write.Task;
        }
        _stored.Clear();
        _stored.AddRange(snapshot);
        _offsets.Written(snapshot);
    }

    private static OffsetToCommit At(int partition, long offset, string? metadata = null) => new(P(partition), offset, metadata, LeaderEpoch: 3);

    private long Committed(int partition) => _offsets.Fetch([P(partition)])[0].Offset;

    [Fact]
    public async Task A_commit_is_fetchable_with_its_metadata_epoch_and_commit_time_and_unknown_partitions_answer_minus_1()
    {
        await _offsets.CommitAsync([At(1, 7, "m"), At(0, 5)]);

        var all = _offsets.Fetch(null);
        Assert.Equal(new[] { P(0), P(1) }, all.Select(o => o.TopicPartition));
        Assert.Equal(new CommittedOffset(P(1), 7, "m", 3, _h.NowMs), all[1]);
        Assert.Equal(new CommittedOffset(P(9), -1, null, -1, -1), _offsets.Fetch([P(9)])[0]);
        Assert.Equal(2, _stored.Count);
    }

    [Fact]
    public async Task Commits_arriving_while_a_write_is_in_flight_share_the_next_write()
    {
        _holdWrites = true;
        var first = _offsets.CommitAsync([At(0, 1)]);
        Assert.Single(_writes);
        var second = _offsets.CommitAsync([At(1, 2)]);
        var third = _offsets.CommitAsync([At(2, 3)]);
        Assert.Single(_writes);
        Assert.Equal(2, Committed(1)); // in effect before it is stored, as in Kafka's cache

        _writes[0].SetResult();
        await first;
        Assert.Equal(2, _writes.Count);
        Assert.False(second.IsCompleted);
        _writes[1].SetResult();
        await Task.WhenAll(second, third);
        Assert.Equal(2, _writes.Count);
        Assert.Equal(3, _stored.Count);
    }

    [Fact]
    public async Task A_failed_write_fails_its_commits_and_puts_their_partitions_back_unless_a_later_commit_set_them_again()
    {
        await _offsets.CommitAsync([At(0, 5)]);
        _holdWrites = true;
        var failing = _offsets.CommitAsync([At(0, 10), At(1, 7)]);
        var later = _offsets.CommitAsync([At(2, 1), At(0, 12)]);

        _writes[0].SetException(new IOException("storage unavailable"));
        await Assert.ThrowsAsync<IOException>(() => failing);
        Assert.Equal(12, Committed(0)); // set again by the later commit, which is still being written
        Assert.Equal(-1, Committed(1)); // never stored

        Assert.Equal(2, _writes.Count);
        _writes[1].SetResult();
        await later;
        Assert.Equal(new[] { (0, 12L), (2, 1L) }, _stored.Select(o => (o.Partition, o.Offset)).OrderBy(o => o.Partition));

        // With no later commit, a failed write leaves what storage holds.
        var alone = _offsets.CommitAsync([At(0, 20)]);
        _writes[2].SetException(new IOException("storage unavailable"));
        await Assert.ThrowsAsync<IOException>(() => alone);
        Assert.Equal(12, Committed(0));
    }

    [Fact]
    public void An_offset_needs_a_partition_and_metadata_within_offset_metadata_max_bytes_in_UTF16_code_units_and_may_be_any_value()
    {
        // Kafka compares Java's String.length(): "éééé" is 4 code units (8 UTF-8 bytes), one emoji 2 (a surrogate pair).
        Assert.Null(_offsets.ValidateOffsets([At(0, 0, "abcd"), At(1, 9, "éééé"), At(2, -1, "\U0001F600\U0001F600"), At(3, long.MaxValue)]));

        var errors = _offsets.ValidateOffsets([At(0, 1, "abcde"), At(1, 1, "ééééé"), At(2, 1, "a\U0001F600\U0001F600"), new OffsetToCommit(new TopicPartition("", 0), 1)]);

        Assert.Equal(
            new[] { ErrorCode.OffsetMetadataTooLarge, ErrorCode.OffsetMetadataTooLarge, ErrorCode.OffsetMetadataTooLarge, ErrorCode.UnknownTopicOrPartition },
            errors!.Select(e => e.Error));
    }

    [Fact]
    public async Task A_members_commit_is_fenced_by_its_member_id_and_generation_and_never_by_its_assignment()
    {
        var (a1, a2, b) = await _h.SecondMemberJoinedAsync(); // generation 1 gave A partitions 0 and 1
        var a = a1.MemberId;
        OffsetCommitRequest Commit(string member, int generation, params int[] partitions) =>
            new(member, generation, [.. partitions.Select(p => At(p, 0))]);
        Assert.Equal(ErrorCode.RebalanceInProgress, _offsets.ValidateCommitter(Commit(a, 2, 0), groupExists: true)!.Error);

        // Generation 2 gives A partition 0 and B partition 1: either commits any partition, owned by the other or by no one.
        await Completed(_h.Group.Sync(Sync(a2, (a, [0]), (b, [1]))));
        Assert.Null(_offsets.ValidateCommitter(Commit(a, 2, 0, 1, 7), groupExists: true));
        Assert.Null(_offsets.ValidateCommitter(Commit(b, 2, 0), groupExists: true));
        Assert.Equal(ErrorCode.IllegalGeneration, _offsets.ValidateCommitter(Commit(a, 1, 0), groupExists: true)!.Error);
        Assert.Equal(ErrorCode.UnknownMemberId, _offsets.ValidateCommitter(Commit("stranger", 2, 0), groupExists: true)!.Error);
        // A simple commit (no member id, no generation) is for a group without members.
        Assert.Equal(ErrorCode.UnknownMemberId, _offsets.ValidateCommitter(Commit("", -1, 0), groupExists: true)!.Error);
    }

    [Fact]
    public async Task A_commit_with_a_negative_generation_is_taken_by_an_empty_group_and_one_naming_a_generation_of_a_group_that_does_not_exist_is_IllegalGeneration()
    {
        Assert.Null(_offsets.ValidateCommitter(new OffsetCommitRequest("", -1, [At(0, 0)]), groupExists: false));
        // Kafka's validateOffsetCommit returns before the member check for a negative generation in an empty group.
        Assert.Null(_offsets.ValidateCommitter(new OffsetCommitRequest("someone", -1, [At(0, 0)]), groupExists: true));
        Assert.Equal(ErrorCode.IllegalGeneration, _offsets.ValidateCommitter(new OffsetCommitRequest("someone", 3, [At(0, 0)]), groupExists: false)!.Error);
        Assert.Equal(ErrorCode.IllegalGeneration, _offsets.ValidateTxnCommitter(Txn("someone", 3), groupExists: false)!.Error);
        Assert.Equal(ErrorCode.UnknownMemberId, _offsets.ValidateCommitter(new OffsetCommitRequest("someone", 3, [At(0, 0)]), groupExists: true)!.Error);

        // With members, a transactional commit naming no member (TxnOffsetCommit before v3) is still taken.
        var (a1, a2, _) = await _h.SecondMemberJoinedAsync();
        Assert.Null(_offsets.ValidateTxnCommitter(Txn("", -1), groupExists: true));
        // So is a member's while the group completes a rebalance: the producer may hold a generation not yet synced.
        Assert.Null(_offsets.ValidateTxnCommitter(Txn(a2.MemberId, a2.GenerationId), groupExists: true));
        Assert.Equal(ErrorCode.IllegalGeneration, _offsets.ValidateTxnCommitter(Txn(a1.MemberId, a1.GenerationId), groupExists: true)!.Error);
    }

    private static TxnOffsetCommitRequest Txn(string memberId, int generationId) =>
        new("copier", 7, 0, [At(0, 0)], generationId, memberId);

    [Fact]
    public async Task Offsets_expire_only_while_the_group_is_empty_retention_after_the_later_of_the_commit_and_the_group_emptying()
    {
        const int RetentionMs = 60 * 60_000;
        await _offsets.CommitAsync([At(0, 5)]);
        _h.Advance(RetentionMs - 1);
        Assert.Equal(0, _offsets.RemoveExpiredOffsets());

        // A member arrives: nothing expires while the group has members.
        var a1 = await _h.StableAloneAsync(0);
        await _offsets.CommitAsync([At(1, 9)]);
        _h.Time.Advance(TimeSpan.FromMilliseconds(RetentionMs));
        Assert.Equal(ErrorCode.None, _h.Group.Heartbeat(new HeartbeatRequest(a1.MemberId, 1)).Error);
        Assert.Equal(0, _offsets.RemoveExpiredOffsets());

        // Emptied now: both offsets were committed over an hour ago, yet retention runs from the group becoming empty.
        _h.Group.Leave(new LeaveGroupRequest(a1.MemberId));
        Assert.Equal(GroupState.Empty, _h.Group.State);
        _h.Advance(RetentionMs - 1);
        Assert.Equal(0, _offsets.RemoveExpiredOffsets());
        _h.Advance(1);
        Assert.Equal(2, _offsets.RemoveExpiredOffsets());
        Assert.Equal(0, _offsets.Count);
    }
}
