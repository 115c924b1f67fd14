using CsCheck;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;
using OrleansStream.Storage.Producers;
using static OrleansStream.Storage.Tests.ProducerBatches;

namespace OrleansStream.Storage.Tests;

/// <summary>
/// Random produce / retry / fence / marker / snapshot / reopen / failover / expiry / truncation sequences against a
/// model that derives every answer from the plain list of appended batches. A follower applies each accepted batch
/// through the replication path and must agree with the leader; a failover swaps their roles; a follower that diverged
/// truncates above the high watermark, reloads and fetches the suffix again; producers idle past
/// producer.id.expiration.ms without an open transaction are forgotten and then start again as unknown producers.
/// </summary>
public sealed class ProducerStatePropertyTests
{
    private enum Kind { Next, Retry, Gap, OldEpoch, Bump, BumpNonZero, Marker, HighWatermark, Snapshot, Reopen, Failover, Expire, Truncate }

    private sealed record Op(Kind Kind, int Producer, int A, int B);

    private sealed record Event(long Pid, short Epoch, bool IsMarker, int FirstSeq, int LastSeq, long FirstOffset, long LastOffset,
        bool Transactional, long Time);

    private static readonly int[] Starts = [0, 7, int.MaxValue - 2, int.MaxValue];

    private static readonly Gen<Op> GenOp = Gen.Frequency(
        (10, Gen.Select(Gen.Int[0, 2], Gen.Int[1, 3], Gen.Int[0, 5], (p, n, b) => new Op(Kind.Next, p, n, b))),
        (4, Gen.Select(Gen.Int[0, 2], Gen.Int[1, 7], (p, k) => new Op(Kind.Retry, p, k, 0))),
        (1, Gen.Select(Gen.Int[0, 2], Gen.Int[1, 3], (p, g) => new Op(Kind.Gap, p, g, 0))),
        (1, Gen.Int[0, 2].Select(p => new Op(Kind.OldEpoch, p, 1, 0))),
        (1, Gen.Select(Gen.Int[0, 2], Gen.Int[0, 5], (p, b) => new Op(Kind.Bump, p, 1, b))),
        (1, Gen.Int[0, 2].Select(p => new Op(Kind.BumpNonZero, p, 1, 0))),
        (3, Gen.Select(Gen.Int[0, 2], Gen.Int[0, 3], (p, b) => new Op(Kind.Marker, p, 0, b))),
        (2, Gen.Int[0, 100].Select(pct => new Op(Kind.HighWatermark, 0, pct, 0))),
        (1, Gen.Const(new Op(Kind.Snapshot, 0, 0, 0))),
        (1, Gen.Const(new Op(Kind.Reopen, 0, 0, 0))),
        (1, Gen.Const(new Op(Kind.Failover, 0, 0, 0))),
        (1, Gen.Const(new Op(Kind.Expire, 0, 0, 0))),
        (1, Gen.Int[0, 100].Select(pct => new Op(Kind.Truncate, 0, pct, 0))));

    private const long ExpirationMs = 1_000;

    private static readonly ProducerStateManagerConfig Config = new() { ProducerIdExpirationMs = ExpirationMs };

    [Fact]
    public void Producer_state_agrees_with_a_model_of_the_appended_batches()
    {
        Gen.Select(GenOp.Array[1, 60], Gen.Int[0, Starts.Length - 1]).Sample((ops, startIndex) =>
        {
            using var dir = new TempDirectory();
            var run = new Run(dir.Path, Starts[startIndex]);
            foreach (var op in ops)
            {
                run.Apply(op);
                run.Check();
            }
        }, iter: 200);
    }

    private sealed class Run
    {
        private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(T0));
        private readonly string[] _dirs;
        private readonly ProducerStateManager[] _managers = new ProducerStateManager[2];
        private readonly long?[] _latestSnapshot = new long?[2];
        private readonly SortedSet<long>[] _snapshots = [[], []];
        private readonly Dictionary<long, long> _forgottenBefore = [];
        private readonly long?[] _reloadedFrom = new long?[2];
        private readonly long[] _reloadedAt = new long[2];
        private readonly int _firstSequence;
        private readonly List<Event> _events = [];
        private readonly List<byte[]> _log = [];
        private readonly List<(long FirstOffset, long MarkerOffset)> _completed = [];
        private int _leader;
        private long _highWatermark;

        public Run(string root, int firstSequence)
        {
            _firstSequence = firstSequence;
            _dirs = [Path.Combine(root, "a"), Path.Combine(root, "b")];
            for (var i = 0; i < 2; i++)
            {
                Directory.CreateDirectory(_dirs[i]);
                _managers[i] = new ProducerStateManager(_dirs[i], Config, _time);
            }
        }

