using OrleansStream.Client;

namespace OrleansStream.Client.Tests;

public sealed class ErrorTests
{
    [Theory]
    [InlineData(ErrorCode.CoordinatorLoadInProgress)]
    [InlineData(ErrorCode.ConcurrentTransactions)]
    [InlineData(ErrorCode.UnstableOffsetCommit)]
    [InlineData(ErrorCode.NotCoordinator)]
    [InlineData(ErrorCode.NotLeaderOrFollower)]
    public void Kafka_retriable_errors_are_retriable(ErrorCode code) => Assert.True(new Error(code, null).IsRetriable);

    [Theory]
    [InlineData(ErrorCode.ProducerFenced)]
    [InlineData(ErrorCode.InvalidTxnState)]
    [InlineData(ErrorCode.OutOfOrderSequenceNumber)]
    [InlineData(ErrorCode.RecordTooLarge)]
    public void Other_errors_are_not(ErrorCode code) => Assert.False(new Error(code, null).IsRetriable);

    /// <summary>A gateway that died fails the call with ConnectionFailedException: the call is retried, not failed as UnknownServerError.</summary>
    [Fact]
    public void A_connection_that_failed_is_transient() =>
        Assert.True(LeaderCalls.IsTransient(new Orleans.Runtime.Messaging.ConnectionFailedException("Unable to connect to S127.0.0.1:46055:0")));
}
