namespace OrleansStream.Tiering.Tests;

/// <summary>Waits for a condition with a deadline, checking it on a short period (no fixed sleeps).</summary>
public static class Eventually
{
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting until {what}.");
            await ticks.WaitForNextTickAsync();
        }
    }

    public static Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
        => WaitUntilAsync(() => Task.FromResult(condition()), what, timeout);
}