        private ProducerStateManager Leader => _managers[_leader];

        private ProducerStateManager Follower => _managers[1 - _leader];

        private long End => _events.Count == 0 ? 0 : _events[^1].LastOffset + 1;

        private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

        /// <summary>The producer's events the partition still knows: those since it was last forgotten for idleness.</summary>
        private List<Event> Mine(long pid)
        {
            var since = _forgottenBefore.GetValueOrDefault(pid);
            return _events.Where(e => e.Pid == pid && e.FirstOffset >= since).ToList();
        }

        public void Apply(Op op)
        {
            var pid = 100 + op.Producer;
            // The producer does not know that a partition forgot it: it goes on with its epoch and sequence.
            var mine = _events.Where(e => e.Pid == pid).ToList();
            var epoch = mine.Count == 0 ? (short)-1 : mine[^1].Epoch;
            var data = mine.Where(e => !e.IsMarker && e.Epoch == epoch).ToList();
            var next = data.Count > 0 ? ProducerSequence.Increment(data[^1].LastSeq, 1) : mine.Count > 0 ? 0 : _firstSequence;
            var transactional = op.B % 3 == 1;
            switch (op.Kind)
            {
                case Kind.Next:
                    Send(pid, Math.Max(epoch, (short)0), next, op.A, transactional && op.B != 4);
                    break;
                case Kind.Retry:
                    // Not of a batch from before an expiry: a replay may bring it back where the others forgot it.
                    var sent = Mine(pid).Where(e => !e.IsMarker).ToList();
                    if (sent.Count >= op.A)
                    {
                        var old = sent[^op.A];
                        Send(pid, old.Epoch, old.FirstSeq, (int)(old.LastOffset - old.FirstOffset) + 1, old.Transactional);
                    }
                    break;
                case Kind.Gap:
                    Send(pid, Math.Max(epoch, (short)0), ProducerSequence.Increment(next, op.A), 1, false);
                    break;
                case Kind.OldEpoch:
                    if (epoch >= 1)
                        Send(pid, (short)(epoch - 1), 0, 1, false);
                    break;
                case Kind.Bump:
                    Send(pid, (short)(epoch + 1), 0, 1, transactional);
                    break;
                case Kind.BumpNonZero:
                    Send(pid, (short)(epoch + 1), 5, 1, false);
                    break;
                case Kind.Marker:
                    // Not as the first thing after an expiry: a replay would bring the producer's earlier batches back
                    // and the marker keep them, which this model does not follow.
                    if (Mine(pid).Count == 0 && _forgottenBefore.ContainsKey(pid))
                        break;
                    EndTxn(pid, (short)(Math.Max(epoch, (short)0) + (op.B == 3 ? 1 : 0)), commit: op.B % 2 == 0);
                    break;
                case Kind.HighWatermark:
                    _highWatermark = Math.Max(_highWatermark, End * op.A / 100);
                    Leader.OnHighWatermarkUpdated(_highWatermark);
                    Follower.OnHighWatermarkUpdated(_highWatermark);
                    break;
                case Kind.Snapshot:
                    var path = Leader.TakeSnapshot();
                    Assert.Equal(End > (_reloadedFrom[_leader] is { } r ? Math.Max(r, _latestSnapshot[_leader] ?? 0) : _latestSnapshot[_leader] ?? 0), path is not null);
                    if (path is not null)
                    {
                        _latestSnapshot[_leader] = End;
                        _snapshots[_leader].Add(End);
                    }
                    break;
                case Kind.Reopen:
                    Reopen();
                    break;
                case Kind.Failover:
                    _leader = 1 - _leader;
                    break;
                case Kind.Expire:
                    Expire();
                    break;
                case Kind.Truncate:
                    TruncateFollower(op.A);
                    break;
            }
        }

        private void Reopen()
        {
            var manager = new ProducerStateManager(_dirs[_leader], Config, _time);
            manager.TruncateAndReload(0, End);
            Assert.Equal(_latestSnapshot[_leader] ?? 0, manager.MapEndOffset);
            manager.LoadProducersFromRecords(TestBatches.Concat([.. _log.Where(b => RecordBatchHeader.Read(b).BaseOffset >= manager.MapEndOffset)]));
            Assert.Equal(End, manager.MapEndOffset);
            // The replay brings back producers that had expired (their batches are old); the next expiry check forgets them again.
            manager.RemoveExpiredProducers();
            _managers[_leader] = manager;
            _reloadedFrom[_leader] = _latestSnapshot[_leader];
            _reloadedAt[_leader] = Now;
            // Kafka reloads only at or below the high watermark: every marker below the end is replicated, also the
            // ones the replay just completed.
            _highWatermark = End;
            Leader.OnHighWatermarkUpdated(_highWatermark);
            Follower.OnHighWatermarkUpdated(_highWatermark);
        }

