using OrleansStream.Server.Controller;

namespace OrleansStream.Server.Tests.Controller;

/// <summary>
/// Kafka's reassignment rules (KIP-455: <c>PartitionReassignmentReplicas</c>, <c>PartitionReassignmentRevert</c> and the
/// builder's completion) on the controller's state, where the leader and the ISR are positions and a replica keeps its
/// id (its grain and log) while its position changes.
/// </summary>
public sealed class PartitionReassignmentTests
{
    private static PartitionAssignment Partition(string[] replicas, int leader, int[] isr) =>
        new() { Partition = 0, Replicas = [.. replicas], Leader = leader, LeaderEpoch = 3, Isr = [.. isr], PartitionEpoch = 7 };

    private static HashSet<string> Live(params string[] brokers) => new(brokers, StringComparer.Ordinal);

    private static int[] Ids(PartitionAssignment p) => [.. Enumerable.Range(0, p.Replicas.Count).Select(p.ReplicaIdAt)];

    [Fact]
    public void A_move_adds_the_target_first_keeps_the_leader_and_waits_for_the_new_replica()
    {
        var p = Partition(["b0"], leader: 0, isr: [0]);

        var step = PartitionChangeBuilder.ChangeReassignment(p, ["b1"], Live("b0", "b1"));

        Assert.NotNull(step);
        Assert.Empty(step.Removed);
        Assert.Equal(["b1", "b0"], p.Replicas);
        Assert.Equal([1, 0], Ids(p));
        Assert.Equal((1, 3, 8), (p.Leader, p.LeaderEpoch, p.PartitionEpoch));
        Assert.Equal([1], p.Isr);
        Assert.Equal(["b1"], p.AddingReplicas);
        Assert.Equal(["b0"], p.RemovingReplicas);
        Assert.Null(PartitionChangeBuilder.CompleteReassignment(p, Live("b0", "b1")));
    }

    [Fact]
    public void Once_the_target_is_in_sync_the_removed_leader_hands_over_in_a_new_leader_epoch()
    {
        var p = Partition(["b0"], leader: 0, isr: [0]);
        PartitionChangeBuilder.ChangeReassignment(p, ["b1"], Live("b0", "b1"));
        p.Isr = [0, 1];

        // An in-sync target replica whose broker cannot lead (gone, or in controlled shutdown) leaves it waiting.
        Assert.Null(PartitionChangeBuilder.CompleteReassignment(p, Live("b0")));
        var step = PartitionChangeBuilder.CompleteReassignment(p, Live("b0", "b1"));

        Assert.NotNull(step);
        Assert.True(step.LeaderChanged);
        Assert.Equal([new ReplicaInfo(0, "b0")], step.Removed);
        Assert.Equal(["b1"], p.Replicas);
        Assert.Equal([1], Ids(p));
        Assert.Equal((0, 4, 9), (p.Leader, p.LeaderEpoch, p.PartitionEpoch));
        Assert.Equal([0], p.Isr);
        Assert.False(p.IsReassigning);
        Assert.Equal(0, p.PositionOf(1));
        Assert.Equal(-1, p.PositionOf(0));
    }

    [Fact]
    public void A_reassignment_that_only_drops_and_reorders_in_sync_replicas_completes_at_once()
    {
        var p = Partition(["b0", "b1", "b2"], leader: 0, isr: [0, 1, 2]);

        var step = PartitionChangeBuilder.ChangeReassignment(p, ["b2", "b1"], Live("b0", "b1", "b2"));

        Assert.NotNull(step);
        Assert.Equal([new ReplicaInfo(0, "b0")], step.Removed);
        Assert.Equal(["b2", "b1"], p.Replicas);
        Assert.Equal([2, 1], Ids(p));
        // The first in-sync replica of the target leads: b2, replica id 2, at position 0.
        Assert.Equal((0, 4), (p.Leader, p.LeaderEpoch));
        Assert.Equal([0, 1], p.Isr);
        Assert.Null(p.AddingReplicas);
        Assert.Null(p.RemovingReplicas);
    }

    [Fact]
    public void Leaving_out_the_last_replica_removes_it_at_once()
    {
        var p = Partition(["b0", "b1"], leader: 0, isr: [0, 1]);

        var step = PartitionChangeBuilder.ChangeReassignment(p, ["b0"], Live("b0", "b1"));

        Assert.NotNull(step);
        Assert.Equal([new ReplicaInfo(1, "b1")], step.Removed);
        Assert.False(step.LeaderChanged);
        Assert.Equal(["b0"], p.Replicas);
        Assert.Equal((0, 3, 9), (p.Leader, p.LeaderEpoch, p.PartitionEpoch));
        Assert.Equal([0], p.Isr);
        Assert.False(p.IsReassigning);
    }

    [Fact]
    public void A_leader_in_the_target_stays_and_keeps_its_epoch_when_its_position_changes()
    {
        var p = Partition(["b0", "b1"], leader: 0, isr: [0, 1]);

        var step = PartitionChangeBuilder.ChangeReassignment(p, ["b1", "b0"], Live("b0", "b1"));

        Assert.NotNull(step);
        Assert.False(step.LeaderChanged);
        Assert.Equal([1, 0], Ids(p));
        Assert.Equal((1, 3, 8), (p.Leader, p.LeaderEpoch, p.PartitionEpoch));
    }

