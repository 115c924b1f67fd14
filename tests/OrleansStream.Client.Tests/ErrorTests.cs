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
}