        /// <summary>Time passes beyond producer.id.expiration.ms: every producer without an open transaction is forgotten.</summary>
        private void Expire()
        {
            _time.Advance(TimeSpan.FromMilliseconds(ExpirationMs + 1));
            foreach (var manager in _managers)
                manager.RemoveExpiredProducers();
            foreach (var pid in _events.Select(e => e.Pid).Distinct().ToList())
                if (OpenTxnFirst(pid) is null) _forgottenBefore[pid] = End;
        }

        /// <summary>
        /// The follower diverged above the high watermark: it truncates to a batch boundary there (Kafka's truncateTo:
        /// snapshots above it deleted, state reloaded from the latest one left and the log replayed to the cut), then
        /// fetches the leader's batches from the cut again.
        /// </summary>
        private void TruncateFollower(int percent)
        {
            var follower = 1 - _leader;
            var boundaries = _log.Select(b => RecordBatchHeader.Read(b).BaseOffset).Append(End).Where(o => o >= _highWatermark).ToList();
            var cut = boundaries[boundaries.Count * percent / 101];
            var manager = _managers[follower];
            manager.TruncateAndReload(0, cut);
            _snapshots[follower].RemoveWhere(o => o > cut);
            _latestSnapshot[follower] = _snapshots[follower].Count == 0 ? null : _snapshots[follower].Max;
            if (cut != End)
            {
                Assert.Equal(_latestSnapshot[follower] ?? 0, manager.MapEndOffset);
                _reloadedFrom[follower] = manager.MapEndOffset;
                _reloadedAt[follower] = Now;
            }
            manager.LoadProducersFromRecords(TestBatches.Concat([.. _log.Where(b => RecordBatchHeader.Read(b).BaseOffset >= manager.MapEndOffset
                && RecordBatchHeader.Read(b).BaseOffset < cut)]));
            Assert.Equal(cut, manager.MapEndOffset);
            foreach (var batch in _log.Where(b => RecordBatchHeader.Read(b).BaseOffset >= cut))
            {
                Assert.True(manager.Analyze(batch, AppendOrigin.Replication).IsAppendable);
                manager.CompleteAppend(RecordBatchHeader.Read(batch).NextOffset);
            }
            // As after a reopen: the reload takes every transaction completed below the snapshot as replicated (Kafka's
            // truncateAndReload clears unreplicatedTxns), which holds once the high watermark has caught up.
            _highWatermark = End;
            Leader.OnHighWatermarkUpdated(_highWatermark);
            Follower.OnHighWatermarkUpdated(_highWatermark);
            // Replay and refetch bring back producers that had expired (their batches are old); the next expiry check forgets them again.
            manager.RemoveExpiredProducers();
        }

        private void Send(long pid, short epoch, int firstSeq, int count, bool transactional)
        {
            var offset = End;
            var batch = Data(offset, pid, epoch, firstSeq, count, transactional, Now);
            var lastSeq = ProducerSequence.Increment(firstSeq, count - 1);
            var (expectedError, duplicate) = ExpectedForData(pid, epoch, firstSeq, lastSeq, transactional);

            var check = Leader.Analyze(batch, AppendOrigin.Client);

            Assert.Equal(expectedError, check.Error);
            Assert.Equal(duplicate?.FirstOffset, check.Duplicate?.FirstOffset);
            Assert.Equal(duplicate?.LastOffset, check.Duplicate?.LastOffset);
            if (!check.IsAppendable)
                return;
            Assert.True(Leader.CompleteAppend(offset + count).IsEmpty);
            Replicate(batch);
            _events.Add(new Event(pid, epoch, false, firstSeq, lastSeq, offset, offset + count - 1, transactional, Now));
        }

        private (ErrorCode Error, Event? Duplicate) ExpectedForData(long pid, short epoch, int firstSeq, int lastSeq, bool transactional)
        {
            var mine = Mine(pid);
            if (mine.Count == 0)
                return (ErrorCode.None, null);
            var current = mine[^1].Epoch;
            var data = mine.Where(e => !e.IsMarker && e.Epoch == current).ToList();
            var duplicate = epoch == current ? Window(pid, data).LastOrDefault(e => e.FirstSeq == firstSeq && e.LastSeq == lastSeq) : null;
            if (duplicate is not null)
                return (ErrorCode.None, duplicate);
            if (epoch < current)
                return (ErrorCode.InvalidProducerEpoch, null);
            if (epoch != current ? firstSeq != 0 : !ProducerSequence.InSequence(data.Count == 0 ? -1 : data[^1].LastSeq, firstSeq))
                return (ErrorCode.OutOfOrderSequenceNumber, null);
            return (OpenTxnFirst(pid) is not null && !transactional ? ErrorCode.InvalidTxnState : ErrorCode.None, null);
        }

