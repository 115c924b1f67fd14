using OrleansStream.Client;

namespace OrleansStream.Client.Tests;

/// <summary>The transactional producer's configuration and the state machine's rules that hold before any coordinator call.</summary>
public sealed class TransactionalStateTests
{
    [Fact]
    public void Transactional_id_implies_idempotence_and_acks_all()
    {
        var settings = new ProducerConfig { TransactionalId = "tx" }.Resolve();
        Assert.True(settings.EnableIdempotence);
        Assert.Equal(Acks.All, settings.Acks);
        Assert.Equal("tx", settings.TransactionalId);
        Assert.Equal(60000, settings.TransactionTimeoutMs);
        Assert.Equal("5000", new ProducerConfig { TransactionTimeoutMs = 5000 }.Get("transaction.timeout.ms"));
    }

    [Theory]
    [InlineData("enable.idempotence", "false")]
    [InlineData("acks", "1")]
    [InlineData("max.in.flight.requests.per.connection", "6")]
    [InlineData("transaction.timeout.ms", "0")]
    public void Transactional_id_with_a_conflicting_setting_is_InvalidConfig(string key, string value)
    {
        var config = new ProducerConfig(new Dictionary<string, string> { ["transactional.id"] = "tx", [key] = value });
        var error = Assert.Throws<OrleansStreamException>(() => config.Resolve());
        Assert.Equal(ErrorCode.InvalidConfig, error.Code);
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nothing_but_InitTransactions_is_allowed_before_it()
    {
        var state = NewState();
        Assert.Equal(TransactionState.Uninitialized, state.State);
        Assert.Equal(ErrorCode.InvalidTxnState, Assert.Throws<KafkaException>(state.BeginTransaction).Error.Code);
        Assert.Equal(ErrorCode.InvalidTxnState, state.SendError()!.Code);
        var commit = await Assert.ThrowsAsync<KafkaException>(() => state.CommitAsync(_ => Task.CompletedTask, TimeSpan.FromSeconds(1)));
        Assert.Equal(ErrorCode.InvalidTxnState, commit.Error.Code);
        var abort = await Assert.ThrowsAsync<KafkaException>(() => state.AbortAsync(_ => Task.CompletedTask, TimeSpan.FromSeconds(1)));
        Assert.Equal(ErrorCode.InvalidTxnState, abort.Error.Code);
    }

    [Fact]
    public void A_fatal_error_fails_every_later_operation_with_IsFatal()
    {
        var state = NewState();
        state.Fatal(new Error(ErrorCode.ProducerFenced, "fenced"));
        Assert.Equal(TransactionState.FatalError, state.State);
        var begin = Assert.Throws<KafkaException>(state.BeginTransaction);
        Assert.True(begin.Error.IsFatal);
        Assert.Equal(ErrorCode.ProducerFenced, begin.Error.Code);
        Assert.True(state.SendError()!.IsFatal);
        Assert.False(state.MaySend(new TopicPartition("t", 0), out var error));
        Assert.True(error!.IsFatal);
    }

    [Theory]
    [InlineData(ErrorCode.ProducerFenced, true)]
    [InlineData(ErrorCode.InvalidProducerEpoch, true)]
    [InlineData(ErrorCode.TransactionalIdAuthorizationFailed, true)]
    [InlineData(ErrorCode.InvalidTxnState, false)]
    [InlineData(ErrorCode.ConcurrentTransactions, false)]
    public void Fatal_codes_are_Kafkas(ErrorCode code, bool fatal) => Assert.Equal(fatal, TransactionalState.IsFatalCode(code));

    /// <summary>No coordinator is asked in these tests: the rules are checked before any call.</summary>
    private static TransactionalState NewState()
    {
        var settings = new ProducerConfig { TransactionalId = "tx" }.Resolve();
        var ids = new TransactionManager(null!, TimeProvider.System, settings.RetryBackoffMs, static () => { });
        return new TransactionalState("tx", settings, null!, ids, TimeProvider.System, static () => { });
    }
}