    [Fact]
    public void The_current_assignment_as_target_changes_nothing()
    {
        var p = Partition(["b0", "b1"], leader: 1, isr: [0, 1]);

        Assert.Null(PartitionChangeBuilder.ChangeReassignment(p, ["b0", "b1"], Live("b0", "b1")));
        Assert.Equal(7, p.PartitionEpoch);
    }

    [Fact]
    public void New_replicas_get_ids_no_replica_of_the_partition_has_and_an_out_of_sync_target_replica_holds_completion()
    {
        var p = Partition(["b0", "b1"], leader: 0, isr: [0, 1]);
        PartitionChangeBuilder.ChangeReassignment(p, ["b2", "b0"], Live("b0", "b1", "b2"));
        Assert.Equal(["b2", "b0", "b1"], p.Replicas);
        Assert.Equal([2, 0, 1], Ids(p));
        Assert.Equal(1, p.Leader);
        Assert.Equal([1, 2], p.Isr);

        // A second target replaces the first: what it no longer names is removed, what it adds gets the next id.
        PartitionChangeBuilder.ChangeReassignment(p, ["b3", "b0"], Live("b0", "b1", "b2", "b3"));
        Assert.Equal(["b3", "b0", "b2", "b1"], p.Replicas);
        Assert.Equal([3, 0, 2, 1], Ids(p));
        Assert.Equal(["b3"], p.AddingReplicas);
        Assert.Equal(["b2", "b1"], p.RemovingReplicas);
        Assert.Null(PartitionChangeBuilder.CompleteReassignment(p, Live("b0", "b1", "b2", "b3")));
    }

    [Fact]
    public void Cancelling_restores_the_original_replicas_and_drops_the_adding_ones()
    {
        var p = Partition(["b0"], leader: 0, isr: [0]);
        PartitionChangeBuilder.ChangeReassignment(p, ["b1"], Live("b0", "b1"));

        var step = PartitionChangeBuilder.RevertReassignment(p, uncleanLeaderElection: false, Live("b0", "b1"));

        Assert.NotNull(step);
        Assert.False(step.LeaderChanged);
        Assert.Equal([new ReplicaInfo(1, "b1")], step.Removed);
        Assert.Equal(["b0"], p.Replicas);
        Assert.Null(p.ReplicaIds);
        Assert.Equal((0, 3, 9), (p.Leader, p.LeaderEpoch, p.PartitionEpoch));
        Assert.Equal([0], p.Isr);
        Assert.False(p.IsReassigning);
    }

    [Fact]
    public void Cancelling_when_only_adding_replicas_are_in_sync_needs_an_unclean_election()
    {
        PartitionAssignment Led() =>
            new()
            {
                Partition = 0, Replicas = ["b1", "b0"], ReplicaIds = [1, 0], Leader = 0, LeaderEpoch = 5, Isr = [0], PartitionEpoch = 9,
                AddingReplicas = ["b1"], RemovingReplicas = ["b0"],
            };
        var clean = Led();
        Assert.Null(PartitionChangeBuilder.RevertReassignment(clean, uncleanLeaderElection: false, Live("b0", "b1")));
        Assert.Equal(["b1", "b0"], clean.Replicas);

        var p = Led();
        var step = PartitionChangeBuilder.RevertReassignment(p, uncleanLeaderElection: true, Live("b0", "b1"));

        Assert.NotNull(step);
        Assert.True(step.LeaderChanged);
        Assert.Equal(["b0"], p.Replicas);
        Assert.Equal((0, 6), (p.Leader, p.LeaderEpoch));
        Assert.Equal([0], p.Isr);
    }

    [Fact]
    public void The_automatic_move_of_lost_replicas_leaves_a_reassigning_partition_alone()
    {
        var p = Partition(["b0", "b1"], leader: 0, isr: [0]);
        PartitionChangeBuilder.ChangeReassignment(p, ["b0", "b2"], Live("b0", "b2"));
        var assigner = new ReplicaAssigner(["b0", "b2", "b3"], new ControllerState());

        Assert.Null(PartitionChangeBuilder.Reassign(p, Live("b0", "b2", "b3"), Live("b1"), assigner, new List<string>()));
        Assert.Equal(["b0", "b2", "b1"], p.Replicas);
    }

    [Theory]
    [InlineData(new int[0], "The manual partition assignment includes an empty replica list.")]
    [InlineData(new[] { 2, 7 }, "The manual partition assignment includes broker 7, but no such broker is registered.")]
    [InlineData(new[] { 2, 1, 2 }, "The manual partition assignment includes the broker 2 more than once.")]
    [InlineData(new[] { 2, 1 }, null)]
    public void A_target_is_validated_with_Kafkas_messages(int[] replicas, string? message)
    {
        var registered = new Dictionary<int, string> { [1] = "b1", [2] = "b2" };

        Assert.Equal(message, ClusterControllerGrain.ValidateTarget(replicas, registered));
    }
}
