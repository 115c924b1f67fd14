namespace OrleansStream.Cluster.Tests;

/// <summary>Shares one <see cref="ClusterFixture"/> among the test classes marked <c>[Collection(ClusterCollection.Name)]</c>.</summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
