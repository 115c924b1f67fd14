using BenchmarkDotNet.Running;
using OrleansStream.Benchmarks;

// Pick benchmarks by filter, e.g. `dotnet run -c Release --project tests/OrleansStream.Benchmarks -- --filter '*Records*'`;
// `-- tiering "<blob connection string>"` runs the tiering figures against a running Azurite.
if (args is ["tiering", var connectionString])
{
    await TieringPerf.RunAsync(connectionString);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
