using CsCheck;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;
using OrleansStream.Storage.Producers;
using static OrleansStream.Storage.Tests.ProducerBatches;

namespace OrleansStream.Storage.Tests;

/// <summary>
/// Random produce / retry / fence / marker / snapshot / reopen / failover sequences against a model that derives every
/// answer from the plain list of appended batches. A follower applies each accepted batch through the replication
/// path and must agree with the leader; a failover swaps their roles.
/// </summary>
public sealed class ProducerStatePropertyTests
{
    private enum Kind { Next, Retry, Gap, OldEpoch, Bump, BumpNonZero, Marker, HighWatermark, Snapshot, Reopen, Failover }

    private sealed record Op(Kind Kind, int Producer, int A, int B);

    private sealed record Event(long Pid, short Epoch, bool IsMarker, int FirstSeq, int LastSeq, long FirstOffset, long LastOffset,
        bool Transactional);

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
        (1, Gen.Const(new Op(Kind.Failover, 0, 0, 0))));

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
        private readonly long?[] _reloadedFrom = new long?[2];
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
                _managers[i] = new ProducerStateManager(_dirs[i], time: _time);
            }
        }

        private ProducerStateManager Leader => _managers[_leader];

        private ProducerStateManager Follower => _managers[1 - _leader];

        private long End => _events.Count == 0 ? 0 : _events[^1].LastOffset + 1;

        public void Apply(Op op)
        {
            var pid = 100 + op.Producer;
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
                    var sent = mine.Where(e => !e.IsMarker).ToList();
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
                        _latestSnapshot[_leader] = End;
                    break;
                case Kind.Reopen:
                    Reopen();
                    break;
                case Kind.Failover:
                    _leader = 1 - _leader;
                    break;
            }
        }

        private void Reopen()
        {
            var manager = new ProducerStateManager(_dirs[_leader], time: _time);
            manager.TruncateAndReload(0, End);
            Assert.Equal(_latestSnapshot[_leader] ?? 0, manager.MapEndOffset);
            manager.LoadProducersFromRecords(TestBatches.Concat([.. _log.Where(b => RecordBatchHeader.Read(b).BaseOffset >= manager.MapEndOffset)]));
            Assert.Equal(End, manager.MapEndOffset);
            _managers[_leader] = manager;
            _reloadedFrom[_leader] = _latestSnapshot[_leader];
            // Kafka reloads only at or below the high watermark: every marker below the end is replicated, also the
            // ones the replay just completed.
            _highWatermark = End;
            Leader.OnHighWatermarkUpdated(_highWatermark);
            Follower.OnHighWatermarkUpdated(_highWatermark);
        }

        private void Send(long pid, short epoch, int firstSeq, int count, bool transactional)
        {
            var offset = End;
            var batch = Data(offset, pid, epoch, firstSeq, count, transactional);
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
            _events.Add(new Event(pid, epoch, false, firstSeq, lastSeq, offset, offset + count - 1, transactional));
        }

        private (ErrorCode Error, Event? Duplicate) ExpectedForData(long pid, short epoch, int firstSeq, int lastSeq, bool transactional)
        {
            var mine = _events.Where(e => e.Pid == pid).ToList();
            if (mine.Count == 0)
                return (ErrorCode.None, null);
            var current = mine[^1].Epoch;
            var data = mine.Where(e => !e.IsMarker && e.Epoch == current).ToList();
            var duplicate = epoch == current ? Window(data).LastOrDefault(e => e.FirstSeq == firstSeq && e.LastSeq == lastSeq) : null;
            if (duplicate is not null)
                return (ErrorCode.None, duplicate);
            if (epoch < current)
                return (ErrorCode.InvalidProducerEpoch, null);
            if (epoch != current ? firstSeq != 0 : !ProducerSequence.InSequence(data.Count == 0 ? -1 : data[^1].LastSeq, firstSeq))
                return (ErrorCode.OutOfOrderSequenceNumber, null);
            return (OpenTxnFirst(pid) is not null && !transactional ? ErrorCode.InvalidTxnState : ErrorCode.None, null);
        }

        /// <summary>The batches the leader can still recognise: the last five, where a snapshot reload kept only the last before it.</summary>
        private IEnumerable<Event> Window(List<Event> data)
        {
            var retained = data;
            if (_reloadedFrom[_leader] is { } snapshot)
            {
                var before = data.LastOrDefault(e => e.LastOffset < snapshot);
                retained = [.. before is null ? [] : new[] { before }, .. data.Where(e => e.LastOffset >= snapshot)];
            }
            return retained.TakeLast(ProducerStateEntry.NumBatchesToRetain);
        }

        private long? OpenTxnFirst(long pid)
        {
            var mine = _events.Where(e => e.Pid == pid).ToList();
            var lastMarker = mine.FindLastIndex(e => e.IsMarker);
            return mine.Skip(lastMarker + 1).FirstOrDefault(e => e.Transactional)?.FirstOffset;
        }

        private void EndTxn(long pid, short epoch, bool commit)
        {
            var offset = End;
            var batch = Marker(offset, pid, epoch, commit);
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
            _events.Add(new Event(pid, epoch, true, -1, -1, offset, offset, true));
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
                    var mine = _events.Where(e => e.Pid == pid).ToList();
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
