using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Transactions.ProducerIds;

namespace OrleansStream.Server.Tests.Transactions;

public sealed class ProducerIdManagerTests
{
    private const string Broker = "b1";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly ControllerState _controller = new();
    private readonly Channel<TaskCompletionSource<AllocateProducerIdsResult>> _requests = Channel.CreateUnbounded<TaskCompletionSource<AllocateProducerIdsResult>>();
    private int _requestCount;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A manager whose block requests wait until the test answers them (<see cref="NextRequest"/>).</summary>
    private ProducerIdManager Manager() => new(Broker, broker =>
    {
        Assert.Equal(Broker, broker);
        Interlocked.Increment(ref _requestCount);
        var answer = new TaskCompletionSource<AllocateProducerIdsResult>();
        _requests.Writer.TryWrite(answer);
        return answer.Task;
    }, _time, NullLogger<ProducerIdManager>.Instance);

    private ValueTask<TaskCompletionSource<AllocateProducerIdsResult>> NextRequest() => _requests.Reader.ReadAsync(Ct);

    /// <summary>Answers the pending request as the controller does, and waits until the manager applied it.</summary>
    private async Task AnswerWithBlock(ProducerIdManager manager)
    {
        var request = manager.BlockRequest;
        Assert.NotNull(request);
        var block = ProducerIdControlManager.Allocate(_controller, Broker)!;
        (await NextRequest()).SetResult(new AllocateProducerIdsResult(ErrorCode.None, block));
        await request;
    }

    /// <summary>A manager that has handed out id 0 of its first block.</summary>
    private async Task<ProducerIdManager> ManagerWithFirstBlock()
    {
        var manager = Manager();
        var first = manager.NextProducerIdAsync(Ct);
        await AnswerWithBlock(manager);
        Assert.Equal(0, await first);
        return manager;
    }

    [Fact]
    public void The_controller_hands_out_consecutive_blocks_and_moves_its_state_past_each()
    {
        var state = new ControllerState();

        var first = ProducerIdControlManager.Allocate(state, "b0");
        var second = ProducerIdControlManager.Allocate(state, "b1");

        Assert.Equal(new ProducerIdsBlock("b0", 0, 1000), first);
        Assert.Equal(new ProducerIdsBlock("b1", 1000, 1000), second);
        Assert.Equal(2000, state.NextProducerIdBlockStart);
        Assert.Equal(999, first!.LastProducerId);
    }

    [Fact]
    public void The_controller_refuses_a_block_that_would_overflow_and_keeps_its_state()
    {
        var state = new ControllerState { NextProducerIdBlockStart = long.MaxValue - 1000 };
        Assert.Equal(long.MaxValue - 1, ProducerIdControlManager.Allocate(state, "b0")!.LastProducerId);

        Assert.Null(ProducerIdControlManager.Allocate(state, "b0"));
        Assert.Equal(long.MaxValue, state.NextProducerIdBlockStart);
    }

    [Fact]
    public async Task The_first_caller_waits_for_a_block_then_ids_run_consecutively()
    {
        var manager = Manager();

        var first = manager.NextProducerIdAsync(Ct);
        Assert.False(first.IsCompleted);
        await AnswerWithBlock(manager);

        Assert.Equal(0, await first);
        for (var expected = 1; expected < 10; expected++)
        {
            var next = manager.NextProducerIdAsync(Ct);
            Assert.True(next.IsCompletedSuccessfully);
            Assert.Equal(expected, await next);
        }
        Assert.Equal(1, _requestCount);
    }

    [Fact]
    public async Task The_next_block_is_prefetched_at_90_percent_so_the_switch_never_waits()
    {
        var manager = await ManagerWithFirstBlock();

        for (var i = 1; i < 899; i++) await manager.NextProducerIdAsync(Ct);
        Assert.Null(manager.BlockRequest);
        Assert.Equal(899, await manager.NextProducerIdAsync(Ct)); // the 900th id of 1000: 90 % used
        Assert.NotNull(manager.BlockRequest);
        await AnswerWithBlock(manager);
        Assert.Equal(new ProducerIdsBlock(Broker, 1000, 1000), manager.NextBlock);

        // No further request while the next block waits; the switch to it completes synchronously.
        for (var i = 900; i < 1000; i++) Assert.Equal(i, await manager.NextProducerIdAsync(Ct));
        Assert.Null(manager.BlockRequest);
        var switched = manager.NextProducerIdAsync(Ct);
        Assert.True(switched.IsCompletedSuccessfully);
        Assert.Equal(1000, await switched);
        Assert.Equal(new ProducerIdsBlock(Broker, 1000, 1000), manager.CurrentBlock);
        Assert.Null(manager.NextBlock);
        Assert.Equal(2, _requestCount);
    }