        /// <summary>The batches the leader can still recognise: the last five, where a snapshot reload kept only the last before it.</summary>
        private IEnumerable<Event> Window(long pid, List<Event> data)
        {
            var retained = data;
            if (_reloadedFrom[_leader] is { } snapshot)
            {
                var before = ExpiredInSnapshot(pid, snapshot, _reloadedAt[_leader]) ? null : data.LastOrDefault(e => e.LastOffset < snapshot);
                retained = [.. before is null ? [] : new[] { before }, .. data.Where(e => e.LastOffset >= snapshot)];
            }
            return retained.TakeLast(ProducerStateEntry.NumBatchesToRetain);
        }

        /// <summary>Kafka's loadFromSnapshot skips a producer idle past producer.id.expiration.ms at load: its batches before the snapshot are gone.</summary>
        private bool ExpiredInSnapshot(long pid, long snapshot, long loadedAt)
        {
            var before = _events.Where(e => e.Pid == pid && e.LastOffset < snapshot).ToList();
            if (before.Count == 0 || loadedAt - before[^1].Time < ExpirationMs)
                return false;
            var lastMarker = before.FindLastIndex(e => e.IsMarker);
            return !before.Skip(lastMarker + 1).Any(e => e.Transactional);
        }

        private long? OpenTxnFirst(long pid)
        {
            var mine = Mine(pid);
            var lastMarker = mine.FindLastIndex(e => e.IsMarker);
            return mine.Skip(lastMarker + 1).FirstOrDefault(e => e.Transactional)?.FirstOffset;
        }

        private void EndTxn(long pid, short epoch, bool commit)
        {
            var offset = End;
            var batch = Marker(offset, pid, epoch, commit, timestamp: Now);
            var open = OpenTxnFirst(pid);
            long? others = _events.Select(e => e.Pid).Distinct().Where(p => p != pid).Select(OpenTxnFirst).Where(f => f is not null).Min();

            Assert.True(Leader.Analyze(batch, AppendOrigin.Coordinator).IsAppendable);
            var completions = Leader.CompleteAppend(offset + 1).ToArray();

            if (open is { } first)
            {
                var expected = new TxnCompletion(new CompletedTxn(pid, first, offset, IsAborted: !commit), others ?? offset + 1);
                Assert.Equal(expected, Assert.Single(completions));
                _completed.Add((first, offset));
            }
            else
            {
                Assert.Empty(completions);
            }
            Replicate(batch);
            _events.Add(new Event(pid, epoch, true, -1, -1, offset, offset, true, Now));
        }

        private void Replicate(byte[] batch)
        {
            _log.Add(batch);
            Assert.True(Follower.Analyze(batch, AppendOrigin.Replication).IsAppendable);
            Follower.CompleteAppend(RecordBatchHeader.Read(batch).NextOffset);
        }

        public void Check()
        {
            long? expectedUnstable = _events.Select(e => e.Pid).Distinct().Select(OpenTxnFirst)
                .Concat(_completed.Where(c => c.MarkerOffset >= _highWatermark).Select(c => (long?)c.FirstOffset))
                .Where(f => f is not null).Min();
            foreach (var manager in _managers)
            {
                Assert.Equal(End, manager.MapEndOffset);
                Assert.Equal(expectedUnstable, manager.FirstUnstableOffset);
                foreach (var pid in _events.Select(e => e.Pid).Distinct())
                {
                    var mine = Mine(pid);
                    if (mine.Count == 0)
                    {
                        Assert.False(manager.TryGetLastEntry(pid, out _), $"producer {pid} expired");
                        continue;
                    }
                    var data = mine.Where(e => !e.IsMarker && e.Epoch == mine[^1].Epoch).ToList();
                    Assert.True(manager.TryGetLastEntry(pid, out var entry));
                    Assert.Equal(mine[^1].Epoch, entry.ProducerEpoch);
                    Assert.Equal(data.Count == 0 ? -1 : data[^1].LastSeq, entry.LastSeq);
                    Assert.Equal(data.Count == 0 ? -1 : data[^1].LastOffset, entry.LastDataOffset);
                    Assert.Equal(OpenTxnFirst(pid), entry.CurrentTxnFirstOffset);
                }
            }
        }
    }
}
