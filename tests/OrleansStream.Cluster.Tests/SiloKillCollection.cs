namespace OrleansStream.Cluster.Tests;

/// <summary>
/// In-process clusters whose tests kill silos and wait for the cluster to recover (ISR shrink, re-election,
/// reassignment): run one class at a time, after the parallel tests, so that failure detection and recovery are not
/// starved by the tests beside them on a small machine. Each class keeps its own cluster fixture.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SiloKillCollection
{
    public const string Name = "in-process silo kills";
}
