using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// The odd and mutated requests of <see cref="OddRequestTests"/>, every advertised API at every version, against brokers
/// with the authorizer on, from <c>User:ANONYMOUS</c> (the PLAINTEXT listener), which may do anything on the one real
/// topic the requests name and read any group, and nothing else: each request mixes names the principal may use with
/// names it may not, so the refusal paths of every handler meet odd values too. No handler may fail, and the brokers
/// serve afterwards.
/// </summary>
[Trait("Category", "Slow")]
public sealed class AuthorizedOddRequestTests(AuthorizedKafkaCluster cluster) : IClassFixture<AuthorizedKafkaCluster>
{
    /// <summary>A topic of two partitions on which <c>User:ANONYMOUS</c> may do anything.</summary>
    private async Task<string> TopicAnonymousMayUseAsync(string prefix)
    {
        var topic = AuthorizedKafkaCluster.Unique(prefix);
        using (var admin = cluster.Admin())
            await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 2, ReplicationFactor = 1 }]);
        await cluster.AllowAsync("ANONYMOUS", ResourceType.Topic, topic, AclOperation.All);
        return topic;
    }

    [Fact]
    public async Task Every_advertised_request_from_a_partly_authorized_principal_is_answered_or_refused_and_no_handler_fails()
    {
        var topic = await TopicAnonymousMayUseAsync("odd");
        await cluster.AllowAsync("ANONYMOUS", ResourceType.Group, "*", AclOperation.Read);

        await OddRequestTests.RunAsync(cluster.Silos, topic, async () =>
        {
            using var producer = new ProducerBuilder<Null, string>(cluster.Client("admin")).Build();
            var delivered = await producer.ProduceAsync(topic, new Message<Null, string> { Value = "after" }, TestContext.Current.CancellationToken);
            Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
        });
    }

    /// <summary>Kafka's WriteTxnMarkers needs CLUSTER_ACTION on the cluster: every partition is refused without it, however open its topic.</summary>
    [Fact]
    public async Task WriteTxnMarkers_without_CLUSTER_ACTION_is_refused_for_every_partition()
    {
        var topic = await TopicAnonymousMayUseAsync("markers");

        var answer = await TransactionTests.WriteTxnMarkersAsync(cluster.Silos.KafkaPort(0), new Protocol.Messages.WriteTxnMarkersRequest(
            [new Protocol.Messages.WritableTxnMarker(1, 0, false, [new Protocol.Messages.TopicPartitions(topic, [0, 1])], -1)]));

        Assert.Equal([(0, OrleansStream.ErrorCode.ClusterAuthorizationFailed), (1, OrleansStream.ErrorCode.ClusterAuthorizationFailed)],
            answer.Markers.Single().Topics.Single().Partitions);
    }
}