    [Fact]
    public async Task A_failed_request_is_retried_after_a_growing_backoff()
    {
        var manager = Manager();
        var waiting = manager.NextProducerIdAsync(Ct).AsTask();

        (await NextRequest()).SetException(new TimeoutException("controller unreachable"));
        await WaitForNoRequest(manager);
        _time.Advance(ProducerIdManager.InitialRetryBackoff / 2);
        Assert.False(waiting.IsCompleted);
        Assert.Null(manager.BlockRequest);
        _time.Advance(ProducerIdManager.InitialRetryBackoff);

        // The retry is refused too (another activation wrote first): the backoff doubles.
        (await NextRequest()).SetResult(new AllocateProducerIdsResult(ErrorCode.NotController, null));
        await WaitForNoRequest(manager);
        _time.Advance(ProducerIdManager.InitialRetryBackoff * 1.5);
        Assert.Null(manager.BlockRequest);
        Assert.Equal(2, _requestCount);
        _time.Advance(ProducerIdManager.InitialRetryBackoff);

        await AnswerWithBlock(manager);
        Assert.Equal(0, await waiting);
        Assert.Equal(3, _requestCount);
    }

    [Fact]
    public async Task A_controller_that_refuses_for_good_fails_the_waiting_callers_with_its_error()
    {
        var manager = Manager();
        var a = manager.NextProducerIdAsync(Ct).AsTask();
        var b = manager.NextProducerIdAsync(Ct).AsTask();

        (await NextRequest()).SetResult(new AllocateProducerIdsResult(ErrorCode.InconsistentClusterId, null, "state lost"));

        Assert.Equal(ErrorCode.InconsistentClusterId, (await Assert.ThrowsAsync<OrleansStreamException>(() => a)).Code);
        Assert.Equal(ErrorCode.InconsistentClusterId, (await Assert.ThrowsAsync<OrleansStreamException>(() => b)).Code);
        Assert.Equal(1, _requestCount);
    }

    [Fact]
    public async Task A_block_not_above_the_ids_already_held_is_rejected()
    {
        var manager = await ManagerWithFirstBlock();
        for (var i = 1; i < 900; i++) await manager.NextProducerIdAsync(Ct);

        // A stale answer overlapping the current block: taking it would hand out ids twice.
        var stale = manager.BlockRequest!;
        (await NextRequest()).SetResult(new AllocateProducerIdsResult(ErrorCode.None, new ProducerIdsBlock(Broker, 500, 1000)));
        await stale;

        Assert.Null(manager.NextBlock);
        Assert.Equal(new ProducerIdsBlock(Broker, 0, 1000), manager.CurrentBlock);
        Assert.Equal(900, await manager.NextProducerIdAsync(Ct));
    }

    [Fact]
    public async Task A_caller_gives_up_when_its_token_ends_and_the_request_goes_on()
    {
        var manager = Manager();
        using var cts = new CancellationTokenSource();
        var waiting = manager.NextProducerIdAsync(cts.Token).AsTask();

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        await AnswerWithBlock(manager);

        Assert.Equal(0, await manager.NextProducerIdAsync(Ct));
    }

    [Fact]
    public async Task Concurrent_callers_never_get_the_same_id()
    {
        var state = new ControllerState();
        var manager = new ProducerIdManager(Broker, broker =>
        {
            lock (state) return Task.FromResult(new AllocateProducerIdsResult(ErrorCode.None, ProducerIdControlManager.Allocate(state, broker)));
        }, TimeProvider.System, NullLogger<ProducerIdManager>.Instance);
        const int callers = 8, perCaller = 1_000;

        var results = await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            var ids = new List<long>(perCaller);
            for (var i = 0; i < perCaller; i++) ids.Add(await manager.NextProducerIdAsync(Ct));
            return ids;
        }, Ct)));

        var all = results.SelectMany(static ids => ids).ToList();
        Assert.Equal(callers * perCaller, all.Distinct().Count());
        Assert.All(results, ids => Assert.Equal(ids.Order(), ids));
        Assert.True(all.Max() < state.NextProducerIdBlockStart);
    }

    private static async Task WaitForNoRequest(ProducerIdManager manager)
    {
        if (manager.BlockRequest is { } request) await request;
    }
}
