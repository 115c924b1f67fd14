using OrleansStream.Server.Groups;
using static OrleansStream.Server.Tests.Groups.ClassicGroupHarness;

namespace OrleansStream.Server.Tests.Groups;

/// <summary>Transactional offsets in the group: pending per producer until the marker, epochs fenced, failed writes undone.</summary>
public sealed class TransactionalOffsetsTests
{
    private const long Producer = 7;
    private readonly ClassicGroupHarness _h = new();
    private readonly OffsetMetadataManager _offsets;
    private readonly List<StoredTxnOffsets> _storedTxn = [];
    private Exception? _failNextWrite;

    public TransactionalOffsetsTests() =>
        _offsets = new OffsetMetadataManager(_h.Group, new OrleansStream.Server.Groups.Consumer.ConsumerGroup(_h.Group.GroupId, _h.Options, _h.Time), _h.Options, _h.Time, WriteAsync);

    private Task WriteAsync()
    {
        var offsets = new List<StoredOffset>();
        var txn = new List<StoredTxnOffsets>();
        _offsets.CopyTo(offsets);
        _offsets.CopyTxnTo(txn);
        if (_failNextWrite is { } failure)
        {
            _failNextWrite = null;
            return Task.FromException(failure);
        }
        _storedTxn.Clear();
        _storedTxn.AddRange(txn);
        _offsets.Written(offsets);
        _offsets.TxnWritten(txn);
        return Task.CompletedTask;
    }

    private long Committed(int partition) => _offsets.Fetch([P(partition)])[0].Offset;

    [Fact]
    public async Task Pending_offsets_are_invisible_until_the_COMMIT_marker_and_an_ABORT_drops_them()
    {
        await _offsets.TxnCommitAsync(Producer, 1, [new OffsetToCommit(P(0), 5)]);
        await _offsets.TxnCommitAsync(Producer + 1, 0, [new OffsetToCommit(P(1), 9)]);

        Assert.Equal(-1, Committed(0));
        Assert.True(_offsets.HasPendingOffsets([P(0)]));
        Assert.False(_offsets.HasPendingOffsets([P(2)]));
        Assert.True(_offsets.HasPendingTxnOffsets(Producer, 1));
        Assert.Equal(2, _storedTxn.Count);

        await _offsets.CompleteTxnAsync(Producer, 1, coordinatorEpoch: 3, commit: true);
        await _offsets.CompleteTxnAsync(Producer + 1, 0, coordinatorEpoch: 3, commit: false);

        Assert.Equal((5L, -1L), (Committed(0), Committed(1)));
        Assert.False(_offsets.HasPendingOffsets(null));
        Assert.All(_storedTxn, t => Assert.Empty(t.Pending));
    }

    [Fact]
    public async Task Older_producer_and_coordinator_epochs_are_fenced()
    {
        await _offsets.TxnCommitAsync(Producer, 2, [new OffsetToCommit(P(0), 5)]);
        await _offsets.CompleteTxnAsync(Producer, 3, coordinatorEpoch: 4, commit: false);

        Assert.Equal(ErrorCode.ProducerFenced, _offsets.CheckTxnProducer(Producer, 2));
        Assert.Equal(ErrorCode.None, _offsets.CheckTxnProducer(Producer, 3));
        Assert.Equal(ErrorCode.TransactionCoordinatorFenced, _offsets.CheckTxnMarker(Producer, 3, coordinatorEpoch: 3));
        Assert.Equal(ErrorCode.InvalidProducerEpoch, _offsets.CheckTxnMarker(Producer, 2, coordinatorEpoch: 4));
        Assert.Equal(ErrorCode.None, _offsets.CheckTxnMarker(Producer, 3, coordinatorEpoch: 4));
    }

    [Fact]
    public async Task A_failed_marker_write_leaves_the_offsets_pending_and_uncommitted()
    {
        await _offsets.TxnCommitAsync(Producer, 1, [new OffsetToCommit(P(0), 5)]);
        _failNextWrite = new IOException("storage unavailable");

        await Assert.ThrowsAsync<IOException>(() => _offsets.CompleteTxnAsync(Producer, 1, coordinatorEpoch: 0, commit: true));

        Assert.Equal(-1, Committed(0));
        Assert.True(_offsets.HasPendingTxnOffsets(Producer, 1));
        await _offsets.CompleteTxnAsync(Producer, 1, coordinatorEpoch: 0, commit: true);
        Assert.Equal(5, Committed(0));
    }
}
