namespace OrleansStream.Failover.Tests;

/// <summary>
/// The checker the exactly-once chaos run's verdict rests on: a clean history has no anomaly, and each kind of
/// anomaly, planted alone, is reported.
/// </summary>
public sealed class ExactlyOnceHistoryTests
{
    private static readonly string[] Input = ["a", "b", "c"];

    // Committed: a@0/0, b@0/2, c@1/0; the ABORT-ed x@0/1 is only in the log.
    private static readonly ReadRecord[] Final = [new(0, 0, "a"), new(0, 2, "b"), new(1, 0, "c")];

    private static readonly ReadRecord[] Uncommitted = [new(0, 0, "a"), new(0, 1, "b"), new(0, 2, "b"), new(1, 0, "c")];

    [Fact]
    public void A_clean_history_has_no_anomaly_and_counts_what_read_uncommitted_saw_of_the_aborts()
    {
        var history = new ExactlyOnceHistory(Input, Final, [new(0, 0, "a"), new(1, 0, "c"), new(0, 2, "b")], Uncommitted);

        Assert.Empty(history.Anomalies());
        Assert.Equal(1, history.AbortedRecordsSeen);
    }

    [Fact]
    public void Each_planted_anomaly_is_reported()
    {
        Assert.Equal(["lost: c is not in the committed output"],
            new ExactlyOnceHistory(Input, Final[..2], [], []).Anomalies());
        Assert.Equal(["duplicate: b is committed 2 times"],
            new ExactlyOnceHistory(Input, [.. Final, new(1, 1, "b")], [], []).Anomalies());
        Assert.Equal(["unexpected: z was never written to the input"],
            new ExactlyOnceHistory(Input, [.. Final, new(1, 1, "z")], [], []).Anomalies());
        Assert.Equal(["aborted read: the read_committed reader got b at 0@1, which no committed transaction holds"],
            new ExactlyOnceHistory(Input, Final, [new(0, 1, "b")], []).Anomalies());
        Assert.Equal(["duplicate read: the read_committed reader got a twice"],
            new ExactlyOnceHistory(Input, Final, [new(0, 0, "a"), new(0, 0, "a")], []).Anomalies()
                .Where(a => !a.StartsWith("non-monotonic", StringComparison.Ordinal)));
        Assert.Equal(["non-monotonic: the concurrent read_uncommitted reader got partition 0 offset 1 after 2"],
            new ExactlyOnceHistory(Input, Final, [], [new(0, 2, "b"), new(0, 1, "b")]).Anomalies());
        Assert.Equal(["non-monotonic: the final read_committed reader got partition 0 offset 0 after 2"],
            new ExactlyOnceHistory(Input, [new(0, 2, "b"), new(0, 0, "a"), new(1, 0, "c")], [], []).Anomalies());
    }
}
