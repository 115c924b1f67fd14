using BenchmarkDotNet.Running;

// Pick benchmarks by filter, e.g. `dotnet run -c Release --project tests/OrleansStream.Benchmarks -- --filter '*Records*'`.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
