using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansStream.TestKit;

/// <summary>Waits for a condition with a deadline, checking it on a short period: the tests' only way to wait (no sleeps).</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A bound for each attempt of a wait across a silo's death: a call in flight to a silo that dies is never answered
    /// and waits Orleans's 30 s response timeout (dotnet/orleans#10165), so such an attempt is given up and made again.
    /// </summary>
    public static readonly TimeSpan AttemptAcrossFailover = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, failing after <paramref name="timeout"/> (default 30 s) with
    /// <paramref name="what"/> and, when given, <paramref name="state"/>'s description of what was last seen. A condition
    /// that fails because the client still routes through a silo the test just stopped or killed (its gateway list
    /// refreshes shortly after) counts as "not yet"; the last such failure is the timeout's inner exception.
    /// With <paramref name="attemptTimeout"/> (for waits across a silo's death, usually <see cref="AttemptAcrossFailover"/>)
    /// each attempt is given up after it, and an attempt given up, timed out or rejected by Orleans counts as "not yet" too.
    /// </summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null, Func<string>? state = null,
        TimeSpan? attemptTimeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        using var deadline = new CancellationTokenSource(limit);
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        Exception? lastTransient = null;
        while (true)
        {
            try
            {
                if (await Attempt(condition, attemptTimeout)) return;
            }
            catch (Exception e) when (e is ConnectionFailedException or SiloUnavailableException
                || attemptTimeout is not null && e is TimeoutException or OrleansMessageRejectionException)
            {
                lastTransient = e;
            }
            try
            {
                await ticks.WaitForNextTickAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                var seen = state is null ? "" : $" Last seen: {state()}";
                throw new TimeoutException($"Timed out after {limit} waiting until {what}.{seen}", lastTransient);
            }
        }
    }

    private static Task<bool> Attempt(Func<Task<bool>> condition, TimeSpan? attemptTimeout) =>
        attemptTimeout is { } bound ? condition().WaitAsync(bound) : condition();

    public static Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null, Func<string>? state = null)
        => WaitUntilAsync(() => Task.FromResult(condition()), what, timeout, state);
}
