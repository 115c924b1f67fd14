// The raw TCP round trip of tests/perf/rtt.sh: 64-byte ping-pong between two .NET processes over loopback, with async
// reads on the thread pool as Kestrel and Orleans read. Usage: dotnet run -c Release TcpPingPong.cs -- server PORT, and
// dotnet run -c Release TcpPingPong.cs -- client PORT COUNT GAP_MS.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
var mode = args[0];
var port = int.Parse(args[1]);
if (mode == "server")
{
    // One connection after another (the script's readiness probe is one), until the process is killed.
    var listener = new TcpListener(IPAddress.Loopback, port);
    listener.Start();
    var buf = new byte[64];
    while (true)
    {
        using var c = await listener.AcceptTcpClientAsync();
        c.NoDelay = true;
        var s = c.GetStream();
        while (true)
        {
            int n = 0;
            while (n < 64) { var r = await s.ReadAsync(buf.AsMemory(n, 64 - n)); if (r == 0) break; n += r; }
            if (n < 64) break;
            await s.WriteAsync(buf.AsMemory(0, 64));
        }
    }
}
else
{
    var count = int.Parse(args[2]);
    var gapMs = int.Parse(args[3]);
    using var c = new TcpClient();
    await c.ConnectAsync(IPAddress.Loopback, port);
    c.NoDelay = true;
    var s = c.GetStream();
    var buf = new byte[64];
    var times = new double[count];
    for (var i = -2000; i < count; i++)
    {
        if (gapMs > 0) await Task.Delay(gapMs);
        var start = Stopwatch.GetTimestamp();
        await s.WriteAsync(buf.AsMemory(0, 64));
        int n = 0;
        while (n < 64) n += await s.ReadAsync(buf.AsMemory(n, 64 - n));
        if (i >= 0) times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }
    Array.Sort(times);
    Console.WriteLine($"tcp gap={gapMs}ms n={count} p50={times[count / 2]:F3} p90={times[count * 9 / 10]:F3} p99={times[count * 99 / 100]:F3} p99.9={times[count * 999 / 1000]:F3} ms");
}
