using BenchmarkDotNet.Running;
using OrleansStream.Benchmarks;

// Pick benchmarks by filter, e.g. `dotnet run -c Release --project tests/OrleansStream.Benchmarks -- --filter '*Records*'`;
// `-- tiering "<blob connection string>" [<azurite pid>]` runs the tiering figures against a running Azurite (with its
// pid, the CPU Azurite spends is reported beside the broker's own).
if (args is ["tiering", var connectionString, .. var rest] && rest.Length <= 1)
{
    await TieringPerf.RunAsync(connectionString, rest.Length == 1 ? int.Parse(rest[0]) : null);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
