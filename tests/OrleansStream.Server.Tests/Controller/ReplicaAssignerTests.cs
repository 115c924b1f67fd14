using OrleansStream.Server.Controller;

namespace OrleansStream.Server.Tests.Controller;

public sealed class ReplicaAssignerTests
{
    [Fact]
    public void A_new_topic_spreads_leaders_over_every_broker_and_puts_each_partitions_replicas_on_distinct_brokers()
    {
        var assigner = new ReplicaAssigner(["b0", "b1", "b2"], new ControllerState());
        assigner.NextTopic();

        var partitions = new List<List<string>>();
        for (var p = 0; p < 6; p++) partitions.Add(assigner.Assign(replicationFactor: 3));

        var leaders = new Dictionary<string, int>();
        foreach (var replicas in partitions)
        {
            Assert.Equal(3, replicas.Distinct().Count());
            leaders[replicas[0]] = leaders.GetValueOrDefault(replicas[0]) + 1;
        }
        Assert.Equal([2, 2, 2], leaders.Values.Order().ToArray());
    }

    [Fact]
    public void A_replacement_is_a_live_broker_not_already_holding_the_partition()
    {
        var state = new ControllerState();
        state.Topics["t"] = new TopicState
        {
            Name = "t",
            Partitions = [new PartitionAssignment { Partition = 0, Replicas = ["b0", "b1"], Leader = 0, Isr = [0, 1] }],
        };
        var assigner = new ReplicaAssigner(["b0", "b1", "b2"], state);

        Assert.Equal("b2", assigner.Replace(["b0", "b1"]));
        Assert.Null(assigner.Replace(["b0", "b1", "b2"]));
    }
}
