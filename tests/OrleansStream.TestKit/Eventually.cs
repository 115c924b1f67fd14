using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansStream.TestKit;

/// <summary>Waits for a condition with a deadline, checking it on a short period: the tests' only way to wait (no sleeps).</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, failing after <paramref name="timeout"/> (default 30 s) with
    /// <paramref name="what"/> and, when given, <paramref name="state"/>'s description of what was last seen. A condition
    /// that fails because the client still routes through a silo the test just stopped or killed (its gateway list
    /// refreshes shortly after) counts as "not yet"; the last such failure is the timeout's inner exception.
    /// </summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null, Func<string>? state = null)
    {
        var limit = timeout ?? DefaultTimeout;
        using var deadline = new CancellationTokenSource(limit);
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        Exception? lastTransient = null;
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (Exception e) when (e is ConnectionFailedException or SiloUnavailableException)
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

    public static Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null, Func<string>? state = null)
        => WaitUntilAsync(() => Task.FromResult(condition()), what, timeout, state);
}
