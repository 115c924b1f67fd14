using CsCheck;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;

namespace OrleansStream.Storage.Tests;

/// <summary>Random append / read / reopen / truncate / roll sequences checked against a list-of-batches model.</summary>
public sealed class PropertyTests
{
    private enum Kind { Append, Reopen, Truncate, Roll, HighWatermark }

    private sealed record Op(Kind Kind, int A, int B);

    private static readonly Gen<Op> GenOp = Gen.Frequency(
        (8, Gen.Select(Gen.Int[1, 5], Gen.Int[0, 60], (n, v) => new Op(Kind.Append, n, v))),
        (1, Gen.Const(new Op(Kind.Reopen, 0, 0))),
        (1, Gen.Int[0, 100].Select(p => new Op(Kind.Truncate, p, 0))),
        (1, Gen.Const(new Op(Kind.Roll, 0, 0))),
        (1, Gen.Int[0, 100].Select(p => new Op(Kind.HighWatermark, p, 0))));

    [Fact]
    public void Append_read_reopen_truncate_agree_with_a_simple_model()
    {
        Gen.Select(GenOp.Array[1, 30], Gen.Int[0, 999]).Sample((ops, readSeed) =>
        {
            using var dir = new TempDirectory();
            var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
            var config = new LogConfig { SegmentBytes = 1200, IndexIntervalBytes = 150 };
            var model = new List<byte[]>(); // stored (stamped) batches in order
            long modelHw = 0;
            var log = PartitionLog.Open(dir.Path, config, time);
            try
            {
                var epoch = 0;
                foreach (var op in ops)
                {
                    switch (op.Kind)
                    {
                        case Kind.Append:
                            var batch = TestBatches.Sized(op.A, op.B, keySeed: model.Count);
                            var info = log.AppendAsLeader(batch, epoch);
                            Assert.Equal(End(model), info.FirstOffset);
                            RecordBatchHeader.Stamp(batch, info.FirstOffset, epoch);
                            model.Add(batch);
                            if (op.B % 7 == 0)
                                epoch++;
                            break;
                        case Kind.Reopen:
                            log.Dispose();
                            log = PartitionLog.Open(dir.Path, config, time);
                            Assert.Equal(modelHw, log.HighWatermark);
                            break;
                        case Kind.Truncate:
                            var target = End(model) * op.A / 100;
                            log.TruncateTo(target);
                            model.RemoveAll(b => Last(b) >= target);
                            modelHw = Math.Min(modelHw, End(model));
                            break;
                        case Kind.Roll:
                            log.Roll();
                            break;
                        case Kind.HighWatermark:
                            log.UpdateHighWatermark(End(model) * op.A / 100);
                            modelHw = End(model) * op.A / 100;
                            break;
                    }
                    Assert.Equal(End(model), log.LogEndOffset);
                    Assert.Equal(modelHw, log.HighWatermark);
                }
                Assert.Equal(model.SelectMany(b => b).ToArray(), RecoveryTests.ReadAll(log));
                if (model.Count > 0)
                {
                    // A read from any offset starts with the batch holding it and returns a run of the model's batches.
                    var offset = End(model) * readSeed / 1000; // readSeed < 1000: an offset below the log end
                    var maxBytes = readSeed % 400;
                    var read = TestBatches.Walk(log.Read(offset, maxBytes).Span);
                    var first = model.FindIndex(b => Last(b) >= offset);
                    Assert.NotEmpty(read);
                    Assert.True(read.Count == 1 || read.Sum(b => b.Size) <= maxBytes);
                    for (var i = 0; i < read.Count; i++)
                        Assert.Equal(TestBatches.BaseOffset(model[first + i]), read[i].Base);
                }
                log.Dispose();
                log = PartitionLog.Open(dir.Path, config, time);
                Assert.Equal(model.SelectMany(b => b).ToArray(), RecoveryTests.ReadAll(log));
            }
            finally
            {
                log.Dispose();
            }
        }, iter: 40);
    }

    private static long Last(byte[] batch) => RecordBatchHeader.Read(batch).LastOffset;

    private static long End(List<byte[]> model) => model.Count == 0 ? 0 : Last(model[^1]) + 1;
}
