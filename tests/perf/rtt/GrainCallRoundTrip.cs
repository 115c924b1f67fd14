// The Orleans round trip of tests/perf/rtt.sh: an Orleans client calls IPartitionReplicaGrain.GetStatus (a read of the
// replica's state, no I/O) one call after another, after a pause of gapMs before each when given, and prints the
// percentiles. Usage: dotnet run -c Release GrainCallRoundTrip.cs -- GATEWAY_PORT REPLICA_KEY COUNT GAP_MS
#:project ../../../src/OrleansStream.Client/OrleansStream.Client.csproj
#:property PublishAot=false
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Microsoft.Extensions.Logging;
using OrleansStream;
using OrleansStream.Client;

var gateway = int.Parse(args[0]);
var key = args[1];
var count = int.Parse(args[2]);
var gapMs = int.Parse(args[3]);
var host = Host.CreateDefaultBuilder()
    .UseOrleansClient(c => c.UseBootstrapGateways([new IPEndPoint(IPAddress.Loopback, gateway)])
        .Configure<ClusterOptions>(o => { o.ClusterId = "orleansstream"; o.ServiceId = "orleansstream"; }))
    .ConfigureLogging(l => l.ClearProviders())
    .Build();
await host.StartAsync();
var grain = host.Services.GetRequiredService<IClusterClient>().GetGrain<IPartitionReplicaGrain>(key);
var times = new double[count];
for (var i = -2000; i < count; i++)
{
    if (gapMs > 0) await Task.Delay(gapMs);
    var start = Stopwatch.GetTimestamp();
    await grain.GetStatus();
    if (i >= 0) times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
}
Array.Sort(times);
Console.WriteLine($"orleans {key} via {gateway} gap={gapMs}ms n={count} p50={times[count / 2]:F3} p90={times[count * 9 / 10]:F3} p99={times[count * 99 / 100]:F3} p99.9={times[count * 999 / 1000]:F3} ms");
await host.StopAsync();
